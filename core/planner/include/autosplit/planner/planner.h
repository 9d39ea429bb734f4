// The Auto-Split planner in two layers:
//
//  PlanningContext (slow, built once per model, devices, bit set and calibration data):
//    optimized graph, analysis, splits, both latency tables, the error table and, for every
//    candidate split (§4.1), the bit allocations of a budget grid (§4.2) with their edge / cloud
//    µs, transmitted bits, edge memory and MSE proxy. Immutable after build except for the
//    accuracy cache (thread-safe), so any number of threads may read it.
//
//  replan(context, constraints) (fast, pure): re-scores the stored solutions — uplink changes
//    only the transmit term, edge memory filters, the threshold only changes the selection —
//    keeps the latency/error Pareto front, selects, and computes the baselines.
//
// Where numbers come from: latency is simulated (or measured where the device has a measured
// profile: LatencyBreakdown::*Origin); `mseProxy` is the calibration MSE sum Σ D_w + D_a of the
// edge layers; `accuracy` is a measured drop on `samples` inputs (AccuracyMeasurement).
#pragma once

#include "autosplit/ir/analysis.h"
#include "autosplit/ir/graph.h"
#include "autosplit/ir/plan_bits.h"
#include "autosplit/quant/calibration.h"
#include "autosplit/sim/device.h"
#include "autosplit/sim/latency_table.h"
#include "autosplit/util/cancel.h"
#include "autosplit/util/errors.h"

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

namespace autosplit::planner {

// Bad constraints, unusable devices or tables, a plan for another model: one-line messages.
class PlannerError : public Error {
public:
    using Error::Error;
};

enum class PlanKind { CloudOnly, Split, EdgeOnly };
const char* planKindName(PlanKind k);  // "CLOUD_ONLY", "SPLIT", "EDGE_ONLY"

enum class Allocator { Exact, Lagrangian };

struct ModelSource {
    std::string path;
    std::string sha256;                      // of the ONNX file
    std::vector<std::string> inputBindings;  // "x=1x3x640x640"
};

struct ContextOptions {
    std::vector<int> bits{2, 4, 6, 8};  // the edge bit set B
    int inputBits = 8;                  // the raw input (what Cloud-Only sends)
    int cloudBits = 16;                 // the cloud runs float16
    Allocator allocator = Allocator::Exact;
    bool compareLagrangian = true;      // also solve every instance with the Lagrangian (gap report)
    // Budgets at the midpoints between the uniform levels too (3, 5, 7 for B = {2,4,6,8}):
    // 7 x 7 instead of 4 x 4 pairs per split.
    bool finerGrid = true;
    CancelToken cancel;
    std::function<void(const std::string& stage, int done, int total)> progress;
};

// One (split, bits) pair. Constraint-independent; scored by replan().
struct Solution {
    int split = -1;                      // -1 Cloud-Only; nodes [0, split] on the edge
    std::vector<uint8_t> weightBits;     // per edge node
    std::vector<uint8_t> activationBits; // per edge node
    double edgeUs = 0, cloudUs = 0;
    int64_t transmitBits = 0;
    int messages = 0;                    // tensors sent
    int64_t edgeWeightBits = 0, edgeActivationBits = 0;
    double weightMse = 0, activationMse = 0;
    double mse() const { return weightMse + activationMse; }
    std::string budget;                  // grid label of the first budget pair that produced it ("w4a6")
    bool exact = true;                   // false: the activation state limit forced the Lagrangian
    // true: not from the §4.2 grid but one of the baselines' plans (uniform w = a = 16, 8 or 4 at
    // any split position, candidate or not), stored so the selection can compare against it.
    bool forBaseline = false;
    uint8_t edgeMeasured = 0;            // 0 simulated, 1 some entries measured, 2 all measured
    int64_t edgeBytes() const { return (edgeWeightBits + 7) / 8 + (edgeActivationBits + 7) / 8; }
};

// A measured accuracy drop (percentage points, lower is better) and what it means.
struct AccuracyMeasurement {
    double drop = 0;
    std::string metric;  // "top1-disagreement", "relative-l2-error", ...
    int samples = 0;
    std::string data;    // description of the inputs
};

// Runs the model with the plan's fake quantization and returns the drop. May throw Cancelled.
using AccuracyMeasure = std::function<AccuracyMeasurement(const PlanBits&, const CancelToken&)>;

struct LagrangianReport {
    int instances = 0;        // (split, budget) problems solved both ways
    int worse = 0;            // where the Lagrangian's distortion is higher
    int exactWorse = 0;       // where the exact allocator's is higher (0 unless the exact DP is wrong)
    int infeasible = 0;       // where the Lagrangian found nothing within budget and the exact did
    double meanRelativeGap = 0, maxRelativeGap = 0;  // (D_lagrangian - D_exact) / D_exact
    double exactMs = 0, lagrangianMs = 0;
    int inexactActivation = 0;  // activation problems where the exact DP hit its state limit
    size_t largestWeightFrontier = 0;
};

struct SplitRecord {
    int position = -1;
    std::vector<int> transmitted;    // tensor ids (enumerateSplits)
    bool candidate = false;          // transmission at the lowest bits < raw input (§4.1)
    int64_t minEdgeBits = 0;         // weights + working set at the lowest bits
    int64_t minTransmitBits = 0;
};

class PlanningContext {
public:
    // `g` must be optimized with known shapes; `errors` computed on this graph with every width
    // of o.bits. Throws PlannerError on unusable inputs, Cancelled when o.cancel fires.
    static std::shared_ptr<const PlanningContext> build(Graph g, const sim::DeviceProfile& edge,
                                                        const sim::DeviceProfile& cloud, ErrorTable errors,
                                                        ModelSource model, ContextOptions o = {},
                                                        const sim::MeasuredProfile* edgeMeasured = nullptr);

    const Graph& graph() const { return graph_; }
    const ModelAnalysis& analysis() const { return analysis_; }
    const std::vector<SplitInfo>& splits() const { return splitInfo_; }  // index = position + 1
    const std::vector<SplitRecord>& splitRecords() const { return records_; }
    const sim::LatencyTable& edgeTable() const { return edgeTable_; }
    const sim::LatencyTable& cloudTable() const { return cloudTable_; }
    const sim::DeviceProfile& edgeDevice() const { return edge_; }
    const sim::DeviceProfile& cloudDevice() const { return cloud_; }
    const ErrorTable& errors() const { return errors_; }
    const ModelSource& model() const { return model_; }
    const std::vector<int>& bits() const { return bits_; }
    int inputBits() const { return inputBits_; }
    int cloudBits() const { return cloudBits_; }
    Allocator allocator() const { return allocator_; }
    int64_t rawInputBits() const { return rawInputBits_; }
    const std::vector<Solution>& solutions() const { return solutions_; }  // [0] = Cloud-Only
    const LagrangianReport& lagrangian() const { return lagrangian_; }
    double buildMs() const { return buildMs_; }
    int nodeCount() const { return int(graph_.nodes.size()); }

    // The solution in the evaluator's terms: its bits on nodes [0, split], cloud bits after.
    PlanBits planBits(const Solution& s) const;
    // Index of the stored solution with exactly these bits, or -1.
    int findSolution(int split, const std::vector<int>& weightBits, const std::vector<int>& activationBits) const;

    // Accuracy cache keyed by solution index (a solution is one (split, bits) pair). Thread-safe.
    std::optional<AccuracyMeasurement> accuracy(int solution) const;
    void storeAccuracy(int solution, AccuracyMeasurement m) const;
    // Measures (or reads from the cache) one solution.
    AccuracyMeasurement measure(int solution, const AccuracyMeasure& fn, const CancelToken& cancel = {}) const;

    // Precomputed per split (index = position + 1) for the baselines.
    struct UniformSplit {
        double edgeUs = 0;
        int64_t transmitBits = 0;
        int64_t edgeWeightBits = 0, edgeActivationBits = 0;
    };
    const std::vector<UniformSplit>* uniform(int bits) const;  // null when not tabulated
    const std::vector<double>& cloudSuffixUs() const { return cloudSuffixUs_; }  // index = position + 1
    const std::vector<double>& edgeFloatUs() const { return edgeFloatUs_; }      // per node at 16 bits, empty if unsupported
    const std::vector<double>& cloudNodeUs() const { return cloudNodeUs_; }      // per node at cloud bits

private:
    PlanningContext() = default;
    Graph graph_;
    ModelAnalysis analysis_;
    std::vector<SplitInfo> splitInfo_;
    std::vector<SplitRecord> records_;
    sim::DeviceProfile edge_, cloud_;
    sim::LatencyTable edgeTable_, cloudTable_;
    ErrorTable errors_;
    ModelSource model_;
    std::vector<int> bits_;
    int inputBits_ = 8, cloudBits_ = 16;
    Allocator allocator_ = Allocator::Exact;
    int64_t rawInputBits_ = 0;
    std::vector<Solution> solutions_;
    std::map<std::string, int> solutionIndex_;
    LagrangianReport lagrangian_;
    double buildMs_ = 0;
    std::map<int, std::vector<UniformSplit>> uniform_;
    std::vector<double> cloudSuffixUs_, edgeFloatUs_, cloudNodeUs_;
    mutable std::mutex accuracyMutex_;
    mutable std::map<int, AccuracyMeasurement> accuracy_;
    friend struct ContextBuilder;
};

struct Constraints {
    double uplinkBps = 3e6;
    int64_t edgeMemoryBytes = int64_t(4) << 30;
    double maxDropPercent = 5.0;       // 0..100, in the measure's percentage points
    double messageOverheadMs = 1.0;    // per transmitted tensor (one message each)
    // Throws PlannerError naming the field: non-positive or non-finite uplink, negative memory,
    // threshold outside 0..100, negative overhead.
    void validate() const;
};

struct LatencyBreakdown {
    double edgeMs = 0, transmitMs = 0, cloudMs = 0, totalMs = 0;
    std::string edgeOrigin = "simulated", cloudOrigin = "simulated";  // or "measured" / "mixed"
};

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
    double edgeMs = 0, transmitMs = 0, cloudMs = 0, totalMs = 0;
    double mse = 0;
};

struct PlanSet {
    Constraints constraints;
    std::vector<ScoredSolution> candidates;  // every stored solution that fits the edge memory
    std::vector<int> pareto;                 // indices into candidates: fastest first, error falling
    Plan selected;
    std::string reason;                      // why this plan (or why Cloud-Only)
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
// is final (at most maxMeasurements measurements; Cancelled when `cancel` fires).
std::shared_ptr<const PlanSet> planWithMeasurement(const PlanningContext& ctx, const Constraints& c,
                                                   const AccuracyMeasure& measure, const CancelToken& cancel = {},
                                                   int maxMeasurements = 64);

// Plan for a stored solution under given constraints (used by replan and the baselines).
Plan planFor(const PlanningContext& ctx, int solution, const Constraints& c, const std::string& name);

}  // namespace autosplit::planner
