#include <catch2/catch.hpp>
#include <map>
#include <set>

#include "trainer/split.h"

using namespace fedledger::trainer;

namespace {
std::vector<std::string> Scaffolds() {
  std::vector<std::string> s;
  for (int i = 0; i < 300; ++i) s.push_back("big");              // one large group
  for (int g = 0; g < 100; ++g)
    for (int k = 0; k < 1 + g % 5; ++k) s.push_back("s" + std::to_string(g));
  for (int i = 0; i < 200; ++i) s.push_back("");                 // acyclic: one group each
  return s;
}
}  // namespace

TEST_CASE("scaffold assignment keeps groups together and is seeded", "[split]") {
  const auto s = Scaffolds();
  const auto a = AssignByScaffold(s, {0.8, 0.1, 0.1}, 1);
  CHECK(a == AssignByScaffold(s, {0.8, 0.1, 0.1}, 1));
  CHECK(a != AssignByScaffold(s, {0.8, 0.1, 0.1}, 2));
  std::map<std::string, std::set<int>> bins_of;
  std::vector<size_t> count(3, 0);
  for (size_t i = 0; i < s.size(); ++i) {
    if (!s[i].empty()) bins_of[s[i]].insert(a[i]);
    ++count[a[i]];
  }
  for (auto& [scaffold, bins] : bins_of) CHECK(bins.size() == 1);
  CHECK(a[0] == 0);  // the large group is dealt first, to the largest bin
  const double n = static_cast<double>(s.size());
  CHECK(count[0] / n == Approx(0.8).margin(0.02));
  CHECK(count[1] / n == Approx(0.1).margin(0.02));
  CHECK(count[2] / n == Approx(0.1).margin(0.02));
  // Acyclic compounds are spread over bins, not kept together.
  std::set<int> acyclic_bins;
  for (size_t i = 0; i < s.size(); ++i)
    if (s[i].empty()) acyclic_bins.insert(a[i]);
  CHECK(acyclic_bins.size() == 3);
}

TEST_CASE("train/valid/test split partitions the rows", "[split]") {
  const auto s = Scaffolds();
  FoldSplit f = ScaffoldSplit(s, 0.1, 0.1, 3);
  CHECK(f.train.size() + f.valid.size() + f.test.size() == s.size());
  std::set<size_t> all(f.train.begin(), f.train.end());
  all.insert(f.valid.begin(), f.valid.end());
  all.insert(f.test.begin(), f.test.end());
  CHECK(all.size() == s.size());
}
