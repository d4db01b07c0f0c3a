#include "consensus/vote_set.h"

#include <catch2/catch.hpp>

#include "consensus/pacemaker.h"

namespace fedledger::consensus {
namespace {

Vote V(uint32_t round, const Hash32& hash, VoteType type = VoteType::kPrevote) {
  Vote v;
  v.type = type;
  v.chain_id = "c";
  v.height = 1;
  v.round = round;
  v.block_hash = hash;
  return v;
}

TEST_CASE("vote set: tallies count distinct signers per hash, also under equivocation", "[votes]") {
  HeightVotes votes(4);
  Hash32 a = Sha256("a"), b = Sha256("b"), nil{};
  CHECK(votes.Add(0, V(0, a)) == VoteLookup::kNew);
  CHECK(votes.Add(0, V(0, a)) == VoteLookup::kKnown);
  CHECK(votes.Count(VoteType::kPrevote, 0, a) == 1);
  // Validator 0 equivocates: its vote for b counts for b, it is still one voter in total.
  CHECK(votes.Add(0, V(0, b)) == VoteLookup::kConflict);
  CHECK(votes.Count(VoteType::kPrevote, 0, a) == 1);
  CHECK(votes.Count(VoteType::kPrevote, 0, b) == 1);
  CHECK(votes.Total(VoteType::kPrevote, 0) == 1);
  votes.Add(1, V(0, b));
  votes.Add(2, V(0, b));
  CHECK(votes.QuorumHash(VoteType::kPrevote, 0, 3) == b);
  CHECK(votes.Votes(VoteType::kPrevote, 0, b).size() == 3);
  CHECK(votes.Total(VoteType::kPrevote, 0) == 3);
  // Precommits are a separate tally; a validator's distinct hashes are bounded.
  CHECK(votes.Count(VoteType::kPrecommit, 0, b) == 0);
  for (int i = 0; i < 10; ++i) votes.Add(3, V(0, Sha256("x" + std::to_string(i))));
  CHECK(votes.Total(VoteType::kPrevote, 0) == 4);
  size_t held = 0;
  for (int i = 0; i < 10; ++i) {
    held += votes.Count(VoteType::kPrevote, 0, Sha256("x" + std::to_string(i)));
  }
  CHECK(held == kMaxVotesPerValidator);
  CHECK(votes.Count(VoteType::kPrevote, 0, nil) == 0);
  votes.Clear();
  CHECK(votes.Rounds().empty());
}

TEST_CASE("pacemaker: timeouts grow with the round and are capped", "[pacemaker]") {
  TimeoutOptions o;
  o.propose_ms = 100;
  o.propose_delta_ms = 50;
  o.max_ms = 1000;
  Pacemaker p(o, 4);
  CHECK(p.Timeout(Step::kPropose, 0) == 100);
  CHECK(p.Timeout(Step::kPropose, 4) == 300);
  CHECK(p.Timeout(Step::kPropose, 1000) == 1000);
  CHECK(p.Timeout(Step::kPropose, 0xFFFFFFFE) == 1000);
  CHECK(p.Timeout(Step::kPropose, 3) < p.Timeout(Step::kPropose, 4));
}

TEST_CASE("pacemaker: skip only when f+1 validators are ahead", "[pacemaker]") {
  Pacemaker p(TimeoutOptions{}, 7);  // f = 2
  CHECK(p.SkipTarget() == 0);
  p.Observe(0, 9);
  p.Observe(1, 5);
  CHECK(p.SkipTarget() == 0);  // two validators ahead: could both be Byzantine
  p.Observe(2, 7);
  CHECK(p.SkipTarget() == 5);  // three at rounds >= 5
  p.Observe(1, 8);
  CHECK(p.SkipTarget() == 7);
  p.Observe(9, 100);  // not a validator index: ignored
  CHECK(p.SkipTarget() == 7);
  p.Reset();
  CHECK(p.SkipTarget() == 0);
}

}  // namespace
}  // namespace fedledger::consensus
