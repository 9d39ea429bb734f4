// Private to core/deploy/src: appends tensors, constants and nodes to a graph IR being built (the
// exporter's halves, the Triton model's unpacking). A name already in the graph returns its id;
// nodes go to `nodes` in call order (callers keep them topological).
#pragma once

#include "autosplit/ir/graph.h"

#include <map>
#include <string>
#include <utility>
#include <vector>

namespace autosplit::deploy {

class GraphWriter {
public:
    GraphWriter(Graph& g, std::vector<Node>& nodes) : g_(g), nodes_(nodes) {}

    // A computed tensor; its shape is known when every dim is.
    int value(const std::string& name, DType dtype, std::vector<int64_t> shape) {
        if (int id = g_.findTensor(name); id >= 0) return id;
        Tensor t;
        t.name = name;
        t.dtype = dtype;
        t.shapeKnown = true;
        for (int64_t d : shape) t.shapeKnown = t.shapeKnown && d >= 0;
        t.shape = std::move(shape);
        return g_.addTensor(std::move(t));
    }
    int weight(const std::string& name, TensorData data) {
        if (int id = g_.findTensor(name); id >= 0) return id;
        return g_.addWeight(name, std::move(data));
    }
    int floatScalar(const std::string& name, float v) { return weight(name, TensorData{DType::Float32, {}, {v}, {}}); }
    // An int64 constant of `shape` ({} = scalar); without a shape, 1-D of the values' length.
    int ints(const std::string& name, std::vector<int64_t> v) {
        std::vector<int64_t> shape{static_cast<int64_t>(v.size())};
        return ints(name, std::move(v), std::move(shape));
    }
    int ints(const std::string& name, std::vector<int64_t> v, std::vector<int64_t> shape) {
        return weight(name, TensorData{DType::Int64, std::move(shape), {}, std::move(v)});
    }
    void node(const std::string& op, const std::string& name, std::vector<int> in, std::vector<int> out,
              std::map<std::string, Attribute> attrs = {}) {
        Node n;
        n.op = op;
        n.name = name;
        n.inputs = std::move(in);
        n.outputs = std::move(out);
        n.attrs = std::move(attrs);
        nodes_.push_back(std::move(n));
    }

protected:
    Graph& g_;
    std::vector<Node>& nodes_;
};

}  // namespace autosplit::deploy
