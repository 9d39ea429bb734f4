// The planner's accuracy measurement through core's fake-quant PlanEvaluator (plan_evaluator.h).
#pragma once

#include "autosplit/eval/plan_evaluator.h"
#include "autosplit/planner/planner.h"

namespace autosplit::planner {

// A measure that runs `evaluator` (which must outlive it) with the plan's bits and reports
// EvalMetrics::accuracyDrop / metricName on the evaluator's samples.
AccuracyMeasure measureWith(const PlanEvaluator& evaluator);

}  // namespace autosplit::planner
