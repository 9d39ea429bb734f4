// Calibration: per-layer quantization error tables D_w(i,b) (weight MSE) and D_a(i,b)
// (activation MSE over a calibration set), cached on disk keyed by model and data hashes.
#pragma once

#include "autosplit/data/dataset.h"
#include "autosplit/ir/graph.h"
#include "autosplit/quant/quantize.h"
#include "autosplit/util/cancel.h"

#include <functional>
#include <string>
#include <vector>

namespace autosplit {

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
ErrorTable calibrate(const Graph& g, const Dataset& data, const CalibrationOptions& o = {});

std::string errorTableToJson(const ErrorTable& t);
ErrorTable errorTableFromJson(const std::string& json);  // throws Error on malformed text

std::string defaultCacheDir();  // $AUTOSPLIT_CACHE, $XDG_CACHE_HOME/autosplit or ~/.cache/autosplit

}  // namespace autosplit
