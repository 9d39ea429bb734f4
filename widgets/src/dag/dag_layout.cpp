#include "autosplit/widgets/dag/dag_layout.h"

#include "autosplit/util/errors.h"

#include <graphviz/cgraph.h>
#include <graphviz/gvc.h>

#include <QElapsedTimer>

#include <algorithm>
#include <cstdio>
#include <mutex>
#include <numeric>
#include <string>

namespace autosplit::widgets {

namespace {

constexpr double kPointsPerInch = 72.0;
constexpr double kRankGap = 46.0;   // vertical space between layers (fallback)
constexpr double kNodeGap = 22.0;   // horizontal space between nodes (fallback)

std::mutex& graphvizMutex() {
    static std::mutex m;
    return m;
}

// cgraph's API takes char* for names it does not modify.
char* cstr(const char* s) { return const_cast<char*>(s); }

struct GraphvizGraph {
    GVC_t* gvc = nullptr;
    Agraph_t* g = nullptr;
    bool laidOut = false;
    ~GraphvizGraph() {
        if (gvc && g && laidOut) gvFreeLayout(gvc, g);
        if (g) agclose(g);
        if (gvc) gvFreeContext(gvc);
    }
};

std::vector<QPointF> straightPath(QPointF a, QPointF b) {
    const double midY = (a.y() + b.y()) / 2;
    return {a, QPointF(a.x(), midY), QPointF(b.x(), midY), b};
}

}  // namespace

const char* methodName(DagLayout::Method m) { return m == DagLayout::Method::Graphviz ? "graphviz dot" : "layered"; }

DagLayout layoutWithGraphviz(const DagLayoutInput& in, const CancelToken& cancel) {
    QElapsedTimer clock;
    clock.start();
    const int n = int(in.nodeSizes.size());
    DagLayout out;
    out.method = DagLayout::Method::Graphviz;
    if (n == 0) return out;

    std::lock_guard lock(graphvizMutex());
    cancel.throwIfCancelled();
    GraphvizGraph gv;
    gv.gvc = gvContext();
    if (!gv.gvc) throw Error("graphviz: cannot create a context");
    gv.g = agopen(cstr("dag"), Agdirected, nullptr);
    if (!gv.g) throw Error("graphviz: cannot create a graph");
    agattr(gv.g, AGRAPH, cstr("rankdir"), cstr("TB"));
    agattr(gv.g, AGRAPH, cstr("nodesep"), cstr("0.3"));
    agattr(gv.g, AGRAPH, cstr("ranksep"), cstr("0.45"));
    agattr(gv.g, AGRAPH, cstr("splines"), cstr("spline"));
    if (n > 800) {  // bound dot's iterative phases on big graphs: a readable picture, quickly
        agattr(gv.g, AGRAPH, cstr("mclimit"), cstr("0.3"));
        agattr(gv.g, AGRAPH, cstr("nslimit"), cstr("2"));
        agattr(gv.g, AGRAPH, cstr("nslimit1"), cstr("2"));
    }
    Agsym_t* shape = agattr(gv.g, AGNODE, cstr("shape"), cstr("box"));
    Agsym_t* fixed = agattr(gv.g, AGNODE, cstr("fixedsize"), cstr("true"));
    Agsym_t* width = agattr(gv.g, AGNODE, cstr("width"), cstr("1"));
    Agsym_t* height = agattr(gv.g, AGNODE, cstr("height"), cstr("0.5"));
    Agsym_t* label = agattr(gv.g, AGNODE, cstr("label"), cstr(""));
    (void)shape;
    (void)fixed;
    (void)label;

    std::vector<Agnode_t*> nodes(static_cast<size_t>(n), nullptr);
    char buf[64];
    for (int i = 0; i < n; ++i) {
        std::snprintf(buf, sizeof buf, "n%d", i);
        nodes[size_t(i)] = agnode(gv.g, buf, 1);
        std::snprintf(buf, sizeof buf, "%.4f", in.nodeSizes[size_t(i)].width() / kPointsPerInch);
        agxset(nodes[size_t(i)], width, buf);
        std::snprintf(buf, sizeof buf, "%.4f", in.nodeSizes[size_t(i)].height() / kPointsPerInch);
        agxset(nodes[size_t(i)], height, buf);
    }
    std::vector<Agedge_t*> edges(in.edges.size(), nullptr);
    for (size_t e = 0; e < in.edges.size(); ++e) {
        const auto [a, b] = in.edges[e];
        if (a < 0 || b < 0 || a >= n || b >= n) throw Error("graphviz: edge " + std::to_string(e) + " out of range");
        std::snprintf(buf, sizeof buf, "e%zu", e);
        edges[e] = agedge(gv.g, nodes[size_t(a)], nodes[size_t(b)], buf, 1);
    }
    cancel.throwIfCancelled();
    if (gvLayout(gv.gvc, gv.g, "dot") != 0) throw Error("graphviz: dot layout failed");
    gv.laidOut = true;
    cancel.throwIfCancelled();

    const boxf bb = GD_bb(gv.g);
    const double top = bb.UR.y;
    auto toScene = [&](pointf p) { return QPointF(p.x - bb.LL.x, top - p.y); };
    out.centers.resize(size_t(n));
    for (int i = 0; i < n; ++i) out.centers[size_t(i)] = toScene(ND_coord(nodes[size_t(i)]));
    out.edgePaths.resize(edges.size());
    for (size_t e = 0; e < edges.size(); ++e) {
        const splines* spl = ED_spl(edges[e]);
        std::vector<QPointF>& path = out.edgePaths[e];
        if (spl && spl->size > 0 && spl->list[0].size >= 4) {
            const bezier& bz = spl->list[0];
            path.reserve(size_t(bz.size) + 1);
            for (int k = 0; k < bz.size; ++k) path.push_back(toScene(bz.list[k]));
            // dot stops the curve short of the head when it draws an arrow: end on the node.
            if (bz.eflag) {
                const QPointF end = toScene(bz.ep);
                const QPointF last = path.back();
                path.push_back(last + (end - last) / 3);
                path.push_back(last + (end - last) * 2 / 3);
                path.push_back(end);
            }
        } else {
            const auto [a, b] = in.edges[e];
            path = straightPath(out.centers[size_t(a)], out.centers[size_t(b)]);
        }
    }
    out.bounds = QRectF(0, 0, bb.UR.x - bb.LL.x, bb.UR.y - bb.LL.y);
    out.milliseconds = double(clock.nsecsElapsed()) / 1e6;
    return out;
}

DagLayout layoutLayered(const DagLayoutInput& in, const CancelToken& cancel) {
    QElapsedTimer clock;
    clock.start();
    const int n = int(in.nodeSizes.size());
    DagLayout out;
    out.method = DagLayout::Method::Layered;
    if (n == 0) return out;

    std::vector<std::vector<int>> preds(static_cast<size_t>(n)), succs(static_cast<size_t>(n));
    std::vector<int> indegree(static_cast<size_t>(n), 0);
    for (const auto& [a, b] : in.edges) {
        if (a < 0 || b < 0 || a >= n || b >= n || a == b) continue;
        preds[size_t(b)].push_back(a);
        succs[size_t(a)].push_back(b);
        ++indegree[size_t(b)];
    }
    // Longest-path ranks over a topological order (Kahn); nodes on a cycle keep rank 0.
    std::vector<int> rank(static_cast<size_t>(n), 0), order;
    order.reserve(size_t(n));
    for (int i = 0; i < n; ++i)
        if (indegree[size_t(i)] == 0) order.push_back(i);
    for (size_t k = 0; k < order.size(); ++k) {
        if ((k & 1023) == 0) cancel.throwIfCancelled();
        const int v = order[k];
        for (int s : succs[size_t(v)]) {
            rank[size_t(s)] = std::max(rank[size_t(s)], rank[size_t(v)] + 1);
            if (--indegree[size_t(s)] == 0) order.push_back(s);
        }
    }
    const int ranks = 1 + *std::max_element(rank.begin(), rank.end());
    std::vector<std::vector<int>> layers(static_cast<size_t>(ranks));
    for (int i = 0; i < n; ++i) layers[size_t(rank[size_t(i)])].push_back(i);

    // One top-down sweep: order each layer by the mean position of its predecessors.
    std::vector<double> slot(static_cast<size_t>(n), 0);
    for (auto& layer : layers) {
        cancel.throwIfCancelled();
        std::vector<std::pair<double, int>> keyed;
        keyed.reserve(layer.size());
        for (int v : layer) {
            double key = double(v);
            if (!preds[size_t(v)].empty()) {
                double sum = 0;
                for (int p : preds[size_t(v)]) sum += slot[size_t(p)];
                key = sum / double(preds[size_t(v)].size());
            }
            keyed.emplace_back(key, v);
        }
        std::stable_sort(keyed.begin(), keyed.end());
        for (size_t k = 0; k < keyed.size(); ++k) {
            layer[k] = keyed[k].second;
            slot[size_t(layer[k])] = double(k) - double(keyed.size() - 1) / 2;
        }
    }

    // Widths per layer, then centre every layer on x = 0.
    out.centers.resize(size_t(n));
    double y = 0, minX = 0, maxX = 0;
    for (const auto& layer : layers) {
        double total = 0, tallest = 0;
        for (int v : layer) {
            total += in.nodeSizes[size_t(v)].width();
            tallest = std::max(tallest, in.nodeSizes[size_t(v)].height());
        }
        total += kNodeGap * double(std::max<size_t>(layer.size(), 1) - 1);
        double x = -total / 2;
        for (int v : layer) {
            const double w = in.nodeSizes[size_t(v)].width();
            out.centers[size_t(v)] = QPointF(x + w / 2, y + tallest / 2);
            x += w + kNodeGap;
        }
        minX = std::min(minX, -total / 2);
        maxX = std::max(maxX, total / 2);
        y += tallest + kRankGap;
    }
    for (auto& c : out.centers) c.rx() -= minX;
    out.edgePaths.reserve(in.edges.size());
    for (const auto& [a, b] : in.edges) {
        if (a < 0 || b < 0 || a >= n || b >= n) {
            out.edgePaths.emplace_back();
            continue;
        }
        const QPointF from = out.centers[size_t(a)] + QPointF(0, in.nodeSizes[size_t(a)].height() / 2);
        const QPointF to = out.centers[size_t(b)] - QPointF(0, in.nodeSizes[size_t(b)].height() / 2);
        out.edgePaths.push_back(straightPath(from, to));
    }
    out.bounds = QRectF(0, 0, maxX - minX, std::max(0.0, y - kRankGap));
    out.milliseconds = double(clock.nsecsElapsed()) / 1e6;
    return out;
}

DagLayout layoutDag(const DagLayoutInput& in, const CancelToken& cancel, int graphvizLimit) {
    if (int(in.nodeSizes.size()) > graphvizLimit) {
        DagLayout out = layoutLayered(in, cancel);
        out.note = QStringLiteral("%1 nodes: above the graphviz limit of %2, layered layout")
                       .arg(in.nodeSizes.size())
                       .arg(graphvizLimit);
        return out;
    }
    try {
        return layoutWithGraphviz(in, cancel);
    } catch (const Cancelled&) {
        throw;
    } catch (const std::exception& e) {
        DagLayout out = layoutLayered(in, cancel);
        out.note = QStringLiteral("graphviz failed (%1), layered layout").arg(QString::fromUtf8(e.what()));
        return out;
    }
}

}  // namespace autosplit::widgets
