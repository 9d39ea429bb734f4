// The quantization spec of a plan: for every tensor, the bits it is stored, sent and computed at
// and what kind of value it is. The one description the cost model (transmitted bits), the
// edge-memory model (ir/analysis.h edgeMemory), the error proxy (the error table's D_w per
// quantized weight, D_a per edge node output) and the evaluator's fake quantization
// (eval/plan_evaluator.h) all follow; tests/core/eval/tst_quant_spec checks that they agree on
// real models, tensor by tensor.
//
//   graph input (float)            Input       plan.inputBits (images: the sensor's 8-bit pixels)
//   output of edge node i (float)  Activation  plan.activationBits[i], per tensor, static range
//   quantized weight of edge       Weight      plan.weightBits[i], per output channel (slot 1 of
//     Conv/ConvTranspose/Gemm/MatMul i)         Conv/ConvTranspose/Gemm/MatMul; GPTQ or nearest)
//   other float constant of edge   Constant    32 (biases and affine constants: int32/float32)
//   anything computed or read in   Cloud       16 (float16)
//     the cloud only
//   non-float tensors              NotFloat    0
#pragma once

#include "autosplit/ir/graph.h"
#include "autosplit/ir/plan_bits.h"

#include <cstdint>
#include <vector>

namespace autosplit {

// The weight a Conv/ConvTranspose/Gemm/MatMul quantizes (input slot 1, a float constant), or -1.
int quantizedWeightTensor(const Graph& g, const Node& node);

struct TensorSpec {
    enum class Kind : uint8_t { NotFloat, Input, Activation, Weight, Constant, Cloud };
    Kind kind = Kind::NotFloat;
    int bits = 0;
};
const char* tensorKindName(TensorSpec::Kind k);  // "input", "activation", ...

// Per tensor (index = tensor id) under `plan` (split and bits as in PlanBits). A constant read
// on both sides counts as the edge's (it is stored there).
std::vector<TensorSpec> quantSpec(const Graph& g, const PlanBits& plan);

}  // namespace autosplit
