#include "autosplit/data/dataset.h"

#include "autosplit/data/tensor_io.h"
#include "autosplit/util/errors.h"
#include "autosplit/util/each_index.h"
#include "autosplit/util/finite_scan.h"
#include "util/hasher.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <random>

namespace fs = std::filesystem;

namespace autosplit {

void validateSample(const Graph& g, const std::vector<TensorData>& s, const std::string& what) {
    if (s.size() != g.inputs.size())
        throw Error(what + ": " + std::to_string(s.size()) + " tensors for a model with " + std::to_string(g.inputs.size()) +
                    " inputs");
    for (size_t i = 0; i < g.inputs.size(); ++i) {
        const Tensor& t = g.tensors[g.inputs[i]];
        const TensorData& v = s[i];
        if (isFloating(t.dtype) != v.isFloat())
            throw Error(what + ": input '" + t.name + "' must be " + dtypeName(t.dtype) + ", the file holds " + dtypeName(v.dtype));
        bool ok = t.shape.size() == v.shape.size();
        for (size_t d = 0; ok && d < t.shape.size(); ++d) ok = t.shape[d] < 0 || t.shape[d] == v.shape[d];
        if (!ok) {
            std::string want, got;
            for (auto d : t.shape) want += (want.empty() ? "" : "x") + (d < 0 ? std::string("?") : std::to_string(d));
            for (auto d : v.shape) got += (got.empty() ? "" : "x") + std::to_string(d);
            throw Error(what + ": shape " + got + " does not match input '" + t.name + "' (" + want + ")");
        }
        if (const size_t k = firstNonFinite(v.floats.data(), v.floats.size()); k < v.floats.size())
            throw Error(what + ": " + (std::isnan(v.floats[k]) ? "NaN" : "Inf") + " at element " + std::to_string(k));
    }
}

uint64_t hashSample(const std::vector<TensorData>& sample) {
    Hasher h;
    h.i64(static_cast<int64_t>(sample.size()));
    for (const auto& t : sample) h.tensor(t);
    return h.h;
}

std::string combineSampleHashes(const std::vector<uint64_t>& sampleHashes) {
    Hasher h;
    h.str("samples");
    h.i64(static_cast<int64_t>(sampleHashes.size()));
    for (uint64_t v : sampleHashes) h.bytes(&v, sizeof v);
    return h.hex();
}

std::string hashSamples(const std::vector<std::vector<TensorData>>& samples) {
    std::vector<uint64_t> hashes(samples.size());
    eachIndexOnEveryCore(samples.size(), [&](size_t i) { hashes[i] = hashSample(samples[i]); });
    return combineSampleHashes(hashes);
}


Dataset syntheticDataset(const Graph& g, int count, uint32_t seed) {
    if (count < 1) throw Error("synthetic calibration needs at least one input");
    Dataset set;
    std::mt19937 rng(seed);
    std::normal_distribution<float> dist(0.f, 1.f);
    for (int k = 0; k < count; ++k) {
        std::vector<TensorData> s;
        for (int id : g.inputs) {
            const Tensor& t = g.tensors[id];
            if (!t.shapeKnown) throw Error("input '" + t.name + "' has unknown dimensions; bind them to use synthetic data");
            if (!isFloating(t.dtype)) throw Error("input '" + t.name + "' is not float; synthetic data needs float inputs");
            TensorData v;
            v.dtype = t.dtype;
            v.shape = t.shape;
            v.floats.resize(static_cast<size_t>(v.elementCount()));
            for (float& x : v.floats) x = dist(rng);
            s.push_back(std::move(v));
        }
        set.samples.push_back(std::move(s));
    }
    set.synthetic = true;
    set.description = std::to_string(count) + " synthetic N(0,1) inputs (seed " + std::to_string(seed) + ")";
    set.hash = "synthetic-" + std::to_string(count) + "-" + std::to_string(seed);
    return set;
}

Dataset loadTensorFolder(const Graph& g, const std::string& dir) {
    std::error_code ec;
    if (!fs::is_directory(dir, ec)) throw Error("calibration folder '" + dir + "' does not exist");
    if (g.inputs.size() != 1)
        throw Error("tensor-file calibration needs a model with one input, this one has " + std::to_string(g.inputs.size()));
    std::vector<fs::path> files;
    for (const auto& e : fs::directory_iterator(dir, ec)) {
        const auto ext = e.path().extension().string();
        if (e.is_regular_file() && (ext == ".pb" || ext == ".npy")) files.push_back(e.path());
    }
    if (files.empty()) throw Error("calibration folder '" + dir + "' holds no .pb or .npy tensor files");
    std::sort(files.begin(), files.end());
    Dataset set;
    for (const auto& f : files) {
        std::vector<TensorData> s;
        s.push_back(readTensorFile(f.string()));
        validateSample(g, s, f.string());
        set.sampleHashes.push_back(hashSample(s));
        set.samples.push_back(std::move(s));
        set.sampleNames.push_back(f.filename().string());
    }
    set.description = dir + ": " + std::to_string(files.size()) + " tensor files";
    set.hash = combineSampleHashes(set.sampleHashes);
    return set;
}

HeldOutSplit splitHeldOut(Dataset d, int calibration, int measurement, uint32_t seed) {
    const int n = static_cast<int>(d.samples.size());
    if (n < 2)
        throw Error("held-out measurement needs at least 2 samples (one to calibrate, one to measure); " + d.description +
                    " has " + std::to_string(n));
    if (calibration <= 0 && measurement <= 0) {
        calibration = std::min(64, n / 2);
        measurement = n - calibration;
    } else if (calibration <= 0) {
        calibration = std::min(64, n - measurement);
    } else if (measurement <= 0) {
        measurement = n - calibration;
    }
    if (calibration < 1 || measurement < 1 || calibration + measurement > n)
        throw Error(std::to_string(calibration) + " calibration + " + std::to_string(measurement) +
                    " measurement samples do not fit " + d.description + " (" + std::to_string(n) + " samples)");
    std::vector<int> order(static_cast<size_t>(n));
    for (int i = 0; i < n; ++i) order[static_cast<size_t>(i)] = i;
    std::mt19937 rng(seed);
    for (int i = n - 1; i > 0; --i) std::swap(order[static_cast<size_t>(i)], order[std::uniform_int_distribution<size_t>(0, size_t(i))(rng)]);
    auto take = [&](int first, int count, const char* what) {
        std::vector<int> idx(order.begin() + first, order.begin() + first + count);
        std::sort(idx.begin(), idx.end());  // file order within a part
        Dataset part;
        part.synthetic = d.synthetic;
        part.sensorGrid = d.sensorGrid;
        const bool hashed = d.sampleHashes.size() == d.samples.size();
        for (int i : idx) {
            part.samples.push_back(std::move(d.samples[static_cast<size_t>(i)]));  // each sample goes to one part
            if (!d.sampleNames.empty()) part.sampleNames.push_back(d.sampleNames[static_cast<size_t>(i)]);
            if (hashed) part.sampleHashes.push_back(d.sampleHashes[static_cast<size_t>(i)]);
        }
        part.description = d.description + ", " + what + " " + std::to_string(count) + " of " + std::to_string(n);
        part.hash = hashed ? combineSampleHashes(part.sampleHashes) : hashSamples(part.samples);
        return part;
    };
    HeldOutSplit s;
    s.calibration = take(0, calibration, "calibration");
    s.measurement = take(calibration, measurement, "held-out");
    return s;
}

}  // namespace autosplit
