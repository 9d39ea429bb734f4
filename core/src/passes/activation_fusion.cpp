// Activations (and the multi-node HardSwish/Swish patterns) fused into their producer.
#include "autosplit/passes/optimize.h"

#include "passes/pass_util.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <limits>
#include <optional>
#include <set>
#include <string>

namespace autosplit {

using namespace detail;

namespace {

bool nearly(float a, float b) { return std::fabs(a - b) <= 1e-5f * std::max(1.f, std::fabs(b)); }

// The node consuming tensor t when it is the only consumer; -1 otherwise.
int soleConsumer(const Graph& g, int t) {
    const Tensor& tt = g.tensors[t];
    return tt.consumers.size() == 1 && !tt.isGraphOutput ? tt.consumers[0] : -1;
}

// Other operand of a binary node given one operand tensor; -1 if t is not an operand.
int otherOperand(const Node& n, int t) {
    if (n.inputs.size() != 2) return -1;
    return n.inputs[0] == t ? n.inputs[1] : n.inputs[1] == t ? n.inputs[0] : -1;
}

// x * relu6(x + 3) / 6, the decomposed HardSwish of Paddle and older PyTorch exports:
// Add(x,3) -> Clip(0,6) -> Div(.,6) | Mul(.,1/6) -> Mul(x,.), the last two in either order.
// Returns the four node indices, the one producing the result last.
std::optional<std::array<int, 4>> matchHardSwish(const Graph& g, int addIdx) {
    const Node& add = g.nodes[addIdx];
    if (add.op != "Add" || add.inputs.size() != 2 || add.outputs.size() != 1) return std::nullopt;
    for (int slot = 0; slot < 2; ++slot) {
        const int x = add.inputs[slot];
        if (x < 0 || g.tensors[x].isWeight()) continue;
        auto three = scalarInput(g, add, 1 - slot);
        if (!three || !nearly(*three, 3.f) || g.tensors[x].consumers.size() != 2) continue;
        const int clipIdx = soleConsumer(g, add.outputs[0]);
        if (clipIdx < 0 || g.nodes[clipIdx].op != "Clip") continue;
        const Node& clip = g.nodes[clipIdx];
        float lo = clip.attrFloat("min", -1e30f), hi = clip.attrFloat("max", 1e30f);
        if (clip.inputs.size() > 1 && clip.inputs[1] >= 0) lo = scalarInput(g, clip, 1).value_or(-1e30f);
        if (clip.inputs.size() > 2 && clip.inputs[2] >= 0) hi = scalarInput(g, clip, 2).value_or(1e30f);
        if (!nearly(lo, 0.f) || !nearly(hi, 6.f)) continue;
        // Then, in either order, a scale by 1/6 and the product with x.
        auto isSixth = [&](int idx, int operand) {
            const Node& d = g.nodes[idx];
            if (d.inputs.size() != 2) return false;
            const int slotOf = d.inputs[0] == operand ? 1 : d.inputs[1] == operand ? 0 : -1;
            if (slotOf < 0) return false;
            auto k = scalarInput(g, d, static_cast<size_t>(slotOf));
            return k && ((d.op == "Div" && slotOf == 1 && nearly(*k, 6.f)) || (d.op == "Mul" && nearly(*k, 1.f / 6.f)));
        };
        auto isTimesX = [&](int idx, int operand) {
            return g.nodes[idx].op == "Mul" && otherOperand(g.nodes[idx], operand) == x;
        };
        const int first = soleConsumer(g, clip.outputs[0]);
        if (first < 0 || g.nodes[first].outputs.size() != 1) continue;
        const int second = soleConsumer(g, g.nodes[first].outputs[0]);
        if (second < 0) continue;
        int divIdx = -1, mulIdx = -1;
        if (isSixth(first, clip.outputs[0]) && isTimesX(second, g.nodes[first].outputs[0])) {
            divIdx = first;
            mulIdx = second;
        } else if (isTimesX(first, clip.outputs[0]) && isSixth(second, g.nodes[first].outputs[0])) {
            mulIdx = first;
            divIdx = second;
        } else continue;
        const auto& xc = g.tensors[x].consumers;
        if (!((xc[0] == addIdx && xc[1] == mulIdx) || (xc[1] == addIdx && xc[0] == mulIdx))) continue;
        // The pattern's result is the output of whichever node comes last.
        const int lastIdx = g.nodes[mulIdx].outputs[0] == g.nodes[second].outputs[0] ? mulIdx : divIdx;
        return std::array<int, 4>{addIdx, clipIdx, lastIdx == mulIdx ? divIdx : mulIdx, lastIdx};
    }
    return std::nullopt;
}

}  // namespace

int fuseActivations(Graph& g) {
    static const std::set<std::string> producers = {"Conv", "ConvTranspose", "Gemm", "MatMul", "Add", "Sub", "Mul",
                                                    "BatchNormalization", "AveragePool", "GlobalAveragePool"};
    std::vector<bool> dead(g.nodes.size(), false);
    int fused = 0;
    auto fusableProducer = [&](int x) -> int {
        const int pi = g.tensors[x].producer;
        if (pi < 0 || dead[pi] || g.tensors[x].isGraphOutput) return -1;
        const Node& p = g.nodes[pi];
        if (!producers.count(p.op) || !isDefaultDomain(p) || !p.activation.isNone() || p.outputs.size() != 1) return -1;
        return pi;
    };
    // Multi-node patterns first, so their pieces are not fused one by one.
    for (size_t ai = 0; ai < g.nodes.size(); ++ai) {
        if (dead[ai] || !isDefaultDomain(g.nodes[ai])) continue;
        auto m = matchHardSwish(g, static_cast<int>(ai));
        if (!m || std::any_of(m->begin(), m->end(), [&](int i) { return dead[i]; })) continue;
        const int x = g.nodes[ai].inputs[0] >= 0 && !g.tensors[g.nodes[ai].inputs[0]].isWeight() ? g.nodes[ai].inputs[0]
                                                                                                  : g.nodes[ai].inputs[1];
        const int pi = fusableProducer(x);
        if (pi < 0) continue;
        Node& p = g.nodes[pi];
        p.activation.kind = Activation::Kind::HardSwish;
        p.outputs[0] = g.nodes[(*m)[3]].outputs[0];
        for (int i : *m) {
            p.fusedFrom.push_back(g.nodes[i].name);
            dead[i] = true;
        }
        ++fused;
    }
    for (size_t ai = 0; ai < g.nodes.size(); ++ai) {
        if (dead[ai]) continue;
        const Node& a = g.nodes[ai];
        if (!isDefaultDomain(a) || a.inputs.empty() || a.inputs[0] < 0 || a.outputs.empty() || a.outputs[0] < 0) continue;
        const int x = a.inputs[0];
        const int pi = g.tensors[x].producer;
        if (pi < 0 || dead[pi]) continue;
        Node& p = g.nodes[pi];
        if (!producers.count(p.op) || !isDefaultDomain(p) || !p.activation.isNone() || p.outputs.size() != 1 ||
            g.tensors[x].isGraphOutput)
            continue;
        const auto& xc = g.tensors[x].consumers;

        Activation act;
        int outTensor = a.outputs[0];
        std::vector<size_t> absorbed{ai};
        using K = Activation::Kind;
        if (a.op == "Sigmoid" || a.op == "HardSigmoid") {
            // x * sigmoid(x) / x * hardsigmoid(x): x feeds exactly the gate and one Mul.
            int mulIdx = -1;
            const auto& gc = g.tensors[a.outputs[0]].consumers;
            if (xc.size() == 2 && gc.size() == 1 && !g.tensors[a.outputs[0]].isGraphOutput) {
                const int other = xc[0] == static_cast<int>(ai) ? xc[1] : xc[0];
                const Node& m = g.nodes[other];
                if (other == gc[0] && m.op == "Mul" && m.inputs.size() == 2 && !dead[other] &&
                    ((m.inputs[0] == x && m.inputs[1] == a.outputs[0]) || (m.inputs[1] == x && m.inputs[0] == a.outputs[0])))
                    mulIdx = other;
            }
            if (mulIdx >= 0) {
                if (a.op == "Sigmoid") act.kind = K::Swish;
                else {
                    act.kind = K::HardSwishMul;
                    act.alpha = a.attrFloat("alpha", 0.2f);
                    act.beta = a.attrFloat("beta", 0.5f);
                }
                outTensor = g.nodes[mulIdx].outputs[0];
                absorbed.push_back(static_cast<size_t>(mulIdx));
            } else if (xc.size() == 1) {
                act.kind = a.op == "Sigmoid" ? K::Sigmoid : K::HardSigmoid;
                act.alpha = a.attrFloat("alpha", 0.2f);
                act.beta = a.attrFloat("beta", 0.5f);
            } else continue;
        } else {
            if (xc.size() != 1) continue;
            if (a.op == "Relu") act.kind = K::Relu;
            else if (a.op == "LeakyRelu") {
                act.kind = K::LeakyRelu;
                act.alpha = a.attrFloat("alpha", 0.01f);
            } else if (a.op == "HardSwish") act.kind = K::HardSwish;
            else if (a.op == "Clip") {
                act.kind = K::Clip;
                act.min = -std::numeric_limits<float>::infinity();
                act.max = std::numeric_limits<float>::infinity();
                if (g.opsetVersion < 11 && a.attr("min")) act.min = a.attrFloat("min", act.min);
                if (g.opsetVersion < 11 && a.attr("max")) act.max = a.attrFloat("max", act.max);
                if (a.inputs.size() > 1 && a.inputs[1] >= 0) {
                    auto v = scalarInput(g, a, 1);
                    if (!v) continue;  // bounds computed at run time
                    act.min = *v;
                }
                if (a.inputs.size() > 2 && a.inputs[2] >= 0) {
                    auto v = scalarInput(g, a, 2);
                    if (!v) continue;
                    act.max = *v;
                }
                if (act.min == 0.f && std::isinf(act.max)) act = Activation{K::Relu};
            } else continue;
        }
        p.activation = act;
        p.outputs[0] = outTensor;
        for (size_t k : absorbed) {
            p.fusedFrom.push_back(g.nodes[k].name);
            dead[k] = true;
        }
        ++fused;
    }
    if (fused) eraseDead(g, dead);
    return fused;
}

}  // namespace autosplit
