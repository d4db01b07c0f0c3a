// Subcommands of the `fedledger` CLI register themselves here, one file per command group,
// so adding a command never touches main.cc.
//
//   static fedledger::cli::Registrar reg("audit", [](CLI::App& app) { ... });
//
// The callback adds its subcommand(s) to the top-level app. Commands report failures by
// throwing cli::Failure (message printed as "error: ...", exit code as given); main.cc
// converts any other exception into an internal error.
#pragma once

#include <CLI/CLI.hpp>
#include <functional>
#include <stdexcept>
#include <string>

#include "ledger/status.h"

namespace fedledger::cli {

using RegisterFn = std::function<void(CLI::App&)>;

struct Registrar {
  Registrar(const char* order_key, RegisterFn fn);
};

void RegisterAll(CLI::App& app);

// The commands that `fedledger` hands to fedledger-ml (tools/light/forward.cc): their
// descriptions, so that both binaries' --help say the same.
inline constexpr const char* kNodeCommandHelp =
    "Run a validator: consensus with its peers, the ledger store and the HTTP API\n"
    "(config format in docs/OPERATIONS.md). Stops cleanly on SIGTERM or SIGINT";
inline constexpr const char* kTrainCommandHelp =
    "Train models: one partner alone, or a simulated federation";
inline constexpr const char* kDataCommandHelp = "Data set utilities";

// Exit codes: 1 a verification found a problem (audit verify on a tampered store),
// 2 bad usage or bad input, 3 an I/O or environment problem, 4 internal error.
struct Failure : std::runtime_error {
  Failure(std::string msg, int code) : std::runtime_error(std::move(msg)), exit_code(code) {}
  int exit_code;
};

inline int ExitCodeFor(const Status& s) {
  switch (s.code()) {
    case Status::Code::kCorruption: return 1;
    case Status::Code::kInvalidArgument:
    case Status::Code::kNotFound:
    case Status::Code::kAlreadyExists:
    case Status::Code::kPermissionDenied:
    case Status::Code::kFailedPrecondition: return 2;
    case Status::Code::kIOError:
    case Status::Code::kUnavailable:
    case Status::Code::kResourceExhausted: return 3;
    default: return 4;
  }
}

// Throws Failure with the status's message unless it is OK.
inline void Check(const Status& s) {
  if (!s.ok()) throw Failure(s.message(), ExitCodeFor(s));
}
template <typename T>
T Unwrap(Result<T> r) {
  Check(r.status());
  return std::move(r).value();
}

}  // namespace fedledger::cli
