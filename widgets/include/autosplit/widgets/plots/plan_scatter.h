// Every plot is a QCustomPlot fed by plain structs, so it does not care which engine made the
// numbers; every update ends in replot(rpQueuedReplot): a burst of slider-driven updates costs
// one paint.
#pragma once

#include <qcustomplot.h>

#include <QString>

#include <cmath>
#include <limits>
#include <vector>

namespace autosplit::widgets {

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
    // 95 % interval of the measured drop (NaN: none); drawn as a horizontal error bar.
    double dropLow = std::numeric_limits<double>::quiet_NaN(), dropHigh = std::numeric_limits<double>::quiet_NaN();
    // A measurement stopped early once the drop was certain to exceed the threshold: the whole
    // set's drop is at least this (NaN: run in full). Drawn at the bound as a right-pointing
    // triangle, without an interval; `drop` is then the estimate on the samples run.
    double dropAtLeast = std::numeric_limits<double>::quiet_NaN();
    bool measured() const { return std::isfinite(drop); }
    bool stoppedEarly() const { return std::isfinite(dropAtLeast); }
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
    // Where the measured drops come from, shown on the plot: e.g. "char-accuracy-drop on 32
    // held-out lines". `synthetic`: the inputs are random, and the plot says so in large type.
    void setDataOrigin(const QString& origin, bool synthetic);
    QString dataOrigin() const { return dataOrigin_; }
    bool syntheticData() const { return synthetic_; }
    QString syntheticBanner() const;  // the text drawn over the plot ("" when not synthetic)
    QCPItemText* syntheticBannerItem() const { return syntheticText_; }  // as drawn (fitted to the plot), for tests
    // Error bars drawn (one per measured candidate with an interval), for tests.
    int intervalCount() const;
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
    void fitSyntheticBanner();  // line breaks and type size so the banner fits the axis rect
    void fitLabels();           // after each layout: the banner, and the x label broken to fit
    void setXLabel(const QString& label) {  // kept broken as it is while the text is the same
        if (label == xLabel_) return;
        xLabel_ = label;
        xAxis->setLabel(label);
    }
    QString xLabel_;  // the x label before fitLabels breaks it

    QCPGraph* cands_;
    QCPGraph* measured_;
    QCPErrorBars* intervals_;
    QCPItemText* syntheticText_;
    QString dataOrigin_;
    bool synthetic_ = false;
    QCPGraph* pareto_;
    QCPGraph* base_;
    QCPGraph* sel_;
    QCPGraph* stopped_;  // early-stopped measurements, at their bound
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
