// The edge side of the wire: a blocking TCP client for FrameServer (frame_server.h). Every call
// takes a timeout; replies are validated with a FrameReader like the server validates requests.
// Not thread-safe: one client per thread (or external locking).
#pragma once

#include "autosplit/deploy/frame.h"

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace autosplit::deploy {

// Where the last roundTrip spent its time (steady clock).
struct ClientTimings {
    std::chrono::microseconds write{0};  // encoding done -> request handed to the kernel
    std::chrono::microseconds wait{0};   // request written -> reply decoded
};

class FrameClient {
public:
    explicit FrameClient(FrameLimits limits = {});  // limits apply to the frames read back
    ~FrameClient();
    FrameClient(const FrameClient&) = delete;
    FrameClient& operator=(const FrameClient&) = delete;

    // Connects (closing any previous connection). Throws Error naming host:port on failure or
    // timeout.
    void connect(const std::string& host, uint16_t port, std::chrono::milliseconds timeout);
    bool connected() const;
    void close();

    // Sends `request` and returns the frame that answers it: the first one read with the same
    // sequence number (a Reply, or an Error frame from the handler or for a malformed request;
    // check `type`). Frames with other sequence numbers (late replies of timed-out requests)
    // are skipped; an Error frame with another sequence number (server busy, idle timeout, a
    // framing error) throws Error with its message. Throws Error on timeout (the connection
    // stays usable) or disconnect, FrameError on a malformed reply (the connection is closed
    // when the reply stream cannot be resynchronized), and encodeFrame's FrameError for an
    // invalid request.
    Frame roundTrip(const Frame& request, std::chrono::milliseconds timeout);

    // For tests and tools: writes bytes as they are (throws Error on timeout or disconnect)...
    void sendRaw(const std::vector<uint8_t>& bytes, std::chrono::milliseconds timeout = std::chrono::seconds(10));
    // ...and reads the next frame, whatever its sequence (throws like roundTrip; the partial
    // frame of a timed-out call is kept for the next).
    Frame readFrame(std::chrono::milliseconds timeout);
    // True when the peer closes the connection within the timeout; false on timeout or when
    // bytes arrive first (they are kept for readFrame).
    bool waitForClose(std::chrono::milliseconds timeout);

    ClientTimings lastTimings() const;

    struct Impl;

private:
    std::unique_ptr<Impl> impl_;
};

}  // namespace autosplit::deploy
