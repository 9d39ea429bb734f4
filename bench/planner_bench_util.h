// Shared by bench_planner and bench_paper: model -> calibration (cached) -> planning context.
#pragma once

#include "autosplit/onnx/import.h"
#include "autosplit/passes/optimize.h"
#include "autosplit/planner/plan_io.h"
#include "autosplit/planner/planner.h"
#include "autosplit/quant/calibration.h"
#include "autosplit/sim/device.h"

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>

namespace bench {

struct Prepared {
    std::string path;
    autosplit::Graph graph;  // optimized
    autosplit::Dataset data;
    std::shared_ptr<const autosplit::planner::PlanningContext> ctx;
    double calibrationMs = 0;
    bool calibrationCached = false;
};

inline std::string modelPath(const std::string& file) {
    const std::string p = std::string(AUTOSPLIT_MODELS_DIR) + "/" + file;
    if (!std::filesystem::exists(p)) {
        std::fprintf(stderr, "error: %s is missing: run scripts/fetch-models.sh --paper\n", p.c_str());
        std::exit(1);
    }
    return p;
}

// Synthetic calibration with `samples` inputs; tables cached in the default cache folder.
inline Prepared prepare(const std::string& file, int samples, const std::string& edge = "eyeriss",
                        const std::string& cloud = "tpu", autosplit::planner::ContextOptions o = {}) {
    using namespace autosplit;
    using Clock = std::chrono::steady_clock;
    Prepared p;
    p.path = modelPath(file);
    p.graph = importOnnx(p.path);
    optimize(p.graph);
    p.data = syntheticDataset(p.graph, samples);
    CalibrationOptions co;
    co.bits = o.bits;
    co.cacheDir = defaultCacheDir();
    const auto t0 = Clock::now();
    ErrorTable table = calibrate(p.graph, p.data, co);
    p.calibrationMs = std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
    p.calibrationCached = table.fromCache;
    planner::ModelSource src{p.path, planner::sha256File(p.path), {}};
    p.ctx = planner::PlanningContext::build(p.graph, sim::builtinDevice(edge), sim::builtinDevice(cloud), std::move(table), src, o);
    return p;
}

}  // namespace bench
