#include "consensus/mempool.h"

#include <catch2/catch.hpp>

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
  mp.RemoveCommitted(b, *chain.app);
  CHECK(mp.size() == 1);
  CHECK(mp.Contains(MakeEntry(alice, 4).leaf_hash()));
  AdmitResult r = mp.Add(MakeEntry(alice, 2), *chain.app);
  CHECK(r.code == Admission::kStaleNonce);
  CHECK(r.reason.find("nonce 2") != std::string::npos);
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

}  // namespace
}  // namespace fedledger::consensus
