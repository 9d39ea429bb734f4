#include "autosplit/deploy/export_plan.h"

#include "graph_writer.h"

#include "autosplit/deploy/manifest.h"
#include "autosplit/ir/quant_spec.h"
#include "autosplit/onnx/import.h"
#include "autosplit/quant/quantize.h"
#include "autosplit/util/errors.h"
#include "autosplit/util/file_io.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <set>
#include <unordered_map>

namespace autosplit::deploy {

int64_t WireTensor::elements() const {
    int64_t n = 1;
    for (int64_t d : shape) n *= d;
    return n;
}

int64_t WireTensor::payloadBytes() const { return (elements() * bits + 7) / 8; }

const char* wireTypeName(WireTensor::Type t) {
    switch (t) {
    case WireTensor::Type::Codes: return "codes";
    case WireTensor::Type::Float32: return "float32";
    case WireTensor::Type::Int64: return "int64";
    }
    return "?";
}

namespace {

constexpr int64_t kOnnxFloat = 1, kOnnxFloat16 = 10, kOnnxInt64 = 7;

// The graph a half is built in, ahead of the writer that fills it (base-from-member).
struct HalfGraph {
    Graph half;
};

// Builds one half: tensors by name, nodes in the order they are added (already topological).
class HalfBuilder : private HalfGraph, public GraphWriter {
public:
    HalfBuilder(const Graph& src, const std::string& suffix) : GraphWriter(half, half.nodes) {
        half.name = (src.name.empty() ? std::string("graph") : src.name) + suffix;
        half.opsetVersion = src.opsetVersion > 0 ? src.opsetVersion : 13;
    }
    Graph& graph() { return half; }

    void copy(const Node& from, std::vector<int> in, std::vector<int> out) {
        Node n = from;
        if (n.op == "Slice" && n.attr("starts") && half.opsetVersion >= 10) {
            // Slice-1 (attributes) as Slice-10 (inputs starts, ends, axes): same meaning.
            auto attrInput = [&](const char* key) { return ints(n.name + "/" + key, n.attrInts(key)); };
            in.resize(1);
            in.push_back(attrInput("starts"));
            in.push_back(attrInput("ends"));
            if (n.attr("axes")) in.push_back(attrInput("axes"));
            n.attrs.clear();
        }
        n.inputs = std::move(in);
        n.outputs = std::move(out);
        half.nodes.push_back(std::move(n));
    }
    // Cast(float16) -> Cast(float): the float16 rounding of the cloud, in float32 storage.
    int roundToHalf(int raw, const std::string& name, const std::vector<int64_t>& shape) {
        const int f16 = value(name + "__f16", DType::Float16, shape);
        const int out = value(name, DType::Float32, shape);
        node("Cast", name + "/to_f16", {raw}, {f16}, {{"to", Attribute{kOnnxFloat16}}});
        node("Cast", name + "/to_f32", {f16}, {out}, {{"to", Attribute{kOnnxFloat}}});
        return out;
    }
    Graph finish() {
        half.rebuild();
        return std::move(half);
    }
};

// TensorProto.DataType of the integer types a cut can carry.
int64_t onnxIntCode(DType t) {
    switch (t) {
    case DType::UInt8: return 2;
    case DType::Int8: return 3;
    case DType::Int16: return 5;
    case DType::Int32: return 6;
    case DType::Int64: return 7;
    case DType::Bool: return 9;
    default: throw Error(std::string("a ") + dtypeName(t) + " tensor cannot cross the cut");
    }
}

// The int8 codes of a quantized weight, checked against its grid.
TensorData weightCodes(const std::string& name, const TensorData& values, const PlanDeployment::WeightQuant& wq) {
    TensorData q;
    q.dtype = DType::Int8;
    q.shape = values.shape;
    q.ints.resize(values.floats.size());
    int64_t inner = 1, channels = 1;
    if (wq.channelAxis >= 0) {
        channels = values.shape[static_cast<size_t>(wq.channelAxis)];
        for (size_t d = static_cast<size_t>(wq.channelAxis) + 1; d < values.shape.size(); ++d) inner *= values.shape[d];
    }
    if (static_cast<int64_t>(wq.params.size()) != channels)
        throw Error("weight '" + name + "': " + std::to_string(wq.params.size()) + " scales for " + std::to_string(channels) +
                    " channels");
    for (size_t i = 0; i < values.floats.size(); ++i) {
        const QuantParams& p = wq.params[static_cast<size_t>((static_cast<int64_t>(i) / inner) % channels)];
        const float v = values.floats[i];
        const float code = std::nearbyint(v / p.scale);
        if (code < static_cast<float>(p.qmin) || code > static_cast<float>(p.qmax) || code * p.scale != v)
            throw Error("weight '" + name + "' element " + std::to_string(i) + " (" + std::to_string(v) +
                        ") is not on its " + std::to_string(wq.bits) + "-bit grid (scale " + std::to_string(p.scale) + ")");
        q.ints[i] = static_cast<int64_t>(code);
    }
    return q;
}

}  // namespace

SplitModels buildSplitModels(const Graph& g, const PlanBits& plan, const PlanDeployment& d) {
    const int split = plan.splitPosition;
    const int nodes = static_cast<int>(g.nodes.size());
    if (split < -1 || split >= nodes) throw Error("split position " + std::to_string(split) + " is outside the graph");
    if (!d.dynamicTensors.empty()) {
        std::string names;
        for (size_t k = 0; k < d.dynamicTensors.size() && k < 5; ++k)
            names += (k ? ", '" : "'") + g.tensors[static_cast<size_t>(d.dynamicTensors[k])].name + "'";
        throw Error("the plan quantizes " + std::to_string(d.dynamicTensors.size()) +
                    " edge tensor(s) with parameters fitted per input (" + names +
                    "): a static QDQ model cannot reproduce what was measured");
    }
    auto onEdge = [&](int t) {
        const Tensor& x = g.tensors[static_cast<size_t>(t)];
        return x.producer >= 0 ? x.producer <= split : !x.isWeight();
    };
    auto readInCloud = [&](int t) {
        for (int c : g.tensors[static_cast<size_t>(t)].consumers)
            if (c > split) return true;
        return false;
    };
    auto readOnEdge = [&](int t) {
        for (int c : g.tensors[static_cast<size_t>(t)].consumers)
            if (c <= split) return true;
        return false;
    };
    auto constantValue = [&](int t) -> const TensorData& {
        auto it = d.constants.find(t);
        return it != d.constants.end() ? *it->second : *g.tensors[static_cast<size_t>(t)].data;
    };

    SplitModels out;
    // ---- what crosses the cut, in producer order (graph inputs first)
    std::vector<int> sent;
    auto considerSent = [&](int t) {
        if (t < 0 || g.tensors[static_cast<size_t>(t)].isWeight() || !onEdge(t) || !readInCloud(t)) return;
        if (std::find(sent.begin(), sent.end(), t) == sent.end()) sent.push_back(t);
    };
    for (int t : g.inputs) considerSent(t);
    for (int i = 0; i <= split; ++i)
        for (int t : g.nodes[static_cast<size_t>(i)].outputs) considerSent(t);
    if (sent.size() > 65535) throw Error("the cut sends " + std::to_string(sent.size()) + " tensors (at most 65535)");

    // Both halves declare an opset with QuantizeLinear / DequantizeLinear (10 or later).
    std::set<std::string> edgeOps, cloudOps;
    for (int i = 0; i < nodes; ++i) (i <= split ? edgeOps : cloudOps).insert(g.nodes[static_cast<size_t>(i)].op);
    const int64_t opset = g.opsetVersion > 0 ? g.opsetVersion : 13;

    // ---- edge
    HalfBuilder edge(g, "_edge");
    edge.graph().opsetVersion = opsetForQdq(opset, edgeOps);
    const bool perAxisDq = edge.graph().opsetVersion >= 13;
    std::unordered_map<int, int> edgeValue;  // source tensor -> id of the value edge nodes read
    std::unordered_map<int, int> edgeCodes;  // source tensor -> id of its uint8 codes
    // Clip -> QuantizeLinear -> DequantizeLinear of `t` (value id `raw`); the dequantized value is
    // written as `name`.
    auto emitQdq = [&](int t, int raw, const std::string& name) {
        const Tensor& src = g.tensors[static_cast<size_t>(t)];
        const PlanDeployment::ActivationQuant& aq = d.activations.at(t);
        const QuantParams& p = aq.params;
        const std::string codes = src.name + ".codes";
        int x = raw;
        if (p.qmax - p.qmin < 255) {  // sub-8-bit: QuantizeLinear saturates to the uint8 container only
            const float lo = static_cast<float>(p.qmin - p.zeroPoint) * p.scale;
            const float hi = static_cast<float>(p.qmax - p.zeroPoint) * p.scale;
            x = edge.value(codes + "/clipped", DType::Float32, src.shape);
            if (edge.graph().opsetVersion >= 11)
                edge.node("Clip", codes + "/clip", {raw, edge.floatScalar(codes + "/clip_min", lo), edge.floatScalar(codes + "/clip_max", hi)}, {x});
            else  // Clip-6: bounds as attributes
                edge.node("Clip", codes + "/clip", {raw}, {x}, {{"min", Attribute{lo}}, {"max", Attribute{hi}}});
        }
        const int scale = edge.floatScalar(codes + "/scale", p.scale);
        const int zp = edge.weight(codes + "/zero_point", TensorData{DType::UInt8, {}, {}, {p.zeroPoint}});
        const int c = edge.value(codes, DType::UInt8, src.shape);
        edge.node("QuantizeLinear", codes + "/quantize", {x, scale, zp}, {c});
        const int v = edge.value(name, DType::Float32, src.shape);
        edge.node("DequantizeLinear", codes + "/dequantize", {c, scale, zp}, {v});
        edgeCodes[t] = c;
        edgeValue[t] = v;
        ++out.quantizedActivations;
    };
    for (int t : g.inputs) {
        if (!readOnEdge(t) && std::find(sent.begin(), sent.end(), t) == sent.end()) continue;
        const Tensor& x = g.tensors[static_cast<size_t>(t)];
        if (d.sensorInput && std::find(sent.begin(), sent.end(), t) != sent.end())
            throw Error("the plan sends the graph input '" + x.name +
                        "' (Cloud-Only, or a skip connection from the input) as the sensor's 8-bit pixels: exporting "
                        "that needs the preprocessing inverted, which this exporter does not do");
        const int id = edge.value(x.name, x.dtype, x.shape);
        edge.graph().inputs.push_back(id);
        out.edgeInputs.push_back({x.name, x.dtype, x.shape});
        if (d.activations.count(t)) emitQdq(t, id, x.name + ".dequantized");
        else edgeValue[t] = id;
    }
    std::set<int> weightsDone;
    auto edgeWeight = [&](int t) -> int {
        const Tensor& w = g.tensors[static_cast<size_t>(t)];
        if (int id = edge.graph().findTensor(w.name); id >= 0) return id;
        auto wq = d.weights.find(t);
        if (wq == d.weights.end()) return edge.weight(w.name, constantValue(t));
        TensorData codes = weightCodes(w.name, constantValue(t), wq->second);
        const size_t channels = wq->second.params.size();
        std::vector<float> scales;
        for (const auto& p : wq->second.params) scales.push_back(p.scale);
        const int q = edge.weight(w.name + ".int" + std::to_string(wq->second.bits), std::move(codes));
        const int v = edge.value(w.name, DType::Float32, w.shape);
        ++out.quantizedWeights;
        if (wq->second.channelAxis < 0 || perAxisDq) {
            const bool perTensor = wq->second.channelAxis < 0;
            const int s = edge.weight(w.name + ".scale", TensorData{DType::Float32, perTensor ? std::vector<int64_t>{}
                                                                                               : std::vector<int64_t>{static_cast<int64_t>(channels)},
                                                                   scales, {}});
            const int z = edge.weight(w.name + ".zero_point",
                                      TensorData{DType::Int8, perTensor ? std::vector<int64_t>{} : std::vector<int64_t>{static_cast<int64_t>(channels)},
                                                 {}, std::vector<int64_t>(channels, 0)});
            std::map<std::string, Attribute> attrs;
            if (!perTensor) attrs["axis"] = Attribute{static_cast<int64_t>(wq->second.channelAxis)};
            edge.node("DequantizeLinear", w.name + "/dequantize", {q, s, z}, {v}, std::move(attrs));
        } else {  // opset < 13: DequantizeLinear is per tensor only; Cast + Mul by a broadcast scale
            std::vector<int64_t> sshape(w.shape.size(), 1);
            sshape[static_cast<size_t>(wq->second.channelAxis)] = static_cast<int64_t>(channels);
            const int s = edge.weight(w.name + ".scale", TensorData{DType::Float32, sshape, scales, {}});
            const int f = edge.value(w.name + ".int_as_float", DType::Float32, w.shape);
            edge.node("Cast", w.name + "/to_float", {q}, {f}, {{"to", Attribute{kOnnxFloat}}});
            edge.node("Mul", w.name + "/dequantize", {f, s}, {v});
        }
        return v;
    };
    for (int i = 0; i <= split; ++i) {
        const Node& n = g.nodes[static_cast<size_t>(i)];
        std::vector<int> in;
        for (int t : n.inputs) {
            if (t < 0) in.push_back(-1);
            else if (g.tensors[static_cast<size_t>(t)].isWeight()) in.push_back(edgeWeight(t));
            else in.push_back(edgeValue.at(t));
        }
        std::vector<int> outs;
        std::vector<std::pair<int, int>> post;  // (source tensor, raw id) to quantize or round
        for (int t : n.outputs) {
            if (t < 0) {
                outs.push_back(-1);
                continue;
            }
            const Tensor& x = g.tensors[static_cast<size_t>(t)];
            const bool quantized = d.activations.count(t) > 0;
            const bool half = !quantized && x.dtype == DType::Float32 && plan.activationAt(i, 32) == 16;
            const int raw = edge.value(quantized || half ? x.name + "__float" : x.name, x.dtype, x.shape);
            outs.push_back(raw);
            if (quantized || half) post.emplace_back(t, raw);
            else edgeValue[t] = raw;
        }
        edge.copy(n, std::move(in), std::move(outs));
        for (auto [t, raw] : post) {
            const Tensor& x = g.tensors[static_cast<size_t>(t)];
            if (d.activations.count(t)) emitQdq(t, raw, x.name);
            else edgeValue[t] = edge.roundToHalf(raw, x.name, x.shape);
        }
    }
    // Edge outputs: the transmitted tensors, then the results computed on the edge.
    for (int t : sent) {
        const Tensor& x = g.tensors[static_cast<size_t>(t)];
        WireTensor w;
        w.id = static_cast<uint16_t>(out.transmitted.size());
        w.name = x.name;
        w.shape = x.shape;
        if (!x.shapeKnown) throw Error("transmitted tensor '" + x.name + "' has no known shape");
        if (auto c = edgeCodes.find(t); c != edgeCodes.end()) {
            const QuantParams& p = d.activations.at(t).params;
            w.type = WireTensor::Type::Codes;
            w.bits = d.activations.at(t).bits;
            w.scale = p.scale;
            w.zeroPoint = p.zeroPoint;
            w.wireName = x.name + ".codes";
            edge.graph().outputs.push_back(c->second);
        } else if (isFloating(x.dtype)) {
            w.type = WireTensor::Type::Float32;
            w.bits = 32;
            w.wireName = edge.graph().tensors[static_cast<size_t>(edgeValue.at(t))].name;
            edge.graph().outputs.push_back(edgeValue.at(t));
        } else {
            w.type = WireTensor::Type::Int64;
            w.bits = 64;
            int id = edgeValue.at(t);
            if (x.dtype != DType::Int64) {
                const int cast = edge.value(x.name + ".int64", DType::Int64, x.shape);
                edge.node("Cast", x.name + "/to_int64", {id}, {cast}, {{"to", Attribute{kOnnxInt64}}});
                id = cast;
            }
            w.wireName = edge.graph().tensors[static_cast<size_t>(id)].name;
            edge.graph().outputs.push_back(id);
        }
        out.transmitted.push_back(std::move(w));
    }
    for (int t : g.outputs) {
        if (!onEdge(t) || g.tensors[static_cast<size_t>(t)].isGraphInput) continue;
        const int id = edgeValue.at(t);
        if (std::find(edge.graph().outputs.begin(), edge.graph().outputs.end(), id) == edge.graph().outputs.end())
            edge.graph().outputs.push_back(id);
        const Tensor& x = g.tensors[static_cast<size_t>(t)];
        out.edgeResults.push_back({x.name, x.dtype, x.shape});
    }

    // ---- cloud
    HalfBuilder cloud(g, "_cloud");
    cloud.graph().opsetVersion = opsetForQdq(opset, cloudOps);
    std::unordered_map<int, int> cloudValue;
    for (const WireTensor& w : out.transmitted) {
        const int t = g.findTensor(w.name);
        const Tensor& x = g.tensors[static_cast<size_t>(t)];
        if (w.type == WireTensor::Type::Codes) {
            const int c = cloud.value(w.wireName, DType::UInt8, w.shape);
            cloud.graph().inputs.push_back(c);
            const int s = cloud.floatScalar(w.wireName + "/scale", w.scale);
            const int z = cloud.weight(w.wireName + "/zero_point", TensorData{DType::UInt8, {}, {}, {w.zeroPoint}});
            const int v = cloud.value(x.name, DType::Float32, x.shape);
            cloud.node("DequantizeLinear", w.wireName + "/dequantize", {c, s, z}, {v});
            cloudValue[t] = v;
        } else if (w.type == WireTensor::Type::Float32) {
            const int v = cloud.value(w.wireName, DType::Float32, w.shape);
            cloud.graph().inputs.push_back(v);
            cloudValue[t] = v;
        } else {
            const int v = cloud.value(w.wireName, DType::Int64, w.shape);
            cloud.graph().inputs.push_back(v);
            if (x.dtype != DType::Int64) {
                const int back = cloud.value(x.name, x.dtype, x.shape);
                cloud.node("Cast", x.name + "/from_int64", {v}, {back}, {{"to", Attribute{onnxIntCode(x.dtype)}}});
                cloudValue[t] = back;
            } else {
                cloudValue[t] = v;
            }
        }
    }
    for (int i = split + 1; i < nodes; ++i) {
        const Node& n = g.nodes[static_cast<size_t>(i)];
        std::vector<int> in;
        for (int t : n.inputs) {
            if (t < 0) in.push_back(-1);
            else if (g.tensors[static_cast<size_t>(t)].isWeight()) in.push_back(cloud.weight(g.tensors[static_cast<size_t>(t)].name, constantValue(t)));
            else in.push_back(cloudValue.at(t));
        }
        std::vector<int> outs;
        std::vector<std::pair<int, int>> post;
        for (int t : n.outputs) {
            if (t < 0) {
                outs.push_back(-1);
                continue;
            }
            const Tensor& x = g.tensors[static_cast<size_t>(t)];
            const bool half = isFloating(x.dtype);
            const int raw = cloud.value(half ? x.name + "__f32" : x.name, x.dtype, x.shape);
            outs.push_back(raw);
            if (half) post.emplace_back(t, raw);
            else cloudValue[t] = raw;
        }
        cloud.copy(n, std::move(in), std::move(outs));
        for (auto [t, raw] : post) {
            const Tensor& x = g.tensors[static_cast<size_t>(t)];
            cloudValue[t] = cloud.roundToHalf(raw, x.name, x.shape);
        }
    }
    for (int t : g.outputs) {
        if (onEdge(t)) continue;
        cloud.graph().outputs.push_back(cloudValue.at(t));
        const Tensor& x = g.tensors[static_cast<size_t>(t)];
        out.cloudResults.push_back({x.name, x.dtype, x.shape});
    }
    out.edge = edge.finish();
    out.cloud = cloud.finish();
    return out;
}

// ---- writing

Manifest writeExport(const Graph& g, const PlanBits& plan, const PlanDeployment& d, const planner::PlanDocument& doc,
                     const std::string& dir) {
    SplitModels models = buildSplitModels(g, plan, d);
    const std::string edgeBytes = exportOnnx(models.edge);
    checkOnnxModel(edgeBytes, "edge.onnx");
    const bool hasCloud = !models.cloud.nodes.empty();
    std::string cloudBytes;
    if (hasCloud) {
        cloudBytes = exportOnnx(models.cloud);
        checkOnnxModel(cloudBytes, "cloud.onnx");
    }
    Manifest m;
    m.modelPath = doc.modelPath;
    m.modelSha256 = doc.modelSha256;
    m.kind = planKindName(doc.selected.kind);
    m.splitPosition = plan.splitPosition;
    m.splitAfter = plan.splitPosition >= 0 ? g.nodes[static_cast<size_t>(plan.splitPosition)].name : std::string();
    m.edgeSha256 = planner::sha256(edgeBytes);
    if (hasCloud) {
        m.cloudModel = "cloud.onnx";
        m.cloudSha256 = planner::sha256(cloudBytes);
    }
    m.transmitted = models.transmitted;
    m.edgeInputs = models.edgeInputs;
    m.edgeResults = models.edgeResults;
    m.cloudResults = models.cloudResults;
    m.resultsAt = planner::resultsAtName(doc.constraints.resultsAt);
    m.resultsEncoding = doc.resultsEncoding;
    m.maxFrameBytes = frameLimitFor(models.transmitted, models.cloudResults);
    const auto& l = doc.selected.latency;
    m.predicted = {l.edgeMs, l.transmitMs, l.cloudMs, l.resultsMs, l.totalMs, l.edgeOrigin, l.cloudOrigin,
                   doc.constraints.uplinkBps, doc.constraints.downlinkBps};
    m.accuracyDrop = doc.selected.accuracyDrop;
    m.quantizedWeights = models.quantizedWeights;
    m.quantizedActivations = models.quantizedActivations;
    // The hash ties frames to this exact pair: both models and the wire description.
    std::string wire;
    for (const auto& w : m.transmitted)
        wire += w.wireName + ":" + std::to_string(w.bits) + ":" + std::to_string(w.scale) + ":" + std::to_string(w.zeroPoint) + ";";
    m.planHash = planner::sha256(m.edgeSha256 + m.cloudSha256 + wire).substr(0, 16);

    std::error_code ec;
    std::filesystem::create_directories(dir, ec);
    if (ec) throw Error("cannot create '" + dir + "': " + ec.message());
    const std::filesystem::path base(dir);
    writeFileAtomically((base / "edge.onnx").string(), edgeBytes);
    if (hasCloud) writeFileAtomically((base / "cloud.onnx").string(), cloudBytes);
    else std::filesystem::remove(base / "cloud.onnx", ec);
    writeFileAtomically((base / "manifest.json").string(), manifestToJson(m));
    return m;
}

}  // namespace autosplit::deploy
