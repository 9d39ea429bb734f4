// Hand-made layers for the simulator suites: the simulator only needs LayerInfo, so tests
// build geometries directly instead of going through the ONNX importer.
#pragma once

#include "autosplit/ir/analysis.h"
#include "autosplit/sim/device.h"

#include <string>

namespace simtest {

// Unpadded conv in SCALE-Sim's terms (E = ceil((H-R+s)/s)); inputs/outputs/weights counted
// as the analysis would for a batch-1 NCHW layer.
inline autosplit::LayerInfo conv(const std::string& name, int64_t H, int64_t W, int64_t R, int64_t S, int64_t C,
                                 int64_t K, int64_t stride = 1, int64_t groups = 1, bool bias = true) {
    autosplit::LayerInfo l;
    l.name = name;
    l.op = "Conv";
    l.kind = autosplit::LayerKind::Conv;
    auto& g = l.geometry;
    g.H = H, g.W = W, g.R = R, g.S = S, g.C = C, g.K = K, g.strideH = g.strideW = stride, g.groups = groups;
    g.E = (H - R + stride + stride - 1) / stride;
    g.F = (W - S + stride + stride - 1) / stride;
    l.outputShape = {1, K * groups, g.E, g.F};
    l.weightBiasElements = bias ? K * groups : 0;
    l.weights = R * S * C * K * groups + l.weightBiasElements;
    l.inputElements = H * W * C * groups;
    l.activations = g.E * g.F * K * groups;
    l.macs = g.E * g.F * R * S * C * K * groups;
    return l;
}

// Fully connected: in features -> out features, batch rows.
inline autosplit::LayerInfo fc(const std::string& name, int64_t in, int64_t out, int64_t rows = 1) {
    autosplit::LayerInfo l;
    l.name = name;
    l.op = "Gemm";
    l.kind = autosplit::LayerKind::Gemm;
    l.geometry.E = rows;
    l.geometry.C = in;
    l.geometry.K = out;
    l.outputShape = {rows, out};
    l.weightBiasElements = out;
    l.weights = in * out + out;
    l.inputElements = rows * in;
    l.activations = rows * out;
    l.macs = rows * in * out;
    return l;
}

inline autosplit::LayerInfo other(const std::string& name, const std::string& op, int64_t in, int64_t out) {
    autosplit::LayerInfo l;
    l.name = name;
    l.op = op;
    l.kind = autosplit::LayerKind::Other;
    l.inputElements = in;
    l.activations = out;
    l.outputShape = {out};
    return l;
}

}  // namespace simtest
