// MaxPool / AveragePool (1-D..3-D, pads, strides, dilations, ceil_mode, auto_pad,
// count_include_pad) and GlobalAveragePool / GlobalMaxPool.
#include "exec_internal.h"

#include <algorithm>
#include <limits>
#include <vector>

namespace autosplit::exec {

namespace {

struct PoolGeom {
    int64_t in[3] = {1, 1, 1}, k[3] = {1, 1, 1}, s[3] = {1, 1, 1}, d[3] = {1, 1, 1};
    int64_t pb[3] = {0, 0, 0}, pe[3] = {0, 0, 0}, out[3] = {1, 1, 1};
};

std::string checkPool(const Graph&, const Node& n) {
    if (n.outputs.size() > 1 && n.outputs[1] >= 0) return "Indices output";
    if (n.attrInt("storage_order", 0) != 0) return "storage_order=1";
    const std::string ap = n.attrString("auto_pad", "NOTSET");
    if (ap != "NOTSET" && ap != "VALID" && ap != "SAME_UPPER" && ap != "SAME_LOWER") return "auto_pad " + ap;
    if (n.attrInts("kernel_shape").empty()) return "kernel_shape is missing";
    return {};
}

PoolGeom poolGeom(const KernelContext& c, const TensorData& x) {
    const int64_t nsp = static_cast<int64_t>(x.shape.size()) - 2;
    if (nsp < 1 || nsp > 3) c.fail("input " + shapeStr(x.shape) + " must be 3-D to 5-D");
    const int off = static_cast<int>(3 - nsp);
    PoolGeom g;
    const auto ks = c.node.attrInts("kernel_shape"), st = c.node.attrInts("strides"), dl = c.node.attrInts("dilations"),
               pads = c.node.attrInts("pads");
    if (static_cast<int64_t>(ks.size()) != nsp) c.fail("kernel_shape has the wrong length");
    if ((!st.empty() && static_cast<int64_t>(st.size()) != nsp) || (!dl.empty() && static_cast<int64_t>(dl.size()) != nsp) ||
        (!pads.empty() && static_cast<int64_t>(pads.size()) != 2 * nsp))
        c.fail("strides/dilations/pads have the wrong length");
    const bool ceilMode = c.node.attrInt("ceil_mode", 0) != 0;
    const std::string autoPad = c.node.attrString("auto_pad", "NOTSET");
    for (int64_t i = 0; i < nsp; ++i) {
        const int a = off + static_cast<int>(i);
        g.in[a] = x.shape[2 + i];
        g.k[a] = ks[i];
        g.s[a] = st.empty() ? 1 : st[i];
        g.d[a] = dl.empty() ? 1 : dl[i];
        g.pb[a] = pads.empty() ? 0 : pads[i];
        g.pe[a] = pads.empty() ? 0 : pads[nsp + i];
        if (g.k[a] < 1 || g.s[a] < 1 || g.d[a] < 1) c.fail("kernel, strides and dilations must be positive");
        const int64_t dk = (g.k[a] - 1) * g.d[a] + 1;
        if (autoPad == "SAME_UPPER" || autoPad == "SAME_LOWER") {
            g.out[a] = (g.in[a] + g.s[a] - 1) / g.s[a];
            const int64_t total = std::max<int64_t>(0, (g.out[a] - 1) * g.s[a] + dk - g.in[a]);
            g.pb[a] = autoPad == "SAME_UPPER" ? total / 2 : total - total / 2;
            g.pe[a] = total - g.pb[a];
        } else if (autoPad == "VALID") {
            g.pb[a] = g.pe[a] = 0;
            if (g.in[a] < dk) c.fail("kernel is larger than the input");
            g.out[a] = (g.in[a] - dk) / g.s[a] + 1;
        } else {
            const int64_t span = g.in[a] + g.pb[a] + g.pe[a] - dk;
            if (span < 0) c.fail("kernel is larger than the padded input");
            g.out[a] = (ceilMode ? (span + g.s[a] - 1) / g.s[a] : span / g.s[a]) + 1;
            // A window must start inside the input or the leading padding.
            if (ceilMode && (g.out[a] - 1) * g.s[a] >= g.in[a] + g.pb[a]) --g.out[a];
        }
    }
    return g;
}

std::vector<int64_t> outShapeOf(const TensorData& x, const PoolGeom& g) {
    std::vector<int64_t> s{x.shape[0], x.shape[1]};
    const size_t nsp = x.shape.size() - 2;
    for (size_t i = 0; i < nsp; ++i) s.push_back(g.out[3 - nsp + i]);
    return s;
}

template <class T>
void maxPoolImpl(ThreadPool& pool, const PoolGeom& g, const T* x, T* y, int64_t planes) {
    const int64_t inSize = g.in[0] * g.in[1] * g.in[2], outSize = g.out[0] * g.out[1] * g.out[2];
    if (g.d[0] == 1 && g.d[1] == 1 && g.d[2] == 1) {
        // Separable: per output row, the max over the window's input rows, then over each
        // window's columns: the row padded with lowest() on both sides, one pass over the row per
        // kernel column (vectorizes), every s-th position kept. Window elements are compared in
        // the same order as below and padding never wins, so the result (NaN skipped, the first
        // of equal values kept) is the same.
        const int64_t padLeft = g.pb[2], padRight = std::max<int64_t>(0, (g.out[2] - 1) * g.s[2] + g.k[2] - g.pb[2] - g.in[2]);
        const int64_t reach = (g.out[2] - 1) * g.s[2] + 1;  // window starts, at stride 1
        pool.parallelFor(planes, 1, [&](int64_t p0, int64_t p1) {
            std::vector<T> padded(static_cast<size_t>(padLeft + g.in[2] + padRight), std::numeric_limits<T>::lowest());
            std::vector<T> starts(g.s[2] == 1 ? 0 : static_cast<size_t>(reach));
            T* cm = padded.data() + padLeft;
            for (int64_t p = p0; p < p1; ++p) {
                const T* xp = x + p * inSize;
                T* yp = y + p * outSize;
                for (int64_t oz = 0; oz < g.out[0]; ++oz)
                    for (int64_t oy = 0; oy < g.out[1]; ++oy) {
                        std::fill(cm, cm + g.in[2], std::numeric_limits<T>::lowest());
                        for (int64_t kz = 0; kz < g.k[0]; ++kz) {
                            const int64_t iz = oz * g.s[0] - g.pb[0] + kz;
                            if (iz < 0 || iz >= g.in[0]) continue;
                            for (int64_t ky = 0; ky < g.k[1]; ++ky) {
                                const int64_t iy = oy * g.s[1] - g.pb[1] + ky;
                                if (iy < 0 || iy >= g.in[1]) continue;
                                const T* row = xp + (iz * g.in[1] + iy) * g.in[2];
                                for (int64_t ix = 0; ix < g.in[2]; ++ix) cm[ix] = row[ix] > cm[ix] ? row[ix] : cm[ix];
                            }
                        }
                        T* yr = yp + (oz * g.out[1] + oy) * g.out[2];
                        T* h = g.s[2] == 1 ? yr : starts.data();
                        const T* win = padded.data();  // window j covers win[j, j + k)
                        std::copy(win, win + reach, h);
                        for (int64_t kx = 1; kx < g.k[2]; ++kx)
                            for (int64_t j = 0; j < reach; ++j) h[j] = win[j + kx] > h[j] ? win[j + kx] : h[j];
                        if (g.s[2] != 1)
                            for (int64_t ox = 0; ox < g.out[2]; ++ox) yr[ox] = h[ox * g.s[2]];
                    }
            }
        });
        return;
    }
    pool.parallelFor(planes, 1, [&](int64_t p0, int64_t p1) {
        for (int64_t p = p0; p < p1; ++p) {
            const T* xp = x + p * inSize;
            T* yp = y + p * outSize;
            for (int64_t oz = 0; oz < g.out[0]; ++oz)
                for (int64_t oy = 0; oy < g.out[1]; ++oy)
                    for (int64_t ox = 0; ox < g.out[2]; ++ox) {
                        T best = std::numeric_limits<T>::lowest();
                        for (int64_t kz = 0; kz < g.k[0]; ++kz) {
                            const int64_t iz = oz * g.s[0] - g.pb[0] + kz * g.d[0];
                            if (iz < 0 || iz >= g.in[0]) continue;
                            for (int64_t ky = 0; ky < g.k[1]; ++ky) {
                                const int64_t iy = oy * g.s[1] - g.pb[1] + ky * g.d[1];
                                if (iy < 0 || iy >= g.in[1]) continue;
                                const T* row = xp + (iz * g.in[1] + iy) * g.in[2];
                                for (int64_t kx = 0; kx < g.k[2]; ++kx) {
                                    const int64_t ix = ox * g.s[2] - g.pb[2] + kx * g.d[2];
                                    if (ix >= 0 && ix < g.in[2] && row[ix] > best) best = row[ix];
                                }
                            }
                        }
                        yp[(oz * g.out[1] + oy) * g.out[2] + ox] = best;
                    }
        }
    });
}

void maxPoolOp(KernelContext& c) {
    const TensorData& x = c.input(0);
    const PoolGeom g = poolGeom(c, x);
    const int64_t planes = x.shape[0] * x.shape[1];
    if (x.isFloat()) {
        TensorData y = makeFloatUninit(outShapeOf(x, g), x.dtype);
        maxPoolImpl<float>(c.pool, g, x.floats.data(), y.floats.data(), planes);
        c.out[0] = std::move(y);
    } else {
        TensorData y = makeInt(outShapeOf(x, g), x.dtype);
        maxPoolImpl<int64_t>(c.pool, g, x.ints.data(), y.ints.data(), planes);
        c.out[0] = std::move(y);
    }
}

void avgPoolOp(KernelContext& c) {
    const TensorData& x = c.input(0);
    if (!x.isFloat()) c.fail("input must be float");
    const PoolGeom g = poolGeom(c, x);
    const bool includePad = c.node.attrInt("count_include_pad", 0) != 0;
    TensorData y = makeFloatUninit(outShapeOf(x, g), x.dtype);
    const int64_t planes = x.shape[0] * x.shape[1];
    const int64_t inSize = g.in[0] * g.in[1] * g.in[2], outSize = g.out[0] * g.out[1] * g.out[2];
    // Window [start, start+k*d) clipped to the input (sum) and, for the divisor, either to the
    // input or to the padded input.
    auto range = [&](int a, int64_t o, int64_t& lo, int64_t& hi, int64_t& cnt) {
        const int64_t start = o * g.s[a] - g.pb[a], end = start + (g.k[a] - 1) * g.d[a] + 1;
        lo = start;
        hi = end;
        const int64_t clo = includePad ? std::max<int64_t>(start, -g.pb[a]) : std::max<int64_t>(start, 0);
        const int64_t chi = includePad ? std::min<int64_t>(end, g.in[a] + g.pe[a]) : std::min<int64_t>(end, g.in[a]);
        cnt = 0;
        for (int64_t i = start; i < end; i += g.d[a])
            if (i >= clo && i < chi) ++cnt;
    };
    c.pool.parallelFor(planes, 1, [&](int64_t p0, int64_t p1) {
        for (int64_t p = p0; p < p1; ++p) {
            const float* xp = x.floats.data() + p * inSize;
            float* yp = y.floats.data() + p * outSize;
            for (int64_t oz = 0; oz < g.out[0]; ++oz) {
                int64_t z0, z1, cz;
                range(0, oz, z0, z1, cz);
                for (int64_t oy = 0; oy < g.out[1]; ++oy) {
                    int64_t y0, y1, cy;
                    range(1, oy, y0, y1, cy);
                    for (int64_t ox = 0; ox < g.out[2]; ++ox) {
                        int64_t x0, x1, cx;
                        range(2, ox, x0, x1, cx);
                        float sum = 0.f;
                        for (int64_t iz = z0; iz < z1; iz += g.d[0]) {
                            if (iz < 0 || iz >= g.in[0]) continue;
                            for (int64_t iy = y0; iy < y1; iy += g.d[1]) {
                                if (iy < 0 || iy >= g.in[1]) continue;
                                const float* row = xp + (iz * g.in[1] + iy) * g.in[2];
                                for (int64_t ix = x0; ix < x1; ix += g.d[2])
                                    if (ix >= 0 && ix < g.in[2]) sum += row[ix];
                            }
                        }
                        const int64_t cnt = cz * cy * cx;
                        yp[(oz * g.out[1] + oy) * g.out[2] + ox] = cnt > 0 ? sum / static_cast<float>(cnt) : 0.f;
                    }
                }
            }
        }
    });
    c.out[0] = std::move(y);
}

template <bool isMax>
void globalPoolOp(KernelContext& c) {
    const TensorData& x = c.input(0);
    if (!x.isFloat()) c.fail("input must be float");
    if (x.shape.size() < 3) c.fail("input " + shapeStr(x.shape) + " has no spatial dims");
    std::vector<int64_t> s{x.shape[0], x.shape[1]};
    for (size_t i = 2; i < x.shape.size(); ++i) s.push_back(1);
    TensorData y = makeFloat(s, x.dtype);
    const int64_t planes = x.shape[0] * x.shape[1], inner = numel(x.shape) / std::max<int64_t>(planes, 1);
    c.pool.parallelFor(planes, std::max<int64_t>(1, 4096 / std::max<int64_t>(inner, 1)), [&](int64_t p0, int64_t p1) {
        for (int64_t p = p0; p < p1; ++p) {
            const float* xp = x.floats.data() + p * inner;
            if constexpr (isMax) {
                float m = -std::numeric_limits<float>::infinity();
                for (int64_t i = 0; i < inner; ++i) m = std::max(m, xp[i]);
                y.floats[p] = m;
            } else {
                // Eight partial sums in double (vectorizable; one chain would wait on each add).
                double part[8] = {};
                int64_t i = 0;
                for (; i + 8 <= inner; i += 8)
                    for (int l = 0; l < 8; ++l) part[l] += xp[i + l];
                double sum = 0.0;
                for (; i < inner; ++i) sum += xp[i];
                for (double v : part) sum += v;
                y.floats[p] = static_cast<float>(sum / static_cast<double>(inner));
            }
        }
    });
    c.out[0] = std::move(y);
}

}  // namespace

void registerPoolOps(Registry& r) {
    r["MaxPool"] = {maxPoolOp, checkPool, false};
    r["AveragePool"] = {avgPoolOp, checkPool, false};
    r["GlobalAveragePool"] = {globalPoolOp<false>, nullptr, false};
    r["GlobalMaxPool"] = {globalPoolOp<true>, nullptr, false};
}

}  // namespace autosplit::exec
