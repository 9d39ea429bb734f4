// Packed single-precision GEMM for the executor: register-blocked FMA micro-kernels (AVX-512,
// AVX2, portable C++) chosen at run time, cache blocking, B packed into panels by a source
// (a plain matrix, or the im2col of a convolution packed directly without a column buffer),
// bias + clamp activation fused into the store of the last K block. A (the weights of a Conv)
// is read in place, so nothing is prepared or cached between runs.
#pragma once

#include "autosplit/ir/graph.h"
#include "autosplit/util/fake_quant.h"

#include <cstdint>
#include <limits>

namespace autosplit {
class ThreadPool;
}

namespace autosplit::exec {

enum class GemmIsa { Generic, Avx2, Avx512 };

const char* gemmIsaName(GemmIsa isa);
// Whether this CPU (and build) can run `isa`.
bool gemmIsaSupported(GemmIsa isa);
// The ISA used by sgemm and Conv: the best supported one, or AUTOSPLIT_SGEMM_ISA
// (generic|avx2|avx512) from the environment when that is supported, or setGemmIsa's choice.
GemmIsa gemmIsa();
// Overrides the choice (tests); ignored when unsupported. Not meant to change during runs.
void setGemmIsa(GemmIsa isa);

// Where packed B goes: columns in panels of `nr`, panel p at dst + p*kc*nr holding [kc][nr]
// (row k of the panel at + k*nr), so block column jj of row k is at
// dst + (jj / nr) * kc * nr + k * nr + jj % nr. Columns past the block's end are padded by the
// caller.
struct BPanels {
    float* dst;
    int64_t kc;
    int nr;
    GemmIsa isa;  // the instruction set packedGemm runs (supported here): the one to copy with
};

// The B operand [K, N] of packedGemm: packs rows [k0, k0+kc) x columns [j0, j0+nc) into `out`
// (block column jj = j - j0, block row k - k0). Called from several threads at once.
class GemmBSource {
public:
    virtual ~GemmBSource() = default;
    virtual void pack(int64_t k0, int64_t kc, int64_t j0, int64_t nc, const BPanels& out) const = 0;
    // B itself when its rows can be read in place (row-major, element (k, j) at
    // inPlace()[k * inPlaceLd() + j]), else null.
    virtual const float* inPlace() const { return nullptr; }
    virtual int64_t inPlaceLd() const { return 0; }
};

// Whether packedGemm's kernels read `b` in place rather than packed when A has M rows: a
// row-major B (a pointwise conv's input) under few rows of A, whose strips would read each
// packed panel too few times to repay the copy (64 x 256 x 3136: 0.45 -> 0.41 ms; 24 x 144 x
// 3136: 0.123 -> 0.097 on Zen 5), and whose row stride spreads a panel's rows over at least 4 of
// a 64-set L1 (a stride of a multiple of 4 KB puts them all in one set: PP-OCRv4 det's 320^2 and
// 160^2 maps ran 20-30 % slower in place). The same sums either way.
bool readsBInPlace(int64_t M, const GemmBSource& b);

// B as a row-major matrix ([K, N], leading dimension ld) or transposed ([N, K]). Row-major rows
// are copied into the panels as one run per panel, with the im2col source's run copier.
class MatrixBSource final : public GemmBSource {
public:
    MatrixBSource(const float* b, int64_t ld, bool trans) : b_(b), ld_(ld), trans_(trans) {}
    void pack(int64_t k0, int64_t kc, int64_t j0, int64_t nc, const BPanels& out) const override;
    const float* inPlace() const override { return trans_ ? nullptr : b_; }
    int64_t inPlaceLd() const override { return ld_; }

private:
    const float* b_;
    int64_t ld_;
    bool trans_;
};

// The im2col matrix of a convolution's input as B ([channels * kernel volume, output positions]):
// row r = ((c * k0 + kz) * k1 + ky) * k2 + kx, column = (oz * out1 + oy) * out2 + ox. The
// input [channels, in0, in1, in2] must be zero-padded already (every read in range). Blocks are
// packed straight from the input; no column matrix is materialized.
struct ConvGeometry {
    int64_t in[3] = {1, 1, 1}, k[3] = {1, 1, 1}, s[3] = {1, 1, 1}, d[3] = {1, 1, 1}, out[3] = {1, 1, 1};
};

class Im2colBSource final : public GemmBSource {
public:
    Im2colBSource(const ConvGeometry& g, const float* x) : g_(g), x_(x) {}
    void pack(int64_t k0, int64_t kc, int64_t j0, int64_t nc, const BPanels& out) const override;

private:
    ConvGeometry g_;
    const float* x_;
};

// Applied to the finished C tile: C = clamp(C + bias[row], lo, hi), then `post` (activations
// that are not a clamp) over the tile.
struct GemmEpilogue {
    const float* bias = nullptr;  // per row of C (M values), or null
    float lo = -std::numeric_limits<float>::infinity();
    float hi = std::numeric_limits<float>::infinity();
    const Activation* post = nullptr;
    const FakeQuantGrid* grid = nullptr;  // after post: fake quantization (KernelContext::outputGrid)
    bool clamps() const { return lo > -std::numeric_limits<float>::infinity() || hi < std::numeric_limits<float>::infinity(); }
    // Bias plus the node's fused activation (Relu and Clip become the clamp), then the grid.
    static GemmEpilogue of(const float* bias, const Activation& act, const FakeQuantGrid* grid = nullptr);
    // What follows the clamp, over n finished values: post, then grid.
    bool finishes() const { return post || grid; }
    void finish(float* c, int64_t n) const;
};

// C[M,N] (=|+=) A[M,K] * B[K,N] (+ epilogue); A is read as A[i*lda + k], or A[k*lda + i] when
// transA. Split over `pool` (null: the calling thread only): wide problems by column chunks
// (each worker packs its own B), narrow ones by row blocks over B packed once and shared.
void packedGemm(GemmIsa isa, ThreadPool* pool, int64_t M, int64_t N, int64_t K, const float* A, int64_t lda,
                bool transA, const GemmBSource& B, float* C, int64_t ldc, bool accumulate,
                const GemmEpilogue& ep = {});

}  // namespace autosplit::exec
