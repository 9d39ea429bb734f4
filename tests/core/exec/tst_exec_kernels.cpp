// Executor behaviour on hand-built graphs: direct-convolution references for Conv (groups,
// dilation, stride, padding), fused activations vs separate nodes, thread-count invariance,
// up-front validation, hooks, cancellation and input checks; comparisons, Not, Where and Range
// on values worked out by hand.
#include "autosplit/exec/executor.h"
#include "autosplit/exec/parallel.h"
#include "autosplit/util/float16.h"
#include "autosplit/util/thread_priority.h"
#include "exec_internal.h"
#include "graph_fixtures.h"

#include <QtTest>

#include <atomic>
#include <chrono>
#include <cmath>
#include <cstring>
#include <limits>
#include <map>
#include <random>
#include <thread>

using namespace autosplit;
using autosplit::testing::addValue;
using autosplit::testing::addWeight;

namespace {

TensorData randomTensor(std::vector<int64_t> shape, uint32_t seed, float lo = -1.f, float hi = 1.f) {
    TensorData t;
    t.shape = std::move(shape);
    std::mt19937 rng(seed);
    std::uniform_real_distribution<float> d(lo, hi);
    t.floats.resize(static_cast<size_t>(t.elementCount()));
    for (float& v : t.floats) v = d(rng);
    return t;
}

Attribute ints(std::vector<int64_t> v) { return Attribute{std::move(v)}; }

// One `op` node over graph inputs holding `xs` (dtypes and shapes taken from the values): its outputs.
std::vector<TensorData> runOne(const std::string& op, std::vector<TensorData> xs,
                               std::map<std::string, Attribute> attrs = {}) {
    Graph g;
    g.opsetVersion = 13;
    Node n;
    n.name = op + "_node";
    n.op = op;
    for (size_t k = 0; k < xs.size(); ++k) {
        const int t = addValue(g, "x" + std::to_string(k), xs[k].shape);
        g.tensors[t].dtype = xs[k].dtype;
        g.tensors[t].shapeKnown = true;
        g.inputs.push_back(t);
        n.inputs.push_back(t);
    }
    n.outputs = {addValue(g, "y")};
    n.attrs = std::move(attrs);
    g.outputs = n.outputs;
    g.nodes.push_back(n);
    g.rebuild();
    return Executor(g)(std::move(xs));
}

TensorData intTensor(DType dt, std::vector<int64_t> shape, std::vector<int64_t> v) { return {dt, std::move(shape), {}, std::move(v)}; }
TensorData floatTensor(std::vector<int64_t> shape, std::vector<float> v) { return {DType::Float32, std::move(shape), std::move(v), {}}; }


// Reference convolution, straight from the definition (NCHW, groups, pads, strides, dilations).
TensorData refConv(const TensorData& x, const TensorData& w, const TensorData& b, int64_t group, int64_t s,
                   int64_t p, int64_t dil) {
    const int64_t N = x.shape[0], C = x.shape[1], H = x.shape[2], W = x.shape[3];
    const int64_t K = w.shape[0], Cg = w.shape[1], R = w.shape[2], S = w.shape[3];
    const int64_t OH = (H + 2 * p - (R - 1) * dil - 1) / s + 1, OW = (W + 2 * p - (S - 1) * dil - 1) / s + 1;
    TensorData y;
    y.shape = {N, K, OH, OW};
    y.floats.assign(static_cast<size_t>(N * K * OH * OW), 0.f);
    const int64_t Kg = K / group;
    for (int64_t n = 0; n < N; ++n)
        for (int64_t k = 0; k < K; ++k)
            for (int64_t oy = 0; oy < OH; ++oy)
                for (int64_t ox = 0; ox < OW; ++ox) {
                    double acc = b.floats.empty() ? 0.0 : b.floats[k];
                    const int64_t gi = k / Kg;
                    for (int64_t c = 0; c < Cg; ++c)
                        for (int64_t r = 0; r < R; ++r)
                            for (int64_t q = 0; q < S; ++q) {
                                const int64_t iy = oy * s - p + r * dil, ix = ox * s - p + q * dil;
                                if (iy < 0 || iy >= H || ix < 0 || ix >= W) continue;
                                acc += double(x.floats[((n * C + gi * Cg + c) * H + iy) * W + ix]) *
                                       w.floats[((k * Cg + c) * R + r) * S + q];
                            }
                    y.floats[((n * K + k) * OH + oy) * OW + ox] = static_cast<float>(acc);
                }
    return y;
}

double maxRelErr(const TensorData& a, const TensorData& b) {
    double m = 0, scale = 1e-6;
    for (float v : b.floats) scale = std::max(scale, double(std::fabs(v)));
    for (size_t i = 0; i < a.floats.size(); ++i) m = std::max(m, std::fabs(double(a.floats[i]) - b.floats[i]) / scale);
    return m;
}

// x -> Conv(w, b) [-> Relu as a node or fused] -> y
Graph convGraph(std::vector<int64_t> xs, const TensorData& w, const TensorData& b, int64_t group, int64_t s, int64_t p,
                int64_t dil, bool reluNode, bool reluFused) {
    Graph g;
    g.opsetVersion = 13;
    const int x = addValue(g, "x", xs);
    const int wi = addWeight(g, "w", w);
    const int bi = addWeight(g, "b", b);
    const int y = addValue(g, "conv_out");
    Node n;
    n.name = "conv0";
    n.op = "Conv";
    n.inputs = {x, wi, bi};
    n.outputs = {y};
    n.attrs["group"] = Attribute{group};
    n.attrs["strides"] = ints({s, s});
    n.attrs["pads"] = ints({p, p, p, p});
    n.attrs["dilations"] = ints({dil, dil});
    if (reluFused) n.activation.kind = Activation::Kind::Relu;
    g.nodes.push_back(n);
    int out = y;
    if (reluNode) {
        out = addValue(g, "relu_out");
        Node r;
        r.name = "relu0";
        r.op = "Relu";
        r.inputs = {y};
        r.outputs = {out};
        g.nodes.push_back(r);
    }
    g.inputs = {x};
    g.outputs = {out};
    g.rebuild();
    return g;
}


// x[1,8,10,10] -> dense 3x3 Conv (HardSwish fused) -> 1x1 Conv (Relu fused) -> depthwise 3x3
// -> depthwise 3x3 stride 2 (Clip fused) -> ConvTranspose 2x2 stride 2 -> Add of a [1,8,1,1]
// constant (Relu fused: broadcast rows) -> Mul by itself (flat) -> Sigmoid (a kernel that leaves
// the grid to the executor) -> y: every path of Conv's epilogue, of the binary ops' fused finish
// and the executor's fallback after a node.
Graph epilogueChain() {
    Graph g;
    g.opsetVersion = 13;
    const int x = addValue(g, "x", {1, 8, 10, 10});
    g.inputs = {x};
    int cur = x;
    uint32_t seed = 40;
    auto conv = [&](const std::string& op, std::vector<int64_t> wShape, int64_t group, int64_t stride, int64_t pad,
                    Activation act) {
        Node n;
        n.name = op + std::to_string(g.nodes.size());
        n.op = op;
        const int64_t outCh = op == "Conv" ? wShape[0] : wShape[1];
        n.inputs = {cur, addWeight(g, n.name + "_w", randomTensor(wShape, seed++)), addWeight(g, n.name + "_b", randomTensor({outCh}, seed++))};
        n.outputs = {addValue(g, n.name + "_out")};
        n.attrs["group"] = Attribute{group};
        n.attrs["strides"] = ints({stride, stride});
        if (pad) n.attrs["pads"] = ints({pad, pad, pad, pad});
        n.activation = act;
        g.nodes.push_back(n);
        cur = n.outputs[0];
    };
    Activation hardSwish, relu, clip;
    hardSwish.kind = Activation::Kind::HardSwish;
    relu.kind = Activation::Kind::Relu;
    clip.kind = Activation::Kind::Clip;
    clip.min = -0.5f;
    clip.max = 0.75f;
    conv("Conv", {16, 8, 3, 3}, 1, 1, 1, hardSwish);
    conv("Conv", {16, 16, 1, 1}, 1, 1, 0, relu);
    conv("Conv", {16, 1, 3, 3}, 16, 1, 1, {});
    conv("Conv", {16, 1, 3, 3}, 16, 2, 1, clip);
    conv("ConvTranspose", {16, 8, 2, 2}, 1, 2, 0, {});
    Node add;
    add.name = "add";
    add.op = "Add";
    add.inputs = {cur, addWeight(g, "add_b", randomTensor({1, 8, 1, 1}, seed++))};
    add.outputs = {addValue(g, "add_out")};
    add.activation = relu;
    g.nodes.push_back(add);
    Node mul;
    mul.name = "mul";
    mul.op = "Mul";
    mul.inputs = {add.outputs[0], add.outputs[0]};
    mul.outputs = {addValue(g, "mul_out")};
    g.nodes.push_back(mul);
    Node sig;
    sig.name = "sig";
    sig.op = "Sigmoid";
    sig.inputs = {mul.outputs[0]};
    sig.outputs = {addValue(g, "y")};
    g.nodes.push_back(sig);
    g.outputs = sig.outputs;
    g.rebuild();
    return g;
}

}  // namespace

class KernelsTest : public QObject {
    Q_OBJECT

private slots:
    // The executor's buffer cache hands out, of the buffers that fit (capacity n..2n), the one
    // given back last (the likeliest still in cache), and nothing that is too small or more than
    // twice the request.
    void bufferCacheTakesTheLastFittingBuffer() {
        exec::BufferCache cache;
        const size_t n = exec::BufferCache::kMinFloats * 4;
        auto buffer = [](size_t cap, float mark) {
            std::vector<float> v;
            v.reserve(cap);
            v.assign(1, mark);
            return v;
        };
        cache.give(buffer(n, 1.f));
        cache.give(buffer(n + 100, 2.f));
        cache.give(buffer(n, 3.f));
        cache.give(buffer(3 * n, 4.f));  // too large for n
        cache.give(buffer(n / 2, 5.f));  // too small for n
        for (float want : {3.f, 2.f, 1.f}) {
            std::vector<float> v = cache.take(n);
            QVERIFY(v.capacity() >= n && v.capacity() <= 2 * n);
            QCOMPARE(v.front(), want);
        }
        QVERIFY(cache.take(n).empty());           // only the 3n and n/2 buffers are left
        QCOMPARE(cache.take(2 * n).front(), 4.f); // 3n fits a request of 2n
        QCOMPARE(cache.take(n / 2).front(), 5.f);
        QVERIFY(cache.take(16).empty());          // below kMinFloats: never from the cache
    }

    void steppedRunsMatchRun() {
        // ExecutorRun: two inputs advanced node by node in lockstep (as empirical bias correction
        // does) give what run() gives, with every value seen once; lastNode bounds runTo().
        const Graph g = convGraph({1, 3, 9, 9}, randomTensor({4, 3, 3, 3}, 1, 0.5f), randomTensor({4}, 2, 0.1f), 1, 1, 1, 1,
                                  true, false);
        const Executor ex(g);
        const TensorData x0 = randomTensor({1, 3, 9, 9}, 3, 1.f), x1 = randomTensor({1, 3, 9, 9}, 4, 1.f);
        int seen = 0;
        RunHooks h;
        h.onValue = [&](int, int, TensorData&) { ++seen; };
        auto r0 = ex.start({x0}, h), r1 = ex.start({x1}, h);
        QCOMPARE(seen, 2);  // the inputs, when the runs start
        r0->runTo(0);
        r1->runTo(0);
        QCOMPARE(r0->nextNode(), 1);
        QCOMPARE(seen, 4);
        const auto y0 = r0->finish().outputs.front(), y1 = r1->finish().outputs.front();
        QCOMPARE(seen, 6);
        QCOMPARE(y0.floats, ex({x0}).front().floats);
        QCOMPARE(y1.floats, ex({x1}).front().floats);
        RunHooks stop;
        stop.lastNode = 0;
        auto r2 = ex.start({x0}, stop);
        r2->runTo(5);
        QCOMPARE(r2->nextNode(), 1);
        QVERIFY_THROWS_EXCEPTION(Error, ex.start({}, {}));
    }

    // ExecutorRun::fork: a run continued from node 1 with other hooks shares the values of node 0
    // (the conv output, read again after the fork by the Add), sees only what it computes, runs on
    // another thread while the original finishes, and leaves the original's result unchanged.
    // ExecutorOptions::background: the pool's workers run at nice 10 (Linux), the caller keeps
    // its own; without it the workers have the caller's. Two items that each wait for the other
    // run on two threads.
    void backgroundWorkersYieldTheCores() {
#ifndef __linux__
        QSKIP("thread priorities are per thread on Linux only");
#endif
        const int callerNice = currentThreadNice();
        if (callerNice >= 10) QSKIP("the test runs at nice 10 or more already");
        const Graph g = convGraph({1, 3, 9, 9}, randomTensor({4, 3, 3, 3}, 1, 0.5f), randomTensor({4}, 2, 0.1f), 1, 1, 1, 1, true, false);
        for (const bool background : {false, true}) {
            const Executor ex(g, ExecutorOptions{2, background});
            const auto caller = std::this_thread::get_id();
            std::atomic<int> started{0};
            int workerNice = -100, ownNice = -100;
            parallelFor(ex, 2, [&](int) {
                ++started;
                for (int spin = 0; started.load() < 2 && spin < 2000; ++spin) std::this_thread::sleep_for(std::chrono::milliseconds(1));
                (std::this_thread::get_id() == caller ? ownNice : workerNice) = currentThreadNice();
            });
            QCOMPARE(started.load(), 2);
            QCOMPARE(ownNice, callerNice);
            QCOMPARE(workerNice, background ? 10 : callerNice);
        }
    }

    void forkedRunsContinueFromTheSharedPrefix() {
        Graph g = convGraph({1, 3, 9, 9}, randomTensor({4, 3, 3, 3}, 1, 0.5f), randomTensor({4}, 2, 0.1f), 1, 1, 1, 1,
                            true, false);
        QCOMPARE(g.nodes.size(), size_t(2));
        const int a = g.nodes[0].outputs[0], b = g.nodes[1].outputs[0], y = addValue(g, "sum");
        Node add;
        add.name = "add0";
        add.op = "Add";
        add.inputs = {a, b};
        add.outputs = {y};
        g.nodes.push_back(add);
        g.outputs = {y};
        g.rebuild();
        const Executor ex(g);
        const TensorData x = randomTensor({1, 3, 9, 9}, 3, 1.f);
        auto doubleRelu = [&](int node, int, TensorData& v) {
            if (node == 1)
                for (float& f : v.floats) f *= 2;
        };
        RunHooks changed;
        changed.onValue = doubleRelu;
        const TensorData plain = ex({x}).front(), expected = ex.run({x}, changed).outputs.front();
        QVERIFY(plain.floats != expected.floats);

        auto master = ex.start({x});
        master->runTo(0);
        int seen = 0;
        RunHooks h;
        h.onValue = [&](int node, int t, TensorData& v) {
            ++seen;
            doubleRelu(node, t, v);
        };
        h.keep = {a};
        auto fork = master->fork(h);
        QCOMPARE(fork->nextNode(), 1);
        RunResult forked;
        std::thread other([&] { forked = fork->finish(); });
        const TensorData original = master->finish().outputs.front();
        other.join();
        QCOMPARE(seen, 2);  // nodes 1 and 2, not the shared conv output
        QCOMPARE(forked.outputs.front().floats, expected.floats);
        QCOMPARE(original.floats, plain.floats);
        QCOMPARE(forked.kept.at(a).shape, (std::vector<int64_t>{1, 4, 9, 9}));
    }

    void convMatchesReference_data() {
        QTest::addColumn<int>("C");
        QTest::addColumn<int>("K");
        QTest::addColumn<int>("group");
        QTest::addColumn<int>("kernel");
        QTest::addColumn<int>("stride");
        QTest::addColumn<int>("pad");
        QTest::addColumn<int>("dil");
        QTest::addColumn<int>("size");
        QTest::addRow("3x3 s1 p1") << 8 << 16 << 1 << 3 << 1 << 1 << 1 << 17;
        QTest::addRow("3x3 s2 p1") << 8 << 16 << 1 << 3 << 2 << 1 << 1 << 33;
        QTest::addRow("1x1 pointwise") << 32 << 24 << 1 << 1 << 1 << 0 << 1 << 29;
        QTest::addRow("1x1 s2") << 16 << 8 << 1 << 1 << 2 << 0 << 1 << 15;
        QTest::addRow("7x7 s2 p3") << 3 << 8 << 1 << 7 << 2 << 3 << 1 << 40;
        QTest::addRow("depthwise 3x3") << 16 << 16 << 16 << 3 << 1 << 1 << 1 << 19;
        QTest::addRow("depthwise 5x5 s2") << 12 << 12 << 12 << 5 << 2 << 2 << 1 << 23;
        // Row widths across the 16-wide blocks and the four-block step of the vector kernel.
        QTest::addRow("depthwise 3x3 s2 p1 wide") << 8 << 8 << 8 << 3 << 2 << 1 << 1 << 131;
        QTest::addRow("depthwise 3x3 s1 p0") << 4 << 4 << 4 << 3 << 1 << 0 << 1 << 70;
        QTest::addRow("depthwise 5x5 s1 p2") << 6 << 6 << 6 << 5 << 1 << 2 << 1 << 33;
        QTest::addRow("depthwise 3x3 dilated 2") << 5 << 5 << 5 << 3 << 1 << 2 << 2 << 18;
        QTest::addRow("depthwise 3x3 s3") << 3 << 3 << 3 << 3 << 3 << 1 << 1 << 50;
        QTest::addRow("grouped 4") << 16 << 32 << 4 << 3 << 1 << 1 << 1 << 13;
        QTest::addRow("dilated 2") << 8 << 8 << 1 << 3 << 1 << 2 << 2 << 21;
        QTest::addRow("large tiles") << 64 << 64 << 1 << 3 << 1 << 1 << 1 << 80;
    }

    void convMatchesReference() {
        QFETCH(int, C);
        QFETCH(int, K);
        QFETCH(int, group);
        QFETCH(int, kernel);
        QFETCH(int, stride);
        QFETCH(int, pad);
        QFETCH(int, dil);
        QFETCH(int, size);
        const TensorData x = randomTensor({1, C, size, size}, 1);
        const TensorData w = randomTensor({K, C / group, kernel, kernel}, 2);
        const TensorData b = randomTensor({K}, 3);
        const Graph g = convGraph(x.shape, w, b, group, stride, pad, dil, false, false);
        const TensorData want = refConv(x, w, b, group, stride, pad, dil);
        for (int threads : {1, 2}) {
            ExecutorOptions o;
            o.threads = threads;
            Executor ex(g, o);
            auto out = ex({x});
            QCOMPARE(out[0].shape, want.shape);
            QVERIFY2(maxRelErr(out[0], want) < 1e-5, qPrintable(QString::number(maxRelErr(out[0], want))));
        }
    }

    // ConvTranspose with kernel == stride (PP-OCRv4 det's upsampling head) writes each output
    // from one tap: against the definition, with bias, for several channel counts and sizes.
    void convTransposeTilesMatchDefinition() {
        for (int64_t s : {2, 3})
            for (int64_t size : {5, 17}) {
                const int64_t C = 6, M = 4;
                const TensorData x = randomTensor({1, C, size, size + 1}, 7);
                const TensorData w = randomTensor({C, M, s, s}, 8);
                const TensorData b = randomTensor({M}, 9);
                auto out = runOne("ConvTranspose", {x, w, b}, {{"strides", ints({s, s})}});
                const int64_t OH = size * s, OW = (size + 1) * s;
                QCOMPARE(out[0].shape, (std::vector<int64_t>{1, M, OH, OW}));
                for (int64_t m = 0; m < M; ++m)
                    for (int64_t oy = 0; oy < OH; ++oy)
                        for (int64_t ox = 0; ox < OW; ++ox) {
                            double ref = b.floats[m];
                            const int64_t iy = oy / s, ix = ox / s, ky = oy % s, kx = ox % s;
                            for (int64_t c = 0; c < C; ++c)
                                ref += double(x.floats[(c * size + iy) * (size + 1) + ix]) * w.floats[((c * M + m) * s + ky) * s + kx];
                            const float got = out[0].floats[(m * OH + oy) * OW + ox];
                            if (std::fabs(got - ref) > 1e-5 * (1 + std::fabs(ref)))
                                QFAIL(qPrintable(QString("s %1: y[%2,%3,%4] = %5, want %6").arg(s).arg(m).arg(oy).arg(ox).arg(got).arg(ref)));
                        }
            }
    }

    void fusedActivationEqualsSeparateNode() {
        const TensorData x = randomTensor({1, 8, 12, 12}, 4);
        const TensorData w = randomTensor({8, 8, 3, 3}, 5);
        const TensorData b = randomTensor({8}, 6);
        const Graph separate = convGraph(x.shape, w, b, 1, 1, 1, 1, true, false);
        const Graph fused = convGraph(x.shape, w, b, 1, 1, 1, 1, false, true);
        const auto a = Executor(separate)({x});
        const auto f = Executor(fused)({x});
        QCOMPARE(a[0].floats, f[0].floats);
        int negatives = 0;
        for (float v : f[0].floats) negatives += v < 0.f;
        QCOMPARE(negatives, 0);
    }

    // Element-wise kernels write into an input that dies at their node (KernelContext::
    // reuseInput), never into one a later node, a kept tensor, a fork or the caller still reads:
    // every value and the kept tensor equal the element-wise reference, on one and two threads
    // and in a forked run.
    void elementwiseInPlaceLeavesLiveTensorsAlone() {
        using autosplit::testing::addInput;
        using autosplit::testing::makeNode;
        Graph g;
        g.opsetVersion = 13;
        const std::vector<int64_t> shape{1, 4, 40, 50}, row{1, 1, 1, 50};
        const int x = addInput(g, "x", shape), r = addInput(g, "r", row);
        g.inputs = {x, r};
        const int s = addValue(g, "s"), d = addValue(g, "d"), m = addValue(g, "m"), y = addValue(g, "y"),
                  z = addValue(g, "z"), u = addValue(g, "u");
        g.nodes.push_back(makeNode("sig", "Sigmoid", {x}, {s}));   // x read again by "add_x2"
        g.nodes.push_back(makeNode("twice", "Add", {s, s}, {d}));  // s read again by "mul", "sub"
        g.nodes.push_back(makeNode("mul", "Mul", {d, s}, {m}));    // d dies here unless kept
        g.nodes.push_back(makeNode("sub", "Sub", {m, s}, {y}));    // m dies here (shared with a fork)
        g.nodes.push_back(makeNode("add_r", "Add", {r, y}, {z}));  // broadcast r: y, the second slot
        g.nodes.push_back(makeNode("add_x2", "Add", {z, x}, {u}));
        g.outputs = {u};
        g.rebuild();
        const TensorData xv = randomTensor(shape, 41, -3.f, 3.f), rv = randomTensor(row, 42);
        std::vector<float> dRef(xv.floats.size()), uRef(xv.floats.size());
        for (size_t i = 0; i < xv.floats.size(); ++i) {
            const float sv = 1.f / (1.f + std::exp(-xv.floats[i]));
            const float dv = sv + sv, mv = dv * sv, yv = mv - sv, zv = rv.floats[i % 50] + yv;
            dRef[i] = dv;
            uRef[i] = zv + xv.floats[i];
        }
        for (int threads : {1, 2}) {
            const Executor ex(g, ExecutorOptions{threads});
            const std::vector<TensorData> inputs{xv, rv};
            RunHooks keepD;
            keepD.keep = {d};
            const RunResult kept = ex.run(inputs, keepD);
            QCOMPARE(inputs[0].floats, xv.floats);  // the caller's copy
            QCOMPARE(kept.outputs.front().floats, uRef);
            QCOMPARE(kept.kept.at(d).floats, dRef);
            QCOMPARE(ex(inputs).front().floats, uRef);
            auto master = ex.start(inputs);
            master->runTo(2);  // s and m computed, shared with the fork
            auto fork = master->fork({});
            QCOMPARE(fork->finish().outputs.front().floats, uRef);
            QCOMPARE(master->finish().outputs.front().floats, uRef);
        }
    }

    // RunHooks::outputGrids quantizes inside Conv's epilogues (and after other nodes) to the same
    // bits as quantizing each output in onValue after the node, on one thread and on two.
    void outputGridsEqualQuantizingAfterTheNode() {
        const Graph g = epilogueChain();
        const TensorData x = randomTensor({1, 8, 10, 10}, 39, -2.f, 2.f);
        std::vector<FakeQuantGrid> grids(g.nodes.size());
        for (size_t i = 0; i < grids.size(); ++i) grids[i] = {0.03f + 0.01f * float(i), -7.f - float(i % 2), 7.f};
        grids[2] = {};  // one node without a grid between two with
        std::vector<int> all;
        for (const Node& n : g.nodes) all.push_back(n.outputs[0]);
        for (int threads : {1, 2}) {
            ExecutorOptions o;
            o.threads = threads;
            Executor ex(g, o);
            RunHooks fused;
            fused.outputGrids = &grids;
            fused.keep = all;
            RunHooks after;
            after.keep = all;
            after.onValue = [&](int node, int, TensorData& v) {
                if (node >= 0 && grids[static_cast<size_t>(node)].active())
                    fakeQuantizeGrid(v.floats.data(), static_cast<int64_t>(v.floats.size()), grids[static_cast<size_t>(node)]);
            };
            RunHooks plain;
            plain.keep = all;
            const auto a = ex.run({x}, fused), b = ex.run({x}, after), f = ex.run({x}, plain);
            for (size_t i = 0; i < g.nodes.size(); ++i) {
                const int t = all[i];
                const auto& va = a.kept.at(t).floats;
                QVERIFY2(va == b.kept.at(t).floats, qPrintable(QString("%1 threads, node %2 (%3)").arg(threads).arg(i).arg(g.nodes[i].op.c_str())));
                if (!grids[i].active()) continue;
                for (float v : va) {  // on the grid, inside its range
                    const float q = v / grids[i].scale;
                    QVERIFY(std::fabs(q - std::nearbyint(q)) < 1e-3f && q >= grids[i].lo - 1e-3f && q <= grids[i].hi + 1e-3f);
                }
                QVERIFY(va != f.kept.at(t).floats);  // the grid changed the values
            }
        }
    }

    // The binary ops apply their fused activation and output grid to each finished piece (flat
    // pieces of 16384 values, broadcast rows grouped to as many): the same values as the op
    // without them followed by the activation and the grid over the whole output, on one and two
    // threads, for long and short rows and pieces that end inside a row group.
    void binaryOpsFinishPiecesLikeOnePass() {
        struct Shapes {
            std::vector<int64_t> a, b;
        };
        Activation hardSwish;
        hardSwish.kind = Activation::Kind::HardSwish;
        const FakeQuantGrid grid{0.05f, -40.f, 40.f};
        uint32_t seed = 70;
        for (const Shapes& sh : {Shapes{{1, 32, 64, 64}, {1, 32, 64, 64}}, Shapes{{1, 48, 37, 41}, {1, 48, 1, 1}},
                                 Shapes{{1, 1000, 7}, {1, 1000, 1}}, Shapes{{3, 1, 5}, {1, 4, 5}}})
            for (const char* op : {"Add", "Mul"})
                for (int threads : {1, 2}) {
                    Graph g;
                    g.opsetVersion = 13;
                    const int a = addValue(g, "a", sh.a), b = addValue(g, "b", sh.b);
                    g.inputs = {a, b};
                    Node n = autosplit::testing::makeNode("bin", op, {a, b}, {addValue(g, "y")});
                    n.activation = hardSwish;
                    g.nodes.push_back(n);
                    g.outputs = n.outputs;
                    g.rebuild();
                    Graph plainGraph = g;
                    plainGraph.nodes[0].activation = {};
                    const TensorData xa = randomTensor(sh.a, seed++, -4.f, 4.f), xb = randomTensor(sh.b, seed++, -4.f, 4.f);
                    ExecutorOptions o;
                    o.threads = threads;
                    std::vector<FakeQuantGrid> grids{grid};
                    RunHooks hooks;
                    hooks.outputGrids = &grids;
                    const TensorData got = Executor(g, o).run({xa, xb}, hooks).outputs[0];
                    TensorData want = Executor(plainGraph, o)({xa, xb})[0];
                    exec::applyActivation(hardSwish, want.floats.data(), static_cast<int64_t>(want.floats.size()));
                    fakeQuantizeGrid(want.floats.data(), static_cast<int64_t>(want.floats.size()), grid);
                    QCOMPARE(got.shape, want.shape);
                    QVERIFY2(got.floats == want.floats, qPrintable(QString("%1, %2 values, %3 thread(s)").arg(op).arg(want.floats.size()).arg(threads)));
                }
    }

    void unsupportedOpFailsUpFrontNamingNode() {
        Graph g;
        const int x = addValue(g, "x", {1, 4});
        const int y = addValue(g, "y");
        Node n;
        n.name = "the_node";
        n.op = "NonMaxSuppression";
        n.inputs = {x};
        n.outputs = {y};
        g.nodes.push_back(n);
        g.inputs = {x};
        g.outputs = {y};
        g.rebuild();
        try {
            Executor ex(g);
            QFAIL("no exception");
        } catch (const UnsupportedError& e) {
            QCOMPARE(QString(e.op().c_str()), QString("NonMaxSuppression"));
            QVERIFY(QString(e.what()).contains("the_node"));
        }
    }

    void rejectsNonFiniteAndWrongShapes() {
        const TensorData w = randomTensor({4, 3, 3, 3}, 7), b = randomTensor({4}, 8);
        const Graph g = convGraph({1, 3, 8, 8}, w, b, 1, 1, 1, 1, false, false);
        Executor ex(g);
        TensorData x = randomTensor({1, 3, 8, 8}, 9);
        x.floats[5] = NAN;
        x.floats[150] = INFINITY;
        try {
            ex({x});
            QFAIL("an input with NaN ran");
        } catch (const Error& e) {
            QCOMPARE(QString(e.what()), QString("input 'x' contains NaN at element 5"));
        }
        x.floats[5] = 0.f;
        try {
            ex({x});
            QFAIL("an input with Inf ran");
        } catch (const Error& e) {
            QCOMPARE(QString(e.what()), QString("input 'x' contains Inf at element 150"));
        }
        QVERIFY_THROWS_EXCEPTION(Error, ex({randomTensor({1, 3, 9, 8}, 9)}));
        QVERIFY_THROWS_EXCEPTION(Error, ex({}));
    }

    void hooksObserveAndTransform() {
        const TensorData x = randomTensor({1, 3, 8, 8}, 10);
        const TensorData w = randomTensor({4, 3, 3, 3}, 11), b = randomTensor({4}, 12);
        const Graph g = convGraph(x.shape, w, b, 1, 1, 1, 1, true, false);
        Executor ex(g);
        // Zero weights via override: output = relu(bias).
        std::unordered_map<int, std::shared_ptr<const TensorData>> overrides;
        TensorData zero = w;
        std::fill(zero.floats.begin(), zero.floats.end(), 0.f);
        overrides[g.findTensor("w")] = std::make_shared<TensorData>(zero);
        RunHooks h;
        h.weightOverrides = &overrides;
        std::vector<int> seen;
        h.onValue = [&](int node, int, TensorData& v) {
            seen.push_back(node);
            if (node == 0)
                for (float& f : v.floats) f = -f;  // negate conv output before Relu
        };
        auto r = ex.run({x}, h);
        QCOMPARE(seen, (std::vector<int>{-1, 0, 1}));
        for (int64_t k = 0; k < 4; ++k)
            for (int64_t i = 0; i < 64; ++i)
                QCOMPARE(r.outputs[0].floats[k * 64 + i], std::max(0.f, -b.floats[k]));
        // Cut tensors are returned on request; lastNode stops early.
        RunHooks h2;
        h2.keep = {g.findTensor("conv_out")};
        h2.lastNode = 0;
        auto r2 = ex.run({x}, h2);
        QCOMPARE(r2.kept.at(g.findTensor("conv_out")).shape, (std::vector<int64_t>{1, 4, 8, 8}));
        QCOMPARE(r2.outputs[0].dtype, DType::Other);
    }

    void cancelStopsBetweenNodes() {
        const TensorData w = randomTensor({4, 3, 3, 3}, 7), b = randomTensor({4}, 8);
        const Graph g = convGraph({1, 3, 8, 8}, w, b, 1, 1, 1, 1, true, false);
        Executor ex(g);
        RunHooks h;
        h.cancel.cancel();
        QVERIFY_THROWS_EXCEPTION(Cancelled, ex.run({randomTensor({1, 3, 8, 8}, 1)}, h));
    }

    void concurrentRunsAgree() {
        const TensorData x = randomTensor({1, 16, 20, 20}, 13);
        const TensorData w = randomTensor({16, 16, 3, 3}, 14), b = randomTensor({16}, 15);
        const Graph g = convGraph(x.shape, w, b, 1, 1, 1, 1, true, false);
        Executor ex(g);
        const auto ref = ex({x});
        std::vector<std::thread> ts;
        std::atomic<int> bad{0};
        for (int t = 0; t < 4; ++t)
            ts.emplace_back([&] {
                for (int i = 0; i < 5; ++i)
                    if (ex({x})[0].floats != ref[0].floats) ++bad;
            });
        for (auto& t : ts) t.join();
        QCOMPARE(bad.load(), 0);
    }

    // MaxPool's separable path (no dilation) against a scan of each window, bit for bit: kernels
    // 1-13 (ResNet's 3x3 s2 p1, YOLOv3-SPP's 5/9/13 s1, YOLOv3-tiny's 2x2 s2), strides 1-3,
    // symmetric and one-sided pads, ceil_mode, maps narrower than the kernel. Of equal values
    // (+0 and -0 here) the first is kept, columns scanned top to bottom, then the columns' maxima
    // left to right (ONNX leaves the sign of a zero maximum open; this fixes ours).
    void maxPoolMatchesDefinition() {
        struct P {
            int64_t h, w, k, s, pt, pl, pb, pr;
            bool ceil;
        };
        std::mt19937 rng(5);
        std::uniform_int_distribution<int> pick(-4, 4);
        int checked = 0;
        for (const P& c : {P{112, 112, 3, 2, 1, 1, 1, 1, false}, P{13, 13, 5, 1, 2, 2, 2, 2, false}, P{13, 13, 9, 1, 4, 4, 4, 4, false},
                           P{13, 13, 13, 1, 6, 6, 6, 6, false}, P{26, 26, 2, 2, 0, 0, 0, 0, false}, P{13, 13, 2, 1, 0, 0, 1, 1, false},
                           P{17, 23, 3, 2, 0, 0, 0, 0, true}, P{10, 11, 3, 3, 1, 0, 0, 2, true}, P{5, 2, 3, 1, 1, 1, 1, 1, false},
                           P{7, 1, 1, 1, 0, 0, 0, 0, false}, P{9, 9, 4, 2, 1, 2, 2, 1, true}}) {
            std::vector<float> v(size_t(3 * c.h * c.w));
            for (float& x : v) {
                const int r = pick(rng);
                x = r == 0 ? (rng() % 2 ? 0.f : -0.f) : 0.25f * static_cast<float>(r);  // many ties, both zeros
            }
            std::map<std::string, Attribute> attrs{{"kernel_shape", ints({c.k, c.k})},
                                                   {"strides", ints({c.s, c.s})},
                                                   {"pads", ints({c.pt, c.pl, c.pb, c.pr})}};
            if (c.ceil) attrs["ceil_mode"] = Attribute{int64_t{1}};
            const TensorData y = runOne("MaxPool", {floatTensor({1, 3, c.h, c.w}, v)}, attrs)[0];
            auto outSize = [&](int64_t in, int64_t pa, int64_t pe) {
                const int64_t span = in + pa + pe - c.k;
                int64_t o = (c.ceil ? (span + c.s - 1) / c.s : span / c.s) + 1;
                if (c.ceil && (o - 1) * c.s >= in + pa) --o;
                return o;
            };
            const int64_t oh = outSize(c.h, c.pt, c.pb), ow = outSize(c.w, c.pl, c.pr);
            QCOMPARE(y.shape, (std::vector<int64_t>{1, 3, oh, ow}));
            for (int64_t p = 0; p < 3; ++p)
                for (int64_t oy = 0; oy < oh; ++oy)
                    for (int64_t ox = 0; ox < ow; ++ox) {
                        float best = std::numeric_limits<float>::lowest();
                        for (int64_t kx = 0; kx < c.k; ++kx) {
                            const int64_t ix = ox * c.s - c.pl + kx;
                            if (ix < 0 || ix >= c.w) continue;
                            float column = std::numeric_limits<float>::lowest();
                            for (int64_t ky = 0; ky < c.k; ++ky) {
                                const int64_t iy = oy * c.s - c.pt + ky;
                                if (iy < 0 || iy >= c.h) continue;
                                const float x = v[size_t((p * c.h + iy) * c.w + ix)];
                                if (x > column) column = x;
                            }
                            if (column > best) best = column;
                        }
                        const float got = y.floats[size_t((p * oh + oy) * ow + ox)];
                        if (std::memcmp(&got, &best, sizeof(float)) != 0)
                            QFAIL(qPrintable(QString("%1x%2 k%3 s%4: y[%5,%6,%7] = %8, the window scan %9")
                                                 .arg(c.h).arg(c.w).arg(c.k).arg(c.s).arg(p).arg(oy).arg(ox)
                                                 .arg(double(got)).arg(double(best))));
                    }
            ++checked;
        }
        QCOMPARE(checked, 11);
    }

    void comparisonsBroadcastToBool() {
        const auto a = intTensor(DType::Int64, {2, 3}, {1, -1, 3, -1, 5, 6});
        const auto b = intTensor(DType::Int64, {3}, {1, -1, 6});
        const auto eq = runOne("Equal", {a, b})[0];
        QCOMPARE(eq.dtype, DType::Bool);
        QCOMPARE(eq.shape, (std::vector<int64_t>{2, 3}));
        QCOMPARE(eq.ints, (std::vector<int64_t>{1, 1, 0, 0, 0, 1}));
        const auto x = floatTensor({2, 1}, {0.5f, 2.f}), y = floatTensor({1, 3}, {0.f, 1.f, 2.f});
        QCOMPARE(runOne("Less", {x, y})[0].ints, (std::vector<int64_t>{0, 1, 1, 0, 0, 0}));
        QCOMPARE(runOne("Greater", {x, y})[0].ints, (std::vector<int64_t>{1, 0, 0, 1, 1, 0}));
        QCOMPARE(runOne("Equal", {x, y})[0].ints, (std::vector<int64_t>{0, 0, 0, 0, 0, 1}));
        // Scalars against a tensor, and bool operands.
        QCOMPARE(runOne("Equal", {intTensor(DType::Bool, {}, {1}), intTensor(DType::Bool, {4}, {1, 0, 0, 1})})[0].ints,
                 (std::vector<int64_t>{1, 0, 0, 1}));
        // Shapes that do not broadcast: an error naming the node.
        try {
            runOne("Equal", {intTensor(DType::Int64, {2}, {1, 2}), intTensor(DType::Int64, {3}, {1, 2, 3})});
            QFAIL("no exception");
        } catch (const Error& e) {
            QVERIFY2(QString(e.what()).contains("Equal_node"), e.what());
        }
        QVERIFY_THROWS_EXCEPTION(UnsupportedError, runOne("Less", {x, a}));  // float vs int
    }

    void notNegatesBool() {
        const auto y = runOne("Not", {intTensor(DType::Bool, {2, 2}, {1, 0, 0, 1})})[0];
        QCOMPARE(y.dtype, DType::Bool);
        QCOMPARE(y.ints, (std::vector<int64_t>{0, 1, 1, 0}));
        QVERIFY_THROWS_EXCEPTION(UnsupportedError, runOne("Not", {floatTensor({1}, {1.f})}));
    }

    void whereBroadcastsAllThree() {
        // condition [2,1], X [1,3], Y scalar -> [2,3]
        const auto y = runOne("Where", {intTensor(DType::Bool, {2, 1}, {1, 0}), floatTensor({1, 3}, {1.f, 2.f, 3.f}), floatTensor({}, {-7.f})})[0];
        QCOMPARE(y.shape, (std::vector<int64_t>{2, 3}));
        QCOMPARE(y.floats, (std::vector<float>{1.f, 2.f, 3.f, -7.f, -7.f, -7.f}));
        // torch's expand(-1) shape: Where(shape == -1, ones, shape).
        const auto shape = intTensor(DType::Int64, {3}, {1, -1, -1});
        const auto isMinus = runOne("Equal", {shape, intTensor(DType::Int64, {}, {-1})})[0];
        const auto r = runOne("Where", {isMinus, intTensor(DType::Int64, {3}, {1, 1, 1}), shape})[0];
        QCOMPARE(r.dtype, DType::Int64);
        QCOMPARE(r.ints, (std::vector<int64_t>{1, 1, 1}));
        QVERIFY_THROWS_EXCEPTION(UnsupportedError, runOne("Where", {floatTensor({1}, {1.f}), floatTensor({1}, {1.f}), floatTensor({1}, {2.f})}));
        QVERIFY_THROWS_EXCEPTION(Error, runOne("Where", {intTensor(DType::Bool, {2}, {1, 0}), floatTensor({3}, {1.f, 2.f, 3.f}), floatTensor({1}, {0.f})}));
    }

    void rangeCountsLikeOnnx() {
        const auto i = runOne("Range", {intTensor(DType::Int64, {}, {0}), intTensor(DType::Int64, {}, {10}), intTensor(DType::Int64, {}, {3})})[0];
        QCOMPARE(i.dtype, DType::Int64);
        QCOMPARE(i.shape, (std::vector<int64_t>{4}));
        QCOMPARE(i.ints, (std::vector<int64_t>{0, 3, 6, 9}));
        const auto f = runOne("Range", {floatTensor({}, {1.f}), floatTensor({}, {0.f}), floatTensor({}, {-0.25f})})[0];
        QCOMPARE(f.floats, (std::vector<float>{1.f, 0.75f, 0.5f, 0.25f}));
        // An empty range, and a limit behind the start for a positive delta.
        QCOMPARE(runOne("Range", {intTensor(DType::Int32, {}, {5}), intTensor(DType::Int32, {}, {2}), intTensor(DType::Int32, {}, {1})})[0].shape,
                 (std::vector<int64_t>{0}));
        try {
            runOne("Range", {intTensor(DType::Int64, {}, {0}), intTensor(DType::Int64, {}, {4}), intTensor(DType::Int64, {}, {0})});
            QFAIL("no exception");
        } catch (const Error& e) {
            QVERIFY2(QString(e.what()).contains("delta is 0") && QString(e.what()).contains("Range_node"), e.what());
        }
    }

    void float16Rounding() {
        QCOMPARE(roundToFloat16(1.0f), 1.0f);
        QCOMPARE(roundToFloat16(65504.f), 65504.f);
        QVERIFY(std::isinf(roundToFloat16(65520.f)));
        QCOMPARE(roundToFloat16(65519.f), 65504.f);
        // 1 + 2^-11 is halfway between 1 and 1 + 2^-10: ties to even (1).
        QCOMPARE(roundToFloat16(1.f + std::ldexp(1.f, -11)), 1.f);
        QCOMPARE(roundToFloat16(1.f + 3 * std::ldexp(1.f, -11)), 1.f + std::ldexp(1.f, -9));
        QCOMPARE(roundToFloat16(std::ldexp(1.f, -24)), std::ldexp(1.f, -24));  // smallest subnormal
        QCOMPARE(roundToFloat16(std::ldexp(1.f, -26)), 0.f);
    }

    void float16RoundingOfArraysMatchesTheScalarRule() {
        // The array path (F16C where the processor has it) against the scalar bit rule on every
        // 2^32 / 65521-th bit pattern and the edges: ties, the overflow threshold, subnormals,
        // signed zeros, infinities; NaN stays NaN. Lengths that leave a tail.
        std::vector<float> x;
        for (uint64_t b = 0; b < (uint64_t(1) << 32); b += 65521) {
            uint32_t bits = uint32_t(b);
            float f;
            std::memcpy(&f, &bits, 4);
            x.push_back(f);
        }
        for (float f : {0.f, -0.f, 65504.f, 65519.f, 65520.f, -65520.f, 1.f + std::ldexp(1.f, -11), 1.f + 3 * std::ldexp(1.f, -11),
                        std::ldexp(1.f, -24), std::ldexp(1.f, -25), std::ldexp(3.f, -26), std::ldexp(1.f, -14),
                        std::ldexp(1023.5f, -24), std::numeric_limits<float>::infinity(), -std::numeric_limits<float>::infinity(),
                        std::numeric_limits<float>::quiet_NaN()})
            x.push_back(f);
        x.push_back(0.1f);  // 65537 + 17 values: not a multiple of 8
        std::vector<float> y = x;
        roundToFloat16(y.data(), y.size());
        for (size_t i = 0; i < x.size(); ++i) {
            const float want = halfBitsToFloat(floatToHalfBits(x[i]));
            if (std::isnan(want)) {
                QVERIFY2(std::isnan(y[i]), qPrintable(QString::number(i)));
                continue;
            }
            uint32_t a, b;
            std::memcpy(&a, &want, 4);
            std::memcpy(&b, &y[i], 4);
            QVERIFY2(a == b, qPrintable(QString("%1: %2 -> %3, want %4").arg(i).arg(double(x[i])).arg(double(y[i])).arg(double(want))));
        }
    }
};

QTEST_GUILESS_MAIN(KernelsTest)
#include "tst_exec_kernels.moc"
