#include "autosplit/widgets/plots/bit_heatmap.h"

#include "plot_style.h"

#include "autosplit/widgets/palette.h"

#include <QToolTip>

#include <algorithm>
#include <cmath>

namespace autosplit::widgets {

using plotstyle::legendBelow;
using plotstyle::styleAxes;

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

}  // namespace autosplit::widgets
