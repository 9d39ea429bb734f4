#include "autosplit/widgets/plots/split_profile_plot.h"

#include "plot_style.h"

#include "autosplit/widgets/palette.h"

#include <algorithm>
#include <cmath>

namespace autosplit::widgets {

using plotstyle::legendBelow;
using plotstyle::styleAxes;

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

}  // namespace autosplit::widgets
