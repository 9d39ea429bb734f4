// deploy/frame_server.h + frame_client.h on loopback (port 0): good round trips and pipelining,
// every malformed kind answered with its error while the server keeps serving, handler errors,
// a slow handler not stalling other connections, slow-loris and idle clients closed after their
// timeouts, maxClients, disconnects mid-frame, and the acceptance run: 8 concurrent clients
// each sending 1,000 malformed frames mixed with good ones (own seeded mix, reconnecting after a
// connection-closing error), with every good frame answered correctly, the server alive,
// buffers bounded, connections back to 0 and RSS growth small. Only liveness is timed: every
// wait has a generous timeout, nothing asserts a duration.
#include "frame_craft.h"

#include "autosplit/deploy/frame.h"
#include "autosplit/deploy/frame_client.h"
#include "autosplit/deploy/frame_server.h"

#include <QTest>

#include <atomic>
#include <fstream>
#include <future>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

using namespace autosplit;
using namespace autosplit::deploy;
using namespace std::chrono_literals;

// Under AddressSanitizer freed memory sits in the allocator's quarantine (256 MB by default), so
// VmRSS says nothing about growth there: the RSS bound is checked in normal builds, and
// LeakSanitizer checks for leaks in the sanitizer build.
#if defined(__SANITIZE_ADDRESS__)
#define AUTOSPLIT_UNDER_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define AUTOSPLIT_UNDER_ASAN 1
#endif
#endif

namespace {

constexpr uint64_t kPlan = 0xC0FFEE0012345678ull;
constexpr auto kLong = 20s;  // liveness bound of every wait on a loaded machine

const std::vector<TensorContract>& contract() {
    static const std::vector<TensorContract> c = {{1, ElementType::Codes, 4, {-1}}};
    return c;
}

// The application's inference stand-in: check the request, sum its 4-bit codes.
Frame sumCodes(const Frame& request) {
    checkFrame(request, kPlan, contract());
    const auto codes = tensorCodes(request.tensors[0]);
    double sum = 0;
    for (uint8_t c : codes) sum += c;
    Frame reply;
    reply.tensors.push_back(makeFloat32Tensor(100, {1}, {static_cast<float>(sum)}));
    return reply;
}

Frame request(uint64_t sequence, const std::vector<uint8_t>& codes) {
    Frame f;
    f.planHash = kPlan;
    f.sequence = sequence;
    f.tensors.push_back(makeCodesTensor(1, 4, {static_cast<int64_t>(codes.size())}, codes.data(), 0.1f, 8));
    return f;
}

std::vector<uint8_t> randomCodes(std::mt19937_64& rng, size_t n) {
    std::vector<uint8_t> c(n);
    for (auto& x : c) x = static_cast<uint8_t>(rng() & 15);
    return c;
}

float sumOf(const std::vector<uint8_t>& codes) {
    double s = 0;
    for (uint8_t c : codes) s += c;
    return static_cast<float>(s);
}

// "" when `reply` answers `req` with the right sum, else what is wrong.
std::string checkReply(const Frame& reply, const Frame& req, float sum) {
    if (reply.type != FrameType::Reply) return std::string("expected a Reply, got ") + toString(reply.type) + ": " + reply.error;
    if (reply.sequence != req.sequence) return "sequence " + std::to_string(reply.sequence) + " for " + std::to_string(req.sequence);
    if (reply.planHash != kPlan) return "wrong plan hash in the reply";
    if (reply.tensors.size() != 1) return "reply has " + std::to_string(reply.tensors.size()) + " tensors";
    const auto v = tensorFloats(reply.tensors[0]);
    if (v.size() != 1 || v[0] != sum) return "wrong sum " + std::to_string(v.empty() ? -1.0f : v[0]) + " != " + std::to_string(sum);
    return "";
}

long rssKb() {
    std::ifstream f("/proc/self/status");
    std::string line;
    while (std::getline(f, line))
        if (line.rfind("VmRSS:", 0) == 0) return std::stol(line.substr(6));
    return 0;
}

ServerOptions testOptions() {
    ServerOptions o;
    o.limits.maxFrameBytes = 256 * 1024;
    o.limits.maxTensors = 4;
    o.readTimeout = 10s;
    o.idleTimeout = 60s;
    o.ioThreads = 2;
    o.workerThreads = 2;
    o.maxClients = 16;
    return o;
}

// Releases a blocked test handler when the test leaves, before the server (declared earlier)
// waits for its handler calls in stop(): a failing check must not hang the suite.
struct ReleaseOnExit {
    std::promise<void>& promise;
    bool done = false;
    void release() {
        if (!done) promise.set_value();
        done = true;
    }
    ~ReleaseOnExit() { release(); }
};

bool startsWith(const std::string& s, const std::string& prefix) { return s.rfind(prefix, 0) == 0; }

// Polls `cond` until it holds or the liveness bound passes.
template <class F>
bool eventually(F&& cond) {
    const auto end = std::chrono::steady_clock::now() + kLong;
    while (std::chrono::steady_clock::now() < end) {
        if (cond()) return true;
        std::this_thread::sleep_for(10ms);
    }
    return cond();
}

// ---- malformed frames: bytes, the error code they must be answered with, whether it closes ----

struct Malformed {
    std::string name;
    std::vector<uint8_t> bytes;
    FrameErrorCode code;
    bool hasHeader;      // the error reply carries the frame's sequence
    bool disconnect;     // the client sends half and leaves: no reply
};

Malformed makeMalformed(int kind, std::mt19937_64& rng, uint64_t seq, const ServerOptions& o) {
    const auto good = encodeFrame(request(seq, randomCodes(rng, 1 + rng() % 300)));
    auto b = good;
    switch (kind) {
        case 0: {  // garbage: an HTTP request on the wrong port
            const std::string http = "GET / HTTP/1.1\r\nHost: cloud\r\n\r\n";
            return {"bad magic", std::vector<uint8_t>(http.begin(), http.end()), FrameErrorCode::BadMagic, false, false};
        }
        case 1:
            craft::putU16At(b, 4, 3);
            craft::reseal(b);
            return {"bad version", b, FrameErrorCode::BadVersion, false, false};
        case 2:
            b[6] = 0;
            craft::reseal(b);
            return {"bad type", b, FrameErrorCode::BadType, true, false};
        case 3: {  // claims more than maxFrameBytes; sends a little of it
            craft::putU32At(b, 28, o.limits.maxFrameBytes);
            craft::reseal(b);
            b.resize(std::min<size_t>(b.size(), 200));
            return {"oversized", b, FrameErrorCode::Oversized, true, false};
        }
        case 4: {
            Frame f = request(seq, randomCodes(rng, 8));
            for (uint16_t id = 2; id < 7; ++id) f.tensors.push_back(makeFloat32Tensor(id, {1}, {1.0f}));
            return {"too many tensors", encodeFrame(f), FrameErrorCode::TooManyTensors, true, false};
        }
        case 5:
            b[kFrameHeaderBytes + 3] = 9;  // Codes at 9 bits
            craft::reseal(b);
            return {"bad tensor header", b, FrameErrorCode::BadTensorHeader, true, false};
        case 6:
            craft::putU32At(b, kFrameHeaderBytes + 5 + 8 + 12 - 4, craft::getU32At(b, kFrameHeaderBytes + 5 + 8 + 12 - 4) + 1);
            craft::reseal(b);
            return {"size mismatch", b, FrameErrorCode::SizeMismatch, true, false};
        case 7:
            b[kFrameHeaderBytes + 2 + rng() % (b.size() - kFrameHeaderBytes - 6)] ^= 0x20;
            return {"bad crc", b, FrameErrorCode::BadCrc, true, false};
        case 8: {
            Frame f = request(seq, randomCodes(rng, 10));
            f.planHash = kPlan + 1;
            return {"wrong plan", encodeFrame(f), FrameErrorCode::WrongPlan, true, false};
        }
        case 9: {
            Frame f = request(seq, randomCodes(rng, 10));
            f.tensors[0].shape = {2, 5};
            return {"wrong shape", encodeFrame(f), FrameErrorCode::WrongShape, true, false};
        }
        case 10: {
            Frame f = request(seq, randomCodes(rng, 10));
            f.tensors[0].id = 2;
            return {"wrong tensors", encodeFrame(f), FrameErrorCode::WrongTensors, true, false};
        }
        default:  // half a frame, then the client disconnects
            b.resize(kFrameHeaderBytes + (b.size() - kFrameHeaderBytes) / 2);
            return {"disconnect mid-frame", b, FrameErrorCode::Truncated, false, true};
    }
}
constexpr int kMalformedKinds = 12;

// Sends one malformed frame and checks the answer; "" when right. `reconnect` is set when the
// connection is gone afterwards (by design).
std::string sendMalformed(FrameClient& c, const Malformed& m, uint64_t seq, bool& reconnect) {
    c.sendRaw(m.bytes, kLong);
    if (m.disconnect) {
        c.close();
        reconnect = true;
        return "";
    }
    const Frame e = c.readFrame(kLong);
    if (e.type != FrameType::Error) return m.name + ": expected an Error frame, got " + toString(e.type);
    if (!startsWith(e.error, toString(m.code))) return m.name + ": expected " + toString(m.code) + ", got \"" + e.error + "\"";
    if (m.hasHeader && e.sequence != seq) return m.name + ": error reply has sequence " + std::to_string(e.sequence);
    reconnect = closesConnection(m.code);
    if (reconnect) {
        if (!c.waitForClose(kLong)) return m.name + ": the server did not close the connection";
        c.close();
    }
    return "";
}

}  // namespace

class TestFrameServer : public QObject {
    Q_OBJECT
private slots:
    void goodRoundTrips() {
        FrameServer server("127.0.0.1", 0, testOptions(), sumCodes);
        QVERIFY(server.port() != 0);
        server.start();
        FrameClient client;
        client.connect("127.0.0.1", server.port(), kLong);
        std::mt19937_64 rng(1);
        for (uint64_t seq = 1; seq <= 40; ++seq) {
            const auto codes = randomCodes(rng, seq * seq * 97 % 200000);
            const Frame req = request(seq, codes);
            const std::string bad = checkReply(client.roundTrip(req, kLong), req, sumOf(codes));
            QVERIFY2(bad.empty(), bad.c_str());
        }
        // Pipelined: three requests written at once, three replies in order.
        std::vector<uint8_t> three;
        std::vector<float> sums;
        for (uint64_t seq = 100; seq < 103; ++seq) {
            const auto codes = randomCodes(rng, 1000 + seq);
            sums.push_back(sumOf(codes));
            const auto b = encodeFrame(request(seq, codes));
            three.insert(three.end(), b.begin(), b.end());
        }
        client.sendRaw(three, kLong);
        for (uint64_t seq = 100; seq < 103; ++seq) {
            const Frame reply = client.readFrame(kLong);
            QCOMPARE(reply.sequence, seq);
            QCOMPARE(tensorFloats(reply.tensors[0])[0], sums[seq - 100]);
        }
        const ClientTimings t = client.lastTimings();
        qInfo("last round trip: write %lld us, wait %lld us", static_cast<long long>(t.write.count()),
              static_cast<long long>(t.wait.count()));
        const ServerStats s = server.stats();
        QCOMPARE(s.framesOk, uint64_t(43));
        QCOMPARE(s.connectionsAccepted, uint64_t(1));
        QCOMPARE(s.connectionsActive, uint64_t(1));
        QVERIFY(s.framesRejected.empty());
        QVERIFY(s.peakBytesBuffered > 0);
        QVERIFY(s.peakBytesBuffered <= testOptions().limits.maxFrameBytes);
        client.close();
        QVERIFY(eventually([&] { return server.stats().connectionsActive == 0; }));
        QCOMPARE(server.stats().bytesBuffered, uint64_t(0));
        server.stop();
    }

    void malformedAnswered_data() {
        QTest::addColumn<int>("kind");
        for (int k = 0; k < kMalformedKinds - 1; ++k) {
            std::mt19937_64 rng(0);
            QTest::newRow(makeMalformed(k, rng, 1, testOptions()).name.c_str()) << k;
        }
    }
    void malformedAnswered() {
        QFETCH(int, kind);
        FrameServer server("127.0.0.1", 0, testOptions(), sumCodes);
        server.start();
        std::mt19937_64 rng(static_cast<uint64_t>(kind) + 10);
        FrameClient client;
        client.connect("127.0.0.1", server.port(), kLong);
        const Malformed m = makeMalformed(kind, rng, 77, testOptions());
        bool reconnect = false;
        const std::string bad = sendMalformed(client, m, 77, reconnect);
        QVERIFY2(bad.empty(), bad.c_str());
        QCOMPARE(reconnect, closesConnection(m.code));
        if (reconnect) client.connect("127.0.0.1", server.port(), kLong);
        // The same connection (or a new one after a closing error) is served.
        const auto codes = randomCodes(rng, 500);
        const Frame req = request(78, codes);
        const std::string after = checkReply(client.roundTrip(req, kLong), req, sumOf(codes));
        QVERIFY2(after.empty(), after.c_str());
        const ServerStats s = server.stats();
        QCOMPARE(s.framesRejected.size(), size_t(1));
        QCOMPARE(s.framesRejected.begin()->first, m.code);
        QCOMPARE(s.framesOk, uint64_t(1));
    }

    void errorMessagesNameTheProblem() {
        FrameServer server("127.0.0.1", 0, testOptions(), sumCodes);
        server.start();
        FrameClient client;
        client.connect("127.0.0.1", server.port(), kLong);
        std::mt19937_64 rng(5);
        Frame f = request(9, randomCodes(rng, 10));
        f.tensors[0].shape = {2, 5};
        const Frame e = client.roundTrip(f, kLong);
        QCOMPARE(e.type, FrameType::Error);
        QCOMPARE(e.sequence, uint64_t(9));
        QCOMPARE(e.planHash, kPlan);
        QCOMPARE(QString::fromStdString(e.error), QString("WrongShape: tensor id 1: expected shape [?], got [2,5]"));
        f = request(10, randomCodes(rng, 10));
        f.planHash = 7;
        QCOMPARE(QString::fromStdString(client.roundTrip(f, kLong).error),
                 QString("WrongPlan: frame is for plan 0x0000000000000007, this server runs plan 0xC0FFEE0012345678"));
    }

    void handlerExceptionsKeepTheConnection() {
        const auto handler = [](const Frame& req) -> Frame {
            if (req.sequence == 1) throw Error("model not loaded");
            if (req.sequence == 2) throw std::runtime_error("out of GPU memory");
            if (req.sequence == 3) throw 42;
            if (req.sequence == 4) {
                Frame bad;
                bad.tensors.push_back(makeFloat32Tensor(1, {2}, {1.0f, 2.0f}));
                bad.tensors[0].data.pop_back();  // invalid reply
                return bad;
            }
            return sumCodes(req);
        };
        FrameServer server("127.0.0.1", 0, testOptions(), handler);
        server.start();
        FrameClient client;
        client.connect("127.0.0.1", server.port(), kLong);
        std::mt19937_64 rng(2);
        const char* expected[] = {"handler failed: model not loaded", "handler failed: out of GPU memory",
                                  "handler failed with an unknown exception", "handler returned an invalid reply: SizeMismatch"};
        for (uint64_t seq = 1; seq <= 4; ++seq) {
            const Frame e = client.roundTrip(request(seq, randomCodes(rng, 4)), kLong);
            QCOMPARE(e.type, FrameType::Error);
            QVERIFY2(startsWith(e.error, expected[seq - 1]), e.error.c_str());
        }
        const auto codes = randomCodes(rng, 9);
        const Frame req = request(5, codes);
        const std::string bad = checkReply(client.roundTrip(req, kLong), req, sumOf(codes));
        QVERIFY2(bad.empty(), bad.c_str());
        QCOMPARE(server.stats().handlerErrors, uint64_t(4));
    }

    void slowHandlerDoesNotStallOthers() {
        std::promise<void> gate;
        std::shared_future<void> released = gate.get_future().share();
        auto slowEntered = std::make_shared<std::atomic<bool>>(false);
        const auto handler = [released, slowEntered](const Frame& req) {
            if (req.sequence == 999) {
                *slowEntered = true;
                released.wait();
            }
            return sumCodes(req);
        };
        FrameServer server("127.0.0.1", 0, testOptions(), handler);  // 2 workers
        ReleaseOnExit release{gate};
        server.start();
        std::mt19937_64 rng(3);
        FrameClient slow, fast;
        slow.connect("127.0.0.1", server.port(), kLong);
        fast.connect("127.0.0.1", server.port(), kLong);
        const auto slowCodes = randomCodes(rng, 100);
        slow.sendRaw(encodeFrame(request(999, slowCodes)), kLong);
        QVERIFY(eventually([&] { return slowEntered->load(); }));
        // While one inference blocks, another connection is read, answered, many times.
        for (uint64_t seq = 1; seq <= 20; ++seq) {
            const auto codes = randomCodes(rng, 1000);
            const Frame req = request(seq, codes);
            const std::string bad = checkReply(fast.roundTrip(req, kLong), req, sumOf(codes));
            QVERIFY2(bad.empty(), bad.c_str());
        }
        release.release();
        const std::string bad = checkReply(slow.readFrame(kLong), request(999, slowCodes), sumOf(slowCodes));
        QVERIFY2(bad.empty(), bad.c_str());
    }

    void slowLorisClosedAfterReadTimeout() {
        ServerOptions o = testOptions();
        o.readTimeout = 1500ms;
        FrameServer server("127.0.0.1", 0, o, sumCodes);
        server.start();
        std::mt19937_64 rng(4);
        FrameClient loris, good;
        loris.connect("127.0.0.1", server.port(), kLong);
        good.connect("127.0.0.1", server.port(), kLong);
        const auto frame = encodeFrame(request(5, randomCodes(rng, 64)));
        loris.sendRaw(std::vector<uint8_t>(frame.begin(), frame.begin() + 18), kLong);  // half a header, then silence
        // Others are served while the loris waits.
        int served = 0;
        while (server.stats().readTimeouts == 0 && served < 100000) {
            const auto codes = randomCodes(rng, 200);
            const Frame req = request(static_cast<uint64_t>(served), codes);
            const std::string bad = checkReply(good.roundTrip(req, kLong), req, sumOf(codes));
            QVERIFY2(bad.empty(), bad.c_str());
            ++served;
        }
        QVERIFY(served > 0);
        const Frame e = loris.readFrame(kLong);
        QCOMPARE(e.type, FrameType::Error);
        QCOMPARE(QString::fromStdString(e.error),
                 QString("Truncated: frame not completed within 1500 ms: 18 of a 36-byte header received"));
        QVERIFY(loris.waitForClose(kLong));
        QCOMPARE(server.stats().readTimeouts, uint64_t(1));
        QCOMPARE(server.stats().framesRejected.at(FrameErrorCode::Truncated), uint64_t(1));
        // A loris that got past the header is timed from its first byte, not its last.
        FrameClient loris2;
        loris2.connect("127.0.0.1", server.port(), kLong);
        loris2.sendRaw(std::vector<uint8_t>(frame.begin(), frame.begin() + 40), kLong);
        const Frame e2 = loris2.readFrame(kLong);
        QVERIFY2(startsWith(e2.error, "Truncated: frame not completed within 1500 ms: 40 of " +
                                          std::to_string(frame.size()) + " bytes received"),
                 e2.error.c_str());
        QVERIFY(loris2.waitForClose(kLong));
        const auto codes = randomCodes(rng, 10);
        const std::string bad = checkReply(good.roundTrip(request(1, codes), kLong), request(1, codes), sumOf(codes));
        QVERIFY2(bad.empty(), bad.c_str());
    }

    void idleConnectionClosed() {
        ServerOptions o = testOptions();
        o.idleTimeout = 1000ms;
        FrameServer server("127.0.0.1", 0, o, sumCodes);
        server.start();
        FrameClient idle;
        idle.connect("127.0.0.1", server.port(), kLong);
        const Frame e = idle.readFrame(kLong);
        QCOMPARE(e.type, FrameType::Error);
        QCOMPARE(QString::fromStdString(e.error), QString("idle timeout: no request for 1000 ms; closing the connection"));
        QVERIFY(idle.waitForClose(kLong));
        QCOMPARE(server.stats().idleTimeouts, uint64_t(1));
        QVERIFY(eventually([&] { return server.stats().connectionsActive == 0; }));
        // roundTrip on a connection the server closed for idleness reports it.
        FrameClient late;
        late.connect("127.0.0.1", server.port(), kLong);
        QVERIFY(eventually([&] { return server.stats().idleTimeouts == 2; }));
        bool threw = false;
        try {
            std::mt19937_64 rng(1);
            late.roundTrip(request(1, randomCodes(rng, 4)), kLong);
        } catch (const Error& err) {
            threw = QString(err.what()).contains("idle timeout") || QString(err.what()).contains("closed the connection") ||
                    QString(err.what()).contains("failed");
        }
        QVERIFY(threw);
    }

    void busyBeyondMaxClients() {
        ServerOptions o = testOptions();
        o.maxClients = 2;
        FrameServer server("127.0.0.1", 0, o, sumCodes);
        server.start();
        std::mt19937_64 rng(6);
        FrameClient a, b, c;
        for (FrameClient* x : {&a, &b}) {
            x->connect("127.0.0.1", server.port(), kLong);
            const auto codes = randomCodes(rng, 10);
            QVERIFY(checkReply(x->roundTrip(request(1, codes), kLong), request(1, codes), sumOf(codes)).empty());
        }
        c.connect("127.0.0.1", server.port(), kLong);
        const Frame e = c.readFrame(kLong);
        QCOMPARE(e.type, FrameType::Error);
        QVERIFY2(startsWith(e.error, "server busy: 2 clients connected (maxClients)"), e.error.c_str());
        QVERIFY(c.waitForClose(kLong));
        QCOMPARE(server.stats().connectionsRejectedBusy, uint64_t(1));
        QCOMPARE(server.stats().connectionsActive, uint64_t(2));
        a.close();
        QVERIFY(eventually([&] { return server.stats().connectionsActive == 1; }));
        c.connect("127.0.0.1", server.port(), kLong);
        const auto codes = randomCodes(rng, 10);
        QVERIFY(checkReply(c.roundTrip(request(2, codes), kLong), request(2, codes), sumOf(codes)).empty());
    }

    void disconnectMidFrameCounted() {
        FrameServer server("127.0.0.1", 0, testOptions(), sumCodes);
        server.start();
        std::mt19937_64 rng(7);
        const auto frame = encodeFrame(request(1, randomCodes(rng, 5000)));
        for (size_t cut : {size_t(10), size_t(100), frame.size() - 1}) {
            FrameClient c;
            c.connect("127.0.0.1", server.port(), kLong);
            c.sendRaw(std::vector<uint8_t>(frame.begin(), frame.begin() + static_cast<std::ptrdiff_t>(cut)), kLong);
            c.close();
        }
        QVERIFY(eventually([&] { return server.stats().disconnectsMidFrame == 3; }));
        QVERIFY(eventually([&] { return server.stats().connectionsActive == 0; }));
        QCOMPARE(server.stats().bytesBuffered, uint64_t(0));
    }

    void runBlocksUntilStop() {
        FrameServer server("127.0.0.1", 0, testOptions(), sumCodes);
        std::thread runner([&] { server.run(); });
        std::mt19937_64 rng(8);
        FrameClient c;
        c.connect("127.0.0.1", server.port(), kLong);
        const auto codes = randomCodes(rng, 10);
        QVERIFY(checkReply(c.roundTrip(request(1, codes), kLong), request(1, codes), sumOf(codes)).empty());
        server.stop();  // with a client still connected
        runner.join();
        QVERIFY(c.waitForClose(kLong));
        server.stop();  // idempotent
        // A server that never started stops too; a taken port is an Error naming it.
        FrameServer idle("127.0.0.1", 0, testOptions(), sumCodes);
        FrameServer occupant("127.0.0.1", 0, testOptions(), sumCodes);
        bool threw = false;
        try {
            FrameServer clash("127.0.0.1", occupant.port(), testOptions(), sumCodes);
        } catch (const Error& e) {
            threw = QString(e.what()).contains("cannot listen on 127.0.0.1:" + QString::number(occupant.port()));
        }
        QVERIFY(threw);
    }

    void clientErrors() {
        FrameClient c;
        QVERIFY_THROWS_EXCEPTION(Error, c.readFrame(1s));  // not connected
        // A port nobody listens on (taken from a server that is then gone).
        uint16_t port;
        {
            FrameServer gone("127.0.0.1", 0, testOptions(), sumCodes);
            port = gone.port();
        }
        bool threw = false;
        try {
            c.connect("127.0.0.1", port, kLong);
        } catch (const Error& e) {
            threw = QString(e.what()).contains("cannot connect to 127.0.0.1:" + QString::number(port));
        }
        QVERIFY(threw);
        // A reply timeout leaves the connection usable; the late reply is skipped.
        std::promise<void> gate;
        std::shared_future<void> released = gate.get_future().share();
        FrameServer server("127.0.0.1", 0, testOptions(), [released](const Frame& req) {
            if (req.sequence == 1) released.wait();
            return sumCodes(req);
        });
        ReleaseOnExit release{gate};
        server.start();
        c.connect("127.0.0.1", server.port(), kLong);
        std::mt19937_64 rng(9);
        threw = false;
        try {
            c.roundTrip(request(1, randomCodes(rng, 4)), 300ms);
        } catch (const Error& e) {
            threw = QString(e.what()).contains("no complete frame from 127.0.0.1");
        }
        QVERIFY(threw);
        release.release();
        const auto codes = randomCodes(rng, 4);
        QVERIFY(checkReply(c.roundTrip(request(2, codes), kLong), request(2, codes), sumOf(codes)).empty());
    }

    // Acceptance: 8 concurrent clients, each 1,000 malformed frames mixed with good ones.
    void acceptanceMalformedStorm() {
        const ServerOptions o = testOptions();
        FrameServer server("127.0.0.1", 0, o, sumCodes);
        server.start();
        {  // warm-up, so the RSS baseline has the threads and pools
            FrameClient w;
            w.connect("127.0.0.1", server.port(), kLong);
            std::mt19937_64 rng(0);
            const auto codes = randomCodes(rng, 100000);
            QVERIFY(checkReply(w.roundTrip(request(1, codes), kLong), request(1, codes), sumOf(codes)).empty());
        }
        const long rssBefore = rssKb();
        constexpr int kClients = 8, kMalformedPerClient = 1000;
        std::vector<std::string> failures(kClients);
        std::vector<int> goodAnswered(kClients, 0), reconnects(kClients, 0);
        std::vector<std::thread> threads;
        for (int ci = 0; ci < kClients; ++ci) {
            threads.emplace_back([&, ci] {
                try {
                    std::mt19937_64 rng(1000 + static_cast<uint64_t>(ci));
                    FrameClient c(o.limits);
                    c.connect("127.0.0.1", server.port(), kLong);
                    uint64_t seq = static_cast<uint64_t>(ci) << 32;
                    int malformed = 0;
                    while (malformed < kMalformedPerClient) {
                        ++seq;
                        if (rng() % 2) {  // good, now and then large (up to ~200 KB packed)
                            const size_t n = rng() % 16 == 0 ? 100000 + rng() % 300000 : 1 + rng() % 3000;
                            const auto codes = randomCodes(rng, n);
                            const Frame req = request(seq, codes);
                            const std::string bad = checkReply(c.roundTrip(req, kLong), req, sumOf(codes));
                            if (!bad.empty()) throw std::runtime_error("good frame " + std::to_string(seq) + ": " + bad);
                            ++goodAnswered[static_cast<size_t>(ci)];
                            continue;
                        }
                        ++malformed;
                        bool reconnect = false;
                        std::string bad;
                        if (rng() % 4 == 0) {  // random byte flips of a good frame: caught by a CRC or the magic
                            const auto good = encodeFrame(request(seq, randomCodes(rng, 1 + rng() % 2000)));
                            auto bytes = good;
                            std::set<size_t> at;  // distinct bytes, so two flips cannot cancel
                            const size_t flips = 1 + rng() % 4;
                            while (at.size() < flips) at.insert(rng() % bytes.size());
                            for (size_t i : at) bytes[i] ^= static_cast<uint8_t>(1 + rng() % 255);
                            c.sendRaw(bytes, kLong);
                            const Frame e = c.readFrame(kLong);
                            bool known = false;
                            for (auto code : {FrameErrorCode::BadMagic, FrameErrorCode::BadVersion, FrameErrorCode::BadCrc})
                                known = known || startsWith(e.error, toString(code));
                            if (e.type != FrameType::Error || !known) bad = "flipped frame answered with \"" + e.error + "\"";
                            else if (!c.waitForClose(kLong)) bad = "flipped frame: connection not closed";
                            c.close();
                            reconnect = true;
                        } else {
                            const Malformed m = makeMalformed(static_cast<int>(rng() % kMalformedKinds), rng, seq, o);
                            bad = sendMalformed(c, m, seq, reconnect);
                        }
                        if (!bad.empty()) throw std::runtime_error("malformed frame " + std::to_string(malformed) + ": " + bad);
                        if (reconnect) {
                            ++reconnects[static_cast<size_t>(ci)];
                            c.connect("127.0.0.1", server.port(), kLong);
                        }
                    }
                } catch (const std::exception& e) {
                    failures[static_cast<size_t>(ci)] = "client " + std::to_string(ci) + ": " + e.what();
                }
            });
        }
        for (auto& t : threads) t.join();
        for (const auto& f : failures) QVERIFY2(f.empty(), f.c_str());
        int good = 0, reconnected = 0;
        for (int ci = 0; ci < kClients; ++ci) {
            good += goodAnswered[static_cast<size_t>(ci)];
            reconnected += reconnects[static_cast<size_t>(ci)];
        }
        // Alive and answering.
        FrameClient after;
        after.connect("127.0.0.1", server.port(), kLong);
        std::mt19937_64 rng(99);
        const auto codes = randomCodes(rng, 777);
        QVERIFY(checkReply(after.roundTrip(request(5, codes), kLong), request(5, codes), sumOf(codes)).empty());
        after.close();
        QVERIFY2(eventually([&] { return server.stats().connectionsActive == 0; }),
                 qPrintable(QString("%1 connections still active").arg(server.stats().connectionsActive)));
        const ServerStats s = server.stats();
        const long rssAfter = rssKb();
        uint64_t rejected = 0;
        QString byCode;
        for (const auto& [code, n] : s.framesRejected) {
            rejected += n;
            byCode += QString(" %1=%2").arg(toString(code)).arg(n);
        }
        qInfo("%d good frames answered, %d malformed sent, %d reconnects; server: accepted %llu, ok %llu, rejected %llu (%s ), "
              "mid-frame disconnects %llu, peak buffered %llu bytes (bound %llu); RSS %ld -> %ld KiB",
              good, kClients * kMalformedPerClient, reconnected, static_cast<unsigned long long>(s.connectionsAccepted),
              static_cast<unsigned long long>(s.framesOk), static_cast<unsigned long long>(rejected), qPrintable(byCode),
              static_cast<unsigned long long>(s.disconnectsMidFrame), static_cast<unsigned long long>(s.peakBytesBuffered),
              static_cast<unsigned long long>(uint64_t(o.maxClients) * o.limits.maxFrameBytes), rssBefore, rssAfter);
        QCOMPARE(s.framesOk, uint64_t(good) + 2);  // + warm-up + the check after
        QVERIFY(s.peakBytesBuffered <= uint64_t(o.maxClients) * o.limits.maxFrameBytes);
        QCOMPARE(s.bytesBuffered, uint64_t(0));
        QCOMPARE(s.connectionsActive, uint64_t(0));
        QVERIFY(s.disconnectsMidFrame > 0);
        QCOMPARE(s.connectionsAccepted, uint64_t(reconnected) + kClients + 2);
#ifndef AUTOSPLIT_UNDER_ASAN
        QVERIFY2(rssAfter - rssBefore < 64 * 1024, qPrintable(QString("RSS grew by %1 KiB").arg(rssAfter - rssBefore)));
#else
        qInfo("RSS bound not checked under AddressSanitizer (quarantine); LeakSanitizer checks leaks");
#endif
        server.stop();
    }
};

QTEST_APPLESS_MAIN(TestFrameServer)
#include "tst_frame_server.moc"
