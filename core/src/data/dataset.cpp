#include "autosplit/data/dataset.h"

#include "autosplit/data/tensor_io.h"
#include "autosplit/util/errors.h"
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
        for (size_t k = 0; k < v.floats.size(); ++k)
            if (!std::isfinite(v.floats[k]))
                throw Error(what + ": " + (std::isnan(v.floats[k]) ? "NaN" : "Inf") + " at element " + std::to_string(k));
    }
}

std::string hashSamples(const std::vector<std::vector<TensorData>>& samples) {
    Hasher h;
    for (const auto& s : samples)
        for (const auto& t : s) h.tensor(t);
    return h.hex();
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
        set.samples.push_back(std::move(s));
        set.sampleNames.push_back(f.filename().string());
    }
    set.description = dir + ": " + std::to_string(files.size()) + " tensor files";
    set.hash = hashSamples(set.samples);
    return set;
}

}  // namespace autosplit
