#pragma once
// Fake quantization onto a uniform integer grid: the value divided by the step, clamped to the
// grid's integer range, rounded half to even and multiplied back. One definition for every place
// that quantizes an activation tensor (the quantizer's fakeQuantize, the executor's epilogues),
// so that a value quantized inside a kernel is the value quantized after it, bit for bit.

#include <algorithm>
#include <cstdint>

namespace autosplit {

struct FakeQuantGrid {
    float scale = 0.f;        // the step; 0 = no grid
    float lo = 0.f, hi = 0.f;  // integer range relative to the zero point (qmin - zp, qmax - zp)
    bool active() const { return scale > 0.f; }
};

// Clamping before rounding gives the same result as after (the bounds are integers) and keeps
// the value in the range where adding and subtracting 1.5 * 2^23 rounds it half to even.
inline float fakeQuantizeValue(float x, const FakeQuantGrid& g) {
    constexpr float magic = 12582912.0f;
    const float q = std::min(std::max(x / g.scale, g.lo), g.hi);
    return ((q + magic) - magic) * g.scale;
}

// x[i] = fakeQuantizeValue(x[i], g) for g active, as a loop that vectorizes (16-wide on CPUs
// with AVX-512, the same values).
void fakeQuantizeGrid(float* x, int64_t n, const FakeQuantGrid& g);
// The same loop built for the baseline instruction set only (tests compare the two).
void fakeQuantizeGridBaseline(float* x, int64_t n, const FakeQuantGrid& g);

}  // namespace autosplit
