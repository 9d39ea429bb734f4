// Shared by `autosplit plan --export DIR` and `autosplit export PLAN.json`: the selected plan of
// a plan.json written as edge/cloud sub-models with the planning session's measured values.
#pragma once

#include "planning_setup.h"

#include "autosplit/deploy/manifest.h"

#include <string>

namespace autosplit::cli {

// Exports the selected plan of `planText` (plan.json made for `s`'s model) into `dir` and prints
// a summary unless `quiet`. Throws Error when the plan does not fit the session (another model or
// calibration data) or cannot be exported.
deploy::Manifest exportSelectedPlan(const PlanningSetup& s, const std::string& planText, const std::string& planName,
                                    const std::string& dir, bool quiet);

}  // namespace autosplit::cli
