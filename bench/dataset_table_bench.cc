// dataset_table_bench: what a validator's dataset table costs as it grows.
//
// Inserts --records datasets the way the consensus benchmark registers them (a few hundred
// owners, one new id per entry) and times every insert. Each doubling of the slot array is
// one insert that takes far longer than the rest; every validator makes it at the same
// height, so it is a pause of the whole cluster. Side by side at each doubling, the same
// slots rebuilt the way a table that reads its records does it (each record's key hashed
// again, records read in insertion order: one cache miss per record at best), and a fresh
// array of the new size allocated and filled (what a table that allocates its new array
// when it grows pays at that moment, before any rebuild). Medians of --reps tables built
// one after another.
//
//   dataset_table_bench [--records N] [--reps R]
#include <algorithm>
#include <bit>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "orchestrator/dataset_table.h"

namespace fedledger::orchestrator {
namespace {

using Clock = std::chrono::steady_clock;

double Ms(Clock::duration d) { return std::chrono::duration<double, std::milli>(d).count(); }

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.size() % 2 ? v[v.size() / 2] : (v[v.size() / 2 - 1] + v[v.size() / 2]) / 2;
}

// The slots of `t` rebuilt into an array of `size` from its records: every key hashed again.
double RebuildFromRecords(const DatasetTable& t, size_t size) {
  auto start = Clock::now();
  std::vector<uint64_t> slots(size, 0);
  const size_t mask = size - 1;
  const int shift = 32 - std::countr_zero(size);
  uint64_t index = 0;
  for (const DatasetRecord& r : t) {
    const uint64_t fp = DatasetTable::Hash(r.owner, r.dataset_id) >> 32;
    size_t i = fp >> shift;
    while (slots[i] != 0) i = (i + 1) & mask;
    slots[i] = (fp << 32) | ++index;
  }
  double ms = Ms(Clock::now() - start);
  if (slots[std::rand() % size] == 1) std::fputc(' ', stderr);  // keep the work
  return ms;
}

// A fresh array of `size` slots allocated and filled from one of half its size.
double FreshArray(size_t size) {
  std::vector<uint64_t> from(size / 2, 1);
  auto start = Clock::now();
  std::vector<uint64_t> to(size, 0);
  std::memcpy(to.data(), from.data(), from.size() * sizeof(uint64_t));
  std::memcpy(to.data() + from.size(), from.data(), from.size() * sizeof(uint64_t));
  double ms = Ms(Clock::now() - start);
  if (to[std::rand() % size] == 2) std::fputc(' ', stderr);
  return ms;
}

int Main(int argc, char** argv) {
  size_t records = size_t{1} << 20;
  int reps = 5;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--records" && i + 1 < argc) {
      records = std::strtoull(argv[++i], nullptr, 10);
    } else if (a == "--reps" && i + 1 < argc) {
      reps = std::atoi(argv[++i]);
    } else {
      std::fprintf(stderr, "usage: dataset_table_bench [--records N] [--reps R]\n");
      return 2;
    }
  }
  if (records < 1024 || reps < 1) {
    std::fprintf(stderr, "--records must be at least 1024 and --reps at least 1\n");
    return 2;
  }

  std::vector<PubKey> owners(300);
  std::mt19937_64 rng(1);
  for (PubKey& k : owners) {
    for (auto& b : k.v) b = static_cast<uint8_t>(rng());
  }
  // Per doubling (slot count after it): the growing insert, the rebuild from records, a fresh
  // array.
  std::map<size_t, std::vector<double>> grow, rebuild, fresh;
  std::vector<double> median_insert_us;
  for (int rep = 0; rep < reps; ++rep) {
    DatasetTable t;
    std::vector<double> insert_us;
    insert_us.reserve(records);
    size_t slots = 0;
    for (size_t i = 0; i < records; ++i) {
      DatasetRecord r;
      r.owner = owners[rng() % owners.size()];
      r.dataset_id = "bench-dataset-" + std::to_string(i);
      r.rows = i;
      r.schema = "ecfp6-2048:activity";
      r.description = "consensus benchmark dataset";
      const bool grows = (t.size() + 1) * 2 > slots;
      auto start = Clock::now();
      t.InsertOrAssign(std::move(r));
      auto took = Clock::now() - start;
      if (grows) {
        slots = slots == 0 ? 16 : slots * 2;
        if (slots >= 4096) {
          grow[slots].push_back(Ms(took));
          rebuild[slots].push_back(RebuildFromRecords(t, slots));
          fresh[slots].push_back(FreshArray(slots));
        }
      } else {
        insert_us.push_back(Ms(took) * 1000);
      }
    }
    median_insert_us.push_back(Median(insert_us));
  }

  std::printf("dataset_table_bench: %zu records, %d tables; medians of the tables, ms\n\n", records,
              reps);
  std::printf("| slots after | datasets | growth (ours) | rebuilt from records | fresh array | "
              "records / ours |\n|---|---|---|---|---|---|\n");
  for (const auto& [slots, g] : grow) {
    const double ours = Median(g), from_records = Median(rebuild[slots]);
    std::printf("| %zu | %zu | %.2f | %.2f | %.2f | %.1fx |\n", slots, slots / 4, ours,
                from_records, Median(fresh[slots]), from_records / ours);
  }
  std::printf("\nmedian insert that does not grow: %.3f us\n", Median(median_insert_us));
  return 0;
}

}  // namespace
}  // namespace fedledger::orchestrator

int main(int argc, char** argv) { return fedledger::orchestrator::Main(argc, argv); }
