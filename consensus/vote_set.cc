#include "consensus/vote_set.h"

#include <cassert>

namespace fedledger::consensus {

const HeightVotes::Tally* HeightVotes::Find(VoteType type, uint32_t round) const {
  auto it = rounds_.find(round);
  if (it == rounds_.end()) return nullptr;
  return type == VoteType::kPrevote ? &it->second.prevotes : &it->second.precommits;
}

VoteLookup HeightVotes::Lookup(size_t index, const Vote& v) const {
  const Tally* t = Find(v.type, v.round);
  if (!t || index >= t->by_validator.size() || t->by_validator[index].empty()) {
    return VoteLookup::kNew;
  }
  for (const Vote& held : t->by_validator[index]) {
    if (held.block_hash == v.block_hash) return VoteLookup::kKnown;
  }
  return VoteLookup::kConflict;
}

VoteLookup HeightVotes::Add(size_t index, const Vote& v) {
  assert(index < n_);
  VoteLookup l = Lookup(index, v);
  if (l == VoteLookup::kKnown) return l;
  Round& r = rounds_[v.round];
  Tally& t = v.type == VoteType::kPrevote ? r.prevotes : r.precommits;
  if (t.by_validator.empty()) t.by_validator.resize(n_);
  if (t.by_validator[index].size() >= kMaxVotesPerValidator) return l;
  t.by_validator[index].push_back(v);
  ++t.count[v.block_hash];
  if (l == VoteLookup::kNew) ++t.total;
  return l;
}

size_t HeightVotes::Count(VoteType type, uint32_t round, const Hash32& hash) const {
  const Tally* t = Find(type, round);
  if (!t) return 0;
  auto it = t->count.find(hash);
  return it == t->count.end() ? 0 : it->second;
}

size_t HeightVotes::Total(VoteType type, uint32_t round) const {
  const Tally* t = Find(type, round);
  return t ? t->total : 0;
}

std::vector<Vote> HeightVotes::Votes(VoteType type, uint32_t round, const Hash32& hash) const {
  std::vector<Vote> out;
  const Tally* t = Find(type, round);
  if (!t) return out;
  for (const auto& votes : t->by_validator) {
    for (const Vote& v : votes) {
      if (v.block_hash == hash) out.push_back(v);
    }
  }
  return out;
}

std::optional<Hash32> HeightVotes::QuorumHash(VoteType type, uint32_t round, size_t quorum) const {
  const Tally* t = Find(type, round);
  if (!t) return std::nullopt;
  for (const auto& [hash, count] : t->count) {
    if (count >= quorum) return hash;
  }
  return std::nullopt;
}

std::vector<uint32_t> HeightVotes::Rounds() const {
  std::vector<uint32_t> out;
  for (const auto& [r, _] : rounds_) out.push_back(r);
  return out;
}

}  // namespace fedledger::consensus
