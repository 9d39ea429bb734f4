// Where results end (Constraints::resultsAt, downlink): which plans pay to move the graph
// outputs, in the one cost model, the baselines and plan.json.
#include "onnx_builder.h"

#include "autosplit/onnx/import.h"
#include "autosplit/planner/plan_io.h"
#include "autosplit/planner/planner.h"
#include "autosplit/quant/calibration.h"
#include "autosplit/sim/device.h"

#include <QtTest>

#include <algorithm>
#include <limits>
#include <random>
#include <regex>
#include <set>

using namespace autosplit;
using namespace autosplit::planner;

namespace {

// x -> conv1 -> a; a -> head (1x1) -> h (graph output, early); a -> conv2 -> b; a + b -> c;
// c -> conv3 -> d (graph output). The skip connection keeps two tensors live, so the working
// set is not the largest single tensor, and `h` is an output that a cut can leave on the edge.
Graph smallModel() {
    ModelBuilder b;
    b.input("x", {1, 8, 8, 8});
    b.initializer("w1", {8, 8, 3, 3}, randomValues(8 * 8 * 9, 1));
    b.initializer("wh", {2, 8, 1, 1}, randomValues(16, 2));
    b.initializer("w2", {8, 8, 3, 3}, randomValues(8 * 8 * 9, 3));
    b.initializer("w3", {8, 8, 1, 1}, randomValues(64, 4));
    b.node("Conv", {"x", "w1"}, {"a"}, {Attr::list("pads", {1, 1, 1, 1})}, "conv1");
    b.node("Conv", {"a", "wh"}, {"h"}, {}, "head");
    b.node("Conv", {"a", "w2"}, {"b"}, {Attr::list("pads", {1, 1, 1, 1})}, "conv2");
    b.node("Add", {"a", "b"}, {"c"}, {}, "add");
    b.node("Conv", {"c", "w3"}, {"d"}, {}, "conv3");
    b.output("h");
    b.output("d");
    return importOnnxFromMemory(b.bytes(), "small.onnx");
}

// Random, non-convex distortions falling with the bits: what the allocators see.
ErrorTable randomErrors(const Graph& g, uint32_t seed) {
    std::mt19937 rng(seed);
    std::uniform_real_distribution<double> u(0.05, 1.0);
    ErrorTable t;
    t.bits = {2, 4, 6, 8};
    for (size_t i = 0; i < g.nodes.size(); ++i) {
        ErrorTable::Row r;
        r.node = int(i);
        r.name = g.nodes[i].name;
        r.op = g.nodes[i].op;
        for (int in : g.nodes[i].inputs)
            if (in >= 0 && g.tensors[size_t(in)].isWeight()) r.weightTensor = in;
        auto falling = [&] {
            std::vector<double> d(4);
            d[3] = 0.01 * u(rng);
            for (int k = 2; k >= 0; --k) d[size_t(k)] = d[size_t(k) + 1] + u(rng) * (k == 1 ? 0.05 : 1.0);
            return d;
        };
        r.weightMse = r.weightTensor >= 0 ? falling() : std::vector<double>(4, 0.0);
        r.activationMse = falling();
        t.rows.push_back(std::move(r));
    }
    return t;
}

struct Small {
    Graph graph;
    ErrorTable errors;
    std::shared_ptr<const PlanningContext> ctx;
};

Small small(uint32_t seed = 7) {
    Small s;
    s.graph = smallModel();
    s.errors = randomErrors(s.graph, seed);
    s.ctx = PlanningContext::build(s.graph, sim::builtinDevice("eyeriss"), sim::builtinDevice("tpu"), s.errors,
                                   ModelSource{"small.onnx", std::string(64, '0'), {}});
    return s;
}

int nodeIndex(const Graph& g, const std::string& name) {
    for (size_t i = 0; i < g.nodes.size(); ++i)
        if (g.nodes[i].name == name) return int(i);
    return -1;
}

}  // namespace

class TestPlannerBudget : public QObject {
    Q_OBJECT
private slots:
    // ------------------------------------------------------------------ where results end

    void cloudOnlyPaysTheDownlinkOnlyWithResultsAtTheEdge() {
        const Small s = small();
        const PlanningContext& ctx = *s.ctx;
        const Graph& g = ctx.graph();
        Constraints edge;
        edge.downlinkBps = 2e6;
        edge.messageOverheadMs = 0.5;
        const Plan co = planFor(ctx, 0, edge, "cloud-only");
        // Both outputs (h: 2x8x8, d: 8x8x8) come back at the cloud's 16 bits, one message each.
        const double expect = double((2 * 64 + 8 * 64) * ctx.cloudBits()) / edge.downlinkBps * 1e3 + 2 * 0.5;
        QVERIFY(std::abs(co.latency.resultsMs - expect) < 1e-9);
        QVERIFY(std::abs(co.latency.totalMs - (co.latency.edgeMs + co.latency.transmitMs + co.latency.cloudMs + expect)) < 1e-9);
        Constraints cloud = edge;
        cloud.resultsAt = ResultsAt::Cloud;
        QCOMPARE(planFor(ctx, 0, cloud, "cloud-only").latency.resultsMs, 0.0);
        // A slower downlink costs Cloud-Only more; the uplink does not change the results term.
        Constraints slow = edge;
        slow.downlinkBps = 1e6;
        QVERIFY(planFor(ctx, 0, slow, "cloud-only").latency.resultsMs > co.latency.resultsMs);
        (void)g;
    }

    void aSplitLeavingAnOutputOnTheEdgePaysItsUpload() {
        const Small s = small();
        const PlanningContext& ctx = *s.ctx;
        const Graph& g = ctx.graph();
        const int head = nodeIndex(g, "head");
        const int last = ctx.nodeCount() - 1;
        QVERIFY(head >= 0 && head < last);
        Constraints cloud;
        cloud.resultsAt = ResultsAt::Cloud;
        cloud.uplinkBps = 1e6;
        cloud.messageOverheadMs = 0.25;
        Constraints edge = cloud;
        edge.resultsAt = ResultsAt::Edge;
        edge.downlinkBps = 4e6;
        for (int bits : {8, 4}) {
            // After `head` (and before conv3): h was computed on the edge, d will be in the cloud.
            int pos = -1;
            for (int p = head; p < last; ++p)
                if (nodeIndex(g, "conv3") > p) pos = p;
            QVERIFY(pos >= head);
            const Plan up = uniformPlan(ctx, pos, bits, cloud, "u");
            const double hUp = double(2 * 64 * bits) / cloud.uplinkBps * 1e3 + 0.25;
            QVERIFY2(std::abs(up.latency.resultsMs - hUp) < 1e-9, qPrintable(QString::number(up.latency.resultsMs)));
            const Plan down = uniformPlan(ctx, pos, bits, edge, "u");
            const double dDown = double(8 * 64 * ctx.cloudBits()) / edge.downlinkBps * 1e3 + 0.25;
            QVERIFY2(std::abs(down.latency.resultsMs - dDown) < 1e-9, qPrintable(QString::number(down.latency.resultsMs)));
            // Edge-Only: nothing to return at the edge, both outputs up with results at the cloud.
            QCOMPARE(uniformPlan(ctx, last, bits, edge, "u").latency.resultsMs, 0.0);
            const double bothUp = double((2 * 64 + 8 * 64) * bits) / cloud.uplinkBps * 1e3 + 2 * 0.25;
            QVERIFY(std::abs(uniformPlan(ctx, last, bits, cloud, "u").latency.resultsMs - bothUp) < 1e-9);
            // The cost model's split costs say the same.
            QCOMPARE(ctx.cost().uniformCost(pos, bits, cloud).latency.resultsMs, up.latency.resultsMs);
        }
        // Stored solutions pay at their own bits: h at the head's activation bits.
        Constraints c = cloud;
        c.edgeMemoryBytes = int64_t(1) << 30;
        const auto ps = replan(ctx, c);
        int checked = 0;
        for (const auto& x : ps->candidates) {
            const Solution& sol = ctx.solutions()[size_t(x.solution)];
            if (sol.split < head || sol.split >= last) continue;
            const double expect = double(2 * 64 * sol.activationBits[size_t(head)]) / c.uplinkBps * 1e3 + 0.25;
            QVERIFY(std::abs(x.resultsMs - expect) < 1e-9);
            ++checked;
        }
        QVERIFY(checked > 0);
    }

    void everyPlanAddsItsResultsToTheTotal_data() {
        QTest::addColumn<bool>("atCloud");
        QTest::addRow("results at the edge") << false;
        QTest::addRow("results at the cloud") << true;
    }
    void everyPlanAddsItsResultsToTheTotal() {
        QFETCH(bool, atCloud);
        const Small s = small();
        Constraints c;
        c.resultsAt = atCloud ? ResultsAt::Cloud : ResultsAt::Edge;
        c.downlinkBps = 1e6;
        const auto ps = replan(*s.ctx, c);
        auto sums = [](const LatencyBreakdown& l) {
            return std::abs(l.edgeMs + l.transmitMs + l.cloudMs + l.resultsMs - l.totalMs) < 1e-9;
        };
        QVERIFY(sums(ps->selected.latency));
        bool anyPays = false;
        for (const auto& b : ps->baselines) {
            QVERIFY2(sums(b.latency), b.name.c_str());
            anyPays |= b.latency.resultsMs > 0;
        }
        QVERIFY(anyPays);
        for (const auto& x : ps->candidates) QVERIFY(std::abs(x.edgeMs + x.transmitMs + x.cloudMs + x.resultsMs - x.totalMs) < 1e-9);
        const Plan* co = ps->baseline("cloud-only");
        QVERIFY(co);
        QCOMPARE(co->latency.resultsMs > 0, !atCloud);
        const Plan* eo = ps->baseline("edge-only-u8");
        QVERIFY(eo);
        QCOMPARE(eo->latency.resultsMs > 0, atCloud);
        // The min-cut baselines pay it too; at the edge a cloud-side output node pays its return.
        for (const char* name : {"qdmp", "qdmp-e"}) {
            const Plan* q = ps->baseline(name);
            QVERIFY(q && q->available);
            const bool lastOnEdge = q->kind == PlanKind::EdgeOnly;
            if (!atCloud && !lastOnEdge) QVERIFY(q->latency.resultsMs > 0);
        }
    }

    void minCutAccountsForWhereResultsEnd() {
        // A slow link both ways and results at the cloud: the cut that keeps everything in the
        // cloud (Cloud-Only) sends the input once; keeping outputs on the edge would cost more.
        const Small s = small();
        Constraints c;
        c.resultsAt = ResultsAt::Cloud;
        c.uplinkBps = 1e4;
        const auto ps = replan(*s.ctx, c);
        const Plan* q = ps->baseline("qdmp");
        QVERIFY(q);
        const Plan* co = ps->baseline("cloud-only");
        QVERIFY(q->latency.totalMs <= co->latency.totalMs + 1e-9);
        // Results at the edge over a very slow downlink: an Edge-Only cut returns nothing.
        Constraints e;
        e.downlinkBps = 1e2;
        e.uplinkBps = 1e9;
        const auto pe = replan(*s.ctx, e);
        const Plan* qe = pe->baseline("qdmp");
        QVERIFY(qe);
        QCOMPARE(qe->kind, PlanKind::EdgeOnly);
        QCOMPARE(qe->latency.resultsMs, 0.0);
    }

    void planJsonCarriesResultsAndReadsOldFiles() {
        const Small s = small();
        Constraints c;
        c.resultsAt = ResultsAt::Cloud;
        c.downlinkBps = 7.5e6;
        const auto ps = replan(*s.ctx, c);
        const std::string text = planToJson(*s.ctx, *ps);
        const PlanDocument d = parsePlan(text, "plan.json");
        QCOMPARE(d.constraints.resultsAt, ResultsAt::Cloud);
        QCOMPARE(d.constraints.downlinkBps, 7.5e6);
        QCOMPARE(d.selected.latency.resultsMs, ps->selected.latency.resultsMs);
        bool anyResults = false;
        for (const auto& b : d.baselines) {
            const Plan* p = ps->baseline(b.name);
            QVERIFY(p);
            QCOMPARE(b.latency.resultsMs, p->latency.resultsMs);
            anyResults |= b.latency.resultsMs > 0;
        }
        QVERIFY(anyResults);
        QVERIFY(text.find("\"results_at\": \"cloud\"") != std::string::npos);
        // A plan written before results were costed: no results fields at all.
        std::string old = std::regex_replace(text, std::regex("\n *\"(results|results_at|downlink_bps)\": [^\n]*"), "");
        QVERIFY(old.find("\"results") == std::string::npos);
        const PlanDocument o = parsePlan(old, "old.json");
        QCOMPARE(o.constraints.resultsAt, ResultsAt::Edge);
        QCOMPARE(o.constraints.downlinkBps, Constraints{}.downlinkBps);
        QCOMPARE(o.selected.latency.resultsMs, 0.0);
        QCOMPARE(o.selected.latency.totalMs, d.selected.latency.totalMs);
        // A bad value is a clear error.
        std::string bad = std::regex_replace(text, std::regex("\"results_at\": \"cloud\""), "\"results_at\": \"moon\"");
        try {
            (void)parsePlan(bad, "bad.json");
            QFAIL("accepted results_at moon");
        } catch (const PlannerError& e) {
            QVERIFY2(std::string(e.what()).find("results_at") != std::string::npos, e.what());
        }
    }

    void badDownlinkIsAnError() {
        Constraints c;
        c.downlinkBps = 0;
        QVERIFY_THROWS_EXCEPTION(PlannerError, c.validate());
        c.downlinkBps = std::nan("");
        QVERIFY_THROWS_EXCEPTION(PlannerError, c.validate());
        QCOMPARE(resultsAtFromName("edge"), std::optional<ResultsAt>(ResultsAt::Edge));
        QCOMPARE(resultsAtFromName("cloud"), std::optional<ResultsAt>(ResultsAt::Cloud));
        QVERIFY(!resultsAtFromName("Edge"));
    }
};

QTEST_MAIN(TestPlannerBudget)
#include "tst_planner_budget.moc"
