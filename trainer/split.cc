#include "trainer/split.h"

#include <algorithm>
#include <cassert>
#include <random>
#include <unordered_map>

namespace fedledger::trainer {

std::vector<int> AssignByScaffold(const std::vector<std::string>& scaffolds,
                                  const std::vector<double>& fractions, uint64_t seed) {
  assert(!fractions.empty());
  std::vector<std::vector<size_t>> groups;
  std::unordered_map<std::string, size_t> index;
  for (size_t i = 0; i < scaffolds.size(); ++i) {
    if (scaffolds[i].empty()) {
      groups.push_back({i});
      continue;
    }
    auto [it, fresh] = index.emplace(scaffolds[i], groups.size());
    if (fresh) groups.emplace_back();
    groups[it->second].push_back(i);
  }
  std::mt19937_64 rng(seed);
  std::shuffle(groups.begin(), groups.end(), rng);
  std::stable_sort(groups.begin(), groups.end(),
                   [](const auto& a, const auto& b) { return a.size() > b.size(); });
  double total_fraction = 0;
  for (double f : fractions) total_fraction += f;
  std::vector<double> count(fractions.size(), 0);
  std::vector<int> bin(scaffolds.size(), 0);
  double assigned = 0;
  for (const auto& g : groups) {
    const double after = assigned + static_cast<double>(g.size());
    size_t best = 0;
    double best_deficit = -1e300;
    for (size_t b = 0; b < fractions.size(); ++b) {
      const double deficit = fractions[b] / total_fraction * after - count[b];
      if (deficit > best_deficit) {
        best_deficit = deficit;
        best = b;
      }
    }
    for (size_t i : g) bin[i] = static_cast<int>(best);
    count[best] += static_cast<double>(g.size());
    assigned = after;
  }
  return bin;
}

FoldSplit ScaffoldSplit(const std::vector<std::string>& scaffolds, double valid_fraction,
                        double test_fraction, uint64_t seed) {
  const std::vector<int> bin = AssignByScaffold(
      scaffolds, {1.0 - valid_fraction - test_fraction, valid_fraction, test_fraction}, seed);
  FoldSplit s;
  for (size_t i = 0; i < bin.size(); ++i)
    (bin[i] == 0 ? s.train : bin[i] == 1 ? s.valid : s.test).push_back(i);
  return s;
}

}  // namespace fedledger::trainer
