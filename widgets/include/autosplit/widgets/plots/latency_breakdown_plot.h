// Every plot is a QCustomPlot fed by plain structs, so it does not care which engine made the
// numbers; every update ends in replot(rpQueuedReplot): a burst of slider-driven updates costs
// one paint.
#pragma once

#include <qcustomplot.h>

#include <QString>

#include <vector>

namespace autosplit::widgets {

// Edge / transmit / cloud / results stacked horizontal bars, one row per plan (selected and
// baselines).
struct BreakdownRow {
    QString label;
    double edgeMs = 0;
    double transmitMs = 0;
    double cloudMs = 0;
    bool highlighted = false;  // the selected plan
    double resultsMs = 0;      // graph outputs moved to where results are consumed
    double totalMs() const { return edgeMs + transmitMs + cloudMs + resultsMs; }
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
    QCPBars* results_;
    QSharedPointer<QCPAxisTickerText> ticker_;
    std::vector<BreakdownRow> rows_;
    std::vector<QCPItemText*> totals_;
};

}  // namespace autosplit::widgets
