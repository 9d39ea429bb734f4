// Private to core/src: the one table between ONNX TensorProto.DataType codes and DType. Free of
// protobuf, so the executor (Cast's `to`) uses it too; proto_util.cpp checks the codes against
// onnx.proto's enum at compile time.
#pragma once

#include "autosplit/ir/graph.h"

#include <cstdint>
#include <optional>
#include <span>

namespace autosplit::detail {

struct OnnxDTypeCode {
    int code;      // TensorProto.DataType
    DType dtype;   // how its values are held (TensorData stores floats as float, integers as int64)
    bool exact;    // dtype represents every value of the ONNX type and wraps like it
    const char* name;
};

// Every code the importer reads, in code order.
std::span<const OnnxDTypeCode> onnxDTypeCodes();

DType dtypeFromOnnx(int64_t code);  // DType::Other for codes we do not read
int dtypeToOnnx(DType t);           // the exact code; 0 (UNDEFINED) for DType::Other
// The DType holding `code` exactly (a Cast target); nullopt for uint16/32/64, bfloat16, string...
std::optional<DType> exactDTypeFromOnnx(int64_t code);

}  // namespace autosplit::detail
