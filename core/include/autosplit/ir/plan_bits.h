// Where a plan cuts the schedule and at which bit-width each edge node stores its weight and its
// outputs: the one description of a split + per-node bits that the memory model, the planner,
// the evaluator and the window share.
#pragma once

#include <vector>

namespace autosplit {

struct Graph;

struct PlanBits {
    // Nodes [0, splitPosition] run on the edge: -1 = Cloud-Only, nodes.size()-1 = Edge-Only
    // (the same positions as SplitInfo::position / enumerateSplits).
    int splitPosition = -1;
    std::vector<int> weightBits;      // per node; read for nodes <= splitPosition
    std::vector<int> activationBits;  // per node (its outputs); read for nodes <= splitPosition
    int inputBits = 8;                // graph inputs (what Cloud-Only transmits)

    // Same bits on every node.
    static PlanBits uniform(const Graph& g, int splitPosition, int weightBits, int activationBits, int inputBits = 8);
    // Bits of node i's weight / outputs; `fallback` where the vectors are shorter or hold no
    // width (0).
    int weightAt(int node, int fallback) const;
    int activationAt(int node, int fallback) const;
};

}  // namespace autosplit
