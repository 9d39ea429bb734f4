#include "autosplit/planner/accuracy.h"

namespace autosplit::planner {

AccuracyMeasure measureWith(const PlanEvaluator& evaluator) {
    return [&evaluator](const PlanBits& plan, const CancelToken& cancel, double rejectAbove) {
        const EvalMetrics m = evaluator.evaluate(plan, cancel, rejectAbove);
        AccuracyMeasurement out;
        out.drop = m.accuracyDrop;
        out.metric = m.metricName;
        out.samples = m.samples;
        out.data = evaluator.dataDescription();
        out.low = m.dropInterval.low;
        out.high = m.dropInterval.high;
        out.intervalMethod = m.dropInterval.method;
        out.calibrationSamples = m.calibrationSamples;
        out.heldOut = m.heldOut;
        out.synthetic = evaluator.syntheticData();
        out.setSamples = m.setSamples;
        out.dropAtLeast = m.dropAtLeast;
        return out;
    };
}

std::shared_ptr<const PlanEvaluator> LazyEvaluator::get(const CancelToken& cancel) const {
    std::lock_guard<std::mutex> l(mutex_);
    if (!evaluator_) evaluator_ = make_(cancel);
    return evaluator_;
}

bool LazyEvaluator::built() const {
    std::lock_guard<std::mutex> l(mutex_);
    return evaluator_ != nullptr;
}

AccuracyMeasure measureWith(std::shared_ptr<const LazyEvaluator> lazy) {
    return [lazy = std::move(lazy)](const PlanBits& plan, const CancelToken& cancel, double rejectAbove) {
        const auto evaluator = lazy->get(cancel);
        return measureWith(*evaluator)(plan, cancel, rejectAbove);
    };
}

}  // namespace autosplit::planner
