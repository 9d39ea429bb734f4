#include "autosplit/util/fake_quant.h"

#include "autosplit/util/cpu_features.h"

namespace autosplit {

namespace {

// The loop, inlined into a build for the baseline (x86-64-v3: 8-wide) and one for AVX-512 CPUs
// (16-wide): the same operations per element (divide, max, min, two adds, multiply), so the same
// values bit for bit; the division is most of the cost, and 16-wide halves its count.
[[gnu::always_inline]] inline void fakeQuantLoop(float* x, int64_t n, const FakeQuantGrid& g) {
    const FakeQuantGrid k = g;  // by value: the loop need not reload it after each store
    for (int64_t i = 0; i < n; ++i) x[i] = fakeQuantizeValue(x[i], k);
}

void baseline(float* x, int64_t n, const FakeQuantGrid& g) { fakeQuantLoop(x, n, g); }

#if defined(__x86_64__) && defined(__GNUC__)
__attribute__((target("avx512f,avx512vl,avx512dq,avx512bw"))) void wide(float* x, int64_t n, const FakeQuantGrid& g) {
    fakeQuantLoop(x, n, g);
}
#endif

}  // namespace

void fakeQuantizeGrid(float* x, int64_t n, const FakeQuantGrid& g) {
#if defined(__x86_64__) && defined(__GNUC__)
    if (cpuHasAvx512()) return wide(x, n, g);
#endif
    baseline(x, n, g);
}

void fakeQuantizeGridBaseline(float* x, int64_t n, const FakeQuantGrid& g) { baseline(x, n, g); }

}  // namespace autosplit
