// Constant sub-graphs evaluated by the executor's own kernels (exec::runNode), so every op has one
// implementation: a node whose inputs are all weights, or a Shape of a tensor whose shape is
// static, becomes a weight holding its result.
#include "autosplit/passes/optimize.h"

#include "autosplit/exec/executor.h"
#include "exec/exec_internal.h"
#include "passes/pass_util.h"

#include <algorithm>
#include <cmath>
#include <exception>
#include <limits>

namespace autosplit {

using namespace detail;

namespace {

// A constant result may be as large as the largest constant it is computed from (a Transpose or
// Reshape of a weight) or this many elements, whichever is more: larger ones (a ConstantOfShape,
// Expand or broadcast that creates data) stay ops.
constexpr int64_t kMaxFoldElements = int64_t(1) << 22;

// Elements of a shape, saturating at int64 max; -1 for a negative dimension.
int64_t elementsOf(const std::vector<int64_t>& dims) {
    int64_t n = 1;
    for (int64_t d : dims) {
        if (d < 0) return -1;
        if (d != 0 && n > std::numeric_limits<int64_t>::max() / d) return std::numeric_limits<int64_t>::max();
        n *= d;
    }
    return n;
}

// Elements the node's result will have, as far as it is known before running the kernel: the
// declared output shapes, and for ops whose output size is an input value (ConstantOfShape,
// Expand, Range) that value, so a huge constant is never allocated. -1 when not known.
int64_t expectedElements(const Graph& g, const Node& n) {
    int64_t most = -1;
    for (int t : n.outputs)
        if (t >= 0 && g.tensors[t].shapeKnown) most = std::max(most, elementsOf(g.tensors[t].shape));
    const TensorData* a = weightOf(g, n, 0);
    const TensorData* b = weightOf(g, n, 1);
    if (n.op == "ConstantOfShape" && a && !a->isFloat()) {
        most = std::max(most, elementsOf(a->ints));
    } else if (n.op == "Expand" && a && b && !b->isFloat()) {
        std::vector<int64_t> out(std::max(a->shape.size(), b->ints.size()), 1);
        for (size_t i = 0; i < a->shape.size(); ++i) out[out.size() - a->shape.size() + i] = a->shape[i];
        for (size_t i = 0; i < b->ints.size(); ++i) {
            int64_t& d = out[out.size() - b->ints.size() + i];
            d = std::max(d, b->ints[i]);
        }
        most = std::max(most, elementsOf(out));
    } else if (n.op == "Range" && a && b && a->elementCount() == 1 && b->elementCount() == 1) {
        const TensorData* delta = weightOf(g, n, 2);
        auto value = [](const TensorData& t) { return t.isFloat() ? double(t.floats[0]) : double(t.ints[0]); };
        if (delta && delta->elementCount() == 1 && value(*delta) != 0) {
            const double count = std::ceil((value(*b) - value(*a)) / value(*delta));
            most = std::max(most, count >= 9e18 ? std::numeric_limits<int64_t>::max() : static_cast<int64_t>(std::max(0.0, count)));
        }
    }
    return most;
}

std::string tooLarge(int64_t elements, int64_t limit) {
    return "its constant result would have " + std::to_string(elements) + " elements, more than the " +
           std::to_string(limit) + " folding allows";
}

// Why node n cannot be folded; empty when it can (its inputs are then in `in`). Shape reads only
// the dims of its input, so a tensor with a static shape stands in as dims without values.
std::string foldInputs(const Graph& g, const Node& n, std::vector<TensorData>& dimsOnly,
                       std::vector<const TensorData*>& in, int64_t& maxElements) {
    if (!isDefaultDomain(n)) return "it is in domain '" + n.domain + "'";
    in.assign(n.inputs.size(), nullptr);
    dimsOnly.assign(n.inputs.size(), TensorData{});
    bool any = false;
    maxElements = kMaxFoldElements;
    for (size_t k = 0; k < n.inputs.size(); ++k) {
        const int t = n.inputs[k];
        if (t < 0) continue;
        const Tensor& x = g.tensors[t];
        any = true;
        if (x.isWeight()) {
            in[k] = x.data.get();
            maxElements = std::max(maxElements, x.data->elementCount());
        } else if (n.op == "Shape" && k == 0 && x.shapeKnown) {
            dimsOnly[k].dtype = x.dtype;
            dimsOnly[k].shape = x.shape;
            in[k] = &dimsOnly[k];
        } else {
            const int p = x.producer;
            return "its input '" + x.name + "' " +
                   (p >= 0 ? "(output of node '" + g.nodes[p].name + "', " + g.nodes[p].op + ") " : std::string()) +
                   "is computed from the model's input data";
        }
    }
    if (!any) return "it has no inputs";
    std::string why = Executor::unsupportedReason(g, n);
    if (!why.empty()) return "the executor cannot run it (" + why + ")";
    const int64_t expected = expectedElements(g, n);
    if (expected > maxElements) return tooLarge(expected, maxElements);
    return {};
}

// Runs node n's kernel on its constant inputs; the outputs, or the reason it cannot.
std::vector<TensorData> evalConstant(const Graph& g, const Node& n, ThreadPool& pool, std::string& why) {
    std::vector<TensorData> dimsOnly;
    std::vector<const TensorData*> in;
    int64_t maxElements = 0;
    why = foldInputs(g, n, dimsOnly, in, maxElements);
    if (!why.empty()) return {};
    std::vector<TensorData> out;
    try {
        out = exec::runNode(g, n, std::move(in), pool);
    } catch (const std::exception& e) {
        why = std::string("evaluating it failed: ") + e.what();  // malformed: the executor reports it at run time
        return {};
    }
    for (size_t k = 0; k < out.size(); ++k) {
        if (n.outputs[k] < 0) continue;
        if (out[k].dtype == DType::Other) {
            why = "the kernel produced no value for output " + std::to_string(k);
            return {};
        }
        if (out[k].elementCount() > maxElements) {
            why = tooLarge(out[k].elementCount(), maxElements);
            return {};
        }
    }
    return out;
}

}  // namespace

int foldConstants(Graph& g) {
    int folded = 0;
    std::vector<bool> dead(g.nodes.size(), false);
    ThreadPool pool(1);  // constants are small: no worker threads
    for (size_t i = 0; i < g.nodes.size(); ++i) {
        const Node& n = g.nodes[i];
        if (n.outputs.empty() || std::any_of(n.outputs.begin(), n.outputs.end(), [&](int t) {
                return t >= 0 && g.tensors[t].isGraphOutput;  // keep the output's producer for users
            }))
            continue;
        std::string why;
        std::vector<TensorData> values = evalConstant(g, n, pool, why);
        if (!why.empty()) continue;
        for (size_t k = 0; k < values.size(); ++k) {
            if (n.outputs[k] < 0) continue;
            Tensor& out = g.tensors[n.outputs[k]];
            out.dtype = values[k].dtype;
            out.shape = values[k].shape;
            out.shapeKnown = true;
            out.data = std::make_shared<const TensorData>(std::move(values[k]));
        }
        dead[i] = true;
        ++folded;
    }
    if (folded) eraseDead(g, dead);
    return folded;
}

std::vector<std::string> unresolvedShapes(const Graph& g) {
    for (int t : g.inputs)
        if (!g.tensors[t].shapeKnown) return {};  // unbound input dims explain every unknown shape
    std::vector<std::string> notes;
    ThreadPool pool(1);
    for (const Node& n : g.nodes) {
        auto unknown = [&](int t) { return t >= 0 && !g.tensors[t].shapeKnown; };
        const auto out = std::find_if(n.outputs.begin(), n.outputs.end(), unknown);
        // Only the first node on each path: the ones after it are unknown because of it.
        if (out == n.outputs.end() || std::any_of(n.inputs.begin(), n.inputs.end(), unknown)) continue;
        std::string why;
        evalConstant(g, n, pool, why);
        if (why.empty()) why = "it is constant but was not folded";
        notes.push_back("the shape of tensor '" + g.tensors[*out].name + "' (output of node '" + n.name + "', " +
                        n.op + ") cannot be derived although the model's inputs are static: ONNX shape inference "
                        "gives none and " + n.op + " cannot be evaluated ahead of time: " + why);
    }
    return notes;
}

}  // namespace autosplit
