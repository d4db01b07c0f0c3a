#include "orchestrator/dataset_table.h"

#include <cstdio>
#include <cstdlib>
#include <functional>
#include <utility>

namespace fedledger::orchestrator {
namespace {

constexpr uint64_t kIndexMask = 0xFFFFFFFFull;
constexpr size_t kMinSlots = 16;

uint64_t Fingerprint(uint64_t hash) { return hash >> 32; }

}  // namespace

uint64_t DatasetTable::Hash(const PubKey& owner, std::string_view dataset_id) {
  // Owner keys are uniformly random, the id's hash is std::hash's; the finaliser of
  // MurmurHash3 spreads both over all 64 bits (the low ones pick the slot, the high ones are
  // the fingerprint).
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
  for (size_t i = hash & mask;; i = (i + 1) & mask) {
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
  uint64_t hash = Hash(record.owner, record.dataset_id);
  size_t i = Probe(record.owner, record.dataset_id, hash);
  if (slots_[i] != 0) {
    records_[(slots_[i] & kIndexMask) - 1] = std::move(record);
    return;
  }
  if (records_.size() >= kIndexMask) {
    // 4 billion datasets would not fit in a validator's memory long before this.
    std::fprintf(stderr, "orchestrator: more than %llu datasets\n",
                 static_cast<unsigned long long>(kIndexMask - 1));
    std::abort();
  }
  records_.push_back(std::move(record));
  slots_[i] = (Fingerprint(hash) << 32) | records_.size();
}

void DatasetTable::MergeFrom(DatasetTable&& from) {
  for (DatasetRecord& r : from.records_) InsertOrAssign(std::move(r));
  from.records_.clear();
  from.slots_.clear();
}

void DatasetTable::Grow() {
  std::vector<uint64_t> old = std::exchange(
      slots_, std::vector<uint64_t>(slots_.empty() ? kMinSlots : slots_.size() * 2, 0));
  const size_t mask = slots_.size() - 1;
  for (uint64_t slot : old) {
    if (slot == 0) continue;
    const DatasetRecord& r = records_[(slot & kIndexMask) - 1];
    size_t i = Hash(r.owner, r.dataset_id) & mask;
    while (slots_[i] != 0) i = (i + 1) & mask;
    slots_[i] = slot;
  }
}

}  // namespace fedledger::orchestrator
