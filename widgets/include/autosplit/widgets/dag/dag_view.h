// The model's DAG: one box per optimized node (op, output shape), graph inputs and outputs as
// rounded terminals, edges along graphviz splines. Nodes are coloured by placement (edge or
// cloud) and edge bit-width for a given split; tensors crossing the cut are drawn thick with
// their transmitted size and a dashed cut line runs through them. Layout runs on a worker.
#pragma once

#include "autosplit/engine/job_tracker.h"
#include "autosplit/engine/model_session.h"
#include "autosplit/ir/plan_bits.h"
#include "autosplit/widgets/dag/dag_layout.h"

#include <QColor>
#include <QGraphicsView>
#include <QThreadPool>

#include <memory>
#include <vector>

class QGraphicsSimpleTextItem;
class QGraphicsPathItem;

namespace autosplit::widgets {

class DagNodeItem;
class DagEdgeItem;

// Where each node runs for one plan; `splitPosition` nodes [0, p] on the edge.
// What the DAG, the layer table and the node details show: the plan's split and per-node bits
// (ir/plan_bits.h; nodes after the split run in the cloud at cloudBits).
struct DagPlacement {
    PlanBits plan;
    int cloudBits = 16;
};

class DagView : public QGraphicsView {
    Q_OBJECT
public:
    explicit DagView(QWidget* parent = nullptr);
    ~DagView() override;

    void setModel(std::shared_ptr<const engine::ModelData> model);
    std::shared_ptr<const engine::ModelData> model() const { return model_; }
    void setPlacement(const DagPlacement& placement);
    const DagPlacement& placement() const { return placement_; }
    // Above this many nodes the layered fallback replaces graphviz (tests lower it).
    void setGraphvizNodeLimit(int n) { graphvizLimit_ = n; }

    bool isLayoutReady() const { return layoutReady_; }
    const DagLayout& currentLayout() const { return layout_; }
    int selectedNode() const { return selected_; }
    // What node i shows now (for tests and the details panel): fill colour and bits badge.
    QColor nodeFill(int node) const;
    QString nodeBadge(int node) const;
    QPointF nodeCenter(int node) const;
    int transmittedLabelCount() const { return int(cutLabels_.size()); }
    QString transmittedLabelText(int i) const;

public slots:
    void fitToView();        // the whole graph
    void showInitialView();  // whole graph if legible, else a legible zoom on the cut
    void zoomIn();
    void zoomOut();
    void resetZoom();
    // Next node whose name contains `text` (case-insensitive; an exact name wins); selects and
    // centres it. False when nothing matches.
    bool findNode(const QString& text);
    void selectNode(int node);

signals:
    void layoutStarted(int nodes);
    void layoutReady(double milliseconds, const QString& method, const QString& note);
    void layoutFailed(const QString& message);
    void nodeSelected(int node);  // -1: selection cleared

protected:
    void wheelEvent(QWheelEvent* event) override;
    void resizeEvent(QResizeEvent* event) override;

private:
    void applyLayout(DagLayout layout);
    void applyPlacement();
    void clearCut();
    void zoomBy(double factor);

    struct Terminal {
        int tensor = -1;
        bool input = true;
    };

    QThreadPool pool_;
    engine::JobTracker layoutJob_{this, &pool_};
    std::shared_ptr<const engine::ModelData> model_;
    DagPlacement placement_;
    DagLayout layout_;
    bool layoutReady_ = false;
    bool fitPending_ = false;
    bool initialViewPending_ = false;
    int graphvizLimit_ = kGraphvizNodeLimit;
    std::vector<Terminal> terminals_;        // layout nodes after the graph nodes
    std::vector<int> edgeTensor_;            // tensor id per layout edge
    std::vector<DagNodeItem*> nodeItems_;    // graph nodes then terminals
    std::vector<DagEdgeItem*> edgeItems_;
    std::vector<QGraphicsItem*> cutLabels_;
    QGraphicsPathItem* cutLine_ = nullptr;
    int selected_ = -1;
    QString lastFind_;
    int lastFindHit_ = -1;
};

}  // namespace autosplit::widgets
