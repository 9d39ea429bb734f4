// Private to core/src: conversions between ONNX protobuf messages and IR values.
#pragma once

#include "autosplit/ir/graph.h"
#include "onnx/dtype_codes.h"

#include <onnx/onnx_pb.h>

#include <filesystem>

namespace autosplit::detail {

// Reads raw_data, typed fields and external data (relative to baseDir). float16/bfloat16/double
// become float, every integer type and bool become int64. Throws ImportError naming the tensor
// when the stored size disagrees with the dims.
TensorData tensorFromProto(const onnx::TensorProto& t, const std::filesystem::path& baseDir);
void tensorToProto(const TensorData& d, const std::string& name, onnx::TensorProto& out);

// Graph -> ModelProto (fused activations re-emitted as separate nodes).
onnx::ModelProto graphToModel(const Graph& g);

}  // namespace autosplit::detail
