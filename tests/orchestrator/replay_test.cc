// Rebuilding FederationState from a ledger store, and catching a committed entry that breaks
// the orchestrator's rules.
#include "orchestrator/replay.h"

#include <leveldb/env.h>
#include <leveldb/helpers/memenv.h>

#include <catch2/catch.hpp>
#include <memory>

#include "ledger/devchain.h"
#include "ledger/store.h"

namespace fedledger::orchestrator {
namespace {

TEST_CASE("the dev chain's task lifecycle replays under the orchestrator's rules", "[replay]") {
  std::unique_ptr<leveldb::Env> env{leveldb::NewMemEnv(leveldb::Env::Default())};
  DevChainOptions o;
  o.entries = 1500;
  o.block_entries = 40;
  o.write_keys = false;
  o.threads = 1;
  o.store.env = env.get();
  auto store = SeedDevChain("/dev", o);
  REQUIRE(store.ok());
  auto state = ReplayStore(**store);
  INFO(state.status().ToString());
  REQUIRE(state.ok());
  size_t completed = 0, rejected = 0, active = 0;
  for (const TaskRecord* t : state->Tasks()) {
    switch (state->StatusOf(*t)) {
      case TaskStatus::kCompleted:
        ++completed;
        break;
      case TaskStatus::kRejected:
        ++rejected;
        break;
      case TaskStatus::kActive:
        ++active;
        break;
      default:
        break;
    }
  }
  CHECK(completed > 0);
  CHECK(rejected > 0);
  CHECK(active > 0);  // revoked by one of three partners after round 1: two remain
  CHECK(state->Datasets().size() == 3);

  // Replaying in two steps or at once reaches the same state.
  const uint64_t mid = (*store)->height() / 2;
  auto half = ReplayStore(**store, mid);
  REQUIRE(half.ok());
  CHECK(half->SnapshotHash() != state->SnapshotHash());
  for (uint64_t h = mid + 1; h <= (*store)->height(); ++h) {
    auto b = (*store)->GetBlock(h);
    REQUIRE(b.ok());
    REQUIRE(half->ApplyBlock(b->entries, b->header.time_ms).valid());
  }
  CHECK(half->SnapshotHash() == state->SnapshotHash());

  // Prepared blocks (checked once, applied without a second check, as the consensus
  // application commits them) reach the same state too.
  auto prepared = ReplayStore(**store, mid);
  REQUIRE(prepared.ok());
  for (uint64_t h = mid + 1; h <= (*store)->height(); ++h) {
    auto b = (*store)->GetBlock(h);
    REQUIRE(b.ok());
    std::unique_ptr<FederationState> changes;
    REQUIRE(prepared->PrepareBlock(b->entries, b->header.time_ms, &changes).valid());
    REQUIRE(changes != nullptr);
    prepared->ApplyPrepared(std::move(changes));
  }
  CHECK(prepared->SnapshotHash() == state->SnapshotHash());
}

TEST_CASE("replay reports a committed entry that breaks the rules as corruption", "[replay]") {
  std::unique_ptr<leveldb::Env> env{leveldb::NewMemEnv(leveldb::Env::Default())};
  StoreOptions so;
  so.env = env.get();
  const std::string chain = "replay-chain";
  SecretKey v0 = SecretKey::FromSeed("replay-v0"), v1 = SecretKey::FromSeed("replay-v1");
  SecretKey alice = SecretKey::FromSeed("alice"), bob = SecretKey::FromSeed("bob");
  GenesisPayload g;
  g.genesis_time_ms = 1'000'000;
  g.validators = {{"v0", v0.pubkey()}, {"v1", v1.pubkey()}};
  g.partners = {{"alice", alice.pubkey()}, {"bob", bob.pubkey()}};
  auto ge = Entry::Sign(EntryBody{chain, v0.pubkey(), 1, g.genesis_time_ms, g}, v0, true);
  REQUIRE(ge.ok());
  auto gb = MakeGenesisBlock(*ge);
  REQUIRE(gb.ok());
  auto store = Store::Create("/replay", *gb, so);
  REQUIRE(store.ok());

  auto commit = [&](std::vector<Entry> entries, uint64_t time_ms) {
    Block b;
    b.entries = std::move(entries);
    b.header = (*store)->NextHeader(b.entries, time_ms, v0.pubkey());
    Status s = (*store)->Commit(b, DevCertificate(chain, b.header, {v0, v1}));
    INFO(s.ToString());
    REQUIRE(s.ok());
  };
  auto sign = [&](const SecretKey& k, uint64_t nonce, Payload p) {
    auto e = Entry::Sign(EntryBody{chain, k.pubkey(), nonce, 2'000'000, std::move(p)}, k, true);
    REQUIRE(e.ok());
    return std::move(e).value();
  };
  commit({sign(alice, 1, DatasetRegisterPayload{"ds-a", Sha256("a"), 10, "x", ""})}, 2'000'000);
  // The ledger's own rules accept this DATA_ACCESS (well-formed, signed, fresh nonce), but no
  // task 'ghost' exists: the orchestrator would never have let it in.
  commit({sign(bob, 1, DatasetRegisterPayload{"ds-b", Sha256("b"), 10, "x", ""}),
          sign(alice, 2, DataAccessPayload{"ghost", 1, "ds-a", Sha256("a"), 10})},
         2'000'100);

  auto ok_part = ReplayStore(**store, 1);
  REQUIRE(ok_part.ok());
  CHECK(ok_part->Datasets().size() == 1);
  auto bad = ReplayStore(**store);
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.status().code() == Status::Code::kCorruption);
  CHECK(bad.status().message() ==
        "block 2 entry 1 (DATA_ACCESS) breaks the orchestrator rules: invalid (unknown-task): "
        "DATA_ACCESS for task 'ghost': no such task");
}

}  // namespace
}  // namespace fedledger::orchestrator
