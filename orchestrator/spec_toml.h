// The task spec file that `fedledger task propose --spec FILE.toml` reads, turned into the
// TaskSpec of a TASK_PROPOSE entry. The format (also in docs/TASKS.md):
//
//   task_id = "tox21-demo"              # required, an identifier (<= 64 bytes)
//   title = "Tox21 multitask"           # required
//   description = "..."                 # optional
//   model = "mlp-trunk"                 # required: the model family the trainer builds
//   rounds = 3                          # required, >= 1
//   round_timeout_ms = 600000           # required: a round's members deliver within this
//   expires_at = "2026-11-24T18:00:00Z" # optional (RFC 3339, a date, or ms since the epoch);
//   expires_in_minutes = 1440           #   or this; neither: 24 hours after `now`
//   aggregator = "validator-3"          # required: a genesis member's name or a 64-hex key
//
//   [[participants]]                    # >= 2, each once
//   partner = "partner-0"               # a genesis partner's name or a 64-hex key
//   dataset = "shard-0"                 # the dataset id it registered and will read
//
//   [settings]                          # optional training settings, copied into the spec as
//   hidden = "1024"                     # text: strings as written, integers and booleans as
//   lr = 0.001                          # decimal text / true / false, floats as the shortest
//                                       # decimal text that reads back to the same double
//
// Participants are stored sorted by key, settings by name (the canonical order of the
// encoding), so the spec hash does not depend on the order in the file. Unknown keys are
// errors naming the key: a typo must never silently drop a setting the partners approve.
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include "ledger/entry.h"
#include "ledger/status.h"

namespace fedledger::orchestrator {

// Resolves a member name or a 64-hex-digit key to a key; NotFound (or InvalidArgument) naming
// the input otherwise. KeyNames::Resolve fits.
using KeyResolver = std::function<Result<PubKey>(const std::string&)>;

// Parses `toml_text` (from `source`, used in messages) into a TaskSpec that passes
// TaskSpec::Validate(). `now_ms` is used only for the default expiry. InvalidArgument naming
// the key and the problem ("spec.toml: participants[1].partner: no member 'partner-9'").
Result<TaskSpec> ParseTaskSpecToml(const std::string& toml_text, const std::string& source,
                                   const KeyResolver& resolve, uint64_t now_ms);

}  // namespace fedledger::orchestrator
