// Layer sizes/MACs, the schedule, edge memory and split enumeration on small DAGs whose answers
// are computed by hand.
#include "onnx_builder.h"

#include "autosplit/ir/analysis.h"
#include "autosplit/onnx/import.h"
#include "autosplit/passes/optimize.h"
#include "autosplit/util/errors.h"

#include <QtTest>

using namespace autosplit;
using namespace autosplit::testing;

namespace {

Graph load(const ModelBuilder& b) { return importOnnxFromMemory(b.bytes(), "test.onnx"); }

std::vector<std::string> names(const Graph& g, const std::vector<int>& tensors) {
    std::vector<std::string> out;
    for (int t : tensors) out.push_back(g.tensors[t].name);
    return out;
}

const LayerInfo& layer(const ModelAnalysis& a, const std::string& name) {
    for (const auto& L : a.layers)
        if (L.name == name) return L;
    throw std::runtime_error("no layer " + name);
}

}  // namespace

class TestAnalysis : public QObject {
    Q_OBJECT
private slots:
    void convCounts_data() {
        QTest::addColumn<int>("group");
        QTest::addColumn<int>("stride");
        QTest::addColumn<qlonglong>("macs");
        // in 1x8x10x10, 16 filters 3x3, pad 1: out 10x10 (stride 1) or 5x5 (stride 2)
        QTest::addRow("dense") << 1 << 1 << qlonglong(16LL * 10 * 10 * 8 * 9);
        QTest::addRow("strided") << 1 << 2 << qlonglong(16LL * 5 * 5 * 8 * 9);
        QTest::addRow("grouped") << 4 << 1 << qlonglong(16LL * 10 * 10 * 2 * 9);
        QTest::addRow("depthwise-like") << 8 << 1 << qlonglong(16LL * 10 * 10 * 1 * 9);
    }
    void convCounts() {
        QFETCH(int, group);
        QFETCH(int, stride);
        QFETCH(qlonglong, macs);
        ModelBuilder b;
        b.input("x", {1, 8, 10, 10});
        b.initializer("w", {16, 8 / group, 3, 3}, randomValues(size_t(16 * 8 / group * 9), 4));
        b.initializer("b", {16}, randomValues(16, 5));
        b.node("Conv", {"x", "w", "b"}, {"y"},
               {Attr::list("pads", {1, 1, 1, 1}), Attr::list("strides", {stride, stride}), Attr::integer("group", group)},
               "conv");
        b.output("y");
        const ModelAnalysis a = analyze(load(b));
        const LayerInfo& L = a.layers[0];
        QCOMPARE(L.kind, LayerKind::Conv);
        QCOMPARE(L.macs, int64_t(macs));
        QCOMPARE(L.weights, int64_t(16 * 8 / group * 9 + 16));
        QCOMPARE(L.weightBiasElements, int64_t(16));
        QCOMPARE(L.inputElements, int64_t(800));
        const int64_t out = 10 / stride;
        QCOMPARE(L.activations, 16 * out * out);
        QCOMPARE(L.geometry.groups, int64_t(group));
        QCOMPARE(L.geometry.H, int64_t(12));  // padded
        QCOMPARE(L.geometry.R, int64_t(3));
        QCOMPARE(L.geometry.C, int64_t(8 / group));
        QCOMPARE(L.geometry.K, int64_t(16 / group));
        QCOMPARE(L.geometry.E, out);
        QCOMPARE(L.geometry.strideH, int64_t(stride));
        QCOMPARE(a.weightLayers, 1);
        QCOMPARE(a.parameters, L.weights);
    }

    void gemmAndMatMul() {
        ModelBuilder b;
        b.input("x", {2, 3, 5});
        b.initializer("wm", {5, 7}, randomValues(35, 6));
        b.initializer("wg", {4, 21}, randomValues(84, 7));
        b.initializerInts("shape", {2}, {2, 21});
        b.node("MatMul", {"x", "wm"}, {"m"}, {}, "matmul");  // [2,3,7]
        b.node("Reshape", {"m", "shape"}, {"r"}, {}, "reshape");
        b.node("Gemm", {"r", "wg"}, {"y"}, {Attr::integer("transB", 1)}, "gemm");  // [2,4]
        b.node("Transpose", {"m"}, {"m_t"}, {Attr::list("perm", {0, 2, 1})}, "transpose");
        b.node("MatMul", {"m", "m_t"}, {"att"}, {}, "attention");
        b.output("y").output("att");
        const Graph g = load(b);
        const ModelAnalysis a = analyze(g);
        const auto& mm = layer(a, "matmul");
        QCOMPARE(mm.kind, LayerKind::Gemm);
        QCOMPARE(mm.macs, int64_t(2 * 3 * 7 * 5));
        QCOMPARE(mm.geometry.E, int64_t(6));  // batch rows share one weight matrix
        QCOMPARE(mm.geometry.C, int64_t(5));
        QCOMPARE(mm.geometry.K, int64_t(7));
        const auto& gemm = layer(a, "gemm");
        QCOMPARE(gemm.macs, int64_t(2 * 4 * 21));
        QCOMPARE(gemm.geometry.K, int64_t(4));
        const auto& att = layer(a, "attention");
        QCOMPARE(att.kind, LayerKind::MatMul);  // two activations: no weights
        QCOMPARE(att.macs, int64_t(2 * 3 * 3 * 7));
        QCOMPARE(att.geometry.batch, int64_t(2));
        QCOMPARE(a.weightLayers, 2);
    }

    // x -> a -> b -> add(b, x) -> c : the skip connection keeps x alive and crossing.
    void splitsOfSkipConnection() {
        ModelBuilder b;
        b.input("x", {1, 10});
        b.node("Relu", {"x"}, {"a"}, {}, "A");
        b.node("Sigmoid", {"a"}, {"b"}, {}, "B");
        b.node("Add", {"b", "x"}, {"s"}, {}, "S");
        b.node("Tanh", {"s"}, {"y"}, {}, "T");
        b.output("y");
        const Graph g = load(b);
        const auto splits = enumerateSplits(g);
        QCOMPARE(splits.size(), size_t(5));
        QCOMPARE(splits[0].position, -1);
        QCOMPARE(names(g, splits[0].transmitted), std::vector<std::string>{"x"});
        QCOMPARE(names(g, splits[1].transmitted), (std::vector<std::string>{"x", "a"}));
        QCOMPARE(splits[1].transmittedElements, int64_t(20));
        QCOMPARE(names(g, splits[2].transmitted), (std::vector<std::string>{"x", "b"}));
        QCOMPARE(names(g, splits[3].transmitted), std::vector<std::string>{"s"});
        QVERIFY(splits[4].transmitted.empty());  // Edge-Only: the output stays on the edge
        QCOMPARE(splits[2].afterNode, std::string("B"));
        QCOMPARE(rawInputElements(g), int64_t(10));
        // Working set: step A holds x,a (20); B holds x,a,b (30); S holds x,b,s (30); T holds s,y (20)
        QCOMPARE(splits[1].edgePeakActivationElements, int64_t(20));
        QCOMPARE(splits[2].edgePeakActivationElements, int64_t(30));
        QCOMPARE(splits[4].edgePeakActivationElements, int64_t(30));
        const auto mem = edgeMemory(g, PlanBits::uniform(g, 2, 8, 4, 8));
        // x at 8 bits, a and b at 4 bits: 80 + 40 + 40
        QCOMPARE(mem.peakActivationBits, int64_t(160));
        QCOMPARE(edgeMemory(g, PlanBits::uniform(g, -1, 8, 8)).peakActivationBits, int64_t(0));
    }

    void graphOutputOnEdgeAlsoNeededByCloud() {
        // y1 is a graph output produced early and also consumed later: it must be sent.
        ModelBuilder b;
        b.input("x", {1, 4});
        b.node("Relu", {"x"}, {"y1"}, {}, "A");
        b.node("Sigmoid", {"y1"}, {"y2"}, {}, "B");
        b.output("y1").output("y2");
        const Graph g = load(b);
        const auto splits = enumerateSplits(g);
        QCOMPARE(names(g, splits[1].transmitted), std::vector<std::string>{"y1"});
        QVERIFY(splits[2].transmitted.empty());
    }

    void depthFirstScheduleFinishesBranches() {
        // Two branches listed interleaved in the file: the schedule finishes one before the other.
        ModelBuilder b;
        b.input("x", {1, 4});
        b.node("Relu", {"x"}, {"l1"}, {}, "left1");
        b.node("Sigmoid", {"x"}, {"r1"}, {}, "right1");
        b.node("Relu", {"l1"}, {"l2"}, {}, "left2");
        b.node("Sigmoid", {"r1"}, {"r2"}, {}, "right2");
        b.node("Concat", {"l2", "r2"}, {"y"}, {Attr::integer("axis", 1)}, "concat");
        b.output("y");
        const Graph g = load(b);
        std::vector<std::string> order;
        for (const auto& n : g.nodes) order.push_back(n.name);
        QCOMPARE(order, (std::vector<std::string>{"left1", "left2", "right1", "right2", "concat"}));
        // So after left2 only l2 and x cross, never two half-finished branches.
        const auto splits = enumerateSplits(g);
        QCOMPARE(names(g, splits[2].transmitted), (std::vector<std::string>{"x", "l2"}));
    }

    void poolingWindows() {
        ModelBuilder b;
        b.input("x", {1, 8, 13, 13});
        b.node("MaxPool", {"x"}, {"p"},
               {Attr::list("kernel_shape", {5, 5}), Attr::list("strides", {1, 1}), Attr::list("pads", {2, 2, 2, 2})},
               "pool");
        b.node("GlobalAveragePool", {"p"}, {"y"}, {}, "gap");
        b.output("y");
        const ModelAnalysis a = analyze(load(b));
        const auto& pool = layer(a, "pool").geometry;
        QCOMPARE(pool.R * pool.S, int64_t(25));
        QCOMPARE(pool.E * pool.F, int64_t(13 * 13));
        QCOMPARE(pool.C, int64_t(8));
        const auto& gap = layer(a, "gap").geometry;
        QCOMPARE(gap.R * gap.S, int64_t(13 * 13));
        QCOMPARE(layer(a, "pool").macs, int64_t(0));  // no MACs: vector-unit work
        QCOMPARE(a.weightLayers, 0);
    }

    void unknownShapeIsNamed() {
        ModelBuilder b;
        b.input("x", {1, 4});
        b.node("Mystery", {"x"}, {"m"}, {}, "mystery", "com.example");
        b.node("Relu", {"m"}, {"y"}, {}, "relu");
        b.output("y");
        const Graph g = load(b);
        try {
            analyze(g);
            QFAIL("expected ShapeError");
        } catch (const ShapeError& e) {
            QVERIFY2(QString(e.what()).contains("'m'") && QString(e.what()).contains("mystery"), e.what());
        }
    }
};

QTEST_GUILESS_MAIN(TestAnalysis)
#include "tst_analysis.moc"
