// The first NaN/Inf of a float array, for the checks on inputs (data sets, executor runs): blocks
// of exponent bits OR-reduced (this vectorizes; a branch per element with std::isfinite does
// not), the element itself looked for only in a block that has one.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>

namespace autosplit {

// Index of the first element of p[0, n) that is NaN or +-Inf, or n when all are finite.
inline size_t firstNonFinite(const float* p, size_t n) {
    constexpr size_t kBlock = 4096;
    constexpr uint32_t kExponent = 0x7f800000u;  // all ones: Inf or NaN
    for (size_t b = 0; b < n; b += kBlock) {
        const size_t e = std::min(n, b + kBlock);
        uint32_t hit = 0;
        for (size_t k = b; k < e; ++k) {
            uint32_t bits;
            std::memcpy(&bits, p + k, sizeof bits);
            hit |= (bits & kExponent) == kExponent;
        }
        if (!hit) continue;
        for (size_t k = b; k < e; ++k) {
            uint32_t bits;
            std::memcpy(&bits, p + k, sizeof bits);
            if ((bits & kExponent) == kExponent) return k;
        }
    }
    return n;
}

}  // namespace autosplit
