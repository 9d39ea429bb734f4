// FrameClient: a private io_context driven by the calling thread. Each blocking call starts
// one asynchronous operation and runs the context for at most the remaining time; on timeout
// the operation is cancelled and its handler drained before the call throws.
#include "autosplit/deploy/frame_client.h"

#include <asio.hpp>

#include <algorithm>

namespace autosplit::deploy {

namespace {
using asio::ip::tcp;
using Clock = std::chrono::steady_clock;
constexpr size_t kReadChunk = 64 * 1024;

std::string ms(std::chrono::milliseconds d) { return std::to_string(d.count()) + " ms"; }
}  // namespace

struct FrameClient::Impl {
    asio::io_context io;
    tcp::socket socket{io};
    FrameReader reader;
    std::vector<uint8_t> pending;  // received bytes not fed to the reader yet
    size_t pendingPos = 0;
    std::vector<uint8_t> chunk = std::vector<uint8_t>(kReadChunk);
    std::string peer;
    bool open = false;
    ClientTimings timings;

    explicit Impl(FrameLimits limits) : reader(limits) {}

    // Runs the io context until the operation's handler ran or the deadline passed; then
    // cancels it and runs its handler. The handler has always run on return: a timed-out
    // operation reports operation_aborted (one that completed at the deadline keeps its result,
    // so no received byte is lost).
    void runUntil(const bool& done, Clock::time_point deadline) {
        io.restart();
        const auto now = Clock::now();
        if (deadline > now) io.run_for(deadline - now);
        if (done) return;
        asio::error_code ec;
        socket.cancel(ec);
        io.restart();
        io.run();
    }

    void closeSocket() {
        asio::error_code ec;
        socket.shutdown(tcp::socket::shutdown_both, ec);
        socket.close(ec);
        open = false;
    }

    void requireOpen(const char* what) const {
        if (!open) throw Error(std::string("FrameClient::") + what + ": not connected");
    }

    void write(const uint8_t* data, size_t size, Clock::time_point deadline, std::chrono::milliseconds timeout) {
        requireOpen("write");
        bool done = false;
        asio::error_code result;
        asio::async_write(socket, asio::buffer(data, size), [&](const asio::error_code& ec, size_t) {
            result = ec;
            done = true;
        });
        runUntil(done, deadline);
        if (result == asio::error::operation_aborted) {
            // A partial write leaves the stream mid-frame: the connection is unusable.
            closeSocket();
            throw Error("FrameClient: writing " + std::to_string(size) + " bytes to " + peer + " timed out after " + ms(timeout));
        }
        if (result) {
            closeSocket();
            throw Error("FrameClient: writing to " + peer + " failed: " + result.message());
        }
    }

    // Feeds buffered bytes to the reader; true when a frame is complete.
    bool feedPending() {
        while (pendingPos < pending.size() && !reader.complete()) {
            try {
                pendingPos += reader.feed(pending.data() + pendingPos, pending.size() - pendingPos);
            } catch (const FrameError& e) {
                if (closesConnection(e.code())) {
                    closeSocket();
                    pending.clear();
                    pendingPos = 0;
                } else {
                    pendingPos += e.consumed;
                }
                throw FrameError(e.code(), "malformed frame from " + peer + ": " + e.detail());
            }
        }
        if (pendingPos == pending.size()) {
            pending.clear();
            pendingPos = 0;
        }
        return reader.complete();
    }

    // Reads once: appends to `pending`. Returns false on timeout; throws on disconnect.
    bool readSome(Clock::time_point deadline) {
        requireOpen("read");
        bool done = false;
        asio::error_code result;
        size_t got = 0;
        socket.async_read_some(asio::buffer(chunk), [&](const asio::error_code& ec, size_t n) {
            result = ec;
            got = n;
            done = true;
        });
        runUntil(done, deadline);
        if (result == asio::error::operation_aborted) return false;
        if (result) {
            const bool midFrame = reader.inFrame();
            const size_t have = reader.received();
            closeSocket();
            std::string what = result == asio::error::eof ? "closed the connection" : "connection failed: " + result.message();
            if (midFrame) what += " in the middle of a frame (" + std::to_string(have) + " bytes received)";
            throw Error("FrameClient: " + peer + " " + what);
        }
        pending.insert(pending.end(), chunk.begin(), chunk.begin() + static_cast<std::ptrdiff_t>(got));
        return true;
    }

    Frame readFrame(Clock::time_point deadline, std::chrono::milliseconds timeout) {
        for (;;) {
            if (feedPending()) return reader.take();
            if (!readSome(deadline)) {
                std::string what = "FrameClient: no complete frame from " + peer + " within " + ms(timeout);
                if (reader.inFrame()) what += " (" + std::to_string(reader.received()) + " bytes of a frame received)";
                throw Error(what);
            }
        }
    }
};

FrameClient::FrameClient(FrameLimits limits) : impl_(std::make_unique<Impl>(limits)) {}
FrameClient::~FrameClient() = default;

void FrameClient::connect(const std::string& host, uint16_t port, std::chrono::milliseconds timeout) {
    Impl& c = *impl_;
    close();
    c.peer = host + ":" + std::to_string(port);
    const auto deadline = Clock::now() + timeout;
    tcp::resolver resolver(c.io);
    bool done = false;
    asio::error_code result;
    tcp::resolver::results_type endpoints;
    resolver.async_resolve(host, std::to_string(port), [&](const asio::error_code& ec, tcp::resolver::results_type r) {
        result = ec;
        endpoints = std::move(r);
        done = true;
    });
    c.io.restart();
    c.io.run_for(std::max(Clock::duration::zero(), deadline - Clock::now()));
    if (!done) {
        resolver.cancel();
        c.io.restart();
        c.io.run();
        throw Error("FrameClient: resolving " + c.peer + " timed out after " + ms(timeout));
    }
    if (result) throw Error("FrameClient: cannot resolve " + c.peer + ": " + result.message());
    done = false;
    asio::async_connect(c.socket, endpoints, [&](const asio::error_code& ec, const tcp::endpoint&) {
        result = ec;
        done = true;
    });
    c.runUntil(done, deadline);
    if (result == asio::error::operation_aborted) {
        c.closeSocket();
        throw Error("FrameClient: connecting to " + c.peer + " timed out after " + ms(timeout));
    }
    if (result) {
        c.closeSocket();
        throw Error("FrameClient: cannot connect to " + c.peer + ": " + result.message());
    }
    asio::error_code ec;
    c.socket.set_option(tcp::no_delay(true), ec);
    c.open = true;
}

bool FrameClient::connected() const { return impl_->open; }

void FrameClient::close() {
    Impl& c = *impl_;
    c.closeSocket();
    c.reader.reset();
    c.pending.clear();
    c.pendingPos = 0;
}

void FrameClient::sendRaw(const std::vector<uint8_t>& bytes, std::chrono::milliseconds timeout) {
    impl_->write(bytes.data(), bytes.size(), Clock::now() + timeout, timeout);
}

Frame FrameClient::readFrame(std::chrono::milliseconds timeout) {
    return impl_->readFrame(Clock::now() + timeout, timeout);
}

bool FrameClient::waitForClose(std::chrono::milliseconds timeout) {
    Impl& c = *impl_;
    if (!c.open) return true;
    if (c.pendingPos < c.pending.size()) return false;
    try {
        c.readSome(Clock::now() + timeout);  // bytes arrived, or the time is up
        return false;
    } catch (const Error&) {
        return true;  // EOF or reset: closed
    }
}

Frame FrameClient::roundTrip(const Frame& request, std::chrono::milliseconds timeout) {
    Impl& c = *impl_;
    const auto t0 = Clock::now();
    const auto deadline = t0 + timeout;
    const std::vector<uint8_t> bytes = encodeFrame(request);
    const auto t1 = Clock::now();
    c.write(bytes.data(), bytes.size(), deadline, timeout);
    const auto t2 = Clock::now();
    for (;;) {
        Frame reply = c.readFrame(deadline, timeout);
        if (reply.sequence == request.sequence) {
            const auto t3 = Clock::now();
            c.timings.write = std::chrono::duration_cast<std::chrono::microseconds>(t2 - t1);
            c.timings.wait = std::chrono::duration_cast<std::chrono::microseconds>(t3 - t2);
            return reply;
        }
        if (reply.type == FrameType::Error)
            throw Error("FrameClient: " + c.peer + " answered with an error: " + reply.error);
        // A late reply to an earlier, timed-out request: skip it.
    }
}

ClientTimings FrameClient::lastTimings() const { return impl_->timings; }

}  // namespace autosplit::deploy
