// Layered layout of a DAG in three steps (netron's grapher): the UI thread measures the
// nodes, a pure function places them on a worker, the UI thread applies the positions.
// Graphviz `dot` (through libgvc/libcgraph) draws the nicer picture; above a few thousand
// nodes, or when graphviz fails, a longest-path layering with one barycentre sweep does.
#pragma once

#include "autosplit/util/cancel.h"

#include <QPointF>
#include <QRectF>
#include <QSizeF>
#include <QString>

#include <utility>
#include <vector>

namespace autosplit::widgets {

struct DagLayoutInput {
    std::vector<QSizeF> nodeSizes;             // in scene units (pixels at zoom 1)
    std::vector<std::pair<int, int>> edges;    // (from, to) node indices; duplicates allowed
};

struct DagLayout {
    enum class Method { Graphviz, Layered };
    Method method = Method::Layered;
    std::vector<QPointF> centers;              // per node, y grows downwards (sources on top)
    // Per edge: cubic Bezier control points p0 c1 c2 p1 [c c p]..., first and last on the nodes.
    std::vector<std::vector<QPointF>> edgePaths;
    QRectF bounds;
    double milliseconds = 0;
    QString note;  // why the fallback ran, if it did
};

// Nodes above which dot is not tried (its crossing minimisation grows too slow to feel live).
constexpr int kGraphvizNodeLimit = 3000;

// Throws autosplit::Error when graphviz is unusable; Cancelled when `cancel` fires.
// Serialised internally: graphviz keeps global state and is not reentrant.
DagLayout layoutWithGraphviz(const DagLayoutInput& in, const CancelToken& cancel = {});
DagLayout layoutLayered(const DagLayoutInput& in, const CancelToken& cancel = {});
// Graphviz up to `graphvizLimit` nodes, the layered fallback above or when graphviz throws.
DagLayout layoutDag(const DagLayoutInput& in, const CancelToken& cancel = {}, int graphvizLimit = kGraphvizNodeLimit);

const char* methodName(DagLayout::Method m);

}  // namespace autosplit::widgets
