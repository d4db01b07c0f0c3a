#include "orchestrator/views.h"

#include "ledger/describe.h"

namespace fedledger::orchestrator {
namespace {

using nlohmann::json;

json Key(const KeyNames& names, const PubKey& k) {
  return {{"name", names.Name(k)}, {"key", k.Hex()}};
}

json Time(uint64_t ms) { return {{"ms", ms}, {"utc", FormatTimeMs(ms)}}; }

json Keys(const KeyNames& names, const std::vector<PubKey>& keys) {
  json a = json::array();
  for (const PubKey& k : keys) a.push_back(Key(names, k));
  return a;
}

json Updates(const KeyNames& names, const std::map<PubKey, UpdateRecord>& updates) {
  json a = json::array();
  for (const auto& [k, u] : updates) {
    a.push_back({{"by", Key(names, k)},
                 {"update_hash", u.update_hash.Hex()},
                 {"sample_count", u.sample_count},
                 {"size_bytes", u.size_bytes},
                 {"at", Time(u.time_ms)},
                 {"entry", u.entry_id.Hex()}});
  }
  return a;
}

json Round(const KeyNames& names, const RoundProgress& r) {
  json accesses = json::array();
  for (const auto& [k, a] : r.accesses) {
    accesses.push_back({{"by", Key(names, k)},
                        {"dataset_id", a.dataset_id},
                        {"dataset_hash", a.dataset_hash.Hex()},
                        {"rows_read", a.rows_read},
                        {"at", Time(a.time_ms)},
                        {"entry", a.entry_id.Hex()}});
  }
  json restarts = json::array();
  for (const RestartRecord& rs : r.restarts) {
    restarts.push_back({{"attempt", rs.attempt},
                        {"dropped", Keys(names, rs.dropped)},
                        {"reason", rs.reason},
                        {"at", Time(rs.time_ms)},
                        {"discarded_updates", Updates(names, rs.discarded_updates)}});
  }
  json aggregate = nullptr;
  if (r.aggregate) {
    aggregate = {{"aggregate_hash", r.aggregate->aggregate_hash.Hex()},
                 {"contributors", Keys(names, r.aggregate->contributors)},
                 {"total_samples", r.aggregate->total_samples},
                 {"at", Time(r.aggregate->time_ms)},
                 {"entry", r.aggregate->entry_id.Hex()}};
  }
  return {{"round", r.round},
          {"attempt", r.attempt},
          {"started", Time(r.started_ms)},
          {"attempt_started", Time(r.attempt_started_ms)},
          {"members", Keys(names, r.members)},
          {"data_accesses", accesses},
          {"updates", Updates(names, r.updates)},
          {"restarts", restarts},
          {"aggregate", aggregate}};
}

}  // namespace

json TaskSummaryJson(const FederationState& state, const TaskRecord& task) {
  KeyNames names(state.genesis());
  const RoundProgress* cur = task.CurrentRound();
  return {{"task_id", task.spec.task_id},
          {"title", task.spec.title},
          {"status", TaskStatusName(state.StatusOf(task))},
          {"spec_hash", task.spec_hash.Hex()},
          {"proposer", Key(names, task.proposer)},
          {"proposed", Time(task.proposed_ms)},
          {"participant_count", task.spec.participants.size()},
          {"approval_count", task.approvals.size()},
          {"rounds", task.spec.rounds},
          {"current_round", cur ? json(cur->round) : json(nullptr)},
          {"attempt", cur ? json(cur->attempt) : json(nullptr)}};
}

json TaskJson(const FederationState& state, const TaskRecord& task) {
  KeyNames names(state.genesis());
  json j = TaskSummaryJson(state, task);
  j["spec"] = PayloadToJson(TaskProposePayload{task.spec});
  j["aggregator"] = Key(names, task.spec.aggregator);
  json parts = json::array();
  for (const Participant& p : task.spec.participants) {
    json e = Key(names, p.partner);
    e["dataset_id"] = p.dataset_id;
    auto ap = task.approvals.find(p.partner);
    e["approved"] = ap == task.approvals.end() ? json(nullptr) : Time(ap->second);
    auto rv = task.revocations.find(p.partner);
    e["revoked_from_round"] = rv == task.revocations.end() ? json(nullptr) : json(rv->second);
    parts.push_back(std::move(e));
  }
  j["participants"] = std::move(parts);
  j["closed_by"] = task.closed_by ? Key(names, *task.closed_by) : json(nullptr);
  j["close_reason"] = task.close_reason;
  j["activated"] = task.activated_ms ? Time(task.activated_ms) : json(nullptr);
  j["completed"] = task.completed_ms ? Time(task.completed_ms) : json(nullptr);
  j["final_trunk_hash"] =
      task.final_trunk_hash ? json(task.final_trunk_hash->Hex()) : json(nullptr);
  j["max_total_samples"] = state.MaxTotalSamples(task);
  json rounds = json::array();
  for (const RoundProgress& r : task.rounds) rounds.push_back(Round(names, r));
  j["round_progress"] = std::move(rounds);
  return j;
}

json DatasetJson(const FederationState& state, const DatasetRecord& d) {
  KeyNames names(state.genesis());
  return {{"owner", names.Name(d.owner)},
          {"owner_key", d.owner.Hex()},
          {"dataset_id", d.dataset_id},
          {"content_hash", d.content_hash.Hex()},
          {"rows", d.rows},
          {"schema", d.schema},
          {"description", d.description},
          {"registered", Time(d.registered_ms)},
          {"entry", d.entry_id.Hex()}};
}

json TaskListJson(const FederationState& state) {
  json a = json::array();
  for (const TaskRecord* t : state.Tasks()) a.push_back(TaskSummaryJson(state, *t));
  return a;
}

json DatasetListJson(const FederationState& state) {
  json a = json::array();
  for (const DatasetRecord* d : state.Datasets()) a.push_back(DatasetJson(state, *d));
  return a;
}

}  // namespace fedledger::orchestrator
