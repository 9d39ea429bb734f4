// What the window asks the engine for (the planner's constraints and the edge bit set) and what
// it gets back: every split position at the uniform edge width, scored by the planner's cost
// model (planner/cost_model.h: the same latency, transmit and memory model as the plans), and
// the planner's plan set for the same constraints once the planning stage is ready.
#pragma once

#include "autosplit/engine/model_session.h"
#include "autosplit/planner/planner.h"
#include "autosplit/util/cancel.h"

#include <QMetaType>

#include <cstdint>
#include <memory>
#include <vector>

namespace autosplit::engine {

struct PlanRequest {
    planner::Constraints constraints = windowDefaults();
    std::vector<int> bitSet{2, 4, 6, 8};  // edge widths the user allows, ascending (a new set: slow path)

    bool operator==(const PlanRequest&) const = default;
    // The window opens at 10 Mbps and 64 MiB of edge memory (the rest as the planner's defaults).
    static planner::Constraints windowDefaults();
};

struct SplitEstimates {
    quint64 generation = 0;      // of the job that computed it
    quint64 requestSerial = 0;   // Engine::requestEstimate call whose request it reflects
    PlanRequest request;
    int edgeBits = 8;            // uniform edge width of `splits` (highest allowed width <= 8)
    std::vector<planner::SplitCost> splits;  // index = position + 1
    int best = -1;               // position of the fastest split that fits edge memory; -2 if none
    double computeMs = 0;
    // The planner's answer for the same constraints: a fast estimate first (accuracy only where
    // already measured), the selection after each measurement while they run (plans->measured =
    // measurements so far), then the refined one with measured drops (`measured` = true).
    std::shared_ptr<const planner::PlanSet> plans;
    bool measured = false;
    double replanMs = 0;

    const planner::SplitCost& at(int position) const { return splits[size_t(position + 1)]; }
    const planner::SplitCost& cloudOnly() const { return splits.front(); }
    const planner::SplitCost& edgeOnly() const { return splits.back(); }
};

// Polls `cancel` between stages. Throws Error when the request's widths do not run on the edge.
SplitEstimates estimateSplits(const ModelSession& session, const PlanRequest& request, const CancelToken& cancel = {});

}  // namespace autosplit::engine

Q_DECLARE_METATYPE(std::shared_ptr<const autosplit::engine::SplitEstimates>)
