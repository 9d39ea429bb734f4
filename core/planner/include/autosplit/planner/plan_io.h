// plan.json (schema "autosplit-plan", version 1; fields documented in core/planner/README.md)
// and the model hash that ties a plan to its ONNX file.
#pragma once

#include "autosplit/planner/planner.h"
#include "autosplit/util/units.h"

#include <cstdint>
#include <string>
#include <vector>

namespace autosplit::planner {

constexpr int kPlanSchemaVersion = 1;

// SHA-256 of a file's bytes, 64 lowercase hex digits; throws PlannerError when unreadable.
std::string sha256File(const std::string& path);
std::string sha256(const std::string& bytes);

// Where a session's numbers come from, for plan.json's "data" object: the calibration and the
// held-out measurement sets, the task and its metric.
struct DataRecord {
    std::string calibration, measurement;  // descriptions
    int calibrationSamples = 0, measurementSamples = 0;
    bool heldOut = false, synthetic = false;
    std::string task;     // "ctc", "classifier", "binary-map", "generic"
    std::string metric;   // the drop's metric name ("char-accuracy-drop", ...)
    std::string labels;   // label file, empty: none
    std::string dictionary;
};

// The whole PlanSet as plan.json text (`data` may be null: no "data" object).
std::string planToJson(const PlanningContext& ctx, const PlanSet& plans, const DataRecord* data = nullptr);

// What a deployment step reads back from plan.json.
struct PlanDocument {
    int schemaVersion = 0;
    std::string modelPath, modelSha256;
    std::vector<std::string> inputBindings;
    std::string edgeDevice, cloudDevice;
    double uplinkBps = 0;
    Constraints constraints;
    std::string resultsEncoding = "tensor";  // constraints.results_encoding (cost_model.h)
    // calibration.data / data_hash: the set the plan's values were fitted on (empty: not recorded).
    std::string calibrationData, calibrationDataHash;
    struct Entry {
        std::string name;
        PlanKind kind = PlanKind::CloudOnly;
        int splitPosition = -1;
        std::string splitAfter;
        struct Sent {
            std::string tensor;
            int bits = 0;
        };
        std::vector<Sent> transmitted;
        std::vector<std::pair<std::string, int>> weightBits, activationBits;  // node name, bits
        LatencyBreakdown latency;
        int64_t edgeWeightBytes = 0, edgeActivationBytes = 0;
        std::optional<double> accuracyDrop;
    };
    Entry selected;
    std::vector<Entry> baselines;
    int candidates = 0;
};

// Throws PlannerError naming the field on malformed text or an unsupported schema version.
PlanDocument parsePlan(const std::string& jsonText, const std::string& displayName);
PlanDocument loadPlan(const std::string& path);
// Throws PlannerError when `modelPath`'s SHA-256 differs from the plan's.
void verifyPlanModel(const PlanDocument& plan, const std::string& modelPath);

}  // namespace autosplit::planner
