// Shared by `autosplit plan` and `autosplit sweep`: devices, calibration, evaluator and the
// planning context from command-line options.
#pragma once

#include "command.h"
#include "model_loading.h"

#include "autosplit/eval/plan_evaluator.h"
#include "autosplit/planner/planner.h"
#include "autosplit/planner/session.h"
#include "autosplit/quant/calibration.h"
#include "autosplit/sim/device.h"
#include "autosplit/sim/measured_profile.h"

#include <memory>
#include <optional>
#include <string>

namespace autosplit::cli {

// Options common to plan and sweep (documented in their usage texts).
extern const char* kPlanningOptions;

struct PlanningSetup {
    std::string modelPath;
    std::shared_ptr<const planner::PlanningSession> session;
    std::shared_ptr<const planner::PlanningContext> ctx;  // session->context
    planner::Constraints constraints;  // from --uplink/--edge-memory/--max-drop/--message-overhead/--results-at/--downlink
    planner::AccuracyMeasure measure;                     // session->measure
};

// Reads every planning option (devices first, so a bad device name fails before any model
// work), then the model, and builds the planning session (planner/session.h). Progress goes to stderr
// unless `quiet`.
PlanningSetup setupPlanning(ArgReader& args, bool quiet);

}  // namespace autosplit::cli
