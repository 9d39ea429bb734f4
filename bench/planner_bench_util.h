// Shared by bench_planner and bench_paper: a planning session built by the one pipeline.
#pragma once

#include "autosplit/planner/plan_io.h"
#include "autosplit/planner/session.h"
#include "autosplit/quant/calibration.h"
#include "autosplit/sim/device.h"

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>

namespace bench {

struct Prepared {
    std::string path;
    std::shared_ptr<const autosplit::planner::PlanningSession> session;  // context, evaluator, measure
    std::shared_ptr<const autosplit::planner::PlanningContext> ctx;      // session->context
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

// The CLI's planning pipeline (planner/session.h) on `samples` synthetic inputs; error tables
// cached in the default cache folder.
inline Prepared prepare(const std::string& file, int samples, const std::string& edge = "eyeriss",
                        const std::string& cloud = "tpu", autosplit::planner::ContextOptions o = {}) {
    using namespace autosplit;
    Prepared p;
    p.path = modelPath(file);
    planner::LoadedModel m = planner::loadOptimizedModel(p.path, {});
    planner::DataSource source;
    source.synthetic = samples;
    auto data = planner::loadData(m.graph, source);
    auto cost = planner::CostModel::build(m.graph, sim::builtinDevice(edge), sim::builtinDevice(cloud),
                                          planner::PlanningContext::costOptions(o));
    planner::SessionOptions so;
    so.context = o;
    so.cacheDir = defaultCacheDir();
    planner::ModelSource src{p.path, planner::sha256File(p.path), {}};
    p.session = planner::buildPlanningSession(std::move(m.graph), std::move(cost), std::move(data), std::move(src), so);
    p.ctx = p.session->context;
    p.calibrationMs = p.session->calibrationMs;
    p.calibrationCached = p.session->calibrationFromCache;
    return p;
}

}  // namespace bench
