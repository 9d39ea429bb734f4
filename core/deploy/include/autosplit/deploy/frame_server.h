// The cloud side of the wire: a TCP server that reads Request frames (frame.h), runs the
// application's inference on them and writes the replies back, for many clients at once.
//
// Guarantees:
// - Threads: accept, read and write run asynchronously on `ioThreads` threads (standalone
//   Asio, one strand per connection); handler calls run on a pool of `workerThreads`, so a slow
//   inference never stalls other connections' reads. Replies leave in request order per
//   connection. With workerThreads > 1 the handler is called concurrently: it must be
//   thread-safe.
// - Replies: the server stamps the handler's frame with the request's sequence number and plan
//   hash, and type Reply unless the handler returned an Error frame. A handler that throws
//   (FrameError from checkFrame, any Error, any std::exception) is answered with an Error frame
//   carrying its message; the connection stays open. A reply larger than maxFrameBytes is
//   replaced by an Error frame saying so.
// - Malformed input: answered with an Error frame whose message is the FrameError's
//   ("BadCrc: ..."), with the frame's sequence and plan hash when its fixed header was intact
//   (else 0). After a code for which closesConnection() is true (bad magic, bad version,
//   oversized, bad CRC, truncated) the server sends the error, then closes that connection
//   (write side first, then a short drain so the error is not lost to a reset); after the
//   others (bad type, too many tensors, bad tensor header, size mismatch) the frame is skipped
//   and the connection goes on.
// - Timeouts: a frame whose first byte arrived must be complete within readTimeout (slow
//   clients and slow-loris attacks: "Truncated: frame not completed within ..."), a connection
//   with no frame in progress and no reply pending is closed after idleTimeout ("idle timeout:
//   ..."), both with an Error frame when it can be written; a reply write (or the final error
//   and drain) taking longer than readTimeout closes the connection without one.
// - Memory: a connection's partial-frame buffer stays ≤ maxFrameBytes (FrameReader), at most
//   maxQueuedPerClient decoded requests wait per connection (reading pauses beyond), and at
//   most maxClients connections are served: the next ones are accepted, sent an Error frame
//   "server busy: ..." and closed.
// - Robustness: nothing a client does (garbage, disconnecting mid-frame, not reading replies)
//   makes run() throw or the server stop; such events are only counted in stats().
#pragma once

#include "autosplit/deploy/frame.h"

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>

namespace autosplit::deploy {

struct ServerOptions {
    FrameLimits limits;                                // per frame read from a client
    std::chrono::milliseconds readTimeout{10'000};     // a started frame, a reply write, the closing drain
    std::chrono::milliseconds idleTimeout{60'000};     // no frame in progress and nothing pending
    int ioThreads = 1;                                 // Asio threads: accept, read, write, timers
    int workerThreads = 1;                             // handler calls
    int maxClients = 64;                               // connections served at once
    int maxQueuedPerClient = 4;                        // decoded requests awaiting their reply, per connection
};

// Counters since construction; a consistent-enough snapshot (each field read atomically).
struct ServerStats {
    uint64_t connectionsAccepted = 0;      // every accepted socket, busy rejections included
    uint64_t connectionsActive = 0;        // served connections open now
    uint64_t connectionsRejectedBusy = 0;  // closed with "server busy" (maxClients reached)
    uint64_t framesOk = 0;                 // requests answered with the handler's reply
    std::map<FrameErrorCode, uint64_t> framesRejected;  // answered with an Error frame, by code:
                                           // reader errors, handler FrameErrors, read timeouts (Truncated)
    uint64_t handlerErrors = 0;            // handler threw something other than a FrameError
    uint64_t readTimeouts = 0, idleTimeouts = 0, writeTimeouts = 0;
    uint64_t disconnectsMidFrame = 0;      // the peer closed with a frame partly received
    uint64_t bytesBuffered = 0;            // partial-frame buffers of all connections now (FrameReader)
    uint64_t peakBytesBuffered = 0;        // the largest bytesBuffered seen
};

class FrameServer {
public:
    using Handler = std::function<Frame(const Frame& request)>;

    // Binds and listens at once (port 0: any free port, see port()); throws Error when it
    // cannot. Serving starts with start() or run().
    FrameServer(const std::string& host, uint16_t port, ServerOptions options, Handler handler);
    ~FrameServer();  // stop()
    FrameServer(const FrameServer&) = delete;
    FrameServer& operator=(const FrameServer&) = delete;

    uint16_t port() const;

    // Serves on background threads and returns.
    void start();
    // Serves until stop() is called from another thread.
    void run();
    // Closes the listener and every connection, waits for running handler calls to return and
    // for the threads to finish. Idempotent, callable from any thread except the server's own
    // (a handler). A stopped server does not start again.
    void stop();

    ServerStats stats() const;  // thread-safe

    struct Impl;

private:
    std::shared_ptr<Impl> impl_;
};

}  // namespace autosplit::deploy
