// Private to core/src/passes: graph-editing helpers the passes share.
#pragma once

#include "autosplit/ir/graph.h"

#include <optional>
#include <vector>

namespace autosplit::detail {

inline bool isDefaultDomain(const Node& n) { return n.domain.empty(); }

// Every read of tensor `from` reads `to` instead.
void replaceUses(Graph& g, int from, int to);
// Drops the nodes marked dead and rebuilds the graph.
void eraseDead(Graph& g, const std::vector<bool>& dead);
// Weight data of node n's input `slot`; nullptr when omitted or computed at run time.
const TensorData* weightOf(const Graph& g, const Node& n, size_t slot);
// Single float value of a scalar (or one-element) weight input; nullopt when not constant.
std::optional<float> scalarInput(const Graph& g, const Node& n, size_t slot);

}  // namespace autosplit::detail
