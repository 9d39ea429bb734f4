#include "autosplit/engine/split_estimate.h"

#include "autosplit/util/errors.h"

#include <QElapsedTimer>

#include <algorithm>
#include <limits>

namespace autosplit::engine {

namespace {

// Highest cloud width <= 16 (fp16/int16 is lossless enough for the cloud part).
int cloudWidth(const sim::DeviceProfile& cloud) {
    int best = -1;
    for (int b : cloud.bits)
        if (b <= 16) best = std::max(best, b);
    if (best < 0 && !cloud.bits.empty()) best = cloud.bits.front();
    return best;
}

// Peak live activation bits of every prefix [0, p] at uniform activation bits: the lifetimes
// are the whole schedule's, so the prefix peak is a running maximum (as core's edgeMemory).
std::vector<int64_t> prefixPeakActivationBits(const Graph& g, int abits, int inputBits) {
    const size_t n = g.nodes.size();
    std::vector<int64_t> delta(n + 1, 0);
    for (const auto& L : tensorLifetimes(g)) {
        const int s = std::max(L.start, 0);
        if (s >= int(n)) continue;
        const int e = std::min(L.end, int(n) - 1);
        const int64_t bits = L.elements * (L.start < 0 ? inputBits : abits);
        delta[size_t(s)] += bits;
        delta[size_t(e) + 1] -= bits;
    }
    std::vector<int64_t> peak(n, 0);
    int64_t live = 0, best = 0;
    for (size_t i = 0; i < n; ++i) {
        live += delta[i];
        best = std::max(best, live);
        peak[i] = best;
    }
    return peak;
}

struct Scorer {
    const ModelSession& s;
    const Constraints& c;
    int wIdx, aIdx, cloudIdx;
    int wbits, abits;
    int64_t memoryBudgetBits;
    std::vector<int64_t> peak;

    Scorer(const ModelSession& session, const Constraints& cons, int w, int a)
        : s(session), c(cons), wbits(w), abits(a) {
        const auto& edge = *s.devices.edgeLatency;
        const auto& cloud = *s.devices.cloudLatency;
        wIdx = edge.bitsIndex(w);
        aIdx = edge.bitsIndex(a);
        cloudIdx = cloud.bitsIndex(cloudWidth(s.devices.cloud));
        if (wIdx < 0 || aIdx < 0)
            throw Error("edge device '" + s.devices.edge.name + "' does not run w" + std::to_string(w) + "a" +
                        std::to_string(a));
        if (cloudIdx < 0) throw Error("cloud device '" + s.devices.cloud.name + "' has no bit-width <= 16");
        memoryBudgetBits = int64_t(c.edgeMemoryMiB * 1024.0 * 1024.0 * 8.0);
        peak = prefixPeakActivationBits(s.model->graph, abits, c.inputBits);
    }

    SplitCost score(int position) const {
        const ModelData& m = *s.model;
        const int n = m.layerCount();
        const SplitInfo& split = m.split(position);
        SplitCost cost;
        cost.position = position;
        cost.weightBits = wbits;
        cost.activationBits = abits;
        cost.edgeUs = position >= 0 ? s.devices.edgeLatency->rangeUs(0, position, wIdx, aIdx) : 0.0;
        cost.cloudUs = s.devices.cloudLatency->rangeUs(position + 1, n - 1, cloudIdx, cloudIdx);
        for (int t : split.transmitted) {
            const Tensor& tensor = m.graph.tensors[size_t(t)];
            cost.transmittedBits += std::max<int64_t>(tensor.elementCount(), 0) *
                                    (tensor.producer < 0 ? c.inputBits : abits);
        }
        cost.transmitUs = c.uplinkMbps > 0 ? double(cost.transmittedBits) / c.uplinkMbps : 0.0;  // bits / (Mbit/s) = us
        if (position >= 0) cost.edgeMemoryBits = split.edgeWeightElements * wbits + peak[size_t(position)];
        cost.fitsMemory = cost.edgeMemoryBits <= memoryBudgetBits;
        return cost;
    }
};

}  // namespace

planner::Constraints plannerConstraints(const Constraints& c) {
    planner::Constraints p;
    p.uplinkBps = c.uplinkMbps * 1e6;
    p.edgeMemoryBytes = int64_t(c.edgeMemoryMiB * 1024.0 * 1024.0);
    p.maxDropPercent = c.maxAccuracyDropPct;
    return p;
}

int uniformEdgeBits(const std::vector<int>& bitSet, const sim::DeviceProfile& edge) {
    int best = -1, above = -1;
    for (int b : bitSet) {
        if (!edge.supportsBits(b)) continue;
        if (b <= 8) best = std::max(best, b);
        else if (above < 0 || b < above) above = b;
    }
    return best >= 0 ? best : above;
}

SplitCost costOfSplit(const ModelSession& session, int position, int wbits, int abits, const Constraints& c) {
    return Scorer(session, c, wbits, abits).score(position);
}

SplitEstimates estimateSplits(const ModelSession& session, const Constraints& c, const CancelToken& cancel) {
    QElapsedTimer clock;
    clock.start();
    if (!session.model || !session.devices.edgeLatency || !session.devices.cloudLatency)
        throw Error("no model loaded");
    SplitEstimates out;
    out.constraints = c;
    out.edgeBits = uniformEdgeBits(c.bitSet, session.devices.edge);
    if (out.edgeBits < 0) throw Error("none of the selected bit-widths runs on edge device '" + session.devices.edge.name + "'");
    out.cloudBits = cloudWidth(session.devices.cloud);
    const Scorer scorer(session, c, out.edgeBits, out.edgeBits);
    const int n = session.model->layerCount();
    out.splits.reserve(size_t(n) + 1);
    double bestUs = std::numeric_limits<double>::infinity();
    out.best = -2;
    for (int p = -1; p < n; ++p) {
        if ((p & 255) == 0) cancel.throwIfCancelled();
        out.splits.push_back(scorer.score(p));
        const SplitCost& cost = out.splits.back();
        if (cost.fitsMemory && cost.totalUs() < bestUs) {
            bestUs = cost.totalUs();
            out.best = p;
        }
    }
    out.computeMs = double(clock.nsecsElapsed()) / 1e6;
    return out;
}

}  // namespace autosplit::engine
