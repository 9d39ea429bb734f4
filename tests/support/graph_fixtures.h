// Hand-built graph IR fixtures for executor/evaluator tests: tensors, weights and nodes without
// an ONNX file in between (the ONNX path has onnx_builder.h).
#pragma once

#include "autosplit/ir/graph.h"

#include <cstdint>
#include <string>
#include <vector>

namespace autosplit::testing {

// An activation tensor; a non-empty shape is marked known.
int addValue(Graph& g, const std::string& name, std::vector<int64_t> shape = {});
// A graph input with a known shape.
int addInput(Graph& g, const std::string& name, std::vector<int64_t> shape);
// A constant (weight) tensor holding d.
int addWeight(Graph& g, const std::string& name, TensorData d);
// Float tensor of N(0, sd) values from a seeded generator.
TensorData randomTensor(std::vector<int64_t> shape, uint32_t seed, float sd);
Node makeNode(const std::string& name, const std::string& op, std::vector<int> inputs, std::vector<int> outputs);

}  // namespace autosplit::testing
