// Activation equalization (core/include/autosplit/equalize.h): the float model is unchanged, the
// channels of a rescaled tensor reach the tensor's range (fully before a depthwise conv, halfway
// before a dense one), 8-bit per-tensor activation error drops, and what cannot be rescaled
// exactly (a non-homogeneous activation, a tensor read by something other than a conv, a shared
// constant) is left alone; a cancelled run changes nothing.
#include "autosplit/eval/plan_evaluator.h"
#include "autosplit/exec/executor.h"
#include "autosplit/quant/calibration.h"
#include "autosplit/quant/equalize.h"
#include "graph_fixtures.h"

#include <QDir>
#include <QFile>
#include <QTemporaryDir>
#include <QtTest>
#include <nlohmann/json.hpp>

#include <cmath>

using namespace autosplit;
using namespace autosplit::testing;

namespace {

Attribute ints(std::vector<int64_t> v) { return Attribute{std::move(v)}; }

// x [1,4,10,10] -> conv0 (6x4x3x3, pad 1, Relu; output rows scaled 1, 1/3, ..., so channel ranges
// differ ~250x) -> dw (6 groups 3x3, pad 1) -> Mul(scalar) -> Add(scalar) -> dense 1x1 conv (5x6)
// -> y. Equalizable: conv0's output (depthwise reader) and the Add output (dense reader).
Graph imbalancedNet(Activation act0 = {Activation::Kind::Relu}) {
    Graph g;
    g.opsetVersion = 13;
    const int x = addInput(g, "x", {1, 4, 10, 10});
    TensorData w0 = randomTensor({6, 4, 3, 3}, 1, 0.5f);
    for (int64_t o = 0; o < 6; ++o)
        for (int64_t k = 0; k < 36; ++k) w0.floats[static_cast<size_t>(o * 36 + k)] *= std::pow(3.f, -float(o));
    const int a = addValue(g, "a", {1, 6, 10, 10}), b = addValue(g, "b", {1, 6, 10, 10}), c = addValue(g, "c", {1, 6, 10, 10}),
              d = addValue(g, "d", {1, 6, 10, 10}), y = addValue(g, "y", {1, 5, 10, 10});
    Node conv0 = makeNode("conv0", "Conv", {x, addWeight(g, "w0", w0), addWeight(g, "b0", randomTensor({6}, 2, 1e-4f))}, {a});
    conv0.attrs["pads"] = ints({1, 1, 1, 1});
    conv0.activation = act0;
    Node dw = makeNode("dw", "Conv", {a, addWeight(g, "w1", randomTensor({6, 1, 3, 3}, 3, 1.f)), addWeight(g, "b1", randomTensor({6}, 4, 0.1f))}, {b});
    dw.attrs["group"] = Attribute{int64_t{6}};
    dw.attrs["pads"] = ints({1, 1, 1, 1});
    TensorData s;
    s.shape = {1};
    s.floats = {1.7f};
    TensorData t = s;
    t.floats = {-0.3f};
    Node mul = makeNode("scale", "Mul", {b, addWeight(g, "s", s)}, {c});
    Node add = makeNode("shift", "Add", {c, addWeight(g, "t", t)}, {d});
    Node pw = makeNode("pw", "Conv", {d, addWeight(g, "w2", randomTensor({5, 6, 1, 1}, 5, 0.5f)), addWeight(g, "b2", randomTensor({5}, 6, 0.1f))}, {y});
    g.nodes = {conv0, dw, mul, add, pw};
    g.inputs = {x};
    g.outputs = {y};
    g.rebuild();
    return g;
}

Dataset inputs(const Graph& g, int n) { return syntheticDataset(g, n, 7); }

// Per-channel max |v| of tensor `name` over the set, on the float model.
std::vector<double> channelMax(const Graph& g, const Dataset& set, const std::string& name) {
    const int id = g.findTensor(name);
    std::vector<double> mx;
    Executor ex(g);
    RunHooks h;
    h.onValue = [&](int, int t, TensorData& v) {
        if (t != id) return;
        const int64_t C = v.shape[1], inner = v.elementCount() / C;
        mx.resize(static_cast<size_t>(C), 0.0);
        for (int64_t c = 0; c < C; ++c)
            for (int64_t k = 0; k < inner; ++k)
                mx[static_cast<size_t>(c)] = std::max(mx[static_cast<size_t>(c)], double(std::fabs(v.floats[static_cast<size_t>(c * inner + k)])));
    };
    for (const auto& s : set.samples) ex.run(s, h);
    return mx;
}

double spread(const std::vector<double>& v) {  // smallest / largest channel max
    double lo = INFINITY, hi = 0;
    for (double x : v) lo = std::min(lo, x), hi = std::max(hi, x);
    return lo / hi;
}

}  // namespace

class EqualizeTest : public QObject {
    Q_OBJECT

private slots:
    void keepsTheModelAndEvensTheChannels() {
        Graph g = imbalancedNet();
        const Graph before = g;
        const Dataset set = inputs(g, 6);
        const EqualizeReport r = equalizeActivations(g, set);
        QCOMPARE(r.samples, 6);
        QCOMPARE(r.tensors.size(), size_t(2));
        QCOMPARE(r.tensors[0].tensor, std::string("a"));
        QVERIFY(r.tensors[0].depthwise);
        QVERIFY(r.tensors[0].maxScale > 20.0);
        QCOMPARE(r.tensors[1].tensor, std::string("d"));
        QCOMPARE(r.tensors[1].producer, std::string("shift"));
        QVERIFY(!r.tensors[1].depthwise);
        QVERIFY(graphHash(g) != graphHash(before));
        QCOMPARE(g.nodes.size(), before.nodes.size());
        // Scalar Mul/Add constants became per channel.
        QCOMPARE(g.tensors[static_cast<size_t>(g.findTensor("s"))].data->elementCount(), int64_t(6));

        // Same float outputs.
        const Executor e0(before), e1(g);
        for (const auto& s : set.samples) {
            const auto y0 = e0(s).front(), y1 = e1(s).front();
            double err = 0, ref = 0;
            for (size_t i = 0; i < y0.floats.size(); ++i) {
                err += std::pow(double(y1.floats[i]) - y0.floats[i], 2);
                ref += double(y0.floats[i]) * y0.floats[i];
            }
            QVERIFY2(std::sqrt(err / ref) < 1e-5, qPrintable(QString::number(std::sqrt(err / ref))));
        }
        // Depthwise reader: every channel reaches the tensor's range; dense reader: halfway (in
        // the log domain) towards it.
        const double a0 = spread(channelMax(before, set, "a")), a1 = spread(channelMax(g, set, "a"));
        const double d0 = spread(channelMax(before, set, "d")), d1 = spread(channelMax(g, set, "d"));
        qInfo("smallest/largest channel: a %.4f -> %.4f, d %.4f -> %.4f", a0, a1, d0, d1);
        QVERIFY(a0 < 0.05);
        QVERIFY(a1 > 0.99);
        QVERIFY(d1 > d0 * 1.5);

        // What it is for: 8-bit per-tensor activations (float weights) lose less.
        // Only the tensors convs read (what equalization rescales) quantized: LayerInputs isolates them.
        EvalOptions layerInputs;
        layerInputs.activationScope = EvalOptions::ActivationScope::LayerInputs;
        const PlanEvaluator ev0(before, EvalData{set, {}, {}, {}}, nullptr, layerInputs),
            ev1(g, EvalData{set, {}, {}, {}}, nullptr, layerInputs);
        const PlanBits p = PlanBits::uniform(g, 4, 32, 8, 32);
        const double m0 = ev0.evaluate(p).relativeMse, m1 = ev1.evaluate(p).relativeMse;
        qInfo("a8 relative MSE: %.3g before, %.3g after", m0, m1);
        QVERIFY(m1 < 0.5 * m0);
    }

    void leavesWhatItCannotRescale() {
        // HardSwish is not positively homogeneous: conv0's output stays; the Add output is still
        // rescaled.
        Graph g = imbalancedNet({Activation::Kind::HardSwish});
        EqualizeReport r = equalizeActivations(g, inputs(g, 3));
        QCOMPARE(r.tensors.size(), size_t(1));
        QCOMPARE(r.tensors[0].tensor, std::string("d"));

        // The Add output also feeds the graph output: nothing downstream may change scale.
        g = imbalancedNet();
        g.outputs.push_back(g.findTensor("d"));
        g.rebuild();
        r = equalizeActivations(g, inputs(g, 3));
        QCOMPARE(r.tensors.size(), size_t(1));
        QCOMPARE(r.tensors[0].tensor, std::string("a"));

        // A constant read by two nodes is not rewritten: the dense conv shares dw's bias tensor
        // pattern here via the Mul constant.
        g = imbalancedNet();
        Node& add = g.nodes[3];
        add.inputs[1] = g.nodes[2].inputs[1];  // Add now reuses the Mul's constant
        g.rebuild();
        r = equalizeActivations(g, inputs(g, 3));
        QCOMPARE(r.tensors.size(), size_t(1));  // conv0's output is still rescaled, d is not
        QCOMPARE(r.tensors[0].tensor, std::string("a"));
    }

    // A channel that holds one value on every sample (dw's weights for channel 2 are zero, so
    // d's channel 2 is the constant 1.7 b1[2] - 0.3) is not scaled: it has no signal to spread and
    // scaled, its constant would widen the grids. And no tensor the scale passes through (the
    // Mul output c before the Add) outgrows its own range.
    void constantChannelsAndTheChainKeepTheirRange() {
        Graph g = imbalancedNet();
        {
            Tensor& w1 = g.tensors[static_cast<size_t>(g.findTensor("w1"))];
            TensorData d = *w1.data;
            for (int k = 0; k < 9; ++k) d.floats[static_cast<size_t>(2 * 9 + k)] = 0.f;
            w1.data = std::make_shared<const TensorData>(std::move(d));
        }
        const Graph before = g;
        const Dataset set = inputs(g, 6);
        const EqualizeReport r = equalizeActivations(g, set);
        QCOMPARE(r.tensors.size(), size_t(2));
        QCOMPARE(r.tensors[1].tensor, std::string("d"));
        const TensorData& t = *g.tensors[static_cast<size_t>(g.findTensor("t"))].data;
        QCOMPARE(t.elementCount(), int64_t(6));
        QCOMPARE(t.floats[2], -0.3f);  // the constant channel: s = 1
        int scaled = 0;
        for (int ch = 0; ch < 6; ++ch) scaled += t.floats[static_cast<size_t>(ch)] != -0.3f;
        QVERIFY(scaled > 0);  // the others still are
        const auto c0 = channelMax(before, set, "c"), c1 = channelMax(g, set, "c");
        const double top0 = *std::max_element(c0.begin(), c0.end()), top1 = *std::max_element(c1.begin(), c1.end());
        QVERIFY2(top1 <= top0 * (1 + 1e-5), qPrintable(QStringLiteral("%1 -> %2").arg(top0).arg(top1)));
        const auto d0 = channelMax(before, set, "d"), d1 = channelMax(g, set, "d");
        QVERIFY(*std::max_element(d1.begin(), d1.end()) <= *std::max_element(d0.begin(), d0.end()) * (1 + 1e-5));
    }

    void cancelledRunChangesNothing() {
        Graph g = imbalancedNet();
        const std::string h = graphHash(g);
        EqualizeOptions o;
        o.cancel.cancel();
        QVERIFY_THROWS_EXCEPTION(Cancelled, equalizeActivations(g, inputs(g, 3), o));
        QCOMPARE(graphHash(g), h);
    }

    // With a cache folder, the second equalization of the same model on the same data reads the
    // ranges (no float pass) and leaves exactly the graph the first left; other data, or a
    // damaged file, measures again.
    void rangesAreCachedPerModelAndData() {
        QTemporaryDir dir;
        QVERIFY(dir.isValid());
        EqualizeOptions o;
        o.cacheDir = dir.path().toStdString();
        Graph first = imbalancedNet(), second = imbalancedNet(), plain = imbalancedNet();
        const Dataset set = inputs(first, 3);
        const EqualizeReport a = equalizeActivations(first, set, o);
        QVERIFY(!a.rangesFromCache);
        QCOMPARE(a.tensors.size(), size_t(2));
        const QStringList files = QDir(dir.path()).entryList({QStringLiteral("equalize-*.json")});
        QCOMPARE(files.size(), 1);
        const EqualizeReport b = equalizeActivations(second, set, o);
        QVERIFY(b.rangesFromCache);
        QCOMPARE(b.tensors.size(), a.tensors.size());
        QCOMPARE(graphHash(second), graphHash(first));
        equalizeActivations(plain, set);  // no cache: the same result
        QCOMPARE(graphHash(plain), graphHash(first));
        QVERIFY(QString::fromStdString(equalizationSummary(b, 1)).contains(QStringLiteral("ranges from the cache")));

        Graph other = imbalancedNet();
        QVERIFY(!equalizeActivations(other, syntheticDataset(other, 3, 99), o).rangesFromCache);  // other data
        QFile f(QDir(dir.path()).filePath(files.front()));
        QVERIFY(f.open(QIODevice::WriteOnly | QIODevice::Truncate));
        f.write("{\"format\": \"autosplit-equalize-ranges v2\", \"ranges\": {\"a\": {\"lo\": [1");
        f.close();
        Graph again = imbalancedNet();
        QVERIFY(!equalizeActivations(again, set, o).rangesFromCache);  // damaged: measured and rewritten
        QCOMPARE(graphHash(again), graphHash(first));
        Graph last = imbalancedNet();
        QVERIFY(equalizeActivations(last, set, o).rangesFromCache);
    }

    // The measured ranges (as the cache stores them) are each channel's exact min and max over
    // the samples. The inputs carry a spike at the last pixel, so channel extremes of the 10x10
    // maps fall on the last elements as well as in the body.
    void measuredRangesAreEachChannelsMinAndMax() {
        QTemporaryDir dir;
        EqualizeOptions o;
        o.cacheDir = dir.path().toStdString();
        const Graph ref = imbalancedNet(Activation{});  // no Relu: both signs reach the ranges
        Graph g = ref;
        Dataset set = inputs(g, 3);
        for (size_t s = 0; s < set.samples.size(); ++s)
            for (int64_t c = 0; c < 4; ++c) set.samples[s][0].floats[static_cast<size_t>(c * 100 + 99)] = 4.f + float(s + c);
        equalizeActivations(g, set, o);
        const QStringList files = QDir(dir.path()).entryList({QStringLiteral("equalize-*.json")});
        QCOMPARE(files.size(), 1);
        QFile f(QDir(dir.path()).filePath(files.front()));
        QVERIFY(f.open(QIODevice::ReadOnly));
        const auto ranges = nlohmann::json::parse(f.readAll().toStdString()).at("ranges");
        QVERIFY(ranges.contains("a"));
        int tailExtremes = 0;
        for (const auto& [name, r] : ranges.items()) {
            const int id = ref.findTensor(name);
            QVERIFY(id >= 0);
            std::vector<float> lo, hi;
            std::vector<int> at;  // where the max of each channel was (last sample that set it)
            Executor ex(ref);
            RunHooks h;
            h.onValue = [&](int, int t, TensorData& v) {
                if (t != id) return;
                const int64_t C = v.shape[1], inner = v.elementCount() / C;
                lo.resize(static_cast<size_t>(C), INFINITY);
                hi.resize(static_cast<size_t>(C), -INFINITY);
                at.resize(static_cast<size_t>(C), -1);
                for (int64_t c = 0; c < C; ++c)
                    for (int64_t k = 0; k < inner; ++k) {
                        const float x = v.floats[static_cast<size_t>(c * inner + k)];
                        lo[static_cast<size_t>(c)] = std::min(lo[static_cast<size_t>(c)], x);
                        if (x > hi[static_cast<size_t>(c)]) hi[static_cast<size_t>(c)] = x, at[static_cast<size_t>(c)] = static_cast<int>(k);
                    }
            };
            for (const auto& sample : set.samples) ex.run(sample, h);
            QCOMPARE(r.at("lo").get<std::vector<float>>(), lo);
            QCOMPARE(r.at("hi").get<std::vector<float>>(), hi);
            for (int k : at) tailExtremes += k >= 96;
        }
        QVERIFY(tailExtremes > 0);  // the last elements of a map were somewhere a channel's max
    }

    // Samples are measured in parallel on single-threaded executors and their ranges merged: the
    // rescaled graph is the same for any thread count.
    void sameScalesForAnyThreadCount() {
        const Dataset set = inputs(imbalancedNet(), 7);
        std::string first;
        for (int threads : {1, 2, 3}) {
            Graph g = imbalancedNet();
            EqualizeOptions o;
            o.threads = threads;
            QVERIFY(!equalizeActivations(g, set, o).tensors.empty());
            const std::string h = graphHash(g);
            if (first.empty()) first = h;
            QCOMPARE(h, first);
        }
        QVERIFY(first != graphHash(imbalancedNet()));
    }

    void badSamplesAreNamed() {
        Graph g = imbalancedNet();
        Dataset set = inputs(g, 2);
        set.samples[1].front().shape = {1, 4, 10, 9};
        set.samples[1].front().floats.resize(360);
        const std::string h = graphHash(g);
        try {
            equalizeActivations(g, set);
            QFAIL("no error");
        } catch (const Error& e) {
            QVERIFY2(std::string(e.what()).find("sample 1") != std::string::npos, e.what());
        }
        QCOMPARE(graphHash(g), h);
    }
};

QTEST_GUILESS_MAIN(EqualizeTest)
#include "tst_exec_equalize.moc"
