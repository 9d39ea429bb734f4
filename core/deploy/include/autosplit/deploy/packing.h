// Dense b-bit code packing (b = 1..8) for the activations a split sends over the wire.
//
// Layout: codes are packed least-significant bits first, as ONNX's int4/uint4 tensors are:
// element i occupies bits [i·b, i·b + b) of the little-endian bit stream, so element 0 sits in the
// low bits of byte 0; for b = 3, 5, 6, 7 an element may straddle two bytes. The last byte is
// zero-padded. Eight codes always fill exactly b bytes, which is the unit the loops work on
// (one 64-bit word of eight codes in, b bytes out).
//
//   b = 4, codes {0x1, 0x2, 0x3}      -> bytes {0x21, 0x03}
//   b = 3, codes {1, 2, 3, 4, 5, 6, 7, 0} -> 24 bits 0b000'111'110'101'100'011'010'001
//                                           = bytes {0xD1, 0x58, 0x1F}
//
// Pure functions on caller-owned buffers; thread-safe; no allocation.
#pragma once

#include <cstddef>
#include <cstdint>

namespace autosplit::deploy {

// Bytes that `count` codes of `bits` bits take packed: ceil(count·bits / 8). Throws Error for
// bits outside 1..8 or a count whose bit length overflows size_t.
size_t packedBytes(size_t count, int bits);

// Packs codes[0, count) into out[0, packedBytes(count, bits)). Bits of a code above the low
// `bits` are masked off (ignored). No byte of `out` past packedBytes is touched; `codes` and
// `out` must not overlap. Throws Error for bits outside 1..8.
void packCodes(const uint8_t* codes, size_t count, int bits, uint8_t* out);

// Inverse of packCodes: reads packed[0, packedBytes(count, bits)) and writes count codes, each
// in 0 .. 2^bits - 1, to out[0, count). Padding bits of the last byte are ignored. Throws Error
// for bits outside 1..8.
void unpackCodes(const uint8_t* packed, size_t count, int bits, uint8_t* out);

}  // namespace autosplit::deploy
