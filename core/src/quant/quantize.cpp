#include "autosplit/quant/quantize.h"

#include "autosplit/exec/executor.h"
#include "autosplit/util/errors.h"
#include "autosplit/util/lane_sums.h"

#include <algorithm>
#include <cmath>
#include <tuple>

namespace autosplit {

const char* clipMethodName(ClipMethod m) {
    switch (m) {
    case ClipMethod::MinMax: return "minmax";
    case ClipMethod::AciqLaplace: return "aciq-laplace";
    case ClipMethod::AciqGauss: return "aciq-gauss";
    case ClipMethod::Mse: return "mse";
    case ClipMethod::Percentile: return "percentile";
    }
    return "?";
}

ClipMethod parseClipMethod(const std::string& s) {
    for (ClipMethod m : {ClipMethod::MinMax, ClipMethod::AciqLaplace, ClipMethod::AciqGauss, ClipMethod::Mse,
                         ClipMethod::Percentile})
        if (s == clipMethodName(m)) return m;
    throw Error("unknown clipping method '" + s + "' (minmax, aciq-laplace, aciq-gauss, mse, percentile)");
}

bool isSupportedBits(int bits) { return bits == 2 || bits == 4 || bits == 6 || bits == 8 || bits == 16; }

namespace {
// Round half to even for |v| < 2^22 under the default rounding mode: adding and removing 1.5*2^23
// leaves the nearest integer (ties to even). Vectorizes, unlike nearbyint without SSE4.1.
inline float roundHalfEven(float v) {
    constexpr float magic = 12582912.0f;
    volatile float t = v + magic;  // volatile: keep the two roundings even under aggressive folding
    return t - magic;
}

FakeQuantGrid gridOf(const QuantParams& p) {
    return {p.scale, static_cast<float>(p.qmin - p.zeroPoint), static_cast<float>(p.qmax - p.zeroPoint)};
}
}  // namespace

float QuantParams::quantize(float x) const {
    const float q = std::min(std::max(x / scale, static_cast<float>(qmin - zeroPoint)), static_cast<float>(qmax - zeroPoint));
    return roundHalfEven(q) * scale;
}

FakeQuantGrid QuantParams::grid() const { return gridOf(*this); }

void fakeQuantize(float* x, int64_t n, const QuantParams& p) { fakeQuantizeGrid(x, n, gridOf(p)); }

double quantizationMse(const float* x, int64_t n, const QuantParams& p) {
    if (n <= 0) return 0.0;
    const FakeQuantGrid f = gridOf(p);
    return laneSum(x, n, [&f](float v) {
               const float d = v - fakeQuantizeValue(v, f);
               return static_cast<double>(d) * d;
           }) /
           static_cast<double>(n);
}

namespace {

void checkBits(int bits) {
    if (bits != 2 && bits != 4 && bits != 6 && bits != 8)
        throw Error("integer quantization supports 2, 4, 6 or 8 bits, not " + std::to_string(bits));
}

// ACIQ optimal clipping (in units of the Laplace b / Gaussian sigma) for 2..8 bits.
double aciqFactor(ClipMethod m, int bits) {
    static const double laplace[] = {2.83, 3.89, 5.03, 6.20, 7.41, 8.64, 9.89};
    static const double gauss[] = {1.71, 2.15, 2.55, 2.94, 3.29, 3.61, 3.92};
    const int i = std::clamp(bits, 2, 8) - 2;
    return m == ClipMethod::AciqLaplace ? laplace[i] : gauss[i];
}

struct Stats {
    float mn = 0, mx = 0;
    double mean = 0, meanAbsDev = 0, stddev = 0, maxAbs = 0;
};

// The range (util/lane_sums.h laneMinMax), and the
// mean, mean absolute deviation and standard deviation only when `moments` (ACIQ clipping): those
// are serial double sums over every element, the slowest part, and MSE, min-max and percentile
// clipping read only the range.
Stats stats(const float* x, int64_t n, bool moments) {
    Stats s;
    if (n <= 0) return s;
    std::tie(s.mn, s.mx) = laneMinMax(x, n);
    s.maxAbs = std::max(std::fabs(static_cast<double>(s.mn)), std::fabs(static_cast<double>(s.mx)));
    if (!moments) return s;
    double sum = 0;
    for (int64_t k = 0; k < n; ++k) sum += x[k];
    s.mean = sum / static_cast<double>(n);
    double mad = 0, var = 0;
    for (int64_t k = 0; k < n; ++k) {
        const double d = x[k] - s.mean;
        mad += std::fabs(d);
        var += d * d;
    }
    s.meanAbsDev = mad / static_cast<double>(n);
    s.stddev = std::sqrt(var / static_cast<double>(n));
    return s;
}

bool needsMoments(ClipMethod m) { return m == ClipMethod::AciqLaplace || m == ClipMethod::AciqGauss; }

// Deterministic subsample so MSE searches stay cheap on large tensors: one value at a seeded
// pseudo-random offset in each window of `step` values (stratified). Every k-th value would alias
// with the layout: a [T, 120] tensor at stride 4 shows only the channels c = 0 mod 4, and a search
// over that fitted a transformer's activations without its outlier channels.
std::vector<float> sample(const float* x, int64_t n, int64_t maxCount) {
    const int64_t step = std::max<int64_t>(1, (n + maxCount - 1) / maxCount);
    std::vector<float> s;
    s.reserve(static_cast<size_t>(n / step + 1));
    if (step == 1) return std::vector<float>(x, x + n);
    uint64_t state = 0x2545f4914f6cdd1dull;
    for (int64_t i = 0; i < n; i += step) {
        uint64_t z = (state += 0x9e3779b97f4a7c15ull);  // splitmix64
        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
        z ^= z >> 31;
        s.push_back(x[std::min(n - 1, i + static_cast<int64_t>(z % static_cast<uint64_t>(step)))]);
    }
    return s;
}

double percentileOf(std::vector<float> v, double pct) {
    if (v.empty()) return 0;
    const double pos = std::clamp(pct, 0.0, 100.0) / 100.0 * static_cast<double>(v.size() - 1);
    const size_t k = static_cast<size_t>(std::llround(pos));
    std::nth_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(k), v.end());
    return v[k];
}

QuantParams makeSymmetric(double alpha, int bits) {
    QuantParams p;
    p.qmax = (1 << (bits - 1)) - 1;
    p.qmin = -p.qmax;
    p.zeroPoint = 0;
    p.scale = alpha > 0 ? static_cast<float>(alpha / p.qmax) : 1.f;
    return p;
}

QuantParams makeAsymmetric(double lo, double hi, int bits) {
    lo = std::min(lo, 0.0);
    hi = std::max(hi, 0.0);
    QuantParams p;
    p.qmin = 0;
    p.qmax = (1 << bits) - 1;
    if (hi - lo <= 0) {
        p.scale = 1.f;
        p.zeroPoint = 0;
        return p;
    }
    p.scale = static_cast<float>((hi - lo) / p.qmax);
    p.zeroPoint = static_cast<int32_t>(std::clamp(std::nearbyint(-lo / p.scale), 0.0, static_cast<double>(p.qmax)));
    return p;
}

// Grid search over a shrink factor t in (0, 1] of the full range, then a finer pass.
template <class Make>
QuantParams mseSearch(const std::vector<float>& s, Make make) {
    QuantParams best = make(1.0);
    double bestErr = quantizationMse(s.data(), static_cast<int64_t>(s.size()), best);
    double bestT = 1.0;
    for (int k = 1; k < 16; ++k) {
        const double t = k / 16.0;
        const QuantParams p = make(t);
        const double e = quantizationMse(s.data(), static_cast<int64_t>(s.size()), p);
        if (e < bestErr) bestErr = e, best = p, bestT = t;
    }
    for (int k = -7; k <= 7; ++k) {
        const double t = bestT + k / 128.0;
        if (t <= 0 || t > 1 || k == 0) continue;
        const QuantParams p = make(t);
        const double e = quantizationMse(s.data(), static_cast<int64_t>(s.size()), p);
        if (e < bestErr) bestErr = e, best = p;
    }
    return best;
}

constexpr int64_t kSearchSamples = 1 << 16;

}  // namespace

QuantParams symmetricParams(const float* x, int64_t n, int bits, const QuantOptions& o) {
    checkBits(bits);
    const Stats s = stats(x, n, needsMoments(o.clip));
    double alpha = s.maxAbs;
    switch (o.clip) {
    case ClipMethod::MinMax: break;
    case ClipMethod::AciqLaplace: alpha = std::min(s.maxAbs, std::fabs(s.mean) + aciqFactor(o.clip, bits) * s.meanAbsDev); break;
    case ClipMethod::AciqGauss: alpha = std::min(s.maxAbs, std::fabs(s.mean) + aciqFactor(o.clip, bits) * s.stddev); break;
    case ClipMethod::Percentile: {
        std::vector<float> a = sample(x, n, 1 << 20);
        for (float& v : a) v = std::fabs(v);
        alpha = percentileOf(std::move(a), o.percentile);
        break;
    }
    case ClipMethod::Mse: {
        const std::vector<float> smp = sample(x, n, kSearchSamples);
        return mseSearch(smp, [&](double t) { return makeSymmetric(s.maxAbs * t, bits); });
    }
    }
    return makeSymmetric(alpha, bits);
}

QuantParams activationParams(const float* x, int64_t n, int bits, bool unsignedRange, const QuantOptions& o) {
    checkBits(bits);
    const Stats s = stats(x, n, needsMoments(o.clip));
    double lo = unsignedRange ? 0.0 : s.mn, hi = s.mx;
    switch (o.clip) {
    case ClipMethod::MinMax: break;
    case ClipMethod::AciqLaplace:
    case ClipMethod::AciqGauss: {
        const double w = aciqFactor(o.clip, bits) * (o.clip == ClipMethod::AciqLaplace ? s.meanAbsDev : s.stddev);
        hi = std::min(hi, s.mean + w);
        if (!unsignedRange) lo = std::max(lo, s.mean - w);
        break;
    }
    case ClipMethod::Percentile: {
        std::vector<float> smp = sample(x, n, 1 << 20);
        hi = percentileOf(smp, o.percentile);
        if (!unsignedRange) lo = percentileOf(std::move(smp), 100.0 - o.percentile);
        break;
    }
    case ClipMethod::Mse: {
        const std::vector<float> smp = sample(x, n, kSearchSamples);
        return mseSearch(smp, [&](double t) { return makeAsymmetric(lo * t, hi * t, bits); });
    }
    }
    return makeAsymmetric(lo, hi, bits);
}

int weightChannelAxis(const Node& node, const TensorData& w, int inputSlot) {
    if (inputSlot != 1 && !(node.op == "MatMul" && inputSlot == 0)) return -1;
    const int rank = static_cast<int>(w.shape.size());
    if (rank == 0) return -1;
    if (node.op == "Conv") return 0;
    if (node.op == "ConvTranspose") return rank > 1 ? 1 : 0;
    if (node.op == "Gemm") return node.attrInt("transB", 0) != 0 ? 0 : std::min(1, rank - 1);
    if (node.op == "MatMul") return inputSlot == 1 ? rank - 1 : -1;
    return -1;
}

std::vector<QuantParams> weightChannelParams(const TensorData& w, int channelAxis, int bits, const QuantOptions& o) {
    if (!w.isFloat()) throw Error("only float weights can be quantized");
    checkBits(bits);
    if (channelAxis < 0) return {symmetricParams(w.floats.data(), static_cast<int64_t>(w.floats.size()), bits, o)};
    int64_t outer = 1, inner = 1;
    for (int d = 0; d < channelAxis; ++d) outer *= w.shape[d];
    for (size_t d = static_cast<size_t>(channelAxis) + 1; d < w.shape.size(); ++d) inner *= w.shape[d];
    const int64_t C = w.shape[channelAxis];
    std::vector<float> buf(static_cast<size_t>(outer * inner));
    std::vector<QuantParams> params;
    params.reserve(static_cast<size_t>(C));
    for (int64_t c = 0; c < C; ++c) {
        for (int64_t k = 0; k < outer; ++k)
            std::copy_n(w.floats.begin() + (k * C + c) * inner, inner, buf.begin() + k * inner);
        params.push_back(symmetricParams(buf.data(), static_cast<int64_t>(buf.size()), bits, o));
    }
    return params;
}

TensorData fakeQuantizeWeights(const TensorData& w, int channelAxis, int bits, const QuantOptions& o) {
    if (!w.isFloat()) throw Error("only float weights can be quantized");
    TensorData out = w;
    if (bits == 16) {
        roundToFloat16(out);
        return out;
    }
    const std::vector<QuantParams> params = weightChannelParams(w, channelAxis, bits, o);
    if (channelAxis < 0) {
        fakeQuantize(out.floats.data(), static_cast<int64_t>(out.floats.size()), params.front());
        return out;
    }
    int64_t outer = 1, inner = 1;
    for (int d = 0; d < channelAxis; ++d) outer *= w.shape[d];
    for (size_t d = static_cast<size_t>(channelAxis) + 1; d < w.shape.size(); ++d) inner *= w.shape[d];
    const int64_t C = w.shape[channelAxis];
    for (int64_t c = 0; c < C; ++c)
        for (int64_t k = 0; k < outer; ++k) fakeQuantize(out.floats.data() + (k * C + c) * inner, inner, params[static_cast<size_t>(c)]);
    return out;
}

double weightQuantizationMse(const TensorData& w, int channelAxis, int bits, const QuantOptions& o) {
    const TensorData q = fakeQuantizeWeights(w, channelAxis, bits, o);
    if (w.floats.empty()) return 0.0;
    double s = 0.0;
    for (size_t i = 0; i < w.floats.size(); ++i) {
        const double d = static_cast<double>(w.floats[i]) - q.floats[i];
        s += d * d;
    }
    return s / static_cast<double>(w.floats.size());
}

void fakeQuantizeActivation(TensorData& t, int bits, bool unsignedRange, const QuantOptions& o) {
    if (!t.isFloat()) return;  // integer tensors (shapes, indices) are not quantized
    if (bits == 16) {
        roundToFloat16(t);
        return;
    }
    const QuantParams p = activationParams(t.floats.data(), static_cast<int64_t>(t.floats.size()), bits, unsignedRange, o);
    fakeQuantize(t.floats.data(), static_cast<int64_t>(t.floats.size()), p);
}

double activationQuantizationMse(const TensorData& t, int bits, bool unsignedRange, const QuantOptions& o) {
    if (!t.isFloat() || t.floats.empty()) return 0.0;
    if (bits == 16) {
        double s = 0;
        for (float v : t.floats) {
            const double d = static_cast<double>(v) - roundToFloat16(v);
            s += d * d;
        }
        return s / static_cast<double>(t.floats.size());
    }
    const QuantParams p = activationParams(t.floats.data(), static_cast<int64_t>(t.floats.size()), bits, unsignedRange, o);
    return quantizationMse(t.floats.data(), static_cast<int64_t>(t.floats.size()), p);
}

bool producesNonNegative(const Node& n) {
    if (!n.activation.isNone()) return n.activation.nonNegative();
    if (n.op == "Relu" || n.op == "Sigmoid" || n.op == "HardSigmoid" || n.op == "Softmax") return true;
    if (n.op == "Clip") return n.attr("min") && n.attrFloat("min", -1.f) >= 0.f;  // opset < 11 form
    return false;
}

}  // namespace autosplit
