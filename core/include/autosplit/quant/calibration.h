// Calibration: per-layer quantization error tables D_w(i,b) and D_a(i,b) over a calibration
// set, cached on disk keyed by model and data hashes and by what the errors measure.
//
// The planner adds these up over a plan's edge nodes (its MSE proxy) and minimizes the sum, so
// they have to be in one unit across layers and to follow what the evaluator does to a layer:
//   ErrorMeasure::Relative (default): noise-to-signal ratios. Each error is divided by the signal
//     energy of the node's float output (ErrorTable::Row::signalEnergy), so that a plan's sum adds
//     SQNR-like contributions instead of squares in each tensor's own units (where a layer with
//     large activations dominated whatever its effect on the output). D_a: mean square error of the
//     per-tensor activation quantizer on the pooled output. D_w: the error the weight rounding
//     causes in the layer's output, per output element, with the input statistics of the
//     calibration set and the mean shift removed (the evaluator's bias correction absorbs it):
//     sum_kj (w_q - w)_kj^2 Var(x_j) (diagonal of the input covariance, exact in expectation for
//     nearest rounding; gptq.h layerOutputErrorDiagonal).
//     The signal (CalibrationOptions::signal): SignalScale::Energy (default) is E[y^2] of the
//     node's output; SignalScale::Variance the part that depends on the input, the variance over
//     the calibration samples at each element (mean over elements, at fixed stratified
//     positions). They differ where an output holds constants (a channel at one value adds to
//     E[y^2] without being signal): while equalization still scaled PP-OCRv4 rec's dead channels
//     to -11 to -50, D_a over E[y^2] of p2o.Mul.146 read 7e-4 where quantizing it alone lost 94
//     points, and Variance ranked better. With equalization leaving them alone and the fit
//     seeing every channel, E[y^2] ranks best on 64 plans (bench/README.md, bench_proxy: rec
//     0.827, ResNet-50 0.901 against 0.738 / 0.858).
//   ErrorMeasure::RelativeGptq: the same, but D_w of 2- to 8-bit Conv/Gemm/MatMul weights whose
//     rows have at most gptqMaxRowLength weights is that of GPTQ rounding (what the evaluator
//     deploys) against the full input covariance; slower (GPTQ of every layer at every width).
//   ErrorMeasure::RawMse (tables of format version 1): D_w the mean square weight error of
//     nearest rounding, D_a the activation MSE, both in the tensor's own units. Kept to compare.
// The activation parameters (what the evaluator quantizes with) are fitted, and D_a measured, on
// each output pooled over the samples (at most samplesPerTensor values per sample, one at a seeded
// offset in each window), which the MSE clip search subsamples again the same way: a fixed stride
// would alias with [1, T, C] layouts and miss channels (bench/README.md's bench_proxy section).
#pragma once

#include "autosplit/data/dataset.h"
#include "autosplit/ir/graph.h"
#include "autosplit/quant/quantize.h"
#include "autosplit/util/cancel.h"

#include <functional>
#include <string>
#include <utility>
#include <vector>

namespace autosplit {

enum class ErrorMeasure { Relative, RelativeGptq, RawMse };
// "nsr-diagonal", "nsr-gptq", "mse"; parse throws Error otherwise.
const char* errorMeasureName(ErrorMeasure m);
ErrorMeasure parseErrorMeasure(const std::string& s);

// What a relative error is divided by (see the top of this file).
enum class SignalScale { Variance, Energy };
// The ErrorTable's errorKind: "nsr-var-diagonal", "nsr-var-gptq" (Variance), "nsr-diagonal",
// "nsr-gptq" (Energy), "mse" (RawMse: no signal). parseErrorKind throws Error otherwise.
std::string errorKindName(ErrorMeasure m, SignalScale s);
std::pair<ErrorMeasure, SignalScale> parseErrorKind(const std::string& kind);

struct ErrorTable {
    std::vector<int> bits;  // columns, e.g. {2, 4, 6, 8}
    std::string errorKind = "nsr-diagonal";  // errorKindName of what D_w / D_a measure
    struct Row {
        int node = -1;
        std::string name, op;
        int weightTensor = -1;             // -1: no quantized weight (D_w = 0)
        int64_t weightElements = 0;
        int64_t activationElements = 0;    // output 0, per sample
        bool unsignedActivation = false;
        double outputEnergy = 0;           // E[y^2] of output 0 over the calibration set
        double signalEnergy = 0;           // what relative errors are divided by: the variance over the
                                           // samples (Variance; E[y^2] with one sample) or E[y^2]
        double sensitivity = 1;            // gain applied to D_w / D_a (CalibrationOptions::sensitivitySamples)
        std::vector<double> weightMse;     // D_w per bits (see errorKind for the unit)
        std::vector<double> activationMse; // D_a per bits
        std::vector<QuantParams> activationParams;  // per bits, fitted on the calibration set
    };
    std::vector<Row> rows;  // one per node, Graph::nodes order
    std::string clip;       // clipping method name
    int samples = 0;
    std::string dataDescription;
    bool synthetic = false;
    std::string modelHash, dataHash;
    double seconds = 0;     // time to compute (not to load from the cache)
    double floatPassSeconds = 0;  // of which the float pass over the set (statistics and moments)
    bool fromCache = false;
    // CalibrationOptions::inputMeansSamples: E[x] of every weight layer's input vector
    // (LayerInputMoments::mean(), indexed by node; empty where none) over the first
    // inputMeansSamples samples, from the same float pass. Not in the cache file: present only
    // when this table was computed.
    std::vector<std::vector<double>> inputMeans;
    int inputMeansSamples = 0;

    int bitsIndex(int b) const;  // -1 when absent
};

struct CalibrationOptions {
    std::vector<int> bits{2, 4, 6, 8};
    QuantOptions quant;
    ErrorMeasure measure = ErrorMeasure::Relative;
    SignalScale signal = SignalScale::Energy;
    // RelativeGptq: rows above this length are rounded to nearest, as EvalOptions::gptqMaxRowLength;
    // second moments accumulated in passes of at most gptqMemoryBytes.
    int64_t gptqMaxRowLength = 2304;
    int64_t gptqMemoryBytes = int64_t(256) << 20;
    // Measured sensitivity (Relative / RelativeGptq, when > 0): on the first sensitivitySamples
    // samples, each node's output alone is quantized at the width of `bits` nearest to 6 with its
    // fitted parameters, and the gain = (noise-to-signal ratio of the graph outputs) / (that of the
    // node's output, both over their signal energy) multiplies the node's D_w and D_a
    // (ErrorTable::Row::sensitivity): the proxy
    // then estimates the outputs' noise-to-signal ratio, errors propagated linearly. One float run
    // per node and sample.
    int sensitivitySamples = 0;
    int threads = 0;        // 0 = all cores
    std::string cacheDir;   // empty: no cache
    CancelToken cancel;
    // Samples run, counted in order; called from the pass's worker threads, one call at a time.
    std::function<void(int done, int total)> progress;
    // > 0 (Relative / RelativeGptq): also keep the weight layers' input means over the first this
    // many samples (ErrorTable::inputMeans), what the evaluator's bias correction compares with.
    int inputMeansSamples = 0;
    // Values kept per tensor and input for the activation statistics (strided subsample).
    int64_t samplesPerTensor = 4096;
};

// Runs the float model over the set, fits activation parameters per node and bits on the pooled
// (subsampled) outputs, and measures D_w / D_a. With a cache folder, a table for the same model,
// data, bits, clipping and error measure is loaded instead (fromCache = true); a new one is
// written atomically. Tables of another format version or error kind are never reused.
ErrorTable calibrate(const Graph& g, const Dataset& data, const CalibrationOptions& o = {});

std::string errorTableToJson(const ErrorTable& t);
ErrorTable errorTableFromJson(const std::string& json);  // throws Error on malformed text

std::string defaultCacheDir();  // $AUTOSPLIT_CACHE, $XDG_CACHE_HOME/autosplit or ~/.cache/autosplit

}  // namespace autosplit
