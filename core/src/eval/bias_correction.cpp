#include "autosplit/eval/bias_correction.h"

#include "autosplit/eval/plan_evaluator.h"
#include "autosplit/exec/executor.h"
#include "autosplit/exec/parallel.h"
#include "autosplit/quant/gptq.h"
#include "autosplit/quant/quantize.h"

#include <algorithm>

namespace autosplit {

bool hasCorrectableBias(const Graph& g, int node) {
    const Node& n = g.nodes[static_cast<size_t>(node)];
    const int wt = quantizedWeightTensor(g, n);
    if (wt < 0 || n.inputs.size() < 3 || n.inputs[2] < 0 || n.inputs[0] < 0) return false;
    const Tensor& b = g.tensors[static_cast<size_t>(n.inputs[2])];
    if (!b.isWeight() || !b.data->isFloat()) return false;
    const TensorData& w = *g.tensors[static_cast<size_t>(wt)].data;
    if (n.op == "Conv" && w.shape.size() >= 3 && b.data->elementCount() == w.shape[0]) {
    } else if (n.op == "Gemm" && w.shape.size() == 2 && n.attrInt("transA", 0) == 0 && n.attrFloat("alpha", 1.f) == 1.f &&
               n.attrFloat("beta", 1.f) == 1.f && b.data->elementCount() == (n.attrInt("transB", 0) ? w.shape[0] : w.shape[1])) {
    } else {
        return false;
    }
    return LayerInputMoments::meansForNode(g, node) != nullptr;
}

std::optional<TensorData> shiftedBias(const Graph& g, int node, const TensorData& wq, const std::vector<double>& mean,
                                      const std::vector<double>& planMean) {
    if (mean.empty() || planMean.size() != mean.size()) return std::nullopt;
    const Node& n = g.nodes[static_cast<size_t>(node)];
    const TensorData& w = *g.tensors[static_cast<size_t>(quantizedWeightTensor(g, n))].data;
    TensorData b = *g.tensors[static_cast<size_t>(n.inputs[2])].data;
    // b' = b - (W_q E_plan[x] - W E[x]) per output channel, over the weight row's input vector.
    auto shift = [&](size_t idx, size_t j) {
        return static_cast<double>(wq.floats[idx]) * planMean[j] - static_cast<double>(w.floats[idx]) * mean[j];
    };
    if (n.op == "Conv") {
        const int64_t O = w.shape[0], R = w.elementCount() / O;
        const int64_t groups = std::max<int64_t>(1, n.attrInt("group", 1)), perGroup = std::max<int64_t>(1, O / groups);
        if (static_cast<int64_t>(mean.size()) != R * groups) return std::nullopt;
        for (int64_t o = 0; o < O; ++o) {
            const int64_t m0 = (o / perGroup) * R;
            double d = 0;
            for (int64_t j = 0; j < R; ++j) d += shift(static_cast<size_t>(o * R + j), static_cast<size_t>(m0 + j));
            b.floats[static_cast<size_t>(o)] -= static_cast<float>(d);
        }
    } else {  // Gemm, transA = 0: y[n] = sum_k x[k] B[k, n] (transB: B[n, k])
        const bool tb = n.attrInt("transB", 0) != 0;
        const int64_t K = tb ? w.shape[1] : w.shape[0], N = tb ? w.shape[0] : w.shape[1];
        if (static_cast<int64_t>(mean.size()) != K) return std::nullopt;
        for (int64_t o = 0; o < N; ++o) {
            double d = 0;
            for (int64_t kk = 0; kk < K; ++kk) d += shift(static_cast<size_t>(tb ? o * K + kk : kk * N + o), static_cast<size_t>(kk));
            b.floats[static_cast<size_t>(o)] -= static_cast<float>(d);
        }
    }
    return b;
}

std::shared_ptr<const TensorData> PlanEvaluator::correctedBias(int node, int bits) const {
    const auto& mean = inputMean_[static_cast<size_t>(node)];
    if (mean.empty()) return nullptr;
    const auto key = std::make_pair(node, bits);
    {
        std::lock_guard<std::mutex> l(cacheMutex_);
        auto it = biasCache_.find(key);
        if (it != biasCache_.end()) return it->second;
    }
    const int wt = quantizedWeightOf_[static_cast<size_t>(node)];
    auto b = shiftedBias(graph_, node, *quantizedWeight(wt, node, bits), mean, mean);
    if (!b) return nullptr;
    auto p = std::make_shared<const TensorData>(std::move(*b));
    std::lock_guard<std::mutex> l(cacheMutex_);
    return biasCache_.emplace(key, std::move(p)).first->second;
}

int PlanEvaluator::runCorrecting(const PlanBits& plan, const RunHooks& hooks,
                                 std::unordered_map<int, std::shared_ptr<const TensorData>>& overrides,
                                 const CancelToken& cancel) const {
    const Graph& g = graph_;
    // Edge layers with a correctable bias, and the tensors whose plan-time means they need.
    std::vector<int> layers;
    std::unordered_map<int, std::vector<size_t>> slotsOf;  // input tensor -> slots (layers)
    for (int i = 0; i <= plan.splitPosition; ++i) {
        if (inputMean_[static_cast<size_t>(i)].empty()) continue;
        slotsOf[g.nodes[static_cast<size_t>(i)].inputs[0]].push_back(layers.size());
        layers.push_back(i);
    }
    if (layers.empty()) return 0;
    const int k = empiricalSamples_;
    // Per sample and layer: the means of what the layer reads under the plan.
    std::vector<std::vector<std::unique_ptr<LayerInputMoments>>> means(static_cast<size_t>(k));
    std::vector<std::unique_ptr<ExecutorRun>> runs(static_cast<size_t>(k));
    // Every sample's run starts on the executor forEachSample picks; the later calls pick alike.
    forEachSample(*parallel_, *serial_, k, [&](int s, const Executor& ex) {
        auto& mine = means[static_cast<size_t>(s)];
        mine.resize(layers.size());
        for (size_t l = 0; l < layers.size(); ++l) mine[l] = LayerInputMoments::meansForNode(g, layers[l]);
        RunHooks h = hooks;
        h.onValue = [&hooks, &slotsOf, &mine](int node, int tensor, TensorData& v) {
            if (hooks.onValue) hooks.onValue(node, tensor, v);  // the plan's quantization first
            auto it = slotsOf.find(tensor);
            if (it == slotsOf.end() || !v.isFloat()) return;
            for (size_t l : it->second) mine[l]->add(v);
        };
        runs[static_cast<size_t>(s)] = ex.start(calibration().samples[static_cast<size_t>(s)], std::move(h));
    }, cancel);
    for (size_t l = 0; l < layers.size(); ++l) {
        const int layer = layers[l];
        // Every sample up to the layer's predecessor, then its bias from their means (merged in
        // sample order: the same correction in every run).
        forEachSample(*parallel_, *serial_, k, [&](int s, const Executor&) { runs[static_cast<size_t>(s)]->runTo(layer - 1); }, cancel);
        const Node& node = g.nodes[static_cast<size_t>(layer)];
        for (int s = 1; s < k; ++s) means[0][l]->merge(*means[static_cast<size_t>(s)][l]);
        if (overrides.count(node.inputs[2])) continue;
        const int wt = quantizedWeightOf_[static_cast<size_t>(layer)];
        auto w = overrides.find(wt);
        // A layer that sees few input vectors per sample (a classifier's last Gemm: one) would be
        // fitted to the very samples it is measured on (with one sample, its output would come
        // out exactly float on them): it gets the weight-only correction from the float means instead.
        const bool enough = means[0][l]->vectors() >= static_cast<int64_t>(k) * opts_.empiricalBiasMinVectors;
        auto b = shiftedBias(g, layer, w != overrides.end() ? *w->second : *g.tensors[static_cast<size_t>(wt)].data,
                             inputMean_[static_cast<size_t>(layer)],
                             enough ? means[0][l]->mean() : inputMean_[static_cast<size_t>(layer)]);
        if (b) overrides.emplace(node.inputs[2], std::make_shared<const TensorData>(std::move(*b)));
    }
    return k;  // the calibration runs stop here: their outputs are not measured
}

}  // namespace autosplit
