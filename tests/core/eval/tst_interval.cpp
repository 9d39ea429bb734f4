// 95 % intervals of measured drops: Wilson's score interval against published values, the
// bootstrap on known cases (constant data, a rate close to Wilson's, seeded repeatability).
#include "autosplit/eval/interval.h"
#include "autosplit/util/errors.h"

#include <QtTest>

#include <cmath>

using namespace autosplit;

class TestInterval : public QObject {
    Q_OBJECT
private slots:
    void wilsonKnownValues() {
        // 0 of 10: [0, 27.75] %; 5 of 10: [23.66, 76.34] % (Wilson 1927, z = 1.96).
        Interval a = wilsonInterval(0, 10);
        QCOMPARE(a.method, std::string("wilson"));
        QVERIFY(std::abs(a.low) < 1e-12);
        QVERIFY(std::abs(a.high - 27.753) < 0.01);
        Interval b = wilsonInterval(5, 10);
        QVERIFY(std::abs(b.low - 23.659) < 0.01);
        QVERIFY(std::abs(b.high - 76.341) < 0.01);
        // Narrower with more samples.
        Interval c = wilsonInterval(50, 100);
        QVERIFY(c.high - c.low < b.high - b.low);
        QVERIFY(c.contains(50.0));
        QVERIFY_THROWS_EXCEPTION(Error, wilsonInterval(3, 2));
        QVERIFY_THROWS_EXCEPTION(Error, wilsonInterval(0, 0));
    }

    void bootstrapCases() {
        auto mean = [](const std::vector<double>& s) { return 100.0 * s[0] / s[1]; };
        // Constant units: a zero-width interval at the value.
        std::vector<std::vector<double>> same(20, {1.0, 1.0});
        Interval z = bootstrapInterval(same, mean);
        QCOMPARE(z.method, std::string("bootstrap"));
        QVERIFY(std::abs(z.low - 100) < 1e-9 && std::abs(z.high - 100) < 1e-9);
        // A 30 % rate over 100 rows: close to Wilson's [21.9, 39.6].
        std::vector<std::vector<double>> rate;
        for (int i = 0; i < 100; ++i) rate.push_back({i < 30 ? 1.0 : 0.0, 1.0});
        Interval r = bootstrapInterval(rate, mean);
        const Interval w = wilsonInterval(30, 100);
        QVERIFY2(std::abs(r.low - w.low) < 3 && std::abs(r.high - w.high) < 3,
                 qPrintable(QStringLiteral("bootstrap [%1, %2] vs Wilson [%3, %4]").arg(r.low).arg(r.high).arg(w.low).arg(w.high)));
        QVERIFY(r.contains(30.0));
        // Seeded: the same interval again; another seed, another (close) one.
        const Interval again = bootstrapInterval(rate, mean);
        QCOMPARE(again.low, r.low);
        QCOMPARE(again.high, r.high);
        // One unit: the point.
        Interval one = bootstrapInterval({{2.0, 4.0}}, mean);
        QCOMPARE(one.low, 50.0);
        QCOMPARE(one.high, 50.0);
        QVERIFY_THROWS_EXCEPTION(Error, bootstrapInterval({}, mean));
    }
};

QTEST_MAIN(TestInterval)
#include "tst_interval.moc"
