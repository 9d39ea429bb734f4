// QCustomPlot views of a plan, fed by plain structs so they do not care which engine made the
// numbers (the uniform-bit split estimate today, the planner's PlanSet later). Every update
// ends in replot(rpQueuedReplot): a burst of slider-driven updates costs one paint.
#pragma once

#include <qcustomplot.h>

#include <QString>

#include <cmath>
#include <limits>
#include <vector>

namespace autosplit::widgets {

// Save a plot as PNG, PDF or SVG (by the file's suffix; SVG needs Qt Svg). False on failure.
bool exportPlot(QCustomPlot* plot, const QString& fileName, QString* error = nullptr);
QStringList plotExportFilters();  // for QFileDialog

// Edge / transmit / cloud stacked horizontal bars, one row per plan (selected and baselines).
struct BreakdownRow {
    QString label;
    double edgeMs = 0;
    double transmitMs = 0;
    double cloudMs = 0;
    bool highlighted = false;  // the selected plan
    double totalMs() const { return edgeMs + transmitMs + cloudMs; }
};

class LatencyBreakdownPlot : public QCustomPlot {
    Q_OBJECT
public:
    explicit LatencyBreakdownPlot(QWidget* parent = nullptr);
    void setRows(const std::vector<BreakdownRow>& rows);
    const std::vector<BreakdownRow>& rows() const { return rows_; }

private:
    QCPBars* edge_;
    QCPBars* transmit_;
    QCPBars* cloud_;
    QSharedPointer<QCPAxisTickerText> ticker_;
    std::vector<BreakdownRow> rows_;
    std::vector<QCPItemText*> totals_;
};

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

// Total latency at every split position (edge compute + transmission + cloud compute), with
// splits that overflow edge memory greyed, the selected split and the baselines marked.
// Clicking a point selects that split.
struct SplitPoint {
    int position = -1;
    double totalMs = 0;
    bool feasible = true;
};

class SplitProfilePlot : public QCustomPlot {
    Q_OBJECT
public:
    explicit SplitProfilePlot(QWidget* parent = nullptr);
    void setPoints(const std::vector<SplitPoint>& points, int selected, const QString& selectedLabel);
    const std::vector<SplitPoint>& points() const { return points_; }
    int selectedPosition() const { return selected_; }
    // Position of the point nearest to a pixel, -2 when none is close.
    int positionAt(const QPointF& pixel) const;

signals:
    void splitClicked(int position);

protected:
    void mousePressEvent(QMouseEvent* event) override;

private:
    QCPGraph* feasible_;
    QCPGraph* infeasible_;
    QCPGraph* selectedGraph_;
    QCPGraph* baselines_;
    QCPItemText* selectedText_;
    QCPItemText* cloudText_;
    QCPItemText* edgeText_;
    std::vector<SplitPoint> points_;
    int selected_ = -1;
};

// Every candidate plan against latency normalized to Cloud-Only (y), in one of two x views:
//  - AccuracyDrop: the measured accuracy drop (percentage points, linear axis). Only plans whose
//    drop is known are drawn: measured candidates (filled), and float16 plans (drop 0 by
//    construction). Unmeasured candidates are left out and counted in a note; the user's
//    threshold is a labelled vertical line; the Pareto front is that of the drawn points.
//  - MseProxy: every candidate at its calibration MSE proxy (log axis), measured ones filled,
//    the planner's Pareto front. No threshold line: the proxy is not in drop units.
// Baselines are labelled diamonds, the selected plan a star; clicking a drawn point selects it.
struct ScatterPoint {
    double mse = 0;        // MSE proxy Σ(D_w + D_a) of the edge layers
    double drop = std::numeric_limits<double>::quiet_NaN();  // measured drop (%), NaN: not measured
    double normLatency = 0;
    int id = -1;           // caller's key (a planner solution index)
    bool float16 = false;  // no quantization anywhere: drop 0 without a measurement
    bool measured() const { return std::isfinite(drop); }
};
struct ScatterBaseline {
    QString label;
    double mse = 0;
    double drop = std::numeric_limits<double>::quiet_NaN();  // measured drop (%), NaN: not measured
    double normLatency = 0;
    bool float16 = false;
};

class PlanScatter : public QCustomPlot {
    Q_OBJECT
public:
    enum class XAxisMode { AccuracyDrop, MseProxy };

    explicit PlanScatter(QWidget* parent = nullptr);
    // `threshold`: the tolerated drop in % (NaN: none); `samples`: inputs per measurement (for
    // the legend, 0 when unknown).
    void setData(const std::vector<ScatterPoint>& candidates, const std::vector<int>& paretoIds,
                 const std::vector<ScatterBaseline>& baselines, int selectedId, double threshold, int samples = 0);
    void setXAxisMode(XAxisMode mode);
    XAxisMode xAxisMode() const { return mode_; }
    // x of a candidate in the current view; NaN when it is not drawn there.
    double xOf(const ScatterPoint& p) const;
    double thresholdX() const;           // NaN when the threshold line is hidden
    QString thresholdLabel() const;      // "max drop 5 %"
    QString note() const;                // "312 of 340 candidates not yet measured: not drawn …"
    int idAt(const QPointF& pixel) const;  // -1 when no drawn point is near

signals:
    void pointClicked(int id);

protected:
    void mousePressEvent(QMouseEvent* event) override;

private:
    void rebuild();

    QCPGraph* cands_;
    QCPGraph* measured_;
    QCPGraph* pareto_;
    QCPGraph* base_;
    QCPGraph* sel_;
    QCPItemStraightLine* threshold_;
    QCPItemText* thresholdText_;
    QCPTextElement* noteText_;  // a line above the axis rect, never over data
    std::vector<QCPItemText*> labels_;
    std::vector<ScatterPoint> points_;
    std::vector<int> paretoIds_;
    std::vector<ScatterBaseline> baselines_;
    int selectedId_ = -1;
    double thresholdValue_ = std::numeric_limits<double>::quiet_NaN();
    int samples_ = 0;
    XAxisMode mode_ = XAxisMode::AccuracyDrop;
};

}  // namespace autosplit::widgets
