#include "net/endpoint.h"

#include <charconv>

namespace fedledger::net {

std::string HostPort::ToString() const {
  if (host.find(':') != std::string::npos) return "[" + host + "]:" + std::to_string(port);
  return host + ":" + std::to_string(port);
}

Result<HostPort> ParseHostPort(std::string_view s, bool allow_zero_port) {
  const std::string quoted = "'" + std::string(s) + "'";
  HostPort hp;
  std::string_view port_text;
  if (!s.empty() && s[0] == '[') {
    size_t close = s.find(']');
    if (close == std::string_view::npos || close + 1 >= s.size() || s[close + 1] != ':') {
      return Status::InvalidArgument("endpoint " + quoted + ": expected [v6-address]:port");
    }
    hp.host = std::string(s.substr(1, close - 1));
    port_text = s.substr(close + 2);
  } else {
    size_t colon = s.rfind(':');
    if (colon == std::string_view::npos) {
      return Status::InvalidArgument("endpoint " + quoted + ": expected host:port");
    }
    hp.host = std::string(s.substr(0, colon));
    if (hp.host.find(':') != std::string::npos) {
      return Status::InvalidArgument("endpoint " + quoted + ": IPv6 addresses need brackets");
    }
    port_text = s.substr(colon + 1);
  }
  if (hp.host.empty()) return Status::InvalidArgument("endpoint " + quoted + ": empty host");
  for (char c : hp.host) {
    if (static_cast<unsigned char>(c) <= 0x20 || c == '/' || c == '@') {
      return Status::InvalidArgument("endpoint " + quoted + ": bad character in host");
    }
  }
  unsigned port = 0;
  auto [ptr, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
  if (port_text.empty() || ec != std::errc() || ptr != port_text.data() + port_text.size() ||
      port > 65535 || (port == 0 && !allow_zero_port)) {
    return Status::InvalidArgument("endpoint " + quoted + ": bad port");
  }
  hp.port = static_cast<uint16_t>(port);
  return hp;
}

}  // namespace fedledger::net
