// GPTQ weight rounding (core/include/autosplit/gptq.h): the input moments of strided, padded,
// grouped and depthwise convs equal X X^T built from explicit patches; GPTQ weights stay on the
// per-channel grid of nearest rounding; they lower the layer output error (what GPTQ minimizes)
// at every bit width on correlated inputs, for Conv, depthwise Conv, Gemm (both layouts) and
// MatMul; dead inputs and a singular H do not break it; and PlanEvaluator's default (GPTQ) beats
// nearest rounding at 4 bits on a small network, with concurrent evaluations agreeing.
#include "autosplit/eval/plan_evaluator.h"
#include "autosplit/exec/executor.h"
#include "autosplit/quant/calibration.h"
#include "autosplit/quant/gptq.h"
#include "graph_fixtures.h"

#include <QtTest>

#include <chrono>
#include <cmath>
#include <set>
#include <random>
#include <thread>

using namespace autosplit;
using namespace autosplit::testing;

namespace {

// One-node graph: node 0 reads "x" (shape xs) with weight w.
Graph singleLayer(const std::string& op, std::vector<int64_t> xs, TensorData w,
                  const std::vector<std::pair<std::string, Attribute>>& attrs = {}) {
    Graph g;
    g.opsetVersion = 13;
    const int x = addInput(g, "x", std::move(xs));
    const int y = addValue(g, "y");
    Node n = makeNode("layer", op, {x, addWeight(g, "w", std::move(w))}, {y});
    for (const auto& [k, v] : attrs) n.attrs[k] = v;
    g.nodes = {n};
    g.inputs = {x};
    g.outputs = {y};
    g.rebuild();
    return g;
}

// Inputs with strongly correlated neighbours (a smoothed random field plus a channel offset):
// the case where the order and direction of rounding errors matter.
TensorData correlatedInput(std::vector<int64_t> shape, uint32_t seed) {
    TensorData d = randomTensor(shape, seed, 1.f);
    const int64_t last = shape.back();
    for (size_t i = 1; i < d.floats.size(); ++i)
        if (static_cast<int64_t>(i) % last != 0) d.floats[i] = 0.8f * d.floats[i - 1] + 0.6f * d.floats[i];
    for (size_t i = 0; i < d.floats.size(); ++i) d.floats[i] += 0.5f;
    return d;
}

// Every value of q is k * scale of its channel with |k| <= qmax, the scale being the one
// nearest rounding uses (Conv layout: channel-major rows).
bool onGrid(const TensorData& q, const TensorData& w, int64_t channels, int bits, const QuantOptions& o) {
    const int64_t per = static_cast<int64_t>(q.floats.size()) / channels;
    for (int64_t c = 0; c < channels; ++c) {
        const QuantParams p = symmetricParams(w.floats.data() + c * per, per, bits, o);
        for (int64_t j = 0; j < per; ++j) {
            const double k = q.floats[static_cast<size_t>(c * per + j)] / p.scale;
            if (std::fabs(k - std::round(k)) > 1e-3 || std::fabs(k) > p.qmax + 1e-3) return false;
        }
    }
    return true;
}

}  // namespace

class GptqTest : public QObject {
    Q_OBJECT

private slots:
    void convMomentsMatchExplicitPatches() {
        // 2 groups, stride 2, asymmetric pads, dilation 2 on a 7x9 map.
        Graph g = singleLayer("Conv", {1, 4, 7, 9}, randomTensor({6, 2, 3, 2}, 1, 0.5f),
                              {{"group", Attribute{int64_t{2}}},
                               {"strides", Attribute{std::vector<int64_t>{2, 1}}},
                               {"dilations", Attribute{std::vector<int64_t>{2, 1}}},
                               {"pads", Attribute{std::vector<int64_t>{1, 0, 2, 1}}}});
        auto m = LayerInputMoments::forNode(g, 0);
        QVERIFY(m);
        QCOMPARE(m->rowLength(), int64_t(12));  // 2 channels x 3 x 2
        QCOMPARE(m->groups(), int64_t(2));
        const TensorData x = randomTensor({1, 4, 7, 9}, 2, 1.f);
        m->add(x);
        // Output size: H (7 + 1 + 2 - 5) / 2 + 1 = 3, W (9 + 0 + 1 - 2) / 1 + 1 = 9.
        QCOMPARE(m->vectors(), int64_t(27));
        for (int64_t grp = 0; grp < 2; ++grp) {
            std::vector<double> h(144, 0.0);
            for (int64_t oy = 0; oy < 3; ++oy)
                for (int64_t ox = 0; ox < 9; ++ox) {
                    double p[12];
                    for (int64_t c = 0; c < 2; ++c)
                        for (int64_t ky = 0; ky < 3; ++ky)
                            for (int64_t kx = 0; kx < 2; ++kx) {
                                const int64_t iy = oy * 2 - 1 + ky * 2, ix = ox - 0 + kx;
                                const bool in = iy >= 0 && iy < 7 && ix >= 0 && ix < 9;
                                p[(c * 3 + ky) * 2 + kx] = in ? x.floats[static_cast<size_t>(((grp * 2 + c) * 7 + iy) * 9 + ix)] : 0.0;
                            }
                    for (int r = 0; r < 12; ++r)
                        for (int s = 0; s < 12; ++s) h[static_cast<size_t>(r * 12 + s)] += p[r] * p[s];
                }
            const auto& got = m->moments(grp);
            for (int r = 0; r < 12; ++r)
                for (int s = 0; s <= r; ++s)
                    QVERIFY2(std::fabs(got[static_cast<size_t>(r * 12 + s)] - h[static_cast<size_t>(r * 12 + s)]) <
                                 1e-4 * (1 + std::fabs(h[static_cast<size_t>(r * 12 + s)])),
                             qPrintable(QString("group %1 H[%2,%3] %4 vs %5").arg(grp).arg(r).arg(s)
                                            .arg(got[static_cast<size_t>(r * 12 + s)]).arg(h[static_cast<size_t>(r * 12 + s)])));
        }
        // merge() adds another layer's worth of the same shape.
        auto m2 = LayerInputMoments::forNode(g, 0);
        m2->add(x);
        m2->merge(*m);
        QCOMPARE(m2->vectors(), int64_t(54));
        QVERIFY(std::fabs(m2->moments(1)[7] - 2 * m->moments(1)[7]) < 1e-9 * (1 + std::fabs(m->moments(1)[7])));
    }

    // Chunks of 64 vectors or more are summed as two halves, on a pool when add() gets one: the
    // moments are X X^T and the same bit for bit with or without the pool (conv: 1600 positions,
    // chunks of 1024 and 576; Gemm: 700 rows).
    void largeChunksGiveTheSameSumsOnAPool() {
        Graph conv = singleLayer("Conv", {1, 3, 40, 40}, randomTensor({4, 3, 3, 3}, 3, 0.5f),
                                 {{"pads", Attribute{std::vector<int64_t>{1, 1, 1, 1}}}});
        Graph gemm = singleLayer("Gemm", {700, 24}, randomTensor({24, 5}, 4, 0.5f));
        for (Graph* g : {&conv, &gemm}) {
            const Executor pool(*g, ExecutorOptions{2});
            const TensorData x = correlatedInput(g->tensors[static_cast<size_t>(g->inputs[0])].shape, 5);
            auto serial = LayerInputMoments::forNode(*g, 0), pooled = LayerInputMoments::forNode(*g, 0);
            QVERIFY(serial && pooled);
            serial->add(x);
            pooled->add(x, &pool);
            QCOMPARE(pooled->vectors(), serial->vectors());
            QVERIFY(pooled->moments(0) == serial->moments(0));
            // Against double sums of explicit vectors (Gemm: the rows; conv: every padded patch).
            const int64_t R = serial->rowLength();
            std::vector<double> h(static_cast<size_t>(R * R), 0.0);
            std::vector<double> v(static_cast<size_t>(R));
            for (int64_t p = 0; p < serial->vectors(); ++p) {
                for (int64_t r = 0; r < R; ++r) {
                    if (g == &gemm) {
                        v[static_cast<size_t>(r)] = x.floats[static_cast<size_t>(p * R + r)];
                        continue;
                    }
                    const int64_t c = r / 9, ky = r / 3 % 3, kx = r % 3, iy = p / 40 - 1 + ky, ix = p % 40 - 1 + kx;
                    const bool in = iy >= 0 && iy < 40 && ix >= 0 && ix < 40;
                    v[static_cast<size_t>(r)] = in ? x.floats[static_cast<size_t>((c * 40 + iy) * 40 + ix)] : 0.0;
                }
                for (int64_t r = 0; r < R; ++r)
                    for (int64_t c = 0; c <= r; ++c) h[static_cast<size_t>(r * R + c)] += v[static_cast<size_t>(r)] * v[static_cast<size_t>(c)];
            }
            for (int64_t r = 0; r < R; ++r)
                for (int64_t c = 0; c <= r; ++c) {
                    const double want = h[static_cast<size_t>(r * R + c)], got = serial->moments(0)[static_cast<size_t>(r * R + c)];
                    QVERIFY2(std::fabs(got - want) < 1e-4 * (1 + std::fabs(want)), qPrintable(QString("H[%1,%2] %3 vs %4").arg(r).arg(c).arg(got).arg(want)));
                }
        }
    }

    void firstMomentsGiveTheOutputMean_data() {
        QTest::addColumn<std::vector<int64_t>>("strides");
        QTest::addColumn<std::vector<int64_t>>("dilations");
        QTest::addColumn<std::vector<int64_t>>("pads");
        // x strides dividing 8 take the residue-lane path (any y stride), others the element path.
        QTest::addRow("y stride 2") << std::vector<int64_t>{2, 1} << std::vector<int64_t>{2, 1} << std::vector<int64_t>{1, 0, 2, 1};
        QTest::addRow("unit strides") << std::vector<int64_t>{1, 1} << std::vector<int64_t>{1, 2} << std::vector<int64_t>{2, 0, 0, 3};
        QTest::addRow("x stride 2") << std::vector<int64_t>{1, 2} << std::vector<int64_t>{1, 1} << std::vector<int64_t>{0, 1, 1, 2};
        QTest::addRow("strides 2, 4") << std::vector<int64_t>{2, 4} << std::vector<int64_t>{1, 2} << std::vector<int64_t>{1, 3, 2, 0};
        QTest::addRow("x stride 3") << std::vector<int64_t>{2, 3} << std::vector<int64_t>{2, 1} << std::vector<int64_t>{1, 2, 2, 1};
    }

    void firstMomentsGiveTheOutputMean() {
        // A dilated, asymmetrically padded, grouped conv (rows of 21: two lane groups and a
        // tail): the patch means (padding as zeros) of the cheap first-moment path equal those of
        // the full path, and sum_j w[o, j] E[x_j] is exactly the mean of output channel o (what
        // bias correction uses).
        QFETCH(std::vector<int64_t>, strides);
        QFETCH(std::vector<int64_t>, dilations);
        QFETCH(std::vector<int64_t>, pads);
        const TensorData w = randomTensor({6, 2, 3, 2}, 1, 0.5f);
        Graph g = singleLayer("Conv", {1, 4, 7, 21}, w,
                              {{"group", Attribute{int64_t{2}}},
                               {"strides", Attribute{strides}},
                               {"dilations", Attribute{dilations}},
                               {"pads", Attribute{pads}}});
        auto cheap = LayerInputMoments::meansForNode(g, 0), full = LayerInputMoments::forNode(g, 0);
        QVERIFY(cheap && full);
        const TensorData x = correlatedInput({1, 4, 7, 21}, 3);
        cheap->add(x);
        full->add(x);
        QCOMPARE(cheap->vectors(), full->vectors());
        const auto mc = cheap->mean(), mf = full->mean();
        QCOMPARE(mc.size(), size_t(24));
        for (size_t j = 0; j < mc.size(); ++j) QVERIFY2(std::fabs(mc[j] - mf[j]) < 1e-5, qPrintable(QString::number(j)));
        // addSquares: E[x_j^2] without materializing x^2, the same as add() of the squared input.
        TensorData sq = x;
        for (float& v : sq.floats) v *= v;
        auto squares = LayerInputMoments::meansForNode(g, 0), ofSquared = LayerInputMoments::meansForNode(g, 0);
        squares->addSquares(x);
        ofSquared->add(sq);
        QCOMPARE(squares->vectors(), ofSquared->vectors());
        const auto s1 = squares->mean(), s2 = ofSquared->mean();
        for (size_t j = 0; j < s1.size(); ++j)
            QVERIFY2(std::fabs(s1[j] - s2[j]) <= 1e-6 * (1 + s2[j]), qPrintable(QString("%1: %2 vs %3").arg(j).arg(s1[j]).arg(s2[j])));
        QVERIFY_THROWS_EXCEPTION(Error, full->addSquares(x));  // first moments only
        const TensorData y = Executor(g)({x}).front();
        const int64_t positions = y.elementCount() / 6;
        for (int64_t o = 0; o < 6; ++o) {
            double out = 0, predicted = 0;
            for (int64_t k = 0; k < positions; ++k) out += y.floats[static_cast<size_t>(o * positions + k)];
            out /= static_cast<double>(positions);
            for (int64_t j = 0; j < 12; ++j) predicted += w.floats[static_cast<size_t>(o * 12 + j)] * mc[static_cast<size_t>((o / 3) * 12 + j)];
            QVERIFY2(std::fabs(out - predicted) < 1e-5, qPrintable(QString("channel %1: %2 vs %3").arg(o).arg(out).arg(predicted)));
        }
    }

    // setVectorsPerAdd: a conv keeps positions phase + k * step (step coprime with the output
    // width, phase advancing per add), a Gemm every step-th row; the moments are exactly those of
    // the kept vectors, and GPTQ against a budget of 32 R vectors spread over several samples
    // rounds about as well, measured against the moments of every vector, as GPTQ against those.
    void vectorBudgetKeepsStridedVectors() {
        Graph g = singleLayer("Conv", {1, 2, 24, 24}, randomTensor({3, 2, 3, 3}, 21, 0.5f),
                              {{"pads", Attribute{std::vector<int64_t>{1, 1, 1, 1}}}});
        const TensorData x = correlatedInput({1, 2, 24, 24}, 22);
        for (int call = 0; call < 2; ++call) {
            auto m = LayerInputMoments::forNode(g, 0);
            m->setVectorsPerAdd(100);  // 576 positions: step 6 shares a factor with 24, so 7
            if (call == 1) m->add(x);  // the second add starts at phase 1
            const auto before = m->moments(0);
            const int64_t v0 = m->vectors();
            m->add(x);
            std::vector<double> h(18 * 18, 0.0);
            std::set<int64_t> columns;
            int64_t kept = 0;
            for (int64_t o = call; o < 576; o += 7) {
                const int64_t oy = o / 24, ox = o % 24;
                columns.insert(ox);
                ++kept;
                double p[18];
                for (int64_t c = 0; c < 2; ++c)
                    for (int64_t ky = 0; ky < 3; ++ky)
                        for (int64_t kx = 0; kx < 3; ++kx) {
                            const int64_t iy = oy - 1 + ky, ix = ox - 1 + kx;
                            const bool in = iy >= 0 && iy < 24 && ix >= 0 && ix < 24;
                            p[(c * 3 + ky) * 3 + kx] = in ? x.floats[static_cast<size_t>((c * 24 + iy) * 24 + ix)] : 0.0;
                        }
                for (int r = 0; r < 18; ++r)
                    for (int t = 0; t < 18; ++t) h[static_cast<size_t>(r * 18 + t)] += p[r] * p[t];
            }
            QCOMPARE(m->vectors() - v0, kept);
            QCOMPARE(columns.size(), size_t(24));
            const auto& got = m->moments(0);
            for (int r = 0; r < 18; ++r)
                for (int t = 0; t <= r; ++t) {
                    const size_t i = static_cast<size_t>(r * 18 + t);
                    QVERIFY2(std::fabs(got[i] - before[i] - h[i]) < 1e-4 * (1 + std::fabs(h[i])),
                             qPrintable(QString("add %1 H[%2,%3]").arg(call).arg(r).arg(t)));
                }
        }
        // Gemm rows: 64 rows, 10 per add -> rows 0, 7, ..., 63.
        Graph gemm = singleLayer("Gemm", {64, 24}, randomTensor({24, 12}, 9, 0.3f));
        const TensorData xr = correlatedInput({64, 24}, 10);
        auto mg = LayerInputMoments::forNode(gemm, 0);
        mg->setVectorsPerAdd(10);
        mg->add(xr);
        QCOMPARE(mg->vectors(), int64_t(10));
        double h00 = 0, h53 = 0, s5 = 0;
        for (int64_t r = 0; r < 64; r += 7) {
            const float* row = xr.floats.data() + r * 24;
            h00 += double(row[0]) * row[0];
            h53 += double(row[5]) * row[3];
            s5 += row[5];
        }
        QVERIFY(std::fabs(mg->moments(0)[0] - h00) < 1e-4 * (1 + h00));
        QVERIFY(std::fabs(mg->moments(0)[5 * 24 + 3] - h53) < 1e-4 * (1 + std::fabs(h53)));
        QVERIFY(std::fabs(mg->mean()[5] - s5 / 10) < 1e-5);

        // Rounding quality: 6 samples of a 16-channel 3x3 conv at 48^2 (R = 144, 2304 positions
        // each); the budget keeps 32 R = 4608 of their 13824 vectors.
        Graph big = singleLayer("Conv", {1, 16, 48, 48}, randomTensor({12, 16, 3, 3}, 23, 0.3f),
                                {{"pads", Attribute{std::vector<int64_t>{1, 1, 1, 1}}}});
        auto all = LayerInputMoments::forNode(big, 0), some = LayerInputMoments::forNode(big, 0);
        some->setVectorsPerAdd(32 * 144 / 6);
        for (uint32_t s = 0; s < 6; ++s) {
            const TensorData xs = correlatedInput({1, 16, 48, 48}, 30 + s);
            all->add(xs);
            some->add(xs);
        }
        // 768 per add: step 3, then 4 share factors with the width 48, so 5; phases 0 1 2 3 4 0.
        int64_t expected = 0;
        for (int64_t call = 0; call < 6; ++call) expected += (2304 - call % 5 + 4) / 5;
        QCOMPARE(some->vectors(), expected);
        const TensorData& w = *big.tensors[static_cast<size_t>(big.nodes[0].inputs[1])].data;
        QuantOptions o;
        o.clip = ClipMethod::MinMax;
        for (int bits : {2, 4}) {
            const TensorData nearest = fakeQuantizeWeights(w, 0, bits, o);
            const double en = layerOutputError(big, 0, w, nearest, *all);
            const double ef = layerOutputError(big, 0, w, gptqQuantizeWeights(big, 0, w, bits, o, *all), *all);
            const double eb = layerOutputError(big, 0, w, gptqQuantizeWeights(big, 0, w, bits, o, *some), *all);
            qInfo("%d bits: output error nearest %.4g, GPTQ all vectors %.4g, GPTQ budget %.4g", bits, en, ef, eb);
            QVERIFY2(eb < 0.9 * en, "GPTQ on the budget should still clearly beat nearest rounding");
            QVERIFY2(eb < 1.1 * ef, "GPTQ on the budget should round nearly as well as on every vector");
        }
    }

    void unsupportedLayersHaveNoMoments() {
        Graph g = singleLayer("ConvTranspose", {1, 2, 4, 4}, randomTensor({2, 3, 3, 3}, 3, 0.5f));
        QVERIFY(!LayerInputMoments::forNode(g, 0));
        QCOMPARE(LayerInputMoments::bytesFor(g, 0), int64_t(0));
        Graph gemm = singleLayer("Gemm", {4, 8}, randomTensor({8, 5}, 4, 0.5f), {{"transA", Attribute{int64_t{1}}}});
        QVERIFY(!LayerInputMoments::forNode(gemm, 0));
    }

    void gptqLowersTheOutputErrorOnTheSameGrid_data() {
        QTest::addColumn<QString>("op");
        QTest::newRow("conv 3x3") << "conv";
        QTest::newRow("depthwise 3x3") << "depthwise";
        QTest::newRow("gemm") << "gemm";
        QTest::newRow("gemm transB") << "gemmT";
        QTest::newRow("matmul") << "matmul";
    }
    void gptqLowersTheOutputErrorOnTheSameGrid() {
        QFETCH(QString, op);
        Graph g;
        TensorData x;
        int64_t channels = 0;
        if (op == "conv") {
            g = singleLayer("Conv", {1, 6, 12, 12}, randomTensor({10, 6, 3, 3}, 5, 0.4f),
                            {{"pads", Attribute{std::vector<int64_t>{1, 1, 1, 1}}}});
            x = correlatedInput({1, 6, 12, 12}, 6);
            channels = 10;
        } else if (op == "depthwise") {
            g = singleLayer("Conv", {1, 8, 12, 12}, randomTensor({8, 1, 3, 3}, 7, 3.f),
                            {{"group", Attribute{int64_t{8}}}, {"pads", Attribute{std::vector<int64_t>{1, 1, 1, 1}}}});
            x = correlatedInput({1, 8, 12, 12}, 8);
            channels = 8;
        } else if (op == "gemm") {
            g = singleLayer("Gemm", {64, 24}, randomTensor({24, 12}, 9, 0.3f));
            x = correlatedInput({64, 24}, 10);
            channels = 12;
        } else if (op == "gemmT") {
            g = singleLayer("Gemm", {64, 24}, randomTensor({12, 24}, 11, 0.3f), {{"transB", Attribute{int64_t{1}}}});
            x = correlatedInput({64, 24}, 12);
            channels = 12;
        } else {
            g = singleLayer("MatMul", {2, 32, 24}, randomTensor({24, 12}, 13, 0.3f));
            x = correlatedInput({2, 32, 24}, 14);
            channels = 12;
        }
        auto m = LayerInputMoments::forNode(g, 0);
        QVERIFY(m);
        m->add(x);
        const TensorData& w = *g.tensors[static_cast<size_t>(g.nodes[0].inputs[1])].data;
        const int axis = weightChannelAxis(g.nodes[0], w, 1);
        QuantOptions o;
        o.clip = ClipMethod::MinMax;
        for (int bits : {2, 4, 6, 8}) {
            const TensorData nearest = fakeQuantizeWeights(w, axis, bits, o);
            const TensorData q = gptqQuantizeWeights(g, 0, w, bits, o, *m);
            QCOMPARE(q.shape, w.shape);
            const double en = layerOutputError(g, 0, w, nearest, *m), eq = layerOutputError(g, 0, w, q, *m);
            qInfo("%s %d bits: output error nearest %.4g, GPTQ %.4g", qPrintable(op), bits, en, eq);
            QVERIFY2(eq < en, qPrintable(QString("%1 bits: GPTQ %2 >= nearest %3").arg(bits).arg(eq).arg(en)));
            if (op == "conv" || op == "depthwise") QVERIFY(onGrid(q, w, channels, bits, o));
            if (bits <= 4) QVERIFY2(eq < 0.9 * en, "GPTQ should clearly help at low bit widths on correlated inputs");
        }
    }

    // The calibration's weight error (calibration.h): the centred output error equals the variance
    // of (W_q - W) x over the inputs computed directly, and the diagonal version's E[x_j^2] from
    // first moments of the squared inputs is the diagonal of H.
    void centredAndDiagonalOutputErrors() {
        const Graph g = singleLayer("Gemm", {64, 24}, randomTensor({24, 12}, 9, 0.3f));
        const TensorData x = correlatedInput({64, 24}, 10);
        auto full = LayerInputMoments::forNode(g, 0), mean = LayerInputMoments::meansForNode(g, 0),
             square = LayerInputMoments::meansForNode(g, 0);
        full->add(x);
        mean->add(x);
        square->addSquares(x);  // a Gemm input: through the materialized square
        const TensorData& w = *g.tensors[static_cast<size_t>(g.nodes[0].inputs[1])].data;
        const TensorData q = fakeQuantizeWeights(w, 1, 2, {});
        // Direct: e = (W_q - W)^T x per input row, its per-channel variance summed over channels.
        double direct = 0;
        for (int64_t k = 0; k < 12; ++k) {
            double s1 = 0, s2 = 0;
            for (int64_t v = 0; v < 64; ++v) {
                double e = 0;
                for (int64_t j = 0; j < 24; ++j)
                    e += (double(q.floats[size_t(j * 12 + k)]) - w.floats[size_t(j * 12 + k)]) * x.floats[size_t(v * 24 + j)];
                s1 += e;
                s2 += e * e;
            }
            direct += s2 / 64 - (s1 / 64) * (s1 / 64);
        }
        const double centred = layerOutputError(g, 0, w, q, *full, true), raw = layerOutputError(g, 0, w, q, *full);
        QVERIFY2(std::fabs(centred - direct) <= 1e-4 * direct, qPrintable(QString("%1 vs %2").arg(centred).arg(direct)));
        QVERIFY(centred < raw);  // inputs with a mean (+0.5): the bias absorbs part of the error
        const auto m2 = square->mean();
        for (int64_t j = 0; j < 24; ++j)
            QVERIFY(std::fabs(m2[size_t(j)] - full->moments(0)[size_t(j * 24 + j)] / 64) <= 1e-5 * m2[size_t(j)]);
        // Diagonal against the full H: same order of magnitude for nearest rounding (correlated
        // inputs make the cross terms nonzero, not dominant).
        const double diag = layerOutputErrorDiagonal(g, 0, w, q, mean->mean(), m2, false);
        QVERIFY(diag > 0.3 * raw && diag < 3 * raw);
        QVERIFY(layerOutputErrorDiagonal(g, 0, w, q, mean->mean(), m2, true) < diag);
        QVERIFY_THROWS_EXCEPTION(Error, layerOutputErrorDiagonal(g, 0, w, q, {1.0}, {1.0, 2.0}, true));
    }

    void deadInputsAndSingularMoments() {
        // Channel 1 of the input is always zero: H has a zero row and column.
        Graph g = singleLayer("Conv", {1, 3, 6, 6}, randomTensor({4, 3, 1, 1}, 15, 0.5f));
        TensorData x = correlatedInput({1, 3, 6, 6}, 16);
        for (int64_t i = 36; i < 72; ++i) x.floats[static_cast<size_t>(i)] = 0.f;
        auto m = LayerInputMoments::forNode(g, 0);
        m->add(x);
        const TensorData& w = *g.tensors[static_cast<size_t>(g.nodes[0].inputs[1])].data;
        const TensorData q = gptqQuantizeWeights(g, 0, w, 4, {}, *m);
        for (float v : q.floats) QVERIFY(std::isfinite(v));
        QVERIFY(layerOutputError(g, 0, w, q, *m) <= layerOutputError(g, 0, w, fakeQuantizeWeights(w, 0, 4, {}), *m) + 1e-12);
        // No vectors at all: H = 0 -> nearest rounding, unchanged.
        auto empty = LayerInputMoments::forNode(g, 0);
        const TensorData q0 = gptqQuantizeWeights(g, 0, w, 4, {}, *empty);
        QCOMPARE(q0.floats, fakeQuantizeWeights(w, 0, 4, {}).floats);
    }

    void evaluatorDefaultsToGptqAndItHelpsAtFourBits() {
        // conv(relu) -> depthwise conv(relu) -> conv -> gap -> flatten -> gemm
        Graph g;
        g.opsetVersion = 13;
        const int x = addInput(g, "x", {1, 4, 12, 12});
        const int a = addValue(g, "a"), b = addValue(g, "b"), c = addValue(g, "c"), d = addValue(g, "d"), e = addValue(g, "e"),
                  y = addValue(g, "y");
        Node c1 = makeNode("conv1", "Conv", {x, addWeight(g, "w1", randomTensor({8, 4, 3, 3}, 20, 0.3f))}, {a});
        c1.attrs["pads"] = Attribute{std::vector<int64_t>{1, 1, 1, 1}};
        c1.activation.kind = Activation::Kind::Relu;
        Node c2 = makeNode("dw", "Conv", {a, addWeight(g, "w2", randomTensor({8, 1, 3, 3}, 21, 1.f))}, {b});
        c2.attrs["pads"] = Attribute{std::vector<int64_t>{1, 1, 1, 1}};
        c2.attrs["group"] = Attribute{int64_t{8}};
        c2.activation.kind = Activation::Kind::Relu;
        Node c3 = makeNode("conv3", "Conv", {b, addWeight(g, "w3", randomTensor({8, 8, 1, 1}, 22, 0.4f))}, {c});
        Node gap = makeNode("gap", "GlobalAveragePool", {c}, {d});
        Node flat = makeNode("flatten", "Flatten", {d}, {e});
        Node fc = makeNode("fc", "Gemm", {e, addWeight(g, "wfc", randomTensor({8, 5}, 23, 0.5f))}, {y});
        g.nodes = {c1, c2, c3, gap, flat, fc};
        g.inputs = {x};
        g.outputs = {y};
        g.rebuild();

        EvalData data;
        for (uint32_t s = 0; s < 8; ++s) data.inputs.samples.push_back({correlatedInput({1, 4, 12, 12}, 100 + s)});
        EvalOptions opts;
        QCOMPARE(opts.weightRounding, EvalOptions::WeightRounding::Gptq);
        opts.task = EvalTask::Generic;
        opts.biasCorrection = EvalOptions::BiasCorrection::None;
        const PlanEvaluator gptq(g, data, nullptr, opts);
        EvalOptions nearestOpts = opts;
        nearestOpts.weightRounding = EvalOptions::WeightRounding::Nearest;
        const PlanEvaluator nearest(g, data, nullptr, nearestOpts);
        const int last = static_cast<int>(g.nodes.size()) - 1;
        const PlanBits w4 = PlanBits::uniform(g, last, 4, 32, 32);
        const EvalMetrics mg = gptq.evaluate(w4), mn = nearest.evaluate(w4);
        qInfo("w4 (float activations): relative MSE nearest %.4g, GPTQ %.4g", mn.relativeMse, mg.relativeMse);
        QVERIFY(mg.relativeMse < mn.relativeMse);
        // Float weights (32) never go through GPTQ.
        QCOMPARE(gptq.evaluate(PlanBits::uniform(g, last, 32, 32, 32)).relativeMse, 0.0);
        // Concurrent first evaluations of different plans (GPTQ prepared once, shared) agree with
        // serial ones.
        const PlanEvaluator fresh(g, data, nullptr, opts);
        PlanBits w6 = PlanBits::uniform(g, 2, 6, 8, 8);
        EvalMetrics r4, r6;
        std::thread t1([&] { r4 = fresh.evaluate(w4); });
        std::thread t2([&] { r6 = fresh.evaluate(w6); });
        t1.join();
        t2.join();
        QCOMPARE(r4.relativeMse, mg.relativeMse);
        QCOMPARE(r6.relativeMse, gptq.evaluate(w6).relativeMse);
    }

    // The moment pass runs its samples in parallel on single-threaded executors, each layer
    // adding its samples in pass order: a plan measures the same for any thread count, and a
    // cancelled pass (samples waiting on each other at a layer) ends with Cancelled instead of
    // hanging, leaving the evaluator usable.
    void momentPassIsTheSameForAnyThreadCountAndCancels() {
        Graph g;
        g.opsetVersion = 13;
        const int x = addInput(g, "x", {1, 24, 40, 40});
        const int a = addValue(g, "a"), b = addValue(g, "b"), y = addValue(g, "y");
        Node c1 = makeNode("conv1", "Conv", {x, addWeight(g, "w1", randomTensor({48, 24, 3, 3}, 40, 0.1f))}, {a});
        c1.attrs["pads"] = Attribute{std::vector<int64_t>{1, 1, 1, 1}};
        c1.activation.kind = Activation::Kind::Relu;
        Node c2 = makeNode("conv2", "Conv", {a, addWeight(g, "w2", randomTensor({48, 48, 1, 1}, 41, 0.2f))}, {b});
        c2.activation.kind = Activation::Kind::Relu;
        Node c3 = makeNode("conv3", "Conv", {b, addWeight(g, "w3", randomTensor({8, 48, 3, 3}, 42, 0.1f))}, {y});
        c3.attrs["pads"] = Attribute{std::vector<int64_t>{1, 1, 1, 1}};
        g.nodes = {c1, c2, c3};
        g.inputs = {x};
        g.outputs = {y};
        g.rebuild();
        EvalData data;
        for (uint32_t s = 0; s < 4; ++s) data.inputs.samples.push_back({correlatedInput({1, 24, 40, 40}, 200 + s)});
        for (uint32_t s = 0; s < 32; ++s) data.calibration.samples.push_back({correlatedInput({1, 24, 40, 40}, 300 + s)});
        EvalOptions opts;
        opts.task = EvalTask::Generic;
        opts.biasCorrection = EvalOptions::BiasCorrection::None;
        const PlanBits w4 = PlanBits::uniform(g, 2, 4, 32, 32);
        double first = -1;
        for (int threads : {1, 2, 3}) {
            opts.threads = threads;
            const PlanEvaluator ev(g, data, nullptr, opts);
            const double e = ev.evaluate(w4).relativeMse;
            QCOMPARE(ev.profile().gptqPasses, 1);
            if (first < 0) first = e;
            QCOMPARE(e, first);
        }
        // Cancelled at different points of the first measurement (its moment pass): either it ends
        // first or it throws Cancelled; then the same evaluator measures the plan as before.
        opts.threads = 2;
        int cancelled = 0;
        for (int delayMs : {0, 1, 2, 4, 8, 16}) {
            const PlanEvaluator ev(g, data, nullptr, opts);
            CancelToken cancel;
            std::thread stop([cancel, delayMs]() mutable {
                std::this_thread::sleep_for(std::chrono::milliseconds(delayMs));
                cancel.cancel();
            });
            try {
                ev.evaluate(w4, cancel);
            } catch (const Cancelled&) {
                ++cancelled;
            }
            stop.join();
            QCOMPARE(ev.evaluate(w4).relativeMse, first);
        }
        qInfo("%d of 6 measurements cancelled", cancelled);
        QVERIFY(cancelled > 0);
    }

    void aPlansMeasurementDoesNotDependOnEarlierOnes() {
        // conv (144 input vectors per sample) -> gap -> flatten -> gemm (1 per sample): alone, the
        // conv's moments need 8 of the 16 calibration samples; prepared in one pass with the gemm
        // (which needs all 16) it must still get the same 8, so a plan that quantizes only the
        // conv measures the same on a fresh evaluator as after an Edge-Only measurement (the
        // plan's cached number, its re-measurement and its exported pair then agree).
        Graph g;
        g.opsetVersion = 13;
        const int x = addInput(g, "x", {1, 4, 12, 12});
        const int a = addValue(g, "a", {1, 8, 12, 12}), d = addValue(g, "d", {1, 8, 1, 1}), e = addValue(g, "e", {1, 8}),
                  y = addValue(g, "y", {1, 5});  // static shapes: vectors per sample known
        Node c1 = makeNode("conv1", "Conv", {x, addWeight(g, "w1", randomTensor({8, 4, 3, 3}, 30, 0.3f))}, {a});
        c1.attrs["pads"] = Attribute{std::vector<int64_t>{1, 1, 1, 1}};
        c1.activation.kind = Activation::Kind::Relu;
        Node gap = makeNode("gap", "GlobalAveragePool", {a}, {d});
        Node flat = makeNode("flatten", "Flatten", {d}, {e});
        Node fc = makeNode("fc", "Gemm", {e, addWeight(g, "wfc", randomTensor({8, 5}, 31, 0.5f))}, {y});
        g.nodes = {c1, gap, flat, fc};
        g.inputs = {x};
        g.outputs = {y};
        g.rebuild();
        EvalData data;
        for (uint32_t s = 0; s < 16; ++s) data.calibration.samples.push_back({correlatedInput({1, 4, 12, 12}, 200 + s)});
        for (uint32_t s = 0; s < 6; ++s) data.inputs.samples.push_back({correlatedInput({1, 4, 12, 12}, 300 + s)});
        EvalOptions opts;
        opts.task = EvalTask::Generic;
        opts.biasCorrection = EvalOptions::BiasCorrection::None;
        opts.gptqMinSamples = 2;  // the ladder 2, 4, 8, 16: the conv needs 1152 / 144 = 8
        const PlanBits convOnly = PlanBits::uniform(g, 0, 4, 32, 32);
        const PlanBits edgeOnly = PlanBits::uniform(g, 3, 4, 32, 32);
        const PlanEvaluator fresh(g, data, nullptr, opts), used(g, data, nullptr, opts);
        QVERIFY(used.evaluate(edgeOnly).relativeMse > 0);
        const double after = used.evaluate(convOnly).relativeMse, alone = fresh.evaluate(convOnly).relativeMse;
        qInfo("after Edge-Only %.17g, alone %.17g; GPTQ samples %lld / %lld", after, alone,
              static_cast<long long>(used.profile().gptqSamples), static_cast<long long>(fresh.profile().gptqSamples));
        QVERIFY(alone > 0);
        QCOMPARE(after, alone);
    }
};

QTEST_GUILESS_MAIN(GptqTest)
#include "tst_exec_gptq.moc"
