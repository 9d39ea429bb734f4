// Writes small ONNX models programmatically (protobuf stays inside core/src): test fixtures,
// the bundled example model, broken files for bad-input tests.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <memory>
#include <string>
#include <vector>

namespace autosplit {

struct Attr {
    std::string name;
    enum class Kind { Int, Float, Ints, Floats, String } kind;
    int64_t i = 0;
    float f = 0;
    std::vector<int64_t> ints;
    std::vector<float> floats;
    std::string s;
    static Attr integer(std::string n, int64_t v) { return {std::move(n), Kind::Int, v, 0, {}, {}, {}}; }
    static Attr real(std::string n, float v) { return {std::move(n), Kind::Float, 0, v, {}, {}, {}}; }
    static Attr list(std::string n, std::vector<int64_t> v) { return {std::move(n), Kind::Ints, 0, 0, std::move(v), {}, {}}; }
    static Attr reals(std::string n, std::vector<float> v) { return {std::move(n), Kind::Floats, 0, 0, {}, std::move(v), {}}; }
    static Attr text(std::string n, std::string v) { return {std::move(n), Kind::String, 0, 0, {}, {}, std::move(v)}; }
};

// Builds a ModelProto step by step; dims of -1 are written as symbolic ("N").
class ModelBuilder {
public:
    explicit ModelBuilder(int opset = 13);
    ~ModelBuilder();
    ModelBuilder(const ModelBuilder&) = delete;
    ModelBuilder& operator=(const ModelBuilder&) = delete;

    ModelBuilder& graphName(const std::string& name);
    ModelBuilder& input(const std::string& name, std::vector<int64_t> dims);
    ModelBuilder& output(const std::string& name);
    ModelBuilder& initializer(const std::string& name, std::vector<int64_t> dims, std::vector<float> values);
    ModelBuilder& initializerInts(const std::string& name, std::vector<int64_t> dims, std::vector<int64_t> values);
    // A Constant node holding a float tensor (how the PP-OCR models store every weight).
    ModelBuilder& constant(const std::string& name, std::vector<int64_t> dims, std::vector<float> values);
    ModelBuilder& node(const std::string& op, std::vector<std::string> inputs, std::vector<std::string> outputs,
                       std::vector<Attr> attrs = {}, const std::string& name = {}, const std::string& domain = {});
    // Declares an intermediate tensor's shape (value_info), as files from some exporters carry.
    ModelBuilder& valueInfo(const std::string& name, std::vector<int64_t> dims);

    std::string bytes() const;
    void save(const std::string& path) const;  // throws autosplit::Error when it cannot write

private:
    struct Impl;
    std::unique_ptr<Impl> d;
};

// Deterministic pseudo-random values in [-1, 1) (mt19937, so the same on every machine).
std::vector<float> randomValues(size_t n, uint32_t seed);

}  // namespace autosplit
