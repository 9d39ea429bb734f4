// IEEE 754 binary16 conversions: one implementation for the importer, tensor files, the
// executor's float16 cloud rounding and exporters.
#pragma once

#include <cstdint>

namespace autosplit {

uint16_t floatToHalfBits(float f);   // round half to even; overflow to +-inf; NaN stays NaN
float halfBitsToFloat(uint16_t h);   // exact (subnormals included)
float bfloat16BitsToFloat(uint16_t h);

}  // namespace autosplit
