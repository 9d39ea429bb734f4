// The Auto-Split planner in two layers:
//
//  PlanningContext (context.h; slow, built once per model, devices, bit set and calibration
//    data) over the CostModel (cost_model.h; latency tables, transmit and memory model).
//
//  replan(context, constraints) (fast, pure): re-scores the stored solutions — uplink changes
//    only the transmit term, edge memory filters, the threshold only changes the selection —
//    keeps the latency/error Pareto front, selects, and computes the baselines.
//
// Where numbers come from: latency is simulated (or measured where the device has a measured
// profile: LatencyBreakdown::*Origin); `mseProxy` is the calibration MSE sum Σ D_w + D_a of the
// edge layers; `accuracy` is a measured drop on `samples` inputs (AccuracyMeasurement).
#pragma once

#include "autosplit/planner/constraints.h"
#include "autosplit/planner/context.h"
#include "autosplit/planner/cost_model.h"

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace autosplit::planner {

struct Plan {
    std::string name;                 // "auto-split", "cloud-only", "neurosurgeon", "qdmp", ...
    PlanKind kind = PlanKind::CloudOnly;
    int splitPosition = -1;           // last edge node of a schedule prefix; -2 for a non-prefix cut
    std::string splitAfter;
    std::vector<int> edgeNodes;       // only for a non-prefix cut (min-cut baselines)
    struct Sent {
        int tensor = -1;
        int bits = 0;
        int64_t elements = 0;
    };
    std::vector<Sent> transmitted;
    std::vector<int> weightBits, activationBits;  // per edge node (index = node id)
    LatencyBreakdown latency;
    int64_t edgeWeightBytes = 0, edgeActivationBytes = 0;
    double mseProxy = 0;
    std::optional<AccuracyMeasurement> accuracy;
    bool fitsMemory = true;
    bool available = true;            // false: the baseline cannot run here (note says why)
    std::string note;
    int solution = -1;                // index into PlanningContext::solutions(), -1 for baselines off-grid
};

struct ScoredSolution {
    int solution = -1;
    double edgeMs = 0, transmitMs = 0, cloudMs = 0, resultsMs = 0, totalMs = 0;  // as LatencyBreakdown
    double mse = 0;
};

// Why the selection is what it is, as data; describe() makes the one-line text the CLI, the
// window and plan.json show.
struct SelectionReason {
    enum class Kind {
        NothingSmallerThanInput,  // no split sends less than the raw input: Cloud-Only
        EdgeMemoryTooSmall,       // the edge memory is below every split's need at the lowest bits
        FasterPlansRejected,      // every faster plan measured above the threshold: Cloud-Only
        AwaitingMeasurements,     // Cloud-Only until the faster plans are measured
        CloudOnlyFastest,         // nothing on the edge is faster
        WithinThreshold,          // the fastest plan measured within the threshold
    };
    Kind kind = Kind::CloudOnlyFastest;
    double threshold = 0;                              // percentage points
    int64_t edgeMemoryBytes = 0, smallestNeedBytes = 0;  // EdgeMemoryTooSmall
    int lowestBits = 0;
    int rejected = 0;                                  // faster plans measured above the threshold
    std::optional<AccuracyMeasurement> bestRejected;
    // Cloud-Only measured above the threshold itself (FasterPlansRejected): the inputs or the
    // metric cannot tell plans apart.
    std::optional<AccuracyMeasurement> cloudOnlyAboveThreshold;
    int inputBits = 8;
    std::optional<AccuracyMeasurement> selected;       // WithinThreshold
    std::vector<std::string> sameAsBaselines;          // baselines whose plan is the selected one
    int pending = 0;                                   // faster plans not measured yet
    std::optional<int> stoppedAfter;                   // planWithMeasurement's measurement limit hit
    Constraints::Acceptance acceptance = Constraints::Acceptance::Estimate;
    // The selected plan's interval has the threshold inside it: another sample of the same size
    // could land on the other side.
    bool straddlesThreshold = false;
};
// The number of a measurement the threshold is compared with under `rule`.
double acceptedDrop(const AccuracyMeasurement& m, Constraints::Acceptance rule);
const char* acceptanceName(Constraints::Acceptance rule);  // "estimate", "upper-bound"
std::string describe(const SelectionReason& r);

struct PlanSet {
    Constraints constraints;
    std::vector<ScoredSolution> candidates;  // every stored solution that fits the edge memory
    std::vector<int> pareto;                 // indices into candidates: fastest first, error falling
    Plan selected;
    SelectionReason why;                     // why this plan (or why Cloud-Only)
    std::string reason() const { return describe(why); }
    std::vector<int> pending;                // solutions faster than `selected` still to measure
    bool final() const { return pending.empty(); }
    int measured = 0;                        // measurements taken by planWithMeasurement
    std::vector<Plan> baselines;             // cloud-only, neurosurgeon, qdmp, qdmp-e, u8, u4, edge-only-u8
    double replanMs = 0;
    const Plan* baseline(const std::string& name) const;
};

// Pure and fast: uses only accuracies already in the context's cache. Throws PlannerError on
// invalid constraints.
std::shared_ptr<const PlanSet> replan(const PlanningContext& ctx, const Constraints& c);

// replan(), then measure the fastest pending Pareto solution and re-select until the selection
// is final (at most maxMeasurements measurements; Cancelled when `cancel` fires). `onMeasured`,
// when set, hears the selection before each further measurement (after the first one;
// PlanSet::measured = measurements so far), so a window can show them as they arrive.
std::shared_ptr<const PlanSet> planWithMeasurement(const PlanningContext& ctx, const Constraints& c,
                                                   const AccuracyMeasure& measure, const CancelToken& cancel = {},
                                                   int maxMeasurements = 64,
                                                   const std::function<void(std::shared_ptr<const PlanSet>)>& onMeasured = {});

// Plan for a stored solution under given constraints (used by replan and the baselines).
Plan planFor(const PlanningContext& ctx, int solution, const Constraints& c, const std::string& name);
// Plan at uniform edge bits at a split position, scored by the cost model alone (no MSE proxy,
// no accuracy): what the window shows before the planning stage is ready.
Plan uniformPlan(const CostModel& cost, int position, int bits, const Constraints& c, const std::string& name);
// The same plan with the MSE proxy from the error table and the accuracy where the same stored
// solution was measured (the uniform baselines' scoring).
Plan uniformPlan(const PlanningContext& ctx, int position, int bits, const Constraints& c, const std::string& name);

}  // namespace autosplit::planner
