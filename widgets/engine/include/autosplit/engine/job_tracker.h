// Runs core work on a worker pool and hands the result back to one QObject's thread, hotspot
// style: every job gets a generation number and a CancelToken; starting a job supersedes (and
// cancels) the previous one, and a result whose generation is no longer current is dropped
// before it reaches the receiver. Progress is throttled so a fast loop cannot flood the UI.
#pragma once

#include "autosplit/util/cancel.h"
#include "autosplit/util/errors.h"

#include <QElapsedTimer>
#include <QMetaObject>
#include <QObject>
#include <QPointer>
#include <QString>
#include <QThreadPool>

#include <atomic>
#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <utility>

namespace autosplit::engine {

// Handed to a job: report(fraction in [0,1], stage). Calls closer together than the throttle
// interval are coalesced; the stage text of a skipped call is not lost once a later call passes.
class ProgressReporter {
public:
    using Sink = std::function<void(double, const QString&)>;
    ProgressReporter(Sink sink, int intervalMs) : sink_(std::move(sink)), intervalMs_(intervalMs) { clock_.start(); }
    void report(double fraction, const QString& stage) {
        if (!sink_) return;
        std::lock_guard lock(mutex_);
        const bool stageChanged = stage != lastStage_;
        if (!stageChanged && emitted_ && clock_.elapsed() < intervalMs_ && fraction < 1.0) return;
        emitted_ = true;
        lastStage_ = stage;
        clock_.restart();
        sink_(fraction, stage);
    }

private:
    Sink sink_;
    int intervalMs_;
    std::mutex mutex_;
    QElapsedTimer clock_;
    QString lastStage_;
    bool emitted_ = false;
};

// What a job sees while it runs on the pool.
struct JobContext {
    CancelToken cancel;
    ProgressReporter& progress;
    quint64 generation;
    // Runs `fn` on the receiver's thread, in order, only while this job is still the current one
    // (an interim result; the final one is the job's return value).
    std::function<void(std::function<void()>)> post;
};

class JobTracker {
public:
    // `receiver` owns the tracker; callbacks run on its thread. `pool` must outlive the jobs:
    // the owner calls shutdown() (cancel + wait) before either is destroyed.
    JobTracker(QObject* receiver, QThreadPool* pool) : receiver_(receiver), pool_(pool) {}
    JobTracker(const JobTracker&) = delete;
    JobTracker& operator=(const JobTracker&) = delete;

    quint64 generation() const { return state_->generation.load(); }
    bool isCurrent(quint64 generation) const { return state_->generation.load() == generation; }
    bool isRunning() const { return state_->running.load() > 0; }
    int progressIntervalMs = 50;

    // Supersede the current job: its result, error and progress will be dropped.
    void cancel() {
        std::lock_guard lock(state_->mutex);
        ++state_->generation;
        state_->token.cancel();
    }

    void shutdown() {
        cancel();
        pool_->waitForDone();
    }

    // work(const JobContext&) -> R, run on the pool.
    // onResult(R&&), onError(std::exception_ptr), onProgress(double, QString) run on the
    // receiver's thread, only while this job is still the current one.
    template <typename Work, typename OnResult>
    quint64 start(Work work, OnResult onResult, std::function<void(std::exception_ptr)> onError = {},
                  std::function<void(double, const QString&)> onProgress = {}) {
        CancelToken token;
        quint64 gen = 0;
        {
            std::lock_guard lock(state_->mutex);
            state_->token.cancel();
            state_->token = token;
            gen = ++state_->generation;
        }
        auto state = state_;
        QPointer<QObject> receiver = receiver_;
        auto deliver = [state, receiver, gen, token](auto fn) {
            if (!receiver) return;
            QMetaObject::invokeMethod(
                receiver.data(),
                [state, gen, token, fn = std::move(fn)]() mutable {
                    if (state->generation.load() != gen || token.cancelled()) return;  // stale: drop
                    fn();
                },
                Qt::QueuedConnection);
        };
        ProgressReporter::Sink sink;
        if (onProgress)
            sink = [deliver, onProgress](double f, const QString& stage) {
                deliver([onProgress, f, stage] { onProgress(f, stage); });
            };
        const int interval = progressIntervalMs;
        ++state->running;
        pool_->start([state, token, gen, deliver, sink, interval, work = std::move(work),
                      onResult = std::move(onResult), onError = std::move(onError)]() mutable {
            ProgressReporter progress(sink, interval);
            const JobContext ctx{token, progress, gen, [deliver](std::function<void()> fn) { deliver(std::move(fn)); }};
            try {
                token.throwIfCancelled();
                auto result = std::make_shared<decltype(work(ctx))>(work(ctx));
                deliver([onResult, result]() mutable { onResult(std::move(*result)); });
            } catch (const Cancelled&) {
                // Superseded or cancelled: nothing to deliver.
            } catch (...) {
                if (onError) deliver([onError, e = std::current_exception()] { onError(e); });
            }
            --state->running;
        });
        return gen;
    }

private:
    struct State {
        std::mutex mutex;
        std::atomic<quint64> generation{0};
        std::atomic<int> running{0};
        CancelToken token;
    };
    QPointer<QObject> receiver_;
    QThreadPool* pool_;
    std::shared_ptr<State> state_ = std::make_shared<State>();
};

// One line for a failed job, ready for an error dialog.
QString describeException(std::exception_ptr e);

}  // namespace autosplit::engine
