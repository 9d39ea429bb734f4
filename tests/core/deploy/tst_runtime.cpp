// The exported example plan served for real on loopback: EdgeRuntime's frames through
// FrameServer + CloudRuntime give the exported pair's results (as the evaluator measured them),
// and requests that do not fit the plan are answered with errors that name the problem while the
// connection keeps serving.
#include "autosplit/data/dataset.h"
#include "autosplit/deploy/export_plan.h"
#include "autosplit/deploy/frame_client.h"
#include "autosplit/deploy/frame_server.h"
#include "autosplit/deploy/runtime.h"
#include "autosplit/eval/plan_evaluator.h"
#include "autosplit/onnx/import.h"
#include "autosplit/passes/optimize.h"
#include "autosplit/quant/calibration.h"

#include <QTemporaryDir>
#include <QtTest>

using namespace autosplit;
using namespace autosplit::deploy;
using namespace std::chrono_literals;

class TestRuntime : public QObject {
    Q_OBJECT
    QTemporaryDir tmp_;
    Graph g_;
    EvalData data_;
    std::unique_ptr<ErrorTable> table_;
    std::unique_ptr<PlanEvaluator> eval_;
    PlanBits plan_;

private slots:
    void initTestCase() {
        QVERIFY(tmp_.isValid());
        g_ = importOnnx(AUTOSPLIT_EXAMPLE_MODEL);
        optimize(g_);
        data_.inputs = syntheticDataset(g_, 3, 3);
        data_.calibration = syntheticDataset(g_, 6, 5);
        table_ = std::make_unique<ErrorTable>(calibrate(g_, data_.calibration));
        eval_ = std::make_unique<PlanEvaluator>(g_, data_, table_.get());
        plan_ = PlanBits::uniform(g_, 10, 4, 4);  // a cut inside a residual block of the example
        planner::PlanDocument doc;
        doc.modelPath = AUTOSPLIT_EXAMPLE_MODEL;
        doc.selected.kind = planner::PlanKind::Split;
        writeExport(g_, plan_, eval_->deployment(plan_), doc, tmp_.path().toStdString());
    }

    void servesTheExportedPair() {
        const CloudRuntime cloud(tmp_.path().toStdString());
        const EdgeRuntime edge(tmp_.path().toStdString(), 1);
        ServerOptions o;
        o.limits = frameLimitsFor(cloud.manifest());
        FrameServer server("127.0.0.1", 0, o, [&](const Frame& f) { return cloud.handle(f); });
        server.start();
        FrameClient client(frameLimitsFor(edge.manifest()));
        client.connect("127.0.0.1", server.port(), 10s);
        for (int s = 0; s < eval_->samples(); ++s) {
            const auto req = edge.encode(data_.inputs.samples[static_cast<size_t>(s)], static_cast<uint64_t>(s));
            QCOMPARE(req.payloadBytes, edge.manifest().transmittedBytes());
            const Frame reply = client.roundTrip(req.frame, 30s);
            QCOMPARE(reply.type, FrameType::Reply);
            QCOMPARE(reply.sequence, static_cast<uint64_t>(s));
            double cloudMs = -1;
            const std::vector<TensorData> got = replyResults(reply, &cloudMs);
            QVERIFY(cloudMs >= 0);
            // The evaluator's outputs of this plan: the served results, up to float summation order.
            const std::vector<TensorData> want = eval_->planValues(plan_, s, {});
            QCOMPARE(got.size(), want.size());
            for (size_t o2 = 0; o2 < got.size(); ++o2) {
                QCOMPARE(got[o2].floats.size(), want[o2].floats.size());
                double err = 0, norm = 0;
                for (size_t e = 0; e < got[o2].floats.size(); ++e) {
                    err += std::pow(double(got[o2].floats[e]) - want[o2].floats[e], 2);
                    norm += double(want[o2].floats[e]) * want[o2].floats[e];
                }
                QVERIFY2(std::sqrt(err / std::max(norm, 1e-30)) < 1e-3, "served results are the plan's");
            }
        }
        // Requests that do not fit the plan: an error reply naming it, the connection stays.
        auto req = edge.encode(data_.inputs.samples[0], 100);
        Frame wrongPlan = req.frame;
        wrongPlan.planHash ^= 1;
        Frame r = client.roundTrip(wrongPlan, 30s);
        QCOMPARE(r.type, FrameType::Error);
        QVERIFY2(r.error.find("WrongPlan") != std::string::npos, r.error.c_str());
        Frame wrongShape = req.frame;
        wrongShape.sequence = 101;
        auto& t = wrongShape.tensors[0];
        std::vector<uint8_t> codes = tensorCodes(t);
        codes.pop_back();
        std::vector<int64_t> shape{static_cast<int64_t>(codes.size())};
        t = makeCodesTensor(t.id, t.bits, shape, codes.data(), t.scale, t.zeroPoint);
        r = client.roundTrip(wrongShape, 30s);
        QCOMPARE(r.type, FrameType::Error);
        QVERIFY2(r.error.find("WrongShape") != std::string::npos, r.error.c_str());
        req.frame.sequence = 102;
        QCOMPARE(client.roundTrip(req.frame, 30s).type, FrameType::Reply);  // still served
        server.stop();
        QCOMPARE(server.stats().framesOk, static_cast<uint64_t>(eval_->samples() + 1));
    }

    void refusesWhatItCannotServe() {
        QVERIFY_THROWS_EXCEPTION(Error, exportDirOf(tmp_.filePath("nothing.json").toStdString()));
        QTemporaryDir edgeOnly;
        planner::PlanDocument doc;
        doc.selected.kind = planner::PlanKind::EdgeOnly;
        const PlanBits all = PlanBits::uniform(g_, static_cast<int>(g_.nodes.size()) - 1, 8, 8);
        writeExport(g_, all, eval_->deployment(all), doc, edgeOnly.path().toStdString());
        try {
            CloudRuntime c(edgeOnly.path().toStdString());
            QFAIL("served an Edge-Only export");
        } catch (const Error& e) {
            QVERIFY2(std::string(e.what()).find("Edge-Only") != std::string::npos, e.what());
        }
    }
};

QTEST_GUILESS_MAIN(TestRuntime)
#include "tst_runtime.moc"
