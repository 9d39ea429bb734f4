// Softmax / LogSoftmax and the ReduceMean/Sum/Max/Min family.
#include "exec_internal.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

namespace autosplit::exec {

namespace {

std::string checkFloat(const Graph& g, const Node& n) {
    if (n.inputs.empty() || n.inputs[0] < 0 || !isFloating(g.tensors[n.inputs[0]].dtype))
        return "only float input is supported";
    return {};
}

template <bool isLog>
void softmaxOp(KernelContext& c) {
    const TensorData& x = c.input(0);
    const int64_t rank = static_cast<int64_t>(x.shape.size());
    const bool legacy = c.graph.opsetVersion > 0 && c.graph.opsetVersion < 13;
    const int64_t axis = normAxis(c, c.node.attrInt("axis", legacy ? 1 : -1), rank);
    const int64_t outer = std::accumulate(x.shape.begin(), x.shape.begin() + axis, int64_t{1}, std::multiplies<>());
    // Legacy: softmax over all of [axis, rank) flattened. Opset 13: over one axis.
    const int64_t len = legacy ? numel(x.shape) / std::max<int64_t>(outer, 1) : x.shape[axis];
    const int64_t inner = legacy ? 1 : numel(x.shape) / std::max<int64_t>(outer * len, 1);
    TensorData y = makeFloat(x.shape, x.dtype);
    c.pool.parallelFor(outer * inner, std::max<int64_t>(1, 4096 / std::max<int64_t>(len, 1)), [&](int64_t b, int64_t e) {
        for (int64_t r = b; r < e; ++r) {
            const int64_t o = r / inner, i = r % inner;
            const float* xp = x.floats.data() + o * len * inner + i;
            float* yp = y.floats.data() + o * len * inner + i;
            float m = -std::numeric_limits<float>::infinity();
            for (int64_t k = 0; k < len; ++k) m = std::max(m, xp[k * inner]);
            double sum = 0.0;
            for (int64_t k = 0; k < len; ++k) {
                const float ev = std::exp(xp[k * inner] - m);
                if constexpr (!isLog) yp[k * inner] = ev;
                sum += ev;
            }
            if constexpr (isLog) {
                const float ls = static_cast<float>(std::log(sum));
                for (int64_t k = 0; k < len; ++k) yp[k * inner] = xp[k * inner] - m - ls;
            } else {
                const float inv = static_cast<float>(1.0 / sum);
                for (int64_t k = 0; k < len; ++k) yp[k * inner] *= inv;
            }
        }
    });
    c.out[0] = std::move(y);
}

enum class Red { Mean, Sum, Max, Min };

template <Red op>
void reduceOp(KernelContext& c) {
    const TensorData& x = c.input(0);
    const int64_t rank = static_cast<int64_t>(x.shape.size());
    std::vector<int64_t> axes = c.hasInput(1) ? toInts(c.input(1)) : c.node.attrInts("axes");
    const bool keep = c.node.attrInt("keepdims", 1) != 0;
    if (axes.empty() && c.node.attrInt("noop_with_empty_axes", 0) != 0) {
        c.out[0] = x;
        return;
    }
    std::vector<bool> red(rank, axes.empty());
    for (auto a : axes) red[normAxis(c, a, rank)] = true;
    std::vector<int64_t> outShape, keptShape(rank);
    for (int64_t d = 0; d < rank; ++d) {
        keptShape[d] = red[d] ? 1 : x.shape[d];
        if (!red[d] || keep) outShape.push_back(keptShape[d]);
    }
    const int64_t nOut = numel(keptShape), nIn = numel(x.shape);
    const int64_t count = nOut > 0 ? nIn / nOut : 0;
    std::vector<double> acc(static_cast<size_t>(nOut),
                            op == Red::Max ? -INFINITY : op == Red::Min ? INFINITY : 0.0);
    const auto outStrides = broadcastStrides(keptShape, static_cast<size_t>(rank));
    std::vector<int64_t> idx(rank, 0);
    int64_t o = 0;
    const std::vector<float> xs = toFloats(x);
    for (int64_t i = 0; i < nIn; ++i) {
        const double v = xs[i];
        if constexpr (op == Red::Max) acc[o] = std::max(acc[o], v);
        else if constexpr (op == Red::Min) acc[o] = std::min(acc[o], v);
        else acc[o] += v;
        for (int64_t d = rank; d-- > 0;) {
            o += outStrides[d];
            if (++idx[d] < x.shape[d]) break;
            o -= outStrides[d] * x.shape[d];
            idx[d] = 0;
        }
    }
    if (x.isFloat()) {
        TensorData y = makeFloat(outShape, x.dtype);
        for (int64_t k = 0; k < nOut; ++k)
            y.floats[k] = static_cast<float>(op == Red::Mean ? acc[k] / static_cast<double>(count) : acc[k]);
        c.out[0] = std::move(y);
    } else {
        TensorData y = makeInt(outShape, x.dtype);
        for (int64_t k = 0; k < nOut; ++k)
            y.ints[k] = static_cast<int64_t>(op == Red::Mean ? acc[k] / static_cast<double>(count) : acc[k]);
        c.out[0] = std::move(y);
    }
}

}  // namespace

void registerReduceOps(Registry& r) {
    r["Softmax"] = {softmaxOp<false>, checkFloat, false};
    r["LogSoftmax"] = {softmaxOp<true>, checkFloat, false};
    r["ReduceMean"] = {reduceOp<Red::Mean>, nullptr, false};
    r["ReduceSum"] = {reduceOp<Red::Sum>, nullptr, false};
    r["ReduceMax"] = {reduceOp<Red::Max>, nullptr, false};
    r["ReduceMin"] = {reduceOp<Red::Min>, nullptr, false};
}

}  // namespace autosplit::exec
