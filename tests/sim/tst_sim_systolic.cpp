// The compute-cycle model against SCALE-Sim v2's own totals (tests/sim/data, copied from
// ../shared/reference/scalesim_v2_cycles.csv) and the lowering rules beyond them.
#include "sim_test_util.h"

#include "autosplit/sim/device.h"
#include "autosplit/sim/systolic.h"

#include <QFile>
#include <QtTest>

#include <cmath>

using namespace autosplit;
using namespace autosplit::sim;

namespace {

const QString kCsv = QStringLiteral(AUTOSPLIT_SOURCE_DIR "/tests/sim/data/scalesim_v2_cycles.csv");

struct Row {
    QString config, layer;
    QMap<QString, QString> fields;
};

QList<Row> readReference() {
    QFile f(kCsv);
    if (!f.open(QIODevice::ReadOnly | QIODevice::Text)) qFatal("cannot open %s", qPrintable(kCsv));
    const QStringList header = QString::fromUtf8(f.readLine()).trimmed().split(',');
    QList<Row> rows;
    while (!f.atEnd()) {
        const QString line = QString::fromUtf8(f.readLine()).trimmed();
        if (line.isEmpty()) continue;
        const QStringList cells = line.split(',');
        if (cells.size() != header.size()) qFatal("malformed reference row: %s", qPrintable(line));
        Row r;
        for (int i = 0; i < header.size(); ++i) r.fields[header[i]] = cells[i];
        r.config = r.fields["config"];
        r.layer = r.fields["layer"];
        rows.push_back(r);
    }
    return rows;
}

}  // namespace

class TestSystolic : public QObject {
    Q_OBJECT
private slots:
    void referenceHasAllRows() { QCOMPARE(readReference().size(), 24); }

    void scaleSimCycles_data() {
        QTest::addColumn<QString>("config");
        QTest::addColumn<qlonglong>("H");
        QTest::addColumn<qlonglong>("W");
        QTest::addColumn<qlonglong>("R");
        QTest::addColumn<qlonglong>("S");
        QTest::addColumn<qlonglong>("C");
        QTest::addColumn<qlonglong>("K");
        QTest::addColumn<qlonglong>("stride");
        QTest::addColumn<qlonglong>("E");
        QTest::addColumn<qlonglong>("F");
        QTest::addColumn<qlonglong>("cycles");
        QTest::addColumn<double>("utilPct");
        for (const Row& r : readReference()) {
            auto n = [&](const char* k) { return r.fields[k].toLongLong(); };
            QTest::addRow("%s/%s", qPrintable(r.config), qPrintable(r.layer))
                << r.config << n("H") << n("W") << n("R") << n("S") << n("C") << n("K") << n("stride") << n("E")
                << n("F") << n("total_cycles") << r.fields["overall_util_pct"].toDouble();
        }
    }

    void scaleSimCycles() {
        QFETCH(QString, config);
        QFETCH(qlonglong, H);
        QFETCH(qlonglong, W);
        QFETCH(qlonglong, R);
        QFETCH(qlonglong, S);
        QFETCH(qlonglong, C);
        QFETCH(qlonglong, K);
        QFETCH(qlonglong, stride);
        QFETCH(qlonglong, E);
        QFETCH(qlonglong, F);
        QFETCH(qlonglong, cycles);
        QFETCH(double, utilPct);

        // SCALE-Sim's eyeriss config is our eyeriss array, its google config our tpu array.
        const QStringList parts = config.split('_');
        QCOMPARE(parts.size(), 2);
        const DeviceProfile dev = builtinDevice(parts[0] == "google" ? "tpu" : parts[0].toStdString());
        const Dataflow df = parts[1] == "os" ? Dataflow::OutputStationary
                            : parts[1] == "ws" ? Dataflow::WeightStationary
                                               : Dataflow::InputStationary;
        QCOMPARE(QString(dataflowName(df)), parts[1]);

        QCOMPARE(scaleSimOutputSize(H, R, stride), E);
        QCOMPARE(scaleSimOutputSize(W, S, stride), F);
        const LayerInfo l = simtest::conv("ref", H, W, R, S, C, K, stride);
        const GemmMapping m = mapGemm(l.geometry, dev.rows, dev.cols, df);
        QCOMPARE(qlonglong(m.cycles), cycles);
        QCOMPARE(m.macs, l.macs);
        QCOMPARE(std::round(m.utilization(dev.rows, dev.cols) * 100.0 * 1000.0) / 1000.0, utilPct);
    }

    void matrixDimsPerDataflow() {
        // 56x56x64 -> 64, 3x3, padded to 58x58: E*F = 3136, window 576.
        const LayerInfo l = simtest::conv("c", 58, 58, 3, 3, 64, 64);
        const GemmMapping os = mapGemm(l.geometry, 12, 14, Dataflow::OutputStationary);
        QCOMPARE(os.Sr, 3136);
        QCOMPARE(os.Sc, 64);
        QCOMPARE(os.T, 576);
        QCOMPARE(os.folds, 262 * 5);  // ceil(3136/12) * ceil(64/14)
        const GemmMapping ws = mapGemm(l.geometry, 12, 14, Dataflow::WeightStationary);
        QCOMPARE(ws.Sr, 576);
        QCOMPARE(ws.Sc, 64);
        QCOMPARE(ws.T, 3136);
        QCOMPARE(ws.cycles, 48 * 5 * (2 * 12 + 14 + 3136 - 2) - 1);
        const GemmMapping is = mapGemm(l.geometry, 12, 14, Dataflow::InputStationary);
        QCOMPARE(is.Sr, 576);
        QCOMPARE(is.Sc, 3136);
        QCOMPARE(is.T, 64);
    }

    void groupedConvRunsAsItsGroups() {
        // Depthwise 3x3 over 32 channels = 32 single-channel convs one after the other.
        const LayerInfo dw = simtest::conv("dw", 114, 114, 3, 3, 1, 1, 1, 32);
        const LayerInfo one = simtest::conv("one", 114, 114, 3, 3, 1, 1);
        for (Dataflow df : {Dataflow::OutputStationary, Dataflow::WeightStationary, Dataflow::InputStationary}) {
            const GemmMapping g = mapGemm(dw.geometry, 12, 14, df);
            const GemmMapping s = mapGemm(one.geometry, 12, 14, df);
            QCOMPARE(g.groups, 32);
            QCOMPARE(g.cyclesPerGroup, s.cycles);
            QCOMPARE(g.cycles, 32 * s.cycles);
            QCOMPARE(g.macs, dw.macs);
        }
    }

    void batchAddsOutputRows() {
        LayerInfo l = simtest::fc("fc", 512, 1000);
        l.geometry.batch = 4;
        const GemmMapping m = mapGemm(l.geometry, 12, 14, Dataflow::OutputStationary);
        QCOMPARE(m.Sr, 4);
        QCOMPARE(m.macs, 4 * 512 * 1000);
    }

    void rejectsEmptyGeometry() {
        LayerInfo l = simtest::fc("fc", 512, 1000);
        l.geometry.K = 0;
        try {
            mapGemm(l.geometry, 12, 14, Dataflow::OutputStationary);
            QFAIL("no error");
        } catch (const Error& e) {
            QVERIFY2(QString(e.what()).contains("K must be positive"), e.what());
        }
    }
};

QTEST_GUILESS_MAIN(TestSystolic)
#include "tst_sim_systolic.moc"
