// Executor benchmark: ResNet-50 batch-1 float latency of our executor and of ONNX Runtime at
// the same thread count (median of N runs each, ORT with all graph optimizations), their ratio,
// and the calibration time for ResNet-50 with 32 synthetic inputs (no cache).
//   bench_executor [--threads N] [--runs N] [--model PATH] [--skip-calibration]
#include "autosplit/data/tensor_io.h"
#include "autosplit/exec/executor.h"
#include "autosplit/onnx/import.h"
#include "autosplit/passes/optimize.h"
#include "autosplit/quant/calibration.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <random>
#include <string>
#include <vector>

using namespace autosplit;

namespace {
double median(std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return v.empty() ? 0 : v[v.size() / 2];
}

// Runs `cmd` and returns its stdout ("" on failure).
std::string capture(const std::string& cmd) {
    std::string out;
    std::unique_ptr<FILE, int (*)(FILE*)> p(popen(cmd.c_str(), "r"), pclose);
    if (!p) return out;
    char buf[4096];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, p.get())) > 0) out.append(buf, n);
    return out;
}
}  // namespace

int main(int argc, char** argv) {
    int threads = 2, runs = 10;
    bool calib = true;
    std::string model = std::string(AUTOSPLIT_MODELS_DIR) + "/resnet50.onnx";
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        if (a == "--threads" && i + 1 < argc) threads = std::atoi(argv[++i]);
        else if (a == "--runs" && i + 1 < argc) runs = std::atoi(argv[++i]);
        else if (a == "--model" && i + 1 < argc) model = argv[++i];
        else if (a == "--skip-calibration") calib = false;
        else {
            std::fprintf(stderr, "usage: bench_executor [--threads N] [--runs N] [--model PATH] [--skip-calibration]\n");
            return 2;
        }
    }
    if (!std::filesystem::exists(model)) {
        std::fprintf(stderr, "error: %s is missing (scripts/fetch-models.sh)\n", model.c_str());
        return 1;
    }
    try {
        Graph g = importOnnx(model);
        optimize(g);
        const Tensor& in = g.tensors[g.inputs[0]];
        TensorData x;
        x.shape = in.shape;
        x.floats.resize(static_cast<size_t>(x.elementCount()));
        std::mt19937 rng(7);
        std::uniform_real_distribution<float> d(-1.f, 1.f);
        for (float& v : x.floats) v = d(rng);

        ExecutorOptions eo;
        eo.threads = threads;
        Executor ex(g, eo);
        for (int i = 0; i < 2; ++i) ex({x});
        std::vector<double> ms;
        for (int i = 0; i < runs; ++i) {
            const auto t0 = std::chrono::steady_clock::now();
            ex({x});
            ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
        }
        const double ours = median(ms);
        std::printf("model            %s\n", model.c_str());
        std::printf("threads          %d\n", threads);
        std::printf("autosplit        %8.1f ms  (median of %d)\n", ours, runs);

        const std::string script = std::string(AUTOSPLIT_SOURCE_DIR) + "/scripts/ort/run_ort.js";
        const std::string tmp = (std::filesystem::temp_directory_path() / "autosplit_bench_input.npy").string();
        writeTensorFile(tmp, x);
        const std::string out = capture("node '" + script + "' '" + model + "' --in '" + in.name + "=" + tmp +
                                        "' --threads " + std::to_string(threads) + " --bench " +
                                        std::to_string(runs) + " 2>&1");
        std::filesystem::remove(tmp);
        // The summary is one JSON line: pull out "ms":[...] without a JSON dependency here.
        const auto pos = out.find("\"ms\":[");
        if (pos == std::string::npos) {
            std::printf("onnxruntime      unavailable: %s\n", out.empty() ? "node failed" : out.substr(0, 200).c_str());
        } else {
            std::vector<double> ortMs;
            const char* p = out.c_str() + pos + 6;
            while (*p && *p != ']') {
                char* end;
                ortMs.push_back(std::strtod(p, &end));
                p = end;
                if (*p == ',') ++p;
            }
            const double ort = median(ortMs);
            std::printf("onnxruntime      %8.1f ms  (median of %zu, 1.30.0, all optimizations)\n", ort, ortMs.size());
            std::printf("ratio            %8.2f     (target <= 2.0)\n", ours / ort);
        }

        if (calib) {
            CalibrationOptions co;
            co.threads = threads;
            const auto set = syntheticDataset(g, 32);
            const ErrorTable t = calibrate(g, set, co);
            std::printf("calibration      %8.1f s   (32 inputs, bits 2/4/6/8, clip %s, %zu layers; target < 30 s)\n",
                        t.seconds, t.clip.c_str(), t.rows.size());
        }
    } catch (const std::exception& e) {
        std::fprintf(stderr, "error: %s\n", e.what());
        return 1;
    }
    return 0;
}
