// Per-layer sizes and MACs, the schedule (topological order) used for splits, the edge-memory
// model and split enumeration. Pure functions of an optimized Graph with known shapes.
#pragma once

#include "autosplit/ir/graph.h"
#include "autosplit/ir/plan_bits.h"

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace autosplit {

// Geometry of a GEMM-like layer in SCALE-Sim's terms, per group:
// ifmap H x W x C, filter R x S x C, K filters, output E x F. Gemm/MatMul map to
// H=W=R=S=1, C = reduction length, K = output features, E*F = rows (batch*M).
struct GemmGeometry {
    int64_t H = 1, W = 1;  // input spatial size including padding (as the accelerator sees it)
    int64_t R = 1, S = 1;  // kernel taps (dilation spreads them but does not add MACs)
    int64_t C = 1;         // input channels per group (reduction depth = R*S*C)
    int64_t K = 1;         // output channels per group
    int64_t E = 1, F = 1;  // output spatial size
    int64_t strideH = 1, strideW = 1;
    int64_t groups = 1;    // the layer runs as `groups` independent GEMMs
    int64_t batch = 1;
};

enum class LayerKind {
    Conv,          // Conv, incl. grouped/depthwise
    ConvTranspose,
    Gemm,          // Gemm and MatMul with a weight operand
    MatMul,        // MatMul of two activations (attention)
    Other          // element-wise, pooling, reshape... (vector unit / no weights)
};

struct LayerInfo {
    int node = -1;               // index into Graph::nodes == position in the schedule
    std::string name;
    std::string op;
    LayerKind kind = LayerKind::Other;
    std::vector<int64_t> outputShape;  // output 0
    int64_t weights = 0;         // float weight elements (incl. bias)
    int64_t weightBiasElements = 0;  // of which bias
    int64_t inputElements = 0;   // sum over non-weight inputs
    int64_t activations = 0;     // output elements (all outputs)
    int64_t macs = 0;
    GemmGeometry geometry;       // kind != Other; also pooling windows (R, S, strides) for
                                 // MaxPool/AveragePool/LpPool and GlobalAverage/MaxPool
    bool hasWeights() const { return weights > 0; }
};

struct ModelAnalysis {
    std::vector<LayerInfo> layers;  // one per node, in Graph::nodes order
    int64_t parameters = 0;         // float weight elements
    int64_t macs = 0;
    int weightLayers = 0;           // Conv/ConvTranspose/Gemm/MatMul with weights
};

// Throws ShapeError naming the tensor when a shape needed for a count is unknown.
ModelAnalysis analyze(const Graph& g);

struct SplitInfo {
    int position = -1;  // nodes [0, position] on the edge; -1 = Cloud-Only; last = Edge-Only
    std::string afterNode;
    std::vector<int> transmitted;      // tensor ids crossing the cut
    int64_t transmittedElements = 0;
    int64_t edgeWeightElements = 0;    // float weights of edge nodes
    int64_t edgePeakActivationElements = 0;  // activation working set of the edge prefix
};

// Enumerate every split of the schedule (Graph::nodes order): position -1 (Cloud-Only:
// the graph inputs cross) to nodes.size()-1 (Edge-Only: nothing crosses). Graph outputs
// produced on the edge stay on the edge and are not transmitted.
std::vector<SplitInfo> enumerateSplits(const Graph& g);

// Elements of all graph inputs (what Cloud-Only sends).
int64_t rawInputElements(const Graph& g);

// Edge memory of the prefix [0, bits.splitPosition] at the plan's bits, in bits:
// weights = sum size*wbits; activations = peak over the schedule of the bits of all live
// tensors (a tensor lives from its producer until its last consumer; inputs from the start;
// tensors crossing the cut stay live until the prefix ends).
struct EdgeMemory {
    int64_t weightBits = 0;
    int64_t peakActivationBits = 0;
};
// Weights of node i at bits.weightBits[i], outputs of node i at bits.activationBits[i] (8 where
// the vectors are shorter), graph inputs at bits.inputBits.
EdgeMemory edgeMemory(const Graph& g, const PlanBits& bits);

// Lifetime of every non-weight tensor over the schedule: live at steps [start, end]
// (start -1 for graph inputs; end = last consumer, or the last step for graph outputs).
// The activation working set of the prefix [0, n] is max over i <= n of the tensors live at i:
// a prefix sees the same lifetimes as the whole schedule up to its end.
struct TensorLifetime {
    int tensor = -1;
    int start = -1;
    int end = -1;
    int64_t elements = 0;
};
std::vector<TensorLifetime> tensorLifetimes(const Graph& g);

// The one liveness sweep: for each step 0..lastStep, the sum of `size(L)` over the lifetimes L
// live at that step (graph inputs from step 0; lifetimes ending after lastStep are cut there).
// `size` returns 0 for tensors that should not count.
std::vector<int64_t> liveAtEachStep(const std::vector<TensorLifetime>& lifetimes, int lastStep,
                                    const std::function<int64_t(const TensorLifetime&)>& size);
// v[i] = max(v[0..i]), in place; returns v.
std::vector<int64_t> runningMax(std::vector<int64_t> v);

}  // namespace autosplit
