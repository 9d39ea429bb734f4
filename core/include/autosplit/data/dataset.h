// Model inputs to calibrate and measure on: a set of samples (one tensor per graph input), where
// they came from and a content hash; synthetic and tensor-folder sources (images: image.h).
#pragma once

#include "autosplit/ir/graph.h"

#include <cstdint>
#include <string>
#include <vector>

namespace autosplit {

struct Dataset {
    std::vector<std::vector<TensorData>> samples;  // per sample: inputs in Graph::inputs order
    std::string description;                       // "32 synthetic inputs (seed 1)", "DIR: 12 tensor files"
    bool synthetic = false;
    std::string hash;                              // of shapes and values (16 hex digits)
    std::vector<uint64_t> sampleHashes;            // hashSample per sample, when the loader computed them, else empty
    std::vector<std::string> sampleNames;          // file name per sample (folders), else empty
    // The values are 8-bit sensor pixels through the preprocessing (images): the input's 8-bit
    // codes are the pixels themselves, nothing is lost sending them at 8 bits.
    bool sensorGrid = false;
};

// A data set cut in two disjoint parts: calibration (fits ranges, GPTQ, bias correction) and
// measurement (the drop). Samples are dealt by a seeded shuffle, so sorted folders (one class
// after the other) mix; names and hashes follow the samples.
struct HeldOutSplit {
    Dataset calibration, measurement;
};
// `calibration` / `measurement` <= 0: defaults, half of the samples each (the odd one to the
// measurement), calibration capped at 64. Throws Error when the set has fewer than 2 samples or
// the sizes do not fit it.
HeldOutSplit splitHeldOut(Dataset d, int calibration = 0, int measurement = 0, uint32_t seed = 1);

// Throws Error prefixed with `what` when a sample does not fit the graph inputs (dtype, rank,
// dims) or holds NaN/Inf.
void validateSample(const Graph& g, const std::vector<TensorData>& sample, const std::string& what);
// Content hash of one sample (its tensors' shapes and values).
uint64_t hashSample(const std::vector<TensorData>& sample);
// The set's hash from its samples' hashes, in order: 16 hex digits.
std::string combineSampleHashes(const std::vector<uint64_t>& sampleHashes);
// Content hash of samples: combineSampleHashes of every hashSample (samples hashed on every core).
std::string hashSamples(const std::vector<std::vector<TensorData>>& samples);

// `count` inputs drawn from N(0, 1) (seeded): shapes must be fully known.
Dataset syntheticDataset(const Graph& g, int count, uint32_t seed = 1);
// Every *.pb (TensorProto) / *.npy file of `dir`, sorted by name, one sample per file (models
// with one input). Throws Error naming the file on a wrong shape/type, NaN/Inf, an unreadable
// file, or when the folder has no tensor files.
Dataset loadTensorFolder(const Graph& g, const std::string& dir);

}  // namespace autosplit
