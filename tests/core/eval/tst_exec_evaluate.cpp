// Fake-quant plan evaluation on a hand-built residual classifier (conv-relu -> conv-relu -> conv,
// skip Add, pool, Gemm) and a tiny CTC head: float16 everywhere is near lossless, 8 bits costs a
// little, 2-bit weights a lot; Cloud-Only quantizes the raw input; a split inside the skip
// connection quantizes both crossing tensors (checked against an independent re-implementation
// of the plan with executor hooks); cancellation; concurrent evaluations agree; bad plans,
// labels and tables fail clearly; CTC decoding and character accuracy.
#include "autosplit/eval/plan_evaluator.h"
#include "autosplit/eval/text_metrics.h"
#include "autosplit/exec/executor.h"
#include "autosplit/quant/calibration.h"
#include "autosplit/util/errors.h"
#include "graph_fixtures.h"

#include <QtTest>

#include <algorithm>
#include <cmath>
#include <random>
#include <thread>

using namespace autosplit;
using autosplit::testing::addInput;
using autosplit::testing::addValue;
using autosplit::testing::makeNode;
using autosplit::testing::randomTensor;

namespace {
int addWeight(Graph& g, const std::string& name, std::vector<int64_t> shape, uint32_t seed, float sd) {
    return testing::addWeight(g, name, randomTensor(std::move(shape), seed, sd));
}
Node node(const std::string& name, const std::string& op, std::vector<int> in, std::vector<int> out) {
    return makeNode(name, op, std::move(in), std::move(out));
}

// 0 conv1(relu) a | 1 conv2(relu) b | 2 conv3 c | 3 add(a, c)(relu) d | 4 gap e | 5 flatten f | 6 fc y
Graph residualNet() {
    Graph g;
    g.opsetVersion = 13;
    const int x = addInput(g, "x", {1, 3, 10, 10});
    const int a = addValue(g, "a"), b = addValue(g, "b"), c = addValue(g, "c"), d = addValue(g, "d");
    const int e = addValue(g, "e"), f = addValue(g, "f"), y = addValue(g, "y");
    Node c1 = node("conv1", "Conv", {x, addWeight(g, "w1", {8, 3, 3, 3}, 1, 0.3f), addWeight(g, "b1", {8}, 2, 0.1f)}, {a});
    c1.attrs["pads"] = Attribute{std::vector<int64_t>{1, 1, 1, 1}};
    c1.activation.kind = Activation::Kind::Relu;
    Node c2 = node("conv2", "Conv", {a, addWeight(g, "w2", {8, 8, 3, 3}, 3, 0.2f)}, {b});
    c2.attrs["pads"] = Attribute{std::vector<int64_t>{1, 1, 1, 1}};
    c2.activation.kind = Activation::Kind::Relu;
    Node c3 = node("conv3", "Conv", {b, addWeight(g, "w3", {8, 8, 1, 1}, 4, 0.3f)}, {c});
    Node add = node("add", "Add", {a, c}, {d});
    add.activation.kind = Activation::Kind::Relu;
    Node gap = node("gap", "GlobalAveragePool", {d}, {e});
    Node flat = node("flatten", "Flatten", {e}, {f});
    Node fc = node("fc", "Gemm", {f, addWeight(g, "wfc", {10, 8}, 5, 0.5f), addWeight(g, "bfc", {10}, 6, 0.05f)}, {y});
    fc.attrs["transB"] = Attribute{int64_t{1}};
    g.nodes = {c1, c2, c3, add, gap, flat, fc};
    g.inputs = {x};
    g.outputs = {y};
    g.rebuild();
    return g;
}

// Per-step class scores [1, T, C]: x [1, T, 6] -> MatMul W[6, C] -> Softmax.
Graph ctcHead(int steps, int classes) {
    Graph g;
    g.opsetVersion = 13;
    const int x = addInput(g, "x", {1, steps, 6});
    const int m = addValue(g, "m"), y = addValue(g, "y");
    Node mm = node("proj", "MatMul", {x, addWeight(g, "w", {6, classes}, 11, 1.0f)}, {m});
    Node sm = node("softmax", "Softmax", {m}, {y});
    sm.attrs["axis"] = Attribute{int64_t{-1}};
    g.nodes = {mm, sm};
    g.inputs = {x};
    g.outputs = {y};
    g.rebuild();
    return g;
}

// Text-detector-like head: conv(relu) -> 1x1 conv to one channel with a fused sigmoid = [1, 1, 12, 12].
Graph mapHead() {
    Graph g;
    g.opsetVersion = 13;
    const int x = addInput(g, "x", {1, 3, 12, 12});
    const int a = addValue(g, "a"), y = addValue(g, "y");
    Node c1 = node("conv1", "Conv", {x, addWeight(g, "w1", {6, 3, 3, 3}, 31, 0.5f)}, {a});
    c1.attrs["pads"] = Attribute{std::vector<int64_t>{1, 1, 1, 1}};
    c1.activation.kind = Activation::Kind::Relu;
    Node c2 = node("prob", "Conv", {a, addWeight(g, "w2", {1, 6, 1, 1}, 32, 0.8f)}, {y});
    c2.activation.kind = Activation::Kind::Sigmoid;
    g.nodes = {c1, c2};
    g.inputs = {x};
    g.outputs = {y};
    g.rebuild();
    return g;
}

// x -> conv (bias, Relu) -> conv 3x3 (bias, Relu) -> conv 1x1 (bias) -> y, on 12x12 maps.
Graph shiftNet() {
    Graph g;
    g.opsetVersion = 13;
    const int x = addInput(g, "x", {1, 3, 12, 12});
    const int a = addValue(g, "a"), b = addValue(g, "b"), y = addValue(g, "y");
    Node c1 = node("c1", "Conv", {x, addWeight(g, "w1", {8, 3, 3, 3}, 1, 0.3f), addWeight(g, "b1", {8}, 2, 0.1f)}, {a});
    Node c2 = node("c2", "Conv", {a, addWeight(g, "w2", {8, 8, 3, 3}, 3, 0.2f), addWeight(g, "b2", {8}, 4, 0.1f)}, {b});
    Node c3 = node("c3", "Conv", {b, addWeight(g, "w3", {4, 8, 1, 1}, 5, 0.3f), addWeight(g, "b3", {4}, 6, 0.1f)}, {y});
    c1.attrs["pads"] = c2.attrs["pads"] = Attribute{std::vector<int64_t>{1, 1, 1, 1}};
    c1.activation.kind = c2.activation.kind = Activation::Kind::Relu;
    g.nodes = {c1, c2, c3};
    g.inputs = {x};
    g.outputs = {y};
    g.rebuild();
    return g;
}
// x [1, 480, 8, 25] -> 1x1 conv 480 -> 480 (Relu) -> 1x1 conv 480 -> 480 -> y: GEMMs of 200
// positions, which the one-threaded executor sums in K blocks of 256 and the two-threaded one
// (row blocks over one shared B) in one block of all 480, so their last bits differ.
Graph wideConvs() {
    Graph g;
    g.opsetVersion = 13;
    const int x = addInput(g, "x", {1, 480, 8, 25});
    const int a = addValue(g, "a"), y = addValue(g, "y");
    Node c1 = node("c1", "Conv", {x, addWeight(g, "w1", {480, 480, 1, 1}, 41, 0.05f), addWeight(g, "b1", {480}, 42, 0.1f)}, {a});
    c1.activation.kind = Activation::Kind::Relu;
    Node c2 = node("c2", "Conv", {a, addWeight(g, "w2", {480, 480, 1, 1}, 43, 0.05f)}, {y});
    g.nodes = {c1, c2};
    g.inputs = {x};
    g.outputs = {y};
    g.rebuild();
    return g;
}

// A skewed input: most of a coarse grid's error is a shift.
void skew(Dataset& set) {
    for (auto& sample : set.samples)
        for (float& v : sample.front().floats) v = v * v;
}

EvalData dataFor(const Graph& g, int n, uint32_t seed = 3) {
    EvalData d;
    d.inputs = syntheticDataset(g, n, seed);
    return d;
}

bool sameMetrics(const EvalMetrics& a, const EvalMetrics& b) {
    return a.relativeMse == b.relativeMse && a.top1Agreement == b.top1Agreement && a.accuracyDrop == b.accuracyDrop;
}

// Independent oracle for a plan with dynamic activation parameters (no table; the graph input
// static, fitted on the whole set as the evaluator does without a calibration set), nearest weight
// rounding and no bias correction: runs the executor with explicit hooks and returns output 0 of
// the plan and of the float model for every sample.
std::vector<std::pair<TensorData, TensorData>> oracleOutputs(const Graph& g, const Dataset& set, const PlanBits& p) {
    Executor ex(g, ExecutorOptions{1});
    std::unordered_map<int, std::shared_ptr<const TensorData>> w;
    for (size_t i = 0; i < g.nodes.size(); ++i) {
        const Node& n = g.nodes[i];
        for (size_t k = 0; k < n.inputs.size(); ++k) {
            const int t = n.inputs[k];
            if (t < 0 || !g.tensors[t].isWeight()) continue;
            const TensorData& src = *g.tensors[t].data;
            if (static_cast<int>(i) > p.splitPosition) {
                TensorData h = src;
                roundToFloat16(h);
                w[t] = std::make_shared<TensorData>(h);
            } else if (k == 1 && p.weightBits[i] != 32) {
                w[t] = std::make_shared<TensorData>(fakeQuantizeWeights(src, weightChannelAxis(n, src, 1), p.weightBits[i], {}));
            }
        }
    }
    // The input: static parameters fitted on the pooled values of the set (no calibration set).
    std::vector<float> pool;
    for (const auto& s : set.samples) pool.insert(pool.end(), s[0].floats.begin(), s[0].floats.end());
    const bool intInput = p.inputBits >= 2 && p.inputBits <= 8;
    const QuantParams ip = intInput ? activationParams(pool.data(), static_cast<int64_t>(pool.size()), p.inputBits, false, {}) : QuantParams{};
    RunHooks h;
    h.weightOverrides = &w;
    h.onValue = [&](int nodeIndex, int, TensorData& v) {
        if (nodeIndex < 0) {
            if (intInput) fakeQuantize(v.floats.data(), static_cast<int64_t>(v.floats.size()), ip);
            else if (p.inputBits != 32) fakeQuantizeActivation(v, p.inputBits, false, {});
        } else if (nodeIndex > p.splitPosition) {
            roundToFloat16(v);
        } else if (p.activationBits[nodeIndex] != 32) {
            fakeQuantizeActivation(v, p.activationBits[nodeIndex], producesNonNegative(g.nodes[nodeIndex]), {});
        }
    };
    std::vector<std::pair<TensorData, TensorData>> out;
    for (const auto& s : set.samples) out.emplace_back(ex.run(s, h).outputs[0], ex(s)[0]);
    return out;
}

double oracleRelativeMse(const Graph& g, const Dataset& set, const PlanBits& p) {
    double err = 0, ref = 0;
    for (const auto& [q, fl] : oracleOutputs(g, set, p)) {
        for (size_t k = 0; k < fl.floats.size(); ++k) {
            const double d = static_cast<double>(q.floats[k]) - fl.floats[k];
            err += d * d;
            ref += static_cast<double>(fl.floats[k]) * fl.floats[k];
        }
    }
    return err / ref;
}

}  // namespace

class EvaluateTest : public QObject {
    Q_OBJECT

private slots:
    void float16EverywhereIsNearLossless() {
        const Graph g = residualNet();
        const PlanEvaluator ev(g, dataFor(g, 16), nullptr);
        QCOMPARE(ev.task(), EvalTask::Classifier);
        for (int split : {-1, 3, 6}) {
            const EvalMetrics m = ev.evaluate(PlanBits::uniform(g, split, 16, 16, 16));
            QCOMPARE(m.samples, 16);
            QVERIFY2(m.relativeMse < 1e-5, qPrintable(QString::number(m.relativeMse)));
            QVERIFY(m.relativeMse > 0);  // float16 rounding is visible, just tiny
            QVERIFY(m.sqnrDb > 50);
            QCOMPARE(*m.top1Agreement, 100.0);
            QCOMPARE(m.accuracyDrop, 0.0);
            QCOMPARE(m.metricName, std::string("top1-disagreement"));
        }
        // 32 bits on an Edge-Only plan leaves the float model untouched.
        const EvalMetrics exact = ev.evaluate(PlanBits::uniform(g, 6, 32, 32, 32));
        QCOMPARE(exact.relativeMse, 0.0);
        QVERIFY(std::isinf(exact.sqnrDb));
    }

    void fewerBitsCostMore() {
        const Graph g = residualNet();
        const auto data = dataFor(g, 32);
        const ErrorTable table = calibrate(g, data.inputs);
        const PlanEvaluator ev(g, data, &table);
        const EvalMetrics m8 = ev.evaluate(PlanBits::uniform(g, 6, 8, 8));
        const EvalMetrics m4 = ev.evaluate(PlanBits::uniform(g, 6, 4, 8));
        const EvalMetrics w2 = ev.evaluate(PlanBits::uniform(g, 6, 2, 8));
        qInfo("edge-only rel. MSE: w8a8 %.3g  w4a8 %.3g  w2a8 %.3g; agreement %.1f / %.1f / %.1f %%", m8.relativeMse,
              m4.relativeMse, w2.relativeMse, *m8.top1Agreement, *m4.top1Agreement, *w2.top1Agreement);
        QVERIFY(m8.relativeMse > 0);
        QVERIFY(m8.relativeMse < 2e-3);
        QVERIFY(*m8.top1Agreement >= 90.0);
        QVERIFY(m4.relativeMse > m8.relativeMse);
        QVERIFY(w2.relativeMse > 10 * m8.relativeMse);
        QVERIFY(w2.relativeMse > 0.005);  // empirical bias correction keeps 2-bit weights near 1.5e-2
        QVERIFY(w2.accuracyDrop >= m8.accuracyDrop);
        QVERIFY(w2.sqnrDb < m8.sqnrDb - 10);
        // Bias correction absorbs the mean shift of the weight error (conv2/conv3 read ReLU outputs
        // with a positive mean): without it the same plans are worse.
        EvalOptions noCorrection;
        noCorrection.biasCorrection = EvalOptions::BiasCorrection::None;
        const PlanEvaluator raw(g, data, &table, noCorrection);
        const EvalMetrics r4 = raw.evaluate(PlanBits::uniform(g, 6, 4, 32, 32));
        const EvalMetrics c4 = ev.evaluate(PlanBits::uniform(g, 6, 4, 32, 32));
        qInfo("w4 rel. MSE with bias correction %.3g, without %.3g", c4.relativeMse, r4.relativeMse);
        QVERIFY(c4.relativeMse < r4.relativeMse);
        // Static (table) and dynamic activation parameters are both used and differ.
        const PlanEvaluator dyn(g, data, nullptr);
        const EvalMetrics d8 = dyn.evaluate(PlanBits::uniform(g, 6, 8, 8));
        QVERIFY(d8.relativeMse != m8.relativeMse);
        QVERIFY(d8.relativeMse < 2e-3);
    }

    void cloudOnlyQuantizesTheInput() {
        const Graph g = residualNet();
        const auto data = dataFor(g, 8);
        const PlanEvaluator ev(g, data, nullptr);
        PlanBits p8 = PlanBits::uniform(g, -1, 2, 2, 8);  // edge bits are ignored: nothing on the edge
        const EvalMetrics m8 = ev.evaluate(p8);
        PlanBits p2 = p8;
        p2.inputBits = 2;
        const EvalMetrics m2 = ev.evaluate(p2);
        const EvalMetrics f16 = ev.evaluate(PlanBits::uniform(g, -1, 2, 2, 16));
        qInfo("cloud-only rel. MSE: input f16 %.3g, 8 bits %.3g, 2 bits %.3g", f16.relativeMse, m8.relativeMse, m2.relativeMse);
        QVERIFY(m8.relativeMse > 2 * f16.relativeMse);
        QVERIFY(m2.relativeMse > 10 * m8.relativeMse);
        QVERIFY(std::fabs(m8.relativeMse - oracleRelativeMse(g, data.inputs, p8)) <= 1e-12 * std::max(1.0, m8.relativeMse));
        // Cloud-only needs no per-node bits at all.
        PlanBits bare;
        bare.splitPosition = -1;
        QCOMPARE(ev.evaluate(bare).relativeMse, m8.relativeMse);
    }

    void splitInsideTheSkipConnectionQuantizesCrossingTensors() {
        const Graph g = residualNet();
        const auto data = dataFor(g, 6);
        EvalOptions allNodes;  // the oracle quantizes every edge output
        allNodes.activationScope = EvalOptions::ActivationScope::AllNodes;
        const PlanEvaluator ev(g, data, nullptr, allNodes);
        // Split after conv2: a (skip branch) and b cross. Only a's producer is coarse.
        PlanBits p = PlanBits::uniform(g, 1, 32, 32, 32);
        p.activationBits[0] = 2;
        const EvalMetrics m = ev.evaluate(p);
        const double oracle = oracleRelativeMse(g, data.inputs, p);
        QVERIFY2(std::fabs(m.relativeMse - oracle) <= 1e-12 * std::max(1.0, oracle),
                 qPrintable(QString("%1 vs %2").arg(m.relativeMse).arg(oracle)));
        // Split after conv3: a and c cross; c's bits matter only because c crosses to the cloud.
        PlanBits q = PlanBits::uniform(g, 2, 32, 32, 32);
        const EvalMetrics q32 = ev.evaluate(q);
        q.activationBits[2] = 2;
        const EvalMetrics q2 = ev.evaluate(q);
        QVERIFY(q2.relativeMse > 100 * q32.relativeMse);
        QVERIFY(std::fabs(q2.relativeMse - oracleRelativeMse(g, data.inputs, q)) <= 1e-12 * std::max(1.0, q2.relativeMse));
        // Activation scope: the Add output feeds only the pooling node. AllNodes (the default, as
        // the planner costs it) quantizes it; with LayerInputs it stays float unless it crosses.
        PlanBits addOnly = PlanBits::uniform(g, 6, 32, 32, 32);
        addOnly.activationBits[3] = 2;
        QVERIFY(ev.evaluate(addOnly).relativeMse > 1e-3);
        QCOMPARE(PlanEvaluator(g, data, nullptr).evaluate(addOnly).relativeMse, ev.evaluate(addOnly).relativeMse);
        EvalOptions layerInputs;
        layerInputs.activationScope = EvalOptions::ActivationScope::LayerInputs;
        const PlanEvaluator li(g, data, nullptr, layerInputs);
        QCOMPARE(li.evaluate(addOnly).relativeMse, 0.0);
        addOnly.splitPosition = 3;  // now d crosses to the cloud: quantized at its producer's bits
        QVERIFY(li.evaluate(addOnly).relativeMse > 1e-3);
        // The same bits on a cloud node are ignored (the cloud runs float16).
        PlanBits r = PlanBits::uniform(g, 1, 32, 32, 32);
        const EvalMetrics r32 = ev.evaluate(r);
        r.activationBits[2] = 2;
        QCOMPARE(ev.evaluate(r).relativeMse, r32.relativeMse);
    }

    void heldOutMeasurementAndIntervals() {
        const Graph g = residualNet();
        EvalData data = dataFor(g, 12, 3);
        data.calibration = syntheticDataset(g, 8, 99);  // other samples: GPTQ and bias correction fit here
        const PlanEvaluator held(g, data, nullptr);
        QVERIFY(held.heldOut());
        QCOMPARE(held.calibrationSamples(), 8);
        const PlanBits p = PlanBits::uniform(g, 6, 4, 4);
        const EvalMetrics m = held.evaluate(p);
        QVERIFY(m.heldOut);
        QCOMPARE(m.samples, 12);
        QCOMPARE(m.calibrationSamples, 8);
        QCOMPARE(m.metricName, held.metricName());
        // top-1 disagreement of a classifier: a rate, Wilson's interval around it.
        QCOMPARE(m.metricName, std::string("top1-disagreement"));
        QCOMPARE(m.dropInterval.method, std::string("wilson"));
        QVERIFY2(m.dropInterval.contains(m.accuracyDrop), qPrintable(QString("%1 not in [%2, %3]").arg(m.accuracyDrop).arg(m.dropInterval.low).arg(m.dropInterval.high)));
        QVERIFY(m.dropInterval.high > m.dropInterval.low);
        // Without a calibration set the evaluation samples are used for both, and it says so.
        EvalData same = dataFor(g, 12, 3);
        const PlanEvaluator notHeld(g, same, nullptr);
        QVERIFY(!notHeld.heldOut());
        QVERIFY(!notHeld.evaluate(p).heldOut);
        // The fits differ with the data they are fitted on: GPTQ moments come from the calibration set.
        QVERIFY(notHeld.evaluate(p).relativeMse != m.relativeMse);
        // A probability map: a bootstrap interval over samples.
        const Graph h = mapHead();
        EvalData hd = dataFor(h, 10, 5);
        hd.calibration = syntheticDataset(h, 4, 17);
        const EvalMetrics mm = PlanEvaluator(h, hd, nullptr).evaluate(PlanBits::uniform(h, 1, 4, 4));
        QCOMPARE(mm.metricName, std::string("map-f1-disagreement"));
        QCOMPARE(mm.dropInterval.method, std::string("bootstrap"));
        QVERIFY(mm.dropInterval.low <= mm.dropInterval.high);
        // Calibration samples that do not fit the model are an error.
        EvalData bad = dataFor(g, 2, 3);
        bad.calibration.samples.push_back({});
        QVERIFY_THROWS_EXCEPTION(Error, PlanEvaluator(g, bad, nullptr));
    }

    // A measurement told to reject above a threshold stops once the whole set's drop is certain
    // to exceed it: the verdict is the full run's, on fewer samples, and its bound never exceeds
    // the full drop; below the threshold it runs every sample and equals the full measurement.
    // For every metric: top-1 disagreement and accuracy drop, relative L2, map F1, CTC character
    // agreement and accuracy drop.
    void earlyRejectionKeepsTheVerdict() {
        EvalOptions one;
        one.threads = 1;  // chunks of 2 samples
        struct Case {
            const char* name;
            Graph g;
            EvalData data;
            EvalOptions o;
            int split;
        };
        std::vector<Case> cases;
        cases.push_back({"top1-disagreement", residualNet(), dataFor(residualNet(), 16, 3), one, 6});
        {
            Case c{"top1-accuracy-drop", residualNet(), dataFor(residualNet(), 16, 3), one, 6};
            // The float model's classes, one in four changed: a plan's errors on the others count.
            Executor ex(c.g, ExecutorOptions{1});
            for (size_t i = 0; i < c.data.inputs.samples.size(); ++i) {
                const std::vector<TensorData> outputs = ex(c.data.inputs.samples[i]);
                const auto& y = outputs[0].floats;
                const int64_t top = std::max_element(y.begin(), y.end()) - y.begin();
                c.data.labels.push_back(i % 4 == 0 ? (top + 1) % 10 : top);
            }
            cases.push_back(std::move(c));
        }
        {
            Graph linear = mapHead();
            linear.nodes[1].activation = Activation{};
            cases.push_back({"relative-l2-error", linear, dataFor(linear, 16, 5), one, 1});
        }
        cases.push_back({"map-f1-disagreement", mapHead(), dataFor(mapHead(), 16, 5), one, 1});
        {
            EvalOptions o = one;
            o.ctcDictionary = {"0", "1", "2", "3", "4", "5", "6", "7"};
            cases.push_back({"char-disagreement", ctcHead(24, 9), dataFor(ctcHead(24, 9), 16), o, 1});
            Case c{"char-accuracy-drop", ctcHead(24, 9), dataFor(ctcHead(24, 9), 16), o, 1};
            c.data.texts = PlanEvaluator(c.g, c.data, nullptr, o).floatDecoded();
            for (size_t i = 0; i < c.data.texts.size(); i += 3) c.data.texts[i] = "12";  // some lines the float model gets wrong
            cases.push_back(std::move(c));
        }
        for (auto& c : cases) {
            c.data.calibration = syntheticDataset(c.g, 4, 77);
            const PlanEvaluator ev(c.g, c.data, nullptr, c.o);
            QCOMPARE(ev.metricName(), std::string(c.name));
            int stopped = 0;
            for (int bits : {2, 4, 8}) {
                const PlanBits p = PlanBits::uniform(c.g, c.split, bits, bits);
                const EvalMetrics full = ev.evaluate(p);
                QCOMPARE(full.samples, 16);
                QVERIFY(!full.dropAtLeast);
                for (double t : {-1.0, 0.0, full.accuracyDrop * 0.25, full.accuracyDrop * 0.9, full.accuracyDrop, full.accuracyDrop + 1.0}) {
                    const EvalMetrics m = ev.evaluate(p, {}, t);
                    const QString what = QString("%1 w%2a%2, threshold %3, full drop %4").arg(c.name).arg(bits).arg(t).arg(full.accuracyDrop);
                    QCOMPARE(m.setSamples, 16);
                    if (m.dropAtLeast) {
                        ++stopped;
                        QVERIFY2(m.samples < 16 && m.samples % 2 == 0, qPrintable(what));
                        QVERIFY2(*m.dropAtLeast > t, qPrintable(what));                            // rejected ...
                        QVERIFY2(*m.dropAtLeast <= full.accuracyDrop + 1e-9, qPrintable(what));  // ... as the full run rejects it
                    } else {
                        // Scored chunk by chunk, each adding its samples to the sums before it: the
                        // same figures as one scoring of the whole set, to the last bit.
                        QVERIFY2(m.samples == 16 && m.accuracyDrop == full.accuracyDrop && m.relativeMse == full.relativeMse, qPrintable(what));
                        QVERIFY2(m.dropInterval.low == full.dropInterval.low && m.dropInterval.high == full.dropInterval.high, qPrintable(what));
                        QCOMPARE(m.outputs.size(), full.outputs.size());
                        for (size_t o = 0; o < m.outputs.size(); ++o) QVERIFY2(m.outputs[o].relativeMse == full.outputs[o].relativeMse, qPrintable(what));
                        QVERIFY2(m.decoded == full.decoded, qPrintable(what));
                    }
                }
            }
            // The 2-bit plans lose enough that a zero threshold is decided before the end.
            QVERIFY2(stopped > 0, c.name);
        }
    }

    void imagesAreSentOnTheSensorGrid() {
        // A Cloud-Only plan on 8-bit sensor pixels loses nothing at the input: the same outputs
        // as with the input left in float32 (only the float16 cloud rounds).
        const Graph g = residualNet();
        EvalData d;
        d.inputs = syntheticDataset(g, 3, 4);
        for (auto& s : d.inputs.samples)
            for (float& v : s.front().floats) v = (std::round(std::clamp(v * 40.f + 128.f, 0.f, 255.f)) / 255.f - 0.5f) / 0.25f;
        d.inputs.sensorGrid = true;
        const PlanEvaluator ev(g, d, nullptr);
        PlanBits cloud;
        cloud.splitPosition = -1;
        cloud.inputBits = 8;
        PlanBits exact = cloud;
        exact.inputBits = 32;
        QCOMPARE(ev.evaluate(cloud).relativeMse, ev.evaluate(exact).relativeMse);
        QCOMPARE(ev.appliedBits(cloud)[size_t(g.inputs[0])], 8);
        // Without the sensor grid the input is re-quantized per tensor: not the same.
        d.inputs.sensorGrid = false;
        const PlanEvaluator fitted(g, d, nullptr);
        QVERIFY(fitted.evaluate(cloud).relativeMse != fitted.evaluate(exact).relativeMse);
    }

    void empiricalBiasCorrectionAbsorbsActivationShift() {
        // Float weights, 2-bit activations: weight-only correction has nothing to correct (same as
        // none); the empirical one removes the mean shift (only) the coarse grid causes downstream.
        const Graph g = shiftNet();
        auto data = dataFor(g, 16);
        skew(data.inputs);
        EvalOptions none, weight, empirical;
        none.biasCorrection = EvalOptions::BiasCorrection::None;
        weight.biasCorrection = EvalOptions::BiasCorrection::Weight;
        empirical.empiricalBiasSamples = 8;  // lockstep on half the set, the rest run after
        const PlanEvaluator en(g, data, nullptr, none), ew(g, data, nullptr, weight), ee(g, data, nullptr, empirical);
        PlanBits a2 = PlanBits::uniform(g, 2, 32, 2, 32);
        a2.activationBits[2] = 32;  // the graph output stays float: what is measured is the shift upstream
        const double n = en.evaluate(a2).relativeMse, w = ew.evaluate(a2).relativeMse, e = ee.evaluate(a2).relativeMse;
        qInfo("a2 rel. MSE: no correction %.3g, weight %.3g, empirical %.3g", n, w, e);
        QCOMPARE(w, n);
        // A few percent here, where the grid's error is mostly noise; on PP-OCRv4 rec (before
        // equalization) it took 8-bit activations alone from a 6.1- to a ~3-point drop.
        QVERIFY(e < 0.99 * n);
        // Deterministic, and the same from concurrent evaluations.
        double twin = 0;
        std::thread t([&] { twin = ee.evaluate(a2).relativeMse; });
        const double again = ee.evaluate(a2).relativeMse;
        t.join();
        QCOMPARE(again, e);
        QCOMPARE(twin, e);
        // Cloud-Only: nothing on the edge to correct.
        QCOMPARE(ee.evaluate(PlanBits::uniform(g, -1, 8, 8)).relativeMse, en.evaluate(PlanBits::uniform(g, -1, 8, 8)).relativeMse);

        // residualNet's biased layers read the graph input (quantized alike in every plan) or are
        // its Gemm head, one vector per sample: fitting that bias to the measured samples would
        // hide the error (with one sample the output would come out exactly float), so it keeps
        // the weight-only correction.
        const Graph r = residualNet();
        const auto rd = dataFor(r, 8);
        EvalOptions rw;
        rw.biasCorrection = EvalOptions::BiasCorrection::Weight;
        const PlanBits ra2 = PlanBits::uniform(r, 6, 32, 2, 32);
        QCOMPARE(PlanEvaluator(r, rd, nullptr).evaluate(ra2).relativeMse, PlanEvaluator(r, rd, nullptr, rw).evaluate(ra2).relativeMse);
    }

    // Bias correction's float input means over the first calibration samples come from the
    // calibration pass when it kept them for the same samples (ErrorTable::inputMeans): no float
    // runs of its own over them, and the same corrections, so the same measurement to the last bit.
    void biasMeansFromTheCalibrationPass() {
        const Graph g = shiftNet();
        EvalData data = dataFor(g, 6, 3);
        skew(data.inputs);
        data.calibration = syntheticDataset(g, 12, 7);
        skew(data.calibration);
        data.calibration.hash = hashSamples(data.calibration.samples);
        for (auto mode : {EvalOptions::BiasCorrection::Empirical, EvalOptions::BiasCorrection::Weight}) {
            EvalOptions eo;
            eo.biasCorrection = mode;
            eo.empiricalBiasSamples = 5;
            const int means = biasMeanSamples(g, eo, 12);
            QCOMPARE(means, mode == EvalOptions::BiasCorrection::Empirical ? 5 : 12);
            CalibrationOptions co;
            co.inputMeansSamples = means;
            const ErrorTable kept = calibrate(g, data.calibration, co);
            QCOMPARE(kept.inputMeansSamples, means);
            ErrorTable plain = kept;
            plain.inputMeans.clear();
            plain.inputMeansSamples = 0;
            const PlanEvaluator fromTable(g, data, &kept, eo), own(g, data, &plain, eo);
            QCOMPARE(fromTable.profile().floatSamples, int64_t(6));
            QCOMPARE(own.profile().floatSamples, int64_t(6 + means));
            PlanBits a2 = PlanBits::uniform(g, 2, 32, 2, 32);
            a2.activationBits[2] = 32;
            const EvalMetrics m = fromTable.evaluate(a2);
            QVERIFY(sameMetrics(m, own.evaluate(a2)));
            EvalOptions none = eo;
            none.biasCorrection = EvalOptions::BiasCorrection::None;
            if (mode == EvalOptions::BiasCorrection::Empirical)  // the means are used: the shift is corrected
                QVERIFY(m.relativeMse < PlanEvaluator(g, data, &plain, none).evaluate(a2).relativeMse);
            // Means kept for other samples (another count, other data) are not used.
            ErrorTable other = kept;
            other.inputMeansSamples = means - 1;
            QCOMPARE(PlanEvaluator(g, data, &other, eo).profile().floatSamples, int64_t(6 + means));
            other = kept;
            other.dataHash = "another set";
            QCOMPARE(PlanEvaluator(g, data, &other, eo).profile().floatSamples, int64_t(6 + means));
        }
    }

    void cancellation() {
        const Graph g = residualNet();
        const PlanEvaluator ev(g, dataFor(g, 4), nullptr);
        CancelToken t;
        t.cancel();
        QVERIFY_THROWS_EXCEPTION(Cancelled, ev.evaluate(PlanBits::uniform(g, 3, 8, 8), t));
        QVERIFY_THROWS_EXCEPTION(Cancelled, PlanEvaluator(g, dataFor(g, 4), nullptr, {}, t));
        // Still usable afterwards.
        QVERIFY(ev.evaluate(PlanBits::uniform(g, 3, 8, 8)).relativeMse > 0);
    }

    void concurrentEvaluationsAgree() {
        const Graph g = residualNet();
        const auto data = dataFor(g, 12);
        const ErrorTable table = calibrate(g, data.inputs);
        EvalOptions o;
        o.threads = 2;
        const PlanEvaluator ev(g, data, &table, o);
        const PlanBits pa = PlanBits::uniform(g, 2, 4, 6);
        const PlanBits pb = PlanBits::uniform(g, 5, 2, 8);
        const EvalMetrics ra = ev.evaluate(pa), rb = ev.evaluate(pb);
        for (int round = 0; round < 3; ++round) {
            EvalMetrics ta, tb, tc;
            std::thread t1([&] { ta = ev.evaluate(pa); });
            std::thread t2([&] { tb = ev.evaluate(pb); });
            std::thread t3([&] { tc = ev.evaluate(pa); });
            t1.join();
            t2.join();
            t3.join();
            QVERIFY(sameMetrics(ta, ra));
            QVERIFY(sameMetrics(tc, ra));
            QVERIFY(sameMetrics(tb, rb));
        }
        // A single thread gives the same numbers as sample-parallel evaluation.
        o.threads = 1;
        const PlanEvaluator serial(g, data, &table, o);
        QVERIFY(sameMetrics(serial.evaluate(pa), ra));
    }

    // A measured drop is the same on any number of cores, however the held-out samples are
    // chunked (early rejection runs them a chunk at a time; an odd set leaves a chunk of one, and a
    // set of one sample is a chunk of one): every sample runs on a single-threaded executor.
    void sameMeasurementForAnyThreadCount() {
        const Graph g = wideConvs();
        {
            Executor one(g, ExecutorOptions{1}), two(g, ExecutorOptions{2});
            const auto in = syntheticDataset(g, 1, 5).samples.front();
            QVERIFY2(one(in)[0].floats != two(in)[0].floats, "the fixture must tell the executors apart");
        }
        for (int held : {5, 1}) {
            EvalData data = dataFor(g, held, 9);
            data.calibration = syntheticDataset(g, 2, 10);
            const PlanBits p = PlanBits::uniform(g, 0, 8, 8);
            std::vector<EvalMetrics> got;
            for (int threads : {1, 2, 3}) {
                EvalOptions o;
                o.threads = threads;
                const PlanEvaluator ev(g, data, nullptr, o);
                got.push_back(ev.evaluate(p));
                got.push_back(ev.evaluate(p, {}, 1e9));  // in chunks, never rejected
            }
            for (size_t i = 1; i < got.size(); ++i)
                QVERIFY2(got[i].relativeMse == got[0].relativeMse && got[i].accuracyDrop == got[0].accuracyDrop,
                         qPrintable(QString("%1 held-out samples, run %2: relative MSE %3 vs %4")
                                        .arg(held).arg(i).arg(got[i].relativeMse, 0, 'g', 17).arg(got[0].relativeMse, 0, 'g', 17)));
        }
    }

    void labelsAndBadInput() {
        const Graph g = residualNet();
        auto data = dataFor(g, 5);
        data.labels = {1, 2, 3};
        try {
            const PlanEvaluator ev(g, data, nullptr);
            QFAIL("3 labels for 5 samples accepted");
        } catch (const Error& e) {
            QVERIFY(QString(e.what()).contains("3 labels for 5 output rows"));
        }
        data.labels = {0, 1, 2, 3, 10};
        QVERIFY_THROWS_EXCEPTION(Error, PlanEvaluator(g, data, nullptr));
        // Labels = the float model's own predictions: float accuracy 100, drop = lost rows.
        Executor ex(g);
        data.labels.clear();
        for (const auto& s : data.inputs.samples) {
            const auto y = ex(s)[0].floats;
            data.labels.push_back(std::max_element(y.begin(), y.end()) - y.begin());
        }
        const PlanEvaluator ev(g, data, nullptr);
        QCOMPARE(*ev.floatTop1Accuracy(), 100.0);
        const EvalMetrics m = ev.evaluate(PlanBits::uniform(g, 6, 2, 2));
        QCOMPARE(m.metricName, std::string("top1-accuracy-drop"));
        QCOMPARE(*m.top1Accuracy, *m.top1Agreement);
        QCOMPARE(m.accuracyDrop, 100.0 - *m.top1Accuracy);
        // Plans that do not fit.
        QVERIFY_THROWS_EXCEPTION(Error, ev.evaluate(PlanBits::uniform(g, 7, 8, 8)));
        QVERIFY_THROWS_EXCEPTION(Error, ev.evaluate(PlanBits::uniform(g, -2, 8, 8)));
        QVERIFY_THROWS_EXCEPTION(Error, ev.evaluate(PlanBits::uniform(g, 3, 3, 8)));
        PlanBits shortPlan = PlanBits::uniform(g, 3, 8, 8);
        shortPlan.weightBits.resize(2);
        QVERIFY_THROWS_EXCEPTION(Error, ev.evaluate(shortPlan));
        // A table of another model.
        const Graph other = ctcHead(4, 5);
        const ErrorTable wrong = calibrate(other, syntheticDataset(other, 2));
        QVERIFY_THROWS_EXCEPTION(Error, PlanEvaluator(g, dataFor(g, 2), &wrong));
        // NaN in a sample.
        auto nan = dataFor(g, 2);
        nan.inputs.samples[1][0].floats[5] = NAN;
        QVERIFY_THROWS_EXCEPTION(Error, PlanEvaluator(g, nan, nullptr));
    }

    void binaryMapF1() {
        const Graph g = mapHead();
        const EvalData data = dataFor(g, 6, 5);
        EvalOptions o;
        // Detected: a [1, 1, H, W] output of a (fused) sigmoid. Without the sigmoid it is generic.
        QCOMPARE(PlanEvaluator(g, data, nullptr, o).task(), EvalTask::BinaryMap);
        Graph linear = mapHead();
        linear.nodes[1].activation = Activation{};
        QCOMPARE(PlanEvaluator(linear, data, nullptr, o).task(), EvalTask::Generic);
        QCOMPARE(PlanEvaluator(linear, data, nullptr, o).evaluate(PlanBits::uniform(linear, 1, 8, 8, 8)).metricName,
                 std::string("relative-l2-error"));
        o.task = EvalTask::BinaryMap;
        const PlanEvaluator ev(g, data, nullptr, o);
        QCOMPARE(ev.task(), EvalTask::BinaryMap);
        const PlanBits w2 = PlanBits::uniform(g, 1, 2, 2, 2);
        const EvalMetrics m = ev.evaluate(w2);
        QCOMPARE(m.metricName, std::string("map-f1-disagreement"));
        QVERIFY(m.mapF1.has_value());
        QCOMPARE(m.accuracyDrop, 100.0 - *m.mapF1);

        // Oracle: F1 of pixels > 0.3 between the executor-hook re-implementation of the plan and
        // the float model (nearest rounding, no bias correction, per-input ranges on both sides).
        EvalOptions on = o;
        on.weightRounding = EvalOptions::WeightRounding::Nearest;
        on.biasCorrection = EvalOptions::BiasCorrection::None;
        on.threads = 1;
        const EvalMetrics mn = PlanEvaluator(g, data, nullptr, on).evaluate(w2);
        int64_t tp = 0, fp = 0, fn = 0;
        for (const auto& [q, fl] : oracleOutputs(g, data.inputs, w2))
            for (size_t k = 0; k < fl.floats.size(); ++k) {
                const bool pp = q.floats[k] > 0.3f, rr = fl.floats[k] > 0.3f;
                tp += pp && rr;
                fp += pp && !rr;
                fn += !pp && rr;
            }
        QVERIFY(tp > 0 && fp + fn > 0);  // the case is not trivial
        const double f1 = 100.0 * 2.0 * static_cast<double>(tp) / static_cast<double>(2 * tp + fp + fn);
        QVERIFY2(std::fabs(*mn.mapF1 - f1) < 1e-9, qPrintable(QString("%1 vs oracle %2").arg(*mn.mapF1).arg(f1)));
        const PlanEvaluator nothingQuantized(g, data, nullptr, o);
        QCOMPARE(*nothingQuantized.evaluate(PlanBits::uniform(g, 1, 32, 32, 32)).mapF1, 100.0);
        QVERIFY2(*m.mapF1 < 100.0, qPrintable(QString("2-bit plan F1 %1").arg(*m.mapF1)));
        // F1 is >= 0 by construction; the 2-bit map still agrees on part of the detected pixels.
        QVERIFY2(*m.mapF1 > 0.0, qPrintable(QString("2-bit plan F1 %1").arg(*m.mapF1)));
        QVERIFY(*ev.evaluate(PlanBits::uniform(g, 1, 16, 16, 16)).mapF1 > *m.mapF1);

        // Thresholds outside the sigmoid's range: no positive pixels in either map (F1 100 by
        // definition), or all pixels positive in both.
        for (float t : {2.f, -1.f}) {
            EvalOptions ot = o;
            ot.mapThreshold = t;
            const EvalMetrics mt = PlanEvaluator(g, data, nullptr, ot).evaluate(w2);
            QCOMPARE(*mt.mapF1, 100.0);
            QCOMPARE(mt.accuracyDrop, 0.0);
        }
        QCOMPARE(parseEvalTask("binary-map"), EvalTask::BinaryMap);
        QCOMPARE(parseEvalTask("auto"), EvalTask::Generic);
        QVERIFY_EXCEPTION_THROWN(parseEvalTask("segmentation"), Error);
    }

    void ctcHelpers() {
        const std::vector<std::string> dict{"a", "b", "é", "中"};
        // steps: a a blank a b b é 中 ; argmax classes 1 1 0 1 2 2 3 4
        const int cls[] = {1, 1, 0, 1, 2, 2, 3, 4};
        std::vector<float> s(8 * 5, 0.f);
        for (int t = 0; t < 8; ++t) s[t * 5 + cls[t]] = 1.f;
        QCOMPARE(ctcGreedyDecode(s.data(), 8, 5, dict), std::string("aabé中"));
        QCOMPARE(editDistance("中é", "中e"), int64_t(1));
        QCOMPARE(editDistance("kitten", "sitting"), int64_t(3));
        QCOMPARE(charAccuracy({"abcd", "xy"}, {"abce", "xy"}), 100.0 * 5 / 6);
        QCOMPARE(charAccuracy({"completely wrong"}, {"ab"}), 0.0);
        std::vector<float> bad(5, 0.f);
        bad[4] = 1.f;
        QVERIFY_THROWS_EXCEPTION(Error, ctcGreedyDecode(bad.data(), 1, 5, {"a"}));
    }

    void ctcRecognizerMetrics() {
        const Graph g = ctcHead(24, 9);
        const std::vector<std::string> dict{"0", "1", "2", "3", "4", "5", "6", "7"};
        EvalOptions o;
        o.ctcDictionary = dict;
        auto data = dataFor(g, 10);
        const PlanEvaluator probe(g, data, nullptr, o);
        QCOMPARE(probe.task(), EvalTask::Ctc);
        QVERIFY(!probe.floatCharAccuracy());
        // Ground truth = the float decodes with the first character of every line changed.
        data.texts = probe.floatDecoded();
        for (auto& t : data.texts) t = (t.empty() || t[0] != '9' ? "9" : "8") + (t.empty() ? std::string() : t.substr(1));
        const PlanEvaluator ev(g, data, nullptr, o);
        const double fl = *ev.floatCharAccuracy();
        QVERIFY(fl < 100.0 && fl > 50.0);
        const EvalMetrics m16 = ev.evaluate(PlanBits::uniform(g, 1, 16, 16));
        QCOMPARE(m16.metricName, std::string("char-accuracy-drop"));
        // float16 may flip a near-tie of the random head, nothing more.
        QVERIFY(std::fabs(*m16.charAccuracy - fl) < 1.5);
        QVERIFY(*m16.charAgreement > 98.0);
        QCOMPARE(m16.accuracyDrop, fl - *m16.charAccuracy);
        const EvalMetrics m2 = ev.evaluate(PlanBits::uniform(g, 1, 2, 2));
        QVERIFY(*m2.charAgreement < 95.0);
        QVERIFY(m2.accuracyDrop > 0.0);
        QCOMPARE(m2.accuracyDrop, fl - *m2.charAccuracy);
        QCOMPARE(m2.decoded.size(), size_t(10));
        // A dictionary that does not fit the output.
        o.ctcDictionary.pop_back();
        QVERIFY_THROWS_EXCEPTION(Error, PlanEvaluator(g, dataFor(g, 2), nullptr, o));
    }
};

QTEST_GUILESS_MAIN(EvaluateTest)
#include "tst_exec_evaluate.moc"
