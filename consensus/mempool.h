// The mempool: signed entries waiting for a block.
//
// Admission (Add) checks, cheapest first: chain id, duplicate (by leaf hash), nonce above the
// signer's last committed nonce, no other pending entry of the signer with that nonce, room
// (entry count and byte bounds), the application's CheckEntry, and last the signature. An
// admitted entry's signature is therefore verified exactly once; consensus never verifies it
// again (see consensus/application.h).
//
// Selection (Select) is deterministic: signers in the order of their oldest pending entry,
// each signer's entries in increasing nonce order, so a block built from it has strictly
// increasing nonces per signer as the store requires.
//
// Thread-compatible: owned and driven by the consensus state machine's thread.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <unordered_map>
#include <vector>

#include "consensus/application.h"
#include "ledger/entry.h"

namespace fedledger::consensus {

struct MempoolOptions {
  size_t max_entries = 200000;    // admission refuses (kFull) beyond this many entries
  size_t max_bytes = 256u << 20;  // ... or beyond this many entry bytes
};

enum class Admission {
  kAccepted = 0,
  kDuplicate,     // the same entry is already pending
  kWrongChain,    // entry for another chain id
  kStaleNonce,    // nonce not above the signer's last committed nonce (replay)
  kNonceTaken,    // another pending entry of the signer has this nonce
  kFull,          // the mempool is at its size bound; try again later
  kRejected,      // the application's CheckEntry refused it
  kBadSignature,  // the signature does not verify
};
const char* AdmissionName(Admission a);

struct AdmitResult {
  Admission code = Admission::kAccepted;
  std::string reason;  // human-readable, empty when accepted
  bool ok() const { return code == Admission::kAccepted; }
};

class Mempool {
 public:
  explicit Mempool(MempoolOptions options = {}) : options_(options) {}

  // `signature_verified`: the caller already verified this entry's signature (seen in a
  // proposal), so it is not verified again.
  AdmitResult Add(Entry entry, const Application& app, bool signature_verified = false);
  // Up to `max_entries` entries and `max_bytes` entry bytes, in selection order (above).
  std::vector<Entry> Select(size_t max_entries, size_t max_bytes) const;
  // Drops the block's entries and every pending entry whose nonce is no longer above its
  // signer's last committed nonce; returns the latter (they can never commit now: a higher
  // nonce of their signer arrived first and was committed first). REQUIRES: `block` has been
  // committed to `app`.
  std::vector<Entry> RemoveCommitted(const Block& block, const Application& app);
  void Remove(const Hash32& leaf_hash);

  bool Contains(const Hash32& leaf_hash) const { return by_leaf_.count(leaf_hash) != 0; }
  size_t size() const { return by_leaf_.size(); }
  size_t bytes() const { return bytes_; }
  bool empty() const { return by_leaf_.empty(); }
  // Signatures verified by Add so far.
  uint64_t signature_checks() const { return signature_checks_; }

 private:
  struct Item {
    Entry entry;
    uint64_t seq;
  };
  MempoolOptions options_;
  uint64_t next_seq_ = 0;
  size_t bytes_ = 0;
  uint64_t signature_checks_ = 0;
  std::unordered_map<Hash32, Item, Hash32Hasher> by_leaf_;
  // signer -> nonce -> leaf: looked up per entry, never walked in signer order.
  std::unordered_map<PubKey, std::map<uint64_t, Hash32>, Hash32Hasher> by_signer_;
  std::map<uint64_t, Hash32> arrival_;  // seq -> leaf, in arrival order
};

}  // namespace fedledger::consensus
