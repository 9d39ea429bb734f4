// autosplit sim: per-layer latency of a model on an accelerator profile at given bit-widths.
#include "command.h"
#include "model_loading.h"

#include "autosplit/ir/analysis.h"
#include "autosplit/sim/latency_table.h"
#include "autosplit/util/units.h"

#include <nlohmann/json.hpp>

#include <chrono>
#include <cstdio>
#include <iostream>

namespace autosplit::cli {
namespace {

const char* kUsage =
    "usage: autosplit sim MODEL.onnx --device eyeriss|tpu|FILE.json [--bits w8a8] [--profile FILE.csv]\n"
    "                     [--input NAME=DIMS]... [--json]\n"
    "\n"
    "Simulates every layer of the optimized model on a systolic-array accelerator (SCALE-Sim v2\n"
    "compute model, off-chip traffic at the given bit-widths, vector unit for non-GEMM ops) and\n"
    "prints op, matrix dims (Sr x Sc x T per group), folds, cycles, bytes moved, bound and time.\n"
    "  --device D         built-in profile (eyeriss, tpu) or a device JSON file\n"
    "                     (schema: resources/devices/README.md)\n"
    "  --bits wWaA        weight and activation bits, one of the device's widths (default w8a8)\n"
    "  --profile F.csv    measured per-layer latencies (layer,bits,ms) that replace the simulation\n"
    "  --input NAME=DIMS  bind an input's symbolic dims, e.g. --input x=1x3x640x640\n"
    "  --json             one JSON object (schema autosplit-sim, version 1; see sim/README.md)\n";

using sim::Bound;
using sim::LatencyOrigin;

std::string matrixText(const sim::LayerCost& c) {
    if (c.rule != sim::CostRule::MacArray) return sim::costRuleName(c.rule);
    std::string s = std::to_string(c.mapping.Sr) + "x" + std::to_string(c.mapping.Sc) + "x" + std::to_string(c.mapping.T);
    if (c.mapping.groups > 1) s += " g" + std::to_string(c.mapping.groups);
    return s;
}

struct Totals {
    double us = 0, memoryBoundUs = 0;
    int64_t cycles = 0, bytes = 0;
    int compute = 0, memory = 0, free = 0, measured = 0;
};

int run(const Args& raw) {
    ArgReader args(raw, kUsage);
    const bool json = args.flag("--json");
    const std::string deviceArg = args.value("--device");
    const std::string bitsArg = args.value("--bits", "w8a8");
    const std::string profileArg = args.value("--profile");
    if (deviceArg.empty()) throw UsageError{"--device is required (eyeriss, tpu or a FILE.json)"};
    int wbits = 0, abits = 0;
    if (!sim::parseBitPair(bitsArg, wbits, abits))
        throw UsageError{"--bits must look like w8a8 (or a single width), got '" + bitsArg + "'"};

    const sim::DeviceProfile device = sim::resolveDevice(deviceArg);
    if (!device.supportsBits(wbits) || !device.supportsBits(abits)) {
        std::string list;
        for (int b : device.bits) list += (list.empty() ? "" : ",") + std::to_string(b);
        throw Error("device '" + device.name + "' does not run " + bitsArg + " (bit-widths " + list + ")");
    }
    sim::MeasuredProfile profile;
    if (!profileArg.empty()) profile = sim::loadMeasuredProfile(profileArg);
    LoadedModel m = loadModel(args, json);
    const std::string modelPath = args.positionals().front();  // loadModel checked there is one
    const ModelAnalysis a = analyze(m.graph);
    const auto t0 = std::chrono::steady_clock::now();
    const sim::LatencyTable table =
        sim::LatencyTable::build(a.layers, device, profileArg.empty() ? nullptr : &profile);
    const double buildMs = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    const int wi = table.bitsIndex(wbits), ai = table.bitsIndex(abits);

    std::vector<sim::LayerCost> costs;
    costs.reserve(a.layers.size());
    Totals tot;
    for (size_t i = 0; i < a.layers.size(); ++i) {
        costs.push_back(sim::simulateLayer(a.layers[i], device, wbits, abits));
        const sim::LatencyEntry e = table.entry(int(i), wi, ai);
        tot.us += e.us;
        tot.cycles += costs.back().computeCycles;
        tot.bytes += costs.back().trafficBytes;
        if (e.origin == LatencyOrigin::Measured) ++tot.measured;
        switch (e.bound) {
        case Bound::Compute: ++tot.compute; break;
        case Bound::Memory: ++tot.memory, tot.memoryBoundUs += e.us; break;
        case Bound::Free: ++tot.free; break;
        }
    }
    const int bounded = tot.compute + tot.memory;
    const double memoryShare = bounded ? double(tot.memory) / bounded : 0.0;

    if (json) {
        nlohmann::ordered_json j;
        j["schema"] = "autosplit-sim";
        j["version"] = 1;
        j["model"] = modelPath;
        j["device"] = {{"name", device.name},
                       {"source", device.source},
                       {"rows", device.rows},
                       {"cols", device.cols},
                       {"dataflow", sim::dataflowName(device.dataflow)},
                       {"clock_mhz", device.clockMHz},
                       {"native_mac_bits", device.nativeMacBits},
                       {"onchip_bytes", device.onchipBytes()},
                       {"bandwidth_gbps", device.bandwidthGBps},
                       {"vector_ops_per_cycle", device.vectorOpsPerCycle},
                       {"peak_ops_per_second", device.peakOpsPerSecond()}};
        j["bits"] = {{"weights", wbits}, {"activations", abits}};
        if (!profileArg.empty()) j["measured_profile"] = profileArg;
        j["layers"] = nlohmann::json::array();
        for (size_t i = 0; i < a.layers.size(); ++i) {
            const LayerInfo& L = a.layers[i];
            const sim::LayerCost& c = costs[i];
            const sim::LatencyEntry e = table.entry(int(i), wi, ai);
            nlohmann::ordered_json l{{"index", i}, {"name", L.name}, {"op", L.op}, {"rule", sim::costRuleName(c.rule)}};
            if (c.rule == sim::CostRule::MacArray)
                l["matrix"] = {{"Sr", c.mapping.Sr}, {"Sc", c.mapping.Sc}, {"T", c.mapping.T},
                               {"groups", c.mapping.groups}, {"folds", c.mapping.folds},
                               {"utilization", c.mapping.utilization(device.rows, device.cols)}};
            else
                l["vector_ops"] = c.vectorOps;
            l["bit_passes"] = c.bitPasses;
            l["compute_cycles"] = c.computeCycles;
            l["bytes"] = {{"ifmap", c.ifmapBytes}, {"ifmap_passes", c.ifmapPasses}, {"filter", c.filterBytes},
                          {"filter_passes", c.filterPasses}, {"ofmap", c.ofmapBytes}, {"total", c.trafficBytes}};
            l["compute_us"] = c.computeUs;
            l["memory_us"] = c.memoryUs;
            l["latency_us"] = e.us;
            l["bound"] = sim::boundName(e.bound);
            l["origin"] = sim::originName(e.origin);
            j["layers"].push_back(std::move(l));
        }
        j["totals"] = {{"latency_ms", tot.us / 1000.0},
                       {"compute_cycles", tot.cycles},
                       {"bytes_moved", tot.bytes},
                       {"compute_bound_layers", tot.compute},
                       {"memory_bound_layers", tot.memory},
                       {"free_layers", tot.free},
                       {"measured_layers", tot.measured},
                       {"memory_bound_share", memoryShare},
                       {"memory_bound_time_share", tot.us > 0 ? tot.memoryBoundUs / tot.us : 0.0},
                       {"table_build_ms", buildMs}};
        std::cout << j.dump(1) << "\n";
        return 0;
    }

    std::printf("device   %s (%s): %lldx%lld %s array at %.0f MHz, %s on-chip, %.3g GB/s off-chip, vector %.0f ops/cycle\n",
                device.name.c_str(), device.source.c_str(), static_cast<long long>(device.rows),
                static_cast<long long>(device.cols), sim::dataflowName(device.dataflow), device.clockMHz,
                formatBytes(device.onchipBytes()).c_str(), device.bandwidthGBps, device.vectorOpsPerCycle);
    std::printf("bits     weights %d, activations %d%s\n", wbits, abits,
                profileArg.empty() ? "" : ("; measured profile " + profileArg).c_str());
    std::printf("model    %s: %zu layers after optimization (import %.0f ms, optimize %.0f ms, table %.2f ms)\n\n",
                modelPath.c_str(), a.layers.size(), m.importMs, m.optimizeMs, buildMs);
    std::printf("%-4s %-32s %-12s %-20s %7s %12s %10s %-8s %10s %s\n", "#", "layer", "op", "matrix Sr x Sc x T", "folds",
                "cycles", "bytes", "bound", "ms", "origin");
    for (size_t i = 0; i < a.layers.size(); ++i) {
        const LayerInfo& L = a.layers[i];
        const sim::LayerCost& c = costs[i];
        const sim::LatencyEntry e = table.entry(int(i), wi, ai);
        const std::string folds = c.rule == sim::CostRule::MacArray ? std::to_string(c.mapping.folds) : "-";
        std::printf("%-4zu %-32.32s %-12.12s %-20.20s %7s %12lld %10s %-8s %10.4f %s\n", i, L.name.c_str(), L.op.c_str(),
                    matrixText(c).c_str(), folds.c_str(), static_cast<long long>(c.computeCycles),
                    formatCount(double(c.trafficBytes)).c_str(), sim::boundName(e.bound), e.us / 1000.0,
                    e.origin == LatencyOrigin::Measured ? "measured" : "sim");
    }
    std::printf("\ntotal    %.3f ms at w%da%d; %s cycles, %sB moved\n", tot.us / 1000.0, wbits, abits,
                formatCount(double(tot.cycles)).c_str(), formatCount(double(tot.bytes)).c_str());
    std::printf("bound    %d compute, %d memory (%.0f%% of bounded layers, %.0f%% of the time), %d free views\n",
                tot.compute, tot.memory, 100.0 * memoryShare, tot.us > 0 ? 100.0 * tot.memoryBoundUs / tot.us : 0.0,
                tot.free);
    if (tot.measured) std::printf("measured %d layers from %s\n", tot.measured, profileArg.c_str());
    return 0;
}

Registrar reg({"sim", "per-layer latency on an accelerator profile (eyeriss, tpu, JSON)", kUsage, run});

}  // namespace
}  // namespace autosplit::cli
