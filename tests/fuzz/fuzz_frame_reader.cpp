// libFuzzer target for deploy/frame.h. Input: one control byte, then the bytes of a stream.
//   control bit 0: re-seal the header and frame CRCs first, so mutations reach the checks
//                  behind them (tensor headers, section sizes) instead of dying at BadCrc;
//   control bits 1..7: FrameReader chunk size − 1.
// The bytes go to decodeFrame, and twice in a row to a FrameReader fed in chunks (continuing
// after the errors that skip a frame, as the server does). Only Frames and FrameErrors may come
// out; a decoded frame must re-encode to the same bytes (flags aside) and read its tensors;
// feed must make progress. Anything else aborts (an uncaught exception is a crash to libFuzzer).
#include "frame_craft.h"

#include "autosplit/deploy/frame.h"

#include <cstdio>
#include <cstdlib>
#include <vector>

using namespace autosplit::deploy;

namespace {

[[noreturn]] void fail(const char* what) {
    std::fprintf(stderr, "fuzz_frame_reader: %s\n", what);
    std::abort();
}

void exercise(const Frame& f) {
    for (const FrameTensor& t : f.tensors) {
        switch (t.type) {
            case ElementType::Codes: (void)tensorCodes(t); break;
            case ElementType::Float32: (void)tensorFloats(t); break;
            case ElementType::Int64: (void)tensorInt64s(t); break;
        }
    }
    try {
        checkFrame(f, 0x1234, {{1, ElementType::Codes, 4, {1, -1}}, {2, ElementType::Float32, 32, {}}});
    } catch (const FrameError&) {
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    if (size == 0) return 0;
    const uint8_t control = data[0];
    std::vector<uint8_t> bytes(data + 1, data + size);
    if (control & 1) craft::reseal(bytes);
    FrameLimits limits;
    limits.maxFrameBytes = 1 << 16;
    limits.maxTensors = 8;

    try {
        const Frame f = decodeFrame(bytes.data(), bytes.size(), limits);
        exercise(f);
        std::vector<uint8_t> normalized = bytes;
        normalized[7] = 0;
        craft::reseal(normalized);
        if (encodeFrame(f) != normalized) fail("decoded frame re-encodes to other bytes");
    } catch (const FrameError&) {
    }

    std::vector<uint8_t> stream = bytes;
    stream.insert(stream.end(), bytes.begin(), bytes.end());
    const size_t chunk = 1 + (control >> 1);
    FrameReader reader(limits);
    size_t pos = 0;
    while (pos < stream.size()) {
        const size_t n = std::min(chunk, stream.size() - pos);
        try {
            const size_t used = reader.feed(stream.data() + pos, n);
            if (used == 0 && !reader.complete()) fail("feed made no progress");
            pos += used;
        } catch (const FrameError& e) {
            if (closesConnection(e.code())) {
                if (!reader.failed()) fail("a closing error left the reader usable");
                break;
            }
            if (e.consumed == 0 || e.consumed > n) fail("a frame-skipping error consumed nothing or too much");
            pos += e.consumed;
        }
        if (reader.complete()) exercise(reader.take());
        if (reader.bufferedBytes() > limits.maxFrameBytes) fail("reader buffer above maxFrameBytes");
    }
    return 0;
}
