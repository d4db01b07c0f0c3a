// Every single-byte change to any stored value or key of a small ledger is detected by the
// auditor, and the auditor names a block, entry or record.
#include <catch2/catch.hpp>

#include <leveldb/db.h>
#include <leveldb/write_batch.h>

#include "ledger/audit.h"
#include "test_util.h"

using namespace fedledger;
using fedledger::testing::MemEnv;
using fedledger::testing::SmallChain;

namespace {

struct Record {
  size_t db;  // 0: the index database, 1: the log database
  std::string key, value;
};

void ReadAll(leveldb::DB* db, size_t which, std::vector<Record>& out) {
  std::unique_ptr<leveldb::Iterator> it(db->NewIterator(leveldb::ReadOptions()));
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    out.push_back({which, it->key().ToString(), it->value().ToString()});
  }
}

// The store's two databases (ledger/store.h), opened directly.
struct RawStore {
  leveldb::Options opts;
  std::unique_ptr<leveldb::DB> dbs[2];
  explicit RawStore(leveldb::Env* env) { opts.env = env; Open(); }
  void Open() {
    const char* paths[2] = {"/db/ledger", "/db/ledger/entries"};
    for (size_t i = 0; i < 2; ++i) {
      leveldb::DB* raw = nullptr;
      REQUIRE(leveldb::DB::Open(opts, paths[i], &raw).ok());
      dbs[i].reset(raw);
    }
  }
  void Close() {
    dbs[0].reset();
    dbs[1].reset();
  }
  leveldb::DB* operator[](size_t i) { return dbs[i].get(); }
};

}  // namespace

TEST_CASE("tamper sweep: every single-byte change to a stored ledger is detected") {
  MemEnv mem;
  {
    auto store = SeedDevChain("/db", SmallChain(mem.get(), 14, 7)).value();  // 3 blocks
  }
  AuditOptions ao = testing::OneThreadAudit(mem.get());
  REQUIRE(AuditStore("/db/ledger", ao).ok());

  RawStore dbs(mem.get());
  std::vector<Record> records;
  ReadAll(dbs[0], 0, records);
  size_t index_records = records.size();
  ReadAll(dbs[1], 1, records);
  REQUIRE(index_records > 15);  // no signer keys: chunk 0 is still open (signer_index_test)
  REQUIRE(records.size() - index_records > 20);

  auto audit_fails = [&](std::string* why) {
    dbs.Close();
    auto r = AuditStore("/db/ledger", ao);
    dbs.Open();
    if (!r.ok()) *why = r.status().message();
    return !r.ok() && r.status().code() == Status::Code::kCorruption;
  };

  size_t mutations = 0, detected = 0;
  for (const Record& rec : records) {
    // Every byte of the value. (audit_fails reopens the databases: look them up each time.)
    for (size_t i = 0; i < rec.value.size(); ++i) {
      std::string changed = rec.value;
      changed[i] ^= 0x01;
      REQUIRE(dbs[rec.db]->Put(leveldb::WriteOptions(), rec.key, changed).ok());
      std::string why;
      bool caught = audit_fails(&why);
      ++mutations;
      detected += caught;
      if (!caught) FAIL_CHECK("undetected change: key " << ToHex(AsView(rec.key)) << " byte " << i);
      REQUIRE(dbs[rec.db]->Put(leveldb::WriteOptions(), rec.key, rec.value).ok());
    }
    // Every byte of the key (the record moves to another key).
    for (size_t i = 0; i < rec.key.size(); ++i) {
      std::string moved = rec.key;
      moved[i] ^= 0x01;
      leveldb::WriteBatch b;
      b.Delete(rec.key);
      b.Put(moved, rec.value);
      REQUIRE(dbs[rec.db]->Write(leveldb::WriteOptions(), &b).ok());
      std::string why;
      bool caught = audit_fails(&why);
      ++mutations;
      detected += caught;
      if (!caught) FAIL_CHECK("undetected key change: " << ToHex(AsView(rec.key)) << " byte " << i);
      leveldb::WriteBatch undo;
      undo.Delete(moved);
      undo.Put(rec.key, rec.value);
      REQUIRE(dbs[rec.db]->Write(leveldb::WriteOptions(), &undo).ok());
    }
  }
  // Dropping any single record is detected too.
  for (const Record& rec : records) {
    REQUIRE(dbs[rec.db]->Delete(leveldb::WriteOptions(), rec.key).ok());
    std::string why;
    bool caught = audit_fails(&why);
    ++mutations;
    detected += caught;
    if (!caught) FAIL_CHECK("undetected deletion of " << ToHex(AsView(rec.key)));
    REQUIRE(dbs[rec.db]->Put(leveldb::WriteOptions(), rec.key, rec.value).ok());
  }
  WARN("tamper sweep: " << detected << " of " << mutations << " mutations over "
                        << records.size() << " records detected");
  CHECK(detected == mutations);
  dbs.Close();
  auto final_audit = AuditStore("/db/ledger", ao);
  INFO(final_audit.status().ToString());
  CHECK(final_audit.ok());
}

TEST_CASE("tamper: the auditor names the first bad block and entry") {
  MemEnv mem;
  { auto store = SeedDevChain("/db", SmallChain(mem.get(), 30, 10)).value(); }
  AuditOptions ao;
  ao.env = mem.get();
  leveldb::Options opts;
  opts.env = mem.get();
  leveldb::DB* raw = nullptr;
  REQUIRE(leveldb::DB::Open(opts, "/db/ledger/entries", &raw).ok());
  std::unique_ptr<leveldb::DB> db(raw);
  std::string v;
  // Entry 15 is the 5th entry of block 2; flip a byte of its signature.
  REQUIRE(db->Get(leveldb::ReadOptions(), keys::Entry(15), &v).ok());
  v[v.size() - 3] ^= 0x40;
  REQUIRE(db->Put(leveldb::WriteOptions(), keys::Entry(15), v).ok());
  db.reset();
  auto r = AuditStore("/db/ledger", ao);
  REQUIRE(!r.ok());
  CHECK_THAT(r.status().message(), Catch::Contains("block 2, entry 15"));
  CHECK_THAT(r.status().message(), Catch::Contains("signature"));
}
