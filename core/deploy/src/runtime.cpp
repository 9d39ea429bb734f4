#include "autosplit/deploy/runtime.h"

#include "autosplit/exec/executor.h"
#include "autosplit/onnx/import.h"
#include "autosplit/passes/optimize.h"
#include "autosplit/util/errors.h"

#include <chrono>
#include <cstring>
#include <filesystem>

namespace autosplit::deploy {

namespace {

using Clock = std::chrono::steady_clock;
double msSince(Clock::time_point t0) { return std::chrono::duration<double, std::milli>(Clock::now() - t0).count(); }

Graph loadHalf(const std::filesystem::path& file) {
    Graph g = importOnnx(file.string());
    optimize(g);
    return g;
}

ElementType frameType(WireTensor::Type t) {
    switch (t) {
    case WireTensor::Type::Codes: return ElementType::Codes;
    case WireTensor::Type::Float32: return ElementType::Float32;
    case WireTensor::Type::Int64: return ElementType::Int64;
    }
    return ElementType::Codes;
}

}  // namespace

std::string exportDirOf(const std::string& path) {
    const std::filesystem::path p(path);
    if (std::filesystem::is_directory(p)) return p.string();
    if (p.filename() == "manifest.json") return p.parent_path().empty() ? std::string(".") : p.parent_path().string();
    throw Error("'" + path + "' is neither an export directory nor its manifest.json (autosplit export writes them)");
}

FrameLimits frameLimitsFor(const Manifest& m) {
    FrameLimits l;
    l.maxFrameBytes = std::max<uint32_t>(m.maxFrameBytes, 4096);
    l.maxTensors = static_cast<uint16_t>(std::min<size_t>(65535, m.transmitted.size() + m.cloudResults.size() + 2));
    return l;
}

// ---- cloud

struct CloudRuntime::Impl {
    Manifest manifest;
    Graph graph;
    std::unique_ptr<Executor> exec;
    std::vector<TensorContract> contract;
    float mapThreshold = 0.3f;
};

CloudRuntime::CloudRuntime(const std::string& exportDir, int threads, float mapThreshold) : d(std::make_unique<Impl>()) {
    const std::filesystem::path base(exportDir);
    d->manifest = loadManifest((base / "manifest.json").string());
    if (d->manifest.cloudModel.empty())
        throw Error(exportDir + ": an Edge-Only export has no cloud half to serve");
    d->graph = loadHalf(base / d->manifest.cloudModel);
    d->exec = std::make_unique<Executor>(d->graph, ExecutorOptions{threads});
    d->mapThreshold = mapThreshold;
    for (const auto& w : d->manifest.transmitted)
        d->contract.push_back({w.id, frameType(w.type), static_cast<uint8_t>(w.bits), w.shape});
    if (d->graph.inputs.size() != d->manifest.transmitted.size())
        throw Error(exportDir + ": the cloud model reads " + std::to_string(d->graph.inputs.size()) + " tensors, the manifest sends " +
                    std::to_string(d->manifest.transmitted.size()));
}

CloudRuntime::~CloudRuntime() = default;
const Manifest& CloudRuntime::manifest() const { return d->manifest; }
std::vector<TensorContract> CloudRuntime::contract() const { return d->contract; }

Frame CloudRuntime::handle(const Frame& request) const {
    if (request.type != FrameType::Request)
        throw FrameError(FrameErrorCode::BadType, std::string("expected a request, got ") + toString(request.type));
    checkFrame(request, d->manifest.planHashValue(), d->contract);
    const auto t0 = Clock::now();
    // Cloud-model inputs in manifest order (the cloud graph's inputs are the wire names).
    std::vector<TensorData> in(d->manifest.transmitted.size());
    for (const FrameTensor& t : request.tensors) {
        const WireTensor& w = d->manifest.transmitted[t.id];
        TensorData v;
        v.shape = w.shape;
        if (w.type == WireTensor::Type::Codes) {
            v.dtype = DType::UInt8;
            const std::vector<uint8_t> codes = tensorCodes(t);
            v.ints.assign(codes.begin(), codes.end());
        } else if (w.type == WireTensor::Type::Float32) {
            v.dtype = DType::Float32;
            v.floats = tensorFloats(t);
        } else {
            v.dtype = DType::Int64;
            v.ints = tensorInt64s(t);
        }
        in[t.id] = std::move(v);
    }
    const double unpackMs = msSince(t0);
    const auto t1 = Clock::now();
    std::vector<TensorData> out = d->exec->run(std::move(in)).outputs;
    const double cloudMs = msSince(t1);
    Frame reply;
    reply.type = FrameType::Reply;
    reply.planHash = request.planHash;
    reply.sequence = request.sequence;
    const std::string& enc = d->manifest.resultsEncoding;
    for (size_t k = 0; k < out.size(); ++k) {
        TensorData& r = out[k];
        const auto id = static_cast<uint16_t>(k);
        if (k == 0 && enc == "class-indices" && r.isFloat() && !r.shape.empty()) {
            const int64_t C = r.shape.back();
            std::vector<int64_t> shape(r.shape.begin(), r.shape.end() - 1), idx;
            for (size_t row = 0; C > 0 && row * static_cast<size_t>(C) < r.floats.size(); ++row) {
                const float* p = r.floats.data() + row * static_cast<size_t>(C);
                idx.push_back(std::max_element(p, p + C) - p);
            }
            reply.tensors.push_back(makeInt64Tensor(id, shape, idx));
        } else if (k == 0 && enc == "binary-map" && r.isFloat()) {
            std::vector<uint8_t> bitsOn(r.floats.size());
            for (size_t e = 0; e < r.floats.size(); ++e) bitsOn[e] = r.floats[e] > d->mapThreshold;
            reply.tensors.push_back(makeCodesTensor(id, 1, r.shape, bitsOn.data()));
        } else if (r.isFloat()) {
            reply.tensors.push_back(makeFloat32Tensor(id, r.shape, r.floats));
        } else {
            reply.tensors.push_back(makeInt64Tensor(id, r.shape, r.ints));
        }
    }
    reply.tensors.push_back(makeFloat32Tensor(kTimingTensorId, {2}, {static_cast<float>(cloudMs), static_cast<float>(unpackMs)}));
    return reply;
}

// ---- edge

struct EdgeRuntime::Impl {
    Manifest manifest;
    Graph graph;
    std::unique_ptr<Executor> exec;
    std::vector<int> wireOutput;  // per transmitted tensor: index among the edge model's outputs
    std::vector<int> resultOutput;
};

EdgeRuntime::EdgeRuntime(const std::string& exportDir, int threads) : d(std::make_unique<Impl>()) {
    const std::filesystem::path base(exportDir);
    d->manifest = loadManifest((base / "manifest.json").string());
    d->graph = loadHalf(base / d->manifest.edgeModel);
    d->exec = std::make_unique<Executor>(d->graph, ExecutorOptions{threads});
    auto outputIndex = [&](const std::string& name) {
        for (size_t k = 0; k < d->graph.outputs.size(); ++k)
            if (d->graph.tensors[static_cast<size_t>(d->graph.outputs[k])].name == name) return static_cast<int>(k);
        throw Error(exportDir + ": the edge model has no output '" + name + "' the manifest names");
    };
    for (const auto& w : d->manifest.transmitted) d->wireOutput.push_back(outputIndex(w.wireName));
    for (const auto& r : d->manifest.edgeResults) d->resultOutput.push_back(outputIndex(r.name));
}

EdgeRuntime::~EdgeRuntime() = default;
const Manifest& EdgeRuntime::manifest() const { return d->manifest; }
const Graph& EdgeRuntime::graph() const { return d->graph; }

EdgeRuntime::Request EdgeRuntime::encode(const std::vector<TensorData>& inputs, uint64_t sequence) const {
    Request r;
    const auto t0 = Clock::now();
    std::vector<TensorData> out = d->exec->run(inputs).outputs;
    r.edgeMs = msSince(t0);
    const auto t1 = Clock::now();
    r.frame.type = FrameType::Request;
    r.frame.planHash = d->manifest.planHashValue();
    r.frame.sequence = sequence;
    for (size_t k = 0; k < d->manifest.transmitted.size(); ++k) {
        const WireTensor& w = d->manifest.transmitted[k];
        const TensorData& v = out[static_cast<size_t>(d->wireOutput[k])];
        if (w.type == WireTensor::Type::Codes) {
            std::vector<uint8_t> codes(v.ints.size());
            for (size_t e = 0; e < v.ints.size(); ++e) codes[e] = static_cast<uint8_t>(v.ints[e]);
            r.frame.tensors.push_back(makeCodesTensor(w.id, w.bits, w.shape, codes.data(), w.scale, w.zeroPoint));
        } else if (w.type == WireTensor::Type::Float32) {
            r.frame.tensors.push_back(makeFloat32Tensor(w.id, w.shape, v.floats));
        } else {
            r.frame.tensors.push_back(makeInt64Tensor(w.id, w.shape, v.ints));
        }
        r.payloadBytes += static_cast<int64_t>(r.frame.tensors.back().data.size());
    }
    r.packMs = msSince(t1);
    for (int k : d->resultOutput) r.edgeResults.push_back(std::move(out[static_cast<size_t>(k)]));
    return r;
}

std::vector<TensorData> replyResults(const Frame& reply, double* cloudMs, double* unpackMs) {
    std::vector<TensorData> out;
    for (const FrameTensor& t : reply.tensors) {
        if (t.id == kTimingTensorId) {
            const std::vector<float> v = tensorFloats(t);
            if (cloudMs && !v.empty()) *cloudMs = v[0];
            if (unpackMs && v.size() > 1) *unpackMs = v[1];
            continue;
        }
        TensorData v;
        v.shape = t.shape;
        if (t.type == ElementType::Float32) {
            v.floats = tensorFloats(t);
        } else if (t.type == ElementType::Int64) {
            v.dtype = DType::Int64;
            v.ints = tensorInt64s(t);
        } else {
            for (uint8_t c : tensorCodes(t)) v.floats.push_back(static_cast<float>(c));
        }
        out.push_back(std::move(v));
    }
    return out;
}

}  // namespace autosplit::deploy
