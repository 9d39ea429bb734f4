// QuantizeLinear / DequantizeLinear (opset 10-13 forms: per tensor, or per axis with 1-D scales),
// as the exported QDQ edge models use them. Rounding is half to even on x / scale, then the zero
// point is added and the result saturated to the container (uint8 [0, 255], int8 [-128, 127]),
// exactly as the ONNX reference does; the b-bit range of a sub-8-bit code is a separate Clip.
#include "exec_internal.h"

#include <cmath>

namespace autosplit::exec {

namespace {

// Per-element parameter index: scalar/1-element -> 0, 1-D of length shape[axis] -> channel.
struct AxisParams {
    int64_t channels = 1, inner = 1;  // element i uses channel (i / inner) % channels
    int64_t channel(int64_t i) const { return channels == 1 ? 0 : (i / inner) % channels; }
};

AxisParams axisParams(const KernelContext& c, const std::vector<int64_t>& shape, const TensorData& scale) {
    AxisParams p;
    const int64_t n = scale.elementCount();
    if (scale.shape.empty() || n == 1) return p;
    if (scale.shape.size() != 1) c.fail("scale must be a scalar or 1-D, got " + shapeStr(scale.shape));
    const int64_t axis = normAxis(c, c.node.attrInt("axis", 1), static_cast<int64_t>(shape.size()));
    if (shape[static_cast<size_t>(axis)] != n)
        c.fail("scale has " + std::to_string(n) + " values for axis " + std::to_string(axis) + " of " + shapeStr(shape));
    p.channels = n;
    for (size_t d = static_cast<size_t>(axis) + 1; d < shape.size(); ++d) p.inner *= shape[d];
    return p;
}

float roundHalfEven(float v) { return std::nearbyint(v); }  // default rounding mode: ties to even

void quantizeLinearOp(KernelContext& c) {
    const TensorData& x = c.input(0);
    const TensorData& scale = c.input(1);
    if (!x.isFloat()) c.fail("input must be a float tensor");
    const std::vector<float> s = toFloats(scale);
    std::vector<int64_t> zp(s.size(), 0);
    DType to = DType::UInt8;
    if (c.hasInput(2)) {
        const TensorData& z = c.input(2);
        if (z.dtype != DType::UInt8 && z.dtype != DType::Int8) c.fail("zero point must be uint8 or int8");
        if (z.elementCount() != static_cast<int64_t>(s.size())) c.fail("zero point and scale differ in size");
        to = z.dtype;
        zp = z.ints;
    }
    const AxisParams ap = axisParams(c, x.shape, scale);
    const int64_t lo = to == DType::UInt8 ? 0 : -128, hi = to == DType::UInt8 ? 255 : 127;
    TensorData y = makeInt(x.shape, to);
    for (size_t i = 0; i < x.floats.size(); ++i) {
        const int64_t ch = ap.channel(static_cast<int64_t>(i));
        const float q = roundHalfEven(x.floats[i] / s[static_cast<size_t>(ch)]);
        // Saturate in float first: a value far outside the range must not overflow the cast.
        const float sat = std::min(std::max(q + static_cast<float>(zp[static_cast<size_t>(ch)]), static_cast<float>(lo)),
                                   static_cast<float>(hi));
        y.ints[i] = std::isnan(q) ? zp[static_cast<size_t>(ch)] : static_cast<int64_t>(sat);
    }
    c.out[0] = std::move(y);
}

void dequantizeLinearOp(KernelContext& c) {
    const TensorData& x = c.input(0);
    const TensorData& scale = c.input(1);
    if (x.dtype != DType::UInt8 && x.dtype != DType::Int8 && x.dtype != DType::Int32)
        c.fail("input must be uint8, int8 or int32");
    const std::vector<float> s = toFloats(scale);
    std::vector<int64_t> zp(s.size(), 0);
    if (c.hasInput(2)) {
        const TensorData& z = c.input(2);
        if (z.dtype != x.dtype) c.fail("zero point type differs from the input's");
        if (z.elementCount() != static_cast<int64_t>(s.size())) c.fail("zero point and scale differ in size");
        zp = z.ints;
    }
    const AxisParams ap = axisParams(c, x.shape, scale);
    TensorData y = makeFloat(x.shape);
    for (size_t i = 0; i < x.ints.size(); ++i) {
        const size_t ch = static_cast<size_t>(ap.channel(static_cast<int64_t>(i)));
        y.floats[i] = static_cast<float>(x.ints[i] - zp[ch]) * s[ch];
    }
    c.out[0] = std::move(y);
}

}  // namespace

void registerQuantOps(Registry& r) {
    r["QuantizeLinear"] = {quantizeLinearOp, nullptr, false};
    r["DequantizeLinear"] = {dequantizeLinearOp, nullptr, false};
}

}  // namespace autosplit::exec
