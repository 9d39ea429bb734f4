// The real models (fetched by scripts/fetch-models.sh into .models/): the foundation issue's
// acceptance figures. Each test skips with the command to run when its model is absent.
#include "autosplit/ir/analysis.h"
#include "autosplit/onnx/import.h"
#include "autosplit/passes/optimize.h"
#include "autosplit/util/errors.h"

#include <QtTest>

#include <filesystem>

using namespace autosplit;

namespace {

std::string modelPath(const char* file) {
    const char* env = std::getenv("AUTOSPLIT_MODELS");
    return (std::filesystem::path(env ? env : AUTOSPLIT_MODELS_DIR) / file).string();
}

#define REQUIRE_MODEL(file)                                                                                       \
    const std::string path = modelPath(file);                                                                     \
    if (!std::filesystem::exists(path))                                                                           \
        QSKIP(qPrintable(QStringLiteral("%1 is absent; run scripts/fetch-models.sh").arg(QString::fromStdString(path))));

struct Loaded {
    Graph g;
    ModelAnalysis a;
};

Loaded load(const std::string& path, ImportOptions opts = {}) {
    Loaded l{importOnnx(path, opts), {}};
    optimize(l.g);
    l.a = analyze(l.g);
    return l;
}

int countOp(const Graph& g, const char* op) {
    int n = 0;
    for (const auto& node : g.nodes) n += node.op == op;
    return n;
}

}  // namespace

class TestModels : public QObject {
    Q_OBJECT
private slots:
    void paperFigures_data() {
        QTest::addColumn<QString>("file");
        QTest::addColumn<int>("weightLayers");
        QTest::addColumn<qlonglong>("macs");
        QTest::addRow("resnet50") << "resnet50.onnx" << 54 << 4089184256LL;
        QTest::addRow("resnet50 with BN") << "resnet50_bn.onnx" << 54 << 4089184256LL;
        QTest::addRow("mobilenet_v2") << "mobilenet_v2.onnx" << 53 << 300774272LL;
        QTest::addRow("mobilenet_v2 with BN") << "mobilenet_v2_bn.onnx" << 53 << 300774272LL;
        QTest::addRow("yolov3") << "yolov3.onnx" << 75 << -1LL;
        QTest::addRow("resnet18") << "resnet18.onnx" << 21 << 1814073344LL;
    }
    void paperFigures() {
        QFETCH(QString, file);
        QFETCH(int, weightLayers);
        QFETCH(qlonglong, macs);
        REQUIRE_MODEL(file.toStdString().c_str());
        const Loaded l = load(path);
        QCOMPARE(l.a.weightLayers, weightLayers);
        if (macs > 0) QCOMPARE(l.a.macs, int64_t(macs));
        QCOMPARE(countOp(l.g, "BatchNormalization"), 0);
        QCOMPARE(countOp(l.g, "Relu") + countOp(l.g, "LeakyRelu") + countOp(l.g, "Clip"), 0);  // all fused
        const auto splits = enumerateSplits(l.g);
        QCOMPARE(splits.size(), l.g.nodes.size() + 1);
        QVERIFY(splits.back().transmitted.empty());
        QCOMPARE(splits.back().edgeWeightElements, l.a.parameters);
    }

    void ppocrDetection() {
        REQUIRE_MODEL("ch_PP-OCRv4_det_infer.onnx");
        ImportOptions opts;
        opts.inputShapes["x"] = {1, 3, 640, 640};
        ImportReport report;
        Graph g = importOnnx(path, opts, &report);
        QVERIFY(report.constantNodes > 300);  // PP-OCR keeps every weight in Constant nodes
        const auto opt = optimize(g);
        QVERIFY(opt.nodesAfter < opt.nodesBefore);
        const ModelAnalysis a = analyze(g);
        QCOMPARE(a.weightLayers, 64);
        QVERIFY(a.parameters > 1'000'000);
        int hardSwish = 0;
        for (const auto& n : g.nodes) hardSwish += n.activation.kind == Activation::Kind::HardSwish;
        QVERIFY2(hardSwish >= 20, "Paddle's decomposed hardswish was not fused");
        const auto splits = enumerateSplits(g);
        int smaller = 0;
        for (const auto& s : splits) smaller += s.transmittedElements < rawInputElements(g);
        QVERIFY(smaller >= 1);  // split candidates that beat sending the raw input exist
    }

    void ppocrNeedsBinding() {
        REQUIRE_MODEL("ch_PP-OCRv4_rec_infer.onnx");
        QVERIFY_THROWS_EXCEPTION(ShapeError, importOnnx(path));
        ImportOptions opts;
        opts.inputShapes["x"] = {1, 3, 48, 320};
        const Loaded l = load(path, opts);
        QVERIFY(l.a.macs > 0);
    }
};

QTEST_GUILESS_MAIN(TestModels)
#include "tst_models.moc"
