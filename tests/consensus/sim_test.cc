// Seeded multi-validator simulations: safety on every run, liveness once the network heals.
//
// Replay one schedule:  FEDLEDGER_SEED=1234 ./fedledger_consensus_tests "[sim]"
// More or fewer schedules: FEDLEDGER_SCHEDULES=5000 (default 1000), starting at
// FEDLEDGER_FIRST_SEED (default 1).
#include "sim.h"

#include <catch2/catch.hpp>
#include <chrono>
#include <cstdlib>
#include <ctime>
#include <iostream>
#include <random>

namespace fedledger::consensus::sim {
namespace {

enum class Scenario {
  kHonest = 0,
  kLossy,
  kPartition,
  kCrashed,
  kCrashRestart,
  kByzantine,
  kCount,
};

const char* ScenarioName(Scenario s) {
  switch (s) {
    case Scenario::kHonest:
      return "all-honest";
    case Scenario::kLossy:
      return "loss-delay-reorder";
    case Scenario::kPartition:
      return "partition-heal";
    case Scenario::kCrashed:
      return "f-crashed";
    case Scenario::kCrashRestart:
      return "crash-restart-catch-up";
    case Scenario::kByzantine:
      return "f-byzantine";
    case Scenario::kCount:
      break;
  }
  return "?";
}

struct Outcome {
  bool ok = false;
  std::string scenario;
  std::string detail;
  ConsensusStats total;  // summed over honest nodes that are up at the end
  uint64_t submitted = 0;
  uint64_t undecodable = 0;
  uint64_t max_signature_checks = 0;  // entry signatures verified by one honest node
};

constexpr uint64_t kHeights = 3;          // heights to decide after the network heals
constexpr uint64_t kSimLimitMs = 240000;  // simulated time limit per schedule

Outcome RunSchedule(uint64_t seed, std::optional<Scenario> force = std::nullopt,
                    std::optional<Byzantine> force_byz = std::nullopt,
                    std::optional<uint64_t> max_delay_ms = std::nullopt) {
  std::mt19937_64 pick(seed ^ 0x9E3779B97F4A7C15ull);
  auto uniform = [&](uint64_t lo, uint64_t hi) {
    return std::uniform_int_distribution<uint64_t>(lo, hi)(pick);
  };
  Scenario sc =
      force ? *force : static_cast<Scenario>(seed % static_cast<uint64_t>(Scenario::kCount));
  SimOptions o;
  o.seed = seed;
  o.validators = uniform(0, 4) == 0 ? 7 : 4;
  o.min_delay_ms = 1;
  o.max_delay_ms = uniform(2, 30);
  if (max_delay_ms) o.max_delay_ms = *max_delay_ms;
  o.load_interval_ms = uniform(8, 30);
  Simulation sim(o);
  const size_t n = o.validators;
  const size_t f = (n - 1) / 3;
  std::string detail;

  // Distinct random victims.
  std::vector<size_t> order(n);
  for (size_t i = 0; i < n; ++i) order[i] = i;
  std::shuffle(order.begin(), order.end(), pick);
  std::vector<size_t> victims(order.begin(), order.begin() + f);

  if (sc == Scenario::kByzantine) {
    for (size_t v : victims) {
      Byzantine b = force_byz ? *force_byz : static_cast<Byzantine>(uniform(1, 5));
      sim.node(v).SetByzantine(b);
      detail += std::string(" v") + std::to_string(v) + "=" + ByzantineName(b);
    }
  }
  sim.Start();
  sim.SetLoad(true);

  uint64_t heal_at = 0;
  switch (sc) {
    case Scenario::kHonest:
    case Scenario::kByzantine:
      break;
    case Scenario::kLossy: {
      double loss = 0.05 * static_cast<double>(uniform(1, 8));
      sim.SetLoss(loss);
      heal_at = uniform(100, 1000);
      sim.At(heal_at, [&sim] { sim.SetLoss(0); });
      detail += " loss=" + std::to_string(loss);
      break;
    }
    case Scenario::kPartition: {
      std::vector<int> groups(n);
      for (size_t i = 0; i < n; ++i) groups[i] = static_cast<int>(uniform(0, 1));
      uint64_t start = uniform(0, 300);
      heal_at = start + uniform(100, 1500);
      sim.At(start, [&sim, groups] { sim.Partition(groups); });
      sim.At(heal_at, [&sim] { sim.Heal(); });
      detail += " partition@" + std::to_string(start) + " groups=";
      for (int g : groups) detail += std::to_string(g);
      break;
    }
    case Scenario::kCrashed:
    case Scenario::kCrashRestart: {
      for (size_t v : victims) {
        uint64_t at = uniform(0, 600);
        // Half the crashes are power cuts, which lose the signer's unsynced records.
        bool power = uniform(0, 1) == 1;
        sim.At(at, [&sim, v, power] { sim.node(v).Crash(power); });
        detail += std::string(power ? " power-cut v" : " crash v") + std::to_string(v) + "@" +
                  std::to_string(at);
        if (sc == Scenario::kCrashRestart) {
          uint64_t back = at + uniform(50, 800);
          heal_at = std::max(heal_at, back);
          sim.At(back, [&sim, v] {
            Status s = sim.node(v).Boot();
            if (!s.ok()) sim.Fail("restart v" + std::to_string(v) + ": " + s.ToString());
          });
          detail += "..restart@" + std::to_string(back);
        }
      }
      break;
    }
    case Scenario::kCount:
      break;
  }

  // Liveness: once the network is healed, every honest validator that is up reaches at least
  // kHeights more heights than the best one had at the heal.
  sim.RunUntil([] { return false; }, heal_at);
  bool healed_ok = sim.failures().empty();
  uint64_t best = 0;
  for (size_t i = 0; i < n; ++i) {
    if (sim.node(i).up()) best = std::max(best, sim.node(i).store_height());
  }
  uint64_t target = best + kHeights;
  bool live =
      healed_ok && sim.RunUntil([&] { return sim.MinHonestHeight() >= target; }, kSimLimitMs);
  sim.SetLoad(false);
  sim.CheckStoresAgree();

  Outcome out;
  out.scenario = ScenarioName(sc);
  out.ok = live && sim.failures().empty();
  out.detail = "n=" + std::to_string(n) + " delay<=" + std::to_string(o.max_delay_ms) + detail +
               " target=" + std::to_string(target) + "\n" + sim.Describe();
  for (size_t i = 0; i < n; ++i) {
    if (!sim.node(i).honest() || !sim.node(i).up()) continue;
    const ConsensusStats& s = sim.node(i).core()->stats();
    out.total.commits += s.commits;
    out.total.synced_blocks += s.synced_blocks;
    out.total.timeouts += s.timeouts;
    out.total.equivocations += s.equivocations;
    out.total.rejected_messages += s.rejected_messages;
    out.total.invalid_proposals += s.invalid_proposals;
    out.max_signature_checks =
        std::max(out.max_signature_checks,
                 s.block_signature_checks + sim.node(i).core()->mempool().signature_checks());
  }
  out.submitted = sim.entries_submitted();
  out.undecodable = sim.undecodable();
  return out;
}

uint64_t EnvU64(const char* name, uint64_t fallback) {
  const char* v = std::getenv(name);
  return v ? std::strtoull(v, nullptr, 10) : fallback;
}

}  // namespace

TEST_CASE("sim: seeded random schedules keep safety and liveness", "[sim]") {
  const char* one = std::getenv("FEDLEDGER_SEED");
  uint64_t first = one ? std::strtoull(one, nullptr, 10) : EnvU64("FEDLEDGER_FIRST_SEED", 1);
  uint64_t count = one ? 1 : EnvU64("FEDLEDGER_SCHEDULES", 1000);
  auto t0 = std::chrono::steady_clock::now();
  std::map<std::string, int> per_scenario;
  for (uint64_t seed = first; seed < first + count; ++seed) {
    Outcome out = RunSchedule(seed);
    ++per_scenario[out.scenario];
    if (!out.ok || one) {
      std::cerr << "schedule seed=" << seed << " scenario=" << out.scenario << " "
                << (out.ok ? "ok" : "FAILED") << " " << out.detail << "\n";
    }
    if (!out.ok) {
      FAIL("schedule failed; replay with FEDLEDGER_SEED=" << seed << " (scenario " << out.scenario
                                                          << ")");
    }
  }
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::cerr << "sim: " << count << " schedules in " << secs << " s:";
  for (auto& [name, c] : per_scenario) std::cerr << " " << name << "=" << c;
  std::cerr << "\n";
}

TEST_CASE("sim: all honest validators commit without any timeout", "[sim]") {
  // Delays well below the timeouts: the happy path must never wait for a timer, and each
  // validator verifies each entry signature at most once.
  for (uint64_t seed = 1; seed <= 8; ++seed) {
    Outcome out = RunSchedule(seed, Scenario::kHonest, std::nullopt, /*max_delay_ms=*/8);
    INFO(out.detail);
    REQUIRE(out.ok);
    CHECK(out.total.timeouts == 0);
    CHECK(out.total.commits > 0);
    CHECK(out.max_signature_checks <= out.submitted);
  }
}

TEST_CASE("sim: each Byzantine behaviour is seen and survived", "[sim]") {
  for (Byzantine b : {Byzantine::kEquivocatingProposer, Byzantine::kDoubleVoter,
                      Byzantine::kBadSignatures, Byzantine::kWrongHeights, Byzantine::kFlooder}) {
    for (uint64_t seed = 100; seed < 104; ++seed) {
      Outcome out = RunSchedule(seed, Scenario::kByzantine, b);
      INFO(ByzantineName(b) << " seed " << seed << ": " << out.detail);
      REQUIRE(out.ok);
      // The equivocating proposer sends each peer one consistent version, so only safety
      // shows it; the others leave traces in every run.
      if (b == Byzantine::kDoubleVoter) CHECK(out.total.equivocations > 0);
      if (b == Byzantine::kBadSignatures || b == Byzantine::kWrongHeights) {
        CHECK(out.total.rejected_messages > 0);
      }
      if (b == Byzantine::kBadSignatures || b == Byzantine::kFlooder) CHECK(out.undecodable > 0);
    }
  }
}

TEST_CASE("sim: a crashed validator restarts and catches up from its peers", "[sim]") {
  for (uint64_t seed = 200; seed < 206; ++seed) {
    Outcome out = RunSchedule(seed, Scenario::kCrashRestart);
    INFO(out.detail);
    REQUIRE(out.ok);
  }
}

}  // namespace fedledger::consensus::sim

namespace fedledger::consensus::sim {

// Not part of the normal suite: how many entries per CPU second 4 in-process validators
// commit (every entry verified by each of the 4), and how the CPU splits.
TEST_CASE("sim: throughput of 4 validators in one process", "[.bench]") {
  SimOptions o;
  o.validators = 4;
  o.min_delay_ms = 1;
  o.max_delay_ms = 2;
  o.clients = 64;
  o.load_interval_ms = 1;
  o.load_batch = static_cast<size_t>(EnvU64("FEDLEDGER_BENCH_BATCH", 10));
  o.consensus.max_block_entries = 2000;
  o.consensus.timeouts = TimeoutOptions{};
  Simulation sim(o);
  // Sign the entries before timing.
  {
    Simulation warm(o);
    warm.Start();
    warm.SetLoad(true);
    warm.RunUntil([] { return false; }, 2000);
  }
  sim.Start();
  sim.SetLoad(true);
  auto t0 = std::chrono::steady_clock::now();
  std::clock_t c0 = std::clock();
  sim.RunUntil([] { return false; }, 2000);
  double cpu = static_cast<double>(std::clock() - c0) / CLOCKS_PER_SEC;
  double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  uint64_t committed = sim.node(0).store()->log_size() - 1;
  std::cerr << "bench: submitted=" << sim.entries_submitted() << " committed=" << committed
            << " heights=" << sim.node(0).store_height() << " cpu=" << cpu << "s wall=" << wall
            << "s => " << committed / cpu << " entries per CPU second (4 validators)\n"
            << sim.Describe() << "\n";
  REQUIRE(sim.failures().empty());
  CHECK(committed > 0);
}

}  // namespace fedledger::consensus::sim
