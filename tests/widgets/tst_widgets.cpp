// Control panel mapping and signals, item models (under QAbstractItemModelTester), and the plot
// widgets fed with plain structs, including image export.
#include "autosplit/engine/engine.h"
#include "autosplit/widgets/control_panel.h"
#include "autosplit/widgets/layer_models.h"
#include "autosplit/widgets/plots/bit_heatmap.h"
#include "autosplit/widgets/plots/latency_breakdown_plot.h"
#include "autosplit/widgets/plots/plan_scatter.h"
#include "autosplit/widgets/plots/plot_export.h"
#include "autosplit/widgets/plots/split_profile_plot.h"
#include "example_session.h"

#include <QFontMetrics>
#include <QAbstractItemModelTester>
#include <QCheckBox>
#include <QComboBox>
#include <QDoubleSpinBox>
#include <QFileInfo>
#include <QSignalSpy>
#include <QSlider>
#include <QTemporaryDir>
#include <QTest>

#include <algorithm>
#include <cmath>
#include <limits>
#include <utility>

using namespace autosplit;
using namespace autosplit::widgets;

class TestWidgets : public QObject {
    Q_OBJECT
    std::shared_ptr<const engine::ModelSession> session_;

private slots:
    void initTestCase() {
        session_ = loadExampleSession(60000);
        QVERIFY(session_);
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
        QSignalSpy spy(&panel, &ControlPanel::requestChanged);
        auto* presets = panel.findChildren<QComboBox*>().first();
        QVERIFY(presets->count() == int(linkPresets().size()) + 1);
        presets->setCurrentIndex(1);
        emit presets->activated(1);  // BLE
        QCOMPARE(spy.count(), 1);
        QVERIFY(std::abs(panel.request().constraints.uplinkBps - 0.27e6) < 0.01e6);
        panel.memorySlider()->setValue(panel.memorySlider()->value() + 10);
        panel.thresholdSlider()->setValue(250);
        QCOMPARE(spy.count(), 3);
        QCOMPARE(panel.request().constraints.maxDropPercent, 25.0);
        // The bit set may shrink but never become empty.
        for (int b : {2, 4, 6}) panel.bitCheckBox(b)->setChecked(false);
        QCOMPARE(panel.request().bitSet, std::vector<int>{8});
        panel.bitCheckBox(8)->setChecked(false);
        QVERIFY(panel.bitCheckBox(8)->isChecked());
        QCOMPARE(panel.request().bitSet, std::vector<int>{8});
    }

    void resultsAtAndDownlinkChangeTheRequest() {
        ControlPanel panel;
        QSignalSpy spy(&panel, &ControlPanel::requestChanged);
        const planner::Constraints defaults = engine::PlanRequest::windowDefaults();
        QCOMPARE(panel.request().constraints.resultsAt, planner::ResultsAt::Edge);
        QCOMPARE(panel.request().constraints.downlinkBps, defaults.downlinkBps);
        QVERIFY(panel.downlinkField()->isEnabled());
        panel.downlinkField()->setValue(25.0);
        QCOMPARE(spy.count(), 1);
        QCOMPARE(panel.request().constraints.downlinkBps, 25e6);
        const int cloud = panel.resultsAtCombo()->findData(int(planner::ResultsAt::Cloud));
        QVERIFY(cloud >= 0);
        panel.resultsAtCombo()->setCurrentIndex(cloud);
        QCOMPARE(spy.count(), 2);
        QCOMPARE(panel.request().constraints.resultsAt, planner::ResultsAt::Cloud);
        QVERIFY(!panel.downlinkField()->isEnabled());  // results at the cloud do not use it
        // setRequest puts both back, with one signal.
        engine::PlanRequest r;
        r.constraints.resultsAt = planner::ResultsAt::Edge;
        r.constraints.downlinkBps = 3.5e6;
        panel.setRequest(r);
        QCOMPARE(spy.count(), 3);
        QCOMPARE(panel.request().constraints.resultsAt, planner::ResultsAt::Edge);
        QCOMPARE(panel.request().constraints.downlinkBps, 3.5e6);
        QVERIFY(panel.downlinkField()->isEnabled());
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
        p.plan = PlanBits::uniform(session_->model->graph, 2, 6, 6);
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
        p.plan = PlanBits::uniform(session_->model->graph, 0, 8, 8);
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

    void planScatterShowsMeasuredDropAndThreshold() {
        const double nan = std::numeric_limits<double>::quiet_NaN();
        PlanScatter plot;
        plot.resize(700, 320);
        QCOMPARE(plot.xAxisMode(), PlanScatter::XAxisMode::AccuracyDrop);  // the default view
        auto pt = [](double mse, double drop, double lat, int id, bool f16 = false) {
            ScatterPoint p;
            p.mse = mse, p.drop = drop, p.normLatency = lat, p.id = id, p.float16 = f16;
            return p;
        };
        const std::vector<ScatterPoint> cands{pt(1e-3, 1.5, 0.4, 1), pt(1e-2, nan, 0.3, 2), pt(1e-4, 0.2, 0.8, 3),
                                              pt(0, nan, 1.0, 0, true)};
        auto base = [](const char* name, double drop, double lat, bool f16) {
            ScatterBaseline b;
            b.label = QString::fromLatin1(name), b.mse = 1e-3, b.drop = drop, b.normLatency = lat, b.float16 = f16;
            return b;
        };
        const std::vector<ScatterBaseline> bases{base("cloud-only", nan, 1.0, true), base("u8", 0.7, 0.6, false),
                                                 base("u4", nan, 0.5, false)};
        plot.setData(cands, {1, 2}, bases, 3, 5.0, 64);
        plot.replot();

        // Threshold: a vertical line at the value, labelled, following a new value.
        QCOMPARE(plot.thresholdX(), 5.0);
        QCOMPARE(plot.thresholdLabel(), QStringLiteral("max drop 5 %"));
        QVERIFY(plot.xAxis->range().contains(5.0));
        plot.setData(cands, {1, 2}, bases, 3, 2.5, 64);
        plot.replot();
        QCOMPARE(plot.thresholdX(), 2.5);
        QCOMPARE(plot.thresholdLabel(), QStringLiteral("max drop 2.5 %"));
        // Intervals: one error bar per measured point that has one; where the numbers come from is
        // on the plot, and synthetic data is said in large type.
        QCOMPARE(plot.intervalCount(), 0);
        auto withIntervals = cands;
        withIntervals[0].dropLow = 0.5, withIntervals[0].dropHigh = 2.9;
        withIntervals[2].dropLow = 0.0, withIntervals[2].dropHigh = 0.6;
        plot.setData(withIntervals, {1, 2}, bases, 3, 2.5, 64);
        QCOMPARE(plot.intervalCount(), 2);
        QVERIFY(plot.xAxis->range().contains(2.9));  // the bars fit the view
        plot.setDataOrigin(QStringLiteral("char-accuracy-drop on 64 held-out samples"), false);
        QVERIFY(plot.xAxis->label().contains(QLatin1String("char-accuracy-drop on 64 held-out samples")));
        QVERIFY(plot.syntheticBanner().isEmpty());
        plot.setDataOrigin(QStringLiteral("relative-l2-error on 4 held-out synthetic inputs"), true);
        QVERIFY(plot.syntheticData());
        QVERIFY(plot.syntheticBanner().contains(QLatin1String("SYNTHETIC")));
        // The banner as drawn fits the axis rect: one line when wide, two or three lines (and
        // smaller type if need be) in a narrow dock, never cut off at the sides.
        for (int width : {1100, 700, 420, 330}) {
            plot.resize(width, 320);
            plot.setViewport(QRect(0, 0, width, 320));  // what a shown widget's resize event does
            plot.replot();
            const QCPItemText* banner = plot.syntheticBannerItem();
            const QRect area = plot.axisRect()->rect();
            const double left = banner->topLeft->pixelPosition().x(), right = banner->topRight->pixelPosition().x();
            QVERIFY2(left >= area.left() && right <= area.right() + 1,
                     qPrintable(QString("width %1: banner %2..%3, axis rect %4..%5").arg(width).arg(left).arg(right).arg(area.left()).arg(area.right())));
            QCOMPARE(banner->text().contains(QLatin1Char('\n')), width < 1000);
            QVERIFY(banner->text().contains(QLatin1String("SYNTHETIC")));
            // So does the x label with its data origin, broken after the colon if need be.
            plot.replot();  // the margins of the broken label
            const QFontMetrics fm(plot.xAxis->labelFont());
            for (const QString& line : plot.xAxis->label().split(QLatin1Char('\n')))
                QVERIFY2(fm.horizontalAdvance(line) <= plot.axisRect()->width(), qPrintable(QString("width %1: '%2'").arg(width).arg(line)));
            QVERIFY(plot.xAxis->label().remove(QLatin1Char('\n')).contains(QLatin1String("percentage points):relative-l2-error")) ||
                    plot.xAxis->label().contains(QLatin1String("percentage points): relative-l2-error")));
        }
        plot.resize(700, 320);
        plot.setViewport(QRect(0, 0, 700, 320));
        plot.setDataOrigin(QString(), false);
        plot.setData(cands, {1, 2}, bases, 3, 2.5, 64);

        // Measured candidates at their measured drop, float16 ones at 0, unmeasured ones not drawn.
        QCPGraph* measured = plot.graph(1);
        QCOMPARE(measured->name(), QStringLiteral("measured on 64 held-out inputs, 95% interval"));
        QCOMPARE(measured->dataCount(), 3);
        std::vector<std::pair<double, double>> xy;
        for (auto it = measured->data()->constBegin(); it != measured->data()->constEnd(); ++it) xy.emplace_back(it->key, it->value);
        std::sort(xy.begin(), xy.end());
        QCOMPARE(xy[0], std::make_pair(0.0, 1.0));
        QCOMPARE(xy[1], std::make_pair(0.2, 0.8));
        QCOMPARE(xy[2], std::make_pair(1.5, 0.4));
        QVERIFY(std::isnan(plot.xOf(cands[1])));
        QVERIFY(!plot.graph(0)->visible());
        QVERIFY(!plot.legend->hasItemWithPlottable(plot.graph(0)));
        QVERIFY2(plot.note().contains(QStringLiteral("1 of 4 not yet measured: not drawn")), qPrintable(plot.note()));
        QVERIFY2(plot.note().contains(QStringLiteral("u4 not measured")), qPrintable(plot.note()));  // a quantized baseline with no drop
        // The front of the drawn points (all three are non-dominated), the selected plan starred.
        QCOMPARE(plot.graph(2)->dataCount(), 3);
        QCOMPARE(plot.graph(3)->dataCount(), 2);  // cloud-only at 0 (float16), u8 at 0.7
        QCOMPARE(plot.graph(4)->dataCount(), 1);
        QCOMPARE(plot.graph(4)->data()->constBegin()->key, 0.2);

        // Clicking a drawn point selects it; the unmeasured one cannot be hit in this view.
        QSignalSpy clicked(&plot, &PlanScatter::pointClicked);
        const QPoint atMeasured(int(std::lround(plot.xAxis->coordToPixel(1.5))), int(std::lround(plot.yAxis->coordToPixel(0.4))));
        QCOMPARE(plot.idAt(atMeasured), 1);
        QTest::mouseClick(&plot, Qt::LeftButton, {}, atMeasured);
        QCOMPARE(clicked.count(), 1);
        QCOMPARE(clicked.at(0).at(0).toInt(), 1);
        QCOMPARE(plot.idAt(QPointF(-100, -100)), -1);

        // MSE-proxy view: every candidate (log x), no threshold line, the planner's front; clicks work.
        plot.setXAxisMode(PlanScatter::XAxisMode::MseProxy);
        plot.replot();
        QVERIFY(std::isnan(plot.thresholdX()));
        QVERIFY(plot.graph(0)->visible());
        QVERIFY(plot.legend->hasItemWithPlottable(plot.graph(0)));
        QCOMPARE(plot.xOf(cands[1]), 1e-2);
        QCOMPARE(plot.graph(2)->dataCount(), 2);
        const QPoint atUnmeasured(int(std::lround(plot.xAxis->coordToPixel(1e-2))), int(std::lround(plot.yAxis->coordToPixel(0.3))));
        QTest::mouseClick(&plot, Qt::LeftButton, {}, atUnmeasured);
        QCOMPARE(clicked.count(), 2);
        QCOMPARE(clicked.at(1).at(0).toInt(), 2);
        plot.setXAxisMode(PlanScatter::XAxisMode::AccuracyDrop);
        QCOMPARE(plot.thresholdX(), 2.5);

        // A measurement stopped early: drawn at its bound (not its partial estimate) in its own
        // series, without an interval, off the front, said in the note; still clickable.
        auto early = withIntervals;
        early[0].drop = 40.0, early[0].dropAtLeast = 12.5, early[0].dropLow = early[0].dropHigh = nan;
        plot.setData(early, {1, 2}, bases, 3, 2.5, 64);
        plot.replot();
        QCOMPARE(plot.xOf(early[0]), 12.5);
        QCPGraph* stopped = plot.graph(5);
        QVERIFY(stopped->visible());
        QVERIFY(plot.legend->hasItemWithPlottable(stopped));
        QCOMPARE(stopped->dataCount(), 1);
        QCOMPARE(stopped->data()->constBegin()->key, 12.5);
        QCOMPARE(plot.graph(1)->dataCount(), 2);  // the other measured point and the float16 one
        QCOMPARE(plot.intervalCount(), 1);
        QCOMPARE(plot.graph(2)->dataCount(), 2);  // the front leaves the bound out
        QVERIFY(plot.xAxis->range().contains(12.5));
        QVERIFY2(plot.note().contains(QStringLiteral("1 stopped early")), qPrintable(plot.note()));
        const QPoint atBound(int(std::lround(plot.xAxis->coordToPixel(12.5))), int(std::lround(plot.yAxis->coordToPixel(0.4))));
        QCOMPARE(plot.idAt(atBound), 1);
        plot.setData(cands, {1, 2}, bases, 3, 2.5, 64);
        QVERIFY(!plot.graph(5)->visible());
    }
};

QTEST_MAIN(TestWidgets)
#include "tst_widgets.moc"
