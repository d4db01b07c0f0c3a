// Byzantine validators for the simulation: an Outbox wrapper in front of an honest core
// (STYLE rule 3: faults by wrapping interfaces, never `if (testing)` in production code).
#pragma once

#include <memory>

#include "consensus/consensus.h"
#include "sim.h"

namespace fedledger::consensus::sim {

std::unique_ptr<Outbox> MakeByzantineOutbox(Byzantine kind, SimNode* node, Simulation* sim);

}  // namespace fedledger::consensus::sim
