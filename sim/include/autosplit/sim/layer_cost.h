// Latency of one layer on one device at given weight / activation bit-widths: MAC-array or
// vector-unit compute time, off-chip traffic with re-fetch, and how the two overlap.
#pragma once

#include "autosplit/ir/analysis.h"
#include "autosplit/sim/device.h"
#include "autosplit/sim/systolic.h"

#include <cstdint>

namespace autosplit::sim {

enum class Bound : uint8_t {
    Free,     // no compute and no traffic (views: Reshape, Flatten, in-place Concat...)
    Compute,  // compute time >= off-chip transfer time
    Memory,   // off-chip transfer time > compute time
};
const char* boundName(Bound b);  // "free", "compute", "memory"

// Which cost rule a layer fell under; shown next to every number so users can judge it.
enum class CostRule : uint8_t {
    MacArray,       // Conv / ConvTranspose / Gemm / MatMul lowered to GEMM on the systolic array
    VectorCompute,  // element-wise, normalization, pooling, reductions, resize on the vector unit
    VectorCopy,     // data rearrangement (Transpose, Slice, Pad...): one move per output element
    View,           // metadata-only (Reshape, Flatten, Squeeze, Identity, Concat written in place)
    VectorUnknown,  // op the simulator has no rule for: one vector op per output element
};
const char* costRuleName(CostRule r);

struct LayerCost {
    CostRule rule = CostRule::View;
    GemmMapping mapping;      // rule == MacArray only
    int bitPasses = 1;        // MAC passes: DeviceProfile::macPasses (operands wider than native_mac_bits)
    int64_t vectorOps = 0;    // element operations (vector-unit rules)
    int64_t computeCycles = 0;  // array or vector-unit cycles, bit passes included

    // Off-chip traffic. One pass over each operand, then how often it is fetched.
    int64_t ifmapBytes = 0;   // input activations at activation bits
    int64_t filterBytes = 0;  // weights at weight bits (bias at 32 bits); MatMul: 2nd activation
    int64_t ofmapBytes = 0;   // outputs at activation bits, written once
    int64_t ifmapPasses = 1;  // > 1: neither operand fits half its buffer; the cheaper loop order
    int64_t filterPasses = 1; //      re-streams one of them per chunk of the other
    int64_t trafficBytes = 0;

    double computeUs = 0;
    double memoryUs = 0;   // trafficBytes / bandwidth
    double latencyUs = 0;  // double-buffered: max(compute, memory); otherwise their sum
    Bound bound = Bound::Free;
};

// Throws Error when a bit-width is not positive or a GEMM layer's geometry is invalid.
LayerCost simulateLayer(const LayerInfo& layer, const DeviceProfile& device, int weightBits, int activationBits);

// Bytes of `elements` values of `bits` bits each, rounded up to whole bytes.
int64_t packedBytes(int64_t elements, int bits);

}  // namespace autosplit::sim
