// The prevotes and precommits of one height, by round and validator, with tallies.
//
// Only votes whose signatures the caller has verified are added. A validator's first vote of
// a type in a round counts; a second, different one is equivocation: it is reported and
// ignored (it never replaces the first, so a Byzantine validator cannot move a tally).
//
// Thread-compatible.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <vector>

#include "ledger/block.h"

namespace fedledger::consensus {

enum class VoteLookup { kNew, kKnown, kConflict };

class HeightVotes {
 public:
  explicit HeightVotes(size_t validators) : n_(validators) {}

  // Whether the vote by validator `index` is new, already held, or conflicts with the one held.
  VoteLookup Lookup(size_t index, const Vote& v) const;
  // Adds a verified vote. Returns kNew if it was added, else what Lookup says.
  // REQUIRES: index < validators.
  VoteLookup Add(size_t index, const Vote& v);

  size_t Count(VoteType type, uint32_t round, const Hash32& hash) const;
  size_t Total(VoteType type, uint32_t round) const;
  // The votes of `type` at `round` for `hash`, in validator order.
  std::vector<Vote> Votes(VoteType type, uint32_t round, const Hash32& hash) const;
  // The block hash (possibly zero: nil) with at least `quorum` votes, if any.
  std::optional<Hash32> QuorumHash(VoteType type, uint32_t round, size_t quorum) const;
  // Rounds that hold any vote, ascending.
  std::vector<uint32_t> Rounds() const;
  // Validators that voted (either type) at `round`.
  std::vector<size_t> Voters(uint32_t round) const;

  void Clear() { rounds_.clear(); }

 private:
  struct Tally {
    std::vector<std::optional<Vote>> by_validator;
    std::map<Hash32, size_t> count;
    size_t total = 0;
  };
  struct Round {
    Tally prevotes, precommits;
  };
  const Tally* Find(VoteType type, uint32_t round) const;
  size_t n_;
  std::map<uint32_t, Round> rounds_;
};

}  // namespace fedledger::consensus
