#include "shown_plan.h"

#include "autosplit/widgets/format.h"
#include "autosplit/widgets/palette.h"

#include <QObject>

#include <algorithm>
#include <map>

namespace autosplit::explorer {

namespace {

QString tr(const char* text) { return QObject::tr(text); }

widgets::BreakdownRow row(const QString& label, const planner::LatencyBreakdown& l, bool highlighted) {
    return {label, l.edgeMs, l.transmitMs, l.cloudMs, highlighted, l.resultsMs};
}

int at(const std::vector<int>& v, int i) { return i < int(v.size()) ? v[size_t(i)] : 0; }

// Plans that quantize nothing (float16 everywhere) have drop 0 by construction.
bool allFloat16(const auto& wb, const auto& ab, const std::vector<int>& edgeNodes) {
    for (int i : edgeNodes) {
        const int w = i < int(wb.size()) ? int(wb[size_t(i)]) : 0;
        const int a = i < int(ab.size()) ? int(ab[size_t(i)]) : 0;
        if ((w != 0 && w < 16) || a < 16) return false;
    }
    return true;
}

std::vector<int> prefix(int split) {
    std::vector<int> v;
    for (int i = 0; i <= split; ++i) v.push_back(i);
    return v;
}

}  // namespace

QString splitName(const engine::ModelSession& s, int position) {
    if (position < 0) return tr("Cloud-Only");
    if (position >= s.model->layerCount() - 1) return tr("Edge-Only");
    return tr("after %1").arg(QString::fromStdString(s.model->graph.nodes[size_t(position)].name));
}

ShownPlan uniformShownPlan(const engine::ModelSession& s, const engine::SplitEstimates& e, std::optional<int> pinned) {
    const int n = s.model->layerCount();
    int pos = e.best >= -1 ? e.best : -1;
    if (pinned && *pinned >= -1 && *pinned < n) pos = *pinned;
    else pinned.reset();
    const planner::CostModel& cost = s.cost();
    const planner::Constraints& c = e.request.constraints;
    ShownPlan out;
    out.plan = planner::uniformPlan(cost, pos, e.edgeBits, c, "split");
    out.title = splitName(s, pos) + (pinned ? tr(" (picked)") : QString());
    out.rows.push_back(row(pinned ? tr("Selected") : tr("Fastest split"), e.at(pos).latency, true));
    if (pinned && e.best >= -1 && e.best != pos) out.rows.push_back(row(tr("Fastest split"), e.at(e.best).latency, false));
    out.rows.push_back(row(tr("Cloud-Only"), e.cloudOnly().latency, false));
    out.rows.push_back(row(tr("Edge-Only w%1a%1").arg(e.edgeBits), e.edgeOnly().latency, false));
    out.accuracy = pos < 0 ? tr("float16 cloud (no drop measured)")
                           : tr("not measured: uniform w%1a%1 until the planner is ready").arg(e.edgeBits);
    if (e.best == -2) out.notes += tr("<span style='color:#d62728'>No split fits the edge memory: showing Cloud-Only.</span><br>");
    out.notes += tr("Uniform edge bits (highest allowed ≤ 8), cloud at %1 bit, %2 ms per message; the planner's cost model "
                    "on %3 / %4.")
                     .arg(cost.cloudBits())
                     .arg(c.messageOverheadMs)
                     .arg(QString::fromStdString(cost.edgeDevice().name), QString::fromStdString(cost.cloudDevice().name));
    return out;
}

std::optional<ShownPlan> plannerShownPlan(const engine::ModelSession& s, const engine::SplitEstimates& e,
                                          std::optional<int> pinnedSolution) {
    if (!e.plans || !s.planning) return std::nullopt;
    const planner::PlanSet& ps = *e.plans;
    const planner::PlanningContext& ctx = *s.planning->context;
    const int n = s.model->layerCount();
    if (ctx.nodeCount() != n) return std::nullopt;
    ShownPlan out;
    out.fromPlanner = true;
    out.plan = ps.selected;
    if (pinnedSolution && *pinnedSolution >= 0 && *pinnedSolution < int(ctx.solutions().size()))
        out.plan = planner::planFor(ctx, *pinnedSolution, ps.constraints, "picked");
    const planner::Plan& plan = out.plan;
    if (plan.splitPosition < -1 || plan.splitPosition >= n) return std::nullopt;  // a non-prefix cut is not drawn as one
    out.title = QString::fromStdString(plan.name) + QStringLiteral(" · ") + splitName(s, plan.splitPosition);

    // Scatter: every candidate that fits the edge memory, the Pareto front, the baselines. x is
    // the measured drop where the planner's cache has one; the rest have only the MSE proxy.
    const planner::Plan* cloud = ps.baseline("cloud-only");
    const double cloudMs = cloud && cloud->latency.totalMs > 0 ? cloud->latency.totalMs : 1.0;
    out.points.reserve(ps.candidates.size());
    for (const auto& cand : ps.candidates) {
        widgets::ScatterPoint p;
        p.mse = cand.mse;
        p.normLatency = cand.totalMs / cloudMs;
        p.id = cand.solution;
        if (const auto m = ctx.accuracy(cand.solution)) {
            p.drop = m->drop;
            if (m->stoppedEarly()) p.dropAtLeast = *m->dropAtLeast;  // a bound, not an interval
            else if (!m->intervalMethod.empty() && m->intervalMethod != "none") p.dropLow = m->low, p.dropHigh = m->high;
            if (!m->stoppedEarly()) out.measuredSamples = std::max(out.measuredSamples, m->samples);
        }
        const planner::Solution& sol = ctx.solutions()[size_t(cand.solution)];
        // Only Cloud-Only and the baselines' w = a = 16 plans can be float16 (the grid's bits are <= 8).
        p.float16 = sol.split < 0 || (sol.forBaseline && allFloat16(sol.weightBits, sol.activationBits, prefix(sol.split)));
        out.points.push_back(p);
    }
    for (int i : ps.pareto) out.pareto.push_back(ps.candidates[size_t(i)].solution);
    out.rows.push_back(row(QObject::tr("%1 (selected)").arg(QString::fromStdString(plan.name)), plan.latency, true));
    for (const auto& b : ps.baselines) {
        if (!b.available) continue;
        widgets::ScatterBaseline sb;
        sb.label = QString::fromStdString(b.name);
        sb.mse = b.mseProxy;
        sb.normLatency = b.latency.totalMs / cloudMs;
        if (b.accuracy) sb.drop = b.accuracy->drop;
        sb.float16 = b.kind == planner::PlanKind::CloudOnly ||
                     allFloat16(b.weightBits, b.activationBits, b.splitPosition == -2 ? b.edgeNodes : prefix(b.splitPosition));
        out.baselines.push_back(sb);
        out.rows.push_back(row(QString::fromStdString(b.name) + (b.fitsMemory ? QString() : tr(" (too big)")), b.latency, false));
    }

    using widgets::format::milliseconds;
    if (plan.accuracy)
        out.accuracy = QObject::tr("drop <b>%1 %</b>, 95% interval [%2, %3] (%4, measured on %5 %6inputs)")
                           .arg(plan.accuracy->drop, 0, 'f', 2)
                           .arg(plan.accuracy->low, 0, 'f', 2)
                           .arg(plan.accuracy->high, 0, 'f', 2)
                           .arg(QString::fromStdString(plan.accuracy->metric))
                           .arg(plan.accuracy->samples)
                           .arg(plan.accuracy->heldOut ? QObject::tr("held-out ") : QString()) +
                       (plan.accuracy->synthetic ? QObject::tr(" — <b style='color:#c83c28'>synthetic inputs</b>") : QString());
    else if (plan.kind == planner::PlanKind::CloudOnly)
        out.accuracy = tr("float16 cloud (no drop measured)");
    else
        out.accuracy = QObject::tr("MSE proxy %1 — %2").arg(plan.mseProxy, 0, 'g', 3).arg(e.measured ? tr("not measured") : tr("measuring…"));
    out.notes = QObject::tr("%1<br>%2 candidates fit, %3 on the Pareto front; %4. Accuracy on %5.")
                    .arg(QString::fromStdString(ps.reason()).toHtmlEscaped())
                    .arg(ps.candidates.size())
                    .arg(ps.pareto.size())
                    .arg(e.measured       ? QObject::tr("%1 measurements in %2").arg(ps.measured).arg(milliseconds(e.replanMs))
                         : ps.measured > 0 ? QObject::tr("measuring: %1 plans measured so far").arg(ps.measured)
                                           : QObject::tr("re-planned in %1").arg(milliseconds(e.replanMs)))
                    .arg(QString::fromStdString(s.planning->dataDescription).toHtmlEscaped());
    return out;
}

widgets::DagPlacement placementOf(const engine::ModelSession& s, const planner::Plan& plan) {
    widgets::DagPlacement p;
    p.plan.splitPosition = plan.splitPosition;
    p.plan.weightBits = plan.weightBits;
    p.plan.activationBits = plan.activationBits;
    p.plan.inputBits = s.cost().inputBits();
    p.cloudBits = s.cost().cloudBits();
    return p;
}

std::vector<widgets::LayerBits> layerBitsOf(const engine::ModelSession& s, const planner::Plan& plan) {
    const int n = s.model->layerCount();
    std::vector<widgets::LayerBits> bits;
    bits.reserve(size_t(n));
    for (int i = 0; i < n; ++i) {
        const LayerInfo& L = s.model->analysis.layers[size_t(i)];
        bits.push_back({QString::fromStdString(L.name), L.hasWeights() ? at(plan.weightBits, i) : 0,
                        std::max(at(plan.activationBits, i), 1), i > plan.splitPosition});
    }
    return bits;
}

std::vector<widgets::SplitPoint> splitProfile(const engine::SplitEstimates& e) {
    std::vector<widgets::SplitPoint> points;
    points.reserve(e.splits.size());
    for (const auto& c : e.splits) points.push_back({c.position, c.latency.totalMs, c.fitsMemory});
    return points;
}

QString dataOrigin(const engine::ModelSession& s) {
    if (!s.planning) {
        const QString what = s.data.folder.empty() ? QObject::tr("%1 synthetic inputs").arg(s.data.synthetic)
                                                   : QString::fromStdString(s.data.folder);
        return s.planningError.isEmpty() ? QObject::tr("data: %1 (calibrating…)").arg(what)
                                         : QObject::tr("data: %1 — planner unavailable").arg(what);
    }
    const planner::DataRecord& d = s.planning->data;
    return QObject::tr("%1 on %2 held-out %3 (calibrated on %4 others)")
        .arg(QString::fromStdString(d.metric))
        .arg(d.measurementSamples)
        .arg(d.synthetic ? QObject::tr("synthetic inputs") : QObject::tr("samples"))
        .arg(d.calibrationSamples);
}

QString summaryHtml(const engine::ModelSession& s, const engine::SplitEstimates& e, const ShownPlan& shown) {
    using widgets::format::milliseconds;
    const planner::Plan& plan = shown.plan;
    const int n = s.model->layerCount();
    const int pos = plan.splitPosition;
    const double cloudMs = e.cloudOnly().latency.totalMs > 0 ? e.cloudOnly().latency.totalMs : 1.0;
    QString wbits, abits;
    {
        std::map<int, int> wh, ah;
        for (int i = 0; i <= pos && i < n; ++i) {
            if (s.model->analysis.layers[size_t(i)].hasWeights()) ++wh[at(plan.weightBits, i)];
            ++ah[at(plan.activationBits, i)];
        }
        for (const auto& [b, k] : wh) wbits += QStringLiteral("%1×%2b ").arg(k).arg(b);
        for (const auto& [b, k] : ah) abits += QStringLiteral("%1×%2b ").arg(k).arg(b);
    }
    int64_t sentBits = 0;
    for (const auto& sent : plan.transmitted) sentBits += sent.elements * sent.bits;
    QString summary =
        QObject::tr("<p style='font-size:11pt'><b>%1</b></p>"
                    "<table cellspacing=3>"
                    "<tr><td>End-to-end</td><td align=right><b>%2</b></td><td>(%3 of Cloud-Only)</td></tr>"
                    "<tr><td><span style='color:%4'>■</span> Edge</td><td align=right>%5</td><td>%6 layers (%7)</td></tr>"
                    "<tr><td><span style='color:%8'>■</span> Transmit</td><td align=right>%9</td><td>%10 in %11 tensor(s)</td></tr>"
                    "<tr><td><span style='color:%12'>■</span> Cloud</td><td align=right>%13</td><td>%14 layers, fp%15 (%16)</td></tr>"
                    "<tr><td>Edge memory</td><td align=right>%17</td><td>%18</td></tr>"
                    "%19"
                    "</table>")
            .arg(shown.title.toHtmlEscaped())
            .arg(milliseconds(plan.latency.totalMs))
            .arg(QStringLiteral("%1 %").arg(100.0 * plan.latency.totalMs / cloudMs, 0, 'f', 0))
            .arg(widgets::palette::edgeSeries().name(), milliseconds(plan.latency.edgeMs))
            .arg(pos + 1)
            .arg(QString::fromStdString(plan.latency.edgeOrigin))
            .arg(widgets::palette::transmitSeries().name(), milliseconds(plan.latency.transmitMs),
                 widgets::format::bytes((sentBits + 7) / 8))
            .arg(plan.transmitted.size())
            .arg(widgets::palette::cloudSeries().name(), milliseconds(plan.latency.cloudMs))
            .arg(n - pos - 1)
            .arg(s.cost().cloudBits())
            .arg(QString::fromStdString(plan.latency.cloudOrigin))
            .arg(widgets::format::bytes(plan.edgeWeightBytes + plan.edgeActivationBytes),
                 plan.fitsMemory ? tr("fits") : tr("<span style='color:#d62728'>exceeds the budget</span>"))
            .arg(QObject::tr("<tr><td><span style='color:%1'>■</span> Results</td><td align=right>%2</td><td>to the %3</td></tr>")
                     .arg(widgets::palette::resultsSeries().name(), milliseconds(plan.latency.resultsMs),
                          QString::fromLatin1(planner::resultsAtName(e.request.constraints.resultsAt))));
    summary += QObject::tr("<p>Accuracy: %1</p>").arg(shown.accuracy);
    if (pos >= 0) summary += QObject::tr("<p style='color:#445'>Weights: %1<br>Activations: %2</p>").arg(wbits, abits);
    summary += QStringLiteral("<p style='color:#667'>%1</p>").arg(shown.notes);
    return summary;
}

}  // namespace autosplit::explorer
