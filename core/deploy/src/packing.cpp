// b-bit packing in groups of eight codes: one 64-bit word of eight code bytes is folded into
// 8·b bits by a three-step shift tree (pairs -> 16-bit lanes, quads -> 32-bit lanes, halves), and
// unfolded by the same tree backwards. For b = 1, 2, 4 a group is a whole 1-, 2- or 4-byte store,
// so the loops have no loop-carried dependency and GCC vectorizes them on 64-bit lanes; for
// b = 3, 5, 6, 7 each group stores a full 64-bit word at byte b·g (the next group overwrites the
// excess), which keeps the loop branch-free; the last groups store exactly b bytes. b = 8 is a
// copy. The word layout relies on a little-endian host (checked at compile time).
#include "autosplit/deploy/packing.h"

#include "autosplit/util/errors.h"

#include <bit>
#include <cstring>
#include <limits>
#include <string>

namespace autosplit::deploy {

static_assert(std::endian::native == std::endian::little, "packing assumes a little-endian host");

namespace {

using u64 = uint64_t;

inline u64 load64(const uint8_t* p) {
    u64 v;
    std::memcpy(&v, p, 8);
    return v;
}
inline void store64(uint8_t* p, u64 v) { std::memcpy(p, &v, 8); }

constexpr u64 everyByte(u64 m) { return m * 0x0101010101010101ull; }

// Eight codes (byte i = code i) -> 8·B bits, code i at bits [i·B, i·B + B).
template <int B>
inline u64 packGroup(u64 x) {
    x &= everyByte((1u << B) - 1);
    if constexpr (B < 8) {
        x = (x & 0x00FF00FF00FF00FFull) | ((x & 0xFF00FF00FF00FF00ull) >> (8 - B));
        x = (x & 0x0000FFFF0000FFFFull) | ((x & 0xFFFF0000FFFF0000ull) >> (16 - 2 * B));
        x = (x & 0x00000000FFFFFFFFull) | ((x & 0xFFFFFFFF00000000ull) >> (32 - 4 * B));
    }
    return x;
}

// The low 8·B bits of x (bits above are ignored) -> eight code bytes.
template <int B>
inline u64 unpackGroup(u64 x) {
    if constexpr (B < 8) {
        constexpr u64 m4 = (1ull << (4 * B)) - 1;
        constexpr u64 m2 = ((1ull << (2 * B)) - 1) * 0x0000000100000001ull;
        constexpr u64 m1 = ((1ull << B) - 1) * 0x0001000100010001ull;
        x = (x & m4) | (((x >> (4 * B)) & m4) << 32);
        x = (x & m2) | (((x >> (2 * B)) & m2) << 16);
        x = (x & m1) | (((x >> B) & m1) << 8);
    }
    return x;
}

template <int B>
void packImpl(const uint8_t* codes, size_t count, uint8_t* out) {
    const size_t groups = count / 8;
    const size_t total = (count * B + 7) / 8;
    size_t g = 0;
    if constexpr (B == 8) {
        std::memcpy(out, codes, count);
        return;
    } else if constexpr (B == 1) {
        for (; g < groups; ++g) out[g] = static_cast<uint8_t>(packGroup<B>(load64(codes + 8 * g)));
    } else if constexpr (B == 2) {
        for (; g < groups; ++g) {
            const auto v = static_cast<uint16_t>(packGroup<B>(load64(codes + 8 * g)));
            std::memcpy(out + 2 * g, &v, 2);
        }
    } else if constexpr (B == 4) {
        for (; g < groups; ++g) {
            const auto v = static_cast<uint32_t>(packGroup<B>(load64(codes + 8 * g)));
            std::memcpy(out + 4 * g, &v, 4);
        }
    } else {
        // Full 8-byte stores while they stay inside the output, then exact B-byte stores.
        const size_t wide = total >= 8 ? std::min(groups, (total - 8) / B + 1) : 0;
        for (; g < wide; ++g) store64(out + B * g, packGroup<B>(load64(codes + 8 * g)));
        for (; g < groups; ++g) {
            const u64 v = packGroup<B>(load64(codes + 8 * g));
            std::memcpy(out + B * g, &v, B);
        }
    }
    if (const size_t rest = count - 8 * groups) {
        u64 x = 0;
        std::memcpy(&x, codes + 8 * groups, rest);
        const u64 v = packGroup<B>(x);
        std::memcpy(out + B * groups, &v, total - B * groups);
    }
}

template <int B>
void unpackImpl(const uint8_t* packed, size_t count, uint8_t* out) {
    const size_t groups = count / 8;
    const size_t total = (count * B + 7) / 8;
    size_t g = 0;
    if constexpr (B == 8) {
        std::memcpy(out, packed, count);
        return;
    } else if constexpr (B == 1) {
        for (; g < groups; ++g) store64(out + 8 * g, unpackGroup<B>(packed[g]));
    } else if constexpr (B == 2) {
        for (; g < groups; ++g) {
            uint16_t v;
            std::memcpy(&v, packed + 2 * g, 2);
            store64(out + 8 * g, unpackGroup<B>(v));
        }
    } else if constexpr (B == 4) {
        for (; g < groups; ++g) {
            uint32_t v;
            std::memcpy(&v, packed + 4 * g, 4);
            store64(out + 8 * g, unpackGroup<B>(v));
        }
    } else {
        // Full 8-byte loads while they stay inside the input, then exact B-byte loads.
        const size_t wide = total >= 8 ? std::min(groups, (total - 8) / B + 1) : 0;
        for (; g < wide; ++g) store64(out + 8 * g, unpackGroup<B>(load64(packed + B * g)));
        for (; g < groups; ++g) {
            u64 x = 0;
            std::memcpy(&x, packed + B * g, B);
            store64(out + 8 * g, unpackGroup<B>(x));
        }
    }
    if (const size_t rest = count - 8 * groups) {
        u64 x = 0;
        std::memcpy(&x, packed + B * groups, total - B * groups);
        const u64 v = unpackGroup<B>(x);
        std::memcpy(out + 8 * groups, &v, rest);
    }
}

void checkBits(int bits, const char* what) {
    if (bits < 1 || bits > 8)
        throw Error(std::string(what) + ": bits must be 1..8, got " + std::to_string(bits));
}

}  // namespace

size_t packedBytes(size_t count, int bits) {
    checkBits(bits, "packedBytes");
    if (count > (std::numeric_limits<size_t>::max() - 7) / 8)
        throw Error("packedBytes: " + std::to_string(count) + " codes overflow the bit count");
    return (count * static_cast<size_t>(bits) + 7) / 8;
}

void packCodes(const uint8_t* codes, size_t count, int bits, uint8_t* out) {
    checkBits(bits, "packCodes");
    (void)packedBytes(count, bits);  // overflow check
    if (count == 0) return;          // codes/out may be null
    switch (bits) {
        case 1: return packImpl<1>(codes, count, out);
        case 2: return packImpl<2>(codes, count, out);
        case 3: return packImpl<3>(codes, count, out);
        case 4: return packImpl<4>(codes, count, out);
        case 5: return packImpl<5>(codes, count, out);
        case 6: return packImpl<6>(codes, count, out);
        case 7: return packImpl<7>(codes, count, out);
        default: return packImpl<8>(codes, count, out);
    }
}

void unpackCodes(const uint8_t* packed, size_t count, int bits, uint8_t* out) {
    checkBits(bits, "unpackCodes");
    (void)packedBytes(count, bits);
    if (count == 0) return;
    switch (bits) {
        case 1: return unpackImpl<1>(packed, count, out);
        case 2: return unpackImpl<2>(packed, count, out);
        case 3: return unpackImpl<3>(packed, count, out);
        case 4: return unpackImpl<4>(packed, count, out);
        case 5: return unpackImpl<5>(packed, count, out);
        case 6: return unpackImpl<6>(packed, count, out);
        case 7: return unpackImpl<7>(packed, count, out);
        default: return unpackImpl<8>(packed, count, out);
    }
}

}  // namespace autosplit::deploy
