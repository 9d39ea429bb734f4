// Per-layer latency: traffic with re-fetch at each bit-width, compute vs memory bound, the
// vector unit for non-GEMM ops. Expected values are worked out by hand in the comments.
#include "sim_test_util.h"

#include "autosplit/sim/layer_cost.h"

#include <QtTest>

using namespace autosplit;
using namespace autosplit::sim;

Q_DECLARE_METATYPE(autosplit::LayerInfo)

class TestLayerCost : public QObject {
    Q_OBJECT
    const DeviceProfile eyeriss = builtinDevice("eyeriss");  // 200 MHz, 1 GB/s = 1000 B/us, 32 KiB usable
    const DeviceProfile tpu = builtinDevice("tpu");

private slots:
    void memoryBoundFc() {
        const LayerInfo l = simtest::fc("fc", 4096, 4096);
        const LayerCost c8 = simulateLayer(l, eyeriss, 8, 8);
        // OS: Sr=1, Sc=4096, T=4096 -> 293 folds * (12+14+4096-2) - 1 cycles.
        QCOMPARE(c8.computeCycles, 293 * 4120 - 1);
        QCOMPARE(c8.filterBytes, 4096 * 4096 + 4096 * 4);  // bias stays 32-bit
        QCOMPARE(c8.ifmapBytes, 4096);
        QCOMPARE(c8.ofmapBytes, 4096);
        QCOMPARE(c8.trafficBytes, 16801792);
        QCOMPARE(c8.memoryUs, 16801.792);
        QCOMPARE(c8.computeUs, (293 * 4120 - 1) / 200.0);
        QCOMPARE(c8.bound, Bound::Memory);
        QCOMPARE(c8.latencyUs, c8.memoryUs);

        const LayerCost c4 = simulateLayer(l, eyeriss, 4, 8);
        QCOMPARE(c4.trafficBytes, 4096 * 4096 / 2 + 4096 * 4 + 4096 + 4096);
        QCOMPARE(c4.computeCycles, c8.computeCycles);
        QVERIFY(c4.latencyUs < c8.latencyUs);
    }

    void computeBoundConvAndSuperlinearSaving() {
        // ResNet conv2_x 3x3: 56x56x64 -> 64, padded input 58x58.
        const LayerInfo l = simtest::conv("conv", 58, 58, 3, 3, 64, 64);
        const LayerCost c8 = simulateLayer(l, eyeriss, 8, 8);
        QCOMPARE(c8.ifmapBytes, 58 * 58 * 64);            // 215296 > 32768
        QCOMPARE(c8.filterBytes, 3 * 3 * 64 * 64 + 64 * 4);  // 37120 > 32768
        // Neither fits: 2 weight chunks x full ifmap (467712 B) beats 7 ifmap chunks x weights.
        QCOMPARE(c8.ifmapPasses, 2);
        QCOMPARE(c8.filterPasses, 1);
        QCOMPARE(c8.trafficBytes, 215296 * 2 + 37120 + 200704);
        QCOMPARE(c8.computeCycles, 262 * 5 * (12 + 14 + 576 - 2) - 1);
        QCOMPARE(c8.bound, Bound::Compute);

        const LayerCost c4 = simulateLayer(l, eyeriss, 4, 8);
        QCOMPARE(c4.filterBytes, 18432 + 256);  // now fits: no re-fetch
        QCOMPARE(c4.ifmapPasses, 1);
        QCOMPARE(c4.trafficBytes, 215296 + 18688 + 200704);
        // Halving the weights saved far more than half the weight bytes.
        QVERIFY(c8.trafficBytes - c4.trafficBytes > 4 * (c8.filterBytes - c4.filterBytes));
        // Compute-bound: the INT8 array is no faster at 4 bits.
        QCOMPARE(c4.latencyUs, c8.latencyUs);
        QCOMPARE(c4.bound, Bound::Compute);
    }

    void macArrayPassesByBits_data() {
        // Passes depend on the device's native MAC width: the TPU's INT8 array slices 16-bit
        // operands in two, Eyeriss's 16-bit PEs take them in one.
        QTest::addColumn<QString>("device");
        QTest::addColumn<int>("w");
        QTest::addColumn<int>("a");
        QTest::addColumn<int>("passes");
        QTest::addRow("tpu w8a8") << "tpu" << 8 << 8 << 1;
        QTest::addRow("tpu w16a8") << "tpu" << 16 << 8 << 2;
        QTest::addRow("tpu w8a16") << "tpu" << 8 << 16 << 2;
        QTest::addRow("tpu w16a16") << "tpu" << 16 << 16 << 4;
        QTest::addRow("eyeriss w2a2") << "eyeriss" << 2 << 2 << 1;
        QTest::addRow("eyeriss w4a8") << "eyeriss" << 4 << 8 << 1;
        QTest::addRow("eyeriss w8a8") << "eyeriss" << 8 << 8 << 1;
        QTest::addRow("eyeriss w16a8") << "eyeriss" << 16 << 8 << 1;
        QTest::addRow("eyeriss w16a16") << "eyeriss" << 16 << 16 << 1;  // was 4 on an 8-bit Eyeriss
    }
    void macArrayPassesByBits() {
        QFETCH(QString, device);
        QFETCH(int, w);
        QFETCH(int, a);
        QFETCH(int, passes);
        const DeviceProfile& d = device == "tpu" ? tpu : eyeriss;
        const LayerInfo l = simtest::conv("conv", 30, 30, 3, 3, 128, 128);
        const LayerCost base = simulateLayer(l, d, 8, 8);
        const LayerCost c = simulateLayer(l, d, w, a);
        QCOMPARE(c.bitPasses, passes);
        QCOMPARE(c.computeCycles, base.computeCycles * passes);
    }

    void float16OnEyerissCostsOnlyTraffic() {
        // Compute-bound on Eyeriss: float16 takes the w8a8 cycles; only its bytes double.
        const LayerInfo l = simtest::conv("c3", 58, 58, 3, 3, 64, 64);
        const LayerCost c8 = simulateLayer(l, eyeriss, 8, 8);
        const LayerCost c16 = simulateLayer(l, eyeriss, 16, 16);
        QCOMPARE(c16.bitPasses, 1);
        QCOMPARE(c16.computeCycles, c8.computeCycles);
        QVERIFY(c16.trafficBytes > c8.trafficBytes);
        QVERIFY(c16.latencyUs >= c8.latencyUs);
        QVERIFY(c16.latencyUs < 2 * c8.latencyUs);  // 4x with the old 8-bit Eyeriss
    }

    void weightBitsOnEyeriss_data() {
        // Lowering weights from 8 to 4 bits: memory-bound layers get faster, compute-bound
        // ones keep their latency (the acceptance criterion, on hand-made layers).
        QTest::addColumn<LayerInfo>("layer");
        QTest::addRow("fc 4096x4096") << simtest::fc("fc6", 4096, 4096);
        QTest::addRow("fc 2048x1000") << simtest::fc("fc", 2048, 1000);
        QTest::addRow("conv 1x1 56x56 64->256") << simtest::conv("c1", 56, 56, 1, 1, 64, 256);
        QTest::addRow("conv 3x3 58x58 64->64") << simtest::conv("c3", 58, 58, 3, 3, 64, 64);
        QTest::addRow("conv 3x3 9x9 512->512") << simtest::conv("c5", 9, 9, 3, 3, 512, 512);
        QTest::addRow("conv 7x7/2 230x230 3->64") << simtest::conv("conv1", 230, 230, 7, 7, 3, 64, 2);
        QTest::addRow("depthwise 3x3 114x114 x32") << simtest::conv("dw", 114, 114, 3, 3, 1, 1, 1, 32);
    }
    void weightBitsOnEyeriss() {
        QFETCH(LayerInfo, layer);
        const LayerCost c8 = simulateLayer(layer, eyeriss, 8, 8);
        const LayerCost c4 = simulateLayer(layer, eyeriss, 4, 8);
        QVERIFY(c8.bound != Bound::Free);
        QCOMPARE(c4.computeUs, c8.computeUs);
        QVERIFY(c4.trafficBytes < c8.trafficBytes);
        if (c8.bound == Bound::Memory) QVERIFY2(c4.latencyUs < c8.latencyUs, qPrintable(QString::number(c4.latencyUs)));
        else QCOMPARE(c4.latencyUs, c8.latencyUs);
    }

    void boundsAreBothRepresented() {
        // The table above must exercise both cases, or it proves nothing.
        QCOMPARE(simulateLayer(simtest::fc("fc6", 4096, 4096), eyeriss, 8, 8).bound, Bound::Memory);
        QCOMPARE(simulateLayer(simtest::conv("c3", 58, 58, 3, 3, 64, 64), eyeriss, 8, 8).bound, Bound::Compute);
    }

    void singleBufferedSerializes() {
        DeviceProfile d = eyeriss;
        d.doubleBuffered = false;  // full 64 KiB usable, but transfers no longer overlap compute
        const LayerInfo l = simtest::conv("c3", 58, 58, 3, 3, 64, 64);
        const LayerCost c = simulateLayer(l, d, 8, 8);
        QCOMPARE(c.ifmapPasses, 1);  // 37120 B of weights fit in 64 KiB
        QCOMPARE(c.trafficBytes, 215296 + 37120 + 200704);
        QCOMPARE(c.latencyUs, c.computeUs + c.memoryUs);
    }

    void vectorOps_data() {
        QTest::addColumn<LayerInfo>("layer");
        QTest::addColumn<int>("abits");
        QTest::addColumn<int>("rule");
        QTest::addColumn<qlonglong>("ops");
        QTest::addColumn<qlonglong>("traffic");
        const int64_t n = 56 * 56 * 64;  // 200704
        QTest::addRow("add a8") << simtest::other("add", "Add", 2 * n, n) << 8 << int(CostRule::VectorCompute)
                                << qlonglong(n) << qlonglong(3 * n);
        QTest::addRow("add a4") << simtest::other("add", "Add", 2 * n, n) << 4 << int(CostRule::VectorCompute)
                                << qlonglong(n) << qlonglong(3 * n / 2);
        QTest::addRow("sum of 3") << simtest::other("sum", "Sum", 3 * n, n) << 8 << int(CostRule::VectorCompute)
                                  << qlonglong(2 * n) << qlonglong(4 * n);
        QTest::addRow("maxpool, no window") << simtest::other("pool", "MaxPool", 4 * n, n) << 8
                                            << int(CostRule::VectorCompute) << qlonglong(4 * n) << qlonglong(5 * n);
        LayerInfo pool = simtest::other("pool", "MaxPool", 4 * n, n);
        pool.geometry.R = pool.geometry.S = 3;
        QTest::addRow("maxpool 3x3") << pool << 8 << int(CostRule::VectorCompute) << qlonglong(9 * n)
                                     << qlonglong(5 * n);
        QTest::addRow("sigmoid") << simtest::other("sig", "Sigmoid", n, n) << 8 << int(CostRule::VectorCompute)
                                 << qlonglong(4 * n) << qlonglong(2 * n);
        QTest::addRow("resize x2") << simtest::other("up", "Resize", n, 4 * n) << 8 << int(CostRule::VectorCompute)
                                   << qlonglong(4 * n) << qlonglong(5 * n);
        QTest::addRow("transpose") << simtest::other("tr", "Transpose", n, n) << 8 << int(CostRule::VectorCopy)
                                   << qlonglong(n) << qlonglong(2 * n);
        QTest::addRow("slice half") << simtest::other("sl", "Slice", n, n / 2) << 8 << int(CostRule::VectorCopy)
                                    << qlonglong(n / 2) << qlonglong(n);
        QTest::addRow("reshape") << simtest::other("r", "Reshape", n, n) << 8 << int(CostRule::View) << 0ll << 0ll;
        QTest::addRow("flatten") << simtest::other("f", "Flatten", n, n) << 8 << int(CostRule::View) << 0ll << 0ll;
        QTest::addRow("concat") << simtest::other("cat", "Concat", 2 * n, 2 * n) << 8 << int(CostRule::View) << 0ll
                                << 0ll;
        QTest::addRow("unknown op") << simtest::other("x", "NonMaxSuppression", n, 10) << 8
                                    << int(CostRule::VectorUnknown) << qlonglong(n) << qlonglong(n + 10);
    }
    void vectorOps() {
        QFETCH(LayerInfo, layer);
        QFETCH(int, abits);
        QFETCH(int, rule);
        QFETCH(qlonglong, ops);
        QFETCH(qlonglong, traffic);
        const LayerCost c = simulateLayer(layer, eyeriss, 8, abits);
        QCOMPARE(int(c.rule), rule);
        QCOMPARE(qlonglong(c.vectorOps), ops);
        QCOMPARE(qlonglong(c.trafficBytes), traffic);
        QCOMPARE(c.computeCycles, (ops + 13) / 14);  // 14 ops per cycle at <= 8 bits
        if (ops == 0 && traffic == 0) {
            QCOMPARE(c.bound, Bound::Free);
            QCOMPARE(c.latencyUs, 0.0);
        } else {
            QCOMPARE(c.latencyUs, std::max(c.computeUs, c.memoryUs));
        }
        // Weight bits never matter for an op without weights.
        QCOMPARE(simulateLayer(layer, eyeriss, 2, abits).latencyUs, c.latencyUs);
    }

    void unfoldedBatchNormCarriesItsParameters() {
        LayerInfo bn = simtest::other("bn", "BatchNormalization", 1000, 1000);
        bn.weights = 4 * 10;
        const LayerCost c = simulateLayer(bn, eyeriss, 8, 8);
        QCOMPARE(c.filterBytes, 40);
        QCOMPARE(c.vectorOps, 2000);
    }

    void activationMatMul() {
        // Attention scores: [12 heads, 64 x 64] x [12, 64 x 64].
        LayerInfo l;
        l.name = "qk";
        l.op = "MatMul";
        l.kind = LayerKind::MatMul;
        l.geometry.E = 64;
        l.geometry.C = 64;
        l.geometry.K = 64;
        l.geometry.batch = 12;
        l.inputElements = 2 * 12 * 64 * 64;
        l.activations = 12 * 64 * 64;
        const LayerCost c = simulateLayer(l, eyeriss, 8, 8);
        QCOMPARE(c.ifmapBytes, 12 * 64 * 64);
        QCOMPARE(c.filterBytes, 12 * 64 * 64);  // the second operand is an activation
        QCOMPARE(c.mapping.Sr, 12 * 64);
        QCOMPARE(simulateLayer(l, eyeriss, 2, 8).latencyUs, c.latencyUs);  // no weights
        QCOMPARE(simulateLayer(l, eyeriss, 8, 16).bitPasses, 1);  // 16-bit PEs
        QCOMPARE(simulateLayer(l, tpu, 8, 16).bitPasses, 4);      // both operands sliced in two
    }

    void tpuIsFasterThanEyeriss() {
        const LayerInfo l = simtest::conv("c3", 58, 58, 3, 3, 64, 64);
        QVERIFY(simulateLayer(l, tpu, 8, 8).latencyUs * 50 < simulateLayer(l, eyeriss, 8, 8).latencyUs);
    }

    void badGeometryNamesTheLayer() {
        LayerInfo l = simtest::fc("head", 8, 8);
        l.geometry.C = 0;
        try {
            simulateLayer(l, eyeriss, 8, 8);
            QFAIL("no error");
        } catch (const Error& e) {
            QVERIFY2(QString(e.what()).contains("layer 'head' (Gemm): GEMM geometry: C must be positive"), e.what());
        }
    }

    void rejectsNonPositiveBits() {
        QVERIFY_THROWS_EXCEPTION(Error, simulateLayer(simtest::fc("fc", 8, 8), eyeriss, 0, 8));
        QVERIFY_THROWS_EXCEPTION(Error, simulateLayer(simtest::fc("fc", 8, 8), eyeriss, 8, -1));
    }
};

QTEST_GUILESS_MAIN(TestLayerCost)
#include "tst_sim_layer_cost.moc"
