// Compute cycles of a GEMM-like layer on a systolic array, SCALE-Sim v2's analytical model.
#pragma once

#include "autosplit/ir/analysis.h"
#include "autosplit/sim/device.h"

#include <cstdint>

namespace autosplit::sim {

// The layer lowered to one matrix product per group: an Sr x Sc grid of work mapped onto the
// array (rows x cols) and T steps streamed through it per fold.
//   M = batch*E*F output pixels, window = R*S*C, K filters:
//   OS: (Sr, Sc, T) = (M, K, window)   WS: (window, K, M)   IS: (window, M, K)
struct GemmMapping {
    int64_t Sr = 0, Sc = 0, T = 0;
    int64_t rowFolds = 0, colFolds = 0;  // ceil(Sr/rows), ceil(Sc/cols)
    int64_t folds = 0;                   // rowFolds * colFolds, per group
    int64_t cyclesPerGroup = 0;          // OS: folds*(rows+cols+T-2)-1; WS/IS: folds*(2*rows+cols+T-2)-1
    int64_t groups = 1;                  // groups run one after the other
    int64_t cycles = 0;                  // groups * cyclesPerGroup (one pass: operands at most native_mac_bits)
    int64_t macs = 0;                    // groups * M * window * K
    // Share of MAC-cycles doing useful work, SCALE-Sim's "overall utilization".
    double utilization(int64_t rows, int64_t cols) const;
};

// Output pixels of an unpadded convolution as SCALE-Sim computes them: ceil((H-R+s)/s).
int64_t scaleSimOutputSize(int64_t in, int64_t kernel, int64_t stride);

// Throws Error naming the bad dimension when a geometry value is not positive.
GemmMapping mapGemm(const GemmGeometry& g, int64_t rows, int64_t cols, Dataflow dataflow);
inline GemmMapping mapGemm(const GemmGeometry& g, const DeviceProfile& d) {
    return mapGemm(g, d.rows, d.cols, d.dataflow);
}

}  // namespace autosplit::sim
