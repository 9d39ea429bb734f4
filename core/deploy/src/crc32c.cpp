// CRC32C: slicing-by-8 tables built at compile time; SSE4.2 `crc32` (8 bytes per instruction)
// behind a run-time CPU check on x86.
#include "autosplit/deploy/crc32c.h"

#include <array>
#include <cstring>

#if defined(__x86_64__)
#include <nmmintrin.h>
#endif

namespace autosplit::deploy {

namespace {

constexpr uint32_t kPoly = 0x82F63B78u;  // reflected Castagnoli polynomial

using Tables = std::array<std::array<uint32_t, 256>, 8>;

constexpr Tables makeTables() {
    Tables t{};
    for (uint32_t i = 0; i < 256; ++i) {
        uint32_t c = i;
        for (int k = 0; k < 8; ++k) c = (c >> 1) ^ ((c & 1u) ? kPoly : 0u);
        t[0][i] = c;
    }
    for (uint32_t i = 0; i < 256; ++i)
        for (size_t s = 1; s < 8; ++s) t[s][i] = (t[s - 1][i] >> 8) ^ t[0][t[s - 1][i] & 0xFFu];
    return t;
}

constexpr Tables kTables = makeTables();

uint32_t portable(const uint8_t* p, size_t n, uint32_t c) {
    // Bytes up to an 8-byte boundary of the count, then eight at a time (little-endian word).
    while (n >= 8) {
        uint32_t lo, hi;
        std::memcpy(&lo, p, 4);
        std::memcpy(&hi, p + 4, 4);
        lo ^= c;
        c = kTables[7][lo & 0xFF] ^ kTables[6][(lo >> 8) & 0xFF] ^ kTables[5][(lo >> 16) & 0xFF] ^
            kTables[4][lo >> 24] ^ kTables[3][hi & 0xFF] ^ kTables[2][(hi >> 8) & 0xFF] ^
            kTables[1][(hi >> 16) & 0xFF] ^ kTables[0][hi >> 24];
        p += 8;
        n -= 8;
    }
    while (n--) c = (c >> 8) ^ kTables[0][(c ^ *p++) & 0xFF];
    return c;
}

#if defined(__x86_64__)
__attribute__((target("sse4.2"))) uint32_t hardware(const uint8_t* p, size_t n, uint32_t c) {
    uint64_t c64 = c;
    while (n >= 8) {
        uint64_t w;
        std::memcpy(&w, p, 8);
        c64 = _mm_crc32_u64(c64, w);
        p += 8;
        n -= 8;
    }
    c = static_cast<uint32_t>(c64);
    while (n--) c = _mm_crc32_u8(c, *p++);
    return c;
}

bool detectHardware() {
    __builtin_cpu_init();
    return __builtin_cpu_supports("sse4.2");
}
#else
bool detectHardware() { return false; }
#endif

const bool kHardware = detectHardware();

}  // namespace

uint32_t crc32cPortable(const void* data, size_t size, uint32_t previous) {
    return ~portable(static_cast<const uint8_t*>(data), size, ~previous);
}

uint32_t crc32c(const void* data, size_t size, uint32_t previous) {
#if defined(__x86_64__)
    if (kHardware) return ~hardware(static_cast<const uint8_t*>(data), size, ~previous);
#endif
    return crc32cPortable(data, size, previous);
}

bool crc32cUsesHardware() { return kHardware; }

}  // namespace autosplit::deploy
