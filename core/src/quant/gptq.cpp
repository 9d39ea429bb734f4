#include "autosplit/quant/gptq.h"

#include "autosplit/exec/gram.h"
#include "autosplit/exec/parallel.h"
#include "autosplit/util/errors.h"
#include "autosplit/util/lane_sums.h"

#include <Eigen/Cholesky>
#include <Eigen/Core>

#include <algorithm>
#include <cmath>
#include <numeric>

namespace autosplit {

namespace {

using MatD = Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
using MatF = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

// Where output channel `ch`, column `j` of a weight row lives in the weight tensor.
struct RowLayout {
    int64_t channels = 0, rowLength = 0;
    int64_t channelStride = 0, columnStride = 0;
    int64_t index(int64_t ch, int64_t j) const { return ch * channelStride + j * columnStride; }
};

const TensorData* constantWeight(const Graph& g, const Node& n) {
    if (n.inputs.size() < 2 || n.inputs[0] < 0 || n.inputs[1] < 0) return nullptr;
    const Tensor& w = g.tensors[static_cast<size_t>(n.inputs[1])];
    if (!w.isWeight() || !w.data->isFloat()) return nullptr;
    return w.data.get();
}

// Layout of the weight rows of a GPTQ-able node, or channels = 0.
RowLayout rowLayout(const Node& n, const TensorData& w) {
    RowLayout l;
    const auto& s = w.shape;
    if (n.op == "Conv" && s.size() >= 3 && s.size() <= 5) {
        l.channels = s[0];
        l.rowLength = w.elementCount() / std::max<int64_t>(1, s[0]);
        l.channelStride = l.rowLength;
        l.columnStride = 1;
    } else if ((n.op == "Gemm" && n.attrInt("transA", 0) == 0) || n.op == "MatMul") {
        if (s.size() != 2) return l;
        const bool transB = n.op == "Gemm" && n.attrInt("transB", 0) != 0;
        l.channels = transB ? s[0] : s[1];
        l.rowLength = transB ? s[1] : s[0];
        l.channelStride = transB ? s[1] : 1;
        l.columnStride = transB ? 1 : s[1];
    }
    return l;
}

int64_t convGroups(const Node& n) { return std::max<int64_t>(1, n.attrInt("group", 1)); }

}  // namespace

int64_t LayerInputMoments::rowLengthFor(const Graph& g, int node) {
    const Node& n = g.nodes[static_cast<size_t>(node)];
    const TensorData* w = constantWeight(g, n);
    return w ? rowLayout(n, *w).rowLength : 0;
}

int64_t LayerInputMoments::bytesFor(const Graph& g, int node) {
    const Node& n = g.nodes[static_cast<size_t>(node)];
    const int64_t r = rowLengthFor(g, node), groups = n.op == "Conv" ? convGroups(n) : 1;
    return groups * r * r * static_cast<int64_t>(sizeof(float));
}

std::unique_ptr<LayerInputMoments> LayerInputMoments::meansForNode(const Graph& g, int node) {
    return forNode(g, node, false);
}

std::unique_ptr<LayerInputMoments> LayerInputMoments::forNode(const Graph& g, int node) { return forNode(g, node, true); }

std::unique_ptr<LayerInputMoments> LayerInputMoments::forNode(const Graph& g, int node, bool second) {
    const Node& n = g.nodes[static_cast<size_t>(node)];
    const TensorData* w = constantWeight(g, n);
    if (!w) return nullptr;
    const RowLayout l = rowLayout(n, *w);
    if (l.channels == 0 || l.rowLength == 0) return nullptr;
    std::unique_ptr<LayerInputMoments> m(new LayerInputMoments());
    m->rows_ = l.rowLength;
    if (n.op == "Conv") {
        m->conv_ = true;
        m->groups_ = convGroups(n);
        if (l.channels % m->groups_ != 0) return nullptr;
        ConvGeom& c = m->geom_;
        c.nsp = static_cast<int>(w->shape.size()) - 2;
        m->channels_ = w->shape[1] * m->groups_;
        const int off = 3 - c.nsp;
        for (int i = 0; i < c.nsp; ++i) c.k[off + i] = w->shape[2 + static_cast<size_t>(i)];
        const auto strides = n.attrInts("strides"), dil = n.attrInts("dilations"), pads = n.attrInts("pads");
        for (int i = 0; i < c.nsp; ++i) {
            if (static_cast<int>(strides.size()) == c.nsp) c.s[off + i] = strides[static_cast<size_t>(i)];
            if (static_cast<int>(dil.size()) == c.nsp) c.d[off + i] = dil[static_cast<size_t>(i)];
            if (static_cast<int>(pads.size()) == 2 * c.nsp) {
                c.pb[off + i] = pads[static_cast<size_t>(i)];
                c.pe[off + i] = pads[static_cast<size_t>(c.nsp + i)];
            }
        }
        // auto_pad needs the input size: resolved in add().
        const std::string ap = n.attrString("auto_pad", "NOTSET");
        c.autoPad = ap == "SAME_UPPER" ? 1 : ap == "SAME_LOWER" ? 2 : ap == "VALID" ? 3 : 0;
    } else {
        m->channels_ = l.rowLength;
    }
    if (second)
        m->h_.assign(static_cast<size_t>(m->groups_), std::vector<float>(static_cast<size_t>(m->rows_ * m->rows_), 0.f));
    m->sum_.assign(static_cast<size_t>(m->groups_ * m->rows_), 0.0);
    return m;
}

std::vector<double> LayerInputMoments::mean() const {
    std::vector<double> m(sum_);
    if (count_ > 0)
        for (double& v : m) v /= static_cast<double>(count_);
    return m;
}

void LayerInputMoments::addSquares(const TensorData& x) {
    if (!x.isFloat()) throw Error("GPTQ moments need a float layer input");
    if (!h_.empty()) throw Error("GPTQ moments: addSquares() is for first moments only");
    if (addBoxSums(x, true)) return;
    TensorData sq;
    sq.shape = x.shape;
    sq.floats.resize(x.floats.size());
    for (size_t k = 0; k < x.floats.size(); ++k) sq.floats[k] = x.floats[k] * x.floats[k];
    add(sq);
}

LayerInputMoments::ConvGeom LayerInputMoments::resolvedGeometry(const TensorData& x) const {
    ConvGeom c = geom_;
    const size_t rank = static_cast<size_t>(c.nsp) + 2;
    if (x.shape.size() != rank || x.shape[1] != channels_)
        throw Error("GPTQ moments: conv input has the wrong shape");
    const int off = 3 - c.nsp;
    for (int i = 0; i < 3; ++i) {
        c.in[i] = i >= off ? x.shape[2 + static_cast<size_t>(i - off)] : 1;
        const int64_t dk = (c.k[i] - 1) * c.d[i] + 1;
        if (i >= off && (c.autoPad == 1 || c.autoPad == 2)) {
            c.out[i] = (c.in[i] + c.s[i] - 1) / c.s[i];
            const int64_t total = std::max<int64_t>(0, (c.out[i] - 1) * c.s[i] + dk - c.in[i]);
            c.pb[i] = c.autoPad == 1 ? total / 2 : total - total / 2;
        } else {
            if (c.autoPad == 3) c.pb[i] = c.pe[i] = 0;
            c.out[i] = std::max<int64_t>(0, (c.in[i] + c.pb[i] + c.pe[i] - dk) / c.s[i] + 1);
        }
    }
    return c;
}

// First moments of a conv's input vectors (of their squares with `squared`): for each kernel
// offset, the sum of the input over the (strided) box of positions the output grid reads there;
// padding contributes zeros. False when this path does not apply (second moments, not a conv,
// kernels wider than 8).
bool LayerInputMoments::addBoxSums(const TensorData& x, bool squared) {
    if (!h_.empty() || !conv_ || std::max({geom_.k[0], geom_.k[1], geom_.k[2]}) > 8) return false;
    const ConvGeom c = resolvedGeometry(x);
    const int64_t outSize = c.out[0] * c.out[1] * c.out[2], inSize = c.in[0] * c.in[1] * c.in[2];
    const int64_t cg = channels_ / groups_, ks = c.k[0] * c.k[1] * c.k[2];
    int64_t lo[3][8], hi[3][8];  // per axis and offset
    for (int i = 0; i < 3; ++i) {
        for (int64_t k = 0; k < c.k[i]; ++k) {
            // Output positions o with 0 <= o * s - pb + k * d < in.
            const int64_t base = k * c.d[i] - c.pb[i];
            int64_t a = base >= 0 ? 0 : (-base + c.s[i] - 1) / c.s[i];
            int64_t b = c.in[i] - 1 - base < 0 ? -1 : (c.in[i] - 1 - base) / c.s[i];
            lo[i][k] = a;
            hi[i][k] = std::min(b, c.out[i] - 1);
        }
    }
    if (c.s[2] <= kSumLanes && kSumLanes % c.s[2] == 0) {
        // Strides in x that divide the lane count (1, 2, 4, 8): the columns an offset reads are
        // one residue class mod the stride, a contiguous run of it. Each row's lane sums (double,
        // lane l = columns l mod 8) give every residue class's sum in one vectorized pass; minus
        // the few columns of the class an offset leaves out at either end, they are its row sums.
        // Rows are then summed along y at the y stride: one pass over the input per plane
        // instead of one per kernel offset.
        const int64_t sx = c.s[2];
        std::vector<double> rowSums(static_cast<size_t>(c.k[2] * c.in[1]));  // [kx][iy]
        const auto term = [squared](float v) { return squared ? static_cast<double>(v) * v : static_cast<double>(v); };
        for (int64_t b = 0; b < x.shape[0]; ++b)
            for (int64_t ch = 0; ch < channels_; ++ch) {
                const float* xc = x.floats.data() + (b * channels_ + ch) * inSize;
                double* s = sum_.data() + (ch / cg) * rows_ + (ch % cg) * ks;
                for (int64_t kz = 0; kz < c.k[0]; ++kz)
                    for (int64_t oz = lo[0][kz]; oz <= hi[0][kz]; ++oz) {
                        const float* plane = xc + (oz * c.s[0] - c.pb[0] + kz * c.d[0]) * c.in[1] * c.in[2];
                        for (int64_t iy = 0; iy < c.in[1]; ++iy) {
                            const float* row = plane + iy * c.in[2];
                            double lanes[kSumLanes], residue[kSumLanes] = {};
                            if (squared)
                                laneSums(row, c.in[2], [](float v) { return static_cast<double>(v) * v; }, lanes);
                            else
                                laneSums(row, c.in[2], [](float v) { return static_cast<double>(v); }, lanes);
                            for (int l = 0; l < kSumLanes; ++l) residue[l % sx] += lanes[l];
                            for (int64_t kx = 0; kx < c.k[2]; ++kx) {
                                const int64_t base = kx * c.d[2] - c.pb[2];
                                const int64_t x0 = lo[2][kx] * sx + base, x1 = hi[2][kx] * sx + base;
                                double v = 0;
                                if (x0 <= x1) {
                                    v = residue[x0 % sx];
                                    for (int64_t ix = x0 - sx; ix >= 0; ix -= sx) v -= term(row[ix]);
                                    for (int64_t ix = x1 + sx; ix < c.in[2]; ix += sx) v -= term(row[ix]);
                                }
                                rowSums[static_cast<size_t>(kx * c.in[1] + iy)] = v;
                            }
                        }
                        for (int64_t ky = 0; ky < c.k[1]; ++ky) {
                            const int64_t y0 = lo[1][ky] * c.s[1] - c.pb[1] + ky * c.d[1], y1 = hi[1][ky] * c.s[1] - c.pb[1] + ky * c.d[1];
                            for (int64_t kx = 0; kx < c.k[2]; ++kx) {
                                double acc = 0;
                                for (int64_t iy = y0; iy <= y1; iy += c.s[1]) acc += rowSums[static_cast<size_t>(kx * c.in[1] + iy)];
                                s[(kz * c.k[1] + ky) * c.k[2] + kx] += acc;
                            }
                        }
                    }
            }
        count_ += x.shape[0] * outSize;
        return true;
    }
    for (int64_t b = 0; b < x.shape[0]; ++b)
        for (int64_t ch = 0; ch < channels_; ++ch) {
            const float* xc = x.floats.data() + (b * channels_ + ch) * inSize;
            double* s = sum_.data() + (ch / cg) * rows_ + (ch % cg) * ks;
            for (int64_t kz = 0; kz < c.k[0]; ++kz)
                for (int64_t ky = 0; ky < c.k[1]; ++ky)
                    for (int64_t kx = 0; kx < c.k[2]; ++kx) {
                        double acc = 0;
                        for (int64_t oz = lo[0][kz]; oz <= hi[0][kz]; ++oz)
                            for (int64_t oy = lo[1][ky]; oy <= hi[1][ky]; ++oy) {
                                const float* row = xc + ((oz * c.s[0] - c.pb[0] + kz * c.d[0]) * c.in[1] +
                                                         oy * c.s[1] - c.pb[1] + ky * c.d[1]) * c.in[2] -
                                                   c.pb[2] + kx * c.d[2];
                                float racc = 0;
                                if (squared)
                                    for (int64_t ox = lo[2][kx]; ox <= hi[2][kx]; ++ox) {
                                        const float v = row[ox * c.s[2]];
                                        racc += v * v;
                                    }
                                else
                                    for (int64_t ox = lo[2][kx]; ox <= hi[2][kx]; ++ox) racc += row[ox * c.s[2]];
                                acc += racc;
                            }
                        s[(kz * c.k[1] + ky) * c.k[2] + kx] += acc;
                    }
        }
    count_ += x.shape[0] * outSize;
    return true;
}

std::unique_ptr<MomentScratch::Buffers> MomentScratch::take() {
    std::lock_guard<std::mutex> l(mutex_);
    if (free_.empty()) return std::make_unique<Buffers>();
    auto b = std::move(free_.back());
    free_.pop_back();
    return b;
}

void MomentScratch::release(std::unique_ptr<Buffers> b) {
    std::lock_guard<std::mutex> l(mutex_);
    free_.push_back(std::move(b));
}

void LayerInputMoments::add(const TensorData& x, const Executor* pool, MomentScratch* scratch) {
    if (!x.isFloat()) throw Error("GPTQ moments need a float layer input");
    // The chunk products' buffers: leased for this call (or this call's own), reused by its chunks.
    struct Lease {
        MomentScratch* from;
        std::unique_ptr<MomentScratch::Buffers> b;
        ~Lease() {
            if (from) from->release(std::move(b));
        }
    } lease{scratch, scratch ? scratch->take() : std::make_unique<MomentScratch::Buffers>()};
    // cols: X as R x P (P vectors at most 1024, a chunk): the chunk's products are summed apart
    // and then added to H, so no float sum runs over more than a chunk and a few dozen chunks.
    auto accumulate = [this, pool, &lease](int64_t group, const auto& cols) {
        double* s = sum_.data() + group * rows_;
        for (int64_t r = 0; r < rows_; ++r) s[r] += static_cast<double>(cols.row(r).sum());
        if (h_.empty()) return;
        const int64_t p = cols.cols();
        std::vector<float>& buf = lease.b->prod;
        const size_t cells = static_cast<size_t>(rows_ * rows_);
        if (buf.size() < cells) buf.resize(cells);
        gramLower(pool, rows_, p, cols.data(), cols.rowStride(), cols.colStride(), buf.data(), rows_);
        float* h = h_[static_cast<size_t>(group)].data();
        const float* prod = buf.data();
        for (int64_t r = 0; r < rows_; ++r)
            for (int64_t c = 0; c <= r; ++c) h[r * rows_ + c] += prod[r * rows_ + c];
    };
    if (!conv_) {
        if (x.shape.empty() || x.shape.back() != channels_)
            throw Error("GPTQ moments: input " + std::to_string(x.shape.empty() ? 0 : x.shape.back()) + " wide, weight rows " +
                        std::to_string(channels_));
        const int64_t vecs = x.elementCount() / channels_;
        const Stride st = strideFor(vecs, 1);
        constexpr int64_t chunk = 512;
        int64_t kept = 0;
        for (int64_t v0 = st.phase; v0 < vecs; v0 += chunk * st.step) {
            const int64_t nv = std::min(chunk, (vecs - v0 + st.step - 1) / st.step);
            // Column-major view of nv input rows, st.step rows apart = R x nv.
            Eigen::Map<const Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::ColMajor>, 0, Eigen::OuterStride<>> xs(
                x.floats.data() + v0 * channels_, channels_, nv, Eigen::OuterStride<>(channels_ * st.step));
            accumulate(0, xs);
            kept += nv;
        }
        count_ += kept;
        return;
    }
    if (addBoxSums(x, false)) return;
    const ConvGeom c = resolvedGeometry(x);
    const int64_t outSize = c.out[0] * c.out[1] * c.out[2], inSize = c.in[0] * c.in[1] * c.in[2];
    const int64_t cg = channels_ / groups_, ks = c.k[0] * c.k[1] * c.k[2];
    const Stride st = strideFor(outSize, c.out[2]);
    const int64_t kept = (outSize - st.phase + st.step - 1) / st.step;  // positions o = phase + k * step
    constexpr int64_t chunk = 1024;
    MatF cols(rows_, std::min(chunk, kept));
    // Input coordinates of each output position of a chunk at kernel offset 0 (no divisions in
    // the patch loop).
    std::vector<int64_t> bz(static_cast<size_t>(chunk)), by(static_cast<size_t>(chunk)), bx(static_cast<size_t>(chunk));
    for (int64_t p0 = 0; p0 < kept; p0 += chunk) {
        const int64_t np = std::min(chunk, kept - p0);
        for (int64_t p = 0; p < np; ++p) {
            const int64_t o = st.phase + (p0 + p) * st.step;
            bz[static_cast<size_t>(p)] = o / (c.out[1] * c.out[2]) * c.s[0] - c.pb[0];
            by[static_cast<size_t>(p)] = (o / c.out[2]) % c.out[1] * c.s[1] - c.pb[1];
            bx[static_cast<size_t>(p)] = o % c.out[2] * c.s[2] - c.pb[2];
        }
        if (np != cols.cols()) cols.resize(rows_, np);
        for (int64_t b = 0; b < x.shape[0]; ++b)
            for (int64_t gi = 0; gi < groups_; ++gi) {
                for (int64_t ch = 0; ch < cg; ++ch) {
                    const float* xc = x.floats.data() + ((b * channels_) + gi * cg + ch) * inSize;
                    for (int64_t kz = 0; kz < c.k[0]; ++kz)
                        for (int64_t ky = 0; ky < c.k[1]; ++ky)
                            for (int64_t kx = 0; kx < c.k[2]; ++kx) {
                                const int64_t r = ch * ks + (kz * c.k[1] + ky) * c.k[2] + kx;
                                const int64_t dz = kz * c.d[0], dy = ky * c.d[1], dx = kx * c.d[2];
                                float* dst = &cols(r, 0);
                                for (int64_t p = 0; p < np; ++p) {
                                    const int64_t iz = bz[static_cast<size_t>(p)] + dz, iy = by[static_cast<size_t>(p)] + dy,
                                                  ix = bx[static_cast<size_t>(p)] + dx;
                                    const bool inside = iz >= 0 && iz < c.in[0] && iy >= 0 && iy < c.in[1] && ix >= 0 &&
                                                        ix < c.in[2];
                                    dst[p] = inside ? xc[(iz * c.in[1] + iy) * c.in[2] + ix] : 0.f;
                                }
                            }
                }
                accumulate(gi, cols);
            }
    }
    count_ += x.shape[0] * kept;
}

LayerInputMoments::Stride LayerInputMoments::strideFor(int64_t vectors, int64_t width) {
    Stride st;
    const int64_t call = adds_++;
    if (vectorsPerAdd_ <= 0 || h_.empty() || vectors <= vectorsPerAdd_) return st;
    st.step = (vectors + vectorsPerAdd_ - 1) / vectorsPerAdd_;
    while (width > 1 && std::gcd(st.step, width) != 1) ++st.step;
    st.phase = call % st.step;
    return st;
}

void LayerInputMoments::merge(const LayerInputMoments& o) {
    if (o.rows_ != rows_ || o.groups_ != groups_) throw Error("GPTQ moments of different layers cannot be merged");
    for (size_t g = 0; g < h_.size(); ++g)
        for (size_t i = 0; i < h_[g].size(); ++i) h_[g][i] += o.h_[g][i];
    for (size_t i = 0; i < sum_.size(); ++i) sum_[i] += o.sum_[i];
    count_ += o.count_;
}

namespace {

// Upper Cholesky factor U of H^-1 (H^-1 = U^T U) after dampening, as GPTQ uses it; false when H
// stays indefinite even with strong dampening. With P the reversal permutation and
// P H P = L L^T, U = P L^-1 P is upper triangular and U^T U = P (P H P)^-1 P = H^-1: one
// Cholesky and one triangular inverse instead of inverting H and factorizing the inverse.
bool inverseCholesky(const MatD& h, double dampening, MatD& u) {
    const int64_t n = h.rows();
    double mean = 0;
    for (int64_t j = 0; j < n; ++j) mean += h(j, j);
    mean /= static_cast<double>(std::max<int64_t>(1, n));
    if (!(mean > 0)) return false;
    for (double damp : {dampening, std::max(0.1, 10 * dampening), std::max(1.0, 100 * dampening)}) {
        Eigen::MatrixXd r(n, n);  // P H P, dampened; a dead input gets the mean on its diagonal
        for (int64_t i = 0; i < n; ++i)
            for (int64_t j = 0; j < n; ++j) r(i, j) = h(n - 1 - i, n - 1 - j);
        for (int64_t j = 0; j < n; ++j) r(j, j) = (r(j, j) > 0 ? r(j, j) : mean) + damp * mean;
        Eigen::LLT<Eigen::Ref<Eigen::MatrixXd>> llt(r);  // in place: L in the lower triangle
        if (llt.info() != Eigen::Success) continue;
        Eigen::MatrixXd linv = Eigen::MatrixXd::Identity(n, n);
        r.triangularView<Eigen::Lower>().solveInPlace(linv);
        u.resize(n, n);
        for (int64_t i = 0; i < n; ++i)
            for (int64_t j = 0; j < n; ++j) u(i, j) = linv(n - 1 - i, n - 1 - j);
        if (!u.allFinite()) continue;
        return true;
    }
    return false;
}

}  // namespace

std::vector<TensorData> gptqQuantizeWeights(const Graph& g, int node, const TensorData& w, const std::vector<int>& bitsList,
                                            const QuantOptions& o, const LayerInputMoments& moments, double dampening) {
    const Node& n = g.nodes[static_cast<size_t>(node)];
    const RowLayout l = rowLayout(n, w);
    if (l.channels == 0 || l.rowLength != moments.rowLength())
        throw Error("GPTQ: node '" + n.name + "' does not match its input moments");
    // Per-channel grids (the scales of nearest rounding), and nearest rounding as the fallback.
    const int64_t R = l.rowLength, perGroup = l.channels / moments.groups();
    std::vector<float> row(static_cast<size_t>(R));
    std::vector<std::vector<QuantParams>> grids(bitsList.size(), std::vector<QuantParams>(static_cast<size_t>(l.channels)));
    std::vector<TensorData> out(bitsList.size(), w);
    for (int64_t k = 0; k < l.channels; ++k) {
        for (int64_t j = 0; j < R; ++j) row[static_cast<size_t>(j)] = w.floats[static_cast<size_t>(l.index(k, j))];
        for (size_t bi = 0; bi < bitsList.size(); ++bi) {
            const QuantParams p = symmetricParams(row.data(), R, bitsList[bi], o);
            grids[bi][static_cast<size_t>(k)] = p;
            for (int64_t j = 0; j < R; ++j)
                out[bi].floats[static_cast<size_t>(l.index(k, j))] = p.quantize(row[static_cast<size_t>(j)]);
        }
    }
    MatD h(R, R), u;
    for (int64_t gi = 0; gi < moments.groups(); ++gi) {
        const std::vector<float>& src = moments.moments(gi);
        for (int64_t r = 0; r < R; ++r)
            for (int64_t c = 0; c <= r; ++c) h(r, c) = h(c, r) = src[static_cast<size_t>(r * R + c)];
        if (!inverseCholesky(h, dampening, u)) continue;  // keep nearest rounding for this group
        const int64_t ch0 = gi * perGroup, rowsInGroup = perGroup;
        MatD w0(rowsInGroup, R);
        for (int64_t k = 0; k < rowsInGroup; ++k)
            for (int64_t j = 0; j < R; ++j) w0(k, j) = w.floats[static_cast<size_t>(l.index(ch0 + k, j))];
        for (size_t bi = 0; bi < bitsList.size(); ++bi) {
            const QuantParams* grid = grids[bi].data() + ch0;
            // Blocked GPTQ: columns in blocks of B; errors inside a block update its later
            // columns one at a time, the block's errors update the rest of the row at once.
            constexpr int64_t B = 64;
            MatD wm = w0, q(rowsInGroup, R);
            for (int64_t j0 = 0; j0 < R; j0 += B) {
                const int64_t j1 = std::min(R, j0 + B), nb = j1 - j0;
                MatD err(rowsInGroup, nb);
                for (int64_t j = j0; j < j1; ++j) {
                    const double d = u(j, j);
                    for (int64_t k = 0; k < rowsInGroup; ++k) {
                        const double v = grid[k].quantize(static_cast<float>(wm(k, j)));
                        q(k, j) = v;
                        err(k, j - j0) = (wm(k, j) - v) / d;
                    }
                    if (j + 1 < j1)
                        wm.block(0, j + 1, rowsInGroup, j1 - j - 1).noalias() -=
                            err.col(j - j0) * u.block(j, j + 1, 1, j1 - j - 1);
                }
                if (j1 < R) wm.rightCols(R - j1).noalias() -= err * u.block(j0, j1, nb, R - j1);
            }
            for (int64_t k = 0; k < rowsInGroup; ++k)
                for (int64_t j = 0; j < R; ++j)
                    out[bi].floats[static_cast<size_t>(l.index(ch0 + k, j))] = static_cast<float>(q(k, j));
        }
    }
    return out;
}

TensorData gptqQuantizeWeights(const Graph& g, int node, const TensorData& w, int bits, const QuantOptions& o,
                               const LayerInputMoments& moments, double dampening) {
    return std::move(gptqQuantizeWeights(g, node, w, std::vector<int>{bits}, o, moments, dampening).front());
}

double layerOutputError(const Graph& g, int node, const TensorData& w, const TensorData& wq,
                        const LayerInputMoments& moments, bool centered) {
    const Node& n = g.nodes[static_cast<size_t>(node)];
    const RowLayout l = rowLayout(n, w);
    if (l.channels == 0 || l.rowLength != moments.rowLength()) throw Error("layerOutputError: layer mismatch");
    const int64_t R = l.rowLength, perGroup = l.channels / moments.groups();
    double total = 0, centeredShift = 0;
    const std::vector<double> mean = centered ? moments.mean() : std::vector<double>{};
    Eigen::VectorXd e(R);
    for (int64_t k = 0; k < l.channels; ++k) {
        const std::vector<float>& h = moments.moments(k / perGroup);
        for (int64_t j = 0; j < R; ++j) {
            const size_t i = static_cast<size_t>(l.index(k, j));
            e[j] = static_cast<double>(wq.floats[i]) - w.floats[i];
        }
        for (int64_t r = 0; r < R; ++r) {
            total += h[static_cast<size_t>(r * R + r)] * e[r] * e[r];
            for (int64_t c = 0; c < r; ++c) total += 2 * h[static_cast<size_t>(r * R + c)] * e[r] * e[c];
        }
        if (centered && !mean.empty()) {
            const double* mu = mean.data() + (k / perGroup) * R;
            double shift = 0;
            for (int64_t j = 0; j < R; ++j) shift += e[j] * mu[j];
            centeredShift += shift * shift;
        }
    }
    const double vectors = static_cast<double>(std::max<int64_t>(1, moments.vectors()));
    return std::max(0.0, total / vectors - centeredShift);
}

double layerOutputErrorDiagonal(const Graph& g, int node, const TensorData& w, const TensorData& wq,
                                const std::vector<double>& mean, const std::vector<double>& meanSquare, bool centered) {
    const Node& n = g.nodes[static_cast<size_t>(node)];
    const RowLayout l = rowLayout(n, w);
    const int64_t R = l.rowLength;
    if (l.channels == 0 || R == 0 || meanSquare.size() % static_cast<size_t>(R) != 0 || mean.size() != meanSquare.size())
        throw Error("layerOutputErrorDiagonal: layer mismatch");
    const int64_t groups = static_cast<int64_t>(meanSquare.size()) / R;
    if (groups == 0 || l.channels % groups != 0) throw Error("layerOutputErrorDiagonal: layer mismatch");
    const int64_t perGroup = l.channels / groups;
    double total = 0;
    for (int64_t k = 0; k < l.channels; ++k) {
        const double* m2 = meanSquare.data() + (k / perGroup) * R;
        const double* m1 = mean.data() + (k / perGroup) * R;
        for (int64_t j = 0; j < R; ++j) {
            const size_t i = static_cast<size_t>(l.index(k, j));
            const double e = static_cast<double>(wq.floats[i]) - w.floats[i];
            total += e * e * std::max(0.0, centered ? m2[j] - m1[j] * m1[j] : m2[j]);
        }
    }
    return total;
}

}  // namespace autosplit
