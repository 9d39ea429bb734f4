// Every plot is a QCustomPlot fed by plain structs, so it does not care which engine made the
// numbers; every update ends in replot(rpQueuedReplot): a burst of slider-driven updates costs
// one paint.
#pragma once

#include <qcustomplot.h>

#include <QString>

#include <vector>

namespace autosplit::widgets {

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

}  // namespace autosplit::widgets
