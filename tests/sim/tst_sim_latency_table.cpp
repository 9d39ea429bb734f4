// Latency tables: layout, origin, measured-profile overrides and their errors, the cache,
// cancellation and concurrent reads.
#include "sim_test_util.h"

#include "autosplit/sim/latency_table.h"

#include <QTemporaryDir>
#include <QtTest>

#include <atomic>
#include <fstream>
#include <thread>

using namespace autosplit;
using namespace autosplit::sim;

namespace {

std::vector<LayerInfo> smallNet() {
    return {simtest::conv("conv1", 230, 230, 7, 7, 3, 64, 2), simtest::other("pool", "MaxPool", 64 * 112 * 112, 64 * 56 * 56),
            simtest::conv("conv2", 58, 58, 3, 3, 64, 64), simtest::other("add", "Add", 2 * 64 * 56 * 56, 64 * 56 * 56),
            simtest::other("flat", "Flatten", 64 * 56 * 56, 64 * 56 * 56), simtest::fc("fc", 200704, 10)};
}

}  // namespace

class TestLatencyTable : public QObject {
    Q_OBJECT
    const DeviceProfile eyeriss = builtinDevice("eyeriss");

private slots:
    void everyCellIsTheSimulation() {
        const auto layers = smallNet();
        const LatencyTable t = LatencyTable::build(layers, eyeriss);
        QCOMPARE(t.layerCount(), 6);
        QCOMPARE(t.bits(), eyeriss.bits);
        QCOMPARE(t.deviceName(), std::string("eyeriss"));
        QCOMPARE(t.measuredCount(), 0);
        for (int l = 0; l < t.layerCount(); ++l) {
            QCOMPARE(t.layerName(l), layers[size_t(l)].name);
            for (size_t wi = 0; wi < t.bits().size(); ++wi)
                for (size_t ai = 0; ai < t.bits().size(); ++ai) {
                    const LayerCost c = simulateLayer(layers[size_t(l)], eyeriss, t.bits()[wi], t.bits()[ai]);
                    const LatencyEntry e = t.entry(l, int(wi), int(ai));
                    QCOMPARE(e.us, c.latencyUs);
                    QCOMPARE(e.bound, c.bound);
                    QCOMPARE(e.origin, LatencyOrigin::Simulated);
                    QCOMPARE(t.us(l, int(wi), int(ai)), c.latencyUs);
                }
        }
        QCOMPARE(t.at(4, 8, 8).bound, Bound::Free);
        QCOMPARE(t.at(4, 8, 8).us, 0.0);
    }

    void rangeSumsMatchLoops() {
        const LatencyTable t = LatencyTable::build(smallNet(), eyeriss);
        const int w = t.bitsIndex(4), a = t.bitsIndex(8);
        double sum = 0;
        for (int l = 1; l <= 4; ++l) sum += t.us(l, w, a);
        QCOMPARE(t.rangeUs(1, 4, w, a), sum);
        QCOMPARE(t.rangeUs(3, 2, w, a), 0.0);
        QVERIFY(t.rangeUs(0, 5, w, a) > t.rangeUs(0, 4, w, a));
    }

    void checkedLookupNamesTheProblem() {
        const LatencyTable t = LatencyTable::build(smallNet(), eyeriss);
        QCOMPARE(t.bitsIndex(3), -1);
        try {
            t.at(0, 3, 8);
            QFAIL("no error");
        } catch (const Error& e) {
            QVERIFY2(QString(e.what()).contains("does not run w3a8"), e.what());
        }
        QVERIFY_THROWS_EXCEPTION(Error, t.at(6, 8, 8));
    }

    void measuredOverridesOnlyItsCells() {
        const auto layers = smallNet();
        const MeasuredProfile p = parseMeasuredProfile(
            "# measured on the board\nlayer,bits,ms\nconv2,w8a8,1.5\n\"conv1\",4,0.25\nadd, w8a4 ,0\n", "board.csv");
        QCOMPARE(p.entries.size(), size_t(3));
        const LatencyTable sim = LatencyTable::build(layers, eyeriss);
        const LatencyTable t = LatencyTable::build(layers, eyeriss, &p);
        QCOMPARE(t.measuredCount(), 3);
        QCOMPARE(t.at(2, 8, 8).us, 1500.0);
        QCOMPARE(t.at(2, 8, 8).origin, LatencyOrigin::Measured);
        QCOMPARE(t.at(2, 8, 8).bound, sim.at(2, 8, 8).bound);
        QCOMPARE(t.at(0, 4, 4).us, 250.0);
        QCOMPARE(t.at(0, 4, 4).origin, LatencyOrigin::Measured);
        QCOMPARE(t.at(3, 8, 4).us, 0.0);
        QCOMPARE(t.at(3, 8, 4).origin, LatencyOrigin::Measured);
        // Everything else is still the simulator's.
        QCOMPARE(t.at(2, 4, 8).origin, LatencyOrigin::Simulated);
        QCOMPARE(t.at(2, 4, 8).us, sim.at(2, 4, 8).us);
        QCOMPARE(t.at(0, 4, 8).us, sim.at(0, 4, 8).us);
        const int a8 = t.bitsIndex(8), w8 = a8;
        QCOMPARE(t.rangeUs(0, 5, w8, a8), sim.rangeUs(0, 5, w8, a8) - sim.at(2, 8, 8).us + 1500.0);
    }

    void profileFileRoundTrip() {
        QTemporaryDir dir;
        const std::string path = dir.filePath("p.csv").toStdString();
        std::ofstream(path) << "ms,layer,bits\r\n2.0,fc,w8a8\r\n";
        const MeasuredProfile p = loadMeasuredProfile(path);
        QCOMPARE(p.source, path);
        QCOMPARE(p.entries.size(), size_t(1));
        QCOMPARE(p.entries[0].layer, std::string("fc"));
        QCOMPARE(p.entries[0].ms, 2.0);
        QCOMPARE(p.entries[0].line, 2);
        QVERIFY_THROWS_EXCEPTION(ProfileError, loadMeasuredProfile(dir.filePath("none.csv").toStdString()));
    }

    void badProfile_data() {
        QTest::addColumn<QString>("text");
        QTest::addColumn<QString>("message");
        QTest::addRow("empty") << "" << "p.csv: empty profile";
        QTest::addRow("missing ms column") << "layer,bits\nfc,8\n" << "p.csv:1: header lacks column 'ms'";
        QTest::addRow("unknown column") << "layer,bits,ms,device\n" << "p.csv:1: unknown column 'device'";
        QTest::addRow("duplicate column") << "layer,bits,ms,ms\n" << "p.csv:1: column 'ms' appears twice";
        QTest::addRow("field count") << "layer,bits,ms\nfc,8\n" << "p.csv:2: expected 3 fields, got 2";
        QTest::addRow("bad bits") << "layer,bits,ms\nfc,w8b8,1\n" << "p.csv:2: column 'bits' must look like w8a8";
        QTest::addRow("zero bits") << "layer,bits,ms\nfc,w0a8,1\n" << "p.csv:2: column 'bits'";
        QTest::addRow("huge bits") << "layer,bits,ms\nfc,64,1\n" << "p.csv:2: column 'bits'";
        QTest::addRow("ms not a number") << "layer,bits,ms\n\nfc,8,fast\n" << "p.csv:3: column 'ms' must be a number, got 'fast'";
        QTest::addRow("ms with unit") << "layer,bits,ms\nfc,8,1.5ms\n" << "p.csv:2: column 'ms' must be a number";
        QTest::addRow("ms nan") << "layer,bits,ms\nfc,8,nan\n" << "p.csv:2: column 'ms' must be a number";
        QTest::addRow("negative ms") << "layer,bits,ms\nfc,8,-0.5\n" << "p.csv:2: column 'ms' must not be negative";
        QTest::addRow("empty layer") << "layer,bits,ms\n,8,1\n" << "p.csv:2: column 'layer' is empty";
        QTest::addRow("repeated") << "layer,bits,ms\nfc,8,1\nfc,w8a8,2\n"
                                  << "p.csv:3: layer 'fc' at w8a8 already measured on line 2";
        QTest::addRow("open quote") << "layer,bits,ms\n\"fc,8,1\n" << "p.csv:2: unterminated quoted field";
    }
    void badProfile() {
        QFETCH(QString, text);
        QFETCH(QString, message);
        try {
            parseMeasuredProfile(text.toStdString(), "p.csv");
            QFAIL("accepted a bad profile");
        } catch (const ProfileError& e) {
            QVERIFY2(QString(e.what()).contains(message), e.what());
        }
    }

    void profileMustFitModelAndDevice_data() {
        QTest::addColumn<QString>("text");
        QTest::addColumn<QString>("message");
        QTest::addRow("unknown layer") << "layer,bits,ms\nfc,8,1\nconv9,8,1\n" << "p.csv:3: layer 'conv9' is not in the model";
        QTest::addRow("unsupported bits") << "layer,bits,ms\nfc,w3a8,1\n"
                                          << "p.csv:2: bits w3a8 are not among device 'eyeriss' bit-widths (2,4,6,8,16)";
    }
    void profileMustFitModelAndDevice() {
        QFETCH(QString, text);
        QFETCH(QString, message);
        const MeasuredProfile p = parseMeasuredProfile(text.toStdString(), "p.csv");
        try {
            LatencyTable::build(smallNet(), eyeriss, &p);
            QFAIL("accepted a profile that does not fit");
        } catch (const ProfileError& e) {
            QVERIFY2(QString(e.what()).contains(message), e.what());
        }
    }

    void cancelledBuildThrows() {
        CancelToken token;
        token.cancel();
        QVERIFY_THROWS_EXCEPTION(Cancelled, LatencyTable::build(smallNet(), eyeriss, nullptr, token));
        LatencyTableCache cache;
        QVERIFY_THROWS_EXCEPTION(Cancelled, cache.get("net", smallNet(), eyeriss, nullptr, token));
        QCOMPARE(cache.size(), size_t(0));
    }

    void cacheBuildsOncePerKey() {
        LatencyTableCache cache;
        const auto layers = smallNet();
        auto a = cache.get("net", layers, eyeriss);
        auto b = cache.get("net", layers, eyeriss);
        QCOMPARE(a.get(), b.get());
        DeviceProfile faster = eyeriss;
        faster.bandwidthGBps = 2;
        auto c = cache.get("net", layers, faster);
        QVERIFY(c.get() != a.get());
        QVERIFY(c->rangeUs(0, 5, 3, 3) < a->rangeUs(0, 5, 3, 3));
        const MeasuredProfile p = parseMeasuredProfile("layer,bits,ms\nfc,8,1\n", "p.csv");
        auto d = cache.get("net", layers, eyeriss, &p);
        QVERIFY(d.get() != a.get());
        QCOMPARE(d->measuredCount(), 1);
        QCOMPARE(cache.size(), size_t(3));
        cache.clear();
        QCOMPARE(cache.size(), size_t(0));
    }

    void concurrentReadersAgree() {
        LatencyTableCache cache;
        const auto layers = smallNet();
        const double expected = LatencyTable::build(layers, eyeriss).rangeUs(0, 5, 1, 3);
        std::atomic<int> mismatches{0};
        std::vector<std::thread> threads;
        for (int i = 0; i < 4; ++i)
            threads.emplace_back([&] {
                for (int k = 0; k < 200; ++k) {
                    auto t = cache.get("net", layers, eyeriss);
                    double s = 0;
                    for (int l = 0; l < t->layerCount(); ++l) s += t->us(l, 1, 3);
                    if (std::abs(s - expected) > 1e-9 * expected || t->rangeUs(0, 5, 1, 3) != expected) ++mismatches;
                }
            });
        for (auto& th : threads) th.join();
        QCOMPARE(mismatches.load(), 0);
        QCOMPARE(cache.size(), size_t(1));
    }
};

QTEST_GUILESS_MAIN(TestLatencyTable)
#include "tst_sim_latency_table.moc"
