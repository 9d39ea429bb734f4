// The planner's accuracy measurement through core's fake-quant PlanEvaluator (plan_evaluator.h).
#pragma once

#include "autosplit/eval/plan_evaluator.h"
#include "autosplit/planner/planner.h"

#include <functional>
#include <memory>
#include <mutex>

namespace autosplit::planner {

// A measure that runs `evaluator` (which must outlive it) with the plan's bits and reports
// EvalMetrics::accuracyDrop / metricName on the evaluator's samples.
AccuracyMeasure measureWith(const PlanEvaluator& evaluator);

// An evaluator built on first use: its construction runs the float model over the measurement
// and calibration sets, which a session whose measurements all come from the cache never needs.
// Thread-safe; a construction that throws (or is cancelled) is tried again on the next call.
class LazyEvaluator {
public:
    using Make = std::function<std::shared_ptr<const PlanEvaluator>(const CancelToken&)>;
    explicit LazyEvaluator(Make make) : make_(std::move(make)) {}
    std::shared_ptr<const PlanEvaluator> get(const CancelToken& cancel = {}) const;
    bool built() const;

private:
    Make make_;
    mutable std::mutex mutex_;
    mutable std::shared_ptr<const PlanEvaluator> evaluator_;
};

// measureWith through `lazy`, building the evaluator on the first measurement.
AccuracyMeasure measureWith(std::shared_ptr<const LazyEvaluator> lazy);

}  // namespace autosplit::planner
