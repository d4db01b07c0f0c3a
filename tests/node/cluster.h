// Test helpers for multi-process tests: a loopback testnet of real `fedledger node` processes
// (FEDLEDGER_BINARY) driven through the CLI (testnet init/up/down) and the HTTP API, and a
// closed-loop load generator. Everything is cleaned up by destructors, even when a REQUIRE
// fails: every node process still alive is killed (SIGCONT, then SIGKILL) and the
// directory is removed unless FEDLEDGER_KEEP_TESTNET is set.
#pragma once

#include <sys/types.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "ledger/crypto.h"

namespace fedledger::testing {

// Runs a shell command line; returns its exit status and fills `out` with stdout+stderr.
int RunCommand(const std::string& cmdline, std::string* out = nullptr);

class Cluster {
 public:
  // `fedledger testnet init` in a fresh temporary directory.
  explicit Cluster(int validators);
  ~Cluster();
  Cluster(const Cluster&) = delete;
  Cluster& operator=(const Cluster&) = delete;

  int size() const { return static_cast<int>(urls_.size()); }
  const std::string& dir() const { return dir_; }
  const std::string& url(int i) const { return urls_[i]; }
  std::string node_dir(int i) const { return dir_ + "/node" + std::to_string(i); }
  const std::string& chain_id() const { return chain_id_; }
  const std::vector<SecretKey>& partner_keys() const { return partner_keys_; }

  // `fedledger testnet up/down --dir D [--node I]`; REQUIREs success.
  void Up(int node = -1);
  void Down(int node = -1);
  // Sends a signal to node i's process (from its pid file).
  void Signal(int node, int sig);
  pid_t Pid(int node) const;

  // GET /status of node i; empty json on failure (node down or paused).
  nlohmann::json Status(int node, int timeout_ms = 1000) const;
  // Committed height of node i, or -1 when it does not answer.
  int64_t Height(int node, int timeout_ms = 1000) const;
  // Block hash at `height` on node i ("" when it does not answer).
  std::string BlockHash(int node, uint64_t height) const;
  // Waits until `pred` holds or `timeout` passes; returns whether it held.
  static bool WaitFor(std::chrono::milliseconds timeout, const std::function<bool()>& pred);

  // `fedledger audit verify --json` on node i's store (the node must be stopped).
  nlohmann::json Audit(int node) const;

 private:
  std::string dir_;
  std::string chain_id_;
  std::vector<std::string> urls_;
  std::vector<SecretKey> partner_keys_;
};

// Closed-loop clients: each thread owns one partner key, signs DATASET_REGISTER entries (a
// fresh dataset id each, so the orchestrator's rules accept them) with increasing nonces and
// submits them with wait=true to one of the target nodes, round robin.
class LoadGenerator {
 public:
  LoadGenerator(const Cluster& cluster, std::vector<int> targets, int clients);
  ~LoadGenerator();  // stops
  void SetTargets(std::vector<int> targets);
  void Stop();
  uint64_t committed() const { return committed_.load(); }
  uint64_t failed() const { return failed_.load(); }

 private:
  void Run(int client);
  const Cluster& cluster_;
  std::mutex mu_;
  std::vector<int> targets_;
  std::atomic<bool> stop_{false};
  std::atomic<uint64_t> committed_{0};
  std::atomic<uint64_t> failed_{0};
  std::vector<std::thread> threads_;
};

}  // namespace fedledger::testing
