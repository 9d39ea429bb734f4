#include "autosplit/eval/plan_evaluator.h"

#include "autosplit/eval/bias_correction.h"
#include "autosplit/eval/text_metrics.h"
#include "autosplit/exec/executor.h"
#include "autosplit/exec/parallel.h"
#include "autosplit/ir/analysis.h"
#include "autosplit/quant/gptq.h"
#include "autosplit/util/errors.h"
#include "autosplit/util/in_order.h"

#include <algorithm>
#include <array>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <limits>
#include <mutex>
#include <set>
#include <thread>
#include <unordered_map>

namespace autosplit {

const char* evalTaskName(EvalTask t) {
    switch (t) {
    case EvalTask::Generic: return "generic";
    case EvalTask::Classifier: return "classifier";
    case EvalTask::Ctc: return "ctc";
    case EvalTask::BinaryMap: return "binary-map";
    }
    return "?";
}

EvalTask parseEvalTask(const std::string& s) {
    if (s == "generic" || s == "auto") return EvalTask::Generic;
    for (EvalTask t : {EvalTask::Classifier, EvalTask::Ctc, EvalTask::BinaryMap})
        if (s == evalTaskName(t)) return t;
    throw Error("unknown task '" + s + "' (auto, classifier, ctc, binary-map)");
}

// ---------------------------------------------------------------- evaluator

namespace {

bool classifierShape(const std::vector<int64_t>& s) {
    if (s.size() < 2 || s[1] < 2) return false;
    for (size_t i = 2; i < s.size(); ++i)
        if (s[i] != 1) return false;
    return true;
}

// Output 0 is a single-channel map [N, 1, H, W] (H*W > 1) that a sigmoid produces: a per-pixel
// probability map such as a DB text detector's (PP-OCR det), scored by its binarized F1.
bool sigmoidMap(const Graph& g, const std::vector<int64_t>& s) {
    if (s.size() != 4 || s[1] != 1 || s[2] * s[3] <= 1) return false;
    const int p = g.tensors[static_cast<size_t>(g.outputs[0])].producer;
    if (p < 0) return false;
    const Node& n = g.nodes[static_cast<size_t>(p)];
    return n.op == "Sigmoid" || n.activation.kind == Activation::Kind::Sigmoid;
}

// Rows and classes of output 0 for the classifier / CTC metrics.
struct RowView {
    int64_t rows = 0, steps = 1, classes = 0;
};

RowView rowView(EvalTask task, const TensorData& t) {
    RowView v;
    if (t.shape.empty()) return v;
    v.rows = t.shape[0];
    if (task == EvalTask::Ctc) {
        v.steps = t.shape.size() > 1 ? t.shape[1] : 1;
        v.classes = t.shape.size() > 2 ? t.shape[2] : 1;
    } else {
        v.classes = v.rows > 0 ? t.elementCount() / v.rows : 0;
    }
    return v;
}

int64_t argmaxRow(const TensorData& t, int64_t row, int64_t classes) {
    const float* p = t.floats.data() + row * classes;
    return std::max_element(p, p + classes) - p;
}

void checkBits(const char* what, int node, int bits) {
    if (!isSupportedBits(bits) && bits != 32)
        throw Error(std::string("plan: ") + what + " bits " + std::to_string(bits) +
                    (node >= 0 ? " of node " + std::to_string(node) : std::string()) + " is not one of 2, 4, 6, 8, 16, 32");
}

}  // namespace

namespace {

// The one detection rule, on output 0's float-ness and shape (declared or computed).
EvalTask taskFor(const Graph& g, EvalTask requested, bool hasDictionary, bool floatOutput, const std::vector<int64_t>& shape) {
    if (requested != EvalTask::Generic) return requested;
    if (hasDictionary) return EvalTask::Ctc;
    if (!floatOutput) return EvalTask::Generic;
    if (classifierShape(shape)) return EvalTask::Classifier;
    if (sigmoidMap(g, shape)) return EvalTask::BinaryMap;
    return EvalTask::Generic;
}

}  // namespace

EvalTask detectTask(const Graph& g, EvalTask requested, bool hasDictionary) {
    if (g.outputs.empty()) return taskFor(g, requested, hasDictionary, false, {});
    const Tensor& out = g.tensors[static_cast<size_t>(g.outputs[0])];
    return taskFor(g, requested, hasDictionary, isFloating(out.dtype), out.shape);
}

void validatePlan(const Graph& g, const PlanBits& plan) {
    const int nodes = static_cast<int>(g.nodes.size());
    if (plan.splitPosition < -1 || plan.splitPosition >= nodes)
        throw Error("plan: split position " + std::to_string(plan.splitPosition) + " is outside -1.." +
                    std::to_string(nodes - 1));
    const size_t needed = static_cast<size_t>(plan.splitPosition + 1);
    if (plan.weightBits.size() < needed || plan.activationBits.size() < needed)
        throw Error("plan: split after node " + std::to_string(plan.splitPosition) + " needs bits for " +
                    std::to_string(needed) + " nodes, got " + std::to_string(plan.weightBits.size()) + " weight and " +
                    std::to_string(plan.activationBits.size()) + " activation entries");
    checkBits("input", -1, plan.inputBits);
    for (int i = 0; i <= plan.splitPosition; ++i) {
        checkBits("activation", i, plan.activationBits[i]);
        if (quantizedWeightTensor(g, g.nodes[static_cast<size_t>(i)]) >= 0) checkBits("weight", i, plan.weightBits[i]);
    }
}

int empiricalBiasSamples(const Graph& g, const EvalOptions& o, int calibrationSamples) {
    // Peak live activations of one run: the lockstep pass holds that much per sample.
    int64_t sampleLiveBytes = 0;
    for (int64_t live : liveAtEachStep(tensorLifetimes(g), static_cast<int>(g.nodes.size()) - 1,
                                       [](const TensorLifetime& l) { return l.elements; }))
        sampleLiveBytes = std::max(sampleLiveBytes, 4 * live);
    const int64_t fit = o.empiricalBiasMemoryBytes / std::max<int64_t>(1, sampleLiveBytes);
    return std::max(1, std::min({calibrationSamples, o.empiricalBiasSamples, static_cast<int>(std::min<int64_t>(calibrationSamples, fit))}));
}

int biasMeanSamples(const Graph& g, const EvalOptions& o, int calibrationSamples) {
    switch (o.biasCorrection) {
    case EvalOptions::BiasCorrection::None: return 0;
    case EvalOptions::BiasCorrection::Weight: return calibrationSamples;
    case EvalOptions::BiasCorrection::Empirical: return empiricalBiasSamples(g, o, calibrationSamples);
    }
    return 0;
}

PlanEvaluator::PlanEvaluator(const Graph& g, EvalData data, const ErrorTable* table, EvalOptions opts,
                             const CancelToken& cancel)
    : graph_(g), data_(std::move(data)), opts_(std::move(opts)) {
    if (data_.inputs.samples.empty()) throw Error("the evaluation set is empty");
    for (const auto& c : data_.calibration.samples)
        if (c.size() != data_.inputs.samples.front().size())
            throw Error("the calibration samples have " + std::to_string(c.size()) + " inputs, the evaluation samples " +
                        std::to_string(data_.inputs.samples.front().size()));
    if (g.outputs.empty()) throw Error("the model has no outputs");
    if (table) {
        if (table->rows.size() != g.nodes.size())
            throw Error("the error table has " + std::to_string(table->rows.size()) + " rows, the model " +
                        std::to_string(g.nodes.size()) + " nodes: it was computed for another model");
        for (size_t i = 0; i < g.nodes.size(); ++i)
            if (table->rows[i].name != g.nodes[i].name)
                throw Error("error table row " + std::to_string(i) + " is '" + table->rows[i].name + "', the model's node is '" +
                            g.nodes[i].name + "': it was computed for another model");
        table_ = *table;
    }
    threads_ = opts_.threads > 0 ? opts_.threads : std::max(1, static_cast<int>(std::thread::hardware_concurrency()));
    ExecutorOptions one;
    one.threads = 1;
    serial_ = std::make_unique<Executor>(g, one);
    ExecutorOptions all;
    all.threads = threads_;
    all.background = opts_.backgroundWorkers;
    parallel_ = std::make_unique<Executor>(g, all);
    quantizedWeightOf_.resize(g.nodes.size());
    for (size_t i = 0; i < g.nodes.size(); ++i) quantizedWeightOf_[i] = quantizedWeightTensor(g, g.nodes[i]);
    gptqPrepared_.assign(g.nodes.size(), 0);
    layerInput_.assign(g.tensors.size(), 0);
    lastConsumer_.assign(g.tensors.size(), -1);
    for (size_t i = 0; i < g.nodes.size(); ++i) {
        const Node& n = g.nodes[i];
        const bool layer = n.op == "Conv" || n.op == "ConvTranspose" || n.op == "Gemm" || n.op == "MatMul";
        for (int t : n.inputs) {
            if (t < 0) continue;
            if (layer) layerInput_[static_cast<size_t>(t)] = 1;
            lastConsumer_[static_cast<size_t>(t)] = std::max(lastConsumer_[static_cast<size_t>(t)], static_cast<int>(i));
        }
    }

    // Bias correction needs E[x] of the input vectors of Conv/Gemm layers with a float bias.
    inputMean_.resize(g.nodes.size());
    std::unordered_map<int, std::vector<int>> meanReaders;  // tensor -> nodes
    if (opts_.biasCorrection != EvalOptions::BiasCorrection::None) {
        for (size_t i = 0; i < g.nodes.size(); ++i) {
            const Node& n = g.nodes[i];
            if (!hasCorrectableBias(g, static_cast<int>(i))) continue;
            meanReaders[n.inputs[0]].push_back(static_cast<int>(i));
        }
    }
    const auto t0 = std::chrono::steady_clock::now();
    // Empirical correction compares the plan's means on its lockstep samples with the float means
    // on the same samples; weight correction uses the whole set.
    const int calib = calibrationSamples();
    empiricalSamples_ = empiricalBiasSamples(g, opts_, calib);
    const int meanSamples = opts_.biasCorrection == EvalOptions::BiasCorrection::Empirical ? empiricalSamples_ : calib;
    // The calibration pass over these very samples may have kept the means (ErrorTable::inputMeans,
    // CalibrationOptions::inputMeansSamples): the same float runs, merged in the same order.
    const bool meansFromTable = heldOut() && !meanReaders.empty() && table_ && table_->inputMeansSamples == meanSamples &&
                                table_->inputMeans.size() == g.nodes.size() && !calibration().hash.empty() &&
                                table_->dataHash == calibration().hash;
    // Each sample's means per layer, merged in sample order as they arrive (a later sample's wait
    // until the earlier ones are in): the same means in every run.
    std::vector<InOrder<std::unique_ptr<LayerInputMoments>>> ordered(meanReaders.empty() || meansFromTable ? 0 : g.nodes.size());
    std::vector<std::unique_ptr<LayerInputMoments>> meanSums(ordered.size());
    std::function<void(int, int, TensorData&)> observe;
    if (!ordered.empty()) {
        observe = [&](int sample, int tensor, TensorData& v) {
            auto it = meanReaders.find(tensor);
            if (sample >= meanSamples || it == meanReaders.end() || !v.isFloat()) return;
            for (int node : it->second) {
                auto local = LayerInputMoments::meansForNode(g, node);
                local->add(v);
                auto& sum = meanSums[static_cast<size_t>(node)];
                ordered[static_cast<size_t>(node)].put(sample, std::move(local), [&sum](int, std::unique_ptr<LayerInputMoments>& m) {
                    if (sum) sum->merge(*m);
                    else sum = std::move(m);
                });
            }
        };
    }
    profile_.floatSamples = samples();
    if (heldOut()) {
        reference_ = runAll(data_.inputs, cancel);
        if (observe) {
            runAll(data_.calibration, cancel, observe, meanSamples);  // only the samples the means use
            profile_.floatSamples += meanSamples;
        }
    } else {
        reference_ = runAll(data_.inputs, cancel, observe);
    }
    for (const auto& [tensor, nodes] : meanReaders)
        for (int node : nodes) {
            const size_t i = static_cast<size_t>(node);
            if (meansFromTable) inputMean_[i] = table_->inputMeans[i];
            else if (meanSums[i] && meanSums[i]->vectors() > 0) inputMean_[i] = meanSums[i]->mean();
        }
    floatSeconds_ = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    profile_.floatReferenceSeconds = floatSeconds_;
    // Graph inputs that are not sensor pixels: static parameters per width, fitted on the pooled
    // calibration values (what a deployed QuantizeLinear holds).
    if (!data_.inputs.sensorGrid) {
        const Dataset& cal = calibration();
        for (size_t k = 0; k < g.inputs.size(); ++k) {
            if (!g.tensors[static_cast<size_t>(g.inputs[k])].isWeight() && cal.samples.front()[k].isFloat()) {
                std::vector<float> pool;
                for (const auto& smp : cal.samples) {
                    const auto& v = smp[k].floats;
                    const size_t stride = std::max<size_t>(1, v.size() * cal.samples.size() / (size_t(1) << 20));
                    for (size_t e = 0; e < v.size(); e += stride) pool.push_back(v[e]);
                }
                auto& params = inputParams_[g.inputs[k]];
                for (int b : {2, 4, 6, 8})
                    params[b] = activationParams(pool.data(), static_cast<int64_t>(pool.size()), b, false, opts_.quant);
            }
        }
    }

    const TensorData& out0 = reference_.front().front();
    const std::string out0Name = g.tensors[g.outputs[0]].name;
    task_ = taskFor(g, opts_.task, !opts_.ctcDictionary.empty(), out0.isFloat(), out0.shape);
    if (task_ == EvalTask::Ctc) {
        if (opts_.ctcDictionary.empty()) throw Error("CTC evaluation needs a character dictionary");
        if (!out0.isFloat() || out0.shape.size() != 3)
            throw Error("CTC evaluation needs output '" + out0Name + "' as [N, T, classes], it is rank " +
                        std::to_string(out0.shape.size()));
        if (out0.shape[2] != static_cast<int64_t>(opts_.ctcDictionary.size()) + 1)
            throw Error("output '" + out0Name + "' has " + std::to_string(out0.shape[2]) + " classes, the dictionary " +
                        std::to_string(opts_.ctcDictionary.size()) + " entries + blank");
    }
    if (task_ == EvalTask::BinaryMap && (!out0.isFloat() || out0.elementCount() == 0))
        throw Error("binary-map evaluation needs output '" + out0Name + "' as a float map");
    if (task_ == EvalTask::Classifier && (!out0.isFloat() || !classifierShape(out0.shape)))
        throw Error("output '" + out0Name + "' is not [N, C] class scores");
    if (!data_.labels.empty() && task_ != EvalTask::Classifier)
        throw Error("labels were given but output '" + out0Name + "' is not [N, C] class scores");
    if (!data_.texts.empty() && task_ != EvalTask::Ctc)
        throw Error("ground-truth texts were given but the model is not evaluated as a CTC recognizer");

    int64_t rows = 0;
    for (const auto& s : reference_) rows += rowView(task_, s.front()).rows;
    if (!data_.labels.empty() && static_cast<int64_t>(data_.labels.size()) != rows)
        throw Error(std::to_string(data_.labels.size()) + " labels for " + std::to_string(rows) + " output rows (" +
                    std::to_string(reference_.size()) + " samples): the label file does not match the data");
    if (!data_.texts.empty() && static_cast<int64_t>(data_.texts.size()) != rows)
        throw Error(std::to_string(data_.texts.size()) + " texts for " + std::to_string(rows) + " output rows (" +
                    std::to_string(reference_.size()) + " samples): the label file does not match the data");

    if (task_ == EvalTask::Classifier) {
        int64_t correct = 0;
        for (const auto& s : reference_) {
            const RowView v = rowView(task_, s.front());
            for (int64_t r = 0; r < v.rows; ++r) floatArgmax_.push_back(argmaxRow(s.front(), r, v.classes));
        }
        for (size_t r = 0; r < data_.labels.size(); ++r) {
            if (data_.labels[r] < 0 || data_.labels[r] >= rowView(task_, out0).classes)
                throw Error("label " + std::to_string(data_.labels[r]) + " (row " + std::to_string(r) +
                            ") is not a class of output '" + out0Name + "'");
            correct += floatArgmax_[r] == data_.labels[r];
        }
        if (!data_.labels.empty()) floatTop1Accuracy_ = 100.0 * static_cast<double>(correct) / static_cast<double>(rows);
    } else if (task_ == EvalTask::Ctc) {
        for (const auto& s : reference_) {
            const RowView v = rowView(task_, s.front());
            for (int64_t r = 0; r < v.rows; ++r)
                floatDecoded_.push_back(ctcGreedyDecode(s.front().floats.data() + r * v.steps * v.classes, v.steps, v.classes,
                                                        opts_.ctcDictionary));
        }
        if (!data_.texts.empty()) floatCharAccuracy_ = charAccuracy(floatDecoded_, data_.texts);
    }
}

PlanEvaluator::~PlanEvaluator() = default;

std::string PlanEvaluator::metricName() const { return evalMetricName(task_, !data_.labels.empty(), !data_.texts.empty()); }

std::string evalMetricName(EvalTask task, bool labels, bool texts) {
    switch (task) {
    case EvalTask::Classifier: return labels ? "top1-accuracy-drop" : "top1-disagreement";
    case EvalTask::Ctc: return texts ? "char-accuracy-drop" : "char-disagreement";
    case EvalTask::BinaryMap: return "map-f1-disagreement";
    case EvalTask::Generic: break;
    }
    return "relative-l2-error";
}

int64_t PlanEvaluator::layerVectorsPerSample(int node) const {
    const Graph& g = graph_;
    const Node& n = g.nodes[static_cast<size_t>(node)];
    const int64_t r = LayerInputMoments::rowLengthFor(g, node);
    if (r <= 0 || n.outputs.empty() || n.inputs.empty() || n.inputs[0] < 0) return 0;
    if (n.op == "Conv") {
        // One vector per output position per group (the moments are per group).
        const Tensor& y = g.tensors[static_cast<size_t>(n.outputs[0])];
        if (!y.shapeKnown || y.shape.size() < 3) return 0;
        int64_t p = y.shape[0];
        for (size_t i = 2; i < y.shape.size(); ++i) p *= y.shape[i];
        return p;
    }
    const Tensor& x = g.tensors[static_cast<size_t>(n.inputs[0])];
    return x.shapeKnown ? x.elementCount() / r : 0;
}

void PlanEvaluator::prepareGptq(const PlanBits& plan, const CancelToken& cancel) const {
    if (opts_.weightRounding != EvalOptions::WeightRounding::Gptq) return;
    const Graph& g = graph_;
    std::lock_guard<std::mutex> prep(gptqMutex_);
    const ProfileClock clock(*this, &EvalProfile::gptqSeconds);
    std::vector<int> todo;
    std::vector<int64_t> todoBytes;  // bytes of each layer's moments
    for (int i = 0; i <= plan.splitPosition && i < static_cast<int>(g.nodes.size()); ++i) {
        const int b = plan.weightBits[static_cast<size_t>(i)];
        if (gptqPrepared_[static_cast<size_t>(i)] || quantizedWeightOf_[static_cast<size_t>(i)] < 0 || b < 2 || b > 8) continue;
        const int64_t rowLength = LayerInputMoments::rowLengthFor(g, i);
        if (rowLength == 0 || (opts_.gptqMaxRowLength > 0 && rowLength > opts_.gptqMaxRowLength)) {
            gptqPrepared_[static_cast<size_t>(i)] = 1;  // not applicable: nearest rounding
            continue;
        }
        todo.push_back(i);
        todoBytes.push_back(LayerInputMoments::bytesFor(g, i));
    }
    static constexpr int kBits[] = {2, 4, 6, 8};
    for (size_t first = 0; first < todo.size();) {
        // A batch of layers whose moments fit the memory budget (at least one layer).
        std::vector<int> batch;
        int64_t bytes = 0;
        while (first < todo.size() && (batch.empty() || bytes + todoBytes[first] <= opts_.gptqMemoryBytes)) {
            bytes += todoBytes[first];
            batch.push_back(todo[first++]);
        }
        std::vector<std::unique_ptr<LayerInputMoments>> moments(batch.size());
        std::unordered_map<int, std::vector<size_t>> readers;  // input tensor -> batch slots
        // Samples per layer: enough for its budget of gptqVectorsPerRow * R vectors, from a
        // ladder (gptqMinSamples times a power of two, or all) whose sample sets nest: the
        // samples of s are those of 2s at even steps, all samples contain every set. So a layer
        // gets the same samples and vectors, and the same rounding, whatever other layers share
        // its pass: a plan measures the same after any history of measurements.
        const int calib = calibrationSamples();
        std::vector<int> layerSamples(batch.size(), calib);
        std::vector<int64_t> budget(batch.size(), 0);  // vectors per layer, 0 = all
        if (opts_.gptqVectorsPerRow > 0) {
            for (size_t k = 0; k < batch.size(); ++k) {
                const int64_t perSample = layerVectorsPerSample(batch[k]);
                budget[k] = opts_.gptqVectorsPerRow * LayerInputMoments::rowLengthFor(g, batch[k]);
                if (perSample <= 0) continue;  // unknown static shape: every sample, every vector
                const int64_t need = (budget[k] + perSample - 1) / perSample;
                int64_t sk = std::min(calib, std::max(1, opts_.gptqMinSamples));
                while (sk < need && sk < calib) sk *= 2;
                layerSamples[k] = static_cast<int>(std::min<int64_t>(sk, calib));
            }
        }
        const int samples = *std::max_element(layerSamples.begin(), layerSamples.end());
        // Pass sample i is calibration sample i * calib / samples; layer k takes those of its
        // own set {j * calib / layerSamples[k]}, which the pass's set contains.
        std::vector<std::vector<char>> member(batch.size(), std::vector<char>(static_cast<size_t>(calib), 0));
        for (size_t k = 0; k < batch.size(); ++k)
            for (int j = 0; j < layerSamples[k]; ++j) member[k][static_cast<size_t>(static_cast<int64_t>(j) * calib / layerSamples[k])] = 1;
        auto inLayerSet = [&](size_t k, int i) { return member[k][static_cast<size_t>(static_cast<int64_t>(i) * calib / samples)] != 0; };
        for (size_t k = 0; k < batch.size(); ++k) {
            moments[k] = LayerInputMoments::forNode(g, batch[k]);
            if (!moments[k]) continue;
            if (budget[k] > 0) moments[k]->setVectorsPerAdd((budget[k] + layerSamples[k] - 1) / layerSamples[k]);
            readers[g.nodes[static_cast<size_t>(batch[k])].inputs[0]].push_back(k);
        }
        // Pass sample i adds its vectors to a layer only after sample i - 1 has added its own:
        // every layer sums its samples in pass order, so the sums, and so the rounding, are those
        // of a serial pass. Samples run in parallel on single-threaded executors (a later sample
        // waits at a layer for the earlier one); the same moments for any thread count.
        MomentScratch scratch;  // the chunk products' buffers, for the whole pass
        std::mutex turnMutex;
        std::condition_variable turnTaken;
        std::vector<int> turn(batch.size(), 0);  // per layer: the pass sample whose vectors go in next
        bool abandoned = false;                  // a sample failed: the others stop waiting
        double accumulateSeconds = 0;            // of the pass: the R x R sums (summed over threads)
        // A pass of one sample leaves the pool idle: each chunk's sums run in row blocks on it (the
        // same sums); samples in parallel sum on their own threads.
        auto hooksFor = [&](int passSample, const Executor* momentPool) {
            RunHooks hooks;
            hooks.cancel = cancel;
            hooks.lastNode = batch.back();
            hooks.onValue = [&, passSample, momentPool](int, int tensor, TensorData& v) {
                auto it = readers.find(tensor);
                if (it == readers.end() || !v.isFloat()) return;
                for (size_t k : it->second) {
                    {
                        std::unique_lock<std::mutex> l(turnMutex);
                        turnTaken.wait(l, [&] { return turn[k] == passSample || abandoned; });
                        if (abandoned) throw Cancelled();
                    }
                    const auto a0 = std::chrono::steady_clock::now();
                    if (inLayerSet(k, passSample)) moments[k]->add(v, momentPool, &scratch);
                    {
                        std::lock_guard<std::mutex> l(turnMutex);
                        accumulateSeconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - a0).count();
                        turn[k] = passSample + 1;
                    }
                    turnTaken.notify_all();
                }
            };
            return hooks;
        };
        auto runPass = [&](int passSample, const Executor& ex) {
            try {
                ex.run(calibration().samples[static_cast<size_t>(static_cast<int64_t>(passSample) * calib / samples)],
                       hooksFor(passSample, samples == 1 ? parallel_.get() : nullptr));
            } catch (...) {
                {
                    std::lock_guard<std::mutex> l(turnMutex);
                    abandoned = true;
                }
                turnTaken.notify_all();
                throw;
            }
        };
        const auto pass0 = std::chrono::steady_clock::now();
        forEachSample(*parallel_, *serial_, samples, runPass, cancel);
        {
            std::lock_guard<std::mutex> l(profileMutex_);
            profile_.gptqSamples += samples;
            profile_.gptqPasses += 1;
            profile_.gptqMomentSeconds += accumulateSeconds;
            profile_.gptqPassSeconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - pass0).count();
        }
        // Quantize every layer of the batch at every bit width (one factorization per layer),
        // layers in parallel.
        const std::vector<int> bitsList(std::begin(kBits), std::end(kBits));
        std::vector<std::shared_ptr<const TensorData>> results(batch.size() * bitsList.size());
        parallelFor(*parallel_, static_cast<int>(batch.size()), [&](int t) {
            const size_t k = static_cast<size_t>(t);
            if (!moments[k] || moments[k]->vectors() == 0) return;
            const int node = batch[k];
            const TensorData& w = *g.tensors[static_cast<size_t>(quantizedWeightOf_[static_cast<size_t>(node)])].data;
            auto qs = gptqQuantizeWeights(g, node, w, bitsList, opts_.quant, *moments[k]);
            for (size_t b = 0; b < qs.size(); ++b)
                results[k * bitsList.size() + b] = std::make_shared<const TensorData>(std::move(qs[b]));
            moments[k].reset();  // free the moments as soon as they are used
        }, cancel);
        std::lock_guard<std::mutex> l(cacheMutex_);
        for (size_t k = 0; k < batch.size(); ++k) {
            for (size_t b = 0; b < std::size(kBits); ++b)
                if (auto& r = results[k * std::size(kBits) + b]) gptqCache_[{batch[k], kBits[b]}] = r;
            gptqPrepared_[static_cast<size_t>(batch[k])] = 1;
        }
    }
}

std::shared_ptr<const TensorData> PlanEvaluator::quantizedWeight(int tensor, int node, int bits) const {
    const auto key = std::make_pair(tensor, bits);
    {
        std::lock_guard<std::mutex> l(cacheMutex_);
        auto g = gptqCache_.find({node, bits});
        if (g != gptqCache_.end()) return g->second;
        auto it = weightCache_.find(key);
        if (it != weightCache_.end()) return it->second;
    }
    const TensorData& w = *graph_.tensors[tensor].data;
    auto q = std::make_shared<const TensorData>(
        fakeQuantizeWeights(w, weightChannelAxis(graph_.nodes[node], w, 1), bits, opts_.quant));
    std::lock_guard<std::mutex> l(cacheMutex_);
    return weightCache_.emplace(key, std::move(q)).first->second;  // a concurrent twin wins: same values
}

RunHooks PlanEvaluator::planHooks(const PlanBits& plan, std::unordered_map<int, std::shared_ptr<const TensorData>>& overrides,
                                  const std::function<void(int tensor, int bits, const QuantParams* params)>& applied) const {
    const Graph& g = graph_;
    RunHooks hooks;
    const int split = plan.splitPosition;
    // The spec of ir/quant_spec.h: a constant read on the edge is the edge's (quantized for its
    // first quantized reader, else float32), also where the cloud reads it too.
    std::vector<char> edgeRead(g.tensors.size(), 0);
    for (int i = 0; i <= split && i < static_cast<int>(g.nodes.size()); ++i)
        for (int t : g.nodes[static_cast<size_t>(i)].inputs)
            if (t >= 0) edgeRead[static_cast<size_t>(t)] = 1;
    for (size_t i = 0; i < g.nodes.size(); ++i) {
        const Node& n = g.nodes[i];
        const bool edge = static_cast<int>(i) <= split;
        for (size_t k = 0; k < n.inputs.size(); ++k) {
            const int t = n.inputs[k];
            if (t < 0 || !g.tensors[t].isWeight() || !g.tensors[t].data->isFloat() || overrides.count(t)) continue;
            if (!edge && edgeRead[static_cast<size_t>(t)]) continue;  // the edge's constant
            if (edge) {
                // Edge: only the layer's quantized weight; biases and other constants stay float.
                if (t != quantizedWeightOf_[i] || plan.weightBits[i] == 32) continue;
                overrides.emplace(t, quantizedWeight(t, static_cast<int>(i), plan.weightBits[i]));
                if (applied) applied(t, plan.weightBits[i], nullptr);
                if (opts_.biasCorrection == EvalOptions::BiasCorrection::Weight)
                    if (auto b = correctedBias(static_cast<int>(i), plan.weightBits[i])) overrides.emplace(n.inputs[2], std::move(b));
            } else {
                overrides.emplace(t, quantizedWeight(t, static_cast<int>(i), 16));
                if (applied) applied(t, 16, nullptr);
            }
        }
    }
    hooks.weightOverrides = &overrides;
    const ErrorTable* table = table_ && opts_.staticActivationParams ? &*table_ : nullptr;
    // Images are the sensor's 8-bit pixels (resampled pixels on the 8-bit grid): sent as they are.
    const bool sensorInput = data_.inputs.sensorGrid && plan.inputBits >= 8;
    // An edge node whose output is quantized with the table's static parameters: the executor
    // applies them (in Conv's epilogue, while the tile is in cache), onValue only reports them.
    auto staticParams = [&g, &plan, table, split, this](int node) -> const QuantParams* {
        if (!table || node < 0 || node > split) return nullptr;
        const int tensor = g.nodes[static_cast<size_t>(node)].outputs[0];
        if (tensor < 0) return nullptr;
        if (opts_.activationScope == EvalOptions::ActivationScope::LayerInputs && !layerInput_[static_cast<size_t>(tensor)] &&
            lastConsumer_[static_cast<size_t>(tensor)] <= split)
            return nullptr;
        const int bits = plan.activationBits[static_cast<size_t>(node)];
        if (bits == 16 || bits == 32) return nullptr;
        const int bi = table->bitsIndex(bits);
        if (bi < 0 || !(table->rows[node].activationParams[bi].scale > 0.f)) return nullptr;
        return &table->rows[node].activationParams[bi];
    };
    auto grids = std::make_shared<std::vector<FakeQuantGrid>>(g.nodes.size());
    for (int i = 0; i <= split && i < static_cast<int>(g.nodes.size()); ++i)
        if (const QuantParams* p = staticParams(i)) (*grids)[static_cast<size_t>(i)] = p->grid();
    hooks.outputGrids = grids.get();
    hooks.onValue = [&g, plan, table, split, sensorInput, applied, grids, this](int node, int tensor, TensorData& v) {
        if (!v.isFloat()) return;
        int bits;
        bool unsignedRange = false;
        if (node < 0) {
            bits = plan.inputBits;
            if (sensorInput) {
                if (applied) applied(tensor, 8, nullptr);
                return;
            }
            auto in = inputParams_.find(tensor);
            if (in != inputParams_.end() && in->second.count(bits)) {
                const QuantParams& p = in->second.at(bits);
                fakeQuantize(v.floats.data(), static_cast<int64_t>(v.floats.size()), p);
                if (applied) applied(tensor, bits, &p);
                return;
            }
        } else if (node > split) {
            bits = 16;
        } else {
            if (opts_.activationScope == EvalOptions::ActivationScope::LayerInputs && !layerInput_[static_cast<size_t>(tensor)] &&
                lastConsumer_[static_cast<size_t>(tensor)] <= split)
                return;  // read only by vector-unit nodes on the edge: stays float
            bits = plan.activationBits[static_cast<size_t>(node)];
            const bool out0 = g.nodes[node].outputs[0] == tensor;
            unsignedRange = out0 && producesNonNegative(g.nodes[node]);
            if (out0 && (*grids)[static_cast<size_t>(node)].active()) {  // quantized by the executor
                if (applied) applied(tensor, bits, &table->rows[node].activationParams[table->bitsIndex(bits)]);
                return;
            }
        }
        if (bits == 32) return;
        fakeQuantizeActivation(v, bits, unsignedRange, opts_.quant);
        if (applied) applied(tensor, bits, nullptr);  // float16, or fitted per input (dynamic)
    };
    return hooks;
}

RunHooks PlanEvaluator::correctedHooks(const PlanBits& plan, std::unordered_map<int, std::shared_ptr<const TensorData>>& overrides,
                                       const CancelToken& cancel,
                                       const std::function<void(int tensor, int bits, const QuantParams* params)>& applied) const {
    RunHooks hooks = planHooks(plan, overrides, applied);
    hooks.cancel = cancel;
    // Bias correction is fitted on the calibration samples (their outputs are not measured).
    if (opts_.biasCorrection == EvalOptions::BiasCorrection::Empirical) {
        const ProfileClock clock(*this, &EvalProfile::biasCorrectionSeconds);
        const int ran = runCorrecting(plan, hooks, overrides, cancel);
        std::lock_guard<std::mutex> l(profileMutex_);
        profile_.biasSamples += ran;
    }
    return hooks;
}

std::vector<std::vector<TensorData>> PlanEvaluator::runAll(const Dataset& set, const CancelToken& cancel,
                                                          const std::function<void(int, int, TensorData&)>& observe,
                                                          int count) const {
    RunHooks hooks;
    hooks.cancel = cancel;
    const auto& samples = set.samples;
    const int n = count < 0 ? static_cast<int>(samples.size()) : std::min(count, static_cast<int>(samples.size()));
    std::vector<std::vector<TensorData>> out(samples.size());
    auto hooksFor = [&](int i) {
        if (!observe) return hooks;
        RunHooks h = hooks;
        h.onValue = [&observe, i](int, int tensor, TensorData& v) { observe(i, tensor, v); };
        return h;
    };
    runSamples(samples, 0, n, hooksFor, out, cancel);
    return out;
}

void PlanEvaluator::runSamples(const std::vector<std::vector<TensorData>>& samples, int first, int last,
                               const std::function<RunHooks(int)>& hooksFor, std::vector<std::vector<TensorData>>& out,
                               const CancelToken& cancel) const {
    // Whole samples in parallel on single-threaded executors: no synchronization inside a run.
    forEachSample(*parallel_, *serial_, last - first, [&](int k, const Executor& on) {
        out[static_cast<size_t>(first + k)] = on.run(samples[static_cast<size_t>(first + k)], hooksFor(first + k)).outputs;
    }, cancel);
}

std::vector<int> PlanEvaluator::appliedBits(const PlanBits& plan, const CancelToken& cancel) const {
    validatePlan(graph_, plan);
    prepareGptq(plan, cancel);
    std::vector<int> bits(graph_.tensors.size(), 0);
    std::mutex m;
    std::unordered_map<int, std::shared_ptr<const TensorData>> overrides;
    RunHooks hooks = planHooks(plan, overrides, [&](int tensor, int b, const QuantParams*) {
        std::lock_guard<std::mutex> l(m);
        bits[static_cast<size_t>(tensor)] = b;
    });
    hooks.cancel = cancel;
    serial_->run(data_.inputs.samples.front(), hooks);
    return bits;
}

PlanDeployment PlanEvaluator::deployment(const PlanBits& plan, const CancelToken& cancel) const {
    validatePlan(graph_, plan);
    prepareGptq(plan, cancel);
    PlanDeployment d;
    d.sensorInput = data_.inputs.sensorGrid && plan.inputBits >= 8;
    std::mutex m;
    std::set<int> dynamic;
    std::unordered_map<int, std::shared_ptr<const TensorData>> overrides;
    RunHooks hooks = correctedHooks(plan, overrides, cancel, [&](int tensor, int bits, const QuantParams* params) {
        if (graph_.tensors[static_cast<size_t>(tensor)].isWeight() || bits == 16 || bits == 32) return;
        if (graph_.tensors[static_cast<size_t>(tensor)].isGraphInput && d.sensorInput) return;
        std::lock_guard<std::mutex> l(m);
        if (params) d.activations[tensor] = {bits, *params};
        else dynamic.insert(tensor);
    });
    serial_->run(data_.inputs.samples.front(), hooks);
    d.constants = std::move(overrides);
    for (int i = 0; i <= plan.splitPosition; ++i) {
        const int t = quantizedWeightOf_[static_cast<size_t>(i)];
        const int bits = plan.weightBits[static_cast<size_t>(i)];
        if (t < 0 || bits > 8 || d.weights.count(t)) continue;
        const TensorData& w = *graph_.tensors[static_cast<size_t>(t)].data;
        const int axis = weightChannelAxis(graph_.nodes[static_cast<size_t>(i)], w, 1);
        d.weights[t] = {i, bits, axis, weightChannelParams(w, axis, bits, opts_.quant)};
    }
    d.dynamicTensors.assign(dynamic.begin(), dynamic.end());
    return d;
}

std::vector<TensorData> PlanEvaluator::planValues(const PlanBits& plan, int sample, const std::vector<int>& tensors,
                                                  const CancelToken& cancel) const {
    validatePlan(graph_, plan);
    if (sample < 0 || sample >= samples()) throw Error("sample " + std::to_string(sample) + " is not in the evaluation set");
    prepareGptq(plan, cancel);
    std::unordered_map<int, std::shared_ptr<const TensorData>> overrides;
    RunHooks hooks = correctedHooks(plan, overrides, cancel);
    std::vector<TensorData> values(tensors.size());
    const auto inner = hooks.onValue;
    hooks.onValue = [&](int node, int tensor, TensorData& v) {
        if (inner) inner(node, tensor, v);
        for (size_t k = 0; k < tensors.size(); ++k)
            if (tensors[k] == tensor) values[k] = v;
    };
    auto outputs = serial_->run(data_.inputs.samples[static_cast<size_t>(sample)], hooks).outputs;
    for (auto& o : outputs) values.push_back(std::move(o));
    return values;
}

struct PlanEvaluator::ScoreMemo {
    size_t samples = 0;  // the samples folded in below, a prefix of the run's
    // Per output (Graph::outputs order; float outputs only): its error and reference energy over
    // those samples, each one chain in sample and element order.
    std::vector<double> err, ref;
    // Relative L2: per sample and output, the sample's own error and reference energy.
    std::vector<std::vector<std::pair<double, double>>> sampleEnergy;
    std::vector<std::string> decoded;               // CTC: the rows decoded so far
    std::vector<std::array<int64_t, 3>> mapCounts;  // binary map: per sample tp, fp, fn
    // Of the float reference alone over the whole set, computed when a partial score needs them.
    std::vector<int64_t> positives;  // binary map: per sample
    std::vector<double> refAll;      // relative L2: per output, one chain over every sample
};

EvalMetrics PlanEvaluator::evaluate(const PlanBits& plan, const CancelToken& cancel, double rejectAbove) const {
    validatePlan(graph_, plan);
    {
        std::lock_guard<std::mutex> l(profileMutex_);
        ++profile_.evaluations;
    }
    prepareGptq(plan, cancel);
    std::unordered_map<int, std::shared_ptr<const TensorData>> overrides;
    RunHooks hooks = correctedHooks(plan, overrides, cancel);
    hooks.cancel = cancel;
    const auto& samples = data_.inputs.samples;
    const int n = static_cast<int>(samples.size());
    std::vector<std::vector<TensorData>> out;
    out.reserve(samples.size());
    // Samples in chunks of one per worker (at least two, so that a chunk runs whole samples on
    // single-threaded executors); after each chunk, the drop the whole set must reach at least
    // (the samples not run yet counted at their best) decides a rejection early. The samples are
    // independent runs, so the outputs are the same however they are chunked.
    const bool early = rejectAbove < std::numeric_limits<double>::infinity();
    const int chunk = early ? std::max(2, threads_) : n;
    const ProfileClock clock(*this, &EvalProfile::planRunSeconds);
    ScoreMemo memo;  // each chunk's scoring adds only its own samples
    for (int first = 0; first < n; first += chunk) {
        const int last = std::min(n, first + chunk);
        out.resize(static_cast<size_t>(last));
        runSamples(samples, first, last, [&hooks](int) { return hooks; }, out, cancel);
        {
            std::lock_guard<std::mutex> l(profileMutex_);
            profile_.planSamples += last - first;
        }
        if (last < n && early) {
            EvalMetrics m = scoreSamples(out, &memo);
            if (m.dropAtLeast && *m.dropAtLeast > rejectAbove) return m;
        }
    }
    return scoreSamples(out, &memo);
}

EvalProfile PlanEvaluator::profile() const {
    std::lock_guard<std::mutex> l(profileMutex_);
    return profile_;
}

EvalMetrics PlanEvaluator::score(const std::vector<std::vector<TensorData>>& result) const {
    if (result.size() != data_.inputs.samples.size())
        throw Error("scoring " + std::to_string(result.size()) + " samples' outputs against " +
                    std::to_string(data_.inputs.samples.size()) + " evaluation samples");
    return scoreSamples(result);
}


EvalMetrics PlanEvaluator::scoreSamples(const std::vector<std::vector<TensorData>>& result, ScoreMemo* memo) const {
    const Graph& g = graph_;
    if (result.empty() || result.size() > data_.inputs.samples.size())
        throw Error("scoring " + std::to_string(result.size()) + " samples' outputs against " +
                    std::to_string(data_.inputs.samples.size()) + " evaluation samples");
    for (const auto& r : result)
        if (r.size() != g.outputs.size())
            throw Error("scoring " + std::to_string(r.size()) + " outputs per sample, the graph has " + std::to_string(g.outputs.size()));
    const size_t total = data_.inputs.samples.size();
    const bool partial = result.size() < total;
    ScoreMemo local;
    ScoreMemo& mm = memo ? *memo : local;
    if (result.size() < mm.samples) throw Error("scoring fewer samples than were scored before in the same run");
    const bool relativeL2 = task_ != EvalTask::Classifier && task_ != EvalTask::Ctc && task_ != EvalTask::BinaryMap;
    // Rows (batch rows of output 0) of the scored samples and of the whole set.
    int64_t rows = 0, allRows = 0;
    for (size_t s = 0; s < total; ++s) (s < result.size() ? rows : allRows) += rowView(task_, reference_[s].front()).rows;
    allRows += rows;
    EvalMetrics m;
    m.samples = static_cast<int>(result.size());
    m.setSamples = static_cast<int>(total);
    m.calibrationSamples = calibrationSamples();
    m.heldOut = heldOut();
    m.task = task_;
    m.relativeMse = -1;
    mm.err.resize(g.outputs.size(), 0.0);
    mm.ref.resize(g.outputs.size(), 0.0);
    for (size_t s = mm.samples; s < result.size(); ++s) {
        if (relativeL2) mm.sampleEnergy.emplace_back(g.outputs.size(), std::make_pair(0.0, 0.0));
        for (size_t o = 0; o < g.outputs.size(); ++o) {
            if (!reference_.front()[o].isFloat()) continue;
            const auto& a = result[s][o].floats;
            const auto& b = reference_[s][o].floats;
            if (a.size() != b.size())
                throw Error("output '" + g.tensors[g.outputs[o]].name + "' changed size under the plan");
            double err = mm.err[o], ref = mm.ref[o];
            for (size_t k = 0; k < a.size(); ++k) {
                const double d = static_cast<double>(a[k]) - b[k];
                err += d * d;
                ref += static_cast<double>(b[k]) * b[k];
            }
            mm.err[o] = err, mm.ref[o] = ref;
            if (!relativeL2 || !reference_[s][o].isFloat()) continue;
            double se = 0, sr = 0;
            for (size_t k = 0; k < a.size(); ++k) {
                const double d = static_cast<double>(a[k]) - b[k];
                se += d * d;
                sr += static_cast<double>(b[k]) * b[k];
            }
            mm.sampleEnergy.back()[o] = {se, sr};
        }
    }
    for (size_t o = 0; o < g.outputs.size(); ++o) {
        if (!reference_.front()[o].isFloat()) continue;
        const double err = mm.err[o], ref = mm.ref[o];
        OutputMetrics om;
        om.name = g.tensors[g.outputs[o]].name;
        // A plan whose output holds NaN/Inf (a degenerate low-bit run) is infinitely wrong, not
        // exact: NaN compares false everywhere below.
        om.relativeMse = !std::isfinite(err) ? std::numeric_limits<double>::infinity()
                         : ref > 0           ? err / ref
                                             : (err > 0 ? std::numeric_limits<double>::infinity() : 0.0);
        om.sqnrDb = om.relativeMse > 0 ? -10.0 * std::log10(om.relativeMse) : std::numeric_limits<double>::infinity();
        if (om.relativeMse > m.relativeMse) {
            m.relativeMse = om.relativeMse;
            m.sqnrDb = om.sqnrDb;
        }
        m.outputs.push_back(std::move(om));
    }
    if (m.relativeMse < 0) m.relativeMse = 0, m.sqnrDb = std::numeric_limits<double>::infinity();

    // Units of the interval: rows (classifier, CTC) or samples (maps, relative L2), each a vector
    // of additive sums the metric is a function of.
    std::vector<std::vector<double>> units;
    std::function<double(const std::vector<double>&)> statistic;
    // The units the rows (samples) not scored yet contribute at best: what bounds the whole set's
    // drop from below when the set is only partly run (dropAtLeast).
    std::vector<std::vector<double>> bestRest;
    auto accuracy = [](double edits, double length) {
        return length > 0 ? 100.0 * std::max(0.0, 1.0 - edits / length) : (edits == 0 ? 100.0 : 0.0);
    };
    if (task_ == EvalTask::Classifier) {
        int64_t agree = 0, correct = 0, floatCorrect = 0, row = 0;
        for (const auto& s : result) {
            const RowView v = rowView(task_, s.front());
            for (int64_t r = 0; r < v.rows; ++r, ++row) {
                const int64_t a = argmaxRow(s.front(), r, v.classes);
                const bool same = a == floatArgmax_[static_cast<size_t>(row)];
                agree += same;
                if (!data_.labels.empty()) {
                    const int64_t label = data_.labels[static_cast<size_t>(row)];
                    correct += a == label;
                    floatCorrect += floatArgmax_[static_cast<size_t>(row)] == label;
                    units.push_back({double(floatArgmax_[static_cast<size_t>(row)] == label) - double(a == label), 1.0});
                } else {
                    units.push_back({same ? 0.0 : 1.0, 1.0});
                }
            }
        }
        for (int64_t r = row; r < allRows; ++r)  // at best: right where the float model is wrong, else agreeing
            bestRest.push_back({data_.labels.empty() ? 0.0 : double(floatArgmax_[static_cast<size_t>(r)] == data_.labels[static_cast<size_t>(r)]) - 1.0, 1.0});
        m.top1Agreement = 100.0 * static_cast<double>(agree) / static_cast<double>(row);
        if (!data_.labels.empty()) {
            m.top1Accuracy = 100.0 * static_cast<double>(correct) / static_cast<double>(row);
            m.floatTop1Accuracy = partial ? 100.0 * static_cast<double>(floatCorrect) / static_cast<double>(row) : *floatTop1Accuracy_;
            m.accuracyDrop = *m.floatTop1Accuracy - *m.top1Accuracy;
            m.metricName = "top1-accuracy-drop";
            statistic = [](const std::vector<double>& u) { return 100.0 * u[0] / u[1]; };
        } else {
            m.accuracyDrop = 100.0 - *m.top1Agreement;
            m.metricName = "top1-disagreement";
            m.dropInterval = wilsonInterval(row - agree, row);
            statistic = [](const std::vector<double>& u) { return 100.0 * u[0] / u[1]; };
        }
    } else if (task_ == EvalTask::Ctc) {
        for (size_t si = mm.samples; si < result.size(); ++si) {
            const TensorData& s = result[si].front();
            const RowView v = rowView(task_, s);
            for (int64_t r = 0; r < v.rows; ++r)
                mm.decoded.push_back(ctcGreedyDecode(s.floats.data() + r * v.steps * v.classes, v.steps, v.classes, opts_.ctcDictionary));
        }
        m.decoded = mm.decoded;
        const auto prefix = [&](const std::vector<std::string>& all) {
            return std::vector<std::string>(all.begin(), all.begin() + static_cast<std::ptrdiff_t>(m.decoded.size()));
        };
        const std::vector<std::string> floatRows = partial ? prefix(floatDecoded_) : floatDecoded_;
        m.charAgreement = charAccuracy(m.decoded, floatRows);
        if (!data_.texts.empty()) {
            const std::vector<std::string> texts = partial ? prefix(data_.texts) : data_.texts;
            m.charAccuracy = charAccuracy(m.decoded, texts);
            m.floatCharAccuracy = partial ? charAccuracy(floatRows, texts) : *floatCharAccuracy_;
            m.accuracyDrop = *m.floatCharAccuracy - *m.charAccuracy;
            m.metricName = "char-accuracy-drop";
            for (size_t r = 0; r < m.decoded.size(); ++r)
                units.push_back({double(editDistance(floatDecoded_[r], data_.texts[r])), double(editDistance(m.decoded[r], data_.texts[r])),
                                 double(codePointCount(data_.texts[r]))});
            for (size_t r = m.decoded.size(); r < static_cast<size_t>(allRows); ++r)  // at best: the ground truth
                bestRest.push_back({double(editDistance(floatDecoded_[r], data_.texts[r])), 0.0, double(codePointCount(data_.texts[r]))});
            statistic = [accuracy](const std::vector<double>& u) { return accuracy(u[0], u[2]) - accuracy(u[1], u[2]); };
        } else {
            m.accuracyDrop = 100.0 - *m.charAgreement;
            m.metricName = "char-disagreement";
            for (size_t r = 0; r < m.decoded.size(); ++r)
                units.push_back({double(editDistance(m.decoded[r], floatDecoded_[r])), double(codePointCount(floatDecoded_[r]))});
            for (size_t r = m.decoded.size(); r < static_cast<size_t>(allRows); ++r)  // at best: the float decode
                bestRest.push_back({0.0, double(codePointCount(floatDecoded_[r]))});
            statistic = [accuracy](const std::vector<double>& u) { return 100.0 - accuracy(u[0], u[1]); };
        }
    } else if (task_ == EvalTask::BinaryMap) {
        int64_t tp = 0, fp = 0, fn = 0;
        const float thr = opts_.mapThreshold;
        for (size_t si = mm.samples; si < result.size(); ++si) {
            const auto& a = result[si].front().floats;
            const auto& b = reference_[si].front().floats;
            int64_t stp = 0, sfp = 0, sfn = 0;
            for (size_t k = 0; k < a.size(); ++k) {
                const bool p = a[k] > thr, r = b[k] > thr;
                stp += p && r;
                sfp += p && !r;
                sfn += !p && r;
            }
            mm.mapCounts.push_back({stp, sfp, sfn});
        }
        for (size_t si = 0; si < result.size(); ++si) {
            const auto& [stp, sfp, sfn] = mm.mapCounts[si];
            tp += stp, fp += sfp, fn += sfn;
            units.push_back({double(stp), double(sfp), double(sfn)});
        }
        if (partial && mm.positives.empty())
            for (size_t si = 0; si < total; ++si) {
                int64_t positives = 0;
                for (float x : reference_[si].front().floats) positives += x > thr;
                mm.positives.push_back(positives);
            }
        for (size_t si = result.size(); si < total; ++si)  // at best: the float map's pixels, no others
            bestRest.push_back({double(mm.positives[si]), 0.0, 0.0});
        auto f1 = [](double t, double p, double n) { return t + p + n == 0 ? 100.0 : 100.0 * 2.0 * t / (2 * t + p + n); };
        m.mapF1 = f1(double(tp), double(fp), double(fn));
        m.accuracyDrop = 100.0 - *m.mapF1;
        m.metricName = "map-f1-disagreement";
        statistic = [f1](const std::vector<double>& u) { return 100.0 - f1(u[0], u[1], u[2]); };
    } else {
        // Capped at 1000 (an error 10x the signal, or NaN/Inf outputs): a number plan.json can hold.
        m.accuracyDrop = std::min(1000.0, 100.0 * std::sqrt(m.relativeMse));
        m.metricName = "relative-l2-error";
        // Per sample: the error and reference energy of the worst output.
        size_t worst = 0;
        for (size_t o = 0, k = 0; o < g.outputs.size(); ++o) {
            if (!reference_.front()[o].isFloat()) continue;
            if (m.outputs[k].relativeMse >= m.relativeMse) worst = o;
            ++k;
        }
        for (size_t si = 0; si < result.size(); ++si) {
            const auto [err, ref] = mm.sampleEnergy[si][worst];  // (0, 0) where the reference is not float
            units.push_back({std::isfinite(err) ? err : std::numeric_limits<double>::infinity(), ref});
        }
        statistic = [](const std::vector<double>& u) {
            return std::min(1000.0, u[1] > 0 ? 100.0 * std::sqrt(u[0] / u[1]) : (u[0] > 0 ? 1000.0 : 0.0));
        };
        if (partial) {
            // The whole set's metric is the worst output's: at least any output's error so far over
            // its reference energy on every sample.
            if (mm.refAll.empty()) {
                mm.refAll.assign(g.outputs.size(), 0.0);
                for (size_t o = 0; o < g.outputs.size(); ++o) {
                    if (!reference_.front()[o].isFloat()) continue;
                    double ref = 0;
                    for (size_t si = 0; si < total; ++si)
                        for (float b : reference_[si][o].floats) ref += static_cast<double>(b) * b;
                    mm.refAll[o] = ref;
                }
            }
            double atLeast = 0;
            for (size_t o = 0; o < g.outputs.size(); ++o) {
                if (!reference_.front()[o].isFloat()) continue;
                const double err = mm.err[o];  // the scored samples' error: the same chain
                atLeast = std::max(atLeast, statistic({std::isfinite(err) ? err : std::numeric_limits<double>::infinity(), mm.refAll[o]}));
            }
            m.dropAtLeast = atLeast;
        }
    }
    if (partial && !m.dropAtLeast && statistic) {
        // Every metric above is a statistic of sums that the unscored rows can only lower as far
        // as their best units do.
        std::vector<double> sum;
        for (const auto* part : {&units, &bestRest})
            for (const auto& u : *part) {
                sum.resize(u.size(), 0.0);
                for (size_t k = 0; k < u.size(); ++k) sum[k] += u[k];
            }
        if (!sum.empty()) m.dropAtLeast = statistic(sum);
    }
    mm.samples = result.size();
    if (task_ == EvalTask::Classifier && data_.labels.empty()) units.clear();  // its interval is Wilson's
    if (statistic && !units.empty()) m.dropInterval = bootstrapInterval(units, statistic);
    else if (m.dropInterval.method.empty()) m.dropInterval = {m.accuracyDrop, m.accuracyDrop, 0.95, "none"};
    return m;
}

}  // namespace autosplit
