// `autosplit sim` end to end: JSON output on a real model, measured profiles, and errors that
// name the field or line at fault.
#include <QFile>
#include <QFileInfo>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QProcess>
#include <QTemporaryDir>
#include "cli_runner.h"

#include <QtTest>

namespace {

using autosplit::testing::CliRun;

CliRun cli(const QStringList& args) { return autosplit::testing::runCli(args); }

const QString kResnet = QStringLiteral(AUTOSPLIT_MODELS_DIR "/resnet50.onnx");

}  // namespace

class TestSimCli : public QObject {
    Q_OBJECT
private slots:
    void badDeviceFileNamesTheField() {
        QTemporaryDir dir;
        QFile in(QStringLiteral(AUTOSPLIT_SOURCE_DIR "/resources/devices/eyeriss.json"));
        QVERIFY(in.open(QIODevice::ReadOnly));
        QJsonObject doc = QJsonDocument::fromJson(in.readAll()).object();
        QJsonObject offchip = doc["offchip"].toObject();
        offchip["bandwidth_gbps"] = -1;
        doc["offchip"] = offchip;
        const QString path = dir.filePath("bad.json");
        QFile out(path);
        QVERIFY(out.open(QIODevice::WriteOnly));
        out.write(QJsonDocument(doc).toJson());
        out.close();
        // The device is checked before the model is read, so any model path will do.
        const CliRun r = cli({"sim", "model.onnx", "--device", path});
        QCOMPARE(r.code, 1);
        QVERIFY2(r.err.contains("field 'offchip.bandwidth_gbps' must be positive"), r.err);
    }

    void usageErrors_data() {
        QTest::addColumn<QStringList>("args");
        QTest::addColumn<int>("code");
        QTest::addColumn<QString>("message");
        QTest::addRow("no device") << QStringList{"sim", "m.onnx"} << 2 << "--device is required";
        QTest::addRow("bad bits") << QStringList{"sim", "m.onnx", "--device", "eyeriss", "--bits", "8bit"} << 2
                                  << "--bits must look like w8a8";
        QTest::addRow("unsupported bits") << QStringList{"sim", "m.onnx", "--device", "tpu", "--bits", "w4a8"} << 1
                                          << "device 'tpu' does not run w4a8 (bit-widths 8,16)";
        QTest::addRow("unknown device") << QStringList{"sim", "m.onnx", "--device", "gpu"} << 1
                                        << "unknown device 'gpu' (built-in: eyeriss, tpu";
    }
    void usageErrors() {
        QFETCH(QStringList, args);
        QFETCH(int, code);
        QFETCH(QString, message);
        const CliRun r = cli(args);
        QCOMPARE(r.code, code);
        QVERIFY2(QString::fromUtf8(r.err).contains(message), r.err);
    }

    void jsonOnResnet50() {
        if (!QFileInfo::exists(kResnet)) QSKIP("resnet50.onnx missing: run scripts/fetch-models.sh --paper");
        const CliRun r = cli({"sim", kResnet, "--device", "eyeriss", "--bits", "w4a8", "--json"});
        QVERIFY2(r.code == 0, r.err);
        const QJsonObject j = QJsonDocument::fromJson(r.out).object();
        QCOMPARE(j["schema"].toString(), QString("autosplit-sim"));
        QCOMPARE(j["device"].toObject()["name"].toString(), QString("eyeriss"));
        QCOMPARE(j["bits"].toObject()["weights"].toInt(), 4);
        const QJsonArray layers = j["layers"].toArray();
        QVERIFY(layers.size() > 50);
        double sumUs = 0;
        int memory = 0;
        for (const auto& v : layers) {
            const QJsonObject l = v.toObject();
            sumUs += l["latency_us"].toDouble();
            QCOMPARE(l["origin"].toString(), QString("simulated"));
            if (l["bound"].toString() == "memory") ++memory;
        }
        const QJsonObject first = layers[0].toObject();
        QCOMPARE(first["op"].toString(), QString("Conv"));
        QCOMPARE(first["matrix"].toObject()["Sr"].toInt(), 112 * 112);  // conv1 7x7/2 -> 112x112
        QCOMPARE(first["matrix"].toObject()["T"].toInt(), 7 * 7 * 3);
        const QJsonObject totals = j["totals"].toObject();
        QVERIFY(qAbs(totals["latency_ms"].toDouble() - sumUs / 1000.0) < 1e-9 * sumUs);
        QCOMPARE(totals["memory_bound_layers"].toInt(), memory);
    }

    void measuredProfileOverridesInOutput() {
        if (!QFileInfo::exists(kResnet)) QSKIP("resnet50.onnx missing: run scripts/fetch-models.sh --paper");
        QTemporaryDir dir;
        const QString csv = dir.filePath("board.csv");
        QFile f(csv);
        QVERIFY(f.open(QIODevice::WriteOnly));
        f.write("layer,bits,ms\n/fc/Gemm,w8a8,0.5\n");
        f.close();
        const CliRun r = cli({"sim", kResnet, "--device", "eyeriss", "--profile", csv, "--json"});
        QVERIFY2(r.code == 0, r.err);
        const QJsonArray layers = QJsonDocument::fromJson(r.out).object()["layers"].toArray();
        int measured = 0;
        for (const auto& v : layers) {
            const QJsonObject l = v.toObject();
            if (l["origin"].toString() != "measured") continue;
            ++measured;
            QCOMPARE(l["name"].toString(), QString("/fc/Gemm"));
            QCOMPARE(l["latency_us"].toDouble(), 500.0);
        }
        QCOMPARE(measured, 1);

        QVERIFY(f.open(QIODevice::WriteOnly | QIODevice::Truncate));
        f.write("layer,bits,ms\n/fc/Gemm,w8a8,0.5\nfc9,w8a8,1\n");
        f.close();
        const CliRun bad = cli({"sim", kResnet, "--device", "eyeriss", "--profile", csv});
        QCOMPARE(bad.code, 1);
        QVERIFY2(bad.err.contains(":3: layer 'fc9' is not in the model"), bad.err);
    }
};

QTEST_GUILESS_MAIN(TestSimCli)
#include "tst_sim_cli.moc"
