// Small AVX2 helpers shared by the GEMM's im2col packing and the depthwise kernels (x86 builds;
// include only where <immintrin.h> is available). Each carries its own target attribute, so it
// inlines into the AVX2 kernels of a baseline build.
#pragma once

#include <immintrin.h>

#include <algorithm>
#include <cstdint>

#define AUTOSPLIT_TARGET_AVX2 __attribute__((target("avx2,fma")))

namespace autosplit::exec {

// The first n lanes of an 8-wide vector (n clamped to 0..8), as a maskload/maskstore mask.
AUTOSPLIT_TARGET_AVX2 inline __m256i firstLanes8(int64_t n) {
    const int k = static_cast<int>(std::clamp<int64_t>(n, 0, 8));
    return _mm256_cmpgt_epi32(_mm256_set1_epi32(k), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

// The even elements of the 16 floats a, b: [a0 a2 b0 b2 | a4 a6 b4 b6] -> a0 a2 a4 a6 b0 b2 b4 b6.
AUTOSPLIT_TARGET_AVX2 inline __m256 evenLanes8(__m256 a, __m256 b) {
    return _mm256_castpd_ps(
        _mm256_permute4x64_pd(_mm256_castps_pd(_mm256_shuffle_ps(a, b, _MM_SHUFFLE(2, 0, 2, 0))), _MM_SHUFFLE(3, 1, 2, 0)));
}

}  // namespace autosplit::exec
