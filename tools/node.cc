// fedledger node: run one validator until SIGTERM or SIGINT.
#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <mutex>

#include "ledger/describe.h"
#include "node/node.h"
#include "tools/command.h"

namespace fedledger::cli {
namespace {

// "ts=2026-11-23T16:04:05.123Z level=info component=node event=commit ..." on stderr.
void TimestampedLog(net::LogLevel level, const std::string& line) {
  static std::mutex mu;
  uint64_t ms = static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
      std::chrono::system_clock::now().time_since_epoch()).count());
  std::string out = "ts=" + FormatTimeMs(ms) + " level=" + net::LogLevelName(level) + " " + line + "\n";
  std::lock_guard<std::mutex> lock(mu);
  std::fwrite(out.data(), 1, out.size(), stderr);
  std::fflush(stderr);
}

Registrar reg("40-node", [](CLI::App& app) {
  auto* cmd = app.add_subcommand(
      "node", "Run a validator: consensus with its peers, the ledger store and the HTTP API\n"
              "(config format in docs/OPERATIONS.md). Stops cleanly on SIGTERM or SIGINT");
  auto config_path = std::make_shared<std::string>();
  cmd->add_option("--config", *config_path, "Node config file (TOML)")->required();
  cmd->callback([config_path] {
    node::NodeConfig config = Unwrap(node::LoadNodeConfig(*config_path));
    // Every thread the node starts inherits this mask; this thread takes the signals with
    // sigwait, so shutdown runs in ordinary code rather than in a signal handler. SIGUSR1 is
    // our own "consensus failed" wake-up.
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGUSR1);
    pthread_sigmask(SIG_BLOCK, &set, nullptr);

    auto node = Unwrap(node::Node::Open(config, TimestampedLog));
    node->SetFatalHandler([](const Status&) { ::kill(::getpid(), SIGUSR1); });
    Check(node->Start());
    int sig = 0;
    while (sigwait(&set, &sig) != 0) {
    }
    TimestampedLog(net::LogLevel::kInfo,
                   std::string("component=node event=stopping signal=") +
                       (sig == SIGTERM ? "SIGTERM" : sig == SIGINT ? "SIGINT" : "fatal"));
    node->Stop();
    node.reset();
    if (sig == SIGUSR1) throw Failure("consensus stopped after a fatal error (see the log)", 4);
  });
});

}  // namespace
}  // namespace fedledger::cli
