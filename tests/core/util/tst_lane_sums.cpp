// util/lane_sums.h: double sums over float arrays in independent lanes equal the exact sum up to
// rounding for every length (tails shorter than a lane group included) and do not depend on
// anything but the data.
#include "autosplit/util/lane_sums.h"

#include <QTest>

#include <cmath>
#include <random>
#include <vector>

using namespace autosplit;

class TestLaneSums : public QObject {
    Q_OBJECT
private slots:
    void sumsMatchTheSerialSum_data() {
        QTest::addColumn<int>("n");
        for (int n : {0, 1, 7, 8, 9, 15, 16, 17, 1000, 4097}) QTest::addRow("n=%d", n) << n;
    }

    void sumsMatchTheSerialSum() {
        QFETCH(int, n);
        std::mt19937 rng(static_cast<unsigned>(n) + 3);
        std::normal_distribution<float> d(0.5f, 2.f);
        std::vector<float> x(static_cast<size_t>(n));
        for (float& v : x) v = d(rng);
        long double s = 0, s2 = 0, s3 = 0;  // serial, in extended precision
        for (float v : x) s += v, s2 += static_cast<long double>(v) * v, s3 += std::abs(v) * 3.0L;
        const double tol = 1e-12 * (1.0 + static_cast<double>(s2));
        QVERIFY(std::abs(sumOf(x.data(), n) - static_cast<double>(s)) <= tol);
        QVERIFY(std::abs(sumOfSquares(x.data(), n) - static_cast<double>(s2)) <= tol);
        const double custom = laneSum(x.data(), n, [](float v) { return std::abs(static_cast<double>(v)) * 3.0; });
        QVERIFY(std::abs(custom - static_cast<double>(s3)) <= 1e-12 * (1.0 + static_cast<double>(s3)));
        // Every element is counted once: a sum of ones is the length.
        const std::vector<float> ones(static_cast<size_t>(n), 1.f);
        QCOMPARE(sumOf(ones.data(), n), static_cast<double>(n));
    }

    void sumsDoNotDependOnTheAlignment() {
        // The same values at another address give the same bits (the lanes follow the index).
        std::vector<float> a(1003), b(1004);
        for (size_t i = 0; i < a.size(); ++i) a[i] = b[i + 1] = std::sin(static_cast<float>(i)) * 1e3f;
        QCOMPARE(sumOfSquares(a.data(), 1003), sumOfSquares(b.data() + 1, 1003));
    }
};

QTEST_APPLESS_MAIN(TestLaneSums)
#include "tst_lane_sums.moc"
