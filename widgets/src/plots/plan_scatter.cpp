#include "autosplit/widgets/plots/plan_scatter.h"

#include "plot_style.h"

#include "autosplit/widgets/palette.h"

#include <QFontMetrics>
#include <QLocale>
#include <QPainterPath>

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>

namespace autosplit::widgets {

using plotstyle::legendBelow;
using plotstyle::styleAxes;

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
    intervals_ = new QCPErrorBars(xAxis, yAxis);
    intervals_->setDataPlottable(measured_);
    intervals_->setErrorType(QCPErrorBars::etKeyError);
    intervals_->setPen(QPen(palette::edgeSeries().darker(150), 1));
    intervals_->setWhiskerWidth(5);
    intervals_->removeFromLegend();
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
    stopped_ = addGraph();
    stopped_->setName(tr("stopped early (drop ≥)"));
    stopped_->setLineStyle(QCPGraph::lsNone);
    {
        QPainterPath right;  // a triangle pointing to larger drops: "at least here"
        right.moveTo(-3.5, -4.5);
        right.lineTo(4.5, 0);
        right.lineTo(-3.5, 4.5);
        right.closeSubpath();
        stopped_->setScatterStyle(QCPScatterStyle(right, QPen(palette::edgeSeries().darker(150), 1), palette::edgeSeries().lighter(130), 9));
    }
    threshold_ = new QCPItemStraightLine(this);
    threshold_->setPen(QPen(palette::transmitted(), 1.5, Qt::DashLine));
    thresholdText_ = new QCPItemText(this);
    thresholdText_->setPositionAlignment(Qt::AlignLeft | Qt::AlignTop);
    thresholdText_->position->setTypeY(QCPItemPosition::ptAxisRectRatio);
    thresholdText_->setFont(xAxis->tickLabelFont());
    thresholdText_->setColor(palette::transmitted());
    thresholdText_->setPadding(QMargins(4, 2, 2, 2));
    syntheticText_ = new QCPItemText(this);
    syntheticText_->position->setType(QCPItemPosition::ptAxisRectRatio);
    syntheticText_->position->setCoords(0.5, 0.08);
    syntheticText_->setPositionAlignment(Qt::AlignHCenter | Qt::AlignTop);
    syntheticText_->setTextAlignment(Qt::AlignHCenter);
    {
        QFont f = xAxis->tickLabelFont();
        f.setPointSizeF(f.pointSizeF() * 1.4);
        f.setBold(true);
        syntheticText_->setFont(f);
    }
    syntheticText_->setColor(QColor(200, 60, 40));
    syntheticText_->setBrush(QColor(255, 245, 235, 220));
    syntheticText_->setPadding(QMargins(6, 3, 6, 3));
    syntheticText_->setVisible(false);
    // The banner fits the axis rect whatever the window's size: once the layout of a replot is
    // known, it breaks into two lines or takes a smaller type (see fitSyntheticBanner); so does
    // the x label.
    connect(this, &QCustomPlot::afterLayout, this, &PlanScatter::fitLabels);
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

void PlanScatter::setDataOrigin(const QString& origin, bool synthetic) {
    dataOrigin_ = origin;
    synthetic_ = synthetic;
    syntheticText_->setText(syntheticBanner());
    syntheticText_->setVisible(synthetic);
    rebuild();
}

namespace {
// Width of the widest line of `text`.
int widestLine(const QFontMetrics& fm, const QString& text) {
    int w = 0;
    for (const QString& line : text.split(QLatin1Char('\n'))) w = std::max(w, fm.horizontalAdvance(line));
    return w;
}

// `text` with the space of `mark` (at its first occurrence, or its last with `last`) made a line
// break; unchanged without the mark.
QString breakAt(QString text, const QString& mark, bool last = false) {
    const int at = last ? text.lastIndexOf(mark) : text.indexOf(mark);
    if (at > 0) text[at + mark.indexOf(QLatin1Char(' '))] = QLatin1Char('\n');
    return text;
}
}  // namespace

void PlanScatter::fitLabels() {
    fitSyntheticBanner();
    // The x label (the long data origin under the drop axis) breaks after its colon and before
    // its last bracket when it is wider than the axis; the axis margins follow on the next layout.
    const QFontMetrics fm(xAxis->labelFont());
    const int room = axisRect()->width() - 8;
    const QString afterColon = breakAt(xLabel_, QStringLiteral(": "));
    QString wrapped = xLabel_;
    for (const QString& layout : {xLabel_, afterColon, breakAt(afterColon, QStringLiteral(" ("), true)}) {
        wrapped = layout;
        if (widestLine(fm, layout) <= room) break;
    }
    if (wrapped != xAxis->label()) {
        xAxis->setLabel(wrapped);
        replot(rpQueuedReplot);
    }
}

void PlanScatter::fitSyntheticBanner() {
    if (!synthetic_) return;
    // The banner on one line, or broken after its comma, or after its colon too.
    const QString one = syntheticBanner(), two = breakAt(one, QStringLiteral(", "));
    const QStringList layouts{one, two, breakAt(two, QStringLiteral(": "))};
    const QMargins pad = syntheticText_->padding();
    const int room = axisRect()->width() - pad.left() - pad.right() - 8;
    QFont f = xAxis->tickLabelFont();
    const double smallest = f.pointSizeF() > 0 ? f.pointSizeF() : 8.0;
    f.setBold(true);
    // The large type in the fewest lines that fit, else smaller type, down to the tick labels'
    // size (below that the last layout is clipped, like every other label of a plot that small).
    for (double size = smallest * 1.4;; size = std::max(smallest, size - 0.5)) {
        f.setPointSizeF(size);
        const QFontMetrics fm(f);
        for (const QString& text : layouts)
            if (widestLine(fm, text) <= room || (size <= smallest && &text == &layouts.back())) {
                syntheticText_->setFont(f);
                syntheticText_->setText(text);
                return;
            }
    }
}

QString PlanScatter::syntheticBanner() const {
    return synthetic_ ? tr("SYNTHETIC inputs: drops measure fidelity on random data, not the task (File → Data Source…)")
                      : QString();
}

int PlanScatter::intervalCount() const {
    int n = 0;
    for (const QCPErrorBarsData& e : *intervals_->data())
        if (e.errorMinus > 0 || e.errorPlus > 0) ++n;
    return n;
}

void PlanScatter::setXAxisMode(XAxisMode mode) {
    mode_ = mode;
    if (mode == XAxisMode::AccuracyDrop) {
        xAxis->setScaleType(QCPAxis::stLinear);
        xAxis->setTicker(QSharedPointer<QCPAxisTicker>::create());
        setXLabel(tr("accuracy drop (percentage points, measured)"));
    } else {
        xAxis->setScaleType(QCPAxis::stLogarithmic);
        xAxis->setTicker(QSharedPointer<QCPAxisTickerLog>::create());
        setXLabel(tr("MSE proxy Σ(D_w + D_a) of the edge layers (not a drop)"));
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

double PlanScatter::xOf(const ScatterPoint& p) const {
    if (mode_ == XAxisMode::AccuracyDrop && p.stoppedEarly()) return p.dropAtLeast;
    return viewX(p, mode_);
}

double PlanScatter::thresholdX() const {
    return threshold_->visible() ? threshold_->point1->coords().x() : std::numeric_limits<double>::quiet_NaN();
}

QString PlanScatter::thresholdLabel() const { return threshold_->visible() ? thresholdText_->text() : QString(); }

QString PlanScatter::note() const { return noteText_->text(); }

void PlanScatter::rebuild() {
    const bool dropView = mode_ == XAxisMode::AccuracyDrop;
    QVector<double> cx, cy, mx, my, px, py, bx, by, sx, sy, eMinus, ePlus, tx, ty;
    double lo = 1e300, hi = 0, ymax = 0;
    int measured = 0, hidden = 0, stopped = 0;
    std::map<int, std::pair<double, double>> byId;  // drawn points: id -> (x, y)
    for (const auto& p : points_) {
        const double x = xOf(p);
        if (p.measured()) ++measured;
        if (!std::isfinite(x)) {
            ++hidden;
            continue;
        }
        if (dropView && p.stoppedEarly()) {
            tx << x, ty << p.normLatency;
            ++stopped;
            lo = std::min(lo, x), hi = std::max(hi, x), ymax = std::max(ymax, p.normLatency);
            if (p.id == selectedId_) sx << x, sy << p.normLatency;
            continue;  // not on the front: only a bound is known
        }
        if (p.measured() || (dropView && p.float16)) {
            mx << x, my << p.normLatency;
            const bool bar = dropView && p.measured() && std::isfinite(p.dropLow) && std::isfinite(p.dropHigh);
            eMinus << (bar ? std::max(0.0, x - p.dropLow) : 0.0);
            ePlus << (bar ? std::max(0.0, p.dropHigh - x) : 0.0);
            if (bar) lo = std::min(lo, p.dropLow), hi = std::max(hi, p.dropHigh);
        } else {
            cx << x, cy << p.normLatency;
        }
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
    intervals_->setData(eMinus, ePlus);
    intervals_->setVisible(dropView);
    pareto_->setData(px, py, true);
    base_->setData(bx, by);
    sel_->setData(sx, sy);
    stopped_->setData(tx, ty);
    cands_->setVisible(!dropView);
    stopped_->setVisible(dropView && stopped > 0);
    legend->clearItems();  // rebuilt in a fixed order: the unmeasured entry only where drawn
    for (QCPGraph* g : {cands_, measured_, stopped_, pareto_, base_, sel_})
        if (g->visible()) g->addToLegend();
    measured_->setName(samples_ > 0 ? tr("measured on %1 held-out inputs, 95% interval").arg(samples_) : tr("measured"));


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
    if (dropView && stopped > 0)
        note << tr("%1 stopped early: drawn at the drop they are certain to exceed").arg(stopped);
    if (dropView && !baselines_.empty()) note << tr("float16 plans at drop 0");
    if (!dropView) note << tr("%1 of %2 candidates measured").arg(measured).arg(points_.size());
    if (dropView && selectedId_ >= 0 && sx.isEmpty())
        for (const auto& p : points_)
            if (p.id == selectedId_) note << tr("selected plan not yet measured");
    if (dropView && !unmeasuredBaselines.isEmpty()) note << tr("%1 not measured").arg(unmeasuredBaselines.join(QStringLiteral(", ")));
    noteText_->setText(points_.empty() ? QString() : note.join(QStringLiteral(" · ")));
    // Where the drops come from, under the axis they are read on.
    if (dropView)
        setXLabel(dataOrigin_.isEmpty() ? tr("accuracy drop (percentage points, measured)")
                                        : tr("accuracy drop (percentage points): %1").arg(dataOrigin_));

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
