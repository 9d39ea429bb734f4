// Plans from JSON text ("bits files"): what `autosplit evaluate --bits` reads.
#pragma once

#include "autosplit/ir/graph.h"
#include "autosplit/ir/plan_bits.h"

#include <optional>
#include <string>

namespace autosplit {

// A plan from JSON text ("bits file"). Accepted shapes (node names as in the optimized graph):
//   {"split": 12 | "node name",                      // optional here (the CLI's --split wins)
//    "weight_bits": {"conv1": 8, ...} | [8, 8, ...] | [{"node": "conv1", "bits": 8}, ...],
//    "activation_bits": same forms,
//    "default_weight_bits": 8, "default_activation_bits": 8,   // for edge nodes not listed
//    "input_bits": 8}
// or a plan.json (schema "autosplit-plan"): its "selected" object (split_position, weight_bits,
// activation_bits) with constraints.input_bits. Arrays are per node in Graph::nodes order. A split
// from the JSON is stored in splitPosition; `hasSplit` tells whether one was given. Throws Error
// naming the field for unknown nodes, bits outside 2/4/6/8/16/32, or an edge node without bits.
struct ParsedPlan {
    PlanBits bits;
    bool hasSplit = false;
};
ParsedPlan parsePlanBits(const Graph& g, const std::string& json, const std::string& displayName,
                         std::optional<int> splitOverride = std::nullopt);

}  // namespace autosplit
