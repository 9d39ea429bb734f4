// The explorer window: the DAG in the middle, constraints on the left, node details and the
// layer table on the right, the split profile, latency breakdown and bit heatmap below.
// All work runs in the engine; this class only routes requests and results.
#pragma once

#include "autosplit/engine/engine.h"
#include "autosplit/widgets/dag/dag_view.h"
#include "session_file.h"

#include <QMainWindow>

#include <memory>
#include <optional>

class QAction;
class QLabel;
class QLineEdit;
class QMenu;
class QProgressBar;
class QSortFilterProxyModel;
class QTableView;
class QToolButton;

namespace autosplit::widgets {
class BitHeatmap;
class ControlPanel;
class LatencyBreakdownPlot;
class LayerTableModel;
class PlanScatter;
class NodeDetailsModel;
class SplitProfilePlot;
}  // namespace autosplit::widgets

namespace autosplit::explorer {

class MainWindow : public QMainWindow {
    Q_OBJECT
public:
    explicit MainWindow(QWidget* parent = nullptr);
    ~MainWindow() override;

    // Opens a model (keeps the current one until the new one has loaded), planned on `data`
    // (default: synthetic inputs, said on every view).
    void openModel(const QString& path, const engine::InputBindings& inputs = {}, const planner::DataSource& data = {});
    // Re-plans the open model on other calibration / measurement data (File → Data Source…).
    void setDataSource(const planner::DataSource& data);
    planner::DataSource dataSource() const;
    void openDataSourceDialog();
    // Writes the shown plan set's selected plan as edge/cloud ONNX models + manifest.json into
    // `dir` (File → Export Deployment…; same files as `autosplit export`). Returns false, with
    // the reason shown, when there is no planned model yet; the result arrives as
    // deploymentExported / errorShown.
    bool exportDeployment(const QString& dir);
    void openExample();
    bool openSession(const QString& path);
    bool saveSession(const QString& path);
    SessionFile currentSession() const;

    engine::Engine& engine() { return engine_; }
    widgets::DagView* dagView() const { return dag_; }
    widgets::ControlPanel* controls() const { return controls_; }
    widgets::LatencyBreakdownPlot* breakdownPlot() const { return breakdown_; }
    widgets::BitHeatmap* heatmap() const { return heatmap_; }
    widgets::SplitProfilePlot* splitPlot() const { return splitPlot_; }
    widgets::PlanScatter* scatter() const { return scatter_; }
    // Name of the plan shown ("auto-split", a baseline, or "split" for a picked position).
    QString shownPlanName() const { return shownPlanName_; }
    int selectedSplit() const { return selectedSplit_; }
    // The estimate currently shown (null before the first one).
    std::shared_ptr<const engine::SplitEstimates> shownEstimates() const { return shown_; }
    QString lastError() const { return lastError_; }

public slots:
    void selectSplit(int position);  // pins a split; -2 returns to the planner's selection
    void selectSolution(int solution);  // pins a planner candidate (scatter click)

signals:
    // The window finished showing a new plan (after the views were updated).
    void planShown(int splitPosition);
    void errorShown(const QString& message);
    void deploymentExported(const QString& dir, const QString& summary);

protected:
    void dragEnterEvent(QDragEnterEvent* event) override;
    void dropEvent(QDropEvent* event) override;
    void closeEvent(QCloseEvent* event) override;

private:
    void createActions();
    void createDocks();
    void updateRecentMenu();
    void addRecent(const QString& path);
    void onSessionAvailable(std::shared_ptr<const engine::ModelSession> s);
    void onEstimate(std::shared_ptr<const engine::SplitEstimates> e);
    void onLoadFailed(const QString& path, const QString& message, engine::LoadErrorKind kind);
    void showPlan();
    void showError(const QString& title, const QString& message);
    void showNodeDetails(int node);
    void exportPlanJson();
    void exportCsv();
    void exportPlot(QWidget* plot, const QString& what);
    void openDialog();
    void findNode();

    engine::Engine engine_;
    std::shared_ptr<const engine::ModelSession> session_;
    std::shared_ptr<const engine::SplitEstimates> shown_;
    int selectedSplit_ = -1;
    std::optional<int> pinnedSplit_;
    std::optional<int> pinnedSolution_;
    widgets::DagPlacement shownPlacement_;
    QString shownPlanName_;
    std::optional<int> pendingPin_;  // from a session file, applied once its model has loaded
    QString lastError_;

    widgets::DagView* dag_ = nullptr;
    widgets::ControlPanel* controls_ = nullptr;
    widgets::LatencyBreakdownPlot* breakdown_ = nullptr;
    widgets::BitHeatmap* heatmap_ = nullptr;
    widgets::SplitProfilePlot* splitPlot_ = nullptr;
    widgets::PlanScatter* scatter_ = nullptr;
    widgets::LayerTableModel* layers_ = nullptr;
    widgets::NodeDetailsModel* details_ = nullptr;
    QSortFilterProxyModel* layerProxy_ = nullptr;
    QTableView* layerTable_ = nullptr;
    QLabel* planSummary_ = nullptr;
    QLabel* modelStatus_ = nullptr;
    QLabel* loadStatus_ = nullptr;
    QProgressBar* progress_ = nullptr;
    QToolButton* cancelButton_ = nullptr;
    QLineEdit* findEdit_ = nullptr;
    QMenu* recentMenu_ = nullptr;
    QMenu* viewMenu_ = nullptr;
};

}  // namespace autosplit::explorer
