// The signer index in chunks (ledger/store.h, docs/FORMAT.md section 8): a chunk's keys are
// written with its last block's index records and live in memory until then. These tests
// cross chunk boundaries, which the other store tests (a few blocks) never reach.
#include <catch2/catch.hpp>

#include <leveldb/db.h>
#include <leveldb/write_batch.h>

#include <algorithm>
#include <atomic>
#include <functional>
#include <map>
#include <set>
#include <thread>

#include "ledger/audit.h"
#include "test_util.h"

using namespace fedledger;
using fedledger::testing::MemEnv;
using fedledger::testing::SmallChain;

namespace {

constexpr uint64_t C = kSignerChunkHeights;

// Every key and value of the index database, opened directly (the store closed).
std::map<std::string, std::string> IndexDb(leveldb::Env* env) {
  leveldb::Options opts;
  opts.env = env;
  leveldb::DB* raw = nullptr;
  REQUIRE(leveldb::DB::Open(opts, "/db/ledger", &raw).ok());
  std::unique_ptr<leveldb::DB> db(raw);
  std::map<std::string, std::string> out;
  std::unique_ptr<leveldb::Iterator> it(db->NewIterator({}));
  for (it->SeekToFirst(); it->Valid(); it->Next()) out[it->key().ToString()] = it->value().ToString();
  REQUIRE(it->status().ok());
  return out;
}

// Applies `edit` to the index database, opened directly.
void EditIndexDb(leveldb::Env* env, const std::function<void(leveldb::DB*)>& edit) {
  leveldb::Options opts;
  opts.env = env;
  leveldb::DB* raw = nullptr;
  REQUIRE(leveldb::DB::Open(opts, "/db/ledger", &raw).ok());
  std::unique_ptr<leveldb::DB> db(raw);
  edit(db.get());
}

std::string BE64(uint64_t v) {
  std::string s;
  for (int i = 7; i >= 0; --i) s.push_back(static_cast<char>(v >> (8 * i)));
  return s;
}

uint64_t TailBE64(const std::string& k) {
  uint64_t v = 0;
  for (size_t i = k.size() - 8; i < k.size(); ++i) v = v << 8 | static_cast<uint8_t>(k[i]);
  return v;
}

// The signer index answers as a scan of every entry: each signer's entries (QueryEntries),
// its last nonce, and every entry's position (FindEntry).
void CheckSignerIndex(const Store& store) {
  std::vector<Entry> all;
  for (uint64_t i = 0; i < store.log_size(); ++i) all.push_back(store.GetEntry(i).value());
  std::map<PubKey, std::vector<uint64_t>> by_signer;
  for (uint64_t i = 0; i < all.size(); ++i) by_signer[all[i].signer()].push_back(i);
  REQUIRE(by_signer.size() > 2);
  for (const auto& [signer, want] : by_signer) {
    INFO("signer " << signer.ShortHex());
    EntryQuery q;
    q.signer = signer;
    std::vector<uint64_t> got;
    REQUIRE(store.QueryEntries(q, [&](uint64_t i, const Entry&) {
      got.push_back(i);
      return true;
    }).ok());
    CHECK(got == want);
    CHECK(store.LastNonce(signer) == all[want.back()].nonce());
  }
  for (uint64_t i = 0; i < all.size(); i += 3) {
    INFO("entry " << i);
    CHECK(store.FindEntry(all[i]).value() == std::optional<uint64_t>(i));
  }
  // From a height on: an entry below it is not found.
  const uint64_t mid = store.height() / 2;
  const BlockRecord rec = store.GetBlockRecord(mid).value();
  if (rec.first_entry_index > 0) {
    CHECK(store.FindEntry(all[rec.first_entry_index - 1], mid).value() == std::nullopt);
  }
}

}  // namespace

TEST_CASE("signer index: chunks answer as a scan before and after they close, across reopens") {
  MemEnv mem;
  DevChainOptions o = SmallChain(mem.get(), 2 * (2 * C + 90), 2);  // heights 0..602
  o.store.index_in_background = GENERATE(false, true);
  INFO("index in background: " << o.store.index_in_background);
  {
    auto store = SeedDevChain("/db", o).value();
    REQUIRE(store->height() == 2 * C + 90);
    CheckSignerIndex(*store);  // chunks 0 and 1 written, chunk 2 in memory
  }
  // Chunks 0 and 1 are written, one key per signer each; chunk 2 is not.
  const auto index = IndexDb(mem.get());
  std::map<uint64_t, int> keys_per_chunk;
  for (const auto& [k, v] : index) {
    if (k.size() == 42 && k.compare(0, 2, "Is") == 0) ++keys_per_chunk[TailBE64(k)];
  }
  CHECK(keys_per_chunk == std::map<uint64_t, int>{{0, 4}, {1, 4}});
  // Reopened mid-chunk: chunk 2 is rebuilt from the blocks.
  StoreOptions so = o.store;
  {
    auto store = Store::Open("/db/ledger", so).value();
    CheckSignerIndex(*store);
  }
  auto audit = AuditStore("/db/ledger", testing::OneThreadAudit(mem.get()));
  INFO(audit.status().ToString());
  CHECK(audit.ok());
}

// A crash can lose the index batches of the last blocks, among them the one that wrote a
// chunk's keys: the next open rebuilds that chunk from its blocks, writes it with the rest,
// and the index database ends up as it was, byte for byte.
TEST_CASE("signer index: a crash that lost a chunk's keys rebuilds them on open") {
  MemEnv mem;
  DevChainOptions o = SmallChain(mem.get(), 2 * (2 * C + 10), 2);  // heights 0..522
  { auto store = SeedDevChain("/db", o).value(); }
  const auto complete = IndexDb(mem.get());
  const uint64_t lost_from = 2 * C - 6;  // blocks 506..522: chunk 1 closes at 511
  EditIndexDb(mem.get(), [&](leveldb::DB* db) {
    leveldb::WriteBatch batch;
    size_t signer_keys = 0;
    for (const auto& [k, v] : complete) {
      if (k[0] == 'B' || (k[0] == 'I' && k[1] != 's')) {
        if (TailBE64(k) >= lost_from) batch.Delete(k);
      } else if (k[0] == 'I' && TailBE64(k) == 1) {
        batch.Delete(k);
        ++signer_keys;
      }
    }
    REQUIRE(signer_keys == 4);
    const std::string be = BE64(lost_from - 1);
    batch.Put(keys::Meta("head"), std::string(be.rbegin(), be.rend()));  // a u64: little-endian
    REQUIRE(db->Write({}, &batch).ok());
  });
  REQUIRE(IndexDb(mem.get()) != complete);
  {
    StoreOptions so = o.store;
    auto store = Store::Open("/db/ledger", so).value();
    CheckSignerIndex(*store);
  }
  CHECK(IndexDb(mem.get()) == complete);
}

// Format 4 kept a signer key per block and signer. Opening such a store rewrites its signer
// index as chunks, exactly the keys a format 5 store of the same blocks holds, and the
// auditor checks the store in either format.
TEST_CASE("signer index: a format 4 store is rewritten as chunks on open") {
  MemEnv mem;
  DevChainOptions o = SmallChain(mem.get(), 2 * (C + 40), 2);  // heights 0..296
  {
    auto store = SeedDevChain("/db", o).value();
    // The format 4 signer keys, from the blocks.
    std::map<std::string, std::string> old_keys;
    for (uint64_t h = 0; h <= store->height(); ++h) {
      Block b = store->GetBlock(h).value();
      std::map<PubKey, std::vector<uint32_t>> offsets;
      for (uint32_t i = 0; i < b.entries.size(); ++i) offsets[b.entries[i].signer()].push_back(i);
      for (const auto& [signer, offs] : offsets) {
        std::string k = "Is";
        k.append(reinterpret_cast<const char*>(signer.data()), 32);
        old_keys[k + BE64(h)] = keys::IndexValue(offs);
      }
    }
    store.reset();
    const auto v5 = IndexDb(mem.get());
    EditIndexDb(mem.get(), [&](leveldb::DB* db) {
      leveldb::WriteBatch batch;
      for (const auto& [k, v] : v5) {
        if (k.compare(0, 2, "Is") == 0) batch.Delete(k);
      }
      for (const auto& [k, v] : old_keys) batch.Put(k, v);
      batch.Put(keys::Meta("format"), std::string("\x04\0\0\0", 4));
      REQUIRE(db->Write({}, &batch).ok());
    });
    AuditOptions ao = testing::OneThreadAudit(mem.get());
    auto audited = AuditStore("/db/ledger", ao);
    INFO(audited.status().ToString());
    REQUIRE(audited.ok());
    SECTION("a format 4 signer key that lists another signer's entry is caught") {
      EditIndexDb(mem.get(), [&](leveldb::DB* db) {
        auto first = old_keys.begin();
        auto other = std::next(first);
        while (other->first.compare(2, 32, first->first, 2, 32) == 0) ++other;
        REQUIRE(db->Put({}, first->first.substr(0, 34) + other->first.substr(34), other->second).ok());
      });
      auto bad = AuditStore("/db/ledger", ao);
      REQUIRE(!bad.ok());
      CHECK_THAT(bad.status().message(), Catch::Contains("signer"));
    }
    SECTION("opening it rewrites the signer index") {
      {
        StoreOptions so = o.store;
        auto store = Store::Open("/db/ledger", so).value();
        CheckSignerIndex(*store);
      }
      CHECK(IndexDb(mem.get()) == v5);
      auto again = AuditStore("/db/ledger", ao);
      INFO(again.status().ToString());
      CHECK(again.ok());
    }
  }
}

// A damaged chunk value is an error for its readers and for the auditor, never a wrong answer.
TEST_CASE("signer index: a damaged chunk is reported, by the store and by the audit") {
  MemEnv mem;
  DevChainOptions o = SmallChain(mem.get(), C + 30, 1);  // heights 0..286, chunk 0 written
  o.partners = 1;
  { auto store = SeedDevChain("/db", o).value(); }
  const auto complete = IndexDb(mem.get());
  std::vector<std::pair<std::string, std::string>> chunk_keys;
  for (const auto& [k, v] : complete) {
    if (k.size() == 42 && k.compare(0, 2, "Is") == 0) chunk_keys.emplace_back(k, v);
  }
  REQUIRE(chunk_keys.size() >= 2);
  AuditOptions ao = testing::OneThreadAudit(mem.get());
  ao.threads = 2;
  REQUIRE(AuditStore("/db/ledger", ao).ok());
  // The smallest value: every byte of its first two blocks and of its last, and the bytes of
  // its key that name the index, the signer and the chunk (an audit per change: all of them
  // would take a minute).
  auto [key, value] = *std::min_element(chunk_keys.begin(), chunk_keys.end(),
                                        [](const auto& a, const auto& b) { return a.second.size() < b.second.size(); });
  auto detected = [&](const std::string& k, const std::string& v) {
    EditIndexDb(mem.get(), [&](leveldb::DB* db) {
      leveldb::WriteBatch batch;
      batch.Delete(key);
      batch.Put(k, v);
      REQUIRE(db->Write({}, &batch).ok());
    });
    auto r = AuditStore("/db/ledger", ao);
    EditIndexDb(mem.get(), [&](leveldb::DB* db) {
      leveldb::WriteBatch batch;
      batch.Delete(k);
      batch.Put(key, value);
      REQUIRE(db->Write({}, &batch).ok());
    });
    return !r.ok() && r.status().code() == Status::Code::kCorruption;
  };
  size_t mutations = 0, caught = 0;
  REQUIRE(value.size() >= 36);
  for (size_t i = 0; i < value.size(); i += (i == 23 ? value.size() - 35 : 1)) {
    std::string v = value;
    v[i] ^= 0x01;
    ++mutations;
    caught += detected(key, v);
  }
  for (size_t i : {0, 1, 2, 33, 34, 41}) {
    std::string k = key;
    k[i] ^= 0x01;
    ++mutations;
    caught += detected(k, value);
  }
  CHECK(mutations == 24 + 12 + 6);
  CHECK(detected(key, value.substr(0, value.size() - 4)));
  CHECK(detected(key, value + std::string(4, '\0')));
  CHECK(caught == mutations);
  REQUIRE(IndexDb(mem.get()) == complete);
  // The store's readers: a cut value is Corruption naming the signer index.
  EditIndexDb(mem.get(), [&](leveldb::DB* db) {
    REQUIRE(db->Put({}, key, value.substr(0, value.size() - 2)).ok());
  });
  StoreOptions so = o.store;
  auto store = Store::Open("/db/ledger", so).value();
  EntryQuery q;
  q.signer = Hash32::FromView(AsView(key).subspan(2, 32));
  Status s = store->QueryEntries(q, [](uint64_t, const Entry&) { return true; });
  REQUIRE(!s.ok());
  CHECK(s.code() == Status::Code::kCorruption);
  CHECK_THAT(s.message(), Catch::Contains("signer index"));
}

// Readers run while blocks commit across chunk boundaries, with the index written in the
// background: a chunk moves from memory to its keys while they read, and no reader ever
// misses an entry of a block at or below the head it saw.
TEST_CASE("signer index: readers racing the commits that close chunks see every entry") {
  MemEnv mem;
  DevChainOptions o = SmallChain(mem.get(), 2 * (C - 20), 2);  // heights 0..236
  o.store.index_in_background = true;
  auto store = SeedDevChain("/db", o).value();
  const SecretKey op = DevOperatorKey("dev");
  std::vector<SecretKey> vals;
  for (int i = 0; i < 4; ++i) vals.push_back(DevValidatorKey("dev", i));
  // The operator's entries committed at or below each height.
  const uint64_t blocks = C + 60;  // on to height 552: chunks 0 and 1 close
  std::vector<std::atomic<uint64_t>> op_entries(store->height() + blocks + 1);
  {
    uint64_t n = 0;
    for (uint64_t h = 0; h <= store->height(); ++h) {
      const Block b = store->GetBlock(h).value();
      for (const Entry& e : b.entries) n += e.signer() == op.pubkey();
      op_entries[h] = n;
    }
  }
  std::atomic<bool> done{false};
  std::atomic<uint64_t> queries{0}, failures{0};
  std::thread reader([&] {
    while (!done.load()) {
      const uint64_t h = store->height();
      const uint64_t want = op_entries[h].load();
      EntryQuery q;
      q.signer = op.pubkey();
      std::vector<uint64_t> got;
      Status s = store->QueryEntries(q, [&](uint64_t i, const Entry&) {
        got.push_back(i);
        return true;
      });
      const bool ordered = std::adjacent_find(got.begin(), got.end(), std::greater_equal<>()) == got.end();
      if (!s.ok() || got.size() < want || !ordered) ++failures;
      ++queries;
    }
  });
  uint64_t nonce = store->LastNonce(op.pubkey());
  uint64_t n = op_entries[store->height()].load();
  for (uint64_t i = 0; i < blocks; ++i) {
    Block b;
    EntryBody body;
    body.chain_id = store->chain_id();
    body.nonce = ++nonce;
    body.timestamp_ms = store->head().header.time_ms + 1;
    body.payload = TaskRevokePayload{"task-x", "race " + std::to_string(i)};
    b.entries.push_back(Entry::Sign(body, op).value());
    b.header = store->NextHeader(b.entries, body.timestamp_ms, vals[0].pubkey());
    op_entries[b.header.height] = ++n;  // before the commit makes the height visible
    REQUIRE(store->Commit(b, DevCertificate(store->chain_id(), b.header, vals)).ok());
  }
  done = true;
  reader.join();
  CHECK(queries.load() > 10);
  CHECK(failures.load() == 0);
  CheckSignerIndex(*store);
}
