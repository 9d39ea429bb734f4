#include "autosplit/util/fake_quant.h"

namespace autosplit {

void fakeQuantizeGrid(float* x, int64_t n, const FakeQuantGrid& g) {
    const FakeQuantGrid k = g;  // by value: the loop need not reload it after each store
    for (int64_t i = 0; i < n; ++i) x[i] = fakeQuantizeValue(x[i], k);
}

}  // namespace autosplit
