#include "autosplit/planner/mincut.h"

#include "autosplit/util/errors.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <queue>

namespace autosplit::planner {

namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();

class Dinic {
public:
    explicit Dinic(int n) : adj_(size_t(n)), level_(size_t(n)), it_(size_t(n)) {}
    void add(int u, int v, double cap) {
        adj_[size_t(u)].push_back(int(edges_.size()));
        edges_.push_back({v, cap});
        adj_[size_t(v)].push_back(int(edges_.size()));
        edges_.push_back({u, 0.0});
    }
    double run(int s, int t) {
        double flow = 0;
        while (bfs(s, t)) {
            std::fill(it_.begin(), it_.end(), 0);
            while (true) {
                const double f = dfs(s, t, kInf);
                if (!(f > 0)) break;
                flow += f;
            }
        }
        return flow;
    }
    std::vector<bool> sourceSide(int s) const {
        std::vector<bool> seen(adj_.size(), false);
        std::queue<int> q;
        q.push(s);
        seen[size_t(s)] = true;
        while (!q.empty()) {
            const int u = q.front();
            q.pop();
            for (int e : adj_[size_t(u)])
                if (residual(e) && !seen[size_t(edges_[size_t(e)].to)]) {
                    seen[size_t(edges_[size_t(e)].to)] = true;
                    q.push(edges_[size_t(e)].to);
                }
        }
        return seen;
    }

private:
    struct Edge {
        int to;
        double cap;
    };
    // Capacities are µs; anything below a picosecond is exhausted (inf stays residual).
    bool residual(int e) const { return edges_[size_t(e)].cap > kEps; }
    bool bfs(int s, int t) {
        std::fill(level_.begin(), level_.end(), -1);
        std::queue<int> q;
        level_[size_t(s)] = 0;
        q.push(s);
        while (!q.empty()) {
            const int u = q.front();
            q.pop();
            for (int e : adj_[size_t(u)]) {
                const int v = edges_[size_t(e)].to;
                if (level_[size_t(v)] < 0 && residual(e)) {
                    level_[size_t(v)] = level_[size_t(u)] + 1;
                    q.push(v);
                }
            }
        }
        return level_[size_t(t)] >= 0;
    }
    double dfs(int u, int t, double pushed) {
        if (u == t) return pushed;
        for (size_t& i = it_[size_t(u)]; i < adj_[size_t(u)].size(); ++i) {
            const int e = adj_[size_t(u)][i];
            const int v = edges_[size_t(e)].to;
            if (level_[size_t(v)] != level_[size_t(u)] + 1 || !residual(e)) continue;
            const double f = dfs(v, t, std::min(pushed, edges_[size_t(e)].cap));
            if (f > 0) {
                edges_[size_t(e)].cap -= f;
                edges_[size_t(e ^ 1)].cap += f;
                return f;
            }
        }
        return 0;
    }
    static constexpr double kEps = 1e-9;
    std::vector<Edge> edges_;
    std::vector<std::vector<int>> adj_;
    std::vector<int> level_;
    std::vector<size_t> it_;
};

void check(const CutProblem& p) {
    const size_t n = p.edgeCost.size();
    if (p.cloudCost.size() != n) throw Error("min-cut: edge and cloud costs differ in length");
    for (size_t v = 0; v < n; ++v)
        if (!(p.edgeCost[v] >= 0) || !(p.cloudCost[v] >= 0)) throw Error("min-cut: node costs must be non-negative");
    for (const auto& d : p.data) {
        if (d.producer < -1 || d.producer >= int(n) || !(d.transferCost >= 0))
            throw Error("min-cut: a tensor has an unknown producer or a negative transfer cost");
        for (int c : d.consumers)
            if (c < 0 || c >= int(n)) throw Error("min-cut: a tensor has an unknown consumer");
    }
}

}  // namespace

double cutCost(const CutProblem& p, const std::vector<bool>& onEdge) {
    double cost = 0;
    for (size_t v = 0; v < p.edgeCost.size(); ++v) cost += onEdge[v] ? p.edgeCost[v] : p.cloudCost[v];
    for (const auto& d : p.data) {
        const bool producerOnEdge = d.producer < 0 || onEdge[size_t(d.producer)];
        bool sent = false;
        for (int c : d.consumers) {
            if (onEdge[size_t(c)] && !producerOnEdge) return kInf;
            if (!onEdge[size_t(c)] && producerOnEdge) sent = true;
        }
        if (sent) cost += d.transferCost;
    }
    return cost;
}

CutResult minimumCut(const CutProblem& p) {
    check(p);
    const int n = int(p.edgeCost.size());
    const int s = 0, t = 1;
    const int base = 2, aux = base + n;
    Dinic g(aux + int(p.data.size()));
    for (int v = 0; v < n; ++v) {
        if (p.cloudCost[size_t(v)] > 0) g.add(s, base + v, p.cloudCost[size_t(v)]);
        if (p.edgeCost[size_t(v)] > 0) g.add(base + v, t, p.edgeCost[size_t(v)]);
    }
    for (size_t i = 0; i < p.data.size(); ++i) {
        const auto& d = p.data[i];
        const int a = aux + int(i);
        const int from = d.producer < 0 ? s : base + d.producer;
        g.add(from, a, d.transferCost);
        for (int c : d.consumers) {
            g.add(a, base + c, kInf);
            if (d.producer >= 0) g.add(base + c, from, kInf);  // no data from the cloud back to the edge
        }
    }
    g.run(s, t);
    const auto side = g.sourceSide(s);
    CutResult r;
    r.onEdge.resize(size_t(n));
    for (int v = 0; v < n; ++v) r.onEdge[size_t(v)] = side[size_t(base + v)];
    r.cost = cutCost(p, r.onEdge);
    return r;
}

}  // namespace autosplit::planner
