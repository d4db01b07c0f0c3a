#include "consensus/mempool.h"

#include <limits>
#include <unordered_set>

namespace fedledger::consensus {

const char* AdmissionName(Admission a) {
  switch (a) {
    case Admission::kAccepted:
      return "accepted";
    case Admission::kDuplicate:
      return "duplicate";
    case Admission::kWrongChain:
      return "wrong_chain";
    case Admission::kStaleNonce:
      return "stale_nonce";
    case Admission::kNonceTaken:
      return "nonce_taken";
    case Admission::kFull:
      return "mempool_full";
    case Admission::kRejected:
      return "rejected";
    case Admission::kBadSignature:
      return "bad_signature";
  }
  return "unknown";
}

AdmitResult Mempool::Add(Entry entry, const Application& app, bool signature_verified) {
  auto reject = [](Admission code, std::string reason) {
    return AdmitResult{code, std::move(reason)};
  };
  if (entry.chain_id() != app.chain_id()) {
    return reject(Admission::kWrongChain,
                  "entry is for chain '" + entry.chain_id() + "', not '" + app.chain_id() + "'");
  }
  const Hash32& leaf = entry.leaf_hash();
  if (by_leaf_.count(leaf)) return reject(Admission::kDuplicate, "entry is already pending");
  uint64_t last = app.LastNonce(entry.signer());
  if (entry.nonce() <= last) {
    return reject(Admission::kStaleNonce, "nonce " + std::to_string(entry.nonce()) +
                                              " is not above the signer's last committed " +
                                              std::to_string(last));
  }
  if (entry.nonce() == std::numeric_limits<uint64_t>::max()) {
    // Committed, it would leave the signer's key no later nonce: never to sign again.
    return reject(Admission::kRejected,
                  "nonce " + std::to_string(entry.nonce()) +
                      " is the largest there is: once committed, the signer could never sign "
                      "another entry");
  }
  auto sit = by_signer_.find(entry.signer());
  if (sit != by_signer_.end() && sit->second.count(entry.nonce())) {
    return reject(Admission::kNonceTaken,
                  "another pending entry of the signer has nonce " + std::to_string(entry.nonce()));
  }
  if (by_leaf_.size() >= options_.max_entries ||
      bytes_ + entry.bytes().size() > options_.max_bytes) {
    return reject(Admission::kFull, "mempool is full (" + std::to_string(by_leaf_.size()) +
                                        " entries, " + std::to_string(bytes_) + " bytes)");
  }
  Status s = app.CheckEntry(entry);
  if (!s.ok()) return reject(Admission::kRejected, s.message());
  if (!signature_verified) {
    ++signature_checks_;
    if (!entry.VerifySignature()) {
      return reject(Admission::kBadSignature, "signature does not verify");
    }
  }

  uint64_t seq = next_seq_++;
  bytes_ += entry.bytes().size();
  by_signer_[entry.signer()][entry.nonce()] = leaf;
  arrival_.emplace_hint(arrival_.end(), seq, leaf);  // seq only grows
  by_leaf_.emplace(leaf, Item{std::move(entry), seq});
  return AdmitResult{};
}

std::vector<Entry> Mempool::Select(size_t max_entries, size_t max_bytes) const {
  std::vector<Entry> out;
  size_t bytes = 0;
  std::unordered_set<PubKey, Hash32Hasher> seen;
  for (const auto& [seq, leaf] : arrival_) {
    if (out.size() >= max_entries) break;
    const Entry& first = by_leaf_.at(leaf).entry;
    if (!seen.insert(first.signer()).second) continue;
    for (const auto& [nonce, l] : by_signer_.at(first.signer())) {
      const Entry& e = by_leaf_.at(l).entry;
      if (out.size() >= max_entries || bytes + e.bytes().size() > max_bytes) return out;
      bytes += e.bytes().size();
      out.push_back(e);
    }
  }
  return out;
}

void Mempool::Remove(const Hash32& leaf_hash) {
  auto it = by_leaf_.find(leaf_hash);
  if (it == by_leaf_.end()) return;
  const Entry& e = it->second.entry;
  auto sit = by_signer_.find(e.signer());
  sit->second.erase(e.nonce());
  if (sit->second.empty()) by_signer_.erase(sit);
  arrival_.erase(it->second.seq);
  bytes_ -= e.bytes().size();
  by_leaf_.erase(it);
}

std::vector<Entry> Mempool::RemoveCommitted(const Block& block, const Application& app) {
  std::unordered_set<PubKey, Hash32Hasher> signers;
  std::vector<Entry> stale;
  for (const Entry& e : block.entries) {
    Remove(e.leaf_hash());
    signers.insert(e.signer());
  }
  for (const PubKey& signer : signers) {
    auto sit = by_signer_.find(signer);
    if (sit == by_signer_.end()) continue;
    uint64_t last = app.LastNonce(signer);
    std::vector<Hash32> leaves;
    for (const auto& [nonce, leaf] : sit->second) {
      if (nonce > last) break;
      leaves.push_back(leaf);
    }
    for (const Hash32& leaf : leaves) {
      stale.push_back(by_leaf_.at(leaf).entry);
      Remove(leaf);
    }
  }
  return stale;
}

}  // namespace fedledger::consensus
