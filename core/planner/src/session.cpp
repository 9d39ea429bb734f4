#include "autosplit/planner/session.h"

#include "autosplit/data/data_folder.h"
#include "autosplit/eval/labels.h"
#include "autosplit/eval/text_metrics.h"
#include "autosplit/planner/accuracy.h"
#include "autosplit/quant/calibration.h"

#include <chrono>
#include <map>

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

SessionData loadData(const Graph& g, const DataSource& source, std::vector<std::string>* warnings) {
    if (!source.preprocess.empty() && source.folder.empty()) throw Error("a preprocessing profile needs a data folder of images");
    if (!source.labels.empty() && source.folder.empty()) throw Error("labels need a data folder (a label file names its files)");
    Dataset all;
    if (!source.folder.empty()) {
        all = loadDataFolder(g, source.folder, source.preprocess, warnings);
    } else {
        if (source.synthetic < 2) throw Error("synthetic data needs at least 2 inputs (one to calibrate, one to measure)");
        all = syntheticDataset(g, source.synthetic);
        if (warnings)
            warnings->push_back("calibrating and measuring on " + all.description +
                                "; accuracy drops reflect random data, not the model's real inputs (use --data DIR)");
    }
    std::map<std::string, std::string> labelOf;
    if (!source.labels.empty()) {
        const auto labels = readLabelFile(source.labels, all.sampleNames);
        for (size_t i = 0; i < labels.size(); ++i) labelOf[all.sampleNames[i]] = labels[i];
    }
    HeldOutSplit parts = splitHeldOut(std::move(all), source.calibrationSamples, source.measurementSamples);
    SessionData d;
    if (!source.dictionary.empty()) d.dictionary = loadCtcDictionary(source.dictionary);
    if (!labelOf.empty()) {
        std::vector<std::string> labels;
        for (const auto& n : parts.measurement.sampleNames) labels.push_back(labelOf.at(n));
        if (!d.dictionary.empty()) d.measurement.texts = std::move(labels);
        else d.measurement.labels = classLabels(labels, parts.measurement.sampleNames);
    }
    d.record.calibration = parts.calibration.description;
    d.record.measurement = parts.measurement.description;
    d.record.calibrationSamples = int(parts.calibration.samples.size());
    d.record.measurementSamples = int(parts.measurement.samples.size());
    d.record.heldOut = true;
    d.record.synthetic = parts.measurement.synthetic;
    d.record.labels = source.labels;
    d.record.dictionary = source.dictionary;
    d.measurement.calibration = std::move(parts.calibration);
    d.measurement.inputs = std::move(parts.measurement);
    return d;
}

std::shared_ptr<const PlanningSession> buildPlanningSession(Graph graph, std::shared_ptr<const CostModel> cost,
                                                            SessionData data, ModelSource source, const SessionOptions& o) {
    auto s = std::make_shared<PlanningSession>();
    const CancelToken& cancel = o.context.cancel;
    s->dataDescription = data.measurement.inputs.description;
    s->syntheticData = data.measurement.inputs.synthetic;
    s->data = data.record;
    auto say = [&](const std::string& line) {
        if (o.report) o.report(line);
    };

    auto t0 = Clock::now();
    if (o.equalize) {
        EqualizeOptions eq;
        eq.threads = o.threads;
        eq.cancel = cancel;
        eq.cacheDir = o.cacheDir;
        s->equalization = equalizeActivations(graph, data.measurement.calibration, eq);
        s->equalizeMs = msSince(t0);
        say(equalizationSummary(s->equalization, s->equalizeMs));
        // Rescaled constants change what the vector units load: cost the graph that is measured.
        if (!s->equalization.tensors.empty()) cost = cost->rebuiltFor(graph);
    }
    cancel.throwIfCancelled();

    // Results travel as their consumer needs them (cost_model.h ResultEncoding): class indices for
    // classifiers and CTC recognizers, a binarized map for map detectors, else the tensor.
    const EvalTask task = detectTask(graph, o.eval.task, !data.dictionary.empty());
    {
        const ResultEncoding enc = task == EvalTask::Classifier || task == EvalTask::Ctc ? ResultEncoding::ClassIndices
                                   : task == EvalTask::BinaryMap                         ? ResultEncoding::BinaryMap
                                                                                         : ResultEncoding::Tensor;
        if (enc != cost->resultEncoding()) cost = cost->withResults(enc);
    }
    CalibrationOptions calib;
    calib.bits = o.context.bits;
    calib.threads = o.threads;
    calib.cacheDir = o.cacheDir;
    calib.cancel = cancel;
    calib.progress = o.calibrationProgress;
    calib.sensitivitySamples = o.sensitivitySamples;
    // The evaluator's bias correction reads the float input means of its first calibration
    // samples: kept by this pass instead of run again.
    if (!data.measurement.calibration.samples.empty())
        calib.inputMeansSamples = biasMeanSamples(graph, o.eval, int(data.measurement.calibration.samples.size()));
    t0 = Clock::now();
    ErrorTable table = calibrate(graph, data.measurement.calibration, calib);
    s->calibrationFromCache = table.fromCache;
    s->calibrationMs = msSince(t0);
    say(std::string("calibration: ") + (table.fromCache ? "loaded from cache" : "computed") + " (" +
        std::to_string(int(s->calibrationMs)) + " ms), proxy " + table.errorKind +
        (o.sensitivitySamples > 0 ? " scaled by the sensitivity measured on " + std::to_string(o.sensitivitySamples) +
                                        " sample" + (o.sensitivitySamples == 1 ? "" : "s")
                                  : std::string()));
    cancel.throwIfCancelled();

    t0 = Clock::now();
    ContextOptions contextOptions = o.context;
    if (contextOptions.cacheDir.empty()) contextOptions.cacheDir = o.cacheDir;
    s->context = PlanningContext::build(std::move(graph), std::move(cost), std::move(table), std::move(source), contextOptions);
    s->contextMs = msSince(t0);
    // The evaluator refers to the context's graph and table (heap-held, stable addresses); it is
    // built on the first measurement the cache cannot answer.
    EvalOptions eval = o.eval;
    eval.task = task;
    if (!data.dictionary.empty()) eval.ctcDictionary = std::move(data.dictionary);
    auto evalData = std::make_shared<EvalData>(std::move(data.measurement));
    const bool labels = !evalData->labels.empty(), texts = !evalData->texts.empty();
    s->measurements = std::make_shared<MeasurementCache>(o.cacheDir, measurementIdentity(s->context->errors(), *evalData, eval));
    s->lazyEvaluator = std::make_shared<const LazyEvaluator>(
        [ctx = s->context, evalData, eval](const CancelToken& c) mutable {
            auto e = std::make_shared<const PlanEvaluator>(ctx->graph(), EvalData(*evalData), &ctx->errors(), eval, c);
            evalData.reset();  // the evaluator holds its own copy now
            return std::shared_ptr<const PlanEvaluator>(std::move(e));
        });
    s->data.task = evalTaskName(task);
    s->data.metric = evalMetricName(task, labels, texts);
    s->measure = cachedMeasure(measureWith(s->lazyEvaluator), s->measurements);
    return s;
}

}  // namespace autosplit::planner
