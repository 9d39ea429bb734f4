#include "autosplit/widgets/plots/latency_breakdown_plot.h"

#include "plot_style.h"

#include "autosplit/widgets/format.h"
#include "autosplit/widgets/palette.h"

#include <algorithm>

namespace autosplit::widgets {

using plotstyle::legendBelow;
using plotstyle::styleAxes;

namespace {

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

LatencyBreakdownPlot::LatencyBreakdownPlot(QWidget* parent) : QCustomPlot(parent) {
    styleAxes(this);
    edge_ = makeBars(this, tr("Edge compute"), palette::edgeSeries());
    transmit_ = makeBars(this, tr("Transmission"), palette::transmitSeries());
    cloud_ = makeBars(this, tr("Cloud compute"), palette::cloudSeries());
    results_ = makeBars(this, tr("Results"), palette::resultsSeries());
    transmit_->moveAbove(edge_);
    cloud_->moveAbove(transmit_);
    results_->moveAbove(cloud_);
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
    QVector<double> keys, e, t, c, r;
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
        r << rows[i].resultsMs;
        ticker_->addTick(k, rows[i].highlighted ? QStringLiteral("▶ ") + rows[i].label : rows[i].label);
        maxTotal = std::max(maxTotal, rows[i].totalMs());
    }
    edge_->setData(keys, e, true);
    transmit_->setData(keys, t, true);
    cloud_->setData(keys, c, true);
    results_->setData(keys, r, true);
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

}  // namespace autosplit::widgets
