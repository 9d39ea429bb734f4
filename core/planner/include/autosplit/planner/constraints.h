// What the user sets and the planner answers to: the link, the edge memory and the accuracy
// drop tolerated (the fast path: any change only re-scores stored solutions), plus the error
// type every planner function throws.
#pragma once

#include "autosplit/util/errors.h"

#include <cstdint>

namespace autosplit::planner {

// Bad constraints, unusable devices or tables, a plan for another model: one-line messages.
class PlannerError : public Error {
public:
    using Error::Error;
};

enum class PlanKind { CloudOnly, Split, EdgeOnly };
const char* planKindName(PlanKind k);  // "CLOUD_ONLY", "SPLIT", "EDGE_ONLY"
PlanKind planKindOf(int splitPosition, int nodes);

struct Constraints {
    double uplinkBps = 3e6;
    int64_t edgeMemoryBytes = int64_t(4) << 30;
    double maxDropPercent = 5.0;       // 0..100, in the measure's percentage points
    double messageOverheadMs = 1.0;    // per transmitted tensor (one message each)
    // Which number of a measured drop must be within the threshold: the point estimate (default)
    // or the upper end of its 95 % interval (the cautious rule).
    enum class Acceptance { Estimate, UpperBound };
    Acceptance acceptance = Acceptance::Estimate;
    // Throws PlannerError naming the field: non-positive or non-finite uplink, negative memory,
    // threshold outside 0..100, negative overhead.
    void validate() const;
    bool operator==(const Constraints&) const = default;
};

}  // namespace autosplit::planner
