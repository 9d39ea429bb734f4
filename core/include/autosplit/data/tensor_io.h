// Reading and writing single tensors as ONNX TensorProto files (.pb, the format of the ONNX
// backend test data) and NumPy .npy files. No protobuf in this header.
#pragma once

#include "autosplit/ir/graph.h"

#include <string>

namespace autosplit {

// Reads a TensorProto (.pb) or .npy (float32/float64/float16, int8..int64, uint8, bool;
// little-endian, C order) chosen by extension; anything else is tried as TensorProto.
// `name` receives the stored tensor name (TensorProto) or is cleared (.npy).
// Throws Error naming the file on unreadable or malformed data.
TensorData readTensorFile(const std::string& path, std::string* name = nullptr);
TensorData readTensorProto(const std::string& bytes, const std::string& displayName, std::string* name = nullptr);

// Writes a TensorProto (.pb) or .npy by extension, atomically (temp file + rename).
void writeTensorFile(const std::string& path, const TensorData& t, const std::string& name = {});

}  // namespace autosplit
