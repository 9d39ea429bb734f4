#include "depthwise_kernels.h"

#include <algorithm>

#if (defined(__x86_64__) || defined(_M_X64)) && !defined(AUTOSPLIT_GEMM_PORTABLE_ONLY)
#define AUTOSPLIT_DW_X86 1
#include <immintrin.h>
#endif

namespace autosplit::exec {

namespace {

// Row by row, each tap one pass over the row (vectorized by the compiler for unit stride).
void depthwiseGeneric(const DepthwisePlane& p, const float* x, const float* w, float bias, float lo, float hi,
                      float* y) {
    for (int64_t oy = 0; oy < p.oh; ++oy) {
        float* yr = y + oy * p.ow;
        std::fill(yr, yr + p.ow, bias);
        for (int64_t ky = 0; ky < p.kh; ++ky) {
            const float* xr = x + (oy * p.sy + ky * p.dy) * p.ldx;
            for (int64_t kx = 0; kx < p.kw; ++kx) {
                const float wv = w[ky * p.kw + kx];
                const float* s = xr + kx * p.dx;
                if (p.sx == 1)
                    for (int64_t ox = 0; ox < p.ow; ++ox) yr[ox] += wv * s[ox];
                else
                    for (int64_t ox = 0; ox < p.ow; ++ox) yr[ox] += wv * s[ox * p.sx];
            }
        }
        for (int64_t ox = 0; ox < p.ow; ++ox) yr[ox] = std::min(std::max(yr[ox], lo), hi);
    }
}

#ifdef AUTOSPLIT_DW_X86
#define AUTOSPLIT_TARGET_AVX512 __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,avx2,fma")))

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"  // GCC 12 on _mm512_maskz_loadu_ps / set1
#endif
// B 16-wide output blocks at a time (independent accumulators hide the FMA latency; B = 4 unless
// the row is shorter, a 7- or 14-wide map would waste most lanes); strides 1 and 2 (stride 2: the
// even elements of two masked loads, never reading past the last tap).
template <int SX, int B>
AUTOSPLIT_TARGET_AVX512 void depthwiseAvx512(const DepthwisePlane& p, const float* x, const float* w, float bias,
                                             float lo, float hi, float* y) {
    const __m512i even = _mm512_set_epi32(30, 28, 26, 24, 22, 20, 18, 16, 14, 12, 10, 8, 6, 4, 2, 0);
    const __m512 vlo = _mm512_set1_ps(lo), vhi = _mm512_set1_ps(hi), vb = _mm512_set1_ps(bias);
    for (int64_t oy = 0; oy < p.oh; ++oy) {
        for (int64_t ox0 = 0; ox0 < p.ow; ox0 += 16 * B) {
            // Always B blocks (blocks past the row end have empty masks: their loads touch no
            // memory), so the loops below unroll and the accumulators stay in registers.
            __m512 acc[B];
            __mmask16 m[B], m1[B], m2[B];
            #pragma GCC unroll 4
            for (int b = 0; b < B; ++b) {
                const int64_t n = std::clamp<int64_t>(p.ow - ox0 - 16 * b, 0, 16);
                m[b] = static_cast<__mmask16>(n >= 16 ? 0xffffu : (1u << n) - 1u);
                const int64_t need = 2 * n - 1;  // stride 2: inputs spanned by n outputs
                m1[b] = static_cast<__mmask16>(need >= 16 ? 0xffffu : need > 0 ? (1u << need) - 1u : 0u);
                m2[b] = static_cast<__mmask16>(need > 16 ? (1u << (need - 16)) - 1u : 0u);
                acc[b] = vb;
            }
            for (int64_t ky = 0; ky < p.kh; ++ky) {
                const float* xr = x + (oy * p.sy + ky * p.dy) * p.ldx + ox0 * SX;
                for (int64_t kx = 0; kx < p.kw; ++kx) {
                    const __m512 wv = _mm512_set1_ps(w[ky * p.kw + kx]);
                    const float* s = xr + kx * p.dx;
                    #pragma GCC unroll 4
                    for (int b = 0; b < B; ++b) {
                        __m512 v;
                        if constexpr (SX == 1) {
                            v = _mm512_maskz_loadu_ps(m[b], s + 16 * b);
                        } else {
                            v = _mm512_permutex2var_ps(_mm512_maskz_loadu_ps(m1[b], s + 32 * b), even,
                                                       _mm512_maskz_loadu_ps(m2[b], s + 32 * b + 16));
                        }
                        acc[b] = _mm512_fmadd_ps(wv, v, acc[b]);
                    }
                }
            }
            float* yr = y + oy * p.ow + ox0;
            #pragma GCC unroll 4
            for (int b = 0; b < B; ++b)
                _mm512_mask_storeu_ps(yr + 16 * b, m[b], _mm512_min_ps(_mm512_max_ps(acc[b], vlo), vhi));
        }
    }
}
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif
#endif

}  // namespace

void depthwisePlane(GemmIsa isa, const DepthwisePlane& p, const float* x, const float* w, float bias, float lo,
                    float hi, float* y) {
#ifdef AUTOSPLIT_DW_X86
    if (isa == GemmIsa::Avx512 && (p.sx == 1 || p.sx == 2)) {
        const int64_t blocks = (p.ow + 15) / 16;
        if (p.sx == 1) {
            if (blocks == 1) return depthwiseAvx512<1, 1>(p, x, w, bias, lo, hi, y);
            if (blocks == 2) return depthwiseAvx512<1, 2>(p, x, w, bias, lo, hi, y);
            return depthwiseAvx512<1, 4>(p, x, w, bias, lo, hi, y);
        }
        if (blocks == 1) return depthwiseAvx512<2, 1>(p, x, w, bias, lo, hi, y);
        if (blocks == 2) return depthwiseAvx512<2, 2>(p, x, w, bias, lo, hi, y);
        return depthwiseAvx512<2, 4>(p, x, w, bias, lo, hi, y);
    }
#endif
    (void)isa;
    depthwiseGeneric(p, x, w, bias, lo, hi, y);
}

}  // namespace autosplit::exec
