// Data movement: Concat, Split, Slice, Reshape, Flatten, Transpose, Squeeze, Unsqueeze, Shape,
// Gather, ConstantOfShape, Range, Pad, Expand. All work on float and integer tensors alike.
#include "exec_internal.h"

#include <algorithm>
#include <cmath>
#include <numeric>

namespace autosplit::exec {

namespace {

// Output with the same kind of storage as `like`, given shape.
TensorData makeLike(const TensorData& like, std::vector<int64_t> shape) {
    return like.isFloat() ? makeFloat(std::move(shape), like.dtype) : makeInt(std::move(shape), like.dtype);
}

// Calls f(srcVector, dstVector) on the float or int storage.
template <class F>
void onStorage(const TensorData& x, TensorData& y, F f) {
    if (x.isFloat()) f(x.floats, y.floats);
    else f(x.ints, y.ints);
}

TensorData reshaped(const TensorData& x, std::vector<int64_t> shape) {
    TensorData y = x;
    y.shape = std::move(shape);
    return y;
}

// Axes from attribute (older opsets) or from input `slot` (newer); empty when neither is given.
std::vector<int64_t> axesFrom(const KernelContext& c, size_t slot, const char* attr = "axes") {
    if (c.hasInput(slot)) return toInts(c.input(slot));
    return c.node.attrInts(attr);
}

void concatOp(KernelContext& c) {
    const TensorData* first = nullptr;
    for (auto* t : c.in)
        if (t) {
            first = t;
            break;
        }
    if (!first) c.fail("no inputs");
    const int64_t rank = static_cast<int64_t>(first->shape.size());
    const int64_t axis = normAxis(c, c.node.attrInt("axis", 0), rank);
    std::vector<int64_t> outShape = first->shape;
    outShape[axis] = 0;
    for (auto* t : c.in) {
        if (!t) continue;
        if (static_cast<int64_t>(t->shape.size()) != rank || t->isFloat() != first->isFloat())
            c.fail("inputs differ in rank or type");
        for (int64_t d = 0; d < rank; ++d)
            if (d != axis && t->shape[d] != first->shape[d])
                c.fail("shapes " + shapeStr(first->shape) + " and " + shapeStr(t->shape) + " differ off the axis");
        outShape[axis] += t->shape[axis];
    }
    TensorData y = first->isFloat() ? makeFloatUninit(outShape, first->dtype) : makeInt(outShape, first->dtype);
    const int64_t outer = std::accumulate(outShape.begin(), outShape.begin() + axis, int64_t{1}, std::multiplies<>());
    const int64_t inner = std::accumulate(outShape.begin() + axis + 1, outShape.end(), int64_t{1}, std::multiplies<>());
    int64_t offset = 0;
    for (auto* t : c.in) {
        if (!t) continue;
        const int64_t chunk = t->shape[axis] * inner;
        onStorage(*t, y, [&](const auto& src, auto& dst) {
            for (int64_t o = 0; o < outer; ++o)
                std::copy(src.begin() + o * chunk, src.begin() + (o + 1) * chunk,
                          dst.begin() + o * outShape[axis] * inner + offset);
        });
        offset += chunk;
    }
    c.out[0] = std::move(y);
}

void splitOp(KernelContext& c) {
    const TensorData& x = c.input(0);
    const int64_t rank = static_cast<int64_t>(x.shape.size());
    const int64_t axis = normAxis(c, c.node.attrInt("axis", 0), rank);
    std::vector<int64_t> parts = c.hasInput(1) ? toInts(c.input(1)) : c.node.attrInts("split");
    const int64_t nout = static_cast<int64_t>(c.out.size());
    if (parts.empty()) {
        if (x.shape[axis] % nout != 0)
            c.fail("dimension " + std::to_string(x.shape[axis]) + " does not split into " + std::to_string(nout) + " equal parts");
        parts.assign(nout, x.shape[axis] / nout);
    }
    if (static_cast<int64_t>(parts.size()) != nout ||
        std::accumulate(parts.begin(), parts.end(), int64_t{0}) != x.shape[axis])
        c.fail("split sizes do not add up to dimension " + std::to_string(x.shape[axis]));
    const int64_t outer = std::accumulate(x.shape.begin(), x.shape.begin() + axis, int64_t{1}, std::multiplies<>());
    const int64_t inner = std::accumulate(x.shape.begin() + axis + 1, x.shape.end(), int64_t{1}, std::multiplies<>());
    int64_t offset = 0;
    for (int64_t k = 0; k < nout; ++k) {
        std::vector<int64_t> s = x.shape;
        s[axis] = parts[k];
        TensorData y = makeLike(x, s);
        const int64_t chunk = parts[k] * inner;
        onStorage(x, y, [&](const auto& src, auto& dst) {
            for (int64_t o = 0; o < outer; ++o)
                std::copy(src.begin() + o * x.shape[axis] * inner + offset,
                          src.begin() + o * x.shape[axis] * inner + offset + chunk, dst.begin() + o * chunk);
        });
        offset += chunk;
        c.out[k] = std::move(y);
    }
}

// Generic strided gather: out[i] = in[base + sum idx_d * stride_d] over outShape.
template <class V>
void stridedCopy(const V& src, V& dst, const std::vector<int64_t>& outShape, int64_t base,
                 const std::vector<int64_t>& strides) {
    const size_t r = outShape.size();
    const int64_t total = numel(outShape);
    if (total == 0) return;
    if (r == 0) {
        dst[0] = src[base];
        return;
    }
    std::vector<int64_t> idx(r, 0);
    int64_t off = base;
    const int64_t inner = outShape[r - 1], is = strides[r - 1];
    for (int64_t o = 0; o < total; o += inner) {
        for (int64_t j = 0; j < inner; ++j) dst[o + j] = src[off + j * is];
        for (size_t d = r - 1; d-- > 0;) {
            off += strides[d];
            if (++idx[d] < outShape[d]) break;
            off -= strides[d] * outShape[d];
            idx[d] = 0;
        }
    }
}

void sliceOp(KernelContext& c) {
    const TensorData& x = c.input(0);
    const int64_t rank = static_cast<int64_t>(x.shape.size());
    std::vector<int64_t> starts, ends, axes, steps;
    if (c.hasInput(1)) {
        starts = toInts(c.input(1));
        ends = toInts(c.input(2));
        if (c.hasInput(3)) axes = toInts(c.input(3));
        if (c.hasInput(4)) steps = toInts(c.input(4));
    } else {
        starts = c.node.attrInts("starts");
        ends = c.node.attrInts("ends");
        axes = c.node.attrInts("axes");
    }
    if (starts.size() != ends.size()) c.fail("starts and ends differ in length");
    if (axes.empty())
        for (size_t i = 0; i < starts.size(); ++i) axes.push_back(static_cast<int64_t>(i));
    if (steps.empty()) steps.assign(starts.size(), 1);
    if (axes.size() != starts.size() || steps.size() != starts.size()) c.fail("axes/steps length mismatch");
    std::vector<int64_t> begin(rank, 0), step(rank, 1), outShape = x.shape;
    for (size_t i = 0; i < starts.size(); ++i) {
        const int64_t a = normAxis(c, axes[i], rank), dim = x.shape[a], st = steps[i];
        if (st == 0) c.fail("step 0");
        int64_t s = starts[i], e = ends[i];
        if (s < 0) s += dim;
        if (e < 0) e += dim;
        if (st > 0) {
            s = std::clamp<int64_t>(s, 0, dim);
            e = std::clamp<int64_t>(e, 0, dim);
        } else {
            s = std::clamp<int64_t>(s, 0, dim - 1);
            e = std::clamp<int64_t>(e, -1, dim - 1);
        }
        const int64_t len = st > 0 ? (e - s + st - 1) / st : (s - e + (-st) - 1) / (-st);
        begin[a] = s;
        step[a] = st;
        outShape[a] = std::max<int64_t>(0, len);
    }
    const auto cs = contiguousStrides(x.shape);
    int64_t base = 0;
    std::vector<int64_t> strides(rank);
    for (int64_t d = 0; d < rank; ++d) {
        base += begin[d] * cs[d];
        strides[d] = cs[d] * step[d];
    }
    TensorData y = makeLike(x, outShape);
    onStorage(x, y, [&](const auto& src, auto& dst) { stridedCopy(src, dst, outShape, base, strides); });
    c.out[0] = std::move(y);
}

void reshapeOp(KernelContext& c) {
    const TensorData& x = c.input(0);
    std::vector<int64_t> shape = c.hasInput(1) ? toInts(c.input(1)) : c.node.attrInts("shape");
    const bool allowZero = c.node.attrInt("allowzero", 0) != 0;
    int64_t known = 1, inferAt = -1;
    for (size_t i = 0; i < shape.size(); ++i) {
        if (shape[i] == 0 && !allowZero) {
            if (i >= x.shape.size()) c.fail("0 in shape refers past the input rank");
            shape[i] = x.shape[i];
        }
        if (shape[i] == -1) {
            if (inferAt >= 0) c.fail("more than one -1 in shape");
            inferAt = static_cast<int64_t>(i);
        } else {
            known *= shape[i];
        }
    }
    const int64_t total = numel(x.shape);
    if (inferAt >= 0) {
        if (known == 0 || total % known != 0) c.fail("cannot infer -1 reshaping " + shapeStr(x.shape));
        shape[inferAt] = total / known;
    }
    if (numel(shape) != total) c.fail("cannot reshape " + shapeStr(x.shape) + " to " + shapeStr(shape));
    c.out[0] = reshaped(x, shape);
}

void flattenOp(KernelContext& c) {
    const TensorData& x = c.input(0);
    const int64_t rank = static_cast<int64_t>(x.shape.size());
    int64_t axis = c.node.attrInt("axis", 1);
    if (axis < 0) axis += rank;
    if (axis < 0 || axis > rank) c.fail("axis out of range");
    const int64_t outer = std::accumulate(x.shape.begin(), x.shape.begin() + axis, int64_t{1}, std::multiplies<>());
    c.out[0] = reshaped(x, {outer, numel(x.shape) / std::max<int64_t>(outer, 1)});
    if (outer == 0) c.out[0].shape[1] = std::accumulate(x.shape.begin() + axis, x.shape.end(), int64_t{1}, std::multiplies<>());
}

void transposeOp(KernelContext& c) {
    const TensorData& x = c.input(0);
    const int64_t rank = static_cast<int64_t>(x.shape.size());
    std::vector<int64_t> perm = c.node.attrInts("perm");
    if (perm.empty())
        for (int64_t i = rank - 1; i >= 0; --i) perm.push_back(i);
    if (static_cast<int64_t>(perm.size()) != rank) c.fail("perm has the wrong length");
    const auto cs = contiguousStrides(x.shape);
    std::vector<int64_t> outShape(rank), strides(rank);
    for (int64_t i = 0; i < rank; ++i) {
        const int64_t p = normAxis(c, perm[i], rank);
        outShape[i] = x.shape[p];
        strides[i] = cs[p];
    }
    TensorData y = makeLike(x, outShape);
    onStorage(x, y, [&](const auto& src, auto& dst) { stridedCopy(src, dst, outShape, 0, strides); });
    c.out[0] = std::move(y);
}

void squeezeOp(KernelContext& c) {
    const TensorData& x = c.input(0);
    const int64_t rank = static_cast<int64_t>(x.shape.size());
    auto axes = axesFrom(c, 1);
    std::vector<bool> drop(rank, false);
    if (axes.empty()) {
        for (int64_t i = 0; i < rank; ++i) drop[i] = x.shape[i] == 1;
    } else {
        for (auto a : axes) {
            const int64_t n = normAxis(c, a, rank);
            if (x.shape[n] != 1) c.fail("cannot squeeze axis " + std::to_string(a) + " of " + shapeStr(x.shape));
            drop[n] = true;
        }
    }
    std::vector<int64_t> s;
    for (int64_t i = 0; i < rank; ++i)
        if (!drop[i]) s.push_back(x.shape[i]);
    c.out[0] = reshaped(x, s);
}

void unsqueezeOp(KernelContext& c) {
    const TensorData& x = c.input(0);
    auto axes = axesFrom(c, 1);
    const int64_t outRank = static_cast<int64_t>(x.shape.size() + axes.size());
    std::vector<bool> insert(outRank, false);
    for (auto a : axes) {
        const int64_t n = normAxis(c, a, outRank);
        if (insert[n]) c.fail("axis repeated");
        insert[n] = true;
    }
    std::vector<int64_t> s;
    size_t k = 0;
    for (int64_t i = 0; i < outRank; ++i) s.push_back(insert[i] ? 1 : x.shape[k++]);
    c.out[0] = reshaped(x, s);
}

void shapeOp(KernelContext& c) {
    const TensorData& x = c.input(0);
    const int64_t rank = static_cast<int64_t>(x.shape.size());
    int64_t start = c.node.attrInt("start", 0), end = c.node.attrInt("end", rank);
    if (start < 0) start += rank;
    if (end < 0) end += rank;
    start = std::clamp<int64_t>(start, 0, rank);
    end = std::clamp<int64_t>(end, 0, rank);
    TensorData y = makeInt({std::max<int64_t>(0, end - start)}, DType::Int64);
    for (int64_t i = start; i < end; ++i) y.ints[i - start] = x.shape[i];
    c.out[0] = std::move(y);
}

void gatherOp(KernelContext& c) {
    const TensorData& x = c.input(0);
    const TensorData& ind = c.input(1);
    if (ind.isFloat()) c.fail("indices must be integers");
    const int64_t rank = static_cast<int64_t>(x.shape.size());
    const int64_t axis = normAxis(c, c.node.attrInt("axis", 0), rank);
    std::vector<int64_t> outShape(x.shape.begin(), x.shape.begin() + axis);
    outShape.insert(outShape.end(), ind.shape.begin(), ind.shape.end());
    outShape.insert(outShape.end(), x.shape.begin() + axis + 1, x.shape.end());
    const int64_t outer = std::accumulate(x.shape.begin(), x.shape.begin() + axis, int64_t{1}, std::multiplies<>());
    const int64_t inner = std::accumulate(x.shape.begin() + axis + 1, x.shape.end(), int64_t{1}, std::multiplies<>());
    const int64_t dim = x.shape[axis], ni = static_cast<int64_t>(ind.ints.size());
    TensorData y = makeLike(x, outShape);
    onStorage(x, y, [&](const auto& src, auto& dst) {
        for (int64_t o = 0; o < outer; ++o)
            for (int64_t k = 0; k < ni; ++k) {
                int64_t i = ind.ints[k];
                if (i < 0) i += dim;
                if (i < 0 || i >= dim) c.fail("index " + std::to_string(ind.ints[k]) + " out of range for dimension " + std::to_string(dim));
                std::copy(src.begin() + (o * dim + i) * inner, src.begin() + (o * dim + i + 1) * inner,
                          dst.begin() + (o * ni + k) * inner);
            }
    });
    c.out[0] = std::move(y);
}

void constantOfShapeOp(KernelContext& c) {
    const auto shape = toInts(c.input(0));
    for (auto d : shape)
        if (d < 0) c.fail("negative dimension in " + shapeStr(shape));
    const Attribute* a = c.node.attr("value");
    const TensorData* v = a ? std::get_if<TensorData>(&a->value) : nullptr;
    if (v && v->elementCount() != 1) c.fail("value must hold exactly one element");
    if (!v || v->isFloat()) {
        TensorData y = makeFloat(shape, v ? v->dtype : DType::Float32);
        std::fill(y.floats.begin(), y.floats.end(), v ? v->floats.at(0) : 0.f);
        c.out[0] = std::move(y);
    } else {
        TensorData y = makeInt(shape, v->dtype);
        std::fill(y.ints.begin(), y.ints.end(), v->ints.at(0));
        c.out[0] = std::move(y);
    }
}

// Range(start, limit, delta): ceil((limit - start) / delta) values, of the inputs' type.
void rangeOp(KernelContext& c) {
    const TensorData& start = c.input(0);
    const TensorData& limit = c.input(1);
    const TensorData& delta = c.input(2);
    if (start.elementCount() != 1 || limit.elementCount() != 1 || delta.elementCount() != 1)
        c.fail("start, limit and delta must be scalars");
    if (start.isFloat() != limit.isFloat() || start.isFloat() != delta.isFloat()) c.fail("inputs differ in type");
    const bool fl = start.isFloat();
    auto value = [fl](const TensorData& t) { return fl ? static_cast<double>(t.floats[0]) : static_cast<double>(t.ints[0]); };
    const double s = value(start), d = value(delta);
    if (d == 0) c.fail("delta is 0");
    const double count = std::max(0.0, std::ceil((value(limit) - s) / d));
    if (!(count < double(int64_t(1) << 40))) c.fail("would produce " + std::to_string(count) + " values");
    const auto n = static_cast<int64_t>(count);
    if (fl) {
        TensorData y = makeFloat({n}, start.dtype);
        const float fs = start.floats[0], fd = delta.floats[0];
        for (int64_t i = 0; i < n; ++i) y.floats[i] = fs + static_cast<float>(i) * fd;
        c.out[0] = std::move(y);
    } else {
        TensorData y = makeInt({n}, start.dtype);
        for (int64_t i = 0; i < n; ++i) y.ints[i] = wrapInt(y.dtype, start.ints[0] + i * delta.ints[0]);
        c.out[0] = std::move(y);
    }
}

std::string checkPad(const Graph&, const Node& n) {
    const std::string mode = n.attrString("mode", "constant");
    if (mode != "constant" && mode != "reflect" && mode != "edge") return "mode " + mode;
    if (n.inputs.size() > 3 && n.inputs[3] >= 0) return "axes input (opset 18)";
    return {};
}

void padOp(KernelContext& c) {
    const TensorData& x = c.input(0);
    const int64_t rank = static_cast<int64_t>(x.shape.size());
    std::vector<int64_t> pads = c.hasInput(1) ? toInts(c.input(1)) : c.node.attrInts("pads");
    if (static_cast<int64_t>(pads.size()) != 2 * rank) c.fail("pads must have " + std::to_string(2 * rank) + " values");
    const std::string mode = c.node.attrString("mode", "constant");
    double value = c.node.attrFloat("value", 0.f);
    if (c.hasInput(2)) {
        const TensorData& v = c.input(2);
        if (v.elementCount() > 0) value = v.isFloat() ? v.floats[0] : static_cast<double>(v.ints[0]);
    }
    std::vector<int64_t> outShape(rank);
    for (int64_t d = 0; d < rank; ++d) {
        outShape[d] = x.shape[d] + pads[d] + pads[rank + d];
        if (outShape[d] < 0) c.fail("pads remove more than dimension " + std::to_string(d) + " holds");
        if (mode != "constant" && x.shape[d] == 0 && outShape[d] > 0) c.fail(mode + " padding of an empty dimension");
        if (mode == "reflect" && (pads[d] >= x.shape[d] || pads[rank + d] >= x.shape[d]) && (pads[d] > 0 || pads[rank + d] > 0) && x.shape[d] < 2)
            c.fail("reflect padding needs at least 2 elements");
    }
    const auto cs = contiguousStrides(x.shape);
    TensorData y = makeLike(x, outShape);
    auto srcIndex = [&](int64_t d, int64_t o) -> int64_t {  // -1: constant
        int64_t i = o - pads[d];
        const int64_t n = x.shape[d];
        if (i >= 0 && i < n) return i;
        if (mode == "constant") return -1;
        if (mode == "edge") return std::clamp<int64_t>(i, 0, n - 1);
        const int64_t period = 2 * (n - 1);  // reflect without repeating the edge
        i = ((i % period) + period) % period;
        return i < n ? i : period - i;
    };
    // Per-dim source index tables, then one walk over the output.
    std::vector<std::vector<int64_t>> table(rank);
    for (int64_t d = 0; d < rank; ++d) {
        table[d].resize(outShape[d]);
        for (int64_t o = 0; o < outShape[d]; ++o) table[d][o] = srcIndex(d, o);
    }
    const int64_t total = numel(outShape);
    std::vector<int64_t> idx(rank, 0);
    onStorage(x, y, [&](const auto& src, auto& dst) {
        using T = typename std::decay_t<decltype(dst)>::value_type;
        for (int64_t o = 0; o < total; ++o) {
            int64_t off = 0;
            bool constant = false;
            for (int64_t d = 0; d < rank; ++d) {
                const int64_t s = table[d][idx[d]];
                if (s < 0) {
                    constant = true;
                    break;
                }
                off += s * cs[d];
            }
            dst[o] = constant ? static_cast<T>(value) : src[off];
            for (int64_t d = rank; d-- > 0;) {
                if (++idx[d] < outShape[d]) break;
                idx[d] = 0;
            }
        }
    });
    c.out[0] = std::move(y);
}

void expandOp(KernelContext& c) {
    const TensorData& x = c.input(0);
    const auto target = toInts(c.input(1));
    const auto outShape = broadcastShapes(c, x.shape, target);
    const auto strides = broadcastStrides(x.shape, outShape.size());
    TensorData y = makeLike(x, outShape);
    onStorage(x, y, [&](const auto& src, auto& dst) { stridedCopy(src, dst, outShape, 0, strides); });
    c.out[0] = std::move(y);
}

}  // namespace

void registerShapeOps(Registry& r) {
    r["Concat"] = {concatOp, nullptr, false};
    r["Split"] = {splitOp, nullptr, false};
    r["Slice"] = {sliceOp, nullptr, false};
    r["Reshape"] = {reshapeOp, nullptr, false};
    r["Flatten"] = {flattenOp, nullptr, false};
    r["Transpose"] = {transposeOp, nullptr, false};
    r["Squeeze"] = {squeezeOp, nullptr, false};
    r["Unsqueeze"] = {unsqueezeOp, nullptr, false};
    r["Shape"] = {shapeOp, nullptr, false};
    r["Gather"] = {gatherOp, nullptr, false};
    r["ConstantOfShape"] = {constantOfShapeOp, nullptr, false};
    r["Range"] = {rangeOp, nullptr, false};
    r["Pad"] = {padOp, checkPad, false};
    r["Expand"] = {expandOp, nullptr, false};
}

}  // namespace autosplit::exec
