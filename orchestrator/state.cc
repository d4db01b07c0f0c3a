#include "orchestrator/state.h"

#include <algorithm>
#include <tuple>
#include <cstdio>
#include <cstdlib>

namespace fedledger::orchestrator {

const char* TaskStatusName(TaskStatus s) {
  switch (s) {
    case TaskStatus::kProposed:
      return "proposed";
    case TaskStatus::kActive:
      return "active";
    case TaskStatus::kRejected:
      return "rejected";
    case TaskStatus::kRevoked:
      return "revoked";
    case TaskStatus::kExpired:
      return "expired";
    case TaskStatus::kCompleted:
      return "completed";
    case TaskStatus::kAborted:
      return "aborted";
  }
  return "unknown";
}

bool RoundProgress::IsMember(const PubKey& k) const {
  return std::binary_search(members.begin(), members.end(), k);
}

const RoundProgress* TaskRecord::CurrentRound() const {
  if (status != TaskStatus::kActive || rounds.empty() || rounds.back().aggregate) return nullptr;
  return &rounds.back();
}

bool TaskRecord::AllRoundsAggregated() const {
  return rounds.size() == spec.rounds && rounds.back().aggregate.has_value();
}

std::vector<PubKey> TaskRecord::RemainingParticipants() const {
  std::vector<PubKey> out;
  for (const Participant& p : spec.participants) {
    if (!revocations.count(p.partner)) out.push_back(p.partner);
  }
  return out;  // spec.participants is sorted by key, so this is too
}

const Participant* TaskRecord::FindParticipant(const PubKey& k) const {
  auto it =
      std::lower_bound(spec.participants.begin(), spec.participants.end(), k,
                       [](const Participant& p, const PubKey& key) { return p.partner < key; });
  return (it != spec.participants.end() && it->partner == k) ? &*it : nullptr;
}

std::string BlockVerdict::ToString() const {
  if (valid()) return "valid";
  return "entry " + std::to_string(index) + ": " + verdict.ToString();
}

Result<FederationState> FederationState::FromGenesis(const Entry& genesis) {
  const auto* p = genesis.As<GenesisPayload>();
  if (p == nullptr) {
    return Status::InvalidArgument(std::string("genesis: expected a GENESIS entry, got ") +
                                   EntryKindName(genesis.kind()));
  }
  auto g = std::make_shared<Genesis>();
  g->chain_id = genesis.chain_id();
  g->payload = *p;
  for (const Member& m : p->partners) g->partners.emplace(m.key, m.name);
  for (const Member& m : p->validators) g->validators.emplace(m.key, m.name);
  FederationState s;
  s.genesis_ = std::move(g);
  s.last_block_time_ms_ = p->genesis_time_ms;
  return s;
}

FederationState FederationState::OverlayOn(const FederationState& base) {
  FederationState s;
  s.genesis_ = base.genesis_;
  s.base_ = &base;
  s.last_block_time_ms_ = base.last_block_time_ms_;
  return s;
}

void FederationState::MergeInto(FederationState& base) && {
  assert(base_ == &base);
  // insert_or_assign by moving the overlay's nodes over: no allocation or key copy per record.
  while (!tasks_.empty()) {
    auto r = base.tasks_.insert(tasks_.extract(tasks_.begin()));
    if (!r.inserted) r.position->second = std::move(r.node.mapped());
  }
  base.datasets_.MergeFrom(std::move(datasets_));
  base.last_block_time_ms_ = last_block_time_ms_;
}

const TaskRecord* FederationState::LookupTask(const std::string& id) const {
  auto it = tasks_.find(id);
  if (it != tasks_.end()) return &it->second;
  return base_ ? base_->LookupTask(id) : nullptr;
}

const DatasetRecord* FederationState::LookupDataset(const PubKey& owner,
                                                    const std::string& id) const {
  return LookupDataset(owner, id, DatasetTable::Hash(owner, id));
}

const DatasetRecord* FederationState::LookupDataset(const PubKey& owner, const std::string& id,
                                                    uint64_t hash) const {
  if (const DatasetRecord* d = datasets_.Find(owner, id, hash)) return d;
  return base_ ? base_->LookupDataset(owner, id, hash) : nullptr;
}

TaskRecord& FederationState::MutableTask(const std::string& id) {
  auto it = tasks_.find(id);
  if (it != tasks_.end()) return it->second;
  const TaskRecord* from_base = base_ ? base_->LookupTask(id) : nullptr;
  if (from_base == nullptr) {
    std::fprintf(stderr, "orchestrator: MutableTask('%s') on a missing task\n", id.c_str());
    std::abort();
  }
  return tasks_.emplace(id, *from_base).first->second;  // copy on first write
}

Verdict FederationState::Check(const Entry& entry, uint64_t block_time_ms) const {
  return CheckImpl(entry, block_time_ms);
}

Verdict FederationState::CheckAndApply(const Entry& entry, uint64_t block_time_ms) {
  Verdict v = CheckImpl(entry, block_time_ms);
  if (v.valid()) {
    ApplyImpl(entry, block_time_ms);
    last_block_time_ms_ = std::max(last_block_time_ms_, block_time_ms);
  }
  return v;
}

void FederationState::Apply(const Entry& entry, uint64_t block_time_ms) {
  Verdict v = CheckAndApply(entry, block_time_ms);
  if (!v.valid()) {
    std::fprintf(stderr, "orchestrator: Apply of an invalid %s entry: %s\n",
                 EntryKindName(entry.kind()), v.ToString().c_str());
    std::abort();
  }
}

BlockVerdict FederationState::CheckBlock(const std::vector<Entry>& entries,
                                         uint64_t block_time_ms) const {
  FederationState scratch = OverlayOn(*this);
  for (size_t i = 0; i < entries.size(); ++i) {
    Verdict v = scratch.CheckAndApply(entries[i], block_time_ms);
    if (!v.valid()) return BlockVerdict{i, std::move(v)};
  }
  return BlockVerdict{};
}

BlockVerdict FederationState::ApplyBlock(const std::vector<Entry>& entries,
                                         uint64_t block_time_ms) {
  FederationState scratch = OverlayOn(*this);
  for (size_t i = 0; i < entries.size(); ++i) {
    Verdict v = scratch.CheckAndApply(entries[i], block_time_ms);
    if (!v.valid()) return BlockVerdict{i, std::move(v)};
  }
  // An empty block still advances time (expiry is derived from it).
  scratch.last_block_time_ms_ = std::max(scratch.last_block_time_ms_, block_time_ms);
  std::move(scratch).MergeInto(*this);
  return BlockVerdict{};
}

BlockVerdict FederationState::PrepareBlock(const std::vector<Entry>& entries,
                                           uint64_t block_time_ms,
                                           std::unique_ptr<FederationState>* prepared) const {
  auto scratch = std::unique_ptr<FederationState>(new FederationState(OverlayOn(*this)));
  for (size_t i = 0; i < entries.size(); ++i) {
    Verdict v = scratch->CheckAndApply(entries[i], block_time_ms);
    if (!v.valid()) return BlockVerdict{i, std::move(v)};
  }
  scratch->last_block_time_ms_ = std::max(scratch->last_block_time_ms_, block_time_ms);
  *prepared = std::move(scratch);
  return BlockVerdict{};
}

void FederationState::ApplyPrepared(std::unique_ptr<FederationState> prepared) {
  std::move(*prepared).MergeInto(*this);
}

bool FederationState::IsPartner(const PubKey& k) const { return genesis_->partners.count(k) > 0; }
bool FederationState::IsValidator(const PubKey& k) const {
  return genesis_->validators.count(k) > 0;
}

std::string FederationState::DescribeKey(const PubKey& k) const {
  if (auto it = genesis_->partners.find(k); it != genesis_->partners.end()) {
    return "partner '" + it->second + "'";
  }
  if (auto it = genesis_->validators.find(k); it != genesis_->validators.end()) {
    return "validator '" + it->second + "'";
  }
  return "key " + k.ShortHex();
}

std::vector<const TaskRecord*> FederationState::Tasks() const {
  assert(base_ == nullptr);
  std::vector<const TaskRecord*> out;
  out.reserve(tasks_.size());
  for (const auto& [id, t] : tasks_) out.push_back(&t);
  return out;
}

const TaskRecord* FederationState::FindTask(const std::string& task_id) const {
  return LookupTask(task_id);
}

TaskStatus FederationState::StatusOf(const TaskRecord& task) const {
  if (task.status == TaskStatus::kProposed && last_block_time_ms_ > task.spec.expires_at_ms) {
    return TaskStatus::kExpired;
  }
  return task.status;
}

std::vector<const DatasetRecord*> FederationState::SortedDatasets() const {
  std::vector<const DatasetRecord*> out;
  out.reserve(datasets_.size());
  for (const DatasetRecord& d : datasets_) out.push_back(&d);
  std::sort(out.begin(), out.end(), [](const DatasetRecord* a, const DatasetRecord* b) {
    return std::tie(a->owner, a->dataset_id) < std::tie(b->owner, b->dataset_id);
  });
  return out;
}

std::vector<const DatasetRecord*> FederationState::Datasets() const {
  assert(base_ == nullptr);
  return SortedDatasets();
}

const DatasetRecord* FederationState::FindDataset(const PubKey& owner,
                                                  const std::string& dataset_id) const {
  return LookupDataset(owner, dataset_id);
}

uint64_t FederationState::MaxTotalSamples(const TaskRecord& task) const {
  uint64_t total = 0;
  for (const Participant& p : task.spec.participants) {
    if (const DatasetRecord* d = LookupDataset(p.partner, p.dataset_id)) total += d->rows;
  }
  return total;
}

bool FederationState::NamesArtifact(const Hash32& hash) const {
  for (const TaskRecord* t : Tasks()) {
    if (t->final_trunk_hash && *t->final_trunk_hash == hash) return true;
    for (const RoundProgress& r : t->rounds) {
      if (r.aggregate && r.aggregate->aggregate_hash == hash) return true;
      for (const auto& [k, u] : r.updates) {
        if (u.update_hash == hash) return true;
      }
      for (const RestartRecord& rs : r.restarts) {
        for (const auto& [k, u] : rs.discarded_updates) {
          if (u.update_hash == hash) return true;
        }
      }
    }
  }
  return false;
}

Verdict FederationState::MayReadData(const std::string& task_id, uint32_t round,
                                     const PubKey& partner) const {
  const TaskRecord* task = LookupTask(task_id);
  const std::string what = "reading data for task '" + task_id + "' round " + std::to_string(round);
  if (task == nullptr) {
    return Verdict::Invalid(RejectReason::kUnknownTask, what + ": no such task");
  }
  TaskStatus st = StatusOf(*task);
  if (st == TaskStatus::kProposed) {
    return Verdict::Invalid(RejectReason::kTaskNotActive,
                            what + ": the task is not active (approvals " +
                                std::to_string(task->approvals.size()) + " of " +
                                std::to_string(task->spec.participants.size()) + ")");
  }
  if (st != TaskStatus::kActive) {
    return Verdict::Invalid(RejectReason::kTaskClosed,
                            what + ": the task is " + TaskStatusName(st));
  }
  if (task->FindParticipant(partner) == nullptr) {
    return Verdict::Invalid(RejectReason::kNotParticipant,
                            what + ": " + DescribeKey(partner) + " is not a participant");
  }
  const RoundProgress* cur = task->CurrentRound();
  if (cur == nullptr || cur->round != round) {
    return Verdict::Invalid(RejectReason::kWrongRound,
                            what + ": round " + std::to_string(round) + " is not in progress");
  }
  if (!cur->IsMember(partner)) {
    return Verdict::Invalid(RejectReason::kNotRoundMember,
                            what + ": " + DescribeKey(partner) + " takes no part in this round");
  }
  if (!cur->accesses.count(partner)) {
    return Verdict::Invalid(
        RejectReason::kNoDataAccess,
        what + ": no DATA_ACCESS by " + DescribeKey(partner) + " is committed for this round");
  }
  return Verdict::Valid();
}

}  // namespace fedledger::orchestrator
