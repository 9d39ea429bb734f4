// The two halves of an exported plan at run time (what `autosplit edge-run` and
// `autosplit cloud-serve` run): the edge model turns inputs into the transmitted codes, packed
// into a request frame (frame.h) carrying the plan hash; the cloud checks the request against the
// manifest (plan hash, tensor ids, bits, shapes), unpacks, runs the cloud model and answers with
// the results in the manifest's results encoding:
//   "tensor"         each cloud result as Float32
//   "class-indices"  output 0 as Int64 argmax over its last axis (the rest as Float32)
//   "binary-map"     output 0 as 1-bit codes of value > mapThreshold (the rest as Float32)
// plus one Float32 tensor of id kTimingTensorId: {cloud model ms, unpack ms} on the server.
// Both sides use our executor on the exported files (optimized like any model we run).
#pragma once

#include "autosplit/deploy/frame.h"
#include "autosplit/deploy/manifest.h"
#include "autosplit/ir/graph.h"

#include <memory>
#include <string>
#include <vector>

namespace autosplit::deploy {

inline constexpr uint16_t kTimingTensorId = 0xFFFF;

// An export directory, or its manifest.json: the directory.
std::string exportDirOf(const std::string& path);

// Frame limits both sides use for this export (the manifest's max_frame_bytes).
FrameLimits frameLimitsFor(const Manifest& m);

class CloudRuntime {
public:
    // Loads DIR/manifest.json and the cloud model; throws Error naming the file (Edge-Only
    // exports have no cloud to serve).
    explicit CloudRuntime(const std::string& exportDir, int threads = 1, float mapThreshold = 0.3f);
    ~CloudRuntime();
    const Manifest& manifest() const;
    std::vector<TensorContract> contract() const;
    // A request -> its reply (same sequence and plan hash). Throws FrameError (WrongPlan /
    // WrongTensors / WrongShape) for requests that do not fit the plan, Error when the model
    // fails. Thread-safe.
    Frame handle(const Frame& request) const;

private:
    struct Impl;
    std::unique_ptr<Impl> d;
};

class EdgeRuntime {
public:
    explicit EdgeRuntime(const std::string& exportDir, int threads = 0);
    ~EdgeRuntime();
    const Manifest& manifest() const;
    const Graph& graph() const;  // the edge model (its inputs are what a data folder feeds)
    struct Request {
        Frame frame;
        std::vector<TensorData> edgeResults;  // graph outputs computed on the edge
        double edgeMs = 0, packMs = 0;
        int64_t payloadBytes = 0;             // packed tensor bytes in the frame
    };
    // Runs the edge model on one sample (inputs in edge-model input order) and packs the codes.
    Request encode(const std::vector<TensorData>& inputs, uint64_t sequence) const;

private:
    struct Impl;
    std::unique_ptr<Impl> d;
};

// The reply's result tensors as TensorData (codes of a binary map as 0/1 floats), without the
// timing tensor; `cloudMs` / `unpackMs` (may be null) receive the server's timings.
std::vector<TensorData> replyResults(const Frame& reply, double* cloudMs = nullptr, double* unpackMs = nullptr);

}  // namespace autosplit::deploy
