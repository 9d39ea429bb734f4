// Allocation at the real edge-memory budget (PlanningContext::budgetSolutions, replan) against
// brute force over every bit assignment of a split, including budgets between the grid's
// levels; and where results end (Constraints::resultsAt, downlink): which plans pay to move the
// graph outputs, in the one cost model, the baselines and plan.json.
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

// Every assignment of the split's weight bits (quantized layers) and activation bits (every
// edge node), reduced to (bytes, distortion) per part: the edge memory is the sum of the two,
// each counted in whole bytes (Solution::edgeBytes).
struct Brute {
    std::vector<std::pair<int64_t, double>> weights, activations;
    double best(int64_t budget) const {
        double b = std::numeric_limits<double>::infinity();
        for (const auto& [wb, wd] : weights)
            for (const auto& [ab, ad] : activations)
                if (wb + ab <= budget) b = std::min(b, wd + ad);
        return b;
    }
};

Brute bruteForce(const PlanningContext& ctx, int split) {
    const Graph& g = ctx.graph();
    const auto& E = ctx.errors();
    const std::vector<int>& B = ctx.bits();
    const int n = split + 1;
    std::vector<int> quantized;
    for (int i = 0; i < n; ++i)
        if (E.rows[size_t(i)].weightTensor >= 0) quantized.push_back(i);
    Brute out;
    PlanBits bits = PlanBits::uniform(g, split, B.back(), B.back(), ctx.inputBits());
    std::vector<int> k(quantized.size(), 0);
    while (true) {
        double d = 0;
        for (size_t q = 0; q < quantized.size(); ++q) {
            bits.weightBits[size_t(quantized[q])] = B[size_t(k[q])];
            d += E.rows[size_t(quantized[q])].weightMse[size_t(k[q])];
        }
        out.weights.push_back({(edgeMemory(g, bits).weightBits + 7) / 8, d});
        size_t q = 0;
        while (q < k.size() && ++k[q] == int(B.size())) k[q++] = 0;
        if (q == k.size()) break;
    }
    std::vector<int> a(size_t(n), 0);
    while (true) {
        double d = 0;
        for (int i = 0; i < n; ++i) {
            bits.activationBits[size_t(i)] = B[size_t(a[size_t(i)])];
            d += E.rows[size_t(i)].activationMse[size_t(a[size_t(i)])];
        }
        out.activations.push_back({(edgeMemory(g, bits).peakActivationBits + 7) / 8, d});
        size_t i = 0;
        while (i < a.size() && ++a[i] == int(B.size())) a[i++] = 0;
        if (i == a.size()) break;
    }
    return out;
}

// Budgets to try for a split: every grid solution's edge memory, the midpoints between
// consecutive ones (between grid points), one byte below each, and the brute-force extremes.
std::vector<int64_t> budgetsFor(const PlanningContext& ctx, int split, const Brute& brute) {
    std::set<int64_t> grid;
    for (size_t i = 0; i < ctx.solutions().built(); ++i) {
        const Solution& s = ctx.solutions()[i];
        if (s.split == split && !s.forBaseline) grid.insert(s.edgeBytes());
    }
    std::set<int64_t> out;
    int64_t prev = -1;
    for (int64_t g : grid) {
        out.insert(g);
        out.insert(g - 1);
        if (prev >= 0) out.insert((prev + g) / 2);
        prev = g;
    }
    int64_t lo = std::numeric_limits<int64_t>::max(), hi = 0;
    for (const auto& w : brute.weights)
        for (const auto& a : brute.activations) {
            lo = std::min(lo, w.first + a.first);
            hi = std::max(hi, w.first + a.first);
        }
    out.insert(lo);
    out.insert(lo - 1);
    out.insert(hi + 100);
    return {out.begin(), out.end()};
}

const Solution* budgetSolutionAt(const PlanningContext& ctx, int64_t budget, int split) {
    for (int i : ctx.budgetSolutions(budget))
        if (ctx.solution(i).split == split) return &ctx.solution(i);
    return nullptr;
}

bool near(double a, double b) { return std::abs(a - b) <= 1e-12 * std::max({1.0, std::abs(a), std::abs(b)}); }

}  // namespace

class TestPlannerBudget : public QObject {
    Q_OBJECT
private slots:
    void allocationAtTheBudgetEqualsBruteForce_data() {
        QTest::addColumn<uint>("seed");
        for (uint s : {7u, 11u, 23u}) QTest::addRow("seed %u", s) << s;
    }
    void allocationAtTheBudgetEqualsBruteForce() {
        QFETCH(uint, seed);
        const Small s = small(seed);
        const PlanningContext& ctx = *s.ctx;
        int splits = 0, budgets = 0, between = 0, strictlyBetter = 0;
        for (const auto& r : ctx.splitRecords()) {
            if (!r.candidate) continue;
            ++splits;
            const Brute brute = bruteForce(ctx, r.position);
            for (int64_t M : budgetsFor(ctx, r.position, brute)) {
                const double expect = brute.best(M);
                const Solution* got = budgetSolutionAt(ctx, M, r.position);
                if (!std::isfinite(expect)) {
                    QVERIFY2(!got, qPrintable(QStringLiteral("split %1, %2 B: infeasible, yet a solution").arg(r.position).arg(M)));
                    continue;
                }
                ++budgets;
                QVERIFY2(got, qPrintable(QStringLiteral("split %1, %2 B: no solution").arg(r.position).arg(M)));
                QVERIFY2(near(got->mse(), expect), qPrintable(QStringLiteral("split %1, %2 B: planner %3, brute force %4")
                                                                   .arg(r.position).arg(M).arg(got->mse(), 0, 'g', 17)
                                                                   .arg(expect, 0, 'g', 17)));
                QVERIFY(got->edgeBytes() <= M);
                // Its memory is what the one memory model says of its bits.
                const EdgeMemory mem = edgeMemory(ctx.graph(), ctx.planBits(*got));
                QCOMPARE(got->edgeWeightBits, mem.weightBits);
                QCOMPARE(got->edgeActivationBits, mem.peakActivationBits);
                // replan at that budget keeps it (or an equally good one) among the candidates.
                Constraints c;
                c.edgeMemoryBytes = M;
                const auto ps = replan(ctx, c);
                double bestCandidate = std::numeric_limits<double>::infinity();
                for (const auto& x : ps->candidates) {
                    const Solution& sol = ctx.solution(x.solution);
                    QVERIFY(sol.split < 0 || sol.edgeBytes() <= M);
                    if (sol.split == r.position) bestCandidate = std::min(bestCandidate, x.mse);
                }
                QVERIFY(near(bestCandidate, expect));
                // Against the grid: at least as good as every grid plan of the split that fits.
                double bestGrid = std::numeric_limits<double>::infinity();
                bool onGrid = false;
                for (size_t i = 0; i < ctx.solutions().built(); ++i) {
                    const Solution& g = ctx.solutions()[i];
                    if (g.split != r.position || g.forBaseline) continue;
                    onGrid |= g.edgeBytes() == M;
                    if (g.edgeBytes() <= M) bestGrid = std::min(bestGrid, g.mse());
                }
                QVERIFY(got->mse() <= bestGrid * (1 + 1e-12));
                if (!onGrid) {
                    ++between;
                    strictlyBetter += got->mse() < bestGrid * (1 - 1e-9);
                }
            }
        }
        QVERIFY(splits >= 3);
        QVERIFY(budgets >= 20);
        QVERIFY(between >= 10);
        // The point of it: between grid points the grid leaves distortion on the table.
        QVERIFY2(strictlyBetter > 0, "no budget between grid points improved on the grid");
        qInfo("seed %u: %d candidate splits, %d budgets (%d between grid points, %d strictly better than the grid)", seed,
              splits, budgets, between, strictlyBetter);
    }

    // The activation frontiers cached in the cache folder give the same plans at every budget as
    // a fresh sweep; a damaged cache file is swept again and rewritten, never trusted.
    void cachedFrontiersGiveTheSamePlans() {
        QTemporaryDir dir;
        QVERIFY(dir.isValid());
        const Graph g = smallModel();
        const ErrorTable errors = randomErrors(g, 11);
        auto buildWith = [&](const std::string& cache) {
            ContextOptions o;
            o.cacheDir = cache;
            return PlanningContext::build(g, sim::builtinDevice("eyeriss"), sim::builtinDevice("tpu"), errors,
                                          ModelSource{"small.onnx", std::string(64, '0'), {}}, o);
        };
        auto plansOf = [](const PlanningContext& ctx) {
            std::vector<std::string> out;
            for (int64_t m = 50; m < 6000; m += 23)
                for (int i : ctx.budgetSolutions(m)) {
                    const Solution& sol = ctx.solution(i);
                    out.push_back(std::to_string(m) + ":" + std::to_string(sol.split) + ":" +
                                  std::string(sol.weightBits.begin(), sol.weightBits.end()) + "/" +
                                  std::string(sol.activationBits.begin(), sol.activationBits.end()));
                }
            return out;
        };
        const auto fresh = plansOf(*buildWith(std::string()));
        QVERIFY(fresh.size() > 50);
        const std::string cache = dir.path().toStdString();
        QCOMPARE(plansOf(*buildWith(cache)), fresh);  // swept, written
        const QStringList files = QDir(dir.path()).entryList({QStringLiteral("frontier-*.bin")});
        QCOMPARE(files.size(), 1);
        const QString file = QDir(dir.path()).filePath(files.front());
        QCOMPARE(plansOf(*buildWith(cache)), fresh);  // read back
        // Damaged: a flipped byte in the middle.
        QFile f(file);
        QVERIFY(f.open(QIODevice::ReadWrite));
        QByteArray bytes = f.readAll();
        bytes[bytes.size() / 2] = char(bytes[bytes.size() / 2] ^ 0x41);
        f.seek(0);
        f.write(bytes);
        f.close();
        QCOMPARE(plansOf(*buildWith(cache)), fresh);
        QFile again(file);
        QVERIFY(again.open(QIODevice::ReadOnly));
        QVERIFY(again.readAll() != bytes);  // rewritten
    }

    void replanStaysPureAcrossBudgetQueries() {
        const Small s = small();
        Constraints c;
        c.edgeMemoryBytes = 900;
        const auto first = replan(*s.ctx, c);
        for (int64_t m = 100; m < 4000; m += 37) {
            Constraints o;
            o.edgeMemoryBytes = m;
            (void)replan(*s.ctx, o);
        }
        const auto again = replan(*s.ctx, c);
        QCOMPARE(again->candidates.size(), first->candidates.size());
        for (size_t i = 0; i < first->candidates.size(); ++i) {
            QCOMPARE(again->candidates[i].solution, first->candidates[i].solution);
            QCOMPARE(again->candidates[i].totalMs, first->candidates[i].totalMs);
        }
        QCOMPARE(again->pareto, first->pareto);
        QCOMPARE(again->selected.solution, first->selected.solution);
        // Indices of added solutions are stable and findSolution finds them.
        for (int i : s.ctx->budgetSolutions(c.edgeMemoryBytes)) {
            const Solution& sol = s.ctx->solution(i);
            const std::vector<int> w(sol.weightBits.begin(), sol.weightBits.end()), a(sol.activationBits.begin(), sol.activationBits.end());
            QCOMPARE(s.ctx->findSolution(sol.split, w, a), i);
        }
    }

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
        const double expect = double((2 * 64 + 8 * 64) * ctx.cloudBits()) * (1 + edge.linkOverhead) / edge.downlinkBps * 1e3 + 2 * 0.5;
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
            const double hUp = double(2 * 64 * bits) * (1 + cloud.linkOverhead) / cloud.uplinkBps * 1e3 + 0.25;
            QVERIFY2(std::abs(up.latency.resultsMs - hUp) < 1e-9, qPrintable(QString::number(up.latency.resultsMs)));
            const Plan down = uniformPlan(ctx, pos, bits, edge, "u");
            const double dDown = double(8 * 64 * ctx.cloudBits()) * (1 + edge.linkOverhead) / edge.downlinkBps * 1e3 + 0.25;
            QVERIFY2(std::abs(down.latency.resultsMs - dDown) < 1e-9, qPrintable(QString::number(down.latency.resultsMs)));
            // Edge-Only: nothing to return at the edge, both outputs up with results at the cloud.
            QCOMPARE(uniformPlan(ctx, last, bits, edge, "u").latency.resultsMs, 0.0);
            const double bothUp = double((2 * 64 + 8 * 64) * bits) * (1 + cloud.linkOverhead) / cloud.uplinkBps * 1e3 + 2 * 0.25;
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
            const Solution& sol = ctx.solution(x.solution);
            if (sol.split < head || sol.split >= last) continue;
            const double expect = double(2 * 64 * sol.activationBits[size_t(head)]) * (1 + c.linkOverhead) / c.uplinkBps * 1e3 + 0.25;
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
        std::string old = std::regex_replace(text, std::regex("\n *\"(results|results_at|results_encoding|downlink_bps)\": [^\n]*"), "");
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
