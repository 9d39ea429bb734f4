// Frame encoding, the bounded incremental reader and the contract check (layout: frame.h).
#include "autosplit/deploy/frame.h"

#include "autosplit/deploy/crc32c.h"
#include "autosplit/deploy/packing.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <limits>
#include <map>
#include <set>

namespace autosplit::deploy {

namespace {

// ---- little-endian fields (explicit byte order: the wire does not depend on the host) ----

void putU8(std::vector<uint8_t>& out, uint8_t v) { out.push_back(v); }
void putU16(std::vector<uint8_t>& out, uint16_t v) {
    out.push_back(static_cast<uint8_t>(v));
    out.push_back(static_cast<uint8_t>(v >> 8));
}
void putU32(std::vector<uint8_t>& out, uint32_t v) {
    for (int i = 0; i < 4; ++i) out.push_back(static_cast<uint8_t>(v >> (8 * i)));
}
void putU64(std::vector<uint8_t>& out, uint64_t v) {
    for (int i = 0; i < 8; ++i) out.push_back(static_cast<uint8_t>(v >> (8 * i)));
}
void setU32(uint8_t* p, uint32_t v) {
    for (int i = 0; i < 4; ++i) p[i] = static_cast<uint8_t>(v >> (8 * i));
}

uint16_t getU16(const uint8_t* p) { return static_cast<uint16_t>(p[0] | (p[1] << 8)); }
uint32_t getU32(const uint8_t* p) {
    uint32_t v = 0;
    for (int i = 0; i < 4; ++i) v |= static_cast<uint32_t>(p[i]) << (8 * i);
    return v;
}
uint64_t getU64(const uint8_t* p) {
    uint64_t v = 0;
    for (int i = 0; i < 8; ++i) v |= static_cast<uint64_t>(p[i]) << (8 * i);
    return v;
}

std::string hex(uint64_t v, int digits = 8) {
    char buf[24];
    std::snprintf(buf, sizeof buf, "0x%0*llX", digits, static_cast<unsigned long long>(v));
    return buf;
}

std::string bytesHex(const uint8_t* p, size_t n) {
    std::string s;
    char buf[4];
    for (size_t i = 0; i < n; ++i) {
        std::snprintf(buf, sizeof buf, "%s%02X", i ? " " : "", p[i]);
        s += buf;
    }
    return s;
}

std::string shapeText(const std::vector<int64_t>& shape) {
    std::string s = "[";
    for (size_t i = 0; i < shape.size(); ++i) {
        if (i) s += ',';
        s += shape[i] < 0 ? std::string("?") : std::to_string(shape[i]);
    }
    return s + "]";
}

std::string typeText(ElementType type, int bits) {
    if (type == ElementType::Codes) return "Codes at " + std::to_string(bits) + " bits";
    return toString(type);
}

bool validType(uint8_t t) { return t >= 1 && t <= 3; }

std::string tensorName(size_t index, uint16_t id) {
    return "tensor " + std::to_string(index) + " (id " + std::to_string(id) + ")";
}

constexpr size_t kGrowthFloor = 4096;
constexpr size_t kKeepCapacity = 1u << 20;  // buffers above this are freed between frames

}  // namespace

// ---- names, errors ----

const char* toString(FrameErrorCode code) {
    switch (code) {
        case FrameErrorCode::BadMagic: return "BadMagic";
        case FrameErrorCode::BadVersion: return "BadVersion";
        case FrameErrorCode::BadType: return "BadType";
        case FrameErrorCode::Oversized: return "Oversized";
        case FrameErrorCode::TooManyTensors: return "TooManyTensors";
        case FrameErrorCode::BadTensorHeader: return "BadTensorHeader";
        case FrameErrorCode::SizeMismatch: return "SizeMismatch";
        case FrameErrorCode::BadCrc: return "BadCrc";
        case FrameErrorCode::Truncated: return "Truncated";
        case FrameErrorCode::WrongPlan: return "WrongPlan";
        case FrameErrorCode::WrongTensors: return "WrongTensors";
        case FrameErrorCode::WrongShape: return "WrongShape";
    }
    return "FrameError";
}

bool closesConnection(FrameErrorCode code) {
    switch (code) {
        case FrameErrorCode::BadMagic:
        case FrameErrorCode::BadVersion:
        case FrameErrorCode::Oversized:
        case FrameErrorCode::BadCrc:
        case FrameErrorCode::Truncated: return true;
        default: return false;
    }
}

const char* toString(FrameType type) {
    switch (type) {
        case FrameType::Request: return "Request";
        case FrameType::Reply: return "Reply";
        case FrameType::Error: return "Error";
    }
    return "unknown frame type";
}

const char* toString(ElementType type) {
    switch (type) {
        case ElementType::Codes: return "Codes";
        case ElementType::Float32: return "Float32";
        case ElementType::Int64: return "Int64";
    }
    return "unknown element type";
}

FrameError::FrameError(FrameErrorCode code, const std::string& detail)
    : Error(std::string(toString(code)) + ": " + detail), code_(code), detail_(detail) {}

// ---- tensor sizes and builders ----

size_t tensorElementCount(const std::vector<int64_t>& shape) {
    if (shape.size() > static_cast<size_t>(kMaxTensorRank))
        throw FrameError(FrameErrorCode::BadTensorHeader,
                         "rank " + std::to_string(shape.size()) + " exceeds " + std::to_string(kMaxTensorRank));
    uint64_t count = 1;
    for (size_t i = 0; i < shape.size(); ++i) {
        if (shape[i] < 0)
            throw FrameError(FrameErrorCode::BadTensorHeader,
                             "dim " + std::to_string(i) + " is negative (" + std::to_string(shape[i]) + ")");
        if (__builtin_mul_overflow(count, static_cast<uint64_t>(shape[i]), &count))
            throw FrameError(FrameErrorCode::SizeMismatch, "shape " + shapeText(shape) + " overflows the element count");
    }
    if (count > std::numeric_limits<size_t>::max())
        throw FrameError(FrameErrorCode::SizeMismatch, "shape " + shapeText(shape) + " overflows the element count");
    return static_cast<size_t>(count);
}

size_t tensorPayloadBytes(ElementType type, int bits, const std::vector<int64_t>& shape) {
    switch (type) {
        case ElementType::Codes:
            if (bits < 1 || bits > 8)
                throw FrameError(FrameErrorCode::BadTensorHeader, "Codes need bits 1..8, got " + std::to_string(bits));
            break;
        case ElementType::Float32:
            if (bits != 32)
                throw FrameError(FrameErrorCode::BadTensorHeader, "Float32 tensors have bits 32, got " + std::to_string(bits));
            break;
        case ElementType::Int64:
            if (bits != 64)
                throw FrameError(FrameErrorCode::BadTensorHeader, "Int64 tensors have bits 64, got " + std::to_string(bits));
            break;
        default:
            throw FrameError(FrameErrorCode::BadTensorHeader,
                             "element type " + std::to_string(static_cast<int>(type)) +
                                 " is not Codes (1), Float32 (2) or Int64 (3)");
    }
    const size_t count = tensorElementCount(shape);
    uint64_t bytes = 0;
    if (type == ElementType::Codes) {
        if (count > (std::numeric_limits<uint64_t>::max() - 7) / 8)
            throw FrameError(FrameErrorCode::SizeMismatch, "shape " + shapeText(shape) + " overflows the byte count");
        bytes = (static_cast<uint64_t>(count) * static_cast<uint64_t>(bits) + 7) / 8;
    } else if (__builtin_mul_overflow(static_cast<uint64_t>(count), static_cast<uint64_t>(bits / 8), &bytes)) {
        throw FrameError(FrameErrorCode::SizeMismatch, "shape " + shapeText(shape) + " overflows the byte count");
    }
    if (bytes > std::numeric_limits<uint32_t>::max())
        throw FrameError(FrameErrorCode::SizeMismatch, "shape " + shapeText(shape) + " as " + typeText(type, bits) +
                                                           " needs " + std::to_string(bytes) +
                                                           " bytes, more than a u32 payload count can say");
    return static_cast<size_t>(bytes);
}

FrameTensor makeCodesTensor(uint16_t id, int bits, std::vector<int64_t> shape, const uint8_t* codes, float scale,
                            int32_t zeroPoint) {
    FrameTensor t;
    t.id = id;
    t.type = ElementType::Codes;
    t.data.resize(tensorPayloadBytes(ElementType::Codes, bits, shape));
    t.bits = static_cast<uint8_t>(bits);
    packCodes(codes, tensorElementCount(shape), bits, t.data.data());
    t.shape = std::move(shape);
    t.scale = scale;
    t.zeroPoint = zeroPoint;
    return t;
}

FrameTensor makeFloat32Tensor(uint16_t id, std::vector<int64_t> shape, const std::vector<float>& values) {
    FrameTensor t;
    t.id = id;
    t.type = ElementType::Float32;
    t.bits = 32;
    const size_t bytes = tensorPayloadBytes(ElementType::Float32, 32, shape);
    if (values.size() * 4 != bytes)
        throw FrameError(FrameErrorCode::SizeMismatch, "shape " + shapeText(shape) + " needs " +
                                                           std::to_string(bytes / 4) + " floats, got " +
                                                           std::to_string(values.size()));
    t.data.resize(bytes);
    for (size_t i = 0; i < values.size(); ++i) {
        uint32_t u;
        std::memcpy(&u, &values[i], 4);
        setU32(t.data.data() + 4 * i, u);
    }
    t.shape = std::move(shape);
    return t;
}

FrameTensor makeInt64Tensor(uint16_t id, std::vector<int64_t> shape, const std::vector<int64_t>& values) {
    FrameTensor t;
    t.id = id;
    t.type = ElementType::Int64;
    t.bits = 64;
    const size_t bytes = tensorPayloadBytes(ElementType::Int64, 64, shape);
    if (values.size() * 8 != bytes)
        throw FrameError(FrameErrorCode::SizeMismatch, "shape " + shapeText(shape) + " needs " +
                                                           std::to_string(bytes / 8) + " integers, got " +
                                                           std::to_string(values.size()));
    t.data.resize(bytes);
    for (size_t i = 0; i < values.size(); ++i) {
        const auto u = static_cast<uint64_t>(values[i]);
        for (int k = 0; k < 8; ++k) t.data[8 * i + k] = static_cast<uint8_t>(u >> (8 * k));
    }
    t.shape = std::move(shape);
    return t;
}

namespace {
void checkTensorData(const FrameTensor& t, ElementType want, const char* what) {
    if (t.type != want)
        throw FrameError(FrameErrorCode::WrongTensors, std::string(what) + ": tensor id " + std::to_string(t.id) +
                                                           " is " + toString(t.type) + ", not " + toString(want));
    const size_t bytes = tensorPayloadBytes(t.type, t.bits, t.shape);
    if (t.data.size() != bytes)
        throw FrameError(FrameErrorCode::SizeMismatch, std::string(what) + ": tensor id " + std::to_string(t.id) +
                                                           " holds " + std::to_string(t.data.size()) +
                                                           " bytes, its shape needs " + std::to_string(bytes));
}
}  // namespace

std::vector<uint8_t> tensorCodes(const FrameTensor& t) {
    checkTensorData(t, ElementType::Codes, "tensorCodes");
    std::vector<uint8_t> codes(tensorElementCount(t.shape));
    unpackCodes(t.data.data(), codes.size(), t.bits, codes.data());
    return codes;
}

std::vector<float> tensorFloats(const FrameTensor& t) {
    checkTensorData(t, ElementType::Float32, "tensorFloats");
    std::vector<float> v(t.data.size() / 4);
    for (size_t i = 0; i < v.size(); ++i) {
        const uint32_t u = getU32(t.data.data() + 4 * i);
        std::memcpy(&v[i], &u, 4);
    }
    return v;
}

std::vector<int64_t> tensorInt64s(const FrameTensor& t) {
    checkTensorData(t, ElementType::Int64, "tensorInt64s");
    std::vector<int64_t> v(t.data.size() / 8);
    for (size_t i = 0; i < v.size(); ++i) v[i] = static_cast<int64_t>(getU64(t.data.data() + 8 * i));
    return v;
}

// ---- encoding ----

std::vector<uint8_t> encodeFrame(const Frame& frame) {
    if (frame.type != FrameType::Request && frame.type != FrameType::Reply && frame.type != FrameType::Error)
        throw FrameError(FrameErrorCode::BadType,
                         "cannot encode frame type " + std::to_string(static_cast<int>(frame.type)));
    if (frame.tensors.size() > std::numeric_limits<uint16_t>::max())
        throw FrameError(FrameErrorCode::TooManyTensors,
                         "cannot encode " + std::to_string(frame.tensors.size()) + " tensors (at most 65535)");
    if (frame.error.size() > std::numeric_limits<uint16_t>::max())
        throw FrameError(FrameErrorCode::SizeMismatch,
                         "error message of " + std::to_string(frame.error.size()) + " bytes (at most 65535)");
    uint64_t payload = frame.error.size();
    for (size_t i = 0; i < frame.tensors.size(); ++i) {
        const FrameTensor& t = frame.tensors[i];
        size_t bytes = 0;
        try {
            bytes = tensorPayloadBytes(t.type, t.bits, t.shape);
        } catch (const FrameError& e) {
            throw FrameError(e.code(), "cannot encode " + tensorName(i, t.id) + ": " + e.detail());
        }
        if (!std::isfinite(t.scale))
            throw FrameError(FrameErrorCode::BadTensorHeader, "cannot encode " + tensorName(i, t.id) + ": scale is not finite");
        if (t.data.size() != bytes)
            throw FrameError(FrameErrorCode::SizeMismatch,
                             "cannot encode " + tensorName(i, t.id) + ": " + std::to_string(t.data.size()) +
                                 " data bytes, shape " + shapeText(t.shape) + " as " + typeText(t.type, t.bits) +
                                 " needs " + std::to_string(bytes));
        payload += kTensorHeaderBytes + 8 * t.shape.size() + bytes;
    }
    if (payload > std::numeric_limits<uint32_t>::max())
        throw FrameError(FrameErrorCode::Oversized,
                         "cannot encode a payload of " + std::to_string(payload) + " bytes (at most 4 GiB - 1)");

    std::vector<uint8_t> out;
    out.reserve(kFrameHeaderBytes + payload + kFrameTrailerBytes);
    out.insert(out.end(), kFrameMagic, kFrameMagic + 4);
    putU16(out, kFrameVersion);
    putU8(out, static_cast<uint8_t>(frame.type));
    putU8(out, 0);  // flags
    putU64(out, frame.planHash);
    putU64(out, frame.sequence);
    putU16(out, static_cast<uint16_t>(frame.tensors.size()));
    putU16(out, static_cast<uint16_t>(frame.error.size()));
    putU32(out, static_cast<uint32_t>(payload));
    putU32(out, crc32c(out.data(), out.size()));
    for (const FrameTensor& t : frame.tensors) {
        putU16(out, t.id);
        putU8(out, static_cast<uint8_t>(t.type));
        putU8(out, t.bits);
        putU8(out, static_cast<uint8_t>(t.shape.size()));
        for (int64_t d : t.shape) putU64(out, static_cast<uint64_t>(d));
        uint32_t scaleBits;
        std::memcpy(&scaleBits, &t.scale, 4);
        putU32(out, scaleBits);
        putU32(out, static_cast<uint32_t>(t.zeroPoint));
        putU32(out, static_cast<uint32_t>(t.data.size()));
    }
    for (const FrameTensor& t : frame.tensors) out.insert(out.end(), t.data.begin(), t.data.end());
    out.insert(out.end(), frame.error.begin(), frame.error.end());
    putU32(out, crc32c(out.data(), out.size()));
    return out;
}

// ---- reader ----

FrameReader::FrameReader(FrameLimits limits) : limits_(limits) {}

bool FrameReader::inFrame() const {
    return state_ == State::Payload || state_ == State::Trailer || state_ == State::Skip ||
           (state_ == State::Header && received_ > 0);
}

void FrameReader::reset() {
    state_ = State::Header;
    received_ = expected_ = skipRemaining_ = trailerReceived_ = 0;
    payloadLength_ = crc_ = 0;
    tensorCount_ = errorLength_ = 0;
    headerKnown_ = false;
    std::vector<uint8_t>().swap(payload_);
    frame_ = Frame{};
    failure_ = FrameError(FrameErrorCode::Truncated, "");
}

void FrameReader::startNext() {
    state_ = State::Header;
    received_ = expected_ = skipRemaining_ = trailerReceived_ = 0;
    headerKnown_ = false;
    payload_.clear();
    if (payload_.capacity() > kKeepCapacity) std::vector<uint8_t>().swap(payload_);
}

void FrameReader::raise(FrameErrorCode code, const std::string& detail) {
    FrameError e(code, detail);
    if (headerKnown_) {
        e.headerKnown = true;
        e.planHash = getU64(header_ + 8);
        e.sequence = getU64(header_ + 16);
    }
    if (closesConnection(code)) {
        state_ = State::Failed;
        std::vector<uint8_t>().swap(payload_);
    }
    throw e;
}

Frame FrameReader::take() {
    if (state_ != State::Complete) throw Error("FrameReader::take: no complete frame");
    Frame f = std::move(frame_);
    frame_ = Frame{};
    startNext();
    return f;
}

void FrameReader::appendPayload(const uint8_t* p, size_t k) {
    const size_t need = payload_.size() + k;
    if (need > payload_.capacity()) {
        // Geometric growth bounded by what arrived and by the (already limit-checked) length.
        const size_t cap = std::min<size_t>(payloadLength_, std::max(kGrowthFloor, 2 * need));
        payload_.reserve(std::max(cap, need));
    }
    payload_.insert(payload_.end(), p, p + k);
    crc_ = crc32c(p, k, crc_);
}

void FrameReader::headerDone() {
    const uint32_t stored = getU32(header_ + 32);
    const uint32_t computed = crc32c(header_, 32);
    if (stored != computed)
        raise(FrameErrorCode::BadCrc, "header CRC32C " + hex(stored) + " does not match its bytes (" + hex(computed) + ")");
    headerKnown_ = true;
    const uint8_t type = header_[6];
    tensorCount_ = getU16(header_ + 24);
    errorLength_ = getU16(header_ + 26);
    payloadLength_ = getU32(header_ + 28);
    expected_ = kFrameHeaderBytes + static_cast<size_t>(payloadLength_) + kFrameTrailerBytes;
    if (expected_ > limits_.maxFrameBytes)
        raise(FrameErrorCode::Oversized, "frame of " + std::to_string(expected_) + " bytes exceeds the limit of " +
                                             std::to_string(limits_.maxFrameBytes) + " bytes");
    crc_ = crc32c(header_, kFrameHeaderBytes);
    // From here on the frame's end is known: a bad field skips the frame, the stream goes on.
    const auto skipFrame = [&](FrameErrorCode code, const std::string& detail) {
        state_ = State::Skip;
        skipRemaining_ = expected_ - kFrameHeaderBytes;
        raise(code, detail);
    };
    if (!(type >= 1 && type <= 3))
        skipFrame(FrameErrorCode::BadType,
                  "frame type " + std::to_string(type) + " is not Request (1), Reply (2) or Error (3)");
    if (tensorCount_ > limits_.maxTensors)
        skipFrame(FrameErrorCode::TooManyTensors, std::to_string(tensorCount_) + " tensors exceed the limit of " +
                                                      std::to_string(limits_.maxTensors));
    const uint64_t least = static_cast<uint64_t>(tensorCount_) * kTensorHeaderBytes + errorLength_;
    if (least > payloadLength_)
        skipFrame(FrameErrorCode::SizeMismatch,
                  "payload length " + std::to_string(payloadLength_) + " cannot hold " + std::to_string(tensorCount_) +
                      " tensor headers and a " + std::to_string(errorLength_) + "-byte error message (" +
                      std::to_string(least) + " bytes at least)");
    state_ = payloadLength_ > 0 ? State::Payload : State::Trailer;
}

void FrameReader::trailerDone() {
    const uint32_t stored = getU32(trailer_);
    if (stored != crc_)
        raise(FrameErrorCode::BadCrc, "frame CRC32C " + hex(stored) + " does not match its " +
                                          std::to_string(expected_ - kFrameTrailerBytes) + " bytes (" + hex(crc_) + ")");
    parsePayload();
    state_ = State::Complete;
    // The bytes now live in frame_: give the buffer back unless it is small enough to reuse.
    payload_.clear();
    if (payload_.capacity() > kKeepCapacity) std::vector<uint8_t>().swap(payload_);
}

void FrameReader::parsePayload() {
    // The whole frame is in and its CRC matched: any error below skips just this frame.
    const auto bad = [&](FrameErrorCode code, const std::string& detail) {
        FrameError e(code, detail);
        e.headerKnown = true;
        e.planHash = getU64(header_ + 8);
        e.sequence = getU64(header_ + 16);
        startNext();
        throw e;
    };
    const uint8_t* p = payload_.data();
    const size_t n = payloadLength_;
    size_t pos = 0;
    Frame f;
    f.type = static_cast<FrameType>(header_[6]);
    f.planHash = getU64(header_ + 8);
    f.sequence = getU64(header_ + 16);
    f.tensors.resize(tensorCount_);
    uint64_t dataBytes = 0;
    for (size_t i = 0; i < tensorCount_; ++i) {
        FrameTensor& t = f.tensors[i];
        if (pos + 5 > n)
            bad(FrameErrorCode::SizeMismatch, "tensor headers run past the payload: tensor " + std::to_string(i) +
                                                  " starts at offset " + std::to_string(pos) + " of " + std::to_string(n));
        t.id = getU16(p + pos);
        const uint8_t type = p[pos + 2];
        t.bits = p[pos + 3];
        const uint8_t rank = p[pos + 4];
        const std::string name = tensorName(i, t.id);
        if (!validType(type))
            bad(FrameErrorCode::BadTensorHeader,
                name + ": element type " + std::to_string(type) + " is not Codes (1), Float32 (2) or Int64 (3)");
        t.type = static_cast<ElementType>(type);
        if (rank > kMaxTensorRank)
            bad(FrameErrorCode::BadTensorHeader,
                name + ": rank " + std::to_string(rank) + " exceeds " + std::to_string(kMaxTensorRank));
        const size_t headerBytes = kTensorHeaderBytes + 8u * rank;
        if (pos + headerBytes > n)
            bad(FrameErrorCode::SizeMismatch, "tensor headers run past the payload: " + name + "'s " +
                                                  std::to_string(headerBytes) + "-byte header at offset " +
                                                  std::to_string(pos) + " of " + std::to_string(n));
        pos += 5;
        t.shape.resize(rank);
        for (size_t d = 0; d < rank; ++d, pos += 8) t.shape[d] = static_cast<int64_t>(getU64(p + pos));
        const uint32_t scaleBits = getU32(p + pos);
        std::memcpy(&t.scale, &scaleBits, 4);
        t.zeroPoint = static_cast<int32_t>(getU32(p + pos + 4));
        const uint32_t claimed = getU32(p + pos + 8);
        pos += 12;
        if (!std::isfinite(t.scale)) bad(FrameErrorCode::BadTensorHeader, name + ": scale is not finite");
        size_t implied = 0;
        try {
            implied = tensorPayloadBytes(t.type, t.bits, t.shape);
        } catch (const FrameError& e) {
            bad(e.code(), name + ": " + e.detail());
        }
        if (implied != claimed)
            bad(FrameErrorCode::SizeMismatch, name + ": payload byte count " + std::to_string(claimed) + ", but shape " +
                                                  shapeText(t.shape) + " as " + typeText(t.type, t.bits) + " needs " +
                                                  std::to_string(implied));
        dataBytes += claimed;
    }
    if (pos + dataBytes + errorLength_ != n)
        bad(FrameErrorCode::SizeMismatch, "sections disagree with the payload length: tensor headers " +
                                              std::to_string(pos) + " + tensor payloads " + std::to_string(dataBytes) +
                                              " + error message " + std::to_string(errorLength_) + " bytes, payload length " +
                                              std::to_string(n));
    for (FrameTensor& t : f.tensors) {
        // Sizes were checked against bytes actually received above.
        const size_t bytes = tensorPayloadBytes(t.type, t.bits, t.shape);
        t.data.assign(p + pos, p + pos + bytes);
        pos += bytes;
    }
    f.error.assign(reinterpret_cast<const char*>(p + pos), errorLength_);
    frame_ = std::move(f);
}

size_t FrameReader::feed(const uint8_t* data, size_t size) {
    if (state_ == State::Failed) throw failure_;
    if (state_ == State::Complete) return 0;
    size_t used = 0;
    try {
        while (used < size && state_ != State::Complete) {
            const uint8_t* p = data + used;
            const size_t n = size - used;
            switch (state_) {
                case State::Header: {
                    const size_t before = received_;
                    const size_t k = std::min(n, kFrameHeaderBytes - before);
                    std::memcpy(header_ + before, p, k);
                    used += k;
                    received_ += k;
                    for (size_t i = before; i < std::min<size_t>(received_, 4); ++i)
                        if (header_[i] != static_cast<uint8_t>(kFrameMagic[i]))
                            raise(FrameErrorCode::BadMagic, "expected \"ASPF\" at a frame start, got " +
                                                                bytesHex(header_, i + 1));
                    if (before < 6 && received_ >= 6 && getU16(header_ + 4) != kFrameVersion)
                        raise(FrameErrorCode::BadVersion, "version " + std::to_string(getU16(header_ + 4)) +
                                                              ", this reader knows version " +
                                                              std::to_string(kFrameVersion));
                    if (received_ == kFrameHeaderBytes) headerDone();
                    break;
                }
                case State::Payload: {
                    const size_t k = std::min(n, static_cast<size_t>(payloadLength_) - payload_.size());
                    appendPayload(p, k);
                    used += k;
                    received_ += k;
                    if (payload_.size() == payloadLength_) state_ = State::Trailer;
                    break;
                }
                case State::Trailer: {
                    const size_t k = std::min(n, kFrameTrailerBytes - trailerReceived_);
                    std::memcpy(trailer_ + trailerReceived_, p, k);
                    trailerReceived_ += k;
                    used += k;
                    received_ += k;
                    if (trailerReceived_ == kFrameTrailerBytes) trailerDone();
                    break;
                }
                case State::Skip: {
                    const size_t k = std::min(n, skipRemaining_);
                    skipRemaining_ -= k;
                    used += k;
                    received_ += k;
                    if (skipRemaining_ == 0) startNext();
                    break;
                }
                case State::Complete:
                case State::Failed: break;
            }
        }
    } catch (FrameError& e) {
        e.consumed = used;
        if (state_ == State::Failed) failure_ = e;
        throw;
    }
    return used;
}

Frame decodeFrame(const uint8_t* data, size_t size, const FrameLimits& limits) {
    FrameReader reader(limits);
    const size_t used = reader.feed(data, size);
    if (!reader.complete()) {
        std::string detail = "buffer of " + std::to_string(size) + " bytes ends inside the frame";
        if (reader.expected() > 0) detail += " of " + std::to_string(reader.expected()) + " bytes";
        else detail += " header (" + std::to_string(kFrameHeaderBytes) + " bytes)";
        throw FrameError(FrameErrorCode::Truncated, detail);
    }
    if (used != size)
        throw FrameError(FrameErrorCode::SizeMismatch, std::to_string(size - used) + " bytes follow the " +
                                                           std::to_string(used) + "-byte frame");
    return reader.take();
}

// ---- contract ----

void checkFrame(const Frame& frame, uint64_t planHash, const std::vector<TensorContract>& contract) {
    if (frame.planHash != planHash)
        throw FrameError(FrameErrorCode::WrongPlan, "frame is for plan " + hex(frame.planHash, 16) +
                                                        ", this server runs plan " + hex(planHash, 16));
    std::map<uint16_t, const FrameTensor*> byId;
    for (const FrameTensor& t : frame.tensors)
        if (!byId.emplace(t.id, &t).second)
            throw FrameError(FrameErrorCode::WrongTensors, "tensor id " + std::to_string(t.id) + " appears twice");
    std::set<uint16_t> wanted;
    std::string expected, got;
    for (const TensorContract& c : contract) {
        wanted.insert(c.id);
        expected += (expected.empty() ? "" : ", ") + std::to_string(c.id);
    }
    for (const FrameTensor& t : frame.tensors) got += (got.empty() ? "" : ", ") + std::to_string(t.id);
    for (const TensorContract& c : contract)
        if (!byId.count(c.id))
            throw FrameError(FrameErrorCode::WrongTensors, "tensor id " + std::to_string(c.id) + " is missing: expected ids {" +
                                                               expected + "}, got {" + got + "}");
    for (const FrameTensor& t : frame.tensors)
        if (!wanted.count(t.id))
            throw FrameError(FrameErrorCode::WrongTensors, "tensor id " + std::to_string(t.id) +
                                                               " is not in the plan: expected ids {" + expected +
                                                               "}, got {" + got + "}");
    for (const TensorContract& c : contract) {
        const FrameTensor& t = *byId.at(c.id);
        if (t.type != c.type || (c.type == ElementType::Codes && t.bits != c.bits))
            throw FrameError(FrameErrorCode::WrongTensors, "tensor id " + std::to_string(c.id) + ": expected " +
                                                               typeText(c.type, c.bits) + ", got " +
                                                               typeText(t.type, t.bits));
        bool same = t.shape.size() == c.shape.size();
        for (size_t d = 0; same && d < c.shape.size(); ++d) same = c.shape[d] < 0 || c.shape[d] == t.shape[d];
        if (!same)
            throw FrameError(FrameErrorCode::WrongShape, "tensor id " + std::to_string(c.id) + ": expected shape " +
                                                             shapeText(c.shape) + ", got " + shapeText(t.shape));
    }
}

}  // namespace autosplit::deploy
