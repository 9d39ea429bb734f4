// Graph optimizations the paper applies before searching splits. Each pass is independent,
// returns how many rewrites it made, and leaves the graph valid and topologically sorted.
#pragma once

#include "autosplit/ir/graph.h"

#include <string>
#include <vector>

namespace autosplit {

int removeIdentities(Graph& g);          // Identity, Dropout (inference), no-op Cast/Reshape
int foldConstants(Graph& g);             // Shape/Gather/Concat/... on constant or known-shape inputs
int foldBatchNorm(Graph& g);             // BatchNormalization after Conv/ConvTranspose/Gemm (and lone BN
                                         // on known channels stays as is)
int foldAffine(Graph& g);               // Mul/Add/Sub by a per-channel constant after Conv/ConvTranspose/Gemm
int fuseActivations(Graph& g);           // Relu, Clip, LeakyRelu, HardSigmoid, HardSwish,
                                         // x*sigmoid(x), x*hardsigmoid(x) into the producer

struct OptimizeReport {
    int nodesBefore = 0;
    int nodesAfter = 0;
    struct Step {
        std::string pass;
        int rewrites = 0;
        int nodesAfter = 0;
    };
    std::vector<Step> steps;
};

// All passes in order, to a fixed point.
OptimizeReport optimize(Graph& g);

}  // namespace autosplit
