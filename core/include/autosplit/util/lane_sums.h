// Double-precision sums over float arrays in independent lanes. A single double accumulator is
// one dependent add per element (~4 cycles) that the compiler may not reorder; eight lanes keep
// the adders busy and vectorize. The lanes are combined in a fixed order, so a sum is the same on
// every run and thread count (it differs from the serial sum only in rounding).
#pragma once

#include <cstdint>

namespace autosplit {

inline constexpr int kSumLanes = 8;

// Lane l of `lanes` gets sum over i = l (mod kSumLanes) of term(p[i]), term: float -> double.
template <class Term>
void laneSums(const float* p, int64_t n, Term term, double (&lanes)[kSumLanes]) {
    double s[kSumLanes] = {};
    int64_t i = 0;
    for (; i + kSumLanes <= n; i += kSumLanes)
        for (int l = 0; l < kSumLanes; ++l) s[l] += term(p[i + l]);
    for (int l = 0; i < n; ++i, ++l) s[l] += term(p[i]);
    for (int l = 0; l < kSumLanes; ++l) lanes[l] = s[l];
}

// sum_i term(p[i]) in double.
template <class Term>
double laneSum(const float* p, int64_t n, Term term) {
    double s[kSumLanes];
    laneSums(p, n, term, s);
    return ((s[0] + s[1]) + (s[2] + s[3])) + ((s[4] + s[5]) + (s[6] + s[7]));
}

inline double sumOf(const float* p, int64_t n) {
    return laneSum(p, n, [](float x) { return static_cast<double>(x); });
}

inline double sumOfSquares(const float* p, int64_t n) {
    return laneSum(p, n, [](float x) { return static_cast<double>(x) * x; });
}

}  // namespace autosplit
