// Calibration: per-layer quantization error tables D_w(i,b) (weight MSE) and D_a(i,b)
// (activation MSE over a calibration set), cached on disk keyed by model and data hashes.
#pragma once

#include "autosplit/cancel.h"
#include "autosplit/graph.h"
#include "autosplit/quantize.h"

#include <functional>
#include <string>
#include <vector>

namespace autosplit {

struct CalibrationSet {
    std::vector<std::vector<TensorData>> samples;  // per sample: inputs in Graph::inputs order
    std::string description;                       // "32 synthetic inputs (seed 1)", "DIR: 12 tensor files"
    bool synthetic = false;
    std::string hash;                              // of shapes and values (16 hex digits)
    std::vector<std::string> sampleNames;          // file name per sample (folders), else empty
};

// Throws Error prefixed with `what` when a sample does not fit the graph inputs (dtype, rank,
// dims) or holds NaN/Inf.
void validateSample(const Graph& g, const std::vector<TensorData>& sample, const std::string& what);
// Content hash of samples (shapes and values): 16 hex digits.
std::string hashSamples(const std::vector<std::vector<TensorData>>& samples);

// `count` inputs drawn from N(0, 1) (seeded): shapes must be fully known.
CalibrationSet syntheticCalibration(const Graph& g, int count, uint32_t seed = 1);
// Every *.pb (TensorProto) / *.npy file of `dir`, sorted by name, one sample per file (models
// with one input). Throws Error naming the file on a wrong shape/type, NaN/Inf, an unreadable
// file, or when the folder has no tensor files.
CalibrationSet loadTensorFolder(const Graph& g, const std::string& dir);
// Content hash of a graph (structure, attributes, weights): 16 hex digits.
std::string graphHash(const Graph& g);

// Output of `node` is >= 0 whatever the input (ReLU-like): unsigned activation quantization.
bool producesNonNegative(const Node& node);
// Tensor id of the weight quantized for node (slot 1 of Conv/ConvTranspose/Gemm/MatMul), or -1.
int quantizedWeightTensor(const Graph& g, const Node& node);

struct ErrorTable {
    std::vector<int> bits;  // columns, e.g. {2, 4, 6, 8}
    struct Row {
        int node = -1;
        std::string name, op;
        int weightTensor = -1;             // -1: no quantized weight (D_w = 0)
        int64_t weightElements = 0;
        int64_t activationElements = 0;    // output 0, per sample
        bool unsignedActivation = false;
        std::vector<double> weightMse;     // per bits
        std::vector<double> activationMse; // per bits
        std::vector<QuantParams> activationParams;  // per bits, fitted on the calibration set
    };
    std::vector<Row> rows;  // one per node, Graph::nodes order
    std::string clip;       // clipping method name
    int samples = 0;
    std::string dataDescription;
    bool synthetic = false;
    std::string modelHash, dataHash;
    double seconds = 0;     // time to compute (not to load from the cache)
    bool fromCache = false;

    int bitsIndex(int b) const;  // -1 when absent
};

struct CalibrationOptions {
    std::vector<int> bits{2, 4, 6, 8};
    QuantOptions quant;
    int threads = 0;        // 0 = all cores
    std::string cacheDir;   // empty: no cache
    CancelToken cancel;
    std::function<void(int done, int total)> progress;  // samples run
    // Values kept per tensor and input for the activation statistics (strided subsample).
    int64_t samplesPerTensor = 4096;
};

// Runs the float model over the set, fits activation parameters per node and bits on the pooled
// (subsampled) outputs, and measures D_w / D_a. With a cache folder, a table for the same model,
// data, bits and clipping is loaded instead (fromCache = true); a new one is written atomically.
ErrorTable calibrate(const Graph& g, const CalibrationSet& data, const CalibrationOptions& o = {});

std::string errorTableToJson(const ErrorTable& t);
ErrorTable errorTableFromJson(const std::string& json);  // throws Error on malformed text

std::string defaultCacheDir();  // $AUTOSPLIT_CACHE, $XDG_CACHE_HOME/autosplit or ~/.cache/autosplit

}  // namespace autosplit
