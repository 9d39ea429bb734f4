// autosplit sweep: re-plan over a range of uplink bandwidths and report where the plan changes.
#include "command.h"
#include "planning_setup.h"

#include "autosplit/planner/plan_io.h"

#include <cmath>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <sstream>

namespace autosplit::cli {
namespace {

const std::string kUsage = std::string(
    "usage: autosplit sweep MODEL.onnx [--from 0.1Mbps] [--to 100Mbps] [--steps 31] [--csv FILE]\n"
    "                       [planning options]\n"
    "\n"
    "Plans the model at uplinks spaced evenly on a log scale from --from to --to (the context is\n"
    "built once; accuracy measurements are shared between steps) and writes one CSV row per uplink:\n"
    "uplink_bps,kind,split_position,split_after,transmitted,total_ms,edge_ms,transmit_ms,cloud_ms,\n"
    "results_ms,edge_bytes,accuracy_drop,normalized_latency,<baseline>_ms...,accuracy_low_95,\n"
    "accuracy_high_95,metric,measured_on (the drop's 95% interval, metric and samples). Prints the\n"
    "uplinks where the selected kind or split changes.\n"
    "  --csv FILE              write the CSV there (default: stdout)\n") +
    kPlanningOptions + "  --uplink is ignored here.\n";

std::string csvField(const std::string& s) {
    if (s.find_first_of(",\"\n") == std::string::npos) return s;
    std::string q = "\"";
    for (char c : s) q += c == '"' ? std::string("\"\"") : std::string(1, c);
    return q + "\"";
}

int run(const Args& argv) {
    ArgReader args(argv, kUsage);
    const double from = parseBandwidth(args.value("--from", "0.1Mbps"));
    const double to = parseBandwidth(args.value("--to", "100Mbps"));
    const std::string stepsText = args.value("--steps", "31");
    const std::string csv = args.value("--csv");
    int steps = 0;
    try {
        steps = std::stoi(stepsText);
    } catch (const std::exception&) {
    }
    if (steps < 2 || steps > 10000) throw UsageError{"--steps needs a count between 2 and 10000"};
    if (!(to > from)) throw UsageError{"--to must be above --from"};
    PlanningSetup s = setupPlanning(args, false);
    const auto& ctx = *s.ctx;

    std::ostringstream out;
    out << "uplink_bps,kind,split_position,split_after,transmitted,total_ms,edge_ms,transmit_ms,cloud_ms,results_ms,edge_bytes,"
           "accuracy_drop,normalized_latency";
    const char* names[] = {"cloud-only", "neurosurgeon", "qdmp", "u8", "u4", "edge-only-u8"};
    for (const char* n : names) out << "," << n << "_ms";
    out << ",accuracy_low_95,accuracy_high_95,metric,measured_on\n";
    std::string lastKey;
    std::vector<std::string> changes;
    double replanMs = 0;
    for (int i = 0; i < steps; ++i) {
        planner::Constraints c = s.constraints;
        c.uplinkBps = from * std::pow(to / from, double(i) / (steps - 1));
        const auto ps = planner::planWithMeasurement(ctx, c, s.measure);
        replanMs += ps->replanMs;
        const auto& p = ps->selected;
        std::string sent;
        for (const auto& t : p.transmitted)
            sent += (sent.empty() ? "" : ";") + ctx.graph().tensors[size_t(t.tensor)].name + "@" + std::to_string(t.bits);
        const planner::Plan* co = ps->baseline("cloud-only");
        char num[512];
        std::snprintf(num, sizeof num, "%.6g,%s,%d,", c.uplinkBps, planner::planKindName(p.kind), p.splitPosition);
        out << num << csvField(p.splitAfter) << "," << csvField(sent);
        std::snprintf(num, sizeof num, ",%.4f,%.4f,%.4f,%.4f,%.4f,%lld,%s,%.4f", p.latency.totalMs, p.latency.edgeMs,
                      p.latency.transmitMs, p.latency.cloudMs, p.latency.resultsMs,
                      static_cast<long long>(p.edgeWeightBytes + p.edgeActivationBytes),
                      p.accuracy ? std::to_string(p.accuracy->drop).c_str() : "", co ? p.latency.totalMs / co->latency.totalMs : 0.0);
        out << num;
        for (const char* n : names) {
            const planner::Plan* b = ps->baseline(n);
            std::snprintf(num, sizeof num, ",%.4f", b && b->available ? b->latency.totalMs : std::nan(""));
            out << num;
        }
        if (p.accuracy) {
            std::snprintf(num, sizeof num, ",%.4f,%.4f,", p.accuracy->low, p.accuracy->high);
            out << num << p.accuracy->metric << ","
                << csvField(std::to_string(p.accuracy->samples) + (p.accuracy->heldOut ? " held-out" : "") +
                            (p.accuracy->synthetic ? " synthetic" : "") + " samples");
        } else {
            out << ",,,,";
        }
        out << "\n";
        const std::string key = std::string(planner::planKindName(p.kind)) + " " + std::to_string(p.splitPosition);
        if (key != lastKey) {
            char line[512];
            std::snprintf(line, sizeof line, "%12s  %-10s %s", formatBandwidth(c.uplinkBps).c_str(),
                          planner::planKindName(p.kind),
                          p.kind == planner::PlanKind::Split ? ("after '" + p.splitAfter + "'").c_str() : "");
            changes.push_back(line);
            lastKey = key;
        }
    }
    if (csv.empty()) {
        std::cout << out.str();
    } else {
        std::ofstream f(csv, std::ios::binary);
        if (!(f << out.str())) throw Error(csv + ": cannot write the CSV");
    }
    std::FILE* info = csv.empty() ? stderr : stdout;
    std::fprintf(info, "plan changes over %s .. %s (%d steps, mean replan %.2f ms):\n", formatBandwidth(from).c_str(),
                 formatBandwidth(to).c_str(), steps, replanMs / steps);
    for (const auto& l : changes) std::fprintf(info, "  from %s\n", l.c_str());
    return 0;
}

const Registrar reg({"sweep", "re-plan over a range of uplink bandwidths (CSV)", kUsage, run});

}  // namespace
}  // namespace autosplit::cli
