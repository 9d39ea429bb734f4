// Conv (1-D..3-D, groups, depthwise, dilations, pads, strides, auto_pad) and ConvTranspose.
// 1-D and 2-D run as 3-D with unit leading spatial dims. Conv = packed GEMM whose B panels are
// filled straight from the input (im2col rows on demand), with the bias and fused activation in
// the GEMM epilogue; depthwise runs a vectorized direct kernel per channel (depthwise_kernels.h).
#include "exec_internal.h"
#include "depthwise_kernels.h"
#include "sgemm_kernels.h"

#include <algorithm>
#include <cstring>
#include <vector>

namespace autosplit::exec {

namespace {

struct Geom {
    int nsp = 0;  // spatial dims in the model (1..3)
    int64_t in[3] = {1, 1, 1}, k[3] = {1, 1, 1}, s[3] = {1, 1, 1}, d[3] = {1, 1, 1};
    int64_t pb[3] = {0, 0, 0}, pe[3] = {0, 0, 0}, out[3] = {1, 1, 1};
    int64_t inSize() const { return in[0] * in[1] * in[2]; }
    int64_t outSize() const { return out[0] * out[1] * out[2]; }
    int64_t kSize() const { return k[0] * k[1] * k[2]; }
};

std::string checkConv(const Graph& g, const Node& n) {
    for (int t : n.inputs)
        if (t >= 0 && !isFloating(g.tensors[t].dtype)) return "only float tensors are supported";
    if (n.inputs.size() < 2 || n.inputs[1] < 0) return "weight input is missing";
    const Tensor& w = g.tensors[n.inputs[1]];
    const size_t rank = w.isWeight() ? w.data->shape.size() : w.shape.size();
    if (rank != 0 && (rank < 3 || rank > 5)) return std::to_string(rank) + "-D weights (only 1-D to 3-D kernels)";
    const std::string ap = n.attrString("auto_pad", "NOTSET");
    if (ap != "NOTSET" && ap != "VALID" && ap != "SAME_UPPER" && ap != "SAME_LOWER") return "auto_pad " + ap;
    return {};
}

// Reads the spatial attributes common to Conv and ConvTranspose into g (k must be set).
void readSpatialAttrs(const KernelContext& c, Geom& g) {
    const int off = 3 - g.nsp;
    auto fill = [&](const char* name, int64_t* dst, int64_t def) {
        auto v = c.node.attrInts(name);
        if (!v.empty() && static_cast<int>(v.size()) != g.nsp) c.fail(std::string(name) + " has the wrong length");
        for (int i = 0; i < g.nsp; ++i) dst[off + i] = v.empty() ? def : v[i];
    };
    fill("strides", g.s, 1);
    fill("dilations", g.d, 1);
    auto pads = c.node.attrInts("pads");
    if (!pads.empty() && static_cast<int>(pads.size()) != 2 * g.nsp) c.fail("pads has the wrong length");
    for (int i = 0; i < g.nsp; ++i) {
        g.pb[off + i] = pads.empty() ? 0 : pads[i];
        g.pe[off + i] = pads.empty() ? 0 : pads[g.nsp + i];
    }
    auto ks = c.node.attrInts("kernel_shape");
    if (!ks.empty()) {
        if (static_cast<int>(ks.size()) != g.nsp) c.fail("kernel_shape has the wrong length");
        for (int i = 0; i < g.nsp; ++i)
            if (ks[i] != g.k[off + i]) c.fail("kernel_shape does not match the weight shape");
    }
    for (int i = 0; i < 3; ++i)
        if (g.s[i] < 1 || g.d[i] < 1) c.fail("strides and dilations must be positive");
}

ConvGeometry convGeometry(const Geom& g) {
    ConvGeometry c;
    for (int i = 0; i < 3; ++i) {
        c.in[i] = g.in[i];
        c.k[i] = g.k[i];
        c.s[i] = g.s[i];
        c.d[i] = g.d[i];
        c.out[i] = g.out[i];
    }
    return c;
}

// Copies `channels` planes of x into `dst` (a recycled buffer: one write per element, the
// padding written as zeros) and returns the geometry of the padded input (pads 0).
Geom padInput(const Geom& g, const float* x, int64_t channels, std::vector<float>& dst, ThreadPool* pool) {
    Geom p = g;
    for (int i = 0; i < 3; ++i) {
        p.in[i] = g.in[i] + g.pb[i] + g.pe[i];
        p.pb[i] = p.pe[i] = 0;
    }
    dst = takeBuffer(static_cast<size_t>(channels * p.inSize()));
    const int64_t rowLen = p.in[2], planeLen = p.in[1] * rowLen;
    // Channels on the pool's threads (the copy is most of a padded conv's memory traffic).
    auto copyChannels = [&](int64_t c0, int64_t c1) {
        for (int64_t c = c0; c < c1; ++c)
            for (int64_t z = 0; z < p.in[0]; ++z) {
                float* plane = dst.data() + (c * p.in[0] + z) * planeLen;
                const int64_t iz = z - g.pb[0];
                if (iz < 0 || iz >= g.in[0]) {
                    std::fill(plane, plane + planeLen, 0.f);
                    continue;
                }
                std::fill(plane, plane + g.pb[1] * rowLen, 0.f);
                for (int64_t y = 0; y < g.in[1]; ++y) {
                    const float* s = x + ((c * g.in[0] + iz) * g.in[1] + y) * g.in[2];
                    float* d = plane + (y + g.pb[1]) * rowLen;
                    std::fill(d, d + g.pb[2], 0.f);
                    std::copy(s, s + g.in[2], d + g.pb[2]);
                    std::fill(d + g.pb[2] + g.in[2], d + rowLen, 0.f);
                }
                std::fill(plane + (g.pb[1] + g.in[1]) * rowLen, plane + planeLen, 0.f);
            }
    };
    if (pool) pool->parallelFor(channels, std::max<int64_t>(1, 65536 / std::max<int64_t>(1, p.inSize())), copyChannels);
    else copyChannels(0, channels);
    return p;
}

// 2-D depthwise: each channel's plane zero-padded into a per-thread buffer (when the conv pads),
// then the vectorized plane kernel with bias and clamp in its store.
void depthwise2d(ThreadPool& pool, const Node& node, const FakeQuantGrid* grid, const Geom& g, const float* x, const float* w,
                 const float* bias, float* y, int64_t channels) {
    DepthwisePlane p;
    p.kh = g.k[1];
    p.kw = g.k[2];
    p.sy = g.s[1];
    p.sx = g.s[2];
    p.dy = g.d[1];
    p.dx = g.d[2];
    p.oh = g.out[1];
    p.ow = g.out[2];
    // The input rows and columns the outputs read, padding included.
    const int64_t hp = (p.oh - 1) * p.sy + (p.kh - 1) * p.dy + 1, wp = (p.ow - 1) * p.sx + (p.kw - 1) * p.dx + 1;
    const bool padded = g.pb[1] || g.pb[2] || hp > g.in[1] || wp > g.in[2];
    p.ldx = padded ? wp : g.in[2];
    const GemmEpilogue ep = GemmEpilogue::of(nullptr, node.activation, grid);
    const GemmIsa isa = gemmIsa();
    DepthwiseChannel dc;
    dc.h = g.in[1];
    dc.w = g.in[2];
    dc.pt = g.pb[1];
    dc.pl = g.pb[2];
    dc.kh = p.kh;
    dc.kw = p.kw;
    dc.s = p.sx;
    dc.dy = p.dy;
    dc.dx = p.dx;
    dc.oh = p.oh;
    dc.ow = p.ow;
    if (p.sy == p.sx && depthwisePolyphaseSupported(isa, dc)) {
        pool.parallelFor(channels, 1, [&](int64_t c0, int64_t c1) {
            thread_local DepthwisePhases phases;
            phases.prepare(dc, isa);
            for (int64_t ch = c0; ch < c1; ++ch) {
                float* yc = y + ch * g.outSize();
                phases.run(x + ch * g.inSize(), w + ch * g.kSize(), bias ? bias[ch] : 0.f, ep.lo, ep.hi, yc);
                if (ep.finishes()) ep.finish(yc, g.outSize());
            }
        });
        return;
    }
    pool.parallelFor(channels, 1, [&](int64_t c0, int64_t c1) {
        thread_local std::vector<float> plane;
        if (padded) plane.assign(static_cast<size_t>(hp * wp), 0.f);
        for (int64_t ch = c0; ch < c1; ++ch) {
            const float* xc = x + ch * g.inSize();
            if (padded) {
                // Valid columns [x0, x1) of the padded row; the zero borders stay from assign().
                const int64_t x0 = std::min(wp, g.pb[2]), x1 = std::min(wp, g.pb[2] + g.in[2]);
                for (int64_t r = 0; r < hp; ++r) {
                    const int64_t iy = r - g.pb[1];
                    if (iy < 0 || iy >= g.in[1] || x1 <= x0) continue;
                    std::copy(xc + iy * g.in[2], xc + iy * g.in[2] + (x1 - x0), plane.data() + r * wp + x0);
                }
                xc = plane.data();
            }
            float* yc = y + ch * g.outSize();
            depthwisePlane(isa, p, xc, w + ch * g.kSize(), bias ? bias[ch] : 0.f, ep.lo, ep.hi, yc);
            if (ep.finishes()) ep.finish(yc, g.outSize());
        }
    });
}

void depthwise(ThreadPool& pool, const Node& node, const FakeQuantGrid* grid, const Geom& g, const float* x, const float* w,
               const float* bias, float* y, int64_t channels) {
    if (g.in[0] == 1 && g.k[0] == 1 && g.out[0] == 1 && g.pb[0] == 0)
        return depthwise2d(pool, node, grid, g, x, w, bias, y, channels);
    pool.parallelFor(channels, 1, [&](int64_t c0, int64_t c1) {
        for (int64_t ch = c0; ch < c1; ++ch) {
            const float* xc = x + ch * g.inSize();
            const float* wc = w + ch * g.kSize();
            float* yc = y + ch * g.outSize();
            const float b = bias ? bias[ch] : 0.f;
            for (int64_t oz = 0; oz < g.out[0]; ++oz)
                for (int64_t oy = 0; oy < g.out[1]; ++oy) {
                    float* yr = yc + (oz * g.out[1] + oy) * g.out[2];
                    for (int64_t ox = 0; ox < g.out[2]; ++ox) yr[ox] = b;
                    for (int64_t kz = 0; kz < g.k[0]; ++kz) {
                        const int64_t iz = oz * g.s[0] - g.pb[0] + kz * g.d[0];
                        if (iz < 0 || iz >= g.in[0]) continue;
                        for (int64_t ky = 0; ky < g.k[1]; ++ky) {
                            const int64_t iy = oy * g.s[1] - g.pb[1] + ky * g.d[1];
                            if (iy < 0 || iy >= g.in[1]) continue;
                            const float* xr = xc + (iz * g.in[1] + iy) * g.in[2];
                            for (int64_t kx = 0; kx < g.k[2]; ++kx) {
                                const float wv = wc[(kz * g.k[1] + ky) * g.k[2] + kx];
                                const int64_t base = kx * g.d[2] - g.pb[2];
                                // ox range with 0 <= ox*s + base < in
                                int64_t lo = base >= 0 ? 0 : (-base + g.s[2] - 1) / g.s[2];
                                int64_t hi = g.in[2] - base <= 0 ? 0 : (g.in[2] - base - 1) / g.s[2] + 1;
                                hi = std::min(hi, g.out[2]);
                                if (g.s[2] == 1)
                                    for (int64_t ox = lo; ox < hi; ++ox) yr[ox] += wv * xr[ox + base];
                                else
                                    for (int64_t ox = lo; ox < hi; ++ox) yr[ox] += wv * xr[ox * g.s[2] + base];
                            }
                        }
                    }
                    applyActivationAndGrid(node.activation, grid, yr, g.out[2]);
                }
        }
    });
}

void convOp(KernelContext& c) {
    const TensorData& x = c.input(0);
    const TensorData& w = c.input(1);
    const TensorData* b = c.hasInput(2) ? &c.input(2) : nullptr;
    const size_t rank = x.shape.size();
    if (rank < 3 || rank > 5 || w.shape.size() != rank)
        c.fail("X " + shapeStr(x.shape) + " and W " + shapeStr(w.shape) + " must both be 3-D to 5-D");
    Geom g;
    g.nsp = static_cast<int>(rank) - 2;
    const int off = 3 - g.nsp;
    for (int i = 0; i < g.nsp; ++i) {
        g.in[off + i] = x.shape[2 + i];
        g.k[off + i] = w.shape[2 + i];
    }
    readSpatialAttrs(c, g);
    const int64_t N = x.shape[0], C = x.shape[1], K = w.shape[0];
    const int64_t group = c.node.attrInt("group", 1);
    if (group < 1 || C % group != 0 || K % group != 0 || w.shape[1] * group != C)
        c.fail("X has " + std::to_string(C) + " channels, W " + shapeStr(w.shape) + ", group " + std::to_string(group));
    if (b && numel(b->shape) != K) c.fail("bias has " + std::to_string(numel(b->shape)) + " values, expected " + std::to_string(K));
    const std::string autoPad = c.node.attrString("auto_pad", "NOTSET");
    for (int i = 0; i < 3; ++i) {
        const int64_t dk = (g.k[i] - 1) * g.d[i] + 1;
        if (i >= off && (autoPad == "SAME_UPPER" || autoPad == "SAME_LOWER")) {
            g.out[i] = (g.in[i] + g.s[i] - 1) / g.s[i];
            const int64_t total = std::max<int64_t>(0, (g.out[i] - 1) * g.s[i] + dk - g.in[i]);
            g.pb[i] = autoPad == "SAME_UPPER" ? total / 2 : total - total / 2;
            g.pe[i] = total - g.pb[i];
        } else {
            if (autoPad == "VALID") g.pb[i] = g.pe[i] = 0;
            const int64_t span = g.in[i] + g.pb[i] + g.pe[i] - dk;
            if (span < 0) c.fail("kernel is larger than the padded input " + shapeStr(x.shape));
            g.out[i] = span / g.s[i] + 1;
        }
    }
    std::vector<int64_t> outShape{N, K};
    for (int i = 0; i < g.nsp; ++i) outShape.push_back(g.out[off + i]);
    TensorData y = makeFloatUninit(outShape, x.dtype);
    const int64_t Cg = C / group, Kg = K / group, OSP = g.outSize(), rows = Cg * g.kSize();
    const bool pointwise = g.kSize() == 1 && g.s[0] == 1 && g.s[1] == 1 && g.s[2] == 1 && g.pb[0] == 0 &&
                           g.pb[1] == 0 && g.pb[2] == 0 && g.pe[0] == 0 && g.pe[1] == 0 && g.pe[2] == 0;
    const float* bias = b ? b->floats.data() : nullptr;
    const GemmIsa isa = gemmIsa();
    const int threads = c.pool.size();
    for (int64_t n = 0; n < N; ++n) {
        const float* xn = x.floats.data() + n * C * g.inSize();
        float* yn = y.floats.data() + n * K * OSP;
        if (Cg == 1 && Kg == 1) {
            depthwise(c.pool, c.node, c.outputGrid, g, xn, w.floats.data(), bias, yn, C);
            continue;
        }
        // One GEMM per group: Y_g[Kg, OSP] = W_g[Kg, rows] * im2col(X_g)[rows, OSP], bias and
        // activation in the epilogue. Many groups run in parallel, each single-threaded.
        const bool padded = g.pb[0] || g.pb[1] || g.pb[2] || g.pe[0] || g.pe[1] || g.pe[2];
        auto runGroup = [&](int64_t gi, ThreadPool* pool) {
            const float* xg = xn + gi * Cg * g.inSize();
            const float* wg = w.floats.data() + gi * Kg * rows;
            float* yg = yn + gi * Kg * OSP;
            const GemmEpilogue ep = GemmEpilogue::of(bias ? bias + gi * Kg : nullptr, c.node.activation, c.outputGrid);
            if (pointwise) {
                packedGemm(isa, pool, Kg, OSP, rows, wg, rows, false, MatrixBSource(xg, OSP, false), yg, OSP, false, ep);
            } else {
                std::vector<float> xp;
                const Geom gp = padded ? padInput(g, xg, Cg, xp, pool) : g;
                packedGemm(isa, pool, Kg, OSP, rows, wg, rows, false, Im2colBSource(convGeometry(gp), padded ? xp.data() : xg),
                           yg, OSP, false, ep);
                if (padded) recycleBuffer(std::move(xp));
            }
        };
        if (group >= threads && threads > 1) {
            c.pool.parallelFor(group, 1, [&](int64_t g0, int64_t g1) {
                for (int64_t gi = g0; gi < g1; ++gi) runGroup(gi, nullptr);
            });
        } else {
            for (int64_t gi = 0; gi < group; ++gi) runGroup(gi, &c.pool);
        }
    }
    c.out[0] = std::move(y);
}

void convTransposeOp(KernelContext& c) {
    const TensorData& x = c.input(0);
    const TensorData& w = c.input(1);
    const TensorData* b = c.hasInput(2) ? &c.input(2) : nullptr;
    const size_t rank = x.shape.size();
    if (rank < 3 || rank > 5 || w.shape.size() != rank)
        c.fail("X " + shapeStr(x.shape) + " and W " + shapeStr(w.shape) + " must both be 3-D to 5-D");
    Geom g;
    g.nsp = static_cast<int>(rank) - 2;
    const int off = 3 - g.nsp;
    for (int i = 0; i < g.nsp; ++i) {
        g.in[off + i] = x.shape[2 + i];
        g.k[off + i] = w.shape[2 + i];
    }
    readSpatialAttrs(c, g);
    const int64_t N = x.shape[0], C = x.shape[1];
    const int64_t group = c.node.attrInt("group", 1);
    if (group < 1 || w.shape[0] != C || C % group != 0)
        c.fail("X has " + std::to_string(C) + " channels, W " + shapeStr(w.shape) + ", group " + std::to_string(group));
    const int64_t Mg = w.shape[1], M = Mg * group, Cg = C / group;
    if (b && numel(b->shape) != M) c.fail("bias has " + std::to_string(numel(b->shape)) + " values, expected " + std::to_string(M));
    auto outPad = c.node.attrInts("output_padding");
    auto outShapeAttr = c.node.attrInts("output_shape");
    if (!outPad.empty() && static_cast<int>(outPad.size()) != g.nsp) c.fail("output_padding has the wrong length");
    if (!outShapeAttr.empty() && static_cast<int>(outShapeAttr.size()) < g.nsp) c.fail("output_shape is too short");
    const std::string autoPad = c.node.attrString("auto_pad", "NOTSET");
    for (int i = 0; i < g.nsp; ++i) {
        const int a = off + i;
        const int64_t op = outPad.empty() ? 0 : outPad[i];
        const int64_t dk = (g.k[a] - 1) * g.d[a] + 1;
        const int64_t full = g.s[a] * (g.in[a] - 1) + op + dk;
        int64_t target = -1;
        if (!outShapeAttr.empty()) target = outShapeAttr[outShapeAttr.size() - g.nsp + i];
        else if (autoPad == "SAME_UPPER" || autoPad == "SAME_LOWER") target = g.in[a] * g.s[a];
        if (target >= 0) {
            const int64_t total = full - target;
            if (total < 0) {  // output_shape past the full result: implicit output padding at the end
                g.pb[a] = 0;
                g.pe[a] = total;
            } else if (autoPad == "SAME_UPPER") {
                g.pb[a] = total / 2;
                g.pe[a] = total - total / 2;
            } else {
                g.pb[a] = total - total / 2;
                g.pe[a] = total / 2;
            }
        } else if (autoPad == "VALID") {
            g.pb[a] = g.pe[a] = 0;
        }
        g.out[a] = full - g.pb[a] - g.pe[a];
        if (g.out[a] <= 0) c.fail("output size is not positive");
    }
    std::vector<int64_t> outShape{N, M};
    for (int i = 0; i < g.nsp; ++i) outShape.push_back(g.out[off + i]);
    bool tiles = true;
    for (int i = 0; i < 3; ++i)
        tiles = tiles && g.k[i] == g.s[i] && g.d[i] == 1 && g.pb[i] == 0 && g.pe[i] == 0 && g.out[i] == g.in[i] * g.s[i];
    // Tiles write every output once; the general col2im adds into zeros.
    TensorData y = tiles ? makeFloatUninit(outShape, x.dtype) : makeFloat(outShape, x.dtype);
    const int64_t ISP = g.inSize(), OSP = g.outSize(), ks = g.kSize(), rows = Mg * ks;
    std::vector<float> col = takeBuffer(static_cast<size_t>(rows * ISP));
    for (int64_t n = 0; n < N; ++n)
        for (int64_t gi = 0; gi < group; ++gi) {
            const float* xg = x.floats.data() + (n * C + gi * Cg) * ISP;
            const float* wg = w.floats.data() + gi * Cg * rows;  // [Cg, Mg*ks]
            float* yg = y.floats.data() + (n * M + gi * Mg) * OSP;
            // col[Mg*ks, ISP] = Wg^T * Xg, then scatter-add (col2im).
            sgemm(c.pool, true, false, rows, ISP, Cg, wg, rows, xg, ISP, col.data(), ISP, false);
            if (tiles) {
                // Kernel == stride, no padding or dilation: every output element comes from one
                // tap of one input element, so col2im is a strided copy (no bounds, no adds).
                c.pool.parallelFor(Mg, 1, [&](int64_t m0, int64_t m1) {
                    for (int64_t m = m0; m < m1; ++m) {
                        float* ym = yg + m * OSP;
                        const float bv = b ? b->floats[gi * Mg + m] : 0.f;
                        for (int64_t kz = 0; kz < g.k[0]; ++kz)
                            for (int64_t ky = 0; ky < g.k[1]; ++ky) {
                                // The kx taps of one output row, interleaved (two streams for stride 2).
                                const float* cr = col.data() + ((m * g.k[0] + kz) * g.k[1] + ky) * g.k[2] * ISP;
                                for (int64_t iz = 0; iz < g.in[0]; ++iz)
                                    for (int64_t iy = 0; iy < g.in[1]; ++iy) {
                                        float* yr = ym + ((iz * g.s[0] + kz) * g.out[1] + iy * g.s[1] + ky) * g.out[2];
                                        const float* cx = cr + (iz * g.in[1] + iy) * g.in[2];
                                        const int64_t sx = g.s[2];
                                        if (sx == 2) {
                                            const float* c0 = cx;
                                            const float* c1 = cx + ISP;
                                            for (int64_t ix = 0; ix < g.in[2]; ++ix) {
                                                yr[2 * ix] = c0[ix] + bv;
                                                yr[2 * ix + 1] = c1[ix] + bv;
                                            }
                                            continue;
                                        }
                                        for (int64_t kx = 0; kx < sx; ++kx)
                                            for (int64_t ix = 0; ix < g.in[2]; ++ix) yr[ix * sx + kx] = cx[kx * ISP + ix] + bv;
                                    }
                            }
                        applyActivationAndGrid(c.node.activation, c.outputGrid, ym, OSP);
                    }
                });
                continue;
            }
            c.pool.parallelFor(Mg, 1, [&](int64_t m0, int64_t m1) {
                for (int64_t m = m0; m < m1; ++m) {
                    float* ym = yg + m * OSP;
                    for (int64_t kz = 0; kz < g.k[0]; ++kz)
                        for (int64_t ky = 0; ky < g.k[1]; ++ky)
                            for (int64_t kx = 0; kx < g.k[2]; ++kx) {
                                const float* cr = col.data() + (((m * g.k[0] + kz) * g.k[1] + ky) * g.k[2] + kx) * ISP;
                                for (int64_t iz = 0; iz < g.in[0]; ++iz) {
                                    const int64_t oz = iz * g.s[0] - g.pb[0] + kz * g.d[0];
                                    if (oz < 0 || oz >= g.out[0]) continue;
                                    for (int64_t iy = 0; iy < g.in[1]; ++iy) {
                                        const int64_t oy = iy * g.s[1] - g.pb[1] + ky * g.d[1];
                                        if (oy < 0 || oy >= g.out[1]) continue;
                                        float* yr = ym + (oz * g.out[1] + oy) * g.out[2];
                                        const float* cx = cr + (iz * g.in[1] + iy) * g.in[2];
                                        for (int64_t ix = 0; ix < g.in[2]; ++ix) {
                                            const int64_t ox = ix * g.s[2] - g.pb[2] + kx * g.d[2];
                                            if (ox >= 0 && ox < g.out[2]) yr[ox] += cx[ix];
                                        }
                                    }
                                }
                            }
                    if (b) {
                        const float bv = b->floats[gi * Mg + m];
                        for (int64_t j = 0; j < OSP; ++j) ym[j] += bv;
                    }
                    applyActivationAndGrid(c.node.activation, c.outputGrid, ym, OSP);
                }
            });
        }
    recycleBuffer(std::move(col));
    c.out[0] = std::move(y);
}

}  // namespace

void registerConvOps(Registry& r) {
    r["Conv"] = {convOp, checkConv, true};
    r["ConvTranspose"] = {convTransposeOp, checkConv, true};
}

}  // namespace autosplit::exec
