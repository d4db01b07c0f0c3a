// Deterministic snapshot of FederationState (grammar in docs/ORCHESTRATOR.md). Uses the
// ledger's canonical Writer: fixed-width little-endian integers, length-prefixed strings,
// maps written in key order. Validators compare SnapshotHash() to detect divergence.
#include "orchestrator/state.h"

namespace fedledger::orchestrator {
namespace {

inline constexpr std::string_view kSnapshotTag = "fedledger/orchestrator-state/v1";
inline constexpr uint8_t kSnapshotVersion = 1;

void Keys(Writer& w, const std::vector<PubKey>& keys) {
  w.Varint(keys.size());
  for (const PubKey& k : keys) w.Hash(k);
}

void OptionalHash(Writer& w, const std::optional<Hash32>& h) {
  w.U8(h ? 1 : 0);
  if (h) w.Hash(*h);
}

void Update(Writer& w, const UpdateRecord& u) {
  w.Hash(u.update_hash);
  w.U64(u.sample_count);
  w.U64(u.size_bytes);
  w.U64(u.time_ms);
  w.Hash(u.entry_id);
}

void Updates(Writer& w, const std::map<PubKey, UpdateRecord>& updates) {
  w.Varint(updates.size());
  for (const auto& [k, u] : updates) {
    w.Hash(k);
    Update(w, u);
  }
}

void Round(Writer& w, const RoundProgress& r) {
  w.U32(r.round);
  w.U32(r.attempt);
  w.U64(r.started_ms);
  w.U64(r.attempt_started_ms);
  Keys(w, r.members);
  w.Varint(r.accesses.size());
  for (const auto& [k, a] : r.accesses) {
    w.Hash(k);
    w.String(a.dataset_id);
    w.Hash(a.dataset_hash);
    w.U64(a.rows_read);
    w.U64(a.time_ms);
    w.Hash(a.entry_id);
  }
  Updates(w, r.updates);
  w.Varint(r.restarts.size());
  for (const RestartRecord& rs : r.restarts) {
    w.U32(rs.attempt);
    Keys(w, rs.dropped);
    w.String(rs.reason);
    w.U64(rs.time_ms);
    Updates(w, rs.discarded_updates);
  }
  w.U8(r.aggregate ? 1 : 0);
  if (r.aggregate) {
    w.Hash(r.aggregate->aggregate_hash);
    Keys(w, r.aggregate->contributors);
    w.U64(r.aggregate->total_samples);
    w.U64(r.aggregate->time_ms);
    w.Hash(r.aggregate->entry_id);
  }
}

void Task(Writer& w, const TaskRecord& t) {
  t.spec.Encode(w);
  w.Hash(t.spec_hash);
  w.Hash(t.proposer);
  w.U64(t.proposed_ms);
  w.U8(static_cast<uint8_t>(t.status));
  w.Varint(t.approvals.size());
  for (const auto& [k, ms] : t.approvals) {
    w.Hash(k);
    w.U64(ms);
  }
  w.Varint(t.revocations.size());
  for (const auto& [k, round] : t.revocations) {
    w.Hash(k);
    w.U32(round);
  }
  OptionalHash(w, t.closed_by);
  w.String(t.close_reason);
  w.U64(t.closed_ms);
  w.U64(t.activated_ms);
  w.U64(t.completed_ms);
  OptionalHash(w, t.final_trunk_hash);
  w.Varint(t.rounds.size());
  for (const RoundProgress& r : t.rounds) Round(w, r);
}

void Members(Writer& w, const std::vector<Member>& ms) {
  w.Varint(ms.size());
  for (const Member& m : ms) {
    w.String(m.name);
    w.Hash(m.key);
  }
}

}  // namespace

Bytes FederationState::Snapshot() const {
  assert(base_ == nullptr);
  Writer w;
  w.U8(kSnapshotVersion);
  w.String(chain_id());
  w.U64(genesis().genesis_time_ms);
  Members(w, genesis().validators);
  Members(w, genesis().partners);
  w.U64(last_block_time_ms_);
  w.Varint(datasets_.size());
  for (const DatasetRecord* dp : SortedDatasets()) {
    const DatasetRecord& d = *dp;
    w.Hash(d.owner);
    w.String(d.dataset_id);
    w.Hash(d.content_hash);
    w.U64(d.rows);
    w.String(d.schema);
    w.String(d.description);
    w.U64(d.registered_ms);
    w.Hash(d.entry_id);
  }
  w.Varint(tasks_.size());
  for (const auto& [id, t] : tasks_) Task(w, t);
  return std::move(w).Take();
}

Hash32 FederationState::SnapshotHash() const { return TaggedHash(kSnapshotTag, Snapshot()); }

}  // namespace fedledger::orchestrator
