#include "autosplit/ir/quant_spec.h"

namespace autosplit {

int quantizedWeightTensor(const Graph& g, const Node& n) {
    if (n.op != "Conv" && n.op != "ConvTranspose" && n.op != "Gemm" && n.op != "MatMul") return -1;
    if (n.inputs.size() < 2 || n.inputs[1] < 0) return -1;
    const Tensor& t = g.tensors[n.inputs[1]];
    return t.isWeight() && t.data->isFloat() ? n.inputs[1] : -1;
}

const char* tensorKindName(TensorSpec::Kind k) {
    switch (k) {
    case TensorSpec::Kind::NotFloat: return "not-float";
    case TensorSpec::Kind::Input: return "input";
    case TensorSpec::Kind::Activation: return "activation";
    case TensorSpec::Kind::Weight: return "weight";
    case TensorSpec::Kind::Constant: return "constant";
    case TensorSpec::Kind::Cloud: return "cloud";
    }
    return "?";
}

std::vector<TensorSpec> quantSpec(const Graph& g, const PlanBits& plan) {
    using Kind = TensorSpec::Kind;
    std::vector<TensorSpec> spec(g.tensors.size());
    const int split = plan.splitPosition;
    for (int id : g.inputs)
        if (isFloating(g.tensors[static_cast<size_t>(id)].dtype)) spec[static_cast<size_t>(id)] = {Kind::Input, plan.inputBits};
    for (size_t i = 0; i < g.nodes.size(); ++i) {
        const Node& n = g.nodes[i];
        const bool edge = static_cast<int>(i) <= split;
        for (int t : n.outputs)
            if (t >= 0 && isFloating(g.tensors[static_cast<size_t>(t)].dtype))
                spec[static_cast<size_t>(t)] = edge ? TensorSpec{Kind::Activation, plan.activationAt(static_cast<int>(i), 8)}
                                                    : TensorSpec{Kind::Cloud, 16};
        const int quantized = quantizedWeightTensor(g, n);
        for (int t : n.inputs) {
            if (t < 0) continue;
            const Tensor& tt = g.tensors[static_cast<size_t>(t)];
            if (!tt.isWeight() || !tt.data->isFloat()) continue;
            TensorSpec& s = spec[static_cast<size_t>(t)];
            if (edge) {
                // The edge's reading wins over a cloud reading; a quantized reading over a float one.
                // The first quantized reading sets the bits (the evaluator quantizes a shared
                // weight once, for its first reader).
                if (t == quantized && s.kind != Kind::Weight) s = {Kind::Weight, plan.weightAt(static_cast<int>(i), 8)};
                else if (s.kind == Kind::NotFloat) s = {Kind::Constant, 32};
            } else if (s.kind == Kind::NotFloat) {
                s = {Kind::Cloud, 16};
            }
        }
    }
    return spec;
}

}  // namespace autosplit
