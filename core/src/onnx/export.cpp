#include "autosplit/onnx/import.h"
#include "autosplit/util/errors.h"
#include "onnx/proto_util.h"

#include <onnx/checker.h>
#include <onnx/defs/schema.h>
#include <onnx/shape_inference/implementation.h>

#include <set>

namespace autosplit {

namespace detail {

namespace {

void setValueInfo(const Tensor& t, onnx::ValueInfoProto& v) {
    v.set_name(t.name);
    auto* tt = v.mutable_type()->mutable_tensor_type();
    tt->set_elem_type(dtypeToOnnx(t.dtype == DType::Other ? DType::Float32 : t.dtype));
    if (t.shape.empty() && !t.shapeKnown) return;
    auto* shape = tt->mutable_shape();
    for (auto d : t.shape) {
        auto* dim = shape->add_dim();
        if (d >= 0) dim->set_dim_value(d);
    }
}

void setAttribute(const std::string& name, const Attribute& a, onnx::AttributeProto& out) {
    using AP = onnx::AttributeProto;
    out.set_name(name);
    std::visit(
        [&](const auto& v) {
            using V = std::decay_t<decltype(v)>;
            if constexpr (std::is_same_v<V, int64_t>) {
                out.set_type(AP::INT);
                out.set_i(v);
            } else if constexpr (std::is_same_v<V, float>) {
                out.set_type(AP::FLOAT);
                out.set_f(v);
            } else if constexpr (std::is_same_v<V, std::string>) {
                out.set_type(AP::STRING);
                out.set_s(v);
            } else if constexpr (std::is_same_v<V, std::vector<int64_t>>) {
                out.set_type(AP::INTS);
                for (auto x : v) out.add_ints(x);
            } else if constexpr (std::is_same_v<V, std::vector<float>>) {
                out.set_type(AP::FLOATS);
                for (auto x : v) out.add_floats(x);
            } else if constexpr (std::is_same_v<V, std::vector<std::string>>) {
                out.set_type(AP::STRINGS);
                for (const auto& x : v) out.add_strings(x);
            } else if constexpr (std::is_same_v<V, TensorData>) {
                out.set_type(AP::TENSOR);
                tensorToProto(v, "", *out.mutable_t());
            } else {
                throw Error("attribute '" + name + "' holds a subgraph, which cannot be exported");
            }
        },
        a.value);
}

// Emits the activation as standard ONNX nodes reading `in` and writing `out`.
void emitActivation(const Activation& act, const std::string& base, const std::string& in, const std::string& out,
                    int64_t opset, onnx::GraphProto& gp) {
    auto add = [&](const std::string& op, std::vector<std::string> ins, const std::string& o,
                   const std::string& suffix) -> onnx::NodeProto* {
        auto* n = gp.add_node();
        n->set_op_type(op);
        n->set_name(base + suffix);
        for (auto& i : ins) n->add_input(i);
        n->add_output(o);
        return n;
    };
    auto floatAttr = [](onnx::NodeProto* n, const char* k, float v) {
        auto* a = n->add_attribute();
        a->set_name(k);
        a->set_type(onnx::AttributeProto::FLOAT);
        a->set_f(v);
    };
    using K = Activation::Kind;
    switch (act.kind) {
    case K::None: break;
    case K::Relu: add("Relu", {in}, out, "/relu"); break;
    case K::Sigmoid: add("Sigmoid", {in}, out, "/sigmoid"); break;
    case K::HardSwish:
        if (opset >= 14) add("HardSwish", {in}, out, "/hardswish");
        else {
            // x * clip(x / 6 + 1/2, 0, 1): the float operations of Activation::apply, in its order
            // (HardSigmoid's alpha * x + beta rounds differently), valid at every opset.
            const std::string six = base + "/six", half = base + "/half";
            tensorToProto(TensorData{DType::Float32, {}, {6.f}, {}}, six, *gp.add_initializer());
            tensorToProto(TensorData{DType::Float32, {}, {0.5f}, {}}, half, *gp.add_initializer());
            add("Div", {in, six}, base + "/div_out", "/div");
            add("Add", {base + "/div_out", half}, base + "/add_out", "/add");
            if (opset < 11) {
                auto* n = add("Clip", {base + "/add_out"}, base + "/gate", "/clip");
                floatAttr(n, "min", 0.f);
                floatAttr(n, "max", 1.f);
            } else {
                const std::string zero = base + "/zero", one = base + "/one";
                tensorToProto(TensorData{DType::Float32, {}, {0.f}, {}}, zero, *gp.add_initializer());
                tensorToProto(TensorData{DType::Float32, {}, {1.f}, {}}, one, *gp.add_initializer());
                add("Clip", {base + "/add_out", zero, one}, base + "/gate", "/clip");
            }
            add("Mul", {in, base + "/gate"}, out, "/mul");
        }
        break;
    case K::LeakyRelu: floatAttr(add("LeakyRelu", {in}, out, "/leakyrelu"), "alpha", act.alpha); break;
    case K::HardSigmoid: {
        auto* n = add("HardSigmoid", {in}, out, "/hardsigmoid");
        floatAttr(n, "alpha", act.alpha);
        floatAttr(n, "beta", act.beta);
        break;
    }
    case K::Clip: {
        if (opset < 11) {  // Clip-6: bounds as attributes
            auto* n = add("Clip", {in}, out, "/clip");
            floatAttr(n, "min", act.min);
            floatAttr(n, "max", act.max);
            break;
        }
        const std::string lo = base + "/clip_min", hi = base + "/clip_max";
        tensorToProto(TensorData{DType::Float32, {}, {act.min}, {}}, lo, *gp.add_initializer());
        tensorToProto(TensorData{DType::Float32, {}, {act.max}, {}}, hi, *gp.add_initializer());
        add("Clip", {in, lo, hi}, out, "/clip");
        break;
    }
    case K::Swish: {
        add("Sigmoid", {in}, base + "/sigmoid_out", "/sigmoid");
        add("Mul", {in, base + "/sigmoid_out"}, out, "/mul");
        break;
    }
    case K::HardSwishMul: {
        auto* n = add("HardSigmoid", {in}, base + "/hardsigmoid_out", "/hardsigmoid");
        floatAttr(n, "alpha", act.alpha);
        floatAttr(n, "beta", act.beta);
        add("Mul", {in, base + "/hardsigmoid_out"}, out, "/mul");
        break;
    }
    }
}

}  // namespace

onnx::ModelProto graphToModel(const Graph& g) {
    onnx::ModelProto model;
    model.set_ir_version(8);
    model.set_producer_name("autosplit");
    auto* opset = model.add_opset_import();
    opset->set_domain("");
    opset->set_version(g.opsetVersion > 0 ? g.opsetVersion : 13);
    std::set<std::string> domains;
    for (const auto& n : g.nodes)
        if (!n.domain.empty()) domains.insert(n.domain);
    for (const auto& d : domains) {
        auto* o = model.add_opset_import();
        o->set_domain(d);
        o->set_version(1);
    }
    auto& gp = *model.mutable_graph();
    gp.set_name(g.name.empty() ? "graph" : g.name);
    for (int id : g.inputs) setValueInfo(g.tensors[id], *gp.add_input());
    for (int id : g.outputs) setValueInfo(g.tensors[id], *gp.add_output());
    std::vector<bool> emitted(g.tensors.size(), false);
    for (const auto& n : g.nodes)
        for (int t : n.inputs)
            if (t >= 0 && !emitted[t] && g.tensors[t].isWeight()) {
                emitted[t] = true;
                tensorToProto(*g.tensors[t].data, g.tensors[t].name, *gp.add_initializer());
            }
    for (const auto& n : g.nodes) {
        auto* np = gp.add_node();
        np->set_name(n.name);
        np->set_op_type(n.op);
        if (!n.domain.empty()) np->set_domain(n.domain);
        for (int t : n.inputs) np->add_input(t >= 0 ? g.tensors[t].name : std::string());
        const bool fused = !n.activation.isNone() && !n.outputs.empty() && n.outputs[0] >= 0;
        for (size_t k = 0; k < n.outputs.size(); ++k) {
            const int t = n.outputs[k];
            std::string name = t >= 0 ? g.tensors[t].name : std::string();
            if (k == 0 && fused) name += "/preact";
            np->add_output(name);
        }
        for (const auto& [key, a] : n.attrs) setAttribute(key, a, *np->add_attribute());
        if (fused) {
            const std::string& out = g.tensors[n.outputs[0]].name;
            emitActivation(n.activation, n.name, out + "/preact", out, opset->version(), gp);
        }
    }
    return model;
}

}  // namespace detail

std::string exportOnnx(const Graph& g) {
    std::string bytes;
    if (!detail::graphToModel(g).SerializeToString(&bytes)) throw Error("the model is too large to serialise");
    return bytes;
}

void reinferShapes(Graph& g, std::vector<std::string>* warnings) {
    onnx::ModelProto model = detail::graphToModel(g);
    for (auto& out : *model.mutable_graph()->mutable_output())
        out.mutable_type()->mutable_tensor_type()->clear_shape();
    try {
        onnx::ShapeInferenceOptions options(false, 0, true);
        onnx::shape_inference::InferShapes(model, onnx::OpSchemaRegistry::Instance(), options);
    } catch (const std::exception& e) {
        if (warnings) warnings->push_back(std::string("shape inference stopped early: ") + e.what());
    }
    auto apply = [&](const onnx::ValueInfoProto& v) {
        const int id = g.findTensor(v.name());
        if (id < 0 || !v.type().has_tensor_type() || !v.type().tensor_type().has_shape()) return;
        Tensor& t = g.tensors[id];
        if (t.shapeKnown) return;
        std::vector<int64_t> dims;
        bool known = true;
        for (const auto& d : v.type().tensor_type().shape().dim()) {
            if (d.has_dim_value() && d.dim_value() >= 0) dims.push_back(d.dim_value());
            else {
                dims.push_back(-1);
                known = false;
            }
        }
        if (t.dtype == DType::Other) t.dtype = detail::dtypeFromOnnx(v.type().tensor_type().elem_type());
        t.shape = std::move(dims);
        t.shapeKnown = known;
    };
    for (const auto& v : model.graph().value_info()) apply(v);
    for (const auto& v : model.graph().output()) apply(v);
}

}  // namespace autosplit

namespace autosplit {

int64_t opsetForQdq(int64_t opset, const std::set<std::string>& ops) {
    if (opset >= 10) return opset;
    // Changes at opset 10 that keep an opset-9 node's meaning: attributes added with defaults
    // that reproduce the old behaviour (ceil_mode = 0, dilations = 1); Slice, whose attributes
    // became inputs, is rewritten by the caller (deploy/export_plan.cpp).
    static const std::set<std::string> compatible = {"AveragePool", "MaxPool", "Slice"};
    std::string changed;
    for (const auto& op : ops) {
        const auto* before = onnx::OpSchemaRegistry::Schema(op, static_cast<int>(opset));
        const auto* after = onnx::OpSchemaRegistry::Schema(op, 10);
        if (before && after && (before->since_version() == after->since_version() || compatible.count(op))) continue;
        changed += (changed.empty() ? "" : ", ") + op;
    }
    if (!changed.empty())
        throw Error("QuantizeLinear needs opset 10 and this part of the opset-" + std::to_string(opset) +
                    " model has ops whose meaning changes at 10 (" + changed + "); re-export the model at opset 13");
    return 10;
}

void checkOnnxModel(const std::string& bytes, const std::string& displayName) {
    onnx::ModelProto model;
    if (!model.ParseFromString(bytes)) throw ImportError(displayName + ": not a valid ONNX protobuf");
    try {
        onnx::checker::check_model(model);
        onnx::ShapeInferenceOptions options(true, 1, true);  // strict: type errors and merge conflicts fail
        onnx::shape_inference::InferShapes(model, onnx::OpSchemaRegistry::Instance(), options);
    } catch (const std::exception& e) {
        throw ImportError(displayName + ": the ONNX checker rejects it: " + e.what());
    }
}

}  // namespace autosplit
