#include "autosplit/planner/accuracy.h"

namespace autosplit::planner {

AccuracyMeasure measureWith(const PlanEvaluator& evaluator) {
    return [&evaluator](const PlanBits& plan, const CancelToken& cancel) {
        const EvalMetrics m = evaluator.evaluate(plan, cancel);
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
        return out;
    };
}

}  // namespace autosplit::planner
