#include "tests/node/cluster.h"

#include <signal.h>
#include <stdlib.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstdio>
#include <fstream>

#include "ledger/entry.h"
#include "net/http_client.h"

namespace fedledger::testing {

using nlohmann::json;

int RunCommand(const std::string& cmdline, std::string* out) {
  std::string full = cmdline + " 2>&1";
  FILE* p = ::popen(full.c_str(), "r");
  if (!p) return -1;
  std::string text;
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof(buf), p)) > 0) text.append(buf, n);
  int status = ::pclose(p);
  if (out) *out = std::move(text);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128;
}

Cluster::Cluster(int validators) {
  char tmpl[] = "/tmp/fedledger-mp.XXXXXX";
  REQUIRE(::mkdtemp(tmpl) != nullptr);
  dir_ = std::string(tmpl) + "/net";
  std::string out;
  int rc = RunCommand(std::string(FEDLEDGER_BINARY) + " testnet init --dir " + dir_ +
                          " --validators " + std::to_string(validators) + " --partners 3",
                      &out);
  INFO(out);
  REQUIRE(rc == 0);
  std::ifstream f(dir_ + "/testnet.json");
  json m = json::parse(f);
  chain_id_ = m["chain_id"].get<std::string>();
  for (const auto& v : m["validators"]) urls_.push_back(v["http"].get<std::string>());
  for (const auto& p : m["partners"]) {
    auto k = LoadSecretKey(p["key_file"].get<std::string>());
    REQUIRE(k.ok());
    partner_keys_.push_back(*k);
  }
}

Cluster::~Cluster() {
  for (int i = 0; i < size(); ++i) {
    pid_t pid = Pid(i);
    if (pid > 0) {
      ::kill(pid, SIGCONT);
      ::kill(pid, SIGKILL);
    }
  }
  if (!::getenv("FEDLEDGER_KEEP_TESTNET")) {
    std::string parent = dir_.substr(0, dir_.rfind('/'));
    RunCommand("rm -rf '" + parent + "'");
  } else {
    std::fprintf(stderr, "kept testnet in %s\n", dir_.c_str());
  }
}

void Cluster::Up(int node) {
  std::string out;
  int rc = RunCommand(std::string(FEDLEDGER_BINARY) + " testnet up --dir " + dir_ +
                          (node >= 0 ? " --node " + std::to_string(node) : ""),
                      &out);
  INFO(out);
  REQUIRE(rc == 0);
}

void Cluster::Down(int node) {
  std::string out;
  int rc = RunCommand(std::string(FEDLEDGER_BINARY) + " testnet down --dir " + dir_ +
                          (node >= 0 ? " --node " + std::to_string(node) : ""),
                      &out);
  INFO(out);
  REQUIRE(rc == 0);
  // A clean stop, not the SIGKILL fallback.
  CHECK(out.find("killed") == std::string::npos);
}

pid_t Cluster::Pid(int node) const {
  std::ifstream f(node_dir(node) + "/node.pid");
  long pid = 0;
  if (!(f >> pid)) return 0;
  return static_cast<pid_t>(pid);
}

void Cluster::Signal(int node, int sig) {
  pid_t pid = Pid(node);
  REQUIRE(pid > 0);
  REQUIRE(::kill(pid, sig) == 0);
}

json Cluster::Status(int node, int timeout_ms) const {
  net::HttpClientOptions o;
  o.timeout = std::chrono::milliseconds(timeout_ms);
  auto r = net::HttpGet(urls_[node] + "/status", o);
  if (!r.ok() || r->status != 200) return json();
  auto j = r->Json();
  return j.ok() ? *j : json();
}

int64_t Cluster::Height(int node, int timeout_ms) const {
  json s = Status(node, timeout_ms);
  if (!s.is_object()) return -1;
  return s["height"].get<int64_t>();
}

std::string Cluster::BlockHash(int node, uint64_t height) const {
  auto r = net::HttpGet(urls_[node] + "/blocks/" + std::to_string(height) + "?entries=0");
  if (!r.ok() || r->status != 200) return "";
  auto j = r->Json();
  return j.ok() ? (*j)["hash"].get<std::string>() : "";
}

bool Cluster::WaitFor(std::chrono::milliseconds timeout, const std::function<bool()>& pred) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    if (pred()) return true;
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
}

json Cluster::Audit(int node) const {
  std::string out;
  int rc = RunCommand(std::string(FEDLEDGER_BINARY) + " audit verify --json --data-dir " +
                          node_dir(node) + " 2>/dev/null",
                      &out);
  INFO("node" << node << " audit: " << out);
  REQUIRE(rc == 0);
  return json::parse(out);
}

LoadGenerator::LoadGenerator(const Cluster& cluster, std::vector<int> targets, int clients)
    : cluster_(cluster), targets_(std::move(targets)) {
  REQUIRE(clients <= static_cast<int>(cluster.partner_keys().size()));
  for (int c = 0; c < clients; ++c) threads_.emplace_back([this, c] { Run(c); });
}

LoadGenerator::~LoadGenerator() { Stop(); }

void LoadGenerator::SetTargets(std::vector<int> targets) {
  std::lock_guard<std::mutex> lock(mu_);
  targets_ = std::move(targets);
}

void LoadGenerator::Stop() {
  stop_ = true;
  for (auto& t : threads_) {
    if (t.joinable()) t.join();
  }
}

void LoadGenerator::Run(int client) {
  // One key per client: a key's nonces come from one closed loop, so they only increase.
  const SecretKey& key = cluster_.partner_keys()[static_cast<size_t>(client)];
  uint64_t nonce = 0;
  uint64_t turn = static_cast<uint64_t>(client);
  while (!stop_) {
    int target;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (targets_.empty()) {
        target = -1;
      } else {
        target = targets_[turn++ % targets_.size()];
      }
    }
    if (target < 0) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
      continue;
    }
    EntryBody body;
    body.chain_id = cluster_.chain_id();
    // Nonces only need to increase; a gap left by a failed attempt is harmless.
    body.nonce = ++nonce;
    body.timestamp_ms = static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
        std::chrono::system_clock::now().time_since_epoch()).count());
    // A fresh dataset id per entry: valid under the orchestrator's rules (the signer is a
    // partner and has not registered this id), which the nodes run by default.
    DatasetRegisterPayload p;
    p.dataset_id = "load-" + std::to_string(client) + "-" + std::to_string(nonce);
    p.content_hash = Sha256(std::to_string(nonce));
    p.rows = nonce;
    p.schema = "smiles,label";
    body.payload = p;
    auto e = Entry::Sign(std::move(body), key);
    if (!e.ok()) {
      ++failed_;
      continue;
    }
    net::HttpClientOptions o;
    o.timeout = std::chrono::milliseconds(3000);
    auto r = net::HttpPostJson(cluster_.url(target) + "/entries",
                               {{"entry", ToHex(e->bytes())}, {"wait", true}, {"timeout_ms", 2000}},
                               o);
    if (r.ok() && r->status == 200) {
      ++committed_;
    } else {
      ++failed_;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  }
}

}  // namespace fedledger::testing
