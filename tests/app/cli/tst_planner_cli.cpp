// `autosplit plan` / `autosplit sweep` end to end on the bundled example model.
#include <QFile>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include "cli_runner.h"

#include <QProcess>
#include <QTemporaryDir>
#include <QtTest>

namespace {

QTemporaryDir& cacheDir() {
    static QTemporaryDir d;
    return d;
}

using autosplit::testing::CliRun;

CliRun cli(const QStringList& args) {
    QProcessEnvironment env;
    env.insert("AUTOSPLIT_CACHE", cacheDir().path());
    return autosplit::testing::runCli(args, env);
}

const QString kExample = QStringLiteral(AUTOSPLIT_BINARY_DIR "/resources/example.onnx");

}  // namespace

class TestPlannerCli : public QObject {
    Q_OBJECT
private slots:
    void planWritesAVersionedPlan() {
        QTemporaryDir dir;
        const QString out = dir.filePath("plan.json");
        const CliRun r = cli({"plan", kExample, "--edge", "eyeriss", "--cloud", "tpu", "--uplink", "10Mbps", "--edge-memory",
                           "4GiB", "--max-drop", "5%", "--synthetic", "2", "--out", out});
        QVERIFY2(r.code == 0, r.err);
        QVERIFY(r.out.contains("selected plan"));
        QVERIFY(r.out.contains("baselines"));
        QVERIFY(r.out.contains("neurosurgeon"));
        QFile f(out);
        QVERIFY(f.open(QIODevice::ReadOnly));
        const QJsonObject j = QJsonDocument::fromJson(f.readAll()).object();
        QCOMPARE(j["schema_version"].toInt(), 1);
        QCOMPARE(j["model"].toObject()["sha256"].toString().size(), 64);
        QCOMPARE(j["devices"].toObject()["edge"].toObject()["name"].toString(), QString("eyeriss"));
        QCOMPARE(j["uplink_bps"].toDouble(), 10e6);
        const QJsonObject sel = j["selected"].toObject();
        for (const char* k : {"kind", "split_position", "split_after", "transmitted", "weight_bits", "activation_bits",
                              "latency_ms", "edge_weight_bytes", "edge_activation_bytes", "accuracy_drop"})
            QVERIFY2(sel.contains(k), k);
        const QJsonObject lat = sel["latency_ms"].toObject();
        QVERIFY(std::abs(lat["edge"].toDouble() + lat["transmit"].toDouble() + lat["cloud"].toDouble() +
                         lat["results"].toDouble() - lat["total"].toDouble()) < 1e-6);
        const QJsonObject base = j["baselines"].toObject();
        for (const char* k : {"cloud-only", "neurosurgeon", "qdmp", "qdmp-e", "u8", "u4", "edge-only-u8"}) QVERIFY2(base.contains(k), k);
        QVERIFY(j["candidates"].toArray().size() > 1);
        // At 10 Mbps the example splits (at 3 Mbps, with the result returned to the edge, it runs
        // Edge-Only); the split's measured drop is within the threshold.
        QCOMPARE(sel["kind"].toString(), QString("SPLIT"));
        QVERIFY(sel["accuracy_drop"].toObject()["value"].toDouble() <= 5.0);

        // --verify: matches its model, rejects another file.
        CliRun v = cli({"plan", kExample, "--verify", out});
        QVERIFY2(v.code == 0, v.err);
        const QString other = dir.filePath("other.onnx");
        QVERIFY(QFile::copy(kExample, other));
        QFile o(other);
        QVERIFY(o.open(QIODevice::Append));
        o.write("x");
        o.close();
        v = cli({"plan", other, "--verify", out});
        QCOMPARE(v.code, 1);
        QVERIFY2(v.err.contains("model hash mismatch"), v.err);
    }

    void zeroThresholdNeverExceeds() {
        const CliRun r = cli({"plan", kExample, "--max-drop", "0%", "--synthetic", "2", "--json"});
        QVERIFY2(r.code == 0, r.err);
        const QJsonObject sel = QJsonDocument::fromJson(r.out).object()["selected"].toObject();
        // A float16 edge part loses nothing and beats Cloud-Only at the default 3 Mbps: selected,
        // with a measured drop of exactly 0.
        QVERIFY2(sel["kind"].toString() != "CLOUD_ONLY", qPrintable(sel["reason"].toString()));
        QCOMPARE(sel["accuracy_drop"].toObject()["value"].toDouble(), 0.0);
    }

    void tinyMemoryIsCloudOnlyWithReason() {
        const CliRun r = cli({"plan", kExample, "--edge-memory", "16B", "--synthetic", "2", "--json"});
        QVERIFY2(r.code == 0, r.err);
        const QJsonObject sel = QJsonDocument::fromJson(r.out).object()["selected"].toObject();
        QCOMPARE(sel["kind"].toString(), QString("CLOUD_ONLY"));
        QVERIFY2(sel["reason"].toString().contains("infeasible"), qPrintable(sel["reason"].toString()));
    }

    void badInputsAreClearErrors_data() {
        QTest::addColumn<QStringList>("args");
        QTest::addColumn<QString>("message");
        QTest::addRow("unknown edge device") << QStringList{"--edge", "nosuchchip"} << "nosuchchip";
        QTest::addRow("negative bandwidth") << QStringList{"--uplink", "-3Mbps"} << "bandwidth must be positive";
        QTest::addRow("threshold over 100") << QStringList{"--max-drop", "150%"} << "within 0..100%";
        QTest::addRow("bad memory unit") << QStringList{"--edge-memory", "4 parsecs"} << "unknown unit";
        QTest::addRow("bits the edge lacks") << QStringList{"--edge", "tpu", "--bits", "2,8"} << "does not run 2-bit";
        QTest::addRow("negative downlink") << QStringList{"--downlink", "-3Mbps"} << "bandwidth must be positive";
        QTest::addRow("downlink without unit") << QStringList{"--downlink", "fast"} << "fast";
    }
    void badInputsAreClearErrors() {
        QFETCH(QStringList, args);
        QFETCH(QString, message);
        const CliRun r = cli(QStringList{"plan", kExample, "--synthetic", "2"} + args);
        QCOMPARE(r.code, 1);
        QVERIFY2(r.err.contains(message.toUtf8()), r.err);
    }

    void planTakesTheTaskOptions() {
        // Too few synthetic inputs to hold any out, labels without data, a CTC task without a
        // dictionary, an unknown acceptance rule: usage errors naming the option.
        CliRun r = cli({"plan", kExample, "--synthetic", "1"});
        QCOMPARE(r.code, 2);
        QVERIFY2(r.err.contains("at least 2"), r.err);
        r = cli({"plan", kExample, "--labels", "labels.txt"});
        QCOMPARE(r.code, 2);
        QVERIFY2(r.err.contains("--labels needs --data"), r.err);
        r = cli({"plan", kExample, "--task", "ctc"});
        QCOMPARE(r.code, 2);
        QVERIFY2(r.err.contains("--dict"), r.err);
        r = cli({"plan", kExample, "--accept-by", "vibes"});
        QCOMPARE(r.code, 2);
        QVERIFY2(r.err.contains("estimate or upper-bound"), r.err);
        r = cli({"plan", kExample, "--synthetic", "6", "--calibration-samples", "5", "--measure-samples", "5"});
        QCOMPARE(r.code, 1);
        QVERIFY2(r.err.contains("do not fit"), r.err);
        // Sizes and the rule reach plan.json; the text report names the metric and the interval.
        r = cli({"plan", kExample, "--synthetic", "6", "--calibration-samples", "2", "--accept-by", "upper-bound", "--json"});
        QVERIFY2(r.code == 0, r.err);
        const QJsonObject j = QJsonDocument::fromJson(r.out).object();
        QCOMPARE(j["data"].toObject()["calibration"].toObject()["samples"].toInt(), 2);
        QCOMPARE(j["data"].toObject()["measurement"].toObject()["samples"].toInt(), 4);
        QVERIFY(j["data"].toObject()["synthetic"].toBool());
        QCOMPARE(j["constraints"].toObject()["accept_by"].toString(), QStringLiteral("upper-bound"));
        r = cli({"plan", kExample, "--synthetic", "4"});
        QVERIFY2(r.code == 0, r.err);
        QVERIFY2(r.out.contains("95% interval") && r.out.contains("SYNTHETIC"), r.out);
        QVERIFY2(r.err.contains("proxy nsr-diagonal\n"), r.err);
    }

    // --sensitivity N: the proxy scaled by each node's measured effect on the outputs, said in the
    // calibration line; a bad count is a usage error.
    void sensitivityOption() {
        CliRun r = cli({"plan", kExample, "--synthetic", "4", "--no-cache", "--sensitivity", "2"});
        QVERIFY2(r.code == 0, r.err);
        QVERIFY2(r.err.contains("proxy nsr-diagonal scaled by the sensitivity measured on 2 samples"), r.err);
        r = cli({"plan", kExample, "--synthetic", "4", "--sensitivity", "-1"});
        QCOMPARE(r.code, 2);
        QVERIFY2(r.err.contains("--sensitivity"), r.err);
    }

    void planReadsImageFolders() {
        QTemporaryDir dir;
        // --preprocess without a folder, and a folder without images, are clear errors.
        CliRun r = cli({"plan", kExample, "--preprocess", dir.filePath("p.json")});
        QCOMPARE(r.code, 2);
        QVERIFY2(r.err.contains("--preprocess needs --data"), r.err);
        r = cli({"plan", kExample, "--data", dir.path()});
        QCOMPARE(r.code, 1);
        QVERIFY2(r.err.contains("holds no images"), r.err);
#ifndef AUTOSPLIT_DOC_PAGES
        QSKIP("make_doc_pages was not built (FreeType missing)");
#else
        if (!QFile::exists("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")) QSKIP("DejaVuSans.ttf is absent");
        const QString pages = dir.filePath("pages");
        QProcess gen;
        gen.start(QStringLiteral(AUTOSPLIT_DOC_PAGES), {"--out", pages, "--count", "2", "--width", "96", "--height", "96"});
        QVERIFY(gen.waitForFinished(60000));
        QCOMPARE(gen.exitCode(), 0);
        r = cli({"plan", kExample, "--data", pages, "--json"});
        QVERIFY2(r.code == 0, r.err);
        const QJsonObject j = QJsonDocument::fromJson(r.out).object();
        const QJsonObject cal = j["calibration"].toObject();
        QVERIFY(!cal["synthetic"].toBool());
        QCOMPARE(cal["samples"].toInt(), 1);  // one page calibrates, the other is held out
        QVERIFY2(cal["data"].toString().contains("2 images"), qPrintable(cal["data"].toString()));
        const QJsonObject data = j["data"].toObject();
        QVERIFY(data["held_out"].toBool());
        QVERIFY(!data["synthetic"].toBool());
        QCOMPARE(data["measurement"].toObject()["samples"].toInt(), 1);
        QCOMPARE(data["metric"].toString(), QStringLiteral("top1-disagreement"));
        const QJsonObject sel = j["selected"].toObject();
        if (sel["kind"].toString() != "CLOUD_ONLY")
            QVERIFY2(sel["accuracy_drop"].toObject()["data"].toString().contains("images"),
                     qPrintable(sel["accuracy_drop"].toObject()["data"].toString()));
        // An explicit profile wins over DIR/preprocess.json; a malformed one is an error naming it.
        QFile bad(dir.filePath("bad.json"));
        QVERIFY(bad.open(QIODevice::WriteOnly));
        bad.write("{\"resize\": \"sideways\"}");
        bad.close();
        r = cli({"plan", kExample, "--data", pages, "--preprocess", dir.filePath("bad.json")});
        QCOMPARE(r.code, 1);
        QVERIFY2(r.err.contains("bad.json"), r.err);
#endif
    }

    void resultsAtAndDownlinkOptions() {
        // A bad place is a usage error (exit 2) naming the option and the value.
        CliRun r = cli({"plan", kExample, "--synthetic", "1", "--results-at", "moon"});
        QCOMPARE(r.code, 2);
        QVERIFY2(r.err.contains("--results-at must be edge or cloud, got 'moon'"), r.err);
        // Default: results at the edge over a 10 Mbps downlink; Cloud-Only pays the return.
        r = cli({"plan", kExample, "--synthetic", "2", "--json"});
        QVERIFY2(r.code == 0, r.err);
        QJsonObject j = QJsonDocument::fromJson(r.out).object();
        QCOMPARE(j["constraints"].toObject()["results_at"].toString(), QString("edge"));
        QCOMPARE(j["constraints"].toObject()["downlink_bps"].toDouble(), 10e6);
        const double coBack = j["baselines"].toObject()["cloud-only"].toObject()["latency_ms"].toObject()["results"].toDouble();
        QVERIFY(coBack > 0);
        // A slower downlink costs Cloud-Only more; results at the cloud cost it nothing.
        r = cli({"plan", kExample, "--synthetic", "2", "--json", "--downlink", "1Mbps"});
        QVERIFY2(r.code == 0, r.err);
        j = QJsonDocument::fromJson(r.out).object();
        QCOMPARE(j["constraints"].toObject()["downlink_bps"].toDouble(), 1e6);
        QVERIFY(j["baselines"].toObject()["cloud-only"].toObject()["latency_ms"].toObject()["results"].toDouble() > coBack);
        r = cli({"plan", kExample, "--synthetic", "2", "--json", "--results-at", "cloud"});
        QVERIFY2(r.code == 0, r.err);
        j = QJsonDocument::fromJson(r.out).object();
        QCOMPARE(j["constraints"].toObject()["results_at"].toString(), QString("cloud"));
        QCOMPARE(j["baselines"].toObject()["cloud-only"].toObject()["latency_ms"].toObject()["results"].toDouble(), 0.0);
        QVERIFY(j["baselines"].toObject()["edge-only-u8"].toObject()["latency_ms"].toObject()["results"].toDouble() > 0);
        // The text report shows the term and where results end.
        r = cli({"plan", kExample, "--synthetic", "2", "--results-at", "cloud"});
        QVERIFY2(r.code == 0, r.err);
        QVERIFY2(r.out.contains("results      consumed at the cloud"), r.out);
        QVERIFY2(r.out.contains(" + results "), r.out);
    }

    void sweepWritesCsv() {
        QTemporaryDir dir;
        const QString csv = dir.filePath("sweep.csv");
        const CliRun r = cli({"sweep", kExample, "--synthetic", "2", "--steps", "5", "--csv", csv});
        QVERIFY2(r.code == 0, r.err);
        QVERIFY(r.out.contains("plan changes"));
        QFile f(csv);
        QVERIFY(f.open(QIODevice::ReadOnly));
        const QList<QByteArray> lines = f.readAll().trimmed().split('\n');
        QCOMPARE(lines.size(), 6);
        QVERIFY(lines[0].startsWith("uplink_bps,kind,split_position"));
        QVERIFY(lines[0].contains(",cloud_ms,results_ms,edge_bytes,"));
        QVERIFY(lines[1].startsWith("100000,"));
        QVERIFY(lines[5].startsWith("1e+08,"));
    }
};

QTEST_MAIN(TestPlannerCli)
#include "tst_planner_cli.moc"
