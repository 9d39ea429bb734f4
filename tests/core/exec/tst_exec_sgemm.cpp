// The executor's packed SGEMM (core/src/sgemm_kernels.*) against a naive double-precision
// reference: odd M/N/K around the register tile and cache block edges, transposed operands,
// accumulation, the fused bias/activation epilogue, one and two threads, and every kernel this
// CPU can run (portable, AVX2, AVX-512). Conv runs through the executor per kernel as well.
#include "autosplit/exec/executor.h"
#include "autosplit/exec/gram.h"
#include "graph_fixtures.h"
#include "exec_internal.h"
#include "sgemm_kernels.h"
#include "depthwise_kernels.h"

#include <QtTest>

#include <cmath>
#include <cstring>
#include <random>
#include <vector>

using namespace autosplit;
using namespace autosplit::exec;

namespace {

std::vector<float> randomVec(size_t n, uint32_t seed) {
    std::mt19937 rng(seed);
    std::uniform_real_distribution<float> d(-1.f, 1.f);
    std::vector<float> v(n);
    for (float& x : v) x = d(rng);
    return v;
}

std::vector<GemmIsa> runnableIsas() {
    std::vector<GemmIsa> r;
    for (GemmIsa i : {GemmIsa::Generic, GemmIsa::Avx2, GemmIsa::Avx512})
        if (gemmIsaSupported(i)) r.push_back(i);
    return r;
}

struct Case {
    int64_t M, N, K;
    bool transA, transB, accumulate;
};

// C (=|+=) op(A) op(B), then bias per row and activation; compared elementwise against a
// double reference with a tolerance scaled by sum |a*b|.
void checkCase(GemmIsa isa, ThreadPool* pool, const Case& c, const GemmEpilogue& ep, const Activation* act,
               bool viaSgemm) {
    const int64_t lda = (c.transA ? c.M : c.K) + 3, ldb = (c.transB ? c.K : c.N) + 5, ldc = c.N + 2;
    const auto A = randomVec(static_cast<size_t>((c.transA ? c.K : c.M) * lda), 1);
    const auto B = randomVec(static_cast<size_t>((c.transB ? c.N : c.K) * ldb), 2);
    auto C = randomVec(static_cast<size_t>(c.M * ldc), 3);
    const auto C0 = C;
    auto a = [&](int64_t i, int64_t k) { return c.transA ? A[k * lda + i] : A[i * lda + k]; };
    auto b = [&](int64_t k, int64_t j) { return c.transB ? B[j * ldb + k] : B[k * ldb + j]; };
    if (viaSgemm) {
        sgemm(*pool, c.transA, c.transB, c.M, c.N, c.K, A.data(), lda, B.data(), ldb, C.data(), ldc, c.accumulate);
    } else {
        packedGemm(isa, pool, c.M, c.N, c.K, A.data(), lda, c.transA, MatrixBSource(B.data(), ldb, c.transB), C.data(),
                   ldc, c.accumulate, ep);
    }
    for (int64_t i = 0; i < c.M; ++i) {
        for (int64_t j = 0; j < c.N; ++j) {
            double ref = c.accumulate ? C0[i * ldc + j] : 0.0, mag = std::fabs(ref);
            for (int64_t k = 0; k < c.K; ++k) {
                ref += double(a(i, k)) * b(k, j);
                mag += std::fabs(double(a(i, k)) * b(k, j));
            }
            if (!viaSgemm) {
                if (ep.bias) ref += ep.bias[i];
                ref = std::min(std::max(ref, double(ep.lo)), double(ep.hi));
                if (act) ref = act->apply(static_cast<float>(ref));
            }
            const double got = C[i * ldc + j];
            if (std::fabs(got - ref) > 1e-5 * (mag + 1.0))
                QFAIL(qPrintable(QString("%1 M=%2 N=%3 K=%4 tA=%5 tB=%6 acc=%7: C[%8,%9] = %10, expected %11")
                                     .arg(gemmIsaName(isa))
                                     .arg(c.M)
                                     .arg(c.N)
                                     .arg(c.K)
                                     .arg(c.transA)
                                     .arg(c.transB)
                                     .arg(c.accumulate)
                                     .arg(i)
                                     .arg(j)
                                     .arg(got)
                                     .arg(ref)));
        }
        // The padding between rows of C is never written.
        for (int64_t j = c.N; j < ldc; ++j)
            if (C[i * ldc + j] != C0[i * ldc + j]) QFAIL("wrote past N");
    }
}

const std::vector<Case>& cases() {
    static const std::vector<Case> cs = {
        {1, 1, 1, false, false, false},      {5, 7, 3, false, false, false},
        {12, 32, 16, false, false, false},   {13, 33, 17, false, false, true},
        {11, 49, 300, false, false, false},  {25, 17, 257, true, false, false},
        {6, 16, 8, false, true, false},      {7, 1100, 20, false, false, true},
        {64, 100, 70, true, true, false},    {100, 9, 33, false, false, false},
        {3, 200, 40, false, true, true},     {29, 70, 600, false, false, false},
        // Big enough to split across two threads: by column chunks (wide) and by row blocks
        // over a shared packed B (narrow), with several K blocks.
        {40, 1100, 20, false, false, false}, {100, 49, 700, false, false, true},
        {50, 150, 300, false, true, false},  {61, 200, 530, true, false, false},
        // Narrow with a shared B too large for one K block (5000 x 160 floats): K blocks of KC.
        {40, 150, 5000, false, false, true},
    };
    return cs;
}

TensorData randomTensor(std::vector<int64_t> shape, uint32_t seed) {
    TensorData t;
    t.shape = std::move(shape);
    t.floats = randomVec(static_cast<size_t>(t.elementCount()), seed);
    return t;
}

}  // namespace

class SgemmTest : public QObject {
    Q_OBJECT

private slots:
    void init() { saved_ = gemmIsa(); }
    void cleanup() { setGemmIsa(saved_); }

    void reportsKernels() {
        QVERIFY(gemmIsaSupported(GemmIsa::Generic));
        QVERIFY(gemmIsaSupported(gemmIsa()));
        for (GemmIsa i : runnableIsas()) qInfo("kernel available: %s", gemmIsaName(i));
    }

    void matchesReference() {
        ThreadPool one(1), two(2);
        for (GemmIsa isa : runnableIsas())
            for (ThreadPool* pool : {&one, &two})
                for (const Case& c : cases()) {
                    checkCase(isa, pool, c, {}, nullptr, false);
                    if (QTest::currentTestFailed()) return;
                }
    }

    void epilogueBiasAndActivations() {
        ThreadPool two(2);
        const auto bias = randomVec(200, 9);
        Activation relu, clip, leaky;
        relu.kind = Activation::Kind::Relu;
        clip.kind = Activation::Kind::Clip;
        clip.min = -0.5f;
        clip.max = 0.75f;
        leaky.kind = Activation::Kind::LeakyRelu;
        leaky.alpha = 0.1f;
        for (GemmIsa isa : runnableIsas())
            for (const Activation* act : {&relu, &clip, &leaky})
                for (const Case& c : cases()) {
                    const GemmEpilogue ep = GemmEpilogue::of(bias.data(), *act);
                    checkCase(isa, &two, c, ep, ep.post, false);
                    if (QTest::currentTestFailed()) return;
                }
    }

    // A row-major B read in place (readsBInPlace) gives the same bits as the same values packed
    // (a transposed copy, which is always packed): whole panels with a partial last one, dot
    // columns, K blocks, accumulation, the epilogue, one and two threads, every kernel; strides
    // of a multiple of 4 KB and A of 192 rows or more are packed.
    void bInPlaceEqualsPacked() {
        QVERIFY(!readsBInPlace(64, MatrixBSource(nullptr, 1024, false)));  // 4 KB rows: one L1 set
        QVERIFY(!readsBInPlace(64, MatrixBSource(nullptr, 25600, false)));
        QVERIFY(!readsBInPlace(192, MatrixBSource(nullptr, 3136, false)));
        QVERIFY(!readsBInPlace(64, MatrixBSource(nullptr, 3136, true)));
        ThreadPool one(1), two(2);
        const auto bias = randomVec(200, 21);
        Activation leaky;
        leaky.kind = Activation::Kind::LeakyRelu;
        leaky.alpha = 0.1f;
        struct Shape {
            int64_t M, N, K, ldb;
        };
        int inPlace = 0;
        for (const Shape& sh : {Shape{24, 3136, 144, 3136}, Shape{13, 32 * 9 + 1, 300, 32 * 9 + 4}, Shape{64, 32 * 8 + 17, 16, 300},
                                Shape{5, 200, 40, 203}, Shape{191, 1000, 520, 1000}, Shape{16, 4096, 24, 4099}})
            for (GemmIsa isa : runnableIsas())
                for (ThreadPool* pool : {&one, &two})
                    for (bool accumulate : {false, true}) {
                        const auto A = randomVec(size_t(sh.M * sh.K), 22);
                        const auto B = randomVec(size_t(sh.K * sh.ldb), 23);
                        std::vector<float> Bt(size_t(sh.N * sh.K));
                        for (int64_t k = 0; k < sh.K; ++k)
                            for (int64_t j = 0; j < sh.N; ++j) Bt[size_t(j * sh.K + k)] = B[size_t(k * sh.ldb + j)];
                        const MatrixBSource direct(B.data(), sh.ldb, false), packed(Bt.data(), sh.K, true);
                        QVERIFY(!readsBInPlace(sh.M, packed));
                        inPlace += readsBInPlace(sh.M, direct) ? 1 : 0;
                        const GemmEpilogue ep = GemmEpilogue::of(bias.data(), leaky);
                        auto got = randomVec(size_t(sh.M * sh.N), 24), want = got;
                        packedGemm(isa, pool, sh.M, sh.N, sh.K, A.data(), sh.K, false, direct, got.data(), sh.N, accumulate, ep);
                        packedGemm(isa, pool, sh.M, sh.N, sh.K, A.data(), sh.K, false, packed, want.data(), sh.N, accumulate, ep);
                        if (std::memcmp(got.data(), want.data(), got.size() * sizeof(float)) != 0)
                            QFAIL(qPrintable(QString("%1 x %2 x %3 (ldb %4), %5, %6 thread(s), accumulate %7: in place differs from packed")
                                                 .arg(sh.M).arg(sh.N).arg(sh.K).arg(sh.ldb).arg(gemmIsaName(isa))
                                                 .arg(pool->size()).arg(accumulate)));
                    }
        QVERIFY(inPlace > 0);
    }

    // LeakyRelu applied in the kernels' store (and in the dot columns) gives what the GEMM
    // without it followed by applyActivation (and the grid) gives, bit for bit, on every ISA.
    void leakyReluInTheStoreEqualsApplyingItAfter() {
        ThreadPool one(1), two(2);
        const auto bias = randomVec(200, 9);
        Activation leaky;
        leaky.kind = Activation::Kind::LeakyRelu;
        leaky.alpha = 0.1f;
        const FakeQuantGrid grid{0.05f, -128.f, 127.f};
        for (GemmIsa isa : runnableIsas())
            for (ThreadPool* pool : {&one, &two})
                for (const FakeQuantGrid* g : {static_cast<const FakeQuantGrid*>(nullptr), &grid})
                    for (const Case& c : cases()) {
                        const int64_t lda = c.transA ? c.M : c.K, ldb = c.transB ? c.K : c.N;
                        const auto A = randomVec(static_cast<size_t>((c.transA ? c.K : c.M) * lda), 1);
                        const auto B = randomVec(static_cast<size_t>((c.transB ? c.N : c.K) * ldb), 2);
                        const MatrixBSource b(B.data(), ldb, c.transB);
                        std::vector<float> fused(static_cast<size_t>(c.M * c.N)), after(fused.size());
                        packedGemm(isa, pool, c.M, c.N, c.K, A.data(), lda, c.transA, b, fused.data(), c.N, false,
                                   GemmEpilogue::of(bias.data(), leaky, g));
                        packedGemm(isa, pool, c.M, c.N, c.K, A.data(), lda, c.transA, b, after.data(), c.N, false,
                                   GemmEpilogue::of(bias.data(), Activation{}));
                        applyActivation(leaky, after.data(), static_cast<int64_t>(after.size()));
                        if (g) fakeQuantizeGrid(after.data(), static_cast<int64_t>(after.size()), *g);
                        QVERIFY2(std::memcmp(fused.data(), after.data(), fused.size() * sizeof(float)) == 0,
                                 qPrintable(QString("%1 M=%2 N=%3 K=%4 grid=%5").arg(gemmIsaName(isa)).arg(c.M).arg(c.N)
                                                .arg(c.K).arg(g != nullptr)));
                    }
    }

    // applyActivation's vector loops give exactly what Activation::apply gives, element by
    // element (the exporter writes apply's float operations as ONNX nodes).
    void applyActivationEqualsApply() {
        std::vector<float> x = randomVec(1000, 11);
        for (float& v : x) v *= 8.f;
        using K = Activation::Kind;
        for (K kind : {K::Relu, K::Clip, K::LeakyRelu, K::HardSigmoid, K::HardSwish, K::Sigmoid, K::Swish,
                       K::HardSwishMul}) {
            Activation a;
            a.kind = kind;
            a.alpha = 0.2f;
            a.beta = 0.5f;
            a.min = -1.f;
            a.max = 6.f;
            for (auto* loops : {&applyActivation, &applyActivationBaseline}) {  // 16-wide where the CPU can, 8-wide
                std::vector<float> y = x;
                loops(a, y.data(), static_cast<int64_t>(y.size()));
                for (size_t i = 0; i < x.size(); ++i)
                    if (y[i] != a.apply(x[i]))
                        QFAIL(qPrintable(QString("%1: f(%2) = %3, apply gives %4").arg(QString::fromStdString(a.describe()))
                                             .arg(x[i]).arg(y[i]).arg(a.apply(x[i]))));
            }
        }
    }

    void sgemmEntryPoint() {
        // sgemm picks the packed kernels or Eigen (thin shapes) itself; all four transposes.
        ThreadPool two(2);
        for (GemmIsa isa : runnableIsas()) {
            setGemmIsa(isa);
            for (Case c : cases())
                for (int t = 0; t < 4; ++t) {
                    c.transA = t & 1;
                    c.transB = t & 2;
                    checkCase(isa, &two, c, {}, nullptr, true);
                    if (QTest::currentTestFailed()) return;
                }
        }
    }

    void zeroK() {
        ThreadPool one(1);
        std::vector<float> C(6, 5.f), bias = {1.f, 2.f};
        packedGemm(gemmIsa(), &one, 2, 3, 0, nullptr, 1, false, MatrixBSource(nullptr, 3, false), C.data(), 3, false,
                   GemmEpilogue::of(bias.data(), Activation{}));
        QCOMPARE(C, (std::vector<float>{1.f, 1.f, 1.f, 2.f, 2.f, 2.f}));
    }

    // The same Conv graph (im2col packing with padding, stride, dilation, groups) on every kernel
    // gives the same result as the portable one.
    // The polyphase depthwise path (stride 1 and 2, from the unpadded plane) gives the same bits
    // as the plane kernel on an explicitly zero-padded copy, row by row and over the grid (both
    // checked to run): every map width around the 16-wide
    // blocks and the four-block step, odd and even sizes, asymmetric pads, 3x3 and 5x5 kernels,
    // dilation, maps narrower than one vector. The sums run in the same order, so equality is
    // exact; a wrong phase, offset or slack shows as a different value.
    void depthwisePolyphaseEqualsPlaneKernel_data() {
        QTest::addColumn<int>("isa");
        QTest::newRow("avx512") << int(GemmIsa::Avx512);
        QTest::newRow("avx2") << int(GemmIsa::Avx2);
    }
    void depthwisePolyphaseEqualsPlaneKernel() {
        QFETCH(int, isa);
        const GemmIsa kernels = static_cast<GemmIsa>(isa);
        DepthwiseChannel probe;
        probe.s = 1;
        probe.oh = probe.ow = 1;
        if (!depthwisePolyphaseSupported(kernels, probe) || !gemmIsaSupported(kernels))
            QSKIP("this CPU cannot run the kernels of this instruction set");
        struct Geo {
            int64_t h, w, k, s, d, pt, pl, pb, pr;
        };
        std::vector<Geo> geos;
        for (int64_t s : {1, 2})
            for (int64_t k : {3, 5})
                for (int64_t size : {1, 2, 5, 7, 8, 14, 15, 16, 17, 28, 31, 33, 56, 63, 64, 65, 97})
                    geos.push_back({size + (s == 2 ? 1 : 0), size, k, s, 1, k / 2, k / 2, k / 2, k / 2});
        geos.push_back({20, 23, 3, 1, 2, 2, 2, 2, 2});   // dilated
        geos.push_back({19, 30, 3, 2, 2, 1, 2, 2, 1});   // dilated, stride 2, asymmetric pads
        geos.push_back({12, 40, 3, 1, 1, 0, 0, 0, 0});   // no padding
        geos.push_back({13, 41, 3, 2, 1, 0, 1, 1, 0});   // pad on one side, odd width
        geos.push_back({9, 18, 5, 2, 1, 2, 1, 1, 2});
        for (int64_t size : {7, 16, 33})  // 1x1: the grid is the output itself (stored in place)
            for (int64_t s : {1, 2}) geos.push_back({size, size + 3, 1, s, 1, 0, 0, 0, 0});
        int checked = 0, rowWise = 0, grid = 0;
        for (const Geo& g : geos) {
            const int64_t dk = (g.k - 1) * g.d + 1;
            const int64_t oh = (g.h + g.pt + g.pb - dk) / g.s + 1, ow = (g.w + g.pl + g.pr - dk) / g.s + 1;
            if (oh <= 0 || ow <= 0) continue;
            const std::vector<float> x = randomVec(size_t(g.h * g.w), uint32_t(11 + checked));
            const std::vector<float> w = randomVec(size_t(g.k * g.k), uint32_t(12 + checked));
            // Reference: the plane kernel on the padded rows and columns the outputs read.
            DepthwisePlane p;
            p.kh = p.kw = g.k;
            p.sy = p.sx = g.s;
            p.dy = p.dx = g.d;
            p.oh = oh;
            p.ow = ow;
            const int64_t hp = (oh - 1) * g.s + dk, wp = (ow - 1) * g.s + dk;
            p.ldx = wp;
            std::vector<float> padded(size_t(hp * wp), 0.f);
            for (int64_t r = 0; r < hp; ++r)
                for (int64_t c = 0; c < wp; ++c) {
                    const int64_t iy = r - g.pt, ix = c - g.pl;
                    if (iy >= 0 && iy < g.h && ix >= 0 && ix < g.w) padded[size_t(r * wp + c)] = x[size_t(iy * g.w + ix)];
                }
            std::vector<float> want(size_t(oh * ow)), got(size_t(oh * ow) + 64, 12345.f);
            depthwisePlane(kernels, p, padded.data(), w.data(), 0.25f, -0.8f, 0.9f, want.data());
            DepthwiseChannel c;
            c.h = g.h;
            c.w = g.w;
            c.pt = g.pt;
            c.pl = g.pl;
            c.kh = c.kw = g.k;
            c.s = g.s;
            c.dy = c.dx = g.d;
            c.oh = oh;
            c.ow = ow;
            QVERIFY(depthwisePolyphaseSupported(kernels, c));
            DepthwisePhases phases;
            phases.prepare(c, kernels);
            (phases.rowWise() ? rowWise : grid) += 1;
            for (int round = 0; round < 2; ++round) {  // the second channel on the same planes
                phases.run(x.data(), w.data(), 0.25f, -0.8f, 0.9f, got.data());
                for (size_t i = 0; i < want.size(); ++i)
                    if (std::memcmp(&got[i], &want[i], sizeof(float)) != 0)
                        QFAIL(qPrintable(QString("%1x%2 k%3 s%4 d%5 pads %6,%7: y[%8] = %9, plane kernel %10")
                                             .arg(g.h).arg(g.w).arg(g.k).arg(g.s).arg(g.d).arg(g.pt).arg(g.pl)
                                             .arg(i).arg(double(got[i]), 0, 'g', 9).arg(double(want[i]), 0, 'g', 9)));
                for (size_t i = want.size(); i < got.size(); ++i) QCOMPARE(got[i], 12345.f);  // nothing written past y
            }
            ++checked;
        }
        QVERIFY(checked >= 70);
        QVERIFY2(rowWise >= 10 && grid >= 10, qPrintable(QString("%1 row-wise, %2 over the grid").arg(rowWise).arg(grid)));
    }

    // gramLower (GPTQ's H = X X^T) on the packed SGEMM: the lower triangle against double sums,
    // both layouts of X, sizes around its 256-row blocks; bit for bit the same on a 2-thread pool
    // as on the calling thread; nothing written outside R x R.
    void gramLowerMatchesReference() {
        Graph g;  // any graph: the executor only lends its two workers
        g.opsetVersion = 13;
        const int in = testing::addInput(g, "x", {4}), out = testing::addValue(g, "y", {4});
        g.nodes.push_back(testing::makeNode("relu", "Relu", {in}, {out}));
        g.outputs = {out};
        const Executor two(g, ExecutorOptions{2});
        for (const auto& [R, P] : {std::pair<int64_t, int64_t>{1, 1}, {5, 17}, {256, 3}, {257, 40}, {600, 300}, {513, 1}})
            for (const bool rowMajor : {true, false}) {
                const int64_t rowStride = rowMajor ? P + 3 : 1, colStride = rowMajor ? 1 : R + 2;
                const auto x = randomVec(static_cast<size_t>(rowMajor ? R * rowStride : P * colStride), 11);
                const int64_t ldg = R + 4;
                const float fill = -7.f;
                std::vector<float> serial(static_cast<size_t>(R * ldg), fill), pooled = serial;
                gramLower(nullptr, R, P, x.data(), rowStride, colStride, serial.data(), ldg);
                gramLower(&two, R, P, x.data(), rowStride, colStride, pooled.data(), ldg);
                QVERIFY2(serial == pooled, qPrintable(QString("R=%1 P=%2: pool changed the sums").arg(R).arg(P)));
                for (int64_t r = 0; r < R; ++r) {
                    for (int64_t c = R; c < ldg; ++c) QCOMPARE(serial[static_cast<size_t>(r * ldg + c)], fill);
                    for (int64_t c = 0; c <= r; ++c) {
                        double ref = 0, mag = 0;
                        for (int64_t p = 0; p < P; ++p) {
                            const double t = double(x[static_cast<size_t>(r * rowStride + p * colStride)]) *
                                             x[static_cast<size_t>(c * rowStride + p * colStride)];
                            ref += t;
                            mag += std::fabs(t);
                        }
                        const double got = serial[static_cast<size_t>(r * ldg + c)];
                        if (std::fabs(got - ref) > 1e-5 * (mag + 1.0))
                            QFAIL(qPrintable(QString("R=%1 P=%2 rowMajor=%3: G[%4,%5] = %6, expected %7")
                                                 .arg(R).arg(P).arg(rowMajor).arg(r).arg(c).arg(got).arg(ref)));
                    }
                }
            }
    }

    void convAgreesAcrossKernels() {
        struct ConvCase {
            int64_t C, K, group, kernel, stride, pad, dil, size;
        };
        const ConvCase ccs[] = {{5, 13, 1, 3, 1, 1, 1, 15}, {8, 40, 1, 3, 2, 1, 1, 29}, {3, 16, 1, 7, 2, 3, 1, 38},
                                {8, 12, 2, 3, 1, 2, 2, 17}, {24, 36, 1, 1, 1, 0, 1, 9},  {6, 9, 3, 5, 3, 2, 1, 23},
                                // depthwise (depthwise_kernels.cpp): strides 1 and 2, rows past 64
                                {16, 16, 16, 3, 1, 1, 1, 75}, {8, 8, 8, 3, 2, 1, 1, 97}, {4, 4, 4, 5, 2, 2, 1, 21}};
        for (const ConvCase& cc : ccs) {
            Graph g;
            g.opsetVersion = 13;
            const int x = testing::addInput(g, "x", {1, cc.C, cc.size, cc.size});
            const int w = testing::addWeight(g, "w", randomTensor({cc.K, cc.C / cc.group, cc.kernel, cc.kernel}, 4));
            const int b = testing::addWeight(g, "b", randomTensor({cc.K}, 5));
            const int y = testing::addValue(g, "y");
            Node n = testing::makeNode("conv", "Conv", {x, w, b}, {y});
            n.attrs["group"] = Attribute{cc.group};
            n.attrs["strides"] = Attribute{std::vector<int64_t>{cc.stride, cc.stride}};
            n.attrs["pads"] = Attribute{std::vector<int64_t>{cc.pad, cc.pad, cc.pad, cc.pad}};
            n.attrs["dilations"] = Attribute{std::vector<int64_t>{cc.dil, cc.dil}};
            n.activation.kind = Activation::Kind::Relu;
            g.nodes.push_back(n);
            g.inputs = {x};
            g.outputs = {y};
            g.rebuild();
            const TensorData in = randomTensor({1, cc.C, cc.size, cc.size}, 6);
            std::vector<TensorData> ref;
            for (GemmIsa isa : runnableIsas()) {
                setGemmIsa(isa);
                QCOMPARE(gemmIsa(), isa);
                for (int threads : {1, 2}) {
                    ExecutorOptions eo;
                    eo.threads = threads;
                    Executor ex(g, eo);
                    auto out = ex({in});
                    if (ref.empty()) {
                        ref = out;
                        continue;
                    }
                    QCOMPARE(out[0].shape, ref[0].shape);
                    for (size_t i = 0; i < out[0].floats.size(); ++i)
                        if (std::fabs(out[0].floats[i] - ref[0].floats[i]) > 1e-4f * (1.f + std::fabs(ref[0].floats[i])))
                            QFAIL(qPrintable(QString("%1, %2 threads: y[%3] = %4, portable kernel %5")
                                                 .arg(gemmIsaName(isa))
                                                 .arg(threads)
                                                 .arg(i)
                                                 .arg(out[0].floats[i])
                                                 .arg(ref[0].floats[i])));
                }
            }
        }
    }

private:
    GemmIsa saved_ = GemmIsa::Generic;
};

QTEST_GUILESS_MAIN(SgemmTest)
#include "tst_exec_sgemm.moc"
