#include "autosplit/eval/rank_correlation.h"

#include "autosplit/util/errors.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

namespace autosplit {

std::vector<double> averageRanks(const std::vector<double>& x) {
    std::vector<size_t> order(x.size());
    std::iota(order.begin(), order.end(), size_t(0));
    std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return x[a] < x[b]; });
    std::vector<double> ranks(x.size());
    for (size_t i = 0; i < order.size();) {
        size_t j = i + 1;
        while (j < order.size() && x[order[j]] == x[order[i]]) ++j;
        // Positions i..j-1 (0-based) hold one value: each gets the mean of ranks i+1..j.
        const double rank = 0.5 * static_cast<double>(i + 1 + j);
        for (size_t k = i; k < j; ++k) ranks[order[k]] = rank;
        i = j;
    }
    return ranks;
}

double spearman(const std::vector<double>& x, const std::vector<double>& y) {
    if (x.size() != y.size()) throw Error("spearman: " + std::to_string(x.size()) + " and " + std::to_string(y.size()) + " values");
    for (size_t i = 0; i < x.size(); ++i)
        if (std::isnan(x[i]) || std::isnan(y[i])) throw Error("spearman: NaN at pair " + std::to_string(i));
    const double nan = std::numeric_limits<double>::quiet_NaN();
    if (x.size() < 2) return nan;
    const std::vector<double> rx = averageRanks(x), ry = averageRanks(y);
    const double mean = 0.5 * static_cast<double>(x.size() + 1);  // of ranks 1..n, ties included
    double sxy = 0, sxx = 0, syy = 0;
    for (size_t i = 0; i < x.size(); ++i) {
        const double dx = rx[i] - mean, dy = ry[i] - mean;
        sxy += dx * dy;
        sxx += dx * dx;
        syy += dy * dy;
    }
    if (sxx == 0 || syy == 0) return nan;
    return std::clamp(sxy / std::sqrt(sxx * syy), -1.0, 1.0);
}

}  // namespace autosplit
