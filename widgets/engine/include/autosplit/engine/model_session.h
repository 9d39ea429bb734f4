// What the window knows about the open model, as immutable values shared between the UI
// thread and workers (std::shared_ptr<const ...>). ModelData changes only when a model is
// (re)loaded; the device part changes when the user picks another edge or cloud profile.
#pragma once

#include "autosplit/ir/analysis.h"
#include "autosplit/ir/graph.h"
#include "autosplit/onnx/import.h"
#include "autosplit/passes/optimize.h"
#include "autosplit/sim/device.h"
#include "autosplit/sim/latency_table.h"

#include "autosplit/planner/cost_model.h"
#include "autosplit/planner/session.h"

#include <QMetaType>
#include <QString>

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace autosplit::engine {

using InputBindings = std::map<std::string, std::vector<int64_t>>;

struct LoadRequest {
    QString path;
    InputBindings inputShapes;  // e.g. {"x", {1,3,640,640}} for PP-OCR det
    sim::DeviceProfile edgeDevice;
    sim::DeviceProfile cloudDevice;
    // Calibration and measurement data of the planning stage (folder, labels, dictionary,
    // preprocessing; planner/session.h). Without a folder: synthetic inputs, and every view
    // says so.
    planner::DataSource data;
};

struct StageTimings {
    double importMs = 0;
    double optimizeMs = 0;
    double analyzeMs = 0;
    double splitsMs = 0;
    double latencyMs = 0;  // both latency tables
    double calibrationMs = 0;  // error table (0 when read from the cache)
    double planningMs = 0;     // planning context: candidate splits and bit allocations
};

// The optimized model and everything derived from it that does not depend on devices.
struct ModelData {
    QString path;
    QString displayName;    // file name
    std::string modelKey;   // path + size + mtime + bindings: latency-table cache key
    InputBindings inputShapes;
    Graph graph;
    ImportReport importReport;
    OptimizeReport optimizeReport;
    ModelAnalysis analysis;
    std::vector<SplitInfo> splits;  // index = position + 1 (position -1 is Cloud-Only)

    int layerCount() const { return int(graph.nodes.size()); }
    const SplitInfo& split(int position) const { return splits[size_t(position + 1)]; }
};

// Stage one on the chosen devices: the latency tables and the planner's cost model over them
// (every latency the window shows comes from `cost`).
struct DeviceSetup {
    sim::DeviceProfile edge;
    sim::DeviceProfile cloud;
    std::shared_ptr<const sim::LatencyTable> edgeLatency;
    std::shared_ptr<const sim::LatencyTable> cloudLatency;
    std::shared_ptr<const planner::CostModel> cost;
};

struct ModelSession {
    std::shared_ptr<const ModelData> model;
    DeviceSetup devices;
    StageTimings timings;
    // Stage two (planner/session.h): context, evaluator and measure for one bit set; null when
    // the planner could not run (see planningError).
    std::shared_ptr<const planner::PlanningSession> planning;
    QString planningError;
    planner::DataSource data;  // what the planning stage calibrates and measures on

    // The cost model every shown latency comes from: the planning stage's (on the equalized
    // graph its plans are measured on) once it is ready, else stage one's.
    const planner::CostModel& cost() const { return planning ? planning->context->cost() : *devices.cost; }
};

// "1x3x640x640"; "?" for unknown dims, "scalar" for rank 0.
QString shapeText(const std::vector<int64_t>& shape);
// "x=1x3x640x640,y=1x10" <-> bindings; parse throws autosplit::Error on malformed text.
QString bindingsText(const InputBindings& b);
InputBindings parseBindings(const QString& text);

}  // namespace autosplit::engine

Q_DECLARE_METATYPE(std::shared_ptr<const autosplit::engine::ModelSession>)
