#include "autosplit/ir/plan_bits.h"

#include "autosplit/ir/graph.h"

namespace autosplit {

PlanBits PlanBits::uniform(const Graph& g, int splitPosition, int weightBits, int activationBits, int inputBits) {
    PlanBits p;
    p.splitPosition = splitPosition;
    p.weightBits.assign(g.nodes.size(), weightBits);
    p.activationBits.assign(g.nodes.size(), activationBits);
    p.inputBits = inputBits;
    return p;
}

int PlanBits::weightAt(int node, int fallback) const {
    return node >= 0 && node < static_cast<int>(weightBits.size()) && weightBits[static_cast<size_t>(node)] > 0
               ? weightBits[static_cast<size_t>(node)]
               : fallback;
}

int PlanBits::activationAt(int node, int fallback) const {
    return node >= 0 && node < static_cast<int>(activationBits.size()) && activationBits[static_cast<size_t>(node)] > 0
               ? activationBits[static_cast<size_t>(node)]
               : fallback;
}

}  // namespace autosplit
