#include "autosplit/deploy/triton.h"

#include "autosplit/deploy/manifest.h"
#include "autosplit/onnx/import.h"
#include "autosplit/util/errors.h"
#include "autosplit/util/file_io.h"

#include "graph_writer.h"

#include <filesystem>
#include <numeric>
#include <sstream>

namespace autosplit::deploy {

namespace {

constexpr int64_t kOnnxInt64 = 7, kOnnxUInt8 = 2;

const char* tritonType(DType t) {
    switch (t) {
    case DType::Float32: return "TYPE_FP32";
    case DType::Float16: return "TYPE_FP16";
    case DType::Double: return "TYPE_FP64";
    case DType::Int8: return "TYPE_INT8";
    case DType::UInt8: return "TYPE_UINT8";
    case DType::Int16: return "TYPE_INT16";
    case DType::Int32: return "TYPE_INT32";
    case DType::Int64: return "TYPE_INT64";
    case DType::Bool: return "TYPE_BOOL";
    case DType::Other: break;
    }
    throw Error("a tensor of unknown type cannot be declared to Triton");
}

// Appends the unpacking of `packed` (uint8 [bytes]) into `codes` (uint8, `shape`) to `pre`.
class Unpacker : public GraphWriter {
public:
    using GraphWriter::GraphWriter;  // (graph, the nodes to run before the cloud model's)

    void emit(const std::string& base, int packed, int codes, int bits, const std::vector<int64_t>& shape) {
        int64_t n = 1;
        for (int64_t d : shape) n *= d;
        if (bits == 8) {
            node("Reshape", base + "/reshape", {packed, ints(base + "/shape", shape)}, {codes});
            return;
        }
        const int64_t groupBits = std::lcm<int64_t>(bits, 8), perGroup = groupBits / bits, groupBytes = groupBits / 8;
        const int64_t groups = (n + perGroup - 1) / perGroup;
        const int64_t bytes = (n * bits + 7) / 8, pad = groups * groupBytes - bytes;
        int x = packed;
        if (pad > 0) {  // whole groups: zero bytes after the payload
            const int zeros = weight(base + "/pad", TensorData{DType::UInt8, {pad}, {}, std::vector<int64_t>(static_cast<size_t>(pad), 0)});
            x = value(base + "/padded", DType::UInt8, {groups * groupBytes});
            node("Concat", base + "/pad", {packed, zeros}, {x}, {{"axis", Attribute{int64_t(0)}}});
        }
        const int rows = value(base + "/groups", DType::UInt8, {groups, groupBytes});
        node("Reshape", base + "/to_groups", {x, ints(base + "/groups_shape", {groups, groupBytes})}, {rows});
        const int wide = value(base + "/groups64", DType::Int64, {groups, groupBytes});
        node("Cast", base + "/to_int64", {rows}, {wide}, {{"to", Attribute{kOnnxInt64}}});
        // word = sum_j byte_j * 256^j (little-endian within the group)
        std::vector<int64_t> place;
        for (int64_t j = 0; j < groupBytes; ++j) place.push_back(int64_t(1) << (8 * j));
        const int weighted = value(base + "/weighted", DType::Int64, {groups, groupBytes});
        node("Mul", base + "/place", {wide, ints(base + "/place_values", place, {1, groupBytes})}, {weighted});
        const int word = value(base + "/word", DType::Int64, {groups, 1});
        if (g_.opsetVersion >= 13)
            node("ReduceSum", base + "/word", {weighted, ints(base + "/axis", {1})}, {word}, {{"keepdims", Attribute{int64_t(1)}}});
        else
            node("ReduceSum", base + "/word", {weighted}, {word},
                 {{"axes", Attribute{std::vector<int64_t>{1}}}, {"keepdims", Attribute{int64_t(1)}}});
        // code_k = (word / 2^(b k)) mod 2^b
        std::vector<int64_t> shifts;
        for (int64_t k = 0; k < perGroup; ++k) shifts.push_back(int64_t(1) << (bits * k));
        const int shifted = value(base + "/shifted", DType::Int64, {groups, perGroup});
        node("Div", base + "/shift", {word, ints(base + "/shifts", shifts, {1, perGroup})}, {shifted});
        const int masked = value(base + "/masked", DType::Int64, {groups, perGroup});
        node("Mod", base + "/mask", {shifted, ints(base + "/modulus", {int64_t(1) << bits}, {})}, {masked},
             {{"fmod", Attribute{int64_t(0)}}});
        const int flat = value(base + "/flat", DType::Int64, {groups * perGroup});
        node("Reshape", base + "/flatten", {masked, ints(base + "/flat_shape", {groups * perGroup})}, {flat});
        int kept = flat;
        if (groups * perGroup != n) {
            kept = value(base + "/kept", DType::Int64, {n});
            node("Slice", base + "/trim", {flat, ints(base + "/start", {0}), ints(base + "/end", {n}), ints(base + "/axes", {0})}, {kept});
        }
        const int full = value(base + "/shaped", DType::Int64, shape);
        node("Reshape", base + "/reshape", {kept, ints(base + "/shape", shape)}, {full});
        node("Cast", base + "/to_uint8", {full}, {codes}, {{"to", Attribute{kOnnxUInt8}}});
    }
};

std::string dimsText(const std::vector<int64_t>& shape) {
    std::string s = "[ ";
    for (size_t k = 0; k < shape.size(); ++k) s += (k ? ", " : "") + std::to_string(shape[k]);
    return s + " ]";
}


}  // namespace

TritonRepository writeTritonRepository(const std::string& exportDir, const std::string& repoDir, std::string name) {
    const std::filesystem::path base(exportDir);
    const Manifest m = loadManifest((base / "manifest.json").string());
    if (m.cloudModel.empty()) throw Error(exportDir + ": an Edge-Only export has no cloud half for Triton");
    if (name.empty()) name = "autosplit_cloud_" + m.planHash;
    if (name.find_first_of("/\\ \t\n") != std::string::npos || name == "." || name == "..")
        throw Error("'" + name + "' cannot be a Triton model name (a directory of the repository)");
    Graph g = importOnnx((base / m.cloudModel).string());
    std::vector<Node> pre;
    Unpacker unpack(g, pre);
    std::vector<int> inputs;
    for (const WireTensor& w : m.transmitted) {
        const int wire = g.findTensor(w.wireName);
        if (wire < 0) throw Error(exportDir + ": the cloud model has no input '" + w.wireName + "'");
        if (w.type != WireTensor::Type::Codes) {
            inputs.push_back(wire);
            continue;
        }
        Tensor packed;
        packed.name = w.name + ".packed";
        packed.dtype = DType::UInt8;
        packed.shape = {w.payloadBytes()};
        packed.shapeKnown = true;
        const int p = g.addTensor(std::move(packed));
        unpack.emit(w.name + ".unpack", p, wire, w.bits, w.shape);
        inputs.push_back(p);
    }
    pre.insert(pre.end(), g.nodes.begin(), g.nodes.end());
    g.nodes = std::move(pre);
    g.inputs = inputs;
    g.rebuild();
    const std::string bytes = exportOnnx(g);
    checkOnnxModel(bytes, name + "/1/model.onnx");

    std::ostringstream c;
    c << "# Cloud half of plan " << m.planHash << " (" << m.kind << " after '" << m.splitAfter << "'), written by autosplit export.\n"
      << "# Codes arrive packed (b bits each, least-significant bits first, as autosplit edge-run frames them)\n"
      << "# and are unpacked inside the model. The export binds the batch to the plan's shapes: max_batch_size 0\n"
      << "# (dims are the full shapes) and no dynamic batching.\n"
      << "name: \"" << name << "\"\n"
      << "platform: \"onnxruntime_onnx\"\n"
      << "max_batch_size: 0\n"
      << "input [\n";
    for (size_t k = 0; k < g.inputs.size(); ++k) {
        const Tensor& t = g.tensors[static_cast<size_t>(g.inputs[k])];
        c << "  {\n    name: \"" << t.name << "\"\n    data_type: " << tritonType(t.dtype) << "\n    dims: " << dimsText(t.shape)
          << "\n  }" << (k + 1 < g.inputs.size() ? "," : "") << "\n";
    }
    c << "]\noutput [\n";
    for (size_t k = 0; k < g.outputs.size(); ++k) {
        const Tensor& t = g.tensors[static_cast<size_t>(g.outputs[k])];
        c << "  {\n    name: \"" << t.name << "\"\n    data_type: " << tritonType(t.dtype) << "\n    dims: " << dimsText(t.shape)
          << "\n  }" << (k + 1 < g.outputs.size() ? "," : "") << "\n";
    }
    c << "]\ninstance_group [\n  {\n    count: 1\n    kind: KIND_CPU\n  }\n]\n";

    const std::filesystem::path dir = std::filesystem::path(repoDir) / name;
    std::error_code ec;
    std::filesystem::create_directories(dir / "1", ec);
    if (ec) throw Error("cannot create '" + (dir / "1").string() + "': " + ec.message());
    writeFileAtomically((dir / "1" / "model.onnx").string(), bytes);
    writeFileAtomically((dir / "config.pbtxt").string(), c.str());
    return {dir.string(), c.str()};
}

}  // namespace autosplit::deploy
