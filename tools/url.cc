#include "tools/url.h"

namespace fedledger::cli {

std::string PercentEncode(std::string_view s) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(s.size());
  for (char ch : s) {
    auto c = static_cast<unsigned char>(ch);
    bool unreserved = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                      c == '-' || c == '.' || c == '_' || c == '~';
    if (unreserved) {
      out += ch;
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 0xF];
    }
  }
  return out;
}

std::string UrlPath(std::initializer_list<std::string_view> segments) {
  std::string out;
  for (std::string_view s : segments) {
    // "." and ".." are unreserved but would name another path to a normalising server.
    out += "/" + (s == "." ? "%2E" : s == ".." ? "%2E%2E" : PercentEncode(s));
  }
  return out;
}

}  // namespace fedledger::cli
