// Bias correction of the quantized edge layers (EvalOptions::BiasCorrection): which Conv/Gemm
// layers have a bias that can absorb the mean shift quantization causes, and that bias. The
// PlanEvaluator measures the means (float ones once, the plan's per plan for the empirical
// correction) and caches the corrected biases.
#pragma once

#include "autosplit/ir/graph.h"

#include <optional>
#include <vector>

namespace autosplit {

// True when node `node` of `g` is a Conv, or a Gemm with transA = 0 and alpha = beta = 1, with a
// quantized weight (quantizedWeightTensor) and a float constant bias (input 2) of one value per
// output channel, whose input means LayerInputMoments can accumulate (meansForNode).
bool hasCorrectableBias(const Graph& g, int node);

// The bias of `node` (hasCorrectableBias) for its weight quantized to `wq`:
//   b' = b - (W_q planMean - W mean)   per output channel, over the weight row's input vector,
// where `mean` is E[x] of the layer's input vectors on the float model and `planMean` the same
// under the plan (the empirical correction) or `mean` again (the weight-only correction).
// nullopt when the means do not fit the layer (empty, or not one per weight-row input).
std::optional<TensorData> shiftedBias(const Graph& g, int node, const TensorData& wq, const std::vector<double>& mean,
                                      const std::vector<double>& planMean);

}  // namespace autosplit
