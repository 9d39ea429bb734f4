#include "graph_fixtures.h"

#include <memory>
#include <random>

namespace autosplit::testing {

int addValue(Graph& g, const std::string& name, std::vector<int64_t> shape) {
    Tensor t;
    t.name = name;
    t.shape = std::move(shape);
    t.shapeKnown = !t.shape.empty();
    return g.addTensor(std::move(t));
}

int addInput(Graph& g, const std::string& name, std::vector<int64_t> shape) {
    Tensor t;
    t.name = name;
    t.shape = std::move(shape);
    t.shapeKnown = true;
    return g.addTensor(std::move(t));
}

int addWeight(Graph& g, const std::string& name, TensorData d) {
    Tensor t;
    t.name = name;
    t.shape = d.shape;
    t.shapeKnown = true;
    t.data = std::make_shared<TensorData>(std::move(d));
    return g.addTensor(std::move(t));
}

TensorData randomTensor(std::vector<int64_t> shape, uint32_t seed, float sd) {
    TensorData d;
    d.shape = std::move(shape);
    d.floats.resize(static_cast<size_t>(d.elementCount()));
    std::mt19937 rng(seed);
    std::normal_distribution<float> n(0.f, sd);
    for (float& v : d.floats) v = n(rng);
    return d;
}

Node makeNode(const std::string& name, const std::string& op, std::vector<int> inputs, std::vector<int> outputs) {
    Node n;
    n.name = name;
    n.op = op;
    n.inputs = std::move(inputs);
    n.outputs = std::move(outputs);
    return n;
}

}  // namespace autosplit::testing
