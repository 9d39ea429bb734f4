// deploy/packing.h: dense LSB-first b-bit packing (b = 1..8) against a naive bit-by-bit
// reference: exact bytes, round trips at odd counts, masking of high bits, untouched bytes
// around the buffers, unaligned buffers, and the bits range.
#include "autosplit/deploy/packing.h"

#include "autosplit/util/errors.h"

#include <QTest>

#include <random>
#include <vector>

using namespace autosplit;
using namespace autosplit::deploy;

namespace {

// Bit i·b + k of the stream is bit k of code i; bit p lives in byte p / 8 at bit p % 8.
std::vector<uint8_t> referencePack(const std::vector<uint8_t>& codes, int bits) {
    std::vector<uint8_t> out((codes.size() * bits + 7) / 8, 0);
    for (size_t i = 0; i < codes.size(); ++i)
        for (int k = 0; k < bits; ++k) {
            const size_t p = i * bits + k;
            if ((codes[i] >> k) & 1) out[p / 8] |= static_cast<uint8_t>(1u << (p % 8));
        }
    return out;
}

std::vector<uint8_t> randomBytes(size_t n, uint32_t seed) {
    std::mt19937 rng(seed);
    std::vector<uint8_t> v(n);
    for (auto& c : v) c = static_cast<uint8_t>(rng());
    return v;
}

std::vector<uint8_t> masked(std::vector<uint8_t> v, int bits) {
    for (auto& c : v) c &= static_cast<uint8_t>((1u << bits) - 1);
    return v;
}

const size_t kCounts[] = {0, 1, 7, 8, 9, 1023, 100003};

}  // namespace

class TestPacking : public QObject {
    Q_OBJECT
private slots:
    void packedBytesIsCeil() {
        QCOMPARE(packedBytes(0, 3), size_t(0));
        QCOMPARE(packedBytes(1, 1), size_t(1));
        QCOMPARE(packedBytes(8, 1), size_t(1));
        QCOMPARE(packedBytes(9, 1), size_t(2));
        QCOMPARE(packedBytes(3, 4), size_t(2));
        QCOMPARE(packedBytes(8, 3), size_t(3));
        QCOMPARE(packedBytes(9, 7), size_t(8));
        QCOMPARE(packedBytes(100003, 5), size_t((100003 * 5 + 7) / 8));
        QCOMPARE(packedBytes(100003, 8), size_t(100003));
    }

    void documentedExamples() {
        const std::vector<uint8_t> four = {0x1, 0x2, 0x3};
        std::vector<uint8_t> out(2);
        packCodes(four.data(), four.size(), 4, out.data());
        QCOMPARE(out, (std::vector<uint8_t>{0x21, 0x03}));
        const std::vector<uint8_t> three = {1, 2, 3, 4, 5, 6, 7, 0};
        out.assign(3, 0);
        packCodes(three.data(), three.size(), 3, out.data());
        QCOMPARE(out, (std::vector<uint8_t>{0xD1, 0x58, 0x1F}));
        // ONNX uint4: element 0 in the low nibble.
        const std::vector<uint8_t> nibble = {0xF, 0x0};
        out.assign(1, 0);
        packCodes(nibble.data(), 2, 4, out.data());
        QCOMPARE(out[0], uint8_t(0x0F));
    }

    void layoutMatchesReference_data() {
        QTest::addColumn<int>("bits");
        QTest::addColumn<qulonglong>("count");
        for (int b = 1; b <= 8; ++b)
            for (size_t n : kCounts) QTest::addRow("b=%d n=%zu", b, n) << b << qulonglong(n);
    }
    void layoutMatchesReference() {
        QFETCH(int, bits);
        QFETCH(qulonglong, count);
        // Random bytes, high bits included: pack must ignore them (masking).
        const auto raw = randomBytes(count, static_cast<uint32_t>(1000 * bits + count));
        const auto want = referencePack(masked(raw, bits), bits);
        QCOMPARE(packedBytes(count, bits), want.size());
        // Canaries after the output: packCodes writes exactly packedBytes bytes.
        std::vector<uint8_t> out(want.size() + 16, 0xA5);
        packCodes(raw.data(), count, bits, out.data());
        QVERIFY(std::equal(want.begin(), want.end(), out.begin()));
        for (size_t i = want.size(); i < out.size(); ++i) QCOMPARE(out[i], uint8_t(0xA5));
        // Zero padding in the last byte.
        if (count * bits % 8) QCOMPARE(out[want.size() - 1] >> (count * bits % 8), 0);
    }

    void roundTrips_data() { layoutMatchesReference_data(); }
    void roundTrips() {
        QFETCH(int, bits);
        QFETCH(qulonglong, count);
        const auto codes = masked(randomBytes(count, static_cast<uint32_t>(77 * bits + count)), bits);
        // Exact-size packed buffer: an over-read is a heap overflow under ASan.
        std::vector<uint8_t> packed(packedBytes(count, bits));
        packCodes(codes.data(), count, bits, packed.data());
        std::vector<uint8_t> back(count + 16, 0x5A);
        unpackCodes(packed.data(), count, bits, back.data());
        QVERIFY(std::equal(codes.begin(), codes.end(), back.begin()));
        for (size_t i = count; i < back.size(); ++i) QCOMPARE(back[i], uint8_t(0x5A));
        // Unpacking the reference bytes gives the same codes (the two directions agree).
        const auto ref = referencePack(codes, bits);
        std::vector<uint8_t> back2(count);
        unpackCodes(ref.data(), count, bits, back2.data());
        QCOMPARE(back2, codes);
    }

    void masksHighBits_data() {
        QTest::addColumn<int>("bits");
        for (int b = 1; b <= 8; ++b) QTest::addRow("b=%d", b) << b;
    }
    void masksHighBits() {
        QFETCH(int, bits);
        const size_t n = 37;
        const std::vector<uint8_t> ones(n, 0xFF);
        std::vector<uint8_t> packed(packedBytes(n, bits));
        packCodes(ones.data(), n, bits, packed.data());
        // n·bits one-bits, then zero padding.
        const size_t totalBits = n * bits;
        for (size_t i = 0; i + 1 < packed.size(); ++i) QCOMPARE(packed[i], uint8_t(0xFF));
        const unsigned tail = totalBits % 8 ? (1u << (totalBits % 8)) - 1 : 0xFF;
        QCOMPARE(unsigned(packed.back()), tail);
        std::vector<uint8_t> back(n);
        unpackCodes(packed.data(), n, bits, back.data());
        for (uint8_t c : back) QCOMPARE(unsigned(c), (1u << bits) - 1);
        // Code 2^bits (the next bit up) packs as 0.
        if (bits < 8) {
            const std::vector<uint8_t> over(n, static_cast<uint8_t>(1u << bits));
            packCodes(over.data(), n, bits, packed.data());
            for (uint8_t b : packed) QCOMPARE(b, uint8_t(0));
        }
    }

    void unpackIgnoresPadding_data() { masksHighBits_data(); }
    void unpackIgnoresPadding() {
        QFETCH(int, bits);
        for (size_t n : {size_t(1), size_t(5), size_t(13), size_t(1001)}) {
            if (n * bits % 8 == 0) continue;
            const auto codes = masked(randomBytes(n, static_cast<uint32_t>(n + bits)), bits);
            std::vector<uint8_t> packed(packedBytes(n, bits));
            packCodes(codes.data(), n, bits, packed.data());
            packed.back() |= static_cast<uint8_t>(0xFF << (n * bits % 8));  // garbage in the padding
            std::vector<uint8_t> back(n);
            unpackCodes(packed.data(), n, bits, back.data());
            QCOMPARE(back, codes);
        }
    }

    void unalignedBuffers_data() { masksHighBits_data(); }
    void unalignedBuffers() {
        QFETCH(int, bits);
        const size_t n = 4099;
        const auto codes = masked(randomBytes(n + 3, 9u + bits), bits);
        std::vector<uint8_t> packed(packedBytes(n, bits) + 5);
        packCodes(codes.data() + 3, n, bits, packed.data() + 5);
        const auto ref = referencePack(std::vector<uint8_t>(codes.begin() + 3, codes.end()), bits);
        QVERIFY(std::equal(ref.begin(), ref.end(), packed.begin() + 5));
        std::vector<uint8_t> back(n + 1);
        unpackCodes(packed.data() + 5, n, bits, back.data() + 1);
        QVERIFY(std::equal(codes.begin() + 3, codes.end(), back.begin() + 1));
    }

    void zeroCountAcceptsNull() {
        for (int b = 1; b <= 8; ++b) {
            packCodes(nullptr, 0, b, nullptr);
            unpackCodes(nullptr, 0, b, nullptr);
        }
    }

    void rejectsBitsOutsideRange() {
        uint8_t buf[8] = {};
        for (int b : {0, 9, -1, 16}) {
            bool threw = false;
            try {
                packCodes(buf, 1, b, buf);
            } catch (const Error& e) {
                threw = QString(e.what()).contains("bits must be 1..8");
            }
            QVERIFY2(threw, qPrintable(QString("packCodes accepted bits=%1").arg(b)));
            QVERIFY_THROWS_EXCEPTION(Error, unpackCodes(buf, 1, b, buf));
            QVERIFY_THROWS_EXCEPTION(Error, packedBytes(1, b));
        }
        QVERIFY_THROWS_EXCEPTION(Error, packedBytes(SIZE_MAX / 2, 8));
    }
};

QTEST_APPLESS_MAIN(TestPacking)
#include "tst_packing.moc"
