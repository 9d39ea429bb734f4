// Quantizers: rounding, ranges, per-channel scales, unsigned/asymmetric activations, clipping
// methods and float16 for the cloud.
#include "autosplit/quant/quantize.h"
#include "autosplit/util/errors.h"

#include <QtTest>

#include <cmath>
#include <random>
#include <set>

using namespace autosplit;

namespace {
std::vector<float> laplace(int64_t n, uint32_t seed, float b = 1.f) {
    std::mt19937 rng(seed);
    std::exponential_distribution<float> e(1.f / b);
    std::bernoulli_distribution sign(0.5);
    std::vector<float> v(static_cast<size_t>(n));
    for (float& x : v) x = sign(rng) ? e(rng) : -e(rng);
    return v;
}
QuantOptions opt(ClipMethod m) {
    QuantOptions o;
    o.clip = m;
    return o;
}
}  // namespace

class QuantizeTest : public QObject {
    Q_OBJECT

private slots:
    void roundsHalfToEven() {
        QuantParams p;
        p.scale = 1.f;
        p.qmin = -7;
        p.qmax = 7;
        QCOMPARE(p.quantize(2.5f), 2.f);
        QCOMPARE(p.quantize(3.5f), 4.f);
        QCOMPARE(p.quantize(-2.5f), -2.f);
        QCOMPARE(p.quantize(0.5f), 0.f);
        QCOMPARE(p.quantize(100.f), 7.f);  // clamped
    }

    void weightsUseRestrictedSymmetricRangePerChannel() {
        // Two output channels with very different ranges: each gets its own scale.
        TensorData w;
        w.shape = {2, 1, 2, 2};
        w.floats = {-1.f, 0.5f, 0.25f, 1.f, -100.f, 50.f, 25.f, 100.f};
        for (int bits : {2, 4, 6, 8}) {
            const TensorData q = fakeQuantizeWeights(w, 0, bits, opt(ClipMethod::MinMax));
            const float qmax = static_cast<float>((1 << (bits - 1)) - 1);
            for (int c = 0; c < 2; ++c) {
                const float scale = (c == 0 ? 1.f : 100.f) / qmax;
                std::set<int> levels;
                for (int i = 0; i < 4; ++i) {
                    const float level = q.floats[c * 4 + i] / scale;
                    QVERIFY(std::fabs(level - std::round(level)) < 1e-4);
                    QVERIFY(level >= -qmax - 1e-4 && level <= qmax + 1e-4);  // never -2^(b-1)
                    levels.insert(static_cast<int>(std::lround(level)));
                }
                QCOMPARE(q.floats[c * 4 + 3], c == 0 ? 1.f : 100.f);  // the max is exact
                // Levels -qmax, 0.5 qmax, 0.25 qmax, qmax: four distinct ones from 4 bits on; at 2
                // bits (qmax 1) 0.5 and 0.25 both round to 0.
                QCOMPARE(levels.size(), size_t(bits == 2 ? 3 : 4));
            }
        }
        // 2 bits: only {-s, 0, s}.
        const TensorData q2 = fakeQuantizeWeights(w, 0, 2, opt(ClipMethod::MinMax));
        for (float v : q2.floats) QVERIFY(v == 0.f || std::fabs(v) == 1.f || std::fabs(v) == 100.f);
    }

    void channelAxisFollowsTheOp() {
        Node conv, convT, gemm, gemmT, matmul;
        conv.op = "Conv";
        convT.op = "ConvTranspose";
        gemm.op = "Gemm";
        gemmT.op = "Gemm";
        gemmT.attrs["transB"] = Attribute{int64_t{1}};
        matmul.op = "MatMul";
        TensorData w4, w2;
        w4.shape = {8, 4, 3, 3};
        w2.shape = {16, 32};
        QCOMPARE(weightChannelAxis(conv, w4, 1), 0);
        QCOMPARE(weightChannelAxis(convT, w4, 1), 1);
        QCOMPARE(weightChannelAxis(gemm, w2, 1), 1);
        QCOMPARE(weightChannelAxis(gemmT, w2, 1), 0);
        QCOMPARE(weightChannelAxis(matmul, w2, 1), 1);
        QCOMPARE(weightChannelAxis(conv, w4, 2), -1);  // bias
    }

    void activationsUnsignedAndAsymmetric() {
        std::vector<float> relu = laplace(10000, 1);
        for (float& v : relu) v = std::max(v, 0.f);
        const QuantParams u = activationParams(relu.data(), 10000, 4, true, opt(ClipMethod::MinMax));
        QCOMPARE(u.zeroPoint, 0);
        QCOMPARE(u.qmax, 15);
        // Asymmetric: zero stays exactly representable.
        std::vector<float> x = laplace(10000, 2);
        for (float& v : x) v += 0.7f;
        const QuantParams a = activationParams(x.data(), 10000, 4, false, opt(ClipMethod::MinMax));
        QVERIFY(a.zeroPoint > 0 && a.zeroPoint < 15);
        QCOMPARE(a.quantize(0.f), 0.f);
        // Unsigned uses all 2^b levels for the positive range: finer than a signed grid.
        const QuantParams s = activationParams(relu.data(), 10000, 4, false, opt(ClipMethod::MinMax));
        QVERIFY(quantizationMse(relu.data(), 10000, u) <= quantizationMse(relu.data(), 10000, s) + 1e-12);
    }

    void errorFallsWithBits() {
        TensorData t;
        t.shape = {1, 20000};
        t.floats = laplace(20000, 3);
        double prev = 1e30;
        for (int bits : {2, 4, 6, 8, 16}) {
            const double e = activationQuantizationMse(t, bits, false, opt(ClipMethod::Mse));
            QVERIFY2(e < prev, qPrintable(QString("%1 bits: %2 >= %3").arg(bits).arg(e).arg(prev)));
            prev = e;
        }
        QVERIFY(prev < 1e-7);  // float16
    }

    void clippingBeatsMinMaxOnHeavyTails() {
        std::vector<float> x = laplace(50000, 4);
        x[17] = 60.f;  // outlier
        for (int bits : {2, 4}) {
            const double mm = quantizationMse(x.data(), 50000, symmetricParams(x.data(), 50000, bits, opt(ClipMethod::MinMax)));
            for (ClipMethod m : {ClipMethod::Mse, ClipMethod::AciqLaplace, ClipMethod::AciqGauss, ClipMethod::Percentile}) {
                const double e = quantizationMse(x.data(), 50000, symmetricParams(x.data(), 50000, bits, opt(m)));
                QVERIFY2(e < mm, qPrintable(QString("%1 at %2 bits: %3 vs minmax %4").arg(clipMethodName(m)).arg(bits).arg(e).arg(mm)));
            }
            // The search is at least as good as the analytical clip.
            const double mse = quantizationMse(x.data(), 50000, symmetricParams(x.data(), 50000, bits, opt(ClipMethod::Mse)));
            const double aciq = quantizationMse(x.data(), 50000, symmetricParams(x.data(), 50000, bits, opt(ClipMethod::AciqLaplace)));
            QVERIFY(mse <= aciq * 1.02);
        }
        // ACIQ Laplace at 4 bits clips near 5.03 b (b = 1 here).
        const QuantParams p = symmetricParams(x.data(), 50000, 4, opt(ClipMethod::AciqLaplace));
        QVERIFY(std::fabs(p.scale * 7 - 5.03) < 0.2);
    }

    // The MSE search subsamples large tensors: the subsample must not alias with the layout.
    // A [T, 120] token tensor (transformer activations) with four outlier channels of mean +-9,
    // all at c = 1 mod 4, 1000 tokens: a stride of 2 (every other value) saw only the even
    // channels and fitted a range of +-1.0 that clips every outlier value to a ninth of itself.
    // The fitted range must hold them, and the error on the whole tensor must be a small part of
    // its energy.
    void mseSearchSeesEveryChannelOfALargeTensor() {
        const int64_t tokens = 1000, channels = 120;
        std::mt19937 rng(5);
        std::normal_distribution<float> n(0.f, 0.25f);
        std::vector<float> x(static_cast<size_t>(tokens * channels));
        double energy = 0;
        for (int64_t t = 0; t < tokens; ++t)
            for (int64_t c = 0; c < channels; ++c) {
                float v = n(rng);
                if (c == 21 || c == 53 || c == 77) v += 9.f;
                if (c == 109) v -= 9.f;
                x[static_cast<size_t>(t * channels + c)] = v;
                energy += double(v) * v;
            }
        energy /= double(x.size());
        const QuantParams p = activationParams(x.data(), int64_t(x.size()), 8, false, opt(ClipMethod::Mse));
        const float lo = p.scale * float(p.qmin - p.zeroPoint), hi = p.scale * float(p.qmax - p.zeroPoint);
        QVERIFY2(hi > 8.f && lo < -8.f, qPrintable(QString("fitted range [%1, %2]").arg(lo).arg(hi)));
        QVERIFY(quantizationMse(x.data(), int64_t(x.size()), p) < 1e-3 * energy);
    }

    void float16ForTheCloud() {
        TensorData w;
        w.shape = {2};
        w.floats = {1.f + std::ldexp(1.f, -12), 3.14159265f};
        const TensorData q = fakeQuantizeWeights(w, 0, 16, opt(ClipMethod::Mse));
        QCOMPARE(q.floats[0], 1.f);
        QCOMPARE(q.floats[1], 3.140625f);
    }

    void rejectsOtherBitWidths() {
        TensorData w;
        w.shape = {1, 4};
        w.floats = {1, 2, 3, 4};
        QVERIFY_THROWS_EXCEPTION(Error, fakeQuantizeWeights(w, 0, 3, opt(ClipMethod::MinMax)));
        QVERIFY_THROWS_EXCEPTION(Error, parseClipMethod("best"));
        QCOMPARE(parseClipMethod("aciq-gauss"), ClipMethod::AciqGauss);
    }
};

QTEST_GUILESS_MAIN(QuantizeTest)
#include "tst_exec_quantize.moc"
