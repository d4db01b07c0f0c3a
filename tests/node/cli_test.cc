// The node-facing CLI commands refuse bad input with exit status 2 and a message naming what
// is wrong, and write nothing (run against the real binary, no node needed; answers of the
// wrong shape come from a fake server on loopback).
#include <sys/stat.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <mutex>

#include "ledger/bytes.h"
#include "ledger/entry.h"
#include "net/http_server.h"
#include "tests/node/cluster.h"

namespace fedledger::testing {
namespace {

struct Dir {
  std::string path;
  Dir() {
    char tmpl[] = "/tmp/fedledger-cli.XXXXXX";
    REQUIRE(::mkdtemp(tmpl) != nullptr);
    path = tmpl;
  }
  ~Dir() { RunCommand("rm -rf '" + path + "'"); }
};

std::string Fl() { return FEDLEDGER_BINARY; }

void ExpectUsageError(const std::string& args, const std::string& expect) {
  std::string out;
  int rc = RunCommand(Fl() + " " + args, &out);
  INFO(args << "\n" << out);
  CHECK(rc == 2);
  CHECK_THAT(out, Catch::Contains(expect));
}

bool Exists(const std::string& p) {
  struct stat st;
  return ::stat(p.c_str(), &st) == 0;
}

TEST_CASE("genesis: bad members and an existing output are refused, nothing written", "[cli]") {
  Dir d;
  std::string key = d.path + "/op.key";
  REQUIRE(RunCommand(Fl() + " keygen --out " + key) == 0);
  std::string v;
  REQUIRE(RunCommand(Fl() + " pubkey --key " + key, &v) == 0);
  v = v.substr(0, 64);
  ExpectUsageError("genesis --chain-id c --validator n1=zz --key " + key + " --out " + d.path + "/g.json",
                   "--validator n1");
  ExpectUsageError("genesis --chain-id c --validator " + v + " --key " + key + " --out " + d.path + "/g.json",
                   "expected NAME=PUBKEY");
  ExpectUsageError("genesis --chain-id c --validator a=" + v + " --validator b=" + v + " --key " + key +
                       " --out " + d.path + "/g.json",
                   "");
  CHECK_FALSE(Exists(d.path + "/g.json"));
  std::string out;
  REQUIRE(RunCommand(Fl() + " genesis --chain-id c --validator a=" + v + " --key " + key + " --out " +
                         d.path + "/g.json", &out) == 0);
  CHECK_THAT(out, Catch::Contains("genesis hash"));
  ExpectUsageError("genesis --chain-id c --validator a=" + v + " --key " + key + " --out " + d.path + "/g.json",
                   "already exists");
}

TEST_CASE("node, submit and testnet: bad configs, flags and directories get a clear error",
          "[cli]") {
  Dir d;
  ExpectUsageError("node --config " + d.path + "/missing.toml", "cannot open config file");
  REQUIRE(RunCommand("printf 'data_dir = \"x\"\\n' > " + d.path + "/bad.toml") == 0);
  ExpectUsageError("node --config " + d.path + "/bad.toml", "node_key: missing");
  ExpectUsageError("submit --node http://127.0.0.1:1 --key k --kind task-approve --task t --rows 5",
                   "needs --spec-hash");
  ExpectUsageError("submit --node http://127.0.0.1:1 --key k --kind task-revoke --task t --rows 5",
                   "--rows does not apply to TASK_REVOKE");
  ExpectUsageError("submit --node http://127.0.0.1:1 --key k --kind no-such-kind", "no-such-kind");
  ExpectUsageError("testnet up --dir " + d.path + "/none", "testnet.json not found");
  std::string out;
  REQUIRE(RunCommand(Fl() + " testnet init --validators 4 --dir " + d.path + "/tn", &out) == 0);
  ExpectUsageError("testnet up --dir " + d.path + "/tn --node 7", "the testnet has nodes 0..3");
  ExpectUsageError("testnet init --validators 4 --dir " + d.path + "/tn", "already holds a testnet");
  // Nothing was started by the refused commands.
  CHECK_FALSE(Exists(d.path + "/tn/node0/node.pid"));
}

// Integer flags take plain decimal digits in range (tools/flags.h): CLI11 alone would read
// "-1" as 2^64-1 and sign it into an entry for good.
TEST_CASE("integer flags: negative or hex or out-of-range values exit 2 naming the flag", "[cli]") {
  Dir d;
  const std::string submit =
      "submit --node http://127.0.0.1:1 --key " + d.path + "/none.key --kind dataset-register "
      "--dataset-id x --content-hash " + std::string(64, 'a') + " --schema a ";
  ExpectUsageError(submit + "--rows -1", "--rows: expected a non-negative decimal integer, got '-1'");
  ExpectUsageError(submit + "--rows 0x10", "--rows: expected a non-negative decimal integer, got '0x10'");
  ExpectUsageError(submit + "--rows 99999999999999999999999",
                   "--rows: expected a decimal integer in 0..18446744073709551615");
  ExpectUsageError(submit + "--rows 1 --nonce -1", "--nonce: expected a non-negative decimal integer");
  ExpectUsageError(submit + "--rows 1 --nonce 0", "--nonce 0: nonces start at 1");
  ExpectUsageError(submit + "--rows 1 --nonce 18446744073709551615",
                   "is the largest nonce: the key would have no later nonce left");
  ExpectUsageError(submit + "--rows 1 --timeout-ms 0",
                   "--timeout-ms: expected a decimal integer in 1..120000, got '0'");
  ExpectUsageError("audit prove --data-dir " + d.path + " --entry -1",
                   "--entry: expected a non-negative decimal integer, got '-1'");
  ExpectUsageError("audit prove --data-dir " + d.path + " --entry 1 --tree-size 0",
                   "--tree-size: expected a decimal integer in 1..18446744073709551615, got '0'");
  ExpectUsageError("audit log --data-dir " + d.path + " --limit 0",
                   "--limit: expected a decimal integer in 1..18446744073709551615, got '0'");
  std::string out;
  REQUIRE(RunCommand(Fl() + " testnet init --validators 2 --partners 0 --dir " + d.path + "/tn", &out) == 0);
  ExpectUsageError("testnet up --dir " + d.path + "/tn --node -1", "--node: expected a node index 0..1, got '-1'");
  ExpectUsageError("testnet down --dir " + d.path + "/tn --node 2", "--node 2: the testnet has nodes 0..1");
  // A valid maximum is taken as it is (and then fails for want of the key file, not the flag).
  ExpectUsageError(submit + "--rows 18446744073709551615", "cannot open key file");
}

// The trainer's integer flags too: CLI11 alone took "--epochs -1" as -1 and "0x10" as 16.
// The flags are checked before any file is read, so the data paths need not exist.
TEST_CASE("trainer integer flags: negative or hex or exponent values exit 2 naming the flag", "[cli]") {
  if (!Exists(Fl().substr(0, Fl().rfind('/') + 1) + "fedledger-ml")) {
    SUCCEED("built without the trainer");
    return;
  }
  Dir d;
  const std::string local = "train local --data " + d.path + "/none.csv ";
  const std::string one_to_max = "expected a decimal integer in 1..2147483647, got ";
  ExpectUsageError(local + "--epochs -1", "--epochs: " + one_to_max + "'-1'");
  ExpectUsageError(local + "--epochs 1e3", "--epochs: " + one_to_max + "'1e3'");
  ExpectUsageError(local + "--epochs 0x10", "--epochs: " + one_to_max + "'0x10'");
  ExpectUsageError(local + "--epochs 0", "--epochs: " + one_to_max + "'0'");
  ExpectUsageError(local + "--batch-size -128", "--batch-size: " + one_to_max + "'-128'");
  ExpectUsageError(local + "--threads 0", "--threads: expected a decimal integer in 1..1024, got '0'");
  ExpectUsageError(local + "--threads 4096", "--threads: expected a decimal integer in 1..1024");
  ExpectUsageError(local + "--epochs 2147483648", "--epochs: " + one_to_max + "'2147483648'");
  // The grid's layer widths and dropout rates, before the data are read.
  const std::string width = "--hidden: expected a decimal integer in 1..65536, got ";
  ExpectUsageError(local + "--hidden -5", width + "'-5'");
  ExpectUsageError(local + "--hidden 256x0", width + "'0'");
  ExpectUsageError(local + "--hidden 512,1e3", width + "'1e3'");
  ExpectUsageError(local + "--dropout 1.5", "--dropout: expected rates in [0, 1), got '1.5'");
  ExpectUsageError(local + "--dropout 0.2,0.5x", "--dropout: expected rates in [0, 1), got '0.5x'");
  ExpectUsageError(local + "--dropout nan", "--dropout: expected rates in [0, 1), got 'nan'");
  ExpectUsageError(local + "--hidden ,", "--hidden: expected at least one layer width");
  const std::string sim = "train simulate --partners " + d.path + "/a.csv," + d.path + "/b.csv ";
  ExpectUsageError(sim + "--rounds -3", "--rounds: " + one_to_max + "'-3'");
  ExpectUsageError(sim + "--threads=+2", "--threads: expected a decimal integer in 1..1024, got '+2'");
  const std::string bench = "train bench --data " + d.path + "/none.csv ";
  ExpectUsageError(bench + "--epochs -1",
                   "--epochs: expected a decimal integer in 0..2147483647, got '-1'");
  ExpectUsageError(bench + "--hidden 1e3", "--hidden: " + one_to_max + "'1e3'");
  ExpectUsageError(bench + "--batch-size 0x80", "--batch-size: " + one_to_max + "'0x80'");
  const std::string split = "data split --in " + d.path + "/none.csv --out " + d.path + "/out ";
  ExpectUsageError(split + "--partners -1", "--partners: expected a decimal integer in 1..1000, got '-1'");
  ExpectUsageError(split + "--partners 0x10", "--partners: expected a decimal integer in 1..1000, got '0x10'");
  ExpectUsageError(split + "--partners 3.0", "--partners: expected a decimal integer in 1..1000, got '3.0'");
  CHECK_FALSE(Exists(d.path + "/out"));
  // A valid value passes the flag and fails on the missing file instead.
  std::string out;
  CHECK(RunCommand(Fl() + " " + local +
                       "--epochs 3 --threads 2 --batch-size 64 --hidden 256x128,64 --dropout 0,0.5",
                   &out) != 0);
  INFO(out);
  CHECK_THAT(out, !Catch::Contains("expected a decimal integer"));
  CHECK_THAT(out, Catch::Contains("none.csv"));
}

// Every command with an output file refuses an existing one the same way unless --force
// (tools/output_file.h); the audit commands are covered in tests/ledger/cli_test.cc.
TEST_CASE("genesis and submit --proof-out and data split: an existing output needs --force", "[cli]") {
  Dir d;
  const std::string key = d.path + "/op.key";
  REQUIRE(RunCommand(Fl() + " keygen --out " + key) == 0);
  std::string v;
  REQUIRE(RunCommand(Fl() + " pubkey --key " + key, &v) == 0);
  const std::string genesis = "genesis --chain-id c --validator a=" + v.substr(0, 64) + " --key " +
                              key + " --out " + d.path + "/g.json";
  REQUIRE(RunCommand("echo old > " + d.path + "/g.json") == 0);
  ExpectUsageError(genesis, d.path + "/g.json already exists (pass --force to replace it)");
  std::string out;
  REQUIRE(RunCommand(Fl() + " " + genesis + " --force", &out) == 0);
  CHECK_THAT(out, Catch::Contains("genesis hash"));

  // Refused before anything is signed or sent: nothing listens on port 1, yet exit 2.
  REQUIRE(RunCommand("echo old > " + d.path + "/proof.json") == 0);
  ExpectUsageError("submit --node http://127.0.0.1:1 --key " + key + " --kind dataset-register "
                   "--dataset-id x --content-hash " + std::string(64, 'a') + " --schema a --rows 1 "
                   "--wait --proof-out " + d.path + "/proof.json",
                   d.path + "/proof.json already exists (pass --force to replace it)");

  if (!Exists(Fl().substr(0, Fl().rfind('/') + 1) + "fedledger-ml")) return;
  REQUIRE(RunCommand("printf 'smiles,a\\nCCO,1\\nc1ccccc1,0\\nCCN,1\\n' > " + d.path + "/in.csv") == 0);
  REQUIRE(RunCommand("mkdir " + d.path + "/parts && echo old > " + d.path + "/parts/partner2.csv.gz") == 0);
  const std::string split = "data split --in " + d.path + "/in.csv --partners 2 --out " + d.path + "/parts";
  ExpectUsageError(split, d.path + "/parts/partner2.csv.gz already exists (pass --force to replace it)");
  CHECK_FALSE(Exists(d.path + "/parts/partner1.csv.gz"));  // refused before any file was written
  REQUIRE(RunCommand(Fl() + " " + split + " --force", &out) == 0);
  CHECK(Exists(d.path + "/parts/partner1.csv.gz"));
  std::string head;
  REQUIRE(RunCommand("zcat " + d.path + "/parts/partner2.csv.gz | head -1", &head) == 0);
  CHECK(head.rfind("smiles,a", 0) == 0);
}

// The trainer's outputs too, refused before the data are read (the data path here does not
// exist, so a late check would fail on it instead), and the existing file left as it was.
TEST_CASE("train local and simulate and bench: an existing output needs --force", "[cli]") {
  if (!Exists(Fl().substr(0, Fl().rfind('/') + 1) + "fedledger-ml")) {
    SUCCEED("built without the trainer");
    return;
  }
  Dir d;
  const std::string old = d.path + "/old.txt";
  REQUIRE(RunCommand("echo old > " + old) == 0);
  const std::string exists = old + " already exists (pass --force to replace it)";
  const std::string local = "train local --data " + d.path + "/none.csv ";
  ExpectUsageError(local + "--json " + old, exists);
  ExpectUsageError(local + "--predictions " + old, exists);
  ExpectUsageError(local + "--save " + old, exists);
  ExpectUsageError("train simulate --partners " + d.path + "/a.csv," + d.path + "/b.csv --json " + old,
                   exists);
  ExpectUsageError("train bench --data " + d.path + "/none.csv --epochs 0 --dump " + old, exists);
  std::string content;
  REQUIRE(RunCommand("cat " + old, &content) == 0);
  CHECK(content == "old\n");
  // With --force the flag passes, and the command fails on the missing data instead.
  std::string out;
  CHECK(RunCommand(Fl() + " " + local + "--json " + old + " --force", &out) != 0);
  INFO(out);
  CHECK_THAT(out, !Catch::Contains("already exists"));
  CHECK_THAT(out, Catch::Contains("none.csv"));
}

// Whatever listens on the URL given to --node answers every GET and POST with 200 and `body`
// and keeps the request targets (loopback, an ephemeral port; stopped by the destructor).
class FakeNode {
 public:
  explicit FakeNode(std::string body) : server_(Options()), body_(std::move(body)) {
    auto answer = [this](net::HttpRequest& req, net::Responder res) {
      {
        std::lock_guard<std::mutex> lock(mu_);
        targets_.push_back(req.target);
        bodies_.push_back(req.body);
      }
      res.Send(net::HttpResponse::Text(200, body_, "application/json"));
    };
    server_.Get("/*", answer);
    server_.Post("/*", answer);
    REQUIRE(server_.Start().ok());
  }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(server_.port()); }
  std::vector<std::string> targets() const {
    std::lock_guard<std::mutex> lock(mu_);
    return targets_;
  }
  std::vector<std::string> bodies() const {
    std::lock_guard<std::mutex> lock(mu_);
    return bodies_;
  }

 private:
  static net::HttpServerOptions Options() {
    net::HttpServerOptions o;
    o.address = "127.0.0.1";
    o.log = [](net::LogLevel, const std::string&) {};
    return o;
  }
  net::HttpServer server_;
  std::string body_;
  mutable std::mutex mu_;
  std::vector<std::string> targets_, bodies_;
};

void ExpectExit(int code, const std::string& args, const std::string& expect) {
  std::string out;
  int rc = RunCommand(Fl() + " " + args, &out);
  INFO(args << "\n" << out);
  CHECK(rc == code);
  CHECK_THAT(out, Catch::Contains(expect));
  CHECK_THAT(out, !Catch::Contains("internal error"));
}

TEST_CASE("status and submit and task and dataset: a server that is not a fedledger node exits 3",
          "[cli]") {
  Dir d;
  const std::string key = d.path + "/p.key";
  REQUIRE(RunCommand(Fl() + " keygen --out " + key) == 0);
  const std::string submit = " --key " + key + " --kind dataset-register --dataset-id x --content-hash " +
                             std::string(64, 'a') + " --rows 1 --schema a --wait";
  {
    FakeNode fake("{}");
    const std::string not_node = fake.url() + "/status: not a fedledger node answer";
    ExpectExit(3, "status --node " + fake.url(), not_node + " (status has no string 'chain_id')");
    ExpectExit(3, "status --json --node " + fake.url(), "status has no string 'chain_id'");
    ExpectExit(3, "submit --node " + fake.url() + submit, not_node + " (status has no string 'chain_id')");
    ExpectExit(3, "task list --node " + fake.url(), "(task list has no array 'tasks')");
    ExpectExit(3, "task show t1 --node " + fake.url(), "(task has no object (or null) 'activated')");
    ExpectExit(3, "dataset list --node " + fake.url(), "(dataset list has no array 'datasets')");
  }
  {
    FakeNode fake("[]");
    ExpectExit(3, "status --node " + fake.url(), "(status is not a JSON object (it is an array))");
    ExpectExit(3, "submit --node " + fake.url() + submit, "(status is not a JSON object (it is an array))");
  }
  {
    FakeNode fake(R"({"chain_id": 5})");
    ExpectExit(3, "status --node " + fake.url(), "(status has no string 'chain_id' (it is 5))");
  }
  {
    FakeNode fake(R"({"chain_id": "c", "genesis_hash": "x", "node": {"name": "n", "key": "k"},
                      "height": 1, "head_time": "t", "log_size": 1, "log_root": "r",
                      "consensus": {"height": 2, "round": 0, "step": "propose"},
                      "mempool_entries": 0, "peers_connected": 1,
                      "peers": [{"name": "a", "connected": "yes"}]})");
    ExpectExit(3, "status --node " + fake.url(), "(status has no bool 'peers[0].connected' (it is a string))");
    // The status passes; the nonce record (the same body) has no last nonce.
    ExpectExit(3, "submit --node " + fake.url() + submit, "(nonce record has no non-negative integer 'last_nonce')");
  }
  {
    FakeNode fake(R"({"chain_id": "c", "last_nonce": 1})");
    ExpectExit(3, "submit --node " + fake.url() + submit,
               fake.url() + "/entries: not a fedledger node answer (submit answer has no non-negative integer 'height')");
  }
  {
    FakeNode fake("not json");
    ExpectExit(3, "status --node " + fake.url(), "not a fedledger node answer (response is not valid JSON");
  }
}

// Ids go into URLs as data: task and dataset ids are checked locally (they are identifiers),
// and any other name is percent-encoded, so it cannot add a query or a path segment.
TEST_CASE("task and dataset and submit: ids are checked locally and names percent-encoded", "[cli]") {
  Dir d;
  const std::string key = d.path + "/p.key";
  REQUIRE(RunCommand(Fl() + " keygen --out " + key) == 0);
  const char* kMayContain = "may contain only letters, digits and . _ - :";
  ExpectUsageError("task show 'x?y=1' --node http://127.0.0.1:1", "task id: 'x?y=1' " + std::string(kMayContain));
  ExpectUsageError("task show 'bad id!' --node http://127.0.0.1:1", "task id: 'bad id!' " + std::string(kMayContain));
  ExpectUsageError("task approve a/b --spec-hash " + std::string(64, 'a') + " --key " + key +
                       " --node http://127.0.0.1:1",
                   "task id: 'a/b' " + std::string(kMayContain));
  REQUIRE(RunCommand("printf 'h\\n1\\n' > '" + d.path + "/bad name.csv'") == 0);
  ExpectUsageError("dataset register --file '" + d.path + "/bad name.csv' --key " + key +
                       " --node http://127.0.0.1:1",
                   "dataset id: 'bad name' " + std::string(kMayContain) +
                       " and must start with a letter or digit (taken from the file name; pass --id)");
  ExpectUsageError("submit --node http://127.0.0.1:1 --key " + key + " --kind task-revoke --task 'x?y'",
                   "--task: 'x?y' " + std::string(kMayContain));

  FakeNode fake(R"({"chain_id": "c"})");
  std::string out;
  RunCommand(Fl() + " submit --node " + fake.url() + " --key " + key +
                 " --kind round-aggregate --task t --round 1 --aggregate-hash " + std::string(64, 'a') +
                 " --total-samples 1 --contributor 'x?y=1/..'",
             &out);
  INFO(out);
  std::vector<std::string> targets = fake.targets();
  CHECK(std::find(targets.begin(), targets.end(), "/nonces/x%3Fy%3D1%2F..") != targets.end());
}

// A refused or failed `testnet init` leaves nothing of its own behind, so the corrected
// command runs (it used to write the partner keys first, and the retry then failed on them).
TEST_CASE("testnet init: a bad argument writes nothing and a failure midway removes what it wrote",
          "[cli]") {
  Dir d;
  const std::string tn = d.path + "/tn";
  ExpectUsageError("testnet init --dir " + tn + " --chain-id 'bad chain!'",
                   "--chain-id: 'bad chain!' may contain only");
  CHECK_FALSE(Exists(tn));
  std::string out;
  REQUIRE(RunCommand(Fl() + " testnet init --validators 1 --partners 0 --dir " + tn, &out) == 0);
  CHECK(Exists(tn + "/testnet.json"));

  // node1's key file is in the way: init fails after writing keys, the genesis and node0.
  const std::string tn2 = d.path + "/tn2";
  REQUIRE(RunCommand("mkdir -p " + tn2 + "/node1 && touch " + tn2 + "/node1/node.key") == 0);
  ExpectUsageError("testnet init --validators 2 --partners 1 --dir " + tn2, "node1/node.key already exists");
  for (const char* p : {"/keys", "/genesis.json", "/node0", "/testnet.json"}) {
    INFO(p);
    CHECK_FALSE(Exists(tn2 + p));
  }
  CHECK(Exists(tn2 + "/node1/node.key"));  // not ours: left alone
  REQUIRE(RunCommand("rm " + tn2 + "/node1/node.key") == 0);
  REQUIRE(RunCommand(Fl() + " testnet init --validators 2 --partners 1 --dir " + tn2, &out) == 0);
  CHECK(Exists(tn2 + "/node1/node.toml"));
}

TEST_CASE("a directory where a file is expected exits 2 saying so", "[cli]") {
  Dir d;
  const std::string dir = d.path + "/dir.csv";
  REQUIRE(RunCommand("mkdir -m 0755 " + dir) == 0);
  const std::string key = d.path + "/p.key";
  REQUIRE(RunCommand(Fl() + " keygen --out " + key) == 0);
  ExpectUsageError("pubkey --key " + dir, "key file " + dir + " is a directory");
  ExpectUsageError("audit check-proof " + dir, dir + " is a directory, not a proof file");
  ExpectUsageError("audit verify-export " + dir, dir + " is a directory, not an export file");
  ExpectUsageError("node --config " + dir, dir + " is a directory, not a config file");
  ExpectUsageError("dataset register --file " + dir + " --key " + key + " --node http://127.0.0.1:1",
                   dir + " is a directory, not a data file");
}

TEST_CASE("dataset register: a .csv.gz file that is not gzip is named as such", "[cli]") {
  Dir d;
  const std::string key = d.path + "/p.key";
  REQUIRE(RunCommand(Fl() + " keygen --out " + key) == 0);
  REQUIRE(RunCommand("printf 'a,b\\n1,2\\n' > " + d.path + "/fake.csv.gz") == 0);
  ExpectUsageError("dataset register --file " + d.path + "/fake.csv.gz --key " + key +
                       " --node http://127.0.0.1:1",
                   d.path + "/fake.csv.gz: not a gzip file");
  // A real one gets past the file checks (to the node, which is not there: exit 3).
  REQUIRE(RunCommand("printf 'a,b\\n1,2\\n' | gzip > " + d.path + "/real.csv.gz") == 0);
  std::string out;
  CHECK(RunCommand(Fl() + " dataset register --file " + d.path + "/real.csv.gz --key " + key +
                       " --node http://127.0.0.1:1", &out) == 3);
  CHECK_THAT(out, Catch::Contains("127.0.0.1:1"));
}

// MODEL_UPDATE has an attempt field (docs/FORMAT.md 4.3): submit signs what --attempt says.
TEST_CASE("submit: MODEL_UPDATE takes --attempt", "[cli]") {
  Dir d;
  const std::string key = d.path + "/p.key";
  REQUIRE(RunCommand(Fl() + " keygen --out " + key) == 0);
  FakeNode fake(R"({"chain_id": "c", "last_nonce": 4, "height": 9, "index": 17})");
  std::string out;
  int rc = RunCommand(Fl() + " submit --node " + fake.url() + " --key " + key +
                          " --kind model-update --task t --round 2 --update-hash " + std::string(64, 'b') +
                          " --samples 10 --size-bytes 100 --attempt 3 --wait",
                      &out);
  INFO(out);
  REQUIRE(rc == 0);
  CHECK_THAT(out, Catch::Contains("committed MODEL_UPDATE nonce 5 at height 9, log index 17"));
  std::vector<std::string> bodies = fake.bodies();
  REQUIRE_FALSE(bodies.empty());
  auto hex = FromHex(nlohmann::json::parse(bodies.back())["entry"].get<std::string>());
  REQUIRE(hex.ok());
  auto entry = Entry::Decode(*hex);
  REQUIRE(entry.ok());
  const ModelUpdatePayload* p = entry->As<ModelUpdatePayload>();
  REQUIRE(p != nullptr);
  CHECK(p->attempt == 3);
  CHECK(p->round == 2);
  CHECK(entry->nonce() == 5);
}

TEST_CASE("fedledger leaves LibTorch to fedledger-ml and hands it node, train and data", "[cli]") {
  std::string ml = Fl().substr(0, Fl().rfind('/') + 1) + "fedledger-ml";
  if (!Exists(ml)) {
    SUCCEED("built without the trainer: one binary holds every command");
    return;
  }
  std::string libs;
  REQUIRE(RunCommand("ldd " + Fl(), &libs) == 0);
  INFO(libs);
  CHECK_THAT(libs, !Catch::Contains("libtorch"));
  CHECK_THAT(libs, !Catch::Contains("RDKit"));
  // The handed-over commands keep their own help and flags.
  std::string help;
  REQUIRE(RunCommand(Fl() + " train local --help", &help) == 0);
  CHECK_THAT(help, Catch::Contains("Train one partner alone"));
  ExpectUsageError("data split", "--in is required");
}

}  // namespace
}  // namespace fedledger::testing
