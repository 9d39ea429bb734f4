// deploy/frame.h and crc32c.h: the CRC32C test vector, round trips, the byte layout, incremental
// reading (byte at a time, frames back to back), every FrameError code from a crafted frame,
// recovery after the errors that skip a frame, a huge claimed length rejected before any
// allocation, checkFrame's contract errors, and a seeded 20,000-iteration mutation loop (the
// ctest stand-in for tests/fuzz) that must only ever yield a Frame or a FrameError.
#include "frame_craft.h"

#include "autosplit/deploy/crc32c.h"
#include "autosplit/deploy/frame.h"

#include <QTest>

#include <cmath>
#include <functional>
#include <limits>
#include <map>
#include <random>
#include <string>
#include <vector>

using namespace autosplit;
using namespace autosplit::deploy;

namespace {

Frame sampleRequest() {
    Frame f;
    f.type = FrameType::Request;
    f.planHash = 0x1122334455667788ull;
    f.sequence = 42;
    const std::vector<uint8_t> codes = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12};
    f.tensors.push_back(makeCodesTensor(3, 4, {1, 3, 4}, codes.data(), 0.5f, 8));
    f.tensors.push_back(makeFloat32Tensor(7, {2}, {1.5f, -2.25f}));
    return f;
}

Frame sampleError() {
    Frame f;
    f.type = FrameType::Error;
    f.planHash = 5;
    f.sequence = 9;
    f.error = "WrongShape: tensor id 3: expected shape [1,3,4], got [1,3,5]";
    return f;
}

// Runs fn, which must throw FrameError with `code`; returns it.
FrameError expectFrameError(FrameErrorCode code, const std::function<void()>& fn) {
    try {
        fn();
    } catch (const FrameError& e) {
        if (e.code() != code)
            throw std::runtime_error(std::string("expected ") + toString(code) + ", got " + e.what());
        return e;
    }
    throw std::runtime_error(std::string("expected ") + toString(code) + ", nothing was thrown");
}

#define EXPECT_FRAME_ERROR(code, expr, part)                                                       \
    do {                                                                                           \
        try {                                                                                      \
            const FrameError e_ = expectFrameError(code, [&] { expr; });                          \
            QVERIFY2(std::string(e_.what()).find(part) != std::string::npos, e_.what());           \
            QVERIFY2(std::string(e_.what()).rfind(toString(code), 0) == 0, e_.what());             \
        } catch (const std::runtime_error& r_) {                                                   \
            if (dynamic_cast<const FrameError*>(&r_)) throw;                                       \
            QFAIL(r_.what());                                                                      \
        }                                                                                          \
    } while (0)

// Feeds all of `bytes` to a reader, handling the errors that skip a frame like a server does;
// returns the frames and the codes of the errors in order. Stops at a connection-closing error.
struct StreamResult {
    std::vector<Frame> frames;
    std::vector<FrameErrorCode> errors;
    bool failed = false;
};
StreamResult readStream(const std::vector<uint8_t>& bytes, const FrameLimits& limits, size_t chunk) {
    StreamResult r;
    FrameReader reader(limits);
    size_t pos = 0;
    while (pos < bytes.size()) {
        const size_t n = std::min(chunk, bytes.size() - pos);
        try {
            const size_t used = reader.feed(bytes.data() + pos, n);
            if (used == 0 && !reader.complete()) throw std::logic_error("feed made no progress");
            pos += used;
        } catch (const FrameError& e) {
            r.errors.push_back(e.code());
            if (closesConnection(e.code())) {
                r.failed = true;
                if (!reader.failed()) throw std::logic_error("fatal error left the reader usable");
                return r;
            }
            if (e.consumed == 0) throw std::logic_error("a frame-skipping error consumed nothing");
            pos += e.consumed;
        }
        if (reader.complete()) r.frames.push_back(reader.take());
    }
    return r;
}

std::vector<uint8_t> concat(std::vector<uint8_t> a, const std::vector<uint8_t>& b) {
    a.insert(a.end(), b.begin(), b.end());
    return a;
}

}  // namespace

class TestFrame : public QObject {
    Q_OBJECT
private slots:
    void crcTestVector() {
        const char* s = "123456789";
        QCOMPARE(crc32c(s, 9), 0xE3069283u);
        QCOMPARE(crc32cPortable(s, 9), 0xE3069283u);
        QCOMPARE(crc32c(s, 0), 0u);
        // Incremental.
        QCOMPARE(crc32c(s + 4, 5, crc32c(s, 4)), 0xE3069283u);
        // 32 zero bytes: RFC 3720 B.4 vector.
        const std::vector<uint8_t> zeros(32, 0), ones(32, 0xFF);
        QCOMPARE(crc32c(zeros.data(), 32), 0x8A9136AAu);
        QCOMPARE(crc32c(ones.data(), 32), 0x62A8AB43u);
        // Hardware and tables agree on every length and alignment.
        std::mt19937 rng(3);
        std::vector<uint8_t> buf(300);
        for (auto& b : buf) b = static_cast<uint8_t>(rng());
        for (size_t off = 0; off < 8; ++off)
            for (size_t n = 0; n + off <= buf.size(); n += 13)
                QCOMPARE(crc32c(buf.data() + off, n), crc32cPortable(buf.data() + off, n));
        qInfo("crc32c uses %s", crc32cUsesHardware() ? "SSE4.2" : "slicing-by-8 tables");
    }

    void roundTrips() {
        std::vector<Frame> frames = {sampleRequest(), sampleError(), Frame{}};
        // Every b, a scalar, a zero-size dim, the maximum rank, Int64, a reply.
        Frame all;
        all.type = FrameType::Reply;
        all.planHash = ~0ull;
        all.sequence = ~0ull - 1;
        for (int b = 1; b <= 8; ++b) {
            std::vector<uint8_t> codes(13);
            for (size_t i = 0; i < codes.size(); ++i) codes[i] = static_cast<uint8_t>((i * 37 + b) & ((1 << b) - 1));
            all.tensors.push_back(makeCodesTensor(static_cast<uint16_t>(b), b, {13}, codes.data(), 0.1f * b, -b));
        }
        all.tensors.push_back(makeFloat32Tensor(100, {}, {3.25f}));
        all.tensors.push_back(makeInt64Tensor(101, {2, 0, 5}, {}));
        all.tensors.push_back(makeInt64Tensor(102, {1, 1, 1, 1, 1, 1, 1, 2}, {-1, std::numeric_limits<int64_t>::min()}));
        frames.push_back(all);
        for (const Frame& f : frames) {
            const auto bytes = encodeFrame(f);
            QCOMPARE(decodeFrame(bytes.data(), bytes.size()), f);
        }
        // Decoded data reads back.
        const Frame d = decodeFrame(encodeFrame(all).data(), encodeFrame(all).size());
        QCOMPARE(tensorFloats(d.tensors[8]), (std::vector<float>{3.25f}));
        QCOMPARE(tensorInt64s(d.tensors[10])[1], std::numeric_limits<int64_t>::min());
        for (int b = 1; b <= 8; ++b) {
            const auto codes = tensorCodes(d.tensors[static_cast<size_t>(b - 1)]);
            for (size_t i = 0; i < codes.size(); ++i) QCOMPARE(int(codes[i]), int((i * 37 + b) & ((1 << b) - 1)));
        }
    }

    void byteLayout() {
        const Frame f = sampleRequest();
        const auto bytes = encodeFrame(f);
        // 36 + tensor headers (17 + 8·3, 17 + 8·1) + payloads (6 + 8) + 0 + 4.
        const size_t payload = (17 + 24) + (17 + 8) + 6 + 8;
        QCOMPARE(bytes.size(), kFrameHeaderBytes + payload + kFrameTrailerBytes);
        QCOMPARE(std::string(bytes.begin(), bytes.begin() + 4), std::string("ASPF"));
        QCOMPARE(int(bytes[4]), 1);
        QCOMPARE(int(bytes[5]), 0);
        QCOMPARE(int(bytes[6]), 1);  // Request
        QCOMPARE(int(bytes[7]), 0);  // flags
        QCOMPARE(int(bytes[8]), 0x88);  // plan hash, little-endian
        QCOMPARE(int(bytes[15]), 0x11);
        QCOMPARE(int(bytes[16]), 42);  // sequence
        QCOMPARE(int(bytes[24]), 2);   // tensor count
        QCOMPARE(int(bytes[26]), 0);   // error length
        QCOMPARE(craft::getU32At(bytes, 28), uint32_t(payload));
        QCOMPARE(craft::getU32At(bytes, 32), crc32c(bytes.data(), 32));
        QCOMPARE(craft::getU32At(bytes, bytes.size() - 4), crc32c(bytes.data(), bytes.size() - 4));
        // First tensor header: id 3, Codes, 4 bits, rank 3, dims 1 3 4, scale 0.5, zp 8, 6 bytes.
        const size_t t = kFrameHeaderBytes;
        QCOMPARE(int(bytes[t]), 3);
        QCOMPARE(int(bytes[t + 2]), 1);
        QCOMPARE(int(bytes[t + 3]), 4);
        QCOMPARE(int(bytes[t + 4]), 3);
        QCOMPARE(int(bytes[t + 5 + 8]), 3);
        QCOMPARE(craft::getU32At(bytes, t + 5 + 24), 0x3F000000u);  // 0.5f
        QCOMPARE(craft::getU32At(bytes, t + 5 + 28), 8u);
        QCOMPARE(craft::getU32At(bytes, t + 5 + 32), 6u);
        // Payloads follow both headers: codes 1,2 packed as 0x21.
        const size_t data = kFrameHeaderBytes + (17 + 24) + (17 + 8);
        QCOMPARE(int(bytes[data]), 0x21);
    }

    void byteAtATime() {
        const Frame f = sampleRequest();
        const auto bytes = encodeFrame(f);
        FrameReader r;
        for (size_t i = 0; i < bytes.size(); ++i) {
            QVERIFY(!r.complete());
            QCOMPARE(r.inFrame(), i > 0);
            QCOMPARE(r.feed(&bytes[i], 1), size_t(1));
            QCOMPARE(r.received(), i + 1);
            if (i + 1 >= kFrameHeaderBytes) QCOMPARE(r.expected(), bytes.size());
        }
        QVERIFY(r.complete());
        QCOMPARE(r.feed(bytes.data(), 1), size_t(0));  // complete: take first
        QCOMPARE(r.take(), f);
        QVERIFY(!r.inFrame());
        QVERIFY_THROWS_EXCEPTION(Error, r.take());
    }

    void backToBackInOneFeed() {
        const Frame a = sampleRequest(), b = sampleError();
        const auto ea = encodeFrame(a), eb = encodeFrame(b);
        const auto both = concat(ea, eb);
        FrameReader r;
        QCOMPARE(r.feed(both.data(), both.size()), ea.size());
        QVERIFY(r.complete());
        QCOMPARE(r.take(), a);
        QCOMPARE(r.feed(both.data() + ea.size(), eb.size()), eb.size());
        QCOMPARE(r.take(), b);
        // Any chunking gives the same two frames.
        for (size_t chunk : {1, 3, 35, 36, 37, 64, 1000}) {
            const auto s = readStream(both, {}, chunk);
            QCOMPARE(s.frames.size(), size_t(2));
            QVERIFY(s.errors.empty());
            QCOMPARE(s.frames[0], a);
            QCOMPARE(s.frames[1], b);
        }
    }

    void badMagic() {
        auto bytes = encodeFrame(sampleRequest());
        bytes[2] = 'X';
        EXPECT_FRAME_ERROR(FrameErrorCode::BadMagic, decodeFrame(bytes.data(), bytes.size()), "41 53 58");
        // Detected at the first wrong byte, before a header is complete; the reader stays failed.
        FrameReader r;
        const uint8_t g = 'G';
        EXPECT_FRAME_ERROR(FrameErrorCode::BadMagic, r.feed(&g, 1), "expected \"ASPF\"");
        QVERIFY(r.failed());
        EXPECT_FRAME_ERROR(FrameErrorCode::BadMagic, r.feed(bytes.data(), bytes.size()), "ASPF");
        r.reset();
        const auto good = encodeFrame(sampleRequest());
        QCOMPARE(r.feed(good.data(), good.size()), good.size());
    }

    void badVersion() {
        auto bytes = encodeFrame(sampleRequest());
        craft::putU16At(bytes, 4, 2);
        craft::reseal(bytes);
        EXPECT_FRAME_ERROR(FrameErrorCode::BadVersion, decodeFrame(bytes.data(), bytes.size()), "version 2");
        // Known as soon as the six bytes are in.
        FrameReader r;
        EXPECT_FRAME_ERROR(FrameErrorCode::BadVersion, r.feed(bytes.data(), 6), "knows version 1");
    }

    void badType() {
        auto bytes = encodeFrame(sampleRequest());
        bytes[6] = 7;
        craft::reseal(bytes);
        const FrameError e = expectFrameError(FrameErrorCode::BadType, [&] { decodeFrame(bytes.data(), bytes.size()); });
        QVERIFY(std::string(e.what()).find("frame type 7") != std::string::npos);
        QVERIFY(e.headerKnown);
        QCOMPARE(e.sequence, uint64_t(42));
        QCOMPARE(e.planHash, 0x1122334455667788ull);
        QCOMPARE(e.consumed, kFrameHeaderBytes);
        // The frame is skipped; the next one reads.
        const auto s = readStream(concat(bytes, encodeFrame(sampleError())), {}, 1000);
        QCOMPARE(s.errors, (std::vector<FrameErrorCode>{FrameErrorCode::BadType}));
        QCOMPARE(s.frames.size(), size_t(1));
        QCOMPARE(s.frames[0], sampleError());
        QVERIFY_THROWS_EXCEPTION(FrameError, [] {
            Frame f;
            f.type = static_cast<FrameType>(9);
            encodeFrame(f);
        }());
    }

    void oversized() {
        const auto bytes = encodeFrame(sampleRequest());
        FrameLimits small;
        small.maxFrameBytes = static_cast<uint32_t>(bytes.size() - 1);
        EXPECT_FRAME_ERROR(FrameErrorCode::Oversized, decodeFrame(bytes.data(), bytes.size(), small),
                           "frame of " + std::to_string(bytes.size()) + " bytes exceeds the limit of " +
                               std::to_string(bytes.size() - 1));
        small.maxFrameBytes = static_cast<uint32_t>(bytes.size());
        QCOMPARE(decodeFrame(bytes.data(), bytes.size(), small), sampleRequest());
    }

    void hugeClaimRejectedBeforeAllocation() {
        // A header claiming ~4 GiB: rejected at byte 36 with nothing reserved.
        auto bytes = encodeFrame(Frame{});
        craft::putU32At(bytes, 28, 0xFFFFFF00u);
        craft::reseal(bytes);
        FrameReader r;  // default limit 64 MiB
        EXPECT_FRAME_ERROR(FrameErrorCode::Oversized, r.feed(bytes.data(), kFrameHeaderBytes),
                           "frame of 4294967080 bytes exceeds the limit of 67108864");
        QCOMPARE(r.bufferedBytes(), size_t(0));
        // Even when the limit allows the claim, the buffer grows only with bytes received.
        FrameLimits open;
        open.maxFrameBytes = std::numeric_limits<uint32_t>::max();
        FrameReader lenient(open);
        auto header = encodeFrame(Frame{});
        craft::putU32At(header, 28, 0xFFFFFF00u - 40);
        craft::putU16At(header, 24, 0);
        craft::reseal(header);
        QCOMPARE(lenient.feed(header.data(), kFrameHeaderBytes), kFrameHeaderBytes);
        QCOMPARE(lenient.bufferedBytes(), size_t(0));
        QCOMPARE(lenient.expected(), size_t(0xFFFFFF00u));
        const std::vector<uint8_t> some(1000, 0);
        lenient.feed(some.data(), some.size());
        QVERIFY2(lenient.bufferedBytes() <= 4096, qPrintable(QString::number(lenient.bufferedBytes())));
        const std::vector<uint8_t> more(1 << 20, 0);
        lenient.feed(more.data(), more.size());
        QVERIFY2(lenient.bufferedBytes() <= 2 * (more.size() + some.size()),
                 qPrintable(QString::number(lenient.bufferedBytes())));
        QVERIFY(lenient.inFrame());
        lenient.reset();
        QCOMPARE(lenient.bufferedBytes(), size_t(0));
    }

    void tooManyTensors() {
        const auto bytes = encodeFrame(sampleRequest());
        FrameLimits one;
        one.maxTensors = 1;
        EXPECT_FRAME_ERROR(FrameErrorCode::TooManyTensors, decodeFrame(bytes.data(), bytes.size(), one),
                           "2 tensors exceed the limit of 1");
        const auto s = readStream(concat(bytes, encodeFrame(sampleError())), one, 7);
        QCOMPARE(s.errors, (std::vector<FrameErrorCode>{FrameErrorCode::TooManyTensors}));
        QCOMPARE(s.frames.size(), size_t(1));
    }

    void badTensorHeader_data() {
        QTest::addColumn<int>("offset");  // within tensor 0's header
        QTest::addColumn<int>("value");
        QTest::addColumn<int>("width");   // bytes written
        QTest::addColumn<QString>("message");
        QTest::addRow("element type") << 2 << 9 << 1 << "element type 9 is not Codes (1), Float32 (2) or Int64 (3)";
        QTest::addRow("element type 0") << 2 << 0 << 1 << "element type 0";
        QTest::addRow("codes bits 0") << 3 << 0 << 1 << "Codes need bits 1..8, got 0";
        QTest::addRow("codes bits 9") << 3 << 9 << 1 << "Codes need bits 1..8, got 9";
        QTest::addRow("rank 9") << 4 << 9 << 1 << "rank 9 exceeds 8";
        QTest::addRow("negative dim") << 5 + 8 << -3 << 8 << "dim 1 is negative (-3)";
        QTest::addRow("NaN scale") << 5 + 24 << 0x7FC00000 << 4 << "scale is not finite";
        QTest::addRow("infinite scale") << 5 + 24 << 0x7F800000 << 4 << "scale is not finite";
    }
    void badTensorHeader() {
        QFETCH(int, offset);
        QFETCH(int, value);
        QFETCH(int, width);
        QFETCH(QString, message);
        auto bytes = encodeFrame(sampleRequest());
        const size_t at = kFrameHeaderBytes + static_cast<size_t>(offset);
        if (width == 1) bytes[at] = static_cast<uint8_t>(value);
        else if (width == 4) craft::putU32At(bytes, at, static_cast<uint32_t>(value));
        else craft::putU64At(bytes, at, static_cast<uint64_t>(static_cast<int64_t>(value)));
        craft::reseal(bytes);
        EXPECT_FRAME_ERROR(FrameErrorCode::BadTensorHeader, decodeFrame(bytes.data(), bytes.size()),
                           "tensor 0 (id 3): " + message.toStdString());
        // Skipped: the next frame reads; the error names the frame's sequence.
        const auto s = readStream(concat(bytes, encodeFrame(sampleError())), {}, 5);
        QCOMPARE(s.errors, (std::vector<FrameErrorCode>{FrameErrorCode::BadTensorHeader}));
        QCOMPARE(s.frames.size(), size_t(1));
        QCOMPARE(s.frames[0], sampleError());
    }

    void floatBitsMustBe32() {
        auto bytes = encodeFrame(sampleRequest());
        const size_t second = craft::tensorHeaderAt(sampleRequest(), 1);
        bytes[second + 3] = 16;
        craft::reseal(bytes);
        EXPECT_FRAME_ERROR(FrameErrorCode::BadTensorHeader, decodeFrame(bytes.data(), bytes.size()),
                           "tensor 1 (id 7): Float32 tensors have bits 32, got 16");
    }

    void sizeMismatch() {
        const Frame f = sampleRequest();
        {  // a tensor's byte count disagrees with its shape
            auto bytes = encodeFrame(f);
            craft::putU32At(bytes, kFrameHeaderBytes + 5 + 32, 7);
            craft::reseal(bytes);
            EXPECT_FRAME_ERROR(FrameErrorCode::SizeMismatch, decodeFrame(bytes.data(), bytes.size()),
                               "tensor 0 (id 3): payload byte count 7, but shape [1,3,4] as Codes at 4 bits needs 6");
        }
        {  // a shape change the byte count does not follow
            auto bytes = encodeFrame(f);
            craft::putU64At(bytes, kFrameHeaderBytes + 5 + 16, 5);  // dim 2: 4 -> 5
            craft::reseal(bytes);
            EXPECT_FRAME_ERROR(FrameErrorCode::SizeMismatch, decodeFrame(bytes.data(), bytes.size()),
                               "shape [1,3,5] as Codes at 4 bits needs 8");
        }
        {  // one extra byte in the payload, length updated: sections disagree
            auto bytes = encodeFrame(f);
            bytes.insert(bytes.end() - 4, 0xEE);
            craft::putU32At(bytes, 28, craft::getU32At(bytes, 28) + 1);
            craft::reseal(bytes);
            EXPECT_FRAME_ERROR(FrameErrorCode::SizeMismatch, decodeFrame(bytes.data(), bytes.size()),
                               "sections disagree with the payload length");
            const auto s = readStream(concat(bytes, encodeFrame(f)), {}, 11);
            QCOMPARE(s.errors, (std::vector<FrameErrorCode>{FrameErrorCode::SizeMismatch}));
            QCOMPARE(s.frames.size(), size_t(1));
        }
        {  // the payload cannot even hold the tensor headers: known from the fixed header
            auto bytes = encodeFrame(f);
            craft::putU16At(bytes, 24, 9);
            craft::reseal(bytes);
            FrameReader r;
            EXPECT_FRAME_ERROR(FrameErrorCode::SizeMismatch, r.feed(bytes.data(), bytes.size()),
                               "cannot hold 9 tensor headers");
        }
        {  // tensor headers run past the payload
            Frame g;
            g.tensors.push_back(makeFloat32Tensor(1, {}, {1.0f}));
            auto bytes = encodeFrame(g);
            bytes[kFrameHeaderBytes + 4] = 3;  // rank 0 -> 3: the header needs 24 more bytes
            craft::reseal(bytes);
            EXPECT_FRAME_ERROR(FrameErrorCode::SizeMismatch, decodeFrame(bytes.data(), bytes.size()),
                               "tensor headers run past the payload");
        }
        {  // trailing bytes after a whole frame
            auto bytes = encodeFrame(f);
            bytes.push_back(0);
            EXPECT_FRAME_ERROR(FrameErrorCode::SizeMismatch, decodeFrame(bytes.data(), bytes.size()),
                               "1 bytes follow the");
        }
        {  // a shape whose element count overflows
            auto bytes = encodeFrame(f);
            for (int d = 0; d < 3; ++d) craft::putU64At(bytes, kFrameHeaderBytes + 5 + 8 * d, 1ull << 40);
            craft::reseal(bytes);
            EXPECT_FRAME_ERROR(FrameErrorCode::SizeMismatch, decodeFrame(bytes.data(), bytes.size()), "overflows");
        }
    }

    void badCrc() {
        {  // payload byte: the frame CRC
            auto bytes = encodeFrame(sampleRequest());
            bytes[bytes.size() - 6] ^= 0x10;
            EXPECT_FRAME_ERROR(FrameErrorCode::BadCrc, decodeFrame(bytes.data(), bytes.size()), "frame CRC32C 0x");
        }
        {  // the trailer itself
            auto bytes = encodeFrame(sampleRequest());
            bytes.back() ^= 1;
            EXPECT_FRAME_ERROR(FrameErrorCode::BadCrc, decodeFrame(bytes.data(), bytes.size()), "does not match its");
        }
        {  // a header byte (the payload length): caught by the header CRC before any wait
            auto bytes = encodeFrame(sampleRequest());
            bytes[30] ^= 0x40;
            FrameReader r;
            EXPECT_FRAME_ERROR(FrameErrorCode::BadCrc, r.feed(bytes.data(), kFrameHeaderBytes), "header CRC32C");
            QVERIFY(r.failed());
        }
    }

    void truncated() {
        const auto bytes = encodeFrame(sampleRequest());
        for (size_t n : {size_t(0), size_t(3), kFrameHeaderBytes - 1, kFrameHeaderBytes, bytes.size() - 1})
            EXPECT_FRAME_ERROR(FrameErrorCode::Truncated, decodeFrame(bytes.data(), n), "ends inside the frame");
        EXPECT_FRAME_ERROR(FrameErrorCode::Truncated, decodeFrame(bytes.data(), 40),
                           "of " + std::to_string(bytes.size()) + " bytes");
    }

    void encodeRejectsInvalidFrames() {
        Frame f = sampleRequest();
        f.tensors[0].data.pop_back();
        EXPECT_FRAME_ERROR(FrameErrorCode::SizeMismatch, encodeFrame(f), "5 data bytes, shape [1,3,4] as Codes at 4 bits needs 6");
        f = sampleRequest();
        f.tensors[1].bits = 8;
        EXPECT_FRAME_ERROR(FrameErrorCode::BadTensorHeader, encodeFrame(f), "Float32 tensors have bits 32");
        f = sampleRequest();
        f.tensors[0].shape = {-1, 12};
        EXPECT_FRAME_ERROR(FrameErrorCode::BadTensorHeader, encodeFrame(f), "dim 0 is negative");
        f = sampleRequest();
        f.tensors[0].scale = NAN;
        EXPECT_FRAME_ERROR(FrameErrorCode::BadTensorHeader, encodeFrame(f), "scale is not finite");
        f = sampleRequest();
        f.error.assign(70000, 'x');
        EXPECT_FRAME_ERROR(FrameErrorCode::SizeMismatch, encodeFrame(f), "error message of 70000 bytes");
        EXPECT_FRAME_ERROR(FrameErrorCode::SizeMismatch, makeFloat32Tensor(1, {3}, {1.0f}), "needs 3 floats, got 1");
    }

    void checkFrameContract() {
        const Frame f = sampleRequest();
        const std::vector<TensorContract> contract = {{3, ElementType::Codes, 4, {1, 3, 4}},
                                                      {7, ElementType::Float32, 32, {2}}};
        checkFrame(f, f.planHash, contract);
        // Any order; wildcard dims.
        checkFrame(f, f.planHash, {{7, ElementType::Float32, 32, {-1}}, {3, ElementType::Codes, 4, {-1, 3, -1}}});
        EXPECT_FRAME_ERROR(FrameErrorCode::WrongPlan, checkFrame(f, 0xABCull, contract),
                           "frame is for plan 0x1122334455667788, this server runs plan 0x0000000000000ABC");
        EXPECT_FRAME_ERROR(FrameErrorCode::WrongTensors,
                           checkFrame(f, f.planHash, {contract[0], contract[1], {9, ElementType::Int64, 64, {}}}),
                           "tensor id 9 is missing: expected ids {3, 7, 9}, got {3, 7}");
        EXPECT_FRAME_ERROR(FrameErrorCode::WrongTensors, checkFrame(f, f.planHash, {contract[0]}),
                           "tensor id 7 is not in the plan: expected ids {3}, got {3, 7}");
        Frame twice = f;
        twice.tensors[1].id = 3;
        EXPECT_FRAME_ERROR(FrameErrorCode::WrongTensors, checkFrame(twice, f.planHash, contract), "tensor id 3 appears twice");
        EXPECT_FRAME_ERROR(FrameErrorCode::WrongTensors,
                           checkFrame(f, f.planHash, {{3, ElementType::Codes, 2, {1, 3, 4}}, contract[1]}),
                           "tensor id 3: expected Codes at 2 bits, got Codes at 4 bits");
        EXPECT_FRAME_ERROR(FrameErrorCode::WrongTensors,
                           checkFrame(f, f.planHash, {contract[0], {7, ElementType::Int64, 64, {2}}}),
                           "tensor id 7: expected Int64, got Float32");
        EXPECT_FRAME_ERROR(FrameErrorCode::WrongShape,
                           checkFrame(f, f.planHash, {{3, ElementType::Codes, 4, {1, 3, 5}}, contract[1]}),
                           "tensor id 3: expected shape [1,3,5], got [1,3,4]");
        EXPECT_FRAME_ERROR(FrameErrorCode::WrongShape,
                           checkFrame(f, f.planHash, {contract[0], {7, ElementType::Float32, 32, {1, 2}}}),
                           "expected shape [1,2], got [2]");
    }

    // The ctest stand-in for the fuzzer: good frames mutated 20,000 times (fixed seed), read
    // whole and in random chunks. Only a Frame or a FrameError may come out; a decoded frame
    // re-encodes to the same bytes (flags aside).
    void seededMutationLoop() {
        std::mt19937_64 rng(20240613);
        FrameLimits limits;
        limits.maxFrameBytes = 1 << 16;
        limits.maxTensors = 3;
        size_t decoded = 0, rejected = 0;
        std::map<FrameErrorCode, int> codes;
        Frame previous = craft::randomFrame(rng);
        for (int it = 0; it < 20000; ++it) {
            const Frame good = craft::randomFrame(rng);
            const auto clean = encodeFrame(good);
            const auto bytes = craft::mutate(rng, clean, encodeFrame(previous));
            previous = good;
            try {
                const Frame f = decodeFrame(bytes.data(), bytes.size(), limits);
                ++decoded;
                auto normalized = bytes;
                normalized[7] = 0;
                craft::reseal(normalized);
                if (encodeFrame(f) != normalized) QFAIL(qPrintable(QString("iteration %1: decoded frame re-encodes differently").arg(it)));
                if (bytes == clean && !(f == good)) QFAIL(qPrintable(QString("iteration %1: intact frame decoded differently").arg(it)));
            } catch (const FrameError& e) {
                ++rejected;
                ++codes[e.code()];
                if (bytes == clean && good.tensors.size() <= limits.maxTensors && clean.size() <= limits.maxFrameBytes)
                    QFAIL(qPrintable(QString("iteration %1: intact frame rejected: %2").arg(it).arg(e.what())));
            } catch (const std::exception& e) {
                QFAIL(qPrintable(QString("iteration %1: decodeFrame threw a non-FrameError: %2").arg(it).arg(e.what())));
            }
            // The same bytes, twice in a row, fed in random chunks.
            const auto stream = concat(bytes, bytes);
            const size_t chunk = 1 + rng() % 97;
            try {
                readStream(stream, limits, chunk);
            } catch (const std::exception& e) {
                QFAIL(qPrintable(QString("iteration %1: FrameReader: %2").arg(it).arg(e.what())));
            }
        }
        QString summary;
        for (const auto& [code, n] : codes) summary += QString(" %1=%2").arg(toString(code)).arg(n);
        qInfo("decoded %zu, rejected %zu:%s", decoded, rejected, qPrintable(summary));
        // The mutations reach the checks behind the CRCs, not just the CRCs.
        QVERIFY(codes[FrameErrorCode::BadTensorHeader] > 0);
        QVERIFY(codes[FrameErrorCode::SizeMismatch] > 0);
        QVERIFY(codes[FrameErrorCode::BadCrc] > 0);
        QVERIFY(decoded > 1000);
    }
};

QTEST_APPLESS_MAIN(TestFrame)
#include "tst_frame.moc"
