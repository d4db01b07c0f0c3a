// Structured log lines for the transports. A LogFn receives one line of space-separated
// key=value pairs ("component=peer event=handshake_rejected peer=1a2b.. reason=\"unknown key\"")
// and a level; the node decides where lines go. LogFns may be called from any io thread,
// concurrently: they must be thread-safe.
#pragma once

#include <functional>
#include <string>
#include <string_view>

namespace fedledger::net {

enum class LogLevel { kDebug, kInfo, kWarn, kError };

const char* LogLevelName(LogLevel level);

using LogFn = std::function<void(LogLevel level, const std::string& line)>;

// Writes "level=<lvl> <line>\n" to stderr, one write per line (thread-safe).
void StderrLog(LogLevel level, const std::string& line);

// Quotes a value for a key=value line when it contains spaces, quotes or '=':
// LogQuote("unknown key") == "\"unknown key\"".
std::string LogQuote(std::string_view value);

}  // namespace fedledger::net
