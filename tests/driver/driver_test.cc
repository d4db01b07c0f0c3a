// The round driver against an in-memory ledger: every entry is checked by the real federation
// state machine and committed as its own block at a manual clock's time; artifacts live in
// per-node maps. Four drivers (three partners, one aggregating operator) are stepped in turn,
// so every schedule is deterministic.
#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <map>
#include <set>

#include "driver/data_gate.h"
#include "driver/round_driver.h"
#include "driver/row_set.h"
#include "driver/settings.h"
#include "orchestrator/secagg.h"
#include "orchestrator/state.h"
#include "trainer/csv.h"

namespace fedledger::driver {
namespace {

using orchestrator::FederationState;
using orchestrator::TaskStatus;

const std::string kTox21 = std::string(FEDLEDGER_SOURCE_DIR) + "/../shared/data/tox21.csv.gz";
const std::string kChain = "driver-test";
constexpr uint64_t kGenesisTime = 1'800'000'000'000;
constexpr uint64_t kTimeout = 60'000;

// The shared world: one ledger, the artifact stores of every node, a clock.
struct World {
  FederationState state;
  std::map<PubKey, uint64_t> nonces;
  std::map<PubKey, std::map<Hash32, std::string>> stores;  // node owner key -> artifacts
  std::vector<Entry> log;
  uint64_t now = kGenesisTime + 1000;

  explicit World(FederationState s) : state(std::move(s)) {}

  Result<uint64_t> Commit(const SecretKey& key, Payload payload) {
    EntryBody body{kChain, key.pubkey(), ++nonces[key.pubkey()], now, std::move(payload)};
    FL_ASSIGN(Entry e, Entry::Sign(std::move(body), key, true));
    now += 10;  // every entry is a block, 10 ms apart
    orchestrator::Verdict v = state.CheckAndApply(e, now);
    if (!v.valid()) return Status::FailedPrecondition(v.ToString());
    log.push_back(e);
    return log.size();
  }
  size_t Count(EntryKind kind) const {
    return static_cast<size_t>(std::count_if(log.begin(), log.end(),
                                             [&](const Entry& e) { return e.kind() == kind; }));
  }
};

// One node's view: its own store is the one of its node key; its partner's key maps to it.
class FakeHost : public DriverHost {
 public:
  FakeHost(World* w, PubKey node, std::optional<PubKey> partner)
      : w_(w), node_(node), partner_(partner) {}
  void Read(const std::function<void(const FederationState&)>& fn) override { fn(w_->state); }
  Result<uint64_t> Commit(const SecretKey& key, Payload payload) override {
    return w_->Commit(key, std::move(payload));
  }
  PubKey Where(const PubKey& owner) const {
    return partner_ && owner == *partner_ ? node_ : owner;
  }
  Result<Hash32> StoreArtifact(std::shared_ptr<const std::string> bytes) override {
    Hash32 hash = Sha256(*bytes);
    FL_TRY(PutArtifact(node_, hash, bytes));
    return hash;
  }
  Status PutArtifact(const PubKey& owner, const Hash32& hash,
                     std::shared_ptr<const std::string> bytes) override {
    if (Sha256(*bytes) != hash) return Status::InvalidArgument("hash mismatch");
    ++puts[Where(owner) == node_ ? "local" : "remote"];
    w_->stores[Where(owner)][hash] = *bytes;
    return Status::Ok();
  }
  Result<std::shared_ptr<const std::string>> GetArtifact(const PubKey& owner,
                                                         const Hash32& hash) override {
    auto& s = w_->stores[Where(owner)];
    auto it = s.find(hash);
    if (it == s.end()) return Status::NotFound("no artifact " + hash.ShortHex());
    return std::make_shared<const std::string>(it->second);
  }
  uint64_t NowMs() override { return w_->now; }
  std::map<std::string, int> puts;

 private:
  World* w_;
  PubKey node_;
  std::optional<PubKey> partner_;
};

struct Fixture {
  std::filesystem::path dir;
  std::vector<SecretKey> partners, nodes;
  std::unique_ptr<World> world;
  std::vector<std::string> files;
  std::vector<std::unique_ptr<FakeHost>> hosts;
  std::vector<std::unique_ptr<RoundDriver>> drivers;  // 0..2 partners, 3 the operator
  std::vector<std::string> log;

  Fixture() {
    dir = std::filesystem::temp_directory_path() /
          ("fedledger-driver-" + std::to_string(::getpid()) + "-" + std::to_string(counter++));
    std::filesystem::create_directories(dir);
    GenesisPayload g;
    g.genesis_time_ms = kGenesisTime;
    for (int i = 0; i < 4; ++i) {
      nodes.push_back(SecretKey::FromSeed("node-" + std::to_string(i)));
      g.validators.push_back({"validator-" + std::to_string(i), nodes.back().pubkey()});
    }
    for (int i = 0; i < 3; ++i) {
      partners.push_back(SecretKey::FromSeed("partner-" + std::to_string(i)));
      g.partners.push_back({"partner-" + std::to_string(i), partners.back().pubkey()});
    }
    EntryBody body{kChain, nodes[3].pubkey(), 1, kGenesisTime, g};
    auto e = Entry::Sign(body, nodes[3], true);
    REQUIRE(e.ok());
    auto s = FederationState::FromGenesis(*e);
    REQUIRE(s.ok());
    world = std::make_unique<World>(std::move(s).value());

    // Three shards of Tox21, 150 compounds each.
    auto table = trainer::ReadCsv(kTox21);
    REQUIRE(table.ok());
    for (int p = 0; p < 3; ++p) {
      trainer::CsvTable shard;
      shard.header = table->header;
      for (size_t r = p * 150u; r < (p + 1) * 150u; ++r) shard.rows.push_back(table->rows[r]);
      files.push_back((dir / ("shard-" + std::to_string(p) + ".csv")).string());
      REQUIRE(trainer::WriteCsv(files.back(), shard).ok());
      auto h = Sha256File(files.back());
      REQUIRE(h.ok());
      REQUIRE(world->Commit(partners[p], DatasetRegisterPayload{"shard", *h, 150, "smiles", ""}).ok());
    }
    for (int i = 0; i < 4; ++i) {
      std::optional<PubKey> pk;
      if (i < 3) pk = partners[i].pubkey();
      hosts.push_back(std::make_unique<FakeHost>(world.get(), nodes[i].pubkey(), pk));
      drivers.push_back(MakeDriver(i));
    }
  }
  // Node i's driver, as a fresh process would start it.
  std::unique_ptr<RoundDriver> MakeDriver(int i) {
    DriverOptions o;
    o.node_key = nodes[i].pubkey();
    o.node_signer = nodes[i];
    if (i < 3) {
      o.partner_key = partners[i];
      o.datasets = {{"shard", files[i]}};
    }
    o.work_dir = (dir / ("node" + std::to_string(i))).string();
    o.log = [this, i](const std::string& l) { log.push_back("node" + std::to_string(i) + " " + l); };
    return std::make_unique<RoundDriver>(hosts[i].get(), o);
  }
  ~Fixture() { std::filesystem::remove_all(dir); }

  TaskSpec Spec(const std::string& id, uint32_t rounds,
                std::vector<Setting> extra = {}) const {
    TaskSpec s;
    s.task_id = id;
    s.title = "driver test";
    for (const auto& p : partners) s.participants.push_back({p.pubkey(), "shard"});
    std::sort(s.participants.begin(), s.participants.end(),
              [](const Participant& a, const Participant& b) { return a.partner < b.partner; });
    s.aggregator = nodes[3].pubkey();
    s.rounds = rounds;
    s.round_timeout_ms = kTimeout;
    s.expires_at_ms = kGenesisTime + 86'400'000;
    s.model = "mlp-trunk";
    s.settings = {{"bits", "1024"}, {"hidden", "16"}, {"seed", "7"}};
    for (auto& kv : extra) s.settings.push_back(kv);
    std::sort(s.settings.begin(), s.settings.end(),
              [](const Setting& a, const Setting& b) { return a.key < b.key; });
    return s;
  }
  void Propose(const TaskSpec& spec, bool approve = true) {
    REQUIRE(world->Commit(partners[0], TaskProposePayload{spec}).ok());
    if (!approve) return;
    for (const auto& p : partners) {
      auto r = world->Commit(p, TaskApprovePayload{spec.task_id, spec.Hash()});
      INFO(r.status().ToString());
      REQUIRE(r.ok());
    }
  }
  TaskStatus Status(const std::string& id) const {
    return world->state.StatusOf(*world->state.FindTask(id));
  }
  // Steps the chosen drivers in turn until none does anything (or `max` passes).
  void Run(std::set<int> who = {0, 1, 2, 3}, int max = 400) {
    for (int pass = 0; pass < max; ++pass) {
      bool any = false;
      for (int i : who) any |= drivers[i]->Step();
      if (!any) return;
    }
    FAIL("the drivers did not settle within " << max << " passes");
  }
  std::string Log() const {
    std::string out;
    for (const auto& l : log) out += l + "\n";
    return out;
  }
  static inline int counter = 0;
};

// Every aggregate on the ledger, recomputed from scratch (AggregateEncoded) from the updates
// of the attempt it closed, as the aggregator's store holds them: the sums the driver built
// as the updates arrived are bit for bit the batch sums.
void CheckAggregatesRecomputed(Fixture& f, const std::string& id) {
  const auto* task = f.world->state.FindTask(id);
  REQUIRE(task != nullptr);
  auto& agg_store = f.world->stores[f.nodes[3].pubkey()];
  for (const auto& r : task->rounds) {
    if (!r.aggregate) continue;
    INFO("round " << r.round << " attempt " << r.attempt);
    std::vector<orchestrator::SecAggArtifactView> views;
    for (const auto& [member, u] : r.updates) {
      REQUIRE(agg_store.count(u.update_hash));
      auto v = orchestrator::SecAggArtifactView::Decode(AsView(agg_store[u.update_hash]));
      REQUIRE(v.ok());
      views.push_back(*v);
    }
    orchestrator::MaskContext ctx{kChain, id, r.round, r.attempt, r.members};
    auto want = orchestrator::AggregateEncoded(f.nodes[3].pubkey(), ctx, views);
    REQUIRE(want.ok());
    CHECK(Sha256(*want) == r.aggregate->aggregate_hash);
    CHECK(agg_store[r.aggregate->aggregate_hash] == *want);
  }
}

TEST_CASE("driver: a task runs every round to completion and every partner verifies the final trunk") {
  Fixture f;
  TaskSpec spec = f.Spec("t-full", 3);
  f.Propose(spec);
  f.Run();
  INFO(f.Log());
  REQUIRE(f.Status("t-full") == TaskStatus::kCompleted);
  const auto* task = f.world->state.FindTask("t-full");
  REQUIRE(task->rounds.size() == 3);
  for (const auto& r : task->rounds) {
    REQUIRE(r.aggregate);
    CHECK(r.aggregate->contributors.size() == 3);
    CHECK(r.restarts.empty());
  }
  // The ledger holds exactly the expected entries.
  CHECK(f.world->Count(EntryKind::kDataAccess) == 9);
  CHECK(f.world->Count(EntryKind::kModelUpdate) == 9);
  CHECK(f.world->Count(EntryKind::kRoundAggregate) == 3);
  CHECK(f.world->Count(EntryKind::kTaskComplete) == 1);
  CHECK(f.world->Count(EntryKind::kRoundRestart) == 0);
  // Every hash on the ledger names an artifact the aggregator holds, with those bytes.
  auto& agg_store = f.world->stores[f.nodes[3].pubkey()];
  for (const auto& r : task->rounds) {
    CHECK(agg_store.count(r.aggregate->aggregate_hash));
  }
  CHECK(agg_store.count(*task->final_trunk_hash));
  CHECK(f.world->state.NamesArtifact(*task->final_trunk_hash));
  CHECK(f.world->state.NamesArtifact(task->rounds[1].aggregate->aggregate_hash));
  CheckAggregatesRecomputed(f, "t-full");
  CHECK_FALSE(f.world->state.NamesArtifact(Sha256(std::string("something else"))));
  for (const Entry& e : f.world->log) {
    if (const auto* u = std::get_if<ModelUpdatePayload>(&e.payload())) {
      REQUIRE(agg_store.count(u->update_hash));
      CHECK(Sha256(agg_store[u->update_hash]) == u->update_hash);
      CHECK(agg_store[u->update_hash].size() == u->size_bytes);
      CHECK(f.world->state.NamesArtifact(u->update_hash));
    }
  }
  for (int p = 0; p < 3; ++p) {
    nlohmann::json rep = f.drivers[p]->Report("t-full");
    INFO(rep.dump(2));
    CHECK(rep["status"] == "completed");
    CHECK(rep["final_trunk_verified"] == true);
    CHECK(rep["rounds"].size() == 3);
    CHECK(rep["selected"]["round"].get<int>() >= 1);
    CHECK(std::filesystem::exists(f.dir / ("node" + std::to_string(p)) / "t-full" / "report.json"));
    // Each partner sent its update to the aggregator only after committing it: one remote
    // put per round.
    CHECK(f.hosts[p]->puts["remote"] == 3);
  }
  // A node that starts after the task ended, with its report on disk, leaves it alone.
  auto restarted = f.MakeDriver(0);
  CHECK_FALSE(restarted->Step());
  CHECK(restarted->Report("t-full")["rounds"].is_null());
}

TEST_CASE("driver: idle (no wake-up needed for non-task blocks) until a task names its node") {
  Fixture f;
  for (auto& d : f.drivers) CHECK_FALSE(d->Idle());  // not stepped yet: it may have work
  for (auto& d : f.drivers) CHECK_FALSE(d->Step());
  for (auto& d : f.drivers) CHECK(d->Idle());
  Block quiet;  // no task entry: an idle driver is not woken
  for (auto& d : f.drivers) CHECK_FALSE(d->OnCommitted(quiet));
  TaskSpec spec = f.Spec("t-idle", 1);
  f.Propose(spec);  // approved: active, naming partners 0-2 and node 3 as aggregator
  Block with_task;
  for (const Entry& e : f.world->log) {
    if (e.kind() == EntryKind::kTaskPropose) with_task.entries.push_back(e);
  }
  REQUIRE(with_task.entries.size() == 1);
  for (auto& d : f.drivers) CHECK(d->OnCommitted(with_task));  // still idle, but a task entry
  for (auto& d : f.drivers) d->Step();
  for (auto& d : f.drivers) CHECK_FALSE(d->Idle());
  for (auto& d : f.drivers) CHECK(d->OnCommitted(quiet));  // busy: every block may matter
}

TEST_CASE("driver: the data gate opens the file only after the round's DATA_ACCESS is committed") {
  Fixture f;
  TaskSpec spec = f.Spec("t-gate", 2);
  f.Propose(spec, /*approve=*/false);
  auto h = Sha256File(f.files[0]);
  REQUIRE(h.ok());
  trainer::LoadOptions lo;
  lo.featurize.bits = 1024;
  DataGate gate(f.files[0], *h, lo);
  const PubKey& me = f.partners[0].pubkey();
  // Proposed, no approvals: refused, and the file is not read.
  auto r = gate.Open(*f.hosts[0], "t-gate", 1, me);
  REQUIRE(r.status().code() == Status::Code::kPermissionDenied);
  CHECK_THAT(r.status().message(), Catch::Contains("task-not-active"));
  CHECK_FALSE(gate.opened());
  // The driver of a partner does nothing with a proposed task either.
  CHECK_FALSE(f.drivers[0]->Step());
  CHECK(f.world->Count(EntryKind::kDataAccess) == 0);
  // Active, but no DATA_ACCESS committed yet: still refused.
  for (const auto& p : f.partners) {
    REQUIRE(f.world->Commit(p, TaskApprovePayload{"t-gate", spec.Hash()}).ok());
  }
  r = gate.Open(*f.hosts[0], "t-gate", 1, me);
  REQUIRE(r.status().code() == Status::Code::kPermissionDenied);
  CHECK_THAT(r.status().message(), Catch::Contains("no-data-access"));
  CHECK_FALSE(gate.opened());
  // Another partner's data access does not open this partner's gate.
  REQUIRE(f.world->Commit(f.partners[1], DataAccessPayload{"t-gate", 1, "shard", *Sha256File(f.files[1]), 150}).ok());
  CHECK(gate.Open(*f.hosts[0], "t-gate", 1, me).status().code() == Status::Code::kPermissionDenied);
  // Its own committed DATA_ACCESS opens it.
  REQUIRE(f.world->Commit(f.partners[0], DataAccessPayload{"t-gate", 1, "shard", *h, 150}).ok());
  r = gate.Open(*f.hosts[0], "t-gate", 1, me);
  INFO(r.status().ToString());
  REQUIRE(r.ok());
  CHECK((*r)->size() == 150);
  CHECK(gate.opened());
  // The wrong round is refused even once the data is loaded.
  CHECK(gate.Open(*f.hosts[0], "t-gate", 2, me).status().code() == Status::Code::kPermissionDenied);
}

TEST_CASE("driver: a data file changed after registration is refused before training") {
  Fixture f;
  TaskSpec spec = f.Spec("t-changed", 1);
  f.Propose(spec);
  { std::ofstream(f.files[1], std::ios::app) << "CCO,1,0,0,0,0,0,0,0,0,0,0,0\n"; }
  f.Run();
  INFO(f.Log());
  nlohmann::json rep = f.drivers[1]->Report("t-changed");
  REQUIRE(rep.contains("error"));
  CHECK_THAT(rep["error"].get<std::string>(), Catch::Contains("changed since it was registered"));
  // It declared the access (before reading) but never trained or sent an update.
  CHECK(f.world->Count(EntryKind::kModelUpdate) == 2);
  CHECK(f.Status("t-changed") == TaskStatus::kActive);
}

TEST_CASE("driver: a member that does not deliver is dropped by a restart after the timeout, and rejoins next round") {
  Fixture f;
  TaskSpec spec = f.Spec("t-drop", 2);
  f.Propose(spec);
  // Partner 2 is down during round 1.
  f.Run({0, 1, 3});
  const auto* task = f.world->state.FindTask("t-drop");
  REQUIRE(task->CurrentRound() != nullptr);
  CHECK(task->CurrentRound()->updates.size() == 2);
  CHECK(f.world->Count(EntryKind::kRoundRestart) == 0);  // not before the timeout
  f.world->now += kTimeout + 1000;
  f.Run({0, 1, 3});
  INFO(f.Log());
  task = f.world->state.FindTask("t-drop");
  REQUIRE(task->rounds[0].restarts.size() == 1);
  CHECK(task->rounds[0].restarts[0].dropped == std::vector<PubKey>{f.partners[2].pubkey()});
  // The two survivors re-masked for attempt 1; the round closed with them alone.
  REQUIRE(task->rounds[0].aggregate);
  CHECK(task->rounds[0].aggregate->contributors.size() == 2);
  CHECK(task->rounds[0].attempt == 1);
  CHECK(task->rounds[0].restarts[0].discarded_updates.size() == 2);
  // The aggregator had summed the two updates of attempt 0 as they arrived; the restart made
  // it drop that partial sum and sum the re-masked updates of attempt 1 from scratch.
  CHECK_THAT(f.Log(), Catch::Matchers::Contains(
                          "event=partial-sum-dropped task=t-drop round=1 attempt=0 added=2"));
  // Partner 2 comes back and takes part in round 2.
  f.Run();
  REQUIRE(f.Status("t-drop") == TaskStatus::kCompleted);
  CheckAggregatesRecomputed(f, "t-drop");
  task = f.world->state.FindTask("t-drop");
  CHECK(task->rounds[1].aggregate->contributors.size() == 3);
  nlohmann::json rep = f.drivers[2]->Report("t-drop");
  CHECK(rep["final_trunk_verified"] == true);
  CHECK(rep["rounds"][0]["contributed"] == false);
  CHECK(rep["rounds"][1]["contributed"] == true);
}

TEST_CASE("driver: the aggregator sums updates as they arrive and rebuilds a lost partial sum from its store") {
  Fixture f;
  TaskSpec spec = f.Spec("t-sum", 2);
  f.Propose(spec);
  // Partners 0 and 1 deliver round 1; the aggregator sums both before partner 2 has trained.
  f.Run({0, 1});
  REQUIRE(f.drivers[3]->Step());
  CHECK_THAT(f.Log(), Catch::Matchers::Contains("event=update-summed task=t-sum round=1 attempt=0"));
  CHECK_THAT(f.Log(), Catch::Matchers::Contains("added=2/3"));
  CHECK_FALSE(f.world->state.FindTask("t-sum")->rounds[0].aggregate);
  // The aggregator's node restarts: its partial sum was in memory only.
  f.drivers[3] = f.MakeDriver(3);
  f.Run();
  INFO(f.Log());
  REQUIRE(f.Status("t-sum") == TaskStatus::kCompleted);
  CheckAggregatesRecomputed(f, "t-sum");
  for (int p = 0; p < 3; ++p) CHECK(f.drivers[p]->Report("t-sum")["final_trunk_verified"] == true);
}

TEST_CASE("driver: a revocation takes effect from the next round") {
  Fixture f;
  TaskSpec spec = f.Spec("t-revoke", 3);
  f.Propose(spec);
  // Round 1 runs until every update is in, then partner 1 revokes.
  f.Run({0, 1, 2});
  REQUIRE(f.world->state.FindTask("t-revoke")->CurrentRound()->updates.size() == 3);
  REQUIRE(f.world->Commit(f.partners[1], TaskRevokePayload{"t-revoke", "budget"}).ok());
  f.Run();
  INFO(f.Log());
  REQUIRE(f.Status("t-revoke") == TaskStatus::kCompleted);
  const auto* task = f.world->state.FindTask("t-revoke");
  CHECK(task->rounds[0].aggregate->contributors.size() == 3);  // it kept its place in round 1
  for (int r = 1; r < 3; ++r) {
    CHECK(task->rounds[r].aggregate->contributors.size() == 2);
    CHECK_FALSE(task->rounds[r].accesses.count(f.partners[1].pubkey()));  // never read its data again
  }
  CHECK(f.world->Count(EntryKind::kDataAccess) == 3 + 2 + 2);
}

TEST_CASE("driver: a partner whose node restarts after committing its update re-sends it without training again") {
  Fixture f;
  TaskSpec spec = f.Spec("t-restart", 2);
  f.Propose(spec);
  // Partner 0 declares its access, trains and commits its update, then its node restarts
  // before sending it.
  REQUIRE(f.drivers[0]->Step());  // DATA_ACCESS
  REQUIRE(f.drivers[0]->Step());  // trains
  REQUIRE(f.drivers[0]->Step());  // MODEL_UPDATE committed
  REQUIRE(f.world->state.FindTask("t-restart")->CurrentRound()->updates.size() == 1);
  f.drivers[0] = f.MakeDriver(0);
  f.Run();
  INFO(f.Log());
  REQUIRE(f.Status("t-restart") == TaskStatus::kCompleted);
  const std::string log = f.Log();
  // One data access and one update per partner and round: the restarted driver trained round
  // 1 once (before the restart), sent the committed update from its store, and went on.
  CHECK(f.world->Count(EntryKind::kDataAccess) == 6);
  CHECK(f.world->Count(EntryKind::kModelUpdate) == 6);
  size_t trained = 0;
  for (size_t p = log.find("node0 component=driver event=trained task=t-restart round=1");
       p != std::string::npos; p = log.find("node0 component=driver event=trained task=t-restart round=1", p + 1)) {
    ++trained;
  }
  CHECK(trained == 1);
  nlohmann::json rep = f.drivers[0]->Report("t-restart");
  CHECK(rep["final_trunk_verified"] == true);
}

TEST_CASE("driver: a task with a setting the trainer does not know is refused, not run with a default") {
  Fixture f;
  TaskSpec spec = f.Spec("t-unknown", 1, {{"hiden", "64"}});
  f.Propose(spec);
  f.Run();
  for (int p = 0; p < 3; ++p) {
    auto rep = f.drivers[p]->Report("t-unknown");
    CHECK_THAT(rep["error"].get<std::string>(), Catch::Contains("setting 'hiden'"));
  }
  CHECK(f.world->Count(EntryKind::kDataAccess) == 0);
}

TEST_CASE("driver: settings parse every documented key and refuse bad values") {
  TaskSpec s;
  s.task_id = "t";
  s.model = "mlp-trunk";
  s.settings = {{"batch_size", "64"}, {"bits", "2048"}, {"dropout", "0.5"},
                {"hidden", "512,128"}, {"local_epochs", "2"}, {"lr", "0.0005"},
                {"secagg.clip", "2"}, {"secagg.rows", "all"}, {"seed", "3"}};
  auto r = SettingsFromSpec(s);
  REQUIRE(r.ok());
  CHECK(r->bits == 2048);
  CHECK(r->hidden == std::vector<int>{512, 128});
  CHECK(r->dropout == Approx(0.5));
  CHECK(r->local_epochs == 2);
  CHECK(r->seed == 3);
  CHECK_FALSE(r->union_rows);
  TaskSpec plain;
  plain.task_id = "t";
  plain.model = "mlp-trunk";
  CHECK(SettingsFromSpec(plain)->union_rows);
  for (auto [k, v] : std::vector<std::pair<std::string, std::string>>{
           {"bits", "12x"}, {"hidden", "256,"}, {"dropout", "1.5"}, {"lr", "nan"}, {"seed", "-1"},
           {"secagg.rows", "some"}}) {
    TaskSpec b = s;
    b.settings = {{k, v}};
    auto bad = SettingsFromSpec(b);
    REQUIRE_FALSE(bad.ok());
    CHECK_THAT(bad.status().message(), Catch::Contains("setting '" + k + "'"));
  }
  s.model = "gnn";
  CHECK_THAT(SettingsFromSpec(s).status().message(), Catch::Contains("model 'gnn'"));
}

TEST_CASE("driver: after the first aggregate only the union's rows travel, with the same model") {
  Fixture f;
  // 8192 bits: 450 Tox21 compounds set about a third of them.
  auto with_bits = [](TaskSpec s) {
    for (Setting& kv : s.settings) {
      if (kv.key == "bits") kv.value = "8192";
    }
    return s;
  };
  TaskSpec compact = with_bits(f.Spec("t-union", 3));  // secagg.rows = "union" is the default
  TaskSpec full = with_bits(f.Spec("t-every", 3, {{"secagg.rows", "all"}}));
  f.Propose(compact);
  f.Propose(full);
  f.Run();
  INFO(f.Log());
  REQUIRE(f.Status("t-union") == TaskStatus::kCompleted);
  REQUIRE(f.Status("t-every") == TaskStatus::kCompleted);
  auto sizes = [&](const std::string& task) {
    std::map<uint32_t, std::set<uint64_t>> by_round;
    for (const Entry& e : f.world->log) {
      if (const auto* u = std::get_if<ModelUpdatePayload>(&e.payload())) {
        if (u->task_id == task) by_round[u->round].insert(u->size_bytes);
      }
    }
    return by_round;
  };
  auto all = sizes("t-every"), uni = sizes("t-union");
  REQUIRE(all.size() == 3);
  REQUIRE(uni.size() == 3);
  CHECK(all[1] == all[2]);
  CHECK(all[2] == all[3]);
  CHECK(uni[1] == all[1]);
  REQUIRE(uni[2].size() == 1);
  CHECK(*uni[2].begin() < *all[2].begin() / 2);
  CHECK(uni[3] == uni[2]);
  for (int p = 0; p < 3; ++p) {
    nlohmann::json a = f.drivers[p]->Report("t-every"), u = f.drivers[p]->Report("t-union");
    INFO(u.dump(2));
    CHECK(u["final_trunk_verified"] == true);
    CHECK(a["final_trunk_verified"] == true);
    // Bit for bit the same training: the rows left out are exactly zero in every update.
    for (int r = 0; r < 3; ++r) {
      CHECK(u["rounds"][r]["valid"] == a["rounds"][r]["valid"]);
      CHECK(u["rounds"][r]["test"] == a["rounds"][r]["test"]);
    }
    CHECK(u["rounds"][0]["rows"] == 8192);
    CHECK(u["rounds"][1]["rows"].get<int>() < 4096);
    CHECK(a["rounds"][1]["rows"] == 8192);
  }
}

TEST_CASE("row set: the union of the rows full aggregates touched, and the compact layout") {
  trainer::Weights trunk;
  trunk.tensors.push_back({"trunk.0.weight", {4, 2}, std::vector<float>(8, 1.0f)});
  trunk.tensors.push_back({"trunk.0.bias", {2}, {0.5f, 0.5f}});
  const PubKey a = SecretKey::FromSeed("a").pubkey(), b = SecretKey::FromSeed("b").pubkey(),
               c = SecretKey::FromSeed("c").pubkey();
  RowSet rows(trunk, true);
  CHECK_FALSE(rows.CompactFor({a, b}));  // nothing learned yet: full layout
  CHECK(rows.Words(false) == 10);

  // An aggregate of rows 1 and 3 (and the bias), from a and b.
  orchestrator::SecAggArtifact agg;
  agg.type = orchestrator::SecAggHeader::Type::kAggregate;
  agg.chain_id = "c";
  agg.task_id = "t";
  agg.samples = 2;
  agg.members = {a, b};
  std::sort(agg.members.begin(), agg.members.end());
  agg.scale = 1;
  agg.words = {0, 0, 4, 0, 0, 0, 0, uint32_t(-2), 6, 8};
  std::string bytes = agg.EncodeString();
  auto view = orchestrator::SecAggArtifactView::Decode(AsView(bytes));
  REQUIRE(view.ok());
  REQUIRE(rows.Apply(*view, false, &trunk).ok());
  rows.Learn(*view, false, agg.members);
  CHECK(rows.rows() == 2);
  CHECK(trunk.tensors[0].data == std::vector<float>{1, 1, 3, 1, 1, 1, 1, 0});
  CHECK(trunk.tensors[1].data == std::vector<float>{3.5f, 4.5f});
  CHECK(rows.CompactFor({a, b}));
  CHECK(rows.CompactFor({b}));
  CHECK_FALSE(rows.CompactFor({a, c}));  // c brings its rows in with a full round
  CHECK(rows.Words(true) == 6);

  // Compacting keeps rows 1 and 3 and the bias; a value elsewhere is refused, not dropped.
  std::vector<float> out;
  REQUIRE(rows.Compact(std::vector<float>{0, 0, 1, 2, 0, 0, 3, 4, 5, 6}, &out).ok());
  CHECK(out == std::vector<float>{1, 2, 3, 4, 5, 6});
  Status st = rows.Compact(std::vector<float>{0, 0, 1, 2, 0, 7, 3, 4, 5, 6}, &out);
  CHECK(st.code() == Status::Code::kInvalidArgument);
  CHECK_THAT(st.message(), Catch::Matchers::Contains("row 2"));

  // A compact aggregate lands on rows 1 and 3; a size that fits neither layout is refused.
  agg.words = {2, 2, 2, 2, 2, 2};
  bytes = agg.EncodeString();
  view = orchestrator::SecAggArtifactView::Decode(AsView(bytes));
  REQUIRE(view.ok());
  REQUIRE(rows.Apply(*view, true, &trunk).ok());
  CHECK(trunk.tensors[0].data == std::vector<float>{1, 1, 4, 2, 1, 1, 2, 1});
  CHECK(trunk.tensors[1].data == std::vector<float>{4.5f, 5.5f});
  CHECK_THAT(rows.Apply(*view, false, &trunk).message(), Catch::Matchers::Contains("full round"));
  rows.Learn(*view, true, {c});  // a compact aggregate teaches nothing
  CHECK(rows.rows() == 2);
  CHECK_FALSE(rows.CompactFor({c}));
  // Disabled: always the full layout.
  CHECK_FALSE(RowSet(trunk, false).CompactFor({a}));
}

}  // namespace
}  // namespace fedledger::driver
