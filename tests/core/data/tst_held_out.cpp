// Held-out measurement: a data set is cut into disjoint calibration and measurement parts, by a
// seeded shuffle (sorted folders mix), with names following their samples; bad sizes fail. A
// sample with NaN/Inf is refused naming its first such element.
#include "autosplit/data/dataset.h"
#include "autosplit/util/errors.h"

#include <QtTest>

#include <limits>
#include <set>

using namespace autosplit;

namespace {
Dataset numbered(int n) {
    Dataset d;
    for (int i = 0; i < n; ++i) {
        TensorData t;
        t.shape = {1};
        t.floats = {float(i)};
        d.samples.push_back({t});
        d.sampleNames.push_back("s" + std::to_string(i) + ".png");
    }
    d.description = "DIR: " + std::to_string(n) + " images";
    d.sensorGrid = true;
    return d;
}
std::set<int> values(const Dataset& d) {
    std::set<int> v;
    for (const auto& s : d.samples) v.insert(int(s.front().floats.front()));
    return v;
}
}  // namespace

class TestHeldOut : public QObject {
    Q_OBJECT
private slots:
    void disjointAndComplete() {
        const Dataset d = numbered(11);
        const HeldOutSplit s = splitHeldOut(d);
        QCOMPARE(s.calibration.samples.size(), size_t(5));  // half, the odd one measured
        QCOMPARE(s.measurement.samples.size(), size_t(6));
        const auto a = values(s.calibration), b = values(s.measurement);
        for (int v : a) QVERIFY(!b.count(v));
        QCOMPARE(a.size() + b.size(), size_t(11));
        // Names follow their samples; flags and descriptions carry over.
        for (size_t i = 0; i < s.measurement.samples.size(); ++i)
            QCOMPARE(s.measurement.sampleNames[i], "s" + std::to_string(int(s.measurement.samples[i].front().floats[0])) + ".png");
        QVERIFY(s.measurement.sensorGrid);
        QVERIFY(s.measurement.description.find("held-out 6 of 11") != std::string::npos);
        QVERIFY(s.calibration.hash != s.measurement.hash);
        // Not simply the first half: the shuffle mixes a sorted folder.
        QVERIFY(a != std::set<int>({0, 1, 2, 3, 4}));
        // Deterministic.
        QVERIFY(values(splitHeldOut(d).calibration) == a);
    }

    // A part's hash, combined from the per-sample hashes its loader computed, is the content hash
    // of its samples (what calibration, equalization and the measurement cache compute when a set
    // carries no hash), and the same when the set came without per-sample hashes.
    void partHashesAreContentHashes() {
        Dataset d = numbered(9);
        const HeldOutSplit plain = splitHeldOut(d);
        for (const auto& smp : d.samples) d.sampleHashes.push_back(hashSample(smp));
        d.hash = combineSampleHashes(d.sampleHashes);
        QCOMPARE(d.hash, hashSamples(d.samples));
        const HeldOutSplit s = splitHeldOut(d);
        for (const Dataset* part : {&s.calibration, &s.measurement}) {
            QCOMPARE(part->sampleHashes.size(), part->samples.size());
            QCOMPARE(part->hash, hashSamples(part->samples));
        }
        QCOMPARE(s.calibration.hash, plain.calibration.hash);
        QCOMPARE(s.measurement.hash, plain.measurement.hash);
        // Content, order and count all count.
        Dataset other = numbered(9);
        other.samples[3].front().floats[0] = 100.f;
        QVERIFY(hashSamples(other.samples) != d.hash);
        std::swap(other.samples[3], other.samples[4]);
        other.samples[4].front().floats[0] = 3.f;
        QVERIFY(hashSamples(other.samples) != d.hash);
        QVERIFY(hashSamples(numbered(8).samples) != d.hash);
    }

    void sizesAndCaps() {
        const Dataset d = numbered(200);
        QCOMPARE(splitHeldOut(d).calibration.samples.size(), size_t(64));
        QCOMPARE(splitHeldOut(d).measurement.samples.size(), size_t(136));
        const HeldOutSplit s = splitHeldOut(d, 10, 20);
        QCOMPARE(s.calibration.samples.size(), size_t(10));
        QCOMPARE(s.measurement.samples.size(), size_t(20));
        QCOMPARE(splitHeldOut(d, 0, 50).calibration.samples.size(), size_t(64));
        QCOMPARE(splitHeldOut(d, 30, 0).measurement.samples.size(), size_t(170));
    }

    void badSizesAreErrors() {
        QVERIFY_THROWS_EXCEPTION(Error, splitHeldOut(numbered(1)));
        QVERIFY_THROWS_EXCEPTION(Error, splitHeldOut(numbered(10), 6, 6));
        QVERIFY_THROWS_EXCEPTION(Error, splitHeldOut(numbered(10), 10, 0));
        try {
            splitHeldOut(numbered(1));
        } catch (const Error& e) {
            QVERIFY(std::string(e.what()).find("at least 2 samples") != std::string::npos);
        }
    }

    void nonFiniteSampleNamesItsFirstElement_data() {
        QTest::addColumn<int>("at");
        QTest::addColumn<bool>("nan");
        QTest::addColumn<int>("also");  // a later bad element (-1: none)
        QTest::newRow("NaN first element") << 0 << true << -1;
        QTest::newRow("Inf inside a later block") << 4096 + 17 << false << -1;
        QTest::newRow("NaN in the tail, Inf after") << 10000 << true << 10005;
        QTest::newRow("-Inf last element") << 10006 << false << -1;
        QTest::newRow("finite") << -1 << false << -1;
    }
    void nonFiniteSampleNamesItsFirstElement() {
        QFETCH(int, at);
        QFETCH(bool, nan);
        QFETCH(int, also);
        Graph g;
        Tensor in;
        in.name = "x";
        in.shape = {1, -1};
        in.isGraphInput = true;
        g.tensors.push_back(in);
        g.inputs.push_back(0);
        TensorData t;
        t.shape = {1, 10007};
        t.floats.assign(10007, 0.f);
        for (size_t k = 0; k < t.floats.size(); ++k) t.floats[k] = float(k % 97) * 1e30f - 3e31f;  // large, finite
        const float inf = at == 10006 ? -std::numeric_limits<float>::infinity() : std::numeric_limits<float>::infinity();
        if (at >= 0) t.floats[size_t(at)] = nan ? std::numeric_limits<float>::quiet_NaN() : inf;
        if (also >= 0) t.floats[size_t(also)] = std::numeric_limits<float>::infinity();
        if (at < 0) {
            validateSample(g, {t}, "s.npy");
            return;
        }
        try {
            validateSample(g, {t}, "s.npy");
            QFAIL("a non-finite sample was accepted");
        } catch (const Error& e) {
            const std::string want = std::string("s.npy: ") + (nan ? "NaN" : "Inf") + " at element " + std::to_string(at);
            QCOMPARE(std::string(e.what()), want);
        }
    }
};

QTEST_MAIN(TestHeldOut)
#include "tst_held_out.moc"
