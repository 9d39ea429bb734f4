// Bit allocation (Auto-Split §4.2): pick one bit-width per layer to minimize the summed
// quantization error under a memory budget.
//
// Two problem shapes:
//  - Knapsack (weights): every group has options (cost, distortion) and the costs add up.
//    Σ cost ≤ budget is a multiple-choice knapsack.
//  - Working set (activations): every variable is live over steps of the schedule and the
//    constraint holds at every step: max_s Σ_{v live at s} elements(v, s) · bits(v) ≤ budget.
//
// Both have an exact solver and the paper's Lagrangian (Shoham–Gersho: per-variable lower
// convex hull, bisection on λ). The Lagrangian only reaches convex-hull points, so it is never
// better than the exact solver and can be worse on non-convex instances.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace autosplit::planner {

struct ChoiceGroup {
    std::vector<int64_t> cost;        // per option, >= 0
    std::vector<double> distortion;   // per option, >= 0
};

struct Allocation {
    bool feasible = false;
    std::vector<int> choice;  // option per group / variable
    int64_t cost = 0;         // knapsack: Σ cost; working set: peak
    double distortion = 0;
};

// Exact multiple-choice knapsack: minimize Σ distortion s.t. Σ cost <= budget.
Allocation knapsackExact(const std::vector<ChoiceGroup>& groups, int64_t budget);
// Shoham–Gersho Lagrangian for the same problem.
Allocation knapsackLagrangian(const std::vector<ChoiceGroup>& groups, int64_t budget);

// Exact Pareto frontier of (Σ cost, Σ distortion) over a growing prefix of groups, with parent
// pointers, so the optimum of every prefix at every budget can be read during one sweep and
// reconstructed afterwards. Exact: a partial solution is dropped only when another one has
// both lower-or-equal cost and lower-or-equal distortion.
class KnapsackSweep {
public:
    // Adds a group; the frontier then covers groups [0, groupCount()).
    void addGroup(const ChoiceGroup& g);
    int groupCount() const { return int(steps_.size()); }
    size_t frontierSize() const { return cost_.size(); }
    size_t largestFrontier() const { return largest_; }

    // Best frontier entry with cost <= budget at the current prefix: {entry, ...} or entry -1.
    struct Ref {
        int step = -1;   // groupCount() - 1 at query time (-1: no group yet)
        int entry = -1;  // -1: infeasible
        int64_t cost = 0;
        double distortion = 0;
    };
    Ref best(int64_t budget) const;
    // The frontier of the current prefix: costs ascending, distortions strictly falling.
    const std::vector<int64_t>& frontierCosts() const { return cost_; }
    const std::vector<double>& frontierDistortions() const { return dist_; }
    // A Ref to entry `entry` of the current prefix's frontier.
    Ref at(int entry) const;
    // Choices of groups [0, ref.step] for a Ref returned earlier.
    std::vector<int> reconstruct(const Ref& ref) const;

private:
    struct Step {
        std::vector<int32_t> parent;  // index in the previous step's frontier
        std::vector<uint8_t> option;
    };
    std::vector<Step> steps_;
    std::vector<int64_t> cost_{0};
    std::vector<double> dist_{0.0};
    size_t largest_ = 1;
};

// Working-set problem. Variable v has options (bits[k], distortion[k]) and live segments
// (first step, last step, elements); the load at step s is constant[s] + Σ elements · bits.
struct WorkingSetProblem {
    struct Segment {
        int first = 0, last = 0;
        int64_t elements = 0;
    };
    struct Variable {
        std::vector<int> bits;
        std::vector<double> distortion;
        std::vector<Segment> segments;  // at least one
    };
    std::vector<Variable> variables;
    std::vector<int64_t> constant;  // per step; its size is the number of steps
};

struct WorkingSetOptions {
    // The exact solver is a dynamic program over the schedule whose state is the bits of the
    // variables live at a step; above this many states it gives up (result.exact = false).
    size_t maxStates = size_t(1) << 20;
    // WorkingSetSweep keeps several (peak, distortion) entries per state; above this many
    // entries at one step it gives up on that step and every later one.
    size_t maxEntries = size_t(1) << 21;
};

struct WorkingSetResult {
    Allocation allocation;
    bool exact = true;  // false: the state limit was hit and the Lagrangian answer is returned
};

// Peak load of an assignment (option per variable) over the steps [0, lastStep] (-1: all).
int64_t workingSetPeak(const WorkingSetProblem& p, const std::vector<int>& choice, int lastStep = -1);

// Exact optimum over the steps [0, lastStep] (variables whose first step is later are fixed to
// their cheapest-distortion option and excluded from the objective; pass -1 for all steps).
WorkingSetResult workingSetExact(const WorkingSetProblem& p, int64_t budget, int lastStep = -1,
                                 const WorkingSetOptions& o = {});
Allocation workingSetLagrangian(const WorkingSetProblem& p, int64_t budget, int lastStep = -1);

// Exact Pareto frontier of (peak load, distortion) of every prefix of the schedule, for every
// budget at once: a dynamic program along the schedule whose state is the options of the live
// variables and which keeps, per state, the Pareto set of (peak so far, distortion) partial
// assignments with parent pointers. The optimum of prefix [0, e] at budget B is the frontier
// point of e with the highest peak <= B; reconstruct() gives its options.
class WorkingSetSweep {
public:
    struct Point {
        int64_t peak = 0;
        double distortion = 0;
        int32_t entry = -1;  // index of the point in its frontier (what reconstruct() reads)
    };
    // Sweeps steps [0, max(prefixEnds)].
    WorkingSetSweep(const WorkingSetProblem& p, const std::vector<int>& prefixEnds, const WorkingSetOptions& o = {});
    // false when the DP went over o.maxEntries (or 16 live variables) at or before the end.
    bool exact(int prefixEnd) const;
    // Peak ascending, distortion strictly falling; empty when not exact or not a requested end.
    const std::vector<Point>& frontier(int prefixEnd) const;
    // Option per variable for a point of frontier(prefixEnd); variables born after the end get
    // their lowest-distortion option.
    std::vector<int> reconstruct(int prefixEnd, const Point& point) const;
    size_t largestStep() const { return largest_; }  // most DP entries kept at one step

    // The frontiers and their points' options as bytes, under `key` (what the sweep was built
    // from: workingSetKey), sealed by a SHA-256 of the content; fromBytes gives null for bytes
    // that are damaged, truncated, of another format or key, or inconsistent with themselves.
    std::string toBytes(const std::string& key) const;
    static std::unique_ptr<WorkingSetSweep> fromBytes(const std::string& bytes, const std::string& key);

private:
    WorkingSetSweep() = default;
    int reached_ = -1;  // last step swept exactly
    size_t variables_ = 0;
    std::vector<int> cheapest_;                      // per variable
    std::vector<std::vector<Point>> frontiers_;      // per step (requested ends only)
    std::vector<std::vector<uint8_t>> choices_;      // per step: point k's options at [k * variables_, (k + 1) * variables_)
    size_t largest_ = 0;
};

// What a WorkingSetSweep depends on (the problem, the prefix ends, the entry limit), as a
// SHA-256 hex digest: the sweep's cache key.
std::string workingSetKey(const WorkingSetProblem& p, const std::vector<int>& prefixEnds, const WorkingSetOptions& o = {});

// Solves one budget for every prefix end at once: result[s] is the optimum for the prefix
// [0, s] (the constraints of a prefix are those of the full schedule up to s).
std::vector<WorkingSetResult> workingSetExactAllPrefixes(const WorkingSetProblem& p, int64_t budget,
                                                         const std::vector<int>& prefixEnds,
                                                         const WorkingSetOptions& o = {});

}  // namespace autosplit::planner
