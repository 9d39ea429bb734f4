// CRC32C (Castagnoli, reflected polynomial 0x82F63B78, initial value and final xor 0xFFFFFFFF):
// the checksum that seals every wire frame (frame.h). crc32c("123456789") = 0xE3069283.
//
// Incremental: crc32c(b, nb, crc32c(a, na)) == crc32c(a ++ b). Uses the SSE4.2 crc32
// instruction when the CPU has it (checked once at run time), else slicing-by-8 tables; both
// give the same value. Pure functions, thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>

namespace autosplit::deploy {

uint32_t crc32c(const void* data, size_t size, uint32_t previous = 0);

// The table-driven (slicing-by-8) implementation alone, exposed so tests can compare it with
// the hardware path.
uint32_t crc32cPortable(const void* data, size_t size, uint32_t previous = 0);

// True when crc32c() runs on the SSE4.2 instruction.
bool crc32cUsesHardware();

}  // namespace autosplit::deploy
