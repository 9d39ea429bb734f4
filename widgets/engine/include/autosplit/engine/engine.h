// The engine layer between core/sim and the widgets (QtCore only): owns the worker threads,
// runs the slow path (load = import + optimize + analyze + splits + latency tables) with
// progress and cancel, and the fast path (re-score splits for new constraints) throttled while
// a slider is dragged. Results reach the UI thread queued, as shared_ptr<const T>, and only if
// no newer request superseded them.
#pragma once

#include "autosplit/engine/job_tracker.h"
#include "autosplit/engine/model_session.h"
#include "autosplit/engine/split_estimate.h"
#include "autosplit/sim/latency_table.h"

#include <QElapsedTimer>
#include <QObject>
#include <QThreadPool>
#include <QTimer>

#include <memory>
#include <optional>

namespace autosplit::engine {

// Why a load failed, so the window can offer the right fix (e.g. binding input dims).
enum class LoadErrorKind { Import, Shape, Device, Other };

class Engine : public QObject {
    Q_OBJECT
public:
    explicit Engine(QObject* parent = nullptr);
    ~Engine() override;

    std::shared_ptr<const ModelSession> session() const { return session_; }
    std::shared_ptr<const SplitEstimates> estimates() const { return estimates_; }
    const PlanRequest& request() const { return request_; }
    bool isLoading() const { return loading_; }
    bool isPlanning() const { return planning_; }  // stage two of a load: calibration + planning context
    quint64 loadGeneration() const { return loads_.generation(); }
    quint64 estimateGeneration() const { return estimatesJob_.generation(); }
    // Serial of the latest requestEstimate(); results carry the serial they answer.
    quint64 requestSerial() const { return requestSerial_; }

    // The fast path runs one job at a time, the latest request as soon as the previous job has
    // delivered (a slider drag gets one plan per finished job, never a queue). Above 0, the
    // throttle also keeps that many ms between starts (default 0).
    void setThrottleInterval(int ms) { throttle_.setInterval(ms); }
    int throttleInterval() const { return throttle_.interval(); }
    // Build the planner's context on load (on by default); tests of
    // the plumbing alone switch it off to stay fast.
    void setPlanningEnabled(bool on) { planningEnabled_ = on; }

public slots:
    // Slow path; supersedes a running load. On success the session is replaced and a fresh
    // estimate for the current constraints follows; on failure the previous session stays.
    // With the planner, a second sessionAvailable (same model, with `planning`) follows once
    // calibration and the planning context are built.
    quint64 loadModel(const autosplit::engine::LoadRequest& request);
    // Rebuild only the latency tables for other devices (the model stays).
    quint64 setDevices(const autosplit::sim::DeviceProfile& edge, const autosplit::sim::DeviceProfile& cloud);
    void cancelLoad();
    // Re-plans the loaded model on other calibration / measurement data (stage two only).
    void setDataSource(const autosplit::planner::DataSource& data);
    // Fast path, throttled; the latest request always wins.
    void requestEstimate(const autosplit::engine::PlanRequest& request);
    // Writes the selected plan of `plans` (made on the current session's planning stage) as
    // edge.onnx + cloud.onnx + manifest.json into `dir` (deploy/export_plan.h) on a worker thread
    // and measures the exported pair on the held-out samples; exportFinished or exportFailed
    // follows. A later export supersedes a running one.
    void exportDeployment(std::shared_ptr<const autosplit::planner::PlanSet> plans, const QString& dir);

signals:
    void loadStarted(quint64 generation, const QString& path);
    void loadProgress(quint64 generation, double fraction, const QString& stage);
    void sessionAvailable(std::shared_ptr<const autosplit::engine::ModelSession> session);
    void loadFailed(const QString& path, const QString& message, autosplit::engine::LoadErrorKind kind);
    void loadCancelled(const QString& path);
    void estimateAvailable(std::shared_ptr<const autosplit::engine::SplitEstimates> estimates);
    void estimateFailed(const QString& message);
    void exportFinished(const QString& dir, const QString& summary);
    void exportFailed(const QString& dir, const QString& message);

private:
    quint64 startSessionJob(LoadRequest request, std::shared_ptr<const ModelData> reuse);
    void runEstimate();
    void maybeRunEstimate();
    void runMeasurement();
    void startPlanning();

    QThreadPool pool_;
    // Background accuracy measurements run on a thread of their own at nice 10 (Linux; the
    // evaluator's worker threads are created at nice 10, EvalOptions::backgroundWorkers): they use every core for seconds
    // to minutes, and the UI thread and the slider re-plans must preempt them at once rather than
    // wait for a time slice. Not SCHED_IDLE: a build in another terminal would starve them.
    QThreadPool measurePool_;
    JobTracker loads_{this, &pool_};
    JobTracker estimatesJob_{this, &pool_};
    JobTracker measureJob_{this, &measurePool_};
    JobTracker planningJob_{this, &pool_};
    JobTracker exportJob_{this, &pool_};
    bool planning_ = false;
    QTimer measureDelay_;
    bool measureNow_ = false;  // the next estimate is the first after planning: measure at once
    bool planningEnabled_ = true;
    sim::LatencyTableCache latencyCache_;
    std::shared_ptr<const ModelSession> session_;
    std::shared_ptr<const SplitEstimates> estimates_;
    std::optional<LoadRequest> pendingRequest_;  // of the running load
    bool loading_ = false;
    PlanRequest request_;
    quint64 requestSerial_ = 0;
    bool estimateDirty_ = false;
    bool estimateRunning_ = false;  // a fast-path job is out; its delivery takes up the latest request
    QTimer throttle_;
};

// The slow path as plain functions (what a load job runs); `progress` may be null.
std::shared_ptr<const ModelData> loadModelData(const LoadRequest& request, const CancelToken& cancel,
                                               ProgressReporter* progress, StageTimings& timings);
DeviceSetup buildDevices(const ModelData& model, const sim::DeviceProfile& edge, const sim::DeviceProfile& cloud,
                         sim::LatencyTableCache* cache, const CancelToken& cancel, ProgressReporter* progress,
                         StageTimings& timings);
// Stage two: the planning session (planner/session.h) for the bit set, on `data` (held-out
// calibration and measurement parts; synthetic inputs when it names no folder).
std::shared_ptr<const planner::PlanningSession> buildPlanning(const ModelData& model, const DeviceSetup& devices,
                                                              const planner::DataSource& data, const std::vector<int>& bits,
                                                              const CancelToken& cancel, ProgressReporter* progress,
                                                              StageTimings& timings);
// The planner's part of a bit set: the widths of {2, 4, 6, 8} it holds, sorted ({8} if none).
std::vector<int> plannerBits(const std::vector<int>& bitSet);

}  // namespace autosplit::engine

Q_DECLARE_METATYPE(autosplit::engine::LoadErrorKind)
