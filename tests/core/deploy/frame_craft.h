// Test helpers for deploy/frame.h: seeded random frames, byte-level edits of encoded frames
// with their CRCs re-sealed (so a crafted field reaches the check behind the CRCs), and the
// mutations of the seeded fuzz loop (tst_frame) and the fuzz target (tests/fuzz). Header-only,
// Qt-free.
#pragma once

#include "autosplit/deploy/crc32c.h"
#include "autosplit/deploy/frame.h"
#include "autosplit/deploy/packing.h"

#include <cstdint>
#include <cstring>
#include <random>
#include <vector>

namespace autosplit::deploy::craft {

inline void putU16At(std::vector<uint8_t>& f, size_t at, uint16_t v) {
    f[at] = static_cast<uint8_t>(v);
    f[at + 1] = static_cast<uint8_t>(v >> 8);
}
inline void putU32At(std::vector<uint8_t>& f, size_t at, uint32_t v) {
    for (int i = 0; i < 4; ++i) f[at + i] = static_cast<uint8_t>(v >> (8 * i));
}
inline void putU64At(std::vector<uint8_t>& f, size_t at, uint64_t v) {
    for (int i = 0; i < 8; ++i) f[at + i] = static_cast<uint8_t>(v >> (8 * i));
}
inline uint32_t getU32At(const std::vector<uint8_t>& f, size_t at) {
    uint32_t v = 0;
    for (int i = 0; i < 4; ++i) v |= static_cast<uint32_t>(f[at + i]) << (8 * i);
    return v;
}

// Recomputes the header CRC (bytes 32..35) and the trailing frame CRC of an edited frame.
inline void reseal(std::vector<uint8_t>& f) {
    if (f.size() >= kFrameHeaderBytes) putU32At(f, 32, crc32c(f.data(), 32));
    if (f.size() >= kFrameHeaderBytes + kFrameTrailerBytes)
        putU32At(f, f.size() - 4, crc32c(f.data(), f.size() - 4));
}

// Offset of tensor i's header in an encoded frame (headers start right after the fixed header).
inline size_t tensorHeaderAt(const Frame& frame, size_t i) {
    size_t at = kFrameHeaderBytes;
    for (size_t k = 0; k < i; ++k) at += kTensorHeaderBytes + 8 * frame.tensors[k].shape.size();
    return at;
}

inline FrameTensor randomTensor(std::mt19937_64& rng, uint16_t id) {
    std::uniform_int_distribution<int> kind(0, 2), rankD(0, 4), dimD(0, 7), bitsD(1, 8);
    const int k = kind(rng);
    std::vector<int64_t> shape(static_cast<size_t>(rankD(rng)));
    for (auto& d : shape) d = dimD(rng);
    size_t count = 1;
    for (auto d : shape) count *= static_cast<size_t>(d);
    if (k == 0) {
        std::vector<uint8_t> codes(count);
        for (auto& c : codes) c = static_cast<uint8_t>(rng());
        return makeCodesTensor(id, bitsD(rng), shape, codes.data(), 0.01f * static_cast<float>(1 + rng() % 100),
                               static_cast<int32_t>(rng() % 256) - 128);
    }
    if (k == 1) {
        std::vector<float> v(count);
        for (auto& x : v) x = static_cast<float>(static_cast<int64_t>(rng() % 2001) - 1000) / 7.0f;
        return makeFloat32Tensor(id, shape, v);
    }
    std::vector<int64_t> v(count);
    for (auto& x : v) x = static_cast<int64_t>(rng());
    return makeInt64Tensor(id, shape, v);
}

inline Frame randomFrame(std::mt19937_64& rng) {
    Frame f;
    f.type = static_cast<FrameType>(1 + rng() % 3);
    f.planHash = rng();
    f.sequence = rng();
    const size_t n = rng() % 5;
    for (size_t i = 0; i < n; ++i) f.tensors.push_back(randomTensor(rng, static_cast<uint16_t>(rng() % 8)));
    if (f.type == FrameType::Error || rng() % 4 == 0) {
        const size_t len = rng() % 40;
        for (size_t i = 0; i < len; ++i) f.error.push_back(static_cast<char>(' ' + rng() % 95));
    }
    return f;
}

// One mutation of an encoded frame, chosen by the generator: flipped bytes, truncation,
// extension, garbage, a field edit with the CRCs re-sealed, or two frames spliced. Some
// mutations leave the frame intact.
inline std::vector<uint8_t> mutate(std::mt19937_64& rng, std::vector<uint8_t> f, const std::vector<uint8_t>& other) {
    const auto pick = [&](size_t n) { return n ? static_cast<size_t>(rng() % n) : 0; };
    switch (rng() % 9) {
        case 0: {  // flip 1..4 random bytes
            const size_t flips = 1 + rng() % 4;
            for (size_t i = 0; i < flips && !f.empty(); ++i) f[pick(f.size())] ^= static_cast<uint8_t>(1 + rng() % 255);
            break;
        }
        case 1:  // truncate
            f.resize(pick(f.size()));
            break;
        case 2: {  // extend with random bytes
            const size_t more = 1 + rng() % 64;
            for (size_t i = 0; i < more; ++i) f.push_back(static_cast<uint8_t>(rng()));
            break;
        }
        case 3: {  // garbage, sometimes starting like a frame
            f.assign(rng() % 200, 0);
            for (auto& b : f) b = static_cast<uint8_t>(rng());
            if (f.size() >= 6 && rng() % 2) {
                std::memcpy(f.data(), kFrameMagic, 4);
                f[4] = 1;
                f[5] = 0;
            }
            if (rng() % 2) reseal(f);
            break;
        }
        case 4:
        case 5: {  // edit header or tensor-header bytes, then re-seal both CRCs
            const size_t edits = 1 + rng() % 3;
            for (size_t i = 0; i < edits && f.size() > 8; ++i) {
                const size_t span = std::min<size_t>(f.size() - 4, kFrameHeaderBytes + 64);
                const size_t at = 4 + pick(span - 4);
                if (at >= 32 && at < 36) continue;  // the header CRC itself is recomputed
                f[at] = rng() % 3 == 0 ? static_cast<uint8_t>(f[at] + (rng() % 2 ? 1 : -1)) : static_cast<uint8_t>(rng());
            }
            reseal(f);
            break;
        }
        case 6: {  // a length field changed consistently with a grown or shrunk payload
            if (f.size() < kFrameHeaderBytes + kFrameTrailerBytes) break;
            const size_t delta = 1 + rng() % 16;
            if (rng() % 2) f.insert(f.end() - 4, delta, static_cast<uint8_t>(rng()));
            else if (f.size() >= kFrameHeaderBytes + kFrameTrailerBytes + delta) f.erase(f.end() - 4 - delta, f.end() - 4);
            putU32At(f, 28, static_cast<uint32_t>(f.size() - kFrameHeaderBytes - kFrameTrailerBytes));
            reseal(f);
            break;
        }
        case 7: {  // splice: the head of this frame, the tail of another
            const size_t cut = pick(f.size());
            f.resize(cut);
            const size_t from = pick(other.size());
            f.insert(f.end(), other.begin() + static_cast<std::ptrdiff_t>(from), other.end());
            if (rng() % 2) reseal(f);
            break;
        }
        default:  // intact
            break;
    }
    return f;
}

}  // namespace autosplit::deploy::craft
