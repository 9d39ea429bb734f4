// Packed SGEMM: micro-kernels per ISA, cache-blocked driver, work split over the pool.
//
// Layout: C tile = R rows x (NV vectors of VW floats), R <= MR, NV*VW <= NR. B is packed per
// (KC x NC) block into panels of NR columns ([kc][NR] each, BPanels); the kernel streams one B
// panel from L1 and broadcasts A straight from its rows (conv weights: reading them is the one
// pass over memory they need anyway, so packing them per call costs more than it saves). Only a
// transposed A is packed, into [kc][MR] strips. Columns past N are masked on the load/store of C.
// A row-major B under few rows of A is read in place instead of packed (readsBInPlace), but for
// a last partial panel.
#include "sgemm_kernels.h"

#include "autosplit/util/cpu_features.h"
#include "exec_internal.h"

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <memory>
#include <new>
#include <numeric>
#include <string>
#include <thread>
#include <tuple>
#include <utility>
#include <vector>

// AUTOSPLIT_GEMM_PORTABLE_ONLY builds only the portable kernel (as on non-x86 targets).
#if (defined(__x86_64__) || defined(_M_X64)) && !defined(AUTOSPLIT_GEMM_PORTABLE_ONLY)
#define AUTOSPLIT_GEMM_X86 1
#include "simd_avx2.h"
#endif

namespace autosplit::exec {

namespace {

enum Flags : int { kLoadC = 1, kBias = 2, kClamp = 4, kLeaky = 8 };

struct KArgs {
    int64_t kc;
    const float* a;  // packed strip [kc][MR], or row-major rows at stride lda (unpacked kernels)
    int64_t lda;
    const float* b;  // B's rows for the tile: a packed panel [kc][NR] (ldb = NR), or B in place
    int64_t ldb;
    float* c;
    int64_t ldc;
    int ncols;  // valid columns in the tile, 1..NV*VW
    int flags;
    const float* bias;  // bias of the tile's first row (kBias)
    float lo, hi;       // kClamp
    float alpha;        // kLeaky: x >= 0 ? x : x * alpha after the clamp (LeakyRelu, as applyActivation)
};

using KernelFn = void (*)(const KArgs&);

// ---------------------------------------------------------------- portable kernel

constexpr int kGenMR = 4, kGenVW = 8, kGenNV = 2;

template <int R, int NV, bool PackedA>
struct GenericKernel {
    static void run(const KArgs& p) {
        constexpr int W = NV * kGenVW;
        float acc[R][W] = {};
        const float* a = p.a;
        const float* b = p.b;
        const int64_t rs = PackedA ? 1 : p.lda, ks = PackedA ? kGenMR : 1;
        for (int64_t k = 0; k < p.kc; ++k, a += ks, b += p.ldb) {
            for (int r = 0; r < R; ++r) {
                const float av = a[r * rs];
                for (int j = 0; j < W; ++j) acc[r][j] += av * b[j];
            }
        }
        for (int r = 0; r < R; ++r) {
            float* c = p.c + r * p.ldc;
            for (int j = 0; j < p.ncols; ++j) {
                float x = acc[r][j];
                if (p.flags & kLoadC) x += c[j];
                if (p.flags & kBias) x += p.bias[r];
                if (p.flags & kClamp) x = std::min(std::max(x, p.lo), p.hi);
                if (p.flags & kLeaky) x = x >= 0.f ? x : x * p.alpha;
                c[j] = x;
            }
        }
    }
};

#ifdef AUTOSPLIT_GEMM_X86

// ---------------------------------------------------------------- AVX2 + FMA kernel (6 x 16)

constexpr int kAvx2MR = 6, kAvx2NV = 2;

alignas(32) const int32_t kMaskTable[16] = {-1, -1, -1, -1, -1, -1, -1, -1, 0, 0, 0, 0, 0, 0, 0, 0};

template <int R, int NV, bool PackedA>
struct Avx2Kernel {
    AUTOSPLIT_TARGET_AVX2 static void run(const KArgs& p) {
        __m256 acc[R][NV];
        #pragma GCC unroll 16
        for (int r = 0; r < R; ++r)
            #pragma GCC unroll 16
            for (int v = 0; v < NV; ++v) acc[r][v] = _mm256_setzero_ps();
        const float* a = p.a;
        const float* b = p.b;
        const int64_t kc = p.kc, lda = PackedA ? 1 : p.lda, ldb = p.ldb;
        #pragma GCC unroll 4
        for (int64_t k = 0; k < kc; ++k, a += PackedA ? kAvx2MR : 1, b += ldb) {
            __m256 bv[NV];
            #pragma GCC unroll 16
            for (int v = 0; v < NV; ++v) bv[v] = _mm256_loadu_ps(b + 8 * v);
            #pragma GCC unroll 16
            for (int r = 0; r < R; ++r) {
                const __m256 av = _mm256_broadcast_ss(a + r * lda);
                #pragma GCC unroll 16
                for (int v = 0; v < NV; ++v) acc[r][v] = _mm256_fmadd_ps(av, bv[v], acc[r][v]);
            }
        }
        const int rem = p.ncols - 8 * (NV - 1);  // 1..8 columns in the last vector
        const __m256i lastMask = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(kMaskTable + 8 - rem));
        const __m256 lo = _mm256_set1_ps(p.lo), hi = _mm256_set1_ps(p.hi), alpha = _mm256_set1_ps(p.alpha);
        #pragma GCC unroll 16
        for (int r = 0; r < R; ++r) {
            float* c = p.c + r * p.ldc;
            const __m256 bias = (p.flags & kBias) ? _mm256_set1_ps(p.bias[r]) : _mm256_setzero_ps();
            #pragma GCC unroll 16
            for (int v = 0; v < NV; ++v) {
                __m256 x = acc[r][v];
                const bool full = v < NV - 1 || rem == 8;
                if (p.flags & kLoadC)
                    x = _mm256_add_ps(x, full ? _mm256_loadu_ps(c + 8 * v) : _mm256_maskload_ps(c + 8 * v, lastMask));
                if (p.flags & kBias) x = _mm256_add_ps(x, bias);
                if (p.flags & kClamp) x = _mm256_min_ps(_mm256_max_ps(x, lo), hi);
                if (p.flags & kLeaky)  // lanes not >= 0 (negative or NaN) times alpha
                    x = _mm256_blendv_ps(x, _mm256_mul_ps(x, alpha), _mm256_cmp_ps(x, _mm256_setzero_ps(), _CMP_NGE_UQ));
                if (full) _mm256_storeu_ps(c + 8 * v, x);
                else _mm256_maskstore_ps(c + 8 * v, lastMask, x);
            }
        }
    }
};

// ---------------------------------------------------------------- AVX-512 kernel (12 x 32)

#define AUTOSPLIT_TARGET_AVX512 __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,avx2,fma")))
constexpr int kAvx512MR = 12, kAvx512NV = 2;
// Unpacked A (conv weights, read once per run and mostly from memory): the AVX-512 kernel
// prefetches one row's line this many floats ahead per k step, the rows in turn, so every line
// of the strip is requested ahead of use. ResNet-50 at one thread ~1.5 ms faster on Zen 5; the
// AVX2 kernel, compute-bound at half the width, gained nothing from it and has none.
constexpr int64_t kPrefetchA = 128;

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
template <int R, int NV, bool PackedA>
struct Avx512Kernel {
    AUTOSPLIT_TARGET_AVX512 static void run(const KArgs& p) {
        __m512 acc[R][NV];
        #pragma GCC unroll 16
        for (int r = 0; r < R; ++r)
            #pragma GCC unroll 16
            for (int v = 0; v < NV; ++v) acc[r][v] = _mm512_setzero_ps();
        const float* a = p.a;
        const float* b = p.b;
        const int64_t kc = p.kc, lda = PackedA ? 1 : p.lda, ldb = p.ldb;
        const float* pf = a + kPrefetchA;
        int pfLeft = R;
        #pragma GCC unroll 4
        for (int64_t k = 0; k < kc; ++k, a += PackedA ? kAvx512MR : 1, b += ldb) {
            if constexpr (!PackedA) {
                _mm_prefetch(reinterpret_cast<const char*>(pf), _MM_HINT_T0);
                pf += lda + 1;
                if (--pfLeft == 0) pf -= R * lda, pfLeft = R;
            }
            __m512 bv[NV];
            #pragma GCC unroll 16
            for (int v = 0; v < NV; ++v) bv[v] = _mm512_loadu_ps(b + 16 * v);
            #pragma GCC unroll 16
            for (int r = 0; r < R; ++r) {
                const __m512 av = _mm512_set1_ps(a[r * lda]);
                #pragma GCC unroll 16
                for (int v = 0; v < NV; ++v) acc[r][v] = _mm512_fmadd_ps(av, bv[v], acc[r][v]);
            }
        }
        const int rem = p.ncols - 16 * (NV - 1);  // 1..16 columns in the last vector
        const __mmask16 lastMask = static_cast<__mmask16>(rem >= 16 ? 0xffffu : (1u << rem) - 1u);
        const __m512 lo = _mm512_set1_ps(p.lo), hi = _mm512_set1_ps(p.hi), alpha = _mm512_set1_ps(p.alpha);
        #pragma GCC unroll 16
        for (int r = 0; r < R; ++r) {
            float* c = p.c + r * p.ldc;
            const __m512 bias = (p.flags & kBias) ? _mm512_set1_ps(p.bias[r]) : _mm512_setzero_ps();
            #pragma GCC unroll 16
            for (int v = 0; v < NV; ++v) {
                const __mmask16 m = v < NV - 1 ? static_cast<__mmask16>(0xffff) : lastMask;
                __m512 x = acc[r][v];
                if (p.flags & kLoadC) x = _mm512_add_ps(x, _mm512_maskz_loadu_ps(m, c + 16 * v));
                if (p.flags & kBias) x = _mm512_add_ps(x, bias);
                if (p.flags & kClamp) x = _mm512_min_ps(_mm512_max_ps(x, lo), hi);
                if (p.flags & kLeaky)  // lanes not >= 0 (negative or NaN) times alpha
                    x = _mm512_mask_mul_ps(x, _mm512_cmp_ps_mask(x, _mm512_setzero_ps(), _CMP_NGE_UQ), x, alpha);
                _mm512_mask_storeu_ps(c + 16 * v, m, x);
            }
        }
    }
};
// The last few columns of a block (N % 16 <= kMaxDotCols, e.g. 49 = 3 * 16 + 1 output positions
// of a 7x7 map) as dot products along K instead of a mostly empty 16-wide vector:
// out[r * cols + c] = sum_k a[r * lda + k] * t[c * kc + k].
AUTOSPLIT_TARGET_AVX512 void dotColumnsAvx512(const float* a, int64_t lda, int rows, const float* t, int cols,
                                              int64_t kc, float* out) {
    const __mmask16 tailMask = static_cast<__mmask16>((1u << (kc % 16)) - 1u);
    const int64_t kFull = kc / 16 * 16;
    for (int r = 0; r < rows; ++r) {
        const float* ar = a + r * lda;
        for (int c = 0; c < cols; ++c) {
            const float* tc = t + c * kc;
            __m512 acc0 = _mm512_setzero_ps(), acc1 = _mm512_setzero_ps();
            int64_t k = 0;
            for (; k + 32 <= kFull; k += 32) {
                acc0 = _mm512_fmadd_ps(_mm512_loadu_ps(ar + k), _mm512_loadu_ps(tc + k), acc0);
                acc1 = _mm512_fmadd_ps(_mm512_loadu_ps(ar + k + 16), _mm512_loadu_ps(tc + k + 16), acc1);
            }
            for (; k < kFull; k += 16) acc0 = _mm512_fmadd_ps(_mm512_loadu_ps(ar + k), _mm512_loadu_ps(tc + k), acc0);
            if (tailMask)
                acc1 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(tailMask, ar + k), _mm512_maskz_loadu_ps(tailMask, tc + k),
                                       acc1);
            out[r * cols + c] = _mm512_reduce_add_ps(_mm512_add_ps(acc0, acc1));
        }
    }
}

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif

// dotColumnsAvx512 with 8-wide vectors (N % 8 <= kMaxDotCols).
AUTOSPLIT_TARGET_AVX2 void dotColumnsAvx2(const float* a, int64_t lda, int rows, const float* t, int cols, int64_t kc,
                                          float* out) {
    const int64_t kFull = kc / 8 * 8;
    const __m256i tailMask = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(kMaskTable + 8 - kc % 8));
    for (int r = 0; r < rows; ++r) {
        const float* ar = a + r * lda;
        for (int c = 0; c < cols; ++c) {
            const float* tc = t + c * kc;
            __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
            int64_t k = 0;
            for (; k + 16 <= kFull; k += 16) {
                acc0 = _mm256_fmadd_ps(_mm256_loadu_ps(ar + k), _mm256_loadu_ps(tc + k), acc0);
                acc1 = _mm256_fmadd_ps(_mm256_loadu_ps(ar + k + 8), _mm256_loadu_ps(tc + k + 8), acc1);
            }
            for (; k < kFull; k += 8) acc0 = _mm256_fmadd_ps(_mm256_loadu_ps(ar + k), _mm256_loadu_ps(tc + k), acc0);
            if (kc % 8)
                acc1 = _mm256_fmadd_ps(_mm256_maskload_ps(ar + k, tailMask), _mm256_maskload_ps(tc + k, tailMask), acc1);
            const __m256 sum = _mm256_add_ps(acc0, acc1);
            __m128 h = _mm_add_ps(_mm256_castps256_ps128(sum), _mm256_extractf128_ps(sum, 1));
            h = _mm_add_ps(h, _mm_movehl_ps(h, h));
            h = _mm_add_ss(h, _mm_movehdup_ps(h));
            out[r * cols + c] = _mm_cvtss_f32(h);
        }
    }
}

#endif  // AUTOSPLIT_GEMM_X86

// ---------------------------------------------------------------- kernel tables

constexpr int kMaxMR = 16, kMaxNV = 4;

constexpr int kDotRows = 16;  // rows per dot call
using DotFn = void (*)(const float* a, int64_t lda, int rows, const float* t, int cols, int64_t kc, float* out);
constexpr int kMaxDotCols = 4;

struct Config {
    GemmIsa isa = GemmIsa::Generic;
    int mr = 0, vw = 0, nvMax = 0;
    // Blocking: KC rows of B per packed block when K is blocked (blockK), MC rows of A per pass
    // over a block, NC columns per packed block. NC = 128 packs B in blocks the kernel reads
    // back from L2 beside A's rows: a 64-row GEMM (ResNet-50's 64-channel 3x3 conv,
    // N = 3136, K = 576) ran 180 GFLOP/s at NC = 1024, 213 now (Zen 5).
    int64_t kc = 0, mc = 0, nc = 0;
    DotFn dot = nullptr;  // for the last N % vw <= kMaxDotCols columns (row-major A only)
    KernelFn kern[2][kMaxMR + 1][kMaxNV + 1] = {};  // [packed A][rows][vectors]
    int nr() const { return vw * nvMax; }
};

template <template <int, int, bool> class K, int NV, int... Rs>
void fillRows(Config& c, std::integer_sequence<int, Rs...>) {
    ((c.kern[1][Rs + 1][NV] = &K<Rs + 1, NV, true>::run), ...);
    ((c.kern[0][Rs + 1][NV] = &K<Rs + 1, NV, false>::run), ...);
}

template <template <int, int, bool> class K, int MR, int... NVs>
void fillTable(Config& c, std::integer_sequence<int, NVs...>) {
    (fillRows<K, NVs + 1>(c, std::make_integer_sequence<int, MR>{}), ...);
}

template <template <int, int, bool> class K, int MR, int NVMax>
Config makeConfig(GemmIsa isa, int vw, int64_t kc, int64_t mc, int64_t nc) {
    Config c;
    c.isa = isa;
    c.mr = MR;
    c.vw = vw;
    c.nvMax = NVMax;
    c.kc = kc;
    c.mc = mc;
    c.nc = nc;
    fillTable<K, MR>(c, std::make_integer_sequence<int, NVMax>{});
    return c;
}

const Config& config(GemmIsa isa) {
#ifdef AUTOSPLIT_GEMM_X86
    static const Config avx512 = [] {
        Config c = makeConfig<Avx512Kernel, kAvx512MR, kAvx512NV>(GemmIsa::Avx512, 16, 256, 480, 128);
        c.dot = dotColumnsAvx512;
        return c;
    }();
    static const Config avx2 = [] {
        Config c = makeConfig<Avx2Kernel, kAvx2MR, kAvx2NV>(GemmIsa::Avx2, 8, 256, 288, 128);
        c.dot = dotColumnsAvx2;
        return c;
    }();
    if (isa == GemmIsa::Avx512) return avx512;
    if (isa == GemmIsa::Avx2) return avx2;
#endif
    static const Config generic = makeConfig<GenericKernel, kGenMR, kGenNV>(GemmIsa::Generic, kGenVW, 256, 256, 1024);
    (void)isa;
    return generic;
}

// ---------------------------------------------------------------- buffers

struct AlignedFree {
    void operator()(float* p) const { ::operator delete[](p, std::align_val_t(64)); }
};

struct Scratch {
    std::unique_ptr<float[], AlignedFree> data;
    size_t cap = 0;
    float* get(size_t n) {
        if (n > cap) {
            data.reset(static_cast<float*>(::operator new[](n * sizeof(float), std::align_val_t(64))));
            cap = n;
        }
        return data.get();
    }
};

// Per-thread packing buffers; no code using one calls back into the pool.
thread_local Scratch tlsPanelsB, tlsPanelsA, tlsDot;

// Packs rows [i0, i0+mc) x [k0, k0+kc) of a transposed A (stored [K, M]) into strips of mr
// rows: strip s at dst + s*kc*mr, element (r, k) at + k*mr + r; rows past the end are zero.
void packTransposedA(int mr, const float* A, int64_t lda, int64_t i0, int64_t mc, int64_t k0, int64_t kc,
                     float* dst) {
    for (int64_t is = 0; is < mc; is += mr, dst += kc * mr) {
        const int rows = static_cast<int>(std::min<int64_t>(mr, mc - is));
        for (int64_t k = 0; k < kc; ++k) {
            const float* s = A + (k0 + k) * lda + i0 + is;  // column k of A^T: contiguous over i
            float* d = dst + k * mr;
            for (int r = 0; r < rows; ++r) d[r] = s[r];
            for (int r = rows; r < mr; ++r) d[r] = 0.f;
        }
    }
}

struct GemmJob {
    const Config& cf;
    int64_t M, N, K;
    const float* A;
    int64_t lda;
    bool transA;
    const GemmBSource& src;
    float* C;
    int64_t ldc;
    bool accumulate;
    const GemmEpilogue& ep;
};

// Packs rows [r0, r1) of the B block [pc, pc+kc) x [jc, jc+nc) into its panels at dst, zeroing
// the padding of the last vector so the kernel reads defined values.
void packRows(const GemmJob& j, int64_t pc, int64_t kc, int64_t r0, int64_t r1, int64_t jc, int64_t nc,
              float* dst) {
    const int nr = j.cf.nr(), vw = j.cf.vw;
    j.src.pack(r0, r1 - r0, jc, nc, BPanels{dst + (r0 - pc) * nr, kc, nr, j.cf.isa});
    if (const int64_t tail = nc % nr, pad = (vw - nc % vw) % vw; pad > 0)
        for (int64_t k = r0 - pc; k < r1 - pc; ++k) std::fill_n(dst + (nc - tail) * kc + k * nr + tail, pad, 0.f);
}

void packBlock(const GemmJob& j, int64_t pc, int64_t kc, int64_t jc, int64_t nc, float* dst) {
    packRows(j, pc, kc, pc, pc + kc, jc, nc, dst);
}

// Rows for the next register strip when `left` rows remain: full strips, except that a short
// remainder (few accumulators, FMA latency exposed) is avoided by splitting the last two strips
// evenly, e.g. 64 = 4 x 12 + 8 + 8 rather than 5 x 12 + 4. Packed A needs uniform strips.
int64_t stripRows(int mr, int64_t left, bool balance) {
    if (left <= mr) return left;
    if (!balance || left >= 2 * mr || left - mr >= 2 * mr / 3) return mr;
    return (left + 1) / 2;
}

// Bytes of A rows one pass over a block's panels reads (at most MC rows): a quarter of Zen 5's
// 1 MB L2, half of Zen 3's 512 KB, beside the packed B block.
constexpr int64_t kAPassBytes = int64_t{256} << 10;

// Where the kernels read one (KC x NC) block of B: its first `inPlaceCols` columns (whole
// panels) straight from B's rows at stride ld, the rest from panels packed at `packed`.
struct BBlock {
    const float* packed = nullptr;
    const float* inPlace = nullptr;  // B[pc][jc]
    int64_t ld = 0;
    int64_t inPlaceCols = 0;
    // The rows of the panel starting at block column jr, and their stride.
    std::pair<const float*, int64_t> panel(int64_t jr, int64_t kc, int nr) const {
        if (jr < inPlaceCols) return {inPlace + jr, ld};
        return {packed + (jr - inPlaceCols) * kc, nr};
    }
};

// C rows [m0, m1) x columns [jc, jc+nc) += the K block [pc, pc+kc) against B; the first block
// stores (unless accumulating), the last applies the epilogue.
void computeBlock(const GemmJob& j, const BBlock& bp, int64_t pc, int64_t kc, int64_t jc, int64_t nc, int64_t m0,
                  int64_t m1) {
    const Config& cf = j.cf;
    const int nr = cf.nr(), mr = cf.mr, vw = cf.vw;
    const bool last = pc + kc == j.K;
    int flags = (j.accumulate || pc > 0) ? kLoadC : 0;
    if (last && j.ep.bias) flags |= kBias;
    if (last && j.ep.clamps()) flags |= kClamp;
    // LeakyRelu in the tile's store instead of a second pass over each finished row (YOLOv3's
    // activation: 7 % of its planning in applyActivation calls of 128 values).
    const bool leaky = last && j.ep.post && j.ep.post->kind == Activation::Kind::LeakyRelu;
    if (leaky) flags |= kLeaky;
    const float alpha = leaky ? j.ep.post->alpha : 0.f;
    GemmEpilogue after = j.ep;  // what is left for each finished row
    if (leaky) after.post = nullptr;
    // A is read in place (row-major); only a transposed A is packed, per row block.
    float* aBuf = nullptr;
    if (j.transA) aBuf = tlsPanelsA.get(static_cast<size_t>(std::min<int64_t>(cf.mc, m1 - m0 + mr) * kc));
    // A last sliver of columns becomes dot products along K (copied out of its panel, K-major).
    const int dotCols = cf.dot && !j.transA && nc % vw <= kMaxDotCols ? static_cast<int>(nc % vw) : 0;
    const int64_t ncMain = nc - dotCols;
    float* dotB = nullptr;
    float dotOut[kDotRows * kMaxDotCols];
    if (dotCols > 0) {
        dotB = tlsDot.get(static_cast<size_t>(dotCols * kc));
        const auto [panel, ldb] = bp.panel(ncMain - ncMain % nr, kc, nr);
        for (int c = 0; c < dotCols; ++c)
            for (int64_t k = 0; k < kc; ++k) dotB[c * kc + k] = panel[k * ldb + ncMain % nr + c];
    }
    // Rows of A per pass over the panels: MC, or fewer when long K blocks would make them outgrow
    // kAPassBytes (whole-K blocks: ResNet-50's 512 x 4608 weights on a 7x7 map were streamed from
    // memory again by each panel and by the dot columns; now a pass reads them once from L2).
    const int64_t mcRows = std::max<int64_t>(mr, std::min<int64_t>(cf.mc, kAPassBytes / (kc * 4) / mr * mr));
    for (int64_t ic = m0; ic < m1; ic += mcRows) {
        const int64_t mc = std::min<int64_t>(mcRows, m1 - ic);
        if (j.transA) packTransposedA(mr, j.A, j.lda, ic, mc, pc, kc, aBuf);
        for (int64_t jr = 0; jr < ncMain; jr += nr) {
            const int64_t cnt = std::min<int64_t>(nr, ncMain - jr);
            const int nv = static_cast<int>((cnt + vw - 1) / vw);
            KArgs p;
            p.kc = kc;
            p.lda = j.lda;
            std::tie(p.b, p.ldb) = bp.panel(jr, kc, nr);
            p.ldc = j.ldc;
            p.ncols = static_cast<int>(cnt);
            p.flags = flags;
            p.lo = j.ep.lo;
            p.hi = j.ep.hi;
            p.alpha = alpha;
            const auto& kern = cf.kern[j.transA ? 1 : 0];
            for (int64_t ir = 0, rows; ir < mc; ir += rows) {
                rows = stripRows(mr, mc - ir, !j.transA);
                const int64_t i = ic + ir;
                p.a = j.transA ? aBuf + ir * kc : j.A + i * j.lda + pc;
                p.c = j.C + i * j.ldc + jc + jr;
                p.bias = j.ep.bias ? j.ep.bias + i : nullptr;
                kern[rows][nv](p);
            }
        }
        for (int64_t ir = 0; dotCols > 0 && ir < mc; ir += kDotRows) {
            const int rows = static_cast<int>(std::min<int64_t>(kDotRows, mc - ir));
            const int64_t i0 = ic + ir;
            cf.dot(j.A + i0 * j.lda + pc, j.lda, rows, dotB, dotCols, kc, dotOut);
            for (int r = 0; r < rows; ++r) {
                float* c = j.C + (i0 + r) * j.ldc + jc + ncMain;
                for (int q = 0; q < dotCols; ++q) {
                    float x = dotOut[r * dotCols + q];
                    if (flags & kLoadC) x += c[q];
                    if (flags & kBias) x += j.ep.bias[i0 + r];
                    if (flags & kClamp) x = std::min(std::max(x, j.ep.lo), j.ep.hi);
                    if (flags & kLeaky) x = x >= 0.f ? x : x * alpha;
                    c[q] = x;
                }
            }
        }
        if (last && after.finishes())
            for (int64_t i = ic; i < ic + mc; ++i) after.finish(j.C + i * j.ldc + jc, nc);
    }
}

// K block size: all of K for GEMMs of at most 128 columns (7x7 and 14x14 maps, a Gemm's
// batch) whose packed B stays within 768 K floats, else KC = 256. Whole-K blocks read each row
// of A in one sequential run and store C once. Wider GEMMs keep K blocks of 256 although whole K
// would run them faster (1024^3: 248 against 222 GFLOP/s on Zen 5): those are the blocks ONNX
// Runtime's SGEMM sums in (MLAS_SGEMM_STRIDEK), and summing in its order keeps the evaluator's
// cloud outputs next to what the exported model gives under ONNX Runtime (PP-OCRv4 det split at
// 40 %: relative L2 0.006 in K blocks of 256, 0.016 in whole K; tst_export_ort). The rule counts
// columns, not panels, so AVX2 (16-column panels) and AVX-512 (32) block K alike.
constexpr int64_t kWholeKFloats = int64_t{768} << 10;  // packed B of a whole-K block, at most

int64_t blockK(const GemmJob& j, int64_t ncols) {
    const int nr = j.cf.nr();
    const int64_t padded = (ncols + nr - 1) / nr * nr;
    if (j.N <= 128 && j.K * padded <= kWholeKFloats) return j.K;
    return std::min<int64_t>(j.cf.kc, j.K);
}

// All rows x columns [n0, n1): B packed per (KC x NC) block into this thread's buffer, or read in
// place (readsBInPlace) but for a last partial panel.
void gemmColumns(const GemmJob& j, int64_t n0, int64_t n1) {
    const Config& cf = j.cf;
    const int nr = cf.nr();
    const int64_t ncMax = std::min<int64_t>(cf.nc, (n1 - n0 + nr - 1) / nr * nr);
    const int64_t kb = blockK(j, ncMax);
    float* bBuf = tlsPanelsB.get(static_cast<size_t>(ncMax * kb));
    const float* direct = readsBInPlace(j.M, j.src) ? j.src.inPlace() : nullptr;
    const int64_t ld = direct ? j.src.inPlaceLd() : 0;
    for (int64_t jc = n0; jc < n1; jc += cf.nc) {
        const int64_t nc = std::min<int64_t>(cf.nc, n1 - jc);
        for (int64_t pc = 0; pc < j.K; pc += kb) {
            const int64_t kc = std::min<int64_t>(kb, j.K - pc);
            BBlock block;
            block.packed = bBuf;
            if (direct) {
                block.inPlace = direct + pc * ld + jc;
                block.ld = ld;
                block.inPlaceCols = nc / nr * nr;
                if (block.inPlaceCols < nc) packRows(j, pc, kc, pc, pc + kc, jc + block.inPlaceCols, nc - block.inPlaceCols, bBuf);
            } else {
                packBlock(j, pc, kc, jc, nc, bBuf);
            }
            computeBlock(j, block, pc, kc, jc, nc, 0, j.M);
        }
    }
}

// ---------------------------------------------------------------- im2col packing

// A run of block columns within one output row and one panel: destination in row 0 of the
// block, count, input offset of its first element for kernel offset 0.
struct Run {
    int64_t dst, n, src;
};

thread_local std::vector<Run> tlsRuns;
thread_local std::vector<int64_t> tlsRowBase;

void copyRunsGeneric(const float* x, const int64_t* rowBase, int64_t kc, const Run* runs, size_t nRuns, int64_t sx,
                     float* dst, int nr) {
    for (int64_t k = 0; k < kc; ++k) {
        const float* base = x + rowBase[k];
        float* row = dst + k * nr;
        for (size_t i = 0; i < nRuns; ++i) {
            const float* src = base + runs[i].src;
            float* d = row + runs[i].dst;
            const int64_t n = runs[i].n;
            if (sx == 1)
                for (int64_t t = 0; t < n; ++t) d[t] = src[t];
            else
                for (int64_t t = 0; t < n; ++t) d[t] = src[t * sx];
        }
    }
}

#ifdef AUTOSPLIT_GEMM_X86
// copyRunsAvx512 with 8-wide vectors (maskload/maskstore for the tail; stride 2 by shuffling
// the even elements of two loads, never reading past the run's last element).
AUTOSPLIT_TARGET_AVX2 void copyRunsAvx2(const float* x, const int64_t* rowBase, int64_t kc, const Run* runs,
                                        size_t nRuns, int64_t sx, float* dst, int nr) {
    for (int64_t k = 0; k < kc; ++k) {
        const float* base = x + rowBase[k];
        float* row = dst + k * nr;
        for (size_t i = 0; i < nRuns; ++i) {
            const float* src = base + runs[i].src;
            float* d = row + runs[i].dst;
            int64_t n = runs[i].n;
            if (sx == 1) {
                for (; n >= 8; n -= 8, src += 8, d += 8) _mm256_storeu_ps(d, _mm256_loadu_ps(src));
                if (n > 0) {
                    const __m256i m = firstLanes8(n);
                    _mm256_maskstore_ps(d, m, _mm256_maskload_ps(src, m));
                }
            } else if (sx == 2) {
                for (; n > 0; n -= 8, src += 16, d += 8) {
                    const int64_t c = std::min<int64_t>(n, 8), need = 2 * c - 1;
                    const __m256 v = evenLanes8(_mm256_maskload_ps(src, firstLanes8(need)),
                                                _mm256_maskload_ps(src + 8, firstLanes8(need - 8)));
                    if (c == 8) _mm256_storeu_ps(d, v);
                    else _mm256_maskstore_ps(d, firstLanes8(c), v);
                }
            } else {
                for (int64_t t = 0; t < n; ++t) d[t] = src[t * sx];
            }
        }
    }
}

// Masked 16-wide copies: a run is one or two instructions instead of a short scalar loop.
AUTOSPLIT_TARGET_AVX512 void copyRunsAvx512(const float* x, const int64_t* rowBase, int64_t kc, const Run* runs,
                                            size_t nRuns, int64_t sx, float* dst, int nr) {
    const __m512i even = _mm512_set_epi32(30, 28, 26, 24, 22, 20, 18, 16, 14, 12, 10, 8, 6, 4, 2, 0);
    for (int64_t k = 0; k < kc; ++k) {
        const float* base = x + rowBase[k];
        float* row = dst + k * nr;
        for (size_t i = 0; i < nRuns; ++i) {
            const float* src = base + runs[i].src;
            float* d = row + runs[i].dst;
            int64_t n = runs[i].n;
            if (sx == 1) {
                for (; n >= 16; n -= 16, src += 16, d += 16) _mm512_storeu_ps(d, _mm512_loadu_ps(src));
                if (n > 0) {
                    const __mmask16 m = static_cast<__mmask16>((1u << n) - 1u);
                    _mm512_mask_storeu_ps(d, m, _mm512_maskz_loadu_ps(m, src));
                }
            } else if (sx == 2) {
                for (; n > 0; n -= 16, src += 32, d += 16) {
                    // Elements 0, 2, .., 2(c-1) of the next 2c-1 inputs (never read past them).
                    const int64_t c = std::min<int64_t>(n, 16), need = 2 * c - 1;
                    const __mmask16 m1 = static_cast<__mmask16>(need >= 16 ? 0xffffu : (1u << need) - 1u);
                    const __mmask16 m2 = static_cast<__mmask16>(need > 16 ? (1u << (need - 16)) - 1u : 0u);
                    const __m512 v = _mm512_permutex2var_ps(_mm512_maskz_loadu_ps(m1, src), even,
                                                            _mm512_maskz_loadu_ps(m2, src + 16));
                    _mm512_mask_storeu_ps(d, static_cast<__mmask16>(c == 16 ? 0xffffu : (1u << c) - 1u), v);
                }
            } else {
                for (int64_t t = 0; t < n; ++t) d[t] = src[t * sx];
            }
        }
    }
}
#endif

// copyRuns* for `isa`.
void copyRuns(GemmIsa isa, const float* x, const int64_t* rowBase, int64_t kc, const Run* runs, size_t nRuns, int64_t sx,
              float* dst, int nr) {
#ifdef AUTOSPLIT_GEMM_X86
    if (isa == GemmIsa::Avx512) return copyRunsAvx512(x, rowBase, kc, runs, nRuns, sx, dst, nr);
    if (isa == GemmIsa::Avx2) return copyRunsAvx2(x, rowBase, kc, runs, nRuns, sx, dst, nr);
#endif
    (void)isa;
    copyRunsGeneric(x, rowBase, kc, runs, nRuns, sx, dst, nr);
}

GemmIsa detectIsa() {
    if (gemmIsaSupported(GemmIsa::Avx512)) return GemmIsa::Avx512;
    if (gemmIsaSupported(GemmIsa::Avx2)) return GemmIsa::Avx2;
    return GemmIsa::Generic;
}

GemmIsa initialIsa() {
    const GemmIsa best = detectIsa();
    if (const char* e = std::getenv("AUTOSPLIT_SGEMM_ISA")) {
        const std::string s = e;
        for (GemmIsa i : {GemmIsa::Generic, GemmIsa::Avx2, GemmIsa::Avx512})
            if (s == gemmIsaName(i) && gemmIsaSupported(i)) return i;
    }
    return best;
}

std::atomic<int>& isaChoice() {
    static std::atomic<int> choice{static_cast<int>(initialIsa())};
    return choice;
}

}  // namespace

const char* gemmIsaName(GemmIsa isa) {
    switch (isa) {
    case GemmIsa::Avx512: return "avx512";
    case GemmIsa::Avx2: return "avx2";
    default: return "generic";
    }
}

bool gemmIsaSupported(GemmIsa isa) {
    switch (isa) {
    case GemmIsa::Generic: return true;
#ifdef AUTOSPLIT_GEMM_X86
    case GemmIsa::Avx2: return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    case GemmIsa::Avx512:
        return cpuHasAvx512() && __builtin_cpu_supports("fma");
#endif
    default: return false;
    }
}

GemmIsa gemmIsa() { return static_cast<GemmIsa>(isaChoice().load(std::memory_order_relaxed)); }

void setGemmIsa(GemmIsa isa) {
    if (gemmIsaSupported(isa)) isaChoice().store(static_cast<int>(isa), std::memory_order_relaxed);
}

bool readsBInPlace(int64_t M, const GemmBSource& b) {
    if (!b.inPlace() || M >= 192) return false;
    const int64_t bytes = b.inPlaceLd() * int64_t{4};
    if (bytes % 64 != 0) return true;
    return 64 / std::gcd(bytes / 64, int64_t{64}) >= 4;  // the L1 sets the rows use
}

void MatrixBSource::pack(int64_t k0, int64_t kc, int64_t j0, int64_t nc, const BPanels& out) const {
    const int nr = out.nr;
    if (!trans_) {
        // Row k of the block is one run per panel, from b + (k0 + k) * ld + j0.
        std::vector<Run>& runs = tlsRuns;
        runs.clear();
        for (int64_t jr = 0; jr < nc; jr += nr) runs.push_back({jr * out.kc, std::min<int64_t>(nr, nc - jr), jr});
        std::vector<int64_t>& rowBase = tlsRowBase;
        rowBase.resize(static_cast<size_t>(kc));
        for (int64_t k = 0; k < kc; ++k) rowBase[static_cast<size_t>(k)] = (k0 + k) * ld_ + j0;
        copyRuns(out.isa, b_, rowBase.data(), kc, runs.data(), runs.size(), 1, out.dst, nr);
        return;
    }
    for (int64_t k = 0; k < kc; ++k) {
        float* row = out.dst + k * nr;
        for (int64_t jr = 0; jr < nc; jr += nr) {
            const int64_t n = std::min<int64_t>(nr, nc - jr);
            const float* s = b_ + (j0 + jr) * ld_ + k0 + k;
            float* d = row + jr * out.kc;
            for (int64_t t = 0; t < n; ++t) d[t] = s[t * ld_];
        }
    }
}

void Im2colBSource::pack(int64_t k0, int64_t kc, int64_t j0, int64_t nc, const BPanels& out) const {
    const ConvGeometry& g = g_;
    const int64_t W = g.in[2], HW = g.in[1] * g.in[2], sx = g.s[2];
    std::vector<Run>& runs = tlsRuns;
    runs.clear();
    const int64_t OW = g.out[2], OH = g.out[1];
    int64_t oz = j0 / (OH * OW), oy = (j0 / OW) % OH, ox = j0 % OW;
    for (int64_t jj = 0, panel = 0, inPanel = 0; jj < nc;) {
        const int64_t n = std::min({OW - ox, nc - jj, out.nr - inPanel});
        runs.push_back({panel * out.kc + inPanel, n, oz * g.s[0] * HW + oy * g.s[1] * W + ox * sx});
        jj += n;
        inPanel += n;
        if (inPanel == out.nr) {
            inPanel = 0;
            panel += out.nr;
        }
        ox += n;
        if (ox == OW) {
            ox = 0;
            if (++oy == OH) {
                oy = 0;
                ++oz;
            }
        }
    }
    // Input offset of each row's kernel tap, walking r = ((c * kD + kz) * kH + ky) * kW + kx.
    std::vector<int64_t>& rowBase = tlsRowBase;
    rowBase.resize(static_cast<size_t>(kc));
    const int64_t kvol = g.k[0] * g.k[1] * g.k[2], inVol = g.in[0] * HW;
    int64_t kx = k0 % g.k[2], ky = (k0 / g.k[2]) % g.k[1], kz = (k0 / (g.k[2] * g.k[1])) % g.k[0], ch = k0 / kvol;
    for (int64_t k = 0; k < kc; ++k) {
        rowBase[k] = ch * inVol + kz * g.d[0] * HW + ky * g.d[1] * W + kx * g.d[2];
        if (++kx == g.k[2]) {
            kx = 0;
            if (++ky == g.k[1]) {
                ky = 0;
                if (++kz == g.k[0]) {
                    kz = 0;
                    ++ch;
                }
            }
        }
    }
    copyRuns(out.isa, x_, rowBase.data(), kc, runs.data(), runs.size(), sx, out.dst, out.nr);
}

GemmEpilogue GemmEpilogue::of(const float* bias, const Activation& act, const FakeQuantGrid* grid) {
    GemmEpilogue e;
    e.bias = bias;
    e.grid = grid;
    switch (act.kind) {
    case Activation::Kind::None: break;
    case Activation::Kind::Relu: e.lo = 0.f; break;
    case Activation::Kind::Clip:
        e.lo = act.min;
        e.hi = act.max;
        break;
    default: e.post = &act; break;
    }
    return e;
}

void GemmEpilogue::finish(float* c, int64_t n) const {
    if (post) applyActivation(*post, c, n);
    if (grid) fakeQuantizeGrid(c, n, *grid);
}

void packedGemm(GemmIsa isa, ThreadPool* pool, int64_t M, int64_t N, int64_t K, const float* A, int64_t lda,
                bool transA, const GemmBSource& B, float* C, int64_t ldc, bool accumulate, const GemmEpilogue& ep) {
    if (M <= 0 || N <= 0) return;
    const Config& cf = config(gemmIsaSupported(isa) ? isa : GemmIsa::Generic);
    if (K <= 0) {  // C = 0 (or unchanged) + epilogue
        for (int64_t i = 0; i < M; ++i) {
            float* c = C + i * ldc;
            for (int64_t j = 0; j < N; ++j) {
                float x = accumulate ? c[j] : 0.f;
                if (ep.bias) x += ep.bias[i];
                c[j] = std::min(std::max(x, ep.lo), ep.hi);
            }
            if (ep.finishes()) ep.finish(c, N);
        }
        return;
    }
    const GemmJob job{cf, M, N, K, A, lda, transA, B, C, ldc, accumulate, ep};
    int threads = pool ? pool->size() : 1;
    if (M * N * K < 64 * 64 * 64) threads = 1;
    if (threads <= 1) {
        gemmColumns(job, 0, N);
        return;
    }
    // Work is claimed dynamically, so a worker that starts late (a busy pool, a shared machine)
    // just takes fewer pieces.
    const int nr = cf.nr(), mr = cf.mr;
    const int64_t panels = (N + nr - 1) / nr, strips = (M + mr - 1) / mr;
    const int64_t sharedFloats = K * panels * nr;
    if (panels >= 4 * threads || strips < 2 * threads || sharedFloats > (int64_t{1} << 20)) {
        // Wide: column chunks of whole panels, each worker packing only the B it uses.
        const int64_t chunk = std::min<int64_t>(cf.nc, (panels + 4 * threads - 1) / (4 * threads) * nr);
        const int64_t tasks = (N + chunk - 1) / chunk;
        std::atomic<int64_t> next{0};
        pool->parallelFor(threads, 1, [&](int64_t, int64_t) {
            for (int64_t t; (t = next.fetch_add(1)) < tasks;) gemmColumns(job, t * chunk, std::min(N, (t + 1) * chunk));
        });
        return;
    }
    // Narrow (few output positions, many channels): B is packed once for all of K into a shared
    // buffer, its K blocks claimed by the workers; then row blocks are claimed.
    // Not thread-local: while waiting in parallelFor this thread may run another job's chunk,
    // which could start a packedGemm of its own.
    Scratch sharedBuf;
    float* shared = sharedBuf.get(static_cast<size_t>(sharedFloats));
    // All of K in one block when the shared B stays within the whole-K bound (blockK's), so C is
    // stored once: ResNet-50's 256-channel 3x3 at 14x14 ran 1.64x faster on two threads than on
    // one with K blocks of 256 here, 1.72x now. (For more than 128 columns the one-threaded
    // split sums in K blocks of 256: the two differ in the last bits.)
    const int64_t kb = K * panels * nr <= kWholeKFloats ? K : std::min<int64_t>(cf.kc, K);
    const int64_t chunk = kb == K ? std::min<int64_t>(cf.kc, K) : kb;  // rows per packing task
    const int64_t packTasks = (K + chunk - 1) / chunk;
    const int64_t rowsPerTask = std::max<int64_t>(1, strips / (4 * threads)) * mr;
    const int64_t tasks = (M + rowsPerTask - 1) / rowsPerTask;
    std::atomic<int64_t> nextPack{0}, packed{0}, nextRows{0};
    pool->parallelFor(threads, 1, [&](int64_t, int64_t) {
        for (int64_t t; (t = nextPack.fetch_add(1)) < packTasks;) {
            const int64_t r0 = t * chunk, pc = r0 / kb * kb;
            packRows(job, pc, std::min<int64_t>(kb, K - pc), r0, std::min(K, r0 + chunk), 0, N, shared + pc * panels * nr);
            packed.fetch_add(1, std::memory_order_release);
        }
        // Only pieces another running worker has claimed are outstanding: a short wait.
        while (packed.load(std::memory_order_acquire) < packTasks) std::this_thread::yield();
        for (int64_t t; (t = nextRows.fetch_add(1)) < tasks;) {
            const int64_t m0 = t * rowsPerTask, m1 = std::min(M, m0 + rowsPerTask);
            for (int64_t pc = 0; pc < K; pc += kb)
                computeBlock(job, BBlock{shared + pc * panels * nr}, pc, std::min<int64_t>(kb, K - pc), 0, N, m0, m1);
        }
    });
}

}  // namespace autosplit::exec
