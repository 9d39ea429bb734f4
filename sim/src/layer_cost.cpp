#include "autosplit/sim/layer_cost.h"

#include <algorithm>
#include <cmath>
#include <string_view>

namespace autosplit::sim {

const char* boundName(Bound b) {
    switch (b) {
    case Bound::Free: return "free";
    case Bound::Compute: return "compute";
    case Bound::Memory: return "memory";
    }
    return "?";
}

const char* costRuleName(CostRule r) {
    switch (r) {
    case CostRule::MacArray: return "mac-array";
    case CostRule::VectorCompute: return "vector";
    case CostRule::VectorCopy: return "copy";
    case CostRule::View: return "view";
    case CostRule::VectorUnknown: return "vector-unknown-op";
    }
    return "?";
}

int64_t packedBytes(int64_t elements, int bits) { return (elements * bits + 7) / 8; }

namespace {

constexpr int kBiasBits = 32;  // integer accelerators keep bias at accumulator width

int64_t ceilDiv(int64_t a, int64_t b) { return (a + b - 1) / b; }

bool isAny(std::string_view op, std::initializer_list<std::string_view> names) {
    return std::find(names.begin(), names.end(), op) != names.end();
}

struct VectorRule {
    CostRule rule;
    int64_t ops;           // element operations
    int64_t readElements;  // activations read from off-chip
};

// Cost of an op that does not run on the MAC array. Element counts come from the analysis;
// the per-element factors are the usual instruction counts of a SIMD implementation.
VectorRule vectorRule(const LayerInfo& l) {
    const std::string_view op = l.op;
    const int64_t in = l.inputElements, out = l.activations;
    if (isAny(op, {"Reshape", "Flatten", "Squeeze", "Unsqueeze", "Identity", "Dropout", "Shape", "Size",
                   "Constant", "ConstantOfShape"}))
        return {CostRule::View, 0, 0};
    // Producers write straight into their slice of the concatenated buffer (memory planning),
    // so Concat moves nothing.
    if (op == "Concat") return {CostRule::View, 0, 0};
    if (isAny(op, {"Transpose", "Slice", "Split", "Gather", "GatherElements", "Pad", "Tile", "Expand",
                   "DepthToSpace", "SpaceToDepth", "Cast", "ReverseSequence"}))
        return {CostRule::VectorCopy, out, std::min(in, out)};
    if (isAny(op, {"MaxPool", "AveragePool", "LpPool"})) {
        const int64_t window = l.geometry.R * l.geometry.S;
        // Without a known window, every input element is looked at at least once.
        return {CostRule::VectorCompute, window > 1 ? out * window : std::max(in, out), in};
    }
    if (isAny(op, {"GlobalAveragePool", "GlobalMaxPool", "GlobalLpPool", "ReduceMean", "ReduceMax", "ReduceMin",
                   "ReduceSum", "ReduceProd", "ReduceL1", "ReduceL2", "ReduceSumSquare", "ReduceLogSumExp",
                   "ArgMax", "ArgMin"}))
        return {CostRule::VectorCompute, std::max(in, out), in};
    // Nearest-neighbour resize: one move per output element (LayerInfo carries no mode).
    if (isAny(op, {"Resize", "Upsample"})) return {CostRule::VectorCompute, out, std::min(in, out)};
    // Transcendentals and normalizations: a lookup/polynomial or a few passes per element.
    if (isAny(op, {"Sigmoid", "Tanh", "Exp", "Log", "Erf", "Softplus", "Mish", "Gelu", "Elu", "Selu", "Celu",
                   "Pow", "Sqrt", "Reciprocal", "Softmax", "LogSoftmax", "LayerNormalization",
                   "InstanceNormalization", "LpNormalization", "GroupNormalization"}))
        return {CostRule::VectorCompute, 4 * std::max(in, out), in};
    if (op == "BatchNormalization") return {CostRule::VectorCompute, 2 * out, in};  // scale + shift
    if (isAny(op, {"Add", "Sub", "Mul", "Div", "Max", "Min", "Sum", "Mean", "Relu", "LeakyRelu", "PRelu", "Clip",
                   "Abs", "Neg", "HardSigmoid", "HardSwish", "Where", "Equal", "Less", "Greater", "LessOrEqual",
                   "GreaterOrEqual", "And", "Or", "Not", "Xor", "Sign", "Floor", "Ceil", "Round", "Mod",
                   "QuantizeLinear", "DequantizeLinear"}))
        // One op per output element per extra operand (Sum of n inputs: n-1 adds).
        return {CostRule::VectorCompute, std::max(out, in - out), in};
    return {CostRule::VectorUnknown, std::max(in, out), in};
}

}  // namespace

LayerCost simulateLayer(const LayerInfo& l, const DeviceProfile& d, int wbits, int abits) {
    if (wbits <= 0 || abits <= 0)
        throw Error("layer '" + l.name + "': bit-widths must be positive (w" + std::to_string(wbits) + "a" +
                    std::to_string(abits) + ")");
    LayerCost c;
    const int64_t biasElems = std::clamp<int64_t>(l.weightBiasElements, 0, l.weights);
    const int64_t weightBytes = packedBytes(l.weights - biasElems, wbits) + packedBytes(biasElems, kBiasBits);

    if (l.kind != LayerKind::Other) {
        c.rule = CostRule::MacArray;
        const GemmGeometry& g = l.geometry;
        try {
            c.mapping = mapGemm(g, d);
        } catch (const Error& e) {
            throw Error("layer '" + l.name + "' (" + l.op + "): " + e.what());
        }
        // Operands wider than the native MAC width are split into native-width slices
        // (shift-and-add passes); narrower ones still take a full MAC: an INT8 array is no
        // faster at 4 bits, and Eyeriss's 16-bit PEs run 8-bit operands in one pass.
        if (l.kind == LayerKind::MatMul) {
            // Both operands are activations.
            c.bitPasses = d.macPasses(abits, abits);
            const int64_t aElems = g.groups * g.batch * g.E * g.F * g.C;
            const int64_t bElems = l.inputElements > aElems ? l.inputElements - aElems : g.groups * g.C * g.K;
            c.ifmapBytes = packedBytes(std::min(aElems, l.inputElements), abits);
            c.filterBytes = packedBytes(bElems, abits) + weightBytes;
        } else {
            c.bitPasses = d.macPasses(wbits, abits);
            c.ifmapBytes = packedBytes(l.inputElements, abits);
            c.filterBytes = weightBytes;
        }
        // Fused activations (Node::activation) are applied as outputs leave the array: free.
        c.computeCycles = c.mapping.cycles * c.bitPasses;

        // Re-fetch: if either operand fits in its usable buffer it stays resident while the
        // other streams once. Otherwise split one operand into buffer-sized chunks and re-stream
        // the other once per chunk, choosing the cheaper order (as a compiler would).
        const int64_t capI = d.usableBytes(d.ifmapBufferBytes);
        const int64_t capW = d.usableBytes(d.filterBufferBytes);
        if (c.ifmapBytes > capI && c.filterBytes > capW) {
            const int64_t weightChunks = ceilDiv(c.filterBytes, capW);
            const int64_t ifmapChunks = ceilDiv(c.ifmapBytes, capI);
            const int64_t weightsOuter = c.ifmapBytes * weightChunks + c.filterBytes;
            const int64_t ifmapOuter = c.filterBytes * ifmapChunks + c.ifmapBytes;
            if (weightsOuter <= ifmapOuter) c.ifmapPasses = weightChunks;
            else c.filterPasses = ifmapChunks;
        }
    } else {
        const VectorRule v = vectorRule(l);
        c.rule = v.rule;
        c.vectorOps = v.ops;
        c.bitPasses = d.operandPasses(abits);
        c.computeCycles = v.ops > 0 ? int64_t(std::ceil(double(v.ops) * c.bitPasses / d.vectorOpsPerCycle)) : 0;
        if (v.rule != CostRule::View) {
            c.ifmapBytes = packedBytes(v.readElements, abits);
            c.filterBytes = weightBytes;  // e.g. a BatchNormalization that could not be folded
        }
    }
    c.ofmapBytes = c.rule == CostRule::View ? 0 : packedBytes(l.activations, abits);
    c.trafficBytes = c.ifmapBytes * c.ifmapPasses + c.filterBytes * c.filterPasses + c.ofmapBytes;

    c.computeUs = double(c.computeCycles) / d.clockMHz;
    c.memoryUs = double(c.trafficBytes) / (d.bandwidthGBps * 1e3);
    // Double-buffered: the next tile's transfer overlaps this tile's compute, so the slower of
    // the two sets the pace (the first fill and last drain are not modelled).
    c.latencyUs = d.doubleBuffered ? std::max(c.computeUs, c.memoryUs) : c.computeUs + c.memoryUs;
    if (c.computeUs == 0 && c.memoryUs == 0) c.bound = Bound::Free;
    else c.bound = c.memoryUs > c.computeUs ? Bound::Memory : Bound::Compute;
    return c;
}

}  // namespace autosplit::sim
