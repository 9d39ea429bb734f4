// Uniform fake quantization for the edge part of a plan (b in {2,4,6,8}) and float16 for the
// cloud part (b = 16).
//   weights:     per output channel, symmetric, restricted range q in [-(2^(b-1)-1), 2^(b-1)-1]
//   activations: per tensor; unsigned q in [0, 2^b-1] after ReLU-like producers (zero point 0),
//                otherwise asymmetric q in [0, 2^b-1] with an integer zero point (0.0 exact)
// Rounding is round-half-to-even, as ONNX QuantizeLinear does.
#pragma once

#include "autosplit/ir/graph.h"
#include "autosplit/ir/quant_spec.h"
#include "autosplit/util/fake_quant.h"

#include <string>
#include <vector>

namespace autosplit {

enum class ClipMethod {
    MinMax,       // full observed range
    AciqLaplace,  // analytical clip for a Laplace fit (Banner et al., ACIQ)
    AciqGauss,    // analytical clip for a Gaussian fit
    Mse,          // grid search for the clip that minimizes the quantization MSE
    Percentile    // clip at a percentile of the values (|x| for symmetric ranges)
};

const char* clipMethodName(ClipMethod m);
// "minmax", "aciq-laplace", "aciq-gauss", "mse", "percentile"; throws Error otherwise.
ClipMethod parseClipMethod(const std::string& s);

// Bit widths of the paper's edge search plus 16 (= float16, the cloud).
bool isSupportedBits(int bits);

struct QuantParams {
    float scale = 1.f;
    int32_t zeroPoint = 0;
    int32_t qmin = 0, qmax = 0;
    float quantize(float x) const;  // fake-quantized value (dequantized after rounding/clamping)
    FakeQuantGrid grid() const;     // what fakeQuantize applies
};

struct QuantOptions {
    ClipMethod clip = ClipMethod::Mse;
    double percentile = 99.99;  // for ClipMethod::Percentile
};

// Symmetric restricted-range parameters for one channel's values.
QuantParams symmetricParams(const float* x, int64_t n, int bits, const QuantOptions& o);
// Per-tensor activation parameters; unsignedRange for ReLU-like producers (values >= 0).
QuantParams activationParams(const float* x, int64_t n, int bits, bool unsignedRange, const QuantOptions& o);

void fakeQuantize(float* x, int64_t n, const QuantParams& p);
double quantizationMse(const float* x, int64_t n, const QuantParams& p);

// Axis of `w` that holds the output channels of `node` (Conv: 0, ConvTranspose: 1,
// Gemm: 1 or 0 with transB, MatMul: last); -1 when the node has no such weight.
int weightChannelAxis(const Node& node, const TensorData& w, int inputSlot);

// The symmetric parameters fakeQuantizeWeights uses per output channel (one for channelAxis -1);
// bits 2..8. What the exporter writes as DequantizeLinear scales.
std::vector<QuantParams> weightChannelParams(const TensorData& w, int channelAxis, int bits, const QuantOptions& o);
// Per-output-channel fake quantization of a weight tensor (bits 16 = float16 rounding).
TensorData fakeQuantizeWeights(const TensorData& w, int channelAxis, int bits, const QuantOptions& o);
// Per-tensor fake quantization of an activation in place (bits 16 = float16 rounding).
void fakeQuantizeActivation(TensorData& t, int bits, bool unsignedRange, const QuantOptions& o);
// Mean squared error of the above, without modifying the input.
double weightQuantizationMse(const TensorData& w, int channelAxis, int bits, const QuantOptions& o);
double activationQuantizationMse(const TensorData& t, int bits, bool unsignedRange, const QuantOptions& o);

// Output of `node` is >= 0 whatever the input (ReLU-like): unsigned activation quantization.
bool producesNonNegative(const Node& node);
// quantizedWeightTensor: ir/quant_spec.h (the plan's quantization spec).

}  // namespace autosplit
