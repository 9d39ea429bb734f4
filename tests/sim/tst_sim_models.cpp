// The simulator on the paper's real models (from ${AUTOSPLIT_MODELS_DIR}, filled by
// scripts/fetch-models.sh): the w8 -> w4 behaviour on Eyeriss and the speed on a 250 MB model.
#include "autosplit/ir/analysis.h"
#include "autosplit/onnx/import.h"
#include "autosplit/passes/optimize.h"
#include "autosplit/sim/latency_table.h"

#include <QFileInfo>
#include <QtTest>

#include <chrono>

using namespace autosplit;
using namespace autosplit::sim;

namespace {

QString modelPath(const char* name) { return QStringLiteral(AUTOSPLIT_MODELS_DIR "/") + name + ".onnx"; }

ModelAnalysis analyzeModel(const QString& path) {
    Graph g = importOnnx(path.toStdString());
    optimize(g);
    return analyze(g);
}

}  // namespace

class TestSimModels : public QObject {
    Q_OBJECT
private slots:
    void resnet50WeightBitsOnEyeriss() {
        const QString path = modelPath("resnet50");
        if (!QFileInfo::exists(path)) QSKIP("resnet50.onnx missing: run scripts/fetch-models.sh --paper");
        const ModelAnalysis m = analyzeModel(path);
        const DeviceProfile eyeriss = builtinDevice("eyeriss");
        int memoryBound = 0, computeBound = 0;
        for (const LayerInfo& l : m.layers) {
            const LayerCost w8 = simulateLayer(l, eyeriss, 8, 8);
            const LayerCost w4 = simulateLayer(l, eyeriss, 4, 8);
            const QByteArray what = QByteArray::fromStdString(l.name + " (" + l.op + ")");
            QCOMPARE(w4.computeUs, w8.computeUs);
            if (!l.hasWeights()) {
                QVERIFY2(w4.latencyUs == w8.latencyUs, what);
                continue;
            }
            if (w8.bound == Bound::Memory) {
                ++memoryBound;
                QVERIFY2(w4.latencyUs < w8.latencyUs, what);
            } else {
                QCOMPARE(w8.bound, Bound::Compute);
                ++computeBound;
                QVERIFY2(w4.latencyUs == w8.latencyUs, what);
            }
        }
        qInfo("resnet50 on eyeriss: %d memory-bound and %d compute-bound weight layers", memoryBound, computeBound);
        // Both kinds must be present for the check above to mean anything (the FC layer and the
        // late 1x1 convs are memory-bound at 1 GB/s; the 3x3 convs are compute-bound).
        QVERIFY(memoryBound > 0);
        QVERIFY(computeBound > 0);
        QCOMPARE(memoryBound + computeBound, m.weightLayers);
    }

    void yolov3SimulatesUnderASecond() {
        const QString path = modelPath("yolov3");
        if (!QFileInfo::exists(path)) QSKIP("yolov3.onnx missing: run scripts/fetch-models.sh --paper");
        QVERIFY(QFileInfo(path).size() > 200'000'000);
        const ModelAnalysis m = analyzeModel(path);
        for (const char* dev : {"eyeriss", "tpu"}) {
            const DeviceProfile d = builtinDevice(dev);
            const auto t0 = std::chrono::steady_clock::now();
            const LatencyTable t = LatencyTable::build(m.layers, d);
            const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
            qInfo("yolov3 on %s: %d layers x %zu bit pairs in %.2f ms", dev, t.layerCount(),
                  t.bits().size() * t.bits().size(), ms);
            QVERIFY2(ms < 1000.0, qPrintable(QString::number(ms)));
            QCOMPARE(t.layerCount(), int(m.layers.size()));
            const int i8 = t.bitsIndex(8);
            QVERIFY(t.rangeUs(0, t.layerCount() - 1, i8, i8) > 0);
        }
    }
};

QTEST_GUILESS_MAIN(TestSimModels)
#include "tst_sim_models.moc"
