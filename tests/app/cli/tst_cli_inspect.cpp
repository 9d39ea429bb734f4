// `autosplit inspect` as a user runs it: the JSON fields promised by the issue, and a one-line
// error with a non-zero exit on bad input.
#include "cli_runner.h"
#include "onnx_builder.h"

#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QtTest>

using namespace autosplit;
using namespace autosplit::testing;

namespace {

CliRun cli(const QStringList& args) { return runCli(args); }

std::string smallNet(bool symbolic) {
    ModelBuilder b;
    b.input("x", symbolic ? std::vector<int64_t>{-1, 3, -1, -1} : std::vector<int64_t>{1, 3, 8, 8});
    b.initializer("w", {4, 3, 3, 3}, randomValues(108, 9));
    b.node("Conv", {"x", "w"}, {"c"}, {Attr::list("pads", {1, 1, 1, 1})}, "conv");
    b.node("Relu", {"c"}, {"r"}, {}, "relu");
    b.node("GlobalAveragePool", {"r"}, {"y"}, {}, "gap");
    b.output("y");
    return writeTemp(b, "cli");
}

}  // namespace

class TestCliInspect : public QObject {
    Q_OBJECT
private slots:
    void jsonFields() {
        const CliRun r = cli({"inspect", QString::fromStdString(smallNet(true)), "--input", "x=1x3x8x8", "--json"});
        QVERIFY2(r.code == 0, r.err.constData());
        QJsonParseError perr;
        const QJsonObject j = QJsonDocument::fromJson(r.out, &perr).object();
        QVERIFY2(perr.error == QJsonParseError::NoError, qPrintable(perr.errorString()));
        QCOMPARE(j["parameters"].toInteger(), 108);
        QCOMPARE(j["macs"].toInteger(), 4LL * 8 * 8 * 27);
        QCOMPARE(j["nodes_before"].toInt(), 3);
        QCOMPARE(j["nodes_after"].toInt(), 2);
        const QJsonArray layers = j["layers"].toArray();
        QCOMPARE(layers.size(), 2);
        const QJsonObject conv = layers[0].toObject();
        for (const char* key : {"name", "op", "output_shape", "weights", "activations", "macs"})
            QVERIFY2(conv.contains(key), key);
        QCOMPARE(conv["activation"].toString(), QStringLiteral("Relu"));
        QCOMPARE(conv["output_shape"].toArray().size(), 4);
        const QJsonArray splits = j["splits"].toArray();
        QCOMPARE(splits.size(), 3);
        const QJsonObject s1 = splits[1].toObject();
        for (const char* key : {"position", "after_node", "transmitted", "transmitted_elements", "edge_weights",
                                "edge_peak_activations"})
            QVERIFY2(s1.contains(key), key);
        QCOMPARE(s1["after_node"].toString(), QStringLiteral("conv"));
        QCOMPARE(s1["transmitted_elements"].toInteger(), 4LL * 8 * 8);
        const QJsonObject t = s1["transmitted"].toArray()[0].toObject();
        QCOMPARE(t["tensor"].toString(), QStringLiteral("r"));
        QCOMPARE(t["elements"].toInteger(), 256);
    }

    void tableByDefault() {
        const CliRun r = cli({"inspect", QString::fromStdString(smallNet(false))});
        QCOMPARE(r.code, 0);
        QVERIFY(r.out.contains("MACs"));
        QVERIFY(r.out.contains("Conv+Relu"));
        QVERIFY(r.out.contains("(cloud only)"));
    }

    void badInput_data() {
        QTest::addColumn<QStringList>("args");
        QTest::addColumn<int>("code");
        QTest::addColumn<QString>("expected");
        const QString garbage = QString::fromStdString(writeTempFile("garbage.onnx", "not a model at all"));
        QTest::addRow("not onnx") << QStringList{"inspect", garbage} << 1 << "not";
        QTest::addRow("missing file") << QStringList{"inspect", "/nope/model.onnx"} << 1 << "no such file";
        QTest::addRow("unbound dims") << QStringList{"inspect", QString::fromStdString(smallNet(true))} << 1
                                      << "--input x=";
        QTest::addRow("bad binding") << QStringList{"inspect", QString::fromStdString(smallNet(true)), "--input", "x=1xZ"}
                                     << 1 << "not a positive integer";
        QTest::addRow("no model") << QStringList{"inspect"} << 2 << "MODEL.onnx";
        QTest::addRow("unknown option") << QStringList{"inspect", "m.onnx", "--frobnicate"} << 2 << "--frobnicate";
        QTest::addRow("unknown command") << QStringList{"frobnicate"} << 2 << "unknown command";
    }
    void badInput() {
        QFETCH(QStringList, args);
        QFETCH(int, code);
        QFETCH(QString, expected);
        const CliRun r = cli(args);
        QCOMPARE(r.code, code);
        QVERIFY2(r.err.startsWith("error: "), r.err.constData());
        QVERIFY2(QString::fromUtf8(r.err).contains(expected), r.err.constData());
        QVERIFY(r.out.isEmpty());
    }
};

QTEST_GUILESS_MAIN(TestCliInspect)
#include "tst_cli_inspect.moc"
