// Scaffold-based assignment of compounds to bins (folds, or partners).
//
// Compounds with the same Bemis-Murcko scaffold form a group; every acyclic compound (empty
// scaffold) is a group of its own. Groups are shuffled with the seed, then stably sorted by
// size, largest first, and each group goes to the bin furthest below its target share
// (target_fraction * compounds assigned so far, counting the group). So large groups are
// dealt first, no scaffold crosses bins, and bins end close to their targets. Deterministic
// for a given seed and input order.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace fedledger::trainer {

// Returns the bin of each compound. REQUIRES: fractions non-empty, each > 0.
std::vector<int> AssignByScaffold(const std::vector<std::string>& scaffolds,
                                  const std::vector<double>& fractions, uint64_t seed);

struct FoldSplit {
  std::vector<size_t> train, valid, test;  // row indices, ascending
};

// Train / validation / test by scaffold, e.g. 0.8 / 0.1 / 0.1.
FoldSplit ScaffoldSplit(const std::vector<std::string>& scaffolds, double valid_fraction,
                        double test_fraction, uint64_t seed);

}  // namespace fedledger::trainer
