#include "autosplit/onnx/model_builder.h"

#include "autosplit/util/errors.h"

#include <onnx/onnx_pb.h>

#include <fstream>
#include <random>

namespace autosplit {

namespace {

void setType(onnx::ValueInfoProto& v, const std::string& name, const std::vector<int64_t>& dims) {
    v.set_name(name);
    auto* tt = v.mutable_type()->mutable_tensor_type();
    tt->set_elem_type(onnx::TensorProto::FLOAT);
    auto* shape = tt->mutable_shape();
    int sym = 0;
    for (auto d : dims) {
        auto* dim = shape->add_dim();
        if (d >= 0) dim->set_dim_value(d);
        else dim->set_dim_param("N" + std::to_string(sym++));
    }
}

void fillTensor(onnx::TensorProto& t, const std::string& name, const std::vector<int64_t>& dims,
                const std::vector<float>& values) {
    t.set_name(name);
    t.set_data_type(onnx::TensorProto::FLOAT);
    for (auto d : dims) t.add_dims(d);
    for (auto v : values) t.add_float_data(v);
}

}  // namespace

struct ModelBuilder::Impl {
    onnx::ModelProto model;
};

ModelBuilder::ModelBuilder(int opset) : d(std::make_unique<Impl>()) {
    d->model.set_ir_version(opset >= 14 ? 8 : 7);
    d->model.set_producer_name("autosplit-tests");
    auto* op = d->model.add_opset_import();
    op->set_domain("");
    op->set_version(opset);
    d->model.mutable_graph()->set_name("test");
}

ModelBuilder::~ModelBuilder() = default;

ModelBuilder& ModelBuilder::graphName(const std::string& name) {
    d->model.mutable_graph()->set_name(name);
    return *this;
}

ModelBuilder& ModelBuilder::input(const std::string& name, std::vector<int64_t> dims) {
    setType(*d->model.mutable_graph()->add_input(), name, dims);
    return *this;
}

ModelBuilder& ModelBuilder::output(const std::string& name) {
    auto* v = d->model.mutable_graph()->add_output();
    v->set_name(name);
    v->mutable_type()->mutable_tensor_type()->set_elem_type(onnx::TensorProto::FLOAT);
    return *this;
}

ModelBuilder& ModelBuilder::initializer(const std::string& name, std::vector<int64_t> dims, std::vector<float> values) {
    fillTensor(*d->model.mutable_graph()->add_initializer(), name, dims, values);
    return *this;
}

ModelBuilder& ModelBuilder::initializerInts(const std::string& name, std::vector<int64_t> dims,
                                            std::vector<int64_t> values) {
    auto* t = d->model.mutable_graph()->add_initializer();
    t->set_name(name);
    t->set_data_type(onnx::TensorProto::INT64);
    for (auto x : dims) t->add_dims(x);
    for (auto v : values) t->add_int64_data(v);
    return *this;
}

ModelBuilder& ModelBuilder::constant(const std::string& name, std::vector<int64_t> dims, std::vector<float> values) {
    auto* n = d->model.mutable_graph()->add_node();
    n->set_op_type("Constant");
    n->set_name(name + "_const");
    n->add_output(name);
    auto* a = n->add_attribute();
    a->set_name("value");
    a->set_type(onnx::AttributeProto::TENSOR);
    fillTensor(*a->mutable_t(), name, dims, values);
    return *this;
}

ModelBuilder& ModelBuilder::node(const std::string& op, std::vector<std::string> inputs,
                                 std::vector<std::string> outputs, std::vector<Attr> attrs, const std::string& name,
                                 const std::string& domain) {
    auto* n = d->model.mutable_graph()->add_node();
    n->set_op_type(op);
    n->set_name(name.empty() ? op + "_" + std::to_string(d->model.graph().node_size()) : name);
    if (!domain.empty()) {
        n->set_domain(domain);
        bool have = false;
        for (const auto& o : d->model.opset_import()) have = have || o.domain() == domain;
        if (!have) {
            auto* o = d->model.add_opset_import();
            o->set_domain(domain);
            o->set_version(1);
        }
    }
    for (auto& i : inputs) n->add_input(i);
    for (auto& o : outputs) n->add_output(o);
    using AP = onnx::AttributeProto;
    for (const auto& a : attrs) {
        auto* p = n->add_attribute();
        p->set_name(a.name);
        switch (a.kind) {
        case Attr::Kind::Int: p->set_type(AP::INT); p->set_i(a.i); break;
        case Attr::Kind::Float: p->set_type(AP::FLOAT); p->set_f(a.f); break;
        case Attr::Kind::Ints: p->set_type(AP::INTS); for (auto v : a.ints) p->add_ints(v); break;
        case Attr::Kind::Floats: p->set_type(AP::FLOATS); for (auto v : a.floats) p->add_floats(v); break;
        case Attr::Kind::String: p->set_type(AP::STRING); p->set_s(a.s); break;
        }
    }
    return *this;
}

ModelBuilder& ModelBuilder::valueInfo(const std::string& name, std::vector<int64_t> dims) {
    setType(*d->model.mutable_graph()->add_value_info(), name, dims);
    return *this;
}

std::string ModelBuilder::bytes() const {
    std::string out;
    if (!d->model.SerializeToString(&out)) throw Error("the model is too large to serialise");
    return out;
}

void ModelBuilder::save(const std::string& path) const {
    const std::string data = bytes();
    std::ofstream f(path, std::ios::binary);
    if (!f.write(data.data(), static_cast<std::streamsize>(data.size())))
        throw Error("cannot write '" + path + "'");
}

std::vector<float> randomValues(size_t n, uint32_t seed) {
    std::mt19937 rng(seed);
    std::uniform_real_distribution<float> dist(-1.f, 1.f);
    std::vector<float> v(n);
    for (auto& x : v) x = dist(rng);
    return v;
}

}  // namespace autosplit
