// OrchestratorApplication over an in-memory store: the ledger's rules and the federation's
// rules together, at mempool admission, on a proposed block and on a (synced) commit; the
// state rebuilt at open and advanced by every commit.
#include "orchestrator/application.h"

#include <leveldb/env.h>
#include <leveldb/helpers/memenv.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <map>
#include <memory>

#include "ledger/devchain.h"
#include "ledger/store.h"

namespace fedledger::orchestrator {
namespace {

using Catch::Matchers::Contains;

constexpr uint64_t kT0 = 1'800'000'000'000;

struct AppFixture {
  std::unique_ptr<leveldb::Env> env{leveldb::NewMemEnv(leveldb::Env::Default())};
  const std::string chain = "app-chain";
  SecretKey v0 = SecretKey::FromSeed("app-v0"), v1 = SecretKey::FromSeed("app-v1");
  SecretKey alice = SecretKey::FromSeed("alice"), bob = SecretKey::FromSeed("bob");
  SecretKey mallory = SecretKey::FromSeed("mallory");
  std::unique_ptr<Store> store;
  uint64_t clock_ms = kT0;
  std::map<PubKey, uint64_t> nonces;

  AppFixture() {
    GenesisPayload g;
    g.genesis_time_ms = kT0;
    g.validators = {{"v0", v0.pubkey()}, {"v1", v1.pubkey()}};
    g.partners = {{"alice", alice.pubkey()}, {"bob", bob.pubkey()}};
    auto ge = Entry::Sign(EntryBody{chain, v0.pubkey(), 1, kT0, g}, v0, true);
    REQUIRE(ge.ok());
    auto gb = MakeGenesisBlock(*ge);
    REQUIRE(gb.ok());
    StoreOptions so;
    so.env = env.get();
    so.verify_signatures_on_commit = false;
    auto s = Store::Create("/app", *gb, so);
    REQUIRE(s.ok());
    store = std::move(s).value();
  }

  std::unique_ptr<OrchestratorApplication> Open() {
    ApplicationOptions o;
    o.admission_clock = [this] { return clock_ms; };
    auto app = OrchestratorApplication::Open(store.get(), o);
    INFO(app.status().ToString());
    REQUIRE(app.ok());
    return std::move(app).value();
  }

  Entry Sign(const SecretKey& k, Payload p) {
    auto e = Entry::Sign(EntryBody{chain, k.pubkey(), ++nonces[k.pubkey()], clock_ms, std::move(p)},
                         k, true);
    REQUIRE(e.ok());
    return std::move(e).value();
  }

  Block MakeBlock(const consensus::Application& app, std::vector<Entry> entries, uint64_t t) {
    Block b;
    b.entries = std::move(entries);
    b.header = app.NextHeader(b.entries, t, v0.pubkey());
    return b;
  }
  Certificate Cert(const Block& b) { return DevCertificate(chain, b.header, {v0, v1}); }
  void CommitOk(consensus::Application& app, std::vector<Entry> entries, uint64_t t) {
    Block b = MakeBlock(app, std::move(entries), t);
    Status check = app.CheckBlock(b);
    INFO(check.ToString());
    REQUIRE(check.ok());
    Status s = app.Commit(b, Cert(b));
    INFO(s.ToString());
    REQUIRE(s.ok());
  }

  TaskSpec Spec(const std::string& id) {
    TaskSpec s;
    s.task_id = id;
    s.title = "t";
    s.participants = {{alice.pubkey(), "ds-a"}, {bob.pubkey(), "ds-b"}};
    std::sort(s.participants.begin(), s.participants.end(),
              [](const Participant& a, const Participant& b) { return a.partner < b.partner; });
    s.aggregator = v0.pubkey();
    s.rounds = 1;
    s.round_timeout_ms = 60'000;
    s.expires_at_ms = kT0 + 3'600'000;
    s.model = "mlp";
    return s;
  }
  Entry Register(const SecretKey& k, const std::string& id) {
    return Sign(k, DatasetRegisterPayload{id, Sha256(id), 100, "smiles,label", ""});
  }
};

TaskStatus StatusOf(const OrchestratorApplication& app, const std::string& id) {
  return app.Read([&](const FederationState& s) {
    const TaskRecord* t = s.FindTask(id);
    REQUIRE(t != nullptr);
    return s.StatusOf(*t);
  });
}

TEST_CASE("application: admission refuses a lifecycle violation with the state's reason",
          "[application]") {
  AppFixture f;
  auto app = f.Open();
  CHECK(app->Height() == 0);
  CHECK(app->CheckEntry(f.Register(f.alice, "ds-a")).ok());

  Status unknown = app->CheckEntry(f.Sign(f.alice, TaskApprovePayload{"t1", Sha256("x")}));
  CHECK(unknown.code() == Status::Code::kFailedPrecondition);
  CHECK(unknown.message() == "TASK_APPROVE for task 't1': no such task [unknown-task]");

  Status not_partner = app->CheckEntry(f.Register(f.mallory, "ds-m"));
  CHECK(not_partner.code() == Status::Code::kFailedPrecondition);
  CHECK_THAT(not_partner.message(), Contains("[not-partner]"));

  // The ledger's own rules still come first.
  GenesisPayload g2;
  g2.genesis_time_ms = kT0;
  g2.validators = {{"v0", f.v0.pubkey()}};
  Status genesis = app->CheckEntry(f.Sign(f.v0, g2));
  CHECK(genesis.code() == Status::Code::kInvalidArgument);
  CHECK_THAT(genesis.message(), Contains("GENESIS is only allowed at height 0"));
}

TEST_CASE("application: commits advance the state - approvals activate the task",
          "[application]") {
  AppFixture f;
  auto app = f.Open();
  f.CommitOk(*app, {f.Register(f.alice, "ds-a"), f.Register(f.bob, "ds-b")}, kT0 + 1000);
  TaskSpec spec = f.Spec("t1");
  // Proposing before the datasets were committed would have been refused; now it is fine.
  Entry propose = f.Sign(f.alice, TaskProposePayload{spec});
  REQUIRE(app->CheckEntry(propose).ok());
  f.CommitOk(*app, {propose}, kT0 + 2000);
  CHECK(app->Height() == 2);
  CHECK(StatusOf(*app, "t1") == TaskStatus::kProposed);

  Status wrong = app->CheckEntry(f.Sign(f.bob, TaskApprovePayload{"t1", Sha256("other")}));
  CHECK(wrong.code() == Status::Code::kFailedPrecondition);
  CHECK_THAT(wrong.message(), Contains("does not match the proposed spec"));
  CHECK_THAT(wrong.message(), Contains("[spec-hash-mismatch]"));
  --f.nonces[f.bob.pubkey()];  // that entry was never submitted

  f.CommitOk(*app, {f.Sign(f.alice, TaskApprovePayload{"t1", spec.Hash()})}, kT0 + 3000);
  CHECK(StatusOf(*app, "t1") == TaskStatus::kProposed);
  f.CommitOk(*app, {f.Sign(f.bob, TaskApprovePayload{"t1", spec.Hash()})}, kT0 + 4000);
  CHECK(StatusOf(*app, "t1") == TaskStatus::kActive);

  Status again = app->CheckEntry(f.Sign(f.bob, TaskApprovePayload{"t1", spec.Hash()}));
  CHECK_THAT(again.message(), Contains("[already-approved]"));

  // A restarted validator rebuilds the same state from its store.
  auto hash = app->Read([](const FederationState& s) { return s.SnapshotHash(); });
  auto reopened = f.Open();
  CHECK(reopened->Height() == 4);
  CHECK(reopened->Read([](const FederationState& s) { return s.SnapshotHash(); }) == hash);
  CHECK(StatusOf(*reopened, "t1") == TaskStatus::kActive);
}

TEST_CASE("application: a block that breaks the rules is invalid and a commit of it writes nothing",
          "[application]") {
  AppFixture f;
  auto app = f.Open();
  f.CommitOk(*app, {f.Register(f.alice, "ds-a"), f.Register(f.bob, "ds-b")}, kT0 + 1000);
  auto before = app->Read([](const FederationState& s) { return s.SnapshotHash(); });
  const uint64_t log_size = f.store->log_size();

  // Each entry passes admission alone, but not both in one block: the same dataset id twice.
  Entry first = f.Register(f.alice, "ds-2");
  Entry second = f.Sign(f.alice, DatasetRegisterPayload{"ds-2", Sha256("v2"), 5, "x", ""});
  CHECK(app->CheckEntry(first).ok());
  CHECK(app->CheckEntry(second).ok());
  Block b = f.MakeBlock(*app, {first, second}, kT0 + 2000);
  Status check = app->CheckBlock(b);
  CHECK(check.code() == Status::Code::kFailedPrecondition);
  CHECK_THAT(check.message(), Contains("block 2 entry 1 (DATASET_REGISTER)"));
  CHECK_THAT(check.message(), Contains("[duplicate-dataset]"));

  // As a synced block (Commit without CheckBlock, with a valid certificate): refused, and
  // neither the store nor the state moves.
  Status commit = app->Commit(b, f.Cert(b));
  CHECK(commit.code() == Status::Code::kFailedPrecondition);
  CHECK(f.store->height() == 1);
  CHECK(f.store->log_size() == log_size);
  CHECK(app->Read([](const FederationState& s) { return s.SnapshotHash(); }) == before);

  // A ledger-level fault (a bad certificate) is the store's error, and the state stays put.
  Block ok = f.MakeBlock(*app, {first}, kT0 + 2000);
  Certificate bad = DevCertificate(f.chain, ok.header, {f.v0});  // 1 of 2: no quorum
  CHECK_FALSE(app->Commit(ok, bad).ok());
  CHECK(app->Read([](const FederationState& s) { return s.SnapshotHash(); }) == before);
  REQUIRE(app->Commit(ok, f.Cert(ok)).ok());
  CHECK(app->Read([](const FederationState& s) { return s.Datasets().size(); }) == 3);
}

TEST_CASE("application: a commit applies its own block's changes, not those of the block last checked",
          "[application]") {
  AppFixture f;
  auto app = f.Open();
  Entry a = f.Register(f.alice, "ds-a");
  Entry b = f.Register(f.bob, "ds-b");
  auto has = [&](const SecretKey& k, const std::string& id) {
    return app->Read([&](const FederationState& s) { return s.FindDataset(k.pubkey(), id) != nullptr; });
  };
  // Block A (alice's registration) is checked, as a proposal would be, but block B (bob's) is
  // the one decided, as when a later round decides another proposal.
  Block block_a = f.MakeBlock(*app, {a}, kT0 + 1);
  Block block_b = f.MakeBlock(*app, {b}, kT0 + 1);
  REQUIRE(app->CheckBlock(block_a).ok());
  REQUIRE(app->Commit(block_b, f.Cert(block_b)).ok());
  CHECK(has(f.bob, "ds-b"));
  CHECK(!has(f.alice, "ds-a"));
  // The checked-and-committed path applies the checked block's changes exactly once.
  f.CommitOk(*app, {a}, kT0 + 2);
  CHECK(has(f.alice, "ds-a"));
  // Reopening replays the store from scratch: the same state.
  auto again = f.Open();
  CHECK(again->Read([&](const FederationState& s) {
    return s.FindDataset(f.alice.pubkey(), "ds-a") && s.FindDataset(f.bob.pubkey(), "ds-b");
  }));
}

TEST_CASE("application: admission follows the clock on an idle chain, blocks their own time",
          "[application]") {
  AppFixture f;
  auto app = f.Open();
  f.CommitOk(*app, {f.Register(f.alice, "ds-a"), f.Register(f.bob, "ds-b")}, kT0 + 1000);
  TaskSpec spec = f.Spec("t-exp");
  spec.expires_at_ms = kT0 + 10'000;
  f.CommitOk(*app, {f.Sign(f.alice, TaskProposePayload{spec})}, kT0 + 2000);

  Entry approve = f.Sign(f.bob, TaskApprovePayload{"t-exp", spec.Hash()});
  f.clock_ms = kT0 + 5000;
  CHECK(app->CheckEntry(approve).ok());
  f.clock_ms = kT0 + 20'000;  // no block since, but the wall clock is past the expiry
  Status late = app->CheckEntry(approve);
  CHECK_THAT(late.message(), Contains("[task-expired]"));
  // A block's verdict depends on its header time only.
  CHECK(app->CheckBlock(f.MakeBlock(*app, {approve}, kT0 + 9000)).ok());
  CHECK_THAT(app->CheckBlock(f.MakeBlock(*app, {approve}, kT0 + 11'000)).message(),
             Contains("[task-expired]"));
}

TEST_CASE("application: open refuses a store whose history breaks the rules", "[application]") {
  AppFixture f;
  // Written with the bare ledger rules, as a node with rules = "ledger" would.
  consensus::LedgerApplication ledger(f.store.get());
  Block b = f.MakeBlock(ledger, {f.Sign(f.alice, DataAccessPayload{"ghost", 1, "ds", Sha256("d"), 1})},
                        kT0 + 1000);
  REQUIRE(ledger.Commit(b, f.Cert(b)).ok());
  auto app = OrchestratorApplication::Open(f.store.get());
  REQUIRE_FALSE(app.ok());
  CHECK(app.status().code() == Status::Code::kCorruption);
  CHECK_THAT(app.status().message(), Contains("block 1 entry 0 (DATA_ACCESS)"));
}

}  // namespace
}  // namespace fedledger::orchestrator
