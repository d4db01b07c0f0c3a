// fedledger node: run one validator until SIGTERM or SIGINT.
#include <malloc.h>
#include <signal.h>
#include <unistd.h>

#include <climits>
#include <cstdio>
#include <mutex>
#include <thread>

#include "ledger/describe.h"
#include "ledger/thread_name.h"
#include "node/node.h"
#include "tools/command.h"
#include "tools/common.h"

#ifdef FEDLEDGER_HAVE_DRIVER
#include "driver/node_host.h"
#include "driver/round_driver.h"
#include "node/artifact_store.h"
#include "trainer/model.h"
#endif

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
  auto* cmd = app.add_subcommand("node", kNodeCommandHelp);
  auto config_path = std::make_shared<std::string>();
  cmd->add_option("--config", *config_path, "Node config file (TOML)")->required();
  cmd->callback([config_path] {
    // Round artifacts are ~34 MB buffers, allocated and freed several times a round. glibc
    // serves blocks that large with mmap and unmaps them on free, so every round faulted
    // ~100 MB of fresh pages in again (slow on this VM). Serving them from the heap and never
    // trimming it keeps those pages: the demo federation's median round took 1.49-1.60 s
    // instead of 1.80-1.81 s (bench/RESULTS.md). The price: a node keeps its peak heap.
    mallopt(M_MMAP_MAX, 0);
    mallopt(M_TRIM_THRESHOLD, INT_MAX);
    RefuseDirectory(*config_path, "a config file");
    node::NodeConfig config = Unwrap(node::LoadNodeConfig(*config_path));
#ifndef FEDLEDGER_HAVE_DRIVER
    if (!config.partner.key_file.empty()) {
      throw Failure(*config_path + ": [partner] needs the round driver, and this fedledger was "
                    "built without the trainer (-DFEDLEDGER_WITH_TRAINER=OFF)", 2);
    }
#endif
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
#ifdef FEDLEDGER_HAVE_DRIVER
    // The round driver: this node's side of the federation's rounds (partner and aggregator).
    std::unique_ptr<driver::NodeHost> host;
    std::unique_ptr<driver::RoundDriver> rounds;
    std::thread rounds_thread;
    if (node->orchestrator() != nullptr) {
      driver::DriverOptions o;
      o.node_key = node->node_key();
      o.node_signer = Unwrap(LoadSecretKey(config.node_key_file));
      if (!config.partner.key_file.empty()) {
        o.partner_key = Unwrap(LoadSecretKey(config.partner.key_file));
        o.datasets = config.partner.datasets;
        trainer::SetTorchThreads(config.partner.torch_threads);
      }
      o.work_dir = config.data_dir + "/tasks";
      o.log = [](const std::string& line) { TimestampedLog(net::LogLevel::kInfo, line); };
      host = std::make_unique<driver::NodeHost>(
          node.get(), config,
          o.partner_key ? std::optional<PubKey>(o.partner_key->pubkey()) : std::nullopt);
      rounds = std::make_unique<driver::RoundDriver>(host.get(), std::move(o));
      // Step as soon as what the driver waits for happens: a block (an update, an aggregate
      // committed) or an artifact (an update received), not at the end of a poll interval.
      driver::RoundDriver* r = rounds.get();
      node->AddCommitListener([r](const Block& block) { r->OnCommitted(block); });
      node->artifacts().AddListener([r](const Hash32&) { r->Wake(); });
      rounds_thread = std::thread([&rounds] { rounds->Run(); });
      NameThread(rounds_thread, "fl-rounds");
    }
#endif
    int sig = 0;
    while (sigwait(&set, &sig) != 0) {
    }
    TimestampedLog(net::LogLevel::kInfo,
                   std::string("component=node event=stopping signal=") +
                       (sig == SIGTERM ? "SIGTERM" : sig == SIGINT ? "SIGINT" : "fatal"));
#ifdef FEDLEDGER_HAVE_DRIVER
    if (rounds) {
      rounds->Stop();
      rounds_thread.join();
      rounds.reset();
      host.reset();  // finishes writing fetched copies while the node is still there
    }
#endif
    node->Stop();
    node.reset();
    if (sig == SIGUSR1) throw Failure("consensus stopped after a fatal error (see the log)", 4);
  });
});

}  // namespace
}  // namespace fedledger::cli
