#include "autosplit/planner/planner.h"

#include "autosplit/planner/bit_allocation.h"
#include "autosplit/planner/mincut.h"

#include "autosplit/quant/quantize.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <limits>
#include <set>
#include <sstream>

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

const char* planKindName(PlanKind k) {
    switch (k) {
    case PlanKind::CloudOnly: return "CLOUD_ONLY";
    case PlanKind::Split: return "SPLIT";
    case PlanKind::EdgeOnly: return "EDGE_ONLY";
    }
    return "?";
}

void Constraints::validate() const {
    if (!std::isfinite(uplinkBps) || uplinkBps <= 0)
        throw PlannerError("uplink bandwidth must be a positive number of bits per second, got " + std::to_string(uplinkBps));
    if (edgeMemoryBytes < 0)
        throw PlannerError("edge memory must not be negative, got " + std::to_string(edgeMemoryBytes) + " bytes");
    if (!std::isfinite(maxDropPercent) || maxDropPercent < 0 || maxDropPercent > 100)
        throw PlannerError("accuracy-drop threshold must be within 0..100%, got " + std::to_string(maxDropPercent) + "%");
    if (!std::isfinite(messageOverheadMs) || messageOverheadMs < 0)
        throw PlannerError("per-message overhead must not be negative, got " + std::to_string(messageOverheadMs) + " ms");
}

const Plan* PlanSet::baseline(const std::string& name) const {
    for (const auto& b : baselines)
        if (b.name == name) return &b;
    return nullptr;
}

// ------------------------------------------------------------------ context build

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

    void validateInputs(const Graph& g, const ErrorTable& errors, const sim::DeviceProfile& edge,
                        const sim::DeviceProfile& cloud) {
        if (o.bits.empty()) throw PlannerError("the bit set is empty");
        auto bits = o.bits;
        std::sort(bits.begin(), bits.end());
        bits.erase(std::unique(bits.begin(), bits.end()), bits.end());
        for (int b : bits) {
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
        ctx.bits_ = bits;
        minB = bits.front();
        maxB = bits.back();
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
        inputLive.assign(size_t(N), 0);
        nodeLive.assign(size_t(N), 0);
        for (int v = 0; v < N; ++v) {
            auto& var = act.variables[size_t(v)];
            const auto& row = ctx.errors_.rows[size_t(v)];
            for (int b : ctx.bits_) {
                var.bits.push_back(b);
                var.distortion.push_back(std::max(0.0, row.activationMse[size_t(ctx.errors_.bitsIndex(b))]));
            }
        }
        for (const auto& L : tensorLifetimes(g)) {
            const int s = std::max(L.start, 0);
            const int e = std::min(L.end, N - 1);
            if (s > e) continue;
            if (L.start < 0) {
                for (int t = s; t <= e; ++t) {
                    act.constant[size_t(t)] += L.elements * ctx.inputBits_;
                    inputLive[size_t(t)] += L.elements;
                }
            } else {
                act.variables[size_t(L.start)].segments.push_back({s, e, L.elements});
                for (int t = s; t <= e; ++t) nodeLive[size_t(t)] += L.elements;
            }
        }
        for (int v = 0; v < N; ++v)
            if (act.variables[size_t(v)].segments.empty()) act.variables[size_t(v)].segments.push_back({v, v, 0});
    }

    int64_t transmitBits(int position, const std::vector<int>* abits, int uniformBits) const {
        const Graph& g = ctx.graph_;
        int64_t bits = 0;
        for (int t : ctx.splitInfo_[size_t(position + 1)].transmitted) {
            const Tensor& tt = g.tensors[size_t(t)];
            const int b = tt.producer < 0 ? ctx.inputBits_ : (abits ? (*abits)[size_t(tt.producer)] : uniformBits);
            bits += std::max<int64_t>(0, tt.elementCount()) * b;
        }
        return bits;
    }

    void tables(const std::vector<int>& tabulate) {
        const Graph& g = ctx.graph_;
        const auto& E = ctx.edgeTable_;
        const auto& C = ctx.cloudTable_;
        const int ci = C.bitsIndex(ctx.cloudBits_);
        ctx.cloudSuffixUs_.assign(size_t(N) + 1, 0);
        ctx.cloudNodeUs_.assign(size_t(N), 0);
        for (int i = 0; i < N; ++i) ctx.cloudNodeUs_[size_t(i)] = C.us(i, ci, ci);
        for (int p = -1; p < N; ++p) ctx.cloudSuffixUs_[size_t(p + 1)] = C.rangeUs(p + 1, N - 1, ci, ci);
        const int e16 = E.bitsIndex(16);
        if (e16 >= 0) {
            ctx.edgeFloatUs_.assign(size_t(N), 0);
            for (int i = 0; i < N; ++i) ctx.edgeFloatUs_[size_t(i)] = E.us(i, e16, e16);
        }
        for (int b : tabulate) {
            const int bi = E.bitsIndex(b);
            if (bi < 0) continue;
            std::vector<PlanningContext::UniformSplit> u(size_t(N) + 1);
            PlanBits assign = PlanBits::uniform(g, -1, b, b, ctx.inputBits_);
            for (int p = -1; p < N; ++p) {
                auto& x = u[size_t(p + 1)];
                x.edgeUs = p >= 0 ? E.rangeUs(0, p, bi, bi) : 0.0;
                x.transmitBits = transmitBits(p, nullptr, b);
                assign.splitPosition = p;
                const EdgeMemory m = edgeMemory(g, assign);
                x.edgeWeightBits = m.weightBits;
                x.edgeActivationBits = m.peakActivationBits;
            }
            ctx.uniform_[b] = std::move(u);
        }
    }

    void splitRecords() {
        const Graph& g = ctx.graph_;
        PlanBits low = PlanBits::uniform(g, -1, minB, minB, ctx.inputBits_);
        for (int i = 0; i < N; ++i)
            if (!quantized[size_t(i)]) low.weightBits[size_t(i)] = maxB;
        ctx.records_.clear();
        for (int p = -1; p < N; ++p) {
            SplitRecord r;
            r.position = p;
            r.transmitted = ctx.splitInfo_[size_t(p + 1)].transmitted;
            r.minTransmitBits = transmitBits(p, nullptr, minB);
            low.splitPosition = p;
            const EdgeMemory m = edgeMemory(g, low);
            r.minEdgeBits = m.weightBits + m.peakActivationBits;
            r.candidate = p >= 0 && r.minTransmitBits < ctx.rawInputBits_;
            ctx.records_.push_back(std::move(r));
        }
    }

    void solutions() {
        const Graph& g = ctx.graph_;
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
                peak = std::max(peak, double(inputLive[size_t(s)]) * ctx.inputBits_ + double(nodeLive[size_t(s)]) * levels[l]);
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
        t0 = Clock::now();
        std::map<int64_t, std::vector<std::pair<size_t, size_t>>> byBudget;
        for (size_t c = 0; c < cands.size(); ++c)
            for (size_t l = 0; l < L; ++l) byBudget[actBudget[c][l]].push_back({c, l});
        std::vector<std::vector<WorkingSetResult>> aRes(cands.size(), std::vector<WorkingSetResult>(L));
        int done = 0;
        for (const auto& [budget, list] : byBudget) {
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
            progress("activation allocation", ++done, int(byBudget.size()));
            o.cancel.throwIfCancelled();
        }
        exactMs += msSince(t0);

        // The Lagrangian on the same instances: what the paper's solver would have lost.
        auto& rep = ctx.lagrangian_;
        if (o.compareLagrangian || o.allocator == Allocator::Lagrangian) {
            t0 = Clock::now();
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
                            std::vector<uint8_t> bits(size_t(cands[c]) + 1, uint8_t(maxB));
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
            rep.lagrangianMs = msSince(t0);
            if (rep.instances) rep.meanRelativeGap = gapSum / rep.instances;
        }
        rep.exactMs = exactMs;

        const auto& E = ctx.edgeTable_;
        auto addSolution = [&](int p, std::vector<uint8_t> wb8, std::vector<uint8_t> ab8, std::string label, bool exact) {
            const std::string key = solutionKey(p, wb8.data(), ab8.data(), ab8.size());
            if (ctx.solutionIndex_.count(key)) return;
            Solution s;
            s.split = p;
            s.weightBits = std::move(wb8);
            s.activationBits = std::move(ab8);
            s.budget = std::move(label);
            s.exact = exact;
            int measured = 0;
            PlanBits assign = PlanBits::uniform(g, p, maxB, maxB, ctx.inputBits_);
            std::vector<int> abitsAll(size_t(N), maxB);
            for (int i = 0; i <= p; ++i) {
                const int wb = s.weightBits[size_t(i)], ab = s.activationBits[size_t(i)];
                assign.weightBits[size_t(i)] = wb;
                assign.activationBits[size_t(i)] = ab;
                abitsAll[size_t(i)] = ab;
                const auto e = E.entry(i, E.bitsIndex(wb), E.bitsIndex(ab));
                s.edgeUs += e.us;
                measured += e.origin == sim::LatencyOrigin::Measured;
                if (quantized[size_t(i)])
                    s.weightMse += std::max(0.0, errors.rows[size_t(i)].weightMse[size_t(errors.bitsIndex(wb))]);
                s.activationMse += std::max(0.0, errors.rows[size_t(i)].activationMse[size_t(errors.bitsIndex(ab))]);
            }
            s.edgeMeasured = measured == 0 ? 0 : (measured == p + 1 ? 2 : 1);
            s.cloudUs = ctx.cloudSuffixUs_[size_t(p + 1)];
            s.transmitBits = transmitBits(p, &abitsAll, 0);
            s.messages = int(ctx.splitInfo_[size_t(p + 1)].transmitted.size());
            const EdgeMemory m = edgeMemory(g, assign);
            s.edgeWeightBits = m.weightBits;
            s.edgeActivationBits = m.peakActivationBits;
            ctx.solutionIndex_[key] = int(ctx.solutions_.size());
            ctx.solutions_.push_back(std::move(s));
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
        const auto& E = ctx.edgeTable_;
        for (int b : {16, 8, 4}) {
            const auto it = ctx.uniform_.find(b);
            if (it == ctx.uniform_.end()) continue;
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
                const auto& u = it->second[size_t(p + 1)];
                Solution s;
                s.split = p;
                s.weightBits = bits;
                s.activationBits = std::move(bits);
                s.budget = "baseline uniform w" + std::to_string(b) + "a" + std::to_string(b);
                s.forBaseline = true;
                s.edgeUs = u.edgeUs;  // the baselines' own numbers, to the bit
                s.edgeMeasured = measured == 0 ? 0 : (measured == p + 1 ? 2 : 1);
                s.cloudUs = ctx.cloudSuffixUs_[size_t(p + 1)];
                s.transmitBits = u.transmitBits;
                s.messages = int(ctx.splitInfo_[size_t(p + 1)].transmitted.size());
                s.edgeWeightBits = u.edgeWeightBits;
                s.edgeActivationBits = u.edgeActivationBits;
                s.weightMse = wMse;
                s.activationMse = aMse;
                ctx.solutionIndex_[key] = int(ctx.solutions_.size());
                ctx.solutions_.push_back(std::move(s));
            }
        }
    }
};

std::shared_ptr<const PlanningContext> PlanningContext::build(Graph g, const sim::DeviceProfile& edge,
                                                              const sim::DeviceProfile& cloud, ErrorTable errors,
                                                              ModelSource model, ContextOptions o,
                                                              const sim::MeasuredProfile* edgeMeasured) {
    const auto t0 = Clock::now();
    std::shared_ptr<PlanningContext> ctx(new PlanningContext());
    ContextBuilder b(*ctx, o);
    b.validateInputs(g, errors, edge, cloud);
    ctx->graph_ = std::move(g);
    ctx->errors_ = std::move(errors);
    ctx->model_ = std::move(model);
    ctx->edge_ = edge;
    ctx->cloud_ = cloud;
    ctx->inputBits_ = o.inputBits;
    ctx->cloudBits_ = o.cloudBits;
    ctx->allocator_ = o.allocator;
    b.N = int(ctx->graph_.nodes.size());
    try {
        ctx->analysis_ = analyze(ctx->graph_);
    } catch (const Error& e) {
        throw PlannerError(std::string("cannot plan: ") + e.what());
    }
    ctx->splitInfo_ = enumerateSplits(ctx->graph_);
    ctx->rawInputBits_ = rawInputElements(ctx->graph_) * ctx->inputBits_;
    b.progress("latency tables", 0, 2);
    ctx->edgeTable_ = sim::LatencyTable::build(ctx->analysis_.layers, edge, edgeMeasured, o.cancel);
    b.progress("latency tables", 1, 2);
    ctx->cloudTable_ = sim::LatencyTable::build(ctx->analysis_.layers, cloud, nullptr, o.cancel);
    b.progress("latency tables", 2, 2);
    b.perNodeData();
    std::vector<int> tab = ctx->bits_;
    tab.push_back(8);
    tab.push_back(16);
    std::sort(tab.begin(), tab.end());
    tab.erase(std::unique(tab.begin(), tab.end()), tab.end());
    b.tables(tab);
    b.splitRecords();

    // Solution 0: Cloud-Only (the raw input at inputBits, the whole model in the cloud).
    Solution cloudOnly;
    cloudOnly.split = -1;
    cloudOnly.cloudUs = ctx->cloudSuffixUs_[0];
    cloudOnly.transmitBits = b.transmitBits(-1, nullptr, 0);
    cloudOnly.messages = int(ctx->splitInfo_[0].transmitted.size());
    cloudOnly.budget = "cloud-only";
    ctx->solutionIndex_[solutionKey(-1, nullptr, nullptr, 0)] = 0;
    ctx->solutions_.push_back(std::move(cloudOnly));
    b.solutions();
    b.baselineSolutions();
    ctx->buildMs_ = msSince(t0);
    return ctx;
}

const std::vector<PlanningContext::UniformSplit>* PlanningContext::uniform(int bits) const {
    const auto it = uniform_.find(bits);
    return it == uniform_.end() ? nullptr : &it->second;
}

PlanBits PlanningContext::planBits(const Solution& s) const {
    PlanBits e;
    e.splitPosition = s.split;
    e.inputBits = inputBits_;
    const size_t n = graph_.nodes.size();
    e.weightBits.assign(n, cloudBits_);
    e.activationBits.assign(n, cloudBits_);
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
    const auto it = solutionIndex_.find(solutionKey(split, w.data(), a.data(), w.size()));
    return it == solutionIndex_.end() ? -1 : it->second;
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

AccuracyMeasurement PlanningContext::measure(int solution, const AccuracyMeasure& fn, const CancelToken& cancel) const {
    if (auto m = accuracy(solution)) return *m;
    if (solution < 0 || solution >= int(solutions_.size())) throw PlannerError("no solution " + std::to_string(solution));
    AccuracyMeasurement m = fn(planBits(solutions_[size_t(solution)]), cancel);
    storeAccuracy(solution, m);
    return m;
}

// ------------------------------------------------------------------ replan

namespace {

std::string originOf(int measured, int total) {
    if (measured == 0 || total == 0) return "simulated";
    return measured == total ? "measured" : "mixed";
}

PlanKind kindOf(int position, int nodes) {
    if (position < 0) return PlanKind::CloudOnly;
    return position >= nodes - 1 ? PlanKind::EdgeOnly : PlanKind::Split;
}

int64_t bytesOf(int64_t bits) { return (bits + 7) / 8; }

double transmitMs(int64_t bits, int messages, const Constraints& c) {
    return double(bits) / c.uplinkBps * 1e3 + messages * c.messageOverheadMs;
}

std::vector<Plan::Sent> sentTensors(const PlanningContext& ctx, const std::vector<int>& tensors,
                                    const std::vector<int>& abits, int uniformBits) {
    std::vector<Plan::Sent> out;
    for (int t : tensors) {
        const Tensor& tt = ctx.graph().tensors[size_t(t)];
        Plan::Sent s;
        s.tensor = t;
        s.elements = std::max<int64_t>(0, tt.elementCount());
        s.bits = tt.producer < 0 ? ctx.inputBits()
                                 : (size_t(tt.producer) < abits.size() ? abits[size_t(tt.producer)] : uniformBits);
        out.push_back(s);
    }
    return out;
}

int cloudMeasured(const PlanningContext& ctx, int from) {
    const auto& C = ctx.cloudTable();
    const int ci = C.bitsIndex(ctx.cloudBits());
    int m = 0;
    for (int i = from; i < ctx.nodeCount(); ++i) m += C.entry(i, ci, ci).origin == sim::LatencyOrigin::Measured;
    return m;
}

Plan uniformPlan(const PlanningContext& ctx, int position, int bits, const Constraints& c, const std::string& name) {
    const int N = ctx.nodeCount();
    const auto* u = ctx.uniform(bits);
    Plan p;
    p.name = name;
    p.kind = kindOf(position, N);
    p.splitPosition = position;
    p.splitAfter = position >= 0 ? ctx.graph().nodes[size_t(position)].name : std::string();
    const auto& x = (*u)[size_t(position + 1)];
    p.weightBits.assign(size_t(position + 1), bits);
    p.activationBits.assign(size_t(position + 1), bits);
    p.transmitted = sentTensors(ctx, ctx.splits()[size_t(position + 1)].transmitted, p.activationBits, bits);
    p.latency.edgeMs = x.edgeUs / 1e3;
    p.latency.cloudMs = ctx.cloudSuffixUs()[size_t(position + 1)] / 1e3;
    p.latency.transmitMs = transmitMs(x.transmitBits, int(p.transmitted.size()), c);
    p.latency.totalMs = p.latency.edgeMs + p.latency.transmitMs + p.latency.cloudMs;
    const int eb = ctx.edgeTable().bitsIndex(bits);
    int em = 0;
    for (int i = 0; i <= position; ++i) em += ctx.edgeTable().entry(i, eb, eb).origin == sim::LatencyOrigin::Measured;
    p.latency.edgeOrigin = originOf(em, position + 1);
    p.latency.cloudOrigin = originOf(cloudMeasured(ctx, position + 1), N - position - 1);
    p.edgeWeightBytes = bytesOf(x.edgeWeightBits);
    p.edgeActivationBytes = bytesOf(x.edgeActivationBits);
    p.fitsMemory = p.edgeWeightBytes + p.edgeActivationBytes <= c.edgeMemoryBytes;
    const auto& errors = ctx.errors();
    const int bi = errors.bitsIndex(bits);
    if (bi >= 0)
        for (int i = 0; i <= position; ++i) {
            if (errors.rows[size_t(i)].weightTensor >= 0) p.mseProxy += errors.rows[size_t(i)].weightMse[size_t(bi)];
            p.mseProxy += errors.rows[size_t(i)].activationMse[size_t(bi)];
        }
    p.solution = ctx.findSolution(position, p.weightBits, p.activationBits);
    if (p.solution >= 0) p.accuracy = ctx.accuracy(p.solution);
    return p;
}

// Best prefix split at uniform bits among those whose edge part fits (`filter` picks allowed
// positions). Cloud-Only when nothing fits.
Plan bestUniform(const PlanningContext& ctx, int bits, const Constraints& c, const std::string& name,
                 const std::function<bool(int)>& filter) {
    if (!ctx.uniform(bits)) {
        Plan p = planFor(ctx, 0, c, name);
        p.available = false;
        p.note = "the edge device does not run " + std::to_string(bits) + "-bit layers";
        return p;
    }
    Plan best;
    bool have = false;
    for (int pos = -1; pos < ctx.nodeCount(); ++pos) {
        if (!filter(pos)) continue;
        Plan p = uniformPlan(ctx, pos, bits, c, name);
        if (!p.fitsMemory) continue;
        if (!have || p.latency.totalMs < best.latency.totalMs) {
            best = std::move(p);
            have = true;
        }
    }
    if (!have) {
        best = planFor(ctx, 0, c, name);
        best.note = "no split fits the edge memory at " + std::to_string(bits) + " bits";
    }
    return best;
}

// DADS / QDMP: minimum cut at float16 on the DAG.
std::pair<Plan, Plan> minCutPlans(const PlanningContext& ctx, const Constraints& c) {
    const Graph& g = ctx.graph();
    const int N = ctx.nodeCount();
    const int fb = 16;
    if (ctx.edgeFloatUs().empty() || !ctx.uniform(fb)) {
        Plan p = planFor(ctx, 0, c, "qdmp");
        p.available = false;
        p.note = "the edge device does not run 16-bit layers";
        Plan e = p;
        e.name = "qdmp-e";
        return {p, e};
    }
    CutProblem cp;
    cp.edgeCost = ctx.edgeFloatUs();
    cp.cloudCost = ctx.cloudNodeUs();
    std::vector<int> dataTensor;
    for (size_t t = 0; t < g.tensors.size(); ++t) {
        const Tensor& tt = g.tensors[t];
        if (tt.isWeight() || tt.consumers.empty()) continue;
        if (tt.producer < 0 && !tt.isGraphInput) continue;
        CutProblem::Data d;
        d.producer = tt.producer;
        std::set<int> cons(tt.consumers.begin(), tt.consumers.end());
        d.consumers.assign(cons.begin(), cons.end());
        const int bits = tt.producer < 0 ? ctx.inputBits() : fb;
        d.transferCost = (double(std::max<int64_t>(0, tt.elementCount())) * bits / c.uplinkBps * 1e3 + c.messageOverheadMs) * 1e3;  // µs
        cp.data.push_back(std::move(d));
        dataTensor.push_back(int(t));
    }
    const CutResult cut = minimumCut(cp);
    Plan p;
    p.name = "qdmp";
    int last = -1, count = 0;
    for (int v = 0; v < N; ++v)
        if (cut.onEdge[size_t(v)]) {
            last = v;
            ++count;
        }
    const bool prefix = count == last + 1;
    p.splitPosition = prefix ? last : -2;
    p.kind = count == 0 ? PlanKind::CloudOnly : (count == N ? PlanKind::EdgeOnly : PlanKind::Split);
    if (!prefix)
        for (int v = 0; v < N; ++v)
            if (cut.onEdge[size_t(v)]) p.edgeNodes.push_back(v);
    p.splitAfter = last >= 0 ? g.nodes[size_t(last)].name : std::string();
    std::vector<int> sent;
    int64_t sentBits = 0;
    for (size_t i = 0; i < cp.data.size(); ++i) {
        const auto& d = cp.data[i];
        if (d.producer >= 0 && !cut.onEdge[size_t(d.producer)]) continue;
        bool toCloud = false;
        for (int cns : d.consumers) toCloud |= !cut.onEdge[size_t(cns)];
        if (!toCloud) continue;
        sent.push_back(dataTensor[i]);
    }
    std::vector<int> abits(size_t(N), 0);
    for (int v = 0; v < N; ++v)
        if (cut.onEdge[size_t(v)]) abits[size_t(v)] = fb;
    p.transmitted = sentTensors(ctx, sent, abits, fb);
    for (const auto& s : p.transmitted) sentBits += s.elements * s.bits;
    int em = 0;
    const int e16 = ctx.edgeTable().bitsIndex(fb);
    const int ci = ctx.cloudTable().bitsIndex(ctx.cloudBits());
    int cm = 0;
    for (int v = 0; v < N; ++v) {
        if (cut.onEdge[size_t(v)]) {
            p.latency.edgeMs += ctx.edgeFloatUs()[size_t(v)] / 1e3;
            em += ctx.edgeTable().entry(v, e16, e16).origin == sim::LatencyOrigin::Measured;
            p.weightBits.resize(size_t(v) + 1, 0);
            p.activationBits.resize(size_t(v) + 1, 0);
            p.weightBits[size_t(v)] = fb;
            p.activationBits[size_t(v)] = fb;
        } else {
            p.latency.cloudMs += ctx.cloudNodeUs()[size_t(v)] / 1e3;
            cm += ctx.cloudTable().entry(v, ci, ci).origin == sim::LatencyOrigin::Measured;
        }
    }
    p.latency.transmitMs = transmitMs(sentBits, int(p.transmitted.size()), c);
    p.latency.totalMs = p.latency.edgeMs + p.latency.transmitMs + p.latency.cloudMs;
    p.latency.edgeOrigin = originOf(em, count);
    p.latency.cloudOrigin = originOf(cm, N - count);
    // Edge memory at 16 bits: QDMP keeps the whole model on the edge, QDMP-E only the edge part.
    // The working set is that of the schedule prefix up to the last edge node (an upper bound
    // for a non-prefix cut).
    const EdgeMemory whole = edgeMemory(g, PlanBits::uniform(g, N - 1, fb, fb, ctx.inputBits()));
    const EdgeMemory upto = edgeMemory(g, PlanBits::uniform(g, last, fb, fb, ctx.inputBits()));
    int64_t edgeWeights = 0;
    {
        std::vector<bool> counted(g.tensors.size(), false);
        for (int v = 0; v < N; ++v)
            if (cut.onEdge[size_t(v)])
                for (int t : g.nodes[size_t(v)].inputs)
                    if (t >= 0 && !counted[size_t(t)] && g.tensors[size_t(t)].isWeight() && g.tensors[size_t(t)].data->isFloat()) {
                        counted[size_t(t)] = true;
                        edgeWeights += g.tensors[size_t(t)].data->elementCount() * fb;
                    }
    }
    p.edgeActivationBytes = bytesOf(upto.peakActivationBits);
    if (prefix && count > 0) {  // the stored float16 solution of that prefix: measurable, selectable
        p.solution = ctx.findSolution(last, p.weightBits, p.activationBits);
        if (p.solution >= 0) p.accuracy = ctx.accuracy(p.solution);
    }
    Plan e = p;
    e.name = "qdmp-e";
    p.edgeWeightBytes = bytesOf(whole.weightBits);
    e.edgeWeightBytes = bytesOf(edgeWeights);
    p.fitsMemory = p.edgeWeightBytes + p.edgeActivationBytes <= c.edgeMemoryBytes;
    e.fitsMemory = e.edgeWeightBytes + e.edgeActivationBytes <= c.edgeMemoryBytes;
    p.note = "whole model stored on the edge at 16 bits";
    e.note = "only the edge part stored on the edge";
    if (!prefix) {
        p.note += "; the cut is not a schedule prefix (the evaluator cannot run it: not selectable)";
        e.note += "; the cut is not a schedule prefix (the evaluator cannot run it: not selectable)";
    }
    return {p, e};
}

std::vector<Plan> baselines(const PlanningContext& ctx, const Constraints& c) {
    std::vector<Plan> out;
    const int N = ctx.nodeCount();
    out.push_back(planFor(ctx, 0, c, "cloud-only"));
    {
        Plan ns = bestUniform(ctx, 16, c, "neurosurgeon", [&](int pos) {
            return ctx.splits()[size_t(pos + 1)].transmitted.size() <= 1;
        });
        if (ns.available) ns.note = "single-tensor cut, float16 on both sides";
        out.push_back(std::move(ns));
    }
    auto [qdmp, qdmpE] = minCutPlans(ctx, c);
    out.push_back(std::move(qdmp));
    out.push_back(std::move(qdmpE));
    out.push_back(bestUniform(ctx, 8, c, "u8", [](int) { return true; }));
    out.push_back(bestUniform(ctx, 4, c, "u4", [](int) { return true; }));
    {
        Plan eo = bestUniform(ctx, 8, c, "edge-only-u8", [&](int pos) { return pos == N - 1; });
        out.push_back(std::move(eo));
    }
    return out;
}

}  // namespace

Plan planFor(const PlanningContext& ctx, int solution, const Constraints& c, const std::string& name) {
    const Solution& s = ctx.solutions()[size_t(solution)];
    const int N = ctx.nodeCount();
    Plan p;
    p.name = name;
    p.solution = solution;
    p.splitPosition = s.split;
    p.kind = kindOf(s.split, N);
    p.splitAfter = s.split >= 0 ? ctx.graph().nodes[size_t(s.split)].name : std::string();
    p.weightBits.assign(s.weightBits.begin(), s.weightBits.end());
    p.activationBits.assign(s.activationBits.begin(), s.activationBits.end());
    p.transmitted = sentTensors(ctx, ctx.splits()[size_t(s.split + 1)].transmitted, p.activationBits, 0);
    p.latency.edgeMs = s.edgeUs / 1e3;
    p.latency.cloudMs = s.cloudUs / 1e3;
    p.latency.transmitMs = transmitMs(s.transmitBits, s.messages, c);
    p.latency.totalMs = p.latency.edgeMs + p.latency.transmitMs + p.latency.cloudMs;
    p.latency.edgeOrigin = s.edgeMeasured == 0 ? "simulated" : (s.edgeMeasured == 2 ? "measured" : "mixed");
    p.latency.cloudOrigin = originOf(cloudMeasured(ctx, s.split + 1), N - s.split - 1);
    p.edgeWeightBytes = bytesOf(s.edgeWeightBits);
    p.edgeActivationBytes = bytesOf(s.edgeActivationBits);
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
    ps->candidates.reserve(sols.size());
    for (size_t i = 0; i < sols.size(); ++i) {
        const Solution& s = sols[i];
        if (s.split >= 0 && s.edgeBytes() > c.edgeMemoryBytes) continue;
        ScoredSolution x;
        x.solution = int(i);
        x.edgeMs = s.edgeUs / 1e3;
        x.cloudMs = s.cloudUs / 1e3;
        x.transmitMs = transmitMs(s.transmitBits, s.messages, c);
        x.totalMs = x.edgeMs + x.transmitMs + x.cloudMs;
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
        if (!acc) {
            ps->pending.push_back(sol);
            continue;
        }
        if (acc->drop <= c.maxDropPercent) {
            chosen = sol;
            break;
        }
        ++rejected;
        if (!rejectedBest || acc->drop < rejectedBest->drop) rejectedBest = acc;
    }
    if (chosen < 0) chosen = 0;
    ps->selected = planFor(ctx, chosen, c, "auto-split");
    std::string sameAs;  // baselines whose plan is the selected one
    for (const auto& b : ps->baselines)
        if (b.solution == chosen && b.available && b.fitsMemory && b.name != "cloud-only")
            sameAs += (sameAs.empty() ? "" : ", ") + b.name;

    std::ostringstream why;
    const bool anyEdge = ps->candidates.size() > 1;
    if (!anyEdge) {
        int64_t smallest = std::numeric_limits<int64_t>::max();
        for (const auto& r : ctx.splitRecords())
            if (r.candidate) smallest = std::min(smallest, bytesOf(r.minEdgeBits));
        if (smallest == std::numeric_limits<int64_t>::max())
            why << "no split sends less than the raw input; Cloud-Only";
        else
            why << "infeasible: the edge memory (" << c.edgeMemoryBytes << " B) is below every split's need at "
                << ctx.bits().front() << " bits (smallest " << smallest << " B); Cloud-Only";
    } else if (chosen == 0) {
        if (rejected) {
            why << rejected << " faster plan(s) measured above the " << c.maxDropPercent
                << "% threshold (best " << rejectedBest->drop << "% " << rejectedBest->metric << "); Cloud-Only";
            // Cloud-Only is accepted without a measurement; when it was measured (see
            // planWithMeasurement) and fails the threshold itself, the metric cannot tell plans
            // apart on these inputs: say so rather than let the fallback look like a verdict.
            if (const auto co = ctx.accuracy(0); co && co->drop > c.maxDropPercent)
                why << "; warning: Cloud-Only itself (float16 cloud, " << ctx.inputBits() << "-bit input) measures "
                    << co->drop << "% " << co->metric << " on " << co->data
                    << ", above the threshold: the inputs or the metric cannot tell plans apart (use real inputs, --data DIR)";
        }
        else if (!ps->pending.empty())
            why << "Cloud-Only until the faster plans are measured";
        else
            why << "Cloud-Only is the fastest plan";
    } else {
        const auto& a = *ps->selected.accuracy;
        why << "fastest plan within the " << c.maxDropPercent << "% threshold (measured " << a.drop << "% "
            << a.metric << " on " << a.samples << " inputs)";
        if (!sameAs.empty()) why << "; the same plan as baseline " << sameAs;
        if (rejected) why << "; " << rejected << " faster plan(s) measured above it";
    }
    if (!ps->pending.empty()) why << "; provisional: " << ps->pending.size() << " faster plan(s) not measured yet";
    ps->reason = why.str();
    ps->replanMs = msSince(t0);
    return ps;
}

std::shared_ptr<const PlanSet> planWithMeasurement(const PlanningContext& ctx, const Constraints& c,
                                                   const AccuracyMeasure& measure, const CancelToken& cancel,
                                                   int maxMeasurements) {
    int taken = 0;
    while (true) {
        auto ps = replan(ctx, c);
        // Falling back to Cloud-Only after rejections: measure Cloud-Only once too, so the
        // reason can tell a real verdict from inputs on which even Cloud-Only fails.
        if (ps->pending.empty() && measure && ps->selected.solution == 0 && ps->candidates.size() > 1 &&
            !ctx.accuracy(0) && ps->reason.find("measured above") != std::string::npos) {
            cancel.throwIfCancelled();
            ctx.measure(0, measure, cancel);
            ++taken;
            continue;
        }
        if (ps->pending.empty() || !measure || taken >= maxMeasurements) {
            auto out = std::make_shared<PlanSet>(*ps);
            out->measured = taken;
            if (!out->pending.empty() && measure)
                out->reason += "; stopped after " + std::to_string(taken) + " measurements";
            return out;
        }
        cancel.throwIfCancelled();
        ctx.measure(ps->pending.front(), measure, cancel);
        ++taken;
    }
}

}  // namespace autosplit::planner
