// Conv through oneDNN (optional: built when libdnnl-dev is found, used when AUTOSPLIT_CONV=dnnl or
// dnnl-plain is set). Measured against the packed SGEMM in bench/README.md.
#pragma once

#include <cstdint>

namespace autosplit::exec {

struct DnnlConvArgs {
    int64_t n, c, h, w;          // input
    int64_t k, kh, kw, group;    // weights [k, c / group, kh, kw]
    int64_t sy, sx, dy, dx;      // strides, dilations (1 = none)
    int64_t pt, pl, pb, pr;      // pads
    int64_t oh, ow;              // output
    const float* x;
    const float* wgt;
    const float* bias;           // or null
    float* y;
    bool clamp;                  // y = clamp(y, lo, hi) as a post-op
    float lo, hi;
};

// Whether convolutions go to oneDNN in this process.
bool dnnlConvEnabled();
// Runs the convolution; false when oneDNN does not take it (the caller runs its own kernel).
bool dnnlConv(const DnnlConvArgs& a);

}  // namespace autosplit::exec
