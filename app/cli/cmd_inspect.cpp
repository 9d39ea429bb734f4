// autosplit inspect: sizes, MACs and split candidates of a model after optimization.
#include "command.h"
#include "model_loading.h"

#include "autosplit/ir/analysis.h"
#include "autosplit/util/units.h"

#include <nlohmann/json.hpp>

#include <cstdio>
#include <iostream>

namespace autosplit::cli {
namespace {

const char* kUsage =
    "usage: autosplit inspect MODEL.onnx [--input NAME=DIMS]... [--json] [--all-layers]\n"
    "\n"
    "Imports an ONNX model, folds BatchNorm and fuses activations, and prints per-layer sizes and\n"
    "MACs and every split of the schedule with the tensors that would cross it.\n"
    "  --input NAME=DIMS  bind an input's symbolic dims, e.g. --input x=1x3x640x640\n"
    "  --json             one JSON object (fields documented in README.md)\n"
    "  --all-layers       list every node in the table, not only the weight layers\n";

int run(const Args& raw) {
    ArgReader args(raw, kUsage);
    const bool json = args.flag("--json");
    const bool all = args.flag("--all-layers");
    LoadedModel m = loadModel(args);
    const Graph& g = m.graph;
    const ModelAnalysis a = analyze(g);
    const auto splits = enumerateSplits(g);
    const int64_t raw_input = rawInputElements(g);

    if (json) {
        nlohmann::ordered_json j;
        j["graph"] = g.name;
        j["opset"] = g.opsetVersion;
        j["parameters"] = a.parameters;
        j["macs"] = a.macs;
        j["weight_layers"] = a.weightLayers;
        j["nodes_in_file"] = m.import.nodesInFile;
        j["constant_nodes"] = m.import.constantNodes;
        j["nodes_before"] = m.optimize.nodesBefore;
        j["nodes_after"] = m.optimize.nodesAfter;
        j["passes"] = nlohmann::json::array();
        for (const auto& s : m.optimize.steps)
            j["passes"].push_back({{"pass", s.pass}, {"rewrites", s.rewrites}, {"nodes_after", s.nodesAfter}});
        j["warnings"] = m.import.warnings;
        for (const auto& w : m.optimize.warnings) j["warnings"].push_back(w);
        j["inputs"] = nlohmann::json::array();
        for (int id : g.inputs)
            j["inputs"].push_back({{"name", g.tensors[id].name}, {"shape", g.tensors[id].shape},
                                   {"elements", g.tensors[id].elementCount()}});
        j["raw_input_elements"] = raw_input;
        j["schedule"] = "depth-first topological order (a branch is finished before the next starts)";
        j["layers"] = nlohmann::json::array();
        for (const auto& L : a.layers) {
            nlohmann::ordered_json l{{"name", L.name}, {"op", L.op}, {"output_shape", L.outputShape},
                                     {"weights", L.weights}, {"activations", L.activations}, {"macs", L.macs}};
            const auto& act = g.nodes[L.node].activation;
            if (!act.isNone()) l["activation"] = act.describe();
            if (!g.nodes[L.node].fusedFrom.empty()) l["fused_from"] = g.nodes[L.node].fusedFrom;
            j["layers"].push_back(std::move(l));
        }
        j["splits"] = nlohmann::json::array();
        for (const auto& s : splits) {
            nlohmann::ordered_json sj{{"position", s.position}, {"after_node", s.afterNode}};
            sj["transmitted"] = nlohmann::json::array();
            for (int t : s.transmitted)
                sj["transmitted"].push_back({{"tensor", g.tensors[t].name}, {"shape", g.tensors[t].shape},
                                             {"elements", g.tensors[t].elementCount()}});
            sj["transmitted_elements"] = s.transmittedElements;
            sj["edge_weights"] = s.edgeWeightElements;
            sj["edge_peak_activations"] = s.edgePeakActivationElements;
            j["splits"].push_back(std::move(sj));
        }
        std::cout << j.dump(1) << "\n";
        return 0;
    }

    std::printf("model        %s (opset %lld)\n", g.name.empty() ? "(unnamed graph)" : g.name.c_str(),
                static_cast<long long>(g.opsetVersion));
    for (int id : g.inputs)
        std::printf("input        %s  %s\n", g.tensors[id].name.c_str(), shapeString(g.tensors[id].shape).c_str());
    std::printf("parameters   %s (%lld)\n", formatCount(static_cast<double>(a.parameters)).c_str(), static_cast<long long>(a.parameters));
    std::printf("MACs         %s (%lld)\n", formatCount(static_cast<double>(a.macs)).c_str(), static_cast<long long>(a.macs));
    std::printf("weight layers %d\n", a.weightLayers);
    std::printf("nodes        %d in file (%d Constant -> weights), %d before optimization, %d after\n",
                m.import.nodesInFile, m.import.constantNodes, m.optimize.nodesBefore, m.optimize.nodesAfter);
    for (const auto& s : m.optimize.steps)
        if (s.rewrites) std::printf("  %-18s %4d rewrites -> %d nodes\n", s.pass.c_str(), s.rewrites, s.nodesAfter);
    std::printf("time         import %.0f ms, optimize %.0f ms\n\n", m.importMs, m.optimizeMs);

    std::printf("%-4s %-36s %-16s %-18s %10s %12s %10s\n", "#", "layer", "op", "output", "weights", "activations", "MACs");
    for (const auto& L : a.layers) {
        if (!all && !L.hasWeights()) continue;
        std::string op = L.op;
        const auto& act = g.nodes[L.node].activation;
        if (!act.isNone()) op += "+" + act.describe();
        std::printf("%-4d %-36.36s %-16.16s %-18s %10s %12s %10s\n", L.node, L.name.c_str(), op.c_str(),
                    shapeString(L.outputShape).c_str(), formatCount(static_cast<double>(L.weights)).c_str(),
                    formatCount(static_cast<double>(L.activations)).c_str(), formatCount(static_cast<double>(L.macs)).c_str());
    }
    std::printf("\nsplits (schedule: depth-first topological order; raw input %s elements)\n",
                formatCount(static_cast<double>(raw_input)).c_str());
    std::printf("%-5s %-36s %8s %12s %10s %12s  %s\n", "pos", "after", "tensors", "transmitted", "edge W", "edge act",
                "smaller than input");
    for (const auto& s : splits) {
        std::printf("%-5d %-36.36s %8zu %12s %10s %12s  %s\n", s.position,
                    s.position < 0 ? "(cloud only)" : s.afterNode.c_str(), s.transmitted.size(),
                    formatCount(static_cast<double>(s.transmittedElements)).c_str(),
                    formatCount(static_cast<double>(s.edgeWeightElements)).c_str(),
                    formatCount(static_cast<double>(s.edgePeakActivationElements)).c_str(),
                    s.transmittedElements < raw_input ? "yes" : "");
    }
    return 0;
}

Registrar reg({"inspect", "sizes, MACs and split candidates of an ONNX model", kUsage, run});

}  // namespace
}  // namespace autosplit::cli
