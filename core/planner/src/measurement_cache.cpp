#include "autosplit/planner/measurement_cache.h"

#include "autosplit/planner/plan_io.h"
#include "autosplit/util/errors.h"
#include "autosplit/util/file_io.h"

#include <nlohmann/json.hpp>

#include <cstdio>
#include <filesystem>
#include <sstream>

namespace autosplit::planner {

namespace {

using json = nlohmann::json;

// Bump when what a measurement means changes (the evaluator's arithmetic, the metrics, the
// interval methods): older files are then never read.
constexpr const char* kFormat = "autosplit-measurements v1";

json toJson(const AccuracyMeasurement& m) {
    json j{{"drop", m.drop},          {"metric", m.metric}, {"samples", m.samples},
           {"data", m.data},          {"low", m.low},       {"high", m.high},
           {"interval", m.intervalMethod}, {"calibration_samples", m.calibrationSamples},
           {"held_out", m.heldOut},   {"synthetic", m.synthetic}, {"set_samples", m.setSamples}};
    if (m.dropAtLeast) j["drop_at_least"] = *m.dropAtLeast;
    return j;
}

AccuracyMeasurement fromJson(const json& j) {
    AccuracyMeasurement m;
    m.drop = j.at("drop").get<double>();
    m.metric = j.at("metric").get<std::string>();
    m.samples = j.at("samples").get<int>();
    m.data = j.at("data").get<std::string>();
    m.low = j.at("low").get<double>();
    m.high = j.at("high").get<double>();
    m.intervalMethod = j.at("interval").get<std::string>();
    m.calibrationSamples = j.at("calibration_samples").get<int>();
    m.heldOut = j.at("held_out").get<bool>();
    m.synthetic = j.at("synthetic").get<bool>();
    m.setSamples = j.at("set_samples").get<int>();
    if (j.contains("drop_at_least")) m.dropAtLeast = j.at("drop_at_least").get<double>();
    return m;
}

std::string datasetHash(const Dataset& d) { return d.hash.empty() ? hashSamples(d.samples) : d.hash; }

}  // namespace

std::string measurementIdentity(const ErrorTable& table, const EvalData& data, const EvalOptions& o) {
    std::ostringstream s;
    // The evaluator's algorithm version: bump it whenever the same options measure differently
    // (2: GPTQ moments from a vector budget, stored in float; 3: each layer's GPTQ samples from a
    // nested ladder, independent of the layers sharing its pass).
    s << kFormat << "\nevaluator 3\nmodel " << table.modelHash << "\ncalibration " << table.dataHash << " " << table.clip << " "
      << table.errorKind << " samples " << table.samples << " bits";
    for (int b : table.bits) s << " " << b;
    // The activation parameters the plans are quantized with, as fitted: a calibration that fits
    // them differently under the same names measures differently.
    s << "\nactivation parameters";
    for (const auto& r : table.rows)
        for (const QuantParams& q : r.activationParams) {
            char buf[64];
            std::snprintf(buf, sizeof buf, " %a %d %d %d", double(q.scale), q.zeroPoint, q.qmin, q.qmax);
            s << buf;
        }
    s << "\nmeasurement " << datasetHash(data.inputs) << " sensor " << data.inputs.sensorGrid;
    s << "\nevaluator calibration " << (data.calibration.samples.empty() ? std::string("-") : datasetHash(data.calibration));
    s << "\nlabels";
    for (int64_t l : data.labels) s << " " << l;
    s << "\ntexts " << data.texts.size();
    for (const auto& t : data.texts) s << "\n" << t;
    s << "\ndictionary " << o.ctcDictionary.size();
    for (const auto& c : o.ctcDictionary) s << "\n" << c;
    s << "\noptions clip " << clipMethodName(o.quant.clip) << " " << o.quant.percentile << " task " << evalTaskName(o.task)
      << " map " << o.mapThreshold << " static " << o.staticActivationParams << " bias " << int(o.biasCorrection) << " "
      << o.empiricalBiasSamples << " " << o.empiricalBiasMinVectors << " " << o.empiricalBiasMemoryBytes << " rounding "
      << int(o.weightRounding) << " " << o.gptqMaxRowLength << " " << o.gptqVectorsPerRow << " " << o.gptqMinSamples
      << " scope " << int(o.activationScope);
    return sha256(s.str());
}

std::string planBitsKey(const PlanBits& plan) {
    std::string k = "s" + std::to_string(plan.splitPosition) + " i" + std::to_string(plan.inputBits) + " w";
    for (int i = 0; i <= plan.splitPosition; ++i) k += std::to_string(plan.weightAt(i, 0)) + ",";
    k += " a";
    for (int i = 0; i <= plan.splitPosition; ++i) k += std::to_string(plan.activationAt(i, 0)) + ",";
    return k;
}

MeasurementCache::MeasurementCache(const std::string& dir, std::string identity) : identity_(std::move(identity)) {
    if (dir.empty()) return;
    path_ = dir + "/measurements-" + identity_.substr(0, 32) + ".json";
    std::error_code ec;
    if (!std::filesystem::exists(path_, ec)) return;
    try {
        const json j = json::parse(readWholeFile(path_));
        if (j.at("format").get<std::string>() != kFormat || j.at("identity").get<std::string>() != identity_) return;
        for (const auto& [key, value] : j.at("plans").items()) entries_[key] = fromJson(value);
    } catch (const std::exception&) {
        entries_.clear();  // damaged: measured again and rewritten
    }
}

std::optional<AccuracyMeasurement> MeasurementCache::find(const PlanBits& plan) const {
    std::lock_guard<std::mutex> l(mutex_);
    const auto it = entries_.find(planBitsKey(plan));
    if (it == entries_.end()) return std::nullopt;
    return it->second;
}

void MeasurementCache::store(const PlanBits& plan, const AccuracyMeasurement& m) {
    std::lock_guard<std::mutex> l(mutex_);
    entries_[planBitsKey(plan)] = m;
    if (path_.empty()) return;
    json plans = json::object();
    for (const auto& [key, value] : entries_) plans[key] = toJson(value);
    const json j{{"format", kFormat}, {"identity", identity_}, {"plans", std::move(plans)}};
    try {
        std::error_code ec;
        std::filesystem::create_directories(std::filesystem::path(path_).parent_path(), ec);
        writeFileAtomically(path_, j.dump(1));
    } catch (const Error&) {
        // An unwritable cache is not an error: the measurement is kept for this session.
    }
}

size_t MeasurementCache::size() const {
    std::lock_guard<std::mutex> l(mutex_);
    return entries_.size();
}

AccuracyMeasure cachedMeasure(AccuracyMeasure inner, std::shared_ptr<MeasurementCache> cache) {
    return [inner = std::move(inner), cache = std::move(cache)](const PlanBits& plan, const CancelToken& cancel, double rejectAbove) {
        if (auto m = cache->find(plan); m && (!m->stoppedEarly() || m->certainlyAbove(rejectAbove))) return *m;
        AccuracyMeasurement m = inner(plan, cancel, rejectAbove);
        cache->store(plan, m);
        return m;
    };
}

}  // namespace autosplit::planner
