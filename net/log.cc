#include "net/log.h"

#include <cstdio>
#include <mutex>

namespace fedledger::net {

const char* LogLevelName(LogLevel level) {
  switch (level) {
    case LogLevel::kDebug: return "debug";
    case LogLevel::kInfo: return "info";
    case LogLevel::kWarn: return "warn";
    case LogLevel::kError: return "error";
  }
  return "unknown";
}

void StderrLog(LogLevel level, const std::string& line) {
  static std::mutex mu;
  std::string out = std::string("level=") + LogLevelName(level) + " " + line + "\n";
  std::lock_guard<std::mutex> lock(mu);
  std::fwrite(out.data(), 1, out.size(), stderr);
}

std::string LogQuote(std::string_view value) {
  bool needs = value.empty();
  for (char c : value) {
    if (c == ' ' || c == '"' || c == '=' || c == '\\' || static_cast<unsigned char>(c) < 0x20) {
      needs = true;
      break;
    }
  }
  if (!needs) return std::string(value);
  std::string out = "\"";
  for (char c : value) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (c == '\n') {
      out += "\\n";
    } else if (static_cast<unsigned char>(c) < 0x20) {
      out += '?';
    } else {
      out += c;
    }
  }
  out += '"';
  return out;
}

}  // namespace fedledger::net
