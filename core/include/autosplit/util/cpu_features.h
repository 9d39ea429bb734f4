// What the CPU running us can do, for code built twice (the x86-64-v3 baseline and an AVX-512
// variant chosen at run time).
#pragma once

namespace autosplit {

// AVX-512 F, BW, VL and DQ (what the AVX-512 builds of the GEMM kernels, fake quantization and
// fused activations use), with the operating system saving the registers. False off x86-64.
bool cpuHasAvx512();

}  // namespace autosplit
