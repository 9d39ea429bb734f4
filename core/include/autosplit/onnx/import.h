// ONNX -> Graph. The only place that sees protobuf.
#pragma once

#include "autosplit/ir/graph.h"

#include <functional>
#include <map>
#include <set>
#include <string>
#include <vector>

namespace autosplit {

struct ImportOptions {
    // User-bound input dims ("x" -> {1,3,640,640}); replace symbolic or unknown dims.
    std::map<std::string, std::vector<int64_t>> inputShapes;
    // Fail when a non-weight tensor's shape stays unknown after inference (and folding).
    bool requireShapes = true;
};

struct ImportReport {
    std::vector<std::string> warnings;  // unknown ops, shapes inferred only partially...
    int64_t fileBytes = 0;
    int nodesInFile = 0;       // incl. Constant nodes
    int constantNodes = 0;     // turned into weights
    std::vector<std::string> unknownOps;  // op types with no ONNX schema
};

// Reads, checks structure, binds dims, runs ONNX shape inference and converts.
// Throws ImportError / GraphError / ShapeError with a message naming the problem.
Graph importOnnx(const std::string& path, const ImportOptions& opts = {}, ImportReport* report = nullptr);
Graph importOnnxFromMemory(const std::string& bytes, const std::string& displayName,
                           const ImportOptions& opts = {}, ImportReport* report = nullptr);

// Parse "x=1x3x640x640" into name and dims; throws Error on malformed text.
std::pair<std::string, std::vector<int64_t>> parseInputBinding(const std::string& text);

// Graph -> ONNX bytes (fused activations written back as separate nodes). Used to re-run
// ONNX shape inference after passes and to export edge/cloud sub-models.
std::string exportOnnx(const Graph& g);

// The opset a quantized (QDQ) model made of `ops` from an opset-`opset` graph declares:
// `opset` itself from 10 on (QuantizeLinear's first opset); else 10 when every op means the same
// there (same schema, or only defaulted attributes added; Slice's attributes must then be written
// as inputs, as Slice-10 takes them). Throws Error naming the ops otherwise.
int64_t opsetForQdq(int64_t opset, const std::set<std::string>& ops);

// The full ONNX checker (libonnx 1.12: model, graph, nodes against their opset) and strict shape
// inference on serialized model bytes; throws ImportError naming `displayName` and the finding.
void checkOnnxModel(const std::string& bytes, const std::string& displayName);

// Re-run ONNX shape inference on the current graph and update tensor shapes.
void reinferShapes(Graph& g, std::vector<std::string>* warnings = nullptr);

}  // namespace autosplit
