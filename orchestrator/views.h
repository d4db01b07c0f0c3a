// JSON views of FederationState, shared by `fedledger task list/show`, `fedledger dataset
// list` and the HTTP API, so that every client shows the same thing. Keys are named by their
// genesis names where they have one ("alice") and always given in hex as well; times are
// milliseconds plus RFC 3339 text. The field names are a contract for API clients: add fields,
// never rename them.
#pragma once

#include <nlohmann/json.hpp>

#include "orchestrator/state.h"

namespace fedledger::orchestrator {

// {task_id, title, status, spec_hash, proposer, proposed, participant_count, approval_count,
//  rounds, current_round (null unless a round is in progress), attempt}
nlohmann::json TaskSummaryJson(const FederationState& state, const TaskRecord& task);

// The summary plus: spec (every field of the TASK_PROPOSE payload, readable), aggregator,
// participants [{name, key, dataset_id, approved, revoked_from_round}], closed_by,
// close_reason, activated, completed, final_trunk_hash, max_total_samples and round_progress
// [{round, attempt, started, attempt_started,
// members, data_accesses, updates, restarts, aggregate}].
nlohmann::json TaskJson(const FederationState& state, const TaskRecord& task);

// {owner, owner_key, dataset_id, content_hash, rows, schema, description, registered}
nlohmann::json DatasetJson(const FederationState& state, const DatasetRecord& dataset);

// Arrays over the whole state, sorted as Tasks() and Datasets() are.
nlohmann::json TaskListJson(const FederationState& state);
nlohmann::json DatasetListJson(const FederationState& state);

}  // namespace fedledger::orchestrator
