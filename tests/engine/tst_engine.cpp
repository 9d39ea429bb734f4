// The engine layer: signals, stale-result dropping, cancellation, throttled re-scoring, and the
// numbers it delivers against core/sim computed directly.
#include "autosplit/engine/engine.h"
#include "autosplit/widgets/control_panel.h"
#include "onnx_builder.h"

#include <QSignalSpy>
#include <QSlider>
#include <QTest>

#include <QDir>
#include <QFile>
#include <QScopeGuard>
#include <QTemporaryDir>

#include <cmath>

#include <sys/syscall.h>
#include <unistd.h>

using namespace autosplit;
using namespace autosplit::engine;

Q_DECLARE_METATYPE(autosplit::engine::PlanRequest)

namespace {
constexpr int kTimeout = 60000;

LoadRequest request(const QString& path) {
    LoadRequest r;
    r.path = path;
    r.edgeDevice = sim::builtinDevice("eyeriss");
    r.cloudDevice = sim::builtinDevice("tpu");
    return r;
}

// A second, different model: conv -> relu -> conv, 1x3x32x32.
QString smallModel() {
    ModelBuilder b;
    b.input("in", {1, 3, 32, 32}).output("out");
    b.initializer("w1", {8, 3, 3, 3}, randomValues(8 * 27, 1)).initializer("w2", {4, 8, 1, 1}, randomValues(32, 2));
    b.node("Conv", {"in", "w1"}, {"c1"}, {Attr::list("pads", {1, 1, 1, 1})}, "conv1");
    b.node("Relu", {"c1"}, {"r1"}, {}, "relu1");
    b.node("Conv", {"r1", "w2"}, {"out"}, {}, "conv2");
    return QString::fromStdString(testing::writeTemp(b, "small"));
}

bool isMeasuredStage(const SplitEstimates& e) {
    return e.measured;
}

// Nice value of every thread of this process (or only the calling thread's), from /proc
// (field 19 of stat, after the parenthesized command name).
QList<int> threadNiceValues(bool callingThreadOnly = false) {
    QList<int> out;
    const QString self = QString::number(static_cast<qint64>(::syscall(SYS_gettid)));
    const QDir tasks(QStringLiteral("/proc/self/task"));
    for (const QString& tid : tasks.entryList(QDir::Dirs | QDir::NoDotAndDotDot)) {
        if (callingThreadOnly && tid != self) continue;
        QFile f(tasks.filePath(tid + QStringLiteral("/stat")));
        if (!f.open(QIODevice::ReadOnly)) continue;
        const QByteArray stat = f.readAll();
        const QList<QByteArray> fields = stat.mid(stat.lastIndexOf(')') + 2).split(' ');
        if (fields.size() > 16) out << fields[16].toInt();  // field 19 overall: state is field 3
    }
    return out;
}

std::shared_ptr<const ModelSession> loadSync(Engine& e, const QString& path) {
    QSignalSpy ok(&e, &Engine::sessionAvailable);
    e.loadModel(request(path));
    if (!ok.wait(kTimeout)) return nullptr;
    return ok.takeFirst().at(0).value<std::shared_ptr<const ModelSession>>();
}
}  // namespace

class TestEngine : public QObject {
    Q_OBJECT
private slots:
    void loadsTheExampleWithProgressAndAnEstimate() {
        Engine e;
        e.setPlanningEnabled(false);  // stage one only: exact signal counts
        QSignalSpy started(&e, &Engine::loadStarted);
        QSignalSpy progress(&e, &Engine::loadProgress);
        QSignalSpy session(&e, &Engine::sessionAvailable);
        QSignalSpy estimate(&e, &Engine::estimateAvailable);
        e.loadModel(request(QStringLiteral(AUTOSPLIT_EXAMPLE_MODEL)));
        QVERIFY(e.isLoading());
        QCOMPARE(started.count(), 1);
        QTRY_COMPARE_WITH_TIMEOUT(session.count(), 1, kTimeout);
        QVERIFY(!e.isLoading());
        QVERIFY(progress.count() >= 2);
        double last = -1;
        for (const auto& args : progress) {  // progress only moves forward
            QVERIFY(args.at(1).toDouble() >= last);
            last = args.at(1).toDouble();
        }
        const auto s = session.at(0).at(0).value<std::shared_ptr<const ModelSession>>();
        QVERIFY(s && s->model);
        QCOMPARE(int(s->model->splits.size()), s->model->layerCount() + 1);
        QCOMPARE(s->devices.edgeLatency->layerCount(), s->model->layerCount());
        QCOMPARE(s->devices.cloud.name, std::string("tpu"));
        QTRY_COMPARE_WITH_TIMEOUT(estimate.count(), 1, kTimeout);
        const auto est = estimate.at(0).at(0).value<std::shared_ptr<const SplitEstimates>>();
        QCOMPARE(int(est->splits.size()), s->model->layerCount() + 1);
        QVERIFY(est->request == e.request());
    }

    void estimateMatchesTheSimulatorDirectly() {
        Engine e;
        e.setPlanningEnabled(false);
        const auto s = loadSync(e, QStringLiteral(AUTOSPLIT_EXAMPLE_MODEL));
        QVERIFY(s);
        PlanRequest r;
        r.constraints.uplinkBps = 4e6;
        r.constraints.edgeMemoryBytes = int64_t(0.2 * 1024 * 1024);
        r.constraints.messageOverheadMs = 1.0;
        r.bitSet = {4, 8};
        const SplitEstimates est = estimateSplits(*s, r);
        QCOMPARE(est.edgeBits, 8);
        const Graph& g = s->model->graph;
        const int n = s->model->layerCount();
        const auto& et = *s->devices.edgeLatency;
        const auto& ct = *s->devices.cloudLatency;
        for (int p = -1; p < n; ++p) {
            const planner::SplitCost& cost = est.at(p);
            double edge = 0, cloud = 0;
            for (int i = 0; i <= p; ++i) edge += et.at(i, 8, 8).us;
            for (int i = p + 1; i < n; ++i) cloud += ct.at(i, 16, 16).us;
            QVERIFY(std::abs(cost.latency.edgeMs * 1e3 - edge) <= 1e-6 * std::max(1.0, edge));
            QVERIFY(std::abs(cost.latency.cloudMs * 1e3 - cloud) <= 1e-6 * std::max(1.0, cloud));
            int64_t bits = 0;
            for (int t : s->model->split(p).transmitted) bits += g.tensors[size_t(t)].elementCount() * 8;
            QCOMPARE(cost.transmitBits, bits);
            // The planner's transmit model: wire bits (payload + TCP/IP/Ethernet headers) / uplink
            // plus the per-message overhead.
            const double transmitMs = double(bits) * (1 + planner::Constraints{}.linkOverhead) / 4e6 * 1e3 +
                                      1.0 * double(s->model->split(p).transmitted.size());
            QVERIFY(std::abs(cost.latency.transmitMs - transmitMs) < 1e-9);
            // Edge memory as core's model computes it.
            const EdgeMemory mem = edgeMemory(g, PlanBits::uniform(g, p, 8, 8, 8));
            QCOMPARE(cost.edgeWeightBits + cost.edgeActivationBits, mem.weightBits + mem.peakActivationBits);
            QCOMPARE(cost.fitsMemory, cost.edgeWeightBytes() + cost.edgeActivationBytes() <= r.constraints.edgeMemoryBytes);
        }
        // The pick is the fastest split that fits.
        for (const auto& cost : est.splits)
            if (cost.fitsMemory) QVERIFY(est.at(est.best).latency.totalMs <= cost.latency.totalMs);
        QVERIFY(!est.edgeOnly().fitsMemory);  // 0.2 MiB is below the example's whole-model footprint
    }

    void staleLoadIsDropped() {
        Engine e;
        e.setPlanningEnabled(false);
        QSignalSpy session(&e, &Engine::sessionAvailable);
        const quint64 first = e.loadModel(request(QStringLiteral(AUTOSPLIT_EXAMPLE_MODEL)));
        const quint64 second = e.loadModel(request(smallModel()));
        QVERIFY(second > first);
        QTRY_COMPARE_WITH_TIMEOUT(session.count(), 1, kTimeout);
        QTest::qWait(300);  // the superseded job finishes too, but must not be delivered
        QCOMPARE(session.count(), 1);
        QCOMPARE(e.session()->model->layerCount(), 2);  // conv1 (+relu fused), conv2
    }

    void cancelKeepsThePreviousSession() {
        Engine e;
        e.setPlanningEnabled(false);
        const auto before = loadSync(e, smallModel());
        QVERIFY(before);
        QSignalSpy session(&e, &Engine::sessionAvailable);
        QSignalSpy cancelled(&e, &Engine::loadCancelled);
        QSignalSpy failed(&e, &Engine::loadFailed);
        e.loadModel(request(QStringLiteral(AUTOSPLIT_EXAMPLE_MODEL)));
        e.cancelLoad();
        QCOMPARE(cancelled.count(), 1);
        QVERIFY(!e.isLoading());
        QTest::qWait(500);
        QCOMPARE(session.count(), 0);
        QCOMPARE(failed.count(), 0);
        QCOMPARE(e.session(), before);
    }

    void failedLoadNamesTheFileAndKeepsTheSession() {
        Engine e;
        e.setPlanningEnabled(false);
        const auto before = loadSync(e, smallModel());
        QVERIFY(before);
        QSignalSpy failed(&e, &Engine::loadFailed);
        const QString junk = QString::fromStdString(testing::writeTempFile("junk.onnx", "definitely not an onnx file"));
        e.loadModel(request(junk));
        QTRY_COMPARE_WITH_TIMEOUT(failed.count(), 1, kTimeout);
        QVERIFY2(failed.at(0).at(1).toString().contains(QStringLiteral("junk.onnx")), qPrintable(failed.at(0).at(1).toString()));
        QCOMPARE(failed.at(0).at(2).value<LoadErrorKind>(), LoadErrorKind::Import);
        QCOMPARE(e.session(), before);
        e.loadModel(request(QStringLiteral("/nonexistent/model.onnx")));
        QTRY_COMPARE_WITH_TIMEOUT(failed.count(), 2, kTimeout);
        QVERIFY(failed.at(1).at(1).toString().contains(QStringLiteral("no such file")));
    }

    void devicesRebuildOnlyTheTables() {
        Engine e;
        e.setPlanningEnabled(false);
        const auto s = loadSync(e, QStringLiteral(AUTOSPLIT_EXAMPLE_MODEL));
        QVERIFY(s);
        QSignalSpy session(&e, &Engine::sessionAvailable);
        e.setDevices(sim::builtinDevice("tpu"), sim::builtinDevice("tpu"));
        QTRY_COMPARE_WITH_TIMEOUT(session.count(), 1, kTimeout);
        const auto s2 = session.at(0).at(0).value<std::shared_ptr<const ModelSession>>();
        QCOMPARE(s2->model, s->model);  // same model data, shared
        QCOMPARE(s2->devices.edge.name, std::string("tpu"));
        QVERIFY(s2->devices.edgeLatency != s->devices.edgeLatency);
    }

    void throttledRequestsEndOnTheLatestConstraints() {
        Engine e;
        e.setPlanningEnabled(false);
        e.setThrottleInterval(40);
        QVERIFY(loadSync(e, QStringLiteral(AUTOSPLIT_EXAMPLE_MODEL)));
        QSignalSpy estimate(&e, &Engine::estimateAvailable);
        QTRY_COMPARE_WITH_TIMEOUT(estimate.count(), 1, kTimeout);  // the post-load estimate
        estimate.clear();
        PlanRequest c;
        const int requests = 200;
        for (int i = 0; i < requests; ++i) {
            c.constraints.uplinkBps = (0.1 + i) * 1e6;
            e.requestEstimate(c);
        }
        QTRY_VERIFY_WITH_TIMEOUT(e.estimates() && e.estimates()->request == c, kTimeout);
        QTest::qWait(150);
        QVERIFY2(estimate.count() < 10, qPrintable(QString::number(estimate.count())));  // coalesced, not 200 runs
        quint64 lastSerial = 0, lastGen = 0;
        for (const auto& args : estimate) {
            const auto est = args.at(0).value<std::shared_ptr<const SplitEstimates>>();
            if (isMeasuredStage(*est)) {  // the refined stage of the result just before it
                QCOMPARE(est->requestSerial, lastSerial);
                continue;
            }
            QVERIFY(est->requestSerial > lastSerial);  // never an older result after a newer one
            QVERIFY(est->generation > lastGen);
            lastSerial = est->requestSerial;
            lastGen = est->generation;
        }
        QVERIFY(estimate.last().at(0).value<std::shared_ptr<const SplitEstimates>>()->request == c);
    }

    void plannerPlansArriveInStages() {
        Engine e;
        QSignalSpy estimate(&e, &Engine::estimateAvailable);
        // The planner's answer at the moment the fast stage arrives (delivered on this thread
        // before the measurement that follows it starts).
        std::shared_ptr<const planner::PlanSet> direct;
        connect(&e, &Engine::estimateAvailable, this, [&](std::shared_ptr<const SplitEstimates> est) {
            if (!direct && est->plans && e.session() && e.session()->planning)
                direct = planner::replan(*e.session()->planning->context, est->request.constraints);
        });
        QVERIFY(loadSync(e, QStringLiteral(AUTOSPLIT_EXAMPLE_MODEL)));
        QVERIFY(e.isPlanning());  // stage two runs after the model showed
        QTRY_VERIFY_WITH_TIMEOUT(!e.isPlanning(), kTimeout);
        const auto s = e.session();
        QVERIFY2(s->planning, qPrintable(s->planningError));
        QTRY_VERIFY_WITH_TIMEOUT(e.estimates() && e.estimates()->plans, kTimeout);
        QVERIFY(s->planning->context->nodeCount() == s->model->layerCount());
        // The first delivered estimate that carries plans is the fast stage (no measurement yet).
        std::shared_ptr<const SplitEstimates> fast;
        for (const auto& args : estimate) {
            const auto est = args.at(0).value<std::shared_ptr<const SplitEstimates>>();
            if (est->plans) {
                fast = est;
                break;
            }
        }
        QVERIFY2(fast, "no estimate with plans was delivered");
        QVERIFY(!fast->measured);
        // The same answer as calling the planner directly.
        QVERIFY(direct);
        QCOMPARE(fast->plans->selected.splitPosition, direct->selected.splitPosition);
        QCOMPARE(fast->plans->selected.latency.totalMs, direct->selected.latency.totalMs);
        QCOMPARE(fast->plans->candidates.size(), direct->candidates.size());
        if (!fast->plans->final()) {
            // Stage two: measured accuracy for the same constraints, once the sliders rest.
            QTRY_VERIFY_WITH_TIMEOUT(e.estimates()->measured, kTimeout);
            QCOMPARE(e.estimates()->requestSerial, fast->requestSerial);
            QVERIFY(e.estimates()->plans->measured > 0);
        }
    }

    // Background measurements run at nice 10 on their own thread (and the evaluator's executor
    // threads they create), so the UI thread and the slider re-plans preempt them; the UI
    // thread itself stays at its nice. Each measurement's selection is delivered as it is taken.
    void measurementsRunBelowTheUiThreadAndArriveOneByOne() {
        // An empty cache, so that the measurement builds the evaluator (and its threads).
        QTemporaryDir cache;
        QVERIFY(cache.isValid());
        const QByteArray before = qgetenv("AUTOSPLIT_CACHE");
        qputenv("AUTOSPLIT_CACHE", cache.path().toLocal8Bit());
        const auto restore = qScopeGuard([&] {
            if (before.isEmpty()) qunsetenv("AUTOSPLIT_CACHE");
            else qputenv("AUTOSPLIT_CACHE", before);
        });
        Engine e;
        QSignalSpy estimates(&e, &Engine::estimateAvailable);
        QVERIFY(loadSync(e, QStringLiteral(AUTOSPLIT_EXAMPLE_MODEL)));
        QTRY_VERIFY_WITH_TIMEOUT(!e.isPlanning(), kTimeout);
        QTRY_VERIFY_WITH_TIMEOUT(e.estimates() && e.estimates()->plans, kTimeout);
        QTRY_VERIFY_WITH_TIMEOUT(e.estimates()->measured, kTimeout);
        // The first plans delivered were not final: the request needed a measurement. (Not the
        // engine's current estimate: on a fast machine the measurements may all be done by the
        // time the test looks.)
        std::shared_ptr<const SplitEstimates> first;
        for (const auto& args : estimates) {
            first = args.at(0).value<std::shared_ptr<const SplitEstimates>>();
            if (first && first->plans) break;
        }
        QVERIFY(first && first->plans);
        QVERIFY2(!first->plans->final(), "the example's default request should need a measurement");
        // The selections between measurements arrived as they were taken, for the same request.
        const auto final = e.estimates();
        QVERIFY2(final->plans->measured >= 2, "the example should need several measurements");
        int interim = 0;
        for (const auto& args : estimates) {
            const auto est = args.at(0).value<std::shared_ptr<const SplitEstimates>>();
            if (est->measured || !est->plans || est->plans->measured == 0) continue;
            QCOMPARE(est->requestSerial, final->requestSerial);
            QCOMPARE(est->plans->measured, ++interim);
        }
        QCOMPARE(interim, final->plans->measured - 1);
        const QList<int> nice = threadNiceValues();
        QVERIFY2(!nice.isEmpty(), "cannot read /proc/self/task");
        const int mine = threadNiceValues(true).value(0, -100);
        QCOMPARE(mine, 0);
        // The measurement thread and at least one executor worker it created.
        QVERIFY2(nice.count(mine + 10) >= 2, qPrintable(QStringLiteral("nice values of the threads: %1").arg(
                                                  [&] { QStringList l; for (int n : nice) l << QString::number(n); return l.join(' '); }())));
    }

    void eachSliderDragProducesANewPlanAndNoStaleOne_data() {
        QTest::addColumn<QString>("slider");
        QTest::addRow("bandwidth") << QStringLiteral("bandwidthSlider");
        QTest::addRow("memory") << QStringLiteral("memorySlider");
        QTest::addRow("threshold") << QStringLiteral("thresholdSlider");
    }
    void eachSliderDragProducesANewPlanAndNoStaleOne() {
        QFETCH(QString, slider);
        Engine e;
        e.setPlanningEnabled(false);
        widgets::ControlPanel panel;
        connect(&panel, &widgets::ControlPanel::requestChanged, &e, &Engine::requestEstimate);
        e.requestEstimate(panel.request());
        QVERIFY(loadSync(e, QStringLiteral(AUTOSPLIT_EXAMPLE_MODEL)));
        QTRY_VERIFY_WITH_TIMEOUT(e.estimates(), kTimeout);
        QSignalSpy estimate(&e, &Engine::estimateAvailable);
        auto* s = panel.findChild<QSlider*>(slider);
        QVERIFY(s);
        const int from = s->value();
        for (int step = 1; step <= 40; ++step) {
            s->setValue((from + step * 13) % (s->maximum() + 1));
            QTest::qWait(2);
        }
        QTRY_VERIFY_WITH_TIMEOUT(e.estimates()->request == panel.request(), kTimeout);
        QVERIFY(estimate.count() >= 1);
        quint64 lastSerial = 0;
        for (const auto& args : estimate) {
            const auto est = args.at(0).value<std::shared_ptr<const SplitEstimates>>();
            if (isMeasuredStage(*est)) {
                QCOMPARE(est->requestSerial, lastSerial);
                continue;
            }
            QVERIFY(est->requestSerial > lastSerial);
            lastSerial = est->requestSerial;
        }
    }
};

QTEST_MAIN(TestEngine)
#include "tst_engine.moc"
