// Graph optimizations: each pass on a hand-built graph whose result is worked out by hand.
#include "onnx_builder.h"

#include "autosplit/exec/executor.h"
#include "autosplit/ir/analysis.h"
#include "autosplit/onnx/import.h"
#include "autosplit/passes/optimize.h"

#include <QtTest>

#include <cmath>

using namespace autosplit;
using namespace autosplit::testing;

namespace {

Graph load(const ModelBuilder& b) { return importOnnxFromMemory(b.bytes(), "test.onnx"); }

const std::vector<float>& floatsOf(const Graph& g, int tensor) { return g.tensors[tensor].data->floats; }

int countOp(const Graph& g, const std::string& op) {
    int n = 0;
    for (const auto& node : g.nodes) n += node.op == op;
    return n;
}

// BN parameters for C channels with values chosen so every channel differs.
void addBn(ModelBuilder& b, const std::string& prefix, int C) {
    std::vector<float> gamma, beta, mean, var;
    for (int c = 0; c < C; ++c) {
        gamma.push_back(0.5f + c);
        beta.push_back(0.25f * c - 0.5f);
        mean.push_back(0.1f * c);
        var.push_back(1.0f + c);
    }
    b.initializer(prefix + "_g", {C}, gamma).initializer(prefix + "_b", {C}, beta);
    b.initializer(prefix + "_m", {C}, mean).initializer(prefix + "_v", {C}, var);
}

}  // namespace

class TestPasses : public QObject {
    Q_OBJECT
private slots:
    void foldBatchNormIntoConv() {
        // 1x1 conv, 2 in, 2 out: W = [[1,2],[3,4]], bias [0.5, -1]; BN eps 0.
        ModelBuilder b;
        b.input("x", {1, 2, 3, 3});
        b.initializer("w", {2, 2, 1, 1}, {1, 2, 3, 4}).initializer("bias", {2}, {0.5f, -1.f});
        addBn(b, "bn", 2);
        b.node("Conv", {"x", "w", "bias"}, {"c"}, {}, "conv");
        b.node("BatchNormalization", {"c", "bn_g", "bn_b", "bn_m", "bn_v"}, {"y"}, {Attr::real("epsilon", 0.f)}, "bn");
        b.output("y");
        Graph g = load(b);
        QCOMPARE(foldBatchNorm(g), 1);
        QCOMPARE(g.nodes.size(), size_t(1));
        const Node& conv = g.nodes[0];
        QCOMPARE(g.tensors[conv.outputs[0]].name, std::string("y"));
        QCOMPARE(conv.fusedFrom, std::vector<std::string>{"bn"});
        // s_c = gamma / sqrt(var); W' = W * s; b' = (b - mean) * s + beta
        const float s0 = 0.5f / 1.f, s1 = 1.5f / std::sqrt(2.f);
        const auto& w = floatsOf(g, conv.inputs[1]);
        QCOMPARE(w, (std::vector<float>{1 * s0, 2 * s0, 3 * s1, 4 * s1}));
        const auto& bias = floatsOf(g, conv.inputs[2]);
        QVERIFY(std::fabs(bias[0] - ((0.5f - 0.f) * s0 - 0.5f)) < 1e-6f);
        QVERIFY(std::fabs(bias[1] - ((-1.f - 0.1f) * s1 - 0.25f)) < 1e-6f);
    }

    void foldBatchNormIntoGemm_data() {
        QTest::addColumn<bool>("transB");
        QTest::addRow("transB=0") << false;
        QTest::addRow("transB=1") << true;
    }
    void foldBatchNormIntoGemm() {
        QFETCH(bool, transB);
        // A[1,3] x B -> [1,2]; alpha 2 must be folded into the weights.
        ModelBuilder b;
        b.input("a", {1, 3});
        const std::vector<float> bw = {1, 2, 3, 4, 5, 6};
        b.initializer("B", transB ? std::vector<int64_t>{2, 3} : std::vector<int64_t>{3, 2}, bw);
        b.initializer("C", {2}, {1.f, 2.f});
        addBn(b, "bn", 2);
        b.node("Gemm", {"a", "B", "C"}, {"g"}, {Attr::integer("transB", transB), Attr::real("alpha", 2.f)}, "gemm");
        b.node("BatchNormalization", {"g", "bn_g", "bn_b", "bn_m", "bn_v"}, {"y"}, {Attr::real("epsilon", 0.f)}, "bn");
        b.output("y");
        Graph g = load(b);
        QCOMPARE(foldBatchNorm(g), 1);
        const Node& gemm = g.nodes[0];
        QCOMPARE(gemm.attrFloat("alpha", 0), 1.f);
        const float s[2] = {0.5f, 1.5f / std::sqrt(2.f)};
        const auto& w = floatsOf(g, gemm.inputs[1]);
        for (int k = 0; k < 3; ++k)
            for (int n = 0; n < 2; ++n) {
                const int idx = transB ? n * 3 + k : k * 2 + n;
                QVERIFY(std::fabs(w[idx] - bw[idx] * 2.f * s[n]) < 1e-6f);
            }
    }

    void batchNormWithSharedInputStays() {
        ModelBuilder b;
        b.input("x", {1, 2, 3, 3});
        b.initializer("w", {2, 2, 1, 1}, {1, 2, 3, 4});
        addBn(b, "bn", 2);
        b.node("Conv", {"x", "w"}, {"c"}, {}, "conv");
        b.node("BatchNormalization", {"c", "bn_g", "bn_b", "bn_m", "bn_v"}, {"y"}, {}, "bn");
        b.node("Relu", {"c"}, {"z"}, {}, "other_user");  // the raw conv output is needed too
        b.output("y").output("z");
        Graph g = load(b);
        QCOMPARE(foldBatchNorm(g), 0);
        QCOMPARE(countOp(g, "BatchNormalization"), 1);
    }

    void foldAffineChain() {
        // Conv -> Mul(scalar 2) -> Add([1,C,1,1]) -> Relu: Paddle's learnable affine block.
        ModelBuilder b;
        b.input("x", {1, 1, 2, 2});
        b.initializer("w", {2, 1, 1, 1}, {1, 3}).initializer("s", {1}, {2.f});
        b.initializer("t", {1, 2, 1, 1}, {10.f, 20.f});
        b.node("Conv", {"x", "w"}, {"c"}, {}, "conv");
        b.node("Mul", {"c", "s"}, {"m"}, {}, "scale");
        b.node("Add", {"t", "m"}, {"a"}, {}, "shift");  // constant first: either operand order
        b.node("Relu", {"a"}, {"y"}, {}, "relu");
        b.output("y");
        Graph g = load(b);
        const auto report = optimize(g);
        QCOMPARE(g.nodes.size(), size_t(1));
        QCOMPARE(report.nodesBefore, 4);
        QCOMPARE(report.nodesAfter, 1);
        const Node& conv = g.nodes[0];
        QCOMPARE(conv.activation.kind, Activation::Kind::Relu);
        QCOMPARE(floatsOf(g, conv.inputs[1]), (std::vector<float>{2, 6}));
        QCOMPARE(floatsOf(g, conv.inputs[2]), (std::vector<float>{10, 20}));
    }

    void affineThatBroadcastsTheOutputIsKept() {
        ModelBuilder b;
        b.input("x", {1, 1, 2, 2});
        b.initializer("w", {2, 1, 1, 1}, {1, 3}).initializer("t", {1, 1, 2, 2}, {1, 2, 3, 4});
        b.node("Conv", {"x", "w"}, {"c"}, {}, "conv");
        b.node("Add", {"c", "t"}, {"y"}, {}, "spatial_add");  // varies over space: not a bias
        b.output("y");
        Graph g = load(b);
        QCOMPARE(foldAffine(g), 0);
    }

    void fuseSimpleActivations_data() {
        QTest::addColumn<QString>("op");
        QTest::addColumn<int>("opset");
        QTest::addColumn<int>("kind");
        QTest::addColumn<float>("probeIn");
        QTest::addColumn<float>("probeOut");
        using K = Activation::Kind;
        QTest::addRow("Relu") << "Relu" << 13 << int(K::Relu) << -2.f << 0.f;
        QTest::addRow("LeakyRelu") << "LeakyRelu" << 13 << int(K::LeakyRelu) << -2.f << -0.2f;
        QTest::addRow("Clip opset 13") << "Clip" << 13 << int(K::Clip) << 7.f << 6.f;
        QTest::addRow("Clip opset 9 attrs") << "Clip" << 9 << int(K::Clip) << 7.f << 6.f;
        QTest::addRow("HardSigmoid") << "HardSigmoid" << 13 << int(K::HardSigmoid) << 1.f << 0.7f;
        QTest::addRow("HardSwish") << "HardSwish" << 14 << int(K::HardSwish) << 1.f << 1.f * (1.f / 6.f + 0.5f);
        QTest::addRow("Sigmoid") << "Sigmoid" << 13 << int(K::Sigmoid) << 0.f << 0.5f;
    }
    void fuseSimpleActivations() {
        QFETCH(QString, op);
        QFETCH(int, opset);
        QFETCH(int, kind);
        QFETCH(float, probeIn);
        QFETCH(float, probeOut);
        ModelBuilder b(opset);
        b.input("x", {1, 2, 3, 3});
        b.initializer("w", {2, 2, 1, 1}, {1, 2, 3, 4});
        b.node("Conv", {"x", "w"}, {"c"}, {}, "conv");
        std::vector<std::string> ins{"c"};
        std::vector<Attr> attrs;
        if (op == "LeakyRelu") attrs.push_back(Attr::real("alpha", 0.1f));
        if (op == "Clip" && opset < 11) attrs = {Attr::real("min", 0.f), Attr::real("max", 6.f)};
        if (op == "Clip" && opset >= 11) {
            b.initializer("lo", {}, {0.f}).initializer("hi", {}, {6.f});
            ins = {"c", "lo", "hi"};
        }
        b.node(op.toStdString(), ins, {"y"}, attrs, "act");
        b.output("y");
        Graph g = load(b);
        QCOMPARE(fuseActivations(g), 1);
        QCOMPARE(g.nodes.size(), size_t(1));
        QCOMPARE(int(g.nodes[0].activation.kind), kind);
        QVERIFY(std::fabs(g.nodes[0].activation.apply(probeIn) - probeOut) < 1e-6f);
        QCOMPARE(g.tensors[g.nodes[0].outputs[0]].name, std::string("y"));
    }

    void fuseSwishPatterns_data() {
        QTest::addColumn<QString>("gate");
        QTest::addColumn<int>("kind");
        QTest::addRow("x*sigmoid(x)") << "Sigmoid" << int(Activation::Kind::Swish);
        QTest::addRow("x*hardsigmoid(x)") << "HardSigmoid" << int(Activation::Kind::HardSwishMul);
    }
    void fuseSwishPatterns() {
        QFETCH(QString, gate);
        QFETCH(int, kind);
        ModelBuilder b;
        b.input("x", {1, 2, 3, 3});
        b.initializer("w", {2, 2, 1, 1}, {1, 2, 3, 4});
        b.node("Conv", {"x", "w"}, {"c"}, {}, "conv");
        b.node(gate.toStdString(), {"c"}, {"s"}, {}, "gate");
        b.node("Mul", {"s", "c"}, {"y"}, {}, "mul");
        b.output("y");
        Graph g = load(b);
        QCOMPARE(fuseActivations(g), 1);
        QCOMPARE(g.nodes.size(), size_t(1));
        QCOMPARE(int(g.nodes[0].activation.kind), kind);
    }

    void fuseDecomposedHardSwish_data() {
        QTest::addColumn<bool>("scaleFirst");
        QTest::addRow("x*relu6(x+3)/6") << false;
        QTest::addRow("x*(relu6(x+3)/6)") << true;
    }
    void fuseDecomposedHardSwish() {
        QFETCH(bool, scaleFirst);
        ModelBuilder b(11);
        b.input("x", {1, 2, 3, 3});
        b.initializer("w", {2, 2, 1, 1}, {1, 2, 3, 4});
        b.initializer("three", {}, {3.f}).initializer("zero", {}, {0.f}).initializer("six", {}, {6.f});
        b.node("Conv", {"x", "w"}, {"c"}, {}, "conv");
        b.node("Add", {"c", "three"}, {"a"}, {}, "add3");
        b.node("Clip", {"a", "zero", "six"}, {"r"}, {}, "relu6");
        if (scaleFirst) {
            b.node("Div", {"r", "six"}, {"d"}, {}, "div6");
            b.node("Mul", {"c", "d"}, {"y"}, {}, "mulx");
        } else {
            b.node("Mul", {"c", "r"}, {"m"}, {}, "mulx");
            b.node("Div", {"m", "six"}, {"y"}, {}, "div6");
        }
        b.output("y");
        Graph g = load(b);
        QCOMPARE(fuseActivations(g), 1);
        QCOMPARE(g.nodes.size(), size_t(1));
        QCOMPARE(g.nodes[0].activation.kind, Activation::Kind::HardSwish);
        QCOMPARE(g.nodes[0].fusedFrom.size(), size_t(4));
        QCOMPARE(g.tensors[g.nodes[0].outputs[0]].name, std::string("y"));
    }

    void noFusionWhenPreActivationIsShared() {
        ModelBuilder b;
        b.input("x", {1, 2, 3, 3});
        b.initializer("w", {2, 2, 1, 1}, {1, 2, 3, 4});
        b.node("Conv", {"x", "w"}, {"c"}, {}, "conv");
        b.node("Relu", {"c"}, {"r"}, {}, "relu");
        b.node("Add", {"c", "r"}, {"y"}, {}, "skip");  // the pre-activation value is used again
        b.output("y");
        Graph g = load(b);
        QCOMPARE(fuseActivations(g), 0);
        QCOMPARE(countOp(g, "Relu"), 1);
    }

    void removeIdentityAndDropout() {
        ModelBuilder b;
        b.input("x", {1, 4});
        b.node("Identity", {"x"}, {"i"}, {}, "id");
        b.node("Dropout", {"i"}, {"d"}, {}, "drop");
        b.node("Relu", {"d"}, {"y"}, {}, "relu");
        b.node("Identity", {"y"}, {"out"}, {}, "id_out");  // names a graph output: kept
        b.output("out");
        Graph g = load(b);
        QCOMPARE(removeIdentities(g), 2);
        QCOMPARE(g.nodes.size(), size_t(2));
        QCOMPARE(g.tensors[g.nodes[0].inputs[0]].name, std::string("x"));
    }

    void foldShapeSubgraph() {
        // PyTorch's flatten: Shape -> Gather(0) -> Unsqueeze -> Concat(-1) -> Reshape.
        ModelBuilder b;
        b.input("x", {2, 3, 4, 5});
        b.initializerInts("zero", {}, {0}).initializerInts("axes", {1}, {0}).initializerInts("minus1", {1}, {-1});
        b.node("Shape", {"x"}, {"s"}, {}, "shape");
        b.node("Gather", {"s", "zero"}, {"n"}, {Attr::integer("axis", 0)}, "gather");
        b.node("Unsqueeze", {"n", "axes"}, {"n1"}, {}, "unsq");
        b.node("Concat", {"n1", "minus1"}, {"target"}, {Attr::integer("axis", 0)}, "concat");
        b.node("Reshape", {"x", "target"}, {"y"}, {}, "reshape");
        b.output("y");
        Graph g = load(b);
        optimize(g);
        QCOMPARE(g.nodes.size(), size_t(1));
        QCOMPARE(g.nodes[0].op, std::string("Reshape"));
        const Tensor& target = g.tensors[g.nodes[0].inputs[1]];
        QVERIFY(target.isWeight());
        QCOMPARE(target.data->ints, (std::vector<int64_t>{2, -1}));
        QCOMPARE(g.tensors[g.nodes[0].outputs[0]].shape, (std::vector<int64_t>{2, 60}));
    }

    void foldReversedPadsSlice() {
        // torch's ZeroPad2d export reverses pads with Slice(step -1) and Transpose.
        ModelBuilder b;
        b.input("x", {1, 1, 2, 2});
        b.initializerInts("p", {4, 2}, {0, 1, 2, 3, 4, 5, 6, 7});
        b.initializerInts("st", {1}, {-1}).initializerInts("en", {1}, {-9223372036854775807LL});
        b.initializerInts("ax", {1}, {0}).initializerInts("sp", {1}, {-1});
        b.node("Slice", {"p", "st", "en", "ax", "sp"}, {"rev"}, {}, "slice");
        b.node("Transpose", {"rev"}, {"tr"}, {Attr::list("perm", {1, 0})}, "transpose");
        b.output("tr");
        Graph g = load(b);
        QCOMPARE(g.nodes.size(), size_t(2));
        // Graph outputs keep their producing node, so fold the Slice only and check its value.
        QCOMPARE(foldConstants(g), 1);
        const Tensor& rev = g.tensors[g.nodes[0].inputs[0]];
        QCOMPARE(rev.data->ints, (std::vector<int64_t>{6, 7, 4, 5, 2, 3, 0, 1}));
        QCOMPARE(rev.data->shape, (std::vector<int64_t>{4, 2}));
    }

    void foldClassTokenExpandChain() {
        // torch's cls_token.expand(x.shape[0], -1, -1): the target shape goes through
        // Shape -> ConstantOfShape -> Equal -> Where before the Expand. ONNX shape inference stops
        // at ConstantOfShape; folding through the kernels makes every shape static.
        ModelBuilder b;
        b.input("x", {1, 5, 8});
        b.initializer("cls", {1, 1, 8}, randomValues(8, 4));
        b.initializerInts("zero", {}, {0}).initializerInts("axes", {1}, {0}).initializerInts("minus1", {1}, {-1});
        b.initializerInts("one", {1}, {1});
        b.node("Shape", {"x"}, {"xs"}, {}, "shape");
        b.node("Gather", {"xs", "zero"}, {"batch"}, {Attr::integer("axis", 0)}, "gather");
        b.node("Unsqueeze", {"batch", "axes"}, {"batch1"}, {}, "unsqueeze");
        b.node("Concat", {"batch1", "minus1", "minus1"}, {"target"}, {Attr::integer("axis", 0)}, "concat");
        b.node("Shape", {"target"}, {"rank"}, {}, "shape_of_target");
        b.node("ConstantOfShape", {"rank"}, {"zeros"}, {}, "constant_of_shape");
        b.node("Cast", {"zeros"}, {"zeros_i"}, {Attr::integer("to", 7)}, "cast");
        b.node("Sub", {"zeros_i", "one"}, {"minus_ones"}, {}, "sub");
        b.node("Equal", {"target", "minus_ones"}, {"is_minus"}, {}, "equal");
        b.node("Where", {"is_minus", "one", "target"}, {"expand_to"}, {}, "where");
        b.node("Expand", {"cls", "expand_to"}, {"tokens"}, {}, "expand");
        b.node("Concat", {"tokens", "x"}, {"y"}, {Attr::integer("axis", 1)}, "concat_tokens");
        b.output("y");
        Graph raw = load(b);
        QVERIFY(!raw.tensors[raw.findTensor("tokens")].shapeKnown);  // what shape inference alone gives
        Graph g = load(b);
        const OptimizeReport r = optimize(g);
        QVERIFY2(r.warnings.empty(), r.warnings.empty() ? "" : r.warnings[0].c_str());
        QCOMPARE(g.nodes.size(), size_t(1));  // the whole chain is a weight now
        QCOMPARE(g.nodes[0].op, std::string("Concat"));
        const Tensor& tokens = g.tensors[g.nodes[0].inputs[0]];
        QVERIFY(tokens.isWeight());
        QCOMPARE(tokens.shape, (std::vector<int64_t>{1, 1, 8}));
        QCOMPARE(tokens.data->floats, randomValues(8, 4));
        for (const Tensor& t : g.tensors) QVERIFY2(t.shapeKnown, t.name.c_str());
        QCOMPARE(g.tensors[g.outputs[0]].shape, (std::vector<int64_t>{1, 6, 8}));
        // The folded graph computes what the raw one does (whose Where/Equal/Expand run at run time).
        TensorData x{DType::Float32, {1, 5, 8}, randomValues(40, 5), {}};
        QCOMPARE(Executor(g)({x})[0].floats, Executor(raw)({x})[0].floats);
    }

    void unresolvedShapeNamesTheOp() {
        // An Expand whose target shape comes from the input's values: no static shape exists,
        // and the report says which op and why rather than asking for input dims.
        ModelBuilder b;
        b.input("x", {3});
        b.initializer("c", {1}, {2.f});
        b.node("Cast", {"x"}, {"dims"}, {Attr::integer("to", 7)}, "cast");
        b.node("Expand", {"c", "dims"}, {"e"}, {}, "the_expand");
        b.node("Relu", {"e"}, {"y"}, {}, "relu");
        b.output("y");
        Graph g = load(b);
        const OptimizeReport r = optimize(g);
        QCOMPARE(r.warnings.size(), size_t(1));
        const QString w = QString::fromStdString(r.warnings[0]);
        QVERIFY2(w.contains("'the_expand', Expand") && w.contains("'dims'") && w.contains("'cast', Cast") &&
                     w.contains("input data"),
                 qPrintable(w));
        // With an unbound input dim the dims are the explanation: no note.
        ModelBuilder d;
        d.input("x", {-1});
        d.initializer("c", {1}, {2.f});
        d.node("Cast", {"x"}, {"dims"}, {Attr::integer("to", 7)}, "cast");
        d.node("Expand", {"c", "dims"}, {"y"}, {}, "the_expand");
        d.output("y");
        ImportOptions lax;
        lax.requireShapes = false;
        Graph dynamic = importOnnxFromMemory(d.bytes(), "dynamic.onnx", lax);
        QVERIFY(optimize(dynamic).warnings.empty());
    }

    void foldsAnyOpWithConstantInputs() {
        // Ops beyond the shape family fold too, through the same kernels the executor runs:
        // Sqrt(Pow(w, 2)) == |w|, and a constant MatMul.
        ModelBuilder b;
        b.input("x", {2, 2});
        b.initializer("w", {2, 2}, {-1.f, 2.f, -3.f, 4.f}).initializer("two", {}, {2.f});
        b.initializer("m", {2, 2}, {1.f, 0.f, 1.f, 1.f});
        b.node("Pow", {"w", "two"}, {"w2"}, {}, "pow");
        b.node("Sqrt", {"w2"}, {"absw"}, {}, "sqrt");
        b.node("MatMul", {"absw", "m"}, {"k"}, {}, "matmul");
        b.node("Mul", {"x", "k"}, {"y"}, {}, "mul");
        b.output("y");
        Graph g = load(b);
        QCOMPARE(foldConstants(g), 3);
        QCOMPARE(g.nodes.size(), size_t(1));
        QCOMPARE(g.tensors[g.nodes[0].inputs[1]].data->floats, (std::vector<float>{3.f, 2.f, 7.f, 4.f}));
    }

    void optimizeKeepsMacsOfResNetStyleBlock() {
        // conv-bn-relu-conv-bn + skip -> relu: folding must not change the layer MACs.
        ModelBuilder b;
        b.input("x", {1, 4, 6, 6});
        b.initializer("w1", {4, 4, 3, 3}, randomValues(144, 2)).initializer("w2", {4, 4, 3, 3}, randomValues(144, 3));
        addBn(b, "bn1", 4);
        addBn(b, "bn2", 4);
        const std::vector<Attr> pad{Attr::list("pads", {1, 1, 1, 1})};
        b.node("Conv", {"x", "w1"}, {"c1"}, pad, "conv1");
        b.node("BatchNormalization", {"c1", "bn1_g", "bn1_b", "bn1_m", "bn1_v"}, {"b1"}, {}, "bn1");
        b.node("Relu", {"b1"}, {"r1"}, {}, "relu1");
        b.node("Conv", {"r1", "w2"}, {"c2"}, pad, "conv2");
        b.node("BatchNormalization", {"c2", "bn2_g", "bn2_b", "bn2_m", "bn2_v"}, {"b2"}, {}, "bn2");
        b.node("Add", {"b2", "x"}, {"s"}, {}, "skip");
        b.node("Relu", {"s"}, {"y"}, {}, "relu2");
        b.output("y");
        Graph g = load(b);
        const int64_t macsBefore = analyze(g).macs;
        optimize(g);
        QCOMPARE(g.nodes.size(), size_t(3));
        QCOMPARE(countOp(g, "BatchNormalization"), 0);
        QCOMPARE(analyze(g).macs, macsBefore);
        QCOMPARE(g.nodes[2].op, std::string("Add"));
        QCOMPARE(g.nodes[2].activation.kind, Activation::Kind::Relu);
    }
};

QTEST_GUILESS_MAIN(TestPasses)
#include "tst_passes.moc"
