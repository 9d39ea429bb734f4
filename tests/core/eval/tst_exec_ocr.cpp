// PP-OCRv4 recognizer on the generated OCR set (resources/ocr/make_ocr_set: 100 seeded text lines
// rendered with DejaVu Sans): float character accuracy with CTC greedy decoding, and the plans of
// the acceptance criteria — float16 everywhere, all 8 bits on the edge, 2-bit weights everywhere.
// Skips when the model, the dictionary or the generator is missing.
#include "autosplit/data/image.h"
#include "autosplit/eval/labels.h"
#include "autosplit/eval/plan_evaluator.h"
#include "autosplit/eval/text_metrics.h"
#include "autosplit/onnx/import.h"
#include "autosplit/passes/optimize.h"
#include "autosplit/quant/calibration.h"
#include "autosplit/quant/equalize.h"

#include <QFileInfo>
#include <QProcess>
#include <QTemporaryDir>
#include <QtTest>

using namespace autosplit;

class OcrTest : public QObject {
    Q_OBJECT

private slots:
    void ppocrRecognizerOnTheGeneratedSet() {
        const QString models = QStringLiteral(AUTOSPLIT_MODELS_DIR);
        const QString model = models + "/ch_PP-OCRv4_rec_infer.onnx", dict = models + "/ppocr_keys_v1.txt";
        const QString tool = QStringLiteral(AUTOSPLIT_BINARY_DIR) + "/resources/make_ocr_set";
        if (!QFileInfo::exists(model) || !QFileInfo::exists(dict)) QSKIP("PP-OCRv4 rec model or dictionary missing (scripts/fetch-models.sh)");
        if (!QFileInfo::exists(tool)) QSKIP("make_ocr_set was not built (libfreetype-dev missing?)");
        if (!QFileInfo::exists("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")) QSKIP("fonts-dejavu-core missing");

        QTemporaryDir dir;
        QProcess gen;
        gen.start(tool, {"--dict", dict, "--out", dir.path(), "--count", "100", "--seed", "1"});
        QVERIFY(gen.waitForFinished(120000));
        QVERIFY2(gen.exitCode() == 0, gen.readAllStandardError().constData());

        ImportOptions io;
        io.inputShapes["x"] = {1, 3, 48, 320};
        Graph g = importOnnx(model.toStdString(), io);
        optimize(g);
        EvalData data;
        data.inputs = loadImageFolder(g, dir.path().toStdString(), loadPreprocessProfile((dir.path() + "/preprocess.json").toStdString()));
        QCOMPARE(data.inputs.samples.size(), size_t(100));
        data.texts = readLabelFile((dir.path() + "/labels.txt").toStdString(), data.inputs.sampleNames);
        // As `autosplit plan --data DIR` does: equalize and calibrate on the data it measures.
        const EqualizeReport eq = equalizeActivations(g, data.inputs);
        qInfo("equalized %zu tensors on %d lines", eq.tensors.size(), eq.samples);
        QVERIFY(eq.tensors.size() >= 20);
        const ErrorTable table = calibrate(g, data.inputs);
        EvalOptions o;
        o.ctcDictionary = loadCtcDictionary(dict.toStdString());
        const PlanEvaluator ev(g, data, &table, o);
        QCOMPARE(ev.task(), EvalTask::Ctc);
        const double fl = *ev.floatCharAccuracy();
        qInfo("float character accuracy %.2f %% on %d generated lines (e.g. '%s' read as '%s')", fl, ev.samples(),
              data.texts[0].c_str(), ev.floatDecoded()[0].c_str());
        QVERIFY(fl > 80.0);

        const int last = static_cast<int>(g.nodes.size()) - 1;
        const EvalMetrics f16 = ev.evaluate(PlanBits::uniform(g, last, 16, 16, 16));
        const EvalMetrics a8 = ev.evaluate(PlanBits::uniform(g, last, 8, 8, 8));
        const EvalMetrics w4 = ev.evaluate(PlanBits::uniform(g, last, 4, 8, 8));
        const EvalMetrics w2 = ev.evaluate(PlanBits::uniform(g, last, 2, 8, 8));
        qInfo("edge-only char accuracy (GPTQ weights): float16 %.2f, w8a8 %.2f (drop %.2f), w4a8 %.2f (drop %.2f), "
              "w2a8 %.2f (drop %.2f)",
              *f16.charAccuracy, *a8.charAccuracy, a8.accuracyDrop, *w4.charAccuracy, w4.accuracyDrop, *w2.charAccuracy,
              w2.accuracyDrop);
        QCOMPARE(a8.metricName, std::string("char-accuracy-drop"));
        QVERIFY(std::fabs(f16.accuracyDrop) <= 0.5);
        QVERIFY(w2.accuracyDrop > 30.0);
        QVERIFY(w2.accuracyDrop > a8.accuracyDrop + 20.0);

        // Nearest rounding of the same plans: 4-bit weights lose half the characters; GPTQ keeps
        // most of them (the default is what the planner measures).
        EvalOptions on = o;
        on.weightRounding = EvalOptions::WeightRounding::Nearest;
        const PlanEvaluator nearest(g, data, &table, on);
        const EvalMetrics n8 = nearest.evaluate(PlanBits::uniform(g, last, 8, 8, 8));
        const EvalMetrics n4 = nearest.evaluate(PlanBits::uniform(g, last, 4, 8, 8));
        qInfo("nearest rounding: w8a8 %.2f (drop %.2f), w4a8 %.2f (drop %.2f)", *n8.charAccuracy, n8.accuracyDrop,
              *n4.charAccuracy, n4.accuracyDrop);
        QVERIFY2(w4.accuracyDrop + 15.0 < n4.accuracyDrop,
                 qPrintable(QString("w4a8 drop: GPTQ %1, nearest %2").arg(w4.accuracyDrop).arg(n4.accuracyDrop)));
        QVERIFY(w4.relativeMse < n4.relativeMse);

        // Every edge output quantized (what the planner costs, the default) against layer inputs
        // only (the experiment: affine blocks and SE gates left in a fused epilogue): the first is
        // what a plan is measured at (0.00 points at w8a8 on these lines, 0.35 before GPTQ's moments stopped depending on which layers shared their pass; 17.6 while equalization
        // still scaled the constant channels of the affine blocks' Mul outputs, 2.7 while the
        // activation fit pooled every k-th value and missed the SVTR blocks' outlier channels), the
        // second bounds what fusing the vector-unit chains could win (bias correction fitted on the
        // first 32 lines and applied to all 100).
        EvalOptions li = o;
        li.activationScope = EvalOptions::ActivationScope::LayerInputs;
        const PlanEvaluator layerInputs(g, data, &table, li);
        const EvalMetrics l8 = layerInputs.evaluate(PlanBits::uniform(g, last, 8, 8, 8));
        qInfo("w8a8 Edge-Only: every edge output quantized drop %.2f [%.2f, %.2f]; layer inputs only drop %.2f",
              a8.accuracyDrop, a8.dropInterval.low, a8.dropInterval.high, l8.accuracyDrop);
        QVERIFY2(l8.accuracyDrop <= 3.0, qPrintable(QString("drop %1").arg(l8.accuracyDrop)));
        // More quantized tensors, more output error; the character drops (0.00 and 0.59 points)
        // are inside each other's intervals, so their order is noise and not checked.
        QVERIFY2(a8.relativeMse > l8.relativeMse, qPrintable(QString("relative MSE %1 vs %2").arg(a8.relativeMse).arg(l8.relativeMse)));
        QVERIFY2(a8.accuracyDrop <= 1.5, qPrintable(QString("every edge output at w8a8: drop %1").arg(a8.accuracyDrop)));
        QVERIFY(a8.dropInterval.method == "bootstrap" && a8.dropInterval.low <= a8.accuracyDrop && a8.accuracyDrop <= a8.dropInterval.high);
    }
};

QTEST_GUILESS_MAIN(OcrTest)
#include "tst_exec_ocr.moc"
