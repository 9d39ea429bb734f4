// Measured accuracy drops kept across sessions, so that reopening a model on the same data
// re-measures nothing. One JSON file per evaluation identity (measurementIdentity: everything
// a measurement depends on besides the plan) in the cache folder, one entry per plan's bits.
// The measure the planning session hands out (session.h) reads it before running anything.
#pragma once

#include "autosplit/eval/plan_evaluator.h"
#include "autosplit/planner/context.h"

#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

namespace autosplit::planner {

// SHA-256 (hex) of what a measurement depends on besides the plan: the equalized graph and its
// calibration (the error table's model and data hashes, bits, clipping, error kind), the
// measurement set, its labels / texts, and every evaluator option that changes a result
// (threads do not).
std::string measurementIdentity(const ErrorTable& table, const EvalData& data, const EvalOptions& options);

// The part of a plan a measurement reads: split, input bits, and the edge nodes' bits.
std::string planBitsKey(const PlanBits& plan);

class MeasurementCache {
public:
    // Reads DIR/measurements-IDENTITY.json when it is there; a damaged file or one of another
    // format is ignored (and replaced by the next store). `dir` empty: keeps nothing.
    MeasurementCache(const std::string& dir, std::string identity);

    std::optional<AccuracyMeasurement> find(const PlanBits& plan) const;
    // Keeps `m` and rewrites the file atomically; an unwritable folder is not an error (the
    // measurement stays in memory).
    void store(const PlanBits& plan, const AccuracyMeasurement& m);
    size_t size() const;
    const std::string& path() const { return path_; }

private:
    std::string identity_, path_;
    mutable std::mutex mutex_;
    std::map<std::string, AccuracyMeasurement> entries_;
};

// A measure that answers from `cache` (an entry stopped early only when its bound decides
// `rejectAbove`) and stores what `inner` measures.
AccuracyMeasure cachedMeasure(AccuracyMeasure inner, std::shared_ptr<MeasurementCache> cache);

}  // namespace autosplit::planner
