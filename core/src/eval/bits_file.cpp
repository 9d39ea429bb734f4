#include "autosplit/eval/bits_file.h"

#include "autosplit/quant/quantize.h"
#include "autosplit/util/errors.h"

#include <nlohmann/json.hpp>

#include <vector>

namespace autosplit {

ParsedPlan parsePlanBits(const Graph& g, const std::string& text, const std::string& name, std::optional<int> splitOverride) {
    using nlohmann::json;
    const int N = static_cast<int>(g.nodes.size());
    auto fail = [&](const std::string& why) { return Error("bits file '" + name + "': " + why); };
    json j;
    try {
        j = json::parse(text);
    } catch (const json::exception& e) {
        throw fail(std::string("not valid JSON: ") + e.what());
    }
    if (!j.is_object()) throw fail("must be a JSON object");
    ParsedPlan out;
    PlanBits& p = out.bits;
    try {
        json plan = j;
        if (j.contains("schema")) {
            if (j["schema"] != "autosplit-plan") throw fail("unknown schema " + j["schema"].dump());
            if (!j.contains("selected")) throw fail("the plan has no \"selected\" entry");
            plan = j["selected"];
            if (j.contains("constraints") && j["constraints"].contains("input_bits")) p.inputBits = j["constraints"]["input_bits"].get<int>();
        }
        auto nodeIndex = [&](const std::string& n, const std::string& field) {
            const int i = g.findNode(n);
            if (i < 0) throw fail(field + ": no node named '" + n + "' in the optimized model");
            return i;
        };
        std::optional<int> split;
        for (const char* key : {"split", "split_position"}) {
            if (!plan.contains(key) || plan[key].is_null()) continue;
            split = plan[key].is_string() ? nodeIndex(plan[key].get<std::string>(), key) : plan[key].get<int>();
            out.hasSplit = true;
        }
        if (splitOverride) split = splitOverride;
        if (!split) throw fail("no split position (give \"split\" in the file or --split)");
        if (*split < -1 || *split >= N)
            throw fail("split position " + std::to_string(*split) + " is outside -1.." + std::to_string(N - 1));
        p.splitPosition = *split;
        if (plan.contains("edge_nodes")) {
            const auto nodes = plan["edge_nodes"].get<std::vector<std::string>>();
            bool prefix = static_cast<int>(nodes.size()) == p.splitPosition + 1;
            for (size_t k = 0; prefix && k < nodes.size(); ++k) prefix = g.findNode(nodes[k]) <= p.splitPosition;
            if (!prefix) throw fail("the plan's edge nodes are not the prefix up to its split (non-prefix cuts are not evaluated)");
        }
        auto readBits = [&](const char* key, std::vector<int>& bits) {
            bits.assign(static_cast<size_t>(N), 0);
            if (!plan.contains(key)) return;
            const json& v = plan[key];
            if (v.is_object()) {
                for (const auto& [n, b] : v.items()) bits[static_cast<size_t>(nodeIndex(n, key))] = b.get<int>();
            } else if (v.is_array()) {
                if (static_cast<int>(v.size()) > N)
                    throw fail(std::string(key) + " has " + std::to_string(v.size()) + " entries for " + std::to_string(N) + " nodes");
                for (size_t k = 0; k < v.size(); ++k) {
                    if (v[k].is_object()) bits[static_cast<size_t>(nodeIndex(v[k].at("node").get<std::string>(), key))] = v[k].at("bits").get<int>();
                    else bits[k] = v[k].get<int>();
                }
            } else {
                throw fail(std::string(key) + " must be an object or an array");
            }
        };
        readBits("weight_bits", p.weightBits);
        readBits("activation_bits", p.activationBits);
        if (plan.contains("input_bits")) p.inputBits = plan["input_bits"].get<int>();
        const int dw = plan.value("default_weight_bits", 0), da = plan.value("default_activation_bits", 0);
        auto valid = [](int b) { return isSupportedBits(b) || b == 32; };
        if (!valid(p.inputBits)) throw fail("input_bits " + std::to_string(p.inputBits) + " is not one of 2, 4, 6, 8, 16, 32");
        for (int i = 0; i < N; ++i) {
            int& w = p.weightBits[static_cast<size_t>(i)];
            int& a = p.activationBits[static_cast<size_t>(i)];
            const bool hasWeight = quantizedWeightTensor(g, g.nodes[static_cast<size_t>(i)]) >= 0;
            if (i > p.splitPosition) {
                if (w == 0) w = 16;
                if (a == 0) a = 16;
            } else {
                if (w == 0) w = dw != 0 ? dw : (hasWeight ? 0 : 32);
                if (a == 0) a = da;
                if (w == 0) throw fail("edge node '" + g.nodes[static_cast<size_t>(i)].name + "' has no weight bits");
                if (a == 0) throw fail("edge node '" + g.nodes[static_cast<size_t>(i)].name + "' has no activation bits");
            }
            for (int b : {w, a})
                if (!valid(b))
                    throw fail("bits " + std::to_string(b) + " of node '" + g.nodes[static_cast<size_t>(i)].name +
                               "' are not one of 2, 4, 6, 8, 16, 32");
        }
    } catch (const json::exception& e) {
        throw fail(e.what());
    }
    return out;
}

}  // namespace autosplit
