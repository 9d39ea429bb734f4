#include "model_loading.h"

#include "autosplit/quant/quantize.h"

#include <algorithm>
#include <cmath>
#include <chrono>
#include <cstdio>
#include <iostream>
#include <stdexcept>

namespace autosplit::cli {

bool isInputBinding(const std::string& v) {
    const auto eq = v.rfind('=');
    return eq != std::string::npos && v.find_first_of("/.", eq) == std::string::npos;
}

LoadedModel loadModel(ArgReader& args, bool quiet) {
    ImportOptions opts;
    // `--input NAME=DIMS` binds dims; any other --input value (a file for `autosplit run`) is
    // left for the command.
    for (const auto& binding : args.valuesIf("--input", isInputBinding)) {
        auto [name, dims] = parseInputBinding(binding);
        opts.inputShapes[name] = dims;
    }
    const auto positional = args.positionals();
    if (positional.size() != 1) throw UsageError{"expected exactly one MODEL.onnx"};
    const std::string& path = positional.front();
    LoadedModel m = planner::loadOptimizedModel(path, opts);
    if (!quiet)
        for (const auto* list : {&m.import.warnings, &m.optimize.warnings})
            for (const auto& w : *list) std::cerr << "warning: " << w << "\n";
    return m;
}

EqualizeReport equalizeModel(Graph& g, const Dataset& data, bool enabled, int threads, bool quiet, const std::string& cacheDir) {
    if (!enabled) return {};
    EqualizeOptions o;
    o.threads = threads;
    o.cacheDir = cacheDir;
    const auto t0 = std::chrono::steady_clock::now();
    EqualizeReport r = equalizeActivations(g, data, o);
    if (!quiet)
        std::cerr << equalizationSummary(r, std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count())
                  << "\n";
    return r;
}

std::string shapeString(const std::vector<int64_t>& shape) {
    std::string s;
    for (size_t i = 0; i < shape.size(); ++i) s += (i ? "x" : "") + (shape[i] < 0 ? std::string("?") : std::to_string(shape[i]));
    return s.empty() ? "scalar" : s;
}

int parseIntOption(const std::string& s, const char* option) {
    try {
        size_t used = 0;
        const int v = std::stoi(s, &used);
        if (used == s.size()) return v;
    } catch (const std::exception&) {
    }
    throw UsageError{std::string(option) + " needs a number, got '" + s + "'"};
}

void applyTaskOptions(EvalOptions& eo, const std::string& task, const std::string& mapThreshold) {
    eo.task = parseEvalTask(task);
    if (mapThreshold.empty()) return;
    if (eo.task != EvalTask::BinaryMap) throw UsageError{"--map-threshold needs --task binary-map"};
    try {
        size_t used = 0;
        const float v = std::stof(mapThreshold, &used);
        if (used == mapThreshold.size() && std::isfinite(v)) {
            eo.mapThreshold = v;
            return;
        }
    } catch (const std::exception&) {
    }
    throw UsageError{"--map-threshold needs a number, got '" + mapThreshold + "'"};
}

std::vector<int> parseBitList(const std::string& s, int maxBits, const char* allowed) {
    std::vector<int> out;
    size_t pos = 0;
    while (pos <= s.size()) {
        const size_t comma = s.find(',', pos);
        const std::string item = s.substr(pos, comma == std::string::npos ? std::string::npos : comma - pos);
        try {
            size_t used = 0;
            const int b = std::stoi(item, &used);
            if (used != item.size() || !isSupportedBits(b) || b > maxBits) throw std::invalid_argument(item);
            out.push_back(b);
        } catch (const std::exception&) {
            throw UsageError{"--bits: '" + item + "' is not one of " + allowed};
        }
        if (comma == std::string::npos) break;
        pos = comma + 1;
    }
    return out;
}

}  // namespace autosplit::cli
