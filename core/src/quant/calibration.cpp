#include "autosplit/quant/calibration.h"

#include "autosplit/data/tensor_io.h"
#include "autosplit/exec/executor.h"
#include "autosplit/exec/parallel.h"
#include "autosplit/quant/gptq.h"
#include "autosplit/util/errors.h"
#include "autosplit/util/in_order.h"
#include "autosplit/util/lane_sums.h"

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
#include <unordered_map>
#include <unistd.h>

namespace fs = std::filesystem;

namespace autosplit {

const char* errorMeasureName(ErrorMeasure m) {
    switch (m) {
    case ErrorMeasure::Relative: return "nsr-diagonal";
    case ErrorMeasure::RelativeGptq: return "nsr-gptq";
    case ErrorMeasure::RawMse: return "mse";
    }
    return "nsr-diagonal";
}

ErrorMeasure parseErrorMeasure(const std::string& s) {
    for (ErrorMeasure m : {ErrorMeasure::Relative, ErrorMeasure::RelativeGptq, ErrorMeasure::RawMse})
        if (s == errorMeasureName(m)) return m;
    throw Error("unknown error measure '" + s + "' (nsr-diagonal, nsr-gptq, mse)");
}

std::string errorKindName(ErrorMeasure m, SignalScale s) {
    switch (m) {
    case ErrorMeasure::Relative: return s == SignalScale::Variance ? "nsr-var-diagonal" : "nsr-diagonal";
    case ErrorMeasure::RelativeGptq: return s == SignalScale::Variance ? "nsr-var-gptq" : "nsr-gptq";
    case ErrorMeasure::RawMse: return "mse";
    }
    return "nsr-var-diagonal";
}

std::pair<ErrorMeasure, SignalScale> parseErrorKind(const std::string& kind) {
    for (ErrorMeasure m : {ErrorMeasure::Relative, ErrorMeasure::RelativeGptq, ErrorMeasure::RawMse})
        for (SignalScale s : {SignalScale::Variance, SignalScale::Energy})
            if (kind == errorKindName(m, s)) return {m, s};
    throw Error("unknown error kind '" + kind + "' (nsr-var-diagonal, nsr-var-gptq, nsr-diagonal, nsr-gptq, mse)");
}

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
    // Version 2: errorKind says what D_w / D_a measure (version 1 tables are raw MSEs).
    // Version 3: signalEnergy per row; parameters and D_a from a stratified random subsample.
    j["version"] = 3;
    j["bits"] = t.bits;
    j["clip"] = t.clip;
    j["samples"] = t.samples;
    j["data"] = t.dataDescription;
    j["synthetic"] = t.synthetic;
    j["modelHash"] = t.modelHash;
    j["dataHash"] = t.dataHash;
    j["seconds"] = t.seconds;
    j["errorKind"] = t.errorKind;
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
        jr["outputEnergy"] = r.outputEnergy;
        jr["signalEnergy"] = r.signalEnergy;
        jr["sensitivity"] = r.sensitivity;
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
        if (j.at("format") != "autosplit-error-table") throw Error("not an error table (format)");
        const int version = j.at("version");
        if (version < 1 || version > 3) throw Error("error table of unknown version " + std::to_string(version));
        ErrorTable t;
        t.errorKind = version == 1 ? std::string("mse") : j.at("errorKind").get<std::string>();
        parseErrorKind(t.errorKind);
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
            if (version >= 2) {
                r.outputEnergy = jr.at("outputEnergy");
                r.sensitivity = jr.at("sensitivity");
                r.signalEnergy = version >= 3 ? jr.at("signalEnergy").get<double>() : r.outputEnergy;
            }
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

constexpr int64_t kVariancePositions = 1024;

uint64_t splitmix64(uint64_t& state) {
    uint64_t z = (state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

std::string cacheFile(const std::string& dir, const std::string& model, const std::string& data, const CalibrationOptions& o) {
    std::string b;
    for (int x : o.bits) b += std::to_string(x) + "_";
    std::string name = model + "-" + data + "-" + clipMethodName(o.quant.clip) + "-" + b + "n" + std::to_string(o.samplesPerTensor);
    if (o.quant.clip == ClipMethod::Percentile) name += "-p" + std::to_string(o.quant.percentile);
    // Format version and error kind in the name: a table of another meaning is never picked up.
    name += "-v3-" + errorKindName(o.measure, o.signal);
    if (o.measure == ErrorMeasure::RelativeGptq) name += "-r" + std::to_string(o.gptqMaxRowLength);
    if (o.measure != ErrorMeasure::RawMse && o.sensitivitySamples > 0) name += "-s" + std::to_string(o.sensitivitySamples);
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
                if (t.modelHash == modelHash && t.dataHash == dataHash && t.rows.size() == g.nodes.size() &&
                    t.errorKind == errorKindName(o.measure, o.signal)) {
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
    table.errorKind = errorKindName(o.measure, o.signal);
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
    const bool relative = o.measure != ErrorMeasure::RawMse;

    // Input statistics of the weight layers for the output-domain weight error: E[x] and E[x^2]
    // of every input vector component (LayerInputMoments of the inputs and of their squares).
    std::vector<std::unique_ptr<LayerInputMoments>> inMean(g.nodes.size()), inSquare(g.nodes.size());
    std::unordered_map<int, std::vector<int>> readers;  // input tensor -> weight layers reading it
    if (relative)
        for (size_t i = 0; i < g.nodes.size(); ++i) {
            if (table.rows[i].weightTensor < 0) continue;
            inMean[i] = LayerInputMoments::meansForNode(g, static_cast<int>(i));
            if (!inMean[i]) continue;
            inSquare[i] = LayerInputMoments::meansForNode(g, static_cast<int>(i));
            readers[g.nodes[i].inputs[0]].push_back(static_cast<int>(i));
        }

    // Activations: run the float model, keep a stratified random subsample of every node's
    // output 0, the energy of the whole output and, for the signal variance, the sums of x and x^2
    // at fixed positions.
    ExecutorOptions eo;
    eo.threads = threads;
    Executor ex(g, eo);
    ExecutorOptions one;
    one.threads = 1;
    const Executor serial(g, one);
    std::vector<std::vector<float>> pooled(g.nodes.size());
    std::vector<double> energySum(g.nodes.size(), 0.0);
    std::vector<int64_t> energyCount(g.nodes.size(), 0);
    // Input-dependent energy: at fixed stratified positions of each output, the variance over
    // the calibration samples (sums of x and x^2 per position).
    std::vector<int64_t> varElements(g.nodes.size(), -1);  // the output's size on the first sample
    std::vector<char> varActive(g.nodes.size(), 1);         // cleared when an output changes size
    std::vector<std::vector<double>> varSum(g.nodes.size()), varSquare(g.nodes.size());
    const bool useVariance = relative && o.signal == SignalScale::Variance && data.samples.size() >= 2;

    // What one sample contributes, kept apart and merged in sample order: the merged sums are
    // those of a serial pass over the samples, however many run at once.
    struct SampleStats {
        std::vector<std::vector<float>> pooled, atPositions;  // per node
        std::vector<double> energy;
        std::vector<int64_t> elements;  // per node, -1: not produced
        std::vector<std::unique_ptr<LayerInputMoments>> mean, square;
    };
    auto outputStatistics = [&](SampleStats& st, int sample, int node, const TensorData& v) {
        const int64_t n = static_cast<int64_t>(v.floats.size());
        st.elements[static_cast<size_t>(node)] = n;
        const int64_t step = std::max<int64_t>(1, (n + o.samplesPerTensor - 1) / o.samplesPerTensor);
        auto& p = st.pooled[static_cast<size_t>(node)];
        // One value at a seeded random offset in each window of `step` (stratified): a fixed
        // stride aliases with the layout (a [1, 40, 120] tensor at stride 2 showed the range fit
        // and D_a only its even channels, and the MSE search's own stride over the pool then only
        // every fourth, missing the transformer's outlier channels).
        uint64_t state = (static_cast<uint64_t>(node) << 32) ^ static_cast<uint64_t>(sample) ^ 0x9e3779b97f4a7c15ull;
        for (int64_t k = 0; k < n; k += step) {
            const int64_t at = step == 1 ? k : std::min(n - 1, k + static_cast<int64_t>(splitmix64(state) % static_cast<uint64_t>(step)));
            p.push_back(v.floats[static_cast<size_t>(at)]);
        }
        if (useVariance) {
            // The positions depend only on the node and the output's size.
            const int64_t vstep = std::max<int64_t>(1, (n + kVariancePositions - 1) / kVariancePositions);
            uint64_t vs = (static_cast<uint64_t>(node) << 32) ^ 0x5851f42d4c957f2dull;
            auto& at = st.atPositions[static_cast<size_t>(node)];
            for (int64_t k = 0; k < n; k += vstep)
                at.push_back(v.floats[static_cast<size_t>(vstep == 1 ? k : std::min(n - 1, k + static_cast<int64_t>(splitmix64(vs) % static_cast<uint64_t>(vstep))))]);
        }
        st.energy[static_cast<size_t>(node)] = sumOfSquares(v.floats.data(), n);
    };
    auto hooksFor = [&](SampleStats& st, int sample) {
        st.pooled.resize(g.nodes.size());
        st.atPositions.resize(g.nodes.size());
        st.energy.assign(g.nodes.size(), 0.0);
        st.elements.assign(g.nodes.size(), -1);
        st.mean.resize(g.nodes.size());
        st.square.resize(g.nodes.size());
        for (const auto& [tensor, layers] : readers)
            for (int reader : layers) {
                st.mean[static_cast<size_t>(reader)] = LayerInputMoments::meansForNode(g, reader);
                st.square[static_cast<size_t>(reader)] = LayerInputMoments::meansForNode(g, reader);
            }
        RunHooks hooks;
        hooks.cancel = o.cancel;
        // What one value feeds is split into tasks that each own their accumulators (the output's
        // statistics; each reader's E[x] and E[x^2]); on the executor's pool when the sample runs
        // alone, on the sample's own thread when samples run in parallel.
        hooks.onValue = [&, sample, stats = &st](int node, int tensor, TensorData& v) {
            SampleStats& mine = *stats;
            if (!v.isFloat()) return;
            const bool own = node >= 0 && !g.nodes[node].outputs.empty() && g.nodes[node].outputs[0] == tensor;
            const auto it = readers.find(tensor);
            const int readerTasks = it == readers.end() ? 0 : 2 * static_cast<int>(it->second.size());
            if (readerTasks == 0) {
                if (own) outputStatistics(mine, sample, node, v);
                return;
            }
            parallelFor(ex, readerTasks + (own ? 1 : 0), [&](int task) {
                if (task == readerTasks) return outputStatistics(mine, sample, node, v);
                const size_t reader = static_cast<size_t>(it->second[static_cast<size_t>(task / 2)]);
                if (task % 2 == 0)
                    mine.mean[reader]->add(v);
                else
                    mine.square[reader]->addSquares(v);
            });
        };
        return hooks;
    };
    int merged = 0;  // samples merged so far
    auto merge = [&](SampleStats& st) {
        for (size_t i = 0; i < g.nodes.size(); ++i) {
            if (st.elements[i] < 0) continue;
            table.rows[i].activationElements = st.elements[i];
            pooled[i].insert(pooled[i].end(), st.pooled[i].begin(), st.pooled[i].end());
            energySum[i] += st.energy[i];
            energyCount[i] += st.elements[i];
            if (!useVariance || !varActive[i]) continue;
            const auto& at = st.atPositions[i];
            if (varElements[i] < 0) {
                varElements[i] = st.elements[i];
                varSum[i].assign(at.size(), 0.0);
                varSquare[i].assign(at.size(), 0.0);
            } else if (varElements[i] != st.elements[i]) {
                varActive[i] = 0;  // the output changed size between samples: no per-position variance
                continue;
            }
            for (size_t k = 0; k < at.size(); ++k) {
                const double x = at[k];
                varSum[i][k] += x;
                varSquare[i][k] += x * x;
            }
        }
        for (size_t i = 0; i < g.nodes.size(); ++i) {
            if (st.mean[i]) inMean[i]->merge(*st.mean[i]);
            if (st.square[i]) inSquare[i]->merge(*st.square[i]);
        }
        if (++merged == o.inputMeansSamples && relative) {
            table.inputMeans.resize(g.nodes.size());
            for (size_t i = 0; i < g.nodes.size(); ++i)
                if (inMean[i]) table.inputMeans[i] = inMean[i]->mean();
            table.inputMeansSamples = merged;
        }
    };
    const size_t probeSamples = relative ? std::min(data.samples.size(), static_cast<size_t>(std::max(0, o.sensitivitySamples))) : 0;
    std::vector<std::vector<TensorData>> reference(probeSamples);  // float outputs of the probe samples
    const int total = static_cast<int>(data.samples.size());
    auto runSample = [&](int s, const Executor& on, SampleStats& st) {
        RunResult res = on.run(data.samples[static_cast<size_t>(s)], hooksFor(st, s));
        if (static_cast<size_t>(s) < probeSamples) reference[static_cast<size_t>(s)] = std::move(res.outputs);
    };
    {
        // Whole samples in parallel on single-threaded executors (the same values for any thread
        // count); each finished sample waits for its predecessors and is merged in order (the
        // progress report counts merged samples).
        InOrder<std::unique_ptr<SampleStats>> inOrder;
        forEachSample(ex, serial, total, [&](int s, const Executor& on) {
            auto st = std::make_unique<SampleStats>();
            runSample(s, on, *st);
            inOrder.put(s, std::move(st), [&](int i, std::unique_ptr<SampleStats>& done) {
                merge(*done);
                if (o.progress) o.progress(i + 1, total);
            });
        }, o.cancel);
    }
    table.floatPassSeconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    for (size_t i = 0; i < g.nodes.size(); ++i)
        if (energyCount[i] > 0) table.rows[i].outputEnergy = energySum[i] / static_cast<double>(energyCount[i]);
    const double samplesRun = static_cast<double>(data.samples.size());
    for (size_t i = 0; i < g.nodes.size(); ++i) {
        auto& r = table.rows[i];
        r.signalEnergy = r.outputEnergy;
        if (!useVariance || !varActive[i] || varSum[i].empty()) continue;
        double var = 0;
        for (size_t k = 0; k < varSum[i].size(); ++k) {
            const double m = varSum[i][k] / samplesRun;
            var += std::max(0.0, varSquare[i][k] / samplesRun - m * m);
        }
        var = var / static_cast<double>(varSum[i].size()) * samplesRun / (samplesRun - 1);
        // An output that does not depend on the input keeps its energy as the scale.
        if (var > 1e-9 * r.outputEnergy) r.signalEnergy = var;
    }

    // RelativeGptq: output error of GPTQ rounding per layer and bits (2..8), layers in batches
    // whose second moments fit gptqMemoryBytes, one float pass over the set per batch.
    std::vector<std::vector<double>> gptqError(g.nodes.size());  // per node, per bits index; < 0: none
    if (o.measure == ErrorMeasure::RelativeGptq) {
        std::vector<int> gptqBits;
        for (int b : o.bits)
            if (b >= 2 && b <= 8) gptqBits.push_back(b);
        std::vector<int> todo;
        for (size_t i = 0; i < g.nodes.size(); ++i) {
            const int64_t len = inMean[i] ? LayerInputMoments::rowLengthFor(g, static_cast<int>(i)) : 0;
            if (len > 0 && (o.gptqMaxRowLength <= 0 || len <= o.gptqMaxRowLength) && !gptqBits.empty())
                todo.push_back(static_cast<int>(i));
        }
        for (size_t first = 0; first < todo.size();) {
            std::vector<int> batch;
            int64_t bytes = 0;
            while (first < todo.size() &&
                   (batch.empty() || bytes + LayerInputMoments::bytesFor(g, todo[first]) <= o.gptqMemoryBytes)) {
                bytes += LayerInputMoments::bytesFor(g, todo[first]);
                batch.push_back(todo[first++]);
            }
            std::vector<std::unique_ptr<LayerInputMoments>> moments(batch.size());
            std::unordered_map<int, std::vector<size_t>> batchReaders;
            for (size_t k = 0; k < batch.size(); ++k) {
                moments[k] = LayerInputMoments::forNode(g, batch[k]);
                if (moments[k]) batchReaders[g.nodes[static_cast<size_t>(batch[k])].inputs[0]].push_back(k);
            }
            MomentScratch scratch;
            RunHooks mh;
            mh.cancel = o.cancel;
            mh.lastNode = batch.back();
            mh.onValue = [&](int, int tensor, TensorData& v) {
                auto it = batchReaders.find(tensor);
                if (it == batchReaders.end() || !v.isFloat()) return;
                for (size_t k : it->second) moments[k]->add(v, &ex, &scratch);
            };
            // Each sample on the single-threaded executor (its activations, and so H, the same on
            // any number of cores); the R x R sums of each chunk still run on the pool.
            for (const auto& sample : data.samples) serial.run(sample, mh);
            parallelFor(ex, static_cast<int>(batch.size()), [&](int t) {
                const size_t k = static_cast<size_t>(t);
                if (!moments[k] || moments[k]->vectors() == 0) return;
                const int node = batch[k];
                const Node& n = g.nodes[static_cast<size_t>(node)];
                const TensorData& w = *g.tensors[static_cast<size_t>(table.rows[static_cast<size_t>(node)].weightTensor)].data;
                const bool centered = n.inputs.size() > 2 && n.inputs[2] >= 0;
                auto qs = gptqQuantizeWeights(g, node, w, gptqBits, o.quant, *moments[k]);
                auto& errs = gptqError[static_cast<size_t>(node)];
                errs.assign(o.bits.size(), -1.0);
                for (size_t q = 0; q < gptqBits.size(); ++q)
                    errs[static_cast<size_t>(table.bitsIndex(gptqBits[q]))] =
                        layerOutputError(g, node, w, qs[q], *moments[k], centered);
                moments[k].reset();
            }, o.cancel);
        }
    }

    // Per node and bits: D_w and D_a (see calibration.h for what they measure).
    parallelFor(ex, static_cast<int>(g.nodes.size()), [&](int i) {
        auto& r = table.rows[i];
        const Node& n = g.nodes[i];
        const double energy = r.signalEnergy;
        for (size_t bi = 0; bi < o.bits.size(); ++bi) {
            const int b = o.bits[bi];
            double wm = 0;
            if (r.weightTensor >= 0) {
                const TensorData& w = *g.tensors[r.weightTensor].data;
                const int axis = weightChannelAxis(n, w, 1);
                if (!relative) {
                    wm = weightQuantizationMse(w, axis, b, o.quant);
                } else {
                    // Output-domain error per output element, relative to the output's energy.
                    const int64_t outChannels = axis >= 0 ? std::max<int64_t>(1, w.shape[static_cast<size_t>(axis)]) : 1;
                    double out = -1;
                    if (!gptqError[static_cast<size_t>(i)].empty()) out = gptqError[static_cast<size_t>(i)][bi];
                    if (out < 0 && inMean[static_cast<size_t>(i)] && inMean[static_cast<size_t>(i)]->vectors() > 0) {
                        const TensorData wq = fakeQuantizeWeights(w, axis, b, o.quant);
                        const bool centered = n.inputs.size() > 2 && n.inputs[2] >= 0;
                        out = layerOutputErrorDiagonal(g, i, w, wq, inMean[static_cast<size_t>(i)]->mean(),
                                                       inSquare[static_cast<size_t>(i)]->mean(), centered);
                    }
                    if (out >= 0) {
                        wm = energy > 0 ? out / static_cast<double>(outChannels) / energy : 0.0;
                    } else {
                        // No input statistics (ConvTranspose, batched MatMul): the weight's own
                        // noise-to-signal ratio, which the output's equals for white inputs.
                        double w2 = sumOfSquares(w.floats.data(), static_cast<int64_t>(w.floats.size()));
                        w2 /= static_cast<double>(std::max<size_t>(1, w.floats.size()));
                        wm = w2 > 0 ? weightQuantizationMse(w, axis, b, o.quant) / w2 : 0.0;
                    }
                }
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
            if (relative) am = energy > 0 ? am / energy : 0.0;
            r.activationMse.push_back(am);
            r.activationParams.push_back(qp);
        }
    }, o.cancel);

    // Sensitivity: each node's output alone quantized at the probe width, on the probe samples.
    if (probeSamples > 0) {
        int probeIndex = 0;
        for (size_t bi = 0; bi < o.bits.size(); ++bi)
            if (o.bits[bi] != 16 && std::abs(o.bits[bi] - 6) < std::abs(o.bits[size_t(probeIndex)] - 6)) probeIndex = int(bi);
        // The graph outputs' signal over the probe samples, in the unit of the rows: elements times
        // the signal energy of the node producing the output (its E[y^2] on these samples when no
        // node row holds it).
        double refEnergy = 0;
        for (const auto& outs : reference)
            for (size_t k = 0; k < outs.size() && k < g.outputs.size(); ++k) {
                const auto& t = outs[k];
                if (!t.isFloat()) continue;
                const int p = g.tensors[static_cast<size_t>(g.outputs[k])].producer;
                if (p >= 0 && g.nodes[static_cast<size_t>(p)].outputs[0] == g.outputs[k] && table.rows[static_cast<size_t>(p)].signalEnergy > 0) {
                    refEnergy += static_cast<double>(t.floats.size()) * table.rows[static_cast<size_t>(p)].signalEnergy;
                } else {
                    refEnergy += sumOfSquares(t.floats.data(), static_cast<int64_t>(t.floats.size()));
                }
            }
        // Per probe sample one float run advances node by node; the probe of node i forks it
        // before node i (sharing the float values of nodes 0..i-1) and runs the rest with node i's
        // output quantized. The forks of a batch of nodes run in parallel.
        const int nodes = static_cast<int>(g.nodes.size());
        const size_t P = probeSamples;
        std::vector<double> localErr(static_cast<size_t>(nodes) * P, 0.0), localCount(localErr.size(), 0.0),
            outErr(localErr.size(), 0.0);
        auto probed = [&](int i) {
            const auto& r = table.rows[static_cast<size_t>(i)];
            return !g.nodes[static_cast<size_t>(i)].outputs.empty() && !pooled[static_cast<size_t>(i)].empty() &&
                   r.activationParams[static_cast<size_t>(probeIndex)].scale > 0 && refEnergy > 0;
        };
        const int batch = std::max(1, 2 * ex.threads());
        for (size_t s = 0; s < P; ++s) {
            RunHooks plain;
            plain.cancel = o.cancel;
            auto master = serial.start(data.samples[s], plain);
            for (int i0 = 0; i0 < nodes; i0 += batch) {
                std::vector<int> at;
                std::vector<std::unique_ptr<ExecutorRun>> forks;
                for (int i = i0; i < std::min(nodes, i0 + batch); ++i) {
                    if (!probed(i)) continue;
                    master->runTo(i - 1);
                    const size_t slot = static_cast<size_t>(i) * P + s;
                    const int out = g.nodes[static_cast<size_t>(i)].outputs[0];
                    const QuantParams qp = table.rows[static_cast<size_t>(i)].activationParams[static_cast<size_t>(probeIndex)];
                    RunHooks ph;
                    ph.cancel = o.cancel;
                    ph.onValue = [&localErr, &localCount, slot, i, out, qp](int node, int tensor, TensorData& v) {
                        if (node != i || tensor != out || !v.isFloat()) return;
                        for (float& x : v.floats) {
                            const float q = qp.quantize(x);
                            localErr[slot] += static_cast<double>(q - x) * (q - x);
                            localCount[slot] += 1;
                            x = q;
                        }
                    };
                    forks.push_back(master->fork(std::move(ph)));
                    at.push_back(i);
                }
                parallelFor(ex, static_cast<int>(forks.size()), [&](int k) {
                    const RunResult res = forks[static_cast<size_t>(k)]->finish();
                    forks[static_cast<size_t>(k)].reset();
                    double& e = outErr[static_cast<size_t>(at[static_cast<size_t>(k)]) * P + s];
                    for (size_t j = 0; j < res.outputs.size() && j < reference[s].size(); ++j) {
                        const auto& a = res.outputs[j].floats;
                        const auto& b = reference[s][j].floats;
                        if (!res.outputs[j].isFloat() || a.size() != b.size()) continue;
                        for (size_t q = 0; q < a.size(); ++q) e += static_cast<double>(a[q] - b[q]) * (a[q] - b[q]);
                    }
                }, o.cancel);
            }
        }
        for (int i = 0; i < nodes; ++i) {
            auto& r = table.rows[static_cast<size_t>(i)];
            double le = 0, lc = 0, oe = 0;
            for (size_t s = 0; s < P; ++s) {
                le += localErr[static_cast<size_t>(i) * P + s];
                lc += localCount[static_cast<size_t>(i) * P + s];
                oe += outErr[static_cast<size_t>(i) * P + s];
            }
            if (!probed(i) || le <= 0 || r.signalEnergy <= 0) continue;  // nothing injected: no gain to measure
            // The node's noise-to-signal ratio in the unit of its D_a (over its signal energy).
            const double gain = (oe / refEnergy) / (le / lc / r.signalEnergy);
            if (!std::isfinite(gain)) continue;
            r.sensitivity = gain;
            for (double& d : r.weightMse) d *= gain;
            for (double& d : r.activationMse) d *= gain;
        }
    }
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
