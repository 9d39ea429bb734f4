#include "autosplit/planner/plan_io.h"

#include "autosplit/util/errors.h"

#include <nlohmann/json.hpp>
#include <openssl/evp.h>

#include <array>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>

namespace autosplit::planner {

// ------------------------------------------------------------------ SHA-256 (OpenSSL)

namespace {

// Incremental SHA-256 through OpenSSL's EVP interface (hardware SHA extensions where the CPU
// has them: a 250 MB model hashes in a fraction of a second).
class Sha256 {
public:
    Sha256() : ctx_(EVP_MD_CTX_new()) {
        if (!ctx_ || EVP_DigestInit_ex(ctx_, EVP_sha256(), nullptr) != 1) throw Error("SHA-256: OpenSSL could not start a digest");
    }
    ~Sha256() { EVP_MD_CTX_free(ctx_); }
    Sha256(const Sha256&) = delete;
    Sha256& operator=(const Sha256&) = delete;
    void update(const void* p, size_t n) {
        if (n && EVP_DigestUpdate(ctx_, p, n) != 1) throw Error("SHA-256: OpenSSL digest update failed");
    }
    std::string hex() {
        unsigned char out[EVP_MAX_MD_SIZE];
        unsigned int len = 0;
        if (EVP_DigestFinal_ex(ctx_, out, &len) != 1) throw Error("SHA-256: OpenSSL digest failed");
        static const char* digits = "0123456789abcdef";
        std::string s;
        for (unsigned int i = 0; i < len; ++i) {
            s += digits[out[i] >> 4];
            s += digits[out[i] & 15];
        }
        return s;
    }

private:
    EVP_MD_CTX* ctx_;
};

}  // namespace

std::string sha256(const std::string& bytes) {
    Sha256 h;
    h.update(bytes.data(), bytes.size());
    return h.hex();
}

std::string sha256File(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw PlannerError(path + ": cannot read the model file");
    Sha256 h;
    std::vector<char> buf(size_t(1) << 20);
    while (in) {
        in.read(buf.data(), std::streamsize(buf.size()));
        const auto n = in.gcount();
        if (n > 0) h.update(buf.data(), size_t(n));
    }
    return h.hex();
}

// ------------------------------------------------------------------ plan.json

namespace {

using json = nlohmann::ordered_json;

json latencyJson(const LatencyBreakdown& l) {
    return json{{"edge", l.edgeMs}, {"transmit", l.transmitMs}, {"cloud", l.cloudMs}, {"results", l.resultsMs}, {"total", l.totalMs},
                {"edge_origin", l.edgeOrigin}, {"cloud_origin", l.cloudOrigin}};
}

// A measured drop with where it comes from: metric, samples, held out or not, its interval.
json accuracyJson(const AccuracyMeasurement& a) {
    json j{{"value", a.drop}, {"metric", a.metric}, {"samples", a.samples}, {"data", a.data}};
    if (!a.intervalMethod.empty() && a.intervalMethod != "none")
        j["interval_95"] = {{"low", a.low}, {"high", a.high}, {"method", a.intervalMethod}};
    j["calibration_samples"] = a.calibrationSamples;
    j["held_out"] = a.heldOut;
    j["synthetic"] = a.synthetic;
    j["origin"] = "measured on " + std::to_string(a.samples) + (a.heldOut ? " held-out" : "") +
                  (a.synthetic ? " synthetic" : "") + " samples";
    if (a.stoppedEarly())
        j["stopped_early"] = {{"set_samples", a.setSamples}, {"drop_at_least", *a.dropAtLeast}};
    return j;
}

json planJson(const PlanningContext& ctx, const Plan& p, double cloudOnlyMs) {
    const Graph& g = ctx.graph();
    json j;
    j["kind"] = planKindName(p.kind);
    j["split_position"] = p.splitPosition;
    j["split_after"] = p.splitAfter.empty() ? json(nullptr) : json(p.splitAfter);
    if (!p.edgeNodes.empty()) {
        json nodes = json::array();
        for (int v : p.edgeNodes) nodes.push_back(g.nodes[size_t(v)].name);
        j["edge_nodes"] = nodes;
    }
    json sent = json::array();
    for (const auto& s : p.transmitted)
        sent.push_back({{"tensor", g.tensors[size_t(s.tensor)].name}, {"bits", s.bits}, {"elements", s.elements},
                        {"shape", g.tensors[size_t(s.tensor)].shape}});
    j["transmitted"] = sent;
    json wb = json::array(), ab = json::array();
    for (size_t i = 0; i < p.weightBits.size(); ++i) {
        if (p.weightBits[i] == 0) continue;  // not on the edge (non-prefix cut)
        wb.push_back({{"node", g.nodes[i].name}, {"bits", p.weightBits[i]}});
        ab.push_back({{"node", g.nodes[i].name}, {"bits", p.activationBits[i]}});
    }
    j["weight_bits"] = wb;
    j["activation_bits"] = ab;
    j["latency_ms"] = latencyJson(p.latency);
    j["normalized_latency"] = cloudOnlyMs > 0 ? p.latency.totalMs / cloudOnlyMs : 0.0;
    j["edge_weight_bytes"] = p.edgeWeightBytes;
    j["edge_activation_bytes"] = p.edgeActivationBytes;
    j["fits_memory"] = p.fitsMemory;
    j["mse_proxy"] = p.mseProxy;
    if (p.accuracy)
        j["accuracy_drop"] = accuracyJson(*p.accuracy);
    else
        j["accuracy_drop"] = nullptr;
    if (!p.available) j["available"] = false;
    if (!p.note.empty()) j["note"] = p.note;
    return j;
}

}  // namespace

std::string planToJson(const PlanningContext& ctx, const PlanSet& ps, const DataRecord* data) {
    json j;
    j["schema"] = "autosplit-plan";
    j["schema_version"] = kPlanSchemaVersion;
    j["model"] = {{"path", ctx.model().path}, {"sha256", ctx.model().sha256}, {"inputs", ctx.model().inputBindings},
                  {"nodes", ctx.nodeCount()}};
    j["devices"] = {{"edge", {{"name", ctx.edgeDevice().name}, {"source", ctx.edgeDevice().source}}},
                    {"cloud", {{"name", ctx.cloudDevice().name}, {"source", ctx.cloudDevice().source}}}};
    j["uplink_bps"] = ps.constraints.uplinkBps;
    j["constraints"] = {{"uplink_bps", ps.constraints.uplinkBps},
                        {"edge_memory_bytes", ps.constraints.edgeMemoryBytes},
                        {"max_accuracy_drop_percent", ps.constraints.maxDropPercent},
                        {"message_overhead_ms", ps.constraints.messageOverheadMs},
                        {"link_overhead", ps.constraints.linkOverhead},
                        {"accept_by", acceptanceName(ps.constraints.acceptance)},
                        {"results_at", resultsAtName(ps.constraints.resultsAt)},
                        {"results_encoding", resultEncodingName(ctx.cost().resultEncoding())},
                        {"downlink_bps", ps.constraints.downlinkBps},
                        {"edge_bits", ctx.bits()},
                        {"input_bits", ctx.inputBits()},
                        {"cloud_bits", ctx.cloudBits()}};
    const auto& e = ctx.errors();
    j["calibration"] = {{"data", e.dataDescription}, {"samples", e.samples}, {"synthetic", e.synthetic},
                        {"clip", e.clip}, {"model_hash", e.modelHash}, {"data_hash", e.dataHash}};
    if (data)
        j["data"] = {{"calibration", {{"data", data->calibration}, {"samples", data->calibrationSamples}}},
                     {"measurement", {{"data", data->measurement}, {"samples", data->measurementSamples}}},
                     {"held_out", data->heldOut},
                     {"synthetic", data->synthetic},
                     {"task", data->task},
                     {"metric", data->metric},
                     {"labels", data->labels},
                     {"dictionary", data->dictionary}};
    j["allocator"] = ctx.allocator() == Allocator::Exact ? "exact" : "lagrangian";
    const auto& lg = ctx.lagrangian();
    j["lagrangian_gap"] = {{"instances", lg.instances}, {"worse", lg.worse}, {"infeasible", lg.infeasible},
                           {"mean_relative", lg.meanRelativeGap}, {"max_relative", lg.maxRelativeGap}};
    const Plan* co = ps.baseline("cloud-only");
    const double coMs = co ? co->latency.totalMs : 0.0;
    json sel = planJson(ctx, ps.selected, coMs);
    sel["reason"] = ps.reason();
    sel["final"] = ps.final();
    j["selected"] = sel;
    json base = json::object();
    for (const auto& b : ps.baselines) base[b.name] = planJson(ctx, b, coMs);
    j["baselines"] = base;
    json cands = json::array();
    std::vector<bool> onFront(ps.candidates.size(), false);
    for (int i : ps.pareto) onFront[size_t(i)] = true;
    for (size_t i = 0; i < ps.candidates.size(); ++i) {
        const auto& c = ps.candidates[i];
        const Solution& s = ctx.solutions()[size_t(c.solution)];
        json cj{{"id", c.solution},
                {"split_position", s.split},
                {"budget", s.budget},
                {"latency_ms",
                 {{"edge", c.edgeMs}, {"transmit", c.transmitMs}, {"cloud", c.cloudMs}, {"results", c.resultsMs}, {"total", c.totalMs}}},
                {"mse_proxy", c.mse},
                {"edge_bytes", s.edgeBytes()},
                {"pareto", bool(onFront[i])}};
        if (auto a = ctx.accuracy(c.solution)) {
            cj["accuracy_drop"] = a->drop;
            if (!a->intervalMethod.empty() && a->intervalMethod != "none") cj["accuracy_interval_95"] = {a->low, a->high};
            cj["accuracy_samples"] = a->samples;
            if (a->stoppedEarly()) cj["accuracy_drop_at_least"] = *a->dropAtLeast;
        }
        cands.push_back(std::move(cj));
    }
    j["candidates"] = cands;
    j["numbers"] = {
        {"latency", "per-layer latency tables of the device simulator (SCALE-Sim v2 model), or measured where a "
                    "measured profile overrides a cell: see each latency_ms.*_origin"},
        {"transmit", "bits of the transmitted tensors x (1 + link_overhead: TCP/IP/Ethernet headers) / uplink_bps + "
                     "message_overhead_ms per tensor"},
        {"results", "graph outputs computed on the other side from constraints.results_at: at the edge, those computed "
                    "in the cloud at cloud_bits / downlink_bps; at the cloud, those computed on the edge and not "
                    "transmitted, at their bits / uplink_bps; x (1 + link_overhead), + message_overhead_ms per tensor"},
        {"mse_proxy", "sum over the edge layers of the calibration weight and activation errors, each relative to the energy of the layer output (noise-to-signal; not an accuracy)"},
        {"accuracy_drop", "measured by a fake-quantized run against the float model on samples held out from the "
                          "calibration (held_out), with its metric, sample count and 95% interval (Wilson for rates, "
                          "bootstrap otherwise)"}};
    return j.dump(1) + "\n";
}

namespace {

PlanKind kindFromName(const std::string& s, const std::string& where) {
    if (s == "CLOUD_ONLY") return PlanKind::CloudOnly;
    if (s == "SPLIT") return PlanKind::Split;
    if (s == "EDGE_ONLY") return PlanKind::EdgeOnly;
    throw PlannerError(where + ": kind '" + s + "' is not CLOUD_ONLY, SPLIT or EDGE_ONLY");
}

PlanDocument::Entry entryFrom(const json& j, const std::string& where) {
    PlanDocument::Entry e;
    e.kind = kindFromName(j.at("kind").get<std::string>(), where);
    e.splitPosition = j.at("split_position").get<int>();
    if (!j.at("split_after").is_null()) e.splitAfter = j.at("split_after").get<std::string>();
    for (const auto& s : j.at("transmitted")) e.transmitted.push_back({s.at("tensor").get<std::string>(), s.at("bits").get<int>()});
    for (const auto& w : j.at("weight_bits")) e.weightBits.push_back({w.at("node").get<std::string>(), w.at("bits").get<int>()});
    for (const auto& a : j.at("activation_bits"))
        e.activationBits.push_back({a.at("node").get<std::string>(), a.at("bits").get<int>()});
    const auto& l = j.at("latency_ms");
    e.latency.edgeMs = l.at("edge").get<double>();
    e.latency.transmitMs = l.at("transmit").get<double>();
    e.latency.cloudMs = l.at("cloud").get<double>();
    e.latency.resultsMs = l.value("results", 0.0);  // absent in plans written before results were costed
    e.latency.totalMs = l.at("total").get<double>();
    e.latency.edgeOrigin = l.value("edge_origin", "simulated");
    e.latency.cloudOrigin = l.value("cloud_origin", "simulated");
    e.edgeWeightBytes = j.at("edge_weight_bytes").get<int64_t>();
    e.edgeActivationBytes = j.at("edge_activation_bytes").get<int64_t>();
    if (!j.at("accuracy_drop").is_null()) e.accuracyDrop = j.at("accuracy_drop").at("value").get<double>();
    return e;
}

}  // namespace

PlanDocument parsePlan(const std::string& text, const std::string& displayName) {
    json j;
    try {
        j = json::parse(text);
    } catch (const std::exception& e) {
        throw PlannerError(displayName + ": not JSON (" + e.what() + ")");
    }
    PlanDocument d;
    std::string field = "schema";
    try {
        if (j.value("schema", std::string()) != "autosplit-plan")
            throw PlannerError(displayName + ": not an autosplit plan (schema is not \"autosplit-plan\")");
        field = "schema_version";
        d.schemaVersion = j.at("schema_version").get<int>();
        if (d.schemaVersion != kPlanSchemaVersion)
            throw PlannerError(displayName + ": plan schema version " + std::to_string(d.schemaVersion) +
                               " is not supported (this build reads version " + std::to_string(kPlanSchemaVersion) + ")");
        field = "model";
        d.modelPath = j.at("model").at("path").get<std::string>();
        d.modelSha256 = j.at("model").at("sha256").get<std::string>();
        d.inputBindings = j.at("model").value("inputs", std::vector<std::string>{});
        field = "devices";
        d.edgeDevice = j.at("devices").at("edge").at("name").get<std::string>();
        d.cloudDevice = j.at("devices").at("cloud").at("name").get<std::string>();
        field = "uplink_bps";
        d.uplinkBps = j.at("uplink_bps").get<double>();
        field = "constraints";
        const auto& c = j.at("constraints");
        d.constraints.uplinkBps = c.at("uplink_bps").get<double>();
        d.constraints.edgeMemoryBytes = c.at("edge_memory_bytes").get<int64_t>();
        d.constraints.maxDropPercent = c.at("max_accuracy_drop_percent").get<double>();
        d.constraints.messageOverheadMs = c.at("message_overhead_ms").get<double>();
        d.constraints.linkOverhead = c.value("link_overhead", 0.0);  // plans before it was costed: payload only
        field = "constraints.accept_by";
        const std::string acceptBy = c.value("accept_by", std::string("estimate"));
        if (acceptBy == "upper-bound") d.constraints.acceptance = Constraints::Acceptance::UpperBound;
        else if (acceptBy != "estimate")
            throw PlannerError(displayName + ": constraints.accept_by '" + acceptBy + "' is not estimate or upper-bound");
        // Both absent in plans written before results were costed: the defaults.
        const auto at = resultsAtFromName(c.value("results_at", std::string(resultsAtName(d.constraints.resultsAt))));
        if (!at) throw PlannerError(displayName + ": constraints.results_at must be \"edge\" or \"cloud\"");
        d.constraints.resultsAt = *at;
        d.resultsEncoding = c.value("results_encoding", std::string("tensor"));
        d.constraints.downlinkBps = c.value("downlink_bps", d.constraints.downlinkBps);
        field = "calibration";
        if (j.contains("calibration")) {
            d.calibrationData = j.at("calibration").value("data", std::string());
            d.calibrationDataHash = j.at("calibration").value("data_hash", std::string());
        }
        field = "selected";
        d.selected = entryFrom(j.at("selected"), displayName + ": selected");
        d.selected.name = "auto-split";
        field = "baselines";
        for (const auto& [name, b] : j.at("baselines").items()) {
            field = "baselines." + name;
            d.baselines.push_back(entryFrom(b, displayName + ": baselines." + name));
            d.baselines.back().name = name;
        }
        field = "candidates";
        d.candidates = int(j.at("candidates").size());
    } catch (const PlannerError&) {
        throw;
    } catch (const std::exception& e) {
        throw PlannerError(displayName + ": field '" + field + "' is missing or malformed (" + e.what() + ")");
    }
    return d;
}

PlanDocument loadPlan(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw PlannerError(path + ": cannot read the plan");
    std::stringstream ss;
    ss << in.rdbuf();
    return parsePlan(ss.str(), path);
}

void verifyPlanModel(const PlanDocument& plan, const std::string& modelPath) {
    const std::string h = sha256File(modelPath);
    if (h != plan.modelSha256)
        throw PlannerError("model hash mismatch: the plan was made for " + plan.modelPath + " (sha256 " +
                           plan.modelSha256.substr(0, 12) + "...) but " + modelPath + " has sha256 " + h.substr(0, 12) +
                           "...: re-run autosplit plan");
}

}  // namespace autosplit::planner
