#include "autosplit/deploy/export_plan.h"
#include "autosplit/deploy/manifest.h"
#include "autosplit/exec/executor.h"
#include "autosplit/onnx/import.h"
#include "autosplit/passes/optimize.h"
#include "autosplit/util/errors.h"

#include <algorithm>
#include <filesystem>
#include <memory>

namespace autosplit::deploy {

EvalMetrics measureExport(const Graph& g, const std::string& dir, const PlanEvaluator& ev, const CancelToken& cancel) {
    const std::filesystem::path base(dir);
    const Manifest m = loadManifest((base / "manifest.json").string());
    // Optimized as every model our executor runs (activations fused into their producers, as the
    // evaluator computed them): the same float operations in the same order.
    Graph edge = importOnnx((base / m.edgeModel).string());
    optimize(edge);
    std::unique_ptr<Graph> cloud;
    if (!m.cloudModel.empty()) {
        cloud = std::make_unique<Graph>(importOnnx((base / m.cloudModel).string()));
        optimize(*cloud);
    }
    const Executor edgeRun(edge);
    std::unique_ptr<Executor> cloudRun = cloud ? std::make_unique<Executor>(*cloud) : nullptr;
    // Positions: edge inputs in the sample (Graph::inputs order), graph outputs in the halves.
    std::vector<size_t> inputOf;
    for (int t : edge.inputs) {
        const int src = g.findTensor(edge.tensors[static_cast<size_t>(t)].name);
        const auto it = std::find(g.inputs.begin(), g.inputs.end(), src);
        if (it == g.inputs.end()) throw Error(dir + ": edge input '" + edge.tensors[static_cast<size_t>(t)].name + "' is not a model input");
        inputOf.push_back(static_cast<size_t>(it - g.inputs.begin()));
    }
    auto indexIn = [&](const Graph& half, const std::string& name) -> int {
        for (size_t k = 0; k < half.outputs.size(); ++k)
            if (half.tensors[static_cast<size_t>(half.outputs[k])].name == name) return static_cast<int>(k);
        return -1;
    };
    std::vector<std::vector<TensorData>> outputs;
    for (const auto& sample : ev.evaluationSet().samples) {
        cancel.throwIfCancelled();
        std::vector<TensorData> in;
        for (size_t k : inputOf) in.push_back(sample[k]);
        std::vector<TensorData> e = edgeRun.run(std::move(in)).outputs;
        std::vector<TensorData> c;
        if (cloudRun) {
            std::vector<TensorData> wire(e.begin(), e.begin() + static_cast<std::ptrdiff_t>(m.transmitted.size()));
            c = cloudRun->run(std::move(wire)).outputs;
        }
        std::vector<TensorData> row;
        for (int o : g.outputs) {
            const std::string& name = g.tensors[static_cast<size_t>(o)].name;
            if (int k = indexIn(edge, name); k >= 0) row.push_back(e[static_cast<size_t>(k)]);
            else if (int j = cloud ? indexIn(*cloud, name) : -1; j >= 0) row.push_back(c[static_cast<size_t>(j)]);
            else throw Error(dir + ": neither half computes the model output '" + name + "'");
        }
        outputs.push_back(std::move(row));
    }
    return ev.score(outputs);
}

}  // namespace autosplit::deploy
