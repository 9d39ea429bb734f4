// Scoring and selection: planFor (a stored solution under constraints), replan (fast, pure:
// re-score, Pareto front, baselines, select) and planWithMeasurement (measure pending plans
// fastest first until the selection is final).
#include "autosplit/planner/planner.h"

#include "plan_parts.h"

#include <algorithm>
#include <chrono>
#include <limits>
#include <map>
#include <set>
#include <sstream>

namespace autosplit::planner {

namespace {

using Clock = std::chrono::steady_clock;
double msSince(Clock::time_point t0) { return std::chrono::duration<double, std::milli>(Clock::now() - t0).count(); }

}  // namespace

double acceptedDrop(const AccuracyMeasurement& m, Constraints::Acceptance rule) {
    return rule == Constraints::Acceptance::UpperBound && !m.intervalMethod.empty() ? std::max(m.drop, m.high) : m.drop;
}

const char* acceptanceName(Constraints::Acceptance rule) {
    return rule == Constraints::Acceptance::UpperBound ? "upper-bound" : "estimate";
}

namespace {

// "0.52% char-accuracy-drop [0.10, 1.03] on 50 held-out inputs"
std::string measured(const AccuracyMeasurement& m) {
    std::ostringstream o;
    o << m.drop << "% " << m.metric;
    if (!m.intervalMethod.empty() && m.intervalMethod != "none") o << " [" << m.low << ", " << m.high << "]";
    o << " on " << m.samples << (m.heldOut ? " held-out" : "") << (m.synthetic ? " synthetic" : "") << " inputs";
    if (m.stoppedEarly()) o << " (stopped early: at least " << *m.dropAtLeast << "% on all " << m.setSamples << ")";
    return o.str();
}

}  // namespace

std::string describe(const SelectionReason& r) {
    std::ostringstream why;
    switch (r.kind) {
    case SelectionReason::Kind::NothingSmallerThanInput: why << "no split sends less than the raw input; Cloud-Only"; break;
    case SelectionReason::Kind::EdgeMemoryTooSmall:
        why << "infeasible: the edge memory (" << r.edgeMemoryBytes << " B) is below every split's need at " << r.lowestBits
            << " bits (smallest " << r.smallestNeedBytes << " B); Cloud-Only";
        break;
    case SelectionReason::Kind::FasterPlansRejected:
        why << r.rejected << " faster plan(s) measured above the " << r.threshold << "% threshold (best "
            << measured(*r.bestRejected) << "); Cloud-Only";
        if (const auto& co = r.cloudOnlyAboveThreshold)
            why << "; warning: Cloud-Only itself (float16 cloud, " << r.inputBits << "-bit input) measures " << co->drop << "% "
                << co->metric << " on " << co->data
                << ", above the threshold: the inputs or the metric cannot tell plans apart (use real inputs, --data DIR)";
        break;
    case SelectionReason::Kind::AwaitingMeasurements: why << "Cloud-Only until the faster plans are measured"; break;
    case SelectionReason::Kind::CloudOnlyFastest: why << "Cloud-Only is the fastest plan"; break;
    case SelectionReason::Kind::WithinThreshold: {
        why << "fastest plan within the " << r.threshold << "% threshold"
            << (r.acceptance == Constraints::Acceptance::UpperBound ? " (by the upper end of its 95% interval)" : "")
            << " (measured " << measured(*r.selected) << ")";
        std::string sameAs;
        for (const auto& b : r.sameAsBaselines) sameAs += (sameAs.empty() ? "" : ", ") + b;
        if (!sameAs.empty()) why << "; the same plan as baseline " << sameAs;
        if (r.rejected) why << "; " << r.rejected << " faster plan(s) measured above it";
        break;
    }
    }
    if (r.straddlesThreshold) why << "; its 95% interval straddles the threshold";
    if (r.pending) why << "; provisional: " << r.pending << " faster plan(s) not measured yet";
    if (r.stoppedAfter) why << "; stopped after " << *r.stoppedAfter << " measurements";
    return why.str();
}

const Plan* PlanSet::baseline(const std::string& name) const {
    for (const auto& b : baselines)
        if (b.name == name) return &b;
    return nullptr;
}

Plan planFor(const PlanningContext& ctx, int solution, const Constraints& c, const std::string& name) {
    const Solution& s = ctx.solutions()[size_t(solution)];
    const int N = ctx.nodeCount();
    Plan p;
    p.name = name;
    p.solution = solution;
    p.splitPosition = s.split;
    p.kind = planKindOf(s.split, N);
    p.splitAfter = s.split >= 0 ? ctx.graph().nodes[size_t(s.split)].name : std::string();
    p.weightBits.assign(s.weightBits.begin(), s.weightBits.end());
    p.activationBits.assign(s.activationBits.begin(), s.activationBits.end());
    p.transmitted = sentTensors(ctx.cost(), ctx.splits()[size_t(s.split + 1)].transmitted, p.activationBits, 0);
    p.latency.edgeMs = s.edgeUs / 1e3;
    p.latency.cloudMs = s.cloudUs / 1e3;
    p.latency.transmitMs = CostModel::transmitMs(s.transmitBits, s.messages, c);
    p.latency.resultsMs = CostModel::resultsMs(s.results(c.resultsAt), c);
    p.latency.totalMs = p.latency.edgeMs + p.latency.transmitMs + p.latency.cloudMs + p.latency.resultsMs;
    p.latency.edgeOrigin = s.edgeMeasured == 0 ? "simulated" : (s.edgeMeasured == 2 ? "measured" : "mixed");
    p.latency.cloudOrigin = ctx.cost().cloudOrigin(s.split);
    p.edgeWeightBytes = bytesFromBits(s.edgeWeightBits);
    p.edgeActivationBytes = bytesFromBits(s.edgeActivationBits);
    p.fitsMemory = p.edgeWeightBytes + p.edgeActivationBytes <= c.edgeMemoryBytes;
    p.mseProxy = s.mse();
    p.accuracy = ctx.accuracy(solution);
    return p;
}

std::shared_ptr<const PlanSet> replan(const PlanningContext& ctx, const Constraints& c) {
    c.validate();
    const auto t0 = Clock::now();
    auto ps = std::make_shared<PlanSet>();
    ps->constraints = c;
    const auto& sols = ctx.solutions();
    // The built solutions that fit, then the optimal allocation of every split at this very
    // budget (the grid's levels rarely meet it); solutions added for other budgets are not
    // looked at, so the answer depends on the constraints alone.
    std::vector<int> pool;
    pool.reserve(sols.built() + 64);
    for (size_t i = 0; i < sols.built(); ++i) {
        const Solution& s = sols[i];
        if (s.split < 0 || s.edgeBytes() <= c.edgeMemoryBytes) pool.push_back(int(i));
    }
    for (int i : ctx.budgetSolutions(c.edgeMemoryBytes))
        if (size_t(i) >= sols.built()) pool.push_back(i);  // a built one that fits is in already
    ps->candidates.reserve(pool.size());
    for (int i : pool) {
        const Solution& s = sols[size_t(i)];
        ScoredSolution x;
        x.solution = int(i);
        x.edgeMs = s.edgeUs / 1e3;
        x.cloudMs = s.cloudUs / 1e3;
        x.transmitMs = CostModel::transmitMs(s.transmitBits, s.messages, c);
        x.resultsMs = CostModel::resultsMs(s.results(c.resultsAt), c);
        x.totalMs = x.edgeMs + x.transmitMs + x.cloudMs + x.resultsMs;
        x.mse = s.mse();
        ps->candidates.push_back(x);
    }
    std::vector<int> order(ps->candidates.size());
    for (size_t i = 0; i < order.size(); ++i) order[i] = int(i);
    std::sort(order.begin(), order.end(), [&](int a, int b) {
        const auto& x = ps->candidates[size_t(a)];
        const auto& y = ps->candidates[size_t(b)];
        if (x.totalMs != y.totalMs) return x.totalMs < y.totalMs;
        if (x.mse != y.mse) return x.mse < y.mse;
        return x.solution < y.solution;
    });
    double bestMse = std::numeric_limits<double>::infinity();
    for (int i : order)
        if (ps->candidates[size_t(i)].mse < bestMse) {
            bestMse = ps->candidates[size_t(i)].mse;
            ps->pareto.push_back(i);
        }

    // Selection: walk the Pareto front together with the baselines' plans (every executable plan
    // the planner knows: a baseline picks one stored solution, see baselineSolutions), fastest
    // first; the first plan measured within the threshold wins; unmeasured faster plans are
    // pending. So the selected plan is never slower than a baseline whose measured drop is within
    // the threshold.
    ps->baselines = baselines(ctx, c);
    std::vector<int> walk = ps->pareto;
    {
        std::map<int, int> candidateOf;  // solution -> index into candidates
        for (size_t i = 0; i < ps->candidates.size(); ++i) candidateOf[ps->candidates[i].solution] = int(i);
        std::set<int> onWalk(walk.begin(), walk.end());
        for (const auto& b : ps->baselines) {
            if (!b.available || !b.fitsMemory || b.solution < 0) continue;
            const auto it = candidateOf.find(b.solution);
            if (it != candidateOf.end() && onWalk.insert(it->second).second) walk.push_back(it->second);
        }
        std::stable_sort(walk.begin(), walk.end(), [&](int a, int b) {
            const auto& x = ps->candidates[size_t(a)];
            const auto& y = ps->candidates[size_t(b)];
            if (x.totalMs != y.totalMs) return x.totalMs < y.totalMs;
            return x.mse < y.mse;
        });
    }
    int chosen = -1, rejected = 0;
    std::optional<AccuracyMeasurement> rejectedBest;
    for (int i : walk) {
        const int sol = ps->candidates[size_t(i)].solution;
        if (sol == 0) {
            chosen = 0;
            break;
        }
        const auto acc = ctx.accuracy(sol);
        // An early stop decides only the thresholds below its bound; above, it is measured again.
        if (!acc || (acc->stoppedEarly() && !acc->certainlyAbove(c.maxDropPercent))) {
            ps->pending.push_back(sol);
            continue;
        }
        if (!acc->stoppedEarly() && acceptedDrop(*acc, c.acceptance) <= c.maxDropPercent) {
            chosen = sol;
            break;
        }
        ++rejected;
        if (!rejectedBest || acc->drop < rejectedBest->drop) rejectedBest = acc;
    }
    if (chosen < 0) chosen = 0;
    ps->selected = planFor(ctx, chosen, c, "auto-split");
    SelectionReason& why = ps->why;
    why.threshold = c.maxDropPercent;
    why.rejected = rejected;
    why.bestRejected = rejectedBest;
    why.inputBits = ctx.inputBits();
    why.pending = int(ps->pending.size());
    why.acceptance = c.acceptance;
    if (const auto& a = ps->selected.accuracy; a && !a->intervalMethod.empty() && a->intervalMethod != "none")
        why.straddlesThreshold = a->low <= c.maxDropPercent && c.maxDropPercent < a->high;
    const bool anyEdge = ps->candidates.size() > 1;
    if (!anyEdge) {
        int64_t smallest = std::numeric_limits<int64_t>::max();
        for (const auto& r : ctx.splitRecords())
            if (r.candidate) smallest = std::min(smallest, bytesFromBits(r.minEdgeBits));
        if (smallest == std::numeric_limits<int64_t>::max()) {
            why.kind = SelectionReason::Kind::NothingSmallerThanInput;
        } else {
            why.kind = SelectionReason::Kind::EdgeMemoryTooSmall;
            why.edgeMemoryBytes = c.edgeMemoryBytes;
            why.smallestNeedBytes = smallest;
            why.lowestBits = ctx.bits().front();
        }
    } else if (chosen == 0) {
        if (rejected) {
            why.kind = SelectionReason::Kind::FasterPlansRejected;
            // Cloud-Only is accepted without a measurement; when it was measured (see
            // planWithMeasurement) and fails the threshold itself, the metric cannot tell plans
            // apart on these inputs: say so rather than let the fallback look like a verdict.
            if (const auto co = ctx.accuracy(0); co && acceptedDrop(*co, c.acceptance) > c.maxDropPercent)
                why.cloudOnlyAboveThreshold = co;
        } else if (!ps->pending.empty()) {
            why.kind = SelectionReason::Kind::AwaitingMeasurements;
        } else {
            why.kind = SelectionReason::Kind::CloudOnlyFastest;
        }
    } else {
        why.kind = SelectionReason::Kind::WithinThreshold;
        why.selected = ps->selected.accuracy;
        for (const auto& b : ps->baselines)
            if (b.solution == chosen && b.available && b.fitsMemory && b.name != "cloud-only") why.sameAsBaselines.push_back(b.name);
    }
    ps->replanMs = msSince(t0);
    return ps;
}

std::shared_ptr<const PlanSet> planWithMeasurement(const PlanningContext& ctx, const Constraints& c,
                                                   const AccuracyMeasure& measure, const CancelToken& cancel,
                                                   int maxMeasurements,
                                                   const std::function<void(std::shared_ptr<const PlanSet>)>& onMeasured) {
    int taken = 0;
    // The selection so far, before another measurement (none before the first: that is replan's).
    auto tell = [&](const std::shared_ptr<const PlanSet>& ps) {
        if (!onMeasured || taken == 0) return;
        auto interim = std::make_shared<PlanSet>(*ps);
        interim->measured = taken;
        onMeasured(std::move(interim));
    };
    while (true) {
        auto ps = replan(ctx, c);
        // Cloud-Only is a plan like the others (an 8-bit input, a float16 cloud): once it is the
        // final selection it is measured too, so its drop is stated rather than assumed zero (and
        // after rejections the reason can tell a real verdict from inputs on which even
        // Cloud-Only fails).
        if (ps->pending.empty() && measure && ps->selected.solution == 0 && !ctx.accuracy(0)) {
            cancel.throwIfCancelled();
            tell(ps);
            ctx.measure(0, measure, cancel);  // in full: its drop is stated
            ++taken;
            continue;
        }
        if (ps->pending.empty() || !measure || taken >= maxMeasurements) {
            auto out = std::make_shared<PlanSet>(*ps);
            out->measured = taken;
            if (!out->pending.empty() && measure) out->why.stoppedAfter = taken;
            return out;
        }
        cancel.throwIfCancelled();
        tell(ps);
        // Rejections can stop early: the fastest candidates are the lowest widths, most of them
        // far above the threshold after a few samples.
        ctx.measure(ps->pending.front(), measure, cancel, c.maxDropPercent);
        ++taken;
    }
}

}  // namespace autosplit::planner
