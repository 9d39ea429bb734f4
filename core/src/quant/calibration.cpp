#include "autosplit/quant/calibration.h"

#include "autosplit/data/tensor_io.h"
#include "autosplit/exec/executor.h"
#include "autosplit/exec/parallel.h"
#include "autosplit/util/errors.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <thread>
#include <unistd.h>

namespace fs = std::filesystem;

namespace autosplit {

int ErrorTable::bitsIndex(int b) const {
    for (size_t i = 0; i < bits.size(); ++i)
        if (bits[i] == b) return static_cast<int>(i);
    return -1;
}

// ---------------------------------------------------------------- JSON

std::string errorTableToJson(const ErrorTable& t) {
    using nlohmann::json;
    json j;
    j["format"] = "autosplit-error-table";
    j["version"] = 1;
    j["bits"] = t.bits;
    j["clip"] = t.clip;
    j["samples"] = t.samples;
    j["data"] = t.dataDescription;
    j["synthetic"] = t.synthetic;
    j["modelHash"] = t.modelHash;
    j["dataHash"] = t.dataHash;
    j["seconds"] = t.seconds;
    j["errorKind"] = "mse";
    json rows = json::array();
    for (const auto& r : t.rows) {
        json jr;
        jr["node"] = r.node;
        jr["name"] = r.name;
        jr["op"] = r.op;
        jr["weightTensor"] = r.weightTensor;
        jr["weightElements"] = r.weightElements;
        jr["activationElements"] = r.activationElements;
        jr["unsignedActivation"] = r.unsignedActivation;
        jr["weightMse"] = r.weightMse;
        jr["activationMse"] = r.activationMse;
        json ps = json::array();
        for (const auto& p : r.activationParams)
            ps.push_back({{"scale", p.scale}, {"zeroPoint", p.zeroPoint}, {"qmin", p.qmin}, {"qmax", p.qmax}});
        jr["activationParams"] = ps;
        rows.push_back(std::move(jr));
    }
    j["rows"] = std::move(rows);
    return j.dump(1);
}

ErrorTable errorTableFromJson(const std::string& text) {
    try {
        const auto j = nlohmann::json::parse(text);
        if (j.at("format") != "autosplit-error-table" || j.at("version") != 1) throw Error("not an error table (format/version)");
        ErrorTable t;
        t.bits = j.at("bits").get<std::vector<int>>();
        t.clip = j.at("clip");
        t.samples = j.at("samples");
        t.dataDescription = j.at("data");
        t.synthetic = j.at("synthetic");
        t.modelHash = j.at("modelHash");
        t.dataHash = j.at("dataHash");
        t.seconds = j.at("seconds");
        for (const auto& jr : j.at("rows")) {
            ErrorTable::Row r;
            r.node = jr.at("node");
            r.name = jr.at("name");
            r.op = jr.at("op");
            r.weightTensor = jr.at("weightTensor");
            r.weightElements = jr.at("weightElements");
            r.activationElements = jr.at("activationElements");
            r.unsignedActivation = jr.at("unsignedActivation");
            r.weightMse = jr.at("weightMse").get<std::vector<double>>();
            r.activationMse = jr.at("activationMse").get<std::vector<double>>();
            for (const auto& p : jr.at("activationParams")) {
                QuantParams q;
                q.scale = p.at("scale");
                q.zeroPoint = p.at("zeroPoint");
                q.qmin = p.at("qmin");
                q.qmax = p.at("qmax");
                r.activationParams.push_back(q);
            }
            if (r.weightMse.size() != t.bits.size() || r.activationMse.size() != t.bits.size() ||
                r.activationParams.size() != t.bits.size())
                throw Error("row '" + r.name + "' does not have one value per bit width");
            t.rows.push_back(std::move(r));
        }
        return t;
    } catch (const nlohmann::json::exception& e) {
        throw Error(std::string("malformed error table: ") + e.what());
    }
}

std::string defaultCacheDir() {
    if (const char* e = std::getenv("AUTOSPLIT_CACHE"); e && *e) return e;
    if (const char* x = std::getenv("XDG_CACHE_HOME"); x && *x) return std::string(x) + "/autosplit";
    if (const char* h = std::getenv("HOME"); h && *h) return std::string(h) + "/.cache/autosplit";
    return ".autosplit-cache";
}

// ---------------------------------------------------------------- calibrate

namespace {

std::string cacheFile(const std::string& dir, const std::string& model, const std::string& data, const CalibrationOptions& o) {
    std::string b;
    for (int x : o.bits) b += std::to_string(x) + "_";
    std::string name = model + "-" + data + "-" + clipMethodName(o.quant.clip) + "-" + b + "n" + std::to_string(o.samplesPerTensor);
    if (o.quant.clip == ClipMethod::Percentile) name += "-p" + std::to_string(o.quant.percentile);
    return dir + "/errors-" + name + ".json";
}

}  // namespace

ErrorTable calibrate(const Graph& g, const Dataset& data, const CalibrationOptions& o) {
    if (data.samples.empty()) throw Error("the calibration set is empty");
    for (int b : o.bits)
        if (!isSupportedBits(b)) throw Error("bit width " + std::to_string(b) + " is not one of 2, 4, 6, 8, 16");
    const auto t0 = std::chrono::steady_clock::now();
    const std::string modelHash = graphHash(g);
    const std::string dataHash = data.hash.empty() ? hashSamples(data.samples) : data.hash;
    std::string cachePath;
    if (!o.cacheDir.empty()) {
        cachePath = cacheFile(o.cacheDir, modelHash, dataHash, o);
        std::ifstream f(cachePath, std::ios::binary);
        if (f) {
            std::ostringstream s;
            s << f.rdbuf();
            try {
                ErrorTable t = errorTableFromJson(s.str());
                if (t.modelHash == modelHash && t.dataHash == dataHash && t.rows.size() == g.nodes.size()) {
                    t.fromCache = true;
                    return t;
                }
            } catch (const Error&) {
                // A damaged cache entry is recomputed and replaced.
            }
        }
    }
    const int threads = o.threads > 0 ? o.threads : std::max(1, static_cast<int>(std::thread::hardware_concurrency()));
    for (size_t i = 0; i < data.samples.size(); ++i) validateSample(g, data.samples[i], "calibration input " + std::to_string(i));

    ErrorTable table;
    table.bits = o.bits;
    table.clip = clipMethodName(o.quant.clip);
    table.samples = static_cast<int>(data.samples.size());
    table.dataDescription = data.description;
    table.synthetic = data.synthetic;
    table.modelHash = modelHash;
    table.dataHash = dataHash;
    table.rows.resize(g.nodes.size());
    for (size_t i = 0; i < g.nodes.size(); ++i) {
        auto& r = table.rows[i];
        const Node& n = g.nodes[i];
        r.node = static_cast<int>(i);
        r.name = n.name;
        r.op = n.op;
        r.weightTensor = quantizedWeightTensor(g, n);
        r.weightElements = r.weightTensor >= 0 ? g.tensors[r.weightTensor].data->elementCount() : 0;
        r.unsignedActivation = producesNonNegative(n);
    }

    // Activations: run the float model, keep a strided subsample of every node's output 0.
    ExecutorOptions eo;
    eo.threads = threads;
    Executor ex(g, eo);
    std::vector<std::vector<float>> pooled(g.nodes.size());
    RunHooks hooks;
    hooks.cancel = o.cancel;
    hooks.onValue = [&](int node, int tensor, TensorData& v) {
        if (node < 0 || g.nodes[node].outputs.empty() || g.nodes[node].outputs[0] != tensor || !v.isFloat()) return;
        const int64_t n = static_cast<int64_t>(v.floats.size());
        table.rows[node].activationElements = n;
        const int64_t step = std::max<int64_t>(1, (n + o.samplesPerTensor - 1) / o.samplesPerTensor);
        auto& p = pooled[node];
        for (int64_t k = 0; k < n; k += step) p.push_back(v.floats[k]);
    };
    for (size_t s = 0; s < data.samples.size(); ++s) {
        ex.run(data.samples[s], hooks);
        if (o.progress) o.progress(static_cast<int>(s + 1), static_cast<int>(data.samples.size()));
    }

    // Per node and bits: weight MSE over the whole tensor, activation parameters + MSE on the pool.
    parallelFor(ex, static_cast<int>(g.nodes.size()), [&](int i) {
        auto& r = table.rows[i];
        const Node& n = g.nodes[i];
        for (int b : o.bits) {
            double wm = 0;
            if (r.weightTensor >= 0) {
                const TensorData& w = *g.tensors[r.weightTensor].data;
                wm = weightQuantizationMse(w, weightChannelAxis(n, w, 1), b, o.quant);
            }
            r.weightMse.push_back(wm);
            const auto& p = pooled[i];
            QuantParams qp;
            double am = 0;
            if (!p.empty() && b != 16) {
                qp = activationParams(p.data(), static_cast<int64_t>(p.size()), b, r.unsignedActivation, o.quant);
                am = quantizationMse(p.data(), static_cast<int64_t>(p.size()), qp);
            } else if (!p.empty()) {
                TensorData t;
                t.shape = {static_cast<int64_t>(p.size())};
                t.floats = p;
                am = activationQuantizationMse(t, 16, false, o.quant);
                qp.scale = 0.f;  // marks float16
            }
            r.activationMse.push_back(am);
            r.activationParams.push_back(qp);
        }
    }, o.cancel);
    table.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();

    if (!cachePath.empty()) {
        std::error_code ec;
        fs::create_directories(o.cacheDir, ec);
        // Unique temp name + rename: readers never see a partial file.
        const std::string tmp = cachePath + ".tmp" + std::to_string(::getpid()) + "-" +
                                std::to_string(std::hash<std::thread::id>{}(std::this_thread::get_id()));
        {
            std::ofstream f(tmp, std::ios::binary | std::ios::trunc);
            if (f) f << errorTableToJson(table);
            if (!f) {
                fs::remove(tmp, ec);
                return table;  // an unwritable cache is not an error; the table is still valid
            }
        }
        fs::rename(tmp, cachePath, ec);
        if (ec) fs::remove(tmp, ec);
    }
    return table;
}

}  // namespace autosplit
