// Spearman's rank correlation with ties: average ranks, known values (a textbook example without
// ties where the d^2 shortcut applies, one with ties checked against Pearson on the ranks computed
// by hand), invariance under monotone transforms, and the degenerate cases.
#include "autosplit/eval/rank_correlation.h"
#include "autosplit/util/errors.h"

#include <QtTest>

#include <cmath>
#include <limits>

using namespace autosplit;

class TestRankCorrelation : public QObject {
    Q_OBJECT
private slots:
    void averageRanksShareTies() {
        QCOMPARE(averageRanks({10, 20, 20, 30}), (std::vector<double>{1, 2.5, 2.5, 4}));
        QCOMPARE(averageRanks({3, 1, 2}), (std::vector<double>{3, 1, 2}));
        QCOMPARE(averageRanks({5, 5, 5}), (std::vector<double>{2, 2, 2}));
        QCOMPARE(averageRanks({0, 7, 0, 7, 0}), (std::vector<double>{2, 4.5, 2, 4.5, 2}));
        QVERIFY(averageRanks({}).empty());
    }
    void withoutTiesMatchesTheShortcut() {
        // 1 - 6 sum d^2 / (n (n^2 - 1)) holds without ties.
        const std::vector<double> x{106, 86, 100, 101, 99, 103, 97, 113, 112, 110};
        const std::vector<double> y{7, 0, 27, 50, 28, 29, 20, 12, 6, 17};
        const auto rx = averageRanks(x), ry = averageRanks(y);
        double d2 = 0;
        for (size_t i = 0; i < x.size(); ++i) d2 += (rx[i] - ry[i]) * (rx[i] - ry[i]);
        const double n = static_cast<double>(x.size());
        const double expected = 1 - 6 * d2 / (n * (n * n - 1));
        QVERIFY(std::abs(spearman(x, y) - expected) < 1e-12);
        QVERIFY(std::abs(expected - (-29.0 / 165.0)) < 1e-12);  // the classic IQ / TV-hours example
    }
    void tiesUsePearsonOnAverageRanks() {
        // x ranks {1, 2.5, 2.5, 4}, y ranks {1.5, 1.5, 3, 4}, both centred on 2.5:
        // dx = {-1.5, 0, 0, 1.5}, dy = {-1, -1, 0.5, 1.5}: sxy = 1.5 + 2.25 = 3.75, sxx = syy = 4.5.
        const double r = spearman({1, 2, 2, 3}, {0, 0, 5, 9});
        QVERIFY(std::abs(r - 3.75 / 4.5) < 1e-12);
        // The shortcut would give 1 - 6 * (0.25 + 1 + 0.25 + 0) / 60 = 0.85: not the same.
        QVERIFY(std::abs(r - 0.85) > 0.01);
    }
    void monotoneAndReversed() {
        const std::vector<double> x{0.1, 0.5, 0.2, 3, 1e-6, 0.7};
        std::vector<double> y, z;
        for (double v : x) {
            y.push_back(std::log(v));  // monotone: same ranks
            z.push_back(-v * v);       // reversing
        }
        QCOMPARE(spearman(x, y), 1.0);
        QCOMPARE(spearman(x, z), -1.0);
    }
    void degenerateCases() {
        QVERIFY(std::isnan(spearman({1, 2, 3}, {4, 4, 4})));  // a constant side
        QVERIFY(std::isnan(spearman({1}, {2})));
        QVERIFY(std::isnan(spearman({}, {})));
        QVERIFY_THROWS_EXCEPTION(Error, spearman({1, 2}, {1}));
        QVERIFY_THROWS_EXCEPTION(Error, spearman({1, std::numeric_limits<double>::quiet_NaN()}, {1, 2}));
    }
};

QTEST_APPLESS_MAIN(TestRankCorrelation)
#include "tst_rank_correlation.moc"
