// Format-neutral graph IR. Everything outside onnx_import.cpp sees only these types:
// protobuf never leaks past the importer (widgets, sim and planner depend on this header).
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <variant>
#include <vector>

namespace autosplit {

enum class DType { Float32, Float16, Double, Int8, UInt8, Int16, Int32, Int64, Bool, Other };

const char* dtypeName(DType t);
// Bytes of one element as stored by ONNX (Bool: 1); 0 for Other.
int dtypeBytes(DType t);
bool isFloating(DType t);

// Dense tensor data. Floating types are held as float (f16/double converted on import),
// integer and bool types as int64: the executor and the passes need nothing else.
struct TensorData {
    DType dtype = DType::Float32;
    std::vector<int64_t> shape;
    std::vector<float> floats;  // when isFloating(dtype)
    std::vector<int64_t> ints;  // otherwise

    int64_t elementCount() const;
    bool isFloat() const { return isFloating(dtype); }
};

// Element-wise activation fused into its producer by the optimizer (Conv/Gemm/MatMul/Add...).
struct Activation {
    enum class Kind { None, Relu, Clip, LeakyRelu, HardSigmoid, HardSwish, Sigmoid, Swish, HardSwishMul };
    Kind kind = Kind::None;
    float alpha = 0.f;  // LeakyRelu slope, HardSigmoid alpha
    float beta = 0.f;   // HardSigmoid beta
    float min = 0.f;    // Clip
    float max = 0.f;    // Clip

    bool isNone() const { return kind == Kind::None; }
    // Output of the activation is >= 0 for every input (unsigned activation quantization).
    bool nonNegative() const;
    float apply(float x) const;
    std::string describe() const;  // "Relu", "Clip[0,6]", ...
};

struct Graph;

struct Attribute {
    // Subgraph-valued attributes (If/Loop/Scan bodies) are kept only as a marker: the planner
    // treats such nodes as opaque and the executor rejects them by name.
    struct SubgraphMarker {
        std::string name;
    };
    std::variant<int64_t, float, std::string, std::vector<int64_t>, std::vector<float>,
                 std::vector<std::string>, TensorData, SubgraphMarker>
        value;
};

struct Tensor {
    std::string name;
    DType dtype = DType::Float32;
    std::vector<int64_t> shape;     // -1 where unknown
    bool shapeKnown = false;        // rank and every dimension known
    int producer = -1;              // node index; -1 for graph inputs and weights
    std::vector<int> consumers;     // node indices (a node appears once per input slot use)
    bool isGraphInput = false;
    bool isGraphOutput = false;
    std::shared_ptr<const TensorData> data;  // weights: initializers, Constant nodes, folded values

    bool isWeight() const { return data != nullptr; }
    int64_t elementCount() const;  // -1 when the shape is not known
};

struct Node {
    std::string name;
    std::string op;      // ONNX op_type ("Conv", "Relu", ...)
    std::string domain;  // "" for the default ONNX domain
    std::vector<int> inputs;   // tensor ids; -1 for an omitted optional input
    std::vector<int> outputs;  // tensor ids; -1 for an omitted optional output
    std::map<std::string, Attribute> attrs;
    Activation activation;     // fused activation applied to output 0
    std::vector<std::string> fusedFrom;  // names of nodes folded into this one (BN, Relu...)

    const Attribute* attr(const std::string& key) const;
    int64_t attrInt(const std::string& key, int64_t fallback) const;
    float attrFloat(const std::string& key, float fallback) const;
    std::string attrString(const std::string& key, const std::string& fallback) const;
    std::vector<int64_t> attrInts(const std::string& key) const;  // empty when absent
    std::vector<float> attrFloats(const std::string& key) const;
};

// A directed acyclic graph of nodes over tensors. `nodes` is kept in topological order by
// every pass (Graph::validate checks it); tensor ids are indices into `tensors`.
struct Graph {
    std::string name;
    int64_t opsetVersion = 0;
    std::vector<Tensor> tensors;
    std::vector<Node> nodes;
    std::vector<int> inputs;   // graph inputs that are not weights
    std::vector<int> outputs;

    int findTensor(const std::string& name) const;  // -1 when absent
    int findNode(const std::string& name) const;    // -1 when absent
    int addTensor(Tensor t);                         // registers the name; returns the id
    // A weight (constant data, shape from the data) named `name`, or `name_1`, `name_2`, … when
    // `unique` and the name is taken (else GraphError on a taken name); returns the id.
    int addWeight(const std::string& name, TensorData data, bool unique = false);

    // Recompute producer/consumers/graph-io flags from nodes, drop tensors that nothing refers to,
    // and re-sort nodes topologically (stable: keeps the existing order where it is valid).
    // Throws GraphError naming a node on a cycle or a tensor with two producers.
    void rebuild();

    int64_t weightElementCount() const;  // all float weights referenced by nodes

private:
    std::unordered_map<std::string, int> tensorIndex_;
    friend struct GraphBuilderAccess;
};

// Content hash of a graph (structure, attributes, weights): 16 hex digits.
std::string graphHash(const Graph& g);

}  // namespace autosplit
