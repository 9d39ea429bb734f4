// Fake-quant evaluation of a split plan against the float model.
//
// A PlanEvaluator is built once per (graph, evaluation set, calibration set, error table): it runs
// the float model over the evaluation set and keeps the reference outputs. evaluate(plan) then
// re-runs the evaluation set with the plan's quantization spec (ir/quant_spec.h: one spec per
// plan, the same the cost model charges):
//   - edge nodes [0, split]: the quantized weight of Conv/ConvTranspose/Gemm/MatMul (input slot 1)
//     fake-quantized per output channel at weightBits[i] (symmetric, restricted range); every
//     float output of an edge node fake-quantized per tensor at activationBits[i] (unsigned after
//     ReLU-like producers): what the simulator's traffic, the edge-memory model and the error
//     table's D_a charge. ActivationScope::LayerInputs (an experiment, not what the planner
//     costs) quantizes only what a Conv/ConvTranspose/Gemm/MatMul reads and what crosses the cut.
//     Activation parameters: those the ErrorTable fitted on the calibration set when it has them
//     for that node and bit width (static quantization, as deployed), else fitted per input
//     (dynamic). Biases and other float constants of edge nodes stay float (int32 / float32 on
//     real accelerators; the memory model counts them at 32 bits).
//     With WeightRounding::Gptq (default), 2- to 8-bit weights of Conv/Gemm/MatMul are rounded by
//     GPTQ against the second moments of the layer's float inputs on the calibration set
//     (gptq.h: same grid and scales, output error instead of weight error minimized); they are
//     computed the first time a plan quantizes the layer (one extra float pass over the set per
//     batch of layers, gptqMemoryBytes of moments at a time) for all of 2/4/6/8 bits and kept.
//     ConvTranspose, batched MatMul weights and rows longer than gptqMaxRowLength are rounded to
//     nearest.
//     Biases of quantized Conv/Gemm layers absorb the mean shift of quantization (biasCorrection,
//     default Empirical: weight and activation error as the plan computes them, run on the
//     calibration set, for layers that see at least empiricalBiasMinVectors input vectors per
//     sample; Weight: the weight error on float inputs only). Means are over each layer's input
//     patches, padding as zeros, so the corrected layer's mean output equals the float one on the
//     calibration samples.
//   - graph inputs: on the sensor's 8-bit grid when the data are images and inputBits >= 8 (the
//     pixels are the codes: nothing to round); else fake-quantized per tensor at inputBits with
//     static parameters fitted on the calibration set, wherever they go.
//   - the tensors crossing the cut are the edge producers' outputs, so they travel at their
//     producer's activation bits (graph inputs at inputBits).
//   - cloud nodes (split, end): every float weight and every float output rounded to float16
//     (round half to even); arithmetic inside a node accumulates in float32.
// Bits are 2, 4, 6, 8 (integer), 16 (float16) or 32 (left in float32: for experiments).
//
// Held out: everything fitted from data (GPTQ moments, bias-correction means) uses
// EvalData::calibration; the drop is measured on EvalData::inputs. When no calibration set is
// given the evaluation set is used for both and EvalMetrics::heldOut is false.
//
// Every drop carries its 95 % interval (interval.h): Wilson for disagreement rates, a bootstrap
// over rows / samples for the rest.
//
// The other concerns of evaluation have their own headers: bits files (bits_file.h), label files
// (labels.h), CTC decoding and character accuracy (text_metrics.h), bias correction
// (bias_correction.h).
//
// Thread safety: evaluate() is const and may be called from several threads at once; quantized
// weights are computed once per (tensor, bits) and shared (memory: one copy of the weights per
// bit width in use, plus one float16 copy).
#pragma once

#include "autosplit/eval/interval.h"
#include "autosplit/ir/graph.h"
#include "autosplit/ir/plan_bits.h"
#include "autosplit/quant/calibration.h"
#include "autosplit/quant/quantize.h"
#include "autosplit/util/cancel.h"

#include <chrono>
#include <cstdint>
#include <functional>
#include <limits>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

namespace autosplit {

// Throws Error when `plan` does not fit `g`: split outside -1..nodes-1, fewer bits than edge
// nodes, bits other than 2/4/6/8/16/32 on an edge node (weight bits only where a node has a
// quantized weight) or for the input.
void validatePlan(const Graph& g, const PlanBits& plan);

// Task of the model, as far as the metrics are concerned.
enum class EvalTask {
    Generic,     // any output: relative MSE / SQNR
    Classifier,  // output 0 is [N, C] logits or probabilities
    Ctc,         // output 0 is [N, T, C] per-step class scores, blank = 0 (PP-OCR recognizer)
    BinaryMap    // output 0 is a probability map (DB text detectors: PP-OCR det), binarized at
                 // EvalOptions::mapThreshold; detected for [N, 1, H, W] outputs of a Sigmoid
};
const char* evalTaskName(EvalTask t);
// The metric a task's drop is reported in (EvalMetrics::metricName), given whether the data has
// class labels / ground-truth texts.
std::string evalMetricName(EvalTask task, bool labels, bool texts);
// "generic" (or "auto": detect), "classifier", "ctc", "binary-map"; throws Error otherwise.
EvalTask parseEvalTask(const std::string& s);

// The task the evaluator will score `g` as, from the graph's declared output shapes (as
// PlanEvaluator detects it from the float outputs): `requested` unless Generic; Ctc with a
// dictionary; Classifier for an [N, C] output 0; BinaryMap for an [N, 1, H, W] Sigmoid map.
EvalTask detectTask(const Graph& g, EvalTask requested, bool hasDictionary);

struct OutputMetrics {
    std::string name;
    double relativeMse = 0;  // sum (y - y_float)^2 / sum y_float^2 over all samples
    double sqnrDb = 0;       // 10 log10(1 / relativeMse); +inf when the output is bit-exact
};

struct EvalMetrics {
    int samples = 0;
    EvalTask task = EvalTask::Generic;
    std::vector<OutputMetrics> outputs;  // float graph outputs, in Graph::outputs order
    double relativeMse = 0;              // worst (largest) over the float outputs
    double sqnrDb = 0;                   // of that output
    // Classifier (rows = batch rows over all samples):
    std::optional<double> top1Agreement;      // % rows whose argmax equals the float model's
    std::optional<double> top1Accuracy;       // % rows whose argmax equals the label (labels given)
    std::optional<double> floatTop1Accuracy;  // the float model's, on the same labels
    // CTC recognizer (dictionary given):
    std::optional<double> charAccuracy;       // vs ground truth (texts given), see charAccuracy()
    std::optional<double> floatCharAccuracy;  // the float model's on the same texts
    std::optional<double> charAgreement;      // vs the float model's decoded strings
    std::vector<std::string> decoded;         // plan's greedy decodes, one per row (CTC only)
    // Binary map: F1 (%) of the plan's output-0 pixels above the threshold against the float
    // model's (100 when neither has any).
    std::optional<double> mapF1;

    // One number for the planner's accuracy constraint, in percentage points (lower is better),
    // chosen in this order:
    //   "char-accuracy-drop":  CTC with texts     floatCharAccuracy - charAccuracy
    //   "char-disagreement":   CTC without texts  100 - charAgreement
    //   "top1-accuracy-drop":  classifier, labels floatTop1Accuracy - top1Accuracy
    //   "top1-disagreement":   classifier         100 - top1Agreement
    //   "map-f1-disagreement": binary map         100 - mapF1
    //   "relative-l2-error":   anything else      100 * sqrt(relativeMse) capped at 1000, a proxy, not a task metric
    double accuracyDrop = 0;
    std::string metricName;
    Interval dropInterval;          // 95 % interval of accuracyDrop (interval.h)
    // Stopped early (PlanEvaluator::evaluate's rejectAbove): `samples` of the set's setSamples
    // were run, the figures above are theirs, and the drop over the whole set is at least this.
    int setSamples = 0;
    std::optional<double> dropAtLeast = std::nullopt;
    int calibrationSamples = 0;     // samples GPTQ and bias correction were fitted on
    bool heldOut = false;           // calibration and evaluation samples are disjoint
};

struct EvalData {
    Dataset inputs;  // samples the drop is measured on (inputs in Graph::inputs order)
    // Classifier labels: one class index per row of output 0 over all samples (batch 1: one per
    // sample). Empty: no accuracy, only agreement.
    std::vector<int64_t> labels;
    // CTC ground truth: one UTF-8 string per row of output 0 over all samples. Empty: none.
    std::vector<std::string> texts;
    // Samples GPTQ and bias correction are fitted on, disjoint from `inputs` (planner/session.h
    // splits a data set in two). Empty: `inputs` itself (not held out).
    Dataset calibration;
};

struct EvalOptions {
    QuantOptions quant;       // clipping for weights and for activations fitted per input
    int threads = 0;          // 0 = all cores; samples run in parallel
    // The evaluator's worker threads at background priority (ExecutorOptions::background): set
    // by the window's engine, whose measurements run beside slider drags.
    bool backgroundWorkers = false;
    EvalTask task = EvalTask::Generic;  // Generic = detect: Ctc when a dictionary is given,
                                        // Classifier when output 0 is [N, C] with C >= 2,
                                        // BinaryMap for a [N, 1, H, W] Sigmoid output
    // CTC dictionary: class c >= 1 decodes to ctcDictionary[c - 1]; class 0 is the blank.
    std::vector<std::string> ctcDictionary;
    float mapThreshold = 0.3f;  // BinaryMap: PaddleOCR's DB binarization threshold (det_db_thresh)
    bool staticActivationParams = true;  // use the ErrorTable's fitted parameters when present
    // Bias of the quantized edge Conv/Gemm layers (a float bias of matching size):
    //   None:      left as it is.
    //   Weight:    b' = b - (W_q - W) E[x]: the mean shift the weight error causes on the float
    //              inputs (Nagel et al. 2019, "bias correction").
    //   Empirical: b' = b - (W_q E[x_q] - W E[x]), E[x_q] the per-channel mean of the layer's input
    //              as the plan computes it (quantized activations and corrected layers upstream):
    //              also absorbs the shift activation quantization causes. Measured per plan on the
    //              first empiricalBiasSamples samples, run node by node in lockstep so that each
    //              layer sees its corrected predecessors (DFQ's "empirical bias correction").
    enum class BiasCorrection { None, Weight, Empirical };
    BiasCorrection biasCorrection = BiasCorrection::Empirical;
    int empiricalBiasSamples = 8;
    // Layers whose input gives fewer vectors per sample (conv output positions, Gemm rows) get the
    // Weight correction: a per-channel mean over so few values would fit the measured samples.
    int empiricalBiasMinVectors = 16;
    int64_t empiricalBiasMemoryBytes = int64_t(512) << 20;  // live activations of the lockstep samples
    enum class WeightRounding { Nearest, Gptq };
    WeightRounding weightRounding = WeightRounding::Gptq;
    int64_t gptqMemoryBytes = int64_t(256) << 20;  // moments accumulated in one float pass
    // Layers with more weights per output channel are rounded to nearest: GPTQ's cost grows as
    // R^3 (ResNet-50's 3x3 convs on 512 channels, R = 4608, took 3/4 of its GPTQ time) while
    // rounding errors over that many inputs largely average out. 0 = no limit.
    int64_t gptqMaxRowLength = 2304;
    // H of a layer with rows of R weights is accumulated from about gptqVectorsPerRow * R input
    // vectors (conv output positions at a stride, over evenly spaced calibration samples: the
    // fewest of gptqMinSamples × 2^k, or all, that reach the budget; these sets nest, so a layer's
    // samples do not depend on the layers sharing its pass), not from every position of every
    // sample: the R x R sums cost R^2 per vector, and YOLOv3-SPP's 3x3 convs at 104^2 and 52^2
    // gave 20-40 times the vectors a well-conditioned H needs. 0 = every vector of every sample.
    int gptqVectorsPerRow = 32;
    int gptqMinSamples = 8;
    // Which edge outputs are fake-quantized (see the top of this file): AllNodes (every output,
    // what the planner costs) or LayerInputs (an experiment: what a Conv/ConvTranspose/Gemm/MatMul
    // reads, and what crosses the cut).
    enum class ActivationScope { LayerInputs, AllNodes };
    ActivationScope activationScope = ActivationScope::AllNodes;
};

class Executor;
struct RunHooks;

// Where an evaluator's time went (wall seconds, summed over calls; PlanEvaluator::profile()):
// what the cold-open benchmark reports stage by stage.
struct EvalProfile {
    double floatReferenceSeconds = 0;  // construction: float outputs and input means
    int64_t floatSamples = 0;          // of which samples run (evaluation set + calibration means)
    double gptqSeconds = 0;            // prepareGptq: moments pass + factorizations
    double biasCorrectionSeconds = 0;  // empirical bias correction's lockstep runs
    double planRunSeconds = 0;         // the plan's runs over the evaluation samples
    int64_t planSamples = 0;           // evaluation samples run under a plan
    int64_t biasSamples = 0;           // calibration samples run for bias correction
    int64_t gptqSamples = 0;           // calibration samples run for GPTQ moments (per batch of layers)
    int gptqPasses = 0;                // batches of layers (one float pass each)
    double gptqPassSeconds = 0;        // of gptqSeconds: the float passes, moments included
    double gptqMomentSeconds = 0;      // accumulating the moments, summed over the threads that did
                                       // (samples in parallel: may exceed gptqPassSeconds)
    int evaluations = 0;
};

// What evaluate() computes a plan with, for the exporter (deploy/export_plan.h): the same values,
// so that the deployed sub-models are the measured ones.
struct PlanDeployment {
    // Constants whose value the plan changes, by tensor id: quantized edge weights (the
    // fake-quantized values, on their per-channel integer grid), corrected biases (fitted on the
    // calibration set), float16-rounded cloud weights.
    std::unordered_map<int, std::shared_ptr<const TensorData>> constants;
    struct ActivationQuant {
        int bits = 0;
        QuantParams params;  // static, fitted on the calibration set
    };
    struct WeightQuant {
        int node = -1;  // the edge layer that quantizes it
        int bits = 0;
        int channelAxis = -1;             // weightChannelAxis; -1: one scale for the tensor
        std::vector<QuantParams> params;  // per channel (symmetric, zero point 0)
    };
    // Edge weights stored as 2- to 8-bit integers, by tensor id (values in `constants`).
    std::map<int, WeightQuant> weights;
    // Edge float tensors fake-quantized with static parameters, by tensor id.
    std::map<int, ActivationQuant> activations;
    // Edge float tensors quantized with parameters fitted per input (no static parameters in the
    // error table): a static QDQ model cannot reproduce them.
    std::vector<int> dynamicTensors;
    // Graph inputs sent as the sensor's 8-bit pixels (left as they are by the plan).
    bool sensorInput = false;
};

// Calibration samples the empirical bias correction runs in lockstep: the first
// min(calibrationSamples, empiricalBiasSamples, what empiricalBiasMemoryBytes holds of one run's
// peak live activations), at least 1.
int empiricalBiasSamples(const Graph& g, const EvalOptions& o, int calibrationSamples);
// The first this many calibration samples give the float input means bias correction compares
// with (Empirical: the lockstep samples; Weight: all; None: 0). A calibration pass asked for them
// (CalibrationOptions::inputMeansSamples) spares the evaluator its own float runs over them.
int biasMeanSamples(const Graph& g, const EvalOptions& o, int calibrationSamples);

class PlanEvaluator {
public:
    // Runs the float model over `data` (throws Error on bad samples, labels or texts that do not
    // match the output rows, a table for another graph). `table` may be null: every activation is
    // then fitted per input. The graph must outlive the evaluator; the table is copied.
    PlanEvaluator(const Graph& g, EvalData data, const ErrorTable* table, EvalOptions opts = {},
                  const CancelToken& cancel = {});
    ~PlanEvaluator();
    PlanEvaluator(const PlanEvaluator&) = delete;
    PlanEvaluator& operator=(const PlanEvaluator&) = delete;

    // Throws Error on an invalid plan (split out of range, missing or unsupported bits),
    // Cancelled when `cancel` fires (polled between nodes). With a finite `rejectAbove`, the
    // samples run a few at a time and the measurement stops as soon as the whole set's drop is
    // certain to exceed it (EvalMetrics::dropAtLeast, the unrun samples counted at their best):
    // the same verdict as the full run, on fewer samples (EvalMetrics::samples < setSamples).
    EvalMetrics evaluate(const PlanBits& plan, const CancelToken& cancel = {},
                         double rejectAbove = std::numeric_limits<double>::infinity()) const;

    // The metrics of given graph outputs (per evaluation sample, Graph::outputs order) against
    // the float reference: what evaluate() reports for a plan's outputs, here for outputs computed
    // elsewhere (the exported models). Throws Error when the counts or sizes do not match.
    EvalMetrics score(const std::vector<std::vector<TensorData>>& outputs) const;

    EvalTask task() const { return task_; }
    // The metric evaluate() reports the drop in (EvalMetrics::metricName), known before any plan.
    std::string metricName() const;
    int samples() const { return static_cast<int>(data_.inputs.samples.size()); }
    const Dataset& evaluationSet() const { return data_.inputs; }
    int calibrationSamples() const { return static_cast<int>(calibration().samples.size()); }
    bool heldOut() const { return !data_.calibration.samples.empty(); }
    const Dataset& calibration() const { return heldOut() ? data_.calibration : data_.inputs; }
    // Bits each tensor is fake-quantized at under `plan` on the first evaluation sample (the
    // hooks of evaluate(), observed): 0 = left as computed (float32 or not a float tensor), 16 =
    // rounded to float16, else the integer width; graph inputs on the sensor grid report 8.
    std::vector<int> appliedBits(const PlanBits& plan, const CancelToken& cancel = {}) const;
    // The constants and activation parameters evaluate(plan) uses (bias correction fitted as
    // evaluate() fits it). Throws like evaluate().
    PlanDeployment deployment(const PlanBits& plan, const CancelToken& cancel = {}) const;
    // One evaluation sample under `plan`, as evaluate() computes it: the values of `tensors` (as
    // the plan leaves them: fake-quantized on the edge, float16 in the cloud) followed by the graph
    // outputs. For checking exported models against the measurement.
    std::vector<TensorData> planValues(const PlanBits& plan, int sample, const std::vector<int>& tensors,
                                       const CancelToken& cancel = {}) const;
    const std::string& dataDescription() const { return data_.inputs.description; }
    bool syntheticData() const { return data_.inputs.synthetic; }
    // Float model metrics on the set (top1 accuracy / char accuracy when labels / texts given).
    std::optional<double> floatTop1Accuracy() const { return floatTop1Accuracy_; }
    std::optional<double> floatCharAccuracy() const { return floatCharAccuracy_; }
    const std::vector<std::string>& floatDecoded() const { return floatDecoded_; }
    double floatReferenceSeconds() const { return floatSeconds_; }
    EvalProfile profile() const;

private:
    // Adds the wall time of its scope to one field of profile_.
    class ProfileClock {
    public:
        ProfileClock(const PlanEvaluator& e, double EvalProfile::*field)
            : e_(e), field_(field), t0_(std::chrono::steady_clock::now()) {}
        ~ProfileClock() {
            const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0_).count();
            std::lock_guard<std::mutex> l(e_.profileMutex_);
            e_.profile_.*field_ += s;
        }
        ProfileClock(const ProfileClock&) = delete;
        ProfileClock& operator=(const ProfileClock&) = delete;

    private:
        const PlanEvaluator& e_;
        double EvalProfile::*field_;
        std::chrono::steady_clock::time_point t0_;
    };
    std::shared_ptr<const TensorData> quantizedWeight(int tensor, int node, int bits) const;
    // Computes the GPTQ weights (calibration set) (all of 2/4/6/8 bits) of the plan's quantized edge layers that
    // do not have them yet.
    void prepareGptq(const PlanBits& plan, const CancelToken& cancel) const;
    // Input vectors one sample gives node's GPTQ moments (from the static shapes), 0 if unknown.
    int64_t layerVectorsPerSample(int node) const;
    // Corrected bias of `node` for its weight at `bits` (bias_correction.cpp); null when not
    // applicable.
    std::shared_ptr<const TensorData> correctedBias(int node, int bits) const;
    // Empirical bias correction (bias_correction.cpp): runs the first samples of the set node by node in lockstep under
    // the plan's `hooks`, adding each edge layer's corrected bias to `overrides` before the layer
    // runs; their outputs go to `out`. Returns how many samples it ran.
    int runCorrecting(const PlanBits& plan, const RunHooks& hooks,
                      std::unordered_map<int, std::shared_ptr<const TensorData>>& overrides, const CancelToken& cancel) const;
    // The plan's weight overrides and value hook (its quantization spec); `applied` (may be
    // null) hears the bits each tensor gets.
    RunHooks planHooks(const PlanBits& plan, std::unordered_map<int, std::shared_ptr<const TensorData>>& overrides,
                       const std::function<void(int tensor, int bits, const QuantParams* params)>& applied = {}) const;
    // planHooks, then (EvalOptions::BiasCorrection::Empirical) the corrected biases fitted on the
    // calibration set into `overrides`: the hooks every plan run uses.
    RunHooks correctedHooks(const PlanBits& plan, std::unordered_map<int, std::shared_ptr<const TensorData>>& overrides,
                            const CancelToken& cancel,
                            const std::function<void(int tensor, int bits, const QuantParams* params)>& applied = {}) const;
    // What scoring a prefix of the samples computed per sample, kept so that scoring a longer
    // prefix of the same run (evaluate's early rejection after every chunk) only adds the new
    // samples; the sums run in the same order, so the metrics are the same to the last bit.
    struct ScoreMemo;
    // score() of the first result.size() evaluation samples (all of them or fewer; with fewer,
    // dropAtLeast bounds the whole set's drop). memo: carried between calls on growing prefixes
    // of one run's outputs (null: none).
    EvalMetrics scoreSamples(const std::vector<std::vector<TensorData>>& result, ScoreMemo* memo = nullptr) const;
    // Samples [first, last) into out[first, last): whole samples in parallel on the serial
    // executor when there are threads for it, else one after the other on the parallel one.
    void runSamples(const std::vector<std::vector<TensorData>>& samples, int first, int last,
                    const std::function<RunHooks(int)>& hooksFor, std::vector<std::vector<TensorData>>& out,
                    const CancelToken& cancel) const;
    // The float model over the first `count` samples of `set` (-1: all; the outputs of the others
    // stay empty); `observe` hears (sample, tensor, value) of every value.
    std::vector<std::vector<TensorData>> runAll(const Dataset& set, const CancelToken& cancel,
                                                const std::function<void(int, int, TensorData&)>& observe = {},
                                                int count = -1) const;

    const Graph& graph_;
    EvalData data_;
    std::optional<ErrorTable> table_;
    EvalOptions opts_;
    EvalTask task_ = EvalTask::Generic;
    std::unique_ptr<Executor> serial_, parallel_;
    int threads_ = 1;
    std::vector<std::vector<TensorData>> reference_;  // per sample: graph outputs
    std::vector<int64_t> floatArgmax_;
    std::vector<std::string> floatDecoded_;
    std::optional<double> floatTop1Accuracy_, floatCharAccuracy_;
    double floatSeconds_ = 0;
    int empiricalSamples_ = 1;            // samples the empirical bias correction runs in lockstep
    std::vector<int> quantizedWeightOf_;  // per node: tensor id of its quantized weight, or -1
    std::vector<char> layerInput_;        // per tensor: read by a Conv/ConvTranspose/Gemm/MatMul
    std::vector<int> lastConsumer_;       // per tensor: largest consumer node index (-1: none)
    mutable std::mutex profileMutex_;
    mutable EvalProfile profile_;
    mutable std::mutex cacheMutex_;
    mutable std::map<std::pair<int, int>, std::shared_ptr<const TensorData>> weightCache_;
    mutable std::map<std::pair<int, int>, std::shared_ptr<const TensorData>> biasCache_;  // (node, bits)
    mutable std::map<std::pair<int, int>, std::shared_ptr<const TensorData>> gptqCache_;  // (node, bits)
    mutable std::mutex gptqMutex_;           // one preparation at a time
    mutable std::vector<char> gptqPrepared_;  // per node: GPTQ weights computed or not applicable
    // Graph input tensor -> bits -> static parameters fitted on the calibration set (inputs not
    // on the sensor grid).
    std::unordered_map<int, std::map<int, QuantParams>> inputParams_;
    std::vector<std::vector<double>> inputMean_;  // per node with a correctable bias: E[x] of its input
                                                   // vectors (LayerInputMoments::mean()), else empty
};

}  // namespace autosplit
