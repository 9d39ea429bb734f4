#include "autosplit/planner/constraints.h"

#include <cmath>
#include <string>

namespace autosplit::planner {

const char* planKindName(PlanKind k) {
    switch (k) {
    case PlanKind::CloudOnly: return "CLOUD_ONLY";
    case PlanKind::Split: return "SPLIT";
    case PlanKind::EdgeOnly: return "EDGE_ONLY";
    }
    return "?";
}

const char* resultsAtName(ResultsAt r) { return r == ResultsAt::Cloud ? "cloud" : "edge"; }

std::optional<ResultsAt> resultsAtFromName(const std::string& s) {
    if (s == "edge") return ResultsAt::Edge;
    if (s == "cloud") return ResultsAt::Cloud;
    return std::nullopt;
}

PlanKind planKindOf(int splitPosition, int nodes) {
    if (splitPosition < 0) return PlanKind::CloudOnly;
    return splitPosition >= nodes - 1 ? PlanKind::EdgeOnly : PlanKind::Split;
}

void Constraints::validate() const {
    if (!std::isfinite(uplinkBps) || uplinkBps <= 0)
        throw PlannerError("uplink bandwidth must be a positive number of bits per second, got " + std::to_string(uplinkBps));
    if (!std::isfinite(downlinkBps) || downlinkBps <= 0)
        throw PlannerError("downlink bandwidth must be a positive number of bits per second, got " + std::to_string(downlinkBps));
    if (edgeMemoryBytes < 0)
        throw PlannerError("edge memory must not be negative, got " + std::to_string(edgeMemoryBytes) + " bytes");
    if (!std::isfinite(maxDropPercent) || maxDropPercent < 0 || maxDropPercent > 100)
        throw PlannerError("accuracy-drop threshold must be within 0..100%, got " + std::to_string(maxDropPercent) + "%");
    if (!std::isfinite(linkOverhead) || linkOverhead < 0 || linkOverhead > 1)
        throw PlannerError("link overhead must be between 0 and 100 %, got " + std::to_string(100 * linkOverhead) + " %");
    if (!std::isfinite(messageOverheadMs) || messageOverheadMs < 0)
        throw PlannerError("per-message overhead must not be negative, got " + std::to_string(messageOverheadMs) + " ms");
}

}  // namespace autosplit::planner
