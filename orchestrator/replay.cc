#include "orchestrator/replay.h"

#include <algorithm>

namespace fedledger::orchestrator {

Result<FederationState> ReplayStore(const Store& store, uint64_t up_to_height) {
  FL_ASSIGN(Block genesis, store.GetBlock(0));
  if (genesis.entries.size() != 1) {
    return Status::Corruption("block 0: expected exactly one GENESIS entry, found " +
                              std::to_string(genesis.entries.size()));
  }
  FL_ASSIGN(FederationState state, FederationState::FromGenesis(genesis.entries[0]));
  const uint64_t last = std::min(up_to_height, store.height());
  for (uint64_t h = 1; h <= last; ++h) {
    FL_ASSIGN(Block block, store.GetBlock(h));
    BlockVerdict v = state.ApplyBlock(block.entries, block.header.time_ms);
    if (!v.valid()) {
      return Status::Corruption("block " + std::to_string(h) + " entry " + std::to_string(v.index) +
                                " (" + EntryKindName(block.entries[v.index].kind()) +
                                ") breaks the orchestrator rules: " + v.verdict.ToString());
    }
  }
  return state;
}

}  // namespace fedledger::orchestrator
