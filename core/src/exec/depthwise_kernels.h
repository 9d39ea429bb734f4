// Depthwise (one input channel per output channel) 2-D convolution of one plane, vectorized
// along the output row: each 16-wide (AVX-512) or 8-wide (AVX2) block of outputs keeps its
// accumulator in a register over all kernel taps and is stored once, with the bias and a clamp
// activation applied in the store.
#pragma once

#include "sgemm_kernels.h"

#include <cstdint>
#include <vector>

namespace autosplit::exec {

// One channel: y[oy * ow + ox] = clamp(bias + sum_{ky,kx} w[ky * kw + kx] *
// x[(oy * sy + ky * dy) * ldx + ox * sx + kx * dx], lo, hi). `x` is zero-padded already: every
// read above is inside it.
struct DepthwisePlane {
    int64_t ldx = 0;  // row stride of the (padded) input
    int64_t kh = 1, kw = 1, sy = 1, sx = 1, dy = 1, dx = 1;
    int64_t oh = 0, ow = 0;
};

void depthwisePlane(GemmIsa isa, const DepthwisePlane& p, const float* x, const float* w, float bias, float lo,
                    float hi, float* y);

// One channel straight from its unpadded input plane [h, w] (top and left pads pt, pl; the
// bottom and right pads are what the output size reads past the input). The plane is copied
// once into zero-bordered polyphase planes, s x s of them for stride s (plane (R % s, C % s)
// holds padded element (R, C) at (R / s) * q + C / s), so that every kernel tap reads one
// contiguous run over the flattened output grid [oh, q] (q >= ow; columns past ow are computed
// and dropped): full-width loads without masks or permutes, 64 outputs per step (four 16-wide
// accumulators, or eight 8-wide ones) however narrow the map. Rows that fill their vectors are
// run one by one straight into the output; narrower maps run the grid and copy its rows out.
// Sums in the same order as depthwisePlane (bias, then taps row by row, one FMA each), so both
// give the same bits.
struct DepthwiseChannel {
    int64_t h = 0, w = 0, pt = 0, pl = 0;
    int64_t kh = 1, kw = 1, s = 1, dy = 1, dx = 1;
    int64_t oh = 0, ow = 0;
};

// Whether the polyphase path runs `c` with `isa` (AVX-512 or AVX2, equal strides 1 or 2).
bool depthwisePolyphaseSupported(GemmIsa isa, const DepthwiseChannel& c);

// The per-thread planes of one DepthwiseChannel geometry (zeroed once: the borders stay zero,
// only the input's own elements are rewritten per channel).
class DepthwisePhases {
public:
    // Sizes and zeroes the planes for `c` and runs them with `isa` (supported for `c`); the
    // storage is kept from one call to the next.
    void prepare(const DepthwiseChannel& c, GemmIsa isa);
    // y[oy * ow + ox] = clamp(bias + sum_{ky,kx} w[ky * kw + kx] * x_padded[...], lo, hi).
    void run(const float* x, const float* w, float bias, float lo, float hi, float* y);
    // Whether run() goes row by row into y (else over the grid, rows copied out when q != ow).
    bool rowWise() const { return rowWise_; }

private:
    DepthwiseChannel c_;
    GemmIsa isa_ = GemmIsa::Avx512;
    int64_t hp_ = 0, cols_ = 0;  // padded rows the outputs read, input columns they read
    int64_t q_ = 0, planeSize_ = 0, n_ = 0;
    bool rowWise_ = false;             // one run per output row, straight into y
    std::vector<float> storage_, out_;  // the planes (and their slack); the [oh, q] grid when q != ow
    std::vector<int64_t> tapOffset_;    // per tap: plane start + offset into it
};

}  // namespace autosplit::exec
