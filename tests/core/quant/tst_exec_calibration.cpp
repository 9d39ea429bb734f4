// Calibration tables on a hand-built Conv+Relu -> Conv graph: shapes of the table, error falls
// with bits, unsigned activations after Relu, cache hit/miss by data hash, and clear errors for
// bad tensor folders (empty, wrong shape, NaN) that leave nothing in the cache.
#include "autosplit/data/tensor_io.h"
#include "autosplit/exec/executor.h"
#include "autosplit/quant/calibration.h"
#include "autosplit/util/errors.h"
#include "graph_fixtures.h"

#include <QTemporaryDir>
#include <QtTest>

#include <cmath>
#include <filesystem>
#include <random>

using namespace autosplit;
using namespace autosplit::testing;

namespace {
// x -> conv w1 (bias, Relu; 3x3 kernels padded by 1) -> 1x1 conv to `outChannels` -> y; weights
// and bias seeded from `seed` on.
Graph convReluConv(std::vector<int64_t> xShape, std::vector<int64_t> w1Shape, int64_t outChannels, uint32_t seed, float wScale,
                   float bScale) {
    Graph g;
    g.opsetVersion = 13;
    const int x = addValue(g, "x", xShape);
    const int a = addValue(g, "a"), y = addValue(g, "y");
    const int64_t mid = w1Shape[0], pad = (w1Shape[2] - 1) / 2;
    Node c1;
    c1.name = "conv1";
    c1.op = "Conv";
    c1.inputs = {x, addWeight(g, "w1", randomTensor(w1Shape, seed, wScale)), addWeight(g, "b1", randomTensor({mid}, seed + 1, bScale))};
    c1.outputs = {a};
    if (pad > 0) c1.attrs["pads"] = Attribute{std::vector<int64_t>{pad, pad, pad, pad}};
    c1.activation.kind = Activation::Kind::Relu;
    Node c2;
    c2.name = "conv2";
    c2.op = "Conv";
    c2.inputs = {a, addWeight(g, "w2", randomTensor({outChannels, mid, 1, 1}, seed + 2, wScale))};
    c2.outputs = {y};
    g.nodes = {c1, c2};
    g.inputs = {x};
    g.outputs = {y};
    g.rebuild();
    return g;
}
Graph twoConvs() { return convReluConv({1, 3, 12, 12}, {8, 3, 3, 3}, 4, 1, 0.3f, 0.3f); }
// x [1, 480, 8, 25] -> 1x1 conv 480 -> 480 + Relu -> 1x1 conv 480 -> 8: 200 positions, which the
// two-threaded executor sums in another order than the single-threaded one (all of K against K
// blocks of 256).
Graph wideConvs() { return convReluConv({1, 480, 8, 25}, {480, 480, 1, 1}, 8, 4, 0.05f, 0.1f); }
// y = x + c (x [1, 40, 120] tokens, c per channel on the last axis), or y = x * m + c with m
// per channel: one node whose output the test knows exactly.
Graph affineTokens(const std::vector<float>& add, const std::vector<float>& mul = {}) {
    Graph g;
    g.opsetVersion = 13;
    const int64_t C = static_cast<int64_t>(add.size());
    const int x = addInput(g, "x", {1, 40, C});
    auto constant = [&](const std::string& name, const std::vector<float>& v) {
        TensorData d;
        d.shape = {C};
        d.floats = v;
        return addWeight(g, name, std::move(d));
    };
    int in = x;
    if (!mul.empty()) {
        const int m = addValue(g, "m");
        g.nodes.push_back(makeNode("scale", "Mul", {x, constant("s", mul)}, {m}));
        in = m;
    }
    const int y = addValue(g, "y");
    g.nodes.push_back(makeNode("shift", "Add", {in, constant("c", add)}, {y}));
    g.inputs = {x};
    g.outputs = {y};
    g.rebuild();
    return g;
}
size_t filesIn(const QString& dir) {
    size_t n = 0;
    std::error_code ec;
    for (auto it = std::filesystem::directory_iterator(dir.toStdString(), ec); it != std::filesystem::directory_iterator(); ++it) ++n;
    return n;
}
}  // namespace

class CalibrationTest : public QObject {
    Q_OBJECT

private slots:
    void tablesAndCache() {
        const Graph g = twoConvs();
        QTemporaryDir cache;
        CalibrationOptions o;
        o.cacheDir = cache.path().toStdString();
        const auto set = syntheticDataset(g, 4);
        const ErrorTable t = calibrate(g, set, o);
        QVERIFY(!t.fromCache);
        QCOMPARE(t.rows.size(), size_t(2));
        QCOMPARE(t.bits, (std::vector<int>{2, 4, 6, 8}));
        QVERIFY(t.rows[0].unsignedActivation);
        QVERIFY(!t.rows[1].unsignedActivation);
        QCOMPARE(t.rows[0].weightElements, int64_t(8 * 3 * 9));
        QCOMPARE(t.rows[0].activationElements, int64_t(8 * 144));
        for (const auto& r : t.rows)
            for (size_t b = 1; b < t.bits.size(); ++b) {
                QVERIFY(r.weightMse[b] < r.weightMse[b - 1]);
                QVERIFY(r.activationMse[b] < r.activationMse[b - 1]);
            }
        QCOMPARE(filesIn(cache.path()), size_t(1));
        const ErrorTable again = calibrate(g, set, o);
        QVERIFY(again.fromCache);
        QCOMPARE(again.rows[1].activationMse, t.rows[1].activationMse);
        // Other data: a miss, a second file.
        const ErrorTable other = calibrate(g, syntheticDataset(g, 4, 99), o);
        QVERIFY(!other.fromCache);
        QCOMPARE(filesIn(cache.path()), size_t(2));
        // JSON round trip.
        const ErrorTable rt = errorTableFromJson(errorTableToJson(t));
        QCOMPARE(rt.rows[0].weightMse, t.rows[0].weightMse);
        QCOMPARE(rt.rows[0].activationParams[1].zeroPoint, t.rows[0].activationParams[1].zeroPoint);
        QVERIFY_THROWS_EXCEPTION(Error, errorTableFromJson("{\"format\": 1"));
        QCOMPARE(rt.errorKind, std::string("nsr-diagonal"));
        QCOMPARE(rt.rows[1].outputEnergy, t.rows[1].outputEnergy);
        QCOMPARE(rt.rows[1].signalEnergy, t.rows[1].signalEnergy);
        QCOMPARE(rt.rows[1].sensitivity, 1.0);
    }

    // The proxy's unit (calibration.h): raw MSEs scale with the square of a layer's weights, the
    // noise-to-signal ratios do not. conv2's weights x8 (a power of two: the same codes, the
    // output x8): raw D_w and D_a of conv2 x64, relative ones unchanged.
    void relativeErrorsDoNotDependOnTheUnits() {
        const Graph g = twoConvs();
        Graph scaled = twoConvs();
        auto w2 = std::make_shared<TensorData>(*scaled.tensors[size_t(scaled.nodes[1].inputs[1])].data);
        for (float& v : w2->floats) v *= 8;
        scaled.tensors[size_t(scaled.nodes[1].inputs[1])].data = w2;
        const auto set = syntheticDataset(g, 4);
        CalibrationOptions raw;
        raw.measure = ErrorMeasure::RawMse;
        const ErrorTable r1 = calibrate(g, set, raw), r8 = calibrate(scaled, set, raw);
        const ErrorTable n1 = calibrate(g, set), n8 = calibrate(scaled, set);
        QCOMPARE(r1.errorKind, std::string("mse"));
        QCOMPARE(n1.errorKind, std::string("nsr-diagonal"));
        for (size_t b = 0; b < r1.bits.size(); ++b) {
            QVERIFY(std::abs(r8.rows[1].weightMse[b] / r1.rows[1].weightMse[b] - 64) < 1e-3);
            QVERIFY(std::abs(r8.rows[1].activationMse[b] / r1.rows[1].activationMse[b] - 64) < 1e-2);
            QVERIFY(std::abs(n8.rows[1].weightMse[b] / n1.rows[1].weightMse[b] - 1) < 1e-6);
            QVERIFY(std::abs(n8.rows[1].activationMse[b] / n1.rows[1].activationMse[b] - 1) < 1e-4);
            // D_a is the raw MSE over the output's signal energy.
            QVERIFY(std::abs(n1.rows[1].activationMse[b] * n1.rows[1].signalEnergy / r1.rows[1].activationMse[b] - 1) < 1e-9);
            // A noise-to-signal ratio, below 1 from 4 bits on.
            if (r1.bits[b] >= 4) QVERIFY(n1.rows[0].weightMse[b] < 1 && n1.rows[0].activationMse[b] < 1);
        }
        QVERIFY(std::abs(n8.rows[1].outputEnergy / n1.rows[1].outputEnergy - 64) < 1e-3);
        QVERIFY(std::abs(n8.rows[1].signalEnergy / n1.rows[1].signalEnergy - 64) < 1e-3);
    }

    // Sensitivity: the gain of the node producing the graph output is 1 (its noise is the
    // output's); D_w / D_a are multiplied by the gain. Tables of another error kind or format
    // version are not reused from the cache.
    void sensitivityAndCacheVersions() {
        const Graph g = twoConvs();
        const auto set = syntheticDataset(g, 4);
        QTemporaryDir cache;
        CalibrationOptions plain;
        plain.cacheDir = cache.path().toStdString();
        CalibrationOptions sens = plain;
        sens.sensitivitySamples = 2;
        const ErrorTable a = calibrate(g, set, plain), s = calibrate(g, set, sens);
        QVERIFY(!s.fromCache);
        QVERIFY(std::abs(s.rows[1].sensitivity - 1) < 1e-9);
        QVERIFY(s.rows[0].sensitivity > 0 && s.rows[0].sensitivity != 1);
        for (size_t b = 0; b < a.bits.size(); ++b)
            QVERIFY(std::abs(s.rows[0].activationMse[b] / a.rows[0].activationMse[b] - s.rows[0].sensitivity) <
                    1e-9 * s.rows[0].sensitivity);
        CalibrationOptions raw = plain;
        raw.measure = ErrorMeasure::RawMse;
        QVERIFY(!calibrate(g, set, raw).fromCache);
        QCOMPARE(filesIn(cache.path()), size_t(3));
        QVERIFY(calibrate(g, set, raw).fromCache);
        // A version-1 table (raw MSEs, no errorKind) reads as "mse", a version-2 one (no
        // signalEnergy) with its E[y^2] as the signal; one of an unknown version does not read.
        auto j = errorTableToJson(a);
        const auto at = j.find("\"version\": 3");
        QVERIFY(at != std::string::npos);
        std::string v1 = j, v4 = j;
        v1.replace(at, 13, "\"version\": 1");
        v4.replace(at, 13, "\"version\": 4");
        QCOMPARE(errorTableFromJson(v1).errorKind, std::string("mse"));
        QVERIFY_THROWS_EXCEPTION(Error, errorTableFromJson(v4));
        std::string v2 = j;
        v2.replace(at, 13, "\"version\": 2");
        for (size_t k; (k = v2.find("\"signalEnergy\"")) != std::string::npos;) v2.erase(k, v2.find('\n', k) + 1 - k);
        const ErrorTable old = errorTableFromJson(v2);
        QCOMPARE(old.rows[1].signalEnergy, old.rows[1].outputEnergy);
        QCOMPARE(parseErrorKind("nsr-gptq"), std::make_pair(ErrorMeasure::RelativeGptq, SignalScale::Energy));
        QVERIFY_THROWS_EXCEPTION(Error, parseErrorKind("nsr"));
        QCOMPARE(parseErrorMeasure("nsr-gptq"), ErrorMeasure::RelativeGptq);
        QVERIFY_THROWS_EXCEPTION(Error, parseErrorMeasure("raw"));
    }

    // No aliasing with the layout: each output is pooled at one value per window of k (at a
    // seeded offset) and the MSE clip search subsamples the pool the same way. Every k-th value
    // would, on a [1, 40, 120] output (stride 2, then 2), show the fit only the channels
    // c = 0 mod 4 and clip four outlier channels of mean +-9 at c = 2 mod 4 (PP-OCRv4 rec's
    // p2o.MatMul.22: +-2.7 at 8 bits for values to +-15).
    void rangeFitSeesEveryChannel() {
        std::vector<float> add(120, 0.f);
        add[22] = add[54] = add[78] = 9.f;
        add[110] = -9.f;
        const Graph g = affineTokens(add);
        const auto set = syntheticDataset(g, 32, 3);
        const ErrorTable t = calibrate(g, set);
        const auto& r = t.rows[0];
        QCOMPARE(r.activationElements, int64_t(4800));
        const QuantParams& p = r.activationParams[size_t(t.bitsIndex(8))];
        const float lo = p.scale * float(p.qmin - p.zeroPoint), hi = p.scale * float(p.qmax - p.zeroPoint);
        QVERIFY2(hi > 8.f && lo < -8.f, qPrintable(QString("8 bits: range [%1, %2]").arg(lo).arg(hi)));
    }

    // The signal a relative error is measured against is what depends on the input: the
    // variance over the samples. A dead channel at a large constant (what equalization left in
    // PP-OCRv4 rec's learnable-affine Mul nodes before it stopped scaling constant channels: -49.6
    // beside channels of rms 0.2-2 at p2o.Mul.146) adds to E[y^2] but not to the signal; it stretches the per-tensor grid, so its
    // noise is the signal channels' noise. Over E[y^2] that noise looked negligible.
    void signalIsTheInputDependentPart() {
        std::vector<float> mul(120, 0.25f), add(120, 0.f);
        for (int c : {3, 40, 91}) mul[size_t(c)] = 0.f, add[size_t(c)] = -50.f;
        const Graph g = affineTokens(add, mul);
        const auto set = syntheticDataset(g, 32, 4);
        CalibrationOptions energy, variance;
        variance.signal = SignalScale::Variance;
        const ErrorTable v = calibrate(g, set, variance), e = calibrate(g, set, energy);
        QCOMPARE(v.errorKind, std::string("nsr-var-diagonal"));
        QCOMPARE(e.errorKind, std::string("nsr-diagonal"));
        const auto& rv = v.rows[1];
        const auto& re = e.rows[1];
        // E[y^2] = 117/120 * 0.0625 + 3/120 * 2500; the variance over the samples 117/120 * 0.0625.
        QVERIFY(std::abs(rv.outputEnergy / (117.0 / 120 * 0.0625 + 3.0 / 120 * 2500) - 1) < 0.05);
        QVERIFY(std::abs(rv.signalEnergy / (117.0 / 120 * 0.0625) - 1) < 0.1);
        QCOMPARE(re.signalEnergy, re.outputEnergy);
        for (size_t b = 0; b < v.bits.size(); ++b) {
            QCOMPARE(rv.activationParams[b].scale, re.activationParams[b].scale);  // the same quantizer
            QVERIFY(std::abs(rv.activationMse[b] * rv.signalEnergy / (re.activationMse[b] * re.outputEnergy) - 1) < 1e-9);
        }
        // 6 bits: a step of 50/63 over a signal of rms 0.25: noise of the order of the signal.
        QVERIFY(rv.activationMse[size_t(v.bitsIndex(6))] > 0.5);
        QVERIFY(re.activationMse[size_t(e.bitsIndex(6))] < 0.01);
        // One sample has no variance over samples: the signal is E[y^2] then.
        Dataset one;
        one.samples = {set.samples.front()};
        const ErrorTable single = calibrate(g, one);
        QCOMPARE(single.rows[1].signalEnergy, single.rows[1].outputEnergy);
    }

    // Samples run in parallel on single-threaded executors; what each contributes is merged in
    // sample order, so the table (pooled values, energies, per-position variances, input moments,
    // sensitivities) is the same to the last bit for any thread count, and the progress report
    // counts the merged samples in order.
    void sameTableForAnyThreadCount() {
        std::vector<float> mul(120, 0.5f), add(120, 0.f);
        add[7] = 3.f;
        {
            const Graph g = wideConvs();
            Executor one(g, ExecutorOptions{1}), two(g, ExecutorOptions{2});
            const auto in = syntheticDataset(g, 1, 5).samples.front();
            QVERIFY2(one(in)[0].floats != two(in)[0].floats, "the fixture must tell the executors apart");
        }
        for (const ErrorMeasure measure : {ErrorMeasure::Relative, ErrorMeasure::RelativeGptq})
        for (const Graph& g : {twoConvs(), wideConvs(), affineTokens(add, mul)}) {
            const auto set = syntheticDataset(g, 9, 5);
            std::string first;
            for (int threads : {1, 2, 3}) {
                CalibrationOptions o;
                o.measure = measure;
                o.threads = threads;
                o.signal = SignalScale::Variance;
                o.sensitivitySamples = 2;
                std::vector<int> reported;
                o.progress = [&](int done, int total) {
                    QCOMPARE(total, 9);
                    reported.push_back(done);
                };
                ErrorTable t = calibrate(g, set, o);
                t.seconds = t.floatPassSeconds = 0;
                const std::string json = errorTableToJson(t);
                if (first.empty()) first = json;
                QVERIFY2(json == first, qPrintable(QString("%1 threads, %2").arg(threads).arg(measure == ErrorMeasure::RelativeGptq ? "nsr-gptq" : "nsr")));
                QCOMPARE(reported, (std::vector<int>{1, 2, 3, 4, 5, 6, 7, 8, 9}));
            }
        }
    }

    void badTensorFoldersFailClearly() {
        const Graph g = twoConvs();
        QTemporaryDir data, cache;
        CalibrationOptions o;
        o.cacheDir = cache.path().toStdString();
        try {
            loadTensorFolder(g, data.path().toStdString());
            QFAIL("empty folder accepted");
        } catch (const Error& e) {
            QVERIFY(QString(e.what()).contains("no .pb or .npy"));
        }
        TensorData good;
        good.shape = {1, 3, 12, 12};
        good.floats.assign(432, 0.5f);
        writeTensorFile((data.path() + "/a.npy").toStdString(), good);
        QCOMPARE(loadTensorFolder(g, data.path().toStdString()).samples.size(), size_t(1));
        TensorData wrong = good;
        wrong.shape = {1, 3, 12, 11};
        wrong.floats.resize(396);
        writeTensorFile((data.path() + "/b.npy").toStdString(), wrong);
        try {
            loadTensorFolder(g, data.path().toStdString());
            QFAIL("wrong shape accepted");
        } catch (const Error& e) {
            QVERIFY(QString(e.what()).contains("b.npy"));
            QVERIFY(QString(e.what()).contains("1x3x12x11"));
        }
        std::filesystem::remove((data.path() + "/b.npy").toStdString());
        TensorData nan = good;
        nan.floats[7] = NAN;
        writeTensorFile((data.path() + "/c.pb").toStdString(), nan);
        QVERIFY_THROWS_EXCEPTION(Error, loadTensorFolder(g, data.path().toStdString()));
        QFile junk(data.path() + "/c.pb");
        QVERIFY(junk.open(QIODevice::WriteOnly));
        junk.write("\x01\x02garbage");
        junk.close();
        QVERIFY_THROWS_EXCEPTION(Error, loadTensorFolder(g, data.path().toStdString()));
        // A bad sample handed to calibrate directly is rejected before anything is cached.
        Dataset bad;
        bad.samples.push_back({nan});
        QVERIFY_THROWS_EXCEPTION(Error, calibrate(g, bad, o));
        QCOMPARE(filesIn(cache.path()), size_t(0));
    }
};

QTEST_GUILESS_MAIN(CalibrationTest)
#include "tst_exec_calibration.moc"
