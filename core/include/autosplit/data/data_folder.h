// Model inputs from files and folders, for every front end: a folder of images (*.png, *.jpg)
// through a preprocessing profile, or of tensor files (*.pb, *.npy), never both; one input
// from a file.
#pragma once

#include "autosplit/data/dataset.h"
#include "autosplit/data/image.h"
#include "autosplit/ir/graph.h"

#include <string>
#include <vector>

namespace autosplit {

// The profile for images: `profilePath` when given, else DIR/preprocess.json when `dir` has one,
// else the default (pixels / 255, no mean/std, stretched to the input size) with a warning
// appended to `warnings` (when not null).
PreprocessProfile resolveProfile(const std::string& profilePath, const std::string& dir,
                                 std::vector<std::string>* warnings = nullptr);

// A folder of images (*.png, *.jpg) or of tensor files (*.pb, *.npy), never both. Throws Error
// naming the folder or the file.
Dataset loadDataFolder(const Graph& g, const std::string& dir, const std::string& profilePath,
                       std::vector<std::string>* warnings = nullptr);

// One input tensor from FILE: .png/.jpg/.jpeg through the profile, anything else as a tensor file.
TensorData loadInputFile(const Graph& g, int inputIndex, const std::string& path, const std::string& profilePath,
                         std::vector<std::string>* warnings = nullptr);

}  // namespace autosplit
