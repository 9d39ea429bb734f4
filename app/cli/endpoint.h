// HOST:PORT of the runtime commands (cloud-serve --listen, edge-run --connect).
#pragma once

#include "command.h"

#include <cstdint>
#include <string>
#include <utility>

namespace autosplit::cli {

// "127.0.0.1:9000", "[::1]:9000", "localhost:9000"; UsageError naming `option` otherwise.
inline std::pair<std::string, uint16_t> parseEndpoint(const std::string& s, const char* option) {
    const auto colon = s.rfind(':');
    if (colon == std::string::npos || colon == 0 || colon + 1 == s.size())
        throw UsageError{std::string(option) + " needs HOST:PORT, got '" + s + "'"};
    std::string host = s.substr(0, colon);
    if (host.size() > 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
    const std::string port = s.substr(colon + 1);
    if (port.find_first_not_of("0123456789") != std::string::npos || port.size() > 5 || std::stoul(port) > 65535)
        throw UsageError{std::string(option) + ": '" + port + "' is not a port number (0..65535)"};
    return {host, static_cast<uint16_t>(std::stoul(port))};
}

}  // namespace autosplit::cli
