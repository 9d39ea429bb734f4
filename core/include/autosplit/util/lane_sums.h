// Reductions over float arrays in independent lanes: double-precision sums, and the range (below).
// A single double accumulator is one dependent add per element (~4 cycles) that the compiler may
// not reorder; eight lanes keep the adders busy and vectorize. The lanes are combined in a fixed order, so a sum is the same on
// every run and thread count (it differs from the serial sum only in rounding).
#pragma once

#include <algorithm>
#include <cstdint>
#include <utility>

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

// Smallest and largest of p[0..n), n > 0, in 16 independent lanes (the compiler vectorizes them;
// std::minmax_element's dependent compares do not): the same values in any order.
inline std::pair<float, float> laneMinMax(const float* p, int64_t n) {
    constexpr int kLanes = 16;
    float lo[kLanes], hi[kLanes];
    for (int l = 0; l < kLanes; ++l) lo[l] = hi[l] = p[0];
    int64_t i = 0;
    for (; i + kLanes <= n; i += kLanes)
        for (int l = 0; l < kLanes; ++l) {
            lo[l] = p[i + l] < lo[l] ? p[i + l] : lo[l];
            hi[l] = p[i + l] > hi[l] ? p[i + l] : hi[l];
        }
    float mn = lo[0], mx = hi[0];
    for (int l = 1; l < kLanes; ++l) {
        mn = std::min(mn, lo[l]);
        mx = std::max(mx, hi[l]);
    }
    for (; i < n; ++i) {
        mn = std::min(mn, p[i]);
        mx = std::max(mx, p[i]);
    }
    return {mn, mx};
}

}  // namespace autosplit
