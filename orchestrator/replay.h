// Rebuilding FederationState from a ledger store: the genesis, then every committed block in
// height order through ApplyBlock. A validator does this at start-up (the state is not
// persisted; the ledger is the source of truth), and an auditor does it to check that every
// committed entry obeys the orchestrator's rules.
#pragma once

#include <cstdint>

#include "ledger/status.h"
#include "ledger/store.h"
#include "orchestrator/state.h"

namespace fedledger::orchestrator {

// Replays blocks 1..min(up_to_height, store.height()). Corruption naming the height, the
// entry index within the block, its kind and the verdict if a committed block breaks a rule
// (an invalid entry reached the ledger); other store errors are passed through.
Result<FederationState> ReplayStore(const Store& store, uint64_t up_to_height = UINT64_MAX);

}  // namespace fedledger::orchestrator
