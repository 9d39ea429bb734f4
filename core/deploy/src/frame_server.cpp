// FrameServer on standalone Asio. One Session per connection, every member touched only on the
// connection's strand; handler calls go to an asio::thread_pool and post their encoded reply
// back to the strand, into the slot reserved for it when the request was read, so replies
// leave in request order. One steady_timer per session enforces the read, idle, write and
// closing deadlines (re-armed lazily: a wake-up before the deadline just re-arms).
#include "autosplit/deploy/frame_server.h"

#include <asio.hpp>

#include <algorithm>
#include <array>
#include <atomic>
#include <condition_variable>
#include <cstdio>
#include <deque>
#include <mutex>
#include <optional>
#include <thread>

namespace autosplit::deploy {

namespace {

using asio::ip::tcp;
using Clock = std::chrono::steady_clock;

constexpr size_t kReadChunk = 64 * 1024;
constexpr size_t kDrainChunk = 4 * 1024;
constexpr size_t kMaxErrorMessage = 2000;
constexpr auto kMaxDrain = std::chrono::milliseconds(1000);
constexpr size_t kErrorCodes = static_cast<size_t>(FrameErrorCode::WrongShape) + 1;

std::vector<uint8_t> errorFrame(uint64_t sequence, uint64_t planHash, std::string message) {
    Frame f;
    f.type = FrameType::Error;
    f.sequence = sequence;
    f.planHash = planHash;
    if (message.size() > kMaxErrorMessage) message.resize(kMaxErrorMessage);
    f.error = std::move(message);
    return encodeFrame(f);
}

std::string ms(std::chrono::milliseconds d) { return std::to_string(d.count()) + " ms"; }

}  // namespace

struct FrameServer::Impl : std::enable_shared_from_this<FrameServer::Impl> {
    struct Session;

    ServerOptions options;
    Handler handler;

    // Counters first: they outlive everything below during destruction.
    std::atomic<uint64_t> accepted{0}, active{0}, rejectedBusy{0}, framesOk{0}, handlerErrors{0};
    std::atomic<uint64_t> readTimeouts{0}, idleTimeouts{0}, writeTimeouts{0}, disconnectsMidFrame{0};
    std::atomic<uint64_t> buffered{0}, peakBuffered{0};
    std::array<std::atomic<uint64_t>, kErrorCodes> rejected{};

    std::mutex mutex;  // sessions, threads, state
    std::condition_variable stoppedCv;
    std::map<uint64_t, std::weak_ptr<Session>> sessions;
    uint64_t nextSession = 0;
    std::vector<std::thread> threads;
    bool started = false, stopping = false, stopped = false;

    asio::thread_pool pool;
    asio::io_context io;
    std::optional<asio::executor_work_guard<asio::io_context::executor_type>> work;
    asio::strand<asio::io_context::executor_type> acceptStrand;  // acceptor, its retry timer, its close
    tcp::acceptor acceptor;
    asio::steady_timer acceptRetry;
    uint16_t boundPort = 0;

    Impl(ServerOptions o, Handler h)
        : options(o), handler(std::move(h)), pool(static_cast<size_t>(std::max(1, o.workerThreads))),
          work(asio::make_work_guard(io)), acceptStrand(asio::make_strand(io)), acceptor(acceptStrand),
          acceptRetry(acceptStrand) {}

    void addBuffered(int64_t delta) {
        const uint64_t now = buffered.fetch_add(static_cast<uint64_t>(delta)) + static_cast<uint64_t>(delta);
        uint64_t peak = peakBuffered.load();
        while (now > peak && !peakBuffered.compare_exchange_weak(peak, now)) {
        }
    }
    void countRejected(FrameErrorCode code) { ++rejected[static_cast<size_t>(code)]; }

    void listen(const std::string& host, uint16_t port) {
        try {
            tcp::resolver resolver(io);
            const auto endpoints = resolver.resolve(host, std::to_string(port), tcp::resolver::passive);
            if (endpoints.empty()) throw Error("no address");
            const tcp::endpoint ep = *endpoints.begin();
            acceptor.open(ep.protocol());
            acceptor.set_option(asio::socket_base::reuse_address(true));
            acceptor.bind(ep);
            acceptor.listen(asio::socket_base::max_listen_connections);
            boundPort = acceptor.local_endpoint().port();
        } catch (const std::exception& e) {
            throw Error("FrameServer: cannot listen on " + host + ":" + std::to_string(port) + ": " + e.what());
        }
    }

    void doAccept();
    // The handler call of one request, on a worker thread: the encoded reply or an Error frame.
    std::vector<uint8_t> answer(const Frame& request);
    void runThread() {
        // Session handlers catch their own exceptions; this loop is the last line, so a bug
        // in one connection never takes the io thread down.
        for (;;) {
            try {
                io.run();
                return;
            } catch (const std::exception& e) {
                std::fprintf(stderr, "FrameServer: io thread caught: %s\n", e.what());
            } catch (...) {
                std::fprintf(stderr, "FrameServer: io thread caught an unknown exception\n");
            }
        }
    }
    void start() {
        std::lock_guard lock(mutex);
        if (started || stopping) return;
        started = true;
        asio::post(acceptStrand, [self = shared_from_this()] { self->doAccept(); });
        for (int i = 0; i < std::max(1, options.ioThreads); ++i) threads.emplace_back([this] { runThread(); });
    }
    void stop();
};

struct FrameServer::Impl::Session : std::enable_shared_from_this<Session> {
    struct Reply {
        bool ready = false;
        std::vector<uint8_t> bytes;
    };
    enum class Deadline { None, Read, Idle, Write, Closing };

    std::shared_ptr<Impl> server;
    using Strand = asio::strand<asio::io_context::executor_type>;
    const Strand strand;  // the socket's and timer's executor; worker threads post here
    const uint64_t id;
    const bool served;  // false: over maxClients, only told "server busy"
    tcp::socket socket;
    asio::steady_timer timer;
    FrameReader reader;
    std::vector<uint8_t> buf;
    size_t bufPos = 0, bufLen = 0;
    std::deque<std::shared_ptr<Reply>> replies;
    int running = 0;  // handler calls in flight
    bool reading = false, writing = false, closing = false, draining = false, closed = false;
    bool frameOpen = false, timerArmed = false;
    Clock::time_point frameStart, lastActivity, writeStart, closingSince, drainSince, armedAt;
    int64_t accounted = 0;  // this reader's share of server->buffered

    Session(std::shared_ptr<Impl> srv, Strand st, tcp::socket s, uint64_t sid, bool serve)
        : server(std::move(srv)), strand(std::move(st)), id(sid), served(serve), socket(std::move(s)), timer(strand),
          reader(server->options.limits) {}

    template <class F>
    void guarded(F&& f) {
        try {
            f();
        } catch (const std::exception& e) {
            std::fprintf(stderr, "FrameServer: connection %llu closed after an internal error: %s\n",
                         static_cast<unsigned long long>(id), e.what());
            close();
        }
    }

    void begin() {
        lastActivity = Clock::now();
        asio::error_code ec;
        socket.set_option(tcp::no_delay(true), ec);
        if (!served) {
            queueError(0, 0, "server busy: " + std::to_string(server->options.maxClients) +
                                 " clients connected (maxClients); try again later");
            beginClose();
            return;
        }
        doRead();
        updateTimer();
    }

    // ---- reading ----

    void doRead() {
        if (closed || reading) return;
        if (draining) {
            reading = true;
            if (buf.size() < kDrainChunk) buf.resize(kDrainChunk);
            socket.async_read_some(asio::buffer(buf.data(), kDrainChunk),
                                   [self = shared_from_this()](const asio::error_code& ec, size_t) {
                                       self->guarded([&] {
                                           self->reading = false;
                                           if (self->closed) return;
                                           if (ec) self->close();  // EOF after our FIN: done
                                           else self->doRead();
                                       });
                                   });
            return;
        }
        if (closing || replies.size() >= static_cast<size_t>(std::max(1, server->options.maxQueuedPerClient))) return;
        if (bufPos < bufLen) {
            processBuffered();
            return;
        }
        if (buf.size() < kReadChunk) buf.resize(kReadChunk);
        reading = true;
        socket.async_read_some(asio::buffer(buf.data(), kReadChunk),
                               [self = shared_from_this()](const asio::error_code& ec, size_t n) {
                                   self->guarded([&] { self->onRead(ec, n); });
                               });
    }

    void onRead(const asio::error_code& ec, size_t n) {
        reading = false;
        if (closed) return;
        if (ec) {
            if (ec == asio::error::operation_aborted) return;
            // The peer went away. Cut short mid-frame: counted, nothing to answer. A clean EOF
            // (half-close) after whole requests: their replies are still delivered.
            if (reader.inFrame()) ++server->disconnectsMidFrame;
            if (ec == asio::error::eof && !reader.inFrame() && (running > 0 || !replies.empty())) beginClose();
            else close();
            return;
        }
        lastActivity = Clock::now();
        bufPos = 0;
        bufLen = n;
        processBuffered();
    }

    void processBuffered() {
        const size_t maxQueued = static_cast<size_t>(std::max(1, server->options.maxQueuedPerClient));
        while (bufPos < bufLen && !closing && replies.size() < maxQueued) {
            try {
                bufPos += reader.feed(buf.data() + bufPos, bufLen - bufPos);
            } catch (const FrameError& e) {
                bufPos += e.consumed;
                server->countRejected(e.code());
                queueError(e.headerKnown ? e.sequence : 0, e.headerKnown ? e.planHash : 0, e.what());
                if (closesConnection(e.code())) beginClose();
            }
            if (reader.inFrame() && !frameOpen) {
                frameOpen = true;
                frameStart = Clock::now();
            } else if (!reader.inFrame() && !reader.complete()) {
                frameOpen = false;
            }
            if (reader.complete()) {
                frameOpen = false;
                dispatch(reader.take());
            }
            account();
        }
        if (bufPos >= bufLen && !closing) doRead();
        updateTimer();
    }

    void account() {
        const auto now = static_cast<int64_t>(closed ? 0 : reader.bufferedBytes());
        if (now != accounted) {
            server->addBuffered(now - accounted);
            accounted = now;
        }
    }

    // ---- handler calls ----

    void dispatch(Frame request) {
        auto slot = std::make_shared<Reply>();
        replies.push_back(slot);
        ++running;
        auto job = [self = shared_from_this(), slot, request = std::move(request),
                    guard = asio::make_work_guard(server->io)]() mutable {
            std::vector<uint8_t> bytes = self->server->answer(request);
            asio::post(self->strand, [self, slot, bytes = std::move(bytes)]() mutable {
                self->guarded([&] {
                    --self->running;
                    slot->bytes = std::move(bytes);
                    slot->ready = true;
                    if (self->closed) return;
                    self->flush();
                    self->doRead();
                    self->updateTimer();
                });
            });
        };
        asio::post(server->pool, std::move(job));
    }

    // ---- writing ----

    void queueError(uint64_t sequence, uint64_t planHash, const std::string& message) {
        auto slot = std::make_shared<Reply>();
        slot->bytes = errorFrame(sequence, planHash, message);
        slot->ready = true;
        replies.push_back(slot);
        flush();
    }

    void flush() {
        if (closed || writing) return;
        if (!replies.empty() && replies.front()->ready) {
            writing = true;
            writeStart = Clock::now();
            asio::async_write(socket, asio::buffer(replies.front()->bytes),
                              [self = shared_from_this()](const asio::error_code& ec, size_t) {
                                  self->guarded([&] { self->onWrite(ec); });
                              });
            updateTimer();
            return;
        }
        if (closing && replies.empty() && !draining) startDrain();
    }

    void onWrite(const asio::error_code& ec) {
        writing = false;
        if (closed) return;
        if (ec) {
            close();
            return;
        }
        replies.pop_front();
        lastActivity = Clock::now();
        flush();
        if (!closing) doRead();
        updateTimer();
    }

    // ---- closing ----

    void beginClose() {
        if (closing) return;
        closing = true;
        closingSince = Clock::now();
        flush();
        updateTimer();
    }

    // Everything is written: send FIN, then read and discard until the peer closes (or the
    // drain deadline), so unread request bytes do not turn our close into a reset that
    // destroys the error frame in flight.
    void startDrain() {
        draining = true;
        asio::error_code ec;
        socket.shutdown(tcp::socket::shutdown_send, ec);
        if (ec) {
            close();
            return;
        }
        drainSince = Clock::now();
        doRead();
        updateTimer();
    }

    void close() {
        if (closed) return;
        closed = true;
        asio::error_code ec;
        socket.shutdown(tcp::socket::shutdown_both, ec);
        socket.close(ec);
        timer.cancel();
        reader.reset();
        account();
        replies.clear();
        std::vector<uint8_t>().swap(buf);
        if (served) --server->active;
        std::lock_guard lock(server->mutex);
        server->sessions.erase(id);
    }

    // ---- deadlines ----

    std::pair<Clock::time_point, Deadline> nextDeadline() const {
        const auto& o = server->options;
        if (draining) return {drainSince + std::min<std::chrono::milliseconds>(o.readTimeout, kMaxDrain), Deadline::Closing};
        if (closing) return {closingSince + o.readTimeout, Deadline::Closing};
        auto best = std::make_pair(Clock::time_point::max(), Deadline::None);
        if (writing) best = std::min(best, std::make_pair(writeStart + o.readTimeout, Deadline::Write));
        // Reading paused for backpressure is not the client's delay.
        const bool paused = replies.size() >= static_cast<size_t>(std::max(1, o.maxQueuedPerClient));
        if (frameOpen) {
            if (!paused) best = std::min(best, std::make_pair(frameStart + o.readTimeout, Deadline::Read));
        } else if (running == 0 && replies.empty() && !writing) {
            best = std::min(best, std::make_pair(lastActivity + o.idleTimeout, Deadline::Idle));
        }
        return best;
    }

    void updateTimer() {
        if (closed) return;
        const auto [when, what] = nextDeadline();
        if (what == Deadline::None) return;        // an armed timer wakes up and finds nothing
        if (timerArmed && armedAt <= when) return;  // an earlier wake-up re-checks then
        timerArmed = true;
        armedAt = when;
        timer.expires_at(when);
        timer.async_wait([self = shared_from_this()](const asio::error_code& ec) {
            if (ec == asio::error::operation_aborted) return;  // re-armed or closed
            self->guarded([&] { self->onTimer(); });
        });
    }

    void onTimer() {
        timerArmed = false;
        if (closed) return;
        const auto [when, what] = nextDeadline();
        if (what == Deadline::None) return;
        if (Clock::now() < when) {
            updateTimer();
            return;
        }
        const auto& o = server->options;
        switch (what) {
            case Deadline::Read: {
                ++server->readTimeouts;
                server->countRejected(FrameErrorCode::Truncated);
                std::string detail = "frame not completed within " + ms(o.readTimeout) + ": " +
                                     std::to_string(reader.received()) + " of ";
                detail += reader.expected() ? std::to_string(reader.expected()) + " bytes received"
                                            : "a " + std::to_string(kFrameHeaderBytes) + "-byte header received";
                queueError(0, 0, FrameError(FrameErrorCode::Truncated, detail).what());
                frameOpen = false;
                beginClose();
                break;
            }
            case Deadline::Idle:
                ++server->idleTimeouts;
                queueError(0, 0, "idle timeout: no request for " + ms(o.idleTimeout) + "; closing the connection");
                beginClose();
                break;
            case Deadline::Write:
                ++server->writeTimeouts;
                close();
                break;
            case Deadline::Closing:
                if (!draining) ++server->writeTimeouts;  // the final error could not be written in time
                close();
                break;
            case Deadline::None: break;
        }
    }

    // Called on the session's strand from Impl::stop().
    void shutdownNow() { close(); }
};

void FrameServer::Impl::doAccept() {
    auto strand = asio::make_strand(io);
    acceptor.async_accept(strand, [self = shared_from_this(), strand](const asio::error_code& ec, tcp::socket socket) {
        if (!self->acceptor.is_open()) return;
        if (ec) {
            if (ec == asio::error::operation_aborted) return;
            // Out of descriptors or a transient network error: back off instead of spinning.
            self->acceptRetry.expires_after(std::chrono::milliseconds(50));
            self->acceptRetry.async_wait([self](const asio::error_code& e) {
                if (!e) self->doAccept();
            });
            return;
        }
        std::shared_ptr<Session> session;
        {
            std::lock_guard lock(self->mutex);
            if (self->stopping) return;  // the socket closes with this scope
            ++self->accepted;
            const bool serve = self->active.load() < static_cast<uint64_t>(std::max(1, self->options.maxClients));
            if (serve) ++self->active;
            else ++self->rejectedBusy;
            session = std::make_shared<Session>(self, strand, std::move(socket), self->nextSession++, serve);
            self->sessions.emplace(session->id, session);
        }
        asio::post(session->strand, [session] { session->guarded([&] { session->begin(); }); });
        self->doAccept();
    });
}

std::vector<uint8_t> FrameServer::Impl::answer(const Frame& request) {
    const auto fail = [&](const std::string& message) { return errorFrame(request.sequence, request.planHash, message); };
    Frame reply;
    try {
        reply = handler(request);
    } catch (const FrameError& e) {  // checkFrame's WrongPlan / WrongTensors / WrongShape, ...
        countRejected(e.code());
        return fail(e.what());
    } catch (const std::exception& e) {
        ++handlerErrors;
        return fail(std::string("handler failed: ") + e.what());
    } catch (...) {
        ++handlerErrors;
        return fail("handler failed with an unknown exception");
    }
    if (reply.type != FrameType::Error) reply.type = FrameType::Reply;
    reply.sequence = request.sequence;
    reply.planHash = request.planHash;
    std::vector<uint8_t> bytes;
    try {
        bytes = encodeFrame(reply);
    } catch (const FrameError& e) {
        ++handlerErrors;
        return fail(std::string("handler returned an invalid reply: ") + e.what());
    }
    if (bytes.size() > options.limits.maxFrameBytes) {
        ++handlerErrors;
        return fail("handler reply of " + std::to_string(bytes.size()) + " bytes exceeds maxFrameBytes (" +
                    std::to_string(options.limits.maxFrameBytes) + ")");
    }
    if (reply.type == FrameType::Error) ++handlerErrors;
    else ++framesOk;
    return bytes;
}

void FrameServer::Impl::stop() {
    {
        std::unique_lock lock(mutex);
        if (stopping) {
            stoppedCv.wait(lock, [&] { return stopped; });
            return;
        }
        stopping = true;
    }
    // Close the listener and every connection on their own executors, then let the io
    // threads drain: running handler calls hold work guards, so their replies are delivered
    // (to closed sessions, which drop them) before io.run() returns.
    asio::post(acceptStrand, [this] {
        asio::error_code ec;
        acceptor.close(ec);
        acceptRetry.cancel();
    });
    std::vector<std::shared_ptr<Session>> open;
    {
        std::lock_guard lock(mutex);
        for (auto& [sid, weak] : sessions)
            if (auto s = weak.lock()) open.push_back(std::move(s));
    }
    for (auto& s : open) asio::post(s->strand, [s] { s->shutdownNow(); });
    open.clear();
    work.reset();
    std::vector<std::thread> joined;
    {
        std::lock_guard lock(mutex);
        joined.swap(threads);
    }
    if (joined.empty()) {
        // Never started: run the posted closes here.
        io.restart();
        runThread();
    }
    for (auto& t : joined) t.join();
    pool.join();
    // Replies posted by the last handler calls after the io threads ended.
    io.restart();
    runThread();
    {
        std::lock_guard lock(mutex);
        stopped = true;
    }
    stoppedCv.notify_all();
}

FrameServer::FrameServer(const std::string& host, uint16_t port, ServerOptions options, Handler handler)
    : impl_(std::make_shared<Impl>(options, std::move(handler))) {
    if (!impl_->handler) throw Error("FrameServer: no handler");
    if (options.readTimeout.count() <= 0 || options.idleTimeout.count() <= 0)
        throw Error("FrameServer: readTimeout and idleTimeout must be positive");
    if (options.limits.maxFrameBytes < kFrameHeaderBytes + kFrameTrailerBytes)
        throw Error("FrameServer: maxFrameBytes " + std::to_string(options.limits.maxFrameBytes) +
                    " is smaller than an empty frame (40 bytes)");
    impl_->listen(host, port);
}

FrameServer::~FrameServer() {
    try {
        stop();
    } catch (...) {
    }
}

uint16_t FrameServer::port() const { return impl_->boundPort; }

void FrameServer::start() { impl_->start(); }

void FrameServer::run() {
    impl_->start();
    std::unique_lock lock(impl_->mutex);
    impl_->stoppedCv.wait(lock, [&] { return impl_->stopped; });
}

void FrameServer::stop() { impl_->stop(); }

ServerStats FrameServer::stats() const {
    const Impl& s = *impl_;
    ServerStats st;
    st.connectionsAccepted = s.accepted.load();
    st.connectionsActive = s.active.load();
    st.connectionsRejectedBusy = s.rejectedBusy.load();
    st.framesOk = s.framesOk.load();
    for (size_t c = 0; c < kErrorCodes; ++c)
        if (const uint64_t n = s.rejected[c].load()) st.framesRejected[static_cast<FrameErrorCode>(c)] = n;
    st.handlerErrors = s.handlerErrors.load();
    st.readTimeouts = s.readTimeouts.load();
    st.idleTimeouts = s.idleTimeouts.load();
    st.writeTimeouts = s.writeTimeouts.load();
    st.disconnectsMidFrame = s.disconnectsMidFrame.load();
    st.bytesBuffered = s.buffered.load();
    st.peakBytesBuffered = s.peakBuffered.load();
    return st;
}

}  // namespace autosplit::deploy
