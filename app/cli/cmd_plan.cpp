// autosplit plan: choose the split and bit-widths of a model between an edge and a cloud device.
#include "command.h"
#include "plan_export.h"
#include "planning_setup.h"

#include "autosplit/planner/plan_io.h"

#include <cstdio>
#include <fstream>
#include <iostream>

namespace autosplit::cli {
namespace {

const std::string kUsage = std::string(
    "usage: autosplit plan MODEL.onnx [--edge eyeriss] [--cloud tpu] [--uplink 3Mbps] [--edge-memory 4GiB]\n"
    "                      [--max-drop 5%] [--data DIR | --synthetic N] [--bits 2,4,6,8] [--out plan.json]\n"
    "                      [--json] [--verify PLAN.json] [--export DIR]\n"
    "\n"
    "Auto-Split planner: candidate splits whose edge part fits the memory and that send less than the\n"
    "raw input, bit allocation per split (exact solver; the Lagrangian's loss is reported), the\n"
    "latency/error Pareto front, and the fastest plan whose measured accuracy drop is within the\n"
    "threshold. Baselines (Cloud-Only, Neurosurgeon, QDMP, QDMP-E, U8, U4, Edge-Only U8) use the same\n"
    "simulator and uplink. Latency is simulated (or measured with --edge-profile); the drop is measured\n"
    "by a fake-quantized run on samples held out from the calibration, with its 95% interval.\n"
    "  --uplink RATE           edge-to-cloud bandwidth, e.g. 3Mbps, 500kbps, 1.5Gbps   [3Mbps]\n"
    "  --out FILE              write plan.json (schema in core/planner/README.md)\n"
    "  --json                  print plan.json to stdout instead of the text report\n"
    "  --verify PLAN.json      only check that PLAN.json was made for MODEL (SHA-256) and exit\n"
    "  --export DIR            also write the selected plan's edge/cloud models (see autosplit export)\n") +
    kPlanningOptions;

std::string pad(const std::string& s, size_t n) { return s.size() >= n ? s.substr(0, n) : s + std::string(n - s.size(), ' '); }

void printPlan(const planner::PlanningContext& ctx, const planner::Plan& p) {
    const Graph& g = ctx.graph();
    std::printf("  kind         %s", planner::planKindName(p.kind));
    if (p.kind == planner::PlanKind::Split)
        std::printf(" after node '%s' (position %d of %d)", p.splitAfter.c_str(), p.splitPosition, ctx.nodeCount());
    std::printf("\n");
    for (const auto& s : p.transmitted)
        std::printf("  transmitted  '%s' %s at %d bits (%s)\n", g.tensors[size_t(s.tensor)].name.c_str(),
                    shapeString(g.tensors[size_t(s.tensor)].shape).c_str(), s.bits,
                    formatBytes((s.elements * s.bits + 7) / 8).c_str());
    if (p.transmitted.empty()) std::printf("  transmitted  nothing\n");
    if (!p.weightBits.empty()) {
        int hist[17] = {0}, ahist[17] = {0};
        for (size_t i = 0; i < p.weightBits.size(); ++i) {
            if (ctx.errors().rows[i].weightTensor >= 0 && p.weightBits[i] <= 16) ++hist[p.weightBits[i]];
            if (p.activationBits[i] <= 16) ++ahist[p.activationBits[i]];
        }
        std::printf("  weight bits ");
        for (int b = 1; b <= 16; ++b)
            if (hist[b]) std::printf(" %d layers at %d", hist[b], b);
        std::printf("\n  activ. bits ");
        for (int b = 1; b <= 16; ++b)
            if (ahist[b]) std::printf(" %d nodes at %d", ahist[b], b);
        std::printf("\n");
    }
    std::printf("  edge size    weights %s + activation working set %s\n", formatBytes(p.edgeWeightBytes).c_str(),
                formatBytes(p.edgeActivationBytes).c_str());
    std::printf("  latency      edge %.2f ms + transmit %.2f ms + cloud %.2f ms + results %.2f ms = %.2f ms (edge %s, cloud %s)\n",
                p.latency.edgeMs, p.latency.transmitMs, p.latency.cloudMs, p.latency.resultsMs, p.latency.totalMs,
                p.latency.edgeOrigin.c_str(), p.latency.cloudOrigin.c_str());
    if (p.accuracy) {
        const auto& a = *p.accuracy;
        std::printf("  accuracy     drop %.3f%% %s", a.drop, a.metric.c_str());
        if (!a.intervalMethod.empty() && a.intervalMethod != "none")
            std::printf(", 95%% interval [%.3f, %.3f] (%s)", a.low, a.high, a.intervalMethod.c_str());
        std::printf("\n               measured on %d %s%ssamples (%s), calibrated on %d other samples%s\n", a.samples,
                    a.heldOut ? "held-out " : "", a.synthetic ? "SYNTHETIC " : "", a.data.c_str(), a.calibrationSamples,
                    p.kind == planner::PlanKind::CloudOnly ? "" : ("; MSE proxy " + std::to_string(p.mseProxy)).c_str());
    } else if (p.kind == planner::PlanKind::CloudOnly)
        std::printf("  accuracy     float16 cloud, not measured\n");
    else
        std::printf("  accuracy     not measured; MSE proxy %.4g\n", p.mseProxy);
}

int run(const Args& argv) {
    ArgReader args(argv, kUsage);
    const std::string out = args.value("--out");
    const bool json = args.flag("--json");
    const std::string verify = args.value("--verify");
    const std::string exportDir = args.value("--export");
    if (!verify.empty()) {
        const auto pos = args.positionals();
        if (pos.size() != 1) throw UsageError{"expected exactly one MODEL.onnx"};
        const planner::PlanDocument doc = planner::loadPlan(verify);
        planner::verifyPlanModel(doc, pos.front());
        std::printf("%s matches %s (sha256 %s): %s", verify.c_str(), pos.front().c_str(), doc.modelSha256.c_str(),
                    planner::planKindName(doc.selected.kind));
        if (doc.selected.kind == planner::PlanKind::Split) std::printf(" after '%s'", doc.selected.splitAfter.c_str());
        std::printf(", %.2f ms\n", doc.selected.latency.totalMs);
        return 0;
    }
    PlanningSetup s = setupPlanning(args, json);
    const auto& ctx = *s.ctx;
    const auto plans = planner::planWithMeasurement(ctx, s.constraints, s.measure);
    const std::string text = planner::planToJson(ctx, *plans, &s.session->data);
    if (!out.empty()) {
        std::ofstream f(out, std::ios::binary);
        if (!(f << text)) throw Error(out + ": cannot write the plan");
    }
    if (json) {
        std::cout << text;
        if (!exportDir.empty()) exportSelectedPlan(s, text, out.empty() ? "plan" : out, exportDir, true);
        return 0;
    }
    const auto& c = plans->constraints;
    std::printf("model        %s (sha256 %.12s...), %d nodes after optimization\n", ctx.model().path.c_str(),
                ctx.model().sha256.c_str(), ctx.nodeCount());
    std::printf("devices      edge %s, cloud %s (cloud at %d bits)\n", ctx.edgeDevice().name.c_str(),
                ctx.cloudDevice().name.c_str(), ctx.cloudBits());
    const auto& d = s.session->data;
    std::printf("data         task %s, metric %s%s; calibration %d samples, measurement %d held-out samples (%s)\n",
                d.task.c_str(), d.metric.c_str(), d.synthetic ? " on SYNTHETIC inputs (fidelity to random data)" : "",
                d.calibrationSamples, d.measurementSamples, d.measurement.c_str());
    std::printf("constraints  uplink %s, edge memory %s, max drop %g%% (by the %s), %g ms per message, bits {",
                formatBandwidth(c.uplinkBps).c_str(), formatBytes(c.edgeMemoryBytes).c_str(), c.maxDropPercent,
                c.acceptance == planner::Constraints::Acceptance::UpperBound ? "interval's upper end" : "point estimate",
                c.messageOverheadMs);
    for (size_t i = 0; i < ctx.bits().size(); ++i) std::printf("%s%d", i ? "," : "", ctx.bits()[i]);
    std::printf("}\n");
    std::printf("results      consumed at the %s%s\n", planner::resultsAtName(c.resultsAt),
                c.resultsAt == planner::ResultsAt::Edge
                    ? (": outputs computed in the cloud come back over a " + formatBandwidth(c.downlinkBps) + " downlink").c_str()
                    : ": outputs computed on the edge go up the uplink");
    int cands = 0;
    for (const auto& r : ctx.splitRecords()) cands += r.candidate;
    std::printf("search       %d candidate splits, %zu solutions (%zu fit the memory), Pareto front %zu; context %.0f ms, "
                "replan %.2f ms, %d accuracy measurements\n",
                cands, ctx.solutions().size(), plans->candidates.size(), plans->pareto.size(), ctx.buildMs(),
                plans->replanMs, plans->measured);
    const auto& lg = ctx.lagrangian();
    std::printf("allocator    %s; the Lagrangian is worse on %d of %d instances (mean +%.2f%%, max +%.2f%% MSE)%s\n",
                ctx.allocator() == planner::Allocator::Exact ? "exact" : "lagrangian", lg.worse, lg.instances,
                100 * lg.meanRelativeGap, 100 * lg.maxRelativeGap,
                lg.infeasible ? (", infeasible on " + std::to_string(lg.infeasible)).c_str() : "");
    std::printf("\nselected plan\n");
    printPlan(ctx, plans->selected);
    std::printf("  reason       %s\n", plans->reason().c_str());

    const planner::Plan* co = plans->baseline("cloud-only");
    std::printf("\nbaselines (same simulator and uplink; latency normalized to Cloud-Only)\n");
    std::printf("%s %s %6s %10s %7s %12s %22s  %s\n", pad("name", 13).c_str(), pad("kind", 10).c_str(), "split", "total ms",
                "norm", "edge size", "drop % [95% interval]", "note");
    auto row = [&](const planner::Plan& p) {
        char drop[64] = "-";
        if (p.accuracy) std::snprintf(drop, sizeof drop, "%.2f [%.2f, %.2f]", p.accuracy->drop, p.accuracy->low, p.accuracy->high);
        std::string note = p.note;
        if (!p.fitsMemory) note = "does not fit the edge memory" + std::string(note.empty() ? "" : "; ") + note;
        std::printf("%s %s %6d %10.2f %7.3f %12s %22s  %s\n", pad(p.name, 13).c_str(), pad(planner::planKindName(p.kind), 10).c_str(),
                    p.splitPosition, p.latency.totalMs, co ? p.latency.totalMs / co->latency.totalMs : 0.0,
                    formatBytes(p.edgeWeightBytes + p.edgeActivationBytes).c_str(), drop, note.c_str());
    };
    row(plans->selected);
    for (const auto& b : plans->baselines) row(b);
    if (!out.empty()) std::printf("\nwrote %s\n", out.c_str());
    if (!exportDir.empty()) {
        std::printf("\n");
        exportSelectedPlan(s, text, out.empty() ? "plan" : out, exportDir, false);
    }
    return 0;
}

const Registrar reg({"plan", "choose the edge/cloud split and bit-widths (Auto-Split)", kUsage, run});

}  // namespace
}  // namespace autosplit::cli
