#include "consensus/messages.h"

#include <catch2/catch.hpp>

#include "ledger/encoding.h"
#include "sim.h"

namespace fedledger::consensus {
namespace {

Entry SomeEntry(const std::string& chain, uint64_t nonce, const SecretKey& key) {
  DatasetRegisterPayload p;
  p.dataset_id = "ds-" + std::to_string(nonce);
  p.content_hash = Sha256(p.dataset_id);
  p.rows = 10;
  p.schema = "a,b";
  EntryBody b;
  b.chain_id = chain;
  b.nonce = nonce;
  b.timestamp_ms = 1000;
  b.payload = p;
  return *Entry::Sign(b, key, true);
}

Proposal SomeProposal(const SecretKey& key) {
  Proposal p;
  p.chain_id = "c1";
  p.height = 3;
  p.round = 2;
  p.pol_round = 1;
  p.block.header.chain_id = "c1";
  p.block.header.height = 3;
  p.block.header.entry_count = 1;
  p.block.header.log_size = 5;
  p.block.entries.push_back(SomeEntry("c1", 7, key));
  p.Sign(key);
  return p;
}

Vote SignedVote(const SecretKey& key, VoteType type, uint64_t height, uint32_t round) {
  Vote v;
  v.type = type;
  v.chain_id = "c1";
  v.height = height;
  v.round = round;
  v.block_hash = Sha256("b");
  v.validator = key.pubkey();
  v.sig = key.SignDeterministic(v.Digest());
  return v;
}

TEST_CASE("messages: every type round-trips canonically", "[messages]") {
  SecretKey key = SecretKey::FromSeed("msg");
  Vote v = SignedVote(key, VoteType::kPrecommit, 9, 4);
  Proposal p = SomeProposal(key);
  Vote pol;
  pol.type = VoteType::kPrevote;
  pol.chain_id = "c1";
  pol.height = 3;
  pol.round = 1;
  pol.block_hash = p.block_hash;
  pol.validator = key.pubkey();
  pol.sig = key.SignDeterministic(pol.Digest());
  p.pol_votes = {pol, pol};
  CommittedBlock cb{p.block, Certificate{3, 2, p.block_hash, {{0, v.sig}, {2, v.sig}}}};
  CommittedBlock cb2 = cb;
  cb2.block.header.height = 4;
  EntryBatch hinted{{SomeEntry("c1", 1, key), SomeEntry("c1", 2, key)}};
  hinted.r_ys = {Sha256("y1"), Hash32{}};
  hinted.Sign(key, "c1");
  std::vector<Message> msgs = {p, v, SyncRequest{12, 8}, SyncResponse{{cb, cb2}},
                               EntryBatch{{SomeEntry("c1", 1, key), SomeEntry("c1", 2, key)}},
                               hinted};
  for (const Message& m : msgs) {
    Bytes b = EncodeMessage(m);
    auto d = DecodeMessage(b);
    INFO(MessageTypeName(TypeOf(m)));
    REQUIRE(d.ok());
    CHECK(TypeOf(*d) == TypeOf(m));
    CHECK(EncodeMessage(*d) == b);
  }
  auto d = DecodeMessage(EncodeMessage(p));
  const Proposal& dp = std::get<Proposal>(*d);
  CHECK(dp.block_hash == p.block.header.Hash());
  CHECK(dp.VerifySignature(key.pubkey()));
  CHECK_FALSE(dp.VerifySignature(SecretKey::FromSeed("other").pubkey()));
  auto db = DecodeMessage(EncodeMessage(hinted));
  const EntryBatch& dh = std::get<EntryBatch>(*db);
  CHECK(dh.r_ys == hinted.r_ys);
  CHECK(dh.sender == key.pubkey());
  CHECK(VerifySignature(dh.sender, dh.Digest("c1"), dh.sig));
}

TEST_CASE("messages: the entry batch signature binds its sender, entries, hints and chain",
          "[messages]") {
  SecretKey key = SecretKey::FromSeed("msg");
  EntryBatch b{{SomeEntry("c1", 1, key), SomeEntry("c1", 2, key)}};
  b.r_ys = {Sha256("y1"), Hash32{}};
  b.Sign(key, "c1");
  CHECK(b.sender == key.pubkey());
  auto verifies = [](const EntryBatch& x, std::string_view chain) {
    return VerifySignature(x.sender, x.Digest(chain), x.sig);
  };
  CHECK(verifies(b, "c1"));
  CHECK_FALSE(verifies(b, "c2"));
  EntryBatch c = b;
  c.entries.pop_back();
  CHECK_FALSE(verifies(c, "c1"));
  c = b;
  std::swap(c.entries[0], c.entries[1]);
  CHECK_FALSE(verifies(c, "c1"));
  c = b;
  c.entries[1] = SomeEntry("c1", 3, key);
  CHECK_FALSE(verifies(c, "c1"));
  c = b;
  c.r_ys[1] = Sha256("y2");
  CHECK_FALSE(verifies(c, "c1"));
  c = b;
  c.r_ys.clear();
  CHECK_FALSE(verifies(c, "c1"));
  c = b;
  c.sender = SecretKey::FromSeed("other").pubkey();
  CHECK_FALSE(verifies(c, "c1"));
  // Another validator signing the same entries signs another digest.
  EntryBatch d = b;
  d.Sign(SecretKey::FromSeed("other"), "c1");
  CHECK(verifies(d, "c1"));
  CHECK(d.Digest("c1") != b.Digest("c1"));
}

TEST_CASE("messages: the proposal signature is domain separated and binds every field",
          "[messages]") {
  SecretKey key = SecretKey::FromSeed("msg");
  Proposal p = SomeProposal(key);
  Proposal q = p;
  q.round = 3;
  CHECK_FALSE(q.VerifySignature(key.pubkey()));
  q = p;
  q.pol_round = kNoRound;
  CHECK_FALSE(q.VerifySignature(key.pubkey()));
  q = p;
  q.block.header.time_ms += 1;
  q.block_hash = q.block.header.Hash();
  CHECK_FALSE(q.VerifySignature(key.pubkey()));
  // The same bytes signed as a vote digest do not verify as a proposal.
  CHECK(p.Digest() != TaggedHash(tags::kVote, ByteView()));
}

TEST_CASE("messages: without a frame signature only the sender's own votes and proposals pass",
          "[messages]") {
  std::vector<SecretKey> keys;
  std::vector<Member> members;
  for (int i = 0; i < 4; ++i) {
    keys.push_back(SecretKey::FromSeed("self-" + std::to_string(i)));
    members.push_back({"v" + std::to_string(i), keys.back().pubkey()});
  }
  ValidatorSet set(members);
  const ValidatorSet* vals = &set;
  const PubKey& sender = keys[1].pubkey();

  Vote v = SignedVote(keys[1], VoteType::kPrevote, 5, 0);
  CHECK(SelfSignedProblem(*vals, sender, v).empty());
  Vote relayed = v;
  relayed.validator = keys[2].pubkey();
  CHECK(SelfSignedProblem(*vals, sender, relayed).find("a vote signed by") == 0);

  // Whichever validator proposes height 3: only that one may send its proposal unsigned.
  Proposal p = SomeProposal(keys[0]);
  const PubKey& proposer = vals->Proposer(p.height, p.round).key;
  CHECK(SelfSignedProblem(*vals, proposer, p).empty());
  for (const SecretKey& k : keys) {
    if (k.pubkey() == proposer) continue;
    CHECK(SelfSignedProblem(*vals, k.pubkey(), p).find("which the sender does not propose") !=
          std::string::npos);
  }

  // The sender's own entry batch (its signature is the node's to check); not another's.
  EntryBatch batch{{SomeEntry("c1", 1, keys[3])}};
  batch.Sign(keys[1], "c1");
  CHECK(SelfSignedProblem(*vals, sender, batch).empty());
  batch.Sign(keys[2], "c1");
  CHECK(SelfSignedProblem(*vals, sender, batch).find("an ENTRY_BATCH signed by") == 0);

  // Messages that carry no signature of the sender's are always refused.
  std::vector<Message> unsigned_kinds = {SyncRequest{1, 8}, SyncResponse{}};
  for (const Message& m : unsigned_kinds) {
    INFO(MessageTypeName(TypeOf(m)));
    CHECK(SelfSignedProblem(*vals, sender, m).find("in a frame without a signature") !=
          std::string::npos);
  }
}

TEST_CASE("messages: malformed input is rejected with a reason", "[messages]") {
  SecretKey key = SecretKey::FromSeed("msg");
  Bytes good = EncodeMessage(SomeProposal(key));

  auto expect_reject = [](Bytes b, const std::string& needle) {
    auto d = DecodeMessage(b);
    REQUIRE_FALSE(d.ok());
    INFO(d.status().ToString());
    CHECK(d.status().message().find(needle) != std::string::npos);
  };
  expect_reject({}, "message.version");
  expect_reject({2, 1}, "message.version");
  expect_reject({1, 9}, "unknown message type");
  Bytes trailing = good;
  trailing.push_back(0);
  expect_reject(trailing, "trailing");
  expect_reject(Bytes(good.begin(), good.end() - 1), "proposal.pol_votes");
  expect_reject(Bytes(good.begin(), good.end() - 10), "proposal.signature");

  Writer w;
  w.U8(1);
  w.U8(3);
  w.U64(5);
  w.U32(0);
  expect_reject(w.bytes(), "max_blocks");

  // pol_round must be below round.
  Proposal p = SomeProposal(key);
  p.pol_round = p.round;
  expect_reject(EncodeMessage(p), "pol_round");
  // Block height must match the proposal.
  p = SomeProposal(key);
  p.height = 4;
  expect_reject(EncodeMessage(p), "block height");

  // Proof-of-lock votes must be prevotes for the proposed block at pol_round.
  p = SomeProposal(key);
  Vote pol;
  pol.type = VoteType::kPrevote;
  pol.chain_id = "c1";
  pol.height = 3;
  pol.round = 0;
  pol.block_hash = p.block_hash;
  p.pol_votes = {pol};
  expect_reject(EncodeMessage(p), "proof");
  p.pol_round = kNoRound;
  p.pol_votes[0].round = kNoRound;
  expect_reject(EncodeMessage(p), "without a pol_round");

  // R hints: none, or one per entry.
  EntryBatch eb{{SomeEntry("c1", 1, key), SomeEntry("c1", 2, key)}};
  eb.r_ys = {Sha256("y")};
  expect_reject(EncodeMessage(eb), "1 R hints for 2 entries");

  // Sync responses must hold consecutive heights.
  CommittedBlock cb{SomeProposal(key).block, Certificate{}};
  expect_reject(EncodeMessage(SyncResponse{{cb, cb}}), "consecutive");
}

TEST_CASE("messages: random corruption never crashes the decoder", "[messages]") {
  SecretKey key = SecretKey::FromSeed("msg");
  Bytes good = EncodeMessage(SomeProposal(key));
  std::mt19937_64 rng(7);
  int rejected = 0;
  for (int i = 0; i < 2000; ++i) {
    Bytes b = good;
    int flips = 1 + static_cast<int>(rng() % 4);
    for (int k = 0; k < flips; ++k) b[rng() % b.size()] ^= static_cast<uint8_t>(1 + rng() % 255);
    if (rng() % 4 == 0) b.resize(rng() % b.size());
    auto d = DecodeMessage(b);
    if (!d.ok()) {
      ++rejected;
      CHECK_FALSE(d.status().message().empty());
    } else {
      CHECK(EncodeMessage(*d) == b);  // anything accepted is canonical
    }
  }
  CHECK(rejected > 1000);
}

}  // namespace
}  // namespace fedledger::consensus
