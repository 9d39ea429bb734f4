#include "depthwise_kernels.h"

#include <algorithm>
#include <utility>

#if (defined(__x86_64__) || defined(_M_X64)) && !defined(AUTOSPLIT_GEMM_PORTABLE_ONLY)
#define AUTOSPLIT_DW_X86 1
#include "simd_avx2.h"
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
// The first n lanes (n clamped to 0..16).
AUTOSPLIT_TARGET_AVX512 inline __mmask16 firstLanes(int64_t n) {
    return static_cast<__mmask16>(n <= 0 ? 0u : n >= 16 ? 0xffffu : (1u << n) - 1u);
}

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
                m[b] = firstLanes(n);
                const int64_t need = 2 * n - 1;  // stride 2: inputs spanned by n outputs
                m1[b] = firstLanes(need);
                m2[b] = firstLanes(need - 16);
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

// The flattened grid: out[o] = clamp(bias + sum_t w[t] * base[offset[t] + o], lo, hi) for o in
// [0, n), up to B 16-wide blocks per step (the last step only the blocks it needs), taps in
// order; `rows` such runs, the r-th reading at base + r * ldIn and writing n values at out + r *
// ldOut (one run over the whole [oh, q] grid, or one per output row written straight into the
// output). Reads past n stay inside the planes' slack.
template <int B>
AUTOSPLIT_TARGET_AVX512 inline void polyphaseStepAvx512(const float* s0, const int64_t* offsets, const float* w,
                                                        int taps, int64_t left, __m512 vb, __m512 vlo, __m512 vhi,
                                                        float* out) {
    __m512 acc[B];
    #pragma GCC unroll 8
    for (int b = 0; b < B; ++b) acc[b] = vb;
    for (int t = 0; t < taps; ++t) {
        const __m512 wv = _mm512_set1_ps(w[t]);
        const float* s = s0 + offsets[t];
        #pragma GCC unroll 8
        for (int b = 0; b < B; ++b) acc[b] = _mm512_fmadd_ps(wv, _mm512_loadu_ps(s + 16 * b), acc[b]);
    }
    #pragma GCC unroll 8
    for (int b = 0; b < B; ++b) {
        const __m512 v = _mm512_min_ps(_mm512_max_ps(acc[b], vlo), vhi);
        _mm512_mask_storeu_ps(out + 16 * b, firstLanes(left - 16 * b), v);
    }
}

AUTOSPLIT_TARGET_AVX512 void polyphaseAvx512(const float* base, const int64_t* offsets, const float* w, int taps,
                                             int64_t rows, int64_t n, int64_t ldIn, int64_t ldOut, float bias,
                                             float lo, float hi, float* out) {
    const __m512 vlo = _mm512_set1_ps(lo), vhi = _mm512_set1_ps(hi), vb = _mm512_set1_ps(bias);
    for (int64_t r = 0; r < rows; ++r) {
        const float* in = base + r * ldIn;
        float* o = out + r * ldOut;
        int64_t o0 = 0;
        for (; o0 + 64 < n; o0 += 64) polyphaseStepAvx512<4>(in + o0, offsets, w, taps, 64, vb, vlo, vhi, o + o0);
        switch ((n - o0 + 15) / 16) {
            case 1: polyphaseStepAvx512<1>(in + o0, offsets, w, taps, n - o0, vb, vlo, vhi, o + o0); break;
            case 2: polyphaseStepAvx512<2>(in + o0, offsets, w, taps, n - o0, vb, vlo, vhi, o + o0); break;
            case 3: polyphaseStepAvx512<3>(in + o0, offsets, w, taps, n - o0, vb, vlo, vhi, o + o0); break;
            case 4: polyphaseStepAvx512<4>(in + o0, offsets, w, taps, n - o0, vb, vlo, vhi, o + o0); break;
            default: break;
        }
    }
}

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif

// depthwiseAvx512 with 8-wide blocks: the same sums in the same order (one FMA per tap).
template <int SX, int B>
AUTOSPLIT_TARGET_AVX2 void depthwiseAvx2(const DepthwisePlane& p, const float* x, const float* w, float bias, float lo,
                                         float hi, float* y) {
    const __m256 vlo = _mm256_set1_ps(lo), vhi = _mm256_set1_ps(hi), vb = _mm256_set1_ps(bias);
    for (int64_t oy = 0; oy < p.oh; ++oy) {
        for (int64_t ox0 = 0; ox0 < p.ow; ox0 += 8 * B) {
            __m256 acc[B];
            __m256i m[B], m1[B], m2[B];
            #pragma GCC unroll 8
            for (int b = 0; b < B; ++b) {
                const int64_t n = std::clamp<int64_t>(p.ow - ox0 - 8 * b, 0, 8);
                m[b] = firstLanes8(n);
                m1[b] = firstLanes8(2 * n - 1);  // stride 2: inputs spanned by n outputs
                m2[b] = firstLanes8(2 * n - 1 - 8);
                acc[b] = vb;
            }
            for (int64_t ky = 0; ky < p.kh; ++ky) {
                const float* xr = x + (oy * p.sy + ky * p.dy) * p.ldx + ox0 * SX;
                for (int64_t kx = 0; kx < p.kw; ++kx) {
                    const __m256 wv = _mm256_set1_ps(w[ky * p.kw + kx]);
                    const float* s = xr + kx * p.dx;
                    #pragma GCC unroll 8
                    for (int b = 0; b < B; ++b) {
                        __m256 v;
                        if constexpr (SX == 1) {
                            v = _mm256_maskload_ps(s + 8 * b, m[b]);
                        } else {
                            v = evenLanes8(_mm256_maskload_ps(s + 16 * b, m1[b]), _mm256_maskload_ps(s + 16 * b + 8, m2[b]));
                        }
                        acc[b] = _mm256_fmadd_ps(wv, v, acc[b]);
                    }
                }
            }
            float* yr = y + oy * p.ow + ox0;
            #pragma GCC unroll 8
            for (int b = 0; b < B; ++b)
                _mm256_maskstore_ps(yr + 8 * b, m[b], _mm256_min_ps(_mm256_max_ps(acc[b], vlo), vhi));
        }
    }
}

// polyphaseAvx512 with 8-wide blocks (up to B of them per step).
template <int B>
AUTOSPLIT_TARGET_AVX2 inline void polyphaseStepAvx2(const float* s0, const int64_t* offsets, const float* w, int taps,
                                                    int64_t left, __m256 vb, __m256 vlo, __m256 vhi, float* out) {
    __m256 acc[B];
    #pragma GCC unroll 8
    for (int b = 0; b < B; ++b) acc[b] = vb;
    for (int t = 0; t < taps; ++t) {
        const __m256 wv = _mm256_set1_ps(w[t]);
        const float* s = s0 + offsets[t];
        #pragma GCC unroll 8
        for (int b = 0; b < B; ++b) acc[b] = _mm256_fmadd_ps(wv, _mm256_loadu_ps(s + 8 * b), acc[b]);
    }
    #pragma GCC unroll 8
    for (int b = 0; b < B; ++b) {
        const __m256 v = _mm256_min_ps(_mm256_max_ps(acc[b], vlo), vhi);
        if (left - 8 * b >= 8) _mm256_storeu_ps(out + 8 * b, v);
        else _mm256_maskstore_ps(out + 8 * b, firstLanes8(left - 8 * b), v);
    }
}

template <int... Bs>
AUTOSPLIT_TARGET_AVX2 inline void polyphaseTailAvx2(std::integer_sequence<int, Bs...>, int blocks, const float* s0,
                                                    const int64_t* offsets, const float* w, int taps, int64_t left,
                                                    __m256 vb, __m256 vlo, __m256 vhi, float* out) {
    ((blocks == Bs + 1 ? polyphaseStepAvx2<Bs + 1>(s0, offsets, w, taps, left, vb, vlo, vhi, out) : void()), ...);
}

AUTOSPLIT_TARGET_AVX2 void polyphaseAvx2(const float* base, const int64_t* offsets, const float* w, int taps,
                                         int64_t rows, int64_t n, int64_t ldIn, int64_t ldOut, float bias, float lo,
                                         float hi, float* out) {
    const __m256 vlo = _mm256_set1_ps(lo), vhi = _mm256_set1_ps(hi), vb = _mm256_set1_ps(bias);
    for (int64_t r = 0; r < rows; ++r) {
        const float* in = base + r * ldIn;
        float* o = out + r * ldOut;
        int64_t o0 = 0;
        for (; o0 + 64 < n; o0 += 64) polyphaseStepAvx2<8>(in + o0, offsets, w, taps, 64, vb, vlo, vhi, o + o0);
        if (o0 < n)
            polyphaseTailAvx2(std::make_integer_sequence<int, 8>{}, static_cast<int>((n - o0 + 7) / 8), in + o0,
                              offsets, w, taps, n - o0, vb, vlo, vhi, o + o0);
    }
}

#endif

// src[2j] -> even[j], src[2j + 1] -> odd[j] for the n elements of src.
void deinterleave(const float* src, int64_t n, float* even, float* odd) {
    for (int64_t j = 0; 2 * j + 1 < n; ++j) {
        even[j] = src[2 * j];
        odd[j] = src[2 * j + 1];
    }
    if (n % 2) even[n / 2] = src[n - 1];
}

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
    if (isa == GemmIsa::Avx2 && (p.sx == 1 || p.sx == 2)) {
        const int64_t blocks = (p.ow + 7) / 8;
        if (p.sx == 1) {
            if (blocks == 1) return depthwiseAvx2<1, 1>(p, x, w, bias, lo, hi, y);
            if (blocks == 2) return depthwiseAvx2<1, 2>(p, x, w, bias, lo, hi, y);
            return depthwiseAvx2<1, 4>(p, x, w, bias, lo, hi, y);
        }
        if (blocks == 1) return depthwiseAvx2<2, 1>(p, x, w, bias, lo, hi, y);
        if (blocks == 2) return depthwiseAvx2<2, 2>(p, x, w, bias, lo, hi, y);
        return depthwiseAvx2<2, 4>(p, x, w, bias, lo, hi, y);
    }
#endif
    (void)isa;
    depthwiseGeneric(p, x, w, bias, lo, hi, y);
}

bool depthwisePolyphaseSupported(GemmIsa isa, const DepthwiseChannel& c) {
#ifdef AUTOSPLIT_DW_X86
    return (isa == GemmIsa::Avx512 || isa == GemmIsa::Avx2) && (c.s == 1 || c.s == 2) && c.oh > 0 && c.ow > 0;
#else
    (void)isa;
    (void)c;
    return false;
#endif
}

namespace {
// Outputs per step of the flattened kernel: 4 16-wide blocks (AVX-512) or 8 8-wide ones (AVX2).
constexpr int kPolyStep = 64;
}

void DepthwisePhases::prepare(const DepthwiseChannel& c, GemmIsa isa) {
    c_ = c;
    isa_ = isa;
    const int64_t s = c.s;
    // The padded rows and columns the outputs read, per phase.
    const int64_t hp = (c.oh - 1) * s + (c.kh - 1) * c.dy + 1, wp = (c.ow - 1) * s + (c.kw - 1) * c.dx + 1;
    hp_ = hp;
    cols_ = std::min(c.w, wp - c.pl);  // input columns the outputs read
    q_ = (wp + s - 1) / s;
    planeSize_ = (hp + s - 1) / s * q_;
    n_ = c.oh * q_;
    tapOffset_.clear();
    int64_t maxOffset = 0;
    for (int64_t ky = 0; ky < c.kh; ++ky)
        for (int64_t kx = 0; kx < c.kw; ++kx) {
            const int64_t r = ky * c.dy, col = kx * c.dx;
            const int64_t plane = (r % s) * s + col % s;
            tapOffset_.push_back(plane * planeSize_ + (r / s) * q_ + col / s);
            maxOffset = std::max(maxOffset, tapOffset_.back());
        }
    // Slack: what the last step reads past n.
    const int64_t padded = (n_ + kPolyStep - 1) / kPolyStep * kPolyStep;
    storage_.assign(static_cast<size_t>(std::max(s * s * planeSize_, maxOffset + padded) + 16), 0.f);
    // Row by row straight into y when the rows fill their vectors (at most an eighth of the lanes
    // idle: 112-, 160- and 320-wide maps), which saves copying the grid's rows out (MobileNetV2's
    // 32-channel 3x3 at 112^2: 0.125 -> 0.110 ms); narrower maps keep the grid, whose steps
    // run full across rows (a 7-wide row would leave 9 of 16 lanes idle).
    const int64_t vw = isa == GemmIsa::Avx512 ? 16 : 8;
    rowWise_ = q_ != c.ow && ((c.ow + vw - 1) / vw * vw - c.ow) * 8 <= c.ow;
    if (q_ != c.ow && !rowWise_) out_.resize(static_cast<size_t>(n_));
}

void DepthwisePhases::run(const float* x, const float* w, float bias, float lo, float hi, float* y) {
#ifdef AUTOSPLIT_DW_X86
    const DepthwiseChannel& c = c_;
    float* planes = storage_.data();
    const int64_t s = c.s, cols = cols_;
    const bool avx512 = isa_ == GemmIsa::Avx512;
    for (int64_t iy = 0; iy < c.h && cols > 0; ++iy) {
        const int64_t r = iy + c.pt;
        if (r >= hp_) break;
        const float* src = x + iy * c.w;
        if (s == 1) {
            std::copy(src, src + cols, planes + r * q_ + c.pl);
        } else {
            // Input column ix is padded column C = ix + pl: even ix to phase pl % 2, odd ix to the other.
            float* row = planes + ((r % 2) * 2) * planeSize_ + (r / 2) * q_;
            float* evenDst = row + (c.pl % 2) * planeSize_ + c.pl / 2;
            float* oddDst = row + ((c.pl + 1) % 2) * planeSize_ + (c.pl + 1) / 2;
            deinterleave(src, cols, evenDst, oddDst);
        }
    }
    const int taps = static_cast<int>(tapOffset_.size());
    // One run over the whole grid, or one per output row straight into y (no copy of the grid's
    // rows); or the grid, then its rows copied out.
    const int64_t rows = rowWise_ ? c.oh : 1, n = rowWise_ ? c.ow : n_;
    float* out = q_ == c.ow || rowWise_ ? y : out_.data();
    if (avx512)
        polyphaseAvx512(planes, tapOffset_.data(), w, taps, rows, n, q_, c.ow, bias, lo, hi, out);
    else
        polyphaseAvx2(planes, tapOffset_.data(), w, taps, rows, n, q_, c.ow, bias, lo, hi, out);
    if (out != y)
        for (int64_t oy = 0; oy < c.oh; ++oy) std::copy(out + oy * q_, out + oy * q_ + c.ow, y + oy * c.ow);
#else
    (void)x, (void)w, (void)bias, (void)lo, (void)hi, (void)y;
#endif
}

}  // namespace autosplit::exec
