#include "autosplit/deploy/manifest.h"

#include "autosplit/util/errors.h"
#include "autosplit/util/file_io.h"

#include <nlohmann/json.hpp>


namespace autosplit::deploy {

using nlohmann::json;

uint64_t Manifest::planHashValue() const {
    if (planHash.size() != 16 || planHash.find_first_not_of("0123456789abcdef") != std::string::npos)
        throw Error("plan hash '" + planHash + "' is not 16 lowercase hex digits");
    return std::stoull(planHash, nullptr, 16);
}

int64_t Manifest::transmittedBytes() const {
    int64_t n = 0;
    for (const auto& w : transmitted) n += w.payloadBytes();
    return n;
}

uint32_t frameLimitFor(const std::vector<WireTensor>& sent, const std::vector<IoTensor>& cloudResults) {
    // Fixed header + CRC, and per tensor at most 8 dims of 8 bytes plus 24 bytes of fields.
    constexpr int64_t kHeader = 64, kTensorHeader = 24 + 8 * 8;
    int64_t request = kHeader, reply = kHeader + 1024;  // a reply may carry an error message
    for (const auto& w : sent) request += kTensorHeader + w.payloadBytes();
    for (const auto& r : cloudResults) {
        int64_t n = 1;
        for (int64_t d : r.shape) n *= std::max<int64_t>(d, 0);
        reply += kTensorHeader + n * 8;  // float32 or int64
    }
    const int64_t limit = std::max(request, reply);
    if (limit > int64_t(0xFFFFFFFF)) throw Error("a frame of this cut would exceed 4 GiB");
    return static_cast<uint32_t>(limit);
}

namespace {

DType dtypeFromName(const std::string& s, const std::string& where) {
    for (DType t : {DType::Float32, DType::Float16, DType::Double, DType::Int8, DType::UInt8, DType::Int16, DType::Int32,
                    DType::Int64, DType::Bool})
        if (s == dtypeName(t)) return t;
    throw Error(where + ": unknown dtype '" + s + "'");
}

json ioJson(const std::vector<IoTensor>& v) {
    json a = json::array();
    for (const auto& t : v) a.push_back({{"name", t.name}, {"dtype", dtypeName(t.dtype)}, {"shape", t.shape}});
    return a;
}

std::vector<IoTensor> ioFrom(const json& a, const std::string& where) {
    std::vector<IoTensor> v;
    for (const auto& t : a)
        v.push_back({t.at("name").get<std::string>(), dtypeFromName(t.at("dtype").get<std::string>(), where),
                     t.at("shape").get<std::vector<int64_t>>()});
    return v;
}

}  // namespace

std::string manifestToJson(const Manifest& m) {
    json j;
    j["schema"] = "autosplit-export";
    j["schema_version"] = kManifestSchemaVersion;
    j["plan_hash"] = m.planHash;
    j["model"] = {{"path", m.modelPath}, {"sha256", m.modelSha256}};
    j["kind"] = m.kind;
    j["split_position"] = m.splitPosition;
    j["split_after"] = m.splitAfter;
    j["edge_model"] = {{"file", m.edgeModel}, {"sha256", m.edgeSha256}};
    j["cloud_model"] = m.cloudModel.empty() ? json(nullptr) : json{{"file", m.cloudModel}, {"sha256", m.cloudSha256}};
    json sent = json::array();
    for (const auto& w : m.transmitted)
        sent.push_back({{"id", w.id}, {"name", w.name}, {"wire_name", w.wireName}, {"type", wireTypeName(w.type)},
                        {"bits", w.bits}, {"shape", w.shape}, {"scale", w.scale}, {"zero_point", w.zeroPoint},
                        {"packing", w.type == WireTensor::Type::Codes ? "lsb-first" : "none"},
                        {"payload_bytes", w.payloadBytes()}});
    j["transmitted"] = std::move(sent);
    j["transmitted_bytes"] = m.transmittedBytes();
    j["edge_inputs"] = ioJson(m.edgeInputs);
    j["edge_results"] = ioJson(m.edgeResults);
    j["cloud_results"] = ioJson(m.cloudResults);
    j["results_at"] = m.resultsAt;
    j["results_encoding"] = m.resultsEncoding;
    j["max_frame_bytes"] = m.maxFrameBytes;
    const auto& p = m.predicted;
    j["predicted"] = {{"edge_ms", p.edgeMs},         {"transmit_ms", p.transmitMs}, {"cloud_ms", p.cloudMs},
                      {"results_ms", p.resultsMs},   {"total_ms", p.totalMs},       {"edge_origin", p.edgeOrigin},
                      {"cloud_origin", p.cloudOrigin}, {"uplink_bps", p.uplinkBps},  {"downlink_bps", p.downlinkBps}};
    j["accuracy"] = m.accuracyDrop ? json{{"drop", *m.accuracyDrop}, {"metric", m.metric}} : json(nullptr);
    j["quantized_weights"] = m.quantizedWeights;
    j["quantized_activations"] = m.quantizedActivations;
    return j.dump(2) + "\n";
}

Manifest parseManifest(const std::string& text, const std::string& displayName) {
    json j;
    try {
        j = json::parse(text);
    } catch (const std::exception& e) {
        throw Error(displayName + ": not JSON (" + e.what() + ")");
    }
    try {
        if (j.value("schema", std::string()) != "autosplit-export")
            throw Error(displayName + ": not an autosplit export manifest (schema '" + j.value("schema", std::string()) + "')");
        if (j.at("schema_version").get<int>() != kManifestSchemaVersion)
            throw Error(displayName + ": manifest schema version " + std::to_string(j.at("schema_version").get<int>()) +
                        " is not supported (this build reads " + std::to_string(kManifestSchemaVersion) + ")");
        Manifest m;
        m.planHash = j.at("plan_hash").get<std::string>();
        m.planHashValue();
        m.modelPath = j.at("model").at("path").get<std::string>();
        m.modelSha256 = j.at("model").at("sha256").get<std::string>();
        m.kind = j.at("kind").get<std::string>();
        m.splitPosition = j.at("split_position").get<int>();
        m.splitAfter = j.at("split_after").get<std::string>();
        m.edgeModel = j.at("edge_model").at("file").get<std::string>();
        m.edgeSha256 = j.at("edge_model").at("sha256").get<std::string>();
        if (!j.at("cloud_model").is_null()) {
            m.cloudModel = j.at("cloud_model").at("file").get<std::string>();
            m.cloudSha256 = j.at("cloud_model").at("sha256").get<std::string>();
        }
        for (const auto& t : j.at("transmitted")) {
            WireTensor w;
            w.id = t.at("id").get<uint16_t>();
            w.name = t.at("name").get<std::string>();
            w.wireName = t.at("wire_name").get<std::string>();
            const std::string type = t.at("type").get<std::string>();
            if (type == "codes") w.type = WireTensor::Type::Codes;
            else if (type == "float32") w.type = WireTensor::Type::Float32;
            else if (type == "int64") w.type = WireTensor::Type::Int64;
            else throw Error(displayName + ": transmitted tensor '" + w.name + "' has unknown type '" + type + "'");
            w.bits = t.at("bits").get<int>();
            if ((w.type == WireTensor::Type::Codes && (w.bits < 1 || w.bits > 8)) ||
                (w.type == WireTensor::Type::Float32 && w.bits != 32) || (w.type == WireTensor::Type::Int64 && w.bits != 64))
                throw Error(displayName + ": transmitted tensor '" + w.name + "' has " + std::to_string(w.bits) + " bits for type " + type);
            w.shape = t.at("shape").get<std::vector<int64_t>>();
            for (int64_t d : w.shape)
                if (d < 0) throw Error(displayName + ": transmitted tensor '" + w.name + "' has a negative dimension");
            w.scale = t.at("scale").get<float>();
            w.zeroPoint = t.at("zero_point").get<int32_t>();
            if (w.id != m.transmitted.size())
                throw Error(displayName + ": transmitted tensor ids must be 0, 1, 2, ... in order");
            m.transmitted.push_back(std::move(w));
        }
        m.edgeInputs = ioFrom(j.at("edge_inputs"), displayName);
        m.edgeResults = ioFrom(j.at("edge_results"), displayName);
        m.cloudResults = ioFrom(j.at("cloud_results"), displayName);
        m.resultsAt = j.at("results_at").get<std::string>();
        m.resultsEncoding = j.at("results_encoding").get<std::string>();
        m.maxFrameBytes = j.at("max_frame_bytes").get<uint32_t>();
        const json& p = j.at("predicted");
        m.predicted = {p.at("edge_ms").get<double>(),        p.at("transmit_ms").get<double>(),
                       p.at("cloud_ms").get<double>(),       p.at("results_ms").get<double>(),
                       p.at("total_ms").get<double>(),       p.at("edge_origin").get<std::string>(),
                       p.at("cloud_origin").get<std::string>(), p.at("uplink_bps").get<double>(),
                       p.at("downlink_bps").get<double>()};
        if (!j.at("accuracy").is_null()) {
            m.accuracyDrop = j.at("accuracy").at("drop").get<double>();
            m.metric = j.at("accuracy").at("metric").get<std::string>();
        }
        m.quantizedWeights = j.value("quantized_weights", 0);
        m.quantizedActivations = j.value("quantized_activations", 0);
        return m;
    } catch (const Error&) {
        throw;
    } catch (const std::exception& e) {
        throw Error(displayName + ": malformed manifest (" + e.what() + ")");
    }
}

Manifest loadManifest(const std::string& path) { return parseManifest(readWholeFile(path), path); }

}  // namespace autosplit::deploy
