// autosplit run: one float inference of the optimized model on input files; output shapes,
// value ranges and top-k for classifier outputs.
#include "command.h"
#include "autosplit/data/data_folder.h"
#include "model_loading.h"

#include "autosplit/data/tensor_io.h"
#include "autosplit/exec/executor.h"
#include "autosplit/util/errors.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <numeric>

namespace autosplit::cli {
namespace {

const char* kUsage =
    "usage: autosplit run MODEL.onnx --input FILE [--input FILE]... [--input NAME=DIMS]...\n"
    "                     [--preprocess PROFILE.json] [--top K] [--threads N] [--save DIR] [--json]\n\n"
    "Runs the optimized float model once. FILE is a .pb (TensorProto), .npy or image (.png/.jpg),\n"
    "one per model input in order, or NAME=FILE to bind a named input. Images go through the\n"
    "preprocessing profile (README: \"Executor, calibration and evaluation\"). Prints every output's\n"
    "shape and value range, and the top-K classes of [N, C] outputs (default K = 5). --save writes\n"
    "each output as DIR/NAME.npy.\n";


bool isClassifierShape(const std::vector<int64_t>& s) {
    if (s.size() < 2 || s[1] < 2) return false;
    for (size_t i = 2; i < s.size(); ++i)
        if (s[i] != 1) return false;
    return true;
}

std::string safeFileName(std::string s) {
    for (char& c : s)
        if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.')) c = '_';
    return s;
}

int run(const Args& argv) {
    ArgReader args(argv, kUsage);
    const std::string profile = args.value("--preprocess");
    const int top = parseIntOption(args.value("--top", "5"), "--top");
    const int threads = parseIntOption(args.value("--threads", "0"), "--threads");
    const std::string saveDir = args.value("--save");
    const bool json = args.flag("--json");
    // --input values that are not NAME=DIMS shape bindings (those go to loadModel) are files.
    const std::vector<std::string> files =
        args.valuesIf("--input", [](const std::string& v) { return !isInputBinding(v); });
    LoadedModel m = loadModel(args, json);
    const Graph& g = m.graph;
    if (files.empty()) throw UsageError{"give one --input FILE per model input"};

    std::vector<TensorData> inputs(g.inputs.size());
    std::vector<std::string> sources(g.inputs.size());
    size_t next = 0;
    for (const std::string& f : files) {
        size_t slot = next;
        std::string path = f;
        if (const auto eq = f.find('='); eq != std::string::npos) {
            const int t = g.findTensor(f.substr(0, eq));
            const auto it = t < 0 ? g.inputs.end() : std::find(g.inputs.begin(), g.inputs.end(), t);
            if (it != g.inputs.end()) {
                slot = static_cast<size_t>(it - g.inputs.begin());
                path = f.substr(eq + 1);
            }
        }
        if (slot >= g.inputs.size())
            throw UsageError{"more --input files than model inputs (" + std::to_string(g.inputs.size()) + ")"};
        if (!sources[slot].empty()) throw UsageError{"input '" + g.tensors[g.inputs[slot]].name + "' given twice"};
        inputs[slot] = withWarnings(json, [&](auto* w) { return loadInputFile(g, static_cast<int>(slot), path, profile, w); });
        sources[slot] = path;
        while (next < g.inputs.size() && !sources[next].empty()) ++next;
    }
    for (size_t i = 0; i < g.inputs.size(); ++i)
        if (sources[i].empty()) throw UsageError{"no --input FILE for model input '" + g.tensors[g.inputs[i]].name + "'"};

    ExecutorOptions eo;
    eo.threads = threads;
    Executor ex(g, eo);
    const auto t0 = std::chrono::steady_clock::now();
    const std::vector<TensorData> outs = ex(inputs);
    const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();

    if (!saveDir.empty()) {
        std::filesystem::create_directories(saveDir);
        for (size_t o = 0; o < outs.size(); ++o)
            writeTensorFile((std::filesystem::path(saveDir) / (safeFileName(g.tensors[g.outputs[o]].name) + ".npy")).string(), outs[o]);
    }

    nlohmann::ordered_json j;
    j["model"] = g.name;
    j["milliseconds"] = ms;
    j["threads"] = ex.threads();
    nlohmann::ordered_json jin = nlohmann::ordered_json::array();
    for (size_t i = 0; i < inputs.size(); ++i)
        jin.push_back({{"name", g.tensors[g.inputs[i]].name}, {"shape", inputs[i].shape}, {"file", sources[i]}});
    j["inputs"] = jin;
    nlohmann::ordered_json jout = nlohmann::ordered_json::array();
    if (!json) std::printf("ran in %.1f ms on %d thread(s)\n", ms, ex.threads());
    for (size_t o = 0; o < outs.size(); ++o) {
        const TensorData& t = outs[o];
        const std::string& name = g.tensors[g.outputs[o]].name;
        nlohmann::ordered_json jo{{"name", name}, {"dtype", dtypeName(t.dtype)}, {"shape", t.shape}};
        std::string range;
        if (t.isFloat() && !t.floats.empty()) {
            const auto [mn, mx] = std::minmax_element(t.floats.begin(), t.floats.end());
            const double mean = std::accumulate(t.floats.begin(), t.floats.end(), 0.0) / static_cast<double>(t.floats.size());
            jo["min"] = *mn;
            jo["max"] = *mx;
            jo["mean"] = mean;
            char buf[128];
            std::snprintf(buf, sizeof buf, "min %.6g  max %.6g  mean %.6g", *mn, *mx, mean);
            range = buf;
        }
        if (!json) std::printf("output %-24s %-8s %-16s %s\n", name.c_str(), dtypeName(t.dtype), shapeString(t.shape).c_str(), range.c_str());
        if (t.isFloat() && isClassifierShape(t.shape) && top > 0) {
            const int64_t rows = t.shape[0], classes = t.elementCount() / std::max<int64_t>(1, rows);
            nlohmann::ordered_json jrows = nlohmann::ordered_json::array();
            for (int64_t r = 0; r < rows; ++r) {
                std::vector<int64_t> idx(static_cast<size_t>(classes));
                std::iota(idx.begin(), idx.end(), 0);
                const float* v = t.floats.data() + r * classes;
                const auto k = std::min<int64_t>(top, classes);
                std::partial_sort(idx.begin(), idx.begin() + k, idx.end(), [&](int64_t a, int64_t b) { return v[a] > v[b]; });
                nlohmann::ordered_json jr = nlohmann::ordered_json::array();
                if (!json) std::printf("  top-%lld%s:", static_cast<long long>(k), rows > 1 ? (" row " + std::to_string(r)).c_str() : "");
                for (int64_t i = 0; i < k; ++i) {
                    jr.push_back({{"class", idx[static_cast<size_t>(i)]}, {"score", v[idx[static_cast<size_t>(i)]]}});
                    if (!json) std::printf("  %lld (%.4g)", static_cast<long long>(idx[static_cast<size_t>(i)]), v[idx[static_cast<size_t>(i)]]);
                }
                if (!json) std::printf("\n");
                jrows.push_back(jr);
            }
            jo["top"] = jrows;
        }
        jout.push_back(jo);
    }
    j["outputs"] = jout;
    if (json) std::cout << j.dump(1) << "\n";
    return 0;
}

const Registrar reg({"run", "float inference on input files (tensors or images): outputs and top-k", kUsage, run});

}  // namespace
}  // namespace autosplit::cli
