// Element-wise ops: unary activations and math, broadcasting binary arithmetic, comparisons,
// Not, Where, Clip, Cast and inference-mode BatchNormalization.
#include "exec_internal.h"
#include "onnx/dtype_codes.h"

#include <cmath>

namespace autosplit::exec {

namespace {

constexpr int64_t kGrain = 16384;

std::string checkFloatOnly(const Graph& g, const Node& n) {
    for (int t : n.inputs)
        if (t >= 0 && !isFloating(g.tensors[t].dtype))
            return "only float tensors are supported (input '" + g.tensors[t].name + "' is " +
                   dtypeName(g.tensors[t].dtype) + ")";
    return {};
}

template <class F>
void unaryFloat(KernelContext& c, F f) {
    const TensorData& x = c.input(0);
    if (!x.isFloat()) c.fail("input must be float");
    const float* src = x.floats.data();
    const size_t count = x.floats.size();
    TensorData y = c.reuseInput(0, x.shape, x.dtype);  // may take x's storage: src stays valid
    float* dst = y.floats.data();
    c.pool.parallelFor(static_cast<int64_t>(count), kGrain, [&](int64_t b, int64_t e) {
        for (int64_t i = b; i < e; ++i) dst[i] = f(src[i]);
    });
    if (y.dtype == DType::Float16) roundToFloat16(y);
    c.out[0] = std::move(y);
}

void reluOp(KernelContext& c) { unaryFloat(c, [](float v) { return v > 0.f ? v : 0.f; }); }
void sigmoidOp(KernelContext& c) { unaryFloat(c, [](float v) { return 1.f / (1.f + std::exp(-v)); }); }
void tanhOp(KernelContext& c) { unaryFloat(c, [](float v) { return std::tanh(v); }); }
void sqrtOp(KernelContext& c) { unaryFloat(c, [](float v) { return std::sqrt(v); }); }
void erfOp(KernelContext& c) { unaryFloat(c, [](float v) { return std::erf(v); }); }
void expOp(KernelContext& c) { unaryFloat(c, [](float v) { return std::exp(v); }); }
void logOp(KernelContext& c) { unaryFloat(c, [](float v) { return std::log(v); }); }
void reciprocalOp(KernelContext& c) { unaryFloat(c, [](float v) { return 1.f / v; }); }
void floorOp(KernelContext& c) { unaryFloat(c, [](float v) { return std::floor(v); }); }
void ceilOp(KernelContext& c) { unaryFloat(c, [](float v) { return std::ceil(v); }); }
void hardSwishOp(KernelContext& c) {
    unaryFloat(c, [](float v) { return v * std::max(0.f, std::min(1.f, v / 6.f + 0.5f)); });
}
void leakyReluOp(KernelContext& c) {
    const float alpha = c.node.attrFloat("alpha", 0.01f);
    unaryFloat(c, [alpha](float v) { return v >= 0.f ? v : alpha * v; });
}
void hardSigmoidOp(KernelContext& c) {
    const float alpha = c.node.attrFloat("alpha", 0.2f), beta = c.node.attrFloat("beta", 0.5f);
    unaryFloat(c, [alpha, beta](float v) { return std::max(0.f, std::min(1.f, alpha * v + beta)); });
}

// Neg / Abs / Identity keep integer types.
template <class F>
void unaryAny(KernelContext& c, F f) {
    const TensorData& x = c.input(0);
    TensorData y = x;
    if (y.isFloat())
        for (float& v : y.floats) v = static_cast<float>(f(static_cast<double>(v)));
    else
        for (int64_t& v : y.ints) v = wrapInt(y.dtype, static_cast<int64_t>(f(static_cast<double>(v))));
    c.out[0] = std::move(y);
}
void negOp(KernelContext& c) { unaryAny(c, [](double v) { return -v; }); }
void absOp(KernelContext& c) { unaryAny(c, [](double v) { return std::fabs(v); }); }
void identityOp(KernelContext& c) { c.out[0] = c.input(0); }

// ---- broadcasting binary ops

enum class Bin { Add, Sub, Mul, Div, Pow };

// o = f(a, b) with numpy broadcasting; `finish` (may be empty), when given, runs over each
// finished piece of o while it is in cache (a fused activation and fake quantization).
template <class T, class U, class F>
void broadcastLoop(ThreadPool& pool, const std::vector<int64_t>& outShape, const T* a, const std::vector<int64_t>& sa,
                   const T* b, const std::vector<int64_t>& sb, U* o, F f,
                   const std::function<void(U*, int64_t)>& finish = {}) {
    const size_t r = outShape.size();
    const int64_t total = numel(outShape);
    if (total == 0) return;
    if (r == 0) {
        o[0] = f(a[0], b[0]);
        if (finish) finish(o, 1);
        return;
    }
    // Both operands laid out like the output (size-1 dims aside): one flat loop, no per-row
    // index bookkeeping (residual adds over 7x7 maps would otherwise be mostly overhead).
    const auto cs = contiguousStrides(outShape);
    bool flat = true;
    for (size_t d = 0; d < r && flat; ++d) flat = outShape[d] == 1 || (sa[d] == cs[d] && sb[d] == cs[d]);
    if (flat) {
        pool.parallelFor(total, kGrain, [&](int64_t i0, int64_t i1) {
            for (int64_t c0 = i0; c0 < i1; c0 += kGrain) {  // pieces of kGrain: finished while in L2
                const int64_t c1 = std::min(i1, c0 + kGrain);
                for (int64_t i = c0; i < c1; ++i) o[i] = f(a[i], b[i]);
                if (finish) finish(o + c0, c1 - c0);
            }
        });
        return;
    }
    // Adjacent axes that both operands step through as one (the outer stride is the inner stride
    // times its extent, which includes axes both broadcast) merge, and size-1 axes drop out: an
    // SE block's [1, C, H, W] x [1, C, 1, 1] runs as C rows of H * W instead of C * H rows of W.
    std::vector<int64_t> shape, ma, mb;  // merged axes, outermost first
    for (size_t d = 0; d < r; ++d) {
        if (outShape[d] == 1) continue;
        if (!shape.empty() && ma.back() == sa[d] * outShape[d] && mb.back() == sb[d] * outShape[d]) {
            shape.back() *= outShape[d];
            ma.back() = sa[d];
            mb.back() = sb[d];
        } else {
            shape.push_back(outShape[d]);
            ma.push_back(sa[d]);
            mb.push_back(sb[d]);
        }
    }
    if (shape.empty()) shape = {1}, ma = {0}, mb = {0};
    const size_t m = shape.size();
    const int64_t inner = shape[m - 1];
    const int64_t ia = ma[m - 1], ib = mb[m - 1];
    const int64_t outer = total / inner;
    pool.parallelFor(outer, std::max<int64_t>(1, kGrain / std::max<int64_t>(inner, 1)), [&](int64_t r0, int64_t r1) {
        std::vector<int64_t> idx(m, 0);
        int64_t rem = r0, offA = 0, offB = 0;
        for (size_t d = m - 1; d-- > 0;) {
            idx[d] = rem % shape[d];
            rem /= shape[d];
            offA += idx[d] * ma[d];
            offB += idx[d] * mb[d];
        }
        int64_t done = r0;  // rows before it are finished
        for (int64_t row = r0; row < r1; ++row) {
            U* od = o + row * inner;
            const T* pa = a + offA;
            const T* pb = b + offB;
            if (ia == 1 && ib == 1)
                for (int64_t j = 0; j < inner; ++j) od[j] = f(pa[j], pb[j]);
            else if (ia == 1)
                for (int64_t j = 0; j < inner; ++j) od[j] = f(pa[j], pb[0]);
            else if (ib == 1)
                for (int64_t j = 0; j < inner; ++j) od[j] = f(pa[0], pb[j]);
            else
                for (int64_t j = 0; j < inner; ++j) od[j] = f(pa[0], pb[0]);
            if (finish && ((row + 1 - done) * inner >= kGrain || row + 1 == r1)) {  // rows finished as pieces of >= kGrain
                finish(o + done * inner, (row + 1 - done) * inner);
                done = row + 1;
            }
            for (size_t d = m - 1; d-- > 0;) {  // advance the outer index
                offA += ma[d];
                offB += mb[d];
                if (++idx[d] < shape[d]) break;
                offA -= ma[d] * shape[d];
                offB -= mb[d] * shape[d];
                idx[d] = 0;
            }
        }
    });
}

template <Bin op>
void binaryOp(KernelContext& c) {
    const TensorData& a = c.input(0);
    const TensorData& b = c.input(1);
    const auto outShape = broadcastShapes(c, a.shape, b.shape);
    const auto sa = broadcastStrides(a.shape, outShape.size()), sb = broadcastStrides(b.shape, outShape.size());
    if (a.isFloat()) {
        std::vector<float> bConv;
        const float* ap = a.floats.data();
        const float* bp = b.floats.data();
        if (!b.isFloat()) {  // Pow with an integer exponent
            bConv = toFloats(b);
            bp = bConv.data();
        }
        // In place into an operand laid out like the output (every element is read at the index
        // it is written to); the pointers above stay valid when its storage moves to y.
        TensorData y = a.shape == outShape ? c.reuseInput(0, outShape, a.dtype)
                       : b.isFloat() && b.shape == outShape ? c.reuseInput(1, outShape, a.dtype)
                                                              : makeFloatUninit(outShape, a.dtype);
        // The node's fused activation and output grid (the registry's appliesActivation) over each
        // finished piece; a float16 output gets them after its rounding, as one pass.
        const bool fused = y.dtype != DType::Float16 && (!c.node.activation.isNone() || c.outputGrid);
        std::function<void(float*, int64_t)> finish;
        if (fused) finish = [&c](float* d, int64_t n) { applyActivationAndGrid(c.node.activation, c.outputGrid, d, n); };
        auto run = [&](auto f) { broadcastLoop<float, float>(c.pool, outShape, ap, sa, bp, sb, y.floats.data(), f, finish); };
        if constexpr (op == Bin::Add) run([](float x, float z) { return x + z; });
        else if constexpr (op == Bin::Sub) run([](float x, float z) { return x - z; });
        else if constexpr (op == Bin::Mul) run([](float x, float z) { return x * z; });
        else if constexpr (op == Bin::Div) run([](float x, float z) { return x / z; });
        else run([](float x, float z) { return z == 2.f ? x * x : std::pow(x, z); });
        if (y.dtype == DType::Float16) {
            roundToFloat16(y);
            finishFloatOutput(c, y);
        }
        c.out[0] = std::move(y);
        return;
    }
    if (!c.node.activation.isNone()) c.fail("fused activation on a non-float output");
    TensorData y = makeInt(outShape, a.dtype);
    if (!b.isFloat()) {
        auto run = [&](auto f) { broadcastLoop<int64_t, int64_t>(c.pool, outShape, a.ints.data(), sa, b.ints.data(), sb, y.ints.data(), f); };
        if constexpr (op == Bin::Add) run([](int64_t x, int64_t z) { return x + z; });
        else if constexpr (op == Bin::Sub) run([](int64_t x, int64_t z) { return x - z; });
        else if constexpr (op == Bin::Mul) run([](int64_t x, int64_t z) { return x * z; });
        else if constexpr (op == Bin::Div) {
            for (int64_t v : b.ints)
                if (v == 0) c.fail("integer division by zero");
            run([](int64_t x, int64_t z) { return x / z; });
        } else {
            run([](int64_t x, int64_t z) {
                int64_t r = 1;
                for (int64_t i = 0; i < z; ++i) r *= x;
                return z < 0 ? (x == 1 ? 1 : 0) : r;
            });
        }
    } else {  // Pow: integer base, float exponent
        std::vector<float> aConv = toFloats(a);
        std::vector<float> res(static_cast<size_t>(numel(outShape)));
        broadcastLoop<float, float>(c.pool, outShape, aConv.data(), sa, b.floats.data(), sb, res.data(),
                             [](float x, float z) { return static_cast<float>(std::pow(static_cast<double>(x), z)); });
        for (size_t i = 0; i < res.size(); ++i) y.ints[i] = static_cast<int64_t>(res[i]);
    }
    for (int64_t& v : y.ints) v = wrapInt(y.dtype, v);
    c.out[0] = std::move(y);
}

// ---- comparisons (bool output) and Where

enum class Cmp { Equal, Less, Greater };

template <Cmp op>
void compareOp(KernelContext& c) {
    const TensorData& a = c.input(0);
    const TensorData& b = c.input(1);
    if (a.isFloat() != b.isFloat()) c.fail("mixed float and integer operands");
    const auto outShape = broadcastShapes(c, a.shape, b.shape);
    const auto sa = broadcastStrides(a.shape, outShape.size()), sb = broadcastStrides(b.shape, outShape.size());
    TensorData y = makeInt(outShape, DType::Bool);
    auto run = [&](const auto* pa, const auto* pb) {
        broadcastLoop(c.pool, outShape, pa, sa, pb, sb, y.ints.data(), [](auto x, auto z) -> int64_t {
            if constexpr (op == Cmp::Equal) return x == z;
            else if constexpr (op == Cmp::Less) return x < z;
            else return x > z;
        });
    };
    if (a.isFloat()) run(a.floats.data(), b.floats.data());
    else run(a.ints.data(), b.ints.data());
    c.out[0] = std::move(y);
}

std::string checkCompare(const Graph& g, const Node& n) {
    if (n.inputs.size() != 2 || n.inputs[0] < 0 || n.inputs[1] < 0) return "needs exactly two inputs";
    if (isFloating(g.tensors[n.inputs[0]].dtype) != isFloating(g.tensors[n.inputs[1]].dtype))
        return "mixed float and integer operands";
    return {};
}

void notOp(KernelContext& c) {
    const TensorData& x = c.input(0);
    if (x.isFloat()) c.fail("input must be bool");
    TensorData y = makeInt(x.shape, DType::Bool);
    for (size_t i = 0; i < x.ints.size(); ++i) y.ints[i] = x.ints[i] == 0;
    c.out[0] = std::move(y);
}

std::string checkNot(const Graph& g, const Node& n) {
    if (n.inputs.empty() || n.inputs[0] < 0 || g.tensors[n.inputs[0]].dtype != DType::Bool) return "input must be bool";
    return {};
}

// Where(condition, X, Y): X where condition is true, else Y, all three broadcast together.
void whereOp(KernelContext& c) {
    const TensorData& cond = c.input(0);
    const TensorData& x = c.input(1);
    const TensorData& z = c.input(2);
    if (cond.isFloat()) c.fail("condition must be bool");
    if (x.isFloat() != z.isFloat()) c.fail("X and Y differ in type");
    const auto outShape = broadcastShapes(c, broadcastShapes(c, cond.shape, x.shape), z.shape);
    const size_t r = outShape.size();
    const auto sc = broadcastStrides(cond.shape, r), sx = broadcastStrides(x.shape, r), sz = broadcastStrides(z.shape, r);
    TensorData y = x.isFloat() ? makeFloat(outShape, x.dtype) : makeInt(outShape, x.dtype);
    auto run = [&](const auto& xs, const auto& zs, auto& ys) {
        const int64_t total = numel(outShape);
        std::vector<int64_t> idx(r, 0);
        int64_t oc = 0, ox = 0, oz = 0;
        for (int64_t o = 0; o < total; ++o) {
            ys[o] = cond.ints[oc] ? xs[ox] : zs[oz];
            for (size_t d = r; d-- > 0;) {
                oc += sc[d];
                ox += sx[d];
                oz += sz[d];
                if (++idx[d] < outShape[d]) break;
                oc -= sc[d] * outShape[d];
                ox -= sx[d] * outShape[d];
                oz -= sz[d] * outShape[d];
                idx[d] = 0;
            }
        }
    };
    if (x.isFloat()) run(x.floats, z.floats, y.floats);
    else run(x.ints, z.ints, y.ints);
    c.out[0] = std::move(y);
}

std::string checkWhere(const Graph& g, const Node& n) {
    if (n.inputs.size() != 3 || n.inputs[0] < 0 || n.inputs[1] < 0 || n.inputs[2] < 0) return "needs three inputs";
    if (g.tensors[n.inputs[0]].dtype != DType::Bool) return "condition must be bool";
    if (isFloating(g.tensors[n.inputs[1]].dtype) != isFloating(g.tensors[n.inputs[2]].dtype))
        return "X and Y differ in type";
    return {};
}

std::string checkBinary(const Graph& g, const Node& n) {
    if (n.inputs.size() != 2 || n.inputs[0] < 0 || n.inputs[1] < 0) return "needs exactly two inputs";
    const bool fa = isFloating(g.tensors[n.inputs[0]].dtype), fb = isFloating(g.tensors[n.inputs[1]].dtype);
    if (fa != fb && n.op != "Pow") return "mixed float and integer operands";
    return {};
}

// ---- Clip

void clipOp(KernelContext& c) {
    const TensorData& x = c.input(0);
    double lo = -INFINITY, hi = INFINITY;
    if (c.node.attr("min") || c.node.attr("max")) {  // opset < 11
        lo = c.node.attrFloat("min", -INFINITY);
        hi = c.node.attrFloat("max", INFINITY);
    }
    if (c.hasInput(1)) lo = x.isFloat() ? toFloats(c.input(1)).at(0) : static_cast<double>(toInts(c.input(1)).at(0));
    if (c.hasInput(2)) hi = x.isFloat() ? toFloats(c.input(2)).at(0) : static_cast<double>(toInts(c.input(2)).at(0));
    TensorData y = x;
    if (y.isFloat()) {
        const float l = static_cast<float>(lo), h = static_cast<float>(hi);
        for (float& v : y.floats) v = std::min(std::max(v, l), h);
    } else {
        for (int64_t& v : y.ints) {
            const double d = std::min(std::max(static_cast<double>(v), lo), hi);
            v = static_cast<int64_t>(d);
        }
    }
    c.out[0] = std::move(y);
}

// ---- Cast

std::string checkCast(const Graph&, const Node& n) {
    const int64_t to = n.attrInt("to", 0);
    if (!detail::exactDTypeFromOnnx(to)) return "target type " + std::to_string(to);
    return {};
}

void castOp(KernelContext& c) {
    const TensorData& x = c.input(0);
    const auto target = detail::exactDTypeFromOnnx(c.node.attrInt("to", 0));
    if (!target) c.fail("unsupported target type " + std::to_string(c.node.attrInt("to", 0)));
    const DType to = *target;
    TensorData y;
    y.dtype = to;
    y.shape = x.shape;
    if (isFloating(to)) {
        y.floats = toFloats(x);
        if (to == DType::Float16) roundToFloat16(y);
    } else if (x.isFloat()) {
        y.ints.resize(x.floats.size());
        for (size_t i = 0; i < x.floats.size(); ++i)
            y.ints[i] = to == DType::Bool ? (x.floats[i] != 0.f) : wrapInt(to, static_cast<int64_t>(x.floats[i]));
    } else {
        y.ints = x.ints;
        for (int64_t& v : y.ints) v = wrapInt(to, v);
    }
    c.out[0] = std::move(y);
}

// ---- BatchNormalization (inference)

std::string checkBatchNorm(const Graph& g, const Node& n) {
    if (n.attrInt("training_mode", 0) != 0) return "training_mode=1";
    for (size_t i = 1; i < n.outputs.size(); ++i)
        if (n.outputs[i] >= 0) return "running mean/var outputs (training mode)";
    return checkFloatOnly(g, n);
}

void batchNormOp(KernelContext& c) {
    const TensorData& x = c.input(0);
    if (x.shape.size() < 2) c.fail("input must have a channel dimension, got " + shapeStr(x.shape));
    const int64_t N = x.shape[0], C = x.shape[1], inner = numel(x.shape) / std::max<int64_t>(1, N * C);
    const float eps = c.node.attrFloat("epsilon", 1e-5f);
    const auto& scale = c.input(1).floats;
    const auto& bias = c.input(2).floats;
    const auto& mean = c.input(3).floats;
    const auto& var = c.input(4).floats;
    if (static_cast<int64_t>(scale.size()) != C || static_cast<int64_t>(bias.size()) != C ||
        static_cast<int64_t>(mean.size()) != C || static_cast<int64_t>(var.size()) != C)
        c.fail("scale/B/mean/var must have " + std::to_string(C) + " values");
    TensorData y = makeFloatUninit(x.shape, x.dtype);
    c.pool.parallelFor(N * C, std::max<int64_t>(1, kGrain / std::max<int64_t>(inner, 1)), [&](int64_t b, int64_t e) {
        for (int64_t nc = b; nc < e; ++nc) {
            const int64_t ch = nc % C;
            const float k = scale[ch] / std::sqrt(var[ch] + eps);
            const float off = bias[ch] - mean[ch] * k;
            const float* src = x.floats.data() + nc * inner;
            float* dst = y.floats.data() + nc * inner;
            for (int64_t i = 0; i < inner; ++i) dst[i] = src[i] * k + off;
        }
    });
    c.out[0] = std::move(y);
}

}  // namespace

void registerElementwiseOps(Registry& r) {
    r["Relu"] = {reluOp, checkFloatOnly, false};
    r["Sigmoid"] = {sigmoidOp, checkFloatOnly, false};
    r["Tanh"] = {tanhOp, checkFloatOnly, false};
    r["Sqrt"] = {sqrtOp, checkFloatOnly, false};
    r["Erf"] = {erfOp, checkFloatOnly, false};
    r["Exp"] = {expOp, checkFloatOnly, false};
    r["Log"] = {logOp, checkFloatOnly, false};
    r["Reciprocal"] = {reciprocalOp, checkFloatOnly, false};
    r["Floor"] = {floorOp, checkFloatOnly, false};
    r["Ceil"] = {ceilOp, checkFloatOnly, false};
    r["HardSwish"] = {hardSwishOp, checkFloatOnly, false};
    r["LeakyRelu"] = {leakyReluOp, checkFloatOnly, false};
    r["HardSigmoid"] = {hardSigmoidOp, checkFloatOnly, false};
    r["Neg"] = {negOp, nullptr, false};
    r["Abs"] = {absOp, nullptr, false};
    r["Identity"] = {identityOp, nullptr, false};
    r["Add"] = {binaryOp<Bin::Add>, checkBinary, true};
    r["Sub"] = {binaryOp<Bin::Sub>, checkBinary, true};
    r["Mul"] = {binaryOp<Bin::Mul>, checkBinary, true};
    r["Div"] = {binaryOp<Bin::Div>, checkBinary, true};
    r["Pow"] = {binaryOp<Bin::Pow>, checkBinary, true};
    r["Equal"] = {compareOp<Cmp::Equal>, checkCompare, false};
    r["Less"] = {compareOp<Cmp::Less>, checkCompare, false};
    r["Greater"] = {compareOp<Cmp::Greater>, checkCompare, false};
    r["Not"] = {notOp, checkNot, false};
    r["Where"] = {whereOp, checkWhere, false};
    r["Clip"] = {clipOp, nullptr, false};
    r["Cast"] = {castOp, checkCast, false};
    r["BatchNormalization"] = {batchNormOp, checkBatchNorm, false};
}

}  // namespace autosplit::exec
