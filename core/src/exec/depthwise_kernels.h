// Depthwise (one input channel per output channel) 2-D convolution of one plane, vectorized
// along the output row: each 16-wide block of outputs keeps its accumulator in a register over
// all kernel taps and is stored once, with the bias and a clamp activation applied in the store.
#pragma once

#include "sgemm_kernels.h"

#include <cstdint>

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

}  // namespace autosplit::exec
