// What the explorer's plan views show for one plan, assembled from either stage of a session:
// the uniform-bit split picked on the cost model (stage one, or a split the user pinned), or
// the planner's plan (stage two). Both carry a planner::Plan scored by the same cost model, so
// the breakdown, the latency-by-split profile and the summary are filled by one code path.
#pragma once

#include "autosplit/engine/split_estimate.h"
#include "autosplit/widgets/dag/dag_view.h"
#include "autosplit/widgets/plots/bit_heatmap.h"
#include "autosplit/widgets/plots/latency_breakdown_plot.h"
#include "autosplit/widgets/plots/plan_scatter.h"
#include "autosplit/widgets/plots/split_profile_plot.h"

#include <QString>

#include <optional>
#include <vector>

namespace autosplit::explorer {

struct ShownPlan {
    planner::Plan plan;                       // latency from the planner's cost model
    QString title;                            // plan name shown in the summary
    std::vector<widgets::BreakdownRow> rows;  // the breakdown: the plan first, then what it is compared with
    QString accuracy;                         // the summary's accuracy line
    QString notes;                            // the summary's last paragraph (why, where numbers come from)
    // Candidates scatter (planner only; empty before the planning stage).
    std::vector<widgets::ScatterPoint> points;
    std::vector<int> pareto;
    std::vector<widgets::ScatterBaseline> baselines;
    int measuredSamples = 0;
    bool fromPlanner = false;
};

// The fastest split at the uniform edge width (or `pinned`), compared with the fastest split,
// Cloud-Only and Edge-Only at the same width.
ShownPlan uniformShownPlan(const engine::ModelSession& s, const engine::SplitEstimates& e, std::optional<int> pinned);
// The planner's selected plan (or the pinned solution) with its baselines and the candidates;
// nullopt when the planning stage is not ready or the plan is not a schedule prefix.
std::optional<ShownPlan> plannerShownPlan(const engine::ModelSession& s, const engine::SplitEstimates& e,
                                          std::optional<int> pinnedSolution);

// The DAG / layer-table placement and the heatmap rows of a shown plan.
widgets::DagPlacement placementOf(const engine::ModelSession& s, const planner::Plan& plan);
std::vector<widgets::LayerBits> layerBitsOf(const engine::ModelSession& s, const planner::Plan& plan);
// The latency-by-split profile (the estimate's uniform splits).
std::vector<widgets::SplitPoint> splitProfile(const engine::SplitEstimates& e);
// The summary panel's HTML.
// Where the scatter's drops come from: "char-accuracy-drop on 32 held-out samples of DIR
// (calibrated on 32 others)"; synthetic inputs and a planner still working say so.
QString dataOrigin(const engine::ModelSession& s);
QString summaryHtml(const engine::ModelSession& s, const engine::SplitEstimates& e, const ShownPlan& shown);
// "Cloud-Only", "Edge-Only", "after NODE".
QString splitName(const engine::ModelSession& s, int position);

}  // namespace autosplit::explorer
