// Activation equalization: per-channel rescaling of the tensors a Conv reads, so that one
// per-tensor activation scale fits all of their channels (the idea of cross-layer equalization,
// Nagel et al. 2019, "Data-Free Quantization", applied to activation ranges measured on data).
//
// A per-tensor 8-bit grid is sized by the widest channel; a channel whose range is 1/50 of the
// tensor's keeps about 5 levels. PP-OCRv4 rec (PP-LCNetV3) has such tensors in front of most of
// its depthwise convs: quantizing the output of its first conv alone at 8 bits costs 2 points of
// character accuracy. Multiplying channel c of such a tensor by s_c >= 1 at its producer and
// dividing the consumers' weights for that input channel by s_c leaves the float model unchanged
// (up to float rounding) and lets every channel use the whole grid. The weights stay per output
// channel, so a depthwise consumer absorbs any s_c without weight-quantization cost; for a dense
// consumer s_c is the square root of the equalizing factor (CLE's balance between the two).
// s_c is bounded by every tensor it scales (T and, in an affine block, the Mul output before the
// Add): none outgrows its own per-tensor range. A channel that holds one value on every sample
// keeps s_c = 1: it has no signal to spread, and PP-OCRv4 rec's dead channels (a constant −0.2
// scaled 256×) set the grid of the Mul outputs they passed through.
//
// Rewritten tensors T (float, rank >= 3, channels on axis 1) have only Conv consumers reading T
// as input 0 with a constant weight, and a producer that scales exactly:
//   - a Conv with a constant weight (and bias) whose fused activation is none, Relu or LeakyRelu
//     (positively homogeneous): weight rows and bias times s;
//   - a Mul by a constant (scalar or per channel): the constant times s, now per channel;
//   - an Add/Sub with a constant whose other input is read only by it and is itself rescalable
//     (PP-LCNetV3's learnable affine blocks, y = a x + b): the constant times s, and the input.
// Constants are rewritten in place only where no other node reads them. Node order, names and
// tensor ids stay the same; graphHash() changes, so calibration caches are not mixed up.
#pragma once

#include "autosplit/ir/graph.h"
#include "autosplit/quant/calibration.h"
#include "autosplit/util/cancel.h"

#include <string>
#include <vector>

namespace autosplit {

struct EqualizeOptions {
    int maxSamples = 256;    // calibration samples whose channel ranges are measured (a maximum
                             // over too few samples misjudges the channels: 32 of 100 OCR lines
                             // gave a 1.8-point drop where all 100 gave 0.4)
    double maxScale = 256;   // cap on s_c (keeps divided weights well inside float16 for the cloud)
    int threads = 0;         // executor threads, 0 = all cores
    CancelToken cancel;
    // The measured per-channel ranges are kept in DIR/equalize-<model>-<data>-n<samples>.json
    // (the float model before equalization, the data set's hash): reopening the same model on
    // the same data skips the float pass and applies the same scales. Empty: no cache.
    std::string cacheDir;
};

struct EqualizedTensor {
    std::string tensor;      // rescaled tensor
    std::string producer;    // node that now produces it scaled
    int64_t channels = 0;
    double maxScale = 1;     // largest s_c applied
    bool depthwise = true;   // every consumer depthwise (full equalization) or not (square root)
};

struct EqualizeReport {
    std::vector<EqualizedTensor> tensors;
    int samples = 0;         // samples measured
    bool rangesFromCache = false;
};

// Measures per-channel ranges of the candidate tensors on `data` (float model) and rescales them.
// Throws Error on samples that do not fit the graph, Cancelled when `o.cancel` fires (the graph is
// then unchanged).
EqualizeReport equalizeActivations(Graph& g, const Dataset& data, const EqualizeOptions& o = {});

// "equalization: 3 tensors rescaled per channel (1 read by depthwise convs, largest factor 12.0)
// on 8 samples (37 ms)" (", ranges from the cache" when they were).
std::string equalizationSummary(const EqualizeReport& r, double ms);

}  // namespace autosplit
