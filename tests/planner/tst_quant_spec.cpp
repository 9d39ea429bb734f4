// What is costed is what is measured: on ResNet-50 and PP-OCRv4 det (skips without them), mixed
// plans at several cuts are walked tensor by tensor. Every tensor's bits in the plan's
// quantization spec (ir/quant_spec.h) must be the bits the evaluator fake-quantizes it at
// (observed in its run), the bits the cost model charges when it crosses the cut, and the bits
// the edge-memory model counts for the weights; the simulator's per-node entry is the spec's
// (weight bits, output bits).
#include "autosplit/eval/plan_evaluator.h"
#include "autosplit/ir/analysis.h"
#include "autosplit/ir/quant_spec.h"
#include "autosplit/onnx/import.h"
#include "autosplit/passes/optimize.h"
#include "autosplit/planner/cost_model.h"
#include "autosplit/sim/device.h"

#include <QFileInfo>
#include <QtTest>

#include <random>

using namespace autosplit;

namespace {

struct Walked {
    int tensors = 0, quantized = 0, crossing = 0;
};

// Bits the evaluator reports for a tensor of each kind: constants stay float32 (0), the rest at
// their spec's bits.
int measuredBitsOf(const TensorSpec& s) { return s.kind == TensorSpec::Kind::Constant || s.bits == 32 ? 0 : s.bits; }

void walk(const std::string& path, const std::map<std::string, std::vector<int64_t>>& shapes, Walked& total) {
    ImportOptions io;
    io.inputShapes = shapes;
    Graph g = importOnnx(path, io);
    optimize(g);
    const int n = static_cast<int>(g.nodes.size());
    auto cost = planner::CostModel::build(g, sim::builtinDevice("eyeriss"), sim::builtinDevice("tpu"));
    EvalData data;
    data.inputs = syntheticDataset(g, 1);
    EvalOptions eo;
    eo.weightRounding = EvalOptions::WeightRounding::Nearest;  // which bits, not how they are rounded
    eo.biasCorrection = EvalOptions::BiasCorrection::None;
    eo.threads = 2;
    const PlanEvaluator ev(g, std::move(data), nullptr, eo);
    std::mt19937 rng(7);
    const int kBits[] = {2, 4, 6, 8};
    // A cut inside the first third (ResNet: inside a residual block), the middle, Edge-Only.
    for (int split : {n / 3, n / 2, n - 1}) {
        PlanBits plan = PlanBits::uniform(g, split, 8, 8);
        for (int i = 0; i <= split; ++i) {
            plan.weightBits[size_t(i)] = kBits[rng() % 4];
            plan.activationBits[size_t(i)] = kBits[rng() % 4];
        }
        const std::vector<TensorSpec> spec = quantSpec(g, plan);
        const std::vector<int> applied = ev.appliedBits(plan);
        QCOMPARE(applied.size(), spec.size());
        for (size_t t = 0; t < spec.size(); ++t) {
            if (g.tensors[t].consumers.empty() && g.tensors[t].producer < 0 && !g.tensors[t].isWeight()) continue;  // unused
            const int expect = measuredBitsOf(spec[t]);
            if (applied[t] != expect)
                QFAIL(qPrintable(QStringLiteral("%1, split %2: tensor '%3' (%4) is costed at %5 bits but measured at %6")
                                     .arg(QString::fromStdString(path))
                                     .arg(split)
                                     .arg(QString::fromStdString(g.tensors[t].name))
                                     .arg(QLatin1String(tensorKindName(spec[t].kind)))
                                     .arg(spec[t].bits)
                                     .arg(applied[t])));
            ++total.tensors;
            total.quantized += spec[t].kind == TensorSpec::Kind::Activation || spec[t].kind == TensorSpec::Kind::Weight;
        }
        // Transmission: the cost model charges each crossing tensor at its spec bits.
        int64_t expectBits = 0;
        for (int t : cost->splits()[size_t(split + 1)].transmitted) {
            expectBits += std::max<int64_t>(0, g.tensors[size_t(t)].elementCount()) * spec[size_t(t)].bits;
            ++total.crossing;
        }
        QCOMPARE(cost->transmitBits(split, &plan.activationBits, 0), expectBits);
        // Edge memory: weights at their spec bits.
        int64_t weightBits = 0;
        std::vector<bool> seen(g.tensors.size(), false);
        for (int i = 0; i <= split; ++i)
            for (int t : g.nodes[size_t(i)].inputs)
                if (t >= 0 && !seen[size_t(t)] && g.tensors[size_t(t)].isWeight() && g.tensors[size_t(t)].data->isFloat()) {
                    seen[size_t(t)] = true;
                    weightBits += g.tensors[size_t(t)].data->elementCount() * spec[size_t(t)].bits;
                }
        QCOMPARE(edgeMemory(g, plan).weightBits, weightBits);
        // The simulator's entry of every edge node is looked up at (its weight's, its outputs') bits.
        for (int i = 0; i <= split; ++i) {
            const Node& node = g.nodes[size_t(i)];
            const int w = quantizedWeightTensor(g, node);
            if (w >= 0) QCOMPARE(spec[size_t(w)].bits, plan.weightBits[size_t(i)]);
            for (int o : node.outputs)
                if (o >= 0 && spec[size_t(o)].kind == TensorSpec::Kind::Activation)
                    QCOMPARE(spec[size_t(o)].bits, plan.activationBits[size_t(i)]);
        }
    }
}

}  // namespace

class TestQuantSpec : public QObject {
    Q_OBJECT
private slots:
    void costedIsMeasuredOnRealModels_data() {
        QTest::addColumn<QString>("file");
        QTest::addColumn<QString>("binding");
        QTest::newRow("resnet50") << "resnet50.onnx" << "";
        QTest::newRow("ppocr-det") << "ch_PP-OCRv4_det_infer.onnx" << "x";
    }
    void costedIsMeasuredOnRealModels() {
        QFETCH(QString, file);
        QFETCH(QString, binding);
        const QString path = QStringLiteral(AUTOSPLIT_MODELS_DIR "/") + file;
        if (!QFileInfo::exists(path)) QSKIP(qPrintable(file + " missing (scripts/fetch-models.sh)"));
        std::map<std::string, std::vector<int64_t>> shapes;
        if (!binding.isEmpty()) shapes[binding.toStdString()] = {1, 3, 320, 320};
        Walked w;
        walk(path.toStdString(), shapes, w);
        qInfo("%s: %d tensors walked over 3 mixed plans, %d at integer widths, %d crossing a cut: costed = measured",
              qPrintable(file), w.tensors, w.quantized, w.crossing);
        QVERIFY(w.quantized > 100);
    }
};

QTEST_MAIN(TestQuantSpec)
#include "tst_quant_spec.moc"
