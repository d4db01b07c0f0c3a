// DatasetTable: a federation's registered datasets by (owner, dataset id).
//
// A busy ledger holds 10^5-10^6 datasets, and validators look one up for every
// DATASET_REGISTER (at admission, in the block check, at commit), TASK_PROPOSE and
// DATA_ACCESS; for a new registration every lookup misses. In a node-based hash map each
// probe chased three pointers into a table of hundreds of megabytes (the bucket, the node
// before the bucket's first, the node): ~9% of a validator's consensus thread at 4,400
// entries/s. Here the records sit in a deque in insertion order and an open-addressing array
// of 8-byte slots (a 32-bit fingerprint of the key's hash and the record's index, linear
// probing, at most half full) points at them: a miss reads one cache line of slots and no
// record, a hit one record.
//
// A key's home slot is the top bits of its fingerprint, so doubling the array moves each
// slot by its fingerprint alone, in one pass that reads no record, into an array the
// inserts before have zeroed. Every validator grows its table at the same height; when the
// growth read every record (a cache miss each), the 2^18th dataset stalled all four
// benchmark validators for 260-320 ms at once (bench/RESULTS.md, twenty-second session).
//
// Records are never removed, only added or replaced. Copies are deep and independent (slots
// hold indices, not pointers). Pointers to records stay valid until the table is destroyed
// or assigned (std::deque keeps its elements in place as it grows).
//
// Thread-compatible.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <string>
#include <string_view>
#include <vector>

#include "ledger/bytes.h"
#include "ledger/crypto.h"

namespace fedledger::orchestrator {

struct DatasetRecord {
  PubKey owner;
  std::string dataset_id;
  Hash32 content_hash;
  uint64_t rows = 0;
  std::string schema;
  std::string description;
  uint64_t registered_ms = 0;  // block time
  Hash32 entry_id;             // leaf hash of the DATASET_REGISTER entry
};

class DatasetTable {
 public:
  // The key's hash, for Find(owner, id, hash) on several tables (an overlay and its base).
  static uint64_t Hash(const PubKey& owner, std::string_view dataset_id);

  const DatasetRecord* Find(const PubKey& owner, std::string_view dataset_id,
                            uint64_t hash) const;
  const DatasetRecord* Find(const PubKey& owner, std::string_view dataset_id) const {
    return Find(owner, dataset_id, Hash(owner, dataset_id));
  }

  // Adds `record`, or replaces the one with its (owner, dataset_id) in place.
  void InsertOrAssign(DatasetRecord record);

  // Moves every record of `from` into this table (InsertOrAssign each, in `from`'s order)
  // and leaves `from` empty.
  void MergeFrom(DatasetTable&& from);

  size_t size() const { return records_.size(); }
  bool empty() const { return records_.empty(); }
  // In the order they were first inserted.
  std::deque<DatasetRecord>::const_iterator begin() const { return records_.begin(); }
  std::deque<DatasetRecord>::const_iterator end() const { return records_.end(); }

 private:
  // The slot for `hash` that holds the record with this key, or the empty one where it
  // would go.
  size_t Probe(const PubKey& owner, std::string_view dataset_id, uint64_t hash) const;
  void Grow();

  std::deque<DatasetRecord> records_;
  // 0: empty; else (hash >> 32) << 32 | (index + 1). The size is 0 or a power of two.
  std::vector<uint64_t> slots_;
  // 32 - log2(slots_.size()): a fingerprint's home slot is fingerprint >> shift_.
  int shift_ = 32;
  // The next, twice as large, slot array: zeros, filled in a little per insert from 3/8
  // full on, so that growing faults in and zeroes no megabytes at once (a fresh 16 MiB array
  // took ~25 ms to touch on the benchmark machine).
  std::vector<uint64_t> next_;
};

}  // namespace fedledger::orchestrator
