// DatasetTable: lookups, replacement, growth, merging and copies, checked against std::map.
#include <catch2/catch.hpp>

#include <map>
#include <random>
#include <string>
#include <utility>

#include "orchestrator/dataset_table.h"

namespace fedledger::orchestrator {
namespace {

PubKey KeyOf(uint32_t i) {
  PubKey k;
  std::mt19937_64 rng(i);
  for (auto& b : k.v) b = static_cast<uint8_t>(rng());
  return k;
}

DatasetRecord Record(const PubKey& owner, std::string id, uint64_t rows) {
  DatasetRecord r;
  r.owner = owner;
  r.dataset_id = std::move(id);
  r.rows = rows;
  return r;
}

TEST_CASE("dataset table: finds what was inserted and nothing else", "[dataset_table]") {
  DatasetTable t;
  const PubKey alice = KeyOf(1), bob = KeyOf(2);
  CHECK(t.Find(alice, "x") == nullptr);
  t.InsertOrAssign(Record(alice, "x", 10));
  t.InsertOrAssign(Record(bob, "x", 20));
  REQUIRE(t.Find(alice, "x") != nullptr);
  CHECK(t.Find(alice, "x")->rows == 10);
  CHECK(t.Find(bob, "x")->rows == 20);
  CHECK(t.Find(alice, "y") == nullptr);
  CHECK(t.Find(KeyOf(3), "x") == nullptr);
  CHECK(t.Find(alice, "") == nullptr);
  CHECK(t.size() == 2);

  // Same key: replaced in place, keeping its place in insertion order.
  t.InsertOrAssign(Record(alice, "x", 11));
  CHECK(t.size() == 2);
  CHECK(t.Find(alice, "x")->rows == 11);
  CHECK(t.begin()->owner == alice);
  CHECK(t.begin()->rows == 11);
}

TEST_CASE("dataset table: agrees with std::map through growth, with one owner's many ids",
          "[dataset_table]") {
  DatasetTable t;
  std::map<std::pair<PubKey, std::string>, uint64_t> want;
  std::mt19937_64 rng(7);
  for (uint32_t i = 0; i < 50000; ++i) {
    // Few owners and many ids per owner (the common case), with replacements.
    PubKey owner = KeyOf(rng() % 5);
    std::string id = "ds-" + std::to_string(rng() % 30000);
    t.InsertOrAssign(Record(owner, id, i));
    want[{owner, id}] = i;
  }
  REQUIRE(t.size() == want.size());
  for (const auto& [k, rows] : want) {
    const DatasetRecord* d = t.Find(k.first, k.second);
    REQUIRE(d != nullptr);
    CHECK(d->rows == rows);
    CHECK(d->dataset_id == k.second);
  }
  for (uint32_t i = 0; i < 10000; ++i) {
    CHECK(t.Find(KeyOf(rng() % 5), "other-" + std::to_string(i)) == nullptr);
    CHECK(t.Find(KeyOf(100 + i), "ds-1") == nullptr);
  }
  size_t n = 0;
  for (const DatasetRecord& d : t) {
    CHECK(want.at({d.owner, d.dataset_id}) == d.rows);
    ++n;
  }
  CHECK(n == want.size());
}

TEST_CASE("dataset table: a merge moves every record over and replaces equal keys",
          "[dataset_table]") {
  DatasetTable base, overlay;
  const PubKey alice = KeyOf(1);
  for (int i = 0; i < 100; ++i) base.InsertOrAssign(Record(alice, "b" + std::to_string(i), 1));
  overlay.InsertOrAssign(Record(alice, "b7", 2));
  for (int i = 0; i < 100; ++i) overlay.InsertOrAssign(Record(alice, "o" + std::to_string(i), 3));
  const DatasetRecord* kept = base.Find(alice, "b50");
  base.MergeFrom(std::move(overlay));
  CHECK(overlay.empty());
  CHECK(overlay.Find(alice, "o1") == nullptr);
  CHECK(base.size() == 200);
  CHECK(base.Find(alice, "b7")->rows == 2);
  CHECK(base.Find(alice, "o99")->rows == 3);
  CHECK(base.Find(alice, "b50") == kept);  // records stay where they are as the table grows
  // The emptied table is usable again.
  overlay.InsertOrAssign(Record(alice, "again", 4));
  CHECK(overlay.Find(alice, "again")->rows == 4);
}

TEST_CASE("dataset table: copies are independent", "[dataset_table]") {
  DatasetTable a;
  const PubKey alice = KeyOf(1);
  for (int i = 0; i < 40; ++i) a.InsertOrAssign(Record(alice, std::to_string(i), 1));
  DatasetTable b = a;
  b.InsertOrAssign(Record(alice, "3", 9));
  b.InsertOrAssign(Record(alice, "new", 9));
  CHECK(a.Find(alice, "3")->rows == 1);
  CHECK(a.Find(alice, "new") == nullptr);
  CHECK(b.Find(alice, "3")->rows == 9);
  CHECK(b.size() == 41);
  CHECK(a.size() == 40);
}

TEST_CASE("dataset table: copies taken at every fill level grow on their own", "[dataset_table]") {
  // Between 3/8 and 1/2 full a table prepares its next slot array; copies and merges taken
  // at any point of that must still find every record after they grow.
  DatasetTable t;
  std::map<std::string, uint64_t> want;
  const PubKey alice = KeyOf(1);
  for (uint32_t i = 0; i < 3000; ++i) {
    std::string id = "d" + std::to_string(i);
    t.InsertOrAssign(Record(alice, id, i));
    want[id] = i;
    if (i % 97 != 0) continue;
    DatasetTable copy = t;
    for (uint32_t j = 0; j < 700; ++j) copy.InsertOrAssign(Record(KeyOf(2), std::to_string(j), j));
    REQUIRE(copy.size() == want.size() + 700);
    for (const auto& [k, rows] : want) {
      REQUIRE(copy.Find(alice, k) != nullptr);
      CHECK(copy.Find(alice, k)->rows == rows);
    }
    CHECK(copy.Find(KeyOf(2), "699")->rows == 699);
    CHECK(copy.Find(KeyOf(2), "700") == nullptr);
    DatasetTable merged;
    merged.MergeFrom(std::move(copy));
    CHECK(merged.size() == want.size() + 700);
    CHECK(merged.Find(alice, "d0")->rows == 0);
  }
  for (const auto& [k, rows] : want) CHECK(t.Find(alice, k)->rows == rows);
}

}  // namespace
}  // namespace fedledger::orchestrator
