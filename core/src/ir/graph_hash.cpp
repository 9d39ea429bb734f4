#include "autosplit/ir/graph.h"

#include "util/hasher.h"

#include <variant>

namespace autosplit {

namespace {

void hashAttribute(Hasher& h, const Attribute& a) {
    h.i64(static_cast<int64_t>(a.value.index()));
    std::visit(
        [&](const auto& v) {
            using T = std::decay_t<decltype(v)>;
            if constexpr (std::is_same_v<T, int64_t>) h.i64(v);
            else if constexpr (std::is_same_v<T, float>) h.bytes(&v, sizeof v);
            else if constexpr (std::is_same_v<T, std::string>) h.str(v);
            else if constexpr (std::is_same_v<T, std::vector<int64_t>>) h.words(v.data(), v.size() * 8);
            else if constexpr (std::is_same_v<T, std::vector<float>>) h.words(v.data(), v.size() * 4);
            else if constexpr (std::is_same_v<T, std::vector<std::string>>) for (const auto& s : v) h.str(s);
            else if constexpr (std::is_same_v<T, TensorData>) h.tensor(v);
            else h.str(v.name);
        },
        a.value);
}

}  // namespace

std::string graphHash(const Graph& g) {
    Hasher h;
    h.i64(g.opsetVersion);
    for (const Node& n : g.nodes) {
        h.str(n.op);
        h.str(n.domain);
        for (int t : n.inputs) h.i64(t);
        for (int t : n.outputs) h.i64(t);
        h.i64(static_cast<int64_t>(n.activation.kind));
        h.bytes(&n.activation.alpha, 4);
        h.bytes(&n.activation.beta, 4);
        h.bytes(&n.activation.min, 4);
        h.bytes(&n.activation.max, 4);
        for (const auto& [k, a] : n.attrs) {
            h.str(k);
            hashAttribute(h, a);
        }
    }
    for (const Tensor& t : g.tensors) {
        h.str(t.name);
        for (auto d : t.shape) h.i64(d);
        if (t.data) h.tensor(*t.data);
    }
    for (int t : g.inputs) h.i64(t);
    for (int t : g.outputs) h.i64(t);
    return h.hex();
}

}  // namespace autosplit
