// The exported edge/cloud pair computes what the plan evaluator measured: on the bundled example
// model (residual blocks, depthwise convs, a Gemm head) and mixed 2..8-bit plans at several
// splits, our executor on edge.onnx gives the evaluator's codes and cloud.onnx fed with them its
// outputs; both files pass the full ONNX checker; the manifest round-trips; what cannot be
// exported is refused by name.
#include "autosplit/data/dataset.h"
#include "autosplit/deploy/export_plan.h"
#include "autosplit/deploy/manifest.h"
#include "autosplit/eval/plan_evaluator.h"
#include "autosplit/exec/executor.h"
#include "autosplit/onnx/import.h"
#include "autosplit/passes/optimize.h"
#include "autosplit/quant/calibration.h"
#include "autosplit/util/errors.h"

#include <QtTest>

#include <cmath>
#include <memory>

using namespace autosplit;
using namespace autosplit::deploy;

namespace {

// A mixed plan: edge node i at bits cycling through 2/4/6/8 (weights and outputs shifted).
PlanBits mixedPlan(const Graph& g, int split) {
    PlanBits p = PlanBits::uniform(g, split, 8, 8);
    const int widths[] = {2, 4, 6, 8};
    for (int i = 0; i <= split; ++i) {
        p.weightBits[static_cast<size_t>(i)] = widths[(i + 1) % 4];
        p.activationBits[static_cast<size_t>(i)] = widths[(i + 2) % 4] < 4 ? 4 : widths[(i + 2) % 4];
    }
    return p;
}

struct CodeDiff {
    int64_t elements = 0, differing = 0;
    int64_t maxDiff = 0;
};

}  // namespace

class TestExport : public QObject {
    Q_OBJECT

    Graph g_;
    std::unique_ptr<ErrorTable> table_;
    std::unique_ptr<PlanEvaluator> eval_;

    void checkPair(const PlanBits& plan, CodeDiff& diff, double& worstOutput) {
        const PlanDeployment d = eval_->deployment(plan);
        const SplitModels m = buildSplitModels(g_, plan, d);
        const std::string edgeBytes = exportOnnx(m.edge);
        checkOnnxModel(edgeBytes, "edge.onnx");
        Graph edge = importOnnxFromMemory(edgeBytes, "edge.onnx");
        optimize(edge);
        const bool hasCloud = !m.cloud.nodes.empty();
        Graph cloud;
        if (hasCloud) {
            const std::string cloudBytes = exportOnnx(m.cloud);
            checkOnnxModel(cloudBytes, "cloud.onnx");
            cloud = importOnnxFromMemory(cloudBytes, "cloud.onnx");
            optimize(cloud);
        }
        std::vector<int> sentIds;
        for (const auto& w : m.transmitted) sentIds.push_back(g_.findTensor(w.name));
        Executor edgeRun(edge, ExecutorOptions{1});
        std::unique_ptr<Executor> cloudRun = hasCloud ? std::make_unique<Executor>(cloud, ExecutorOptions{1}) : nullptr;
        for (int s = 0; s < eval_->samples(); ++s) {
            const std::vector<TensorData> ref = eval_->planValues(plan, s, sentIds);
            const std::vector<TensorData> edgeOut = edgeRun.run(sampleInputs(s)).outputs;
            QCOMPARE(edgeOut.size(), m.transmitted.size() + m.edgeResults.size());
            std::vector<TensorData> wire;
            for (size_t k = 0; k < m.transmitted.size(); ++k) {
                const WireTensor& w = m.transmitted[k];
                const TensorData& codes = edgeOut[k];
                QCOMPARE(codes.shape, w.shape);
                if (w.type != WireTensor::Type::Codes) {
                    wire.push_back(codes);
                    continue;
                }
                QCOMPARE(codes.dtype, DType::UInt8);
                const TensorData& v = ref[k];
                QCOMPARE(static_cast<int64_t>(v.floats.size()), codes.elementCount());
                for (size_t e = 0; e < v.floats.size(); ++e) {
                    const int64_t expected = static_cast<int64_t>(std::nearbyint(v.floats[e] / w.scale)) + w.zeroPoint;
                    const int64_t got = codes.ints[e];
                    QVERIFY2(got >= 0 && got < (int64_t(1) << w.bits), qPrintable(QString("code %1 outside %2 bits").arg(got).arg(w.bits)));
                    ++diff.elements;
                    if (got != expected) {
                        ++diff.differing;
                        diff.maxDiff = std::max<int64_t>(diff.maxDiff, std::llabs(got - expected));
                    }
                }
                wire.push_back(codes);
            }
            // Graph outputs: edge results from the edge model, the rest from the cloud model fed
            // with the edge's codes.
            std::vector<TensorData> outputs;
            std::vector<TensorData> cloudOut = hasCloud ? cloudRun->run(wire).outputs : std::vector<TensorData>{};
            size_t er = 0, cr = 0;
            for (int o : g_.outputs) {
                const bool edgeSide = g_.tensors[static_cast<size_t>(o)].producer <= plan.splitPosition;
                outputs.push_back(edgeSide ? edgeOut[m.transmitted.size() + er++] : cloudOut.at(cr++));
            }
            for (size_t o = 0; o < outputs.size(); ++o) {
                const TensorData& want = ref[sentIds.size() + o];
                QCOMPARE(outputs[o].floats.size(), want.floats.size());
                double err = 0, norm = 0;
                for (size_t e = 0; e < want.floats.size(); ++e) {
                    err += std::pow(double(outputs[o].floats[e]) - want.floats[e], 2);
                    norm += double(want.floats[e]) * want.floats[e];
                }
                worstOutput = std::max(worstOutput, std::sqrt(err / std::max(norm, 1e-30)));
            }
        }
    }

    std::vector<TensorData> sampleInputs(int s) const {
        // The evaluation samples are the ones evaluate() measures on; the evaluator keeps them.
        return data_.inputs.samples[static_cast<size_t>(s)];
    }
    EvalData data_;

private slots:
    void initTestCase() {
        g_ = importOnnx(AUTOSPLIT_EXAMPLE_MODEL);
        optimize(g_);
        data_.inputs = syntheticDataset(g_, 4, 3);
        data_.calibration = syntheticDataset(g_, 8, 5);
        table_ = std::make_unique<ErrorTable>(calibrate(g_, data_.calibration));
        eval_ = std::make_unique<PlanEvaluator>(g_, data_, table_.get());
    }

    // Every split of the example (skip connections crossing included), mixed bits: codes equal,
    // outputs equal up to float summation order.
    void pairMatchesTheEvaluator() {
        CodeDiff diff;
        double worst = 0;
        int withSkip = 0;
        const int n = static_cast<int>(g_.nodes.size());
        for (int split = 0; split < n; split += 3) {
            const PlanBits plan = mixedPlan(g_, split);
            const PlanDeployment d = eval_->deployment(plan);
            QVERIFY2(d.dynamicTensors.empty(), "every edge activation has static parameters");
            withSkip += buildSplitModels(g_, plan, d).transmitted.size() > 1;
            checkPair(plan, diff, worst);
        }
        checkPair(mixedPlan(g_, n - 1), diff, worst);  // Edge-Only: no cloud model
        qInfo("codes: %lld of %lld differ (max %lld); worst output relative L2 %.3g; %d cuts send several tensors",
              static_cast<long long>(diff.differing), static_cast<long long>(diff.elements),
              static_cast<long long>(diff.maxDiff), worst, withSkip);
        QVERIFY(diff.elements > 0);
        QVERIFY(withSkip > 0);
        QVERIFY2(diff.maxDiff <= 1, "codes differ by at most one step");
        QVERIFY2(diff.differing * 1000 <= diff.elements, "at most 0.1 % of the codes differ");
        QVERIFY2(worst < 1e-3, qPrintable(QString("outputs differ by %1 relative").arg(worst)));
    }

    void edgeModelIsQdq() {
        const PlanBits plan = mixedPlan(g_, 10);
        const SplitModels m = buildSplitModels(g_, plan, eval_->deployment(plan));
        int q = 0, dq = 0, clips = 0;
        for (const auto& n : m.edge.nodes) {
            q += n.op == "QuantizeLinear";
            dq += n.op == "DequantizeLinear";
            clips += n.op == "Clip";
        }
        QCOMPARE(q, m.quantizedActivations);
        QCOMPARE(dq, m.quantizedActivations + m.quantizedWeights);
        QVERIFY(clips > 0);  // sub-8-bit activations are clamped to their b-bit range
        for (const auto& t : m.edge.tensors)
            if (t.isWeight() && t.data->dtype == DType::Int8 && t.name.find(".int") != std::string::npos) {
                const int bits = std::stoi(t.name.substr(t.name.rfind(".int") + 4));
                const int64_t lim = (int64_t(1) << (bits - 1)) - 1;
                for (int64_t v : t.data->ints) QVERIFY(v >= -lim && v <= lim);
            }
        for (const auto& w : m.transmitted) {
            QVERIFY(w.zeroPoint >= 0 && w.zeroPoint < (1 << w.bits));
            QVERIFY(w.scale > 0);
        }
        for (int o : m.edge.outputs) {
            const std::string& name = m.edge.tensors[static_cast<size_t>(o)].name;
            if (name.size() > 6 && name.substr(name.size() - 6) == ".codes") QCOMPARE(m.edge.tensors[static_cast<size_t>(o)].dtype, DType::UInt8);
        }
    }

    void manifestRoundTrip() {
        Manifest m;
        m.planHash = "0123456789abcdef";
        m.modelPath = "m.onnx";
        m.kind = "SPLIT";
        m.cloudModel = "cloud.onnx";
        WireTensor w;
        w.name = "t";
        w.wireName = "t.codes";
        w.bits = 4;
        w.shape = {1, 3, 5};
        w.scale = 0.25f;
        w.zeroPoint = 7;
        m.transmitted = {w};
        m.cloudResults = {{"y", DType::Float32, {1, 10}}};
        m.maxFrameBytes = frameLimitFor(m.transmitted, m.cloudResults);
        const Manifest back = parseManifest(manifestToJson(m), "manifest.json");
        QCOMPARE(back.planHashValue(), uint64_t(0x0123456789abcdefULL));
        QCOMPARE(back.transmitted.size(), size_t(1));
        QCOMPARE(back.transmitted[0].payloadBytes(), int64_t(8));  // 15 codes at 4 bits
        QCOMPARE(back.transmitted[0].zeroPoint, 7);
        QCOMPARE(back.maxFrameBytes, m.maxFrameBytes);
        QVERIFY(back.maxFrameBytes >= 40 + 8);
        // Bad manifests name the problem.
        auto fails = [](const std::string& text, const char* needle) {
            try {
                parseManifest(text, "bad.json");
            } catch (const Error& e) {
                return std::string(e.what()).find(needle) != std::string::npos;
            }
            return false;
        };
        QVERIFY(fails("{", "not JSON"));
        QVERIFY(fails(R"({"schema":"autosplit-plan"})", "not an autosplit export manifest"));
        std::string text = manifestToJson(m);
        QVERIFY(fails(std::string(text).replace(text.find("\"bits\": 4"), 9, "\"bits\": 9"), "9 bits"));
        QVERIFY(fails(std::string(text).replace(text.find("0123456789abcdef"), 16, "xyz"), "plan hash"));
    }

    void refusesWhatItCannotReproduce() {
        // Without an error table every edge activation is fitted per input: not a static model.
        PlanEvaluator dynamic(g_, data_, nullptr);
        const PlanBits plan = mixedPlan(g_, 5);
        try {
            buildSplitModels(g_, plan, dynamic.deployment(plan));
            QFAIL("exported a plan with per-input activation parameters");
        } catch (const Error& e) {
            QVERIFY2(std::string(e.what()).find("fitted per input") != std::string::npos, e.what());
        }
    }
};

QTEST_GUILESS_MAIN(TestExport)
#include "tst_export.moc"
