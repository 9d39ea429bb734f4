// PlanningContext + replan on the bundled example model: Pareto front, selection rules,
// monotonicity, memory filtering, baselines, errors, plan.json, thread safety; measurements
// stopped early and the measurement cache across sessions.
#include "autosplit/onnx/import.h"
#include "autosplit/passes/optimize.h"
#include "autosplit/planner/measurement_cache.h"
#include "autosplit/planner/plan_io.h"
#include "autosplit/planner/planner.h"
#include "autosplit/quant/calibration.h"
#include "autosplit/sim/device.h"

#include <QTemporaryDir>
#include <QtTest>

#include <atomic>
#include <fstream>
#include <thread>

using namespace autosplit;
using namespace autosplit::planner;

namespace {

const std::string kExample = AUTOSPLIT_BINARY_DIR "/resources/example.onnx";

struct Fixture {
    std::shared_ptr<const PlanningContext> ctx;
    Graph graph;
    ErrorTable table;
};

Fixture& fixture() {
    static Fixture f = [] {
        Fixture x;
        x.graph = importOnnx(kExample);
        optimize(x.graph);
        const Dataset set = syntheticDataset(x.graph, 2);
        x.table = calibrate(x.graph, set);
        ModelSource src{kExample, sha256File(kExample), {}};
        x.ctx = PlanningContext::build(x.graph, sim::builtinDevice("eyeriss"), sim::builtinDevice("tpu"), x.table, src);
        return x;
    }();
    return f;
}

// A deterministic stand-in for the fake-quant run: the drop grows with the MSE proxy.
AccuracyMeasure fakeMeasure(const PlanningContext& ctx, double scale, std::atomic<int>* calls = nullptr) {
    return [&ctx, scale, calls](const PlanBits& b, const CancelToken&, double) {
        if (calls) ++*calls;
        const int idx = ctx.findSolution(b.splitPosition, b.weightBits, b.activationBits);
        if (idx < 0) throw Error("fake measure: unknown solution");
        AccuracyMeasurement m;
        m.drop = std::min(100.0, ctx.solutions()[size_t(idx)].mse() * scale);
        m.metric = "fake";
        m.samples = 1;
        return m;
    };
}

// Fresh context per test that stores accuracies (the cache lives in the context).
std::shared_ptr<const PlanningContext> freshContext(ContextOptions o = {}) {
    auto& f = fixture();
    ModelSource src{kExample, f.ctx->model().sha256, {}};
    return PlanningContext::build(f.graph, sim::builtinDevice("eyeriss"), sim::builtinDevice("tpu"), f.table, src, o);
}

}  // namespace

class TestPlannerReplan : public QObject {
    Q_OBJECT
private slots:
    void contextHasCandidatesAndCloudOnly() {
        const auto& ctx = *fixture().ctx;
        QVERIFY(ctx.solutions().size() > 10);
        QCOMPARE(ctx.solutions()[0].split, -1);
        int cands = 0;
        for (const auto& r : ctx.splitRecords()) {
            cands += r.candidate;
            if (r.candidate) QVERIFY(r.minTransmitBits < ctx.rawInputBits());
        }
        QVERIFY(cands > 0);
        int float16Plans = 0;
        for (const auto& s : ctx.solutions()) {
            if (s.split < 0) continue;
            // The grid only covers candidate splits; the baselines' plans cover every position.
            if (!s.forBaseline) QVERIFY(ctx.splitRecords()[size_t(s.split + 1)].candidate);
            QCOMPARE(int(s.weightBits.size()), s.split + 1);
            float16Plans += s.forBaseline && s.weightBits.front() == 16;
        }
        // eyeriss runs float16: one float16 plan per position (Neurosurgeon / QDMP prefixes).
        for (int p = 0; p < ctx.nodeCount(); ++p)
            QVERIFY(ctx.findSolution(p, std::vector<int>(size_t(p) + 1, 16), std::vector<int>(size_t(p) + 1, 16)) > 0);
        QCOMPARE(float16Plans, ctx.nodeCount());
        // The exact allocator is never beaten by the Lagrangian (on instances where the exact
        // activation DP stayed within its state limit, i.e. all of them on the example).
        QVERIFY(ctx.lagrangian().instances > 0);
        QCOMPARE(ctx.lagrangian().inexactActivation, 0);
        QCOMPARE(ctx.lagrangian().exactWorse, 0);
    }

    void paretoFrontIsCorrect() {
        const auto ps = replan(*fixture().ctx, Constraints{});
        const auto& c = ps->candidates;
        std::vector<bool> front(c.size(), false);
        for (size_t k = 0; k < ps->pareto.size(); ++k) {
            front[size_t(ps->pareto[k])] = true;
            if (k) {
                const auto& a = c[size_t(ps->pareto[k - 1])];
                const auto& b = c[size_t(ps->pareto[k])];
                QVERIFY(a.totalMs <= b.totalMs);
                QVERIFY(a.mse > b.mse);
            }
        }
        for (size_t i = 0; i < c.size(); ++i) {
            bool dominated = false;
            for (size_t j = 0; j < c.size() && !dominated; ++j)
                dominated = j != i && c[j].totalMs <= c[i].totalMs && c[j].mse <= c[i].mse &&
                            (c[j].totalMs < c[i].totalMs || c[j].mse < c[i].mse);
            if (front[i]) QVERIFY2(!dominated, "a front member is dominated");
            else {
                // Off the front: dominated, or tied with a front member.
                bool tied = false;
                for (int f : ps->pareto) tied |= c[size_t(f)].totalMs == c[i].totalMs && c[size_t(f)].mse == c[i].mse;
                QVERIFY2(dominated || tied, "a non-dominated solution is missing from the front");
            }
        }
    }

    void moreBandwidthNeverSlower() {
        auto ctx = freshContext();
        double prev = 1e300;
        for (double mbps : {0.1, 0.3, 1.0, 3.0, 10.0, 30.0, 100.0}) {
            Constraints c;
            c.uplinkBps = mbps * 1e6;
            const auto ps = planWithMeasurement(*ctx, c, fakeMeasure(*ctx, 50));
            QVERIFY(ps->final());
            QVERIFY2(ps->selected.latency.totalMs <= prev + 1e-9, qPrintable(QString("at %1 Mbps").arg(mbps)));
            prev = ps->selected.latency.totalMs;
        }
    }

    void looserThresholdNeverSlower() {
        auto ctx = freshContext();
        double prev = 1e300;
        for (double t : {0.0, 0.5, 1.0, 2.0, 5.0, 10.0, 50.0, 100.0}) {
            Constraints c;
            c.maxDropPercent = t;
            const auto ps = planWithMeasurement(*ctx, c, fakeMeasure(*ctx, 50));
            QVERIFY(ps->selected.latency.totalMs <= prev + 1e-9);
            if (ps->selected.accuracy) QVERIFY(ps->selected.accuracy->drop <= t);
            prev = ps->selected.latency.totalMs;
        }
    }

    void zeroThresholdIsCloudOnlyUnlessLossless() {
        auto ctx = freshContext();
        Constraints c;
        c.maxDropPercent = 0;
        // Every edge plan loses something: Cloud-Only.
        auto lossy = [](const PlanBits&, const CancelToken&, double) { return AccuracyMeasurement{0.01, "fake", 1, ""}; };
        auto ps = planWithMeasurement(*ctx, c, lossy);
        QCOMPARE(ps->selected.kind, PlanKind::CloudOnly);
        QVERIFY(ps->final());
        QVERIFY(ps->reason().find("threshold") != std::string::npos);
        // One lossless plan on the front: it is chosen when it is faster than Cloud-Only.
        auto ctx2 = freshContext();
        const auto pre = replan(*ctx2, c);
        const int target = pre->candidates[size_t(pre->pareto[pre->pareto.size() > 2 ? 1 : 0])].solution;
        auto one = [&](const PlanBits& b, const CancelToken&, double) {
            const int idx = ctx2->findSolution(b.splitPosition, b.weightBits, b.activationBits);
            return AccuracyMeasurement{idx == target ? 0.0 : 3.0, "fake", 1, ""};
        };
        QVERIFY2(target != 0, "the front's lossless pick is Cloud-Only itself: the check proves nothing");
        ps = planWithMeasurement(*ctx2, c, one);
        QCOMPARE(ps->selected.solution, target);
    }

    void earlyStopsDecideOnlyBelowTheirBound() {
        auto ctx = freshContext();
        std::atomic<int> calls{0}, full{0};
        // Every plan drops 30 % over its whole set; told to reject above a threshold under 20,
        // it stops after 2 of 16 samples with "at least 20".
        auto measure = [&](const PlanBits&, const CancelToken&, double rejectAbove) {
            ++calls;
            AccuracyMeasurement a{30.0, "fake", 16, ""};
            a.setSamples = 16;
            if (rejectAbove < 20) {
                a.samples = 2;
                a.dropAtLeast = 20.0;
            } else {
                ++full;
            }
            return a;
        };
        Constraints c;
        c.maxDropPercent = 5;
        auto ps = planWithMeasurement(*ctx, c, measure);
        QVERIFY(ps->final());
        QCOMPARE(ps->selected.kind, PlanKind::CloudOnly);
        QVERIFY(ps->why.rejected > 0);
        QVERIFY2(ps->reason().find("stopped early") != std::string::npos, ps->reason().c_str());
        QCOMPARE(full.load(), 1);  // Cloud-Only alone, measured in full so that its drop is stated
        const int first = calls.load();
        // At 25 % the early stops decide nothing: those plans are pending, then measured again.
        c.maxDropPercent = 25;
        QVERIFY(!replan(*ctx, c)->final());
        ps = planWithMeasurement(*ctx, c, measure);
        QVERIFY(ps->final());
        QVERIFY(calls.load() > first);
        QVERIFY(full.load() > 1);
        QCOMPARE(ps->selected.kind, PlanKind::CloudOnly);  // 30 > 25 in full too
        // Back at 5 %, the cache decides without another run.
        const int second = calls.load();
        c.maxDropPercent = 5;
        QVERIFY(planWithMeasurement(*ctx, c, measure)->final());
        QCOMPARE(calls.load(), second);
    }

    // onMeasured hears the selection before every measurement after the first, with the count so
    // far, and each interim selection is what replan says at that point.
    void interimSelectionsArriveAsMeasured() {
        auto ctx = freshContext();
        std::atomic<int> calls{0};
        auto measure = [&](const PlanBits&, const CancelToken&, double) {
            ++calls;
            AccuracyMeasurement a{30.0, "fake", 16, ""};
            a.setSamples = 16;
            return a;
        };
        Constraints c;
        c.maxDropPercent = 5;
        std::vector<std::shared_ptr<const PlanSet>> heard;
        auto ps = planWithMeasurement(*ctx, c, measure, {}, 64, [&](std::shared_ptr<const PlanSet> p) {
            QCOMPARE(p->measured, calls.load());  // before the next measurement
            QCOMPARE(p->selected.solution, replan(*ctx, c)->selected.solution);
            heard.push_back(std::move(p));
        });
        QVERIFY(ps->final());
        QVERIFY2(ps->measured >= 3, "the fixture should need several measurements");
        QCOMPARE(int(heard.size()), ps->measured - 1);
        for (size_t i = 0; i < heard.size(); ++i) QCOMPARE(heard[i]->measured, int(i) + 1);
    }

    void measurementCacheAcrossSessions() {
        QTemporaryDir dir;
        const std::string folder = dir.path().toStdString();
        const Graph& g = fixture().graph;
        EvalData data;
        data.inputs = syntheticDataset(g, 4, 11);
        data.calibration = syntheticDataset(g, 4, 12);
        EvalOptions o;
        const std::string id = measurementIdentity(fixture().table, data, o);
        // What a measurement depends on is in the identity, threads are not.
        EvalOptions threads = o;
        threads.threads = 7;
        QCOMPARE(measurementIdentity(fixture().table, data, threads), id);
        EvalOptions rounding = o;
        rounding.weightRounding = EvalOptions::WeightRounding::Nearest;
        QVERIFY(measurementIdentity(fixture().table, data, rounding) != id);
        EvalData labelled = data;
        labelled.labels = {1, 2, 3, 4};
        QVERIFY(measurementIdentity(fixture().table, labelled, o) != id);
        EvalData other = data;
        other.inputs = syntheticDataset(g, 4, 13);
        QVERIFY(measurementIdentity(fixture().table, other, o) != id);
        // The same table names with other fitted activation parameters (a changed calibration).
        ErrorTable refit = fixture().table;
        for (auto& r : refit.rows)
            if (!r.activationParams.empty()) {
                r.activationParams.front().scale *= 1.5f;
                break;
            }
        QVERIFY(measurementIdentity(refit, data, o) != id);

        std::atomic<int> calls{0};
        auto inner = [&](const PlanBits& b, const CancelToken&, double rejectAbove) {
            ++calls;
            AccuracyMeasurement a{b.splitPosition * 1.0, "fake", 4, "set"};
            a.setSamples = 4;
            a.low = 0.5, a.high = 2.5, a.intervalMethod = "bootstrap";
            if (rejectAbove < 1) a.samples = 2, a.dropAtLeast = 1.0;
            return a;
        };
        const PlanBits p3 = PlanBits::uniform(g, 3, 4, 6);
        {
            auto cache = std::make_shared<MeasurementCache>(folder, id);
            QCOMPARE(cache->size(), size_t(0));
            const AccuracyMeasure m = cachedMeasure(inner, cache);
            QCOMPARE(m(p3, {}, 100).drop, 3.0);
            QCOMPARE(m(p3, {}, 100).drop, 3.0);
            QCOMPARE(calls.load(), 1);
            QCOMPARE(m(PlanBits::uniform(g, 3, 4, 4), {}, 100).drop, 3.0);  // other bits: measured
            QCOMPARE(calls.load(), 2);
            // An early stop answers thresholds below its bound only.
            const PlanBits p5 = PlanBits::uniform(g, 5, 2, 2);
            QVERIFY(m(p5, {}, 0.5).stoppedEarly());
            QVERIFY(m(p5, {}, 0.5).stoppedEarly());
            QCOMPARE(calls.load(), 3);
            QVERIFY(!m(p5, {}, 50).stoppedEarly());
            QCOMPARE(calls.load(), 4);
        }
        // A new session with the same identity reads the file; every field survives.
        auto reopened = std::make_shared<MeasurementCache>(folder, id);
        QCOMPARE(reopened->size(), size_t(3));
        const auto back = reopened->find(p3);
        QVERIFY(back);
        QCOMPARE(back->drop, 3.0);
        QCOMPARE(back->data, std::string("set"));
        QCOMPARE(back->high, 2.5);
        QCOMPARE(back->intervalMethod, std::string("bootstrap"));
        QCOMPARE(back->setSamples, 4);
        QVERIFY(!back->stoppedEarly());
        cachedMeasure(inner, reopened)(p3, {}, 100);
        QCOMPARE(calls.load(), 4);
        // Another identity does not see it; a damaged file is ignored and replaced.
        QCOMPARE(MeasurementCache(folder, measurementIdentity(fixture().table, other, o)).size(), size_t(0));
        {
            std::ofstream f(reopened->path(), std::ios::trunc);
            f << "{ not json";
        }
        auto damaged = std::make_shared<MeasurementCache>(folder, id);
        QCOMPARE(damaged->size(), size_t(0));
        cachedMeasure(inner, damaged)(p3, {}, 100);
        QCOMPARE(MeasurementCache(folder, id).size(), size_t(1));
        // Without a folder it keeps measurements in memory only.
        MeasurementCache none("", id);
        none.store(p3, *back);
        QVERIFY(none.find(p3));
        QVERIFY(none.path().empty());
    }

    void measuresFastestFirstAndCaches() {
        auto ctx = freshContext();
        std::atomic<int> calls{0};
        Constraints c;
        c.maxDropPercent = 100;  // everything passes: only the fastest needs a measurement
        auto ps = planWithMeasurement(*ctx, c, fakeMeasure(*ctx, 1, &calls));
        QCOMPARE(calls.load(), 1);  // the fastest plan (Cloud-Only included: it is measured too)
        QCOMPARE(ps->selected.solution, ps->candidates[size_t(ps->pareto.front())].solution);
        QVERIFY(ps->selected.accuracy);
        // Re-planning reuses the cache.
        ps = planWithMeasurement(*ctx, c, fakeMeasure(*ctx, 1, &calls));
        QCOMPARE(calls.load(), 1);
        // Without a measure, replan reports what is still pending instead of guessing.
        auto ctx2 = freshContext();
        const auto provisional = replan(*ctx2, c);
        QVERIFY(provisional->pareto.size() > 1);  // unmeasured plans faster than Cloud-Only exist
        QVERIFY(!provisional->final());
        QCOMPARE(provisional->selected.kind, PlanKind::CloudOnly);
        QVERIFY(provisional->reason().find("provisional") != std::string::npos);
    }

    void acceptanceByUpperBoundAndStraddling() {
        // Every plan measures 1 % with the interval [0.2, 3]: within a 2 % threshold by the point
        // estimate (straddling it), rejected by the interval's upper end.
        auto interval = [](const PlanBits&, const CancelToken&, double) {
            AccuracyMeasurement m{1.0, "fake", 20, "held-out"};
            m.low = 0.2, m.high = 3.0, m.intervalMethod = "bootstrap", m.heldOut = true;
            return m;
        };
        Constraints c;
        c.maxDropPercent = 2;
        auto ctx = freshContext();
        auto ps = planWithMeasurement(*ctx, c, interval);
        QVERIFY(ps->selected.kind != PlanKind::CloudOnly);
        QCOMPARE(ps->why.kind, SelectionReason::Kind::WithinThreshold);
        QVERIFY(ps->why.straddlesThreshold);
        QVERIFY2(ps->reason().find("straddles") != std::string::npos, ps->reason().c_str());
        QVERIFY2(ps->reason().find("[0.2, 3]") != std::string::npos, ps->reason().c_str());
        c.acceptance = Constraints::Acceptance::UpperBound;
        ps = planWithMeasurement(*ctx, c, interval);
        QCOMPARE(ps->selected.kind, PlanKind::CloudOnly);  // every plan's upper end is above 2 %
        QVERIFY(ps->selected.accuracy);                     // Cloud-Only measured, not assumed
        c.maxDropPercent = 3;
        ps = planWithMeasurement(*ctx, c, interval);
        QVERIFY(ps->selected.kind != PlanKind::CloudOnly);
        QVERIFY(!ps->why.straddlesThreshold);  // 3 is the upper end: not strictly inside
        // plan.json records the rule and the interval.
        const std::string text = planToJson(*ctx, *ps);
        QVERIFY(text.find("\"accept_by\": \"upper-bound\"") != std::string::npos);
        QVERIFY(text.find("\"interval_95\"") != std::string::npos);
        QVERIFY(text.find("\"held_out\": true") != std::string::npos);
        QCOMPARE(parsePlan(text, "plan.json").constraints.acceptance, Constraints::Acceptance::UpperBound);
    }

    void resultsTravelAsTheirConsumerNeedsThem() {
        // The example classifier's output 0 is [1, C]: sent back as a tensor it is C float16
        // values; as its class index ceil(log2 C) bits.
        auto& f = fixture();
        const auto tensor = CostModel::build(f.graph, sim::builtinDevice("eyeriss"), sim::builtinDevice("tpu"));
        const auto indices = tensor->withResults(ResultEncoding::ClassIndices);
        const int out = f.graph.outputs.front();
        const int64_t classes = f.graph.tensors[size_t(out)].shape.back();
        QCOMPARE(tensor->resultBitsOf(out, 16), classes * 16);
        int bits = 1;
        while ((int64_t(1) << bits) < classes) ++bits;
        QCOMPARE(indices->resultBitsOf(out, 16), int64_t(bits));
        QCOMPARE(indices->resultEncoding(), ResultEncoding::ClassIndices);
        Constraints c;
        QVERIFY(indices->uniformCost(-1, 8, c).latency.resultsMs < tensor->uniformCost(-1, 8, c).latency.resultsMs);
        QCOMPARE(tensor->withResults(ResultEncoding::BinaryMap)->resultBitsOf(out, 16), classes);
        // The same latency tables: only the results term differs.
        QCOMPARE(indices->uniformCost(3, 8, c).latency.edgeMs, tensor->uniformCost(3, 8, c).latency.edgeMs);
    }

    void transmittedIsTheSplitsCrossingSet() {
        auto ctx = freshContext();
        Constraints c;
        const auto ps = planWithMeasurement(*ctx, c, fakeMeasure(*ctx, 10));
        for (int idx : ps->pareto) {
            const Plan p = planFor(*ctx, ps->candidates[size_t(idx)].solution, c, "x");
            const auto& split = ctx->splits()[size_t(p.splitPosition + 1)];
            QCOMPARE(p.transmitted.size(), split.transmitted.size());
            for (size_t k = 0; k < p.transmitted.size(); ++k) {
                QCOMPARE(p.transmitted[k].tensor, split.transmitted[k]);
                const Tensor& t = ctx->graph().tensors[size_t(p.transmitted[k].tensor)];
                QCOMPARE(p.transmitted[k].bits, t.producer < 0 ? ctx->inputBits() : p.activationBits[size_t(t.producer)]);
            }
        }
    }

    void memoryFiltersAndInfeasibleIsCloudOnly() {
        auto ctx = freshContext();
        Constraints c;
        c.edgeMemoryBytes = 40 * 1024;
        const auto ps = planWithMeasurement(*ctx, c, fakeMeasure(*ctx, 1));
        for (const auto& s : ps->candidates)
            if (s.solution) QVERIFY(ctx->solutions()[size_t(s.solution)].edgeBytes() <= c.edgeMemoryBytes);
        QVERIFY(ps->selected.edgeWeightBytes + ps->selected.edgeActivationBytes <= c.edgeMemoryBytes);
        c.edgeMemoryBytes = 16;
        const auto none = replan(*ctx, c);
        QCOMPARE(none->candidates.size(), size_t(1));
        QCOMPARE(none->selected.kind, PlanKind::CloudOnly);
        QVERIFY2(none->reason().find("infeasible") != std::string::npos, none->reason().c_str());
    }

    void autoSplitNeverSlowerThanFeasibleBaselines() {
        auto ctx = freshContext();
        for (double mbps : {0.3, 3.0, 30.0}) {
            Constraints c;
            c.uplinkBps = mbps * 1e6;
            c.maxDropPercent = 100;
            const auto ps = planWithMeasurement(*ctx, c, fakeMeasure(*ctx, 1));
            int compared = 0;
            for (const auto& b : ps->baselines) {
                if (!b.available || !b.fitsMemory) continue;
                ++compared;
                QVERIFY2(ps->selected.latency.totalMs <= b.latency.totalMs + 1e-9,
                         qPrintable(QString("%1 Mbps: auto-split %2 ms > %3 %4 ms")
                                        .arg(mbps).arg(ps->selected.latency.totalMs).arg(b.name.c_str()).arg(b.latency.totalMs)));
            }
            QVERIFY(compared > 1);  // more than Cloud-Only
            const Plan* co = ps->baseline("cloud-only");
            QVERIFY(co);
            QCOMPARE(co->kind, PlanKind::CloudOnly);
            QCOMPARE(co->transmitted.size(), ctx->splits()[0].transmitted.size());
        }
    }

    // Every bit allocation of the grid fails the threshold, float16 edge plans are lossless: the
    // selection must still pick the fastest feasible baseline's plan (never Cloud-Only when a
    // feasible baseline beats it), and never be slower than any baseline within the threshold.
    void selectionConsidersBaselinePlans() {
        auto ctx = freshContext();
        auto floatOnly = [&ctx](const PlanBits& b, const CancelToken&, double) {
            bool all16 = true;
            for (int i = 0; i <= b.splitPosition; ++i) all16 &= b.weightBits[size_t(i)] == 16 && b.activationBits[size_t(i)] == 16;
            return AccuracyMeasurement{all16 ? 0.0 : 40.0, "fake", 1, ""};
        };
        int beatCloudOnly = 0;
        for (double mbps : {0.1, 0.3, 1.0, 3.0, 30.0, 300.0}) {
            Constraints c;
            c.uplinkBps = mbps * 1e6;
            const auto ps = planWithMeasurement(*ctx, c, floatOnly);
            QVERIFY(ps->final());
            const Plan& s = ps->selected;
            double fastestFeasible = ps->baseline("cloud-only")->latency.totalMs;
            for (const auto& b : ps->baselines) {
                if (!b.available || !b.fitsMemory || b.solution < 0) continue;
                const double drop = ctx->measure(b.solution, floatOnly).drop;
                if (drop > c.maxDropPercent) continue;
                QVERIFY2(s.latency.totalMs <= b.latency.totalMs + 1e-9,
                         qPrintable(QString("%1 Mbps: auto-split %2 ms > %3 %4 ms")
                                        .arg(mbps).arg(s.latency.totalMs).arg(b.name.c_str()).arg(b.latency.totalMs)));
                fastestFeasible = std::min(fastestFeasible, b.latency.totalMs);
            }
            // Only float16 plans pass, and every float16 prefix is stored: the selection is the
            // fastest of them (or Cloud-Only), which no baseline can beat.
            QVERIFY(std::abs(s.latency.totalMs - fastestFeasible) < 1e-6 || s.latency.totalMs < fastestFeasible);
            if (s.kind != PlanKind::CloudOnly) {
                ++beatCloudOnly;
                QVERIFY(s.accuracy && s.accuracy->drop == 0.0);
                QCOMPARE(s.weightBits.front(), 16);
            }
        }
        QVERIFY2(beatCloudOnly > 0, "no uplink where a float16 edge plan beats Cloud-Only: the test proves nothing");
        // The old rule (Pareto front of the grid only) would have returned Cloud-Only here.
    }

    // When every faster plan fails and Cloud-Only measured on the same inputs fails too (random
    // inputs, a coarse metric), the fallback says so; a lossless Cloud-Only gives no warning.
    void cloudOnlyFallbackWarnsWhenTheMetricCannotTell() {
        auto ctx = freshContext();
        std::atomic<int> coCalls{0};
        auto allBad = [&coCalls](const PlanBits& b, const CancelToken&, double) {
            if (b.splitPosition < 0) ++coCalls;
            return AccuracyMeasurement{40.0, "fake", 2, "random"};
        };
        auto ps = planWithMeasurement(*ctx, Constraints{}, allBad);
        QCOMPARE(ps->selected.kind, PlanKind::CloudOnly);
        QCOMPARE(coCalls.load(), 1);
        QVERIFY2(ps->reason().find("warning: Cloud-Only itself") != std::string::npos, ps->reason().c_str());
        QVERIFY(ps->selected.accuracy && ps->selected.accuracy->drop == 40.0);
        auto ctx2 = freshContext();
        auto edgeBad = [](const PlanBits& b, const CancelToken&, double) {
            return AccuracyMeasurement{b.splitPosition < 0 ? 0.0 : 40.0, "fake", 2, "real"};
        };
        ps = planWithMeasurement(*ctx2, Constraints{}, edgeBad);
        QCOMPARE(ps->selected.kind, PlanKind::CloudOnly);
        QVERIFY2(ps->reason().find("warning") == std::string::npos, ps->reason().c_str());
        QVERIFY(ps->reason().find("measured above") != std::string::npos);
    }

    void invalidConstraintsAreErrors_data() {
        QTest::addColumn<double>("uplink");
        QTest::addColumn<qint64>("memory");
        QTest::addColumn<double>("drop");
        QTest::addColumn<QString>("message");
        QTest::addRow("negative uplink") << -3e6 << qint64(1) << 5.0 << "uplink bandwidth must be a positive";
        QTest::addRow("zero uplink") << 0.0 << qint64(1) << 5.0 << "uplink bandwidth must be a positive";
        QTest::addRow("negative memory") << 3e6 << qint64(-1) << 5.0 << "edge memory must not be negative";
        QTest::addRow("threshold > 100") << 3e6 << qint64(1) << 150.0 << "within 0..100%";
        QTest::addRow("negative threshold") << 3e6 << qint64(1) << -1.0 << "within 0..100%";
    }
    void invalidConstraintsAreErrors() {
        QFETCH(double, uplink);
        QFETCH(qint64, memory);
        QFETCH(double, drop);
        QFETCH(QString, message);
        Constraints c;
        c.uplinkBps = uplink;
        c.edgeMemoryBytes = memory;
        c.maxDropPercent = drop;
        try {
            replan(*fixture().ctx, c);
            QFAIL("no error");
        } catch (const PlannerError& e) {
            QVERIFY2(QString(e.what()).contains(message), e.what());
        }
    }

    void unusableContextInputsAreErrors() {
        auto& f = fixture();
        ModelSource src{kExample, "x", {}};
        ContextOptions o;
        o.bits = {2, 8};
        try {
            PlanningContext::build(f.graph, sim::builtinDevice("tpu"), sim::builtinDevice("tpu"), f.table, src, o);
            QFAIL("no error");
        } catch (const PlannerError& e) {
            QVERIFY2(QString(e.what()).contains("edge device 'tpu' does not run 2-bit layers"), e.what());
        }
        ErrorTable wrong = f.table;
        wrong.rows.pop_back();
        QVERIFY_THROWS_EXCEPTION(PlannerError, PlanningContext::build(f.graph, sim::builtinDevice("eyeriss"),
                                                                       sim::builtinDevice("tpu"), wrong, src));
        ContextOptions cancelled;
        cancelled.cancel.cancel();
        QVERIFY_THROWS_EXCEPTION(Cancelled, PlanningContext::build(f.graph, sim::builtinDevice("eyeriss"),
                                                                    sim::builtinDevice("tpu"), f.table, src, cancelled));
    }

    void sha256OfKnownStrings() {
        QCOMPARE(sha256("abc"), std::string("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"));
        QCOMPARE(sha256(""), std::string("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"));
    }

    void planJsonRoundTripAndHashCheck() {
        auto ctx = freshContext();
        Constraints c;
        const auto ps = planWithMeasurement(*ctx, c, fakeMeasure(*ctx, 10));
        const std::string text = planToJson(*ctx, *ps);
        const PlanDocument d = parsePlan(text, "plan.json");
        QCOMPARE(d.schemaVersion, kPlanSchemaVersion);
        QCOMPARE(d.modelSha256, ctx->model().sha256);
        QCOMPARE(d.edgeDevice, std::string("eyeriss"));
        QCOMPARE(d.uplinkBps, c.uplinkBps);
        QCOMPARE(d.constraints.edgeMemoryBytes, c.edgeMemoryBytes);
        QCOMPARE(d.selected.kind, ps->selected.kind);
        QCOMPARE(d.selected.splitPosition, ps->selected.splitPosition);
        QCOMPARE(d.selected.transmitted.size(), ps->selected.transmitted.size());
        for (size_t k = 0; k < d.selected.transmitted.size(); ++k)
            QCOMPARE(d.selected.transmitted[k].tensor, ctx->graph().tensors[size_t(ps->selected.transmitted[k].tensor)].name);
        QCOMPARE(d.selected.weightBits.size(), ps->selected.weightBits.size());
        QVERIFY(std::abs(d.selected.latency.totalMs - ps->selected.latency.totalMs) < 1e-9);
        QCOMPARE(d.baselines.size(), ps->baselines.size());
        QCOMPARE(d.candidates, int(ps->candidates.size()));

        QTemporaryDir dir;
        const std::string other = dir.filePath("other.onnx").toStdString();
        {
            std::ifstream in(kExample, std::ios::binary);
            std::ofstream out(other, std::ios::binary);
            out << in.rdbuf() << "x";  // one byte more: another file
        }
        verifyPlanModel(d, kExample);
        try {
            verifyPlanModel(d, other);
            QFAIL("no error");
        } catch (const PlannerError& e) {
            QVERIFY2(QString(e.what()).contains("model hash mismatch"), e.what());
        }
        QVERIFY_THROWS_EXCEPTION(PlannerError, parsePlan("{\"schema\":\"autosplit-plan\",\"schema_version\":99}", "p.json"));
        QVERIFY_THROWS_EXCEPTION(PlannerError, parsePlan("{\"schema\":\"autosplit-plan\",\"schema_version\":1}", "p.json"));
    }

    void replanIsThreadSafeAndPure() {
        const auto& ctx = *fixture().ctx;
        Constraints c;
        const auto ref = replan(ctx, c);
        std::atomic<int> mismatches{0};
        std::vector<std::thread> ts;
        for (int t = 0; t < 4; ++t)
            ts.emplace_back([&] {
                for (int i = 0; i < 20; ++i) {
                    const auto ps = replan(ctx, c);
                    if (ps->selected.latency.totalMs != ref->selected.latency.totalMs || ps->pareto != ref->pareto) ++mismatches;
                }
            });
        for (auto& t : ts) t.join();
        QCOMPARE(mismatches.load(), 0);
    }

    void lagrangianAllocatorIsNeverBetter() {
        ContextOptions o;
        o.allocator = Allocator::Lagrangian;
        auto lag = freshContext(o);
        auto ex = freshContext();
        // For every split and budget label both produced, the exact MSE is <= the Lagrangian's.
        std::map<std::pair<int, std::string>, double> exact;
        for (const auto& s : ex->solutions()) exact[{s.split, s.budget}] = s.mse();
        int compared = 0;
        for (const auto& s : lag->solutions()) {
            if (s.budget.rfind("uniform", 0) == 0 || s.split < 0) continue;
            const auto it = exact.find({s.split, s.budget});
            if (it == exact.end()) continue;
            ++compared;
            QVERIFY2(it->second <= s.mse() * (1 + 1e-9) + 1e-15, qPrintable(QString::fromStdString(s.budget)));
        }
        QVERIFY(compared > 0);
    }
};

QTEST_APPLESS_MAIN(TestPlannerReplan)
#include "tst_planner_replan.moc"
