#include "autosplit/engine/engine.h"

#include "autosplit/deploy/export_plan.h"
#include "autosplit/deploy/manifest.h"
#include "autosplit/eval/bits_file.h"
#include "autosplit/onnx/import.h"
#include "autosplit/passes/optimize.h"
#include "autosplit/util/errors.h"
#include "autosplit/util/thread_priority.h"

#include "autosplit/planner/plan_io.h"
#include "autosplit/quant/calibration.h"

#include <QElapsedTimer>
#include <QFileInfo>

#include <algorithm>
#include <future>
#include <thread>


namespace autosplit::engine {

namespace {

double msSince(const QElapsedTimer& t) { return double(t.nsecsElapsed()) / 1e6; }

void report(ProgressReporter* p, double f, const QString& stage) {
    if (p) p->report(f, stage);
}

LoadErrorKind classify(std::exception_ptr e) {
    try {
        std::rethrow_exception(e);
    } catch (const ShapeError&) {
        return LoadErrorKind::Shape;
    } catch (const sim::DeviceError&) {
        return LoadErrorKind::Device;
    } catch (const ImportError&) {
        return LoadErrorKind::Import;
    } catch (const GraphError&) {
        return LoadErrorKind::Import;
    } catch (...) {
        return LoadErrorKind::Other;
    }
}

}  // namespace

std::shared_ptr<const ModelData> loadModelData(const LoadRequest& request, const CancelToken& cancel,
                                               ProgressReporter* progress, StageTimings& timings) {
    auto m = std::make_shared<ModelData>();
    const QFileInfo info(request.path);
    if (!info.exists()) throw ImportError(request.path.toStdString() + ": no such file");
    if (!info.isFile()) throw ImportError(request.path.toStdString() + ": not a file");
    m->path = info.absoluteFilePath();
    m->displayName = info.fileName();
    m->inputShapes = request.inputShapes;
    m->modelKey = m->path.toStdString() + "|" + std::to_string(info.size()) + "|" +
                  std::to_string(info.lastModified().toMSecsSinceEpoch()) + "|" +
                  bindingsText(request.inputShapes).toStdString();

    QElapsedTimer t;
    t.start();
    report(progress, 0.02, QStringLiteral("Reading %1 (%2 MB)").arg(m->displayName).arg(double(info.size()) / 1e6, 0, 'f', 1));
    ImportOptions opts;
    opts.inputShapes = request.inputShapes;
    planner::LoadedModel loaded = planner::loadOptimizedModel(request.path.toStdString(), opts, cancel, [&](const std::string& stage) {
        if (stage == "optimize") report(progress, 0.55, QStringLiteral("Optimizing the graph"));
    });
    m->graph = std::move(loaded.graph);
    m->importReport = std::move(loaded.import);
    m->optimizeReport = std::move(loaded.optimize);
    timings.importMs = loaded.importMs;
    timings.optimizeMs = loaded.optimizeMs;

    report(progress, 0.65, QStringLiteral("Analysing %1 layers").arg(m->graph.nodes.size()));
    t.restart();
    m->analysis = analyze(m->graph);
    timings.analyzeMs = msSince(t);
    cancel.throwIfCancelled();

    report(progress, 0.72, QStringLiteral("Enumerating %1 split points").arg(m->graph.nodes.size() + 1));
    t.restart();
    m->splits = enumerateSplits(m->graph);
    timings.splitsMs = msSince(t);
    cancel.throwIfCancelled();
    if (m->graph.nodes.empty()) throw ImportError(request.path.toStdString() + ": the graph has no nodes");
    return m;
}

DeviceSetup buildDevices(const ModelData& model, const sim::DeviceProfile& edge, const sim::DeviceProfile& cloud,
                         sim::LatencyTableCache* cache, const CancelToken& cancel, ProgressReporter* progress,
                         StageTimings& timings) {
    if (edge.name.empty()) throw sim::DeviceError("no edge device profile selected");
    if (cloud.name.empty()) throw sim::DeviceError("no cloud device profile selected");
    DeviceSetup d;
    d.edge = edge;
    d.cloud = cloud;
    QElapsedTimer t;
    t.start();
    auto build = [&](const sim::DeviceProfile& dev) -> std::shared_ptr<const sim::LatencyTable> {
        if (cache) return cache->get(model.modelKey, model.analysis.layers, dev, nullptr, cancel);
        return std::make_shared<const sim::LatencyTable>(
            sim::LatencyTable::build(model.analysis.layers, dev, nullptr, cancel));
    };
    report(progress, 0.80, QStringLiteral("Simulating %1 layers on %2 (edge)")
                               .arg(model.analysis.layers.size())
                               .arg(QString::fromStdString(edge.name)));
    d.edgeLatency = build(edge);
    report(progress, 0.86, QStringLiteral("Simulating %1 layers on %2 (cloud)")
                               .arg(model.analysis.layers.size())
                               .arg(QString::fromStdString(cloud.name)));
    d.cloudLatency = build(cloud);
    planner::CostModelOptions co;
    co.cancel = cancel;
    d.cost = planner::CostModel::build(model.graph, edge, cloud, d.edgeLatency, d.cloudLatency, co);
    timings.latencyMs = msSince(t);
    return d;
}

std::vector<int> plannerBits(const std::vector<int>& bitSet) {
    std::vector<int> out;
    for (int b : bitSet)
        if (b == 2 || b == 4 || b == 6 || b == 8) out.push_back(b);
    if (out.empty()) out.push_back(8);
    std::sort(out.begin(), out.end());
    out.erase(std::unique(out.begin(), out.end()), out.end());
    return out;
}

std::shared_ptr<const planner::PlanningSession> buildPlanning(const ModelData& model, const DeviceSetup& devices,
                                                              const planner::DataSource& source, const std::vector<int>& bits,
                                                              const CancelToken& cancel, ProgressReporter* progress,
                                                              StageTimings& timings) {
    QElapsedTimer t;
    t.start();
    // The user's data folder, or seeded synthetic inputs when none is given (the CLI's default);
    // the error table is cached per model, data and bits.
    report(progress, 0.9, QStringLiteral("Reading the data"));
    // The model file's SHA-256 (the plan's model identity) on a thread of its own meanwhile.
    auto modelSha256 = std::async(std::launch::async, [path = model.path.toStdString()] { return planner::sha256File(path); });
    auto data = planner::loadData(model.graph, source);
    planner::SessionOptions o;
    o.context.bits = bits;
    o.context.compareLagrangian = false;  // a report for the CLI; the window needs only the exact solutions
    // Measurements run beside slider drags: the evaluator's workers yield the cores to the UI
    // and the fast path (the measurement thread itself is lowered in runMeasurement).
    o.eval.backgroundWorkers = true;
    o.context.cancel = cancel;
    o.context.progress = [&](const std::string& stage, int done, int total) {
        report(progress, 0.96 + 0.03 * done / std::max(total, 1), QStringLiteral("Planning: %1").arg(QString::fromStdString(stage)));
    };
    o.cacheDir = defaultCacheDir();
    o.calibrationProgress = [&](int done, int total) {
        report(progress, 0.92 + 0.04 * done / std::max(total, 1),
               QStringLiteral("Calibrating quantization errors (%1/%2 inputs)").arg(done).arg(total));
    };
    // The window's DAG keeps showing model.graph (same nodes as the equalized copy).
    report(progress, 0.92, QStringLiteral("Equalizing activation ranges"));
    planner::ModelSource src;
    src.path = model.path.toStdString();
    src.sha256 = modelSha256.get();
    for (const auto& [name, dims] : model.inputShapes)
        src.inputBindings.push_back((QString::fromStdString(name) + QLatin1Char('=') + shapeText(dims)).toStdString());
    auto session = planner::buildPlanningSession(model.graph, devices.cost, std::move(data), std::move(src), o);
    timings.calibrationMs = session->calibrationFromCache ? 0.0 : session->equalizeMs + session->calibrationMs;
    timings.planningMs = msSince(t) - timings.calibrationMs;
    return session;
}

Engine::Engine(QObject* parent) : QObject(parent) {
    qRegisterMetaType<std::shared_ptr<const ModelSession>>();
    qRegisterMetaType<std::shared_ptr<const SplitEstimates>>();
    qRegisterMetaType<LoadErrorKind>();
    // One thread may sit in a long import while slider re-scoring keeps running on another;
    // background accuracy measurements have a thread of their own, at idle priority.
    pool_.setMaxThreadCount(std::max(3, QThread::idealThreadCount()));
    measurePool_.setMaxThreadCount(1);
    // The fast path runs whenever it is idle (latest request wins, coalesced while one runs);
    // the throttle only spaces the starts when set above 0.
    throttle_.setInterval(0);
    throttle_.setSingleShot(true);
    connect(&throttle_, &QTimer::timeout, this, &Engine::maybeRunEstimate);
    // Measured accuracy is slow: start it only once the sliders rest (a restart-debounce).
    measureDelay_.setSingleShot(true);
    measureDelay_.setInterval(300);
    connect(&measureDelay_, &QTimer::timeout, this, &Engine::runMeasurement);
}

Engine::~Engine() {
    throttle_.stop();
    measureDelay_.stop();
    loads_.cancel();
    estimatesJob_.cancel();
    measureJob_.cancel();
    planningJob_.cancel();
    exportJob_.cancel();
    pool_.waitForDone();
    measurePool_.waitForDone();
}

quint64 Engine::loadModel(const LoadRequest& request) { return startSessionJob(request, nullptr); }

quint64 Engine::setDevices(const sim::DeviceProfile& edge, const sim::DeviceProfile& cloud) {
    if (loading_ && pendingRequest_) {  // restart the running load with the new devices
        LoadRequest r = *pendingRequest_;
        r.edgeDevice = edge;
        r.cloudDevice = cloud;
        return startSessionJob(std::move(r), nullptr);
    }
    if (!session_) return 0;
    LoadRequest r;
    r.path = session_->model->path;
    r.inputShapes = session_->model->inputShapes;
    r.edgeDevice = edge;
    r.cloudDevice = cloud;
    r.data = session_->data;
    return startSessionJob(std::move(r), session_->model);
}

void Engine::setDataSource(const planner::DataSource& data) {
    if (loading_ && pendingRequest_) {  // the running load picks it up
        LoadRequest r = *pendingRequest_;
        r.data = data;
        startSessionJob(std::move(r), nullptr);
        return;
    }
    if (!session_ || session_->data == data) return;
    auto s = std::make_shared<ModelSession>(*session_);
    s->data = data;
    s->planning.reset();
    s->planningError.clear();
    session_ = std::move(s);
    startPlanning();
    emit sessionAvailable(session_);
    requestEstimate(request_);
}

quint64 Engine::startSessionJob(LoadRequest request, std::shared_ptr<const ModelData> reuse) {
    pendingRequest_ = request;
    loading_ = true;
    sim::LatencyTableCache* cache = &latencyCache_;
    const QString path = request.path;
    planningJob_.cancel();
    planning_ = false;
    const quint64 gen = loads_.start(
        [=, request = std::move(request)](const JobContext& job) {
            auto session = std::make_shared<ModelSession>();
            session->model = reuse ? reuse : loadModelData(request, job.cancel, &job.progress, session->timings);
            session->data = request.data;
            session->devices = buildDevices(*session->model, request.edgeDevice, request.cloudDevice, cache,
                                            job.cancel, &job.progress, session->timings);
            job.progress.report(0.9, QStringLiteral("Model ready"));
            return std::shared_ptr<const ModelSession>(std::move(session));
        },
        [this](std::shared_ptr<const ModelSession> s) {
            loading_ = false;
            pendingRequest_.reset();
            session_ = std::move(s);
            // Stage two (calibration and the planning context) runs in the background ...
            startPlanning();
            // ... while stage one, the model, its layout and the uniform-bit estimate, shows at once.
            emit sessionAvailable(session_);
            requestEstimate(request_);
        },
        [this, path](std::exception_ptr e) {
            loading_ = false;
            pendingRequest_.reset();
            emit loadFailed(path, describeException(e), classify(e));
        },
        [this, path](double f, const QString& stage) { emit loadProgress(loads_.generation(), f, stage); });
    emit loadStarted(gen, path);
    return gen;
}

void Engine::startPlanning() {
    if (!planningEnabled_ || !session_) return;
    planning_ = true;
    auto base = session_;
    const std::vector<int> bits = plannerBits(request_.bitSet);
    planningJob_.start(
        [base, bits](const JobContext& job) {
            auto s = std::make_shared<ModelSession>(*base);
            try {
                s->planning = buildPlanning(*s->model, s->devices, s->data, bits, job.cancel, &job.progress, s->timings);
            } catch (const Cancelled&) {
                throw;
            } catch (const std::exception& e) {
                // The model stays usable with the uniform-bit estimate; the window says why.
                s->planning.reset();
                s->planningError = QString::fromUtf8(e.what());
            }
            job.progress.report(1.0, QStringLiteral("Planner ready"));
            return std::shared_ptr<const ModelSession>(std::move(s));
        },
        [this](std::shared_ptr<const ModelSession> s) {
            planning_ = false;
            session_ = std::move(s);
            emit sessionAvailable(session_);
            requestEstimate(request_);
            measureNow_ = true;  // no slider moved: the first measurement needs no debounce
        },
        {}, [this](double f, const QString& stage) { emit loadProgress(planningJob_.generation(), f, stage); });
}

void Engine::cancelLoad() {
    if (!loading_ && !planning_) return;
    const QString path = pendingRequest_ ? pendingRequest_->path : (session_ ? session_->model->path : QString());
    loads_.cancel();
    planningJob_.cancel();
    loading_ = false;
    planning_ = false;
    pendingRequest_.reset();
    emit loadCancelled(path);
}

void Engine::requestEstimate(const PlanRequest& request) {
    request_ = request;
    ++requestSerial_;
    measureNow_ = false;
    estimateDirty_ = true;
    measureDelay_.stop();
    measureJob_.cancel();  // a measurement for older constraints is superseded
    if (!session_) return;
    // A new bit set invalidates the planning context (slow path): rebuild it on the same model.
    if (session_->planning && session_->planning->context->bits() != plannerBits(request.bitSet) && !loading_) startPlanning();
    maybeRunEstimate();
}

void Engine::maybeRunEstimate() {
    // One fast-path job at a time: a request arriving while one runs is taken up, as the latest,
    // the moment it delivers (no job is cancelled half-way, none waits for a timer).
    if (!estimateDirty_ || estimateRunning_ || throttle_.isActive() || !session_) return;
    runEstimate();
    if (throttle_.interval() > 0) throttle_.start();
}

void Engine::runEstimate() {
    estimateDirty_ = false;
    if (!session_) return;
    estimateRunning_ = true;
    auto session = session_;
    const PlanRequest c = request_;
    const quint64 serial = requestSerial_;
    estimatesJob_.start(
        [session, c, serial](const JobContext& job) {
            auto e = std::make_shared<SplitEstimates>(estimateSplits(*session, c, job.cancel));
            e->requestSerial = serial;
            e->generation = job.generation;
            if (session->planning) {
                QElapsedTimer t;
                t.start();
                e->plans = planner::replan(*session->planning->context, c.constraints);
                e->replanMs = msSince(t);
            }
            return std::shared_ptr<const SplitEstimates>(std::move(e));
        },
        [this](std::shared_ptr<const SplitEstimates> e) {
            estimateRunning_ = false;
            estimates_ = std::move(e);
            emit estimateAvailable(estimates_);
            if (estimates_->plans && !estimates_->plans->final() && !estimateDirty_) {
                if (measureNow_) runMeasurement();
                else measureDelay_.start();
            }
            measureNow_ = false;
            maybeRunEstimate();
        },
        [this](std::exception_ptr e) {
            estimateRunning_ = false;
            emit estimateFailed(describeException(e));
            maybeRunEstimate();
        });
}

void Engine::runMeasurement() {
    if (!session_ || !session_->planning || !estimates_ || !estimates_->plans || estimateDirty_) return;
    auto session = session_;
    auto first = estimates_;
    measureJob_.start(
        [this, session, first](const JobContext& job) {
            lowerCurrentThreadPriority();  // the measurement pool's own thread, for its whole life
            const planner::PlanningSession& p = *session->planning;
            auto e = std::make_shared<SplitEstimates>(*first);
            QElapsedTimer t;
            t.start();
            // Each measurement's selection reaches the window as it is taken (not final yet).
            auto onMeasured = [this, first, &job](std::shared_ptr<const planner::PlanSet> ps) {
                auto interim = std::make_shared<SplitEstimates>(*first);
                interim->plans = std::move(ps);
                job.post([this, interim = std::shared_ptr<const SplitEstimates>(std::move(interim))] {
                    if (!estimates_ || interim->requestSerial != estimates_->requestSerial) return;
                    estimates_ = interim;
                    emit estimateAvailable(estimates_);
                });
            };
            e->plans = planner::planWithMeasurement(*p.context, first->plans->constraints, p.measure, job.cancel, 32, onMeasured);
            e->replanMs = msSince(t);
            e->measured = true;
            return std::shared_ptr<const SplitEstimates>(std::move(e));
        },
        [this](std::shared_ptr<const SplitEstimates> e) {
            if (!estimates_ || e->requestSerial != estimates_->requestSerial) return;  // constraints moved on
            estimates_ = std::move(e);
            emit estimateAvailable(estimates_);
        },
        [this](std::exception_ptr e) { emit estimateFailed(tr("accuracy measurement: %1").arg(describeException(e))); });
}

void Engine::exportDeployment(std::shared_ptr<const planner::PlanSet> plans, const QString& dir) {
    const auto session = session_;
    if (!session || !session->planning || !plans) {
        emit exportFailed(dir, tr("the planner has not finished on this model yet"));
        return;
    }
    exportJob_.start(
        [session, plans, dir](const JobContext& job) {
            const planner::PlanningSession& p = *session->planning;
            const std::string text = planner::planToJson(*p.context, *plans, &p.data);
            const planner::PlanDocument doc = planner::parsePlan(text, "plan");
            const Graph& g = p.context->graph();
            const PlanBits bits = parsePlanBits(g, text, "plan").bits;
            job.progress.report(0.1, tr("fitting the plan's values on the calibration set"));
            const PlanDeployment d = p.evaluator(job.cancel)->deployment(bits, job.cancel);
            job.progress.report(0.5, tr("writing and checking the models"));
            const deploy::Manifest m = deploy::writeExport(g, bits, d, doc, dir.toStdString());
            job.progress.report(0.7, tr("measuring the exported pair"));
            const EvalMetrics em = deploy::measureExport(g, dir.toStdString(), *p.evaluator(job.cancel), job.cancel);
            QString summary = tr("%1%2, plan hash %3\n%4 tensor(s) sent, %5 bytes a frame\npredicted %6 ms\n"
                                 "exported pair measured: drop %7% %8 [%9, %10] on %11 %12samples")
                                  .arg(QString::fromStdString(m.kind),
                                       m.splitAfter.empty() ? QString() : tr(" after '%1'").arg(QString::fromStdString(m.splitAfter)),
                                       QString::fromStdString(m.planHash))
                                  .arg(m.transmitted.size())
                                  .arg(m.transmittedBytes())
                                  .arg(m.predicted.totalMs, 0, 'f', 2)
                                  .arg(em.accuracyDrop, 0, 'f', 3)
                                  .arg(QString::fromStdString(em.metricName))
                                  .arg(em.dropInterval.low, 0, 'f', 3)
                                  .arg(em.dropInterval.high, 0, 'f', 3)
                                  .arg(em.samples)
                                  .arg(em.heldOut ? tr("held-out ") : QString());
            if (doc.selected.accuracyDrop) summary += tr(" (the plan measured %1%)").arg(*doc.selected.accuracyDrop, 0, 'f', 3);
            return std::make_shared<const QString>(summary);
        },
        [this, dir](std::shared_ptr<const QString> summary) { emit exportFinished(dir, *summary); },
        [this, dir](std::exception_ptr e) { emit exportFailed(dir, describeException(e)); });
}

}  // namespace autosplit::engine
