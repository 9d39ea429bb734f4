// The optimization driver: every pass in order, to a fixed point.
#include "autosplit/passes/optimize.h"

#include "autosplit/onnx/import.h"

#include <algorithm>

namespace autosplit {

OptimizeReport optimize(Graph& g) {
    OptimizeReport r;
    r.nodesBefore = static_cast<int>(g.nodes.size());
    auto step = [&](const char* name, int (*pass)(Graph&)) {
        const int n = pass(g);
        auto it = std::find_if(r.steps.begin(), r.steps.end(), [&](const auto& s) { return s.pass == name; });
        if (it == r.steps.end()) r.steps.push_back({name, n, static_cast<int>(g.nodes.size())});
        else {
            it->rewrites += n;
            it->nodesAfter = static_cast<int>(g.nodes.size());
        }
        return n;
    };
    for (int round = 0; round < 4; ++round) {
        int changes = step("remove-identity", removeIdentities);
        const int folded = step("fold-constants", foldConstants);
        changes += folded;
        if (folded) {
            bool unknown = false;
            for (const auto& t : g.tensors) unknown = unknown || (!t.shapeKnown && !t.isWeight());
            if (unknown) reinferShapes(g);
        }
        // Chains (Conv -> Mul -> Add) fold one link per call: finish them before fusing
        // activations, which would otherwise land on the Add and block the rest of the chain.
        while (const int n = step("fold-batchnorm", foldBatchNorm) + step("fold-affine", foldAffine)) changes += n;
        changes += step("fuse-activations", fuseActivations);
        if (!changes) break;
    }
    r.nodesAfter = static_cast<int>(g.nodes.size());
    r.warnings = unresolvedShapes(g);
    return r;
}

}  // namespace autosplit
