// The whole federation as separate processes on loopback: 4 `fedledger node` processes (three
// run a partner's side with its own data shard, the fourth aggregates), a task proposed and
// approved with the CLI, the rounds run by the nodes' round drivers. The ledger must then hold
// exactly the expected entries on every validator, every store must pass `audit verify` with
// the same log root, and every update, aggregate and final-trunk hash on the ledger must be
// the `sha256sum` of a file the nodes hold. One partner is paused (SIGSTOP) for round 1 of a
// second task, so that round restarts without it and the ledger records the drop.
// Small model (1024 bits, 16 hidden units) so the test takes seconds of training.
#include <sched.h>
#include <signal.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <fstream>
#include <map>
#include <set>

#include "ledger/crypto.h"
#include "net/http_client.h"
#include "tests/node/cluster.h"
#include "tests/thread_policies.h"

// The rounds need the round driver, which is built with the trainer; a ledger-only build
// (-DFEDLEDGER_WITH_TRAINER=OFF) has no federation to test.
#ifdef FEDLEDGER_HAVE_DRIVER
namespace fedledger::testing {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;

const std::string kBin = FEDLEDGER_BINARY;
const std::string kTox21 = std::string(FEDLEDGER_SOURCE_DIR) + "/../shared/data/tox21.csv.gz";

std::string Run(const std::string& args) {
  std::string out;
  int rc = RunCommand(kBin + " " + args, &out);
  INFO("$ fedledger " << args << "\n" << out);
  REQUIRE(rc == 0);
  return out;
}

std::string Sha256sum(const std::string& path) {
  std::string out;
  REQUIRE(RunCommand("sha256sum '" + path + "'", &out) == 0);
  return out.substr(0, 64);
}

struct Federation {
  Cluster c{4};
  std::string Key(int p) const { return c.dir() + "/keys/partner-" + std::to_string(p) + ".key"; }
  std::string Shard(int p) const { return c.dir() + "/shard-" + std::to_string(p) + ".csv"; }

  Federation() {
    // Three shards of 200 Tox21 compounds each, and the [partner] section of nodes 0..2.
    std::string out;
    REQUIRE(RunCommand("zcat '" + kTox21 + "' | head -n 601 > '" + c.dir() + "/all.csv'", &out) == 0);
    for (int p = 0; p < 3; ++p) {
      std::string cmd = "(head -n 1 '" + c.dir() + "/all.csv'; sed -n '" +
                        std::to_string(2 + p * 200) + "," + std::to_string(1 + (p + 1) * 200) +
                        "p' '" + c.dir() + "/all.csv') > '" + Shard(p) + "'";
      REQUIRE(RunCommand(cmd, &out) == 0);
      std::ofstream f(c.node_dir(p) + "/node.toml", std::ios::app);
      f << "\n[partner]\nkey = \"../keys/partner-" << p << ".key\"\n"
        << "datasets = { \"shard\" = \"" << Shard(p) << "\" }\n";
      REQUIRE(f.good());
    }
    c.Up();
    for (int p = 0; p < 3; ++p) {
      Run("dataset register --file '" + Shard(p) + "' --id shard --key '" + Key(p) +
          "' --node " + c.url(p));
    }
    // Each registration waited for its commit on the partner's own node; the other nodes apply
    // that block a moment later, and a task proposed to node 0 is checked against node 0's
    // state (a test may pause a partner's node right after this).
    for (int n = 0; n < c.size(); ++n) {
      REQUIRE(Cluster::WaitFor(10s, [&] {
        auto r = net::HttpGet(c.url(n) + "/datasets");
        return r.ok() && r->status == 200 && json::parse(r->body)["count"] == 3;
      }));
    }
  }

  // Proposes and approves a task; returns when it is active.
  void Start(const std::string& id, int rounds, uint64_t round_timeout_ms) {
    std::string spec = c.dir() + "/" + id + ".toml";
    std::ofstream f(spec);
    f << "task_id = \"" << id << "\"\ntitle = \"e2e\"\nmodel = \"mlp-trunk\"\nrounds = " << rounds
      << "\nround_timeout_ms = " << round_timeout_ms << "\naggregator = \"validator-3\"\n";
    for (int p = 0; p < 3; ++p) {
      f << "[[participants]]\npartner = \"partner-" << p << "\"\ndataset = \"shard\"\n";
    }
    f << "[settings]\nbits = 1024\nhidden = \"16\"\nseed = 5\n";
    f.close();
    Run("task propose --spec '" + spec + "' --key '" + Key(0) + "' --node " + c.url(0));
    // Approvals go through the operator's node (a paused partner node cannot take them).
    REQUIRE(Cluster::WaitFor(10s, [&] { return !Task(id).is_null(); }));
    std::string hash = Task(id)["spec_hash"];
    for (int p = 0; p < 3; ++p) {
      Run("task approve " + id + " --spec-hash " + hash + " --key '" + Key(p) + "' --node " +
          c.url(3));
    }
  }

  json Task(const std::string& id, int node = 3) const {
    auto r = net::HttpGet(c.url(node) + "/tasks/" + id);
    if (!r.ok() || r->status != 200) return json();
    return json::parse(r->body);
  }
  bool WaitStatus(const std::string& id, const std::string& status, std::chrono::seconds limit) {
    return Cluster::WaitFor(limit, [&] {
      json t = Task(id);
      return !t.is_null() && t["status"] == status;
    });
  }
};

TEST_CASE("federation e2e: 4 node processes run a task, and ledger, audit and sha256sum agree",
          "[multiprocess]") {
  Federation fed;
  fed.Start("e2e", 3, 120000);
  // A node running the orchestrator stores only artifacts a committed entry names.
  const std::string junk = "not an update anyone committed";
  auto refused = net::HttpFetch("PUT", fed.c.url(3) + "/artifacts/" + Sha256(junk).Hex(), junk,
                                "application/octet-stream");
  REQUIRE(refused.ok());
  CHECK(refused->status == 403);
  CHECK(refused->body.find("not named by any committed") != std::string::npos);
  REQUIRE(fed.WaitStatus("e2e", "completed", 240s));
  // A partner's training (the round driver's thread and the LibTorch workers it starts) is
  // batch work beside its validator's consensus thread.
  for (int p = 0; p < 3; ++p) {
    auto policies = ThreadPolicies(fed.c.Pid(p));
    INFO("node " << p);
    CHECK(policies["fl-rounds"] == std::set<int>{SCHED_BATCH});
    CHECK(policies["fl-consensus"] == std::set<int>{SCHED_OTHER});
  }
  // Each partner writes its report once it has checked the final trunk.
  for (int p = 0; p < 3; ++p) {
    std::string rep = fed.c.node_dir(p) + "/tasks/e2e/report.json";
    REQUIRE(Cluster::WaitFor(30s, [&] { return std::ifstream(rep).good(); }));
    json j = json::parse(std::ifstream(rep));
    INFO(j.dump(2));
    CHECK(j["final_trunk_verified"] == true);
    CHECK(j["rounds"].size() == 3);
  }
  fed.c.Down();

  // Every validator holds exactly the expected entries and the same log.
  std::string root;
  for (int i = 0; i < 4; ++i) {
    json a = fed.c.Audit(i);
    INFO("node " << i << ": " << a.dump(2));
    CHECK(a["entries_by_kind"] == json({{"GENESIS", 1},
                                         {"DATASET_REGISTER", 3},
                                         {"TASK_PROPOSE", 1},
                                         {"TASK_APPROVE", 3},
                                         {"DATA_ACCESS", 9},
                                         {"MODEL_UPDATE", 9},
                                         {"ROUND_AGGREGATE", 3},
                                         {"TASK_COMPLETE", 1}}));
    if (i == 0) root = a["log_root"];
    CHECK(a["log_root"] == root);
  }
  // Every hash on the ledger is the sha256sum of a file: masked updates at their author and at
  // the aggregator, aggregates at the aggregator and every partner, the final trunk everywhere.
  std::string out;
  REQUIRE(RunCommand(kBin + " audit log --data-dir '" + fed.c.node_dir(3) + "' --task e2e --json", &out) == 0);
  json log = json::parse(out);
  int updates = 0, aggregates = 0;
  std::map<std::string, int> partner_of = {{"partner-0", 0}, {"partner-1", 1}, {"partner-2", 2}};
  for (const json& e : log) {
    const json& p = e["payload"];
    if (e["kind"] == "MODEL_UPDATE") {
      std::string h = p["update_hash"];
      CHECK(Sha256sum(fed.c.node_dir(3) + "/artifacts/" + h) == h);
      CHECK(Sha256sum(fed.c.node_dir(partner_of.at(e["signer_name"])) + "/artifacts/" + h) == h);
      ++updates;
    } else if (e["kind"] == "ROUND_AGGREGATE") {
      std::string h = p["aggregate_hash"];
      for (int n = 0; n < 4; ++n) CHECK(Sha256sum(fed.c.node_dir(n) + "/artifacts/" + h) == h);
      ++aggregates;
    } else if (e["kind"] == "TASK_COMPLETE") {
      std::string h = p["final_trunk_hash"];
      for (int n = 0; n < 4; ++n) CHECK(Sha256sum(fed.c.node_dir(n) + "/artifacts/" + h) == h);
    }
  }
  CHECK(updates == 9);
  CHECK(aggregates == 3);
}

TEST_CASE("federation e2e: a partner paused during a round is dropped by a ROUND_RESTART and rejoins",
          "[multiprocess]") {
  Federation fed;
  // Partner 2's node is paused before the task starts: it cannot declare its data access or
  // deliver in round 1. Three validators are still a quorum.
  fed.c.Signal(2, SIGSTOP);
  fed.Start("drop", 2, 5000);
  REQUIRE(Cluster::WaitFor(90s, [&] {
    json t = fed.Task("drop");
    return !t.is_null() && !t["round_progress"].empty() &&
           !t["round_progress"][0]["aggregate"].is_null();
  }));
  fed.c.Signal(2, SIGCONT);
  REQUIRE(fed.WaitStatus("drop", "completed", 180s));
  json t = fed.Task("drop");
  INFO(t.dump(2));
  const json& r1 = t["round_progress"][0];
  REQUIRE(r1["restarts"].size() == 1);
  CHECK(r1["restarts"][0]["dropped"].size() == 1);
  CHECK(r1["restarts"][0]["dropped"][0]["name"] == "partner-2");
  CHECK(r1["aggregate"]["contributors"].size() == 2);
  CHECK(t["round_progress"][1]["aggregate"]["contributors"].size() == 3);
  fed.c.Down();
  json a = fed.c.Audit(0);
  CHECK(a["entries_by_kind"]["ROUND_RESTART"] == 1);
}

}  // namespace
}  // namespace fedledger::testing
#endif  // FEDLEDGER_HAVE_DRIVER
