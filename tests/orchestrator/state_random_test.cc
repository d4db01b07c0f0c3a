// Seeded random histories: entries applied one by one and the same entries applied as blocks
// (through the copy-on-write overlay) must reach byte-identical states, and CheckBlock must
// never change the state. Prints its seed; FEDLEDGER_SEED=<n> replays one.
#include <catch2/catch.hpp>
#include <cstdlib>
#include <random>

#include "federation_fixture.inc"

namespace fedledger::orchestrator {
namespace {

using testing::Fed;

struct Generator {
  Fed& f;
  std::mt19937_64& rng;

  size_t Pick(size_t n) { return std::uniform_int_distribution<size_t>(0, n - 1)(rng); }
  bool Coin(double p) { return std::bernoulli_distribution(p)(rng); }
  const SecretKey& AnyKey() {
    const SecretKey* ks[] = {&f.alice, &f.bob, &f.carol, &f.dave, &f.op, &f.mallory};
    return *ks[Pick(6)];
  }
  std::string AnyTask() { return "t" + std::to_string(Pick(3)); }

  const SecretKey& KeyOf(const PubKey& pk) {
    for (const SecretKey* k : {&f.alice, &f.bob, &f.carol, &f.dave, &f.op, &f.mallory}) {
      if (k->pubkey() == pk) return *k;
    }
    FAIL("unknown key");
    return f.mallory;
  }

  // Mostly the entry that moves a random task forward; sometimes noise (Noise()).
  Entry Next() {
    if (Coin(0.25)) return Noise();
    const std::string id = AnyTask();
    const TaskRecord* task = f.state.FindTask(id);
    if (task == nullptr) {
      std::vector<const SecretKey*> parts = {&f.alice, &f.bob, &f.carol, &f.dave};
      std::shuffle(parts.begin(), parts.end(), rng);
      parts.resize(2 + Pick(3));
      return f.Make(*parts[0], TaskProposePayload{f.Spec(id, parts, 1 + Pick(3))});
    }
    const Participant& someone = task->spec.participants[Pick(task->spec.participants.size())];
    if (Coin(0.03)) return f.Make(KeyOf(someone.partner), TaskRevokePayload{id, "out"});
    if (task->status == TaskStatus::kProposed) {
      for (const Participant& p : task->spec.participants) {
        if (task->approvals.count(p.partner)) continue;
        if (Coin(0.03))
          return f.Make(KeyOf(p.partner), TaskRejectPayload{id, task->spec_hash, "no"});
        return f.Make(KeyOf(p.partner), TaskApprovePayload{id, task->spec_hash});
      }
    }
    const RoundProgress* cur = task->CurrentRound();
    if (cur == nullptr)
      return f.Make(f.op, TaskCompletePayload{id, task->spec.rounds, Fed::H("f")});
    std::vector<PubKey> missing;
    for (const PubKey& m : cur->members) {
      if (!cur->updates.count(m)) missing.push_back(m);
    }
    if (!missing.empty() && Coin(0.15)) {
      return f.Make(f.op, RoundRestartPayload{id, cur->round, cur->attempt + 1, missing, "late"});
    }
    for (const PubKey& m : missing) {
      const SecretKey& k = KeyOf(m);
      if (!cur->accesses.count(m)) return f.Make(k, f.Access(k, id, cur->round, 500));
      return f.Make(k, f.Update(k, id, cur->round, 100 + Pick(400)));
    }
    uint64_t total = 0;
    for (const auto& [key, u] : cur->updates) total += u.sample_count;
    return f.Make(f.op, RoundAggregatePayload{id, cur->round, Fed::H("agg"), cur->members, total});
  }

  // An entry that is valid with some probability given the current state.
  Entry Noise() {
    const std::string id = AnyTask();
    const TaskRecord* task = f.state.FindTask(id);
    const RoundProgress* cur = task ? task->CurrentRound() : nullptr;
    const uint32_t round = cur ? cur->round + (Coin(0.1) ? 1 : 0) : 1 + Pick(3);
    const SecretKey& k = AnyKey();
    switch (Pick(10)) {
      case 0: {
        std::vector<const SecretKey*> parts = {&f.alice, &f.bob, &f.carol, &f.dave};
        std::shuffle(parts.begin(), parts.end(), rng);
        parts.resize(2 + Pick(3));
        return f.Make(k, TaskProposePayload{f.Spec(id, parts, 1 + Pick(3))});
      }
      case 1:
      case 2: {
        Hash32 h = task && Coin(0.9) ? task->spec_hash : Fed::H("wrong");
        if (Coin(0.1)) return f.Make(k, TaskRejectPayload{id, h, "no"});
        return f.Make(k, TaskApprovePayload{id, h});
      }
      case 3:
        return f.Make(k, TaskRevokePayload{id, "out"});
      case 4:
      case 5:
        return f.Make(k, f.Access(k, id, round, Coin(0.95) ? 500 : 5000));
      case 6:
        return f.Make(k, f.Update(k, id, round, Coin(0.95) ? 400 : 600));
      case 7: {
        std::vector<PubKey> members = cur ? cur->members : std::vector<PubKey>{};
        uint64_t total = 0;
        if (cur) {
          for (const auto& [key, u] : cur->updates) total += u.sample_count;
        }
        if (members.empty()) members = Fed::Keys({&f.alice, &f.bob});
        return f.Make(Coin(0.9) ? f.op : k,
                      RoundAggregatePayload{id, round, Fed::H("agg"), members, total ? total : 1});
      }
      case 8: {
        std::vector<PubKey> dropped;
        if (cur) {
          for (const PubKey& m : cur->members) {
            if (!cur->updates.count(m)) dropped.push_back(m);
          }
        }
        if (dropped.empty()) dropped = Fed::Keys({&f.carol});
        uint32_t attempt = cur ? cur->attempt + 1 : 1;
        return f.Make(Coin(0.9) ? f.op : k,
                      RoundRestartPayload{id, round, attempt, dropped, "late"});
      }
      default: {
        uint32_t rounds = task ? task->spec.rounds : 1;
        return f.Make(Coin(0.9) ? f.op : k, TaskCompletePayload{id, rounds, Fed::H("final")});
      }
    }
  }
};

uint64_t SeedFromEnv() {
  if (const char* s = std::getenv("FEDLEDGER_SEED")) return std::strtoull(s, nullptr, 10);
  return std::random_device{}();
}

TEST_CASE("one-by-one and block-wise application reach identical states", "[state][random]") {
  const uint64_t seed = SeedFromEnv();
  std::printf("state_random_test seed: %llu (FEDLEDGER_SEED=%llu replays it)\n",
              static_cast<unsigned long long>(seed), static_cast<unsigned long long>(seed));
  INFO("seed " << seed);
  std::map<TaskStatus, int> seen;
  size_t aggregates = 0, total_valid = 0;
  for (int history = 0; history < 20; ++history) {
    std::mt19937_64 rng(seed + history);
    Fed a;  // applies entry by entry
    Fed b;  // applies the valid entries as blocks
    a.RegisterAll();
    b.RegisterAll();
    Generator gen{a, rng};
    size_t valid = 0;
    for (int block = 0; block < 60; ++block) {
      a.now += std::uniform_int_distribution<uint64_t>(1, testing::kRoundTimeout / 2)(rng);
      std::vector<Entry> committed;
      const int n = static_cast<int>(gen.Pick(6));
      for (int i = 0; i < n; ++i) {
        Entry e = gen.Next();
        if (a.state.CheckAndApply(e, a.now).valid()) {
          aggregates += e.kind() == EntryKind::kRoundAggregate;
          committed.push_back(std::move(e));
        }
      }
      REQUIRE(a.state.ApplyBlock({}, a.now).valid());  // the block's time, as ApplyBlock sets it
      valid += committed.size();
      const Hash32 before = b.state.SnapshotHash();
      BlockVerdict check = b.state.CheckBlock(committed, a.now);
      INFO(check.ToString());
      REQUIRE(check.valid());
      REQUIRE(b.state.SnapshotHash() == before);
      REQUIRE(b.state.ApplyBlock(committed, a.now).valid());
      REQUIRE(b.state.Snapshot() == a.state.Snapshot());
    }
    for (const TaskRecord* t : a.state.Tasks()) ++seen[a.state.StatusOf(*t)];
    total_valid += valid;
  }
  std::printf("state_random_test: %zu aggregates;", aggregates);
  for (const auto& [st, n] : seen) std::printf(" %s %d", TaskStatusName(st), n);
  std::printf(" (%zu valid entries)\n", total_valid);
  // The histories reach deep into lifecycles, not just proposals.
  CHECK(aggregates > 0);
  CHECK(seen[TaskStatus::kCompleted] > 0);
}

}  // namespace
}  // namespace fedledger::orchestrator
