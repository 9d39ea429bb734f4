#include "autosplit/exec/gram.h"

#include "autosplit/exec/parallel.h"
#include "autosplit/util/errors.h"
#include "sgemm_kernels.h"

#include <algorithm>

namespace autosplit {

void gramLower(const Executor* pool, int64_t R, int64_t P, const float* x, int64_t rowStride, int64_t colStride, float* g,
               int64_t ldg) {
    if (R <= 0) return;
    if (rowStride != 1 && colStride != 1) throw Error("gramLower: X needs unit stride along one axis");
    if (P <= 0) {
        for (int64_t r = 0; r < R; ++r) std::fill(g + r * ldg, g + r * ldg + r + 1, 0.f);
        return;
    }
    // A = X, B = X^T: with unit column stride X is row-major (B its transpose, [N, K] storage);
    // with unit row stride X is column-major (A read transposed, B row-major [K, N]).
    const bool rowMajor = colStride == 1;
    const int64_t ld = rowMajor ? rowStride : colStride;
    const exec::MatrixBSource b(x, ld, rowMajor);
    // Row block i computes columns [0, end of block i): blocks of the lower triangle, with half of
    // each diagonal block above it. The widest blocks first, so the workers end together.
    constexpr int64_t kBlock = 256;
    const int64_t blocks = (R + kBlock - 1) / kBlock;
    auto block = [&](int t) {
        const int64_t i = blocks - 1 - t, r0 = i * kBlock, m = std::min(kBlock, R - r0), n = r0 + m;
        const float* a = rowMajor ? x + r0 * rowStride : x + r0;
        exec::packedGemm(exec::gemmIsa(), nullptr, m, n, P, a, ld, !rowMajor, b, g + r0 * ldg, ldg, false);
    };
    if (pool && blocks > 1)
        parallelFor(*pool, static_cast<int>(blocks), block);
    else
        for (int t = 0; t < blocks; ++t) block(t);
}

}  // namespace autosplit
