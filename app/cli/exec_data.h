// Shared by `autosplit run`, `calibrate` and `evaluate`: model inputs from files (tensors or
// images) and data folders (images with a preprocessing profile, or tensor files).
#pragma once

#include "autosplit/data/image.h"
#include "autosplit/ir/graph.h"
#include "autosplit/quant/calibration.h"

#include <string>

namespace autosplit::cli {

// The profile for images: `profilePath` when given, else DIR/preprocess.json when `dir` has one,
// else the default (pixels / 255, no mean/std, stretched to the input size) with a warning.
PreprocessProfile resolveProfile(const std::string& profilePath, const std::string& dir, bool quiet);

// A folder of images (*.png, *.jpg) or of tensor files (*.pb, *.npy), never both.
Dataset loadDataFolder(const Graph& g, const std::string& dir, const std::string& profilePath, bool quiet);

// One input tensor from FILE: .png/.jpg/.jpeg through the profile, anything else as a tensor file.
TensorData loadInputFile(const Graph& g, int inputIndex, const std::string& path, const std::string& profilePath, bool quiet);

}  // namespace autosplit::cli
