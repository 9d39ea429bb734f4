// Simulator benchmark: ResNet-50 and YOLOv3 totals on the paper's Eyeriss and TPU profiles at
// several bit-widths, the share of memory-bound layers, and the time to build a full latency
// table. Ratios are against w8a8 on the same device, in the same process.
// Models come from ${AUTOSPLIT_MODELS_DIR} (scripts/fetch-models.sh --paper); a missing model is
// an error, never a skip.
#include "autosplit/ir/analysis.h"
#include "autosplit/onnx/import.h"
#include "autosplit/passes/optimize.h"
#include "autosplit/sim/latency_table.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

using namespace autosplit;
using namespace autosplit::sim;
using Clock = std::chrono::steady_clock;

namespace {

double msSince(Clock::time_point t0) { return std::chrono::duration<double, std::milli>(Clock::now() - t0).count(); }

struct Summary {
    double us = 0, memoryUs = 0;
    int compute = 0, memory = 0;
    int64_t bytes = 0;
};

Summary summarize(const std::vector<LayerInfo>& layers, const DeviceProfile& d, int w, int a) {
    Summary s;
    for (const LayerInfo& l : layers) {
        const LayerCost c = simulateLayer(l, d, w, a);
        s.us += c.latencyUs;
        s.bytes += c.trafficBytes;
        if (c.bound == Bound::Memory) ++s.memory, s.memoryUs += c.latencyUs;
        else if (c.bound == Bound::Compute) ++s.compute;
    }
    return s;
}

}  // namespace

int main() {
    const std::string dir = AUTOSPLIT_MODELS_DIR;
    const std::vector<std::string> models = {"resnet50", "yolov3"};
    for (const auto& name : models) {
        if (!std::filesystem::exists(dir + "/" + name + ".onnx")) {
            std::fprintf(stderr, "error: %s/%s.onnx is missing; run scripts/fetch-models.sh --paper\n", dir.c_str(),
                         name.c_str());
            return 1;
        }
    }
    const std::vector<std::pair<std::string, std::vector<std::pair<int, int>>>> devices = {
        {"eyeriss", {{8, 8}, {4, 8}, {2, 8}, {4, 4}, {16, 16}}},
        {"tpu", {{8, 8}, {16, 8}, {16, 16}}},
    };

    std::printf("%-9s %-8s %-7s %11s %8s %10s %14s %15s\n", "model", "device", "bits", "total ms", "vs w8a8",
                "MB moved", "memory-bound", "mem-bound time");
    struct Timing {
        std::string model;
        double importMs, analyzeMs;
        size_t layers;
        std::vector<std::pair<std::string, double>> buildMs;
    };
    std::vector<Timing> timings;
    std::vector<std::string> bitEffects;
    for (const auto& name : models) {
        const std::string path = dir + "/" + name + ".onnx";
        Timing tm{name, 0, 0, 0, {}};
        auto t0 = Clock::now();
        Graph g = importOnnx(path);
        tm.importMs = msSince(t0);
        t0 = Clock::now();
        optimize(g);
        const ModelAnalysis a = analyze(g);
        tm.analyzeMs = msSince(t0);
        tm.layers = a.layers.size();

        for (const auto& [devName, pairs] : devices) {
            const DeviceProfile d = builtinDevice(devName);
            const Summary base = summarize(a.layers, d, 8, 8);
            for (const auto& [w, act] : pairs) {
                const Summary s = summarize(a.layers, d, w, act);
                const int bounded = s.compute + s.memory;
                char bits[16], share[32];
                std::snprintf(bits, sizeof bits, "w%da%d", w, act);
                std::snprintf(share, sizeof share, "%d/%d (%.0f%%)", s.memory, bounded,
                              bounded ? 100.0 * s.memory / bounded : 0.0);
                std::printf("%-9s %-8s %-7s %11.3f %8.3f %10.2f %14s %14.0f%%\n", name.c_str(), devName.c_str(), bits,
                            s.us / 1000.0, s.us / base.us, double(s.bytes) / 1e6, share,
                            s.us > 0 ? 100.0 * s.memoryUs / s.us : 0.0);
            }
            // Full table (every (w, a) pair of the device): best of several builds.
            double best = 1e30;
            for (int rep = 0; rep < 20; ++rep) {
                const auto tb = Clock::now();
                const LatencyTable t = LatencyTable::build(a.layers, d);
                best = std::min(best, msSince(tb));
                if (t.layerCount() != int(a.layers.size())) return 1;
            }
            tm.buildMs.emplace_back(devName + " (" + std::to_string(d.bits.size() * d.bits.size()) + " pairs)", best);

            if (devName == "eyeriss") {
                // w8 -> w4 on the weight layers: memory-bound ones speed up, compute-bound ones do not.
                double mem8 = 0, mem4 = 0, cmp8 = 0, cmp4 = 0;
                int memN = 0, cmpN = 0;
                for (const LayerInfo& l : a.layers) {
                    if (!l.hasWeights()) continue;
                    const LayerCost c8 = simulateLayer(l, d, 8, 8), c4 = simulateLayer(l, d, 4, 8);
                    if (c8.bound == Bound::Memory) mem8 += c8.latencyUs, mem4 += c4.latencyUs, ++memN;
                    else cmp8 += c8.latencyUs, cmp4 += c4.latencyUs, ++cmpN;
                }
                char line[256];
                std::snprintf(line, sizeof line,
                              "%-9s eyeriss w8a8 -> w4a8: %2d memory-bound weight layers %8.3f -> %8.3f ms (x%.3f), "
                              "%2d compute-bound %8.3f -> %8.3f ms (x%.3f)",
                              name.c_str(), memN, mem8 / 1000, mem4 / 1000, mem8 > 0 ? mem4 / mem8 : 1.0, cmpN,
                              cmp8 / 1000, cmp4 / 1000, cmp8 > 0 ? cmp4 / cmp8 : 1.0);
                bitEffects.emplace_back(line);
            }
        }
        timings.push_back(std::move(tm));
    }

    std::printf("\n");
    for (const auto& l : bitEffects) std::printf("%s\n", l.c_str());
    std::printf("\n%-9s %7s %11s %19s  %s\n", "model", "layers", "import ms", "optimize+analyze ms", "latency table build (best of 20)");
    for (const auto& tm : timings) {
        std::string builds;
        for (const auto& [dev, ms] : tm.buildMs) {
            char b[80];
            std::snprintf(b, sizeof b, "%s%s %.3f ms", builds.empty() ? "" : ", ", dev.c_str(), ms);
            builds += b;
        }
        std::printf("%-9s %7zu %11.0f %19.0f  %s\n", tm.model.c_str(), tm.layers, tm.importMs, tm.analyzeMs, builds.c_str());
    }
    return 0;
}
