// manifest.json of an exported plan (schema "autosplit-export", version 1): what the edge and the
// cloud runtime need besides the two models, and what the planner promised.
//
//   {"schema": "autosplit-export", "schema_version": 1,
//    "plan_hash": "16 hex digits",          // frames carry it: both sides run the same export
//    "model": {"path", "sha256"}, "kind", "split_position", "split_after",
//    "edge_model": {"file": "edge.onnx", "sha256"}, "cloud_model": {...} | null (Edge-Only),
//    "transmitted": [{"id", "name", "wire_name", "type": "codes"|"float32"|"int64", "bits",
//                     "shape", "scale", "zero_point", "packing", "payload_bytes"}],
//    "edge_inputs" / "edge_results" / "cloud_results": [{"name", "dtype", "shape"}],
//    "results_at": "edge"|"cloud", "results_encoding": "tensor"|"class-indices"|"binary-map",
//    "max_frame_bytes",                     // the runtime's frame limit (requests and replies)
//    "predicted": {"edge_ms", "transmit_ms", "cloud_ms", "results_ms", "total_ms",
//                  "edge_origin", "cloud_origin", "uplink_bps", "downlink_bps"},
//    "accuracy": {"drop", "metric"} | null, "quantized_weights", "quantized_activations"}
// "packing" of codes: "lsb-first" (b-bit codes packed densely, least-significant bits first, as
// ONNX's int4 layout; deploy/packing.h).
#pragma once

#include "autosplit/deploy/export_plan.h"

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace autosplit::deploy {

constexpr int kManifestSchemaVersion = 1;

struct Manifest {
    std::string planHash;  // 16 lowercase hex digits
    std::string modelPath, modelSha256;
    std::string kind, splitAfter;
    int splitPosition = -1;
    std::string edgeModel = "edge.onnx", edgeSha256;
    std::string cloudModel, cloudSha256;  // empty: no cloud half (Edge-Only)
    std::vector<WireTensor> transmitted;
    std::vector<IoTensor> edgeInputs, edgeResults, cloudResults;
    std::string resultsAt = "edge", resultsEncoding = "tensor";
    uint32_t maxFrameBytes = 0;
    struct Prediction {
        double edgeMs = 0, transmitMs = 0, cloudMs = 0, resultsMs = 0, totalMs = 0;
        std::string edgeOrigin, cloudOrigin;
        double uplinkBps = 0, downlinkBps = 0;
    } predicted;
    std::optional<double> accuracyDrop;
    std::string metric;
    int quantizedWeights = 0, quantizedActivations = 0;

    uint64_t planHashValue() const;  // planHash as a number (frames carry it)
    int64_t transmittedBytes() const;
};

std::string manifestToJson(const Manifest& m);
// Throws Error naming the file and the field on malformed text or another schema version.
Manifest parseManifest(const std::string& jsonText, const std::string& displayName);
Manifest loadManifest(const std::string& path);

// Frame bytes the runtime must accept for this cut: the request (every transmitted tensor) or
// the reply (every cloud result as float32), whichever is larger, plus headers.
uint32_t frameLimitFor(const std::vector<WireTensor>& sent, const std::vector<IoTensor>& cloudResults);

}  // namespace autosplit::deploy
