#include <catch2/catch.hpp>

#include <leveldb/db.h>
#include <leveldb/env.h>
#include <sched.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <set>
#include <sstream>
#include <thread>

#include "ledger/audit.h"
#include "ledger/export.h"
#include "test_util.h"
#include "tests/thread_policies.h"

using namespace fedledger;
using fedledger::testing::MemEnv;
using fedledger::testing::SmallChain;

namespace {

// A block of `n` fresh entries by the dev operator key on top of the store's head.
Block NextBlock(const Store& store, const std::string& seed, int n, uint64_t first_nonce) {
  SecretKey op = DevOperatorKey(seed);
  Block b;
  for (int i = 0; i < n; ++i) {
    EntryBody body;
    body.chain_id = store.chain_id();
    body.nonce = first_nonce + i;
    body.timestamp_ms = store.head().header.time_ms + 1 + i;
    body.payload = TaskRevokePayload{"task-x", "test " + std::to_string(i)};
    b.entries.push_back(Entry::Sign(body, op).value());
  }
  b.header = store.NextHeader(b.entries, store.head().header.time_ms + n,
                              DevValidatorKey(seed, 0).pubkey());
  return b;
}

std::vector<SecretKey> Validators(const std::string& seed, int n) {
  std::vector<SecretKey> v;
  for (int i = 0; i < n; ++i) v.push_back(DevValidatorKey(seed, i));
  return v;
}

}  // namespace

TEST_CASE("store: commit, reopen and reject bad blocks without changing anything") {
  MemEnv mem;
  auto store = SeedDevChain("/db", SmallChain(mem.get(), 40, 10)).value();
  REQUIRE(store->height() == 4);
  REQUIRE(store->log_size() == 41);
  auto vals = Validators("dev", 4);
  uint64_t nonce = store->LastNonce(DevOperatorKey("dev").pubkey()) + 1;

  Block good = NextBlock(*store, "dev", 3, nonce);
  Certificate cert = DevCertificate(store->chain_id(), good.header, vals);
  BlockRecord before = store->head();

  SECTION("a replayed nonce is refused") {
    Block b = NextBlock(*store, "dev", 1, nonce - 1);
    auto s = store->Commit(b, DevCertificate(store->chain_id(), b.header, vals));
    REQUIRE(!s.ok());
    CHECK_THAT(s.message(), Catch::Contains("replay"));
  }
  SECTION("a wrong log root is refused") {
    Block b = good;
    b.header.log_root.v[0] ^= 1;
    auto s = store->Commit(b, DevCertificate(store->chain_id(), b.header, vals));
    CHECK_THAT(s.message(), Catch::Contains("log root"));
  }
  SECTION("a wrong previous hash is refused") {
    Block b = good;
    b.header.prev_hash.v[3] ^= 1;
    auto s = store->Commit(b, DevCertificate(store->chain_id(), b.header, vals));
    CHECK_THAT(s.message(), Catch::Contains("previous hash"));
  }
  SECTION("a certificate short of quorum is refused") {
    Certificate c = cert;
    c.sigs.resize(2);
    auto s = store->Commit(good, c);
    CHECK_THAT(s.message(), Catch::Contains("needs 3"));
  }
  SECTION("a forged certificate signature is refused") {
    Certificate c = cert;
    c.sigs[1].sig[5] ^= 1;
    auto s = store->Commit(good, c);
    CHECK_THAT(s.message(), Catch::Contains("does not verify"));
  }
  SECTION("a certificate by non-validators is refused") {
    auto s = store->Commit(good, DevCertificate(store->chain_id(), good.header,
                                                Validators("other", 4)));
    CHECK(!s.ok());
  }
  SECTION("a bad entry signature is refused") {
    Block b = good;
    Bytes bytes = b.entries[1].bytes();
    bytes.back() ^= 1;
    b.entries[1] = Entry::Decode(bytes).value();
    b.header = store->NextHeader(b.entries, b.header.time_ms, b.header.proposer);
    auto s = store->Commit(b, DevCertificate(store->chain_id(), b.header, vals));
    CHECK_THAT(s.message(), Catch::Contains("signature does not verify"));
  }
  SECTION("a GENESIS entry after height 0 is refused") {
    Block g = store->GetBlock(0).value();
    Block b = good;
    b.entries = {g.entries[0]};
    b.header = store->NextHeader(b.entries, b.header.time_ms, b.header.proposer);
    auto s = store->Commit(b, DevCertificate(store->chain_id(), b.header, vals));
    CHECK(!s.ok());
  }
  SECTION("a good block commits and survives reopening") {
    REQUIRE(store->Commit(good, cert).ok());
    store.reset();
    store = Store::Open("/db/ledger", {.env = mem.get()}).value();
    CHECK(store->height() == 5);
    CHECK(store->log_size() == 44);
    CHECK(store->head().hash == good.header.Hash());
    CHECK(store->LastNonce(DevOperatorKey("dev").pubkey()) == nonce + 2);
    before = store->head();
  }
  // Whatever happened above, the head is either unchanged or the good block, and the store
  // still verifies.
  CHECK(store->head().hash == before.hash);
  AuditOptions ao;
  ao.env = mem.get();
  auto audit = AuditStore("/db/ledger", ao);
  INFO(audit.status().ToString());
  CHECK(audit.ok());
}

TEST_CASE("store: Create refuses an existing store and a malformed genesis") {
  MemEnv mem;
  auto store = SeedDevChain("/db", SmallChain(mem.get(), 5, 5)).value();
  Block g = store->GetBlock(0).value();
  store.reset();
  StoreOptions so;
  so.env = mem.get();
  CHECK(Store::Create("/db/ledger", g, so).status().code() == Status::Code::kAlreadyExists);
  Block bad = g;
  bad.header.log_root.v[0] ^= 1;
  CHECK(!Store::Create("/db2", bad, so).ok());
  CHECK(Store::Open("/nothing-here", so).status().code() == Status::Code::kNotFound);
}

TEST_CASE("store: a store in another format is refused by Open and by the audit, naming the format") {
  MemEnv mem;
  { auto store = SeedDevChain("/db", SmallChain(mem.get(), 20, 5)).value(); }
  StoreOptions so;
  so.env = mem.get();
  AuditOptions ao = testing::OneThreadAudit(mem.get());
  REQUIRE(Store::Open("/db/ledger", so).ok());
  REQUIRE(AuditStore("/db/ledger", ao).ok());
  auto rewrite = [&](const std::function<void(leveldb::DB*)>& change) {
    leveldb::Options opts;
    opts.env = mem.get();
    leveldb::DB* raw = nullptr;
    REQUIRE(leveldb::DB::Open(opts, "/db/ledger", &raw).ok());
    std::unique_ptr<leveldb::DB> db(raw);
    change(db.get());
  };
  SECTION("no format record: a format-1 store") {
    rewrite([](leveldb::DB* db) { REQUIRE(db->Delete({}, keys::Meta("format")).ok()); });
    auto opened = Store::Open("/db/ledger", so);
    REQUIRE(!opened.ok());
    CHECK_THAT(opened.status().message(), Catch::Contains("format 1"));
    auto audited = AuditStore("/db/ledger", ao);
    REQUIRE(!audited.ok());
    CHECK_THAT(audited.status().message(), Catch::Contains("format 1"));
  }
  SECTION("format 2: one database, before the log database") {
    rewrite([](leveldb::DB* db) {
      REQUIRE(db->Put({}, keys::Meta("format"), std::string("\x02\x00\x00\x00", 4)).ok());
    });
    auto opened = Store::Open("/db/ledger", so);
    REQUIRE(!opened.ok());
    CHECK_THAT(opened.status().message(), Catch::Contains("format 2"));
    CHECK_THAT(opened.status().message(), Catch::Contains("empty data directory"));
    auto audited = AuditStore("/db/ledger", ao);
    REQUIRE(!audited.ok());
    CHECK_THAT(audited.status().message(), Catch::Contains("format 2"));
  }
  SECTION("format 3: no commit records in the log database") {
    rewrite([](leveldb::DB* db) {
      REQUIRE(db->Put({}, keys::Meta("format"), std::string("\x03\x00\x00\x00", 4)).ok());
    });
    auto opened = Store::Open("/db/ledger", so);
    REQUIRE(!opened.ok());
    CHECK_THAT(opened.status().message(), Catch::Contains("format 3"));
    CHECK_THAT(opened.status().message(), Catch::Contains("empty data directory"));
    auto audited = AuditStore("/db/ledger", ao);
    REQUIRE(!audited.ok());
    CHECK_THAT(audited.status().message(), Catch::Contains("format 3"));
  }
  SECTION("a later format") {
    rewrite([](leveldb::DB* db) {
      REQUIRE(db->Put({}, keys::Meta("format"), std::string("\x06\x00\x00\x00", 4)).ok());
    });
    auto opened = Store::Open("/db/ledger", so);
    REQUIRE(!opened.ok());
    CHECK_THAT(opened.status().message(), Catch::Contains("format 6"));
    CHECK(!AuditStore("/db/ledger", ao).ok());
  }
}

// A commit's synced write is the log database's (entries, nodes, commit record); the index
// database's records follow unsynced. A crash can lose the index records of the last blocks:
// the audit still verifies those blocks from the log and says the index is behind, and the
// next open writes the index records again from the commit records.
TEST_CASE("store: index records a crash lost are written again on open, from the commit records") {
  MemEnv mem;
  auto vals = Validators("dev", 4);
  std::vector<uint64_t> kinds_before;
  Hash32 root;
  {
    auto store = SeedDevChain("/db", SmallChain(mem.get(), 20, 5)).value();  // heights 0..4
    // Two more blocks: an empty one (its commit record sorts right after block 4's) and one
    // of three entries.
    const uint64_t nonce = store->LastNonce(DevOperatorKey("dev").pubkey()) + 1;
    for (int n : {0, 3}) {
      Block b = NextBlock(*store, "dev", n, nonce);
      REQUIRE(store->Commit(b, DevCertificate(store->chain_id(), b.header, vals)).ok());
    }
    REQUIRE(store->height() == 6);
    REQUIRE(store->log_size() == 24);
    root = store->log_root();
  }
  leveldb::Options opts;
  opts.env = mem.get();
  auto with_db = [&](const std::string& path, const std::function<void(leveldb::DB*)>& use) {
    leveldb::DB* raw = nullptr;
    REQUIRE(leveldb::DB::Open(opts, path, &raw).ok());
    std::unique_ptr<leveldb::DB> db(raw);
    use(db.get());
  };
  auto index_keys = [&] {
    std::vector<std::string> out;
    with_db("/db/ledger", [&](leveldb::DB* db) {
      std::unique_ptr<leveldb::Iterator> it(db->NewIterator({}));
      for (it->SeekToFirst(); it->Valid(); it->Next()) out.push_back(it->key().ToString());
    });
    return out;
  };
  const std::vector<std::string> complete = index_keys();
  // What a crash after the log writes of blocks 5 and 6 and before their index writes leaves:
  // no block records or index keys for them, and the head at 4.
  with_db("/db/ledger", [&](leveldb::DB* db) {
    std::unique_ptr<leveldb::Iterator> it(db->NewIterator({}));
    size_t removed = 0;
    for (it->SeekToFirst(); it->Valid(); it->Next()) {
      leveldb::Slice k = it->key();
      if ((k[0] == 'B' || k[0] == 'I') && k.size() >= 9) {
        uint64_t h = 0;
        for (size_t i = k.size() - 8; i < k.size(); ++i) h = h << 8 | static_cast<uint8_t>(k[i]);
        if (h >= 5) {
          REQUIRE(db->Delete({}, k).ok());
          ++removed;
        }
      }
    }
    CHECK(removed >= 2 + 3);  // two block records, block 6's kind, task and minute keys
    REQUIRE(db->Put({}, keys::Meta("head"), std::string("\x04\0\0\0\0\0\0\0", 8)).ok());
  });
  REQUIRE(index_keys().size() < complete.size());

  AuditOptions ao = testing::OneThreadAudit(mem.get());
  {
    auto audited = AuditStore("/db/ledger", ao);
    INFO(audited.status().ToString());
    REQUIRE(audited.ok());
    CHECK(audited->blocks == 7);
    CHECK(audited->entries == 24);
    CHECK(audited->log_root == root);
    CHECK(audited->index_behind == 2);
  }
  {
    auto store = Store::Open("/db/ledger", {.env = mem.get()});
    INFO(store.status().ToString());
    REQUIRE(store.ok());
    CHECK((*store)->height() == 6);
    CHECK((*store)->log_root() == root);
    // Queries see the blocks again: block 6's three entries by the operator key.
    std::vector<uint64_t> got;
    EntryQuery q;
    q.signer = DevOperatorKey("dev").pubkey();
    REQUIRE((*store)->QueryEntries(q, [&](uint64_t i, const Entry&) {
      if (i >= 21) got.push_back(i);
      return true;
    }).ok());
    CHECK(got == std::vector<uint64_t>{21, 22, 23});
    CHECK((*store)->GetBlockRecord(5).value().header.entry_count == 0);
  }
  CHECK(index_keys() == complete);
  {
    auto audited = AuditStore("/db/ledger", ao);
    REQUIRE(audited.ok());
    CHECK(audited->index_behind == 0);
  }

  SECTION("records past the last commit record are refused, and stay as they were") {
    with_db(std::string("/db/ledger/") + kLogDbDir, [&](leveldb::DB* db) {
      REQUIRE(db->Put({}, keys::Entry(24), "an entry without a commit record").ok());
    });
    auto opened = Store::Open("/db/ledger", {.env = mem.get()});
    REQUIRE(!opened.ok());
    CHECK(opened.status().code() == Status::Code::kCorruption);
    CHECK_THAT(opened.status().message(), Catch::Contains("past the commit record of block 6"));
    auto audited = AuditStore("/db/ledger", ao);
    REQUIRE(!audited.ok());
    CHECK_THAT(audited.status().message(), Catch::Contains("entry 24 lies past the last commit record"));
    with_db(std::string("/db/ledger/") + kLogDbDir, [&](leveldb::DB* db) {
      std::string v;
      CHECK(db->Get({}, keys::Entry(24), &v).ok());
    });
  }
  SECTION("an index head past the log's last commit record is refused") {
    with_db(std::string("/db/ledger/") + kLogDbDir, [&](leveldb::DB* db) {
      REQUIRE(db->Delete({}, keys::Commit(24, 6)).ok());
    });
    auto opened = Store::Open("/db/ledger", {.env = mem.get()});
    REQUIRE(!opened.ok());
    CHECK_THAT(opened.status().message(), Catch::Contains("no commit record for block 6"));
    CHECK(!AuditStore("/db/ledger", ao).ok());
  }
}

TEST_CASE("store: a store without its log database is refused, naming it") {
  MemEnv mem;
  { auto store = SeedDevChain("/db", SmallChain(mem.get(), 10, 5)).value(); }
  std::vector<std::string> files;
  const std::string log_dir = std::string("/db/ledger/") + kLogDbDir;
  REQUIRE(mem.get()->GetChildren(log_dir, &files).ok());
  for (const std::string& f : files) mem.get()->RemoveFile(log_dir + "/" + f);
  StoreOptions so;
  so.env = mem.get();
  auto opened = Store::Open("/db/ledger", so);
  REQUIRE(!opened.ok());
  CHECK(opened.status().code() == Status::Code::kCorruption);
  CHECK_THAT(opened.status().message(), Catch::Contains(log_dir));
  AuditOptions ao;
  ao.env = mem.get();
  auto audited = AuditStore("/db/ledger", ao);
  REQUIRE(!audited.ok());
  CHECK_THAT(audited.status().message(), Catch::Contains("log database"));
}

TEST_CASE("store: after reopening, every signer's last nonce is read back through the signer index") {
  MemEnv mem;
  std::map<PubKey, uint64_t> last;
  {
    auto store = SeedDevChain("/db", SmallChain(mem.get(), 300, 37)).value();
    for (uint64_t i = 0; i < store->log_size(); ++i) {
      Entry e = store->GetEntry(i).value();
      last[e.signer()] = e.nonce();
    }
  }
  REQUIRE(last.size() > 2);
  StoreOptions so;
  so.env = mem.get();
  auto store = Store::Open("/db/ledger", so).value();
  for (const auto& [signer, nonce] : last) CHECK(store->LastNonce(signer) == nonce);
  CHECK(store->LastNonce(SecretKey::FromSeed("nobody").pubkey()) == 0);
  // And a replay of a signer's last nonce is refused without the nonce having been asked for.
  auto again = Store::Open("/db/ledger", so).value();
  SecretKey op = DevOperatorKey("dev");
  Block b = NextBlock(*again, "dev", 1, last.at(op.pubkey()));
  auto s = again->Commit(b, DevCertificate(again->chain_id(), b.header, Validators("dev", 4)));
  REQUIRE(!s.ok());
  CHECK_THAT(s.message(), Catch::Contains("replay"));
}

TEST_CASE("store: FindEntry finds every committed entry by its bytes - never another with its nonce") {
  MemEnv mem;
  auto store = SeedDevChain("/db", SmallChain(mem.get(), 300, 37)).value();
  for (uint64_t i = 0; i < store->log_size(); ++i) {
    Entry e = store->GetEntry(i).value();
    INFO("entry " << i);
    auto found = store->FindEntry(e);
    REQUIRE(found.ok());
    CHECK(*found == std::optional<uint64_t>(i));
  }
  // The operator's nonces with gaps: L+3 alone in one block, then L+10..L+12.
  SecretKey op = DevOperatorKey("dev");
  auto vals = Validators("dev", 4);
  uint64_t last = store->LastNonce(op.pubkey());
  for (uint64_t first : {last + 3, last + 10}) {
    Block b = NextBlock(*store, "dev", first == last + 3 ? 1 : 3, first);
    REQUIRE(store->Commit(b, DevCertificate(store->chain_id(), b.header, vals)).ok());
  }
  uint64_t head = store->height();
  Entry e11 = store->GetEntry(store->log_size() - 2).value();
  REQUIRE(e11.nonce() == last + 11);
  CHECK(store->FindEntry(e11).value() == std::optional<uint64_t>(store->log_size() - 2));
  CHECK(store->FindEntry(e11, head).value() == std::optional<uint64_t>(store->log_size() - 2));
  CHECK(store->FindEntry(e11, head + 1).value() == std::nullopt);
  Entry e3 = store->GetEntry(store->log_size() - 4).value();
  REQUIRE(e3.nonce() == last + 3);
  CHECK(store->FindEntry(e3).value() == std::optional<uint64_t>(store->log_size() - 4));
  CHECK(store->FindEntry(e3, head).value() == std::nullopt);
  // The same signer and nonce with other content; a nonce in a gap; a nonce never used.
  auto entry = [&](uint64_t nonce, const std::string& note) {
    EntryBody body;
    body.chain_id = store->chain_id();
    body.nonce = nonce;
    body.timestamp_ms = 1;
    body.payload = TaskRevokePayload{"task-x", note};
    return Entry::Sign(body, op).value();
  };
  CHECK(store->FindEntry(entry(last + 11, "other")).value() == std::nullopt);
  CHECK(store->FindEntry(entry(last + 5, "gap")).value() == std::nullopt);
  CHECK(store->FindEntry(entry(last + 13, "unused")).value() == std::nullopt);
  CHECK(store->FindEntry(entry(0, "zero")).value() == std::nullopt);
  CHECK(store->FindEntry(entry(1, "first")).value() == std::nullopt);
}

TEST_CASE("store: index queries equal a brute-force scan") {
  MemEnv mem;
  auto store = SeedDevChain("/db", SmallChain(mem.get(), 600, 70)).value();
  std::vector<Entry> all;
  for (uint64_t i = 0; i < store->log_size(); ++i) all.push_back(store->GetEntry(i).value());
  std::mt19937_64 rng(7);
  for (int trial = 0; trial < 40; ++trial) {
    EntryQuery q;
    const Entry& pick = all[rng() % all.size()];
    if (rng() % 2) q.kind = pick.kind();
    if (rng() % 3 == 0) q.signer = pick.signer();
    if (rng() % 3 == 0 && TaskIdOf(pick.payload())) q.task_id = *TaskIdOf(pick.payload());
    if (rng() % 3 == 0) q.since_ms = pick.timestamp_ms() - 5000;
    if (rng() % 3 == 0) q.until_ms = pick.timestamp_ms() + 5000;
    std::vector<uint64_t> want, got;
    for (uint64_t i = 0; i < all.size(); ++i) {
      const Entry& e = all[i];
      const std::string* t = TaskIdOf(e.payload());
      if (q.kind && e.kind() != *q.kind) continue;
      if (q.signer && e.signer() != *q.signer) continue;
      if (q.task_id && (!t || *t != *q.task_id)) continue;
      if (q.since_ms && e.timestamp_ms() < *q.since_ms) continue;
      if (q.until_ms && e.timestamp_ms() > *q.until_ms) continue;
      want.push_back(i);
    }
    REQUIRE(store->QueryEntries(q, [&](uint64_t i, const Entry&) {
      got.push_back(i);
      return true;
    }).ok());
    CHECK(got == want);
  }
  // HeightOfEntry agrees with the block records.
  for (uint64_t h = 0; h <= store->height(); ++h) {
    BlockRecord r = store->GetBlockRecord(h).value();
    for (uint64_t i = r.first_entry_index; i < r.header.log_size; i += 13) {
      CHECK(store->HeightOfEntry(i).value() == h);
    }
  }
}

TEST_CASE("store: an index database that flushes and compacts while blocks commit answers as before") {
  MemEnv mem;
  DevChainOptions o = SmallChain(mem.get(), 6000, 6);
  o.store.index_memtable_bytes = 64 << 10;  // LevelDB's smallest: a flush every ~100 blocks
  auto store = SeedDevChain("/db", o).value();
  // The index database's memtable was flushed to tables, and level 0 compacted into level 1.
  std::string level1;
  REQUIRE(store->db()->GetProperty("leveldb.num-files-at-level1", &level1));
  CHECK(std::stoi(level1) > 0);
  std::vector<Entry> all;
  for (uint64_t i = 0; i < store->log_size(); ++i) all.push_back(store->GetEntry(i).value());
  std::set<PubKey> signers;
  for (const Entry& e : all) signers.insert(e.signer());
  for (const PubKey& signer : signers) {
    std::vector<uint64_t> want, got;
    for (uint64_t i = 0; i < all.size(); ++i) {
      if (all[i].signer() == signer) want.push_back(i);
    }
    EntryQuery q;
    q.signer = signer;
    REQUIRE(store->QueryEntries(q, [&](uint64_t i, const Entry&) {
      got.push_back(i);
      return true;
    }).ok());
    CHECK(got == want);
    CHECK(store->FindEntry(all[want.back()]).value() == std::optional<uint64_t>(want.back()));
  }
  for (uint64_t h = 1; h <= store->height(); h += 97) {
    CHECK(store->GetBlockRecord(h).value().header.height == h);
  }
  store.reset();
  auto audit = AuditStore("/db/ledger", testing::OneThreadAudit(mem.get()));
  INFO(audit.status().ToString());
  CHECK(audit.ok());
}

TEST_CASE("store: a log database that flushes while blocks commit keeps every entry and proof") {
  MemEnv mem;
  DevChainOptions o = SmallChain(mem.get(), 6000, 6);
  o.store.log_memtable_bytes = 64 << 10;  // LevelDB's smallest: a flush every few dozen blocks
  auto store = SeedDevChain("/db", o).value();
  // The log database's memtable went to tables several times over.
  int tables = 0;
  for (int level = 0; level < 7; ++level) {
    std::string n;
    REQUIRE(store->log_db()->GetProperty("leveldb.num-files-at-level" + std::to_string(level), &n));
    tables += std::stoi(n);
  }
  CHECK(tables > 4);
  const uint64_t n = store->log_size();
  const Hash32 root = store->head().header.log_root;
  for (uint64_t i = 0; i < n; i += 59) {
    auto proof = store->InclusionProof(i, n).value();
    CHECK(VerifyInclusionProof(store->GetEntry(i)->leaf_hash(), i, n, proof, root).ok());
  }
  store.reset();
  auto audit = AuditStore("/db/ledger", testing::OneThreadAudit(mem.get()));
  INFO(audit.status().ToString());
  CHECK(audit.ok());
}

TEST_CASE("store: proofs from stored nodes verify against every block's signed root") {
  MemEnv mem;
  auto store = SeedDevChain("/db", SmallChain(mem.get(), 300, 37)).value();
  std::vector<BlockRecord> recs;
  for (uint64_t h = 0; h <= store->height(); ++h) recs.push_back(store->GetBlockRecord(h).value());
  for (const BlockRecord& r : recs) {
    uint64_t n = r.header.log_size;
    CHECK(store->RootAt(n).value() == r.header.log_root);
    for (uint64_t i = 0; i < n; i += 7) {
      auto proof = store->InclusionProof(i, n).value();
      CHECK(VerifyInclusionProof(store->GetEntry(i)->leaf_hash(), i, n, proof, r.header.log_root).ok());
    }
    for (const BlockRecord& older : recs) {
      if (older.header.log_size > n) break;
      auto proof = store->ConsistencyProof(older.header.log_size, n).value();
      CHECK(VerifyConsistencyProof(older.header.log_size, n, older.header.log_root,
                                   r.header.log_root, proof).ok());
    }
  }
  CHECK(!store->InclusionProof(store->log_size(), 0).ok());
  CHECK(!store->ConsistencyProof(0, 5).ok());
  // Proof documents check offline, and a tampered one does not.
  auto doc = MakeInclusionProofDoc(*store, 123, 0).value();
  CHECK(CheckProofDoc(doc, store->genesis_hash()).ok());
  auto wrong_anchor = store->genesis_hash();
  wrong_anchor.v[0] ^= 1;
  CHECK(!CheckProofDoc(doc, wrong_anchor).ok());
  doc["leaf_index"] = 124;
  CHECK(!CheckProofDoc(doc, std::nullopt).ok());
  auto cdoc = MakeConsistencyProofDoc(*store, recs[2].header.log_size, store->log_size()).value();
  CHECK(CheckProofDoc(cdoc, std::nullopt).ok());
  std::string root = cdoc["from_head"]["header"];
  root[root.size() - 70] = root[root.size() - 70] == '0' ? '1' : '0';  // inside log_root
  cdoc["from_head"]["header"] = root;
  CHECK(!CheckProofDoc(cdoc, std::nullopt).ok());
}

TEST_CASE("export: round trip verifies - any change to a line is caught") {
  MemEnv mem;
  auto store = SeedDevChain("/db", SmallChain(mem.get(), 120, 25)).value();
  std::stringstream ss;
  REQUIRE(ExportStore(*store, ss).ok());
  std::string text = ss.str();
  {
    std::istringstream in(text);
    auto s = VerifyExport(in, {});
    INFO(s.status().ToString());
    REQUIRE(s.ok());
    CHECK(s->entries == 121);
    CHECK(s->log_root == store->log_root());
  }
  // Truncation (drop the end line), a flipped hex digit anywhere in a block line, a dropped
  // block line: all fail.
  std::vector<std::string> lines;
  std::istringstream all(text);
  for (std::string l; std::getline(all, l);) lines.push_back(l);
  auto join = [](const std::vector<std::string>& ls) {
    std::string out;
    for (const auto& l : ls) out += l + "\n";
    return out;
  };
  auto fails = [](const std::string& t) {
    std::istringstream in(t);
    return !VerifyExport(in, {}).ok();
  };
  CHECK(fails(join({lines.begin(), lines.end() - 1})));
  auto dropped = lines;
  dropped.erase(dropped.begin() + 3);
  CHECK(fails(join(dropped)));
  std::mt19937 rng(3);
  for (int t = 0; t < 60; ++t) {
    auto changed = lines;
    size_t li = 1 + rng() % (lines.size() - 2);
    std::string& l = changed[li];
    // Change one hex digit inside a header, certificate or entry (hex runs of 64+ digits).
    std::vector<size_t> hex_positions;
    for (size_t i = 0; i < l.size();) {
      size_t j = i;
      while (j < l.size() && std::isxdigit(static_cast<unsigned char>(l[j]))) ++j;
      if (j - i >= 64 && i > 0 && l[i - 1] == '"') {
        for (size_t k = i; k < j; ++k) hex_positions.push_back(k);
      }
      i = j + 1;
    }
    size_t pos = hex_positions[rng() % hex_positions.size()];
    l[pos] = l[pos] == 'a' ? 'b' : 'a';
    INFO("line " << li << " pos " << pos);
    CHECK(fails(join(changed)));
  }
}

TEST_CASE("store: LevelDB's compaction thread is named fl-leveldb - not after the thread that wrote - and runs as batch work") {
  namespace fs = std::filesystem;
  char tmpl[] = "/tmp/fedledger-store-XXXXXX";
  fs::path dir = mkdtemp(tmpl);
  DevChainOptions o;
  o.entries = 50;
  o.write_keys = false;
  {
    auto store = SeedDevChain((dir / "db").string(), o).value();
    store->db()->CompactRange(nullptr, nullptr);  // runs on the background thread
  }
  fs::remove_all(dir);
  std::vector<std::string> names;
  for (const auto& t : fs::directory_iterator("/proc/self/task")) {
    std::ifstream comm(t.path() / "comm");
    std::string name;
    std::getline(comm, name);
    names.push_back(name);
  }
  CHECK(std::count(names.begin(), names.end(), "fl-leveldb") == 1);
  CHECK(fedledger::testing::ThreadPolicies()["fl-leveldb"] == std::set<int>{SCHED_BATCH});
}

// The store's background counts once LevelDB's work has finished: a database signals the end
// of a manual compaction from inside the piece of work, before the piece's time is added, and
// may schedule one more piece that finds nothing to do.
Store::BackgroundTimes SettledBackgroundTimes(const Store& store) {
  auto same = [](const Store::BackgroundTimes& a, const Store::BackgroundTimes& b) {
    return a.log.runs == b.log.runs && a.index.runs == b.index.runs &&
           a.log.wall_ns == b.log.wall_ns && a.index.wall_ns == b.index.wall_ns;
  };
  Store::BackgroundTimes last = store.background_times();
  for (int i = 0; i < 100; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    Store::BackgroundTimes now = store.background_times();
    if (same(now, last)) return now;
    last = now;
  }
  FAIL("LevelDB's background work did not settle in 2 s");
  return last;
}

TEST_CASE("store: each database's flushes and compactions are counted apart") {
  MemEnv mem;
  auto store = SeedDevChain("/db", SmallChain(mem.get(), 200, 10)).value();
  const Store::BackgroundTimes before = SettledBackgroundTimes(*store);
  // A manual compaction flushes the memtable and compacts, as background work of that
  // database only.
  store->db()->CompactRange(nullptr, nullptr);
  const Store::BackgroundTimes index = SettledBackgroundTimes(*store);
  CHECK(index.index.runs > before.index.runs);
  CHECK(index.index.wall_ns > before.index.wall_ns);
  CHECK(index.index.cpu_ns > before.index.cpu_ns);
  CHECK(index.index.cpu_ns - before.index.cpu_ns <= index.index.wall_ns - before.index.wall_ns);
  CHECK(index.log.runs == before.log.runs);
  CHECK(index.log.wall_ns == before.log.wall_ns);
  store->log_db()->CompactRange(nullptr, nullptr);
  const Store::BackgroundTimes log = SettledBackgroundTimes(*store);
  CHECK(log.log.runs > index.log.runs);
  CHECK(log.log.wall_ns > index.log.wall_ns);
  CHECK(log.index.runs == index.index.runs);
  CHECK(log.index.wall_ns == index.index.wall_ns);
  // The counts outlive the databases' background work: closing right after is safe.
  store->db()->CompactRange(nullptr, nullptr);
  store.reset();
}

TEST_CASE("store: with the index written in the background, readers see each block as its Commit returns") {
  MemEnv mem;
  DevChainOptions o = SmallChain(mem.get(), 0, 1);
  o.store.index_in_background = true;
  auto store = SeedDevChain("/db", o).value();
  SecretKey op = DevOperatorKey("dev");
  auto vals = Validators("dev", 4);
  uint64_t nonce = store->LastNonce(op.pubkey());
  size_t by_op = 0;
  for (int b = 0; b < 40; ++b) {
    Block block = NextBlock(*store, "dev", 25, nonce + 1);
    nonce += 25;
    by_op += 25;
    REQUIRE(store->Commit(block, DevCertificate(store->chain_id(), block.header, vals)).ok());
    // No pause: each read below needs this block's index records.
    const uint64_t h = store->height();
    INFO("block " << h);
    REQUIRE(h == block.header.height);
    auto rec = store->GetBlockRecord(h);
    REQUIRE(rec.ok());
    CHECK(rec->hash == block.header.Hash());
    CHECK(store->GetBlock(h).value().entries.size() == 25);
    const uint64_t last = store->log_size() - 1;
    CHECK(store->FindEntry(block.entries.back()).value() == std::optional<uint64_t>(last));
    CHECK(store->HeightOfEntry(last).value() == h);
    size_t seen = 0;
    EntryQuery q;
    q.signer = op.pubkey();
    REQUIRE(store->QueryEntries(q, [&](uint64_t, const Entry&) { return ++seen, true; }).ok());
    CHECK(seen >= by_op);
    CHECK(store->LastNonce(op.pubkey()) == nonce);
  }
  const Store::CommitTimes times = store->commit_times();
  CHECK(times.commits == 40);
  CHECK(times.background_index_write_ns > 0);
  store.reset();  // the writer finishes what is queued before the databases close
  StoreOptions so;
  so.env = mem.get();
  auto reopened = Store::Open("/db/ledger", so).value();
  CHECK(reopened->height() == 40);
  CHECK(reopened->GetBlockRecord(40).ok());
  reopened.reset();
  auto audit = AuditStore("/db/ledger", testing::OneThreadAudit(mem.get()));
  INFO(audit.status().ToString());
  CHECK(audit.ok());
}

namespace {

// Fails every append to the index database's write-ahead log (a .log file of the store, not
// under entries/, the log database's directory) once armed.
class FailIndexAppends : public leveldb::EnvWrapper {
 public:
  explicit FailIndexAppends(leveldb::Env* base) : leveldb::EnvWrapper(base) {}
  std::atomic<bool> armed{false};
  leveldb::Status NewWritableFile(const std::string& f, leveldb::WritableFile** r) override {
    leveldb::Status s = target()->NewWritableFile(f, r);
    if (s.ok() && f.find("/entries/") == std::string::npos && f.ends_with(".log")) {
      *r = new File(this, *r);
    }
    return s;
  }

 private:
  class File : public leveldb::WritableFile {
   public:
    File(FailIndexAppends* env, leveldb::WritableFile* base) : env_(env), base_(base) {}
    leveldb::Status Append(const leveldb::Slice& data) override {
      if (env_->armed) return leveldb::Status::IOError("injected write failure");
      return base_->Append(data);
    }
    leveldb::Status Close() override { return base_->Close(); }
    leveldb::Status Flush() override { return base_->Flush(); }
    leveldb::Status Sync() override { return base_->Sync(); }

   private:
    FailIndexAppends* env_;
    std::unique_ptr<leveldb::WritableFile> base_;
  };
};

}  // namespace

TEST_CASE("store: a failed background index write fails the next commit and loses no committed block") {
  MemEnv mem;
  FailIndexAppends env(mem.get());
  DevChainOptions o = SmallChain(&env, 0, 1);
  o.store.index_in_background = true;
  auto store = SeedDevChain("/db", o).value();
  SecretKey op = DevOperatorKey("dev");
  auto vals = Validators("dev", 4);
  uint64_t nonce = store->LastNonce(op.pubkey());
  auto commit = [&] {
    Block block = NextBlock(*store, "dev", 5, nonce + 1);
    Status s = store->Commit(block, DevCertificate(store->chain_id(), block.header, vals));
    if (s.ok()) nonce += 5;
    return s;
  };
  for (int b = 0; b < 3; ++b) REQUIRE(commit().ok());
  REQUIRE(store->GetBlockRecord(3).ok());  // waits for the index writes so far
  env.armed = true;
  // The block is committed (its log write is the commit); its index write fails behind it.
  REQUIRE(commit().ok());
  REQUIRE(store->height() == 4);
  auto rec = store->GetBlockRecord(4);
  REQUIRE_FALSE(rec.ok());
  CHECK(rec.status().message().find("index records of block 4") != std::string::npos);
  CHECK(store->GetBlockRecord(2).ok());  // written before the failure
  Status next = commit();
  REQUIRE_FALSE(next.ok());
  CHECK(next.message().find("injected write failure") != std::string::npos);
  CHECK(store->height() == 4);
  store.reset();
  // Reopened healthy, the store writes the lost index records again from the commit records.
  env.armed = false;
  StoreOptions so;
  so.env = mem.get();
  auto reopened = Store::Open("/db/ledger", so).value();
  CHECK(reopened->height() == 4);
  CHECK(reopened->GetBlockRecord(4).value().header.height == 4);
  CHECK(reopened->LastNonce(op.pubkey()) == nonce);
  reopened.reset();
  auto audit = AuditStore("/db/ledger", testing::OneThreadAudit(mem.get()));
  INFO(audit.status().ToString());
  CHECK(audit.ok());
}
