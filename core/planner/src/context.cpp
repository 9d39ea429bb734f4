#include "autosplit/planner/context.h"

#include "autosplit/planner/bit_allocation.h"
#include "autosplit/quant/quantize.h"
#include "autosplit/util/each_index.h"
#include "autosplit/util/file_io.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <exception>
#include <filesystem>
#include <future>
#include <limits>
#include <mutex>
#include <thread>

namespace autosplit::planner {

namespace {

using Clock = std::chrono::steady_clock;
double msSince(Clock::time_point t0) { return std::chrono::duration<double, std::milli>(Clock::now() - t0).count(); }

std::string bitsList(const std::vector<int>& b) {
    std::string s;
    for (size_t i = 0; i < b.size(); ++i) s += (i ? "," : "") + std::to_string(b[i]);
    return s;
}

std::string levelLabel(double level) {
    char buf[16];
    std::snprintf(buf, sizeof buf, level == std::floor(level) ? "%.0f" : "%.1f", level);
    return buf;
}

std::string solutionKey(int split, const uint8_t* w, const uint8_t* a, size_t n) {
    std::string k = std::to_string(split) + ":";
    k.append(reinterpret_cast<const char*>(w), n);
    k.append(reinterpret_cast<const char*>(a), n);
    return k;
}

}  // namespace

struct PlanningContext::BudgetFrontiers {
    KnapsackSweep weights;        // the sweep over the quantized layers (parent pointers)
    std::vector<int> groupNode;   // knapsack group -> node
    std::unique_ptr<WorkingSetSweep> activations;
    struct Split {
        int position = -1;
        int weightStep = -1;          // the sweep's last group at this split
        // Frontiers reduced to whole bytes (the lowest distortion per byte count), bytes
        // ascending, distortion falling: weight bits (quantized + fixed layers), working-set bits.
        std::vector<int64_t> wBits, aBits;
        std::vector<double> wDist, aDist;
        std::vector<int32_t> wEntry, aEntry;
    };
    std::vector<Split> splits;  // candidate splits with an exact activation frontier
};

namespace {

// Keeps, of a frontier sorted by bits ascending with distortion falling, the last point of every
// run of equal byte counts: the budget is checked in whole bytes.
void byBytes(const std::vector<int64_t>& bits, const std::vector<double>& dist, const std::vector<int32_t>& entry,
             std::vector<int64_t>& outBits, std::vector<double>& outDist, std::vector<int32_t>& outEntry) {
    for (size_t i = 0; i < bits.size(); ++i) {
        if (!outBits.empty() && (outBits.back() + 7) / 8 == (bits[i] + 7) / 8) {
            outBits.back() = bits[i];
            outDist.back() = dist[i];
            outEntry.back() = entry[i];
        } else {
            outBits.push_back(bits[i]);
            outDist.push_back(dist[i]);
            outEntry.push_back(entry[i]);
        }
    }
}

}  // namespace

struct ContextBuilder {
    ContextBuilder(PlanningContext& c, const ContextOptions& opts) : ctx(c), o(opts) {}
    PlanningContext& ctx;
    const ContextOptions& o;
    int N = 0;
    int maxB = 8, minB = 2;
    std::vector<int64_t> weightElems;  // per node, float weights first used by it
    std::vector<bool> quantized;       // node has a quantized weight (a knapsack group)
    WorkingSetProblem act;
    std::vector<int64_t> inputLive, nodeLive;  // elements live per step (inputs / node outputs)

    void progress(const std::string& stage, int done, int total) const {
        if (o.progress) o.progress(stage, done, total);
    }

    int bitPos(int b) const {
        for (size_t k = 0; k < ctx.bits_.size(); ++k)
            if (ctx.bits_[k] == b) return int(k);
        return -1;
    }

    static std::vector<int> sortedBits(std::vector<int> bits) {
        std::sort(bits.begin(), bits.end());
        bits.erase(std::unique(bits.begin(), bits.end()), bits.end());
        return bits;
    }

    // The uniform widths the baselines use: the bit set, 8 (U8) and 16 (float16).
    static std::vector<int> baselineBits(const std::vector<int>& bits) {
        std::vector<int> tab = bits;
        tab.push_back(8);
        tab.push_back(16);
        return sortedBits(std::move(tab));
    }

    static void validate(const Graph& g, const ErrorTable& errors, const sim::DeviceProfile& edge,
                         const sim::DeviceProfile& cloud, const ContextOptions& o) {
        if (o.bits.empty()) throw PlannerError("the bit set is empty");
        for (int b : sortedBits(o.bits)) {
            if (b < 1 || b > 8 || !isSupportedBits(b))
                throw PlannerError("edge bit-width " + std::to_string(b) + " is not one of 2, 4, 6, 8");
            if (!edge.supportsBits(b))
                throw PlannerError("edge device '" + edge.name + "' does not run " + std::to_string(b) +
                                   "-bit layers (bit-widths " + bitsList(edge.bits) + ")");
            if (errors.bitsIndex(b) < 0)
                throw PlannerError("the error table has no " + std::to_string(b) + "-bit column (it has " +
                                   bitsList(errors.bits) + "): re-run calibration with these bits");
        }
        if (!cloud.supportsBits(o.cloudBits))
            throw PlannerError("cloud device '" + cloud.name + "' does not run " + std::to_string(o.cloudBits) +
                               "-bit layers (bit-widths " + bitsList(cloud.bits) + ")");
        if (!edge.supportsBits(o.inputBits) && o.inputBits != 8)
            throw PlannerError("input bit-width " + std::to_string(o.inputBits) + " is not run by the edge device");
        if (g.nodes.empty()) throw PlannerError("the model has no nodes");
        if (errors.rows.size() != g.nodes.size())
            throw PlannerError("the error table has " + std::to_string(errors.rows.size()) + " rows but the model has " +
                               std::to_string(g.nodes.size()) + " nodes: it was computed for another graph");
        for (size_t i = 0; i < g.nodes.size(); ++i)
            if (errors.rows[i].name != g.nodes[i].name)
                throw PlannerError("the error table row " + std::to_string(i) + " is '" + errors.rows[i].name +
                                   "' but the model's node is '" + g.nodes[i].name + "': it was computed for another graph");
    }

    void perNodeData() {
        const Graph& g = ctx.graph_;
        weightElems.assign(size_t(N), 0);
        quantized.assign(size_t(N), false);
        std::vector<bool> counted(g.tensors.size(), false);
        for (int i = 0; i < N; ++i) {
            for (int t : g.nodes[size_t(i)].inputs)
                if (t >= 0 && !counted[size_t(t)] && g.tensors[size_t(t)].isWeight() && g.tensors[size_t(t)].data->isFloat()) {
                    counted[size_t(t)] = true;
                    weightElems[size_t(i)] += g.tensors[size_t(t)].data->elementCount();
                }
            quantized[size_t(i)] = ctx.errors_.rows[size_t(i)].weightTensor >= 0 && weightElems[size_t(i)] > 0;
        }
        // Working-set problem: one variable per node (its outputs), graph inputs constant.
        act.constant.assign(size_t(N), 0);
        act.variables.resize(size_t(N));
        for (int v = 0; v < N; ++v) {
            auto& var = act.variables[size_t(v)];
            const auto& row = ctx.errors_.rows[size_t(v)];
            for (int b : ctx.bits_) {
                var.bits.push_back(b);
                var.distortion.push_back(std::max(0.0, row.activationMse[size_t(ctx.errors_.bitsIndex(b))]));
            }
        }
        // Elements live per step, graph inputs and node outputs apart (the one liveness sweep).
        const auto lifetimes = tensorLifetimes(g);
        inputLive = liveAtEachStep(lifetimes, N - 1, [](const TensorLifetime& L) { return L.start < 0 ? L.elements : 0; });
        nodeLive = liveAtEachStep(lifetimes, N - 1, [](const TensorLifetime& L) { return L.start < 0 ? 0 : L.elements; });
        for (int t = 0; t < N; ++t) act.constant[size_t(t)] = inputLive[size_t(t)] * ctx.cost_->inputBits();
        for (const auto& L : lifetimes) {
            const int s = std::max(L.start, 0);
            const int e = std::min(L.end, N - 1);
            if (s > e || L.start < 0) continue;
            act.variables[size_t(L.start)].segments.push_back({s, e, L.elements});
        }
        for (int v = 0; v < N; ++v)
            if (act.variables[size_t(v)].segments.empty()) act.variables[size_t(v)].segments.push_back({v, v, 0});
    }

    void splitRecords() {
        const Graph& g = ctx.graph_;
        PlanBits low = PlanBits::uniform(g, -1, minB, minB, ctx.cost_->inputBits());
        for (int i = 0; i < N; ++i)
            if (!quantized[size_t(i)]) low.weightBits[size_t(i)] = maxB;
        ctx.records_.clear();
        for (int p = -1; p < N; ++p) {
            SplitRecord r;
            r.position = p;
            r.minTransmitBits = ctx.cost_->transmitBits(p, nullptr, minB);
            low.splitPosition = p;
            const EdgeMemory m = edgeMemory(g, low);
            r.minEdgeBits = m.weightBits + m.peakActivationBits;
            r.candidate = p >= 0 && r.minTransmitBits < ctx.cost_->rawInputBits();
            ctx.records_.push_back(std::move(r));
        }
    }

    // The activation frontiers of `cands`: from the cache when a file written for this very
    // problem is there and intact, else swept (and cached, best effort).
    std::unique_ptr<WorkingSetSweep> frontierOf(const std::vector<int>& cands) const {
        if (o.cacheDir.empty()) return std::make_unique<WorkingSetSweep>(act, cands);
        const std::string key = workingSetKey(act, cands);
        const std::string path = o.cacheDir + "/frontier-" + key.substr(0, 32) + ".bin";
        std::error_code ec;
        if (std::filesystem::exists(path, ec)) {
            try {
                if (auto cached = WorkingSetSweep::fromBytes(readWholeFile(path), key)) return cached;
            } catch (const std::exception&) {
            }
        }
        auto sweep = std::make_unique<WorkingSetSweep>(act, cands);
        try {
            std::filesystem::create_directories(o.cacheDir, ec);
            writeFileAtomically(path, sweep->toBytes(key));
        } catch (const std::exception&) {
        }
        return sweep;
    }

    void solutions() {
        const auto& errors = ctx.errors_;
        std::vector<double> levels;
        for (size_t k = 0; k < ctx.bits_.size(); ++k) {
            if (o.finerGrid && k > 0) levels.push_back(0.5 * (ctx.bits_[k - 1] + ctx.bits_[k]));
            levels.push_back(ctx.bits_[k]);
        }
        const size_t L = levels.size();
        std::vector<int> cands;
        for (const auto& r : ctx.records_)
            if (r.candidate) cands.push_back(r.position);

        // Every budget, not only the grid's: the activation frontier of every candidate split in
        // one sweep, on its own thread while the grid's allocations below run (it reads only
        // `act` and `cands`; a cancelled or failed build waits for it in the future's destructor).
        std::future<std::unique_ptr<WorkingSetSweep>> frontierSweep;
        if (o.allocator == Allocator::Exact && !cands.empty())
            frontierSweep = std::async(std::launch::async, [this, &cands] { return frontierOf(cands); });

        // Per candidate split and level: budgets.
        std::vector<int64_t> quantPrefix(size_t(N), 0), fixedPrefix(size_t(N), 0);
        for (int i = 0; i < N; ++i) {
            quantPrefix[size_t(i)] = (i ? quantPrefix[size_t(i - 1)] : 0) + (quantized[size_t(i)] ? weightElems[size_t(i)] : 0);
            fixedPrefix[size_t(i)] = (i ? fixedPrefix[size_t(i - 1)] : 0) + (quantized[size_t(i)] ? 0 : weightElems[size_t(i)] * maxB);
        }
        std::vector<std::vector<int64_t>> actBudget(cands.size(), std::vector<int64_t>(L));
        for (size_t l = 0; l < L; ++l) {
            double peak = 0;
            size_t c = 0;
            for (int s = 0; s < N && c < cands.size(); ++s) {
                peak = std::max(peak, double(inputLive[size_t(s)]) * ctx.cost_->inputBits() + double(nodeLive[size_t(s)]) * levels[l]);
                while (c < cands.size() && cands[c] == s) actBudget[c++][l] = int64_t(std::floor(peak));
            }
        }

        // Weights: one exact sweep over the quantized layers serves every split and budget.
        auto t0 = Clock::now();
        progress("weight allocation", 0, int(cands.size()));
        KnapsackSweep sweep;
        std::vector<int> groupNode;  // knapsack group -> node
        auto groupOf = [&](int i) {
            ChoiceGroup grp;
            for (int b : ctx.bits_) {
                grp.cost.push_back(weightElems[size_t(i)] * b);
                grp.distortion.push_back(std::max(0.0, errors.rows[size_t(i)].weightMse[size_t(errors.bitsIndex(b))]));
            }
            return grp;
        };
        std::vector<std::vector<KnapsackSweep::Ref>> wRef(cands.size(), std::vector<KnapsackSweep::Ref>(L));
        std::vector<std::vector<int64_t>> wFrontCost(cands.size());
        std::vector<std::vector<double>> wFrontDist(cands.size());
        std::vector<int> wFrontStep(cands.size(), -1);
        {
            int next = 0;
            for (size_t c = 0; c < cands.size(); ++c) {
                for (; next <= cands[c]; ++next)
                    if (quantized[size_t(next)]) {
                        sweep.addGroup(groupOf(next));
                        groupNode.push_back(next);
                    }
                for (size_t l = 0; l < L; ++l)
                    wRef[c][l] = sweep.best(int64_t(std::floor(levels[l] * double(quantPrefix[size_t(cands[c])]))));
                if (o.allocator == Allocator::Exact) {  // the whole frontier: every budget of this split
                    wFrontCost[c] = sweep.frontierCosts();
                    wFrontDist[c] = sweep.frontierDistortions();
                    wFrontStep[c] = sweep.groupCount() - 1;
                }
                o.cancel.throwIfCancelled();
            }
        }
        // weight bits per (split, level), nodes [0, split]
        std::vector<std::vector<std::vector<uint8_t>>> wBits(cands.size(), std::vector<std::vector<uint8_t>>(L));
        std::vector<std::vector<double>> wDist(cands.size(), std::vector<double>(L, 0));
        std::vector<std::vector<bool>> wFeasible(cands.size(), std::vector<bool>(L, false));
        for (size_t c = 0; c < cands.size(); ++c)
            for (size_t l = 0; l < L; ++l) {
                const auto& ref = wRef[c][l];
                if (ref.entry < 0) continue;
                wFeasible[c][l] = true;
                wDist[c][l] = ref.distortion;
                std::vector<uint8_t> bits(size_t(cands[c]) + 1, uint8_t(maxB));
                const auto choice = sweep.reconstruct(ref);
                for (size_t k = 0; k < choice.size(); ++k) bits[size_t(groupNode[k])] = uint8_t(ctx.bits_[size_t(choice[k])]);
                wBits[c][l] = std::move(bits);
            }
        ctx.lagrangian_.largestWeightFrontier = sweep.largestFrontier();
        double exactMs = msSince(t0);

        // Activations: one exact sweep per distinct budget serves every split with that budget.
        // The budgets are independent problems, each writing only its own (split, level)
        // slots: they are swept on every core (the frontier sweep above, when it runs, takes
        // its share of them), the same results in any order.
        t0 = Clock::now();
        std::map<int64_t, std::vector<std::pair<size_t, size_t>>> byBudget;
        for (size_t c = 0; c < cands.size(); ++c)
            for (size_t l = 0; l < L; ++l) byBudget[actBudget[c][l]].push_back({c, l});
        std::vector<std::vector<WorkingSetResult>> aRes(cands.size(), std::vector<WorkingSetResult>(L));
        std::vector<std::pair<int64_t, const std::vector<std::pair<size_t, size_t>>*>> budgets;
        for (const auto& [budget, list] : byBudget) budgets.push_back({budget, &list});
        auto allocate = [&](int64_t budget, const std::vector<std::pair<size_t, size_t>>& list) {
            std::vector<int> ends;
            for (auto [c, l] : list) ends.push_back(cands[c]);
            if (o.allocator == Allocator::Exact) {
                auto res = workingSetExactAllPrefixes(act, budget, ends);
                for (size_t k = 0; k < list.size(); ++k) aRes[list[k].first][list[k].second] = std::move(res[k]);
            } else {
                for (size_t k = 0; k < list.size(); ++k) {
                    auto& r = aRes[list[k].first][list[k].second];
                    r.allocation = workingSetLagrangian(act, budget, ends[k]);
                    r.exact = false;
                }
            }
        };
        {
            const int total = int(budgets.size());
            std::atomic<int> finished{0};
            std::vector<std::exception_ptr> failed(budgets.size());
            const std::thread::id caller = std::this_thread::get_id();
            eachIndexOnEveryCore(budgets.size(), [&](size_t b) {
                if (o.cancel.cancelled()) return;
                try {
                    allocate(budgets[b].first, *budgets[b].second);
                } catch (...) {
                    failed[b] = std::current_exception();
                    return;
                }
                const int n = ++finished;
                // Reported from the calling thread only (the callback is not asked to be thread-safe).
                if (std::this_thread::get_id() == caller && n < total) progress("activation allocation", n, total);
            });
            for (const auto& e : failed)
                if (e) std::rethrow_exception(e);
            o.cancel.throwIfCancelled();
            progress("activation allocation", total, total);
        }
        exactMs += msSince(t0);

        // The Lagrangian on the same instances: what the paper's solver would have lost. When
        // it is only that report (the exact allocator's answers are used), it reads the answers
        // above and runs on its own thread beside the scoring below, joined before they move.
        auto& rep = ctx.lagrangian_;
        auto compare = [&] {
            const auto t1 = Clock::now();
            double gapSum = 0;
            std::vector<ChoiceGroup> groups;
            size_t gi = 0;
            for (size_t c = 0; c < cands.size(); ++c) {
                while (gi < groupNode.size() && groupNode[gi] <= cands[c]) groups.push_back(groupOf(groupNode[gi++]));
                for (size_t l = 0; l < L; ++l) {
                    const int64_t wb = int64_t(std::floor(levels[l] * double(quantPrefix[size_t(cands[c])])));
                    const Allocation lw = knapsackLagrangian(groups, wb);
                    const Allocation la = o.allocator == Allocator::Lagrangian ? aRes[c][l].allocation
                                                                                : workingSetLagrangian(act, actBudget[c][l], cands[c]);
                    if (o.allocator == Allocator::Lagrangian) {
                        // Use the Lagrangian's weight answer for the solutions.
                        wFeasible[c][l] = lw.feasible;
                        if (lw.feasible) {
                            std::vector<uint8_t> bits(static_cast<size_t>(cands[c]) + 1, uint8_t(maxB));
                            for (size_t k = 0; k < lw.choice.size(); ++k)
                                bits[size_t(groupNode[k])] = uint8_t(ctx.bits_[size_t(lw.choice[k])]);
                            wBits[c][l] = std::move(bits);
                            wDist[c][l] = lw.distortion;
                        }
                        continue;
                    }
                    for (int which = 0; which < 2; ++which) {
                        const bool exactOk = which == 0 ? wFeasible[c][l] : aRes[c][l].allocation.feasible;
                        const Allocation& lag = which == 0 ? lw : la;
                        const double ex = which == 0 ? wDist[c][l] : aRes[c][l].allocation.distortion;
                        if (!exactOk) continue;
                        ++rep.instances;
                        if (!lag.feasible) {
                            ++rep.infeasible;
                            continue;
                        }
                        const double gap = ex > 0 ? (lag.distortion - ex) / ex : (lag.distortion > 0 ? 1.0 : 0.0);
                        if (lag.distortion > ex * (1 + 1e-12) + 1e-300) ++rep.worse;
                        if (ex > lag.distortion * (1 + 1e-12) + 1e-300) ++rep.exactWorse;
                        gapSum += std::max(0.0, gap);
                        rep.maxRelativeGap = std::max(rep.maxRelativeGap, gap);
                    }
                }
                o.cancel.throwIfCancelled();
            }
            rep.lagrangianMs = msSince(t1);
            if (rep.instances) rep.meanRelativeGap = gapSum / rep.instances;
        };
        std::future<void> compared;
        if (o.allocator == Allocator::Lagrangian) compare();
        else if (o.compareLagrangian) compared = std::async(std::launch::async, compare);
        rep.exactMs = exactMs;

        // The grid's solutions first: the frontier sweep above may still be running.
        auto addSolution = [&](int p, std::vector<uint8_t> wb8, std::vector<uint8_t> ab8, std::string label, bool exact) {
            const std::string key = solutionKey(p, wb8.data(), ab8.data(), ab8.size());
            if (ctx.solutionIndex_.count(key)) return;
            ctx.solutionIndex_[key] = int(ctx.solutions_.built_.size());
            ctx.solutions_.built_.push_back(ctx.score(p, std::move(wb8), std::move(ab8), std::move(label), exact, nullptr));
        };
        // Combine every weight budget with every activation budget.
        progress("scoring solutions", 0, int(cands.size()));
        for (size_t c = 0; c < cands.size(); ++c) {
            const int p = cands[c];
            for (size_t wl = 0; wl < L; ++wl) {
                if (!wFeasible[c][wl]) continue;
                for (size_t al = 0; al < L; ++al) {
                    const auto& ar = aRes[c][al];
                    if (!ar.allocation.feasible) continue;
                    if (!ar.exact) ++rep.inexactActivation;
                    std::vector<uint8_t> abits(size_t(p) + 1);
                    for (int i = 0; i <= p; ++i) abits[size_t(i)] = uint8_t(ctx.bits_[size_t(ar.allocation.choice[size_t(i)])]);
                    addSolution(p, wBits[c][wl], std::move(abits), "w" + levelLabel(levels[wl]) + "a" + levelLabel(levels[al]),
                                ar.exact && o.allocator == Allocator::Exact);
                }
            }
            // Uniform assignments too: the latency-optimal point of a split is not always a
            // distortion optimum of some budget (fewer activation bits speed layers up).
            for (int bw : ctx.bits_)
                for (int ba : ctx.bits_)
                    addSolution(p, std::vector<uint8_t>(size_t(p) + 1, uint8_t(bw)), std::vector<uint8_t>(size_t(p) + 1, uint8_t(ba)),
                                "uniform w" + std::to_string(bw) + "a" + std::to_string(ba), true);
        }
        progress("scoring solutions", int(cands.size()), int(cands.size()));
        // The activation frontiers (the sweep started above) and, with the weight frontiers
        // above, what budgetSolutions() combines.
        auto budget = std::make_shared<PlanningContext::BudgetFrontiers>();
        if (frontierSweep.valid()) {
            t0 = Clock::now();
            progress("activation frontiers", 0, 1);
            budget->activations = frontierSweep.get();
            for (size_t c = 0; c < cands.size(); ++c) {
                if (!budget->activations->exact(cands[c])) {
                    ++rep.budgetInexact;
                    continue;
                }
                PlanningContext::BudgetFrontiers::Split sp;
                sp.position = cands[c];
                sp.weightStep = wFrontStep[c];
                std::vector<int64_t> bits(wFrontCost[c].size());
                std::vector<int32_t> entry(bits.size());
                for (size_t i = 0; i < bits.size(); ++i) {
                    bits[i] = wFrontCost[c][i] + fixedPrefix[size_t(cands[c])];
                    entry[i] = int32_t(i);
                }
                byBytes(bits, wFrontDist[c], entry, sp.wBits, sp.wDist, sp.wEntry);
                const auto& front = budget->activations->frontier(cands[c]);
                std::vector<int64_t> abits(front.size());
                std::vector<double> adist(front.size());
                std::vector<int32_t> aentry(front.size());
                for (size_t i = 0; i < front.size(); ++i) {
                    abits[i] = front[i].peak;
                    adist[i] = front[i].distortion;
                    aentry[i] = front[i].entry;
                }
                byBytes(abits, adist, aentry, sp.aBits, sp.aDist, sp.aEntry);
                budget->splits.push_back(std::move(sp));
                std::vector<int64_t>().swap(wFrontCost[c]);
                std::vector<double>().swap(wFrontDist[c]);
            }
            rep.largestActivationFrontier = budget->activations->largestStep();
            rep.frontierMs = msSince(t0);
            progress("activation frontiers", 1, 1);
        }

        if (compared.valid()) compared.get();
        if (budget->activations) {
            budget->weights = std::move(sweep);
            budget->groupNode = std::move(groupNode);
            ctx.budget_ = std::move(budget);
        }
    }

    // Distortion of a row at `bits`: the table's column, or above the table's widest column the
    // uniform-quantizer law MSE ~ 2^(-2 bits) from that column (float16 counts as 16 bits).
    double mseAt(const std::vector<double>& perBits, int bits) const {
        const auto& errors = ctx.errors_;
        const int bi = errors.bitsIndex(bits);
        if (bi >= 0) return std::max(0.0, perBits[size_t(bi)]);
        const int top = errors.bits.empty() ? -1 : int(std::max_element(errors.bits.begin(), errors.bits.end()) - errors.bits.begin());
        if (top < 0 || bits < errors.bits[size_t(top)]) return 0.0;
        return std::max(0.0, perBits[size_t(top)]) * std::ldexp(1.0, -2 * (bits - errors.bits[size_t(top)]));
    }

    // The baselines' plans as solutions: uniform w=a=b at every split position for the baselines'
    // widths (float16 when the edge runs it — Neurosurgeon, QDMP —, 8 — U8, Edge-Only U8 —, 4 — U4 —
    // when tabulated). They join the pool like any other solution, so the selection compares
    // Auto-Split's allocations with every plan a baseline can pick, measured the same way.
    void baselineSolutions() {
        const auto& E = ctx.cost_->edgeTable();
        for (int b : {16, 8, 4}) {
            const auto* table = ctx.uniform(b);
            if (!table) continue;
            const int bi = E.bitsIndex(b);
            double wMse = 0, aMse = 0;
            int measured = 0;
            for (int p = 0; p < N; ++p) {
                const auto e = E.entry(p, bi, bi);
                measured += e.origin == sim::LatencyOrigin::Measured;
                const auto& row = ctx.errors_.rows[size_t(p)];
                if (quantized[size_t(p)]) wMse += mseAt(row.weightMse, b);
                aMse += mseAt(row.activationMse, b);
                std::vector<uint8_t> bits(size_t(p) + 1, uint8_t(b));
                const std::string key = solutionKey(p, bits.data(), bits.data(), bits.size());
                if (ctx.solutionIndex_.count(key)) continue;
                const auto& u = (*table)[size_t(p + 1)];
                Solution s;
                s.split = p;
                s.weightBits = bits;
                s.activationBits = std::move(bits);
                s.budget = "baseline uniform w" + std::to_string(b) + "a" + std::to_string(b);
                s.forBaseline = true;
                s.edgeUs = u.edgeUs;  // the baselines' own numbers, to the bit
                s.edgeMeasured = measured == 0 ? 0 : (measured == p + 1 ? 2 : 1);
                s.cloudUs = ctx.cost_->cloudSuffixUs()[size_t(p + 1)];
                s.transmitBits = u.transmitBits;
                s.messages = int(ctx.cost_->splits()[size_t(p + 1)].transmitted.size());
                s.resultsToEdge = ctx.cost_->resultTransfer(p, ResultsAt::Edge, nullptr, 0);
                s.resultsToCloud = u.toCloud;
                s.edgeWeightBits = u.edgeWeightBits;
                s.edgeActivationBits = u.edgeActivationBits;
                s.weightMse = wMse;
                s.activationMse = aMse;
                ctx.solutionIndex_[key] = int(ctx.solutions_.built_.size());
                ctx.solutions_.built_.push_back(std::move(s));
            }
        }
    }
};

CostModelOptions PlanningContext::costOptions(const ContextOptions& o) {
    CostModelOptions co;
    co.tabulateBits = ContextBuilder::baselineBits(o.bits);
    co.inputBits = o.inputBits;
    co.cloudBits = o.cloudBits;
    co.cancel = o.cancel;
    return co;
}

std::shared_ptr<const PlanningContext> PlanningContext::build(Graph g, const sim::DeviceProfile& edge,
                                                              const sim::DeviceProfile& cloud, ErrorTable errors,
                                                              ModelSource model, ContextOptions o,
                                                              const sim::MeasuredProfile* edgeMeasured) {
    ContextBuilder::validate(g, errors, edge, cloud, o);
    if (o.progress) o.progress("latency tables", 0, 2);
    auto cost = CostModel::build(g, edge, cloud, costOptions(o), edgeMeasured);
    if (o.progress) o.progress("latency tables", 2, 2);
    return build(std::move(g), std::move(cost), std::move(errors), std::move(model), std::move(o));
}

std::shared_ptr<const PlanningContext> PlanningContext::build(Graph g, std::shared_ptr<const CostModel> cost,
                                                              ErrorTable errors, ModelSource model, ContextOptions o) {
    const auto t0 = Clock::now();
    if (!cost) throw PlannerError("no cost model");
    ContextBuilder::validate(g, errors, cost->edgeDevice(), cost->cloudDevice(), o);
    if (cost->nodeCount() != int(g.nodes.size()) || cost->inputBits() != o.inputBits || cost->cloudBits() != o.cloudBits)
        throw PlannerError("the cost model was built for another graph or other input/cloud bit-widths");
    for (int b : o.bits)
        if (!cost->uniform(b))
            throw PlannerError("the cost model has no " + std::to_string(b) + "-bit table: build it with the plan's bit set");
    std::shared_ptr<PlanningContext> ctx(new PlanningContext());
    ContextBuilder b(*ctx, o);
    ctx->bits_ = ContextBuilder::sortedBits(o.bits);
    b.minB = ctx->bits_.front();
    b.maxB = ctx->bits_.back();
    ctx->graph_ = std::move(g);
    ctx->cost_ = std::move(cost);
    ctx->errors_ = std::move(errors);
    ctx->model_ = std::move(model);
    ctx->allocator_ = o.allocator;
    b.N = int(ctx->graph_.nodes.size());
    b.perNodeData();
    ctx->quantized_ = b.quantized;
    b.splitRecords();

    // Solution 0: Cloud-Only (the raw input at inputBits, the whole model in the cloud).
    Solution cloudOnly;
    cloudOnly.split = -1;
    cloudOnly.cloudUs = ctx->cost_->cloudSuffixUs()[0];
    cloudOnly.transmitBits = ctx->cost_->transmitBits(-1, nullptr, 0);
    cloudOnly.messages = int(ctx->cost_->splits()[0].transmitted.size());
    cloudOnly.resultsToEdge = ctx->cost_->resultTransfer(-1, ResultsAt::Edge, nullptr, 0);
    cloudOnly.resultsToCloud = ctx->cost_->resultTransfer(-1, ResultsAt::Cloud, nullptr, 0);
    cloudOnly.budget = "cloud-only";
    ctx->solutionIndex_[solutionKey(-1, nullptr, nullptr, 0)] = 0;
    ctx->solutions_.built_.push_back(std::move(cloudOnly));
    b.solutions();
    b.baselineSolutions();
    ctx->buildMs_ = msSince(t0);
    return ctx;
}

const std::vector<CostModel::UniformSplit>* PlanningContext::uniform(int bits) const {
    const auto tab = ContextBuilder::baselineBits(bits_);
    return std::find(tab.begin(), tab.end(), bits) == tab.end() ? nullptr : cost_->uniform(bits);
}

PlanBits PlanningContext::planBits(const Solution& s) const {
    PlanBits e;
    e.splitPosition = s.split;
    e.inputBits = inputBits();
    const size_t n = graph_.nodes.size();
    e.weightBits.assign(n, cloudBits());
    e.activationBits.assign(n, cloudBits());
    for (int i = 0; i <= s.split; ++i) {
        e.weightBits[size_t(i)] = s.weightBits[size_t(i)];
        e.activationBits[size_t(i)] = s.activationBits[size_t(i)];
    }
    return e;
}

int PlanningContext::findSolution(int split, const std::vector<int>& weightBits, const std::vector<int>& activationBits) const {
    if (split < 0) return 0;
    if (int(weightBits.size()) <= split || int(activationBits.size()) <= split) return -1;
    std::vector<uint8_t> w(size_t(split) + 1), a(size_t(split) + 1);
    for (int i = 0; i <= split; ++i) {
        w[size_t(i)] = uint8_t(weightBits[size_t(i)]);
        a[size_t(i)] = uint8_t(activationBits[size_t(i)]);
    }
    const std::string key = solutionKey(split, w.data(), a.data(), w.size());
    const auto it = solutionIndex_.find(key);
    if (it != solutionIndex_.end()) return it->second;
    std::lock_guard<std::mutex> lock(solutions_.mutex_);
    const auto added = solutions_.addedIndex_.find(key);
    return added == solutions_.addedIndex_.end() ? -1 : added->second;
}

const Solution& SolutionList::operator[](size_t i) const {
    if (i < built_.size()) return built_[i];
    std::lock_guard<std::mutex> lock(mutex_);
    return added_.at(i - built_.size());
}

size_t SolutionList::size() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return built_.size() + added_.size();
}

Solution PlanningContext::score(int p, std::vector<uint8_t> wb8, std::vector<uint8_t> ab8, std::string label, bool exact,
                                const EdgeMemory* mem) const {
    const Graph& g = graph_;
    const int N = nodeCount();
    const int maxB = bits_.back();
    const auto& E = cost_->edgeTable();
    Solution s;
    s.split = p;
    s.weightBits = std::move(wb8);
    s.activationBits = std::move(ab8);
    s.budget = std::move(label);
    s.exact = exact;
    int measured = 0;
    std::vector<int> abitsAll(size_t(N), maxB);
    for (int i = 0; i <= p; ++i) {
        const int wb = s.weightBits[size_t(i)], ab = s.activationBits[size_t(i)];
        abitsAll[size_t(i)] = ab;
        const auto e = E.entry(i, E.bitsIndex(wb), E.bitsIndex(ab));
        s.edgeUs += e.us;
        measured += e.origin == sim::LatencyOrigin::Measured;
        if (quantized_[size_t(i)]) s.weightMse += std::max(0.0, errors_.rows[size_t(i)].weightMse[size_t(errors_.bitsIndex(wb))]);
        s.activationMse += std::max(0.0, errors_.rows[size_t(i)].activationMse[size_t(errors_.bitsIndex(ab))]);
    }
    s.edgeMeasured = measured == 0 ? 0 : (measured == p + 1 ? 2 : 1);
    s.cloudUs = cost_->cloudSuffixUs()[size_t(p + 1)];
    s.transmitBits = cost_->transmitBits(p, &abitsAll, 0);
    s.messages = int(cost_->splits()[size_t(p + 1)].transmitted.size());
    s.resultsToEdge = cost_->resultTransfer(p, ResultsAt::Edge, nullptr, 0);
    s.resultsToCloud = cost_->resultTransfer(p, ResultsAt::Cloud, &abitsAll, 0);
    EdgeMemory m;
    if (mem) {
        m = *mem;
    } else {
        PlanBits assign = PlanBits::uniform(g, p, maxB, maxB, cost_->inputBits());
        for (int i = 0; i <= p; ++i) {
            assign.weightBits[size_t(i)] = s.weightBits[size_t(i)];
            assign.activationBits[size_t(i)] = s.activationBits[size_t(i)];
        }
        m = edgeMemory(g, assign);
    }
    s.edgeWeightBits = m.weightBits;
    s.edgeActivationBits = m.peakActivationBits;
    return s;
}

int PlanningContext::intern(const std::string& key, const std::function<Solution()>& make) const {
    if (const auto it = solutionIndex_.find(key); it != solutionIndex_.end()) return it->second;
    {
        std::lock_guard<std::mutex> lock(solutions_.mutex_);
        if (const auto it = solutions_.addedIndex_.find(key); it != solutions_.addedIndex_.end()) return it->second;
    }
    Solution s = make();  // outside the lock: another thread may add the same one meanwhile
    std::lock_guard<std::mutex> lock(solutions_.mutex_);
    if (const auto it = solutions_.addedIndex_.find(key); it != solutions_.addedIndex_.end()) return it->second;
    const int index = int(solutions_.built_.size() + solutions_.added_.size());
    solutions_.added_.push_back(std::move(s));
    solutions_.addedIndex_[key] = index;
    return index;
}

std::vector<int> PlanningContext::budgetSolutions(int64_t edgeMemoryBytes) const {
    std::vector<int> out;
    if (!budget_) return out;
    const BudgetFrontiers& bf = *budget_;
    const int64_t M = edgeMemoryBytes;
    auto bytes = [](int64_t bits) { return (bits + 7) / 8; };
    for (const auto& sp : bf.splits) {
        if (sp.wBits.empty() || sp.aBits.empty() || bytes(sp.wBits.front()) + bytes(sp.aBits.front()) > M) continue;
        // Two pointers: weights by bytes ascending, for each the largest activation point that
        // still fits (its index only falls as the weights take more).
        double best = std::numeric_limits<double>::infinity();
        size_t bi = 0, bj = 0;
        size_t j = sp.aBits.size();
        for (size_t i = 0; i < sp.wBits.size(); ++i) {
            const int64_t left = M - bytes(sp.wBits[i]);
            if (left < 0) break;
            while (j > 0 && bytes(sp.aBits[j - 1]) > left) --j;
            if (j == 0) break;
            const double d = sp.wDist[i] + sp.aDist[j - 1];
            if (d < best) {
                best = d;
                bi = i;
                bj = j - 1;
            }
        }
        if (!(best < std::numeric_limits<double>::infinity())) continue;
        const int p = sp.position;
        std::vector<uint8_t> wb8(size_t(p) + 1, uint8_t(bits_.back())), ab8(size_t(p) + 1);
        const auto wChoice = bf.weights.reconstruct({sp.weightStep, sp.wEntry[bi], 0, 0.0});
        for (size_t k = 0; k < wChoice.size(); ++k) wb8[size_t(bf.groupNode[k])] = uint8_t(bits_[size_t(wChoice[k])]);
        WorkingSetSweep::Point point;
        point.entry = sp.aEntry[bj];
        const auto aChoice = bf.activations->reconstruct(p, point);
        for (int i = 0; i <= p; ++i) ab8[size_t(i)] = uint8_t(bits_[size_t(aChoice[size_t(i)])]);
        const EdgeMemory mem{sp.wBits[bi], sp.aBits[bj]};
        const std::string key = solutionKey(p, wb8.data(), ab8.data(), ab8.size());
        out.push_back(intern(key, [&] {
            return score(p, wb8, ab8, "edge memory " + std::to_string(M) + " B", true, &mem);
        }));
    }
    return out;
}

std::optional<AccuracyMeasurement> PlanningContext::accuracy(int solution) const {
    std::lock_guard<std::mutex> lock(accuracyMutex_);
    const auto it = accuracy_.find(solution);
    if (it == accuracy_.end()) return std::nullopt;
    return it->second;
}

void PlanningContext::storeAccuracy(int solution, AccuracyMeasurement m) const {
    std::lock_guard<std::mutex> lock(accuracyMutex_);
    accuracy_[solution] = std::move(m);
}

AccuracyMeasurement PlanningContext::measure(int solution, const AccuracyMeasure& fn, const CancelToken& cancel,
                                             double rejectAbove) const {
    if (auto m = accuracy(solution); m && (!m->stoppedEarly() || m->certainlyAbove(rejectAbove))) return *m;
    if (solution < 0 || solution >= int(solutions_.size())) throw PlannerError("no solution " + std::to_string(solution));
    AccuracyMeasurement m = fn(planBits(solutions_[size_t(solution)]), cancel, rejectAbove);
    storeAccuracy(solution, m);
    return m;
}

}  // namespace autosplit::planner
