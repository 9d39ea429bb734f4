// Exports of the current estimate: every split as CSV, the selected split as JSON.
// The JSON is schema "autosplit-split-estimate" (uniform bits, no accuracy model): once the
// planner is wired in, Export Plan writes the planner's "autosplit-plan" schema instead.
#pragma once

#include "autosplit/engine/split_estimate.h"

#include <QByteArray>

namespace autosplit::explorer {

QByteArray splitsCsv(const engine::ModelSession& s, const engine::SplitEstimates& e);
QByteArray estimateJson(const engine::ModelSession& s, const engine::SplitEstimates& e, int selectedPosition);

}  // namespace autosplit::explorer
