#include "autosplit/widgets/plots/plots.h"

#include "autosplit/widgets/format.h"
#include "autosplit/widgets/palette.h"

#include <QFileInfo>
#include <QLocale>
#include <QToolTip>

#ifdef AUTOSPLIT_HAVE_QTSVG
#include <QSvgGenerator>
#endif

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>

namespace autosplit::widgets {

namespace {

void styleAxes(QCustomPlot* p) {
    p->setBackground(palette::canvas());
    p->axisRect()->setBackground(Qt::white);
    for (QCPAxis* a : {p->xAxis, p->yAxis}) {
        a->setBasePen(QPen(QColor(150, 155, 162)));
        a->setTickPen(QPen(QColor(150, 155, 162)));
        a->setSubTickPen(QPen(QColor(190, 195, 200)));
        a->grid()->setPen(QPen(QColor(228, 231, 235), 1, Qt::DotLine));
        QFont f = a->tickLabelFont();
        f.setPointSizeF(8);
        a->setTickLabelFont(f);
        f.setPointSizeF(8.5);
        a->setLabelFont(f);
    }
    p->setNoAntialiasingOnDrag(true);
}

// Legend in a row under the axis rect, laid out horizontally, so it never covers data.
void legendBelow(QCustomPlot* p) {
    p->legend->setVisible(true);
    p->legend->setFont(p->xAxis->tickLabelFont());
    p->legend->setBorderPen(Qt::NoPen);
    p->legend->setBrush(Qt::NoBrush);
    p->legend->setFillOrder(QCPLayoutGrid::foColumnsFirst);
    p->legend->setWrap(4);
    p->axisRect()->insetLayout()->take(p->legend);
    p->plotLayout()->addElement(p->plotLayout()->rowCount(), 0, p->legend);
    p->plotLayout()->setRowStretchFactor(p->plotLayout()->rowCount() - 1, 0.001);
    p->legend->setMargins(QMargins(4, 0, 4, 2));
}

QCPBars* makeBars(QCustomPlot* p, const QString& name, const QColor& c) {
    auto* bars = new QCPBars(p->yAxis, p->xAxis);  // horizontal: key axis is y
    bars->setName(name);
    bars->setPen(QPen(c.darker(120), 0.8));
    bars->setBrush(c);
    bars->setWidth(0.62);
    bars->setStackingGap(0);
    return bars;
}

}  // namespace

QStringList plotExportFilters() {
    QStringList f{QStringLiteral("PNG image (*.png)"), QStringLiteral("PDF document (*.pdf)")};
#ifdef AUTOSPLIT_HAVE_QTSVG
    f << QStringLiteral("SVG drawing (*.svg)");
#endif
    return f;
}

bool exportPlot(QCustomPlot* plot, const QString& fileName, QString* error) {
    const QString suffix = QFileInfo(fileName).suffix().toLower();
    const int w = std::max(plot->width(), 640), h = std::max(plot->height(), 360);
    bool ok = false;
    if (suffix == QLatin1String("png")) ok = plot->savePng(fileName, w, h, 2.0);
    else if (suffix == QLatin1String("pdf")) ok = plot->savePdf(fileName, w, h);
#ifdef AUTOSPLIT_HAVE_QTSVG
    else if (suffix == QLatin1String("svg")) {
        QSvgGenerator svg;
        svg.setFileName(fileName);
        svg.setSize(QSize(w, h));
        svg.setViewBox(QRect(0, 0, w, h));
        QCPPainter painter;
        ok = painter.begin(&svg);
        if (ok) {
            plot->toPainter(&painter, w, h);
            painter.end();
        }
    }
#endif
    else {
        if (error) *error = QStringLiteral("unsupported image format '.%1' (use %2)").arg(suffix, plotExportFilters().join(QStringLiteral(", ")));
        return false;
    }
    if (!ok && error) *error = QStringLiteral("cannot write %1").arg(fileName);
    return ok;
}

// ---------------------------------------------------------------------------------------------

LatencyBreakdownPlot::LatencyBreakdownPlot(QWidget* parent) : QCustomPlot(parent) {
    styleAxes(this);
    edge_ = makeBars(this, tr("Edge compute"), palette::edgeSeries());
    transmit_ = makeBars(this, tr("Transmission"), palette::transmitSeries());
    cloud_ = makeBars(this, tr("Cloud compute"), palette::cloudSeries());
    transmit_->moveAbove(edge_);
    cloud_->moveAbove(transmit_);
    ticker_.reset(new QCPAxisTickerText);
    yAxis->setTicker(ticker_);
    yAxis->setRangeReversed(true);
    yAxis->grid()->setVisible(false);
    xAxis->setLabel(tr("Latency (ms)"));
    legendBelow(this);
    setMinimumHeight(150);
}

void LatencyBreakdownPlot::setRows(const std::vector<BreakdownRow>& rows) {
    rows_ = rows;
    QVector<double> keys, e, t, c;
    ticker_->clear();
    for (auto* it : totals_) removeItem(it);
    totals_.clear();
    double maxTotal = 0;
    for (size_t i = 0; i < rows.size(); ++i) {
        const double k = double(i);
        keys << k;
        e << rows[i].edgeMs;
        t << rows[i].transmitMs;
        c << rows[i].cloudMs;
        ticker_->addTick(k, rows[i].highlighted ? QStringLiteral("▶ ") + rows[i].label : rows[i].label);
        maxTotal = std::max(maxTotal, rows[i].totalMs());
    }
    edge_->setData(keys, e, true);
    transmit_->setData(keys, t, true);
    cloud_->setData(keys, c, true);
    for (size_t i = 0; i < rows.size(); ++i) {
        auto* text = new QCPItemText(this);
        text->setClipToAxisRect(false);
        text->position->setAxes(xAxis, yAxis);
        text->position->setCoords(rows[i].totalMs() + maxTotal * 0.01, double(i));
        text->setPositionAlignment(Qt::AlignLeft | Qt::AlignVCenter);
        text->setText(format::milliseconds(rows[i].totalMs()));
        QFont f = xAxis->tickLabelFont();
        f.setBold(rows[i].highlighted);
        text->setFont(f);
        totals_.push_back(text);
    }
    yAxis->setRange(-0.6, double(std::max<size_t>(rows.size(), 1)) - 0.4);
    xAxis->setRange(0, maxTotal > 0 ? maxTotal * 1.18 : 1.0);
    replot(rpQueuedReplot);
}

// ---------------------------------------------------------------------------------------------

BitHeatmap::BitHeatmap(QWidget* parent) : QCustomPlot(parent) {
    styleAxes(this);
    map_ = new QCPColorMap(xAxis, yAxis);
    map_->setInterpolate(false);
    map_->setTightBoundary(true);
    scale_ = new QCPColorScale(this);
    plotLayout()->addElement(0, 1, scale_);
    scale_->setType(QCPAxis::atRight);
    scale_->setBarWidth(10);
    scale_->axis()->setLabel(tr("bits"));
    scale_->axis()->setTickLabelFont(xAxis->tickLabelFont());
    map_->setColorScale(scale_);
    QCPColorGradient g;
    g.clearColorStops();
    g.setColorStopAt(0.0, palette::edgeFill(2));
    g.setColorStopAt(0.43, palette::edgeFill(8));
    g.setColorStopAt(1.0, QColor(0x1B, 0x3A, 0x5C));
    g.setLevelCount(15);
    map_->setGradient(g);
    map_->setDataRange(QCPRange(2, 16));
    auto margins = new QCPMarginGroup(this);
    axisRect()->setMarginGroup(QCP::msBottom | QCP::msTop, margins);
    scale_->setMarginGroup(QCP::msBottom | QCP::msTop, margins);
    auto ticker = QSharedPointer<QCPAxisTickerText>::create();
    ticker->addTick(0, tr("weights"));
    ticker->addTick(1, tr("activations"));
    yAxis->setTicker(ticker);
    yAxis->grid()->setVisible(false);
    yAxis->setRange(-0.5, 1.5);
    xAxis->setLabel(tr("layer (schedule order)"));
    cloudShade_ = new QCPItemRect(this);
    cloudShade_->setPen(Qt::NoPen);
    cloudShade_->setBrush(QColor(150, 150, 150, 150));
    splitLine_ = new QCPItemStraightLine(this);
    splitLine_->setPen(QPen(palette::transmitted(), 2, Qt::DashLine));
    setMouseTracking(true);
    setMinimumHeight(120);
}

void BitHeatmap::setLayers(const std::vector<LayerBits>& layers, int splitPosition) {
    layers_ = layers;
    split_ = splitPosition;
    const int n = std::max<int>(int(layers.size()), 1);
    map_->data()->setSize(n, 2);
    map_->data()->setRange(QCPRange(0, n - 1), QCPRange(0, 1));
    for (int i = 0; i < int(layers.size()); ++i) {
        const LayerBits& L = layers[size_t(i)];
        const double w = L.cloud ? 16 : L.weightBits;
        const double a = L.cloud ? 16 : L.activationBits;
        map_->data()->setCell(i, 0, w > 0 ? w : std::numeric_limits<double>::quiet_NaN());
        map_->data()->setCell(i, 1, a);
        if (w <= 0) map_->data()->setAlpha(i, 0, 0);  // no weights: leave the cell empty
    }
    xAxis->setRange(-0.5, n - 0.5);
    const double cut = splitPosition + 0.5;
    cloudShade_->topLeft->setCoords(std::max(cut, -0.5), 1.5);
    cloudShade_->bottomRight->setCoords(n - 0.5, -0.5);
    cloudShade_->setVisible(cut < n - 0.5);
    splitLine_->point1->setCoords(cut, 0);
    splitLine_->point2->setCoords(cut, 1);
    splitLine_->setVisible(cut > -0.5 && cut < n - 0.5);
    replot(rpQueuedReplot);
}

QString BitHeatmap::describeAt(double key, double value) const {
    const int i = int(std::lround(key));
    const int row = int(std::lround(value));
    if (i < 0 || i >= int(layers_.size()) || row < 0 || row > 1) return {};
    const LayerBits& L = layers_[size_t(i)];
    const QString where = L.cloud ? tr("cloud, float16") : tr("edge");
    const QString w = L.cloud ? tr("16 bit") : (L.weightBits > 0 ? tr("%1 bit").arg(L.weightBits) : tr("none"));
    const QString a = L.cloud ? tr("16 bit") : tr("%1 bit").arg(L.activationBits);
    return tr("#%1 %2 (%3): weights %4, activations %5").arg(i).arg(L.name, where, w, a);
}

void BitHeatmap::mouseMoveEvent(QMouseEvent* event) {
    QCustomPlot::mouseMoveEvent(event);
    const QPointF pos = event->position();
    if (!axisRect()->rect().contains(pos.toPoint())) return;
    const QString text = describeAt(xAxis->pixelToCoord(pos.x()), yAxis->pixelToCoord(pos.y()));
    if (!text.isEmpty()) QToolTip::showText(event->globalPosition().toPoint(), text, this);
}

// ---------------------------------------------------------------------------------------------

SplitProfilePlot::SplitProfilePlot(QWidget* parent) : QCustomPlot(parent) {
    styleAxes(this);
    feasible_ = addGraph();
    feasible_->setName(tr("fits edge memory"));
    feasible_->setLineStyle(QCPGraph::lsLine);
    feasible_->setPen(QPen(palette::edgeSeries(), 1.2));
    feasible_->setScatterStyle(QCPScatterStyle(QCPScatterStyle::ssDisc, palette::edgeSeries(), 4));
    infeasible_ = addGraph();
    infeasible_->setName(tr("exceeds edge memory"));
    infeasible_->setLineStyle(QCPGraph::lsNone);
    infeasible_->setScatterStyle(QCPScatterStyle(QCPScatterStyle::ssCross, QColor(160, 160, 160), 5));
    baselines_ = addGraph();
    baselines_->setName(tr("Cloud-Only / Edge-Only"));
    baselines_->setLineStyle(QCPGraph::lsNone);
    baselines_->setScatterStyle(QCPScatterStyle(QCPScatterStyle::ssDiamond, QPen(palette::cloudSeries().darker(140), 1.5),
                                                palette::cloudSeries(), 10));
    selectedGraph_ = addGraph();
    selectedGraph_->setName(tr("selected split"));
    selectedGraph_->setLineStyle(QCPGraph::lsNone);
    selectedGraph_->setScatterStyle(QCPScatterStyle(QCPScatterStyle::ssStar, QPen(palette::selection(), 2), palette::selection(), 14));
    auto makeText = [this](Qt::Alignment align) {
        auto* t = new QCPItemText(this);
        t->setPositionAlignment(align);
        t->setFont(xAxis->tickLabelFont());
        t->setPadding(QMargins(3, 1, 3, 1));
        return t;
    };
    selectedText_ = makeText(Qt::AlignLeft | Qt::AlignBottom);
    selectedText_->setColor(palette::selection());
    QFont bold = selectedText_->font();
    bold.setBold(true);
    selectedText_->setFont(bold);
    cloudText_ = makeText(Qt::AlignLeft | Qt::AlignTop);
    cloudText_->setText(tr("Cloud-Only"));
    edgeText_ = makeText(Qt::AlignRight | Qt::AlignTop);
    edgeText_->setText(tr("Edge-Only"));
    xAxis->setLabel(tr("split after layer (schedule order)"));
    yAxis->setLabel(tr("end-to-end latency (ms)"));
    yAxis->setScaleType(QCPAxis::stLogarithmic);
    yAxis->setTicker(QSharedPointer<QCPAxisTickerLog>::create());
    legendBelow(this);
    setMinimumHeight(150);
}

void SplitProfilePlot::setPoints(const std::vector<SplitPoint>& points, int selected, const QString& selectedLabel) {
    points_ = points;
    selected_ = selected;
    QVector<double> fx, fy, ix, iy, bx, by, sx, sy;
    double lo = std::numeric_limits<double>::infinity(), hi = 0;
    for (const SplitPoint& p : points) {
        const double y = std::max(p.totalMs, 1e-4);
        lo = std::min(lo, y);
        hi = std::max(hi, y);
        if (p.feasible) fx << p.position, fy << y;
        else ix << p.position, iy << y;
        if (p.position == selected) sx << p.position, sy << y;
    }
    if (!points.empty()) {
        bx << points.front().position << points.back().position;
        by << std::max(points.front().totalMs, 1e-4) << std::max(points.back().totalMs, 1e-4);
        cloudText_->position->setCoords(points.front().position, by[0]);
        edgeText_->position->setCoords(points.back().position, by[1]);
    }
    feasible_->setData(fx, fy, true);
    infeasible_->setData(ix, iy, true);
    baselines_->setData(bx, by, true);
    selectedGraph_->setData(sx, sy, true);
    selectedText_->setVisible(!sx.isEmpty());
    if (!sx.isEmpty()) {
        selectedText_->position->setCoords(sx[0], sy[0]);
        selectedText_->setText(QStringLiteral("  ") + selectedLabel);
    }
    if (!points.empty()) {
        xAxis->setRange(points.front().position - 1, points.back().position + 1);
        yAxis->setRange(lo / 1.6, hi * 2.2);
    }
    replot(rpQueuedReplot);
}

int SplitProfilePlot::positionAt(const QPointF& pixel) const {
    int best = -2;
    double bestD = 12.0;  // pixels
    for (const SplitPoint& p : points_) {
        const QPointF q(xAxis->coordToPixel(p.position), yAxis->coordToPixel(std::max(p.totalMs, 1e-4)));
        const double d = QLineF(q, pixel).length();
        if (d < bestD) bestD = d, best = p.position;
    }
    return best;
}

void SplitProfilePlot::mousePressEvent(QMouseEvent* event) {
    QCustomPlot::mousePressEvent(event);
    if (event->button() != Qt::LeftButton) return;
    const int pos = positionAt(event->position());
    if (pos >= -1) emit splitClicked(pos);
}

// ---------------------------------------------------------------------------------------------

PlanScatter::PlanScatter(QWidget* parent) : QCustomPlot(parent) {
    styleAxes(this);
    cands_ = addGraph();
    cands_->setName(tr("not yet measured: MSE proxy"));
    cands_->setLineStyle(QCPGraph::lsNone);
    cands_->setScatterStyle(QCPScatterStyle(QCPScatterStyle::ssCircle, QColor(58, 124, 194, 110), 4));
    measured_ = addGraph();
    measured_->setName(tr("measured"));
    measured_->setLineStyle(QCPGraph::lsNone);
    measured_->setScatterStyle(QCPScatterStyle(QCPScatterStyle::ssDisc, QPen(palette::edgeSeries().darker(150), 1),
                                               palette::edgeSeries(), 6));
    pareto_ = addGraph();
    pareto_->setName(tr("Pareto front"));
    pareto_->setLineStyle(QCPGraph::lsStepLeft);
    pareto_->setPen(QPen(palette::edgeSeries().darker(130), 1.5));
    pareto_->setScatterStyle(QCPScatterStyle(QCPScatterStyle::ssCircle, palette::edgeSeries().darker(130), 8));
    base_ = addGraph();
    base_->setName(tr("baselines"));
    base_->setLineStyle(QCPGraph::lsNone);
    base_->setScatterStyle(QCPScatterStyle(QCPScatterStyle::ssDiamond, QPen(palette::cloudSeries().darker(150), 1.2),
                                           palette::cloudSeries(), 9));
    sel_ = addGraph();
    sel_->setName(tr("selected"));
    sel_->setLineStyle(QCPGraph::lsNone);
    sel_->setScatterStyle(QCPScatterStyle(QCPScatterStyle::ssStar, QPen(palette::selection(), 2), palette::selection(), 15));
    threshold_ = new QCPItemStraightLine(this);
    threshold_->setPen(QPen(palette::transmitted(), 1.5, Qt::DashLine));
    thresholdText_ = new QCPItemText(this);
    thresholdText_->setPositionAlignment(Qt::AlignLeft | Qt::AlignTop);
    thresholdText_->position->setTypeY(QCPItemPosition::ptAxisRectRatio);
    thresholdText_->setFont(xAxis->tickLabelFont());
    thresholdText_->setColor(palette::transmitted());
    thresholdText_->setPadding(QMargins(4, 2, 2, 2));
    plotLayout()->insertRow(0);
    noteText_ = new QCPTextElement(this);
    noteText_->setFont(xAxis->tickLabelFont());
    noteText_->setTextColor(QColor(90, 95, 105));
    noteText_->setTextFlags(Qt::AlignRight | Qt::AlignVCenter);
    noteText_->setMargins(QMargins(4, 2, 8, 0));
    plotLayout()->addElement(0, 0, noteText_);
    plotLayout()->setRowStretchFactor(0, 0.001);
    yAxis->setLabel(tr("latency / Cloud-Only"));
    legendBelow(this);
    setMinimumHeight(150);
    setXAxisMode(XAxisMode::AccuracyDrop);
}

void PlanScatter::setData(const std::vector<ScatterPoint>& candidates, const std::vector<int>& paretoIds,
                          const std::vector<ScatterBaseline>& baselines, int selectedId, double threshold, int samples) {
    points_ = candidates;
    paretoIds_ = paretoIds;
    baselines_ = baselines;
    selectedId_ = selectedId;
    thresholdValue_ = threshold;
    samples_ = samples;
    rebuild();
}

void PlanScatter::setXAxisMode(XAxisMode mode) {
    mode_ = mode;
    if (mode == XAxisMode::AccuracyDrop) {
        xAxis->setScaleType(QCPAxis::stLinear);
        xAxis->setTicker(QSharedPointer<QCPAxisTicker>::create());
        xAxis->setLabel(tr("accuracy drop (percentage points, measured)"));
    } else {
        xAxis->setScaleType(QCPAxis::stLogarithmic);
        xAxis->setTicker(QSharedPointer<QCPAxisTickerLog>::create());
        xAxis->setLabel(tr("MSE proxy Σ(D_w + D_a) of the edge layers (not a drop)"));
    }
    rebuild();
}

namespace {
constexpr double kMseFloor = 1e-6;  // log axis: exact-zero errors sit on the floor

template <class P>
double viewX(const P& p, PlanScatter::XAxisMode mode) {
    if (mode == PlanScatter::XAxisMode::MseProxy) return std::max(p.mse, kMseFloor);
    if (std::isfinite(p.drop)) return p.drop;
    return p.float16 ? 0.0 : std::numeric_limits<double>::quiet_NaN();
}
}  // namespace

double PlanScatter::xOf(const ScatterPoint& p) const { return viewX(p, mode_); }

double PlanScatter::thresholdX() const {
    return threshold_->visible() ? threshold_->point1->coords().x() : std::numeric_limits<double>::quiet_NaN();
}

QString PlanScatter::thresholdLabel() const { return threshold_->visible() ? thresholdText_->text() : QString(); }

QString PlanScatter::note() const { return noteText_->text(); }

void PlanScatter::rebuild() {
    const bool dropView = mode_ == XAxisMode::AccuracyDrop;
    QVector<double> cx, cy, mx, my, px, py, bx, by, sx, sy;
    double lo = 1e300, hi = 0, ymax = 0;
    int measured = 0, hidden = 0;
    std::map<int, std::pair<double, double>> byId;  // drawn points: id -> (x, y)
    for (const auto& p : points_) {
        const double x = xOf(p);
        if (p.measured()) ++measured;
        if (!std::isfinite(x)) {
            ++hidden;
            continue;
        }
        if (p.measured() || (dropView && p.float16)) mx << x, my << p.normLatency;
        else cx << x, cy << p.normLatency;
        lo = std::min(lo, x), hi = std::max(hi, x), ymax = std::max(ymax, p.normLatency);
        byId[p.id] = {x, p.normLatency};
        if (p.id == selectedId_) sx << x, sy << p.normLatency;
    }
    std::vector<std::pair<double, double>> front;
    if (dropView) {  // the latency / measured-drop front of the drawn points
        std::vector<std::pair<double, double>> all;
        for (const auto& [id, xy] : byId) all.push_back(xy);
        std::sort(all.begin(), all.end(), [](const auto& a, const auto& b) {
            return a.first != b.first ? a.first < b.first : a.second < b.second;
        });
        double best = std::numeric_limits<double>::infinity();
        for (const auto& xy : all)
            if (xy.second < best) front.push_back(xy), best = xy.second;
    } else {
        for (int id : paretoIds_)
            if (auto it = byId.find(id); it != byId.end()) front.push_back(it->second);
        std::sort(front.begin(), front.end());
    }
    for (const auto& [x, y] : front) px << x, py << y;
    for (auto* l : labels_) removeItem(l);
    labels_.clear();
    // Baselines that coincide (Cloud-Only, Neurosurgeon and QDMP often do) share one label.
    std::vector<std::pair<QPointF, QStringList>> groups;
    QStringList unmeasuredBaselines;
    const double xSpan = dropView ? std::max({hi, std::isfinite(thresholdValue_) ? thresholdValue_ : 0.0, 1.0}) : 0;
    for (const auto& b : baselines_) {
        const double x = viewX(b, mode_);
        if (!std::isfinite(x)) {
            unmeasuredBaselines << b.label;
            continue;
        }
        bx << x, by << b.normLatency;
        lo = std::min(lo, x), hi = std::max(hi, x), ymax = std::max(ymax, b.normLatency);
        const QString& label = b.label;
        auto same = std::find_if(groups.begin(), groups.end(), [&](const auto& g) {
            const bool closeX = dropView ? std::abs(g.first.x() - x) < 0.04 * xSpan
                                         : std::abs(std::log10(g.first.x()) - std::log10(x)) < 0.25;
            return closeX && std::abs(g.first.y() - b.normLatency) < 0.06;
        });
        if (same != groups.end()) same->second << label;
        else groups.push_back({QPointF(x, b.normLatency), QStringList{label}});
    }
    for (const auto& [at, names] : groups) {
        auto* t = new QCPItemText(this);
        t->position->setCoords(at.x(), at.y());
        t->setPositionAlignment(Qt::AlignLeft | Qt::AlignBottom);
        t->setText(QStringLiteral(" ") + names.join(QStringLiteral(" / ")));
        t->setFont(xAxis->tickLabelFont());
        t->setColor(palette::cloudSeries().darker(170));
        labels_.push_back(t);
    }
    cands_->setData(cx, cy);
    measured_->setData(mx, my);
    pareto_->setData(px, py, true);
    base_->setData(bx, by);
    sel_->setData(sx, sy);
    cands_->setVisible(!dropView);
    legend->clearItems();  // rebuilt in a fixed order: the unmeasured entry only where drawn
    for (QCPGraph* g : {cands_, measured_, pareto_, base_, sel_})
        if (g->visible()) g->addToLegend();
    measured_->setName(samples_ > 0 ? tr("measured (%1 inputs)").arg(samples_) : tr("measured"));


    const bool showThreshold = dropView && std::isfinite(thresholdValue_) && thresholdValue_ >= 0;
    threshold_->setVisible(showThreshold);
    thresholdText_->setVisible(showThreshold);
    if (showThreshold) {
        threshold_->point1->setCoords(thresholdValue_, 0);
        threshold_->point2->setCoords(thresholdValue_, 1);
        thresholdText_->position->setCoords(thresholdValue_, 0.0);
        thresholdText_->setText(tr("max drop %1 %").arg(QLocale::c().toString(thresholdValue_, 'g', 3)));
        hi = std::max(hi, thresholdValue_);
        lo = std::min(lo, thresholdValue_);
    }
    QStringList note;
    if (dropView && hidden > 0)
        note << tr("%1 of %2 not yet measured: not drawn").arg(hidden).arg(points_.size());
    if (dropView && !baselines_.empty()) note << tr("float16 plans at drop 0");
    if (!dropView) note << tr("%1 of %2 candidates measured").arg(measured).arg(points_.size());
    if (dropView && selectedId_ >= 0 && sx.isEmpty())
        for (const auto& p : points_)
            if (p.id == selectedId_) note << tr("selected plan not yet measured");
    if (dropView && !unmeasuredBaselines.isEmpty()) note << tr("%1 not measured").arg(unmeasuredBaselines.join(QStringLiteral(", ")));
    noteText_->setText(points_.empty() ? QString() : note.join(QStringLiteral(" · ")));

    if (dropView) {
        const double top = std::max(hi, 1.0) * 1.15;
        xAxis->setRange(-0.04 * top, top);
    } else if (hi > 0) {
        xAxis->setRange(lo / 3, hi * 3);
    }
    yAxis->setRange(0, std::max(1.05, ymax * 1.12));
    replot(rpQueuedReplot);
}

int PlanScatter::idAt(const QPointF& pixel) const {
    int best = -1;
    double bestD = 10.0;
    for (const auto& p : points_) {
        const double x = xOf(p);
        if (!std::isfinite(x)) continue;
        const QPointF q(xAxis->coordToPixel(x), yAxis->coordToPixel(p.normLatency));
        const double d = QLineF(q, pixel).length();
        if (d < bestD) bestD = d, best = p.id;
    }
    return best;
}

void PlanScatter::mousePressEvent(QMouseEvent* event) {
    QCustomPlot::mousePressEvent(event);
    if (event->button() != Qt::LeftButton) return;
    const int id = idAt(event->position());
    if (id >= 0) emit pointClicked(id);
}

}  // namespace autosplit::widgets
