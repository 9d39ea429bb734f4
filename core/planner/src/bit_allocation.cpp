#include "autosplit/planner/bit_allocation.h"

#include "autosplit/planner/plan_io.h"
#include "autosplit/util/errors.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <numeric>

namespace autosplit::planner {

namespace {

void checkGroup(const ChoiceGroup& g) {
    if (g.cost.empty() || g.cost.size() != g.distortion.size() || g.cost.size() > 255)
        throw Error("bit allocation: a group needs 1..255 options with one cost and one distortion each");
    for (size_t k = 0; k < g.cost.size(); ++k)
        if (g.cost[k] < 0 || !(g.distortion[k] >= 0))
            throw Error("bit allocation: option costs and distortions must be non-negative");
}

// Indices of the options on the lower convex hull of (cost, distortion), cost ascending, each
// strictly better in distortion than the previous one. The Lagrangian can only land on these.
std::vector<int> lowerHull(const std::vector<int64_t>& cost, const std::vector<double>& dist) {
    std::vector<int> idx(cost.size());
    std::iota(idx.begin(), idx.end(), 0);
    std::sort(idx.begin(), idx.end(), [&](int a, int b) {
        return cost[a] != cost[b] ? cost[a] < cost[b] : dist[a] < dist[b];
    });
    std::vector<int> pareto;
    for (int i : idx)
        if (pareto.empty() || (dist[i] < dist[pareto.back()] && cost[i] > cost[pareto.back()])) pareto.push_back(i);
    std::vector<int> hull;
    for (int i : pareto) {
        while (hull.size() >= 2) {
            const int a = hull[hull.size() - 2], b = hull.back();
            // b is not below the segment a-i: drop it.
            const double lhs = (dist[b] - dist[a]) * double(cost[i] - cost[a]);
            const double rhs = (dist[i] - dist[a]) * double(cost[b] - cost[a]);
            if (lhs >= rhs) hull.pop_back();
            else break;
        }
        hull.push_back(i);
    }
    return hull;
}

// Slopes λ at which a hull switches to its next (cheaper) point: -(Δdist / Δcost) between
// consecutive hull points, descending cost order gives increasing λ.
void hullBreakpoints(const std::vector<int>& hull, const std::vector<int64_t>& cost, const std::vector<double>& dist,
                     std::vector<double>& out) {
    for (size_t j = 1; j < hull.size(); ++j) {
        const int lo = hull[j - 1], hi = hull[j];
        out.push_back((dist[lo] - dist[hi]) / double(cost[hi] - cost[lo]));
    }
}

// Hull point minimizing dist + λ·cost; ties go to the cheaper point so that a breakpoint λ
// yields the feasible side.
int hullPick(const std::vector<int>& hull, const std::vector<int64_t>& cost, const std::vector<double>& dist, double lambda) {
    int best = hull.front();
    double bestValue = dist[best] + lambda * double(cost[best]);
    for (size_t j = 1; j < hull.size(); ++j) {
        const int k = hull[j];
        const double v = dist[k] + lambda * double(cost[k]);
        if (v < bestValue) {
            best = k;
            bestValue = v;
        }
    }
    return best;
}

// Discrete bisection over the sorted breakpoints: smallest λ whose allocation fits. `evaluate`
// returns the cost of the allocation at λ (non-increasing in λ).
template <class F>
double bisectLambda(std::vector<double> breaks, int64_t budget, F&& evaluate) {
    std::sort(breaks.begin(), breaks.end());
    breaks.erase(std::unique(breaks.begin(), breaks.end()), breaks.end());
    if (evaluate(0.0) <= budget) return 0.0;
    size_t lo = 0, hi = breaks.size();  // answer index in [lo, hi); hi = "infeasible at every λ"
    while (lo < hi) {
        const size_t mid = (lo + hi) / 2;
        if (evaluate(breaks[mid]) <= budget) hi = mid;
        else lo = mid + 1;
    }
    return lo < breaks.size() ? breaks[lo] : std::numeric_limits<double>::infinity();
}

}  // namespace

// ---------------------------------------------------------------- knapsack

void KnapsackSweep::addGroup(const ChoiceGroup& g) {
    checkGroup(g);
    const size_t F = cost_.size(), K = g.cost.size();
    // K-way merge of the K shifted copies of the frontier (each sorted by cost), keeping only
    // entries that strictly improve distortion.
    std::vector<size_t> head(K, 0);
    std::vector<int64_t> nc;
    std::vector<double> nd;
    Step step;
    nc.reserve(F * 2);
    nd.reserve(F * 2);
    double bestDist = std::numeric_limits<double>::infinity();
    while (true) {
        int pick = -1;
        int64_t pc = 0;
        double pd = 0;
        for (size_t k = 0; k < K; ++k) {
            if (head[k] >= F) continue;
            const int64_t c = cost_[head[k]] + g.cost[k];
            const double d = dist_[head[k]] + g.distortion[k];
            if (pick < 0 || c < pc || (c == pc && d < pd)) {
                pick = int(k);
                pc = c;
                pd = d;
            }
        }
        if (pick < 0) break;
        const size_t parent = head[size_t(pick)]++;
        if (pd < bestDist) {
            bestDist = pd;
            nc.push_back(pc);
            nd.push_back(pd);
            step.parent.push_back(int32_t(parent));
            step.option.push_back(uint8_t(pick));
        }
    }
    cost_ = std::move(nc);
    dist_ = std::move(nd);
    steps_.push_back(std::move(step));
    largest_ = std::max(largest_, cost_.size());
}

KnapsackSweep::Ref KnapsackSweep::best(int64_t budget) const {
    Ref r;
    r.step = int(steps_.size()) - 1;
    const auto it = std::upper_bound(cost_.begin(), cost_.end(), budget);
    if (it == cost_.begin()) return r;
    r.entry = int(it - cost_.begin()) - 1;  // highest affordable cost = lowest distortion
    r.cost = cost_[size_t(r.entry)];
    r.distortion = dist_[size_t(r.entry)];
    return r;
}

KnapsackSweep::Ref KnapsackSweep::at(int entry) const {
    Ref r;
    r.step = int(steps_.size()) - 1;
    if (entry < 0 || size_t(entry) >= cost_.size()) return r;
    r.entry = entry;
    r.cost = cost_[size_t(entry)];
    r.distortion = dist_[size_t(entry)];
    return r;
}

std::vector<int> KnapsackSweep::reconstruct(const Ref& ref) const {
    if (ref.entry < 0) return {};
    std::vector<int> choice(size_t(ref.step) + 1);
    int e = ref.entry;
    for (int s = ref.step; s >= 0; --s) {
        choice[size_t(s)] = steps_[size_t(s)].option[size_t(e)];
        e = steps_[size_t(s)].parent[size_t(e)];
    }
    return choice;
}

Allocation knapsackExact(const std::vector<ChoiceGroup>& groups, int64_t budget) {
    KnapsackSweep sweep;
    for (const auto& g : groups) sweep.addGroup(g);
    const auto ref = sweep.best(budget);
    Allocation a;
    if (ref.entry < 0) return a;
    a.feasible = true;
    a.choice = groups.empty() ? std::vector<int>{} : sweep.reconstruct(ref);
    a.cost = ref.cost;
    a.distortion = ref.distortion;
    return a;
}

Allocation knapsackLagrangian(const std::vector<ChoiceGroup>& groups, int64_t budget) {
    std::vector<std::vector<int>> hulls;
    std::vector<double> breaks;
    for (const auto& g : groups) {
        checkGroup(g);
        hulls.push_back(lowerHull(g.cost, g.distortion));
        hullBreakpoints(hulls.back(), g.cost, g.distortion, breaks);
    }
    auto pickAll = [&](double lambda, std::vector<int>* choice) {
        int64_t total = 0;
        for (size_t i = 0; i < groups.size(); ++i) {
            const int k = std::isinf(lambda) ? hulls[i].front() : hullPick(hulls[i], groups[i].cost, groups[i].distortion, lambda);
            if (choice) (*choice)[i] = k;
            total += groups[i].cost[size_t(k)];
        }
        return total;
    };
    Allocation a;
    // Cheapest possible allocation (the last hull point is the cheapest option of each group).
    std::vector<int> cheapest(groups.size());
    int64_t minCost = 0;
    for (size_t i = 0; i < groups.size(); ++i) {
        const auto& c = groups[i].cost;
        cheapest[i] = int(std::min_element(c.begin(), c.end()) - c.begin());
        minCost += c[size_t(cheapest[i])];
    }
    if (minCost > budget) return a;
    const double lambda = bisectLambda(breaks, budget, [&](double l) { return pickAll(l, nullptr); });
    a.choice.assign(groups.size(), 0);
    if (std::isinf(lambda)) {
        a.choice = cheapest;
    } else {
        pickAll(lambda, &a.choice);
    }
    a.feasible = true;
    for (size_t i = 0; i < groups.size(); ++i) {
        a.cost += groups[i].cost[size_t(a.choice[i])];
        a.distortion += groups[i].distortion[size_t(a.choice[i])];
    }
    return a;
}

// ---------------------------------------------------------------- working set

namespace {

struct Prepared {
    int steps = 0;
    std::vector<int> first, last;  // per variable
    // Per step: (variable, elements) contributions.
    std::vector<std::vector<std::pair<int, int64_t>>> contrib;
    std::vector<std::vector<int>> born, dies;  // variables by first / last step
};

Prepared prepare(const WorkingSetProblem& p) {
    Prepared q;
    q.steps = int(p.constant.size());
    const int V = int(p.variables.size());
    q.first.assign(size_t(V), 0);
    q.last.assign(size_t(V), 0);
    q.contrib.resize(size_t(q.steps));
    q.born.resize(size_t(q.steps));
    q.dies.resize(size_t(q.steps));
    for (int v = 0; v < V; ++v) {
        const auto& var = p.variables[size_t(v)];
        if (var.bits.empty() || var.bits.size() != var.distortion.size() || var.bits.size() > 15 || var.segments.empty())
            throw Error("working-set allocation: variable " + std::to_string(v) +
                        " needs 1..15 options and at least one live segment");
        int f = std::numeric_limits<int>::max(), l = -1;
        std::vector<int64_t> perStep;
        for (const auto& s : var.segments) {
            if (s.first < 0 || s.last < s.first || s.last >= q.steps || s.elements < 0)
                throw Error("working-set allocation: variable " + std::to_string(v) + " has a segment outside the steps");
            f = std::min(f, s.first);
            l = std::max(l, s.last);
        }
        perStep.assign(size_t(l - f + 1), 0);
        for (const auto& s : var.segments)
            for (int t = s.first; t <= s.last; ++t) perStep[size_t(t - f)] += s.elements;
        for (int t = f; t <= l; ++t)
            if (perStep[size_t(t - f)]) q.contrib[size_t(t)].push_back({v, perStep[size_t(t - f)]});
        q.first[size_t(v)] = f;
        q.last[size_t(v)] = l;
        q.born[size_t(f)].push_back(v);
        q.dies[size_t(l)].push_back(v);
    }
    return q;
}

int cheapestDistortionOption(const WorkingSetProblem::Variable& v) {
    int best = 0;
    for (size_t k = 1; k < v.distortion.size(); ++k)
        if (v.distortion[k] < v.distortion[size_t(best)] ||
            (v.distortion[k] == v.distortion[size_t(best)] && v.bits[k] < v.bits[size_t(best)]))
            best = int(k);
    return best;
}

// The exact working-set DPs key a state by the option index of each live variable, kSlotBits
// per slot of a 64-bit key.
constexpr int kSlotBits = 4;
constexpr int kMaxSlots = 64 / kSlotBits;

// Gives variable v a key slot, reusing one a dead variable freed; -1 when all kMaxSlots are live.
int assignSlot(std::vector<int>& slots, std::vector<int>& slotOf, int v) {
    int sl = -1;
    for (size_t i = 0; i < slots.size(); ++i)
        if (slots[i] < 0) {
            sl = int(i);
            break;
        }
    if (sl < 0) {
        if (int(slots.size()) >= kMaxSlots) return -1;
        sl = int(slots.size());
        slots.push_back(-1);
    }
    slots[size_t(sl)] = v;
    slotOf[size_t(v)] = sl;
    return sl;
}

}  // namespace

int64_t workingSetPeak(const WorkingSetProblem& p, const std::vector<int>& choice, int lastStep) {
    const int S = int(p.constant.size());
    const int end = lastStep < 0 ? S - 1 : std::min(lastStep, S - 1);
    std::vector<int64_t> load(p.constant.begin(), p.constant.begin() + (end + 1));
    for (size_t v = 0; v < p.variables.size(); ++v) {
        const auto& var = p.variables[v];
        const int64_t b = var.bits[size_t(choice[v])];
        for (const auto& s : var.segments)
            for (int t = s.first; t <= std::min(s.last, end); ++t) load[size_t(t)] += s.elements * b;
    }
    return load.empty() ? 0 : *std::max_element(load.begin(), load.end());
}

std::vector<WorkingSetResult> workingSetExactAllPrefixes(const WorkingSetProblem& p, int64_t budget,
                                                         const std::vector<int>& prefixEnds,
                                                         const WorkingSetOptions& o) {
    const Prepared q = prepare(p);
    const int V = int(p.variables.size());
    std::vector<WorkingSetResult> out(prefixEnds.size());
    if (prefixEnds.empty()) return out;
    int maxEnd = -1;
    for (int e : prefixEnds) {
        if (e < 0 || e >= q.steps) throw Error("working-set allocation: prefix end outside the steps");
        maxEnd = std::max(maxEnd, e);
    }
    std::vector<std::vector<int>> wanted(size_t(maxEnd) + 1);
    for (size_t i = 0; i < prefixEnds.size(); ++i) wanted[size_t(prefixEnds[i])].push_back(int(i));

    auto fallback = [&](size_t i) {
        out[i].exact = false;
        out[i].allocation = workingSetLagrangian(p, budget, prefixEnds[i]);
    };

    struct State {
        uint64_t key;
        double cost;
        int32_t parent;
    };
    std::vector<std::vector<State>> layers;    // per step, after the constraint check
    std::vector<std::vector<int>> slotsAt;     // per step: slot -> variable (-1 free)
    std::vector<int> slotOf(size_t(V), -1);
    std::vector<int> slots;                    // slot -> variable
    const std::vector<State> start{{0, 0.0, -1}};
    std::vector<uint32_t> table;                // open addressing of step 1: entry + 1 (0: empty)
    struct Load {
        int shift;
        int64_t perOption[16];  // elements x bits of each option
    };
    std::vector<Load> loads;
    bool overflow = false;

    for (int s = 0; s <= maxEnd && !overflow; ++s) {
        const std::vector<State>& prev = s == 0 ? start : layers.back();
        // 1. Project out variables that died at s - 1 (their bits no longer matter): per masked
        //    key its cheapest state, the first one on ties, in the order the keys first appear.
        std::vector<State> cur;
        if (s > 0 && !q.dies[size_t(s - 1)].empty()) {
            uint64_t mask = ~uint64_t(0);
            for (int v : q.dies[size_t(s - 1)]) {
                const int sl = slotOf[size_t(v)];
                mask &= ~(uint64_t(0xF) << (sl * kSlotBits));
                slots[size_t(sl)] = -1;
                slotOf[size_t(v)] = -1;
            }
            int bits = 1;
            while ((size_t(1) << bits) < 2 * prev.size()) ++bits;
            const size_t cap = size_t(1) << bits;
            table.assign(cap, 0);
            cur.reserve(prev.size());
            for (size_t i = 0; i < prev.size(); ++i) {
                const uint64_t k = prev[i].key & mask;
                size_t h = size_t((k * 0x9E3779B97F4A7C15ull) >> (64 - bits));
                while (table[h] != 0 && cur[table[h] - 1].key != k) h = (h + 1) & (cap - 1);
                if (table[h] == 0) {
                    table[h] = uint32_t(cur.size() + 1);
                    cur.push_back({k, prev[i].cost, int32_t(i)});
                } else if (State& c = cur[table[h] - 1]; prev[i].cost < c.cost) {
                    c = {k, prev[i].cost, int32_t(i)};
                }
            }
        } else {
            cur.reserve(prev.size());
            for (size_t i = 0; i < prev.size(); ++i) cur.push_back({prev[i].key, prev[i].cost, int32_t(i)});
        }
        // 2. Introduce the variables born at s.
        for (int v : q.born[size_t(s)]) {
            const int sl = assignSlot(slots, slotOf, v);
            if (sl < 0) {
                overflow = true;
                break;
            }
            const auto& var = p.variables[size_t(v)];
            if (cur.size() * var.bits.size() > o.maxStates) {
                overflow = true;
                break;
            }
            std::vector<State> next;
            next.reserve(cur.size() * var.bits.size());
            for (const auto& st : cur)
                for (size_t k = 0; k < var.bits.size(); ++k)
                    next.push_back({st.key | (uint64_t(k) << (sl * kSlotBits)), st.cost + var.distortion[k], st.parent});
            cur = std::move(next);
        }
        if (overflow) break;
        // 3. Keep the states that satisfy the budget at step s (each live variable's load per
        //    option looked up by its slot in the key).
        loads.clear();
        for (const auto& [v, e] : q.contrib[size_t(s)]) {
            Load l{slotOf[size_t(v)] * kSlotBits, {}};
            const auto& bits = p.variables[size_t(v)].bits;
            for (size_t k = 0; k < bits.size(); ++k) l.perOption[k] = e * bits[k];
            loads.push_back(l);
        }
        std::vector<State> ok;
        ok.reserve(cur.size());
        for (const auto& st : cur) {
            int64_t load = p.constant[size_t(s)];
            for (const Load& l : loads) load += l.perOption[(st.key >> l.shift) & 0xF];
            if (load <= budget) ok.push_back(st);
        }
        layers.push_back(std::move(ok));
        slotsAt.push_back(slots);
        const std::vector<State>& kept = layers.back();
        // 4. Answer the prefixes that end here.
        for (int wi : wanted[size_t(s)]) {
            WorkingSetResult& r = out[size_t(wi)];
            if (kept.empty()) continue;  // infeasible: allocation.feasible stays false
            size_t best = 0;
            for (size_t i = 1; i < kept.size(); ++i)
                if (kept[i].cost < kept[best].cost) best = i;
            std::vector<int> choice(size_t(V), -1);
            size_t idx = best;
            for (int t = s; t >= 0; --t) {
                const State& st = layers[size_t(t)][idx];
                for (int v : q.born[size_t(t)]) {
                    int sl = -1;
                    for (size_t i = 0; i < slotsAt[size_t(t)].size(); ++i)
                        if (slotsAt[size_t(t)][i] == v) sl = int(i);
                    choice[size_t(v)] = int((st.key >> (sl * kSlotBits)) & 0xF);
                }
                if (t > 0) {
                    // parent indexes the previous layer's states.
                    idx = size_t(st.parent);
                }
            }
            for (int v = 0; v < V; ++v)
                if (choice[size_t(v)] < 0) choice[size_t(v)] = cheapestDistortionOption(p.variables[size_t(v)]);
            r.allocation.feasible = true;
            r.allocation.choice = std::move(choice);
            r.allocation.distortion = kept[best].cost;
            r.allocation.cost = workingSetPeak(p, r.allocation.choice, s);
        }
        if (kept.empty()) break;  // every longer prefix is infeasible too
    }
    if (overflow)
        for (size_t i = 0; i < prefixEnds.size(); ++i)
            if (prefixEnds[i] >= int(layers.size())) fallback(i);
    return out;
}

WorkingSetSweep::WorkingSetSweep(const WorkingSetProblem& p, const std::vector<int>& prefixEnds, const WorkingSetOptions& o) {
    const Prepared q = prepare(p);
    const int V = int(p.variables.size());
    variables_ = size_t(V);
    cheapest_.resize(size_t(V));
    for (int v = 0; v < V; ++v) cheapest_[size_t(v)] = cheapestDistortionOption(p.variables[size_t(v)]);
    frontiers_.resize(size_t(q.steps));
    choices_.resize(size_t(q.steps));
    // The DP's entries per step (freed at the end: only the frontier points' options are kept).
    std::vector<std::vector<uint64_t>> keysAt;    // per step and entry: options of the live variables
    std::vector<std::vector<int32_t>> parentsAt;  // per step and entry: entry at the previous step
    std::vector<std::vector<int>> slotsAt;        // per step: slot -> variable
    int maxEnd = -1;
    std::vector<bool> wanted(size_t(q.steps), false);
    for (int e : prefixEnds) {
        if (e < 0 || e >= q.steps) throw Error("working-set allocation: prefix end outside the steps");
        maxEnd = std::max(maxEnd, e);
        wanted[size_t(e)] = true;
    }
    struct Entry {
        uint64_t key;
        int64_t peak;
        double dist;
        int32_t parent;
    };
    std::vector<Entry> prev{{0, 0, 0.0, -1}};
    std::vector<int> slotOf(size_t(V), -1), slots;
    for (int s = 0; s <= maxEnd; ++s) {
        uint64_t mask = ~uint64_t(0);
        if (s > 0)
            for (int v : q.dies[size_t(s - 1)]) {
                const int sl = slotOf[size_t(v)];
                mask &= ~(uint64_t(0xF) << (sl * kSlotBits));
                slots[size_t(sl)] = -1;
                slotOf[size_t(v)] = -1;
            }
        // 1. Merge the states that differ only in the variables that died: per masked key, the
        //    Pareto set of (peak, distortion), sorted by peak (the future of an entry depends on
        //    its key alone, so what is dominated now stays dominated).
        //    The order is (key, peak, distortion, parent), a strict total order. The previous
        //    step's entries come in runs of one key (sorted by peak; a few dozen entries): the
        //    runs are sorted by (masked key, position), then the entries of the runs that now
        //    share a key by the rest, which gives the same sequence as one sort of all entries.
        std::vector<std::pair<uint64_t, uint32_t>> runs;  // (masked key, first entry)
        for (size_t i = 0; i < prev.size(); ++i)
            if (i == 0 || prev[i].key != prev[i - 1].key) runs.push_back({prev[i].key & mask, uint32_t(i)});
        std::sort(runs.begin(), runs.end());
        std::vector<Entry> cur;
        cur.reserve(prev.size());
        const auto byPeak = [](const Entry& a, const Entry& b) {
            if (a.peak != b.peak) return a.peak < b.peak;
            if (a.dist != b.dist) return a.dist < b.dist;
            return a.parent < b.parent;  // exact ties: the same survivor in every run
        };
        for (size_t r0 = 0; r0 < runs.size();) {
            size_t r1 = r0 + 1;
            while (r1 < runs.size() && runs[r1].first == runs[r0].first) ++r1;
            const size_t g0 = cur.size();
            for (size_t r = r0; r < r1; ++r) {
                const uint64_t fullKey = prev[runs[r].second].key;
                for (size_t i = runs[r].second; i < prev.size() && prev[i].key == fullKey; ++i)
                    cur.push_back({runs[r].first, prev[i].peak, prev[i].dist, int32_t(i)});
            }
            if (r1 - r0 > 1) std::sort(cur.begin() + std::ptrdiff_t(g0), cur.end(), byPeak);
            r0 = r1;
        }
        {
            size_t n = 0;
            for (size_t i = 0; i < cur.size(); ++i)
                if (n == 0 || cur[n - 1].key != cur[i].key || cur[i].dist < cur[n - 1].dist) cur[n++] = cur[i];
            cur.resize(n);
        }
        // 2. The variables born here: every option of each, group by group, so that entries of
        //    one new key stay contiguous and sorted by peak.
        bool overflow = false;
        for (int v : q.born[size_t(s)]) {
            const int sl = assignSlot(slots, slotOf, v);
            if (sl < 0) {
                overflow = true;
                break;
            }
            const auto& var = p.variables[size_t(v)];
            if (cur.size() * var.bits.size() > o.maxEntries) {
                overflow = true;
                break;
            }
            std::vector<Entry> next;
            next.reserve(cur.size() * var.bits.size());
            for (size_t g0 = 0; g0 < cur.size();) {
                size_t g1 = g0 + 1;
                while (g1 < cur.size() && cur[g1].key == cur[g0].key) ++g1;
                for (size_t k = 0; k < var.bits.size(); ++k)
                    for (size_t i = g0; i < g1; ++i)
                        next.push_back({cur[i].key | (uint64_t(k) << (sl * kSlotBits)), cur[i].peak, cur[i].dist + var.distortion[k],
                                        cur[i].parent});
                g0 = g1;
            }
            cur = std::move(next);
        }
        if (overflow) break;
        // 3. The load at s depends on the key only; the peak so far becomes max(peak, load). In a
        //    key's run (peak ascending, distortion falling) the entries lifted to the load collapse
        //    into the last of them; the others stay a Pareto set.
        const auto& contrib = q.contrib[size_t(s)];
        std::vector<Entry> kept;
        kept.reserve(cur.size());
        for (size_t g0 = 0; g0 < cur.size();) {
            size_t g1 = g0 + 1;
            while (g1 < cur.size() && cur[g1].key == cur[g0].key) ++g1;
            int64_t load = p.constant[size_t(s)];
            for (const auto& [v, n] : contrib) {
                const int k = int((cur[g0].key >> (slotOf[size_t(v)] * kSlotBits)) & 0xF);
                load += n * p.variables[size_t(v)].bits[size_t(k)];
            }
            size_t i = g0;
            while (i + 1 < g1 && cur[i + 1].peak <= load) ++i;  // cur[g0..i] all reach `load`
            Entry e = cur[i];
            e.peak = std::max(e.peak, load);
            kept.push_back(e);
            for (++i; i < g1; ++i) kept.push_back(cur[i]);
            g0 = g1;
        }
        std::vector<uint64_t> keys(kept.size());
        std::vector<int32_t> parents(kept.size());
        for (size_t i = 0; i < kept.size(); ++i) {
            keys[i] = kept[i].key;
            parents[i] = kept[i].parent;
        }
        keysAt.push_back(std::move(keys));
        parentsAt.push_back(std::move(parents));
        slotsAt.push_back(slots);
        largest_ = std::max(largest_, kept.size());
        reached_ = s;
        if (wanted[size_t(s)]) {
            // Only points no lower-peak bucket dominates can be on the frontier: with the
            // smallest distortion of each of 4096 peak buckets and its running minimum, a point
            // whose distortion some strictly lower bucket reaches is dropped before the sort.
            int64_t lo = std::numeric_limits<int64_t>::max(), hi = std::numeric_limits<int64_t>::min();
            for (const auto& e : kept) lo = std::min(lo, e.peak), hi = std::max(hi, e.peak);
            constexpr int kBuckets = 4096;
            const double width = hi > lo ? double(hi - lo) / kBuckets : 1.0;
            auto bucketOf = [&](int64_t peak) { return std::min(kBuckets - 1, int(double(peak - lo) / width)); };
            std::vector<double> below(kBuckets + 1, std::numeric_limits<double>::infinity());  // below[b]: min over buckets < b
            for (const auto& e : kept) below[size_t(bucketOf(e.peak)) + 1] = std::min(below[size_t(bucketOf(e.peak)) + 1], e.dist);
            for (int b = 1; b <= kBuckets; ++b) below[size_t(b)] = std::min(below[size_t(b)], below[size_t(b - 1)]);
            std::vector<Point> pts;
            for (size_t i = 0; i < kept.size(); ++i)
                if (kept[i].dist < below[size_t(bucketOf(kept[i].peak))]) pts.push_back({kept[i].peak, kept[i].dist, int32_t(i)});
            std::sort(pts.begin(), pts.end(), [](const Point& a, const Point& b) {
                if (a.peak != b.peak) return a.peak < b.peak;
                if (a.distortion != b.distortion) return a.distortion < b.distortion;
                return a.entry < b.entry;
            });
            std::vector<Point> front;
            for (const auto& pt : pts)
                if (front.empty() || pt.distortion < front.back().distortion) front.push_back(pt);
            // Each point's options, walking its parents back to step 0; entry becomes its index.
            std::vector<uint8_t>& ch = choices_[size_t(s)];
            ch.resize(front.size() * size_t(V));
            for (size_t k = 0; k < front.size(); ++k) {
                uint8_t* c = ch.data() + k * size_t(V);
                for (int v = 0; v < V; ++v) c[v] = uint8_t(cheapest_[size_t(v)]);
                size_t idx = size_t(front[k].entry);
                for (int t = s; t >= 0; --t) {
                    const uint64_t key = keysAt[size_t(t)][idx];
                    const auto& sl = slotsAt[size_t(t)];
                    for (int v : q.born[size_t(t)])
                        for (size_t i = 0; i < sl.size(); ++i)
                            if (sl[i] == v) c[v] = uint8_t((key >> (i * 4)) & 0xF);
                    idx = size_t(std::max(0, parentsAt[size_t(t)][idx]));
                }
                front[k].entry = int32_t(k);
            }
            frontiers_[size_t(s)] = std::move(front);
        }
        prev = std::move(kept);
    }
}

bool WorkingSetSweep::exact(int prefixEnd) const { return prefixEnd >= 0 && prefixEnd <= reached_; }

const std::vector<WorkingSetSweep::Point>& WorkingSetSweep::frontier(int prefixEnd) const {
    static const std::vector<Point> none;
    return exact(prefixEnd) ? frontiers_[size_t(prefixEnd)] : none;
}

std::vector<int> WorkingSetSweep::reconstruct(int prefixEnd, const Point& point) const {
    std::vector<int> choice = cheapest_;
    if (!exact(prefixEnd) || point.entry < 0 || size_t(point.entry) >= frontiers_[size_t(prefixEnd)].size()) return choice;
    const uint8_t* c = choices_[size_t(prefixEnd)].data() + size_t(point.entry) * variables_;
    for (size_t v = 0; v < variables_; ++v) choice[v] = c[v];
    return choice;
}

namespace {

constexpr const char* kSweepFormat = "autosplit-working-set-sweep v1";

struct ByteWriter {
    std::string out;
    template <class T>
    void put(const T& v) {
        out.append(reinterpret_cast<const char*>(&v), sizeof v);
    }
    void str(const std::string& s) {
        put(uint64_t(s.size()));
        out += s;
    }
};

struct ByteReader {
    const std::string& in;
    size_t at = 0, end = 0;
    template <class T>
    T get() {
        if (end - at < sizeof(T)) throw Error("working-set sweep bytes: truncated");
        T v;
        std::memcpy(&v, in.data() + at, sizeof v);
        at += sizeof v;
        return v;
    }
    std::string str(size_t limit) {
        const uint64_t n = get<uint64_t>();
        if (n > limit || end - at < n) throw Error("working-set sweep bytes: bad string");
        std::string s = in.substr(at, size_t(n));
        at += size_t(n);
        return s;
    }
};

}  // namespace

std::string WorkingSetSweep::toBytes(const std::string& key) const {
    ByteWriter w;
    w.str(kSweepFormat);
    w.str(key);
    w.put(uint64_t(variables_));
    w.put(uint64_t(frontiers_.size()));
    w.put(int64_t(reached_));
    w.put(uint64_t(largest_));
    for (int c : cheapest_) w.put(uint8_t(c));
    for (size_t s = 0; s < frontiers_.size(); ++s) {
        w.put(uint64_t(frontiers_[s].size()));
        for (const Point& pt : frontiers_[s]) {
            w.put(pt.peak);
            w.put(pt.distortion);
        }
        w.out.append(reinterpret_cast<const char*>(choices_[s].data()), choices_[s].size());
    }
    return w.out + sha256(w.out);
}

std::unique_ptr<WorkingSetSweep> WorkingSetSweep::fromBytes(const std::string& bytes, const std::string& key) {
    constexpr size_t kDigest = 64;  // hex SHA-256
    if (bytes.size() < kDigest || sha256(bytes.substr(0, bytes.size() - kDigest)) != bytes.substr(bytes.size() - kDigest))
        return nullptr;
    try {
        ByteReader r{bytes, 0, bytes.size() - kDigest};
        if (r.str(64) != kSweepFormat || r.str(256) != key) return nullptr;
        std::unique_ptr<WorkingSetSweep> sw(new WorkingSetSweep());
        const uint64_t V = r.get<uint64_t>(), steps = r.get<uint64_t>();
        const int64_t reached = r.get<int64_t>();
        const uint64_t largest = r.get<uint64_t>();
        if (V > (1u << 24) || steps > (1u << 24) || reached < -1 || reached >= int64_t(steps) || r.end - r.at < V) return nullptr;
        sw->variables_ = size_t(V);
        sw->reached_ = int(reached);
        sw->largest_ = size_t(largest);
        for (uint64_t v = 0; v < V; ++v) sw->cheapest_.push_back(r.get<uint8_t>());
        sw->frontiers_.resize(size_t(steps));
        sw->choices_.resize(size_t(steps));
        for (uint64_t s = 0; s < steps; ++s) {
            const uint64_t n = r.get<uint64_t>();
            if (n > (r.end - r.at) / 16) return nullptr;
            auto& front = sw->frontiers_[size_t(s)];
            for (uint64_t k = 0; k < n; ++k) {
                Point pt;
                pt.peak = r.get<int64_t>();
                pt.distortion = r.get<double>();
                pt.entry = int32_t(k);
                // A frontier: peak ascending, distortion strictly falling.
                if (!front.empty() && !(pt.peak >= front.back().peak && pt.distortion < front.back().distortion)) return nullptr;
                front.push_back(pt);
            }
            if (n > 0 && (int64_t(s) > reached || V == 0 || (r.end - r.at) / V < n)) return nullptr;
            sw->choices_[size_t(s)].assign(bytes.begin() + std::ptrdiff_t(r.at), bytes.begin() + std::ptrdiff_t(r.at + n * V));
            r.at += size_t(n * V);
        }
        if (r.at != r.end) return nullptr;
        return sw;
    } catch (const Error&) {
        return nullptr;
    }
}

std::string workingSetKey(const WorkingSetProblem& p, const std::vector<int>& prefixEnds, const WorkingSetOptions& o) {
    ByteWriter w;
    w.str(kSweepFormat);
    w.put(uint64_t(o.maxEntries));
    w.put(uint64_t(prefixEnds.size()));
    for (int e : prefixEnds) w.put(int64_t(e));
    w.put(uint64_t(p.constant.size()));
    for (int64_t c : p.constant) w.put(c);
    w.put(uint64_t(p.variables.size()));
    for (const auto& v : p.variables) {
        w.put(uint64_t(v.bits.size()));
        for (size_t k = 0; k < v.bits.size(); ++k) {
            w.put(int64_t(v.bits[k]));
            w.put(k < v.distortion.size() ? v.distortion[k] : 0.0);
        }
        w.put(uint64_t(v.segments.size()));
        for (const auto& sg : v.segments) {
            w.put(int64_t(sg.first));
            w.put(int64_t(sg.last));
            w.put(sg.elements);
        }
    }
    return sha256(w.out);
}

WorkingSetResult workingSetExact(const WorkingSetProblem& p, int64_t budget, int lastStep, const WorkingSetOptions& o) {
    const int end = lastStep < 0 ? int(p.constant.size()) - 1 : lastStep;
    if (end < 0) {
        WorkingSetResult r;
        r.allocation.feasible = true;
        for (const auto& v : p.variables) r.allocation.choice.push_back(cheapestDistortionOption(v));
        return r;
    }
    return workingSetExactAllPrefixes(p, budget, {end}, o).front();
}

Allocation workingSetLagrangian(const WorkingSetProblem& p, int64_t budget, int lastStep) {
    const Prepared q = prepare(p);
    const int end = lastStep < 0 ? q.steps - 1 : std::min(lastStep, q.steps - 1);
    const size_t V = p.variables.size();
    // Per variable: hull over (largest per-step elements · bits, distortion).
    std::vector<std::vector<int64_t>> cost(V);
    std::vector<std::vector<int>> hulls(V);
    std::vector<double> breaks;
    std::vector<bool> active(V, false);
    for (size_t v = 0; v < V; ++v) {
        const auto& var = p.variables[v];
        if (q.first[v] > end) continue;
        active[v] = true;
        int64_t size = 0;
        for (int t = q.first[v]; t <= std::min(q.last[v], end); ++t)
            for (const auto& [u, e] : q.contrib[size_t(t)])
                if (size_t(u) == v) size = std::max(size, e);
        for (int b : var.bits) cost[v].push_back(size * b);
        hulls[v] = lowerHull(cost[v], var.distortion);
        hullBreakpoints(hulls[v], cost[v], var.distortion, breaks);
    }
    std::vector<int> choice(V, 0);
    for (size_t v = 0; v < V; ++v) choice[v] = cheapestDistortionOption(p.variables[v]);
    auto pickAll = [&](double lambda) {
        for (size_t v = 0; v < V; ++v)
            if (active[v]) choice[v] = hullPick(hulls[v], cost[v], p.variables[v].distortion, lambda);
        return workingSetPeak(p, choice, end);
    };
    Allocation a;
    const double lambda = bisectLambda(breaks, budget, pickAll);
    if (std::isinf(lambda)) {
        for (size_t v = 0; v < V; ++v)
            if (active[v]) choice[v] = hulls[v].front();
        if (workingSetPeak(p, choice, end) > budget) return a;  // even the cheapest hull points overflow
    } else {
        pickAll(lambda);
    }
    a.feasible = true;
    a.choice = choice;
    a.cost = workingSetPeak(p, choice, end);
    for (size_t v = 0; v < V; ++v)
        if (active[v]) a.distortion += p.variables[v].distortion[size_t(choice[v])];
    return a;
}

}  // namespace autosplit::planner
