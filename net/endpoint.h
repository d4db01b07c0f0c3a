// host:port endpoints as they appear in configs and peer lists. Value type, thread-compatible.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "ledger/status.h"

namespace fedledger::net {

struct HostPort {
  std::string host;   // name, IPv4 literal, or IPv6 literal without brackets
  uint16_t port = 0;
  // "127.0.0.1:26656", "[::1]:26656".
  std::string ToString() const;
  bool operator==(const HostPort&) const = default;
};

// Parses "host:port" or "[v6]:port". Port 1..65535, or 0 when `allow_zero_port` (listen on an
// ephemeral port). InvalidArgument naming what is wrong otherwise.
Result<HostPort> ParseHostPort(std::string_view s, bool allow_zero_port = false);

}  // namespace fedledger::net
