// The paper's baselines on the same cost model: Cloud-Only, Neurosurgeon (single-tensor cut,
// float16), DADS/QDMP minimum cut (float16), uniform 8 / 4 bits, Edge-Only at 8 bits.
#include "plan_parts.h"

#include "autosplit/planner/mincut.h"

#include <algorithm>
#include <functional>
#include <limits>
#include <set>

namespace autosplit::planner {

std::vector<Plan::Sent> sentTensors(const CostModel& cost, const std::vector<int>& tensors,
                                    const std::vector<int>& abits, int uniformBits) {
    std::vector<Plan::Sent> out;
    for (int t : tensors) {
        const Tensor& tt = cost.graph().tensors[size_t(t)];
        Plan::Sent s;
        s.tensor = t;
        s.elements = std::max<int64_t>(0, tt.elementCount());
        s.bits = tt.producer < 0 ? cost.inputBits()
                                 : (size_t(tt.producer) < abits.size() ? abits[size_t(tt.producer)] : uniformBits);
        out.push_back(s);
    }
    return out;
}

Plan uniformPlan(const CostModel& cost, int position, int bits, const Constraints& c, const std::string& name) {
    const SplitCost x = cost.uniformCost(position, bits, c);
    Plan p;
    p.name = name;
    p.kind = planKindOf(position, cost.nodeCount());
    p.splitPosition = position;
    p.splitAfter = position >= 0 ? cost.graph().nodes[size_t(position)].name : std::string();
    p.weightBits.assign(size_t(position + 1), bits);
    p.activationBits.assign(size_t(position + 1), bits);
    p.transmitted = sentTensors(cost, cost.splits()[size_t(position + 1)].transmitted, p.activationBits, bits);
    p.latency = x.latency;
    p.edgeWeightBytes = x.edgeWeightBytes();
    p.edgeActivationBytes = x.edgeActivationBytes();
    p.fitsMemory = x.fitsMemory;
    return p;
}

Plan uniformPlan(const PlanningContext& ctx, int position, int bits, const Constraints& c, const std::string& name) {
    if (!ctx.uniform(bits))
        throw PlannerError("edge device '" + ctx.edgeDevice().name + "' does not run " + std::to_string(bits) + "-bit layers");
    Plan p = uniformPlan(ctx.cost(), position, bits, c, name);
    const auto& errors = ctx.errors();
    const int bi = errors.bitsIndex(bits);
    if (bi >= 0)
        for (int i = 0; i <= position; ++i) {
            if (errors.rows[size_t(i)].weightTensor >= 0) p.mseProxy += errors.rows[size_t(i)].weightMse[size_t(bi)];
            p.mseProxy += errors.rows[size_t(i)].activationMse[size_t(bi)];
        }
    p.solution = ctx.findSolution(position, p.weightBits, p.activationBits);
    if (p.solution >= 0) p.accuracy = ctx.accuracy(p.solution);
    return p;
}

namespace {

// Best prefix split at uniform bits among those whose edge part fits (`filter` picks allowed
// positions). Cloud-Only when nothing fits.
Plan bestUniform(const PlanningContext& ctx, int bits, const Constraints& c, const std::string& name,
                 const std::function<bool(int)>& filter) {
    if (!ctx.uniform(bits)) {
        Plan p = planFor(ctx, 0, c, name);
        p.available = false;
        p.note = "the edge device does not run " + std::to_string(bits) + "-bit layers";
        return p;
    }
    Plan best;
    bool have = false;
    for (int pos = -1; pos < ctx.nodeCount(); ++pos) {
        if (!filter(pos)) continue;
        Plan p = uniformPlan(ctx, pos, bits, c, name);
        if (!p.fitsMemory) continue;
        if (!have || p.latency.totalMs < best.latency.totalMs) {
            best = std::move(p);
            have = true;
        }
    }
    if (!have) {
        best = planFor(ctx, 0, c, name);
        best.note = "no split fits the edge memory at " + std::to_string(bits) + " bits";
    }
    return best;
}

// DADS / QDMP: minimum cut at float16 on the DAG.
std::pair<Plan, Plan> minCutPlans(const PlanningContext& ctx, const Constraints& c) {
    const Graph& g = ctx.graph();
    const int N = ctx.nodeCount();
    const int fb = 16;
    if (ctx.cost().edgeFloatUs().empty() || !ctx.uniform(fb)) {
        Plan p = planFor(ctx, 0, c, "qdmp");
        p.available = false;
        p.note = "the edge device does not run 16-bit layers";
        Plan e = p;
        e.name = "qdmp-e";
        return {p, e};
    }
    CutProblem cp;
    cp.edgeCost = ctx.cost().edgeFloatUs();
    cp.cloudCost = ctx.cost().cloudNodeUs();
    // Where results end is part of the cut: results at the edge, a node computing a graph output
    // in the cloud also pays to send it back; results at the cloud, every graph output gets one
    // more consumer, a node pinned to the cloud (index N: it cannot run on the edge).
    const bool resultsAtCloud = c.resultsAt == ResultsAt::Cloud;
    if (resultsAtCloud) {
        cp.edgeCost.push_back(std::numeric_limits<double>::infinity());
        cp.cloudCost.push_back(0.0);
    } else {
        for (int t : g.outputs)
            if (t >= 0 && g.tensors[size_t(t)].producer >= 0)
                cp.cloudCost[size_t(g.tensors[size_t(t)].producer)] +=
                    CostModel::resultsMs({std::max<int64_t>(0, g.tensors[size_t(t)].elementCount()) * ctx.cloudBits(), 1}, c) * 1e3;
    }
    std::vector<int> dataTensor;
    for (size_t t = 0; t < g.tensors.size(); ++t) {
        const Tensor& tt = g.tensors[t];
        const bool upResult = resultsAtCloud && tt.isGraphOutput;
        if (tt.isWeight() || (tt.consumers.empty() && !upResult)) continue;
        if (tt.producer < 0 && !tt.isGraphInput) continue;
        CutProblem::Data d;
        d.producer = tt.producer;
        std::set<int> cons(tt.consumers.begin(), tt.consumers.end());
        if (upResult) cons.insert(N);
        d.consumers.assign(cons.begin(), cons.end());
        const int bits = tt.producer < 0 ? ctx.inputBits() : fb;
        d.transferCost = (double(std::max<int64_t>(0, tt.elementCount())) * bits * (1 + c.linkOverhead) / c.uplinkBps * 1e3 + c.messageOverheadMs) * 1e3;  // µs
        cp.data.push_back(std::move(d));
        dataTensor.push_back(int(t));
    }
    CutResult cut = minimumCut(cp);
    cut.onEdge.resize(size_t(N));  // without the pinned results node
    Plan p;
    p.name = "qdmp";
    int last = -1, count = 0;
    for (int v = 0; v < N; ++v)
        if (cut.onEdge[size_t(v)]) {
            last = v;
            ++count;
        }
    const bool prefix = count == last + 1;
    p.splitPosition = prefix ? last : -2;
    p.kind = count == 0 ? PlanKind::CloudOnly : (count == N ? PlanKind::EdgeOnly : PlanKind::Split);
    if (!prefix)
        for (int v = 0; v < N; ++v)
            if (cut.onEdge[size_t(v)]) p.edgeNodes.push_back(v);
    p.splitAfter = last >= 0 ? g.nodes[size_t(last)].name : std::string();
    std::vector<int> sent;
    int64_t sentBits = 0;
    for (size_t i = 0; i < cp.data.size(); ++i) {
        const auto& d = cp.data[i];
        if (d.producer >= 0 && !cut.onEdge[size_t(d.producer)]) continue;
        bool toCloud = false;
        for (int cns : d.consumers) toCloud |= cns < N && !cut.onEdge[size_t(cns)];  // results travel apart
        if (!toCloud) continue;
        sent.push_back(dataTensor[i]);
    }
    std::vector<int> abits(size_t(N), 0);
    for (int v = 0; v < N; ++v)
        if (cut.onEdge[size_t(v)]) abits[size_t(v)] = fb;
    p.transmitted = sentTensors(ctx.cost(), sent, abits, fb);
    for (const auto& s : p.transmitted) sentBits += s.elements * s.bits;
    int em = 0;
    const int e16 = ctx.edgeTable().bitsIndex(fb);
    const int ci = ctx.cloudTable().bitsIndex(ctx.cloudBits());
    int cm = 0;
    for (int v = 0; v < N; ++v) {
        if (cut.onEdge[size_t(v)]) {
            p.latency.edgeMs += ctx.cost().edgeFloatUs()[size_t(v)] / 1e3;
            em += ctx.edgeTable().entry(v, e16, e16).origin == sim::LatencyOrigin::Measured;
            p.weightBits.resize(size_t(v) + 1, 0);
            p.activationBits.resize(size_t(v) + 1, 0);
            p.weightBits[size_t(v)] = fb;
            p.activationBits[size_t(v)] = fb;
        } else {
            p.latency.cloudMs += ctx.cost().cloudNodeUs()[size_t(v)] / 1e3;
            cm += ctx.cloudTable().entry(v, ci, ci).origin == sim::LatencyOrigin::Measured;
        }
    }
    p.latency.transmitMs = CostModel::transmitMs(sentBits, int(p.transmitted.size()), c);
    p.latency.resultsMs = CostModel::resultsMs(ctx.cost().resultTransfer(cut.onEdge, sent, c.resultsAt, abits), c);
    p.latency.totalMs = p.latency.edgeMs + p.latency.transmitMs + p.latency.cloudMs + p.latency.resultsMs;
    p.latency.edgeOrigin = CostModel::origin(em, count);
    p.latency.cloudOrigin = CostModel::origin(cm, N - count);
    // Edge memory at 16 bits: QDMP keeps the whole model on the edge, QDMP-E only the edge part.
    // The working set is that of the schedule prefix up to the last edge node (an upper bound
    // for a non-prefix cut).
    const EdgeMemory whole = edgeMemory(g, PlanBits::uniform(g, N - 1, fb, fb, ctx.inputBits()));
    const EdgeMemory upto = edgeMemory(g, PlanBits::uniform(g, last, fb, fb, ctx.inputBits()));
    int64_t edgeWeights = 0;
    {
        std::vector<bool> counted(g.tensors.size(), false);
        for (int v = 0; v < N; ++v)
            if (cut.onEdge[size_t(v)])
                for (int t : g.nodes[size_t(v)].inputs)
                    if (t >= 0 && !counted[size_t(t)] && g.tensors[size_t(t)].isWeight() && g.tensors[size_t(t)].data->isFloat()) {
                        counted[size_t(t)] = true;
                        edgeWeights += g.tensors[size_t(t)].data->elementCount() * fb;
                    }
    }
    p.edgeActivationBytes = bytesFromBits(upto.peakActivationBits);
    if (prefix && count > 0) {  // the stored float16 solution of that prefix: measurable, selectable
        p.solution = ctx.findSolution(last, p.weightBits, p.activationBits);
        if (p.solution >= 0) p.accuracy = ctx.accuracy(p.solution);
    }
    Plan e = p;
    e.name = "qdmp-e";
    p.edgeWeightBytes = bytesFromBits(whole.weightBits);
    e.edgeWeightBytes = bytesFromBits(edgeWeights);
    p.fitsMemory = p.edgeWeightBytes + p.edgeActivationBytes <= c.edgeMemoryBytes;
    e.fitsMemory = e.edgeWeightBytes + e.edgeActivationBytes <= c.edgeMemoryBytes;
    p.note = "whole model stored on the edge at 16 bits";
    e.note = "only the edge part stored on the edge";
    if (!prefix) {
        p.note += "; the cut is not a schedule prefix (the evaluator cannot run it: not selectable)";
        e.note += "; the cut is not a schedule prefix (the evaluator cannot run it: not selectable)";
    }
    return {p, e};
}

}  // namespace

std::vector<Plan> baselines(const PlanningContext& ctx, const Constraints& c) {
    std::vector<Plan> out;
    const int N = ctx.nodeCount();
    out.push_back(planFor(ctx, 0, c, "cloud-only"));
    {
        Plan ns = bestUniform(ctx, 16, c, "neurosurgeon", [&](int pos) {
            return ctx.splits()[size_t(pos + 1)].transmitted.size() <= 1;
        });
        if (ns.available) ns.note = "single-tensor cut, float16 on both sides";
        out.push_back(std::move(ns));
    }
    auto [qdmp, qdmpE] = minCutPlans(ctx, c);
    out.push_back(std::move(qdmp));
    out.push_back(std::move(qdmpE));
    out.push_back(bestUniform(ctx, 8, c, "u8", [](int) { return true; }));
    out.push_back(bestUniform(ctx, 4, c, "u4", [](int) { return true; }));
    {
        Plan eo = bestUniform(ctx, 8, c, "edge-only-u8", [&](int pos) { return pos == N - 1; });
        out.push_back(std::move(eo));
    }
    return out;
}



}  // namespace autosplit::planner
