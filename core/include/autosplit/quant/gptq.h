// Second-order weight rounding for the edge layers (GPTQ: Frantar, Ashkboos, Hoefler, Alistarh,
// "GPTQ: Accurate Post-Training Quantization for Generative Pre-trained Transformers", ICLR 2023,
// built on the Optimal Brain Quantizer of Frantar & Alistarh 2022).
//
// Rounding every weight to its nearest grid point minimizes ||W_q - W||, but what the network
// sees is the layer output error ||(W_q - W) X|| over the inputs X the layer actually gets. GPTQ
// quantizes the columns of each weight row one at a time and moves each rounding error onto the
// columns not yet quantized, weighted by the inverse of H = X X^T, which greedily minimizes the
// output error. The grid is unchanged (per output channel, symmetric, restricted range, the
// same clipped scale as fakeQuantizeWeights), so the result deploys like any per-channel weight.
//
// It matters most where few weights feed an output and a single rounding error is not averaged
// away: on PP-OCRv4 rec, 8-bit nearest rounding of the first 3x3 depthwise conv (9 weights per
// channel, BatchNorm folded in) alone costs 3.2 points of character accuracy, GPTQ rounding 0.1.
//
// Layers: Conv (1-D to 3-D, groups: one H per group), Gemm (transA = 0) and MatMul with a 2-D
// constant right-hand side (one H over the input rows). H is accumulated in float from float
// inputs (the float model's activations on a calibration set), chunk by chunk (a chunk's products
// summed apart, then added): half the memory of double sums, so a float pass over the
// calibration set collects twice the layers; the factorization runs in double.
#pragma once

#include "autosplit/ir/graph.h"
#include "autosplit/quant/quantize.h"

#include <cstdint>
#include <memory>
#include <mutex>
#include <vector>

namespace autosplit {

class Executor;

// Product buffers for LayerInputMoments::add(), kept for a whole pass over many layers and
// samples: a chunk's R x R products need an R x R float buffer, and allocating it afresh for
// every chunk (for a 3x3 conv on 512 channels, 85 MB) costs faulting in and zeroing pages,
// about a quarter of the sums' own time. Leases are thread-safe; the buffers are freed with this
// object (only while a pass owns one do they outlive an add()).
class MomentScratch {
public:
    struct Buffers {
        std::vector<float> prod;
    };
    // Buffers no other add() holds (new ones if all are taken), returned by release().
    std::unique_ptr<Buffers> take();
    void release(std::unique_ptr<Buffers> b);

private:
    std::mutex mutex_;
    std::vector<std::unique_ptr<Buffers>> free_;
};

// Sums over samples of x and x x^T for the input vectors one node's weight rows multiply.
class LayerInputMoments {
public:
    // Null when `node` has no GPTQ-able weight (see above) or its input is not a float tensor of
    // the expected rank.
    static std::unique_ptr<LayerInputMoments> forNode(const Graph& g, int node);
    // The same layers, first moments only (mean(); moments() is empty): O(R) memory, and a
    // pass no costlier than a depthwise conv over the input. For bias correction.
    static std::unique_ptr<LayerInputMoments> meansForNode(const Graph& g, int node);

    int64_t rowLength() const { return rows_; }  // R: weights per output channel
    int64_t groups() const { return groups_; }
    // Memory the accumulated second moments take (groups * R * R floats).
    int64_t bytes() const { return groups_ * rows_ * rows_ * static_cast<int64_t>(sizeof(float)); }
    static int64_t bytesFor(const Graph& g, int node);      // without allocating; 0 when unsupported
    static int64_t rowLengthFor(const Graph& g, int node);  // R without allocating; 0 when unsupported
    int64_t vectors() const { return count_; }          // input vectors accumulated

    // Adds the vectors of one run's input 0 of the node. Not thread-safe: use one object per
    // thread and merge(), or serialize. With `pool`, the R x R sums of a chunk of vectors run in
    // row blocks on its workers (gramLower: the sums are the same with or without it).
    // With `scratch`, the chunk products go into buffers leased from it (the same sums).
    void add(const TensorData& input, const Executor* pool = nullptr, MomentScratch* scratch = nullptr);
    // Second moments from at most `vectors` input vectors per add() (0: all, the default): a conv
    // takes every s-th output position in raster order, s the smallest step that keeps within the
    // budget and is coprime with the output width (so the kept positions cover every column), a
    // Gemm/MatMul every s-th row; each add() starts one position later than the one before, so
    // successive samples fill in other positions. The cost of add() is R^2 per kept vector: a
    // 3x3 conv on 128 channels at 52^2 accumulates 2704 vectors of 1152 values per sample, and
    // H of rank R needs a few times R of them, not all. mean(), moments() and vectors() are all
    // over the kept vectors. Moments with only first moments (meansForNode) ignore the budget.
    void setVectorsPerAdd(int64_t vectors) { vectorsPerAdd_ = vectors; }
    // First moments only: adds the vectors of the element-wise square of `input` (E[x^2] per
    // vector component) without materializing the square.
    void addSquares(const TensorData& input);
    void merge(const LayerInputMoments& other);

    // H of group g, R x R, row-major (only the lower triangle is meaningful before finalize()).
    const std::vector<float>& moments(int64_t group) const { return h_[static_cast<size_t>(group)]; }
    // E[x] of the input vectors, groups * R values (group-major, in weight-row order): with a
    // conv's padding counted as zeros, sum_j w_j E[x_j] is exactly the mean of the output.
    std::vector<double> mean() const;

private:
    LayerInputMoments() = default;
    static std::unique_ptr<LayerInputMoments> forNode(const Graph& g, int node, bool second);
    struct ConvGeom {
        int nsp = 0;
        int64_t in[3] = {1, 1, 1}, k[3] = {1, 1, 1}, s[3] = {1, 1, 1}, d[3] = {1, 1, 1}, pb[3] = {0, 0, 0},
                pe[3] = {0, 0, 0}, out[3] = {1, 1, 1};
        int autoPad = 0;  // 0 NOTSET, 1 SAME_UPPER, 2 SAME_LOWER, 3 VALID
    };
    struct Stride {
        int64_t step = 1, phase = 0;
    };
    Stride strideFor(int64_t vectors, int64_t width);  // which vectors the next add() keeps
    ConvGeom resolvedGeometry(const TensorData& x) const;  // geom_ with x's size and auto_pad
    bool addBoxSums(const TensorData& x, bool squared);
    bool conv_ = false;
    ConvGeom geom_;
    int64_t channels_ = 0;  // input channels (Conv) or vector length (Gemm/MatMul)
    int64_t rows_ = 0, groups_ = 1, count_ = 0;
    int64_t vectorsPerAdd_ = 0, adds_ = 0;
    std::vector<std::vector<float>> h_;   // empty: first moments only
    std::vector<double> sum_;             // groups * R
};

// Per-output-channel symmetric quantization of node `node`'s weight `w` at `bits` (2..8) with
// GPTQ rounding against `moments`; the scales are those fakeQuantizeWeights picks with `o`.
// Columns with no signal (H_jj = 0) are rounded to nearest. If H cannot be factorized even with
// strong dampening, the result is nearest rounding (never worse than fakeQuantizeWeights).
// `dampening` is added to H's diagonal as a fraction of its mean (GPTQ uses 0.01).
TensorData gptqQuantizeWeights(const Graph& g, int node, const TensorData& w, int bits, const QuantOptions& o,
                               const LayerInputMoments& moments, double dampening = 0.01);
// The same for several bit widths with one factorization of H per group (the expensive part:
// O(R^3) for rows of R weights).
std::vector<TensorData> gptqQuantizeWeights(const Graph& g, int node, const TensorData& w, const std::vector<int>& bits,
                                            const QuantOptions& o, const LayerInputMoments& moments,
                                            double dampening = 0.01);

// Output error of a quantized weight against the moments: sum over groups and rows of
// (w_q - w)^T H (w_q - w) / vectors — what GPTQ minimizes — per input vector, summed over the
// output channels. `centered`: against the covariance H / vectors - E[x] E[x]^T instead, the
// error left once the bias has absorbed its mean shift (bias correction).
double layerOutputError(const Graph& g, int node, const TensorData& w, const TensorData& wq,
                        const LayerInputMoments& moments, bool centered = false);
// The same with H replaced by its diagonal (sum over channels k and columns j of
// (w_q - w)_kj^2 E[x_j^2], minus E[x_j]^2 when centered): exact in expectation for rounding
// errors that are independent across columns (nearest rounding), and needs only O(R) moments.
// `mean` and `meanSquare` hold E[x] and E[x^2] per group and column (LayerInputMoments::mean()
// of the inputs and of their squares: groups * R values).
double layerOutputErrorDiagonal(const Graph& g, int node, const TensorData& w, const TensorData& wq,
                                const std::vector<double>& mean, const std::vector<double>& meanSquare,
                                bool centered);

}  // namespace autosplit
