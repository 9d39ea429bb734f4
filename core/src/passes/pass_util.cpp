#include "passes/pass_util.h"

namespace autosplit::detail {

void replaceUses(Graph& g, int from, int to) {
    for (auto& n : g.nodes)
        for (int& t : n.inputs)
            if (t == from) t = to;
}

void eraseDead(Graph& g, const std::vector<bool>& dead) {
    std::vector<Node> kept;
    kept.reserve(g.nodes.size());
    for (size_t i = 0; i < g.nodes.size(); ++i)
        if (!dead[i]) kept.push_back(std::move(g.nodes[i]));
    g.nodes = std::move(kept);
    g.rebuild();
}

const TensorData* weightOf(const Graph& g, const Node& n, size_t slot) {
    if (slot >= n.inputs.size() || n.inputs[slot] < 0) return nullptr;
    return g.tensors[n.inputs[slot]].data.get();
}

std::optional<float> scalarInput(const Graph& g, const Node& n, size_t slot) {
    const TensorData* d = weightOf(g, n, slot);
    if (!d || d->elementCount() != 1) return std::nullopt;
    return d->isFloat() ? d->floats[0] : static_cast<float>(d->ints[0]);
}

}  // namespace autosplit::detail
