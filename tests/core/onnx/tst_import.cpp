// ONNX import: weights from initializers and Constant nodes, dim binding, and every kind of
// bad input named in the foundation issue.
#include "onnx_builder.h"

#include "autosplit/onnx/import.h"
#include "autosplit/passes/optimize.h"
#include "autosplit/util/errors.h"

#include <QtTest>

using namespace autosplit;
using namespace autosplit::testing;

namespace {

// x[1,2,4,4] -> Conv(3x3, pad 1, 4 filters) -> Relu -> y
void tinyConv(ModelBuilder& b, bool constantWeights, std::vector<int64_t> inputDims = {1, 2, 4, 4}) {
    b.input("x", inputDims);
    if (constantWeights) b.constant("w", {4, 2, 3, 3}, randomValues(72, 1));
    else b.initializer("w", {4, 2, 3, 3}, randomValues(72, 1));
    b.initializer("b", {4}, {0.1f, 0.2f, 0.3f, 0.4f});
    b.node("Conv", {"x", "w", "b"}, {"c"}, {Attr::list("pads", {1, 1, 1, 1}), Attr::list("kernel_shape", {3, 3})}, "conv");
    b.node("Relu", {"c"}, {"y"}, {}, "relu");
    b.output("y");
}

template <typename E>
QString errorOf(const std::function<void()>& f) {
    try {
        f();
    } catch (const E& e) {
        return QString::fromStdString(e.what());
    } catch (const std::exception& e) {
        return QStringLiteral("wrong exception type: ") + e.what();
    }
    return QStringLiteral("no exception");
}

}  // namespace

class TestImport : public QObject {
    Q_OBJECT
private slots:
    void weightsFromInitializersAndConstants_data() {
        QTest::addColumn<bool>("constantNodes");
        QTest::addRow("initializers") << false;
        QTest::addRow("constant-nodes") << true;
    }
    void weightsFromInitializersAndConstants() {
        QFETCH(bool, constantNodes);
        ModelBuilder b;
        tinyConv(b, constantNodes);
        ImportReport report;
        Graph g = importOnnx(writeTemp(b), {}, &report);
        QCOMPARE(g.nodes.size(), size_t(2));  // the Constant node became a weight
        QCOMPARE(report.constantNodes, constantNodes ? 1 : 0);
        const int w = g.findTensor("w");
        QVERIFY(w >= 0);
        QVERIFY(g.tensors[w].isWeight());
        QCOMPARE(g.tensors[w].data->floats.size(), size_t(72));
        QCOMPARE(g.tensors[w].data->floats[5], randomValues(72, 1)[5]);
        const Tensor& c = g.tensors[g.findTensor("c")];
        QVERIFY(c.shapeKnown);
        QCOMPARE(c.shape, (std::vector<int64_t>{1, 4, 4, 4}));
        QCOMPARE(c.producer, 0);
        QCOMPARE(c.consumers, std::vector<int>{1});
        QVERIFY(g.tensors[g.findTensor("y")].isGraphOutput);
        QCOMPARE(g.inputs.size(), size_t(1));
        QCOMPARE(g.opsetVersion, int64_t(13));
        QCOMPARE(g.nodes[0].attrInts("pads"), (std::vector<int64_t>{1, 1, 1, 1}));
    }

    void symbolicDimsNeedBinding() {
        ModelBuilder b;
        tinyConv(b, false, {-1, 2, -1, -1});
        const std::string path = writeTemp(b);
        const QString msg = errorOf<ShapeError>([&] { importOnnx(path); });
        QVERIFY2(msg.contains("input 'x'") && msg.contains("--input x="), qPrintable(msg));

        ImportOptions opts;
        opts.inputShapes["x"] = {1, 2, 8, 6};
        Graph g = importOnnx(path, opts);
        QCOMPARE(g.tensors[g.findTensor("y")].shape, (std::vector<int64_t>{1, 4, 8, 6}));
    }

    void badBindings_data() {
        QTest::addColumn<QString>("name");
        QTest::addColumn<std::vector<int64_t>>("dims");
        QTest::addColumn<QString>("expected");
        QTest::addRow("unknown input") << "images" << std::vector<int64_t>{1, 2, 4, 4} << "model's inputs are: x";
        QTest::addRow("wrong rank") << "x" << std::vector<int64_t>{1, 2, 4} << "has rank 4";
        QTest::addRow("fixed dim differs") << "x" << std::vector<int64_t>{1, 3, 4, 4} << "fixed dimension 1 = 2";
    }
    void badBindings() {
        QFETCH(QString, name);
        QFETCH(std::vector<int64_t>, dims);
        QFETCH(QString, expected);
        ModelBuilder b;
        tinyConv(b, false, {-1, 2, -1, -1});
        ImportOptions opts;
        opts.inputShapes[name.toStdString()] = dims;
        const std::string path = writeTemp(b);
        const QString msg = errorOf<Error>([&] { importOnnx(path, opts); });
        QVERIFY2(msg.contains(expected), qPrintable(msg));
    }

    void parseBinding() {
        auto [name, dims] = parseInputBinding("x=1x3x640x640");
        QCOMPARE(QString::fromStdString(name), QStringLiteral("x"));
        QCOMPARE(dims, (std::vector<int64_t>{1, 3, 640, 640}));
        auto [n2, d2] = parseInputBinding("a=b=2x2");  // names may contain '='
        QCOMPARE(QString::fromStdString(n2), QStringLiteral("a=b"));
        QCOMPARE(d2, (std::vector<int64_t>{2, 2}));
        for (const char* bad : {"x", "x=", "=1x2", "x=1xx2", "x=1x-2", "x=1x0", "x=abc", "x=99999999999999999999"})
            QVERIFY2(errorOf<Error>([&] { parseInputBinding(bad); }).contains("input binding"), bad);
    }

    void badFiles_data() {
        QTest::addColumn<QByteArray>("bytes");
        QTest::addColumn<QString>("expected");
        ModelBuilder b;
        tinyConv(b, false);
        const std::string good = b.bytes();
        QTest::addRow("empty") << QByteArray() << "the file is empty";
        QTest::addRow("truncated") << QByteArray::fromStdString(good.substr(0, good.size() / 2)) << "not a valid ONNX";
        QTest::addRow("text") << QByteArray("this is not a model\n") << "ONNX";
        QTest::addRow("png header") << QByteArray("\x89PNG\r\n\x1a\n\0\0\0\rIHDR", 16) << "ONNX";
    }
    void badFiles() {
        QFETCH(QByteArray, bytes);
        QFETCH(QString, expected);
        const std::string path = writeTempFile("bad.onnx", bytes.toStdString());
        const QString msg = errorOf<ImportError>([&] { importOnnx(path); });
        QVERIFY2(msg.contains(expected), qPrintable(msg));
        QVERIFY2(msg.contains("bad.onnx"), qPrintable(msg));  // names the file
    }

    void missingFileAndDirectory() {
        QVERIFY(errorOf<ImportError>([] { importOnnx("/nonexistent/model.onnx"); }).contains("no such file"));
        QVERIFY(errorOf<ImportError>([] { importOnnx("/tmp"); }).contains("directory"));
    }

    void emptyGraph() {
        ModelBuilder b;
        b.input("x", {1});
        b.output("x");
        const QString msg = errorOf<ImportError>([&] { importOnnx(writeTemp(b)); });
        QVERIFY2(msg.contains("no nodes"), qPrintable(msg));
    }

    void tooNewOpset() {
        ModelBuilder b(18);
        tinyConv(b, false);
        const QString msg = errorOf<ImportError>([&] { importOnnx(writeTemp(b)); });
        QVERIFY2(msg.contains("opset 18"), qPrintable(msg));
    }

    void cycle() {
        ModelBuilder b;
        b.input("x", {1, 4});
        b.node("Add", {"x", "c"}, {"a"}, {}, "add_a");
        b.node("Relu", {"a"}, {"c"}, {}, "relu_c");
        b.output("a");
        const QString msg = errorOf<GraphError>([&] { importOnnx(writeTemp(b)); });
        QVERIFY2(msg.contains("cycle") && (msg.contains("add_a") || msg.contains("relu_c")), qPrintable(msg));
    }

    void missingInitializer() {
        ModelBuilder b;
        b.input("x", {1, 2, 4, 4});
        b.node("Conv", {"x", "w_missing"}, {"y"}, {}, "conv");
        b.output("y");
        const QString msg = errorOf<GraphError>([&] { importOnnx(writeTemp(b)); });
        QVERIFY2(msg.contains("w_missing") && msg.contains("conv"), qPrintable(msg));
    }

    void duplicateProducer() {
        ModelBuilder b;
        b.input("x", {1, 4});
        b.node("Relu", {"x"}, {"y"}, {}, "r1");
        b.node("Sigmoid", {"x"}, {"y"}, {}, "r2");
        b.output("y");
        const QString msg = errorOf<GraphError>([&] { importOnnx(writeTemp(b)); });
        QVERIFY2(msg.contains("'y'") && msg.contains("r1") && msg.contains("r2"), qPrintable(msg));
    }

    void unknownOpWarnsAndKeepsDeclaredShapes() {
        ModelBuilder b;
        b.input("x", {1, 4, 8, 8});
        b.node("FancyNorm", {"x"}, {"f"}, {}, "fancy", "com.example");
        b.node("Relu", {"f"}, {"y"}, {}, "relu");
        b.valueInfo("f", {1, 4, 8, 8});
        b.output("y");
        ImportReport report;
        Graph g = importOnnx(writeTemp(b), {}, &report);
        QCOMPARE(report.unknownOps.size(), size_t(1));
        QCOMPARE(QString::fromStdString(report.unknownOps[0]), QStringLiteral("com.example.FancyNorm"));
        QVERIFY(!report.warnings.empty());
        QVERIFY(g.tensors[g.findTensor("f")].shapeKnown);
        // Relu's output shape comes from inference over the declared shape of f.
        QCOMPARE(g.tensors[g.findTensor("y")].shape, (std::vector<int64_t>{1, 4, 8, 8}));
    }

    void exportHardSwishBelowOpset14() {
        // A fused HardSwish must come back out as ops that exist at the model's opset.
        ModelBuilder b(11);
        b.input("x", {1, 2, 3, 3});
        b.initializer("w", {2, 2, 1, 1}, {1, 2, 3, 4});
        b.initializer("three", {}, {3.f}).initializer("zero", {}, {0.f}).initializer("six", {}, {6.f});
        b.node("Conv", {"x", "w"}, {"c"}, {}, "conv");
        b.node("Add", {"c", "three"}, {"a"}, {}, "add3");
        b.node("Clip", {"a", "zero", "six"}, {"r"}, {}, "relu6");
        b.node("Mul", {"c", "r"}, {"m"}, {}, "mulx");
        b.node("Div", {"m", "six"}, {"y"}, {}, "div6");
        b.output("y");
        Graph g = importOnnxFromMemory(b.bytes(), "hs.onnx");
        optimize(g);
        QCOMPARE(g.nodes.size(), size_t(1));
        Graph again = importOnnxFromMemory(exportOnnx(g), "hs-export.onnx");
        std::vector<std::string> ops;
        for (const auto& n : again.nodes) ops.push_back(n.op);
        // x * clip(x / 6 + 1/2, 0, 1), the float operations of the fused activation in its order.
        QCOMPARE(ops, (std::vector<std::string>{"Conv", "Div", "Add", "Clip", "Mul"}));
        QCOMPARE(again.tensors[again.findTensor("y")].shape, (std::vector<int64_t>{1, 2, 3, 3}));
    }

    void exportRoundTrip() {
        ModelBuilder b;
        tinyConv(b, true);
        Graph g = importOnnx(writeTemp(b));
        const std::string bytes = exportOnnx(g);
        Graph again = importOnnxFromMemory(bytes, "roundtrip.onnx");
        QCOMPARE(again.nodes.size(), g.nodes.size());
        QCOMPARE(again.tensors[again.findTensor("w")].data->floats, g.tensors[g.findTensor("w")].data->floats);
        QCOMPARE(again.tensors[again.findTensor("y")].shape, g.tensors[g.findTensor("y")].shape);
    }
};

QTEST_GUILESS_MAIN(TestImport)
#include "tst_import.moc"
