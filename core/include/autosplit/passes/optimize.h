// Graph optimizations the paper applies before searching splits. Each pass is independent,
// returns how many rewrites it made, and leaves the graph valid and topologically sorted.
#pragma once

#include "autosplit/ir/graph.h"

#include <string>
#include <vector>

namespace autosplit {

int removeIdentities(Graph& g);          // Identity, Dropout (inference), no-op Cast/Reshape
int foldConstants(Graph& g);             // nodes whose inputs are all constant, and Shape of a static
                                         // shape, evaluated by the executor's kernels into weights
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
    // unresolvedShapes() after the last pass: why shapes stayed unknown although the inputs are static.
    std::vector<std::string> warnings;
};

// One line for each node whose output shape is unknown although every graph input has a static
// shape and so do the node's inputs, naming the op and why it could not be evaluated ahead of
// time (a data-dependent input, no kernel, a kernel error). Empty when a graph input has
// unbound dims (binding them is then the remedy) or when every shape is known.
std::vector<std::string> unresolvedShapes(const Graph& g);

// All passes in order, to a fixed point.
OptimizeReport optimize(Graph& g);

}  // namespace autosplit
