// Every plot is a QCustomPlot fed by plain structs, so it does not care which engine made the
// numbers; every update ends in replot(rpQueuedReplot): a burst of slider-driven updates costs
// one paint.
#pragma once

#include <qcustomplot.h>

#include <QString>

#include <vector>

namespace autosplit::widgets {

// Per-layer weight and activation bits of one plan: a two-row colour map over the layers;
// cloud layers at 16 bits and greyed, the split marked; hovering names the layer and bits.
struct LayerBits {
    QString name;
    int weightBits = 0;      // 0: the layer has no weights
    int activationBits = 8;
    bool cloud = false;
};

class BitHeatmap : public QCustomPlot {
    Q_OBJECT
public:
    explicit BitHeatmap(QWidget* parent = nullptr);
    void setLayers(const std::vector<LayerBits>& layers, int splitPosition);
    const std::vector<LayerBits>& layers() const { return layers_; }
    // "conv3 (edge): weights 4 bit, activations 6 bit" for the cell under a plot coordinate.
    QString describeAt(double key, double value) const;

protected:
    void mouseMoveEvent(QMouseEvent* event) override;

private:
    QCPColorMap* map_;
    QCPColorScale* scale_;
    QCPItemRect* cloudShade_;
    QCPItemStraightLine* splitLine_;
    std::vector<LayerBits> layers_;
    int split_ = -1;
};

}  // namespace autosplit::widgets
