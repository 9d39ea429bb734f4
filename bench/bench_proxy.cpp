// bench_proxy: does the planner's MSE proxy rank plans like the measurement? For PP-OCRv4 rec on
// the rendered OCR lines (character-accuracy drop on held-out lines) and ResNet-50 (synthetic
// inputs: relative L2 of the logits and top-1 disagreement), it picks plans spread over the
// planning context's solutions (stratified by the proxy, deterministic), measures each with the
// session's evaluator, and prints Spearman's rho (ties: average ranks) between the measured drop
// and the proxy computed from each kind of error table: "mse" (raw MSEs, nearest rounding),
// "nsr-diagonal" (noise over E[y^2], the default), "nsr-var-diagonal" (noise over the signal's
// variance over the samples), the default with a measured sensitivity (--sensitivity 2) and
// "nsr-var-gptq" (GPTQ output error).
//
// --probe 6,8 [--probe-nodes FIRST:LAST] instead quantizes each node's outputs alone (every other
// node in float, nothing rounded to float16) at each width and prints the measured drop and
// relative L2 next to the error table's D_a: which nodes the proxy misjudges.
//
//   build/bench/bench_proxy [--model ocr|resnet50|all] [--plans 64] [--threads 2] [--list] [--gptq]
//                           [--probe BITS,... [--probe-nodes FIRST:LAST]]
#include "autosplit/eval/rank_correlation.h"
#include "autosplit/planner/session.h"
#include "autosplit/quant/calibration.h"
#include "autosplit/sim/device.h"
#include "autosplit/util/errors.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <map>
#include <numeric>
#include <string>
#include <vector>

using namespace autosplit;
using Clock = std::chrono::steady_clock;

namespace {

double secondsSince(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

std::string requireFile(const std::string& file) {
    const std::string p = std::string(AUTOSPLIT_MODELS_DIR) + "/" + file;
    if (!std::filesystem::exists(p)) {
        std::fprintf(stderr, "error: %s is missing: run scripts/fetch-models.sh%s\n", p.c_str(),
                     file.rfind("ocr-lines", 0) == 0 ? " --ocr, then scripts/make-ocr-set .models/ocr-lines 64 1" : "");
        std::exit(1);
    }
    return p;
}

struct ModelCase {
    std::string name, file;
    std::map<std::string, std::vector<int64_t>> inputs;
    planner::DataSource source;
};

struct Variant {
    std::string label;
    ErrorMeasure measure;
    SignalScale signal;
    int sensitivitySamples = 0;
    ErrorTable table;
    double seconds = 0;
};

bool isDefault(const Variant& v) {
    const CalibrationOptions d;
    return v.measure == d.measure && v.signal == d.signal && v.sensitivitySamples == d.sensitivitySamples;
}

// The error kinds compared, in column order; the one the planner uses by default is marked.
std::vector<Variant> proxyVariants(bool withGptq) {
    std::vector<Variant> variants{{"mse", ErrorMeasure::RawMse, SignalScale::Energy, 0, {}, 0},
                                  {"nsr-diag (E[y^2])", ErrorMeasure::Relative, SignalScale::Energy, 0, {}, 0},
                                  {"nsr-var-diag", ErrorMeasure::Relative, SignalScale::Variance, 0, {}, 0},
                                  {"nsr-diag+sens (--sensitivity 2)", ErrorMeasure::Relative, SignalScale::Energy, 2, {}, 0}};
    if (withGptq) variants.push_back({"nsr-gptq", ErrorMeasure::RelativeGptq, SignalScale::Energy, 0, {}, 0});
    for (auto& v : variants)
        if (isDefault(v)) v.label += " (default)";
    return variants;
}

// The proxy of a solution under another error table: Solution::mse()'s sum over the edge nodes.
double proxyOf(const ErrorTable& t, const planner::Solution& s) {
    double d = 0;
    for (int i = 0; i <= s.split; ++i) {
        const auto& r = t.rows[size_t(i)];
        if (r.weightTensor >= 0) d += std::max(0.0, r.weightMse[size_t(t.bitsIndex(s.weightBits[size_t(i)]))]);
        d += std::max(0.0, r.activationMse[size_t(t.bitsIndex(s.activationBits[size_t(i)]))]);
    }
    return d;
}

struct Metric {
    std::string name;
    std::vector<double> values;
};

// Each node's outputs alone quantized at `bits` (every other node left in float, Edge-Only so
// nothing is rounded to float16): the measured drop and relative L2 next to the table's D_a.
void probeNodes(const planner::PlanningSession& session, const std::vector<int>& bitsList, int first, int last) {
    const auto& ctx = *session.context;
    const Graph& g = ctx.graph();
    const ErrorTable& t = ctx.errors();
    const int n = int(g.nodes.size());
    last = std::min(last < 0 ? n - 1 : last, n - 1);
    std::printf("\nnode probe: one node's outputs quantized, the rest float (%s)\n  %-4s %-28s %-18s %-10s", 
                session.evaluator()->metricName().c_str(), "id", "name", "op", "elements");
    for (int b : bitsList) std::printf(" D_a(%d)     drop(%d)  l2(%d) ", b, b, b);
    std::printf("\n");
    for (int i = std::max(0, first); i <= last; ++i) {
        const auto& r = t.rows[size_t(i)];
        std::printf("  %-4d %-28.28s %-18.18s %-10lld", i, r.name.c_str(), r.op.c_str(), (long long)r.activationElements);
        for (int b : bitsList) {
            PlanBits pb;
            pb.splitPosition = n - 1;
            pb.weightBits.assign(size_t(n), 32);
            pb.activationBits.assign(size_t(n), 32);
            pb.activationBits[size_t(i)] = b;
            const EvalMetrics em = session.evaluator()->evaluate(pb);
            const int bi = t.bitsIndex(b);
            std::printf(" %-10.3g %-8.2f %-7.3f", bi >= 0 ? r.activationMse[size_t(bi)] : -1.0, em.accuracyDrop,
                        100 * std::sqrt(em.relativeMse));
        }
        std::printf("\n");
        std::fflush(stdout);
    }
}

std::vector<std::string> runCase(const ModelCase& mc, int plans, int threads, bool list, bool withGptq,
                                 const std::vector<int>& probeBits = {}, int probeFirst = 0, int probeLast = -1) {
    const auto t0 = Clock::now();
    const std::string path = requireFile(mc.file);
    ImportOptions io;
    io.inputShapes = mc.inputs;
    planner::LoadedModel m = planner::loadOptimizedModel(path, io);
    planner::SessionData data = planner::loadData(m.graph, mc.source);
    const Dataset calibrationSet = data.measurement.calibration;
    planner::ContextOptions co;
    co.compareLagrangian = false;
    auto cost = planner::CostModel::build(m.graph, sim::builtinDevice("eyeriss"), sim::builtinDevice("tpu"),
                                          planner::PlanningContext::costOptions(co));
    planner::SessionOptions so;
    so.context = co;
    so.threads = threads;
    so.eval.threads = threads;
    // No cache: the calibration time is measured every run.
    planner::ModelSource src{path, planner::sha256File(path), {}};
    auto session = planner::buildPlanningSession(std::move(m.graph), std::move(cost), std::move(data), src, so);
    const auto& ctx = *session->context;
    const ErrorTable& current = ctx.errors();
    if (!probeBits.empty()) {
        probeNodes(*session, probeBits, probeFirst, probeLast);
        return {};
    }

    // The other error tables on the same (equalized) graph and calibration set.
    std::vector<Variant> variants = proxyVariants(withGptq);
    for (auto& v : variants) {
        if (isDefault(v)) {  // the session's own table
            v.table = current;
            v.seconds = session->calibrationMs / 1000;
            continue;
        }
        CalibrationOptions c;
        c.bits = ctx.bits();
        c.threads = threads;
        c.measure = v.measure;
        c.signal = v.signal;
        c.sensitivitySamples = v.sensitivitySamples;
        const auto tc = Clock::now();
        v.table = calibrate(ctx.graph(), calibrationSet, c);
        v.seconds = secondsSince(tc);
    }

    // Plans: the grid's allocations (not Cloud-Only, not the baselines' uniform plans), sorted by
    // the session's proxy, `plans` of them at evenly spaced ranks.
    std::vector<int> pool;
    for (size_t i = 1; i < ctx.solutions().built(); ++i)
        if (!ctx.solution(int(i)).forBaseline) pool.push_back(int(i));
    std::stable_sort(pool.begin(), pool.end(), [&](int a, int b) { return ctx.solution(a).mse() < ctx.solution(b).mse(); });
    std::vector<int> picked;
    const int n = std::min<int>(plans, int(pool.size()));
    for (int k = 0; k < n; ++k) {
        const int at = n == 1 ? 0 : int(std::lround(double(k) * double(pool.size() - 1) / double(n - 1)));
        if (picked.empty() || picked.back() != pool[size_t(at)]) picked.push_back(pool[size_t(at)]);
    }

    Metric primary{session->evaluator()->metricName(), {}}, rel{"relative-l2-error", {}};
    std::vector<std::vector<double>> proxies(variants.size());
    const auto tm = Clock::now();
    if (list) {
        std::printf("\n%s: %zu of %zu solutions\n  %-5s %-6s %-14s", mc.name.c_str(), picked.size(), pool.size(), "id",
                    "split", "budget");
        for (const auto& v : variants) std::printf(" %-17.17s", v.label.c_str());
        std::printf(" %-10.10s %-10s\n", primary.name.c_str(), "rel-l2");
    }
    for (int id : picked) {
        const auto& s = ctx.solution(id);
        const EvalMetrics em = session->evaluator()->evaluate(ctx.planBits(s));
        primary.values.push_back(em.accuracyDrop);
        rel.values.push_back(100 * std::sqrt(em.relativeMse));
        for (size_t v = 0; v < variants.size(); ++v) proxies[v].push_back(proxyOf(variants[v].table, s));
        if (list) {
            std::printf("  %-5d %-6d %-14s", id, s.split, s.budget.c_str());
            for (const auto& p : proxies) std::printf(" %-17.4g", p.back());
            std::printf(" %-10.3f %-10.3f\n", primary.values.back(), rel.values.back());
            std::fflush(stdout);
        }
    }
    const double measureSeconds = secondsSince(tm);

    std::vector<Metric> metrics{primary};
    if (primary.name != rel.name) metrics.push_back(rel);
    std::vector<std::string> rows;
    for (const auto& met : metrics) {
        char buf[512];
        int len = std::snprintf(buf, sizeof buf, "| %s | %s | %zu |", mc.name.c_str(), met.name.c_str(), picked.size());
        for (size_t v = 0; v < variants.size(); ++v)
            len += std::snprintf(buf + len, sizeof buf - size_t(len), " %.3f |", spearman(proxies[v], met.values));
        for (size_t v = 0; v < variants.size(); ++v)
            len += std::snprintf(buf + len, sizeof buf - size_t(len), "%s%.1f", v ? " / " : " ", variants[v].seconds);
        std::snprintf(buf + len, sizeof buf - size_t(len), " | %.0f | %.0f |", measureSeconds, secondsSince(t0));
        rows.push_back(buf);
    }
    return rows;
}

}  // namespace

int main(int argc, char** argv) {
    std::string which = "all";
    int plans = 64, threads = 2;
    bool list = false, withGptq = false;
    std::vector<int> probeBits;
    int probeFirst = 0, probeLast = -1;
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        if (a == "--model" && i + 1 < argc) which = argv[++i];
        else if (a == "--plans" && i + 1 < argc) plans = std::atoi(argv[++i]);
        else if (a == "--threads" && i + 1 < argc) threads = std::atoi(argv[++i]);
        else if (a == "--list") list = true;
        else if (a == "--gptq") withGptq = true;
        else if (a == "--probe" && i + 1 < argc) {
            for (const char* p = argv[++i]; *p;) {
                probeBits.push_back(std::atoi(p));
                while (*p && *p != ',') ++p;
                if (*p == ',') ++p;
            }
        } else if (a == "--probe-nodes" && i + 1 < argc) std::sscanf(argv[++i], "%d:%d", &probeFirst, &probeLast);
        else {
            std::fprintf(stderr, "usage: bench_proxy [--model ocr|resnet50|all] [--plans 64] [--threads 2] [--list] [--gptq] [--probe 6,8 [--probe-nodes A:B]]\n");
            return 2;
        }
    }
    if (plans < 3) {
        std::fprintf(stderr, "error: --plans must be at least 3\n");
        return 2;
    }
    std::vector<ModelCase> cases;
    if (which == "all" || which == "ocr") {
        ModelCase c{"PP-OCRv4 rec", "ch_PP-OCRv4_rec_infer.onnx", {{"x", {1, 3, 48, 320}}}, {}};
        c.source.folder = requireFile("ocr-lines");
        c.source.labels = requireFile("ocr-lines/labels.txt");
        c.source.dictionary = requireFile("ppocr_keys_v1.txt");
        cases.push_back(c);
    }
    if (which == "all" || which == "resnet50") {
        ModelCase c{"ResNet-50", "resnet50.onnx", {}, {}};
        c.source.synthetic = 16;
        c.source.calibrationSamples = 8;
        c.source.measurementSamples = 8;
        cases.push_back(c);
    }
    if (cases.empty()) {
        std::fprintf(stderr, "error: unknown --model '%s' (ocr, resnet50, all)\n", which.c_str());
        return 2;
    }
    std::vector<std::string> rows;
    try {
        for (const auto& c : cases) {
            std::fprintf(stderr, "%s...\n", c.name.c_str());
            for (auto& r : runCase(c, plans, threads, list, withGptq, probeBits, probeFirst, probeLast)) rows.push_back(std::move(r));
        }
    } catch (const std::exception& e) {
        std::fprintf(stderr, "error: %s\n", e.what());
        return 1;
    }
    std::printf("\nSpearman rho between the MSE proxy and the measured drop (Eyeriss edge, B = {2,4,6,8}, %d threads)\n\n",
                threads);
    std::string header = "| model | metric | plans |", rule = "|---|---|---|";
    for (const auto& v : proxyVariants(withGptq)) {
        header += " rho " + v.label + " |";
        rule += "---|";
    }
    std::printf("%s calibration s (same order) | measuring s | total s |\n%s---|---|---|\n", header.c_str(), rule.c_str());
    for (const auto& r : rows) std::printf("%s\n", r.c_str());
    return 0;
}
