// The one translation unit family that sees protobuf: ONNX ModelProto <-> Graph.
#include "autosplit/onnx/import.h"

#include "autosplit/util/errors.h"
#include "onnx/proto_util.h"

#include <onnx/checker.h>
#include <onnx/defs/schema.h>
#include <onnx/onnx_pb.h>
#include <onnx/shape_inference/implementation.h>

#include <google/protobuf/io/zero_copy_stream_impl.h>

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

namespace autosplit {

namespace fs = std::filesystem;

std::pair<std::string, std::vector<int64_t>> parseInputBinding(const std::string& text) {
    const auto eq = text.rfind('=');
    if (eq == std::string::npos || eq == 0 || eq + 1 == text.size())
        throw Error("input binding '" + text + "' is not NAME=DIMS (for example x=1x3x640x640)");
    std::string name = text.substr(0, eq);
    std::vector<int64_t> dims;
    std::stringstream ss(text.substr(eq + 1));
    std::string part;
    while (std::getline(ss, part, 'x')) {
        if (part.empty() || part.find_first_not_of("0123456789") != std::string::npos)
            throw Error("input binding '" + text + "': dimension '" + part + "' is not a positive integer");
        int64_t v = 0;
        try {
            v = std::stoll(part);
        } catch (const std::exception&) {
            throw Error("input binding '" + text + "': dimension '" + part + "' is too large");
        }
        if (v <= 0 || v > (int64_t(1) << 31))
            throw Error("input binding '" + text + "': dimension '" + part + "' is out of range");
        dims.push_back(v);
    }
    return {name, dims};
}

namespace {

std::string shapeText(const onnx::TensorShapeProto& s) {
    std::string out = "[";
    for (int i = 0; i < s.dim_size(); ++i) {
        if (i) out += ",";
        const auto& d = s.dim(i);
        if (d.has_dim_value()) out += std::to_string(d.dim_value());
        else if (d.has_dim_param() && !d.dim_param().empty()) out += d.dim_param();
        else out += "?";
    }
    return out + "]";
}

void bindInputs(onnx::GraphProto& g, const ImportOptions& opts, const std::set<std::string>& initializers) {
    std::set<std::string> realInputs;
    for (const auto& in : g.input())
        if (!initializers.count(in.name())) realInputs.insert(in.name());
    for (const auto& [name, dims] : opts.inputShapes) {
        if (!realInputs.count(name)) {
            std::string list;
            for (const auto& n : realInputs) list += (list.empty() ? "" : ", ") + n;
            throw Error("--input names '" + name + "', but the model's inputs are: " + list);
        }
    }
    for (auto& in : *g.mutable_input()) {
        auto it = opts.inputShapes.find(in.name());
        if (it == opts.inputShapes.end()) continue;
        if (!in.type().has_tensor_type())
            throw Error("input '" + in.name() + "' is not a tensor and cannot be bound");
        auto* shape = in.mutable_type()->mutable_tensor_type()->mutable_shape();
        if (shape->dim_size() != 0 && shape->dim_size() != static_cast<int>(it->second.size()))
            throw Error("input '" + in.name() + "' has rank " + std::to_string(shape->dim_size()) + " " +
                        shapeText(*shape) + ", but " + std::to_string(it->second.size()) +
                        " dimensions were given");
        for (int i = 0; i < shape->dim_size(); ++i) {
            const auto& d = shape->dim(i);
            if (d.has_dim_value() && d.dim_value() > 0 && d.dim_value() != it->second[i])
                throw Error("input '" + in.name() + "' has fixed dimension " + std::to_string(i) + " = " +
                            std::to_string(d.dim_value()) + ", but " + std::to_string(it->second[i]) +
                            " was given");
        }
        shape->clear_dim();
        for (auto v : it->second) shape->add_dim()->set_dim_value(v);
    }
}

// Stale or symbolic intermediate shapes would be merged with (and may contradict) what the
// bound inputs now imply: inference recomputes them all, except the outputs of ops it does not
// know (their declared shapes let inference continue past them when no dims were re-bound).
// Output element types are kept.
void clearIntermediateShapes(onnx::GraphProto& g, int64_t opset, bool rebound) {
    std::set<std::string> keep;
    if (!rebound)
        for (const auto& n : g.node()) {
            const bool known = onnx::OpSchemaRegistry::Schema(n.op_type(), static_cast<int>(n.domain().empty() ? opset : 1),
                                                              n.domain()) != nullptr;
            if (!known)
                for (const auto& o : n.output()) keep.insert(o);
        }
    google::protobuf::RepeatedPtrField<onnx::ValueInfoProto> kept;
    for (const auto& v : g.value_info())
        if (keep.count(v.name())) *kept.Add() = v;
    g.mutable_value_info()->Swap(&kept);
    for (auto& out : *g.mutable_output())
        if (out.type().has_tensor_type()) out.mutable_type()->mutable_tensor_type()->clear_shape();
}

void runShapeInference(onnx::ModelProto& model, std::vector<std::string>* warnings) {
    try {
        onnx::ShapeInferenceOptions options(/*check_type=*/false, /*error_mode=*/0, /*data_prop=*/true);
        onnx::shape_inference::InferShapes(model, onnx::OpSchemaRegistry::Instance(), options);
    } catch (const std::exception& e) {
        if (warnings) warnings->push_back(std::string("shape inference stopped early: ") + e.what());
    }
}

struct ValueTypeInfo {
    DType dtype = DType::Other;
    std::vector<int64_t> shape;
    bool known = false;
    bool hasType = false;
};

ValueTypeInfo valueType(const onnx::ValueInfoProto& v) {
    ValueTypeInfo info;
    if (!v.type().has_tensor_type()) return info;
    const auto& tt = v.type().tensor_type();
    info.hasType = true;
    info.dtype = detail::dtypeFromOnnx(tt.elem_type());
    if (!tt.has_shape()) return info;
    info.known = true;
    for (const auto& d : tt.shape().dim()) {
        if (d.has_dim_value() && d.dim_value() >= 0) info.shape.push_back(d.dim_value());
        else {
            info.shape.push_back(-1);
            info.known = false;
        }
    }
    return info;
}

Attribute convertAttribute(const onnx::AttributeProto& a, const fs::path& baseDir) {
    Attribute out;
    using AP = onnx::AttributeProto;
    switch (a.type()) {
    case AP::INT: out.value = static_cast<int64_t>(a.i()); break;
    case AP::FLOAT: out.value = a.f(); break;
    case AP::STRING: out.value = a.s(); break;
    case AP::INTS: out.value = std::vector<int64_t>(a.ints().begin(), a.ints().end()); break;
    case AP::FLOATS: out.value = std::vector<float>(a.floats().begin(), a.floats().end()); break;
    case AP::STRINGS: out.value = std::vector<std::string>(a.strings().begin(), a.strings().end()); break;
    case AP::TENSOR: out.value = detail::tensorFromProto(a.t(), baseDir); break;
    case AP::GRAPH:
    case AP::GRAPHS: out.value = Attribute::SubgraphMarker{a.name()}; break;
    default:
        // Sparse tensors and type protos: no op we analyse or execute uses them.
        out.value = Attribute::SubgraphMarker{a.name()};
        break;
    }
    return out;
}

// Constant node -> weight data. Returns false for forms we do not convert (sparse_value).
bool constantValue(const onnx::NodeProto& n, const fs::path& baseDir, TensorData& out) {
    for (const auto& a : n.attribute()) {
        const std::string& k = a.name();
        if (k == "value") {
            out = detail::tensorFromProto(a.t(), baseDir);
            return true;
        }
        if (k == "value_float") {
            out = TensorData{DType::Float32, {}, {a.f()}, {}};
            return true;
        }
        if (k == "value_floats") {
            out = TensorData{DType::Float32, {a.floats_size()}, {a.floats().begin(), a.floats().end()}, {}};
            return true;
        }
        if (k == "value_int") {
            out = TensorData{DType::Int64, {}, {}, {a.i()}};
            return true;
        }
        if (k == "value_ints") {
            out = TensorData{DType::Int64, {a.ints_size()}, {}, {a.ints().begin(), a.ints().end()}};
            return true;
        }
    }
    return false;
}

Graph convert(onnx::ModelProto& model, const fs::path& baseDir, const std::vector<onnx::ValueInfoProto>& fileShapes,
              ImportReport& report) {
    const onnx::GraphProto& gp = model.graph();
    Graph g;
    g.name = gp.name();
    for (const auto& op : model.opset_import())
        if (op.domain().empty() || op.domain() == "ai.onnx") g.opsetVersion = op.version();

    std::unordered_map<std::string, ValueTypeInfo> types;
    for (const auto& v : gp.value_info()) types[v.name()] = valueType(v);
    for (const auto& v : gp.input()) types[v.name()] = valueType(v);
    // What inference could not derive (outputs of unknown ops and what follows them) falls back
    // to the shapes the file itself declares.
    auto merge = [&](const onnx::ValueInfoProto& v) {
        auto t = valueType(v);
        auto it = types.find(v.name());
        if (it == types.end() || (!it->second.known && t.known)) types[v.name()] = t;
    };
    for (const auto& v : gp.output()) merge(v);
    for (const auto& v : fileShapes) merge(v);

    auto ensureTensor = [&](const std::string& name) -> int {
        int id = g.findTensor(name);
        if (id >= 0) return id;
        Tensor t;
        t.name = name;
        auto it = types.find(name);
        if (it != types.end()) {
            t.dtype = it->second.dtype;
            t.shape = it->second.shape;
            t.shapeKnown = it->second.known;
        } else {
            t.dtype = DType::Other;
        }
        return g.addTensor(std::move(t));
    };

    auto addWeight = [&](const std::string& name, TensorData data) {
        if (g.findTensor(name) >= 0) throw ImportError("tensor '" + name + "' is defined twice");
        g.addWeight(name, std::move(data));
    };

    std::set<std::string> initNames;
    for (auto& init : *model.mutable_graph()->mutable_initializer()) {
        initNames.insert(init.name());
        addWeight(init.name(), detail::tensorFromProto(init, baseDir));
        std::string().swap(*init.mutable_raw_data());  // converted: free the protobuf copy now
        init.clear_float_data();
    }
    for (const auto& in : gp.input()) {
        if (initNames.count(in.name())) continue;  // an initializer with a default: a weight
        int id = ensureTensor(in.name());
        g.inputs.push_back(id);
    }

    std::set<std::string> unknown;
    int anonymous = 0;
    for (auto& np : *model.mutable_graph()->mutable_node()) {
        if (np.op_type() == "Constant" && (np.domain().empty() || np.domain() == "ai.onnx") &&
            np.output_size() == 1) {
            TensorData data;
            if (constantValue(np, baseDir, data)) {
                addWeight(np.output(0), std::move(data));
                np.clear_attribute();  // converted: free the protobuf copy now
                ++report.constantNodes;
                continue;
            }
        }
        Node n;
        n.name = np.name().empty() ? np.op_type() + "_" + std::to_string(anonymous++) : np.name();
        n.op = np.op_type();
        n.domain = np.domain() == "ai.onnx" ? std::string() : np.domain();
        for (const auto& in : np.input()) n.inputs.push_back(in.empty() ? -1 : ensureTensor(in));
        for (const auto& out : np.output()) n.outputs.push_back(out.empty() ? -1 : ensureTensor(out));
        for (const auto& a : np.attribute()) n.attrs.emplace(a.name(), convertAttribute(a, baseDir));
        const int opset = n.domain.empty() ? static_cast<int>(g.opsetVersion) : 1;
        if (!onnx::OpSchemaRegistry::Schema(n.op, opset, np.domain())) unknown.insert(n.domain.empty() ? n.op : n.domain + "." + n.op);
        g.nodes.push_back(std::move(n));
    }
    for (const auto& out : gp.output()) {
        int id = g.findTensor(out.name());
        if (id < 0) throw GraphError("graph output '" + out.name() + "' is not produced by any node or input");
        g.outputs.push_back(id);
    }
    // Names that make node names unique matter for the UI (find by name, plan files).
    std::set<std::string> seen;
    for (auto& n : g.nodes) {
        std::string base = n.name;
        for (int k = 1; !seen.insert(n.name).second; ++k) n.name = base + "_" + std::to_string(k);
    }
    report.unknownOps.assign(unknown.begin(), unknown.end());
    for (const auto& op : unknown)
        report.warnings.push_back("unknown op '" + op + "': no ONNX schema; its output shapes come only from the file");
    g.rebuild();
    return g;
}

}  // namespace

namespace {

// Everything after parsing; `model` is consumed (initializer bytes are released as they convert).
Graph importModel(onnx::ModelProto& model, const std::string& displayName, int64_t fileBytes, const ImportOptions& opts,
                  ImportReport* reportOut) {
    ImportReport report;
    report.fileBytes = fileBytes;
    if (model.ir_version() <= 0 || !model.has_graph() || model.opset_import_size() == 0)
        throw ImportError(displayName + ": not an ONNX model (no ir_version, graph or opset_import)");
    int64_t opset = 0;
    for (const auto& op : model.opset_import())
        if (op.domain().empty() || op.domain() == "ai.onnx") opset = op.version();
    if (opset == 0) throw ImportError(displayName + ": the model imports no default-domain opset");
    if (opset > 17)
        throw ImportError(displayName + ": opset " + std::to_string(opset) +
                          " is newer than this build supports (opsets up to 17)");
    if (opset < 7)
        report.warnings.push_back("opset " + std::to_string(opset) + " is older than tested (9 to 17)");
    if (model.graph().node_size() == 0) throw ImportError(displayName + ": the graph has no nodes");
    report.nodesInFile = model.graph().node_size();

    std::set<std::string> initNames;
    for (const auto& init : model.graph().initializer()) initNames.insert(init.name());
    for (const auto& in : model.graph().input()) {
        if (initNames.count(in.name()) || in.type().has_tensor_type()) continue;
        const auto& t = in.type();
        const char* kind = t.has_sequence_type() ? "a sequence" : t.has_optional_type() ? "an optional"
                         : t.has_map_type() ? "a map" : t.has_sparse_tensor_type() ? "a sparse tensor" : "not a tensor";
        throw ImportError(displayName + ": input '" + in.name() + "' is " + kind +
                          "; only dense tensor inputs are supported");
    }
    bindInputs(*model.mutable_graph(), opts, initNames);

    // ONNX's checker finds much that is wrong, but also rejects unknown ops, which we analyse
    // anyway: its findings become warnings; our own structural checks (rebuild) are the errors.
    try {
        onnx::checker::CheckerContext ctx;
        ctx.set_ir_version(static_cast<int>(model.ir_version()));
        std::unordered_map<std::string, int> opsets;
        for (const auto& op : model.opset_import()) opsets[op.domain()] = static_cast<int>(op.version());
        ctx.set_opset_imports(opsets);
        onnx::checker::LexicalScopeContext lex;
        for (const auto& n : model.graph().node()) {
            try {
                onnx::checker::check_node(n, ctx, lex);
            } catch (const std::exception& e) {
                std::string msg = e.what();
                if (msg.find("No Op registered") == std::string::npos && msg.find("No opset import") == std::string::npos)
                    report.warnings.push_back("checker: node '" + n.name() + "' (" + n.op_type() + "): " +
                                              msg.substr(0, msg.find('\n')));
            }
        }
    } catch (const std::exception& e) {
        report.warnings.push_back(std::string("checker: ") + e.what());
    }

    std::vector<onnx::ValueInfoProto> fileShapes(model.graph().value_info().begin(), model.graph().value_info().end());
    if (!opts.inputShapes.empty()) fileShapes.clear();  // declared shapes assume the unbound dims
    clearIntermediateShapes(*model.mutable_graph(), opset, !opts.inputShapes.empty());
    runShapeInference(model, &report.warnings);

    const fs::path baseDir = fs::path(displayName).parent_path();
    Graph g = convert(model, baseDir, fileShapes, report);
    if (g.inputs.empty()) report.warnings.push_back("the model has no non-weight inputs");

    if (opts.requireShapes) {
        for (int id : g.inputs) {
            const Tensor& t = g.tensors[id];
            if (!t.shapeKnown) {
                std::string dims, example;
                for (size_t i = 0; i < t.shape.size(); ++i) {
                    dims += (i ? "x" : "") + (t.shape[i] < 0 ? std::string("?") : std::to_string(t.shape[i]));
                    example += (i ? "x" : "") + (t.shape[i] >= 0 ? std::to_string(t.shape[i]) : i == 0 ? std::string("1") : std::string("224"));
                }
                throw ShapeError("input '" + t.name + "' has unknown dimensions " + (dims.empty() ? "(no shape)" : dims) +
                                 "; bind them with --input " + t.name + "=DIMS" +
                                 (example.empty() ? std::string() : ", e.g. --input " + t.name + "=" + example));
            }
        }
    }
    if (reportOut) *reportOut = std::move(report);
    return g;
}

}  // namespace

Graph importOnnxFromMemory(const std::string& bytes, const std::string& displayName, const ImportOptions& opts,
                           ImportReport* report) {
    if (bytes.empty()) throw ImportError(displayName + ": the file is empty");
    onnx::ModelProto model;
    if (!model.ParseFromString(bytes))
        throw ImportError(displayName + ": not a valid ONNX protobuf (the file is truncated, corrupt or another format)");
    return importModel(model, displayName, static_cast<int64_t>(bytes.size()), opts, report);
}

Graph importOnnx(const std::string& path, const ImportOptions& opts, ImportReport* report) {
    std::error_code ec;
    if (!fs::exists(path, ec)) throw ImportError(path + ": no such file");
    if (fs::is_directory(path, ec)) throw ImportError(path + ": is a directory, not an ONNX file");
    const auto size = fs::file_size(path, ec);
    if (ec) throw ImportError(path + ": cannot read its size");
    if (size == 0) throw ImportError(path + ": the file is empty");
    if (size > (uint64_t(2) << 30) - 1)
        throw ImportError(path + ": larger than 2 GiB, which a single ONNX protobuf cannot be");
    // Parse straight from the file: holding the bytes and the parsed model at once would double
    // the peak memory of a 250 MB model.
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) throw ImportError(path + ": cannot be opened (" + std::strerror(errno) + ")");
    onnx::ModelProto model;
    bool ok;
    {
        google::protobuf::io::FileInputStream stream(fd, 1 << 20);
        ok = model.ParseFromZeroCopyStream(&stream) && stream.GetErrno() == 0;
    }
    ::close(fd);
    if (!ok) throw ImportError(path + ": not a valid ONNX protobuf (the file is truncated, corrupt or another format)");
    return importModel(model, path, static_cast<int64_t>(size), opts, report);
}

}  // namespace autosplit
