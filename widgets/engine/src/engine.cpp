#include "autosplit/engine/engine.h"

#include "autosplit/errors.h"
#include "autosplit/onnx_import.h"
#include "autosplit/passes.h"

#include <QElapsedTimer>
#include <QFileInfo>

#include <algorithm>
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
    // Import is one call without a cancellation point: a cancelled load drops its result after it.
    m->graph = importOnnx(request.path.toStdString(), opts, &m->importReport);
    timings.importMs = msSince(t);
    cancel.throwIfCancelled();

    report(progress, 0.55, QStringLiteral("Optimizing the graph"));
    t.restart();
    m->optimizeReport = optimize(m->graph);
    timings.optimizeMs = msSince(t);
    cancel.throwIfCancelled();

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
    report(progress, 0.90, QStringLiteral("Simulating %1 layers on %2 (cloud)")
                               .arg(model.analysis.layers.size())
                               .arg(QString::fromStdString(cloud.name)));
    d.cloudLatency = build(cloud);
    timings.latencyMs = msSince(t);
    report(progress, 1.0, QStringLiteral("Done"));
    return d;
}

Engine::Engine(QObject* parent) : QObject(parent) {
    qRegisterMetaType<std::shared_ptr<const ModelSession>>();
    qRegisterMetaType<std::shared_ptr<const SplitEstimates>>();
    qRegisterMetaType<LoadErrorKind>();
    // One thread may sit in a long import while slider re-scoring keeps running on another.
    pool_.setMaxThreadCount(std::max(2, QThread::idealThreadCount()));
    throttle_.setInterval(30);
    throttle_.setSingleShot(false);
    connect(&throttle_, &QTimer::timeout, this, [this] {
        if (estimateDirty_) runEstimate();
        else throttle_.stop();
    });
}

Engine::~Engine() {
    throttle_.stop();
    loads_.cancel();
    estimatesJob_.cancel();
    pool_.waitForDone();
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
    return startSessionJob(std::move(r), session_->model);
}

quint64 Engine::startSessionJob(LoadRequest request, std::shared_ptr<const ModelData> reuse) {
    pendingRequest_ = request;
    loading_ = true;
    sim::LatencyTableCache* cache = &latencyCache_;
    const QString path = request.path;
    const quint64 gen = loads_.start(
        [request = std::move(request), reuse, cache](const JobContext& job) {
            auto session = std::make_shared<ModelSession>();
            session->model = reuse ? reuse : loadModelData(request, job.cancel, &job.progress, session->timings);
            session->devices = buildDevices(*session->model, request.edgeDevice, request.cloudDevice, cache,
                                            job.cancel, &job.progress, session->timings);
            return std::shared_ptr<const ModelSession>(std::move(session));
        },
        [this](std::shared_ptr<const ModelSession> s) {
            loading_ = false;
            pendingRequest_.reset();
            session_ = std::move(s);
            emit sessionAvailable(session_);
            requestEstimate(constraints_);
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

void Engine::cancelLoad() {
    if (!loading_) return;
    const QString path = pendingRequest_ ? pendingRequest_->path : QString();
    loads_.cancel();
    loading_ = false;
    pendingRequest_.reset();
    emit loadCancelled(path);
}

void Engine::requestEstimate(const Constraints& constraints) {
    constraints_ = constraints;
    ++requestSerial_;
    estimateDirty_ = true;
    if (!session_) return;
    if (!throttle_.isActive()) {  // leading edge: the first change of a burst runs at once
        runEstimate();
        throttle_.start();
    }
}

void Engine::runEstimate() {
    estimateDirty_ = false;
    if (!session_) return;
    auto session = session_;
    const Constraints c = constraints_;
    const quint64 serial = requestSerial_;
    estimatesJob_.start(
        [session, c, serial](const JobContext& job) {
            auto e = std::make_shared<SplitEstimates>(estimateSplits(*session, c, job.cancel));
            e->requestSerial = serial;
            e->generation = job.generation;
            return std::shared_ptr<const SplitEstimates>(std::move(e));
        },
        [this](std::shared_ptr<const SplitEstimates> e) {
            estimates_ = std::move(e);
            emit estimateAvailable(estimates_);
        },
        [this](std::exception_ptr e) { emit estimateFailed(describeException(e)); });
}

}  // namespace autosplit::engine
