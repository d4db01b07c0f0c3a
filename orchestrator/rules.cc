// The validity rules and transitions of FederationState, one Check/Apply pair per entry kind.
// The rule table with every RejectReason is in docs/ORCHESTRATOR.md; keep the two in step.
#include <algorithm>

#include "orchestrator/state.h"

namespace fedledger::orchestrator {
namespace {

using R = RejectReason;

Verdict Bad(RejectReason r, std::string m) { return Verdict::Invalid(r, std::move(m)); }

std::string For(EntryKind kind, const std::string& task_id) {
  return std::string(EntryKindName(kind)) + " for task '" + task_id + "'";
}

std::string RoundName(uint32_t round, uint32_t attempt) {
  return "round " + std::to_string(round) + " attempt " + std::to_string(attempt);
}

}  // namespace

Verdict FederationState::CheckImpl(const Entry& e, uint64_t t) const {
  if (e.chain_id() != chain_id()) {
    return Bad(R::kWrongChain, std::string(EntryKindName(e.kind())) + ": chain id '" +
                                   e.chain_id() + "' is not this ledger's '" + chain_id() + "'");
  }
  switch (e.kind()) {
    case EntryKind::kGenesis:
      return Bad(R::kGenesisNotAllowed, "GENESIS: the ledger already has its genesis");
    case EntryKind::kDatasetRegister:
      return CheckDatasetRegister(e, *e.As<DatasetRegisterPayload>());
    case EntryKind::kTaskPropose:
      return CheckPropose(e, *e.As<TaskProposePayload>(), t);
    case EntryKind::kTaskApprove:
      return CheckApprove(e, *e.As<TaskApprovePayload>(), t);
    case EntryKind::kTaskReject:
      return CheckReject(e, *e.As<TaskRejectPayload>(), t);
    case EntryKind::kTaskRevoke:
      return CheckRevoke(e, *e.As<TaskRevokePayload>(), t);
    case EntryKind::kDataAccess:
      return CheckDataAccess(e, *e.As<DataAccessPayload>(), t);
    case EntryKind::kModelUpdate:
      return CheckModelUpdate(e, *e.As<ModelUpdatePayload>(), t);
    case EntryKind::kRoundAggregate:
      return CheckAggregate(e, *e.As<RoundAggregatePayload>(), t);
    case EntryKind::kRoundRestart:
      return CheckRestart(e, *e.As<RoundRestartPayload>(), t);
    case EntryKind::kTaskComplete:
      return CheckComplete(e, *e.As<TaskCompletePayload>(), t);
  }
  // Entry::Decode and Entry::Sign refuse unknown kinds, so this is unreachable for an Entry.
  std::abort();
}

// ---- shared checks ----

Verdict FederationState::FindOpenTask(const char* what, const std::string& task_id, uint64_t t,
                                      bool must_be_active, const TaskRecord** out) const {
  const std::string ctx = std::string(what) + " for task '" + task_id + "'";
  const TaskRecord* task = LookupTask(task_id);
  if (task == nullptr) return Bad(R::kUnknownTask, ctx + ": no such task");
  switch (task->status) {
    case TaskStatus::kProposed:
      if (t > task->spec.expires_at_ms) {
        return Bad(R::kTaskExpired,
                   ctx + ": the task expired at " + std::to_string(task->spec.expires_at_ms) +
                       " ms (block time " + std::to_string(t) +
                       " ms) before every participant approved; it accepts nothing more");
      }
      if (must_be_active) {
        return Bad(R::kTaskNotActive, ctx + ": the task is not active yet (" +
                                          std::to_string(task->approvals.size()) + " of " +
                                          std::to_string(task->spec.participants.size()) +
                                          " approvals committed)");
      }
      break;
    case TaskStatus::kActive:
      break;
    default: {
      std::string by = task->closed_by ? " by " + DescribeKey(*task->closed_by) : "";
      return Bad(R::kTaskClosed, ctx + ": the task is " + TaskStatusName(task->status) + by +
                                     " and accepts nothing more");
    }
  }
  *out = task;
  return Verdict::Valid();
}

Verdict FederationState::CheckRoundMember(const char* what, const TaskRecord& task,
                                          const PubKey& signer, uint32_t round,
                                          const RoundProgress** out) const {
  const std::string ctx = std::string(what) + " for task '" + task.spec.task_id + "'";
  const RoundProgress* cur = task.CurrentRound();
  if (cur == nullptr) {
    return Bad(R::kWrongRound, ctx + ": all " + std::to_string(task.spec.rounds) +
                                   " rounds are aggregated; the task awaits TASK_COMPLETE");
  }
  if (round != cur->round) {
    return Bad(R::kWrongRound, ctx + ": round " + std::to_string(round) +
                                   " is not the current round " + std::to_string(cur->round));
  }
  if (!cur->IsMember(signer)) {
    auto rv = task.revocations.find(signer);
    if (rv != task.revocations.end() && rv->second <= cur->round) {
      return Bad(R::kNotRoundMember, ctx + ": " + DescribeKey(signer) +
                                         " revoked its participation and takes no part from "
                                         "round " +
                                         std::to_string(rv->second) + " on");
    }
    return Bad(R::kNotRoundMember, ctx + ": " + DescribeKey(signer) + " was dropped from " +
                                       RoundName(cur->round, cur->attempt) +
                                       " by a ROUND_RESTART and rejoins in the next round");
  }
  *out = cur;
  return Verdict::Valid();
}

// ---- DATASET_REGISTER ----

Verdict FederationState::CheckDatasetRegister(const Entry& e,
                                              const DatasetRegisterPayload& p) const {
  // Built only for a rejection: a valid entry (the common case) allocates nothing here.
  auto ctx = [&] { return "DATASET_REGISTER of '" + p.dataset_id + "'"; };
  if (!IsPartner(e.signer())) {
    return Bad(R::kNotPartner,
               ctx() + ": signer " + DescribeKey(e.signer()) + " is not a partner in the genesis");
  }
  if (const DatasetRecord* d = LookupDataset(e.signer(), p.dataset_id)) {
    return Bad(R::kDuplicateDataset,
               ctx() + ": " + DescribeKey(e.signer()) + " already registered it (hash " +
                   d->content_hash.ShortHex() + "...); register a new version under a new id");
  }
  return Verdict::Valid();
}

// ---- TASK_PROPOSE ----

Verdict FederationState::CheckPropose(const Entry& e, const TaskProposePayload& p,
                                      uint64_t t) const {
  const TaskSpec& s = p.spec;
  const std::string ctx = For(EntryKind::kTaskPropose, s.task_id);
  if (!IsPartner(e.signer())) {
    return Bad(R::kNotPartner,
               ctx + ": proposer " + DescribeKey(e.signer()) + " is not a partner in the genesis");
  }
  if (LookupTask(s.task_id) != nullptr) {
    return Bad(R::kDuplicateTask, ctx + ": a task with this id already exists");
  }
  if (s.participants.size() < 2) {
    return Bad(R::kTooFewParticipants,
               ctx +
                   ": a task needs at least 2 participants (secure aggregation hides each "
                   "update only in a sum of two or more), the spec lists " +
                   std::to_string(s.participants.size()));
  }
  for (const Participant& part : s.participants) {
    if (!IsPartner(part.partner)) {
      return Bad(R::kParticipantNotPartner, ctx + ": participant " + DescribeKey(part.partner) +
                                                " is not a partner in the genesis");
    }
    if (LookupDataset(part.partner, part.dataset_id) == nullptr) {
      return Bad(R::kDatasetNotRegistered, ctx + ": dataset '" + part.dataset_id +
                                               "' is not registered by " +
                                               DescribeKey(part.partner));
    }
  }
  if (!IsValidator(s.aggregator) && !IsPartner(s.aggregator)) {
    return Bad(R::kBadAggregator, ctx + ": aggregator " + s.aggregator.ShortHex() +
                                      "... is neither a validator node key nor a partner key "
                                      "in the genesis");
  }
  if (s.expires_at_ms <= t) {
    return Bad(R::kTaskExpired, ctx + ": expires_at_ms " + std::to_string(s.expires_at_ms) +
                                    " is not after the block time " + std::to_string(t));
  }
  return Verdict::Valid();
}

// ---- TASK_APPROVE / TASK_REJECT ----

Verdict FederationState::FindParticipantTask(const char* what, const Entry& e,
                                             const std::string& task_id, uint64_t t,
                                             bool must_be_active, const TaskRecord** out) const {
  if (Verdict v = FindOpenTask(what, task_id, t, must_be_active, out); !v) return v;
  if ((*out)->FindParticipant(e.signer()) == nullptr) {
    return Bad(R::kNotParticipant, std::string(what) + " for task '" + task_id + "': " +
                                       DescribeKey(e.signer()) + " is not a participant of the task");
  }
  return Verdict::Valid();
}

Verdict FederationState::CheckApprove(const Entry& e, const TaskApprovePayload& p,
                                      uint64_t t) const {
  const std::string ctx = For(EntryKind::kTaskApprove, p.task_id);
  const TaskRecord* task = nullptr;
  if (Verdict v = FindParticipantTask("TASK_APPROVE", e, p.task_id, t, false, &task); !v) {
    return v;
  }
  if (p.spec_hash != task->spec_hash) {
    return Bad(R::kSpecHashMismatch, ctx + ": spec hash " + p.spec_hash.ShortHex() +
                                         "... does not match the proposed spec " +
                                         task->spec_hash.ShortHex() + "...");
  }
  if (task->approvals.count(e.signer())) {
    return Bad(R::kAlreadyApproved, ctx + ": " + DescribeKey(e.signer()) + " already approved it");
  }
  return Verdict::Valid();
}

Verdict FederationState::CheckReject(const Entry& e, const TaskRejectPayload& p, uint64_t t) const {
  const std::string ctx = For(EntryKind::kTaskReject, p.task_id);
  const TaskRecord* task = nullptr;
  if (Verdict v = FindParticipantTask("TASK_REJECT", e, p.task_id, t, false, &task); !v) {
    return v;
  }
  if (p.spec_hash != task->spec_hash) {
    return Bad(R::kSpecHashMismatch, ctx + ": spec hash " + p.spec_hash.ShortHex() +
                                         "... does not match the proposed spec " +
                                         task->spec_hash.ShortHex() + "...");
  }
  if (task->status == TaskStatus::kActive) {
    return Bad(R::kAlreadyApproved, ctx +
                                        ": every participant approved and the task is "
                                        "active; a participant leaves with TASK_REVOKE");
  }
  return Verdict::Valid();
}

// ---- TASK_REVOKE ----

Verdict FederationState::CheckRevoke(const Entry& e, const TaskRevokePayload& p, uint64_t t) const {
  const std::string ctx = For(EntryKind::kTaskRevoke, p.task_id);
  const TaskRecord* task = nullptr;
  if (Verdict v = FindOpenTask("TASK_REVOKE", p.task_id, t, true, &task); !v) {
    if (v.reason() == R::kTaskNotActive) {
      return Bad(R::kTaskNotActive, v.message() + "; before activation use TASK_REJECT");
    }
    return v;
  }
  if (task->FindParticipant(e.signer()) == nullptr) {
    return Bad(R::kNotParticipant,
               ctx + ": " + DescribeKey(e.signer()) + " is not a participant of the task");
  }
  if (task->revocations.count(e.signer())) {
    return Bad(R::kAlreadyRevoked, ctx + ": " + DescribeKey(e.signer()) + " already revoked");
  }
  return Verdict::Valid();
}

// ---- DATA_ACCESS / MODEL_UPDATE ----

Verdict FederationState::CheckDataAccess(const Entry& e, const DataAccessPayload& p,
                                         uint64_t t) const {
  const std::string ctx = For(EntryKind::kDataAccess, p.task_id);
  const TaskRecord* task = nullptr;
  if (Verdict v = FindOpenTask("DATA_ACCESS", p.task_id, t, true, &task); !v) return v;
  const Participant* part = task->FindParticipant(e.signer());
  if (part == nullptr) {
    return Bad(R::kNotParticipant,
               ctx + ": " + DescribeKey(e.signer()) + " is not a participant of the task");
  }
  const RoundProgress* cur = nullptr;
  if (Verdict v = CheckRoundMember("DATA_ACCESS", *task, e.signer(), p.round, &cur); !v) {
    return v;
  }
  if (p.dataset_id != part->dataset_id) {
    return Bad(R::kDatasetNotInTask, ctx + ": the spec lists dataset '" + part->dataset_id +
                                         "' for " + DescribeKey(e.signer()) + ", not '" +
                                         p.dataset_id + "'");
  }
  const DatasetRecord* ds = LookupDataset(e.signer(), p.dataset_id);
  if (ds == nullptr) {  // the proposal required it and datasets are never removed
    return Bad(R::kDatasetNotRegistered, ctx + ": dataset '" + p.dataset_id +
                                             "' is not registered by " + DescribeKey(e.signer()));
  }
  if (p.dataset_hash != ds->content_hash) {
    return Bad(R::kDatasetHashMismatch, ctx + ": dataset hash " + p.dataset_hash.ShortHex() +
                                            "... does not match the registered " +
                                            ds->content_hash.ShortHex() + "...");
  }
  if (p.rows_read > ds->rows) {
    return Bad(R::kRowsExceedDataset, ctx + ": rows_read " + std::to_string(p.rows_read) +
                                          " exceeds the registered " + std::to_string(ds->rows) +
                                          " rows of '" + p.dataset_id + "'");
  }
  if (cur->accesses.count(e.signer())) {
    return Bad(R::kDuplicateDataAccess, ctx + ": " + DescribeKey(e.signer()) +
                                            " already recorded its data access for round " +
                                            std::to_string(p.round));
  }
  return Verdict::Valid();
}

Verdict FederationState::CheckModelUpdate(const Entry& e, const ModelUpdatePayload& p,
                                          uint64_t t) const {
  const std::string ctx = For(EntryKind::kModelUpdate, p.task_id);
  const TaskRecord* task = nullptr;
  if (Verdict v = FindParticipantTask("MODEL_UPDATE", e, p.task_id, t, true, &task); !v) {
    return v;
  }
  const RoundProgress* cur = nullptr;
  if (Verdict v = CheckRoundMember("MODEL_UPDATE", *task, e.signer(), p.round, &cur); !v) {
    return v;
  }
  auto acc = cur->accesses.find(e.signer());
  if (acc == cur->accesses.end()) {
    return Bad(R::kNoDataAccess, ctx + ": no DATA_ACCESS by " + DescribeKey(e.signer()) +
                                     " is committed for round " + std::to_string(p.round));
  }
  if (p.attempt != cur->attempt) {
    return Bad(R::kWrongAttempt, ctx + ": the update was masked for attempt " +
                                     std::to_string(p.attempt) + " but " +
                                     RoundName(cur->round, cur->attempt) +
                                     " is in progress (a ROUND_RESTART came first)");
  }
  if (cur->updates.count(e.signer())) {
    return Bad(R::kDuplicateUpdate, ctx + ": " + DescribeKey(e.signer()) +
                                        " already submitted its update for " +
                                        RoundName(cur->round, cur->attempt));
  }
  if (p.sample_count > acc->second.rows_read) {
    return Bad(R::kSamplesExceedRows, ctx + ": sample_count " + std::to_string(p.sample_count) +
                                          " exceeds the " + std::to_string(acc->second.rows_read) +
                                          " rows its DATA_ACCESS read");
  }
  return Verdict::Valid();
}

// ---- ROUND_AGGREGATE / ROUND_RESTART / TASK_COMPLETE (the aggregator's entries) ----

Verdict FederationState::FindAggregatorTask(const char* what, const Entry& e,
                                            const std::string& task_id, uint64_t t,
                                            const TaskRecord** out) const {
  if (Verdict v = FindOpenTask(what, task_id, t, true, out); !v) return v;
  if (e.signer() != (*out)->spec.aggregator) {
    return Bad(R::kNotAggregator, std::string(what) + " for task '" + task_id + "': signer " +
                                      DescribeKey(e.signer()) + " is not the task's aggregator " +
                                      DescribeKey((*out)->spec.aggregator));
  }
  return Verdict::Valid();
}

Verdict FederationState::CheckAggregate(const Entry& e, const RoundAggregatePayload& p,
                                        uint64_t t) const {
  const std::string ctx = For(EntryKind::kRoundAggregate, p.task_id);
  const TaskRecord* task = nullptr;
  if (Verdict v = FindAggregatorTask("ROUND_AGGREGATE", e, p.task_id, t, &task); !v) return v;
  const RoundProgress* cur = task->CurrentRound();
  if (cur == nullptr || cur->round != p.round) {
    return Bad(R::kWrongRound,
               ctx + ": round " + std::to_string(p.round) + " is not in progress" +
                   (cur ? " (the current round is " + std::to_string(cur->round) + ")"
                        : " (every round is aggregated)"));
  }
  std::string missing;
  for (const PubKey& m : cur->members) {
    if (!cur->updates.count(m)) missing += (missing.empty() ? "" : ", ") + DescribeKey(m);
  }
  if (!missing.empty()) {
    return Bad(R::kRoundIncomplete, ctx + ": " + RoundName(cur->round, cur->attempt) +
                                        " still waits for MODEL_UPDATE from " + missing +
                                        " (after the timeout, commit ROUND_RESTART)");
  }
  // Every member delivered, so the attempt's contributors are exactly its members.
  if (p.contributors != cur->members) {
    return Bad(R::kContributorsMismatch,
               ctx + ": lists " + std::to_string(p.contributors.size()) +
                   " contributors, but the contributors of " + RoundName(cur->round, cur->attempt) +
                   " are exactly its " + std::to_string(cur->members.size()) +
                   " members with a MODEL_UPDATE");
  }
  uint64_t total = 0;
  for (const auto& [k, u] : cur->updates) total += u.sample_count;
  if (p.total_samples != total) {
    return Bad(R::kTotalSamplesMismatch,
               ctx + ": total_samples " + std::to_string(p.total_samples) +
                   " is not the sum of the updates' sample counts " + std::to_string(total));
  }
  return Verdict::Valid();
}

Verdict FederationState::CheckRestart(const Entry& e, const RoundRestartPayload& p,
                                      uint64_t t) const {
  const std::string ctx = For(EntryKind::kRoundRestart, p.task_id);
  const TaskRecord* task = nullptr;
  if (Verdict v = FindAggregatorTask("ROUND_RESTART", e, p.task_id, t, &task); !v) return v;
  const RoundProgress* cur = task->CurrentRound();
  if (cur == nullptr || cur->round != p.round) {
    return Bad(R::kWrongRound, ctx + ": round " + std::to_string(p.round) + " is not in progress");
  }
  if (uint64_t{p.attempt} != uint64_t{cur->attempt} + 1) {
    return Bad(R::kWrongAttempt, ctx + ": attempt " + std::to_string(p.attempt) +
                                     " does not follow the current attempt " +
                                     std::to_string(cur->attempt));
  }
  // The drop set is exactly the members without a MODEL_UPDATE in this attempt. Dropping a
  // member that delivered is refused: an aggregator holding every masked update of the
  // attempt could sum them (all masks cancel), then drop one member and learn its update as
  // the difference of the two sums.
  for (const PubKey& d : p.dropped) {
    if (!cur->IsMember(d)) {
      return Bad(R::kBadDropSet, ctx + ": " + DescribeKey(d) + " is not a member of " +
                                     RoundName(cur->round, cur->attempt));
    }
    if (cur->updates.count(d)) {
      return Bad(R::kBadDropSet, ctx + ": " + DescribeKey(d) + " delivered its MODEL_UPDATE in " +
                                     RoundName(cur->round, cur->attempt) +
                                     " and cannot be dropped");
    }
  }
  for (const PubKey& m : cur->members) {
    if (!cur->updates.count(m) && !std::binary_search(p.dropped.begin(), p.dropped.end(), m)) {
      return Bad(R::kBadDropSet, ctx + ": " + DescribeKey(m) + " has no MODEL_UPDATE in " +
                                     RoundName(cur->round, cur->attempt) +
                                     " and must be dropped too");
    }
  }
  // (A block time before the attempt's start is never "timed out": no unsigned wrap-around.)
  if (t < cur->attempt_started_ms || t - cur->attempt_started_ms < task->spec.round_timeout_ms) {
    return Bad(R::kRoundNotTimedOut, ctx + ": " + RoundName(cur->round, cur->attempt) +
                                         " started at " + std::to_string(cur->attempt_started_ms) +
                                         " ms and times out after " +
                                         std::to_string(task->spec.round_timeout_ms) +
                                         " ms; block time is " + std::to_string(t) + " ms");
  }
  return Verdict::Valid();
}

Verdict FederationState::CheckComplete(const Entry& e, const TaskCompletePayload& p,
                                       uint64_t t) const {
  const std::string ctx = For(EntryKind::kTaskComplete, p.task_id);
  const TaskRecord* task = nullptr;
  if (Verdict v = FindAggregatorTask("TASK_COMPLETE", e, p.task_id, t, &task); !v) return v;
  if (!task->AllRoundsAggregated()) {
    size_t done = task->rounds.size() - (task->rounds.back().aggregate ? 0 : 1);
    return Bad(R::kRoundsNotFinished, ctx + ": " + std::to_string(done) + " of " +
                                          std::to_string(task->spec.rounds) +
                                          " rounds are aggregated");
  }
  if (p.rounds_completed != task->spec.rounds) {
    return Bad(R::kRoundsCompletedMismatch,
               ctx + ": rounds_completed " + std::to_string(p.rounds_completed) +
                   " differs from the spec's " + std::to_string(task->spec.rounds) + " rounds");
  }
  return Verdict::Valid();
}

// ---- transitions ----

void FederationState::ApplyImpl(const Entry& e, uint64_t t) {
  const PubKey& signer = e.signer();
  switch (e.kind()) {
    case EntryKind::kGenesis:
      std::abort();  // never valid
    case EntryKind::kDatasetRegister: {
      const auto& p = *e.As<DatasetRegisterPayload>();
      datasets_.InsertOrAssign(DatasetRecord{signer, p.dataset_id, p.content_hash, p.rows,
                                             p.schema, p.description, t, e.leaf_hash()});
      return;
    }
    case EntryKind::kTaskPropose: {
      const auto& p = *e.As<TaskProposePayload>();
      TaskRecord task;
      task.spec = p.spec;
      task.spec_hash = p.spec.Hash();
      task.proposer = signer;
      task.proposed_ms = t;
      tasks_.insert_or_assign(p.spec.task_id, std::move(task));
      return;
    }
    case EntryKind::kTaskApprove: {
      TaskRecord& task = MutableTask(e.As<TaskApprovePayload>()->task_id);
      task.approvals[signer] = t;
      if (task.approvals.size() == task.spec.participants.size()) {
        task.status = TaskStatus::kActive;
        task.activated_ms = t;
        RoundProgress r0;
        r0.round = 1;
        r0.started_ms = r0.attempt_started_ms = t;
        r0.members = task.RemainingParticipants();
        task.rounds.push_back(std::move(r0));
      }
      return;
    }
    case EntryKind::kTaskReject: {
      const auto& p = *e.As<TaskRejectPayload>();
      TaskRecord& task = MutableTask(p.task_id);
      task.status = TaskStatus::kRejected;
      task.closed_by = signer;
      task.close_reason = p.reason;
      task.closed_ms = t;
      return;
    }
    case EntryKind::kTaskRevoke: {
      const auto& p = *e.As<TaskRevokePayload>();
      TaskRecord& task = MutableTask(p.task_id);
      // The round in progress (if any) is rounds.back(), numbered rounds.size(); it keeps the
      // revoker as a member, who takes no part from the next round on.
      task.revocations[signer] = static_cast<uint32_t>(task.rounds.size()) + 1;
      if (task.RemainingParticipants().size() < 2) {
        task.status = TaskStatus::kRevoked;
        task.closed_by = signer;
        task.close_reason = p.reason;
        task.closed_ms = t;
      }
      return;
    }
    case EntryKind::kDataAccess: {
      const auto& p = *e.As<DataAccessPayload>();
      TaskRecord& task = MutableTask(p.task_id);
      task.rounds.back().accesses[signer] =
          DataAccessRecord{p.dataset_id, p.dataset_hash, p.rows_read, t, e.leaf_hash()};
      return;
    }
    case EntryKind::kModelUpdate: {
      const auto& p = *e.As<ModelUpdatePayload>();
      TaskRecord& task = MutableTask(p.task_id);
      task.rounds.back().updates[signer] =
          UpdateRecord{p.update_hash, p.sample_count, p.size_bytes, t, e.leaf_hash()};
      return;
    }
    case EntryKind::kRoundAggregate: {
      const auto& p = *e.As<RoundAggregatePayload>();
      TaskRecord& task = MutableTask(p.task_id);
      task.rounds.back().aggregate =
          AggregateRecord{p.aggregate_hash, p.contributors, p.total_samples, t, e.leaf_hash()};
      if (task.rounds.size() < task.spec.rounds) {
        RoundProgress next;
        next.round = static_cast<uint32_t>(task.rounds.size()) + 1;
        next.started_ms = next.attempt_started_ms = t;
        next.members = task.RemainingParticipants();  // >= 2, else the task was closed
        task.rounds.push_back(std::move(next));
      }
      return;
    }
    case EntryKind::kRoundRestart: {
      const auto& p = *e.As<RoundRestartPayload>();
      TaskRecord& task = MutableTask(p.task_id);
      RoundProgress& cur = task.rounds.back();
      RestartRecord rec{p.attempt, p.dropped, p.reason, t, std::move(cur.updates)};
      cur.updates.clear();
      cur.restarts.push_back(std::move(rec));
      std::vector<PubKey> kept;
      std::set_difference(cur.members.begin(), cur.members.end(), p.dropped.begin(),
                          p.dropped.end(), std::back_inserter(kept));
      cur.members = std::move(kept);
      cur.attempt = p.attempt;
      cur.attempt_started_ms = t;
      if (cur.members.size() < 2) {
        task.status = TaskStatus::kAborted;
        task.closed_by = signer;
        task.close_reason = "round " + std::to_string(cur.round) + " attempt " +
                            std::to_string(cur.attempt) + " has fewer than 2 members: " + p.reason;
        task.closed_ms = t;
      }
      return;
    }
    case EntryKind::kTaskComplete: {
      const auto& p = *e.As<TaskCompletePayload>();
      TaskRecord& task = MutableTask(p.task_id);
      task.status = TaskStatus::kCompleted;
      task.completed_ms = t;
      task.final_trunk_hash = p.final_trunk_hash;
      return;
    }
  }
}

}  // namespace fedledger::orchestrator
