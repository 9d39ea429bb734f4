// Control panel mapping and signals, item models (under QAbstractItemModelTester), and the plot
// widgets fed with plain structs, including image export.
#include "autosplit/engine/engine.h"
#include "autosplit/widgets/control_panel.h"
#include "autosplit/widgets/layer_models.h"
#include "autosplit/widgets/plots.h"

#include <QAbstractItemModelTester>
#include <QCheckBox>
#include <QComboBox>
#include <QFileInfo>
#include <QSignalSpy>
#include <QSlider>
#include <QTemporaryDir>
#include <QTest>

#include <cmath>

using namespace autosplit;
using namespace autosplit::widgets;

class TestWidgets : public QObject {
    Q_OBJECT
    std::shared_ptr<const engine::ModelSession> session_;

private slots:
    void initTestCase() {
        engine::Engine e;
        QSignalSpy ok(&e, &engine::Engine::sessionAvailable);
        engine::LoadRequest r;
        r.path = QStringLiteral(AUTOSPLIT_EXAMPLE_MODEL);
        r.edgeDevice = sim::builtinDevice("eyeriss");
        r.cloudDevice = sim::builtinDevice("tpu");
        e.loadModel(r);
        QVERIFY(ok.wait(60000));
        session_ = e.session();
    }

    void logSlidersCoverTheDocumentedRanges() {
        QVERIFY(std::abs(ControlPanel::bandwidthFromPosition(0) - 0.1) < 1e-9);
        QVERIFY(std::abs(ControlPanel::bandwidthFromPosition(ControlPanel::kSteps) - 1000.0) < 1e-6);
        QVERIFY(std::abs(ControlPanel::bandwidthFromPosition(ControlPanel::kSteps / 2) - 10.0) < 1e-6);  // log midpoint
        for (double mbps : {0.27, 1.1, 10.0, 100.0, 200.0}) {
            const double back = ControlPanel::bandwidthFromPosition(ControlPanel::positionFromBandwidth(mbps));
            QVERIFY2(std::abs(back / mbps - 1) < 0.01, qPrintable(QString::number(back)));
        }
        QCOMPARE(ControlPanel::positionFromBandwidth(1e6), ControlPanel::kSteps);
        QCOMPARE(ControlPanel::positionFromMemory(1e-9), 0);
    }

    void presetsAndSlidersEmitConstraints() {
        ControlPanel panel;
        QSignalSpy spy(&panel, &ControlPanel::constraintsChanged);
        auto* presets = panel.findChildren<QComboBox*>().first();
        QVERIFY(presets->count() == int(linkPresets().size()) + 1);
        presets->setCurrentIndex(1);
        emit presets->activated(1);  // BLE
        QCOMPARE(spy.count(), 1);
        QVERIFY(std::abs(panel.constraints().uplinkMbps - 0.27) < 0.01);
        panel.memorySlider()->setValue(panel.memorySlider()->value() + 10);
        panel.thresholdSlider()->setValue(250);
        QCOMPARE(spy.count(), 3);
        QCOMPARE(panel.constraints().maxAccuracyDropPct, 25.0);
        // The bit set may shrink but never become empty.
        for (int b : {2, 4, 6}) panel.bitCheckBox(b)->setChecked(false);
        QCOMPARE(panel.constraints().bitSet, std::vector<int>{8});
        panel.bitCheckBox(8)->setChecked(false);
        QVERIFY(panel.bitCheckBox(8)->isChecked());
        QCOMPARE(panel.constraints().bitSet, std::vector<int>{8});
    }

    void deviceSelectionEmitsAndRejectsBadFiles() {
        ControlPanel panel;
        QSignalSpy spy(&panel, &ControlPanel::devicesChanged);
        QVERIFY(panel.setEdgeDevice(QStringLiteral("tpu"), true));
        QCOMPARE(spy.count(), 1);
        QCOMPARE(panel.edgeDevice().name, std::string("tpu"));
        QVERIFY(!panel.setCloudDevice(QStringLiteral("/nonexistent/dev.json"), true));
        QCOMPARE(spy.count(), 1);
        QCOMPARE(panel.cloudDeviceSpec(), QStringLiteral("tpu"));
        QVERIFY(!panel.lastDeviceError().isEmpty());
    }

    void layerTableModel() {
        LayerTableModel model;
        QAbstractItemModelTester tester(&model, QAbstractItemModelTester::FailureReportingMode::QtTest);
        model.setSession(session_);
        const int n = session_->model->layerCount();
        QCOMPARE(model.rowCount(), n);
        DagPlacement p;
        p.splitPosition = 2;
        p.edgeBits = 6;
        model.setPlacement(p);
        QCOMPARE(model.index(0, LayerTableModel::Placement).data().toString(), QStringLiteral("edge"));
        QCOMPARE(model.index(3, LayerTableModel::Placement).data().toString(), QStringLiteral("cloud"));
        QCOMPARE(model.index(n - 1, LayerTableModel::Bits).data().toString(), QStringLiteral("fp16"));
        QVERIFY(model.index(0, LayerTableModel::Bits).data().toString().endsWith(QStringLiteral("a6")));
        const double edgeMs = model.index(0, LayerTableModel::EdgeMs).data(Qt::UserRole).toDouble();
        QCOMPARE(edgeMs, session_->devices.edgeLatency->at(0, 6, 6).us / 1000.0);
        model.setSession(nullptr);
        QCOMPARE(model.rowCount(), 0);
    }

    void nodeDetailsModel() {
        NodeDetailsModel model;
        QAbstractItemModelTester tester(&model, QAbstractItemModelTester::FailureReportingMode::QtTest);
        DagPlacement p;
        p.splitPosition = 0;
        model.show(session_, p, 0);
        QCOMPARE(model.node(), 0);
        QCOMPARE(model.value(QStringLiteral("Name")), QString::fromStdString(session_->model->graph.nodes[0].name));
        QVERIFY(model.value(QStringLiteral("Runs on")).startsWith(QStringLiteral("edge")));
        QVERIFY(model.value(QStringLiteral("Edge latency")).contains(QStringLiteral("simulated")));
        model.show(session_, p, 1);
        QVERIFY(model.value(QStringLiteral("Runs on")).startsWith(QStringLiteral("cloud")));
        model.show(session_, p, -1);
        QCOMPARE(model.rowCount(), 0);
    }

    void breakdownPlotAndExport() {
        LatencyBreakdownPlot plot;
        plot.resize(600, 300);
        plot.setRows({{QStringLiteral("Selected"), 1.0, 2.0, 3.0, true}, {QStringLiteral("Cloud-Only"), 0, 10.0, 4.0, false}});
        QCOMPARE(plot.rows().size(), size_t(2));
        QCOMPARE(plot.rows()[1].totalMs(), 14.0);
        QVERIFY(plot.xAxis->range().upper >= 14.0);
        QTemporaryDir dir;
        for (const char* suffix : {"png", "pdf"}) {
            const QString f = dir.filePath(QStringLiteral("breakdown.") + QLatin1String(suffix));
            QString error;
            QVERIFY2(exportPlot(&plot, f, &error), qPrintable(error));
            QVERIFY(QFileInfo(f).size() > 500);
        }
        QString error;
        QVERIFY(!exportPlot(&plot, dir.filePath(QStringLiteral("x.bmpx")), &error));
        QVERIFY(error.contains(QStringLiteral("bmpx")));
    }

    void heatmapDescribesCells() {
        BitHeatmap map;
        map.setLayers({{QStringLiteral("conv1"), 4, 6, false}, {QStringLiteral("add"), 0, 8, false}, {QStringLiteral("fc"), 8, 8, true}}, 1);
        QCOMPARE(map.describeAt(0, 0), QStringLiteral("#0 conv1 (edge): weights 4 bit, activations 6 bit"));
        QCOMPARE(map.describeAt(1.2, 1), QStringLiteral("#1 add (edge): weights none, activations 8 bit"));
        QVERIFY(map.describeAt(2, 1).contains(QStringLiteral("cloud")));
        QVERIFY(map.describeAt(2, 1).contains(QStringLiteral("16 bit")));
        QVERIFY(map.describeAt(7, 0).isEmpty());
    }

    void splitPlotClickSelects() {
        SplitProfilePlot plot;
        plot.resize(600, 300);
        plot.setPoints({{-1, 50, true}, {0, 20, true}, {1, 5, false}, {2, 8, true}}, 0, QStringLiteral("after conv"));
        plot.replot();
        QSignalSpy clicked(&plot, &SplitProfilePlot::splitClicked);
        const QPoint at(int(plot.xAxis->coordToPixel(2)), int(plot.yAxis->coordToPixel(8)));
        QCOMPARE(plot.positionAt(at), 2);
        QTest::mouseClick(&plot, Qt::LeftButton, {}, at);
        QCOMPARE(clicked.count(), 1);
        QCOMPARE(clicked.at(0).at(0).toInt(), 2);
        QCOMPARE(plot.positionAt(QPointF(-100, -100)), -2);
    }
};

QTEST_MAIN(TestWidgets)
#include "tst_widgets.moc"
