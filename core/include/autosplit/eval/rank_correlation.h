// Rank statistics for comparing a cheap proxy with measured drops (bench_proxy): does the proxy
// order plans the way the measurement does?
#pragma once

#include <vector>

namespace autosplit {

// Ranks 1..n of `x`, ties sharing the mean of the ranks they span ("fractional" ranking:
// {10, 20, 20, 30} -> {1, 2.5, 2.5, 4}).
std::vector<double> averageRanks(const std::vector<double>& x);

// Spearman's rank correlation: Pearson's correlation of the average ranks, so ties are handled
// exactly (the 1 - 6 sum d^2 / (n (n^2 - 1)) shortcut is only valid without ties). In [-1, 1];
// NaN when a side is constant (every value tied) or fewer than 2 pairs. Throws Error when the
// sizes differ or a value is NaN.
double spearman(const std::vector<double>& x, const std::vector<double>& y);

}  // namespace autosplit
