// Test fixtures: the core ModelBuilder plus temporary files removed at process exit.
#pragma once

#include "autosplit/onnx/model_builder.h"

#include <string>

namespace autosplit::testing {

// A file with the given bytes in a temporary directory removed at process exit.
std::string writeTempFile(const std::string& name, const std::string& bytes);

// Writes the model to a fresh temporary file; returns its path.
std::string writeTemp(const autosplit::ModelBuilder& b, const std::string& stem = "model");

}  // namespace autosplit::testing
