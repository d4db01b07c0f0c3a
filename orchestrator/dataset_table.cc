#include "orchestrator/dataset_table.h"

#include <algorithm>
#include <bit>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <utility>

namespace fedledger::orchestrator {
namespace {

constexpr uint64_t kIndexMask = 0xFFFFFFFFull;
constexpr size_t kMinSlots = 16;
// The fingerprint's 32 bits pick the home slot, so the array stops at 2^32 slots, half full.
constexpr size_t kMaxRecords = size_t{1} << 31;

uint64_t Fingerprint(uint64_t hash) { return hash >> 32; }

}  // namespace

uint64_t DatasetTable::Hash(const PubKey& owner, std::string_view dataset_id) {
  // Owner keys are uniformly random, the id's hash is std::hash's; the finaliser of
  // MurmurHash3 spreads both over all 64 bits (the high ones are the fingerprint, whose top
  // bits pick the slot).
  uint64_t h = Hash32Hasher()(owner) ^ std::hash<std::string_view>()(dataset_id);
  h ^= h >> 33;
  h *= 0xff51afd7ed558ccdull;
  h ^= h >> 33;
  h *= 0xc4ceb9fe1a85ec53ull;
  h ^= h >> 33;
  return h;
}

size_t DatasetTable::Probe(const PubKey& owner, std::string_view dataset_id,
                           uint64_t hash) const {
  const size_t mask = slots_.size() - 1;
  const uint64_t fp = Fingerprint(hash);
  for (size_t i = fp >> shift_;; i = (i + 1) & mask) {
    uint64_t slot = slots_[i];
    if (slot == 0) return i;
    if ((slot >> 32) == fp) {
      const DatasetRecord& r = records_[(slot & kIndexMask) - 1];
      if (r.owner == owner && r.dataset_id == dataset_id) return i;
    }
  }
}

const DatasetRecord* DatasetTable::Find(const PubKey& owner, std::string_view dataset_id,
                                        uint64_t hash) const {
  if (records_.empty()) return nullptr;
  uint64_t slot = slots_[Probe(owner, dataset_id, hash)];
  return slot == 0 ? nullptr : &records_[(slot & kIndexMask) - 1];
}

void DatasetTable::InsertOrAssign(DatasetRecord record) {
  if ((records_.size() + 1) * 2 > slots_.size()) Grow();
  // From 3/8 full on, zero the next array a little per insert: 2n slots over the n/8
  // inserts before it is needed, 16 per insert.
  if (records_.size() * 8 >= slots_.size() * 3 && next_.size() < 2 * slots_.size()) {
    if (next_.capacity() < 2 * slots_.size()) next_.reserve(2 * slots_.size());
    next_.resize(std::min(next_.size() + 16, 2 * slots_.size()));
  }
  uint64_t hash = Hash(record.owner, record.dataset_id);
  size_t i = Probe(record.owner, record.dataset_id, hash);
  if (slots_[i] != 0) {
    records_[(slots_[i] & kIndexMask) - 1] = std::move(record);
    return;
  }
  if (records_.size() >= kMaxRecords) {
    // Two billion datasets would not fit in a validator's memory long before this.
    std::fprintf(stderr, "orchestrator: more than %zu datasets\n", kMaxRecords);
    std::abort();
  }
  records_.push_back(std::move(record));
  slots_[i] = (Fingerprint(hash) << 32) | records_.size();
}

void DatasetTable::MergeFrom(DatasetTable&& from) {
  for (DatasetRecord& r : from.records_) InsertOrAssign(std::move(r));
  from.records_.clear();
  from.slots_.clear();
  from.next_.clear();
  from.shift_ = 32;
}

void DatasetTable::Grow() {
  const size_t size = slots_.empty() ? kMinSlots : slots_.size() * 2;
  next_.resize(size);  // what the inserts before did not zero yet
  std::vector<uint64_t> old = std::exchange(slots_, std::move(next_));
  next_ = {};
  shift_ = 32 - std::countr_zero(size);
  // Each slot's new home comes from its fingerprint: no record is read. Old slot i's keys
  // have homes near 2i, so the writes run through the new array nearly in order.
  const size_t mask = size - 1;
  for (uint64_t slot : old) {
    if (slot == 0) continue;
    size_t i = (slot >> 32) >> shift_;
    while (slots_[i] != 0) i = (i + 1) & mask;
    slots_[i] = slot;
  }
}

}  // namespace fedledger::orchestrator
