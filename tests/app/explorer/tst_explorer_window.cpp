// The real main window: opens the bundled example, shows the DAG, plots and plan, follows a
// bandwidth drag, survives a bad model and a bad device file, round-trips a session, and saves
// a screenshot of the whole window (docs/screenshot.png is a copy of it; see the README).
#include "data_source_dialog.h"
#include "main_window.h"

#include "autosplit/planner/planner.h"
#include "autosplit/util/errors.h"
#include "autosplit/widgets/control_panel.h"
#include "autosplit/widgets/plots/bit_heatmap.h"
#include "autosplit/widgets/plots/latency_breakdown_plot.h"
#include "autosplit/widgets/plots/plan_scatter.h"
#include "autosplit/widgets/plots/split_profile_plot.h"

#include <QAction>
#include <QCheckBox>
#include <QFileInfo>
#include <QSet>

#include <algorithm>
#include <cmath>
#include <QDir>
#include <QElapsedTimer>
#include <QFile>
#include <QLineEdit>
#include <QMessageBox>
#include <QProcess>
#include <QSignalSpy>
#include <QSlider>
#include <QStandardPaths>
#include <QTemporaryDir>
#include <QToolButton>
#include <QTest>

using autosplit::explorer::MainWindow;

namespace {
constexpr int kTimeout = 60000;

bool waitForPlan(MainWindow& w) {
    return QTest::qWaitFor(
        [&] {
            if (!w.shownEstimates() || !w.dagView()->isLayoutReady()) return false;
            if (!w.shownEstimates()->plans) return false;  // stage two: the planner's plans
            return true;
        },
        kTimeout);
}
}  // namespace

class TestExplorerWindow : public QObject {
    Q_OBJECT
private slots:
    void initTestCase() { QStandardPaths::setTestModeEnabled(true); }

    void opensExampleAndShowsEverything() {
        MainWindow w;
        w.resize(1600, 1000);
        w.show();
        QVERIFY(QTest::qWaitForWindowExposed(&w));
        w.openModel(QStringLiteral(AUTOSPLIT_EXAMPLE_MODEL));
        QVERIFY(waitForPlan(w));
        const auto session = w.engine().session();
        QVERIFY(session);
        QCOMPARE(w.dagView()->model(), session->model);
        QCOMPARE(w.breakdownPlot()->rows().size() >= 3, true);
        QCOMPARE(int(w.heatmap()->layers().size()), session->model->layerCount());
        QVERIFY(w.selectedSplit() >= -1 && w.selectedSplit() < session->model->layerCount());
        // The breakdown's first row is the selected plan, with the simulator's numbers.
        QVERIFY(w.shownEstimates()->plans);
        QCOMPARE(w.breakdownPlot()->rows().front().edgeMs, w.shownEstimates()->plans->selected.latency.edgeMs);
        QCOMPARE(w.selectedSplit(), w.shownEstimates()->plans->selected.splitPosition);

        // Drag the bandwidth slider from BLE-slow to fast: the plan follows, never a stale one.
        QSlider* bw = w.controls()->bandwidthSlider();
        QSignalSpy shown(&w, &MainWindow::planShown);
        for (int v = autosplit::widgets::ControlPanel::positionFromBandwidth(0.1);
             v <= autosplit::widgets::ControlPanel::positionFromBandwidth(1000); v += 50) {
            bw->setValue(v);
            QTest::qWait(5);
        }
        const double last = w.controls()->request().constraints.uplinkBps;
        // A new session (e.g. another bit set) clears the shown estimates until the next one lands.
        QTRY_VERIFY_WITH_TIMEOUT(w.shownEstimates() && qFuzzyCompare(w.shownEstimates()->request.constraints.uplinkBps, last), kTimeout);
        QVERIFY(!shown.isEmpty());
        // The shown plan is the one computed for the last slider value.
        QCOMPARE(w.selectedSplit(), w.shownEstimates()->plans->selected.splitPosition);

        // A 4G-class uplink and an edge memory below the whole model's footprint: the picture
        // shows a real split (edge part, cut, cloud part).
        auto c = w.controls()->request();
        c.constraints.uplinkBps = 10e6;
        c.constraints.edgeMemoryBytes = int64_t(0.12 * 1024 * 1024);
        w.controls()->setRequest(c);
        QTRY_VERIFY_WITH_TIMEOUT(w.shownEstimates() && w.shownEstimates()->request == w.controls()->request(), kTimeout);
        // Stage two (measured accuracy) replaces the provisional plan once the slider rests.
        QTRY_VERIFY_WITH_TIMEOUT(w.shownEstimates() && (w.shownEstimates()->measured || w.shownEstimates()->plans->final()), kTimeout);
        // Show a node's details, as a user clicking the first cloud node would.
        const int node = std::min(w.selectedSplit() + 1, session->model->layerCount() - 1);
        w.dagView()->selectNode(node);
        QTest::qWait(300);  // let queued replots and the DAG repaint land

        const QImage shot = w.grab().toImage();
        QVERIFY(!shot.isNull());
        QCOMPARE(shot.width(), w.width());
        const QString out = QDir(QStringLiteral(AUTOSPLIT_BINARY_DIR)).absoluteFilePath(QStringLiteral("explorer-screenshot.png"));
        QVERIFY(shot.save(out));
        qInfo("screenshot: %s", qPrintable(out));
        // The picture is not blank: many distinct colours (nodes, bars, heatmap).
        QSet<QRgb> colours;
        for (int y = 0; y < shot.height(); y += 7)
            for (int x = 0; x < shot.width(); x += 7) colours.insert(shot.pixel(x, y));
        QVERIFY2(colours.size() > 50, qPrintable(QStringLiteral("only %1 colours").arg(colours.size())));
    }

    // One latency model: every point of "latency by split" is the planner's own scoring of that
    // split at the shown uniform width (the uniform baselines' uniformPlan, and the stored
    // solution scored layer by layer where the context has one), transmit overhead included.
    // File → Export Deployment: the selected plan as edge/cloud ONNX + manifest, the exported
    // pair measured and said in the dialog; before the planner has run it says why not.
    void exportsTheDeployment() {
        QTemporaryDir tmp;
        QVERIFY(tmp.isValid());
        MainWindow w;
        w.show();
        QAction* action = w.findChild<QAction*>(QStringLiteral("exportDeploymentAction"));
        QVERIFY(action);
        QSignalSpy errors(&w, &MainWindow::errorShown);
        QVERIFY(!w.exportDeployment(tmp.path()));  // nothing open yet
        QCOMPARE(errors.count(), 1);
        for (auto* box : w.findChildren<QMessageBox*>()) box->close();
        w.openModel(QStringLiteral(AUTOSPLIT_EXAMPLE_MODEL));
        QVERIFY(waitForPlan(w));
        QTRY_VERIFY_WITH_TIMEOUT(w.shownEstimates() && w.shownEstimates()->plans && w.engine().session()->planning, kTimeout);
        QSignalSpy done(&w, &MainWindow::deploymentExported);
        QVERIFY(w.exportDeployment(tmp.path()));
        QTRY_COMPARE_WITH_TIMEOUT(done.count(), 1, 10 * kTimeout);
        QVERIFY(QFile::exists(tmp.filePath(QStringLiteral("edge.onnx"))));
        QVERIFY(QFile::exists(tmp.filePath(QStringLiteral("manifest.json"))));
        const QString summary = done.first().at(1).toString();
        QVERIFY2(summary.contains(QLatin1String("exported pair measured")), qPrintable(summary));
        auto* box = w.findChild<QMessageBox*>(QStringLiteral("exportDialog"));
        QVERIFY(box);
        QVERIFY(box->informativeText().contains(QLatin1String("plan hash")));
        box->close();
    }

    void latencyBySplitIsThePlannersScoring() {
        MainWindow w;
        w.show();
        w.openModel(QStringLiteral(AUTOSPLIT_EXAMPLE_MODEL));
        QVERIFY(waitForPlan(w));
        const auto& ctx = *w.engine().session()->planning->context;
        const auto& e = *w.shownEstimates();
        const auto& points = w.splitPlot()->points();
        QCOMPARE(int(points.size()), ctx.nodeCount() + 1);
        const auto near = [](double a, double b) { return std::abs(a - b) <= 1e-9 * std::max(1.0, std::abs(b)); };
        int solutions = 0;
        for (int p = -1; p < ctx.nodeCount(); ++p) {
            const auto& point = points[size_t(p + 1)];
            QCOMPARE(point.position, p);
            const auto u = autosplit::planner::uniformPlan(ctx, p, e.edgeBits, e.request.constraints, "u");
            QVERIFY2(near(point.totalMs, u.latency.totalMs), qPrintable(QStringLiteral("split %1: %2 vs %3 ms")
                                                                            .arg(p)
                                                                            .arg(point.totalMs)
                                                                            .arg(u.latency.totalMs)));
            QCOMPARE(point.feasible, u.fitsMemory);
            const std::vector<int> bits(size_t(p + 1), e.edgeBits);
            const int sol = ctx.findSolution(p, bits, bits);
            if (sol < 0) continue;
            const auto planned = autosplit::planner::planFor(ctx, sol, e.request.constraints, "s");
            QVERIFY2(near(point.totalMs, planned.latency.totalMs), qPrintable(QString::number(p)));
            ++solutions;
        }
        QVERIFY2(solutions > ctx.nodeCount() / 2, qPrintable(QString::number(solutions)));
        QVERIFY(e.request.constraints.messageOverheadMs > 0);  // the overhead is part of what is compared
    }

    void pickingACandidateSelectsItEverywhere() {
        MainWindow w;
        w.show();
        w.openModel(QStringLiteral(AUTOSPLIT_EXAMPLE_MODEL));
        QVERIFY(waitForPlan(w));
        const auto plans = w.shownEstimates()->plans;
        const auto& ctx = *w.engine().session()->planning->context;
        // A candidate that is not the selected plan, at a real split.
        int pick = -1;
        for (const auto& c : plans->candidates)
            if (c.solution != plans->selected.solution && ctx.solutions()[size_t(c.solution)].split >= 0) {
                pick = c.solution;
                break;
            }
        QVERIFY(pick >= 0);
        QSignalSpy shown(&w, &MainWindow::planShown);
        QElapsedTimer t;
        t.start();
        w.selectSolution(pick);  // one synchronous update of every view
        qInfo("updating the views for one plan took %.2f ms (%zu candidates)", double(t.nsecsElapsed()) / 1e6,
              plans->candidates.size());
        QCOMPARE(shown.count(), 1);
        const auto& sol = ctx.solutions()[size_t(pick)];
        QCOMPARE(w.selectedSplit(), sol.split);
        QCOMPARE(w.shownPlanName(), QStringLiteral("picked"));
        QCOMPARE(w.dagView()->placement().plan.splitPosition, sol.split);
        QCOMPARE(w.dagView()->placement().plan.weightBits.size() > size_t(0), true);
        QCOMPARE(w.dagView()->placement().plan.activationBits[0], int(sol.activationBits[0]));
        // The breakdown's selected row is that candidate's latency.
        const auto planned = autosplit::planner::planFor(ctx, pick, plans->constraints, "picked");
        QCOMPARE(w.breakdownPlot()->rows().front().totalMs(),
                 planned.latency.edgeMs + planned.latency.transmitMs + planned.latency.cloudMs + planned.latency.resultsMs);
        QCOMPARE(w.breakdownPlot()->rows().front().resultsMs, planned.latency.resultsMs);
        // Moving a slider returns to the planner's choice for the new value.
        w.controls()->thresholdSlider()->setValue(w.controls()->thresholdSlider()->value() + 10);
        QTRY_VERIFY_WITH_TIMEOUT(w.shownPlanName() != QStringLiteral("picked"), kTimeout);
        // The scatter's threshold line follows the slider (the accuracy-drop view is the default).
        QCOMPARE(w.scatter()->xAxisMode(), autosplit::widgets::PlanScatter::XAxisMode::AccuracyDrop);
        QTRY_COMPARE_WITH_TIMEOUT(w.scatter()->thresholdX(), w.controls()->request().constraints.maxDropPercent, kTimeout);
        QCOMPARE(w.scatter()->thresholdX(), w.shownEstimates()->plans->constraints.maxDropPercent);
        // The dock's toggle switches the scatter to the MSE proxy (no threshold line) and back.
        auto* mse = w.findChild<QToolButton*>(QStringLiteral("scatterXMse"));
        auto* drop = w.findChild<QToolButton*>(QStringLiteral("scatterXDrop"));
        QVERIFY(mse && drop);
        mse->click();
        QCOMPARE(w.scatter()->xAxisMode(), autosplit::widgets::PlanScatter::XAxisMode::MseProxy);
        QVERIFY(std::isnan(w.scatter()->thresholdX()));
        drop->click();
        QCOMPARE(w.scatter()->xAxisMode(), autosplit::widgets::PlanScatter::XAxisMode::AccuracyDrop);
        QCOMPARE(w.scatter()->thresholdX(), w.shownEstimates()->plans->constraints.maxDropPercent);
    }

    void badModelKeepsPreviousOne() {
        MainWindow w;
        w.show();
        w.openModel(QStringLiteral(AUTOSPLIT_EXAMPLE_MODEL));
        QVERIFY(waitForPlan(w));
        const auto before = w.engine().session();
        const auto constraints = w.controls()->request();

        QTemporaryDir dir;
        const QString junk = dir.filePath(QStringLiteral("not-a-model.onnx"));
        QFile f(junk);
        QVERIFY(f.open(QIODevice::WriteOnly));
        f.write("this is not protobuf at all\n");
        f.close();
        QSignalSpy errors(&w, &MainWindow::errorShown);
        w.openModel(junk);
        QTRY_COMPARE_WITH_TIMEOUT(errors.count(), 1, kTimeout);
        QVERIFY2(w.lastError().contains(QStringLiteral("not-a-model.onnx")), qPrintable(w.lastError()));
        QCOMPARE(w.engine().session(), before);  // the previous model stays open
        QCOMPARE(w.dagView()->model(), before->model);
        QVERIFY(w.controls()->request() == constraints);
        auto* box = w.findChild<QMessageBox*>(QStringLiteral("errorDialog"));
        QVERIFY(box);
        box->close();
    }

    void badDeviceJsonNamesTheField() {
        MainWindow w;
        QTemporaryDir dir;
        const QString path = dir.filePath(QStringLiteral("broken.json"));
        QFile f(path);
        QVERIFY(f.open(QIODevice::WriteOnly));
        f.write(R"({"schema":"autosplit-device","version":1,"name":"x","array":{"cols":4,"dataflow":"os","clock_mhz":100,"mac_bits":8,"ops_per_mac":1},
                 "buffers":{"ifmap_bytes":1024,"filter_bytes":1024,"ofmap_bytes":1024,"double_buffered":true},
                 "offchip":{"size_bytes":1048576,"bandwidth_gbps":1},"vector_unit":{"ops_per_cycle":4},"bits":[8]})");
        f.close();
        const QString before = w.controls()->edgeDeviceSpec();
        QVERIFY(!w.controls()->setEdgeDevice(path, true));
        QVERIFY2(w.controls()->lastDeviceError().contains(QStringLiteral("array.rows")), qPrintable(w.controls()->lastDeviceError()));
        QCOMPARE(w.controls()->edgeDeviceSpec(), before);
    }

    // Without data the planner measures on synthetic inputs, and the scatter says so on the plot;
    // File → Data Source… re-plans on what the user gives (here more synthetic inputs), remembered
    // in the session file.
    void syntheticDataIsSaidAndTheDataSourceChanges() {
        MainWindow w;
        w.show();
        w.openModel(QStringLiteral(AUTOSPLIT_EXAMPLE_MODEL));
        QVERIFY(waitForPlan(w));
        QVERIFY(w.scatter()->syntheticData());
        QVERIFY(w.scatter()->syntheticBanner().contains(QLatin1String("SYNTHETIC")));
        QVERIFY2(w.scatter()->dataOrigin().contains(QLatin1String("held-out")), qPrintable(w.scatter()->dataOrigin()));
        auto* action = w.findChild<QAction*>(QStringLiteral("dataSourceAction"));
        QVERIFY(action);
        action->trigger();
        auto* dlg = w.findChild<autosplit::explorer::DataSourceDialog*>(QStringLiteral("dataSourceDialog"));
        QVERIFY(dlg);
        QCOMPARE(dlg->folderEdit()->text(), QString());
        auto d = dlg->source();
        QCOMPARE(d.folder, std::string());
        dlg->close();
        d.synthetic = 6;
        w.setDataSource(d);
        QTRY_VERIFY_WITH_TIMEOUT(w.engine().session() && w.engine().session()->planning &&
                                     w.engine().session()->planning->data.measurementSamples == 3,
                                 kTimeout);
        QCOMPARE(w.engine().session()->planning->data.calibrationSamples, 3);
        QCOMPARE(w.currentSession().data.synthetic, 6);
        // A folder that does not exist: the planner says why, the model stays open.
        d.folder = "/nonexistent/data";
        w.setDataSource(d);
        QTRY_VERIFY_WITH_TIMEOUT(w.engine().session() && !w.engine().session()->planningError.isEmpty(), kTimeout);
        QVERIFY(w.engine().session()->planningError.contains(QLatin1String("/nonexistent/data")));
        QVERIFY(w.engine().session()->model);
        // The data source round-trips through a session file.
        autosplit::explorer::SessionFile f = w.currentSession();
        const auto back = autosplit::explorer::sessionFromJson(autosplit::explorer::sessionToJson(f), QStringLiteral("s"));
        QVERIFY(back.data == f.data);
        QVERIFY_THROWS_EXCEPTION(autosplit::Error,
                                 autosplit::explorer::sessionFromJson(QByteArray(R"({"schema": "autosplit-explorer-session", "version": 1,
            "model": "m.onnx", "inputs": "", "edge_device": "eyeriss", "cloud_device": "tpu", "uplink_mbps": 3,
            "edge_memory_mib": 64, "max_drop_percent": 5, "bits": [8], "data": {"folder": 3}})"),
                                                                      QStringLiteral("s")));
    }

    // PP-OCRv4 rec on rendered text lines with their labels and the dictionary: the scatter shows
    // drops measured on held-out lines in character accuracy, with their intervals, not
    // "synthetic"; a screenshot of the window is saved (docs/screenshot-ocr.png is a copy).
    void recognizerOnADataFolderShowsMeasuredIntervals() {
        const QString models = QStringLiteral(AUTOSPLIT_MODELS_DIR);
        const QString model = models + "/ch_PP-OCRv4_rec_infer.onnx", dict = models + "/ppocr_keys_v1.txt";
        const QString tool = QStringLiteral(AUTOSPLIT_BINARY_DIR) + "/resources/make_ocr_set";
        if (!QFileInfo::exists(model) || !QFileInfo::exists(dict)) QSKIP("PP-OCRv4 rec model or dictionary missing (scripts/fetch-models.sh)");
        if (!QFileInfo::exists(tool)) QSKIP("make_ocr_set was not built (libfreetype-dev missing?)");
#if defined(__SANITIZE_ADDRESS__)
        QSKIP("PP-OCRv4 planning at -O0 under AddressSanitizer takes too long; the main ctest runs it");
#endif
        QTemporaryDir dir;
        QProcess gen;
        gen.start(tool, {"--dict", dict, "--out", dir.path(), "--count", "24", "--seed", "3"});
        QVERIFY(gen.waitForFinished(120000));
        QCOMPARE(gen.exitCode(), 0);
        MainWindow w;
        w.resize(1600, 1000);
        w.show();
        QVERIFY(QTest::qWaitForWindowExposed(&w));
        autosplit::planner::DataSource data;
        data.folder = dir.path().toStdString();
        data.labels = (dir.path() + "/labels.txt").toStdString();
        data.dictionary = dict.toStdString();
        w.openModel(model, {{"x", {1, 3, 48, 320}}}, data);
        QVERIFY(QTest::qWaitFor([&] { return w.engine().session() && w.engine().session()->planning; }, 10 * kTimeout));
        QVERIFY(waitForPlan(w));
        const auto& rec = w.engine().session()->planning->data;
        QCOMPARE(rec.metric, std::string("char-accuracy-drop"));
        QCOMPARE(rec.calibrationSamples + rec.measurementSamples, 24);
        QVERIFY(!w.scatter()->syntheticData());
        QVERIFY(w.scatter()->syntheticBanner().isEmpty());
        // Measurements land in the background once the sliders rest; each carries its interval.
        QVERIFY(QTest::qWaitFor([&] { return w.scatter()->intervalCount() > 0; }, 10 * kTimeout));
        QVERIFY2(w.scatter()->dataOrigin().contains(QLatin1String("char-accuracy-drop on 12 held-out samples")),
                 qPrintable(w.scatter()->dataOrigin()));
        QTRY_VERIFY_WITH_TIMEOUT(w.shownEstimates() && (w.shownEstimates()->measured || w.shownEstimates()->plans->final()), 10 * kTimeout);
        QTest::qWait(300);
        const QImage shot = w.grab().toImage();
        const QString out = QDir(QStringLiteral(AUTOSPLIT_BINARY_DIR)).absoluteFilePath(QStringLiteral("explorer-ocr-screenshot.png"));
        QVERIFY(shot.save(out));
        qInfo("screenshot: %s", qPrintable(out));
    }

    void sessionRoundTrip() {
        QTemporaryDir dir;
        const QString file = dir.filePath(QStringLiteral("session.json"));
        autosplit::explorer::SessionFile saved;
        {
            MainWindow w;
            w.show();
            w.openModel(QStringLiteral(AUTOSPLIT_EXAMPLE_MODEL));
            QVERIFY(waitForPlan(w));
            auto c = w.controls()->request();
            c.constraints.uplinkBps = 1.1e6;
            c.constraints.edgeMemoryBytes = int64_t(2) << 20;
            c.constraints.maxDropPercent = 12.5;
            c.constraints.resultsAt = autosplit::planner::ResultsAt::Cloud;
            c.constraints.downlinkBps = 25e6;
            c.bitSet = {4, 8};
            w.controls()->setRequest(c);
            QTRY_VERIFY_WITH_TIMEOUT(w.shownEstimates() && w.shownEstimates()->request.constraints.edgeMemoryBytes ==
                                                                   w.controls()->request().constraints.edgeMemoryBytes,
                                 kTimeout);
        QVERIFY(waitForPlan(w));
            const int pick = w.engine().session()->model->layerCount() / 2;
            w.selectSplit(pick);
            QCOMPARE(w.selectedSplit(), pick);
            QVERIFY(w.saveSession(file));
            saved = w.currentSession();
        }
        MainWindow w2;
        w2.show();
        QVERIFY(w2.openSession(file));
        QVERIFY(waitForPlan(w2));
        const auto restored = w2.currentSession();
        QCOMPARE(QFileInfo(restored.modelPath).absoluteFilePath(), QFileInfo(saved.modelPath).absoluteFilePath());
        QCOMPARE(restored.edgeDevice, saved.edgeDevice);
        QCOMPARE(restored.request.bitSet, saved.request.bitSet);
        QVERIFY(std::abs(restored.request.constraints.uplinkBps - saved.request.constraints.uplinkBps) < 1e-3);
        QCOMPARE(restored.request.constraints.edgeMemoryBytes, saved.request.constraints.edgeMemoryBytes);
        QVERIFY(std::abs(restored.request.constraints.maxDropPercent - saved.request.constraints.maxDropPercent) < 1e-9);
        QCOMPARE(saved.request.constraints.resultsAt, autosplit::planner::ResultsAt::Cloud);
        QCOMPARE(restored.request.constraints.resultsAt, saved.request.constraints.resultsAt);
        QCOMPARE(restored.request.constraints.downlinkBps, 25e6);
        QCOMPARE(restored.pinnedSplit, saved.pinnedSplit);
        QCOMPARE(w2.selectedSplit(), *saved.pinnedSplit);
    }
};

QTEST_MAIN(TestExplorerWindow)
#include "tst_explorer_window.moc"
