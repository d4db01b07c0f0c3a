// Offline verification of a ledger: from the genesis, re-derive every entry signature,
// nonce, block hash, certificate and Merkle root; for a store also every stored Merkle node,
// index key and nonce record, and that no key is unexplained.
//
// ChainVerifier is fed blocks in order by any source (the LevelDB store, an export file).
// Signature checks run on a thread pool; structural checks run on the caller's thread. The
// first problem reported is the earliest in log order, named by block height and entry index.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "ledger/block.h"
#include "ledger/entry.h"
#include "ledger/merkle.h"
#include "ledger/status.h"

namespace leveldb {
class Env;
}

namespace fedledger {

struct AuditSummary {
  std::string chain_id;
  Hash32 genesis_hash;
  uint64_t blocks = 0;   // including the genesis block
  uint64_t entries = 0;  // log size
  Hash32 log_root;
  Hash32 head_hash;
  size_t validators = 0;
  size_t partners = 0;
  GenesisPayload genesis;  // block 0's, as verified (names for display)
  std::map<PubKey, uint64_t> entries_by_signer;
  std::map<EntryKind, uint64_t> entries_by_kind;
  uint64_t first_time_ms = 0;  // block times of the genesis and the head
  uint64_t last_time_ms = 0;
  uint64_t signatures_checked = 0;  // entry and certificate signatures
  // Blocks at the head whose index records (block record, index keys) are not written yet:
  // their node stopped between the synced write of a block's log records and the unsynced
  // one of its index records. The store's next read-write open writes them.
  uint64_t index_behind = 0;
  double seconds = 0;
};

struct AuditOptions {
  // Threads verifying signatures; 0 = one per core.
  unsigned threads = 0;
  // Called now and then with (entries verified so far, expected total or 0 if unknown).
  std::function<void(uint64_t, uint64_t)> progress;
  // If set, the genesis block must hash to this value (the trust anchor).
  std::optional<Hash32> expected_genesis;
  // LevelDB environment for AuditStore (tests pass an in-memory one). Not owned.
  leveldb::Env* env = nullptr;
};

// Per-entry facts a store auditor needs after the fact (to check indexes).
struct EntryFacts {
  EntryKind kind;
  uint64_t timestamp_ms;
  const PubKey* signer;       // points into the verifier's signer table (stable)
  const std::string* task_id; // points into the verifier's task table (stable), or nullptr
};

class ChainVerifier {
 public:
  explicit ChainVerifier(const AuditOptions& options);
  ~ChainVerifier();
  ChainVerifier(const ChainVerifier&) = delete;
  ChainVerifier& operator=(const ChainVerifier&) = delete;

  // Feeds the next block: its header, certificate (none only at height 0) and the canonical
  // bytes of its entries. `on_node` (optional) receives every Merkle node the block
  // completes. Returns Corruption naming the block or entry at the first structural problem;
  // after an error the verifier accepts nothing more.
  Status AddBlock(const BlockHeader& header, const std::optional<Certificate>& cert,
                  const std::vector<ByteView>& entries,
                  const std::function<void(NodeId, const Hash32&)>& on_node = nullptr);

  // Waits for outstanding signature checks. Returns the earliest problem in log order, or
  // OK with the summary filled in. `structural` is an error the caller found itself (e.g. a
  // missing block) at log position `at_index`; it competes with signature failures for
  // "earliest".
  Status Finish(Status structural = Status::Ok(), uint64_t at_index = UINT64_MAX);

  const AuditSummary& summary() const { return summary_; }
  const std::vector<EntryFacts>& facts() const { return facts_; }
  const std::map<PubKey, uint64_t>& nonces() const { return nonces_; }
  const ValidatorSet& validators() const { return validators_; }
  uint64_t log_size() const { return log_.size(); }

 private:
  struct Pool;
  Status Fail(Status s);
  Status CheckEntry(const Entry& e, uint64_t height, size_t pos, uint64_t index);

  AuditOptions options_;
  std::unique_ptr<Pool> pool_;
  Status failed_;
  AuditSummary summary_;
  ValidatorSet validators_;
  BlockHeader prev_;
  Hash32 prev_hash_;
  CompactRange log_;
  std::map<PubKey, uint64_t> nonces_;
  std::map<PubKey, std::unique_ptr<PubKey>> signer_table_;
  std::map<std::string, std::unique_ptr<std::string>> task_table_;
  std::vector<EntryFacts> facts_;
  double start_ = 0;
};

// Full audit of a LevelDB store (opened read-only in spirit: nothing is written).
Result<AuditSummary> AuditStore(const std::string& path, const AuditOptions& options);

}  // namespace fedledger
