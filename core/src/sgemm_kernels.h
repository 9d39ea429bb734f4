// Packed single-precision GEMM for the executor: register-blocked FMA micro-kernels (AVX-512,
// AVX2, portable C++) chosen at run time, cache blocking, B packed into panels by a source
// (a plain matrix, or the im2col of a convolution packed directly without a column buffer),
// bias + clamp activation fused into the store of the last K block. A (the weights of a Conv)
// is read in place, row-major, so constant weights need no repacking per run.
#pragma once

#include "autosplit/graph.h"

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

// Produces rows of the B operand [K, N]: row k, columns [j0, j0 + n), contiguous. Returns either a
// pointer into its own storage or `tmp` (room for n floats) after filling it. Called from several
// threads at once.
class GemmBSource {
public:
    virtual ~GemmBSource() = default;
    virtual const float* row(int64_t k, int64_t j0, int64_t n, float* tmp) const = 0;
};

// B as a row-major matrix ([K, N], leading dimension ld) or transposed ([N, K]).
class MatrixBSource final : public GemmBSource {
public:
    MatrixBSource(const float* b, int64_t ld, bool trans) : b_(b), ld_(ld), trans_(trans) {}
    const float* row(int64_t k, int64_t j0, int64_t n, float* tmp) const override;

private:
    const float* b_;
    int64_t ld_;
    bool trans_;
};

// Applied to the finished C tile: C = clamp(C + bias[row], lo, hi), then `post` (activations
// that are not a clamp) over the tile.
struct GemmEpilogue {
    const float* bias = nullptr;  // per row of C (M values), or null
    float lo = -std::numeric_limits<float>::infinity();
    float hi = std::numeric_limits<float>::infinity();
    const Activation* post = nullptr;
    bool clamps() const { return lo > -std::numeric_limits<float>::infinity() || hi < std::numeric_limits<float>::infinity(); }
    // Bias plus the node's fused activation (Relu and Clip become the clamp).
    static GemmEpilogue of(const float* bias, const Activation& act);
};

// C[M,N] (=|+=) A[M,K] * B[K,N] (+ epilogue), A row-major with leading dimension lda. Split over
// `pool` (null: the calling thread only) along N or M; each worker packs its own B blocks.
void packedGemm(GemmIsa isa, ThreadPool* pool, int64_t M, int64_t N, int64_t K, const float* A, int64_t lda,
                const GemmBSource& B, float* C, int64_t ldc, bool accumulate, const GemmEpilogue& ep = {});

}  // namespace autosplit::exec
