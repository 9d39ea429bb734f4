// The Gram matrix G = X X^T of a set of vectors (GPTQ's second moments H), on the executor's
// packed SGEMM: a symmetric rank-P update that only computes the blocks on and below the diagonal.
#pragma once

#include <cstdint>

namespace autosplit {

class Executor;

// X is R x P (P vectors of length R): X(r, p) = x[r * rowStride + p * colStride], one of the two
// strides 1. Writes G(r, c) = sum over p of X(r, p) X(c, p) into g[r * ldg + c] for every c <= r
// (and some entries above the diagonal, within R x R; none outside it). Each entry is one FMA
// chain over p in order, so G is the same for any thread count. Row blocks run in parallel on
// `pool`'s workers (null: the calling thread).
void gramLower(const Executor* pool, int64_t R, int64_t P, const float* x, int64_t rowStride, int64_t colStride, float* g,
               int64_t ldg);

}  // namespace autosplit
