// The deployment wire's binary frame: what the edge sends the cloud (a Request carrying the
// tensors crossing the split) and what comes back (a Reply with the results, or an Error).
// Every integer and float is little-endian; there is no padding.
//
// Fixed header, 36 bytes (kFrameHeaderBytes):
//
//   offset size  field
//    0      4    magic "ASPF" (0x41 0x53 0x50 0x46)
//    4      2    version u16 = 1
//    6      1    type u8: Request = 1, Reply = 2, Error = 3
//    7      1    flags u8: reserved, written 0, ignored by version-1 readers
//    8      8    plan hash u64: which plan (split + bits) the tensors belong to
//   16      8    sequence number u64: a reply carries its request's
//   24      2    tensor count u16
//   26      2    error-message length u16 (bytes of UTF-8, no terminator)
//   28      4    payload length u32: bytes between the fixed header and the trailer
//   32      4    header CRC32C over bytes [0, 32): a damaged length is caught before the
//                reader waits for (or buffers) the bytes it claims
//
// Payload (payload length bytes), in this order:
//   tensor headers, one per tensor (17 + 8·rank bytes each):
//     id u16, element type u8 (Codes = 1, Float32 = 2, Int64 = 3), bits u8 (1..8 for Codes,
//     32 for Float32, 64 for Int64), rank u8 (0..8), dims i64 × rank (each ≥ 0),
//     scale f32 (finite), zero point i32, payload byte count u32
//   tensor payloads, in the order of the headers; each exactly what its shape and type imply:
//     Codes packedBytes(count, bits) (packing.h: LSB-first, last byte zero-padded; value =
//     scale · (code − zero point)), Float32 4·count, Int64 8·count (count = product of dims,
//     1 for rank 0)
//   the error message (error-message length bytes)
//
// Trailer, 4 bytes: CRC32C (crc32c.h) over every byte of the frame before it.
//
// Frame size = 36 + payload length + 4. A reader bounds it by FrameLimits::maxFrameBytes before
// it reserves anything, and grows its buffer only with bytes actually received.
#pragma once

#include "autosplit/util/errors.h"

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace autosplit::deploy {

enum class FrameType : uint8_t { Request = 1, Reply = 2, Error = 3 };
enum class ElementType : uint8_t { Codes = 1, Float32 = 2, Int64 = 3 };

inline constexpr char kFrameMagic[4] = {'A', 'S', 'P', 'F'};
inline constexpr uint16_t kFrameVersion = 1;
inline constexpr size_t kFrameHeaderBytes = 36;   // fixed header, header CRC included
inline constexpr size_t kFrameTrailerBytes = 4;   // frame CRC32C
inline constexpr size_t kTensorHeaderBytes = 17;  // + 8 per dim
inline constexpr int kMaxTensorRank = 8;

struct FrameTensor {
    uint16_t id = 0;
    ElementType type = ElementType::Codes;
    uint8_t bits = 8;               // 1..8 for Codes, 32 for Float32, 64 for Int64
    std::vector<int64_t> shape;     // rank ≤ 8, every dim ≥ 0; {} is a scalar
    float scale = 1.0f;             // Codes: value = scale · (code − zeroPoint)
    int32_t zeroPoint = 0;
    std::vector<uint8_t> data;      // exactly tensorPayloadBytes(type, bits, shape) bytes

    bool operator==(const FrameTensor&) const = default;
};

struct Frame {
    FrameType type = FrameType::Request;
    uint64_t planHash = 0;
    uint64_t sequence = 0;
    std::vector<FrameTensor> tensors;
    std::string error;              // ≤ 65535 bytes; what an Error frame says

    bool operator==(const Frame&) const = default;
};

enum class FrameErrorCode {
    BadMagic,         // the stream is not at a frame start: closes the connection
    BadVersion,       // a version this reader does not know: closes
    BadType,          // frame type not 1..3: the frame is skipped
    Oversized,        // frame larger than FrameLimits::maxFrameBytes: closes
    TooManyTensors,   // more tensors than FrameLimits::maxTensors: the frame is skipped
    BadTensorHeader,  // element type, bits, rank, dim or scale invalid: skipped
    SizeMismatch,     // byte counts disagree (tensor payload vs shape, sections vs payload
                      // length, trailing bytes after a whole frame): skipped
    BadCrc,           // header or frame CRC32C does not match: closes
    Truncated,        // the frame ended early (short buffer, timeout, disconnect): closes
    WrongPlan,        // checkFrame: another plan hash than the one served
    WrongTensors,     // checkFrame: missing, extra or duplicate tensor ids, type or bits
    WrongShape,       // checkFrame: a tensor's shape differs from the contract
};

// "BadMagic", "BadCrc", ...: the prefix of every FrameError message.
const char* toString(FrameErrorCode code);

// True for the codes after which a byte stream cannot be resynchronized (BadMagic, BadVersion,
// Oversized, BadCrc, Truncated): the transport sends the error and closes the connection.
bool closesConnection(FrameErrorCode code);

class FrameError : public Error {
public:
    // what() is "<toString(code)>: <detail>", one line naming the field at fault.
    FrameError(FrameErrorCode code, const std::string& detail);

    FrameErrorCode code() const { return code_; }
    const std::string& detail() const { return detail_; }  // what() without the code prefix

    // Set when the offending frame's fixed header was read intact (its header CRC matched):
    // the sequence and plan hash an Error reply should carry.
    bool headerKnown = false;
    uint64_t sequence = 0;
    uint64_t planHash = 0;
    // From FrameReader::feed: bytes of that call's input taken before the error. After an
    // error that does not close the connection, feed the input again from there.
    size_t consumed = 0;

private:
    FrameErrorCode code_;
    std::string detail_;
};

struct FrameLimits {
    uint32_t maxFrameBytes = 64u << 20;  // whole frame: header + payload + trailer
    uint16_t maxTensors = 64;
};

// Payload bytes a tensor of this type, bits and shape must carry. Throws FrameError
// BadTensorHeader (bits invalid for the type, rank > 8, a negative dim) or SizeMismatch (the
// count overflows or the bytes exceed 4 GiB − 1, what a u32 payload count can say).
size_t tensorPayloadBytes(ElementType type, int bits, const std::vector<int64_t>& shape);

// Product of dims (1 for a scalar); throws FrameError like tensorPayloadBytes.
size_t tensorElementCount(const std::vector<int64_t>& shape);

// Builders and readers of tensor data (throw FrameError for invalid bits, shape or data size).
FrameTensor makeCodesTensor(uint16_t id, int bits, std::vector<int64_t> shape, const uint8_t* codes,
                            float scale = 1.0f, int32_t zeroPoint = 0);  // codes: count bytes
FrameTensor makeFloat32Tensor(uint16_t id, std::vector<int64_t> shape, const std::vector<float>& values);
FrameTensor makeInt64Tensor(uint16_t id, std::vector<int64_t> shape, const std::vector<int64_t>& values);
std::vector<uint8_t> tensorCodes(const FrameTensor& t);   // Codes: unpacked, one byte per code
std::vector<float> tensorFloats(const FrameTensor& t);    // Float32
std::vector<int64_t> tensorInt64s(const FrameTensor& t);  // Int64

// Serializes a frame. Throws FrameError when the frame cannot be written as is: a tensor
// header or payload size that is invalid (the same checks a reader makes), more than 65535
// tensors, an error message over 65535 bytes, or a payload over 4 GiB. Limits are the reader's
// business: encodeFrame does not apply FrameLimits.
std::vector<uint8_t> encodeFrame(const Frame& frame);

// Incremental reader for a byte stream (a socket): feed bytes as they arrive; the reader takes
// what belongs to the current frame and stops at its end.
//
//   FrameReader r(limits);
//   while (n > 0) { size_t used = r.feed(p, n); p += used; n -= used;
//                   if (r.complete()) handle(r.take()); }
//
// Memory: the fixed header lives in the object; the payload buffer is reserved only after the
// header's total size passed maxFrameBytes, and grows with the bytes received (capacity at most
// max(4 KiB, 2 × payload bytes received), never past the frame's payload length), so a header
// that lies about its length costs no more than what the peer actually sent.
//
// Errors: feed throws FrameError. After a code for which closesConnection() is true the
// reader is failed and every later feed rethrows the same error. After the others (BadType,
// TooManyTensors, BadTensorHeader, SizeMismatch) the frame's boundaries are known: the reader
// skips the rest of the frame (the bytes are discarded, not buffered) and continues with the
// next. Not thread-safe: one reader per stream.
class FrameReader {
public:
    explicit FrameReader(FrameLimits limits = {});

    // Consumes up to the end of the current frame (or of the frame being skipped) and returns
    // how many bytes it took: all `size` unless a frame completed earlier in the buffer. Returns
    // 0 while complete() (take() the frame first). Never returns 0 otherwise when size > 0.
    size_t feed(const uint8_t* data, size_t size);

    bool complete() const { return state_ == State::Complete; }
    // The completed frame; the reader is ready for the next one. Throws Error when !complete().
    Frame take();

    // Bytes of an unfinished (or skipped) frame have been received: a frame is in progress.
    bool inFrame() const;
    // Bytes of the current frame received so far, and its total size once the fixed header is
    // in (0 before).
    size_t received() const { return received_; }
    size_t expected() const { return expected_; }
    // Heap bytes this reader holds now (the payload buffer's capacity).
    size_t bufferedBytes() const { return payload_.capacity(); }
    bool failed() const { return state_ == State::Failed; }
    const FrameLimits& limits() const { return limits_; }

    // Forgets any partial frame and a failure; frees the buffer.
    void reset();

private:
    enum class State { Header, Payload, Trailer, Skip, Complete, Failed };
    [[noreturn]] void raise(FrameErrorCode code, const std::string& detail);
    void headerDone();
    void trailerDone();
    void parsePayload();
    void appendPayload(const uint8_t* p, size_t k);
    void startNext();

    FrameLimits limits_;
    State state_ = State::Header;
    uint8_t header_[kFrameHeaderBytes] = {};
    uint8_t trailer_[kFrameTrailerBytes] = {};
    size_t received_ = 0, expected_ = 0, skipRemaining_ = 0, trailerReceived_ = 0;
    uint32_t payloadLength_ = 0, crc_ = 0;
    uint16_t tensorCount_ = 0, errorLength_ = 0;
    bool headerKnown_ = false;
    std::vector<uint8_t> payload_;
    Frame frame_;
    FrameError failure_{FrameErrorCode::Truncated, ""};
};

// Decodes one whole frame from a buffer: FrameError Truncated when the buffer ends before the
// frame does, SizeMismatch when bytes follow it, and every error FrameReader reports.
Frame decodeFrame(const uint8_t* data, size_t size, const FrameLimits& limits = {});

// What a server expects of a request's tensors. A negative dim in `shape` matches any size.
struct TensorContract {
    uint16_t id = 0;
    ElementType type = ElementType::Codes;
    uint8_t bits = 8;
    std::vector<int64_t> shape;
};

// Checks a decoded frame against the plan a server runs: FrameError WrongPlan (another plan
// hash), WrongTensors (a contract id missing, an id not in the contract or repeated, another
// element type or bits), WrongShape (another rank or dim). Messages say what was expected and
// what came. Tensor order does not matter.
void checkFrame(const Frame& frame, uint64_t planHash, const std::vector<TensorContract>& contract);

const char* toString(FrameType type);
const char* toString(ElementType type);

}  // namespace autosplit::deploy
