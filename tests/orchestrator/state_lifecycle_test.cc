// Valid lifecycles of FederationState: a 3-partner task through its rounds, revocation from
// the next round, dropout and restart, block-level sequential checks, snapshots.
#include <catch2/catch.hpp>

#include "federation_fixture.inc"

namespace fedledger::orchestrator {
namespace {

using testing::Fed;
const std::string kT = "tox21-demo";

TEST_CASE("a 3-partner task runs from proposal through its rounds to completion", "[state]") {
  Fed f;
  f.RegisterAll();
  REQUIRE(f.state.Datasets().size() == 4);
  const DatasetRecord* ds = f.state.FindDataset(f.bob.pubkey(), Fed::Ds(f.bob));
  REQUIRE(ds != nullptr);
  CHECK(ds->rows == Fed::kRows);
  CHECK(ds->content_hash == Fed::DsHash(f.bob));

  TaskSpec spec = f.Spec(kT, f.Three(), 3);
  f.Ok(f.alice, TaskProposePayload{spec});
  const TaskRecord* task = f.state.FindTask(kT);
  REQUIRE(task != nullptr);
  CHECK(task->spec == spec);
  CHECK(task->spec_hash == spec.Hash());
  CHECK(task->proposer == f.alice.pubkey());
  CHECK(f.state.StatusOf(*task) == TaskStatus::kProposed);
  CHECK(f.state.MaxTotalSamples(*task) == 3 * Fed::kRows);

  // Not active until the last approval is committed; the trainer gate stays shut.
  f.Ok(f.carol, TaskApprovePayload{kT, spec.Hash()});
  f.Ok(f.alice, TaskApprovePayload{kT, spec.Hash()});
  task = f.state.FindTask(kT);
  CHECK(task->approvals.size() == 2);
  CHECK(f.state.StatusOf(*task) == TaskStatus::kProposed);
  CHECK(f.state.MayReadData(kT, 1, f.alice.pubkey()).reason() == RejectReason::kTaskNotActive);
  f.now += 10;
  f.Ok(f.bob, TaskApprovePayload{kT, spec.Hash()});
  task = f.state.FindTask(kT);
  CHECK(f.state.StatusOf(*task) == TaskStatus::kActive);
  CHECK(task->activated_ms == f.now);
  REQUIRE(task->CurrentRound() != nullptr);
  CHECK(task->CurrentRound()->round == 1);
  CHECK(task->CurrentRound()->members == Fed::Keys(f.Three()));

  for (uint32_t r = 1; r <= 3; ++r) {
    INFO("round " << r);
    // The trainer may read only after its DATA_ACCESS for this round is committed.
    CHECK(f.state.MayReadData(kT, r, f.alice.pubkey()).reason() == RejectReason::kNoDataAccess);
    CHECK(f.state.MayReadData(kT, r, f.dave.pubkey()).reason() == RejectReason::kNotParticipant);
    f.Ok(f.alice, f.Access(f.alice, kT, r));
    CHECK(f.state.MayReadData(kT, r, f.alice.pubkey()).valid());
    CHECK(f.state.MayReadData(kT, r + 1, f.alice.pubkey()).reason() == RejectReason::kWrongRound);
    f.Ok(f.bob, f.Access(f.bob, kT, r));
    f.Ok(f.carol, f.Access(f.carol, kT, r));
    for (const SecretKey* k : f.Three()) f.Ok(*k, f.Update(*k, kT, r));
    f.now += 1000;
    f.Ok(f.op, f.Aggregate(kT, r, f.Three()));
    task = f.state.FindTask(kT);
    REQUIRE(task->rounds.size() == std::min<size_t>(r + 1, 3));
    const RoundProgress& done = task->rounds[r - 1];
    CHECK(done.round == r);
    REQUIRE(done.aggregate.has_value());
    CHECK(done.aggregate->total_samples == 2700);
    CHECK(done.updates.size() == 3);
    CHECK(done.accesses.size() == 3);
  }
  task = f.state.FindTask(kT);
  CHECK(task->AllRoundsAggregated());
  CHECK(task->CurrentRound() == nullptr);
  f.Ok(f.op, TaskCompletePayload{kT, 3, Fed::H("final trunk")});
  task = f.state.FindTask(kT);
  CHECK(f.state.StatusOf(*task) == TaskStatus::kCompleted);
  CHECK(task->final_trunk_hash == Fed::H("final trunk"));
  CHECK(f.state.Tasks().size() == 1);
  // A completed task accepts nothing more, from anyone.
  CHECK(f.Submit(f.carol, TaskRevokePayload{kT, "late"}).reason() == RejectReason::kTaskClosed);
  CHECK(f.Submit(f.op, TaskCompletePayload{kT, 3, Fed::H("again")}).reason() ==
        RejectReason::kTaskClosed);
}

TEST_CASE("a revocation takes effect from the next round", "[state]") {
  Fed f;
  f.ActiveTask(kT, 3);
  f.Ok(f.alice, f.Access(f.alice, kT, 1));
  f.Ok(f.carol, TaskRevokePayload{kT, "pulling out"});
  const TaskRecord* task = f.state.FindTask(kT);
  CHECK(f.state.StatusOf(*task) == TaskStatus::kActive);
  CHECK(task->revocations.at(f.carol.pubkey()) == 2);

  // Carol still completes round 1, which started with her.
  f.Ok(f.bob, f.Access(f.bob, kT, 1));
  f.Ok(f.carol, f.Access(f.carol, kT, 1));
  for (const SecretKey* k : f.Three()) f.Ok(*k, f.Update(*k, kT, 1));
  f.Ok(f.op, f.Aggregate(kT, 1, f.Three()));

  // Round 2 runs without her; an aggregate listing her is refused.
  task = f.state.FindTask(kT);
  CHECK(task->CurrentRound()->members == Fed::Keys({&f.alice, &f.bob}));
  CHECK(f.Submit(f.carol, f.Access(f.carol, kT, 2)).reason() == RejectReason::kNotRoundMember);
  CHECK(f.state.MayReadData(kT, 2, f.carol.pubkey()).reason() == RejectReason::kNotRoundMember);
  f.Deliver(kT, 2, {&f.alice, &f.bob});
  CHECK(f.Submit(f.op, f.Aggregate(kT, 2, f.Three())).reason() ==
        RejectReason::kContributorsMismatch);
  f.Ok(f.op, f.Aggregate(kT, 2, {&f.alice, &f.bob}));

  // A second revocation leaves one participant: the task ends at once.
  f.Ok(f.bob, TaskRevokePayload{kT, "me too"});
  task = f.state.FindTask(kT);
  CHECK(f.state.StatusOf(*task) == TaskStatus::kRevoked);
  CHECK(task->closed_by == f.bob.pubkey());
  CHECK(task->close_reason == "me too");
  CHECK(f.Submit(f.alice, f.Access(f.alice, kT, 3)).reason() == RejectReason::kTaskClosed);
}

TEST_CASE("a dropout restarts the round without it, recorded, and it rejoins next round",
          "[state]") {
  Fed f;
  f.ActiveTask(kT, 2);
  const uint64_t started = f.now;
  f.Deliver(kT, 1, {&f.alice, &f.bob});
  f.Ok(f.carol, f.Access(f.carol, kT, 1));  // read its data, never delivered
  f.now = started + testing::kRoundTimeout - 1;
  CHECK(f.Submit(f.op, RoundRestartPayload{kT, 1, 1, Fed::Keys({&f.carol}), "timeout"}).reason() ==
        RejectReason::kRoundNotTimedOut);
  // A block time before the attempt started (a stale mempool check) is not a timeout either.
  CHECK(f.state
            .Check(f.Make(f.op, RoundRestartPayload{kT, 1, 1, Fed::Keys({&f.carol}), "x"}),
                   started - 1)
            .reason() == RejectReason::kRoundNotTimedOut);
  f.now = started + testing::kRoundTimeout;
  f.Ok(f.op, RoundRestartPayload{kT, 1, 1, Fed::Keys({&f.carol}), "carol did not deliver"});

  const TaskRecord* task = f.state.FindTask(kT);
  const RoundProgress* cur = task->CurrentRound();
  REQUIRE(cur != nullptr);
  CHECK(cur->attempt == 1);
  CHECK(cur->attempt_started_ms == f.now);
  CHECK(cur->members == Fed::Keys({&f.alice, &f.bob}));
  CHECK(cur->updates.empty());  // masks depend on the attempt: everyone re-masks
  REQUIRE(cur->restarts.size() == 1);
  CHECK(cur->restarts[0].discarded_updates.size() == 2);
  CHECK(cur->restarts[0].dropped == Fed::Keys({&f.carol}));
  CHECK(cur->accesses.size() == 3);  // the data accesses stay on record

  // An update masked for the ended attempt (committed just after the restart) is refused.
  CHECK(f.Submit(f.alice, f.Update(f.alice, kT, 1, 900, 0u)).reason() ==
        RejectReason::kWrongAttempt);
  // The survivors submit fresh updates without a second DATA_ACCESS; the dropped one cannot.
  CHECK(f.Submit(f.alice, f.Access(f.alice, kT, 1)).reason() == RejectReason::kDuplicateDataAccess);
  CHECK(f.Submit(f.carol, f.Update(f.carol, kT, 1)).reason() == RejectReason::kNotRoundMember);
  CHECK(f.Submit(f.op, f.Aggregate(kT, 1, {&f.alice, &f.bob})).reason() ==
        RejectReason::kRoundIncomplete);
  f.Ok(f.alice, f.Update(f.alice, kT, 1));
  f.Ok(f.bob, f.Update(f.bob, kT, 1));
  f.Ok(f.op, f.Aggregate(kT, 1, {&f.alice, &f.bob}));
  task = f.state.FindTask(kT);
  CHECK(task->rounds[0].aggregate->contributors == Fed::Keys({&f.alice, &f.bob}));
  CHECK(task->rounds[0].aggregate->total_samples == 1800);

  // Round 2: carol is back.
  CHECK(task->CurrentRound()->members == Fed::Keys(f.Three()));
  f.FullRound(kT, 2);
  f.Ok(f.op, TaskCompletePayload{kT, 2, Fed::H("final")});
}

TEST_CASE("a restart that leaves fewer than 2 members aborts the task", "[state]") {
  Fed f;
  f.ActiveTask(kT, 2);
  f.Deliver(kT, 1, {&f.alice});
  f.now += testing::kRoundTimeout;
  f.Ok(f.op, RoundRestartPayload{kT, 1, 1, Fed::Keys({&f.bob, &f.carol}), "both offline"});
  const TaskRecord* task = f.state.FindTask(kT);
  CHECK(f.state.StatusOf(*task) == TaskStatus::kAborted);
  CHECK(task->closed_by == f.op.pubkey());
  CHECK(f.Submit(f.alice, f.Update(f.alice, kT, 1)).reason() == RejectReason::kTaskClosed);
}

TEST_CASE("a proposed task expires when block time passes its expiry", "[state]") {
  Fed f;
  f.RegisterAll();
  TaskSpec spec = f.Spec(kT, f.Three());
  f.Ok(f.alice, TaskProposePayload{spec});
  f.Ok(f.alice, TaskApprovePayload{kT, spec.Hash()});
  CHECK(f.state.StatusOf(*f.state.FindTask(kT)) == TaskStatus::kProposed);
  // An empty block after the expiry moves the state's clock.
  REQUIRE(f.state.ApplyBlock({}, spec.expires_at_ms + 1).valid());
  CHECK(f.state.StatusOf(*f.state.FindTask(kT)) == TaskStatus::kExpired);
  f.now = spec.expires_at_ms + 1;
  CHECK(f.Submit(f.bob, TaskApprovePayload{kT, spec.Hash()}).reason() ==
        RejectReason::kTaskExpired);
  CHECK(f.Submit(f.bob, TaskRejectPayload{kT, spec.Hash(), "late"}).reason() ==
        RejectReason::kTaskExpired);
}

TEST_CASE("entries of one block are checked sequentially, and all-or-nothing", "[state][block]") {
  Fed f;
  f.RegisterAll();
  TaskSpec spec = f.Spec(kT, f.Three(), 1);
  // Proposal, approvals and the first data access in one block: each is valid only after the
  // entries before it.
  std::vector<Entry> block;
  block.push_back(f.Make(f.alice, TaskProposePayload{spec}));
  for (const SecretKey* k : f.Three())
    block.push_back(f.Make(*k, TaskApprovePayload{kT, spec.Hash()}));
  block.push_back(f.Make(f.alice, f.Access(f.alice, kT, 1)));
  // Each alone against the current state is refused (no such task yet).
  CHECK(f.state.Check(block[1], f.now).reason() == RejectReason::kUnknownTask);
  CHECK(f.state.Check(block[4], f.now).reason() == RejectReason::kUnknownTask);

  const Hash32 before = f.state.SnapshotHash();
  BlockVerdict ok = f.state.CheckBlock(block, f.now);
  INFO(ok.ToString());
  CHECK(ok.valid());
  CHECK(f.state.SnapshotHash() == before);  // CheckBlock changes nothing
  CHECK(f.state.FindTask(kT) == nullptr);

  // The same block in another order fails at the first entry that comes too early.
  std::vector<Entry> reordered = {block[0], block[1], block[4], block[2], block[3]};
  BlockVerdict bad = f.state.CheckBlock(reordered, f.now);
  CHECK(bad.index == 2);
  CHECK(bad.verdict.reason() == RejectReason::kTaskNotActive);
  CHECK(bad.ToString().rfind("entry 2: invalid (task-not-active)", 0) == 0);

  // A duplicate approval inside one block is caught against the block's own earlier entry.
  std::vector<Entry> dup = {block[0], block[1],
                            f.Make(f.alice, TaskApprovePayload{kT, spec.Hash()})};
  BlockVerdict d = f.state.CheckBlock(dup, f.now);
  CHECK(d.index == 2);
  CHECK(d.verdict.reason() == RejectReason::kAlreadyApproved);

  // ApplyBlock of an invalid block applies none of it.
  CHECK_FALSE(f.state.ApplyBlock(reordered, f.now).valid());
  CHECK(f.state.SnapshotHash() == before);
  CHECK(f.state.FindTask(kT) == nullptr);

  // ApplyBlock of the valid block equals applying its entries one by one.
  Fed g;
  g.RegisterAll();
  REQUIRE(g.state.SnapshotHash() == before);
  for (const Entry& e : block) g.state.Apply(e, f.now);
  REQUIRE(f.state.ApplyBlock(block, f.now).valid());
  CHECK(f.state.SnapshotHash() == g.state.SnapshotHash());
  CHECK(f.state.Snapshot() == g.state.Snapshot());
  CHECK(f.state.SnapshotHash() != before);
  CHECK(f.state.StatusOf(*f.state.FindTask(kT)) == TaskStatus::kActive);
  CHECK(f.state.MayReadData(kT, 1, f.alice.pubkey()).valid());
}

TEST_CASE("CheckBlock on an overlay does not disturb tasks the block does not touch",
          "[state][block]") {
  Fed f;
  f.ActiveTask(kT, 2);
  TaskSpec other = f.Spec("second", {&f.bob, &f.dave});
  f.Ok(f.bob, TaskProposePayload{other});
  // A block touching only the second task sees the first one through the overlay.
  std::vector<Entry> block = {f.Make(f.bob, TaskApprovePayload{"second", other.Hash()}),
                              f.Make(f.dave, TaskApprovePayload{"second", other.Hash()}),
                              f.Make(f.alice, f.Access(f.alice, kT, 1)),
                              f.Make(f.dave, f.Access(f.dave, "second", 1))};
  REQUIRE(f.state.ApplyBlock(block, f.now).valid());
  CHECK(f.state.FindTask("second")->status == TaskStatus::kActive);
  CHECK(f.state.FindTask(kT)->CurrentRound()->accesses.size() == 1);
  CHECK(f.state.Tasks().size() == 2);
}

TEST_CASE("snapshots are deterministic and differ when the state differs", "[state][snapshot]") {
  Fed a, b;
  a.ActiveTask(kT);
  b.ActiveTask(kT);
  CHECK(a.state.Snapshot() == b.state.Snapshot());
  a.Ok(a.alice, a.Access(a.alice, kT, 1));
  CHECK(a.state.SnapshotHash() != b.state.SnapshotHash());
  b.Ok(b.alice, b.Access(b.alice, kT, 1));
  CHECK(a.state.SnapshotHash() == b.state.SnapshotHash());
}

TEST_CASE("the state is built from a GENESIS entry only", "[state]") {
  SecretKey k = SecretKey::FromSeed("alice");
  auto e = Entry::Sign(EntryBody{"c", k.pubkey(), 1, 5, TaskRevokePayload{"t", ""}}, k, true);
  REQUIRE(e.ok());
  auto s = FederationState::FromGenesis(*e);
  CHECK_FALSE(s.ok());
  CHECK(s.status().message() == "genesis: expected a GENESIS entry, got TASK_REVOKE");
}

}  // namespace
}  // namespace fedledger::orchestrator
