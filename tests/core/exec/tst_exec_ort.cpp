// Cross-check against ONNX Runtime: the benchmark models, PP-OCR det/rec/cls and a small ViT run through
// import + optimize + our executor and through onnxruntime-node (scripts/ort/run_ort.js) on the
// same seeded input (ORT with graph optimizations disabled: its fusions alter results, see
// scripts/ort/run_ort.js). Error metric per output: max|ours - ort| / max|ort| (relative L-inf), which
// must stay under 1e-4. Skips with the reason when Node, the npm package or a model is missing.
#include "autosplit/data/tensor_io.h"
#include "autosplit/exec/executor.h"
#include "autosplit/onnx/import.h"
#include "autosplit/passes/optimize.h"
#include "ort_reference.h"

#include <QDir>
#include <QElapsedTimer>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QProcess>
#include <QStandardPaths>
#include <QTemporaryDir>
#include <QtTest>

#include <cmath>
#include <random>

using namespace autosplit;

namespace {
struct Dims {
    std::vector<int64_t> v;
};
}  // namespace
Q_DECLARE_METATYPE(Dims)

class OrtTest : public QObject {
    Q_OBJECT

    QString node_;

private slots:
    void initTestCase() { node_ = testing::nodeExecutable(); }

    void matchesOnnxRuntime_data() {
        QTest::addColumn<QString>("file");
        QTest::addColumn<Dims>("dims");
        QTest::addColumn<bool>("textImage");
        QTest::addRow("resnet50") << "resnet50.onnx" << Dims{{1, 3, 224, 224}} << false;
        QTest::addRow("mobilenet_v2") << "mobilenet_v2.onnx" << Dims{{1, 3, 224, 224}} << false;
        QTest::addRow("yolov3_tiny") << "yolov3_tiny.onnx" << Dims{{1, 3, 416, 416}} << false;
        QTest::addRow("ppocr_det") << "ch_PP-OCRv4_det_infer.onnx" << Dims{{1, 3, 480, 480}} << true;
        QTest::addRow("ppocr_rec") << "ch_PP-OCRv4_rec_infer.onnx" << Dims{{1, 3, 48, 320}} << false;
        QTest::addRow("ppocr_cls") << "ch_ppocr_mobile_v2.0_cls_infer.onnx" << Dims{{1, 3, 48, 192}} << false;
        // ViT-style classifier (scripts/export_transformer.py): LayerNorm, GELU, attention, class token.
        QTest::addRow("vit_tiny") << "vit_tiny.onnx" << Dims{{1, 3, 32, 32}} << false;
    }

    void matchesOnnxRuntime() {
        QFETCH(QString, file);
        QFETCH(Dims, dims);
        QFETCH(bool, textImage);
        if (const QString why = testing::ortUnavailable(); !why.isEmpty()) QSKIP(qPrintable(why));
        const QString model = QString(AUTOSPLIT_MODELS_DIR) + "/" + file;
        if (!QFile::exists(model)) QSKIP(qPrintable(model + " is missing (scripts/fetch-models.sh)"));

        // Input name from a first import without bindings is not possible for symbolic dims, so
        // bind by the model's single input name, read from an import that does not need shapes.
        ImportOptions probe;
        probe.requireShapes = false;
        const Graph raw = importOnnx(model.toStdString(), probe);
        QCOMPARE(raw.inputs.size(), size_t(1));
        const std::string inputName = raw.tensors[raw.inputs[0]].name;
        ImportOptions opts;
        opts.inputShapes[inputName] = dims.v;
        Graph g = importOnnx(model.toStdString(), opts);
        optimize(g);

        TensorData x;
        x.shape = dims.v;
        x.floats.resize(static_cast<size_t>(x.elementCount()));
        std::mt19937 rng(1234);
        std::uniform_real_distribution<float> dist(-1.f, 1.f);
        for (float& v : x.floats) v = dist(rng);
        if (textImage) {
            // The detector's output is a sigmoid map: on noise it is ~1e-4 everywhere, where its
            // relative error equals the logits' absolute error. A page-like input (white, with
            // lines of dark glyph-sized boxes, ImageNet-normalized as PP-OCR does) exercises it
            // where it is meant to work.
            const int64_t H = dims.v[2], W = dims.v[3];
            std::vector<float> gray(static_cast<size_t>(H * W), 1.f);
            std::uniform_int_distribution<int> glyphW(6, 14), gap(2, 8);
            for (int64_t top = 20; top + 24 < H; top += 48)
                for (int64_t left = 16 + gap(rng); left + 16 < W - 16; left += glyphW(rng) + gap(rng)) {
                    const int w = glyphW(rng);
                    for (int64_t yy = top; yy < top + 22; ++yy)
                        for (int64_t xx = left; xx < std::min(W, left + w); ++xx)
                            if ((yy + xx) % 3 != 0) gray[yy * W + xx] = 0.1f;
                }
            const float mean[3] = {0.485f, 0.456f, 0.406f}, stdv[3] = {0.229f, 0.224f, 0.225f};
            for (int64_t c = 0; c < 3; ++c)
                for (int64_t i = 0; i < H * W; ++i) x.floats[c * H * W + i] = (gray[i] - mean[c]) / stdv[c];
        }

        QTemporaryDir tmp;
        QVERIFY(tmp.isValid());
        const QString in = tmp.filePath("input.npy");
        writeTensorFile(in.toStdString(), x);

        ExecutorOptions eo;
        eo.threads = 2;
        Executor ex(g, eo);
        QElapsedTimer t;
        t.start();
        const auto ours = ex({x});
        const qint64 oursMs = t.elapsed();

        QProcess p;
        testing::useOrtDir(p);
        p.start(node_, {AUTOSPLIT_SOURCE_DIR "/scripts/ort/run_ort.js", model, "--in",
                        QString::fromStdString(inputName) + "=" + in, "--out", tmp.filePath("ort"), "--threads", "2",
                        "--opt-level", "disabled"});
        QVERIFY2(p.waitForFinished(600000), "onnxruntime timed out");
        const QByteArray err = p.readAllStandardError();
        QVERIFY2(p.exitStatus() == QProcess::NormalExit && p.exitCode() == 0, err.constData());
        const QJsonObject summary = QJsonDocument::fromJson(p.readAllStandardOutput()).object();
        const QJsonArray outs = summary["outputs"].toArray();
        QCOMPARE(size_t(outs.size()), g.outputs.size());
        for (int k = 0; k < outs.size(); ++k) {
            const TensorData want = readTensorFile(outs[k].toObject()["file"].toString().toStdString());
            const TensorData& got = ours[k];
            QCOMPARE(got.shape, want.shape);
            double maxAbs = 0, maxDiff = 0;
            for (size_t i = 0; i < want.floats.size(); ++i) {
                maxAbs = std::max(maxAbs, std::fabs(double(want.floats[i])));
                maxDiff = std::max(maxDiff, std::fabs(double(got.floats[i]) - want.floats[i]));
            }
            const double rel = maxDiff / std::max(maxAbs, 1e-30);
            qInfo("%s output %d (%s): max|diff| %.3g, max|ort| %.3g, relative %.3g; ours %lld ms (2 threads)",
                  qPrintable(file), k, qPrintable(outs[k].toObject()["name"].toString()), maxDiff, maxAbs, rel,
                  static_cast<long long>(oursMs));
            QVERIFY2(rel < 1e-4, qPrintable(QString("relative error %1").arg(rel)));
        }
    }
};

QTEST_GUILESS_MAIN(OrtTest)
#include "tst_exec_ort.moc"
