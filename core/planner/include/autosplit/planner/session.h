// The one planning pipeline: model file -> optimized graph (loadOptimizedModel); graph +
// devices -> cost model (CostModel::build, stage one: latencies without calibration); graph +
// cost model + data + bit set -> a ready planning session (buildPlanningSession, stage two:
// equalization, calibration (cached), the planning context, the evaluator and its measure).
// The CLI's plan and sweep, the explorer's engine and the benchmarks all build sessions here.
#pragma once

#include "autosplit/data/dataset.h"
#include "autosplit/eval/plan_evaluator.h"
#include "autosplit/onnx/import.h"
#include "autosplit/planner/accuracy.h"
#include "autosplit/planner/measurement_cache.h"
#include "autosplit/passes/optimize.h"
#include "autosplit/planner/plan_io.h"
#include "autosplit/planner/planner.h"
#include "autosplit/quant/equalize.h"
#include "autosplit/util/cancel.h"

#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace autosplit::planner {

struct LoadedModel {
    Graph graph;  // optimized
    ImportReport import;
    OptimizeReport optimize;
    double importMs = 0, optimizeMs = 0;
};

// Import + optimize. Throws ImportError/GraphError/ShapeError naming the problem; Cancelled
// between the stages when `cancel` fires. `stage` (may be empty) hears "import"/"optimize".
LoadedModel loadOptimizedModel(const std::string& path, const ImportOptions& options, const CancelToken& cancel = {},
                               const std::function<void(const std::string& stage)>& stage = {});

// Where a session's calibration and measurement inputs come from: a folder of images (with a
// preprocessing profile) or tensor files, else `synthetic` seeded N(0, 1) inputs; the task's
// ground truth (labels: class indices, or the text lines of a CTC recognizer with `dictionary`).
// The set is cut in two disjoint parts (data/dataset.h splitHeldOut): calibration (equalization,
// ranges, error table, GPTQ, bias correction) and measurement (every accuracy drop).
struct DataSource {
    std::string folder;
    std::string preprocess;  // profile path; empty: FOLDER/preprocess.json or the default (warned)
    std::string labels;      // "FILE<TAB>LABEL" lines (eval/labels.h); needs `folder`
    std::string dictionary;  // CTC character dictionary (PaddleOCR keys file): the task is CTC
    int synthetic = 8;       // without a folder: 4 to calibrate, 4 to measure
    int calibrationSamples = 0, measurementSamples = 0;  // 0: splitHeldOut's defaults
    bool operator==(const DataSource&) const = default;
};

struct SessionData {
    EvalData measurement;                // inputs, labels / texts, and the calibration set
                                         // (measurement.calibration: what everything is fitted on)
    std::vector<std::string> dictionary; // CTC classes (empty: not a CTC task)
    DataRecord record;                   // for plan.json; task / metric filled by the session
};

// Reads and splits the data. Throws Error naming the file or the problem (labels for a
// synthetic set, a label file that does not match, too few samples to hold any out).
// Warnings (a default preprocessing profile, synthetic data) are appended to `warnings`.
SessionData loadData(const Graph& g, const DataSource& source, std::vector<std::string>* warnings = nullptr);

struct SessionOptions {
    ContextOptions context;  // bit set, allocator, Lagrangian comparison, cancel, progress
    EvalOptions eval;        // task, metric options, threads of the evaluator
    bool equalize = true;    // activation equalization before calibration (quant/equalize.h)
    // Measured sensitivity of the proxy (CalibrationOptions::sensitivitySamples): 0 = none. One
    // forked float run per node and probe sample; how it ranks against the default: bench_proxy.
    int sensitivitySamples = 0;
    int threads = 0;         // equalization and calibration (0 = all cores)
    std::string cacheDir;    // error-table and measurement caches; empty: none
    // One line per finished stage ("equalization: …", "calibration: …").
    std::function<void(const std::string& line)> report;
    // Calibration progress (samples run).
    std::function<void(int done, int total)> calibrationProgress;
};

struct PlanningSession {
    std::shared_ptr<const PlanningContext> context;
    // The fake-quant evaluator on the session's data, built on the first call (LazyEvaluator:
    // a session whose measurements all come from the cache never runs its float passes).
    std::shared_ptr<const PlanEvaluator> evaluator(const CancelToken& cancel = {}) const { return lazyEvaluator->get(cancel); }
    std::shared_ptr<const LazyEvaluator> lazyEvaluator;
    // Through the evaluator, answered from `measurements` first (and stored there).
    AccuracyMeasure measure;
    std::shared_ptr<MeasurementCache> measurements;  // in SessionOptions::cacheDir (none: in memory)
    std::string dataDescription;  // the measurement set
    bool syntheticData = false;
    DataRecord data;              // calibration and measurement sets, task and metric
    EqualizeReport equalization;
    bool calibrationFromCache = false;
    double equalizeMs = 0, calibrationMs = 0, contextMs = 0;
};

// `graph` optimized (it is equalized here, a copy of the caller's); `cost` built for its
// structure on the plan's devices with the context's input/cloud widths and every width of the
// bit set tabulated. Throws PlannerError / Error naming the problem, Cancelled on cancel.
std::shared_ptr<const PlanningSession> buildPlanningSession(Graph graph, std::shared_ptr<const CostModel> cost,
                                                            SessionData data, ModelSource source, const SessionOptions& o);

}  // namespace autosplit::planner
