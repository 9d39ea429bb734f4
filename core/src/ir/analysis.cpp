#include "autosplit/ir/analysis.h"

#include "autosplit/ir/quant_spec.h"

#include "autosplit/util/errors.h"

#include <algorithm>
#include <numeric>
#include <set>

namespace autosplit {

namespace {

int64_t product(const std::vector<int64_t>& v, size_t from = 0, size_t to = SIZE_MAX) {
    to = std::min(to, v.size());
    int64_t p = 1;
    for (size_t i = from; i < to; ++i) p *= v[i];
    return p;
}

bool inputsStatic(const Graph& g) {
    for (int id : g.inputs)
        if (!g.tensors[static_cast<size_t>(id)].shapeKnown) return false;
    return true;
}

const Tensor& requireShape(const Graph& g, int id, const Node& n, const char* role) {
    const Tensor& t = g.tensors[id];
    if (!t.shapeKnown)
        throw ShapeError("the shape of tensor '" + t.name + "' (" + role + " of node '" + n.name + "', " + n.op + ") is unknown; " +
                         (inputsStatic(g) ? std::string("the model's inputs are static, so it depends on values computed at run "
                                                        "time (see the optimizer's warnings)")
                                          : std::string("bind the model's input dims with --input NAME=DIMS")));
    return t;
}

// Conv/ConvTranspose geometry from the ONNX attributes and the tensor shapes.
void convGeometry(const Graph& g, const Node& n, LayerInfo& L) {
    const Tensor& x = requireShape(g, n.inputs[0], n, "input");
    const Tensor& w = requireShape(g, n.inputs[1], n, "weight");
    const Tensor& y = requireShape(g, n.outputs[0], n, "output");
    const bool transposed = n.op == "ConvTranspose";
    const size_t spatial = x.shape.size() >= 2 ? x.shape.size() - 2 : 0;
    const int64_t group = std::max<int64_t>(1, n.attrInt("group", 1));
    auto& G = L.geometry;
    G.groups = group;
    G.batch = x.shape.empty() ? 1 : x.shape[0];
    std::vector<int64_t> kernel(w.shape.begin() + 2, w.shape.end());
    std::vector<int64_t> strides = n.attrInts("strides");
    std::vector<int64_t> pads = n.attrInts("pads");
    strides.resize(spatial, 1);
    // Spatial dims beyond 2 (Conv3d) fold into the first; Conv1d gets W = 1.
    auto sp = [&](const std::vector<int64_t>& v, size_t i) { return i < v.size() ? v[i] : int64_t(1); };
    if (!transposed) {
        G.C = w.shape[1];
        G.K = w.shape[0] / group;
        G.R = sp(kernel, 0);
        G.S = product(kernel, 1);
        G.E = sp(y.shape, 2);
        G.F = product(y.shape, 3);
        G.strideH = sp(strides, 0);
        G.strideW = spatial > 1 ? sp(strides, 1) : 1;
        // The accelerator sees the padded input; with auto_pad the pads follow from the shapes.
        std::vector<int64_t> dil = n.attrInts("dilations");
        dil.resize(spatial, 1);
        int64_t padH = 0, padW = 0;
        const std::string autoPad = n.attrString("auto_pad", "NOTSET");
        auto padAt = [&](size_t i) { return i < pads.size() ? pads[i] : int64_t(0); };
        for (size_t i = 0; i < spatial && i < 2; ++i) {
            int64_t total = 0;
            if (autoPad == "NOTSET" || autoPad.empty()) total = padAt(i) + padAt(i + spatial);
            else if (autoPad != "VALID") {  // SAME_UPPER / SAME_LOWER
                const int64_t in = x.shape[2 + i], out = y.shape[2 + i];
                total = std::max<int64_t>(0, (out - 1) * strides[i] + dil[i] * (kernel[i] - 1) + 1 - in);
            }
            (i == 0 ? padH : padW) = total;
        }
        G.H = sp(x.shape, 2) + padH;
        G.W = product(x.shape, 3) + padW;
        L.macs = product(y.shape) * G.C * product(kernel);
    } else {
        // ConvTranspose as the accelerator runs it: each input pixel scatters a K x R x S patch.
        G.C = w.shape[0] / group;
        G.K = w.shape[1];
        G.R = sp(kernel, 0);
        G.S = product(kernel, 1);
        G.H = G.E = sp(x.shape, 2);
        G.W = G.F = product(x.shape, 3);
        G.strideH = G.strideW = 1;
        L.macs = product(x.shape) * G.K * product(kernel);
        // Matrix form: E*F output rows of the input grid, window C, filters K*R*S.
        G.K = G.K * G.R * G.S;
        G.R = G.S = 1;
    }
}

void gemmGeometry(const Graph& g, const Node& n, LayerInfo& L) {
    const Tensor& a = requireShape(g, n.inputs[0], n, "input A");
    const Tensor& b = requireShape(g, n.inputs[1], n, "input B");
    auto& G = L.geometry;
    if (n.op == "Gemm") {
        if (a.shape.size() != 2 || b.shape.size() != 2)
            throw ShapeError("Gemm node '" + n.name + "' needs 2-D inputs");
        const bool ta = n.attrInt("transA", 0) != 0, tb = n.attrInt("transB", 0) != 0;
        const int64_t M = ta ? a.shape[1] : a.shape[0], Kd = ta ? a.shape[0] : a.shape[1];
        const int64_t N = tb ? b.shape[0] : b.shape[1];
        G.E = M;
        G.C = Kd;
        G.K = N;
        L.macs = M * N * Kd;
        return;
    }
    // MatMul with numpy semantics: 1-D operands are promoted, leading dims broadcast.
    std::vector<int64_t> as = a.shape, bs = b.shape;
    if (as.size() == 1) as.insert(as.begin(), 1);
    if (bs.size() == 1) bs.push_back(1);
    const int64_t M = as[as.size() - 2], Kd = as.back(), N = bs.back();
    const Tensor& y = requireShape(g, n.outputs[0], n, "output");
    const int64_t batch = y.shape.size() >= 2 ? product(y.shape, 0, y.shape.size() - 2) : 1;
    if (L.kind == LayerKind::Gemm) {
        G.E = batch * M;  // a shared weight matrix: all rows in one GEMM
    } else {
        G.E = M;
        G.batch = batch;
    }
    G.C = Kd;
    G.K = N;
    L.macs = batch * M * N * Kd;
}

}  // namespace

ModelAnalysis analyze(const Graph& g) {
    ModelAnalysis m;
    m.layers.reserve(g.nodes.size());
    std::vector<bool> counted(g.tensors.size(), false);
    for (size_t i = 0; i < g.nodes.size(); ++i) {
        const Node& n = g.nodes[i];
        LayerInfo L;
        L.node = static_cast<int>(i);
        L.name = n.name;
        L.op = n.op;
        if (!n.outputs.empty() && n.outputs[0] >= 0) L.outputShape = g.tensors[n.outputs[0]].shape;
        for (size_t k = 0; k < n.inputs.size(); ++k) {
            const int t = n.inputs[k];
            if (t < 0) continue;
            const Tensor& tt = g.tensors[t];
            if (tt.isWeight()) {
                if (!tt.data->isFloat()) continue;  // shapes, indices: not parameters
                const int64_t e = tt.data->elementCount();
                L.weights += e;
                if (k == 2 && (n.op == "Conv" || n.op == "ConvTranspose" || n.op == "Gemm")) L.weightBiasElements += e;
                if (!counted[t]) {
                    counted[t] = true;
                    m.parameters += e;
                }
            } else if (tt.shapeKnown) {
                L.inputElements += tt.elementCount();
            }
        }
        for (int t : n.outputs)
            if (t >= 0) L.activations += std::max<int64_t>(0, requireShape(g, t, n, "output").elementCount());

        const bool weightB = n.inputs.size() > 1 && n.inputs[1] >= 0 && g.tensors[n.inputs[1]].isWeight();
        if (n.domain.empty() && (n.op == "Conv" || n.op == "ConvTranspose") && weightB) {
            L.kind = n.op == "Conv" ? LayerKind::Conv : LayerKind::ConvTranspose;
            convGeometry(g, n, L);
        } else if (n.domain.empty() && n.op == "Gemm" && n.inputs.size() >= 2) {
            L.kind = weightB ? LayerKind::Gemm : LayerKind::MatMul;
            gemmGeometry(g, n, L);
        } else if (n.domain.empty() && n.op == "MatMul" && n.inputs.size() == 2) {
            L.kind = weightB ? LayerKind::Gemm : LayerKind::MatMul;
            gemmGeometry(g, n, L);
        }
        if (L.kind == LayerKind::Other && n.domain.empty() &&
            (n.op == "MaxPool" || n.op == "AveragePool" || n.op == "LpPool")) {
            // Pooling windows for the vector unit's cost (window reads per output element).
            const std::vector<int64_t> kernel = n.attrInts("kernel_shape");
            const std::vector<int64_t> strides = n.attrInts("strides");
            auto& G = L.geometry;
            G.R = kernel.empty() ? 1 : kernel[0];
            G.S = kernel.size() > 1 ? product(kernel, 1) : 1;
            G.strideH = strides.empty() ? 1 : strides[0];
            G.strideW = strides.size() > 1 ? strides[1] : 1;
            if (L.outputShape.size() >= 3) {
                G.C = G.K = L.outputShape[1];
                G.E = L.outputShape[2];
                G.F = product(L.outputShape, 3);
            }
            if (!n.inputs.empty() && n.inputs[0] >= 0 && g.tensors[n.inputs[0]].shape.size() >= 3) {
                const auto& xs = g.tensors[n.inputs[0]].shape;
                G.H = xs[2];
                G.W = product(xs, 3);
            }
        } else if (L.kind == LayerKind::Other && n.domain.empty() &&
                   (n.op == "GlobalAveragePool" || n.op == "GlobalMaxPool") && !n.inputs.empty() && n.inputs[0] >= 0) {
            const auto& xs = g.tensors[n.inputs[0]].shape;
            if (xs.size() >= 3) {
                auto& G = L.geometry;
                G.H = G.R = xs[2];
                G.W = G.S = product(xs, 3);
                G.C = G.K = xs[1];
            }
        }
        if (L.kind != LayerKind::Other && L.kind != LayerKind::MatMul) ++m.weightLayers;
        m.macs += L.macs;
        m.layers.push_back(std::move(L));
    }
    return m;
}

std::vector<TensorLifetime> tensorLifetimes(const Graph& g) {
    const int last = static_cast<int>(g.nodes.size()) - 1;
    std::vector<TensorLifetime> out;
    for (size_t t = 0; t < g.tensors.size(); ++t) {
        const Tensor& tt = g.tensors[t];
        if (tt.isWeight()) continue;
        if (tt.producer < 0 && !tt.isGraphInput) continue;
        TensorLifetime L;
        L.tensor = static_cast<int>(t);
        L.start = tt.producer;  // -1 for graph inputs
        L.end = L.start < 0 ? 0 : L.start;
        for (int c : tt.consumers) L.end = std::max(L.end, c);
        if (tt.isGraphOutput) L.end = last;
        L.elements = std::max<int64_t>(0, tt.elementCount());
        out.push_back(L);
    }
    return out;
}

int64_t rawInputElements(const Graph& g) {
    int64_t n = 0;
    for (int id : g.inputs) n += std::max<int64_t>(0, g.tensors[id].elementCount());
    return n;
}

std::vector<int64_t> liveAtEachStep(const std::vector<TensorLifetime>& lifetimes, int lastStep,
                                    const std::function<int64_t(const TensorLifetime&)>& size) {
    if (lastStep < 0) return {};
    std::vector<int64_t> delta(static_cast<size_t>(lastStep) + 2, 0);
    for (const auto& L : lifetimes) {
        const int s = std::max(L.start, 0);
        const int e = std::min(L.end, lastStep);
        if (s > e) continue;
        const int64_t v = size(L);
        delta[static_cast<size_t>(s)] += v;
        delta[static_cast<size_t>(e) + 1] -= v;
    }
    std::vector<int64_t> live(static_cast<size_t>(lastStep) + 1, 0);
    int64_t sum = 0;
    for (size_t i = 0; i < live.size(); ++i) live[i] = sum += delta[i];
    return live;
}

std::vector<int64_t> runningMax(std::vector<int64_t> v) {
    for (size_t i = 1; i < v.size(); ++i) v[i] = std::max(v[i], v[i - 1]);
    return v;
}

EdgeMemory edgeMemory(const Graph& g, const PlanBits& bits) {
    EdgeMemory mem;
    if (bits.splitPosition < 0) return mem;
    const int position = std::min(bits.splitPosition, static_cast<int>(g.nodes.size()) - 1);
    // The plan's quantization spec (ir/quant_spec.h): quantized weights at their bits, the other
    // float constants of edge nodes at 32, activations at their producer's bits.
    const std::vector<TensorSpec> spec = quantSpec(g, bits);
    std::vector<bool> counted(g.tensors.size(), false);
    for (int i = 0; i <= position; ++i)
        for (int t : g.nodes[i].inputs)
            if (t >= 0 && !counted[t] && g.tensors[t].isWeight() && g.tensors[t].data->isFloat()) {
                counted[t] = true;
                mem.weightBits += g.tensors[t].data->elementCount() * spec[static_cast<size_t>(t)].bits;
            }
    for (int64_t live : liveAtEachStep(tensorLifetimes(g), position, [&](const TensorLifetime& L) {
             return L.elements * (L.start < 0 ? bits.inputBits : bits.activationAt(L.start, 8));
         }))
        mem.peakActivationBits = std::max(mem.peakActivationBits, live);
    return mem;
}

std::vector<SplitInfo> enumerateSplits(const Graph& g) {
    const int N = static_cast<int>(g.nodes.size());
    std::vector<SplitInfo> out;
    out.reserve(static_cast<size_t>(N) + 1);
    // Last consumer of each tensor (graph outputs are *not* extended here: an edge-produced
    // output stays on the edge and is not sent).
    std::vector<int> lastUse(g.tensors.size(), -2);
    for (size_t t = 0; t < g.tensors.size(); ++t)
        for (int c : g.tensors[t].consumers) lastUse[t] = std::max(lastUse[t], c);

    // Prefix peak of live elements (as edgeMemory at one element per value).
    const std::vector<int64_t> peak =
        runningMax(liveAtEachStep(tensorLifetimes(g), N - 1, [](const TensorLifetime& L) { return L.elements; }));

    std::set<int> open;  // tensors on the edge still needed by a later node
    for (int id : g.inputs)
        if (lastUse[id] >= 0) open.insert(id);
    std::vector<bool> counted(g.tensors.size(), false);
    int64_t weights = 0;
    for (int n = -1; n < N; ++n) {
        if (n >= 0) {
            const Node& node = g.nodes[n];
            for (int t : node.inputs)
                if (t >= 0 && g.tensors[t].isWeight() && !counted[t] && g.tensors[t].data->isFloat()) {
                    counted[t] = true;
                    weights += g.tensors[t].data->elementCount();
                }
            for (auto it = open.begin(); it != open.end();) it = lastUse[*it] <= n ? open.erase(it) : std::next(it);
            for (int t : node.outputs)
                if (t >= 0 && lastUse[t] > n) open.insert(t);
        }
        SplitInfo s;
        s.position = n;
        s.afterNode = n >= 0 ? g.nodes[n].name : std::string();
        s.transmitted.assign(open.begin(), open.end());
        std::sort(s.transmitted.begin(), s.transmitted.end(), [&](int a, int b) {
            return g.tensors[a].producer != g.tensors[b].producer ? g.tensors[a].producer < g.tensors[b].producer : a < b;
        });
        for (int t : s.transmitted) s.transmittedElements += std::max<int64_t>(0, g.tensors[t].elementCount());
        s.edgeWeightElements = weights;
        s.edgePeakActivationElements = n >= 0 ? peak[n] : 0;
        out.push_back(std::move(s));
    }
    return out;
}

}  // namespace autosplit
