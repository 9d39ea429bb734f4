// Pieces every plan is assembled from (internal to the planner library).
#pragma once

#include "autosplit/planner/planner.h"

#include <cstdint>
#include <vector>

namespace autosplit::planner {

inline int64_t bytesFromBits(int64_t bits) { return (bits + 7) / 8; }

// The tensors crossing a cut with the bits they travel at: graph inputs at the input width,
// node outputs at abits[producer] (uniformBits past the end of abits).
std::vector<Plan::Sent> sentTensors(const CostModel& cost, const std::vector<int>& tensors,
                                    const std::vector<int>& abits, int uniformBits);

// cloud-only, neurosurgeon, qdmp, qdmp-e, u8, u4, edge-only-u8 under `c`.
std::vector<Plan> baselines(const PlanningContext& ctx, const Constraints& c);

}  // namespace autosplit::planner
