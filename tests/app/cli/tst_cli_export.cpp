// `autosplit plan --export DIR` and `autosplit export PLAN.json --out DIR` as a user runs them on
// the bundled example: the three files, a manifest that matches the plan, the exported pair's
// own measured drop equal to the plan's, and clear errors for what does not fit.
#include "cli_runner.h"

#include "autosplit/deploy/manifest.h"

#include <QDir>
#include <QFile>
#include <QJsonDocument>
#include <QJsonObject>
#include <QRegularExpression>
#include <QTemporaryDir>
#include <QtTest>

using autosplit::testing::runCli;

class TestCliExport : public QObject {
    Q_OBJECT
    QTemporaryDir tmp_;
    QString model_ = QStringLiteral(AUTOSPLIT_EXAMPLE_MODEL);
    QProcessEnvironment env_;

    QStringList planArgs() const {
        return {"plan", model_, "--synthetic", "8", "--uplink", "3Mbps", "--max-drop", "5%", "--edge-memory", "4GiB"};
    }

private slots:
    void initTestCase() {
        QVERIFY(tmp_.isValid());
        env_.insert("AUTOSPLIT_CACHE", tmp_.filePath("cache"));
    }

    void planExportsTheSelectedPlan() {
        const QString dir = tmp_.filePath("exp1"), plan = tmp_.filePath("plan.json");
        const auto r = runCli(planArgs() << "--out" << plan << "--export" << dir, env_);
        QVERIFY2(r.code == 0, r.err.constData());
        for (const char* f : {"edge.onnx", "manifest.json"}) QVERIFY2(QFile::exists(dir + "/" + f), f);
        const auto m = autosplit::deploy::loadManifest((dir + "/manifest.json").toStdString());
        QFile pf(plan);
        QVERIFY(pf.open(QIODevice::ReadOnly));
        const QJsonObject p = QJsonDocument::fromJson(pf.readAll()).object();
        const QJsonObject sel = p["selected"].toObject();
        QCOMPARE(m.splitPosition, sel["split_position"].toInt());
        QCOMPARE(m.predicted.totalMs, sel["latency_ms"].toObject()["total"].toDouble());
        QCOMPARE(QString::fromStdString(m.modelSha256), p["model"].toObject()["sha256"].toString());
        QCOMPARE(QFile::exists(dir + "/cloud.onnx"), !m.cloudModel.empty());
        // The exported pair, measured: the plan's own drop.
        const QString out = QString::fromUtf8(r.out);
        const QRegularExpression re("measured +the exported pair: drop ([0-9.]+)% .*\\(the plan measured ([0-9.]+)%\\)");
        const auto mm = re.match(out);
        QVERIFY2(mm.hasMatch(), qPrintable(out));
        QCOMPARE(mm.captured(1), mm.captured(2));
    }

    void exportReadsThePlanBack() {
        const QString plan = tmp_.filePath("plan.json"), dir = tmp_.filePath("exp2");
        QVERIFY(QFile::exists(plan));
        const auto r = runCli({"export", plan, "--out", dir, "--synthetic", "8"}, env_);
        QVERIFY2(r.code == 0, r.err.constData());
        const auto a = autosplit::deploy::loadManifest((tmp_.filePath("exp1") + "/manifest.json").toStdString());
        const auto b = autosplit::deploy::loadManifest((dir + "/manifest.json").toStdString());
        QCOMPARE(b.planHash, a.planHash);  // the same files, byte for byte
        QVERIFY(r.out.contains("exported"));
    }

    void errorsNameTheProblem() {
        const QString plan = tmp_.filePath("plan.json");
        // Other calibration data than the plan's: the exported values would not be the measured ones.
        auto r = runCli({"export", plan, "--out", tmp_.filePath("exp3"), "--synthetic", "6"}, env_);
        QCOMPARE(r.code, 1);
        QVERIFY2(r.err.contains("calibrated on other data"), r.err.constData());
        QVERIFY(!QFile::exists(tmp_.filePath("exp3/manifest.json")));
        r = runCli({"export", plan}, env_);
        QVERIFY(r.code != 0);
        QVERIFY2(r.err.contains("--out DIR is required"), r.err.constData());
        QFile bad(tmp_.filePath("bad.json"));
        QVERIFY(bad.open(QIODevice::WriteOnly));
        bad.write("{\"schema\": \"autosplit-plan\", \"schema_version\": 1");
        bad.close();
        r = runCli({"export", bad.fileName(), "--out", tmp_.filePath("exp4")}, env_);
        QCOMPARE(r.code, 1);
        QVERIFY2(r.err.contains("bad.json"), r.err.constData());
    }
};

QTEST_GUILESS_MAIN(TestCliExport)
#include "tst_cli_export.moc"
