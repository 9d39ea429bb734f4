#include "autosplit/engine/split_estimate.h"

#include "autosplit/util/errors.h"

#include <QElapsedTimer>

#include <limits>

namespace autosplit::engine {

planner::Constraints PlanRequest::windowDefaults() {
    planner::Constraints c;
    c.uplinkBps = 10e6;
    c.edgeMemoryBytes = int64_t(64) << 20;
    return c;
}

SplitEstimates estimateSplits(const ModelSession& session, const PlanRequest& request, const CancelToken& cancel) {
    QElapsedTimer clock;
    clock.start();
    if (!session.model || !session.devices.cost) throw Error("no model loaded");
    request.constraints.validate();
    const planner::CostModel& cost = session.cost();
    SplitEstimates out;
    out.request = request;
    out.edgeBits = cost.uniformBitsFor(request.bitSet);
    if (out.edgeBits < 0) throw Error("none of the selected bit-widths runs on edge device '" + cost.edgeDevice().name + "'");
    cancel.throwIfCancelled();
    out.splits = cost.uniformCosts(out.edgeBits, request.constraints);
    double bestMs = std::numeric_limits<double>::infinity();
    out.best = -2;
    for (const auto& s : out.splits)
        if (s.fitsMemory && s.latency.totalMs < bestMs) {
            bestMs = s.latency.totalMs;
            out.best = s.position;
        }
    out.computeMs = double(clock.nsecsElapsed()) / 1e6;
    return out;
}

}  // namespace autosplit::engine
