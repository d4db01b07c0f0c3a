#include "consensus/mempool.h"

#include <algorithm>
#include <catch2/catch.hpp>
#include <vector>

#include "fixture.h"

namespace fedledger::consensus {
namespace {

using testing::MakeEntry;
using testing::TestChain;

TEST_CASE("mempool: admission checks, cheapest first, each with its reason", "[mempool]") {
  TestChain chain;
  SecretKey alice = SecretKey::FromSeed("alice");
  Mempool mp;
  CHECK(mp.Add(MakeEntry(alice, 1), *chain.app).ok());
  CHECK(mp.Add(MakeEntry(alice, 1), *chain.app).code == Admission::kDuplicate);
  CHECK(mp.Add(MakeEntry(alice, 3, "other-chain"), *chain.app).code == Admission::kWrongChain);
  CHECK(mp.Add(testing::Tamper(MakeEntry(alice, 2)), *chain.app).code == Admission::kBadSignature);
  // Another entry with a pending nonce (different content) is refused.
  Entry e1b = MakeEntry(alice, 1);
  {
    DatasetRegisterPayload p = *e1b.As<DatasetRegisterPayload>();
    p.rows = 999;
    EntryBody b = e1b.body();
    b.payload = p;
    e1b = *Entry::Sign(b, alice, true);
  }
  CHECK(mp.Add(e1b, *chain.app).code == Admission::kNonceTaken);
  CHECK(mp.size() == 1);
  CHECK(mp.signature_checks() == 2);  // one accepted, one bad signature; nothing else verified
}

TEST_CASE("mempool: committed entries leave, stale nonces are refused", "[mempool]") {
  TestChain chain;
  SecretKey alice = SecretKey::FromSeed("alice");
  Mempool mp;
  for (uint64_t n = 1; n <= 4; ++n) REQUIRE(mp.Add(MakeEntry(alice, n), *chain.app).ok());
  // A block with nonces 1 and 3 commits: 1 and 3 leave, 2 is now stale and leaves too.
  Block b;
  REQUIRE(chain.CommitEntries({MakeEntry(alice, 1), MakeEntry(alice, 3)}, nullptr, &b).ok());
  std::vector<Entry> stale = mp.RemoveCommitted(b, *chain.app);
  REQUIRE(stale.size() == 1);
  CHECK(stale[0].leaf_hash() == MakeEntry(alice, 2).leaf_hash());
  CHECK(mp.size() == 1);
  CHECK(mp.Contains(MakeEntry(alice, 4).leaf_hash()));
  AdmitResult r = mp.Add(MakeEntry(alice, 2), *chain.app);
  CHECK(r.code == Admission::kStaleNonce);
  CHECK(r.reason.find("nonce 2") != std::string::npos);
}

TEST_CASE("mempool: the largest nonce is refused - it would retire the signer's key", "[mempool]") {
  TestChain chain;
  SecretKey alice = SecretKey::FromSeed("alice");
  Mempool mp;
  AdmitResult r = mp.Add(MakeEntry(alice, UINT64_MAX), *chain.app);
  CHECK(r.code == Admission::kRejected);
  CHECK(r.reason.find("could never sign another entry") != std::string::npos);
  CHECK(mp.Add(MakeEntry(alice, UINT64_MAX - 1), *chain.app).ok());
}

TEST_CASE("mempool: the size bound rejects clearly when full", "[mempool]") {
  TestChain chain;
  SecretKey alice = SecretKey::FromSeed("alice");
  MempoolOptions o;
  o.max_entries = 3;
  Mempool mp(o);
  for (uint64_t n = 1; n <= 3; ++n) REQUIRE(mp.Add(MakeEntry(alice, n), *chain.app).ok());
  AdmitResult r = mp.Add(MakeEntry(alice, 4), *chain.app);
  CHECK(r.code == Admission::kFull);
  CHECK(std::string(AdmissionName(r.code)) == "mempool_full");
  CHECK(r.reason.find("full") != std::string::npos);
  CHECK(mp.signature_checks() == 3);  // no signature work spent on a refused entry

  MempoolOptions ob;
  ob.max_bytes = MakeEntry(alice, 1).bytes().size() + 10;
  Mempool small(ob);
  CHECK(small.Add(MakeEntry(alice, 1), *chain.app).ok());
  CHECK(small.Add(MakeEntry(alice, 2), *chain.app).code == Admission::kFull);
}

TEST_CASE("mempool: selection keeps per-signer nonce order and the bounds", "[mempool]") {
  TestChain chain;
  SecretKey alice = SecretKey::FromSeed("alice"), bob = SecretKey::FromSeed("bob");
  Mempool mp;
  // Out-of-order arrival: bob 2, alice 5, bob 1, alice 3.
  for (const Entry& e :
       {MakeEntry(bob, 2), MakeEntry(alice, 5), MakeEntry(bob, 1), MakeEntry(alice, 3)}) {
    REQUIRE(mp.Add(e, *chain.app).ok());
  }
  std::vector<Entry> sel = mp.Select(10, 1 << 20);
  REQUIRE(sel.size() == 4);
  CHECK(sel[0].signer() == bob.pubkey());
  CHECK(sel[0].nonce() == 1);
  CHECK(sel[1].nonce() == 2);
  CHECK(sel[2].signer() == alice.pubkey());
  CHECK(sel[2].nonce() == 3);
  CHECK(sel[3].nonce() == 5);
  CHECK(mp.Select(3, 1 << 20).size() == 3);
  CHECK(mp.Select(10, sel[0].bytes().size() * 2).size() == 2);
  // The selection is a valid block for the store.
  Block b;
  b.header = chain.store->NextHeader(sel, 5000, chain.keys[0].pubkey());
  b.entries = sel;
  CHECK(chain.store->CheckBlock(b).ok());
  // Selecting does not remove.
  CHECK(mp.size() == 4);
}

// What Select must return: signers in the order of their oldest pending entry, each signer's
// pending entries in increasing nonce order, at most `max_entries` (bytes unbounded).
std::vector<Hash32> ExpectedSelection(const std::vector<Entry>& pending_in_arrival_order,
                                      size_t max_entries) {
  std::vector<Hash32> out;
  std::vector<PubKey> seen;
  for (const Entry& first : pending_in_arrival_order) {
    if (std::find(seen.begin(), seen.end(), first.signer()) != seen.end()) continue;
    seen.push_back(first.signer());
    std::vector<Entry> mine;
    for (const Entry& e : pending_in_arrival_order) {
      if (e.signer() == first.signer()) mine.push_back(e);
    }
    std::sort(mine.begin(), mine.end(),
              [](const Entry& a, const Entry& b) { return a.nonce() < b.nonce(); });
    for (const Entry& e : mine) {
      if (out.size() == max_entries) return out;
      out.push_back(e.leaf_hash());
    }
  }
  return out;
}

std::vector<Hash32> Leaves(const std::vector<Entry>& entries) {
  std::vector<Hash32> out;
  for (const Entry& e : entries) out.push_back(e.leaf_hash());
  return out;
}

TEST_CASE("mempool: selection order survives removals anywhere in the arrival order", "[mempool]") {
  TestChain chain;
  std::vector<SecretKey> signers;
  for (int i = 0; i < 6; ++i) signers.push_back(SecretKey::FromSeed("signer-" + std::to_string(i)));
  Mempool mp;
  std::vector<Entry> pending;  // in arrival order
  // Interleaved arrivals, odd signers' nonces arriving in decreasing order.
  for (uint64_t r = 1; r <= 40; ++r) {
    for (size_t i = 0; i < signers.size(); ++i) {
      Entry e = MakeEntry(signers[i], i % 2 ? 41 - r : r);
      REQUIRE(mp.Add(e, *chain.app).ok());
      pending.push_back(e);
    }
  }
  auto remove_if = [&](auto pred) {
    std::vector<Entry> keep;
    for (const Entry& e : pending) {
      if (pred(e)) {
        mp.Remove(e.leaf_hash());
      } else {
        keep.push_back(e);
      }
    }
    pending = keep;
  };
  auto check = [&] {
    REQUIRE(mp.size() == pending.size());
    for (size_t max : {size_t{1}, size_t{7}, size_t{50}, size_t{1000}}) {
      CHECK(Leaves(mp.Select(max, 1 << 30)) == ExpectedSelection(pending, max));
    }
  };
  check();
  // The oldest entry (signer 0, nonce 1) stays while most of the rest leaves: more removed
  // entries than pending ones sit behind it.
  remove_if([&](const Entry& e) { return e.nonce() % 5 != 0 && e.nonce() != 1; });
  check();
  // Then the oldest leaves too; the next oldest signer comes first.
  remove_if([&](const Entry& e) { return e.signer() == signers[0].pubkey() && e.nonce() == 1; });
  check();
  // Later arrivals queue behind the remaining ones, their signers last unless already pending.
  for (uint64_t n : {41, 42}) {
    Entry e = MakeEntry(signers[3], n);
    REQUIRE(mp.Add(e, *chain.app).ok());
    pending.push_back(e);
    Entry f = MakeEntry(SecretKey::FromSeed("late"), n);
    REQUIRE(mp.Add(f, *chain.app).ok());
    pending.push_back(f);
  }
  check();
  remove_if([](const Entry&) { return true; });
  check();
  CHECK(mp.empty());
  CHECK(mp.bytes() == 0);
}

}  // namespace
}  // namespace fedledger::consensus
