#include "autosplit/passes/optimize.h"

#include "autosplit/onnx/import.h"
#include "autosplit/util/errors.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <functional>
#include <numeric>
#include <set>

namespace autosplit {

namespace {

bool isDefaultDomain(const Node& n) { return n.domain.empty(); }

void replaceUses(Graph& g, int from, int to) {
    for (auto& n : g.nodes)
        for (int& t : n.inputs)
            if (t == from) t = to;
}

void eraseDead(Graph& g, const std::vector<bool>& dead) {
    std::vector<Node> kept;
    kept.reserve(g.nodes.size());
    for (size_t i = 0; i < g.nodes.size(); ++i)
        if (!dead[i]) kept.push_back(std::move(g.nodes[i]));
    g.nodes = std::move(kept);
    g.rebuild();
}

const TensorData* weightOf(const Graph& g, const Node& n, size_t slot) {
    if (slot >= n.inputs.size() || n.inputs[slot] < 0) return nullptr;
    return g.tensors[n.inputs[slot]].data.get();
}

// Single float value of a scalar (or one-element) weight input; nullopt when not constant.
std::optional<float> scalarInput(const Graph& g, const Node& n, size_t slot) {
    const TensorData* d = weightOf(g, n, slot);
    if (!d || d->elementCount() != 1) return std::nullopt;
    return d->isFloat() ? d->floats[0] : static_cast<float>(d->ints[0]);
}

// ---- constant evaluation of the small ops found in shape sub-graphs ----------------------

// Generic element access so integer and float tensors go through one code path.
double at(const TensorData& d, int64_t i) { return d.isFloat() ? d.floats[i] : static_cast<double>(d.ints[i]); }

TensorData makeLike(DType dtype, std::vector<int64_t> shape) {
    TensorData d;
    d.dtype = dtype;
    d.shape = std::move(shape);
    const auto n = static_cast<size_t>(d.elementCount());
    if (d.isFloat()) d.floats.resize(n);
    else d.ints.resize(n);
    return d;
}

void setAt(TensorData& d, int64_t i, double v) {
    if (d.isFloat()) d.floats[i] = static_cast<float>(v);
    else d.ints[i] = static_cast<int64_t>(v);
}

std::optional<std::vector<int64_t>> broadcastShape(const std::vector<int64_t>& a, const std::vector<int64_t>& b) {
    const size_t r = std::max(a.size(), b.size());
    std::vector<int64_t> out(r);
    for (size_t i = 0; i < r; ++i) {
        const int64_t x = i < r - a.size() ? 1 : a[i - (r - a.size())];
        const int64_t y = i < r - b.size() ? 1 : b[i - (r - b.size())];
        if (x != y && x != 1 && y != 1) return std::nullopt;
        out[i] = std::max(x, y);
    }
    return out;
}

int64_t broadcastIndex(const std::vector<int64_t>& outShape, int64_t flat, const std::vector<int64_t>& inShape) {
    int64_t idx = 0, mul = 1;
    const size_t off = outShape.size() - inShape.size();
    for (size_t i = outShape.size(); i-- > 0;) {
        const int64_t coord = flat % outShape[i];
        flat /= outShape[i];
        if (i >= off) {
            const int64_t d = inShape[i - off];
            if (d != 1) idx += coord * mul;
            mul *= d;
        }
    }
    return idx;
}

int64_t normAxis(int64_t axis, int64_t rank) { return axis < 0 ? axis + rank : axis; }

constexpr int64_t kMaxFoldElements = int64_t(1) << 22;  // constant results larger than this stay ops

std::optional<TensorData> evalConstant(const Graph& g, const Node& n) {
    auto in = [&](size_t k) { return weightOf(g, n, k); };
    const std::string& op = n.op;
    if (op == "Shape") {
        const Tensor& x = g.tensors[n.inputs[0]];
        if (!x.shapeKnown) return std::nullopt;
        int64_t rank = static_cast<int64_t>(x.shape.size());
        int64_t start = normAxis(n.attrInt("start", 0), rank), end = normAxis(n.attrInt("end", rank), rank);
        start = std::clamp<int64_t>(start, 0, rank);
        end = std::clamp<int64_t>(end, start, rank);
        TensorData d{DType::Int64, {end - start}, {}, {x.shape.begin() + start, x.shape.begin() + end}};
        return d;
    }
    // Everything else needs all (present) inputs constant.
    for (int t : n.inputs)
        if (t >= 0 && !g.tensors[t].isWeight()) return std::nullopt;
    if (n.inputs.empty() || !in(0)) return std::nullopt;
    const TensorData& a = *in(0);
    if (op == "Identity") return a;
    if (op == "Cast") {
        const int64_t to = n.attrInt("to", 1);
        // ONNX TensorProto codes: 1 float, 10 f16, 11 double, 7 int64, 6 int32, 9 bool...
        DType dt = to == 1 ? DType::Float32 : to == 10 ? DType::Float16 : to == 11 ? DType::Double
                 : to == 7 ? DType::Int64 : to == 6 ? DType::Int32 : to == 9 ? DType::Bool
                 : to == 3 ? DType::Int8 : to == 2 ? DType::UInt8 : DType::Other;
        if (dt == DType::Other) return std::nullopt;
        TensorData d = makeLike(dt, a.shape);
        for (int64_t i = 0; i < a.elementCount(); ++i) {
            double v = at(a, i);
            if (!d.isFloat()) v = dt == DType::Bool ? (v != 0) : std::trunc(v);
            setAt(d, i, v);
        }
        return d;
    }
    if (op == "Reshape" || op == "Squeeze" || op == "Unsqueeze" || op == "Flatten") {
        const Tensor& out = g.tensors[n.outputs[0]];
        if (!out.shapeKnown) {
            if (op != "Unsqueeze" && op != "Squeeze") {
                if (op != "Reshape" || !in(1)) return std::nullopt;
                // Reshape with a constant target shape: resolve 0 and -1 ourselves.
                std::vector<int64_t> shape = in(1)->ints;
                int64_t known = 1, minus = -1;
                for (size_t i = 0; i < shape.size(); ++i) {
                    if (shape[i] == 0 && n.attrInt("allowzero", 0) == 0 && i < a.shape.size()) shape[i] = a.shape[i];
                    if (shape[i] == -1) minus = static_cast<int64_t>(i);
                    else known *= shape[i];
                }
                if (minus >= 0) shape[minus] = known ? a.elementCount() / known : 0;
                TensorData d = a;
                d.shape = shape;
                return d;
            }
            std::vector<int64_t> axes = n.attrInts("axes");
            if (axes.empty() && in(1)) axes = in(1)->ints;
            std::vector<int64_t> shape = a.shape;
            if (op == "Squeeze") {
                std::vector<int64_t> s2;
                const auto rank = static_cast<int64_t>(shape.size());
                for (int64_t i = 0; i < rank; ++i) {
                    bool drop = axes.empty() ? shape[i] == 1
                                             : std::any_of(axes.begin(), axes.end(), [&](int64_t ax) { return normAxis(ax, rank) == i; });
                    if (!drop) s2.push_back(shape[i]);
                }
                shape = s2;
            } else {
                const auto rank = static_cast<int64_t>(shape.size() + axes.size());
                std::vector<int64_t> sorted;
                for (auto ax : axes) sorted.push_back(normAxis(ax, rank));
                std::sort(sorted.begin(), sorted.end());
                for (auto ax : sorted) shape.insert(shape.begin() + std::min<int64_t>(ax, static_cast<int64_t>(shape.size())), 1);
            }
            TensorData d = a;
            d.shape = shape;
            return d;
        }
        TensorData d = a;
        d.shape = out.shape;
        return d;
    }
    if (op == "Concat") {
        const int64_t rank = static_cast<int64_t>(a.shape.size());
        if (rank == 0) return std::nullopt;
        const int64_t axis = normAxis(n.attrInt("axis", 0), rank);
        std::vector<int64_t> shape = a.shape;
        shape[axis] = 0;
        for (size_t k = 0; k < n.inputs.size(); ++k) {
            if (!in(k) || in(k)->shape.size() != a.shape.size()) return std::nullopt;
            shape[axis] += in(k)->shape[axis];
        }
        TensorData d = makeLike(a.dtype, shape);
        const int64_t outer = std::accumulate(shape.begin(), shape.begin() + axis, int64_t(1), std::multiplies<>());
        const int64_t inner = std::accumulate(shape.begin() + axis + 1, shape.end(), int64_t(1), std::multiplies<>());
        int64_t pos = 0;
        for (int64_t o = 0; o < outer; ++o)
            for (size_t k = 0; k < n.inputs.size(); ++k) {
                const TensorData& src = *in(k);
                const int64_t chunk = src.shape[axis] * inner;
                for (int64_t i = 0; i < chunk; ++i) setAt(d, pos++, at(src, o * chunk + i));
            }
        return d;
    }
    if (op == "Gather") {
        if (!in(1)) return std::nullopt;
        const TensorData& idx = *in(1);
        const int64_t rank = static_cast<int64_t>(a.shape.size());
        if (rank == 0) return std::nullopt;
        const int64_t axis = normAxis(n.attrInt("axis", 0), rank);
        std::vector<int64_t> shape(a.shape.begin(), a.shape.begin() + axis);
        shape.insert(shape.end(), idx.shape.begin(), idx.shape.end());
        shape.insert(shape.end(), a.shape.begin() + axis + 1, a.shape.end());
        const int64_t outer = std::accumulate(a.shape.begin(), a.shape.begin() + axis, int64_t(1), std::multiplies<>());
        const int64_t inner = std::accumulate(a.shape.begin() + axis + 1, a.shape.end(), int64_t(1), std::multiplies<>());
        TensorData d = makeLike(a.dtype, shape);
        int64_t pos = 0;
        for (int64_t o = 0; o < outer; ++o)
            for (int64_t j = 0; j < idx.elementCount(); ++j) {
                int64_t k = static_cast<int64_t>(at(idx, j));
                if (k < 0) k += a.shape[axis];
                if (k < 0 || k >= a.shape[axis]) return std::nullopt;
                for (int64_t i = 0; i < inner; ++i) setAt(d, pos++, at(a, (o * a.shape[axis] + k) * inner + i));
            }
        return d;
    }
    if (op == "Slice") {
        std::vector<int64_t> starts, ends, axes, steps;
        if (g.opsetVersion < 10) {
            starts = n.attrInts("starts");
            ends = n.attrInts("ends");
            axes = n.attrInts("axes");
        } else {
            if (!in(1) || !in(2)) return std::nullopt;
            starts = in(1)->ints;
            ends = in(2)->ints;
            if (in(3)) axes = in(3)->ints;
            if (in(4)) steps = in(4)->ints;
        }
        const auto rank = static_cast<int64_t>(a.shape.size());
        if (starts.size() != ends.size() || rank == 0) return std::nullopt;
        if (axes.empty())
            for (size_t i = 0; i < starts.size(); ++i) axes.push_back(static_cast<int64_t>(i));
        if (steps.empty()) steps.assign(starts.size(), 1);
        if (axes.size() != starts.size() || steps.size() != starts.size()) return std::nullopt;
        std::vector<int64_t> first(rank, 0), step(rank, 1), count = a.shape;
        for (size_t i = 0; i < starts.size(); ++i) {
            const int64_t ax = normAxis(axes[i], rank);
            if (ax < 0 || ax >= rank || steps[i] == 0) return std::nullopt;
            const int64_t dim = a.shape[ax];
            auto clampIdx = [&](int64_t v) {
                if (v < 0) v += dim;
                return steps[i] > 0 ? std::clamp<int64_t>(v, 0, dim) : std::clamp<int64_t>(v, -1, dim - 1);
            };
            const int64_t st = clampIdx(starts[i]), en = clampIdx(ends[i]);
            first[ax] = st;
            step[ax] = steps[i];
            count[ax] = steps[i] > 0 ? std::max<int64_t>(0, (en - st + steps[i] - 1) / steps[i])
                                     : std::max<int64_t>(0, (st - en - steps[i] - 1) / -steps[i]);
        }
        TensorData d = makeLike(a.dtype, count);
        std::vector<int64_t> inStride(rank, 1);
        for (int64_t i = rank - 1; i > 0; --i) inStride[i - 1] = inStride[i] * a.shape[i];
        for (int64_t flat = 0; flat < d.elementCount(); ++flat) {
            int64_t rem = flat, src = 0;
            for (int64_t ax = rank - 1; ax >= 0; --ax) {
                const int64_t c = rem % count[ax];
                rem /= count[ax];
                src += (first[ax] + c * step[ax]) * inStride[ax];
            }
            setAt(d, flat, at(a, src));
        }
        return d;
    }
    if (op == "Transpose") {
        const auto rank = static_cast<int64_t>(a.shape.size());
        std::vector<int64_t> perm = n.attrInts("perm");
        if (perm.empty())
            for (int64_t i = rank - 1; i >= 0; --i) perm.push_back(i);
        if (static_cast<int64_t>(perm.size()) != rank) return std::nullopt;
        std::vector<int64_t> shape(rank), inStride(rank, 1);
        for (int64_t i = rank - 1; i > 0; --i) inStride[i - 1] = inStride[i] * a.shape[i];
        for (int64_t i = 0; i < rank; ++i) shape[i] = a.shape[perm[i]];
        TensorData d = makeLike(a.dtype, shape);
        for (int64_t flat = 0; flat < d.elementCount(); ++flat) {
            int64_t rem = flat, src = 0;
            for (int64_t ax = rank - 1; ax >= 0; --ax) {
                src += (rem % shape[ax]) * inStride[perm[ax]];
                rem /= shape[ax];
            }
            setAt(d, flat, at(a, src));
        }
        return d;
    }
    if (op == "Add" || op == "Sub" || op == "Mul" || op == "Div") {
        if (!in(1)) return std::nullopt;
        const TensorData& b = *in(1);
        auto shape = broadcastShape(a.shape, b.shape);
        if (!shape) return std::nullopt;
        TensorData d = makeLike(a.dtype, *shape);
        if (d.elementCount() > kMaxFoldElements) return std::nullopt;
        for (int64_t i = 0; i < d.elementCount(); ++i) {
            const double x = at(a, broadcastIndex(*shape, i, a.shape)), y = at(b, broadcastIndex(*shape, i, b.shape));
            double v = op == "Add" ? x + y : op == "Sub" ? x - y : op == "Mul" ? x * y : 0.0;
            if (op == "Div") {
                if (!d.isFloat()) {
                    if (y == 0) return std::nullopt;
                    v = std::trunc(x / y);
                } else v = x / y;
            }
            setAt(d, i, v);
        }
        return d;
    }
    if (op == "ConstantOfShape") {
        std::vector<int64_t> shape = a.ints;
        int64_t count = 1;
        for (auto v : shape) {
            if (v < 0) return std::nullopt;
            count *= v;
        }
        if (count > kMaxFoldElements) return std::nullopt;
        TensorData value{DType::Float32, {1}, {0.f}, {}};
        if (const Attribute* attr = n.attr("value"))
            if (auto t = std::get_if<TensorData>(&attr->value)) value = *t;
        TensorData d = makeLike(value.dtype, shape);
        for (int64_t i = 0; i < count; ++i) setAt(d, i, at(value, 0));
        return d;
    }
    if (op == "Range") {
        if (!in(1) || !in(2)) return std::nullopt;
        const double start = at(a, 0), limit = at(*in(1), 0), delta = at(*in(2), 0);
        if (delta == 0) return std::nullopt;
        const auto count = static_cast<int64_t>(std::max(0.0, std::ceil((limit - start) / delta)));
        if (count > kMaxFoldElements) return std::nullopt;
        TensorData d = makeLike(a.dtype, {count});
        for (int64_t i = 0; i < count; ++i) setAt(d, i, start + static_cast<double>(i) * delta);
        return d;
    }
    return std::nullopt;
}

}  // namespace

int removeIdentities(Graph& g) {
    std::vector<bool> dead(g.nodes.size(), false);
    int removed = 0;
    for (size_t i = 0; i < g.nodes.size(); ++i) {
        Node& n = g.nodes[i];
        if (!isDefaultDomain(n) || n.inputs.empty() || n.inputs[0] < 0 || n.outputs.empty() || n.outputs[0] < 0) continue;
        const bool identity = n.op == "Identity";
        // Dropout at inference is the identity; its mask output must be unused.
        const bool dropout = n.op == "Dropout" &&
                             (n.outputs.size() < 2 || n.outputs[1] < 0 || g.tensors[n.outputs[1]].consumers.empty());
        if (!identity && !dropout) continue;
        const int in = n.inputs[0], out = n.outputs[0];
        if (g.tensors[out].isGraphOutput) continue;  // keep the output's name for users
        replaceUses(g, out, in);
        dead[i] = true;
        ++removed;
    }
    if (removed) eraseDead(g, dead);
    return removed;
}

int foldConstants(Graph& g) {
    int folded = 0;
    std::vector<bool> dead(g.nodes.size(), false);
    for (size_t i = 0; i < g.nodes.size(); ++i) {
        const Node& n = g.nodes[i];
        if (!isDefaultDomain(n) || n.outputs.size() != 1 || n.outputs[0] < 0) continue;
        if (g.tensors[n.outputs[0]].isGraphOutput) continue;
        std::optional<TensorData> value;
        try {
            value = evalConstant(g, n);
        } catch (const std::exception&) {
            value.reset();  // malformed constant sub-graph: leave it to the executor to report
        }
        if (!value) continue;
        Tensor& out = g.tensors[n.outputs[0]];
        out.dtype = value->dtype;
        out.shape = value->shape;
        out.shapeKnown = true;
        out.data = std::make_shared<const TensorData>(std::move(*value));
        dead[i] = true;
        ++folded;
    }
    if (folded) eraseDead(g, dead);
    return folded;
}

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

    auto newWeight = [&](const std::string& base, TensorData d) {
        std::string name = base;
        for (int k = 1; g.findTensor(name) >= 0; ++k) name = base + "_" + std::to_string(k);
        Tensor t;
        t.name = name;
        t.dtype = d.dtype;
        t.shape = d.shape;
        t.shapeKnown = true;
        t.data = std::make_shared<const TensorData>(std::move(d));
        return g.addTensor(std::move(t));
    };
    const int wId = newWeight(p.name + "/W_folded", std::move(nw));
    const int bId = newWeight(p.name + "/B_folded", TensorData{DType::Float32, {C}, bias, {}});
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

OptimizeReport optimize(Graph& g) {
    OptimizeReport r;
    r.nodesBefore = static_cast<int>(g.nodes.size());
    auto step = [&](const char* name, int (*pass)(Graph&)) {
        const int n = pass(g);
        auto it = std::find_if(r.steps.begin(), r.steps.end(), [&](const auto& s) { return s.pass == name; });
        if (it == r.steps.end()) r.steps.push_back({name, n, static_cast<int>(g.nodes.size())});
        else {
            it->rewrites += n;
            it->nodesAfter = static_cast<int>(g.nodes.size());
        }
        return n;
    };
    for (int round = 0; round < 4; ++round) {
        int changes = step("remove-identity", removeIdentities);
        const int folded = step("fold-constants", foldConstants);
        changes += folded;
        if (folded) {
            bool unknown = false;
            for (const auto& t : g.tensors) unknown = unknown || (!t.shapeKnown && !t.isWeight());
            if (unknown) reinferShapes(g);
        }
        // Chains (Conv -> Mul -> Add) fold one link per call: finish them before fusing
        // activations, which would otherwise land on the Add and block the rest of the chain.
        while (const int n = step("fold-batchnorm", foldBatchNorm) + step("fold-affine", foldAffine)) changes += n;
        changes += step("fuse-activations", fuseActivations);
        if (!changes) break;
    }
    r.nodesAfter = static_cast<int>(g.nodes.size());
    return r;
}

}  // namespace autosplit
