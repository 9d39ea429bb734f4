#include "autosplit/planner/session.h"

#include "autosplit/data/data_folder.h"
#include "autosplit/planner/accuracy.h"
#include "autosplit/quant/calibration.h"

#include <chrono>

namespace autosplit::planner {

namespace {

using Clock = std::chrono::steady_clock;
double msSince(Clock::time_point t0) { return std::chrono::duration<double, std::milli>(Clock::now() - t0).count(); }

}  // namespace

LoadedModel loadOptimizedModel(const std::string& path, const ImportOptions& options, const CancelToken& cancel,
                               const std::function<void(const std::string& stage)>& stage) {
    LoadedModel m;
    if (stage) stage("import");
    auto t0 = Clock::now();
    // Import is one call without a cancellation point: a cancelled load drops its result after it.
    m.graph = importOnnx(path, options, &m.import);
    m.importMs = msSince(t0);
    cancel.throwIfCancelled();
    if (stage) stage("optimize");
    t0 = Clock::now();
    m.optimize = optimize(m.graph);
    m.optimizeMs = msSince(t0);
    cancel.throwIfCancelled();
    return m;
}

Dataset loadData(const Graph& g, const DataSource& source, std::vector<std::string>* warnings) {
    if (!source.folder.empty()) return loadDataFolder(g, source.folder, source.preprocess, warnings);
    if (!source.preprocess.empty()) throw Error("a preprocessing profile needs a data folder of images");
    if (source.synthetic < 1) throw Error("synthetic data needs a positive count of inputs");
    Dataset d = syntheticDataset(g, source.synthetic);
    if (warnings)
        warnings->push_back("calibrating and measuring on " + d.description +
                            "; accuracy drops reflect random data, not the model's real inputs (use --data DIR)");
    return d;
}

std::shared_ptr<const PlanningSession> buildPlanningSession(Graph graph, std::shared_ptr<const CostModel> cost,
                                                            Dataset data, ModelSource source, const SessionOptions& o) {
    auto s = std::make_shared<PlanningSession>();
    const CancelToken& cancel = o.context.cancel;
    s->dataDescription = data.description;
    s->syntheticData = data.synthetic;
    auto say = [&](const std::string& line) {
        if (o.report) o.report(line);
    };

    auto t0 = Clock::now();
    if (o.equalize) {
        EqualizeOptions eq;
        eq.threads = o.threads;
        eq.cancel = cancel;
        s->equalization = equalizeActivations(graph, data, eq);
        s->equalizeMs = msSince(t0);
        say(equalizationSummary(s->equalization, s->equalizeMs));
        // Rescaled constants change what the vector units load: cost the graph that is measured.
        if (!s->equalization.tensors.empty()) cost = cost->rebuiltFor(graph);
    }
    cancel.throwIfCancelled();

    CalibrationOptions calib;
    calib.bits = o.context.bits;
    calib.threads = o.threads;
    calib.cacheDir = o.cacheDir;
    calib.cancel = cancel;
    calib.progress = o.calibrationProgress;
    t0 = Clock::now();
    ErrorTable table = calibrate(graph, data, calib);
    s->calibrationFromCache = table.fromCache;
    s->calibrationMs = msSince(t0);
    say(std::string("calibration: ") + (table.fromCache ? "loaded from cache" : "computed") + " (" +
        std::to_string(int(s->calibrationMs)) + " ms)");
    cancel.throwIfCancelled();

    t0 = Clock::now();
    s->context = PlanningContext::build(std::move(graph), std::move(cost), std::move(table), std::move(source), o.context);
    s->contextMs = msSince(t0);
    // The evaluator refers to the context's graph and table (heap-held, stable addresses).
    EvalData ed;
    ed.inputs = std::move(data);
    s->evaluator = std::make_shared<const PlanEvaluator>(s->context->graph(), std::move(ed), &s->context->errors(), o.eval, cancel);
    s->measure = measureWith(*s->evaluator);
    return s;
}

}  // namespace autosplit::planner
