// Multi-process tests: 4 real `fedledger node` processes on loopback, with named adversaries
// (kill -9, stop two, SIGSTOP the proposer). Each is bounded in time and cleans up its
// processes and directory in destructors, whatever happens.
#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <filesystem>
#include <string>

#include <catch2/catch.hpp>

#include "net/http_client.h"
#include "tests/node/cluster.h"

namespace fedledger::testing {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;

// Every node in `nodes` holds the same block at every height up to `upto`: no fork.
void CheckSameBlocks(const Cluster& c, const std::vector<int>& nodes, int64_t upto) {
  for (int64_t h = 1; h <= upto; ++h) {
    std::string first = c.BlockHash(nodes[0], static_cast<uint64_t>(h));
    REQUIRE(!first.empty());
    for (size_t k = 1; k < nodes.size(); ++k) {
      INFO("height " << h << ", node" << nodes[0] << " vs node" << nodes[k]);
      REQUIRE(c.BlockHash(nodes[k], static_cast<uint64_t>(h)) == first);
    }
  }
}

// Waits until every node in `nodes` answers with one common height; returns it (or -1).
int64_t WaitSameHeight(const Cluster& c, const std::vector<int>& nodes,
                       std::chrono::milliseconds timeout) {
  int64_t common = -1;
  Cluster::WaitFor(timeout, [&] {
    int64_t h0 = c.Height(nodes[0]);
    for (int n : nodes) {
      if (c.Height(n) != h0 || h0 < 0) return false;
    }
    common = h0;
    return true;
  });
  return common;
}

// Stops every node, then audits every store from its genesis: all must verify and agree on
// the log root and head.
void StopAndAuditAll(Cluster& c) {
  c.Down();
  json first = c.Audit(0);
  CHECK(first["ok"] == true);
  for (int i = 1; i < c.size(); ++i) {
    json a = c.Audit(i);
    INFO("node" << i);
    CHECK(a["log_root"] == first["log_root"]);
    CHECK(a["head_hash"] == first["head_hash"]);
    CHECK(a["blocks"] == first["blocks"]);
  }
}

TEST_CASE("kill -9 one of 4 validators: commits continue - restarted, it catches up and audits "
          "to the same log root", "[multiprocess]") {
  Cluster c(4);
  c.Up();
  LoadGenerator load(c, {0, 1, 2}, 3);
  REQUIRE(Cluster::WaitFor(15s, [&] { return c.Height(0) >= 5; }));
  {
    // The heights node0 voted through are timed by phase, and its store's commits by part.
    auto m = net::HttpGet(c.url(0) + "/metrics");
    REQUIRE(m.ok());
    auto value = [&](const std::string& series) {
      size_t at = m->body.find("\n" + series + " ");
      REQUIRE(at != std::string::npos);
      return std::stod(m->body.substr(at + series.size() + 2));
    };
    CHECK(value("fedledger_height_phases_total") >= 1);
    CHECK(value("fedledger_height_phase_seconds_total{phase=\"to_commit\"}") > 0);
    CHECK(value("fedledger_store_commits_total") >= 5);
    CHECK(value("fedledger_store_commit_seconds_total{part=\"log_write\"}") > 0);
  }

  c.Signal(3, SIGKILL);
  int64_t h_kill = c.Height(0);
  uint64_t committed_at_kill = load.committed();
  REQUIRE(Cluster::WaitFor(15s, [&] {
    return c.Height(0) >= h_kill + 8 && load.committed() >= committed_at_kill + 20;
  }));
  CHECK(c.Height(3, 200) == -1);  // really gone

  c.Up(3);
  int64_t target = c.Height(0);
  REQUIRE(Cluster::WaitFor(20s, [&] { return c.Height(3) >= target; }));
  // It keeps up under load, not just once.
  int64_t later = c.Height(0) + 3;
  REQUIRE(Cluster::WaitFor(15s, [&] { return c.Height(3) >= later; }));
  load.Stop();
  int64_t h = WaitSameHeight(c, {0, 1, 2, 3}, 10s);
  REQUIRE(h >= later);
  CheckSameBlocks(c, {0, 1, 2, 3}, h);
  StopAndAuditAll(c);
}

TEST_CASE("stop 2 of 4 validators: the cluster halts without forking and resumes when one "
          "returns", "[multiprocess]") {
  Cluster c(4);
  c.Up();
  LoadGenerator load(c, {0, 1}, 2);
  REQUIRE(Cluster::WaitFor(15s, [&] { return c.Height(0) >= 3; }));

  c.Down(3);
  c.Down(2);
  std::this_thread::sleep_for(1s);  // a block already certified may still land
  int64_t halted = std::max(c.Height(0), c.Height(1));
  uint64_t committed_at_halt = load.committed();
  std::this_thread::sleep_for(3s);
  CHECK(c.Height(0) == halted);
  CHECK(c.Height(1) == halted);
  CHECK(load.committed() == committed_at_halt);
  CheckSameBlocks(c, {0, 1}, std::min(c.Height(0), c.Height(1)));

  c.Up(2);
  REQUIRE(Cluster::WaitFor(30s, [&] {
    return c.Height(0) >= halted + 3 && c.Height(2) >= halted + 3;
  }));
  CHECK(load.committed() > committed_at_halt);
  load.Stop();
  c.Up(3);  // the last one catches up from its peers
  int64_t h = WaitSameHeight(c, {0, 1, 2, 3}, 20s);
  REQUIRE(h >= halted + 3);
  CheckSameBlocks(c, {0, 1, 2, 3}, h);
  StopAndAuditAll(c);
}

// The descriptors of node `i` that point at `path`.
int OpenCopies(const Cluster& c, int i, const std::string& path) {
  int n = 0;
  std::string dir = "/proc/" + std::to_string(c.Pid(i)) + "/fd";
  for (const auto& fd : std::filesystem::directory_iterator(dir)) {
    std::error_code ec;
    if (std::filesystem::read_symlink(fd.path(), ec) == path) ++n;
  }
  return n;
}

TEST_CASE("SIGSTOP the next proposer: the others move on by timeout", "[multiprocess]") {
  Cluster c(4);
  // A descriptor this process holds open (inheritable, as a caller's lock file would be) must
  // not end up held by the nodes that testnet up starts.
  std::string held = c.dir() + "/held-by-the-launcher";
  int held_fd = ::open(held.c_str(), O_RDWR | O_CREAT, 0644);
  REQUIRE(held_fd >= 0);
  held = std::filesystem::canonical(held).string();  // as /proc/PID/fd shows it
  c.Up();
  ::close(held_fd);
  for (int i = 0; i < 4; ++i) {
    INFO("node" << i);
    CHECK(OpenCopies(c, i, held) == 0);
  }
  LoadGenerator load(c, {0, 1, 2, 3}, 3);
  REQUIRE(Cluster::WaitFor(15s, [&] { return c.Height(0) >= 3; }));

  // The proposer of round 0 at height H is validator (H mod 4) = node (H mod 4).
  json s = c.Status(0);
  REQUIRE(s.is_object());
  uint64_t next = s["consensus"]["height"].get<uint64_t>();
  int paused = static_cast<int>((next + 1) % 4);  // proposer of the height after next
  std::vector<int> others;
  for (int i = 0; i < 4; ++i) {
    if (i != paused) others.push_back(i);
  }
  load.SetTargets(others);
  c.Signal(paused, SIGSTOP);
  int64_t h_pause = c.Height(others[0]);

  // Enough heights that the paused node's turn came at least once.
  REQUIRE(Cluster::WaitFor(25s, [&] { return c.Height(others[0]) >= h_pause + 6; }));
  bool timeout_round = false;
  for (int64_t h = h_pause + 1; h <= h_pause + 6; ++h) {
    auto r = net::HttpGet(c.url(others[0]) + "/blocks/" + std::to_string(h) + "?entries=0");
    REQUIRE(r.ok());
    json b = json::parse(r->body);
    if (b["certificate_round"].get<uint32_t>() > 0) timeout_round = true;
  }
  CHECK(timeout_round);  // some height needed a round after the paused proposer's timeout

  c.Signal(paused, SIGCONT);
  int64_t target = c.Height(others[0]);
  REQUIRE(Cluster::WaitFor(20s, [&] { return c.Height(paused) >= target; }));
  load.Stop();
  int64_t h = WaitSameHeight(c, {0, 1, 2, 3}, 10s);
  REQUIRE(h >= target);
  CheckSameBlocks(c, {0, 1, 2, 3}, h);
  StopAndAuditAll(c);
}

}  // namespace
}  // namespace fedledger::testing
