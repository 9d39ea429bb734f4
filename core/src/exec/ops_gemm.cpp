// GEMM entry point (packed kernels of sgemm_kernels.cpp; Eigen for thin shapes such as the
// matrix-vector products of a batch-1 classifier head) and the Gemm / MatMul ops.
#include "exec_internal.h"
#include "sgemm_kernels.h"

#include <Eigen/Core>

#include <algorithm>

namespace autosplit::exec {

namespace {
using RowMat = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
using ColMat = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::ColMajor>;
using Stride = Eigen::OuterStride<>;

template <class MA, class MB>
void gemmBlocks(ThreadPool& pool, const MA& a, const MB& b, float* C, int64_t M, int64_t N, int64_t ldc,
                bool accumulate) {
    Eigen::Map<RowMat, 0, Stride> c(C, M, N, Stride(ldc));
    const int64_t work = M * N * a.cols();
    const int threads = work < 64 * 64 * 64 ? 1 : pool.size();
    if (threads <= 1) {
        if (accumulate) c.noalias() += a * b;
        else c.noalias() = a * b;
        return;
    }
    // Split the larger output dimension; chunks stay multiples of 16 for aligned packing.
    if (N >= M) {
        pool.parallelFor((N + 15) / 16, 1, [&](int64_t b0, int64_t b1) {
            const int64_t j0 = b0 * 16, j1 = std::min(N, b1 * 16);
            if (accumulate) c.middleCols(j0, j1 - j0).noalias() += a * b.middleCols(j0, j1 - j0);
            else c.middleCols(j0, j1 - j0).noalias() = a * b.middleCols(j0, j1 - j0);
        });
    } else {
        pool.parallelFor((M + 7) / 8, 1, [&](int64_t b0, int64_t b1) {
            const int64_t i0 = b0 * 8, i1 = std::min(M, b1 * 8);
            if (accumulate) c.middleRows(i0, i1 - i0).noalias() += a.middleRows(i0, i1 - i0) * b;
            else c.middleRows(i0, i1 - i0).noalias() = a.middleRows(i0, i1 - i0) * b;
        });
    }
}
}  // namespace

void sgemm(ThreadPool& pool, bool transA, bool transB, int64_t M, int64_t N, int64_t K, const float* A,
           int64_t lda, const float* B, int64_t ldb, float* C, int64_t ldc, bool accumulate) {
    if (M == 0 || N == 0) return;
    if (K == 0) {
        if (!accumulate)
            for (int64_t i = 0; i < M; ++i) std::fill(C + i * ldc, C + i * ldc + N, 0.f);
        return;
    }
    // Packed kernels unless one side is too thin to fill a register tile.
    if (M >= 4 && N >= 8) {
        packedGemm(gemmIsa(), &pool, M, N, K, A, lda, transA, MatrixBSource(B, ldb, transB), C, ldc, accumulate);
        return;
    }
    if (!transA && !transB)
        gemmBlocks(pool, Eigen::Map<const RowMat, 0, Stride>(A, M, K, Stride(lda)),
                   Eigen::Map<const RowMat, 0, Stride>(B, K, N, Stride(ldb)), C, M, N, ldc, accumulate);
    else if (transA && !transB)
        gemmBlocks(pool, Eigen::Map<const ColMat, 0, Stride>(A, M, K, Stride(lda)),
                   Eigen::Map<const RowMat, 0, Stride>(B, K, N, Stride(ldb)), C, M, N, ldc, accumulate);
    else if (!transA && transB)
        gemmBlocks(pool, Eigen::Map<const RowMat, 0, Stride>(A, M, K, Stride(lda)),
                   Eigen::Map<const ColMat, 0, Stride>(B, K, N, Stride(ldb)), C, M, N, ldc, accumulate);
    else
        gemmBlocks(pool, Eigen::Map<const ColMat, 0, Stride>(A, M, K, Stride(lda)),
                   Eigen::Map<const ColMat, 0, Stride>(B, K, N, Stride(ldb)), C, M, N, ldc, accumulate);
}

namespace {

std::string checkFloatInputs(const Graph& g, const Node& n) {
    for (int t : n.inputs)
        if (t >= 0 && !isFloating(g.tensors[t].dtype))
            return "only float tensors are supported (input '" + g.tensors[t].name + "' is " +
                   dtypeName(g.tensors[t].dtype) + ")";
    return {};
}

void gemmOp(KernelContext& c) {
    const TensorData& a = c.input(0);
    const TensorData& b = c.input(1);
    const bool tA = c.node.attrInt("transA", 0) != 0, tB = c.node.attrInt("transB", 0) != 0;
    const float alpha = c.node.attrFloat("alpha", 1.f), beta = c.node.attrFloat("beta", 1.f);
    if (a.shape.size() != 2 || b.shape.size() != 2)
        c.fail("A and B must be 2-D, got " + shapeStr(a.shape) + " and " + shapeStr(b.shape));
    const int64_t M = tA ? a.shape[1] : a.shape[0], K = tA ? a.shape[0] : a.shape[1];
    const int64_t Kb = tB ? b.shape[1] : b.shape[0], N = tB ? b.shape[0] : b.shape[1];
    if (K != Kb) c.fail("inner dimensions differ: " + shapeStr(a.shape) + " x " + shapeStr(b.shape));
    TensorData y = makeFloat({M, N}, a.dtype);
    sgemm(c.pool, tA, tB, M, N, K, a.floats.data(), a.shape[1], b.floats.data(), b.shape[1], y.floats.data(), N,
          false);
    if (alpha != 1.f)
        for (float& v : y.floats) v *= alpha;
    if (c.hasInput(2) && beta != 0.f) {
        const TensorData& bias = c.input(2);
        const auto outShape = broadcastShapes(c, {M, N}, bias.shape);
        if (outShape != std::vector<int64_t>{M, N}) c.fail("C " + shapeStr(bias.shape) + " does not broadcast to the output");
        const auto st = broadcastStrides(bias.shape, 2);
        for (int64_t i = 0; i < M; ++i)
            for (int64_t j = 0; j < N; ++j) y.floats[i * N + j] += beta * bias.floats[i * st[0] + j * st[1]];
    }
    c.out[0] = std::move(y);
}

void matmulOp(KernelContext& c) {
    const TensorData& a = c.input(0);
    const TensorData& b = c.input(1);
    if (a.shape.empty() || b.shape.empty()) c.fail("scalar operands are not allowed");
    std::vector<int64_t> as = a.shape, bs = b.shape;
    const bool aVec = as.size() == 1, bVec = bs.size() == 1;
    if (aVec) as.insert(as.begin(), 1);
    if (bVec) bs.push_back(1);
    const int64_t M = as[as.size() - 2], K = as.back(), N = bs.back();
    if (bs[bs.size() - 2] != K) c.fail("inner dimensions differ: " + shapeStr(a.shape) + " x " + shapeStr(b.shape));
    std::vector<int64_t> aBatch(as.begin(), as.end() - 2), bBatch(bs.begin(), bs.end() - 2);
    const auto batch = broadcastShapes(c, aBatch, bBatch);
    std::vector<int64_t> outShape = batch;
    if (!aVec) outShape.push_back(M);
    if (!bVec) outShape.push_back(N);
    TensorData y = makeFloat(outShape, a.dtype);
    const int64_t nb = numel(batch);
    if (bBatch.empty() || numel(bBatch) == 1) {
        // [.., M, K] x [K, N]: one GEMM over all rows of A when A's batch is not broadcast.
        if (numel(aBatch) == nb) {
            sgemm(c.pool, false, false, nb * M, N, K, a.floats.data(), K, b.floats.data(), N, y.floats.data(), N, false);
            c.out[0] = std::move(y);
            return;
        }
    }
    const auto sa = broadcastStrides(aBatch, batch.size()), sb = broadcastStrides(bBatch, batch.size());
    const auto so = contiguousStrides(batch);
    auto body = [&](int64_t i0, int64_t i1) {
        for (int64_t i = i0; i < i1; ++i) {
            int64_t oa = 0, ob = 0, rem = i;
            for (size_t d = 0; d < batch.size(); ++d) {
                const int64_t idx = rem / so[d];
                rem %= so[d];
                oa += idx * sa[d];
                ob += idx * sb[d];
            }
            sgemm(c.pool, false, false, M, N, K, a.floats.data() + oa * M * K, K, b.floats.data() + ob * K * N, N,
                  y.floats.data() + i * M * N, N, false);
        }
    };
    // Many small matrices (attention heads): parallel over the batch; else over each GEMM.
    if (nb > 1 && M * N * K < 256 * 256 * 64) c.pool.parallelFor(nb, 1, body);
    else body(0, nb);
    c.out[0] = std::move(y);
}

}  // namespace

void registerGemmOps(Registry& r) {
    r["Gemm"] = {gemmOp, checkFloatInputs, false};
    r["MatMul"] = {matmulOp, checkFloatInputs, false};
}

}  // namespace autosplit::exec
