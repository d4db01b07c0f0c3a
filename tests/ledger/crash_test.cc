// Crash consistency: a store that loses every unsynced write at any point reopens to a
// consistent ledger holding exactly the blocks whose Commit() returned OK (plus possibly the
// one in flight), and passes the full audit.
#include <catch2/catch.hpp>

#include "fault_env.h"
#include "ledger/audit.h"
#include "test_util.h"

using namespace fedledger;
using fedledger::testing::FaultEnv;
using fedledger::testing::MemEnv;

namespace {

struct Chain {
  Block genesis;
  std::vector<Block> blocks;
  std::vector<Certificate> certs;
};

// A genesis plus `count` blocks, built once in a scratch in-memory store.
Chain BuildChain(int count, int per_block) {
  MemEnv mem;
  DevChainOptions o = fedledger::testing::SmallChain(mem.get(), 0, 1);
  auto store = SeedDevChain("/scratch", o).value();
  Chain c;
  c.genesis = store->GetBlock(0).value();
  std::vector<SecretKey> vals;
  for (int i = 0; i < 4; ++i) vals.push_back(DevValidatorKey("dev", i));
  SecretKey op = DevOperatorKey("dev");
  uint64_t nonce = store->LastNonce(op.pubkey());
  for (int b = 0; b < count; ++b) {
    Block block;
    for (int i = 0; i < per_block; ++i) {
      EntryBody body;
      body.chain_id = store->chain_id();
      body.nonce = ++nonce;
      body.timestamp_ms = store->head().header.time_ms + 1;
      body.payload = TaskRevokePayload{"task-" + std::to_string(b), "entry " + std::to_string(i)};
      block.entries.push_back(Entry::Sign(body, op).value());
    }
    block.header = store->NextHeader(block.entries, store->head().header.time_ms + 1,
                                     vals[0].pubkey());
    Certificate cert = DevCertificate(store->chain_id(), block.header, vals);
    REQUIRE(store->Commit(block, cert).ok());
    c.blocks.push_back(block);
    c.certs.push_back(cert);
  }
  return c;
}

}  // namespace

TEST_CASE("crash: losing unsynced writes after any fsync leaves a consistent prefix") {
  const int kBlocks = 12;
  Chain chain = BuildChain(kBlocks, 40);
  // As a validator runs it too: the index records written behind the commits, by the store's
  // own thread, so that a crash also finds some of them queued or half written.
  const bool background = GENERATE(false, true);
  INFO((background ? "index written in the background" : "index written by Commit"));
  // Count the syncs of a full clean run, then crash after each of them in turn, also with
  // the next fsync failing.
  int total_syncs;
  {
    MemEnv mem;
    FaultEnv env(mem.get());
    StoreOptions so;
    so.env = &env;
    so.index_in_background = background;
    auto store = Store::Create("/db", chain.genesis, so).value();
    for (int b = 0; b < kBlocks; ++b) REQUIRE(store->Commit(chain.blocks[b], chain.certs[b]).ok());
    total_syncs = env.syncs();
  }
  REQUIRE(total_syncs >= kBlocks);
  for (int crash_after = 1; crash_after <= total_syncs; ++crash_after) {
    for (bool fail_sync : {false, true}) {
      MemEnv mem;
      uint64_t acknowledged = 0;
      {
        FaultEnv env(mem.get());
        StoreOptions so;
        so.env = &env;
        so.index_in_background = background;
        auto created = Store::Create("/db", chain.genesis, so);
        if (!created.ok()) continue;  // the crash hit genesis creation itself
        auto store = std::move(created).value();
        if (fail_sync) env.FailSyncAfter(crash_after - env.syncs());
        for (int b = 0; b < kBlocks; ++b) {
          if (!fail_sync && env.syncs() >= crash_after) break;
          if (!store->Commit(chain.blocks[b], chain.certs[b]).ok()) break;
          acknowledged = b + 1;
        }
        env.Crash();
      }
      INFO("crash after sync " << crash_after << (fail_sync ? " with a failed fsync" : ""));
      StoreOptions so;
      so.env = mem.get();
      auto reopened = Store::Open("/db", so);
      if (acknowledged == 0 && !reopened.ok()) continue;  // nothing acknowledged beyond genesis
      REQUIRE(reopened.ok());
      uint64_t h = (*reopened)->height();
      CHECK(h >= acknowledged);
      CHECK(h <= acknowledged + 1);
      if (h > 0) CHECK((*reopened)->head().hash == chain.blocks[h - 1].header.Hash());
      reopened->reset();
      AuditOptions ao = testing::OneThreadAudit(mem.get());
      auto audit = AuditStore("/db", ao);
      INFO(audit.status().ToString());
      CHECK(audit.ok());
    }
  }
}
