// Import + optimize + analyze (+ split enumeration) time and peak memory for the large models.
// Reference in the same run: reading the file and a bare protobuf parse of its bytes (the least
// any importer must do). Each model runs in a forked child so its peak RSS is its own; the
// baseline is taken after the process-wide ONNX schema registry is built.
//   bench_import [MODELS_DIR]      (models from scripts/fetch-models.sh; a missing one is an error)
// Targets (foundation issue): ResNet-50 < 1 s, YOLOv3 < 3 s, peak memory < 2x the file size.
#include "autosplit/ir/analysis.h"
#include "autosplit/onnx/import.h"
#include "autosplit/onnx/model_builder.h"
#include "autosplit/passes/optimize.h"

#include <onnx/onnx_pb.h>

#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

using namespace autosplit;
namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

namespace {

struct Case {
    const char* file;
    const char* binding;  // "" when the model has static dims
};

struct Result {
    double parseMs = 0, importMs = 0, optimizeMs = 0, analyzeMs = 0;
    long peakKb = 0, baseKb = 0;
    int nodes = 0, splits = 0;
};

long rssKb() {
    std::ifstream f("/proc/self/status");
    std::string line;
    while (std::getline(f, line))
        if (line.rfind("VmRSS:", 0) == 0) return std::stol(line.substr(6));
    return 0;
}

double ms(Clock::time_point a, Clock::time_point b) { return std::chrono::duration<double, std::milli>(b - a).count(); }

Result measure(const std::string& path, const char* binding) {
    Result r;
    {
        // One-time process costs (ONNX's operator schema registry, ~10 MB) are not the model's:
        // pay them on a tiny model before the baseline is taken.
        ModelBuilder tiny;
        tiny.input("x", {1, 4}).node("Relu", {"x"}, {"y"}).output("y");
        importOnnxFromMemory(tiny.bytes(), "warm-up");
    }
    r.baseKb = rssKb();
    ImportOptions opts;
    if (*binding) {
        auto [name, dims] = parseInputBinding(binding);
        opts.inputShapes[name] = dims;
    }
    // Memory first: the peak of one import + optimize + analyze, before the reference parse runs.
    {
        Graph g = importOnnx(path, opts);
        optimize(g);
        analyze(g);
        enumerateSplits(g);
        struct rusage ru {};
        getrusage(RUSAGE_SELF, &ru);
        r.peakKb = ru.ru_maxrss;
    }
    // Then time: best of 3.
    r.parseMs = r.importMs = r.optimizeMs = r.analyzeMs = 1e300;
    for (int rep = 0; rep < 3; ++rep) {
        {
            const auto t0 = Clock::now();
            std::ifstream f(path, std::ios::binary);
            std::ostringstream ss;
            ss << f.rdbuf();
            const std::string bytes = ss.str();
            onnx::ModelProto m;
            if (!m.ParseFromString(bytes)) throw std::runtime_error("protobuf parse failed");
            r.parseMs = std::min(r.parseMs, ms(t0, Clock::now()));
        }
        const auto t0 = Clock::now();
        Graph g = importOnnx(path, opts);
        const auto t1 = Clock::now();
        optimize(g);
        const auto t2 = Clock::now();
        const ModelAnalysis a = analyze(g);
        const auto splits = enumerateSplits(g);
        const auto t3 = Clock::now();
        r.importMs = std::min(r.importMs, ms(t0, t1));
        r.optimizeMs = std::min(r.optimizeMs, ms(t1, t2));
        r.analyzeMs = std::min(r.analyzeMs, ms(t2, t3));
        r.nodes = static_cast<int>(g.nodes.size());
        r.splits = static_cast<int>(splits.size());
        (void)a;
    }
    return r;
}

}  // namespace

int main(int argc, char** argv) {
    const fs::path dir = argc > 1 ? fs::path(argv[1]) : fs::path(AUTOSPLIT_MODELS_DIR);
    const std::vector<Case> cases = {
        {"resnet50.onnx", ""},
        {"yolov3.onnx", ""},
        {"yolov3_spp.onnx", ""},
        {"ch_PP-OCRv4_det_infer.onnx", "x=1x3x640x640"},
    };
    std::printf("import + optimize + analyze + splits, best of 3; peak RSS of a child process per model\n");
    std::printf("reference: a bare protobuf parse of the same file, in the same process\n\n");
    std::printf("%-28s %8s %8s %9s %9s %9s %9s %7s %9s %9s %6s\n", "model", "file MB", "nodes", "parse ms", "import ms",
                "opt ms", "anal ms", "total/parse", "peak MB", "peak/file", "target");
    int failures = 0;
    for (const auto& c : cases) {
        const fs::path path = dir / c.file;
        if (!fs::exists(path)) {
            std::fprintf(stderr, "error: %s is missing; run scripts/fetch-models.sh\n", path.c_str());
            return 1;
        }
        int pipefd[2];
        if (pipe(pipefd) != 0) return 1;
        const pid_t pid = fork();
        if (pid == 0) {
            close(pipefd[0]);
            Result r;
            try {
                r = measure(path.string(), c.binding);
            } catch (const std::exception& e) {
                std::fprintf(stderr, "error: %s: %s\n", c.file, e.what());
                _exit(1);
            }
            if (write(pipefd[1], &r, sizeof r) != sizeof r) _exit(1);
            _exit(0);
        }
        close(pipefd[1]);
        Result r;
        const bool ok = read(pipefd[0], &r, sizeof r) == sizeof r;
        close(pipefd[0]);
        int status = 0;
        waitpid(pid, &status, 0);
        if (!ok || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
            ++failures;
            continue;
        }
        const double fileMb = static_cast<double>(fs::file_size(path)) / 1e6;
        const double total = r.importMs + r.optimizeMs + r.analyzeMs;
        const double peakMb = static_cast<double>(r.peakKb - r.baseKb) * 1024 / 1e6;
        const std::string name = c.file;
        const double target = name == "resnet50.onnx" ? 1000 : name.rfind("yolov3", 0) == 0 ? 3000 : 1000;
        const bool met = total < target && peakMb < 2 * fileMb;
        std::printf("%-28s %8.1f %8d %9.0f %9.0f %9.0f %9.1f %11.2f %9.0f %9.2f %6s\n", c.file, fileMb, r.nodes, r.parseMs,
                    r.importMs, r.optimizeMs, r.analyzeMs, total / r.parseMs, peakMb, peakMb / fileMb, met ? "met" : "MISSED");
    }
    std::printf("\ntarget: total < 1000 ms (ResNet-50, PP-OCR det), < 3000 ms (YOLOv3); peak/file < 2.0\n");
    return failures ? 1 : 0;
}
