// fakeQuantizeGrid (16-wide where the CPU has AVX-512) gives fakeQuantizeValue's value bit for
// bit, as does the baseline (8-wide) build of the same loop: half-integers on the grid (ties to
// even), the clamp bounds, signed zeros, infinities and NaN, denormal steps, and every length
// around the vector widths (the scalar tails).
#include "autosplit/util/fake_quant.h"

#include <QtTest>

#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <vector>

using namespace autosplit;

class FakeQuantTest : public QObject {
    Q_OBJECT

private slots:
    void loopsEqualTheScalarDefinition() {
        const float inf = std::numeric_limits<float>::infinity();
        std::vector<float> values = {0.f, -0.f, inf, -inf, std::numeric_limits<float>::quiet_NaN(), 1e-40f, -1e-40f,
                                     3e38f, -3e38f};
        std::mt19937 rng(5);
        std::normal_distribution<float> d(0.f, 3.f);
        for (int i = 0; i < 3000; ++i) values.push_back(d(rng));
        const FakeQuantGrid grids[] = {{0.1f, -8.f, 7.f}, {0.25f, 0.f, 255.f}, {1.f, -2.f, 1.f}, {1e-30f, -128.f, 127.f},
                                       {3.7f, -1.f, 0.f}};
        for (const FakeQuantGrid& g : grids) {
            std::vector<float> v = values;
            for (int h = -20; h <= 20; ++h) v.push_back((static_cast<float>(h) + 0.5f) * g.scale);  // ties
            v.push_back(g.lo * g.scale);
            v.push_back(g.hi * g.scale);
            for (size_t n : {size_t{1}, size_t{7}, size_t{8}, size_t{15}, size_t{16}, size_t{17}, size_t{33}, v.size()}) {
                std::vector<float> a(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(n)), b = a, want = a;
                fakeQuantizeGrid(a.data(), static_cast<int64_t>(n), g);
                fakeQuantizeGridBaseline(b.data(), static_cast<int64_t>(n), g);
                for (float& x : want) x = fakeQuantizeValue(x, g);
                QVERIFY2(std::memcmp(a.data(), want.data(), n * sizeof(float)) == 0,
                         qPrintable(QString("fakeQuantizeGrid differs from fakeQuantizeValue (scale %1, n %2)").arg(g.scale).arg(n)));
                QVERIFY2(std::memcmp(b.data(), want.data(), n * sizeof(float)) == 0,
                         qPrintable(QString("baseline loop differs from fakeQuantizeValue (scale %1, n %2)").arg(g.scale).arg(n)));
            }
        }
    }
};

QTEST_APPLESS_MAIN(FakeQuantTest)
#include "tst_fake_quant.moc"
