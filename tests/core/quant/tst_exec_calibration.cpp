// Calibration tables on a hand-built Conv+Relu -> Conv graph: shapes of the table, error falls
// with bits, unsigned activations after Relu, cache hit/miss by data hash, and clear errors for
// bad tensor folders (empty, wrong shape, NaN) that leave nothing in the cache.
#include "autosplit/data/tensor_io.h"
#include "autosplit/quant/calibration.h"
#include "autosplit/util/errors.h"

#include <QTemporaryDir>
#include <QtTest>

#include <cmath>
#include <filesystem>
#include <random>

using namespace autosplit;

namespace {
int addValue(Graph& g, const std::string& name, std::vector<int64_t> shape = {}) {
    Tensor t;
    t.name = name;
    t.shape = std::move(shape);
    t.shapeKnown = !t.shape.empty();
    return g.addTensor(std::move(t));
}
int addWeight(Graph& g, const std::string& name, std::vector<int64_t> shape, uint32_t seed) {
    TensorData d;
    d.shape = shape;
    d.floats.resize(static_cast<size_t>(d.elementCount()));
    std::mt19937 rng(seed);
    std::normal_distribution<float> n(0.f, 0.3f);
    for (float& v : d.floats) v = n(rng);
    Tensor t;
    t.name = name;
    t.shape = shape;
    t.shapeKnown = true;
    t.data = std::make_shared<TensorData>(std::move(d));
    return g.addTensor(std::move(t));
}
Graph twoConvs() {
    Graph g;
    g.opsetVersion = 13;
    const int x = addValue(g, "x", {1, 3, 12, 12});
    const int a = addValue(g, "a"), y = addValue(g, "y");
    Node c1;
    c1.name = "conv1";
    c1.op = "Conv";
    c1.inputs = {x, addWeight(g, "w1", {8, 3, 3, 3}, 1), addWeight(g, "b1", {8}, 2)};
    c1.outputs = {a};
    c1.attrs["pads"] = Attribute{std::vector<int64_t>{1, 1, 1, 1}};
    c1.activation.kind = Activation::Kind::Relu;
    Node c2;
    c2.name = "conv2";
    c2.op = "Conv";
    c2.inputs = {a, addWeight(g, "w2", {4, 8, 1, 1}, 3)};
    c2.outputs = {y};
    g.nodes = {c1, c2};
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
