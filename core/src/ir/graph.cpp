#include "autosplit/ir/graph.h"

#include "autosplit/util/cancel.h"
#include "autosplit/util/errors.h"

#include <algorithm>
#include <cmath>
#include <sstream>

namespace autosplit {

const char* dtypeName(DType t) {
    switch (t) {
    case DType::Float32: return "float32";
    case DType::Float16: return "float16";
    case DType::Double: return "float64";
    case DType::Int8: return "int8";
    case DType::UInt8: return "uint8";
    case DType::Int16: return "int16";
    case DType::Int32: return "int32";
    case DType::Int64: return "int64";
    case DType::Bool: return "bool";
    case DType::Other: break;
    }
    return "other";
}

int dtypeBytes(DType t) {
    switch (t) {
    case DType::Float32: return 4;
    case DType::Float16: return 2;
    case DType::Double: return 8;
    case DType::Int8:
    case DType::UInt8:
    case DType::Bool: return 1;
    case DType::Int16: return 2;
    case DType::Int32: return 4;
    case DType::Int64: return 8;
    case DType::Other: break;
    }
    return 0;
}

bool isFloating(DType t) { return t == DType::Float32 || t == DType::Float16 || t == DType::Double; }

int64_t TensorData::elementCount() const {
    int64_t n = 1;
    for (auto d : shape) n *= d;
    return n;
}

int64_t Tensor::elementCount() const {
    if (!shapeKnown) return -1;
    int64_t n = 1;
    for (auto d : shape) n *= d;
    return n;
}

bool Activation::nonNegative() const {
    switch (kind) {
    case Kind::Relu:
    case Kind::HardSigmoid:
    case Kind::Sigmoid: return true;
    case Kind::Clip: return min >= 0.f;
    default: return false;
    }
}

float Activation::apply(float x) const {
    switch (kind) {
    case Kind::None: return x;
    case Kind::Relu: return x > 0.f ? x : 0.f;
    case Kind::Clip: return std::min(std::max(x, min), max);
    case Kind::LeakyRelu: return x >= 0.f ? x : alpha * x;
    case Kind::HardSigmoid: return std::max(0.f, std::min(1.f, alpha * x + beta));
    case Kind::HardSwish: return x * std::max(0.f, std::min(1.f, x / 6.f + 0.5f));
    case Kind::Sigmoid: return 1.f / (1.f + std::exp(-x));
    case Kind::Swish: return x / (1.f + std::exp(-x));
    case Kind::HardSwishMul: return x * std::max(0.f, std::min(1.f, alpha * x + beta));
    }
    return x;
}

std::string Activation::describe() const {
    std::ostringstream s;
    switch (kind) {
    case Kind::None: return "";
    case Kind::Relu: return "Relu";
    case Kind::Clip: s << "Clip[" << min << "," << max << "]"; return s.str();
    case Kind::LeakyRelu: s << "LeakyRelu(" << alpha << ")"; return s.str();
    case Kind::HardSigmoid: return "HardSigmoid";
    case Kind::HardSwish: return "HardSwish";
    case Kind::Sigmoid: return "Sigmoid";
    case Kind::Swish: return "Swish";
    case Kind::HardSwishMul: return "x*HardSigmoid(x)";
    }
    return "";
}

const Attribute* Node::attr(const std::string& key) const {
    auto it = attrs.find(key);
    return it == attrs.end() ? nullptr : &it->second;
}

int64_t Node::attrInt(const std::string& key, int64_t fallback) const {
    const Attribute* a = attr(key);
    if (!a) return fallback;
    if (auto v = std::get_if<int64_t>(&a->value)) return *v;
    if (auto f = std::get_if<float>(&a->value)) return static_cast<int64_t>(*f);
    return fallback;
}

float Node::attrFloat(const std::string& key, float fallback) const {
    const Attribute* a = attr(key);
    if (!a) return fallback;
    if (auto v = std::get_if<float>(&a->value)) return *v;
    if (auto i = std::get_if<int64_t>(&a->value)) return static_cast<float>(*i);
    return fallback;
}

std::string Node::attrString(const std::string& key, const std::string& fallback) const {
    const Attribute* a = attr(key);
    if (!a) return fallback;
    if (auto v = std::get_if<std::string>(&a->value)) return *v;
    return fallback;
}

std::vector<int64_t> Node::attrInts(const std::string& key) const {
    const Attribute* a = attr(key);
    if (!a) return {};
    if (auto v = std::get_if<std::vector<int64_t>>(&a->value)) return *v;
    if (auto i = std::get_if<int64_t>(&a->value)) return {*i};
    return {};
}

std::vector<float> Node::attrFloats(const std::string& key) const {
    const Attribute* a = attr(key);
    if (!a) return {};
    if (auto v = std::get_if<std::vector<float>>(&a->value)) return *v;
    if (auto f = std::get_if<float>(&a->value)) return {*f};
    return {};
}

void CancelToken::throwIfCancelled() const {
    if (cancelled()) throw Cancelled();
}

int Graph::findTensor(const std::string& tensorName) const {
    auto it = tensorIndex_.find(tensorName);
    return it == tensorIndex_.end() ? -1 : it->second;
}

int Graph::findNode(const std::string& nodeName) const {
    for (size_t i = 0; i < nodes.size(); ++i)
        if (nodes[i].name == nodeName) return static_cast<int>(i);
    return -1;
}

int Graph::addTensor(Tensor t) {
    if (findTensor(t.name) >= 0) throw GraphError("tensor '" + t.name + "' is defined twice");
    const int id = static_cast<int>(tensors.size());
    tensorIndex_.emplace(t.name, id);
    tensors.push_back(std::move(t));
    return id;
}

int Graph::addWeight(const std::string& name, TensorData data, bool unique) {
    std::string n = name;
    for (int k = 1; unique && findTensor(n) >= 0; ++k) n = name + "_" + std::to_string(k);
    Tensor t;
    t.name = std::move(n);
    t.dtype = data.dtype;
    t.shape = data.shape;
    t.shapeKnown = true;
    t.data = std::make_shared<const TensorData>(std::move(data));
    return addTensor(std::move(t));
}

int64_t Graph::weightElementCount() const {
    int64_t n = 0;
    std::vector<bool> seen(tensors.size(), false);
    for (const auto& node : nodes)
        for (int t : node.inputs)
            if (t >= 0 && !seen[t] && tensors[t].isWeight() && tensors[t].data->isFloat()) {
                seen[t] = true;
                n += tensors[t].data->elementCount();
            }
    return n;
}

void Graph::rebuild() {
    // 1. Drop tensors nothing refers to, remapping ids.
    std::vector<bool> used(tensors.size(), false);
    for (const auto& n : nodes) {
        for (int t : n.inputs)
            if (t >= 0) used[t] = true;
        for (int t : n.outputs)
            if (t >= 0) used[t] = true;
    }
    for (int t : inputs) used[t] = true;
    for (int t : outputs) used[t] = true;
    std::vector<int> remap(tensors.size(), -1);
    std::vector<Tensor> kept;
    kept.reserve(tensors.size());
    for (size_t i = 0; i < tensors.size(); ++i)
        if (used[i]) {
            remap[i] = static_cast<int>(kept.size());
            kept.push_back(std::move(tensors[i]));
        }
    tensors = std::move(kept);
    auto fix = [&](std::vector<int>& ids) {
        for (int& t : ids)
            if (t >= 0) t = remap[t];
    };
    for (auto& n : nodes) {
        fix(n.inputs);
        fix(n.outputs);
    }
    fix(inputs);
    fix(outputs);
    tensorIndex_.clear();
    for (size_t i = 0; i < tensors.size(); ++i) tensorIndex_[tensors[i].name] = static_cast<int>(i);

    // 2. Producers (unique) and graph-io flags.
    for (auto& t : tensors) {
        t.producer = -1;
        t.consumers.clear();
        t.isGraphInput = t.isGraphOutput = false;
    }
    for (int t : inputs) tensors[t].isGraphInput = true;
    for (int t : outputs) tensors[t].isGraphOutput = true;
    for (size_t i = 0; i < nodes.size(); ++i)
        for (int t : nodes[i].outputs) {
            if (t < 0) continue;
            if (tensors[t].producer >= 0)
                throw GraphError("tensor '" + tensors[t].name + "' is produced by both '" +
                                 nodes[tensors[t].producer].name + "' and '" + nodes[i].name + "'");
            if (tensors[t].isWeight())
                throw GraphError("tensor '" + tensors[t].name + "' is both a weight and the output of '" +
                                 nodes[i].name + "'");
            tensors[t].producer = static_cast<int>(i);
        }
    for (size_t i = 0; i < nodes.size(); ++i)
        for (int t : nodes[i].inputs) {
            if (t < 0) continue;
            const Tensor& tt = tensors[t];
            if (tt.producer < 0 && !tt.isGraphInput && !tt.isWeight())
                throw GraphError("node '" + nodes[i].name + "' reads tensor '" + tt.name +
                                 "', which no node, input or initializer provides");
        }

    // 3. Depth-first topological order: a node becomes ready when all its producers ran; the
    //    most recently readied node runs next, so a branch is finished before the next starts
    //    (keeps the live set, and so the tensors crossing a cut, small). Ties keep file order.
    const size_t n = nodes.size();
    std::vector<int> missing(n, 0);
    std::vector<std::vector<int>> succ(n);
    for (size_t i = 0; i < n; ++i) {
        std::vector<int> preds;
        for (int t : nodes[i].inputs)
            if (t >= 0 && tensors[t].producer >= 0) preds.push_back(tensors[t].producer);
        std::sort(preds.begin(), preds.end());
        preds.erase(std::unique(preds.begin(), preds.end()), preds.end());
        missing[i] = static_cast<int>(preds.size());
        for (int p : preds) succ[p].push_back(static_cast<int>(i));
    }
    std::vector<int> stack;
    for (size_t i = n; i-- > 0;)
        if (missing[i] == 0) stack.push_back(static_cast<int>(i));
    std::vector<int> order;
    order.reserve(n);
    while (!stack.empty()) {
        int v = stack.back();
        stack.pop_back();
        order.push_back(v);
        for (auto it = succ[v].rbegin(); it != succ[v].rend(); ++it)
            if (--missing[*it] == 0) stack.push_back(*it);
    }
    if (order.size() != n) {
        for (size_t i = 0; i < n; ++i)
            if (missing[i] > 0)
                throw GraphError("the graph has a cycle through node '" + nodes[i].name + "' (" +
                                 nodes[i].op + ")");
    }
    bool identity = true;
    for (size_t i = 0; i < n; ++i) identity = identity && order[i] == static_cast<int>(i);
    if (!identity) {
        std::vector<Node> sorted;
        sorted.reserve(n);
        for (int i : order) sorted.push_back(std::move(nodes[i]));
        nodes = std::move(sorted);
        for (auto& t : tensors) t.producer = -1;
        for (size_t i = 0; i < n; ++i)
            for (int t : nodes[i].outputs)
                if (t >= 0) tensors[t].producer = static_cast<int>(i);
    }
    for (size_t i = 0; i < n; ++i)
        for (int t : nodes[i].inputs)
            if (t >= 0) tensors[t].consumers.push_back(static_cast<int>(i));
}

}  // namespace autosplit
