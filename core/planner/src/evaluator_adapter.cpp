#include "autosplit/planner/accuracy.h"

namespace autosplit::planner {

AccuracyMeasure measureWith(const PlanEvaluator& evaluator) {
    return [&evaluator](const EdgeBits& bits, const CancelToken& cancel) {
        PlanBits plan;
        plan.splitPosition = bits.split;
        plan.weightBits = bits.weightBits;
        plan.activationBits = bits.activationBits;
        plan.inputBits = bits.inputBits;
        const EvalMetrics m = evaluator.evaluate(plan, cancel);
        AccuracyMeasurement out;
        out.drop = m.accuracyDrop;
        out.metric = m.metricName;
        out.samples = m.samples;
        out.data = evaluator.dataDescription();
        return out;
    };
}

}  // namespace autosplit::planner
