// What the user sets and the planner answers to: the link, the edge memory and the accuracy
// drop tolerated (the fast path: any change only re-scores stored solutions), plus the error
// type every planner function throws.
#pragma once

#include "autosplit/util/errors.h"

#include <cstdint>
#include <optional>
#include <string>

namespace autosplit::planner {

// Bad constraints, unusable devices or tables, a plan for another model: one-line messages.
class PlannerError : public Error {
public:
    using Error::Error;
};

enum class PlanKind { CloudOnly, Split, EdgeOnly };
const char* planKindName(PlanKind k);  // "CLOUD_ONLY", "SPLIT", "EDGE_ONLY"
PlanKind planKindOf(int splitPosition, int nodes);

// Where the model's results are consumed. Graph outputs computed on the other side of the cut
// travel there and are costed (LatencyBreakdown::resultsMs): results at the edge (the paper's
// users, a camera or a phone) bring every output computed in the cloud back over the downlink;
// results at the cloud send every output computed on the edge up over the uplink.
enum class ResultsAt { Edge, Cloud };
const char* resultsAtName(ResultsAt r);                        // "edge", "cloud"
std::optional<ResultsAt> resultsAtFromName(const std::string& s);  // "edge" / "cloud", else nullopt

struct Constraints {
    double uplinkBps = 3e6;
    int64_t edgeMemoryBytes = int64_t(4) << 30;
    double maxDropPercent = 5.0;       // 0..100, in the measure's percentage points
    double messageOverheadMs = 1.0;    // per transmitted tensor (one message each)
    // Bytes on the wire per payload byte beyond the payload: TCP/IPv4 with timestamps over
    // Ethernet at MTU 1500 carries 1448 payload bytes in 1514 frame bytes (66 / 1448 = 4.56 %),
    // what tc's shaper counts (measured: scripts/measure-link.sh). 0: the payload alone.
    double linkOverhead = 66.0 / 1448.0;
    // Which number of a measured drop must be within the threshold: the point estimate (default)
    // or the upper end of its 95 % interval (the cautious rule).
    enum class Acceptance { Estimate, UpperBound };
    Acceptance acceptance = Acceptance::Estimate;
    ResultsAt resultsAt = ResultsAt::Edge;
    // Cloud-to-edge rate for results coming back. 10 Mbps by default: a typical sustained 4G
    // LTE downlink (and the window's default link), a few times the 3 Mbps default uplink.
    double downlinkBps = 10e6;
    // Throws PlannerError naming the field: non-positive or non-finite uplink or downlink,
    // negative memory, threshold outside 0..100, negative overhead.
    void validate() const;
    bool operator==(const Constraints&) const = default;
};

}  // namespace autosplit::planner
