// DAG layout (graphviz dot and the layered fallback) on the bundled example, and the DagView's
// placement colouring, cut labels and find.
#include "autosplit/engine/engine.h"
#include "autosplit/widgets/dag/dag_view.h"
#include "autosplit/widgets/palette.h"
#include "example_session.h"

#include <QElapsedTimer>
#include <QFileInfo>
#include <QSignalSpy>
#include <QTest>

using namespace autosplit;
using namespace autosplit::widgets;

namespace {
constexpr int kTimeout = 60000;

// Node boxes of the graph with its edges (producer -> consumer over activations).
DagLayoutInput inputFor(const Graph& g) {
    DagLayoutInput in;
    for (size_t i = 0; i < g.nodes.size(); ++i) in.nodeSizes.emplace_back(100 + 3 * double(i % 5), 40);
    for (const auto& t : g.tensors)
        if (!t.isWeight() && t.producer >= 0)
            for (int c : t.consumers) in.edges.emplace_back(t.producer, c);
    return in;
}

void checkLayout(const DagLayoutInput& in, const DagLayout& out) {
    QCOMPARE(out.centers.size(), in.nodeSizes.size());
    QCOMPARE(out.edgePaths.size(), in.edges.size());
    QVERIFY(out.bounds.width() > 0 && out.bounds.height() > 0);
    for (size_t e = 0; e < in.edges.size(); ++e) {
        const auto [a, b] = in.edges[e];
        // Top-to-bottom: a consumer sits below its producer.
        QVERIFY2(out.centers[size_t(b)].y() > out.centers[size_t(a)].y(), qPrintable(QStringLiteral("edge %1").arg(e)));
        const auto& path = out.edgePaths[e];
        QVERIFY(path.size() >= 4);
        QCOMPARE((path.size() - 1) % 3, size_t(0));  // cubic segments
        // Starts near the producer's box and ends near the consumer's box.
        QVERIFY(QLineF(path.front(), out.centers[size_t(a)]).length() < 80);
        QVERIFY(QLineF(path.back(), out.centers[size_t(b)]).length() < 80);
    }
    // No two boxes overlap.
    for (size_t i = 0; i < in.nodeSizes.size(); ++i)
        for (size_t j = i + 1; j < in.nodeSizes.size(); ++j) {
            const QRectF ri(out.centers[i] - QPointF(in.nodeSizes[i].width() / 2, in.nodeSizes[i].height() / 2), in.nodeSizes[i]);
            const QRectF rj(out.centers[j] - QPointF(in.nodeSizes[j].width() / 2, in.nodeSizes[j].height() / 2), in.nodeSizes[j]);
            QVERIFY2(!ri.adjusted(1, 1, -1, -1).intersects(rj.adjusted(1, 1, -1, -1)),
                     qPrintable(QStringLiteral("nodes %1 and %2 overlap").arg(i).arg(j)));
        }
}
}  // namespace

class TestDagLayout : public QObject {
    Q_OBJECT
    std::shared_ptr<const engine::ModelSession> session_;

private slots:
    void initTestCase() {
        session_ = loadExampleSession(kTimeout);
        QVERIFY(session_);
    }

    void graphvizLaysOutTheExample() {
        const DagLayoutInput in = inputFor(session_->model->graph);
        const DagLayout out = layoutWithGraphviz(in);
        QCOMPARE(out.method, DagLayout::Method::Graphviz);
        checkLayout(in, out);
    }

    void layeredFallbackLaysOutTheExample() {
        const DagLayoutInput in = inputFor(session_->model->graph);
        const DagLayout out = layoutLayered(in);
        QCOMPARE(out.method, DagLayout::Method::Layered);
        checkLayout(in, out);
    }

    void fallbackAboveTheNodeLimit() {
        const DagLayoutInput in = inputFor(session_->model->graph);
        const DagLayout out = layoutDag(in, {}, 5);
        QCOMPARE(out.method, DagLayout::Method::Layered);
        QVERIFY(out.note.contains(QStringLiteral("limit")));
        QCOMPARE(layoutDag(in).method, DagLayout::Method::Graphviz);
    }

    void largeGraphUsesTheLayeredLayout() {
        // 6000 nodes: a chain with residual skips and two-way branches, beyond dot's limit.
        DagLayoutInput in;
        const int n = 6000;
        for (int i = 0; i < n; ++i) in.nodeSizes.emplace_back(90, 36);
        for (int i = 1; i < n; ++i) {
            in.edges.emplace_back(i - 1, i);
            if (i % 3 == 0 && i >= 3) in.edges.emplace_back(i - 3, i);
        }
        QElapsedTimer t;
        t.start();
        const DagLayout out = layoutDag(in);
        QCOMPARE(out.method, DagLayout::Method::Layered);
        QVERIFY2(t.elapsed() < 2000, qPrintable(QString::number(t.elapsed())));
        QCOMPARE(out.centers.size(), size_t(n));
        for (const auto& [a, b] : in.edges) QVERIFY(out.centers[size_t(b)].y() > out.centers[size_t(a)].y());
    }

    void cancelledLayoutThrows() {
        CancelToken t;
        t.cancel();
        QVERIFY_THROWS_EXCEPTION(Cancelled, layoutWithGraphviz(inputFor(session_->model->graph), t));
        QVERIFY_THROWS_EXCEPTION(Cancelled, layoutLayered(inputFor(session_->model->graph), t));
    }

    void viewColoursPlacementAndLabelsTheCut_data() {
        QTest::addColumn<int>("limit");
        QTest::addRow("graphviz") << kGraphvizNodeLimit;
        QTest::addRow("layered") << 1;
    }
    void viewColoursPlacementAndLabelsTheCut() {
        QFETCH(int, limit);
        DagView view;
        view.resize(800, 600);
        view.setGraphvizNodeLimit(limit);
        QSignalSpy ready(&view, &DagView::layoutReady);
        view.setModel(session_->model);
        QVERIFY(ready.wait(kTimeout));
        QVERIFY(view.isLayoutReady());
        QCOMPARE(ready.at(0).at(1).toString(), QString::fromLatin1(limit == 1 ? "layered" : "graphviz dot"));

        const int n = session_->model->layerCount();
        // A split in the middle whose cut sends at least one tensor.
        int p = n / 2;
        while (p < n - 1 && session_->model->split(p).transmitted.empty()) ++p;
        DagPlacement placement;
        placement.plan = PlanBits::uniform(session_->model->graph, p, 4, 4);
        view.setPlacement(placement);
        for (int i = 0; i < n; ++i) {
            if (i <= p) QCOMPARE(view.nodeFill(i), palette::edgeFill(4));
            else QCOMPARE(view.nodeFill(i), palette::cloudFill());
        }
        QCOMPARE(view.nodeBadge(n - 1), QStringLiteral("16"));
        const auto& sent = session_->model->split(p).transmitted;
        QCOMPARE(view.transmittedLabelCount(), int(sent.size()));
        const Tensor& t0 = session_->model->graph.tensors[size_t(sent.front())];
        bool named = false;
        for (int i = 0; i < view.transmittedLabelCount(); ++i)
            named = named || (view.transmittedLabelText(i).contains(QString::fromStdString(t0.name)) &&
                              view.transmittedLabelText(i).contains(QStringLiteral("4 bit")));
        QVERIFY(named);

        // Cloud-Only sends the input; Edge-Only sends nothing.
        placement.plan.splitPosition = -1;
        view.setPlacement(placement);
        QCOMPARE(view.transmittedLabelCount(), int(session_->model->split(-1).transmitted.size()));
        placement.plan.splitPosition = n - 1;
        view.setPlacement(placement);
        QCOMPARE(view.transmittedLabelCount(), 0);
    }

    // The fetched models (scripts/fetch-models.sh): both layouts stay valid and dot stays quick.
    void realModelLayouts_data() {
        QTest::addColumn<QString>("file");
        QTest::addColumn<QString>("binding");
        QTest::addRow("ppocr-det") << QStringLiteral("ch_PP-OCRv4_det_infer.onnx") << QStringLiteral("x=1x3x640x640");
        QTest::addRow("yolov3-spp") << QStringLiteral("yolov3_spp.onnx") << QString();
    }
    void realModelLayouts() {
        QFETCH(QString, file);
        QFETCH(QString, binding);
        const QString path = QStringLiteral(AUTOSPLIT_MODELS_DIR "/") + file;
        if (!QFileInfo::exists(path)) QSKIP("model not fetched (scripts/fetch-models.sh)");
        engine::Engine e;
        e.setPlanningEnabled(false);
        QSignalSpy ok(&e, &engine::Engine::sessionAvailable);
        engine::LoadRequest r;
        r.path = path;
        r.inputShapes = engine::parseBindings(binding);
        r.edgeDevice = sim::builtinDevice("eyeriss");
        r.cloudDevice = sim::builtinDevice("tpu");
        e.loadModel(r);
        QVERIFY(ok.wait(kTimeout));
        const DagLayoutInput in = inputFor(e.session()->model->graph);
        const DagLayout dot = layoutWithGraphviz(in);
        checkLayout(in, dot);
        const DagLayout layered = layoutLayered(in);
        checkLayout(in, layered);
        qInfo("%s: %zu nodes, dot %.0f ms, layered %.1f ms", qPrintable(file), in.nodeSizes.size(), dot.milliseconds,
              layered.milliseconds);
    }

    void findSelectsAndReportsNodes() {
        DagView view;
        QSignalSpy ready(&view, &DagView::layoutReady);
        view.setModel(session_->model);
        QVERIFY(ready.wait(kTimeout));
        QSignalSpy selected(&view, &DagView::nodeSelected);
        const std::string name = session_->model->graph.nodes[3].name;
        QVERIFY(view.findNode(QString::fromStdString(name)));
        QCOMPARE(view.selectedNode(), 3);
        QCOMPARE(selected.count(), 1);
        QCOMPARE(selected.at(0).at(0).toInt(), 3);
        QVERIFY(!view.findNode(QStringLiteral("no-such-node-anywhere")));
        view.selectNode(-1);
        QCOMPARE(view.selectedNode(), -1);
    }
};

QTEST_MAIN(TestDagLayout)
#include "tst_dag_layout.moc"
