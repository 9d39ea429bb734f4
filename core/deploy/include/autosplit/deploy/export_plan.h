// The two halves of a plan as ONNX models: what `autosplit export` writes.
//
// The edge model holds nodes [0, split] of the optimized graph, the cloud model the rest. Both
// are built from the values the plan was measured with (PlanEvaluator::deployment), so that the
// exported pair computes what the evaluator computed:
//   - quantized edge weights as int8 initializers in +-(2^(b-1)-1) with per-channel float
//     scales, read through DequantizeLinear(axis) (opset >= 13; older graphs: Cast + Mul);
//   - every edge float output the plan quantizes as Clip (to the b-bit range, in float: exact,
//     and valid at every opset) -> QuantizeLinear (uint8, scale = range / (2^b - 1), zero point in
//     [0, 2^b - 1]) -> DequantizeLinear; edge nodes read the dequantized value under the tensor's
//     own name;
//   - corrected biases and other constants as float32 initializers;
//   - the edge model's outputs are the uint8 codes of every transmitted tensor ("NAME.codes")
//     and the graph outputs computed on the edge;
//   - the cloud model reads the codes, dequantizes them under the tensor's own name, and runs in
//     float32 with float16 values: weights rounded to float16 (stored as float32), every float
//     output rounded to float16 by a Cast(float16) -> Cast(float) pair, as costed and measured.
// Tensors are cut by name: a tensor produced on the edge (or a graph input) and read in the cloud
// is transmitted, whatever its distance to the split (skip connections included); a constant
// both halves read is written into both.
//
// Not exportable (Error naming the tensor): edge tensors the plan quantizes with parameters
// fitted per input (no static parameters), and graph inputs that cross the cut when they are
// images on the sensor grid (their 8-bit pixels would need the preprocessing inverted).
#pragma once

#include "autosplit/eval/plan_evaluator.h"
#include "autosplit/ir/graph.h"
#include "autosplit/ir/plan_bits.h"
#include "autosplit/planner/plan_io.h"

#include <cstdint>
#include <string>
#include <vector>

namespace autosplit::deploy {

// One tensor crossing the cut (edge -> cloud).
struct WireTensor {
    enum class Type : uint8_t { Codes = 1, Float32 = 2, Int64 = 3 };  // the frame's element types
    uint16_t id = 0;        // position in the transmitted list (the frame's tensor id)
    std::string name;       // the tensor in the optimized graph
    std::string wireName;   // edge-model output = cloud-model input ("NAME.codes" for codes)
    Type type = Type::Codes;
    int bits = 8;           // Codes: 2..8 stored bits; Float32: 32; Int64: 64
    std::vector<int64_t> shape;
    float scale = 1.f;      // Codes: value = (code - zeroPoint) * scale
    int32_t zeroPoint = 0;
    int64_t elements() const;
    int64_t payloadBytes() const;  // packed: ceil(elements * bits / 8)
};
const char* wireTypeName(WireTensor::Type t);  // "codes", "float32", "int64"

struct IoTensor {
    std::string name;
    DType dtype = DType::Float32;
    std::vector<int64_t> shape;
};

struct SplitModels {
    Graph edge, cloud;                   // cloud has no nodes for Edge-Only plans
    std::vector<WireTensor> transmitted; // in id order
    std::vector<IoTensor> edgeInputs;    // graph inputs read on the edge
    std::vector<IoTensor> edgeResults;   // graph outputs computed on the edge
    std::vector<IoTensor> cloudResults;  // graph outputs computed in the cloud
    int quantizedWeights = 0, quantizedActivations = 0;
};

// Builds both halves of `g` under `plan` with the values of `d`. Throws Error for what cannot be
// exported (see the top of this file) and when a quantized weight's value is not on its grid.
SplitModels buildSplitModels(const Graph& g, const PlanBits& plan, const PlanDeployment& d);

struct Manifest;
// Builds the halves, writes DIR/edge.onnx, DIR/cloud.onnx (not for Edge-Only) and
// DIR/manifest.json (manifest.h) with the plan's prediction from `selected`; both models are
// checked with the full ONNX checker before anything is written. Creates DIR; existing files of
// those three names are replaced, nothing else in DIR is touched. Throws Error naming the
// problem.
Manifest writeExport(const Graph& g, const PlanBits& plan, const PlanDeployment& d, const planner::PlanDocument& doc,
                     const std::string& dir);

// Runs the exported pair in DIR (written by writeExport for `g`) with our executor over the
// evaluator's evaluation set, edge then cloud on the edge's outputs, and scores the graph outputs
// as evaluate() does: the exported models' own drop, to set beside the plan's. Throws Error when
// the files do not fit `g`.
EvalMetrics measureExport(const Graph& g, const std::string& dir, const PlanEvaluator& ev, const CancelToken& cancel = {});

}  // namespace autosplit::deploy
