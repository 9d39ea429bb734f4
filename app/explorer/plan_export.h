// Exports of the uniform-bit split estimate (the planner's cost model at one edge width): every
// split as CSV, the selected split as JSON (schema "autosplit-split-estimate"; no accuracy).
// While the planning stage is ready, Export Plan writes the planner's "autosplit-plan" instead.
#pragma once

#include "autosplit/engine/split_estimate.h"

#include <QByteArray>

namespace autosplit::explorer {

QByteArray splitsCsv(const engine::ModelSession& s, const engine::SplitEstimates& e);
QByteArray estimateJson(const engine::ModelSession& s, const engine::SplitEstimates& e, int selectedPosition);

}  // namespace autosplit::explorer
