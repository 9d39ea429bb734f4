// BatchNormalization and per-channel Mul/Add/Sub folded into the Conv/ConvTranspose/Gemm before them.
#include "autosplit/passes/optimize.h"

#include "passes/pass_util.h"

#include <algorithm>
#include <cmath>
#include <optional>

namespace autosplit {

using namespace detail;

namespace {

// Rewrites producer p (Conv, ConvTranspose or Gemm, no fused activation) so that it computes
// y' = y * scale[c] + shift[c] along its output channels. Returns false (graph untouched)
// when the layer's form does not allow it.
bool foldChannelAffine(Graph& g, int pi, const std::vector<float>& scale, const std::vector<float>& shift) {
    Node& p = g.nodes[pi];
    const bool conv = p.op == "Conv", convT = p.op == "ConvTranspose", gemm = p.op == "Gemm";
    if ((!conv && !convT && !gemm) || !p.activation.isNone() || !isDefaultDomain(p)) return false;
    const TensorData* w = weightOf(g, p, 1);
    if (!w || !w->isFloat()) return false;
    const auto C = static_cast<int64_t>(scale.size());
    const TensorData* b = weightOf(g, p, 2);
    if (p.inputs.size() > 2 && p.inputs[2] >= 0 && !b) return false;  // bias computed at run time
    TensorData nw = *w;
    std::vector<float> bias(C, 0.f);
    if (conv) {
        if (nw.shape.empty() || nw.shape[0] != C) return false;
        const int64_t per = nw.elementCount() / C;
        for (int64_t k = 0; k < C; ++k)
            for (int64_t j = 0; j < per; ++j) nw.floats[k * per + j] *= scale[k];
        if (b) {
            if (b->elementCount() != C) return false;
            bias = b->floats;
        }
    } else if (convT) {
        const int64_t group = p.attrInt("group", 1);
        if (nw.shape.size() < 2 || nw.shape[1] * group != C || nw.shape[0] % group) return false;
        const int64_t cin = nw.shape[0], coutg = nw.shape[1];
        const int64_t spatial = nw.elementCount() / (cin * coutg);
        for (int64_t ci = 0; ci < cin; ++ci) {
            const int64_t grp = ci / (cin / group);
            for (int64_t j = 0; j < coutg; ++j)
                for (int64_t q = 0; q < spatial; ++q) nw.floats[(ci * coutg + j) * spatial + q] *= scale[grp * coutg + j];
        }
        if (b) {
            if (b->elementCount() != C) return false;
            bias = b->floats;
        }
    } else {  // Gemm: Y = alpha * A' * B' + beta * C, features along B's output axis
        if (nw.shape.size() != 2) return false;
        const bool transB = p.attrInt("transB", 0) != 0;
        const int64_t N = transB ? nw.shape[0] : nw.shape[1], K = transB ? nw.shape[1] : nw.shape[0];
        if (N != C) return false;
        const float alpha = p.attrFloat("alpha", 1.f), gbeta = p.attrFloat("beta", 1.f);
        if (b) {
            if (b->elementCount() == C) bias = b->floats;
            else if (b->elementCount() == 1) std::fill(bias.begin(), bias.end(), b->floats[0]);
            else return false;  // a 2-D bias C
            for (auto& v : bias) v *= gbeta;
        }
        for (int64_t k = 0; k < K; ++k)
            for (int64_t nIdx = 0; nIdx < N; ++nIdx) {
                float& v = transB ? nw.floats[nIdx * K + k] : nw.floats[k * N + nIdx];
                v *= alpha * scale[nIdx];
            }
        p.attrs["alpha"].value = 1.f;
        p.attrs["beta"].value = 1.f;
    }
    for (int64_t c = 0; c < C; ++c) bias[c] = bias[c] * scale[c] + shift[c];

    const int wId = g.addWeight(p.name + "/W_folded", std::move(nw), true);
    const int bId = g.addWeight(p.name + "/B_folded", TensorData{DType::Float32, {C}, bias, {}}, true);
    Node& q = g.nodes[pi];
    q.inputs[1] = wId;
    if (q.inputs.size() < 3) q.inputs.resize(3, -1);
    q.inputs[2] = bId;
    return true;
}

// The producer of node n's input `slot` when it is a foldable layer whose output only n reads.
int foldableProducer(const Graph& g, const Node& n, size_t slot, const std::vector<bool>& dead) {
    if (slot >= n.inputs.size() || n.inputs[slot] < 0) return -1;
    const Tensor& x = g.tensors[n.inputs[slot]];
    if (x.producer < 0 || dead[x.producer] || x.consumers.size() != 1 || x.isGraphOutput) return -1;
    return x.producer;
}

// Output channels of a Conv/ConvTranspose/Gemm layer, or -1.
int64_t outputChannels(const Graph& g, const Node& p) {
    const Tensor& y = g.tensors[p.outputs[0]];
    if (!y.shapeKnown || y.shape.size() < 2) return -1;
    return p.op == "Gemm" ? y.shape.back() : y.shape[1];
}

// A constant that broadcasts along the output channels only (scalar, [C], [C,1,1], [1,C,1,1]...):
// returns it expanded to C values.
std::optional<std::vector<float>> perChannel(const TensorData* c, int64_t C, size_t outRank, bool channelsLast) {
    if (!c || !c->isFloat()) return std::nullopt;
    if (c->elementCount() == 1) return std::vector<float>(static_cast<size_t>(C), c->floats[0]);
    if (c->elementCount() != C || c->shape.size() > outRank) return std::nullopt;
    const size_t channelAxis = channelsLast ? outRank - 1 : 1;
    for (size_t i = 0; i < c->shape.size(); ++i) {
        const size_t outAxis = outRank - c->shape.size() + i;
        if (outAxis != channelAxis && c->shape[i] != 1) return std::nullopt;
    }
    return c->floats;
}

}  // namespace

int foldBatchNorm(Graph& g) {
    std::vector<bool> dead(g.nodes.size(), false);
    int folded = 0;
    for (size_t bi = 0; bi < g.nodes.size(); ++bi) {
        const Node& bn = g.nodes[bi];
        if (bn.op != "BatchNormalization" || !isDefaultDomain(bn) || bn.inputs.size() < 5) continue;
        if (bn.outputs.size() > 1 && std::any_of(bn.outputs.begin() + 1, bn.outputs.end(), [&](int t) {
                return t >= 0 && !g.tensors[t].consumers.empty();
            }))
            continue;  // training-mode outputs in use
        const int pi = foldableProducer(g, bn, 0, dead);
        if (pi < 0) continue;
        const TensorData *gamma = weightOf(g, bn, 1), *beta = weightOf(g, bn, 2), *mean = weightOf(g, bn, 3),
                         *var = weightOf(g, bn, 4);
        if (!gamma || !beta || !mean || !var || !gamma->isFloat()) continue;
        const int64_t C = gamma->elementCount();
        if (beta->elementCount() != C || mean->elementCount() != C || var->elementCount() != C) continue;
        const float eps = bn.attrFloat("epsilon", 1e-5f);
        std::vector<float> scale(C), shift(C);
        for (int64_t c = 0; c < C; ++c) {
            scale[c] = gamma->floats[c] / std::sqrt(var->floats[c] + eps);
            shift[c] = beta->floats[c] - mean->floats[c] * scale[c];
        }
        if (!foldChannelAffine(g, pi, scale, shift)) continue;
        g.nodes[pi].activation = g.nodes[bi].activation;  // act(bn(conv(x))) == act(conv'(x))
        g.nodes[pi].outputs[0] = g.nodes[bi].outputs[0];
        g.nodes[pi].fusedFrom.push_back(g.nodes[bi].name);
        dead[bi] = true;
        ++folded;
    }
    if (folded) eraseDead(g, dead);
    return folded;
}

int foldAffine(Graph& g) {
    std::vector<bool> dead(g.nodes.size(), false);
    int folded = 0;
    for (size_t mi = 0; mi < g.nodes.size(); ++mi) {
        const Node& m = g.nodes[mi];
        if (!isDefaultDomain(m) || (m.op != "Mul" && m.op != "Add" && m.op != "Sub") || m.inputs.size() != 2) continue;
        // The layer output may be either operand of Mul/Add; Sub only as the minuend.
        for (size_t slot = 0; slot < 2; ++slot) {
            if (m.op == "Sub" && slot == 1) break;
            const int pi = foldableProducer(g, m, slot, dead);
            if (pi < 0) continue;
            const Node& p = g.nodes[pi];
            if (p.op != "Conv" && p.op != "ConvTranspose" && p.op != "Gemm") continue;
            const int64_t C = outputChannels(g, p);
            const Tensor& y = g.tensors[p.outputs[0]];
            const Tensor& out = g.tensors[m.outputs[0]];
            if (C <= 0 || !out.shapeKnown || out.shape != y.shape) continue;  // must not broadcast the layer output
            auto c = perChannel(weightOf(g, m, 1 - slot), C, y.shape.size(), p.op == "Gemm");
            if (!c) continue;
            std::vector<float> scale(C, 1.f), shift(C, 0.f);
            if (m.op == "Mul") scale = *c;
            else if (m.op == "Add") shift = *c;
            else
                for (int64_t k = 0; k < C; ++k) shift[k] = -(*c)[k];
            if (!foldChannelAffine(g, pi, scale, shift)) continue;
            g.nodes[pi].activation = g.nodes[mi].activation;  // an activation fused into the Mul/Add moves along
            g.nodes[pi].outputs[0] = g.nodes[mi].outputs[0];
            g.nodes[pi].fusedFrom.push_back(g.nodes[mi].name);
            dead[mi] = true;
            ++folded;
            break;
        }
    }
    if (folded) eraseDead(g, dead);
    return folded;
}

}  // namespace autosplit
