// Executor benchmark: batch-1 float latency of our executor against ONNX Runtime (all graph
// optimizations, the same thread count, the same input) on ResNet-50, MobileNetV2 and PP-OCRv4
// det (1x3x640x640), at 1 and 2 threads, printed as one table with PASS/MISS against the target
// ratio (exit 1 on a MISS); optionally the calibration time for ResNet-50 with 32 synthetic inputs (no cache).
//
// The two sides alternate in rounds (ours, then ORT, `--rounds` times, `--runs` timed runs
// each), so a neighbour's load that comes and goes on a shared machine hits both; each figure is
// the median over all rounds.
//
//   bench_executor [--threads 1,2] [--runs N] [--rounds R] [--model NAME|PATH ...] [--profile [--top N]]
//                  [--calibration] [--target R]
//
// --model picks a row set (resnet50, mobilenet_v2, ppocr_det, or a path to any .onnx with
// static input shapes); repeat it for several. --profile adds, per model and thread count, the
// time per op kind of our executor (from the run's per-node value hook) beside ONNX Runtime's
// (its profiler, run_ort.js --profile), and our N slowest nodes (--top, default 12) each beside
// ORT's node of the same kind and output shape.
#include "autosplit/data/dataset.h"
#include "autosplit/data/tensor_io.h"
#include "autosplit/exec/executor.h"
#include "autosplit/onnx/import.h"
#include "autosplit/passes/optimize.h"
#include "autosplit/quant/calibration.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <filesystem>
#include <map>
#include <memory>
#include <random>
#include <sstream>
#include <string>
#include <tuple>
#include <vector>

#include <unistd.h>

using namespace autosplit;

namespace {

using Clock = std::chrono::steady_clock;

double ms(Clock::duration d) { return std::chrono::duration<double, std::milli>(d).count(); }

double median(std::vector<double> v) {
    if (v.empty()) return 0;
    std::sort(v.begin(), v.end());
    const size_t n = v.size();
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
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

struct ModelSpec {
    std::string label, path;
    std::map<std::string, std::vector<int64_t>> shapes;  // bound input dims (dynamic inputs)
};

ModelSpec knownModel(const std::string& name) {
    const std::string dir = AUTOSPLIT_MODELS_DIR;
    if (name == "resnet50") return {"ResNet-50", dir + "/resnet50.onnx", {}};
    if (name == "mobilenet_v2") return {"MobileNetV2", dir + "/mobilenet_v2.onnx", {}};
    if (name == "ppocr_det") return {"PP-OCRv4 det 640", dir + "/ch_PP-OCRv4_det_infer.onnx", {{"x", {1, 3, 640, 640}}}};
    return {std::filesystem::path(name).stem().string(), name, {}};
}

// What run_ort.js prints for `runs` timed runs of the model on the .npy input (after its own
// warm-up), `extra` options appended; stderr included.
std::string runOrt(const ModelSpec& m, const std::string& inputName, const std::string& npy, int threads, int runs,
                   const std::string& extra = {}) {
    const std::string script = std::string(AUTOSPLIT_SOURCE_DIR) + "/scripts/ort/run_ort.js";
    return capture("node '" + script + "' '" + m.path + "' --in '" + inputName + "=" + npy + "' --threads " +
                   std::to_string(threads) + " --bench " + std::to_string(runs) + extra + " 2>&1");
}

// ORT's per-run milliseconds for `runs` runs (after its own warm-up), or an error text.
std::vector<double> ortRuns(const ModelSpec& m, const std::string& inputName, const std::string& npy, int threads,
                            int runs, std::string& error) {
    const std::string out = runOrt(m, inputName, npy, threads, runs);
    // The summary is one JSON line: pull out "ms":[...] without a JSON dependency here.
    const auto pos = out.find("\"ms\":[");
    std::vector<double> r;
    if (pos == std::string::npos) {
        error = out.empty() ? "node failed" : out.substr(0, 300);
        return r;
    }
    const char* p = out.c_str() + pos + 6;
    while (*p && *p != ']') {
        char* end;
        r.push_back(std::strtod(p, &end));
        if (end == p) break;
        p = end;
        if (*p == ',') ++p;
    }
    return r;
}

// ORT's kernel time per run under its profiler (run_ort.js --profile): by node kind and per node
// (kind, output shape as 1x96x112x112, in execution order).
struct OrtProfile {
    std::map<std::string, double> byKind;
    std::vector<std::tuple<std::string, std::string, double>> nodes;
};

OrtProfile ortProfile(const ModelSpec& m, const std::string& inputName, const std::string& npy, int threads, int runs,
                      std::string& error) {
    const std::string out = runOrt(m, inputName, npy, threads, runs, " --profile");
    OrtProfile p;
    std::istringstream lines(out);
    for (std::string line; std::getline(lines, line);) {
        std::istringstream f(line);
        std::string tag, kind, shape;
        double ms = 0;
        if (!(f >> tag)) continue;
        if (tag == "#kind" && (f >> kind >> ms)) p.byKind[kind] += ms;
        else if (tag == "#node" && (f >> kind >> shape >> ms)) p.nodes.emplace_back(kind, shape, ms);
    }
    if (p.byKind.empty()) error = out.empty() ? "node failed" : out.substr(0, 300);
    return p;
}

// The op type, with Conv split into depthwise, pointwise (1x1) and spatial kernels.
std::string opKind(const Graph& g, const Node& n) {
    if (n.op != "Conv" || n.inputs.size() < 2 || !g.tensors[n.inputs[1]].isWeight()) return n.op;
    const auto& w = g.tensors[n.inputs[1]].data->shape;
    const int64_t group = n.attrInt("group", 1);
    if (group > 1 && w.size() > 1 && w[1] == 1 && w[0] == group) return "Conv(depthwise)";
    int64_t k = 1;
    for (size_t i = 2; i < w.size(); ++i) k *= w[i];
    return k == 1 ? "Conv(1x1)" : "Conv(kxk)";
}

// Per op type: milliseconds of one run, from the gaps between consecutive value callbacks (each
// node's callback fires right after its kernel, so a gap is that node's time).
std::map<std::string, double> profileRun(const Executor& ex, const TensorData& x, std::vector<double>& byNode) {
    const Graph& g = ex.graph();
    std::map<std::string, double> byOp;
    byNode.assign(g.nodes.size(), 0.0);
    auto last = Clock::now();
    int lastNode = -1;
    RunHooks h;
    h.onValue = [&](int node, int, TensorData&) {
        const auto now = Clock::now();
        if (node >= 0 && node != lastNode) {
            byOp[opKind(g, g.nodes[node])] += ms(now - last);
            byNode[node] += ms(now - last);
        }
        lastNode = node;
        last = Clock::now();
    };
    ex.run({x}, h);
    return byOp;
}

struct Row {
    std::string model;
    int threads = 0;
    double ours = 0, ort = 0;
    size_t oursN = 0, ortN = 0;
    std::string error;
};

std::vector<int> parseList(const std::string& s) {
    std::vector<int> r;
    std::stringstream ss(s);
    for (std::string item; std::getline(ss, item, ',');) r.push_back(std::atoi(item.c_str()));
    return r;
}

}  // namespace

int main(int argc, char** argv) {
    std::vector<int> threadList{1, 2};
    int runs = 10, rounds = 3;
    bool calib = false, profile = false;
    int top = 12;
    double target = 1.0;
    std::vector<std::string> names;
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        if (a == "--threads" && i + 1 < argc) threadList = parseList(argv[++i]);
        else if (a == "--runs" && i + 1 < argc) runs = std::max(1, std::atoi(argv[++i]));
        else if (a == "--rounds" && i + 1 < argc) rounds = std::max(1, std::atoi(argv[++i]));
        else if (a == "--model" && i + 1 < argc) names.push_back(argv[++i]);
        else if (a == "--target" && i + 1 < argc) target = std::atof(argv[++i]);
        else if (a == "--calibration") calib = true;
        else if (a == "--profile") profile = true;
        else if (a == "--top" && i + 1 < argc) top = std::max(0, std::atoi(argv[++i]));
        else {
            std::fprintf(stderr,
                         "usage: bench_executor [--threads 1,2] [--runs N] [--rounds R] [--model NAME|PATH ...] "
                         "[--profile [--top N]] [--calibration] [--target R]\n");
            return 2;
        }
    }
    if (names.empty()) names = {"resnet50", "mobilenet_v2", "ppocr_det"};
    std::vector<ModelSpec> models;
    for (const auto& n : names) {
        models.push_back(knownModel(n));
        if (!std::filesystem::exists(models.back().path)) {
            std::fprintf(stderr, "error: %s is missing (scripts/fetch-models.sh)\n", models.back().path.c_str());
            return 1;
        }
    }

    std::vector<Row> rows;
    try {
        for (const ModelSpec& m : models) {
            ImportOptions io;
            io.inputShapes = m.shapes;
            Graph g = importOnnx(m.path, io);
            optimize(g);
            const Tensor& in = g.tensors[g.inputs[0]];
            TensorData x;
            x.shape = in.shape;
            x.floats.resize(static_cast<size_t>(x.elementCount()));
            std::mt19937 rng(7);
            std::uniform_real_distribution<float> d(-1.f, 1.f);
            for (float& v : x.floats) v = d(rng);
            const std::string npy =
                (std::filesystem::temp_directory_path() / ("autosplit_bench_" + std::to_string(getpid()) + ".npy")).string();
            writeTensorFile(npy, x);

            for (int threads : threadList) {
                ExecutorOptions eo;
                eo.threads = threads;
                Executor ex(g, eo);
                for (int i = 0; i < 2; ++i) ex({x});
                Row row;
                row.model = m.label;
                row.threads = threads;
                std::vector<double> ours, ort;
                for (int r = 0; r < rounds && row.error.empty(); ++r) {
                    for (int i = 0; i < runs; ++i) {
                        std::vector<TensorData> feed{x};  // the run takes its input; ORT's feed is made once too
                        const auto t0 = Clock::now();
                        ex(std::move(feed));
                        ours.push_back(ms(Clock::now() - t0));
                    }
                    const auto o = ortRuns(m, in.name, npy, threads, runs, row.error);
                    ort.insert(ort.end(), o.begin(), o.end());
                }
                row.ours = median(ours);
                row.ort = median(ort);
                row.oursN = ours.size();
                row.ortN = ort.size();
                rows.push_back(row);
                std::printf("%s, %d thread(s): ours %.1f ms, ORT %.1f ms\n", m.label.c_str(), threads, row.ours,
                             row.ort);

                if (profile) {
                    std::map<std::string, double> sum;
                    const int pr = 5;
                    std::vector<double> nodeSum(g.nodes.size()), nodeMs;
                    for (int i = 0; i < pr; ++i) {
                        for (const auto& [op, t] : profileRun(ex, x, nodeMs)) sum[op] += t / pr;
                        for (size_t k = 0; k < nodeMs.size(); ++k) nodeSum[k] += nodeMs[k] / pr;
                    }
                    std::vector<std::pair<double, std::string>> byTime;
                    double total = 0;
                    for (const auto& [op, t] : sum) {
                        byTime.push_back({t, op});
                        total += t;
                    }
                    std::sort(byTime.rbegin(), byTime.rend());
                    std::string ortError;
                    const OrtProfile op = ortProfile(m, in.name, npy, threads, 20, ortError);
                    double ortTotal = 0;
                    for (const auto& [kind, t] : op.byKind) ortTotal += t;
                    std::printf("profile %s, %d thread(s): kernel time per run, ours (mean of %d runs) and ONNX Runtime's "
                                "(its profiler, mean of 20 runs)\n",
                                m.label.c_str(), threads, pr);
                    std::printf("    %-18s %8s %8s %7s\n", "kind", "ours ms", "ORT ms", "ratio");
                    std::map<std::string, double> ortLeft = op.byKind;
                    for (const auto& [t, kind] : byTime) {
                        const auto it = ortLeft.find(kind);
                        if (it == ortLeft.end()) {
                            std::printf("    %-18s %8.2f %8s %7s\n", kind.c_str(), t, "-", "-");
                            continue;
                        }
                        std::printf("    %-18s %8.2f %8.2f %7.2f\n", kind.c_str(), t, it->second, it->second > 0 ? t / it->second : 0.0);
                        ortLeft.erase(it);
                    }
                    for (const auto& [kind, t] : ortLeft) std::printf("    %-18s %8s %8.2f %7s\n", kind.c_str(), "-", t, "-");
                    if (!ortError.empty()) std::printf("    ONNX Runtime's profile failed: %s\n", ortError.c_str());
                    std::printf("    %-18s %8.2f %8.2f %7.2f\n", "total", total, ortTotal, ortTotal > 0 ? total / ortTotal : 0.0);
                    // Each of our nodes against ORT's next node of the same kind and output shape: none
                    // where ORT fused it into another (a residual Add into its Conv) or ran it in
                    // another form.
                    std::map<std::pair<std::string, std::string>, std::deque<double>> ortQueue;
                    for (const auto& [kind, shape, t] : op.nodes) ortQueue[{kind, shape}].push_back(t);
                    std::vector<double> ortOf(g.nodes.size(), -1.0);
                    for (size_t k = 0; k < g.nodes.size(); ++k) {
                        std::string so;
                        for (auto dim : g.tensors[g.nodes[k].outputs[0]].shape) so += (so.empty() ? "" : "x") + std::to_string(dim);
                        auto& q = ortQueue[{opKind(g, g.nodes[k]), so}];
                        if (!q.empty()) {
                            ortOf[k] = q.front();
                            q.pop_front();
                        }
                    }
                    std::vector<int> order(g.nodes.size());
                    for (size_t k = 0; k < order.size(); ++k) order[k] = static_cast<int>(k);
                    std::sort(order.begin(), order.end(), [&](int a, int b) { return nodeSum[a] > nodeSum[b]; });
                    for (size_t k = 0; k < std::min<size_t>(order.size(), static_cast<size_t>(top)); ++k) {
                        const Node& n = g.nodes[order[k]];
                        const auto& in0 = g.tensors[n.inputs[0]].shape;
                        const auto& out0 = g.tensors[n.outputs[0]].shape;
                        std::string w;
                        if (n.inputs.size() > 1 && g.tensors[n.inputs[1]].isWeight())
                            for (auto dim : g.tensors[n.inputs[1]].data->shape) w += (w.empty() ? "" : "x") + std::to_string(dim);
                        std::string si, so;
                        for (auto dim : in0) si += (si.empty() ? "" : "x") + std::to_string(dim);
                        for (auto dim : out0) so += (so.empty() ? "" : "x") + std::to_string(dim);
                        char ortMs[32] = "     -";
                        if (ortOf[order[k]] >= 0) std::snprintf(ortMs, sizeof ortMs, "%6.2f", ortOf[order[k]]);
                        std::printf("    %6.2f ms  ORT %s  %-16s %s -> %s  w %s s%lld\n", nodeSum[order[k]], ortMs,
                                    opKind(g, n).c_str(), si.c_str(), so.c_str(), w.empty() ? "-" : w.c_str(),
                                    static_cast<long long>(n.attrInts("strides").empty() ? 1 : n.attrInts("strides")[0]));
                    }
                }
                std::fflush(stdout);
            }
            std::filesystem::remove(npy);
        }
    } catch (const std::exception& e) {
        std::fprintf(stderr, "error: %s\n", e.what());
        return 1;
    }

    std::printf("\nbatch 1, float32; median of %d rounds x %d runs per side, alternating; ONNX Runtime 1.30 (node), "
                "all graph optimizations\n\n",
                rounds, runs);
    std::printf("| model | threads | ours ms | ONNX Runtime ms | ratio | target | result |\n");
    std::printf("|---|---|---|---|---|---|---|\n");
    int misses = 0;
    for (const Row& r : rows) {
        if (!r.error.empty()) {
            std::printf("| %s | %d | %.1f | unavailable | – | <= %.2f | MISS |\n", r.model.c_str(), r.threads, r.ours, target);
            std::fprintf(stderr, "onnxruntime: %s\n", r.error.c_str());
            ++misses;
            continue;
        }
        const double ratio = r.ours / r.ort;
        const bool pass = ratio <= target;
        misses += !pass;
        std::printf("| %s | %d | %.1f | %.1f | %.3f | <= %.2f | %s |\n", r.model.c_str(), r.threads, r.ours, r.ort, ratio,
                    target, pass ? "PASS" : "MISS");
    }

    if (calib) {
        try {
            Graph g = importOnnx(models.front().path, ImportOptions{models.front().shapes, true});
            optimize(g);
            CalibrationOptions co;
            co.threads = threadList.back();
            const auto set = syntheticDataset(g, 32);
            const ErrorTable t = calibrate(g, set, co);
            std::printf("\ncalibration of %s: %.1f s (32 inputs, bits 2/4/6/8, clip %s, %zu layers, %d threads; target < 30 s) %s\n",
                        models.front().label.c_str(), t.seconds, t.clip.c_str(), t.rows.size(), co.threads,
                        t.seconds < 30 ? "PASS" : "MISS");
            misses += t.seconds >= 30;
        } catch (const std::exception& e) {
            std::fprintf(stderr, "error: %s\n", e.what());
            return 1;
        }
    }
    std::printf("\n%s\n", misses ? "some targets MISSED" : "all targets met");
    return misses ? 1 : 0;
}
