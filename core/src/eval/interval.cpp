#include "autosplit/eval/interval.h"

#include "autosplit/util/errors.h"

#include <algorithm>
#include <cmath>
#include <random>

namespace autosplit {

namespace {

// Two-sided standard normal quantile for the levels in use (exact table, no erf inversion).
double zFor(double level) {
    if (std::abs(level - 0.95) < 1e-9) return 1.959963984540054;
    if (std::abs(level - 0.90) < 1e-9) return 1.6448536269514722;
    if (std::abs(level - 0.99) < 1e-9) return 2.5758293035489004;
    throw Error("interval level " + std::to_string(level) + " is not one of 0.90, 0.95, 0.99");
}

}  // namespace

Interval wilsonInterval(int64_t hits, int64_t n, double level) {
    if (n <= 0 || hits < 0 || hits > n) throw Error("Wilson interval of " + std::to_string(hits) + " out of " + std::to_string(n));
    const double z = zFor(level), p = double(hits) / double(n), nn = double(n);
    const double denom = 1 + z * z / nn;
    const double centre = (p + z * z / (2 * nn)) / denom;
    const double half = z * std::sqrt(p * (1 - p) / nn + z * z / (4 * nn * nn)) / denom;
    Interval r;
    r.level = level;
    r.method = "wilson";
    // At 0 or n hits the bound is exactly 0 or 1 (centre - half would leave rounding residue).
    r.low = hits == 0 ? 0.0 : 100.0 * std::max(0.0, centre - half);
    r.high = hits == n ? 100.0 : 100.0 * std::min(1.0, centre + half);
    return r;
}

Interval bootstrapInterval(const std::vector<std::vector<double>>& units,
                           const std::function<double(const std::vector<double>& sums)>& statistic, int resamples,
                           uint32_t seed, double level) {
    if (units.empty()) throw Error("bootstrap interval of no units");
    zFor(level);  // validates the level
    const size_t width = units.front().size();
    std::vector<double> sums(width, 0.0);
    Interval r;
    r.level = level;
    r.method = "bootstrap";
    if (units.size() == 1) {
        r.low = r.high = statistic(units.front());
        return r;
    }
    std::mt19937 rng(seed);
    std::uniform_int_distribution<size_t> pick(0, units.size() - 1);
    std::vector<double> stats(static_cast<size_t>(std::max(1, resamples)));
    for (double& s : stats) {
        std::fill(sums.begin(), sums.end(), 0.0);
        for (size_t k = 0; k < units.size(); ++k) {
            const auto& u = units[pick(rng)];
            for (size_t j = 0; j < width; ++j) sums[j] += u[j];
        }
        s = statistic(sums);
    }
    std::sort(stats.begin(), stats.end());
    const double tail = (1 - level) / 2;
    auto at = [&](double q) {
        const double pos = q * double(stats.size() - 1);
        const size_t lo = size_t(std::floor(pos)), hi = std::min(stats.size() - 1, lo + 1);
        return stats[lo] + (pos - double(lo)) * (stats[hi] - stats[lo]);
    };
    r.low = at(tail);
    r.high = at(1 - tail);
    return r;
}

}  // namespace autosplit
