// The state machine driven by hand: one validator under test, the others played by the test
// with their keys, every output recorded.
#include "consensus/consensus.h"

#include <catch2/catch.hpp>

#include <optional>
#include <set>

#include "fixture.h"

namespace fedledger::consensus {
namespace {

using testing::MakeEntry;
using testing::TestChain;

struct Recorder : Outbox {
  std::vector<Message> broadcasts;
  std::vector<std::pair<Hash32, std::string>> evicted;
  std::vector<Admission> evicted_codes;
  std::vector<std::pair<PubKey, Message>> sends;
  std::vector<TimerRequest> timers;
  std::vector<uint64_t> committed;
  std::vector<std::string> rejected;

  // broadcasts.size() at each SendNow.
  std::vector<size_t> sent_now;

  void Send(const PubKey& to, const Message& m) override { sends.emplace_back(to, m); }
  void SendNow() override { sent_now.push_back(broadcasts.size()); }
  void Broadcast(const Message& m) override { broadcasts.push_back(m); }
  void SetTimer(const TimerRequest& t) override { timers.push_back(t); }
  void Committed(const Block& b, const Certificate&) override {
    committed.push_back(b.header.height);
  }
  void Rejected(const PubKey&, const std::string& r) override { rejected.push_back(r); }
  void Evicted(const Entry& e, Admission code, const std::string& r) override {
    evicted.emplace_back(e.leaf_hash(), r);
    evicted_codes.push_back(code);
  }

  std::vector<Vote> Votes(VoteType type) const {
    std::vector<Vote> out;
    for (const Message& m : broadcasts) {
      if (auto* v = std::get_if<Vote>(&m); v && v->type == type) out.push_back(*v);
    }
    return out;
  }
  std::vector<Proposal> Proposals() const {
    std::vector<Proposal> out;
    for (const Message& m : broadcasts) {
      if (auto* p = std::get_if<Proposal>(&m)) out.push_back(*p);
    }
    return out;
  }
};

// `entries` committed as block 1 of a separate chain, with its certificate: what a validator
// that is behind receives in a sync response.
CommittedBlock CommittedElsewhere(std::vector<Entry> entries) {
  TestChain ahead;
  CommittedBlock cb;
  REQUIRE(ahead.CommitEntries(std::move(entries), &cb.cert, &cb.block).ok());
  return cb;
}

// Validator 1 is under test (validator 1 proposes at height 1 round 0: (1 + 0) % 4).
struct Harness {
  TestChain chain;
  MemorySignerStorage storage;
  std::unique_ptr<Signer> signer;
  Recorder out;
  std::unique_ptr<Consensus> core;
  ConsensusOptions options;
  size_t me = 1;
  Application* app = nullptr;  // chain.app unless a test sets another before Boot()

  Harness(bool boot = true) {
    if (boot) Boot();
  }
  void Boot() {
    signer = std::move(Signer::Open(chain.keys[me], &storage)).value();
    core = std::make_unique<Consensus>(options, app ? app : chain.app.get(), signer.get(), &out);
    REQUIRE(core->Start(0).ok());
  }
  void Crash() {
    core.reset();
    signer.reset();
    out = Recorder{};
  }
  const PubKey& key(size_t i) const { return chain.keys[i].pubkey(); }

  Vote MakeVote(size_t i, VoteType type, uint32_t round, const Hash32& hash, uint64_t h = 1) {
    Vote v;
    v.type = type;
    v.chain_id = testing::kChain;
    v.height = h;
    v.round = round;
    v.block_hash = hash;
    v.validator = key(i);
    v.sig = chain.keys[i].SignDeterministic(v.Digest());
    return v;
  }
  Proposal MakeProposal(size_t proposer, uint32_t round, std::vector<Entry> entries,
                        uint64_t time_ms = 2000) {
    Proposal p;
    p.chain_id = testing::kChain;
    p.height = chain.store->height() + 1;
    p.round = round;
    p.block.header = chain.store->NextHeader(entries, time_ms, key(proposer));
    p.block.entries = std::move(entries);
    p.Sign(chain.keys[proposer]);
    return p;
  }
  void Deliver(size_t from, const Message& m) { REQUIRE(core->OnMessage(key(from), m, 100).ok()); }
};

TEST_CASE("consensus: a proposer with work proposes at once - nobody waits on a timer",
          "[consensus]") {
  Harness h;
  CHECK(h.out.Proposals().empty());  // no work: no proposal, no timer
  CHECK(h.out.timers.empty());
  SecretKey alice = SecretKey::FromSeed("alice");
  auto r = h.core->SubmitEntries({MakeEntry(alice, 1), MakeEntry(alice, 1)}, 50);
  REQUIRE(r.ok());
  CHECK((*r)[0].ok());
  CHECK((*r)[1].code == Admission::kDuplicate);
  auto props = h.out.Proposals();
  REQUIRE(props.size() == 1);
  CHECK(props[0].block.entries.size() == 1);
  // The entry went to the others in a batch, the proposer prevoted its own block.
  CHECK(std::holds_alternative<SyncRequest>(h.out.broadcasts[0]));  // from Start()
  CHECK(std::holds_alternative<EntryBatch>(h.out.broadcasts[1]));
  auto prevotes = h.out.Votes(VoteType::kPrevote);
  REQUIRE(prevotes.size() == 1);
  CHECK(prevotes[0].block_hash == props[0].block_hash);

  // Two more prevotes make a polka: precommit; two more precommits commit at once.
  Hash32 b = props[0].block_hash;
  h.Deliver(0, h.MakeVote(0, VoteType::kPrevote, 0, b));
  CHECK(h.out.Votes(VoteType::kPrecommit).empty());
  h.Deliver(2, h.MakeVote(2, VoteType::kPrevote, 0, b));
  REQUIRE(h.out.Votes(VoteType::kPrecommit).size() == 1);
  h.Deliver(0, h.MakeVote(0, VoteType::kPrecommit, 0, b));
  h.Deliver(3, h.MakeVote(3, VoteType::kPrecommit, 0, b));
  REQUIRE(h.out.committed == std::vector<uint64_t>{1});
  CHECK(h.core->height() == 2);
  CHECK(h.core->mempool().empty());
  CHECK(h.chain.store->height() == 1);
  // One signature check for the entry, none at commit.
  CHECK(h.core->mempool().signature_checks() == 1);
  CHECK(h.core->stats().block_signature_checks == 0);
}

TEST_CASE("consensus: a proposer that just committed handles what arrived meanwhile first",
          "[consensus]") {
  // The entry batches that travel after the precommits the height did not need reach the
  // next proposer while it commits: they join its block when it proposes on a zero-delay
  // timer, and miss it when it proposes inside the commit.
  for (bool after_pending : {true, false}) {
    CAPTURE(after_pending);
    Harness h(false);
    h.me = 2;  // validator 2 proposes at height 2, round 0
    h.options.propose_after_pending = after_pending;
    h.Boot();
    SecretKey alice = SecretKey::FromSeed("alice"), bob = SecretKey::FromSeed("bob"),
              carol = SecretKey::FromSeed("carol");
    REQUIRE(h.core->SubmitEntries({MakeEntry(bob, 1)}, 50).ok());
    Proposal p = h.MakeProposal(1, 0, {MakeEntry(alice, 1)});
    h.Deliver(1, p);
    for (size_t v : {0, 1, 3}) h.Deliver(v, h.MakeVote(v, VoteType::kPrevote, 0, p.block_hash));
    REQUIRE(h.out.Votes(VoteType::kPrecommit).size() == 1);
    h.out.timers.clear();
    for (size_t v : {0, 1}) h.Deliver(v, h.MakeVote(v, VoteType::kPrecommit, 0, p.block_hash));
    REQUIRE(h.out.committed == std::vector<uint64_t>{1});
    REQUIRE(h.core->height() == 2);

    // Validator 3's batch, sent after its precommit, arrives during our commit.
    Entry late = MakeEntry(carol, 1);
    if (!after_pending) {
      REQUIRE(h.out.Proposals().size() == 1);  // proposed inside the commit: bob's entry only
      h.Deliver(3, EntryBatch{{late}});
      CHECK(h.out.Proposals().back().block.entries.size() == 1);
      continue;
    }
    CHECK(h.out.Proposals().empty());
    std::optional<TimerRequest> now;
    for (const TimerRequest& t : h.out.timers) {
      if (t.propose) now = t;
    }
    REQUIRE(now);
    CHECK(now->delay_ms == 0);
    CHECK(now->height == 2);
    CHECK(now->round == 0);
    h.Deliver(3, EntryBatch{{late}});
    CHECK(h.out.Proposals().empty());  // new work waits for the timer too
    REQUIRE(h.core->OnTimeout(*now, 100).ok());
    auto props = h.out.Proposals();
    REQUIRE(props.size() == 1);
    REQUIRE(props[0].block.entries.size() == 2);
    CHECK(props[0].block.entries[1].leaf_hash() == late.leaf_hash());
    CHECK(h.out.Votes(VoteType::kPrevote).back().block_hash == props[0].block_hash);
    // The timer again (an adapter that fires twice) changes nothing.
    REQUIRE(h.core->OnTimeout(*now, 101).ok());
    CHECK(h.out.Proposals().size() == 1);
  }
}

TEST_CASE("consensus: a proposer sends its proposal before it records its prevote",
          "[consensus]") {
  for (bool first : {true, false}) {
    CAPTURE(first);
    Harness h(false);
    h.options.send_proposal_first = first;
    h.Boot();
    const int saves_before = h.storage.saves();
    SecretKey alice = SecretKey::FromSeed("alice");
    REQUIRE(h.core->SubmitEntries({MakeEntry(alice, 1)}, 50).ok());
    auto props = h.out.Proposals();
    REQUIRE(props.size() == 1);
    auto prevotes = h.out.Votes(VoteType::kPrevote);
    REQUIRE(prevotes.size() == 1);
    CHECK(prevotes[0].block_hash == props[0].block_hash);
    size_t proposal_at = 0, prevote_at = 0;
    for (size_t i = 0; i < h.out.broadcasts.size(); ++i) {
      if (std::holds_alternative<Proposal>(h.out.broadcasts[i])) proposal_at = i;
      if (std::holds_alternative<Vote>(h.out.broadcasts[i])) prevote_at = i;
    }
    CHECK(proposal_at < prevote_at);
    if (first) {
      // Released right after the proposal, before the prevote existed; two records.
      REQUIRE(h.out.sent_now.size() == 1);
      CHECK(h.out.sent_now[0] == proposal_at + 1);
      CHECK(h.storage.saves() == saves_before + 2);
    } else {
      CHECK(h.out.sent_now.empty());
      CHECK(h.storage.saves() == saves_before + 1);  // one record for both
    }
    CHECK(h.storage.Load()->step == SignStep::kPrevote);
  }
}

TEST_CASE("consensus: proposals from the wrong proposer or with bad entries get nowhere",
          "[consensus]") {
  Harness h;
  SecretKey alice = SecretKey::FromSeed("alice");
  // Round 0 belongs to us (validator 1); a proposal signed by validator 3 is refused.
  h.Deliver(3, h.MakeProposal(3, 0, {MakeEntry(alice, 1)}));
  REQUIRE(h.out.rejected.size() == 1);
  CHECK(h.out.Votes(VoteType::kPrevote).empty());
  // f+1 validators are in round 1: we follow (validator 2 proposes there).
  Hash32 x = Sha256("x");
  h.Deliver(0, h.MakeVote(0, VoteType::kPrevote, 1, x));
  h.Deliver(3, h.MakeVote(3, VoteType::kPrevote, 1, x));
  REQUIRE(h.core->round() == 1);
  // Its block holds an entry whose signature does not verify: prevote nil.
  h.Deliver(2, h.MakeProposal(2, 1, {testing::Tamper(MakeEntry(alice, 1))}));
  auto pv = h.out.Votes(VoteType::kPrevote);
  REQUIRE(pv.size() == 1);
  CHECK(pv[0].round == 1);
  CHECK(pv[0].IsNil());
  CHECK(h.core->stats().invalid_proposals == 1);
}

TEST_CASE("consensus: after a crash a validator keeps its lock and never votes against it",
          "[consensus]") {
  Harness h;
  SecretKey alice = SecretKey::FromSeed("alice");
  // Round 0 is ours: propose block B and get locked on it through a polka.
  REQUIRE(h.core->SubmitEntries({MakeEntry(alice, 1)}, 10).ok());
  Proposal ours = h.out.Proposals().at(0);
  Hash32 b = ours.block_hash;
  std::vector<Vote> polka = {h.MakeVote(0, VoteType::kPrevote, 0, b),
                             h.out.Votes(VoteType::kPrevote).at(0),
                             h.MakeVote(2, VoteType::kPrevote, 0, b)};
  h.Deliver(0, polka[0]);
  h.Deliver(2, polka[2]);
  REQUIRE(h.out.Votes(VoteType::kPrecommit).size() == 1);
  CHECK(h.storage.Load()->lock_hash == b);

  // Crash and restart: the signer storage is all that survives.
  h.Crash();
  h.Boot();
  CHECK(h.core->round() == 0);
  CHECK(h.core->step() == Step::kPrecommit);
  // It re-sends the very same precommit.
  auto pc = h.out.Votes(VoteType::kPrecommit);
  REQUIRE(pc.size() == 1);
  CHECK(pc[0].block_hash == b);
  // Round 1 (validator 2 proposes) with a different block and no proof of lock: nil.
  REQUIRE(h.core->OnTimeout({Step::kPrecommit, 1, 0, 0}, 200).ok());
  REQUIRE(h.core->round() == 1);
  h.Deliver(2, h.MakeProposal(2, 1, {MakeEntry(alice, 2)}));
  auto pv = h.out.Votes(VoteType::kPrevote);
  REQUIRE(pv.size() == 1);
  CHECK(pv[0].round == 1);
  CHECK(pv[0].IsNil());
  // Round 2 (validator 3): B again with its proof of lock from round 0: prevote B.
  REQUIRE(h.core->OnTimeout({Step::kPrevote, 1, 1, 0}, 300).ok());
  REQUIRE(h.core->OnTimeout({Step::kPrecommit, 1, 1, 0}, 400).ok());
  REQUIRE(h.core->round() == 2);
  Proposal again = ours;
  again.round = 2;
  again.pol_round = 0;
  again.pol_votes = polka;
  again.Sign(h.chain.keys[3]);
  h.Deliver(3, again);
  pv = h.out.Votes(VoteType::kPrevote);
  REQUIRE(pv.size() == 2);
  CHECK(pv[1].round == 2);
  CHECK(pv[1].block_hash == b);
  // Never two different votes of one kind for one round, across the crash.
  CHECK(h.storage.Load()->lock_round == 0);
}

TEST_CASE("consensus: a validator that is behind catches up through sync and verifies",
          "[consensus]") {
  // A separate chain commits two blocks; our validator learns them through a sync response.
  TestChain ahead;
  SecretKey alice = SecretKey::FromSeed("alice");
  Certificate c1, c2;
  Block b1, b2;
  REQUIRE(ahead.CommitEntries({MakeEntry(alice, 1)}, &c1, &b1).ok());
  REQUIRE(ahead.CommitEntries({MakeEntry(alice, 2)}, &c2, &b2).ok());

  Harness h;
  // Start() asked everyone for blocks from height 1.
  bool asked = false;
  for (const Message& m : h.out.broadcasts) {
    if (auto* r = std::get_if<SyncRequest>(&m)) asked = r->from_height == 1;
  }
  CHECK(asked);

  // A forged certificate is refused and nothing is applied.
  Certificate forged = c1;
  forged.sigs[0].sig[0] ^= 1;
  h.Deliver(0, SyncResponse{{CommittedBlock{b1, forged}}});
  CHECK(h.chain.store->height() == 0);
  CHECK_FALSE(h.out.rejected.empty());
  // A block with a bad entry signature is refused even with a valid certificate for it.
  Block bad = b1;
  bad.entries[0] = testing::Tamper(bad.entries[0]);
  h.Deliver(0, SyncResponse{{CommittedBlock{bad, c1}}});
  CHECK(h.chain.store->height() == 0);

  h.Deliver(0, SyncResponse{{CommittedBlock{b1, c1}, CommittedBlock{b2, c2}}});
  CHECK(h.chain.store->height() == 2);
  CHECK(h.core->height() == 3);
  CHECK(h.out.committed == std::vector<uint64_t>{1, 2});
  CHECK(h.core->stats().synced_blocks == 2);

  // And it serves what it has to others.
  h.out.sends.clear();
  h.Deliver(3, SyncRequest{2, 8});
  REQUIRE(h.out.sends.size() == 1);
  CHECK(h.out.sends[0].first == h.key(3));
  const auto& resp = std::get<SyncResponse>(h.out.sends[0].second);
  REQUIRE(resp.blocks.size() == 1);
  CHECK(resp.blocks[0].block.header.Hash() == b2.header.Hash());
}

TEST_CASE("consensus: a pending entry a later nonce outran is dropped and reported stale",
          "[consensus]") {
  // Elsewhere alice's nonce 2 reached a proposer first and was committed; our validator holds
  // her nonce 1, which can never commit now. Whoever waits for it is told at once.
  SecretKey alice = SecretKey::FromSeed("alice");
  CommittedBlock b1 = CommittedElsewhere({MakeEntry(alice, 2)});

  Harness h;
  Entry late = MakeEntry(alice, 1);
  auto r = h.core->SubmitEntries({late}, 50);
  REQUIRE(r.ok());
  REQUIRE((*r)[0].ok());
  CHECK(h.out.evicted.empty());
  h.Deliver(0, SyncResponse{{b1}});
  REQUIRE(h.chain.store->height() == 1);
  CHECK(h.core->mempool().empty());
  REQUIRE(h.out.evicted.size() == 1);
  CHECK(h.out.evicted[0].first == late.leaf_hash());
  CHECK(h.out.evicted_codes[0] == Admission::kStaleNonce);
  CHECK_THAT(h.out.evicted[0].second, Catch::Contains("nonce 1 is not above") &&
                                          Catch::Contains("last committed 2"));
  CHECK(h.core->stats().stale_entries == 1);
  CHECK(h.core->stats().evicted_entries == 0);
}

TEST_CASE("consensus: messages for wrong chains, heights and signers are dropped", "[consensus]") {
  Harness h;
  Hash32 x = Sha256("x");
  Vote bad_sig = h.MakeVote(0, VoteType::kPrevote, 0, x);
  bad_sig.sig[1] ^= 1;
  h.Deliver(0, bad_sig);
  Vote other_chain = h.MakeVote(0, VoteType::kPrevote, 0, x);
  other_chain.chain_id = "elsewhere";
  h.Deliver(0, other_chain);
  Vote stranger = h.MakeVote(0, VoteType::kPrevote, 0, x);
  SecretKey s = SecretKey::FromSeed("stranger");
  stranger.validator = s.pubkey();
  stranger.sig = s.SignDeterministic(stranger.Digest());
  h.Deliver(0, stranger);
  CHECK(h.out.rejected.size() == 3);
  // Double vote: the first counts, the second is reported as equivocation.
  h.Deliver(0, h.MakeVote(0, VoteType::kPrevote, 0, x));
  h.Deliver(0, h.MakeVote(0, VoteType::kPrevote, 0, Hash32{}));
  CHECK(h.core->stats().equivocations == 1);
  // Votes far in the future: a sync request to the sender, nothing else.
  h.Deliver(2, h.MakeVote(2, VoteType::kPrevote, 0, x, /*h=*/9));
  REQUIRE_FALSE(h.out.sends.empty());
  CHECK(std::holds_alternative<SyncRequest>(h.out.sends.back().second));
  // f+1 validators in round 5: jump there.
  h.Deliver(2, h.MakeVote(2, VoteType::kPrevote, 5, x));
  CHECK(h.core->round() == 0);
  h.Deliver(3, h.MakeVote(3, VoteType::kPrecommit, 6, Hash32{}));
  CHECK(h.core->round() == 5);
}

// The ledger rules plus one rule about combinations, as the orchestrator has them: a dataset
// id may be registered once, so of two entries registering one id only the first is valid.
class OneDatasetIdApp : public LedgerApplication {
 public:
  using LedgerApplication::LedgerApplication;
  Status CheckBlock(const Block& block) const override {
    FL_TRY(LedgerApplication::CheckBlock(block));
    std::set<std::string> ids;
    for (size_t i = 0; i < block.entries.size(); ++i) {
      const auto* d = block.entries[i].As<DatasetRegisterPayload>();
      if (d && !ids.insert(d->dataset_id).second) {
        return Status::FailedPrecondition("entry " + std::to_string(i) + ": dataset id '" +
                                          d->dataset_id + "' is taken");
      }
    }
    return Status::Ok();
  }
};

TEST_CASE("consensus: one entry the block cannot hold is evicted - the rest is proposed",
          "[consensus]") {
  Harness h(false);
  OneDatasetIdApp app(h.chain.store.get());
  h.app = &app;
  h.Boot();
  SecretKey alice = SecretKey::FromSeed("alice"), bob = SecretKey::FromSeed("bob"),
            carol = SecretKey::FromSeed("carol");
  // MakeEntry registers dataset "ds-<nonce>": alice's and bob's nonce-1 entries clash.
  Entry a1 = MakeEntry(alice, 1), b1 = MakeEntry(bob, 1), a2 = MakeEntry(alice, 2),
        c5 = MakeEntry(carol, 5);
  // The entries arrive in one batch from another validator; we propose (height 1, round 0).
  h.Deliver(0, EntryBatch{{a1, b1, a2, c5}});
  auto props = h.out.Proposals();
  REQUIRE(props.size() == 1);
  std::vector<Hash32> got;
  for (const Entry& e : props[0].block.entries) got.push_back(e.leaf_hash());
  CHECK(got == std::vector<Hash32>{a1.leaf_hash(), a2.leaf_hash(), c5.leaf_hash()});
  REQUIRE(h.out.evicted.size() == 1);
  CHECK(h.out.evicted[0].first == b1.leaf_hash());
  CHECK_THAT(h.out.evicted[0].second, Catch::Contains("dataset id 'ds-1' is taken"));
  CHECK_FALSE(h.core->mempool().Contains(b1.leaf_hash()));
  CHECK(h.core->stats().evicted_entries == 1);
  // Its own block is valid: it prevoted it.
  auto pv = h.out.Votes(VoteType::kPrevote);
  REQUIRE(pv.size() == 1);
  CHECK(pv[0].block_hash == props[0].block_hash);
}

TEST_CASE("consensus: many clashing entries never stall the proposer", "[consensus]") {
  Harness h(false);
  OneDatasetIdApp app(h.chain.store.get());
  h.app = &app;
  h.Boot();
  // 20 signers all register "ds-1": one of them fits, at most 8 are evicted per proposal
  // attempt, and the proposal still goes out at once.
  std::vector<Entry> batch;
  for (int i = 0; i < 20; ++i) batch.push_back(MakeEntry(SecretKey::FromSeed("s" + std::to_string(i)), 1));
  h.Deliver(0, EntryBatch{batch});
  auto props = h.out.Proposals();
  REQUIRE(props.size() == 1);
  CHECK(props[0].block.entries.size() == 1);
  CHECK(h.out.evicted.size() == 8);
  CHECK(h.core->mempool().size() == 20 - 8);
}

// Refuses every block, the empty one too: a problem with the header, not with any entry.
class RefuseEveryBlockApp : public LedgerApplication {
 public:
  using LedgerApplication::LedgerApplication;
  Status CheckBlock(const Block& block) const override {
    return Status::FailedPrecondition("block time is behind the head");
  }
};

TEST_CASE("consensus: a block refused for its header evicts no entry", "[consensus]") {
  Harness h(false);
  RefuseEveryBlockApp app(h.chain.store.get());
  h.app = &app;
  h.Boot();
  SecretKey alice = SecretKey::FromSeed("alice");
  REQUIRE(h.core->SubmitEntries({MakeEntry(alice, 1), MakeEntry(alice, 2)}, 50).ok());
  CHECK(h.out.Proposals().empty());
  CHECK(h.out.evicted.empty());
  CHECK(h.core->mempool().size() == 2);
  REQUIRE_FALSE(h.out.rejected.empty());
  CHECK_THAT(h.out.rejected.back(), Catch::Contains("own block did not check"));
}

TEST_CASE("consensus: a lost sync request times out and the next validator is asked",
          "[consensus]") {
  Harness h;
  h.out.sends.clear();
  h.out.timers.clear();
  Hash32 x = Sha256("x");
  // A vote from height 9: we are behind, ask its sender (validator 2).
  h.Deliver(2, h.MakeVote(2, VoteType::kPrevote, 0, x, /*h=*/9));
  REQUIRE(h.out.sends.size() == 1);
  CHECK(h.out.sends[0].first == h.key(2));
  CHECK(std::holds_alternative<SyncRequest>(h.out.sends[0].second));
  // While it is in flight, more reasons do not send more requests.
  h.Deliver(3, h.MakeVote(3, VoteType::kPrevote, 0, x, /*h=*/9));
  CHECK(h.out.sends.size() == 1);
  // The request was lost: its deadline fires, the next validator (3) is asked.
  std::vector<TimerRequest> sync_timers;
  for (const TimerRequest& t : h.out.timers) {
    if (t.sync_id != 0) sync_timers.push_back(t);
  }
  REQUIRE(sync_timers.size() == 1);
  CHECK(sync_timers[0].delay_ms == h.options.sync_timeout_ms);
  REQUIRE(h.core->OnTimeout(sync_timers[0], 3000).ok());
  REQUIRE(h.out.sends.size() == 2);
  CHECK(h.out.sends[1].first == h.key(3));
  CHECK(h.core->stats().sync_timeouts == 1);
  // A stale deadline (the first one again) does nothing.
  REQUIRE(h.core->OnTimeout(sync_timers[0], 3100).ok());
  CHECK(h.out.sends.size() == 2);
  // Validator 3 answers (nothing newer): no more retries, and a later reason asks again.
  h.Deliver(3, SyncResponse{});
  TimerRequest second = h.out.timers.back();
  REQUIRE(second.sync_id != 0);
  REQUIRE(h.core->OnTimeout(second, 5000).ok());
  CHECK(h.out.sends.size() == 2);
  h.Deliver(0, h.MakeVote(0, VoteType::kPrevote, 0, x, /*h=*/9));
  REQUIRE(h.out.sends.size() == 3);
  CHECK(h.out.sends[2].first == h.key(0));
}

TEST_CASE("consensus: sync retries stop after every other validator was asked once",
          "[consensus]") {
  Harness h;
  h.out.sends.clear();
  h.Deliver(2, h.MakeVote(2, VoteType::kPrevote, 0, Sha256("x"), /*h=*/9));
  for (int i = 0; i < 5; ++i) {
    TimerRequest t = h.out.timers.back();
    if (t.sync_id == 0) break;
    REQUIRE(h.core->OnTimeout(t, 3000 + i * 3000).ok());
  }
  // Asked 2, then 3, then 0 (genesis order after 2, skipping ourselves); then it gave up.
  REQUIRE(h.out.sends.size() == 3);
  CHECK(h.out.sends[0].first == h.key(2));
  CHECK(h.out.sends[1].first == h.key(3));
  CHECK(h.out.sends[2].first == h.key(0));
  CHECK(h.core->stats().sync_timeouts == 3);
}

TEST_CASE("consensus: entries the adapter verified are not verified again, the others are",
          "[consensus]") {
  Harness h(false);
  h.Boot();
  SecretKey alice = SecretKey::FromSeed("alice"), bob = SecretKey::FromSeed("bob");
  Entry a1 = MakeEntry(alice, 1), a2 = MakeEntry(alice, 2), b1 = MakeEntry(bob, 1);
  Entry bad = testing::Tamper(MakeEntry(bob, 2));
  // A batch from a peer: a1 verified by the adapter, a2 flagged false, b1 without a flag.
  h.Deliver(0, EntryBatch{{a1, a2, b1}, {true, false}});
  CHECK(h.core->mempool().size() == 3);
  CHECK(h.core->mempool().signature_checks() == 2);
  // A client submission: the flag skips the check; a bad entry whose flag is false is refused.
  Entry a3 = MakeEntry(alice, 3);
  auto r = h.core->SubmitEntries({a3, bad}, 60, {true, false});
  REQUIRE(r.ok());
  CHECK((*r)[0].ok());
  CHECK((*r)[1].code == Admission::kBadSignature);
  CHECK(h.core->mempool().signature_checks() == 3);
  // The flags are not on the wire: a decoded batch has none.
  auto m = DecodeMessage(EncodeMessage(EntryBatch{{a1}, {true}}));
  REQUIRE(m.ok());
  CHECK(std::get<EntryBatch>(*m).signature_verified.empty());
}

// The ledger rules, except that while `failure` is set CheckBlock and Commit answer it, as the
// store does when a read fails under them (Store::CheckBlock reports a failed read of the local
// store as Corruption, a failed write as IOError). A fault injected by wrapping the
// application, as STYLE rule 3 has it.
class FailingApp : public LedgerApplication {
 public:
  using LedgerApplication::LedgerApplication;
  Status CheckBlock(const Block& block) const override {
    if (failure) return *failure;
    return LedgerApplication::CheckBlock(block);
  }
  Status Commit(const Block& block, const Certificate& cert) override {
    if (failure) return *failure;
    return LedgerApplication::Commit(block, cert);
  }
  std::optional<Status> failure;
};

const Status kReadFailed =
    Status::Corruption("the last nonce of 3f2a: IO error: /unit/store/000005.ldb: read failed");

// Moves the harness to round 1 of height 1, where validator 2 proposes.
void ToRoundOne(Harness& h) {
  Hash32 x = Sha256("x");
  h.Deliver(0, h.MakeVote(0, VoteType::kPrevote, 1, x));
  h.Deliver(3, h.MakeVote(3, VoteType::kPrevote, 1, x));
  REQUIRE(h.core->round() == 1);
}

TEST_CASE("consensus: a store read error while checking a proposal stops the validator - no nil prevote",
          "[consensus]") {
  for (const Status& failure : {kReadFailed, Status::IOError("read failed"),
                                Status::Internal("read failed")}) {
    INFO(failure.ToString());
    Harness h(false);
    FailingApp app(h.chain.store.get());
    h.app = &app;
    h.Boot();
    ToRoundOne(h);
    SecretKey alice = SecretKey::FromSeed("alice");
    Proposal p = h.MakeProposal(2, 1, {MakeEntry(alice, 1)});
    app.failure = failure;
    Status s = h.core->OnMessage(h.key(2), p, 100);
    // An internal error from the input (the node stops), naming the proposal and the cause.
    REQUIRE_FALSE(s.ok());
    CHECK(s.code() == failure.code());
    CHECK_THAT(s.message(), Catch::Contains("checking the proposal for height 1 round 1"));
    CHECK_THAT(s.message(), Catch::Contains("read failed"));
    // Not a verdict on the proposer's block: no vote, nothing counted or reported against it.
    CHECK(h.out.Votes(VoteType::kPrevote).empty());
    CHECK(h.core->stats().invalid_proposals == 0);
    for (const std::string& r : h.out.rejected) CHECK_THAT(r, !Catch::Contains("invalid proposal"));

    // Nor was a verdict cached: had the store read again, the same block would be checked
    // afresh (here the next input, the proposal's duplicate) and prevoted.
    app.failure.reset();
    h.Deliver(2, p);
    auto pv = h.out.Votes(VoteType::kPrevote);
    REQUIRE(pv.size() == 1);
    CHECK(pv[0].block_hash == p.block.header.Hash());
  }
}

TEST_CASE("consensus: a block the application refuses is still an invalid proposal - prevote nil",
          "[consensus]") {
  for (const Status& verdict : {Status::InvalidArgument("block 1: log root does not match"),
                                Status::FailedPrecondition("block 1 entry 0: rule [reason]")}) {
    INFO(verdict.ToString());
    Harness h(false);
    FailingApp app(h.chain.store.get());
    h.app = &app;
    h.Boot();
    ToRoundOne(h);
    SecretKey alice = SecretKey::FromSeed("alice");
    app.failure = verdict;
    h.Deliver(2, h.MakeProposal(2, 1, {MakeEntry(alice, 1)}));
    auto pv = h.out.Votes(VoteType::kPrevote);
    REQUIRE(pv.size() == 1);
    CHECK(pv[0].IsNil());
    CHECK(h.core->stats().invalid_proposals == 1);
    REQUIRE_FALSE(h.out.rejected.empty());
    CHECK_THAT(h.out.rejected.back(), Catch::Contains("invalid proposal: " + verdict.message()));
  }
}

TEST_CASE("consensus: a store error while applying a synced block stops the validator - the peer is not blamed",
          "[consensus]") {
  SecretKey alice = SecretKey::FromSeed("alice");
  CommittedBlock b1 = CommittedElsewhere({MakeEntry(alice, 1)});

  Harness h(false);
  FailingApp app(h.chain.store.get());
  h.app = &app;
  h.Boot();
  app.failure = kReadFailed;
  h.out.rejected.clear();
  Status s = h.core->OnMessage(h.key(0), SyncResponse{{b1}}, 100);
  REQUIRE_FALSE(s.ok());
  CHECK(s.code() == Status::Code::kCorruption);
  CHECK_THAT(s.message(), Catch::Contains("committing synced block 1"));
  CHECK(h.out.rejected.empty());
  CHECK(h.out.committed.empty());

  // A synced block the application refuses is the peer's: rejected, and the validator goes on.
  Harness g(false);
  FailingApp refusing(g.chain.store.get());
  g.app = &refusing;
  g.Boot();
  refusing.failure = Status::FailedPrecondition("block 1 entry 0: rule [reason]");
  g.Deliver(0, SyncResponse{{b1}});
  REQUIRE_FALSE(g.out.rejected.empty());
  CHECK_THAT(g.out.rejected.back(), Catch::Contains("sync block 1: block 1 entry 0: rule"));
  refusing.failure.reset();
  g.Deliver(0, SyncResponse{{b1}});
  CHECK(g.out.committed == std::vector<uint64_t>{1});
}

TEST_CASE("consensus: a store error while checking its own block stops the proposer - nothing is evicted",
          "[consensus]") {
  Harness h(false);
  FailingApp app(h.chain.store.get());
  h.app = &app;
  h.Boot();
  app.failure = kReadFailed;
  SecretKey alice = SecretKey::FromSeed("alice");
  // Round 0 of height 1 is ours: the new work makes us build a block at once.
  auto r = h.core->SubmitEntries({MakeEntry(alice, 1), MakeEntry(alice, 2)}, 50);
  REQUIRE_FALSE(r.ok());
  CHECK_THAT(r.status().message(), Catch::Contains("read failed"));
  CHECK(h.out.evicted.empty());
  CHECK(h.core->stats().evicted_entries == 0);
  CHECK(h.core->mempool().size() == 2);
  CHECK(h.out.Proposals().empty());
}

}  // namespace
}  // namespace fedledger::consensus
