// Bit allocation and min-cut against brute force on small random instances.
#include "autosplit/planner/bit_allocation.h"
#include "autosplit/planner/mincut.h"

#include <QtTest>

#include <cmath>
#include <functional>
#include <limits>
#include <random>

using namespace autosplit::planner;

namespace {

std::vector<ChoiceGroup> randomGroups(std::mt19937& rng, int n, int k, bool convex) {
    std::uniform_int_distribution<int> size(1, 50);
    std::uniform_real_distribution<double> u(0.1, 1.0);
    std::vector<ChoiceGroup> gs;
    const int bits[] = {2, 4, 6, 8};
    for (int i = 0; i < n; ++i) {
        ChoiceGroup g;
        const int s = size(rng);
        double d = u(rng) * 10;
        double step = u(rng) * 0.6;
        for (int j = 0; j < k; ++j) {
            g.cost.push_back(int64_t(s) * bits[j]);
            // Convex: distortion falls by a shrinking factor (4^-b like MSE); non-convex: random.
            if (convex) {
                g.distortion.push_back(d);
                d *= step;
                step *= 0.9;
            } else {
                g.distortion.push_back(u(rng) * 10 * std::pow(0.5, j));
            }
        }
        gs.push_back(g);
    }
    return gs;
}

double bruteKnapsack(const std::vector<ChoiceGroup>& gs, int64_t budget) {
    double best = std::numeric_limits<double>::infinity();
    std::vector<int> c(gs.size(), 0);
    std::function<void(size_t, int64_t, double)> rec = [&](size_t i, int64_t cost, double d) {
        if (cost > budget) return;
        if (i == gs.size()) {
            best = std::min(best, d);
            return;
        }
        for (size_t k = 0; k < gs[i].cost.size(); ++k) rec(i + 1, cost + gs[i].cost[k], d + gs[i].distortion[k]);
    };
    rec(0, 0, 0);
    return best;
}

WorkingSetProblem randomWorkingSet(std::mt19937& rng, int steps) {
    WorkingSetProblem p;
    p.constant.assign(size_t(steps), 0);
    std::uniform_int_distribution<int> el(1, 30), span(0, 4), extra(0, 3);
    std::uniform_real_distribution<double> u(0.1, 1.0);
    for (int s = 0; s < steps; ++s) p.constant[size_t(s)] = extra(rng) * 8;
    for (int v = 0; v < steps; ++v) {
        WorkingSetProblem::Variable var;
        for (int b : {2, 4, 8}) {
            var.bits.push_back(b);
            var.distortion.push_back(u(rng) * std::pow(4.0, -b / 2.0) * 100);
        }
        const int end = std::min(steps - 1, v + span(rng));
        var.segments.push_back({v, end, el(rng)});
        if (end > v + 1 && u(rng) < 0.3) var.segments.push_back({v, v + 1, el(rng)});  // a second, shorter output
        p.variables.push_back(var);
    }
    return p;
}

double bruteWorkingSet(const WorkingSetProblem& p, int64_t budget, int last) {
    double best = std::numeric_limits<double>::infinity();
    std::vector<int> c(p.variables.size(), 0);
    std::function<void(size_t)> rec = [&](size_t v) {
        if (v == p.variables.size()) {
            if (workingSetPeak(p, c, last) > budget) return;
            double d = 0;
            for (size_t i = 0; i < c.size(); ++i)
                if (p.variables[i].segments.front().first <= last) d += p.variables[i].distortion[size_t(c[i])];
            best = std::min(best, d);
            return;
        }
        const bool active = p.variables[v].segments.front().first <= last;
        for (size_t k = 0; k < (active ? p.variables[v].bits.size() : 1); ++k) {
            c[v] = int(k);
            rec(v + 1);
        }
    };
    rec(0);
    return best;
}

}  // namespace

class TestPlannerAllocation : public QObject {
    Q_OBJECT
private slots:
    void knapsackExactEqualsBruteForce_data() {
        QTest::addColumn<int>("seed");
        QTest::addColumn<int>("groups");
        QTest::addColumn<bool>("convex");
        for (int seed = 1; seed <= 12; ++seed)
            QTest::addRow("seed %d, %d groups%s", seed, 3 + seed % 5, seed % 2 ? ", convex" : "")
                << seed << 3 + seed % 5 << bool(seed % 2);
    }
    void knapsackExactEqualsBruteForce() {
        QFETCH(int, seed);
        QFETCH(int, groups);
        QFETCH(bool, convex);
        std::mt19937 rng{static_cast<uint32_t>(seed)};
        const auto gs = randomGroups(rng, groups, 4, convex);
        int64_t lo = 0, hi = 0;
        for (const auto& g : gs) {
            lo += g.cost.front();
            hi += g.cost.back();
        }
        for (int t = 0; t <= 10; ++t) {
            const int64_t budget = lo - 1 + (hi - lo + 1) * t / 10;
            const double brute = bruteKnapsack(gs, budget);
            const Allocation ex = knapsackExact(gs, budget);
            const Allocation lag = knapsackLagrangian(gs, budget);
            if (std::isinf(brute)) {
                QVERIFY(!ex.feasible);
                QVERIFY(!lag.feasible);
                continue;
            }
            QVERIFY(ex.feasible);
            QVERIFY2(std::abs(ex.distortion - brute) <= 1e-9 * (1 + brute),
                     qPrintable(QString("budget %1: exact %2, brute force %3").arg(budget).arg(ex.distortion).arg(brute)));
            // The reported choice really has that cost and distortion.
            int64_t cost = 0;
            double d = 0;
            for (size_t i = 0; i < gs.size(); ++i) {
                cost += gs[i].cost[size_t(ex.choice[i])];
                d += gs[i].distortion[size_t(ex.choice[i])];
            }
            QVERIFY(cost <= budget);
            QCOMPARE(cost, ex.cost);
            QVERIFY(std::abs(d - ex.distortion) < 1e-9);
            // The Lagrangian is feasible and never better.
            QVERIFY(lag.feasible);
            QVERIFY(lag.cost <= budget);
            QVERIFY(lag.distortion >= ex.distortion - 1e-9);
        }
    }

    void lagrangianIsExactOnHullBudgets() {
        // On convex instances, budgets that equal the cost of a Lagrangian point are solved exactly
        // by it (Shoham-Gersho's optimality at the hull's vertices).
        std::mt19937 rng(7);
        const auto gs = randomGroups(rng, 6, 4, true);
        for (int b : {2, 4, 6, 8}) {
            int64_t budget = 0;
            for (const auto& g : gs) budget += g.cost[size_t(b / 2 - 1)];
            const Allocation lag = knapsackLagrangian(gs, budget);
            const Allocation lagAtItsCost = knapsackLagrangian(gs, lag.cost);
            const Allocation ex = knapsackExact(gs, lag.cost);
            QVERIFY(lag.feasible && lagAtItsCost.feasible && ex.feasible);
            QVERIFY(std::abs(lagAtItsCost.distortion - ex.distortion) < 1e-9 * (1 + ex.distortion));
        }
    }

    void lagrangianLosesOnANonConvexInstance() {
        // Two groups; the exact optimum takes an option that lies above the convex hull.
        std::vector<ChoiceGroup> gs(2);
        gs[0].cost = {0, 10, 20};
        gs[0].distortion = {10, 9.5, 0};  // option 1 is above the hull
        gs[1].cost = {0, 10};
        gs[1].distortion = {1, 0};
        const Allocation ex = knapsackExact(gs, 10);
        const Allocation lag = knapsackLagrangian(gs, 10);
        QCOMPARE(ex.distortion, 10.0);  // 10 + 0: group 1 takes its expensive option
        // The hull of group 0 skips option 1, so at budget 10 the Lagrangian can only reach
        // (0, 0): 10 + 1.
        QCOMPARE(lag.distortion, 11.0);
        const Allocation ex2 = knapsackExact(gs, 20);
        QCOMPARE(ex2.distortion, 1.0);
    }

    void sweepAnswersEveryPrefix() {
        std::mt19937 rng(3);
        const auto gs = randomGroups(rng, 7, 4, false);
        KnapsackSweep sweep;
        for (size_t n = 0; n < gs.size(); ++n) {
            sweep.addGroup(gs[n]);
            std::vector<ChoiceGroup> prefix(gs.begin(), gs.begin() + long(n) + 1);
            for (int64_t budget : {int64_t(20), int64_t(100), int64_t(250)}) {
                const auto ref = sweep.best(budget);
                const double brute = bruteKnapsack(prefix, budget);
                if (std::isinf(brute)) {
                    QCOMPARE(ref.entry, -1);
                    continue;
                }
                QVERIFY(std::abs(ref.distortion - brute) < 1e-9 * (1 + brute));
                const auto choice = sweep.reconstruct(ref);
                QCOMPARE(choice.size(), n + 1);
            }
        }
    }

    void workingSetExactEqualsBruteForce_data() {
        QTest::addColumn<int>("seed");
        for (int seed = 1; seed <= 10; ++seed) QTest::addRow("seed %d", seed) << seed;
    }
    void workingSetExactEqualsBruteForce() {
        QFETCH(int, seed);
        std::mt19937 rng{static_cast<uint32_t>(seed)};
        const int steps = 7;
        const auto p = randomWorkingSet(rng, steps);
        std::vector<int> lowest(p.variables.size(), 0), highest(p.variables.size(), 2);
        const int64_t lo = workingSetPeak(p, lowest), hi = workingSetPeak(p, highest);
        int lagrangianChecked = 0;
        for (int last : {2, steps - 1}) {
            for (int t = 0; t <= 6; ++t) {
                const int64_t budget = lo - 1 + (hi - lo + 1) * t / 6;
                const double brute = bruteWorkingSet(p, budget, last);
                const WorkingSetResult ex = workingSetExact(p, budget, last);
                QVERIFY(ex.exact);
                const Allocation lag = workingSetLagrangian(p, budget, last);
                if (std::isinf(brute)) {
                    QVERIFY(!ex.allocation.feasible);
                    QVERIFY(!lag.feasible);
                    continue;
                }
                QVERIFY2(ex.allocation.feasible, qPrintable(QString("budget %1 last %2").arg(budget).arg(last)));
                QVERIFY2(std::abs(ex.allocation.distortion - brute) < 1e-9 * (1 + brute),
                         qPrintable(QString("budget %1: exact %2 brute %3").arg(budget).arg(ex.allocation.distortion).arg(brute)));
                QVERIFY(workingSetPeak(p, ex.allocation.choice, last) <= budget);
                if (lag.feasible) {
                    ++lagrangianChecked;
                    QVERIFY(workingSetPeak(p, lag.choice, last) <= budget);
                    QVERIFY(lag.distortion >= ex.allocation.distortion - 1e-9);
                }
            }
        }
        QVERIFY2(lagrangianChecked > 0, "the Lagrangian found no feasible allocation: its checks were skipped");
        // All prefixes at once agree with one prefix at a time.
        const int64_t mid = (lo + hi) / 2;
        std::vector<int> ends;
        for (int s = 0; s < steps; ++s) ends.push_back(s);
        const auto all = workingSetExactAllPrefixes(p, mid, ends);
        for (int s = 0; s < steps; ++s) {
            const auto one = workingSetExact(p, mid, s);
            QCOMPARE(all[size_t(s)].allocation.feasible, one.allocation.feasible);
            if (one.allocation.feasible) QVERIFY(std::abs(all[size_t(s)].allocation.distortion - one.allocation.distortion) < 1e-12);
        }
    }

    // The sweep's frontier points are optima: each point's options (kept when the DP is freed)
    // reach its peak and distortion, and brute force at that peak finds no lower distortion.
    // Its bytes give back the same frontiers and options, and damaged, truncated or foreign
    // bytes give nothing.
    void workingSetSweepFrontiersAreOptimaAndSurviveBytes() {
        for (uint32_t seed : {3u, 8u}) {
            std::mt19937 rng{seed};
            const int steps = 7;
            const auto p = randomWorkingSet(rng, steps);
            std::vector<int> ends;
            for (int s = 0; s < steps; ++s) ends.push_back(s);
            const WorkingSetSweep sweep(p, ends);
            int points = 0;
            for (int e : ends) {
                QVERIFY(sweep.exact(e));
                for (const auto& pt : sweep.frontier(e)) {
                    const auto choice = sweep.reconstruct(e, pt);
                    QCOMPARE(workingSetPeak(p, choice, e), pt.peak);
                    double d = 0;
                    for (size_t v = 0; v < choice.size(); ++v)
                        if (p.variables[v].segments.front().first <= e) d += p.variables[v].distortion[size_t(choice[v])];
                    QVERIFY(std::abs(d - pt.distortion) < 1e-9 * (1 + d));
                    QVERIFY(std::abs(bruteWorkingSet(p, pt.peak, e) - pt.distortion) < 1e-9 * (1 + d));
                    ++points;
                }
            }
            QVERIFY(points > steps);
            const std::string key = workingSetKey(p, ends);
            const std::string bytes = sweep.toBytes(key);
            const auto back = WorkingSetSweep::fromBytes(bytes, key);
            QVERIFY(back);
            QCOMPARE(back->largestStep(), sweep.largestStep());
            for (int e : ends) {
                QCOMPARE(back->frontier(e).size(), sweep.frontier(e).size());
                for (size_t k = 0; k < sweep.frontier(e).size(); ++k) {
                    const auto& a = sweep.frontier(e)[k];
                    const auto& b = back->frontier(e)[k];
                    QCOMPARE(b.peak, a.peak);
                    QCOMPARE(b.distortion, a.distortion);
                    QCOMPARE(back->reconstruct(e, b), sweep.reconstruct(e, a));
                }
            }
            QVERIFY(!WorkingSetSweep::fromBytes(bytes, workingSetKey(p, {0, 1})));  // another key
            QVERIFY(!WorkingSetSweep::fromBytes(bytes.substr(0, bytes.size() - 1), key));
            QVERIFY(!WorkingSetSweep::fromBytes(std::string(), key));
            for (size_t at = 0; at < bytes.size(); at += 1 + bytes.size() / 97) {
                std::string bad = bytes;
                bad[at] = char(bad[at] ^ 0x20);
                QVERIFY2(!WorkingSetSweep::fromBytes(bad, key), qPrintable(QString("byte %1 flipped").arg(at)));
            }
            // The key follows every input of the sweep.
            auto q = p;
            q.variables[2].distortion[1] *= 1.0000001;
            QVERIFY(workingSetKey(q, ends) != key);
            q = p;
            q.constant[4] += 1;
            QVERIFY(workingSetKey(q, ends) != key);
        }
    }

    void workingSetStateLimitFallsBack() {
        std::mt19937 rng(5);
        auto p = randomWorkingSet(rng, 6);
        WorkingSetOptions o;
        o.maxStates = 2;
        const auto r = workingSetExact(p, workingSetPeak(p, std::vector<int>(p.variables.size(), 2)), -1, o);
        QVERIFY(!r.exact);
        QVERIFY(r.allocation.feasible);
    }

    void minCutEqualsBruteForce_data() {
        QTest::addColumn<int>("seed");
        for (int seed = 1; seed <= 15; ++seed) QTest::addRow("seed %d", seed) << seed;
    }
    void minCutEqualsBruteForce() {
        QFETCH(int, seed);
        std::mt19937 rng{static_cast<uint32_t>(seed)};
        std::uniform_real_distribution<double> u(0.0, 10.0);
        std::uniform_int_distribution<int> coin(0, 2);
        const int n = 8;
        CutProblem p;
        for (int v = 0; v < n; ++v) {
            p.edgeCost.push_back(u(rng));
            p.cloudCost.push_back(u(rng) * 0.3);
        }
        // Graph input read by node 0 (and sometimes 1); each node's output read by 1-3 later nodes.
        CutProblem::Data in;
        in.producer = -1;
        in.consumers = {0};
        if (coin(rng) == 0) in.consumers.push_back(1);
        in.transferCost = u(rng) * 2;
        p.data.push_back(in);
        for (int v = 0; v + 1 < n; ++v) {
            CutProblem::Data d;
            d.producer = v;
            d.consumers.push_back(v + 1);
            for (int w = v + 2; w < n; ++w)
                if (coin(rng) == 0) d.consumers.push_back(w);
            d.transferCost = u(rng);
            p.data.push_back(d);
        }
        double brute = std::numeric_limits<double>::infinity();
        for (int mask = 0; mask < (1 << n); ++mask) {
            std::vector<bool> e(static_cast<size_t>(n));
            for (int v = 0; v < n; ++v) e[size_t(v)] = mask >> v & 1;
            brute = std::min(brute, cutCost(p, e));
        }
        const CutResult r = minimumCut(p);
        QVERIFY2(std::abs(r.cost - brute) < 1e-9 * (1 + brute), qPrintable(QString("min-cut %1, brute force %2").arg(r.cost).arg(brute)));
        QVERIFY(std::isfinite(cutCost(p, r.onEdge)));
    }

    void multiConsumerTensorIsPaidOnce() {
        // One tensor read by two cloud nodes: the cut pays its transfer once, not twice.
        CutProblem p;
        p.edgeCost = {1, 100, 100};
        p.cloudCost = {50, 1, 1};
        p.data.push_back({-1, {0}, 10.0});
        p.data.push_back({0, {1, 2}, 3.0});
        const CutResult r = minimumCut(p);
        QCOMPARE(r.onEdge, (std::vector<bool>{true, false, false}));
        QCOMPARE(r.cost, 1.0 + 3.0 + 2.0);
        // Data may not flow back: putting node 1 on the edge while 0 is in the cloud is invalid.
        QVERIFY(std::isinf(cutCost(p, {false, true, false})));
    }
};

QTEST_APPLESS_MAIN(TestPlannerAllocation)
#include "tst_planner_allocation.moc"
