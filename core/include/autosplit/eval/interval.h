// 95 % intervals of measured accuracy drops: Wilson's score interval for a rate (a share of rows
// that disagree), a percentile bootstrap for every other metric (differences of rates, ratios
// of sums such as character accuracy, map F1, relative L2), resampling the measured units.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace autosplit {

struct Interval {
    double low = 0, high = 0;  // same unit as the point estimate (percentage points)
    double level = 0.95;
    std::string method;        // "wilson" or "bootstrap"
    bool contains(double x) const { return low <= x && x <= high; }
};

// Wilson score interval of `hits` out of `n` (n > 0), in percent (0..100).
Interval wilsonInterval(int64_t hits, int64_t n, double level = 0.95);

// Percentile bootstrap: `units` are per-unit vectors of additive sums (e.g. {edits, length} per
// text line); `statistic` maps the element-wise sum over a resample to the metric. Seeded, so
// the same measurement gives the same interval. One unit: the interval is the point.
Interval bootstrapInterval(const std::vector<std::vector<double>>& units,
                           const std::function<double(const std::vector<double>& sums)>& statistic,
                           int resamples = 1000, uint32_t seed = 1, double level = 0.95);

}  // namespace autosplit
