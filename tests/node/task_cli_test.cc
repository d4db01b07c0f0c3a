// The partners' command line against a real 4-validator testnet on loopback (every node runs
// the orchestrator as its consensus application): datasets registered by file, a task
// proposed from a TOML spec, approvals that make it active only when all three are in, a
// wrong spec hash refused with its reason, a rejection that closes a second task, and the
// whole history in `audit log --task` on a node's store. Bounded; the testnet is always
// cleaned up (tests/node/cluster.h).
#include <algorithm>
#include <catch2/catch.hpp>
#include <fstream>
#include <regex>

#include "net/http_client.h"
#include "tests/node/cluster.h"

namespace fedledger::testing {
namespace {

using namespace std::chrono_literals;
using Catch::Matchers::Contains;
using nlohmann::json;

struct Cli {
  const Cluster& c;
  // Runs `fedledger ARGS`; returns the exit code, output in *out.
  int Run(const std::string& args, std::string* out) const {
    int rc = RunCommand(std::string(FEDLEDGER_BINARY) + " " + args, out);
    UNSCOPED_INFO("$ fedledger " << args << "\n" << *out);
    if (rc == 0) Sync();
    return rc;
  }
  std::string Key(int partner) const {
    return c.dir() + "/keys/partner-" + std::to_string(partner) + ".key";
  }
  // Waits until every node has committed as far as the furthest one: the next command may
  // go to another node, which must already know what this one committed.
  void Sync() const {
    int64_t top = -1;
    for (int i = 0; i < c.size(); ++i) top = std::max(top, c.Height(i));
    if (top < 0) return;  // the testnet is down (offline commands)
    REQUIRE(Cluster::WaitFor(10s, [&] {
      for (int i = 0; i < c.size(); ++i) {
        if (c.Height(i) < top) return false;
      }
      return true;
    }));
  }
  json Get(int node, const std::string& path) const {
    auto r = net::HttpGet(c.url(node) + path);
    REQUIRE(r.ok());
    INFO(path << ": " << r->body);
    REQUIRE(r->status == 200);
    return json::parse(r->body);
  }
};

void WriteFile(const std::string& path, const std::string& text) {
  std::ofstream f(path);
  f << text;
  REQUIRE(f.good());
}

std::string Sha256Sum(const std::string& path) {
  std::string out;
  REQUIRE(RunCommand("sha256sum '" + path + "'", &out) == 0);
  return out.substr(0, 64);
}

std::string Spec(const std::string& id, const std::string& extra = "") {
  std::string s = "task_id = \"" + id + "\"\n" +
                  "title = \"Tox21 shards\"\nmodel = \"mlp-trunk\"\nrounds = 2\n"
                  "round_timeout_ms = 600000\nexpires_in_minutes = 60\n"
                  "aggregator = \"validator-3\"\n" + extra;
  for (int i = 0; i < 3; ++i) {
    s += "\n[[participants]]\npartner = \"partner-" + std::to_string(i) +
         "\"\ndataset = \"shard-" + std::to_string(i) + "\"\n";
  }
  return s + "\n[settings]\nhidden = \"1024\"\nlr = 0.001\n";
}

TEST_CASE("task CLI on a 4-validator testnet: register, propose, approve until active, refuse "
          "a wrong spec hash, reject, audit log", "[multiprocess][task_cli]") {
  Cluster c(4);
  Cli cli{c};
  c.Up();
  REQUIRE(Cluster::WaitFor(20s, [&] {
    for (int i = 0; i < c.size(); ++i) {
      json s = c.Status(i);
      if (!s.is_object() || s["peers_connected"].get<int>() != c.size() - 1) return false;
    }
    return true;
  }));
  std::string out;

  // Three partners register their shards (one gzip-compressed), each through another node.
  std::vector<std::string> files;
  for (int i = 0; i < 3; ++i) {
    std::string path = c.dir() + "/shard-" + std::to_string(i) + ".csv";
    std::string text = "smiles,NR-AR,SR-HSE\n";
    for (int r = 0; r < 10 + i; ++r) text += "C" + std::string(r + 1, 'C') + "O,1,\n";
    WriteFile(path, text);
    if (i == 2) {
      REQUIRE(RunCommand("gzip '" + path + "'") == 0);
      path += ".gz";
    }
    files.push_back(path);
    REQUIRE(cli.Run("dataset register --file " + path + " --key " + cli.Key(i) + " --node " +
                        c.url(i) + " --id shard-" + std::to_string(i),
                    &out) == 0);
    CHECK_THAT(out, Contains("dataset shard-" + std::to_string(i) + " registered at height"));
    CHECK_THAT(out, Contains("rows    " + std::to_string(10 + i)));
  }
  // The same id twice is refused by the ledger, with the state machine's reason.
  CHECK(cli.Run("dataset register --file " + files[0] + " --key " + cli.Key(0) + " --node " +
                    c.url(1) + " --id shard-0",
                &out) == 2);
  CHECK_THAT(out, Contains("the ledger refused DATASET_REGISTER"));
  CHECK_THAT(out, Contains("[duplicate-dataset]"));

  json datasets = cli.Get(3, "/datasets");
  REQUIRE(datasets["count"] == 3);
  for (const json& d : datasets["datasets"]) {
    int i = d["dataset_id"].get<std::string>().back() - '0';
    INFO(d.dump());
    CHECK(d["content_hash"] == Sha256Sum(files[i]));  // the hash of the file as it lies on disk
    CHECK(d["rows"] == 10 + i);
    CHECK(d["schema"] == "smiles,NR-AR,SR-HSE");
    CHECK(d["owner"] == "partner-" + std::to_string(i));
  }

  // A spec naming an unknown partner is refused before anything is signed.
  std::string bad_spec = Spec("bad");
  bad_spec.replace(bad_spec.find("partner-1"), 9, "partner-9");
  WriteFile(c.dir() + "/bad.toml", bad_spec);
  CHECK(cli.Run("task propose --spec " + c.dir() + "/bad.toml --key " + cli.Key(0) + " --node " +
                    c.url(0),
                &out) == 2);
  CHECK_THAT(out, Contains("participants[1].partner"));

  WriteFile(c.dir() + "/spec.toml", Spec("tox21-demo", "description = \"federated Tox21\"\n"));
  REQUIRE(cli.Run("task propose --spec " + c.dir() + "/spec.toml --key " + cli.Key(0) +
                      " --node " + c.url(0),
                  &out) == 0);
  std::smatch m;
  REQUIRE(std::regex_search(out, m, std::regex("spec hash ([0-9a-f]{64})")));
  const std::string hash = m[1];
  CHECK_THAT(out, Contains("proposed task tox21-demo: committed at height"));

  REQUIRE(cli.Run("task show tox21-demo --node " + c.url(2), &out) == 0);
  CHECK_THAT(out, Contains("status        proposed (0 of 3 approvals)"));
  CHECK_THAT(out, Contains("spec hash     " + hash));
  CHECK_THAT(out, Contains("aggregator    validator-3"));
  CHECK_THAT(out, Contains("hidden = 1024, lr = 0.001"));
  CHECK_THAT(out, Contains("partner-2    dataset shard-2"));

  for (int i = 0; i < 2; ++i) {
    REQUIRE(cli.Run("task approve tox21-demo --spec-hash " + hash + " --key " + cli.Key(i) +
                        " --node " + c.url(i + 1),
                    &out) == 0);
    CHECK_THAT(out, Contains("approved task tox21-demo: committed at height"));
    CHECK_THAT(out, Contains("task tox21-demo is proposed (" + std::to_string(i + 1) + " of 3"));
  }
  // A wrong spec hash: refused, with the reason; nothing is stored.
  std::string wrong = hash;
  wrong[0] = wrong[0] == '0' ? '1' : '0';
  const uint64_t log_before = c.Status(0)["log_size"].get<uint64_t>();
  CHECK(cli.Run("task approve tox21-demo --spec-hash " + wrong + " --key " + cli.Key(2) +
                    " --node " + c.url(3),
                &out) == 2);
  CHECK_THAT(out, Contains("the ledger refused TASK_APPROVE"));
  CHECK_THAT(out, Contains("does not match the proposed spec"));
  CHECK_THAT(out, Contains("[spec-hash-mismatch]"));
  CHECK(cli.Get(0, "/tasks/tox21-demo")["approval_count"] == 2);

  REQUIRE(cli.Run("task approve tox21-demo --spec-hash " + hash + " --key " + cli.Key(2) +
                      " --node " + c.url(3),
                  &out) == 0);
  CHECK_THAT(out, Contains("task tox21-demo is active (3 of 3 approvals)"));
  CHECK(c.Status(0)["log_size"].get<uint64_t>() > log_before);
  // Every validator holds the same state.
  REQUIRE(Cluster::WaitFor(10s, [&] {
    for (int i = 0; i < c.size(); ++i) {
      if (cli.Get(i, "/tasks/tox21-demo")["status"] != "active") return false;
    }
    return true;
  }));
  REQUIRE(cli.Run("task show tox21-demo --node " + c.url(1), &out) == 0);
  CHECK_THAT(out, Contains("round 1 attempt 0: 3 members, 0 data accesses, 0 updates"));

  // A second task, rejected by one participant: closed for everyone.
  WriteFile(c.dir() + "/spec2.toml", Spec("second"));
  REQUIRE(cli.Run("task propose --spec " + c.dir() + "/spec2.toml --key " + cli.Key(1) +
                      " --node " + c.url(1),
                  &out) == 0);
  REQUIRE(std::regex_search(out, m, std::regex("spec hash ([0-9a-f]{64})")));
  const std::string hash2 = m[1];
  REQUIRE(cli.Run("task reject second --spec-hash " + hash2 + " --reason 'too many rounds' --key " +
                      cli.Key(2) + " --node " + c.url(2),
                  &out) == 0);
  CHECK_THAT(out, Contains("task second is rejected"));
  CHECK(cli.Run("task approve second --spec-hash " + hash2 + " --key " + cli.Key(0) +
                    " --node " + c.url(0),
                &out) == 2);
  CHECK_THAT(out, Contains("[task-closed]"));

  REQUIRE(cli.Run("task list --node " + c.url(3), &out) == 0);
  CHECK_THAT(out, Contains("tox21-demo"));
  CHECK_THAT(out, Contains("rejected"));
  CHECK_THAT(out, Contains("(2 tasks)"));

  // The history, offline, from a stopped node's store; and every store verifies.
  c.Down();
  REQUIRE(cli.Run("audit log --task tox21-demo --data-dir " + c.node_dir(2), &out) == 0);
  CHECK_THAT(out, Contains("TASK_PROPOSE"));
  CHECK_THAT(out, Contains("task tox21-demo: spec " + hash.substr(0, 8)));
  size_t approvals = 0;
  for (size_t at = out.find("TASK_APPROVE"); at != std::string::npos;
       at = out.find("TASK_APPROVE", at + 1)) {
    ++approvals;
  }
  CHECK(approvals == 3);
  CHECK_THAT(out, Contains("(4 entries)"));
  for (int i = 0; i < c.size(); ++i) CHECK(c.Audit(i)["ok"] == true);
}

}  // namespace
}  // namespace fedledger::testing
