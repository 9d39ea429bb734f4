// PlanningContext: the planner's slow part, built once per model, devices, bit set and
// calibration data. On top of the cost model (latency tables, transmit and memory model) it
// holds the error table and, for every candidate split (§4.1), the bit allocations of a budget
// grid (§4.2) with their edge / cloud µs, transmitted bits, edge memory and MSE proxy, and the
// exact weight and activation frontiers that answer any edge-memory budget (budgetSolutions).
// Immutable after build except for the accuracy cache and the solutions budget queries add
// (both thread-safe), so any number of threads may read it.
#pragma once

#include "autosplit/ir/graph.h"
#include "autosplit/ir/plan_bits.h"
#include "autosplit/planner/cost_model.h"
#include "autosplit/quant/calibration.h"
#include "autosplit/util/cancel.h"

#include <cstdint>
#include <deque>
#include <functional>
#include <limits>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

namespace autosplit::planner {

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
    // Where the activation frontiers are cached (frontier-<key>.bin, keyed by everything the
    // sweep reads); empty: not cached.
    std::string cacheDir;
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
    // Graph outputs on the other side from where results are consumed: computed in the cloud
    // (at the cloud width; paid when results are at the edge) and computed on the edge but not
    // sent by the cut (at their bits; paid when results are at the cloud).
    ResultTransfer resultsToEdge, resultsToCloud;
    const ResultTransfer& results(ResultsAt at) const { return at == ResultsAt::Edge ? resultsToEdge : resultsToCloud; }
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

// The solutions of a context: those built with it ([0] = Cloud-Only, the grid's allocations, the
// baselines' plans), then those budget queries added (PlanningContext::budgetSolutions). An
// index names the same solution for the context's life; reading and adding are thread-safe.
class SolutionList {
public:
    const Solution& operator[](size_t i) const;
    size_t size() const;                            // built + added so far
    size_t built() const { return built_.size(); }  // fixed after build
    class Iterator {
    public:
        Iterator(const SolutionList* l, size_t i) : list_(l), i_(i) {}
        const Solution& operator*() const { return (*list_)[i_]; }
        const Solution* operator->() const { return &(*list_)[i_]; }
        Iterator& operator++() { return ++i_, *this; }
        bool operator==(const Iterator& o) const { return i_ == o.i_; }

    private:
        const SolutionList* list_;
        size_t i_;
    };
    Iterator begin() const { return {this, 0}; }
    Iterator end() const { return {this, size()}; }
    const Solution& front() const { return built_.front(); }

private:
    friend class PlanningContext;
    friend struct ContextBuilder;
    std::vector<Solution> built_;
    mutable std::mutex mutex_;
    mutable std::deque<Solution> added_;  // references stay valid as it grows
    mutable std::map<std::string, int> addedIndex_;
};

// A measured accuracy drop (percentage points, lower is better) and what it means.
struct AccuracyMeasurement {
    double drop = 0;
    std::string metric;  // "top1-disagreement", "relative-l2-error", ...
    int samples = 0;
    std::string data;    // description of the inputs
    // 95 % interval of `drop` ("wilson" for rates, "bootstrap" otherwise; eval/interval.h).
    double low = 0, high = 0;
    std::string intervalMethod = {};
    int calibrationSamples = 0;  // samples the evaluator fitted GPTQ / bias correction on
    bool heldOut = false;        // measured on samples disjoint from the calibration
    bool synthetic = false;      // on synthetic inputs: fidelity to random data, not the task
    // Stopped early (the measure's rejectAbove): `samples` of the set's setSamples were run, the
    // figures above are theirs, and the drop over the whole set is certain to be at least
    // dropAtLeast: a rejection for every threshold below it, undecided for the others.
    int setSamples = 0;
    std::optional<double> dropAtLeast = std::nullopt;
    bool stoppedEarly() const { return dropAtLeast.has_value(); }
    // Above `threshold` for sure (false for an early stop whose bound does not reach it).
    bool certainlyAbove(double threshold) const { return stoppedEarly() && *dropAtLeast > threshold; }
};

// Runs the model with the plan's fake quantization and returns the drop. May throw Cancelled.
// It may stop as soon as the drop over its whole set is certain to exceed `rejectAbove`
// (AccuracyMeasurement::dropAtLeast); with +infinity it measures every sample.
using AccuracyMeasure = std::function<AccuracyMeasurement(const PlanBits&, const CancelToken&, double rejectAbove)>;

struct LagrangianReport {
    int instances = 0;        // (split, budget) problems solved both ways
    int worse = 0;            // where the Lagrangian's distortion is higher
    int exactWorse = 0;       // where the exact allocator's is higher (0 unless the exact DP is wrong)
    int infeasible = 0;       // where the Lagrangian found nothing within budget and the exact did
    double meanRelativeGap = 0, maxRelativeGap = 0;  // (D_lagrangian - D_exact) / D_exact
    double exactMs = 0, lagrangianMs = 0;
    int inexactActivation = 0;  // activation problems where the exact DP hit its state limit
    size_t largestWeightFrontier = 0;
    size_t largestActivationFrontier = 0;  // most DP entries at one step of the activation frontier sweep
    int budgetInexact = 0;  // candidate splits whose activation frontier went over the entry limit (grid only)
    double frontierMs = 0;  // building the activation frontiers
};

// The planner's view of one split position (its cut: CostModel::splits()).
struct SplitRecord {
    int position = -1;
    bool candidate = false;          // transmission at the lowest bits < raw input (§4.1)
    int64_t minEdgeBits = 0;         // weights + working set at the lowest bits
    int64_t minTransmitBits = 0;
};

class PlanningContext {
public:
    // `g` must be optimized with known shapes; `errors` computed on this graph with every width
    // of o.bits; `cost` built for g's structure on the plan's devices with inputBits/cloudBits
    // as in `o`. Throws PlannerError on unusable inputs, Cancelled when o.cancel fires.
    static std::shared_ptr<const PlanningContext> build(Graph g, std::shared_ptr<const CostModel> cost, ErrorTable errors,
                                                        ModelSource model, ContextOptions o = {});
    // Builds the cost model too.
    static std::shared_ptr<const PlanningContext> build(Graph g, const sim::DeviceProfile& edge,
                                                        const sim::DeviceProfile& cloud, ErrorTable errors,
                                                        ModelSource model, ContextOptions o = {},
                                                        const sim::MeasuredProfile* edgeMeasured = nullptr);

    // Cost-model options for a context with options `o`: its input and cloud widths, the bit set,
    // 8 and 16 bits tabulated (the baselines' widths).
    static CostModelOptions costOptions(const ContextOptions& o);

    const Graph& graph() const { return graph_; }
    const CostModel& cost() const { return *cost_; }
    std::shared_ptr<const CostModel> costModel() const { return cost_; }
    const ModelAnalysis& analysis() const { return cost_->analysis(); }
    const std::vector<SplitInfo>& splits() const { return cost_->splits(); }  // index = position + 1
    const std::vector<SplitRecord>& splitRecords() const { return records_; }
    const sim::LatencyTable& edgeTable() const { return cost_->edgeTable(); }
    const sim::LatencyTable& cloudTable() const { return cost_->cloudTable(); }
    const sim::DeviceProfile& edgeDevice() const { return cost_->edgeDevice(); }
    const sim::DeviceProfile& cloudDevice() const { return cost_->cloudDevice(); }
    const ErrorTable& errors() const { return errors_; }
    const ModelSource& model() const { return model_; }
    const std::vector<int>& bits() const { return bits_; }
    int inputBits() const { return cost_->inputBits(); }
    int cloudBits() const { return cost_->cloudBits(); }
    Allocator allocator() const { return allocator_; }
    int64_t rawInputBits() const { return cost_->rawInputBits(); }
    const SolutionList& solutions() const { return solutions_; }  // [0] = Cloud-Only
    const Solution& solution(int index) const { return solutions_[size_t(index)]; }
    // The optimal allocation of every candidate split at this edge memory (weights + activation
    // working set <= edgeMemoryBytes, both in whole bytes as Solution::edgeBytes counts them):
    // the exact weight frontier and activation frontier of the split combined at the real budget,
    // not at a grid level. Indices of stored solutions (new ones are added, thread-safe); empty
    // with the Lagrangian allocator. Splits whose activation frontier was over the DP's limit
    // have only their grid solutions.
    std::vector<int> budgetSolutions(int64_t edgeMemoryBytes) const;
    const LagrangianReport& lagrangian() const { return lagrangian_; }
    double buildMs() const { return buildMs_; }
    int nodeCount() const { return int(graph_.nodes.size()); }

    // The solution in the evaluator's terms: its bits on nodes [0, split], cloud bits after.
    PlanBits planBits(const Solution& s) const;
    // Index of the stored solution (built or added) with exactly these bits, or -1.
    int findSolution(int split, const std::vector<int>& weightBits, const std::vector<int>& activationBits) const;

    // Accuracy cache keyed by solution index (a solution is one (split, bits) pair). Thread-safe.
    std::optional<AccuracyMeasurement> accuracy(int solution) const;
    void storeAccuracy(int solution, AccuracyMeasurement m) const;
    // Measures (or reads from the cache) one solution; a cached early stop is measured again when
    // its bound does not reach `rejectAbove`.
    AccuracyMeasurement measure(int solution, const AccuracyMeasure& fn, const CancelToken& cancel = {},
                                double rejectAbove = std::numeric_limits<double>::infinity()) const;

    // Uniform-bit tables of the widths the baselines use here (the bit set, 8 and 16, where the
    // edge device runs them); null otherwise.
    const std::vector<CostModel::UniformSplit>* uniform(int bits) const;

private:
    PlanningContext() = default;
    // A solution's costs and MSE proxy from its bits; `mem` when already known (else edgeMemory).
    Solution score(int split, std::vector<uint8_t> weightBits, std::vector<uint8_t> activationBits, std::string label,
                   bool exact, const EdgeMemory* mem) const;
    // Index of (split, bits): the built one, an added one, or `make()` added now.
    int intern(const std::string& key, const std::function<Solution()>& make) const;
    Graph graph_;
    std::shared_ptr<const CostModel> cost_;
    std::vector<SplitRecord> records_;
    ErrorTable errors_;
    ModelSource model_;
    std::vector<int> bits_;
    Allocator allocator_ = Allocator::Exact;
    SolutionList solutions_;
    std::vector<bool> quantized_;  // per node: has a quantized weight (a knapsack group)
    struct BudgetFrontiers;        // per candidate split: the weight and activation frontiers
    std::shared_ptr<const BudgetFrontiers> budget_;
    std::map<std::string, int> solutionIndex_;
    LagrangianReport lagrangian_;
    double buildMs_ = 0;
    mutable std::mutex accuracyMutex_;
    mutable std::map<int, AccuracyMeasurement> accuracy_;
    friend struct ContextBuilder;
};

}  // namespace autosplit::planner
