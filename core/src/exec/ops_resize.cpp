// Resize (opset 10..17: nearest / linear / cubic, every coordinate_transformation_mode and
// nearest_mode) and Upsample. Interpolation is separable, so it runs one axis at a time.
#include "exec_internal.h"

#include <algorithm>
#include <cmath>

namespace autosplit::exec {

namespace {

const char* const kCoordModes[] = {"half_pixel", "pytorch_half_pixel", "align_corners", "asymmetric",
                                   "tf_half_pixel_for_nn", "tf_crop_and_resize"};
const char* const kNearestModes[] = {"round_prefer_floor", "round_prefer_ceil", "floor", "ceil"};

template <size_t N>
bool oneOf(const std::string& s, const char* const (&list)[N]) {
    return std::find(std::begin(list), std::end(list), s) != std::end(list);
}

std::string checkResize(const Graph& g, const Node& n) {
    const std::string mode = n.attrString("mode", "nearest");
    if (mode != "nearest" && mode != "linear" && mode != "cubic" && mode != "bilinear")
        return "mode " + mode;
    if (n.op == "Resize") {
        const std::string ct = n.attrString("coordinate_transformation_mode", "half_pixel");
        if (!oneOf(ct, kCoordModes)) return "coordinate_transformation_mode " + ct;
        const std::string nm = n.attrString("nearest_mode", "round_prefer_floor");
        if (!oneOf(nm, kNearestModes)) return "nearest_mode " + nm;
        if (n.attrInt("antialias", 0) != 0) return "antialias";
    }
    if (n.inputs.empty() || n.inputs[0] < 0 || !isFloating(g.tensors[n.inputs[0]].dtype)) return "only float input";
    return {};
}

struct Taps {
    bool extrapolate = false;
    int64_t idx[4] = {0, 0, 0, 0};
    float w[4] = {0, 0, 0, 0};
    int n = 0;
};

struct AxisPlan {
    int64_t inLen = 1, outLen = 1;
    float scale = 1.f;
    float roiStart = 0.f, roiEnd = 1.f;
};

// Every output reads one input element (nearest, nothing outside the input).
bool isGather(const std::vector<Taps>& taps) {
    return std::all_of(taps.begin(), taps.end(), [](const Taps& t) { return !t.extrapolate && t.n == 1; });
}

// One axis of a resize: out[.., j, ..] = sum_t w_t * in[.., idx_t, ..].
TensorData resizeAxis(ThreadPool& pool, const TensorData& x, size_t axis, const std::vector<Taps>& taps,
                      float extrapolation) {
    std::vector<int64_t> s = x.shape;
    const int64_t inLen = s[axis];
    s[axis] = static_cast<int64_t>(taps.size());
    TensorData y = makeFloatUninit(s, x.dtype);
    int64_t outer = 1, inner = 1;
    for (size_t d = 0; d < axis; ++d) outer *= s[d];
    for (size_t d = axis + 1; d < s.size(); ++d) inner *= s[d];
    const int64_t outLen = s[axis];
    if (inner == 1) {
        // The last axis: one gather per output element (a copy call per element costs several
        // times the gather itself).
        const bool nearest = isGather(taps);
        std::vector<int64_t> idx;
        if (nearest)
            for (const Taps& t : taps) idx.push_back(t.idx[0]);
        pool.parallelFor(outer, std::max<int64_t>(1, 16384 / std::max<int64_t>(1, outLen)), [&](int64_t o0, int64_t o1) {
            for (int64_t o = o0; o < o1; ++o) {
                const float* xo = x.floats.data() + o * inLen;
                float* yo = y.floats.data() + o * outLen;
                if (nearest) {
                    for (int64_t j = 0; j < outLen; ++j) yo[j] = xo[idx[j]];
                    continue;
                }
                for (int64_t j = 0; j < outLen; ++j) {
                    const Taps& t = taps[j];
                    if (t.extrapolate) {
                        yo[j] = extrapolation;
                        continue;
                    }
                    float acc = 0.f;
                    for (int k = 0; k < t.n; ++k) acc += t.w[k] * xo[t.idx[k]];
                    yo[j] = t.n == 1 ? xo[t.idx[0]] : acc;
                }
            }
        });
        return y;
    }
    pool.parallelFor(outer, std::max<int64_t>(1, 4096 / std::max<int64_t>(1, inner * outLen)), [&](int64_t o0, int64_t o1) {
        for (int64_t o = o0; o < o1; ++o) {
            const float* xo = x.floats.data() + o * inLen * inner;
            float* yo = y.floats.data() + o * outLen * inner;
            for (int64_t j = 0; j < outLen; ++j) {
                float* yr = yo + j * inner;
                const Taps& t = taps[j];
                if (t.extrapolate) {
                    std::fill(yr, yr + inner, extrapolation);
                    continue;
                }
                if (t.n == 1) {
                    std::copy(xo + t.idx[0] * inner, xo + (t.idx[0] + 1) * inner, yr);
                    continue;
                }
                std::fill(yr, yr + inner, 0.f);
                for (int k = 0; k < t.n; ++k) {
                    const float* xr = xo + t.idx[k] * inner;
                    const float wk = t.w[k];
                    for (int64_t i = 0; i < inner; ++i) yr[i] += wk * xr[i];
                }
            }
        }
    });
    return y;
}

// Nearest on the last two axes at once (an FPN's upsampling): each output row gathers its source
// row's columns, or copies the row above when both read the same source row, with no
// intermediate tensor between the axes. The same values as the two axis passes.
TensorData nearest2d(ThreadPool& pool, const TensorData& x, const std::vector<Taps>& rows, const std::vector<Taps>& cols) {
    std::vector<int64_t> s = x.shape;
    const size_t r = s.size();
    const int64_t inH = s[r - 2], inW = s[r - 1], outH = static_cast<int64_t>(rows.size()), outW = static_cast<int64_t>(cols.size());
    s[r - 2] = outH;
    s[r - 1] = outW;
    TensorData y = makeFloatUninit(s, x.dtype);
    int64_t planes = 1;
    for (size_t d = 0; d + 2 < r; ++d) planes *= s[d];
    std::vector<int64_t> idx(static_cast<size_t>(outW));
    for (int64_t j = 0; j < outW; ++j) idx[static_cast<size_t>(j)] = cols[static_cast<size_t>(j)].idx[0];
    pool.parallelFor(planes, std::max<int64_t>(1, 16384 / std::max<int64_t>(1, outH * outW)), [&](int64_t p0, int64_t p1) {
        for (int64_t p = p0; p < p1; ++p) {
            const float* xp = x.floats.data() + p * inH * inW;
            float* yp = y.floats.data() + p * outH * outW;
            for (int64_t oy = 0; oy < outH; ++oy) {
                float* yr = yp + oy * outW;
                const int64_t iy = rows[static_cast<size_t>(oy)].idx[0];
                if (oy > 0 && iy == rows[static_cast<size_t>(oy - 1)].idx[0]) {
                    std::copy(yr - outW, yr, yr);
                    continue;
                }
                const float* xr = xp + iy * inW;
                for (int64_t j = 0; j < outW; ++j) yr[j] = xr[idx[static_cast<size_t>(j)]];
            }
        }
    });
    return y;
}

void resizeImpl(KernelContext& c, bool legacy) {
    const TensorData& x = c.input(0);
    const size_t rank = x.shape.size();
    std::string mode = c.node.attrString("mode", "nearest");
    if (mode == "bilinear") mode = "linear";
    const std::string ct = legacy ? "asymmetric" : c.node.attrString("coordinate_transformation_mode", "half_pixel");
    const std::string nm = legacy ? "legacy" : c.node.attrString("nearest_mode", "round_prefer_floor");
    const float A = c.node.attrFloat("cubic_coeff_a", -0.75f);
    const bool excludeOutside = c.node.attrInt("exclude_outside", 0) != 0;
    const float extrapolation = c.node.attrFloat("extrapolation_value", 0.f);

    std::vector<float> scales, roi;
    std::vector<int64_t> sizes;
    if (c.node.op == "Upsample") {
        scales = c.hasInput(1) ? toFloats(c.input(1)) : c.node.attrFloats("scales");
    } else if (c.graph.opsetVersion > 0 && c.graph.opsetVersion < 11) {
        scales = toFloats(c.input(1));
    } else {
        if (c.hasInput(1)) roi = toFloats(c.input(1));
        if (c.hasInput(2)) scales = toFloats(c.input(2));
        if (c.hasInput(3)) sizes = toInts(c.input(3));
    }
    if (!sizes.empty() && !scales.empty()) c.fail("only one of scales and sizes may be given");
    if (sizes.empty() && scales.size() != rank) c.fail("scales must have " + std::to_string(rank) + " values");
    if (!sizes.empty() && sizes.size() != rank) c.fail("sizes must have " + std::to_string(rank) + " values");
    if (ct == "tf_crop_and_resize" && roi.size() != 2 * rank) c.fail("roi must have " + std::to_string(2 * rank) + " values");

    std::vector<std::pair<size_t, std::vector<Taps>>> axes;  // the axes that change, in order
    for (size_t a = 0; a < rank; ++a) {
        AxisPlan p;
        p.inLen = x.shape[a];
        if (!sizes.empty()) {
            p.outLen = sizes[a];
            p.scale = static_cast<float>(p.outLen) / static_cast<float>(p.inLen);
        } else {
            if (!(scales[a] > 0.f)) c.fail("scales must be positive");
            p.scale = scales[a];
            p.outLen = static_cast<int64_t>(std::floor(static_cast<double>(p.inLen) * p.scale));
        }
        if (p.outLen < 0) c.fail("negative output size");
        if (ct == "tf_crop_and_resize") {
            p.roiStart = roi[a];
            p.roiEnd = roi[rank + a];
        }
        if (p.outLen == p.inLen && p.scale == 1.f && ct != "tf_crop_and_resize") continue;  // identity axis
        std::vector<Taps> taps(static_cast<size_t>(p.outLen));
        const float inLenF = static_cast<float>(p.inLen), outLenF = static_cast<float>(p.outLen);
        for (int64_t j = 0; j < p.outLen; ++j) {
            const float jf = static_cast<float>(j);
            float xo;
            if (ct == "half_pixel") xo = (jf + 0.5f) / p.scale - 0.5f;
            else if (ct == "pytorch_half_pixel") xo = p.outLen > 1 ? (jf + 0.5f) / p.scale - 0.5f : 0.f;
            else if (ct == "align_corners") {
                // With scales, the reference uses the unrounded resized length in*scale.
                const float lenResized = sizes.empty() ? inLenF * p.scale : outLenF;
                xo = p.outLen == 1 ? 0.f : jf * (inLenF - 1.f) / (lenResized - 1.f);
            }
            else if (ct == "asymmetric") xo = jf / p.scale;
            else if (ct == "tf_half_pixel_for_nn") xo = (jf + 0.5f) / p.scale;
            else {  // tf_crop_and_resize
                xo = p.outLen > 1 ? p.roiStart * (inLenF - 1.f) + jf * (p.roiEnd - p.roiStart) * (inLenF - 1.f) / (outLenF - 1.f)
                                  : 0.5f * (p.roiStart + p.roiEnd) * (inLenF - 1.f);
                if (xo < 0.f || xo > inLenF - 1.f) {
                    taps[j].extrapolate = true;
                    continue;
                }
            }
            Taps& t = taps[j];
            auto clampIdx = [&](int64_t i) { return std::clamp<int64_t>(i, 0, p.inLen - 1); };
            if (mode == "nearest") {
                int64_t i;
                if (nm == "round_prefer_floor") i = (xo - std::floor(xo) == 0.5f) ? static_cast<int64_t>(std::floor(xo)) : static_cast<int64_t>(std::round(xo));
                else if (nm == "round_prefer_ceil") i = static_cast<int64_t>(std::round(xo));
                else if (nm == "floor") i = static_cast<int64_t>(std::floor(xo));
                else if (nm == "ceil") i = static_cast<int64_t>(std::ceil(xo));
                else i = p.scale < 1.f ? static_cast<int64_t>(std::ceil(xo)) : static_cast<int64_t>(xo);  // legacy Upsample
                t.n = 1;
                t.idx[0] = clampIdx(i);
                t.w[0] = 1.f;
            } else if (mode == "linear") {
                const float f = std::floor(xo);
                const float r = xo - f;
                const int64_t i0 = static_cast<int64_t>(f);
                t.n = 2;
                t.idx[0] = clampIdx(i0);
                t.idx[1] = clampIdx(i0 + 1);
                t.w[0] = 1.f - r;
                t.w[1] = r;
            } else {  // cubic (Keys, coefficient A)
                const float f = std::floor(xo);
                const float r = xo - f;
                const int64_t i0 = static_cast<int64_t>(f);
                const float d[4] = {r + 1.f, r, 1.f - r, 2.f - r};
                float wsum = 0.f;
                for (int k = 0; k < 4; ++k) {
                    const float z = d[k];
                    float w = z <= 1.f ? ((A + 2.f) * z - (A + 3.f)) * z * z + 1.f
                                       : ((A * z - 5.f * A) * z + 8.f * A) * z - 4.f * A;
                    const int64_t idx = i0 - 1 + k;
                    if (excludeOutside && (idx < 0 || idx >= p.inLen)) w = 0.f;
                    t.idx[k] = clampIdx(idx);
                    t.w[k] = w;
                    wsum += w;
                }
                if (excludeOutside && wsum != 0.f)
                    for (float& w : t.w) w /= wsum;
                t.n = 4;
            }
        }
        axes.emplace_back(a, std::move(taps));
    }
    if (rank >= 2 && axes.size() == 2 && axes[0].first == rank - 2 && axes[1].first == rank - 1 &&
        isGather(axes[0].second) && isGather(axes[1].second) && !axes[1].second.empty()) {
        c.out[0] = nearest2d(c.pool, x, axes[0].second, axes[1].second);
        return;
    }
    TensorData cur;
    const TensorData* src = &x;  // the input until the first axis that changes
    for (const auto& [a, taps] : axes) {
        cur = resizeAxis(c.pool, *src, a, taps, extrapolation);
        src = &cur;
    }
    c.out[0] = src == &x ? x : std::move(cur);
}

void resizeOp(KernelContext& c) {
    const bool legacy = c.graph.opsetVersion > 0 && c.graph.opsetVersion < 11;
    resizeImpl(c, legacy);
}
void upsampleOp(KernelContext& c) { resizeImpl(c, true); }

}  // namespace

void registerResizeOps(Registry& r) {
    r["Resize"] = {resizeOp, checkResize, false};
    r["Upsample"] = {upsampleOp, checkResize, false};
}

}  // namespace autosplit::exec
