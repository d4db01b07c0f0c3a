// The prevotes and precommits of one height, by round and validator, with tallies.
//
// Only votes whose signatures the caller has verified are added. Tallies count, for each
// block hash (zero: nil), the distinct validators that signed a vote for it; that is the
// quantity the protocol's quorum arguments are about ("2f+1 validators signed a prevote for
// B"), so it stays correct when a Byzantine validator equivocates. An equivocating validator
// therefore may count towards two tallies (one per hash it signed, at most
// kMaxVotesPerValidator), but never twice towards one, and only once towards Total().
// Without this, a proof of lock holding an equivocator's vote for B could never be accepted
// by a validator that first saw that equivocator's other vote, and the height could stall.
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

inline constexpr size_t kMaxVotesPerValidator = 4;  // distinct hashes per (round, type)

class HeightVotes {
 public:
  explicit HeightVotes(size_t validators) : n_(validators) {}

  // kKnown if this validator's vote for this hash is held, kConflict if the validator has a
  // vote for another hash at this round and type, else kNew.
  VoteLookup Lookup(size_t index, const Vote& v) const;
  // Adds a verified vote (unless known, or the validator is at its bound) and returns what
  // Lookup said before. REQUIRES: index < validators.
  VoteLookup Add(size_t index, const Vote& v);

  // Distinct validators that signed `type` for `hash` at `round`.
  size_t Count(VoteType type, uint32_t round, const Hash32& hash) const;
  // Distinct validators that signed any `type` vote at `round`.
  size_t Total(VoteType type, uint32_t round) const;
  // One vote per validator that signed `type` for `hash` at `round`, in validator order.
  std::vector<Vote> Votes(VoteType type, uint32_t round, const Hash32& hash) const;
  // A block hash (possibly zero: nil) with at least `quorum` votes, if any. With quorum >
  // 2n/3 at most one hash can reach it unless more than n/3 validators equivocate.
  std::optional<Hash32> QuorumHash(VoteType type, uint32_t round, size_t quorum) const;
  // Rounds that hold any vote, ascending.
  std::vector<uint32_t> Rounds() const;

  void Clear() { rounds_.clear(); }

 private:
  struct Tally {
    std::vector<std::vector<Vote>> by_validator;  // distinct hashes, in arrival order
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
