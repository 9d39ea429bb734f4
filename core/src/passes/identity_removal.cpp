// Identity and inference-mode Dropout removal.
#include "autosplit/passes/optimize.h"

#include "passes/pass_util.h"

namespace autosplit {

using namespace detail;

int removeIdentities(Graph& g) {
    std::vector<bool> dead(g.nodes.size(), false);
    int removed = 0;
    for (size_t i = 0; i < g.nodes.size(); ++i) {
        Node& n = g.nodes[i];
        if (!isDefaultDomain(n) || n.inputs.empty() || n.inputs[0] < 0 || n.outputs.empty() || n.outputs[0] < 0) continue;
        const bool identity = n.op == "Identity";
        // Dropout at inference is the identity; its mask output must be unused.
        const bool dropout = n.op == "Dropout" &&
                             (n.outputs.size() < 2 || n.outputs[1] < 0 || g.tensors[n.outputs[1]].consumers.empty());
        if (!identity && !dropout) continue;
        const int in = n.inputs[0], out = n.outputs[0];
        if (g.tensors[out].isGraphOutput) continue;  // keep the output's name for users
        replaceUses(g, out, in);
        dead[i] = true;
        ++removed;
    }
    if (removed) eraseDead(g, dead);
    return removed;
}

}  // namespace autosplit
