// In-process tests of the node: config parsing, the genesis file, and the HTTP API of a
// single-validator node (quorum of one) on loopback: bad input gets a 4xx naming the problem
// and changes nothing stored; a waited-for submit returns a proof that checks offline; a peer
// validator gets only its own votes and proposals through in frames without a signature.
#include <stdlib.h>
#include <sched.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <set>
#include <sstream>

#include "ledger/export.h"
#include "net/http_client.h"
#include "node/config.h"
#include "node/genesis_file.h"
#include "node/node.h"
#include "consensus/messages.h"
#include "net/peer_network.h"
#include "../net/net_test_util.h"
#include "tests/thread_policies.h"

namespace fedledger::node {
namespace {

using nlohmann::json;

struct TempDir {
  std::string path;
  TempDir() {
    char tmpl[] = "/tmp/fedledger-node.XXXXXX";
    REQUIRE(::mkdtemp(tmpl) != nullptr);
    path = tmpl;
  }
  ~TempDir() { (void)std::system(("rm -rf '" + path + "'").c_str()); }
};

const char* kMinimal = R"(
data_dir = "data"
node_key = "node.key"
genesis = "genesis.json"
[p2p]
listen = "127.0.0.1:0"
[http]
listen = "127.0.0.1:0"
)";

TEST_CASE("node config: paths resolve against the config's directory, defaults apply", "[config]") {
  auto c = ParseNodeConfig(kMinimal, "/etc/fl");
  REQUIRE(c.ok());
  CHECK(c->data_dir == "/etc/fl/data");
  CHECK(c->node_key_file == "/etc/fl/node.key");
  CHECK(c->consensus.timeouts.propose_ms == consensus::TimeoutOptions{}.propose_ms);
  CHECK(c->peers.empty());
}

TEST_CASE("node config: bad configs are refused naming the key", "[config]") {
  auto bad = [](const std::string& extra, const std::string& expect) {
    auto c = ParseNodeConfig(std::string(kMinimal) + extra, ".");
    INFO(extra);
    REQUIRE_FALSE(c.ok());
    CHECK(c.status().code() == Status::Code::kInvalidArgument);
    CHECK_THAT(c.status().message(), Catch::Contains(expect));
  };
  bad("[consensus]\npropose_timeout_ms = -5\n", "propose_timeout_ms");
  bad("[consensus]\nproposetimeout_ms = 5\n", "unknown key 'proposetimeout_ms'");
  bad("[log]\nlevel = \"loud\"\n", "[log] level");
  bad("[mempool]\nmax_entries = \"many\"\n", "max_entries: must be an integer");
  bad("[artifacts]\ncache_bytes = -1\n", "[artifacts] cache_bytes: must be between");
  auto c = ParseNodeConfig("data_dir = \"d\"\nnode_key = \"k\"\ngenesis = \"g\"\n[p2p]\nlisten = \"127.0.0.1:1\"\n"
                           "peers = [ { key = \"zz\", address = \"127.0.0.1:2\" } ]\n[http]\nlisten = \"127.0.0.1:0\"\n", ".");
  REQUIRE_FALSE(c.ok());
  CHECK_THAT(c.status().message(), Catch::Contains("peers[0].key"));
  auto d = ParseNodeConfig("data_dir = \"d\"\nnode_key = \"k\"\ngenesis = \"g\"\n[p2p]\nlisten = \"nohost\"\n[http]\nlisten = \"127.0.0.1:0\"\n", ".");
  REQUIRE_FALSE(d.ok());
  CHECK_THAT(d.status().message(), Catch::Contains("[p2p] listen"));
  auto e = ParseNodeConfig("data_dir = [", ".");
  REQUIRE_FALSE(e.ok());
  CHECK_THAT(e.status().message(), Catch::Contains("not valid TOML"));
}

TEST_CASE("node config: RenderNodeConfig reads back", "[config]") {
  NodeConfig c = *ParseNodeConfig(kMinimal, "");
  c.peers.push_back({SecretKey::FromSeed("p").pubkey(), {"127.0.0.1", 4000}, std::nullopt});
  c.consensus.timeouts.prevote_ms = 123;
  c.log_level = net::LogLevel::kWarn;
  auto back = ParseNodeConfig(RenderNodeConfig(c), "");
  REQUIRE(back.ok());
  CHECK(back->peers.size() == 1);
  CHECK(back->peers[0].key == c.peers[0].key);
  CHECK(back->peers[0].address == c.peers[0].address);
  CHECK(back->consensus.timeouts.prevote_ms == 123);
  CHECK(back->log_level == net::LogLevel::kWarn);
}

Entry GenesisEntry(const std::string& chain, const std::vector<SecretKey>& validators,
                   const SecretKey& creator) {
  GenesisPayload g;
  g.genesis_time_ms = 1767225600000;
  for (size_t i = 0; i < validators.size(); ++i) {
    g.validators.push_back({"validator-" + std::to_string(i), validators[i].pubkey()});
  }
  g.partners.push_back({"alice", creator.pubkey()});
  EntryBody b;
  b.chain_id = chain;
  b.nonce = 1;
  b.timestamp_ms = g.genesis_time_ms;
  b.payload = g;
  return *Entry::Sign(b, creator);
}

TEST_CASE("genesis file: round trip, and a wrong hash or a tampered entry is refused", "[genesis]") {
  SecretKey v = SecretKey::FromSeed("v0"), alice = SecretKey::FromSeed("alice");
  auto g = MakeGenesisFile(GenesisEntry("gtest", {v}, alice));
  REQUIRE(g.ok());
  json doc = GenesisFileJson(*g);
  auto back = ParseGenesisFile(doc);
  REQUIRE(back.ok());
  CHECK(back->hash == g->hash);

  json wrong = doc;
  wrong["genesis_hash"] = Sha256(std::string("x")).Hex();
  auto r = ParseGenesisFile(wrong);
  REQUIRE_FALSE(r.ok());
  CHECK_THAT(r.status().message(), Catch::Contains("does not match"));

  json tampered = doc;
  std::string hex = doc["entry"].get<std::string>();
  hex[hex.size() - 3] = hex[hex.size() - 3] == '0' ? '1' : '0';  // inside the signature
  tampered["entry"] = hex;
  auto t = ParseGenesisFile(tampered);
  REQUIRE_FALSE(t.ok());
  CHECK_THAT(t.status().message(), Catch::Contains("signature"));
}

// A one-validator node on loopback with its files in a temporary directory.
struct SoloNode {
  TempDir tmp;
  SecretKey vkey = SecretKey::FromSeed("solo-validator");
  SecretKey alice = SecretKey::FromSeed("solo-alice");
  std::unique_ptr<Node> node;
  std::string url;

  // `absent_validator`: the genesis names a second validator that never runs, so nothing
  // can commit (a quorum of 2 validators is both).
  explicit SoloNode(bool absent_validator = false) {
    REQUIRE(SaveSecretKey(tmp.path + "/node.key", vkey).ok());
    std::vector<SecretKey> validators{vkey};
    if (absent_validator) validators.push_back(SecretKey::FromSeed("solo-absent"));
    auto g = MakeGenesisFile(GenesisEntry("solo", validators, alice));
    REQUIRE(g.ok());
    REQUIRE(WriteGenesisFile(tmp.path + "/genesis.json", *g).ok());
    auto c = ParseNodeConfig(kMinimal, tmp.path);
    REQUIRE(c.ok());
    c->log_level = net::LogLevel::kWarn;
    auto n = Node::Open(*c, net::StderrLog);
    INFO(n.status().ToString());
    REQUIRE(n.ok());
    node = std::move(n).value();
    REQUIRE(node->Start().ok());
    url = "http://127.0.0.1:" + std::to_string(node->http_port());
  }

  Entry Access(uint64_t nonce, const std::string& chain = "solo") const {
    EntryBody b;
    b.chain_id = chain;
    b.nonce = nonce;
    b.timestamp_ms = 1767225600000 + nonce;
    // Valid under the orchestrator's rules too (the default): a partner registers a dataset.
    DatasetRegisterPayload p{"ds-" + std::to_string(nonce), Sha256(std::to_string(nonce)), 10,
                             "smiles,label", ""};
    b.payload = p;
    return *Entry::Sign(b, alice);
  }

  net::HttpClientResponse Post(const json& body) const {
    auto r = net::HttpPostJson(url + "/entries", body);
    INFO(r.status().ToString());
    REQUIRE(r.ok());
    return *r;
  }
};

TEST_CASE("node API: a waited-for submit is committed and its proof checks offline", "[api]") {
  SoloNode s;
  Entry e = s.Access(2);
  auto r = s.Post({{"entry", ToHex(e.bytes())}, {"wait", true}, {"proof", true}});
  INFO(r.body);
  REQUIRE(r.status == 200);
  json j = json::parse(r.body);
  CHECK(j["status"] == "committed");
  CHECK(j["height"] == 1);
  CHECK(j["index"] == 1);
  auto check = CheckProofDoc(j["proof"], s.node->store().genesis_hash());
  REQUIRE(check.ok());
  CHECK(check->entry->leaf_hash() == e.leaf_hash());

  // The same entry again: answered as committed, and nothing changes.
  auto again = s.Post({{"entry", ToHex(e.bytes())}});
  CHECK(again.status == 200);
  CHECK(s.node->store().log_size() == 2);

  auto entry = net::HttpGet(s.url + "/entries/1");
  REQUIRE(entry.ok());
  REQUIRE(entry->status == 200);
  CHECK(json::parse(entry->body)["leaf_hash"] == e.leaf_hash().Hex());
  auto list = net::HttpGet(s.url + "/entries?kind=dataset-register&signer=alice");
  REQUIRE(list.ok());
  CHECK(json::parse(list->body)["count"] == 1);
  auto nonce = net::HttpGet(s.url + "/nonces/alice");
  REQUIRE(nonce.ok());
  CHECK(json::parse(nonce->body)["last_nonce"] == 2);  // 1 was the genesis
  auto block = net::HttpGet(s.url + "/blocks/latest");
  REQUIRE(block.ok());
  CHECK(json::parse(block->body)["height"] == 1);

  auto metrics = net::HttpGet(s.url + "/metrics");
  REQUIRE(metrics.ok());
  CHECK_THAT(metrics->body, Catch::Contains("fedledger_height 1"));
  CHECK_THAT(metrics->body, Catch::Contains("fedledger_commit_latency_seconds_count 1"));
  // The entry arrived while height 1 was being decided (an idle node) and went into its block.
  CHECK_THAT(metrics->body, Catch::Contains("fedledger_commit_heights_waited_total{heights=\"0\"} 1"));
  CHECK_THAT(metrics->body, Catch::Contains("fedledger_commit_heights_waited_total{heights=\"3+\"} 0"));
  CHECK_THAT(metrics->body, Catch::Contains("fedledger_peers_connected 0"));
  CHECK_THAT(metrics->body, Catch::Contains("fedledger_mempool_entries 0"));
  // Its signature was checked once, in the client batch; the resubmission was answered from
  // the store without a check.
  CHECK_THAT(metrics->body, Catch::Contains("fedledger_entry_signature_checks_total{path=\"submit\"} 1"));
  CHECK_THAT(metrics->body, Catch::Contains("fedledger_entry_signature_checks_total{path=\"peer_batch\"} 0"));
  CHECK_THAT(metrics->body, Catch::Contains("fedledger_entry_signature_checks_total{path=\"admission\"} 0"));
  CHECK_THAT(metrics->body, Catch::Contains("fedledger_entry_signature_checks_total{path=\"block\"} 0"));
  // Where the time of a height and of the store's commits goes.
  CHECK_THAT(metrics->body, Catch::Contains("fedledger_height_phase_seconds_total{phase=\"to_commit\"}"));
  CHECK_THAT(metrics->body, Catch::Contains("fedledger_store_commits_total 1"));
  CHECK_THAT(metrics->body, Catch::Contains("fedledger_store_commit_seconds_total{part=\"index_write\"}"));
  for (const char* db : {"log", "index"}) {
    CHECK_THAT(metrics->body, Catch::Contains(std::string("fedledger_store_background_runs_total{db=\"") + db + "\"}"));
    for (const char* clock : {"cpu", "wall"}) {
      CHECK_THAT(metrics->body, Catch::Contains(std::string("fedledger_store_background_seconds_total{db=\"") +
                                                db + "\",clock=\"" + clock + "\"}"));
    }
  }
  // The transport's peer metrics are there, and every family and series exactly once.
  CHECK_THAT(metrics->body, Catch::Contains("fedledger_peer_bytes_sent_total 0"));
  // CPU time, of the process and by thread family.
  CHECK_THAT(metrics->body, Catch::Contains("# TYPE process_cpu_seconds_total counter"));
  for (const char* thread : {"fl-consensus", "fl-peer", "fl-http", "other"}) {
    CHECK_THAT(metrics->body, Catch::Contains(std::string("fedledger_thread_cpu_seconds_total{thread=\"") +
                                              thread + "\"}"));
  }
  std::set<std::string> seen;
  std::istringstream lines(metrics->body);
  for (std::string line; std::getline(lines, line);) {
    if (line.empty()) continue;
    std::string key = line.rfind("# ", 0) == 0 ? line.substr(0, line.find(' ', 7))
                                               : line.substr(0, line.rfind(' '));
    INFO(line);
    CHECK(seen.insert(key).second);
  }
}

TEST_CASE("node API: HEAD on a GET route answers what GET does without the body - POST-only gets 405",
          "[api]") {
  SoloNode s;
  Entry e = s.Access(2);
  REQUIRE(s.Post({{"entry", ToHex(e.bytes())}, {"wait", true}}).status == 200);
  for (std::string path : {"/blocks/1", "/blocks/latest", "/entries/1", "/entries?kind=dataset-register",
                           "/nonces/alice", "/proofs/inclusion/1?tree_size=2", "/tasks", "/datasets",
                           "/blocks/99", "/entries/x"}) {
    INFO(path);
    auto get = net::HttpGet(s.url + path);
    auto head = net::HttpFetch("HEAD", s.url + path);
    REQUIRE(get.ok());
    REQUIRE(head.ok());
    CHECK(head->status == get->status);
    CHECK(head->content_type == get->content_type);
    CHECK(head->headers.at("content-length") == std::to_string(get->body.size()));
    CHECK(head->body.empty());
  }
  // /entries takes POST and GET, so HEAD is GET's; a path with POST only keeps 405.
  auto list = net::HttpFetch("HEAD", s.url + "/entries");
  REQUIRE(list.ok());
  CHECK(list->status == 200);
  auto put = net::HttpFetch("PUT", s.url + "/entries", "{}");
  REQUIRE(put.ok());
  CHECK(put->status == 405);
  CHECK(put->headers.at("allow") == "POST, GET, HEAD");
  auto status = net::HttpFetch("HEAD", s.url + "/status");
  REQUIRE(status.ok());
  CHECK(status->status == 200);
  CHECK(status->body.empty());
  CHECK(std::stoul(status->headers.at("content-length")) > 0);
}

TEST_CASE("node: waiting submissions time out at their own deadlines - earliest first", "[node]") {
  SoloNode s(/*absent_validator=*/true);
  using Clock = std::chrono::steady_clock;
  struct Answer {
    SubmitOutcome::Kind kind = SubmitOutcome::Kind::kAccepted;
    Clock::duration after{};
    std::string reason;
  };
  std::mutex mu;
  std::map<int, Answer> answers;
  const auto t0 = Clock::now();
  // The longest deadline first: the shorter ones must not wait for it.
  const int timeouts_ms[] = {1500, 150, 400};
  for (int k = 0; k < 3; ++k) {
    SubmitOptions o;
    o.wait = true;
    o.timeout = std::chrono::milliseconds(timeouts_ms[k]);
    s.node->Submit(s.Access(static_cast<uint64_t>(k + 2)), o, [&, k](const SubmitOutcome& out) {
      std::lock_guard<std::mutex> lock(mu);
      answers[k] = Answer{out.kind, Clock::now() - t0, out.reason};
    });
  }
  auto answered = [&] {
    std::lock_guard<std::mutex> lock(mu);
    return answers.size();
  };
  for (int i = 0; i < 400 && answered() < 3; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  std::lock_guard<std::mutex> lock(mu);
  REQUIRE(answers.size() == 3);
  auto ms = [&](int k) { return std::chrono::duration_cast<std::chrono::milliseconds>(answers[k].after).count(); };
  for (int k = 0; k < 3; ++k) {
    INFO("timeout " << timeouts_ms[k] << " ms, answered after " << ms(k) << " ms: " << answers[k].reason);
    CHECK(answers[k].kind == SubmitOutcome::Kind::kTimeout);
    CHECK(ms(k) >= timeouts_ms[k]);
  }
  CHECK(ms(1) < ms(2));
  CHECK(ms(2) < ms(0));
  CHECK(ms(1) < 1000);  // not held back until the first submission's deadline
  CHECK(s.node->store().height() == 0);
}

TEST_CASE("node: a waiter answered by its commit gets no second answer when its deadline passes",
          "[node]") {
  // Deadlines stay in the sweep's heap after their waiters are answered; passing them must
  // answer nothing. (Waiters still waiting at their deadline: the test above.)
  SoloNode s;
  using Clock = std::chrono::steady_clock;
  std::mutex mu;
  std::map<uint64_t, std::vector<SubmitOutcome::Kind>> answers;
  const uint64_t kEntries = 40;
  const auto t0 = Clock::now();
  for (uint64_t nonce = 2; nonce < 2 + kEntries; ++nonce) {
    SubmitOptions o;
    o.wait = true;
    o.timeout = std::chrono::milliseconds(nonce % 2 ? 1000 : 2000);  // two deadlines, interleaved
    s.node->Submit(s.Access(nonce), o, [&, nonce](const SubmitOutcome& out) {
      std::lock_guard<std::mutex> lock(mu);
      answers[nonce].push_back(out.kind);
    });
  }
  // Past every deadline and the sweep's slack:
  std::this_thread::sleep_until(t0 + std::chrono::milliseconds(2500));
  std::lock_guard<std::mutex> lock(mu);
  REQUIRE(answers.size() == kEntries);
  for (const auto& [nonce, kinds] : answers) {
    INFO("nonce " << nonce);
    REQUIRE(kinds.size() == 1);
    CHECK(kinds[0] == SubmitOutcome::Kind::kCommitted);
  }
  CHECK(s.node->store().log_size() == 1 + kEntries);
}

TEST_CASE("node API: resubmitting a committed entry answers committed - another entry with its nonce gets 409",
          "[api]") {
  SoloNode s;
  Entry e = s.Access(5);
  // A wait that may end before the commit (504), as a client under load sees it.
  auto first = s.Post({{"entry", ToHex(e.bytes())}, {"wait", true}, {"timeout_ms", 1}});
  INFO(first.body);
  REQUIRE((first.status == 200 || first.status == 504));
  for (int i = 0; i < 500 && s.node->store().log_size() < 2; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  REQUIRE(s.node->store().log_size() == 2);
  auto retry = s.Post({{"entry", ToHex(e.bytes())}, {"wait", true}, {"proof", true}});
  INFO(retry.body);
  REQUIRE(retry.status == 200);
  json j = json::parse(retry.body);
  CHECK(j["status"] == "committed");
  CHECK(j["height"] == 1);
  CHECK(j["index"] == 1);
  CHECK(j["leaf_hash"] == e.leaf_hash().Hex());
  CHECK_FALSE(j.contains("latency_ms"));
  auto check = CheckProofDoc(j["proof"], s.node->store().genesis_hash());
  INFO(check.status().ToString());
  REQUIRE(check.ok());
  CHECK(check->entry->leaf_hash() == e.leaf_hash());
  CHECK(check->tree_size == 2);
  // Without wait or proof: the same answer, without the proof.
  auto plain = s.Post({{"entry", ToHex(e.bytes())}});
  CHECK(plain.status == 200);
  json p = json::parse(plain.body);
  CHECK(p["status"] == "committed");
  CHECK(p["index"] == 1);
  CHECK_FALSE(p.contains("proof"));

  // A different entry with the spent nonce (and one with a nonce below it): still refused.
  EntryBody b;
  b.chain_id = "solo";
  b.nonce = 5;
  b.timestamp_ms = 1767225600999;
  b.payload = DatasetRegisterPayload{"ds-other", Sha256(std::string("other")), 10, "smiles,label", ""};
  Entry other = *Entry::Sign(b, s.alice);
  REQUIRE(other.leaf_hash() != e.leaf_hash());
  for (const Entry& stale : {other, s.Access(3)}) {
    auto r = s.Post({{"entry", ToHex(stale.bytes())}, {"wait", true}});
    INFO(r.body);
    CHECK(r.status == 409);
    json rj = json::parse(r.body);
    CHECK(rj["admission"] == "stale_nonce");
    CHECK(rj["status"] == "rejected");
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  CHECK(s.node->store().log_size() == 2);
  CHECK(s.node->store().height() == 1);
}

TEST_CASE("node: its threads carry names an operator sees in top -H and ps -L", "[api]") {
  SoloNode s;
  std::multiset<std::string> names;
  for (const auto& task : std::filesystem::directory_iterator("/proc/self/task")) {
    std::ifstream comm(task.path() / "comm");
    std::string name;
    std::getline(comm, name);
    names.insert(name);
  }
  INFO(Catch::rangeToString(names));
  CHECK(names.count("fl-consensus") == 1);
  CHECK(names.count("fl-peer") >= 1);
  CHECK(names.count("fl-http") >= 1);
}

TEST_CASE("node: io threads and the store's writers run as batch work but the consensus "
          "thread does not",
          "[api]") {
  SoloNode s;
  auto policies = testing::ThreadPolicies();
  for (const char* name : {"fl-peer", "fl-http"}) {
    INFO(name);
    CHECK(policies[name] == std::set<int>{SCHED_BATCH});
  }
  // The store's index writer, where it runs (a validator's store writes its index in the
  // background), is batch work too.
  if (policies.count("fl-index")) CHECK(policies["fl-index"] == std::set<int>{SCHED_BATCH});
  CHECK(policies["fl-consensus"] == std::set<int>{SCHED_OTHER});
}

TEST_CASE("node API: malformed and invalid submissions get a 4xx with a reason - nothing is stored",
          "[api]") {
  SoloNode s;
  Entry good = s.Access(2);
  std::string hex = ToHex(good.bytes());
  std::string bad_sig = hex;
  bad_sig[bad_sig.size() - 1] = bad_sig.back() == '0' ? '1' : '0';
  struct Case {
    json body;
    int status;
    std::string reason;
  };
  std::vector<Case> cases = {
      {json::array(), 400, "JSON object"},
      {{{"wait", true}}, 400, "'entry'"},
      {{{"entry", "zz"}}, 400, "entry"},
      {{{"entry", hex.substr(0, hex.size() - 2)}}, 400, "entry"},
      {{{"entry", hex}, {"extra", 1}}, 400, "unknown field 'extra'"},
      {{{"entry", hex}, {"wait", "yes"}}, 400, "'wait' must be a boolean"},
      {{{"entry", hex}, {"proof", true}}, 400, "'proof' needs 'wait'"},
      {{{"entry", hex}, {"wait", true}, {"timeout_ms", 0}}, 400, "timeout_ms"},
      {{{"entry", bad_sig}}, 400, "signature"},
      {{{"entry", ToHex(s.Access(2, "other-chain").bytes())}}, 400, "chain"},
  };
  for (const Case& c : cases) {
    auto r = s.Post(c.body);
    INFO(c.body.dump() << " -> " << r.status << " " << r.body);
    CHECK(r.status == c.status);
    CHECK_THAT(r.body, Catch::Contains(c.reason));
  }
  auto raw = net::HttpFetch("POST", s.url + "/entries", "{not json");
  REQUIRE(raw.ok());
  CHECK(raw->status == 400);
  auto huge = net::HttpFetch("POST", s.url + "/entries", std::string(2 << 20, 'a'));
  REQUIRE(huge.ok());
  CHECK(huge->status == 413);
  for (const char* bad : {"/blocks/99", "/blocks/x", "/entries/5", "/entries?limit=0",
                          "/entries?kind=nope", "/entries?colour=red", "/nonces/nobody",
                          "/proofs/inclusion/9", "/proofs/consistency"}) {
    auto r = net::HttpGet(s.url + bad);
    REQUIRE(r.ok());
    INFO(bad << " -> " << r->status << " " << r->body);
    CHECK(r->status >= 400);
    CHECK(r->status < 500);
    CHECK_THAT(r->body, Catch::Contains("error"));
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  CHECK(s.node->store().height() == 0);
  CHECK(s.node->store().log_size() == 1);
}

TEST_CASE("node API: bad query parameters, keys and JSON bodies get a 400 naming the problem", "[api]") {
  SoloNode s;
  struct Get {
    std::string path;
    int status;
    std::string reason;
  };
  const std::string zeros(64, '0'), effs(64, 'f');
  std::vector<Get> gets = {
      {"/proofs/inclusion/0?tree_size=0", 400, "tree size 0 is outside 1..1"},
      {"/proofs/inclusion/0?tree_size=2", 400, "tree size 2 is outside 1..1"},
      {"/proofs/consistency?from=0", 400, "tree size 0 is outside 1..1"},
      {"/blocks/0?entries=abc", 400, "query parameter 'entries' must be 0, 1, false or true, got 'abc'"},
      {"/blocks/0?entries=2", 400, "'entries' must be 0, 1, false or true"},
      {"/blocks/0?foo=1", 400, "unknown query parameter 'foo' (expected entries)"},
      {"/blocks/latest?entries=0&foo=1", 400, "unknown query parameter 'foo'"},
      {"/entries/0?foo=1", 400, "unknown query parameter 'foo' (this path takes none)"},
      {"/proofs/inclusion/0?foo=1", 400, "unknown query parameter 'foo' (expected tree_size)"},
      {"/proofs/consistency?from=1&foo=1", 400, "unknown query parameter 'foo' (expected from, to)"},
      {"/nonces/alice?foo=1", 400, "unknown query parameter 'foo'"},
      {"/status?foo=1", 400, "unknown query parameter 'foo'"},
      {"/nonces/" + zeros, 400, "is not a valid public key"},
      {"/nonces/" + effs, 400, "is not a valid public key"},
      {"/entries?signer=" + zeros, 400, "is not a valid public key"},
      {"/nonces/" + s.alice.pubkey().Hex(), 200, "\"name\":\"alice\""},
      {"/proofs/inclusion/0?tree_size=1", 200, "\"tree_size\":1"},
  };
  for (const Get& g : gets) {
    auto r = net::HttpGet(s.url + g.path);
    REQUIRE(r.ok());
    INFO(g.path << " -> " << r->status << " " << r->body);
    CHECK(r->status == g.status);
    CHECK_THAT(r->body, Catch::Contains(g.reason));
  }
  // The header only, or the entries too, by each accepted spelling.
  for (const char* v : {"0", "false", "1", "true"}) {
    auto r = net::HttpGet(s.url + "/blocks/0?entries=" + v);
    REQUIRE(r.ok());
    INFO(v << " -> " << r->status << " " << r->body);
    REQUIRE(r->status == 200);
    bool want = std::string(v) == "1" || std::string(v) == "true";
    CHECK(json::parse(r->body).contains("entries") == want);
  }

  struct Post {
    std::string body;
    std::string reason;
  };
  std::string hex = ToHex(s.Access(2).bytes());
  std::vector<Post> posts = {
      {R"({"entry":123})", "field 'entry' must be a hex string (the entry's canonical bytes), not number"},
      {R"({"entry":null})", "field 'entry' must be a hex string"},
      {R"({"wait":true})", "field 'entry' (hex of the entry's canonical bytes) is required"},
      {R"({"entry":"00","entry":"11"})", "body has a duplicate key 'entry'"},
      {R"({"entry":")" + hex + R"(","wait":false,"wait":true})", "body has a duplicate key 'wait'"},
      {R"({"entry":")" + hex + R"(","entry":")" + hex + R"("})", "body has a duplicate key 'entry'"},
      {R"({"entry":")" + hex + R"("} {})", "body is not valid JSON"},
  };
  for (const Post& p : posts) {
    auto r = net::HttpFetch("POST", s.url + "/entries", p.body);
    REQUIRE(r.ok());
    INFO(p.body << " -> " << r->status << " " << r->body);
    CHECK(r->status == 400);
    CHECK_THAT(r->body, Catch::Contains(p.reason));
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  CHECK(s.node->store().log_size() == 1);
}

TEST_CASE("node: a store from another genesis and a non-validator key are refused at start",
          "[api]") {
  TempDir tmp;
  SecretKey v = SecretKey::FromSeed("v"), other = SecretKey::FromSeed("other"),
            alice = SecretKey::FromSeed("a");
  REQUIRE(SaveSecretKey(tmp.path + "/node.key", other).ok());
  REQUIRE(WriteGenesisFile(tmp.path + "/genesis.json", *MakeGenesisFile(GenesisEntry("c1", {v}, alice))).ok());
  auto c = ParseNodeConfig(kMinimal, tmp.path);
  REQUIRE(c.ok());
  c->log_level = net::LogLevel::kError;
  auto n = Node::Open(*c, net::StderrLog);
  REQUIRE_FALSE(n.ok());
  CHECK_THAT(n.status().message(), Catch::Contains("is not a validator"));

  // A genesis file that differs from the store's.
  ::unlink((tmp.path + "/node.key").c_str());
  REQUIRE(SaveSecretKey(tmp.path + "/node.key", v).ok());
  { REQUIRE(Node::Open(*c, net::StderrLog).ok()); }  // creates the store
  ::unlink((tmp.path + "/genesis.json").c_str());
  REQUIRE(WriteGenesisFile(tmp.path + "/genesis.json", *MakeGenesisFile(GenesisEntry("c2", {v}, alice))).ok());
  auto m = Node::Open(*c, net::StderrLog);
  REQUIRE_FALSE(m.ok());
  CHECK_THAT(m.status().message(), Catch::Contains("belongs to genesis"));
}

TEST_CASE("node: a bad [partner] section is refused at start naming what is wrong", "[config]") {
  TempDir tmp;
  SecretKey v = SecretKey::FromSeed("v"), alice = SecretKey::FromSeed("a"),
            stranger = SecretKey::FromSeed("s");
  REQUIRE(SaveSecretKey(tmp.path + "/node.key", v).ok());
  REQUIRE(SaveSecretKey(tmp.path + "/alice.key", alice).ok());
  REQUIRE(SaveSecretKey(tmp.path + "/stranger.key", stranger).ok());
  REQUIRE(WriteGenesisFile(tmp.path + "/genesis.json", *MakeGenesisFile(GenesisEntry("c1", {v}, alice))).ok());
  { std::ofstream(tmp.path + "/data.csv") << "smiles,label\nC,1\n"; }
  auto c = ParseNodeConfig(kMinimal, tmp.path);
  REQUIRE(c.ok());
  c->log_level = net::LogLevel::kError;
  PartnerConfig good;
  good.key_file = tmp.path + "/alice.key";
  good.datasets["ds1"] = tmp.path + "/data.csv";
  auto open = [&](const PartnerConfig& p) {
    NodeConfig with = *c;
    with.partner = p;
    return Node::Open(with, net::StderrLog);
  };
  { REQUIRE(open(good).ok()); }
  auto refused = [&](const PartnerConfig& p, const std::string& why) {
    auto n = open(p);
    REQUIRE_FALSE(n.ok());
    CHECK_THAT(n.status().message(), Catch::Contains(why));
  };
  PartnerConfig p = good;
  p.key_file = tmp.path + "/nope.key";
  refused(p, "[partner] key");
  p.key_file = tmp.path + "/node.key";
  refused(p, "this node's validator key");
  p.key_file = tmp.path + "/stranger.key";
  refused(p, "is not a partner in the genesis");
  p = good;
  p.datasets = {{"bad id!", tmp.path + "/data.csv"}};
  refused(p, "[partner] datasets.bad id!");
  p.datasets = {{"ds2", tmp.path + "/missing.csv"}};
  refused(p, "missing.csv");
  p.datasets = {{"ds3", tmp.path}};
  refused(p, "is not a file");
}

TEST_CASE("node: a frame without a signature passes only the sender's own votes and batches",
          "[peer]") {
  // Validator 0 runs as a node; the test holds validator 1's key and talks to it over its own
  // PeerNetwork, marking messages self-signed whatever they are (as a faulty or hostile peer
  // could): the node must refuse all but validator 1's own votes, proposals and entry batches.
  TempDir tmp;
  std::vector<SecretKey> vals;
  for (int i = 0; i < 4; ++i) vals.push_back(SecretKey::FromSeed("selfsig-v" + std::to_string(i)));
  SecretKey alice = SecretKey::FromSeed("selfsig-alice");
  REQUIRE(SaveSecretKey(tmp.path + "/node.key", vals[0]).ok());
  auto g = MakeGenesisFile(GenesisEntry("selfsig", vals, alice));
  REQUIRE(g.ok());
  REQUIRE(WriteGenesisFile(tmp.path + "/genesis.json", *g).ok());
  auto c = ParseNodeConfig(kMinimal, tmp.path);
  REQUIRE(c.ok());
  c->log_level = net::LogLevel::kWarn;
  uint16_t peer_port = net::testing::FreePort();
  c->peers.push_back({vals[1].pubkey(), {"127.0.0.1", peer_port}, std::nullopt});
  std::mutex mu;
  std::vector<std::string> lines;
  auto n = Node::Open(*c, [&](net::LogLevel, const std::string& line) {
    std::lock_guard<std::mutex> l(mu);
    lines.push_back(line);
  });
  REQUIRE(n.ok());
  std::unique_ptr<Node> node = std::move(n).value();
  REQUIRE(node->Start().ok());
  auto logged = [&](const std::string& event, const std::string& what) {
    std::lock_guard<std::mutex> l(mu);
    return std::count_if(lines.begin(), lines.end(), [&](const std::string& line) {
      return line.find("event=" + event) != std::string::npos &&
             line.find(what) != std::string::npos;
    });
  };
  auto refused = [&](const std::string& what) { return logged("unsigned_message_refused", what); };
  auto batch_refused = [&](const std::string& what) {
    return logged("entry_batch_refused", what);
  };

  net::PeerNetworkOptions po;
  po.chain_id = "selfsig";
  po.listen = {"127.0.0.1", peer_port};
  po.peers = {{vals[0].pubkey(), {"127.0.0.1", node->p2p_port()}}};
  po.log = [](net::LogLevel, const std::string&) {};
  net::PeerNetwork peer(vals[1], po);
  REQUIRE(peer.Start().ok());
  REQUIRE(net::testing::WaitFor([&] { return peer.IsConnected(vals[0].pubkey()); }));
  auto send = [&](const consensus::Message& m, bool self_signed) {
    std::vector<net::PeerNetwork::Outgoing> out;
    out.push_back({vals[0].pubkey(), consensus::EncodeMessage(m), self_signed});
    REQUIRE(peer.SendAll(std::move(out)) == 0);
  };

  // An entry batch is signed by the validator that sends it. One signed by validator 2 and
  // sent by validator 1 is refused, with or without a frame signature, and so is one altered
  // after it was signed; the entry never reaches the mempool.
  EntryBody b;
  b.chain_id = "selfsig";
  b.nonce = 2;
  b.timestamp_ms = 1767225600000;
  b.payload = DatasetRegisterPayload{"ds-1", Sha256(std::string("1")), 10, "smiles,label", ""};
  consensus::EntryBatch batch{{*Entry::Sign(b, alice)}};
  batch.Sign(vals[2], "selfsig");
  send(batch, true);
  REQUIRE(net::testing::WaitFor([&] { return refused("an ENTRY_BATCH signed by") == 1; }));
  send(batch, false);
  REQUIRE(net::testing::WaitFor([&] { return batch_refused("not by the peer that sent it") == 1; }));
  batch.Sign(vals[1], "selfsig");
  consensus::EntryBatch altered = batch;
  b.nonce = 3;
  altered.entries.push_back(*Entry::Sign(b, alice));
  send(altered, true);
  REQUIRE(net::testing::WaitFor([&] { return batch_refused("does not verify") == 1; }));
  CHECK(node->StatusJson()["mempool_entries"] == 0);
  // The batch as validator 1 signed it: admitted, without a frame signature.
  send(batch, true);
  REQUIRE(net::testing::WaitFor(
      [&] { return node->StatusJson()["mempool_entries"] == 1; }));

  // Another validator's vote relayed by validator 1: refused. Validator 1's own: accepted.
  auto vote = [&](const SecretKey& key) {
    Vote v;
    v.type = VoteType::kPrevote;
    v.chain_id = "selfsig";
    v.height = 1;
    v.round = 0;
    v.block_hash = Sha256(std::string("some block"));
    v.validator = key.pubkey();
    v.sig = key.SignDeterministic(v.Digest());
    return v;
  };
  send(vote(vals[2]), true);
  REQUIRE(net::testing::WaitFor([&] { return refused("a vote signed by") == 1; }));
  send(vote(vals[1]), true);
  // A marker: once it is refused, the vote before it has been handled.
  send(consensus::SyncRequest{1, 8}, true);
  REQUIRE(net::testing::WaitFor([&] { return refused("SYNC_REQUEST message") == 1; }));
  CHECK(refused("") == 3);
  CHECK(batch_refused("") == 2);
  peer.Stop();
  node->Stop();
}

}  // namespace

}  // namespace fedledger::node
