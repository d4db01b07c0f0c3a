// Every invalid transition of FederationState, one case per rule: the reason enum and the
// message the submitter sees are both checked, and a refused entry leaves the state unchanged.
#include <catch2/catch.hpp>
#include <functional>
#include <set>

#include "federation_fixture.inc"

namespace fedledger::orchestrator {
namespace {

using testing::Fed;
using R = RejectReason;

struct Case {
  const char* name;
  std::function<void(Fed&)> setup;   // brings the state to the point of the test
  std::function<Entry(Fed&)> entry;  // the entry that must be refused
  RejectReason reason;
  std::vector<std::string> message_parts;  // all must appear in the message
};

const std::string kT = "tox21-demo";

std::vector<Case> Cases() {
  return {
      {"entry for another chain",
       [](Fed& f) { f.RegisterAll(); },
       [](Fed& f) {
         return f.Make(f.alice, TaskApprovePayload{kT, Fed::H("x")}, "other-chain");
       },
       R::kWrongChain,
       {"TASK_APPROVE: chain id 'other-chain' is not this ledger's 'test-chain'"}},
      {"second genesis",
       [](Fed&) {},
       [](Fed& f) {
         GenesisPayload g{testing::kGenesisTime, {{"op", f.op.pubkey()}}, {}};
         return f.Make(f.op, g);
       },
       R::kGenesisNotAllowed,
       {"GENESIS: the ledger already has its genesis"}},
      {"dataset registered by a non-partner",
       [](Fed&) {},
       [](Fed& f) {
         return f.Make(f.mallory, DatasetRegisterPayload{"evil", Fed::H("e"), 5, "a", ""});
       },
       R::kNotPartner,
       {"DATASET_REGISTER of 'evil'", "is not a partner in the genesis"}},
      {"task proposed by a validator that is not a partner",
       [](Fed& f) { f.RegisterAll(); },
       [](Fed& f) { return f.Make(f.op, TaskProposePayload{f.Spec(kT, f.Three())}); },
       R::kNotPartner,
       {"TASK_PROPOSE for task 'tox21-demo'", "proposer validator 'op'"}},
      {"dataset registered twice",
       [](Fed& f) { f.RegisterAll(); },
       [](Fed& f) {
         return f.Make(f.bob, DatasetRegisterPayload{Fed::Ds(f.bob), Fed::H("v2"), 5, "a", ""});
       },
       R::kDuplicateDataset,
       {"partner 'bob' already registered it"}},
      {"task id reused",
       [](Fed& f) {
         f.RegisterAll();
         f.Ok(f.alice, TaskProposePayload{f.Spec(kT, f.Three())});
       },
       [](Fed& f) {
         return f.Make(f.bob, TaskProposePayload{f.Spec(kT, {&f.bob, &f.carol})});
       },
       R::kDuplicateTask,
       {"TASK_PROPOSE for task 'tox21-demo': a task with this id already exists"}},
      {"task with one participant",
       [](Fed& f) { f.RegisterAll(); },
       [](Fed& f) { return f.Make(f.alice, TaskProposePayload{f.Spec(kT, {&f.alice})}); },
       R::kTooFewParticipants,
       {"at least 2 participants", "the spec lists 1"}},
      {"participant that is not a partner",
       [](Fed& f) { f.RegisterAll(); },
       [](Fed& f) {
         return f.Make(f.alice, TaskProposePayload{f.Spec(kT, {&f.alice, &f.mallory})});
       },
       R::kParticipantNotPartner,
       {"participant key " + SecretKey::FromSeed("mallory").pubkey().ShortHex(),
        "is not a partner in the genesis"}},
      {"participant dataset not registered",
       [](Fed& f) {
         f.Ok(f.alice, DatasetRegisterPayload{Fed::Ds(f.alice), Fed::DsHash(f.alice), 10, "a", ""});
       },
       [](Fed& f) {
         return f.Make(f.alice, TaskProposePayload{f.Spec(kT, {&f.alice, &f.bob})});
       },
       R::kDatasetNotRegistered,
       {"dataset '" + Fed::Ds(SecretKey::FromSeed("bob")) +
        "' is not registered by partner 'bob'"}},
      {"aggregator unknown to the genesis",
       [](Fed& f) { f.RegisterAll(); },
       [](Fed& f) {
         TaskSpec s = f.Spec(kT, f.Three());
         s.aggregator = f.mallory.pubkey();
         return f.Make(f.alice, TaskProposePayload{s});
       },
       R::kBadAggregator,
       {"is neither a validator node key nor a partner key"}},
      {"proposal already expired",
       [](Fed& f) { f.RegisterAll(); },
       [](Fed& f) {
         TaskSpec s = f.Spec(kT, f.Three());
         s.expires_at_ms = f.now;
         return f.Make(f.alice, TaskProposePayload{s});
       },
       R::kTaskExpired,
       {"is not after the block time"}},
      {"approval after expiry",
       [](Fed& f) {
         f.RegisterAll();
         f.Ok(f.alice, TaskProposePayload{f.Spec(kT, f.Three())});
         f.now += 3'600'001;
       },
       [](Fed& f) {
         return f.Make(f.bob, TaskApprovePayload{kT, f.Spec(kT, f.Three()).Hash()});
       },
       R::kTaskExpired,
       {"TASK_APPROVE for task 'tox21-demo': the task expired at"}},
      {"approval of an unknown task",
       [](Fed&) {},
       [](Fed& f) {
         return f.Make(f.bob, TaskApprovePayload{"ghost", Fed::H("x")});
       },
       R::kUnknownTask,
       {"TASK_APPROVE for task 'ghost': no such task"}},
      {"approval by a partner that is not a participant",
       [](Fed& f) {
         f.RegisterAll();
         f.Ok(f.alice, TaskProposePayload{f.Spec(kT, f.Three())});
       },
       [](Fed& f) {
         return f.Make(f.dave, TaskApprovePayload{kT, f.Spec(kT, f.Three()).Hash()});
       },
       R::kNotParticipant,
       {"partner 'dave' is not a participant of the task"}},
      {"approval naming another spec hash",
       [](Fed& f) {
         f.RegisterAll();
         f.Ok(f.alice, TaskProposePayload{f.Spec(kT, f.Three())});
       },
       [](Fed& f) {
         TaskSpec other = f.Spec(kT, f.Three());
         other.rounds = 7;
         return f.Make(f.bob, TaskApprovePayload{kT, other.Hash()});
       },
       R::kSpecHashMismatch,
       {"TASK_APPROVE for task 'tox21-demo': spec hash ", "... does not match the proposed spec "}},
      {"second approval",
       [](Fed& f) {
         f.RegisterAll();
         f.Ok(f.alice, TaskProposePayload{f.Spec(kT, f.Three())});
         f.Ok(f.bob, TaskApprovePayload{kT, f.Spec(kT, f.Three()).Hash()});
       },
       [](Fed& f) {
         return f.Make(f.bob, TaskApprovePayload{kT, f.Spec(kT, f.Three()).Hash()});
       },
       R::kAlreadyApproved,
       {"partner 'bob' already approved it"}},
      {"rejection of an active task",
       [](Fed& f) { f.ActiveTask(kT); },
       [](Fed& f) {
         return f.Make(f.bob, TaskRejectPayload{kT, f.Spec(kT, f.Three()).Hash(), "no"});
       },
       R::kAlreadyApproved,
       {"a participant leaves with TASK_REVOKE"}},
      {"data access before every approval",
       [](Fed& f) {
         f.RegisterAll();
         f.Ok(f.alice, TaskProposePayload{f.Spec(kT, f.Three())});
         f.Ok(f.alice, TaskApprovePayload{kT, f.Spec(kT, f.Three()).Hash()});
         f.Ok(f.bob, TaskApprovePayload{kT, f.Spec(kT, f.Three()).Hash()});
       },
       [](Fed& f) { return f.Make(f.alice, f.Access(f.alice, kT, 1)); },
       R::kTaskNotActive,
       {"DATA_ACCESS for task 'tox21-demo': the task is not active yet (2 of 3 "
        "approvals committed)"}},
      {"revocation before activation",
       [](Fed& f) {
         f.RegisterAll();
         f.Ok(f.alice, TaskProposePayload{f.Spec(kT, f.Three())});
       },
       [](Fed& f) {
         return f.Make(f.alice, TaskRevokePayload{kT, "changed my mind"});
       },
       R::kTaskNotActive,
       {"before activation use TASK_REJECT"}},
      {"approval of a rejected task",
       [](Fed& f) {
         f.RegisterAll();
         f.Ok(f.alice, TaskProposePayload{f.Spec(kT, f.Three())});
         f.Ok(f.carol, TaskRejectPayload{kT, f.Spec(kT, f.Three()).Hash(), "too many rounds"});
       },
       [](Fed& f) {
         return f.Make(f.bob, TaskApprovePayload{kT, f.Spec(kT, f.Three()).Hash()});
       },
       R::kTaskClosed,
       {"the task is rejected by partner 'carol' and accepts nothing more"}},
      {"update to a completed task",
       [](Fed& f) {
         f.ActiveTask(kT, 1);
         f.FullRound(kT, 1);
         f.Ok(f.op, TaskCompletePayload{kT, 1, Fed::H("final")});
       },
       [](Fed& f) { return f.Make(f.alice, f.Update(f.alice, kT, 1)); },
       R::kTaskClosed,
       {"the task is completed and accepts nothing more"}},
      {"second revocation",
       [](Fed& f) {
         f.ActiveTask(kT);
         f.Ok(f.carol, TaskRevokePayload{kT, "budget"});
       },
       [](Fed& f) {
         return f.Make(f.carol, TaskRevokePayload{kT, "again"});
       },
       R::kAlreadyRevoked,
       {"partner 'carol' already revoked"}},
      {"data access by a participant that revoked in an earlier round",
       [](Fed& f) {
         f.ActiveTask(kT);
         f.Ok(f.carol, TaskRevokePayload{kT, "budget"});
         f.FullRound(kT, 1);
       },
       [](Fed& f) { return f.Make(f.carol, f.Access(f.carol, kT, 2)); },
       R::kNotRoundMember,
       {"partner 'carol' revoked its participation and takes no part from "
        "round 2 on"}},
      {"update by a participant dropped from the round",
       [](Fed& f) {
         f.ActiveTask(kT);
         f.Deliver(kT, 1, {&f.alice, &f.bob});
         f.now += testing::kRoundTimeout;
         f.Ok(f.op, RoundRestartPayload{kT, 1, 1, Fed::Keys({&f.carol}), "carol timed out"});
       },
       [](Fed& f) { return f.Make(f.carol, f.Access(f.carol, kT, 1)); },
       R::kNotRoundMember,
       {"partner 'carol' was dropped from round 1 attempt 1"}},
      {"data access for a future round",
       [](Fed& f) { f.ActiveTask(kT); },
       [](Fed& f) { return f.Make(f.alice, f.Access(f.alice, kT, 2)); },
       R::kWrongRound,
       {"round 2 is not the current round 1"}},
      {"data access after every round is aggregated",
       [](Fed& f) {
         f.ActiveTask(kT, 1);
         f.FullRound(kT, 1);
       },
       [](Fed& f) { return f.Make(f.alice, f.Access(f.alice, kT, 2)); },
       R::kWrongRound,
       {"all 1 rounds are aggregated; the task awaits TASK_COMPLETE"}},
      {"data access naming a dataset the spec does not list",
       [](Fed& f) {
         f.ActiveTask(kT);
         f.Ok(f.alice, DatasetRegisterPayload{"other", Fed::H("other"), 10, "a", ""});
       },
       [](Fed& f) {
         return f.Make(f.alice, DataAccessPayload{kT, 1, "other", Fed::H("other"), 10});
       },
       R::kDatasetNotInTask,
       {"the spec lists dataset '" + Fed::Ds(SecretKey::FromSeed("alice")) +
        "' for partner 'alice', not 'other'"}},
      {"data access with another dataset hash",
       [](Fed& f) { f.ActiveTask(kT); },
       [](Fed& f) {
         DataAccessPayload p = f.Access(f.alice, kT, 1);
         p.dataset_hash = Fed::H("tampered");
         return f.Make(f.alice, p);
       },
       R::kDatasetHashMismatch,
       {"does not match the registered"}},
      {"data access reading more rows than registered",
       [](Fed& f) { f.ActiveTask(kT); },
       [](Fed& f) { return f.Make(f.alice, f.Access(f.alice, kT, 1, Fed::kRows + 1)); },
       R::kRowsExceedDataset,
       {"rows_read 1001 exceeds the registered 1000 rows"}},
      {"second data access in a round",
       [](Fed& f) {
         f.ActiveTask(kT);
         f.Ok(f.alice, f.Access(f.alice, kT, 1));
       },
       [](Fed& f) { return f.Make(f.alice, f.Access(f.alice, kT, 1)); },
       R::kDuplicateDataAccess,
       {"partner 'alice' already recorded its data access for round 1"}},
      {"update without data access",
       [](Fed& f) { f.ActiveTask(kT); },
       [](Fed& f) { return f.Make(f.bob, f.Update(f.bob, kT, 1)); },
       R::kNoDataAccess,
       {"MODEL_UPDATE for task 'tox21-demo': no DATA_ACCESS by partner 'bob' is "
        "committed for round 1"}},
      {"second update in an attempt",
       [](Fed& f) {
         f.ActiveTask(kT);
         f.Deliver(kT, 1, {&f.bob});
       },
       [](Fed& f) { return f.Make(f.bob, f.Update(f.bob, kT, 1)); },
       R::kDuplicateUpdate,
       {"partner 'bob' already submitted its update for round 1 attempt 0"}},
      {"update claiming more samples than rows read",
       [](Fed& f) {
         f.ActiveTask(kT);
         f.Ok(f.bob, f.Access(f.bob, kT, 1, 500));
       },
       [](Fed& f) { return f.Make(f.bob, f.Update(f.bob, kT, 1, 501)); },
       R::kSamplesExceedRows,
       {"sample_count 501 exceeds the 500 rows its DATA_ACCESS read"}},
      {"aggregate by a participant",
       [](Fed& f) {
         f.ActiveTask(kT);
         f.Deliver(kT, 1, f.Three());
       },
       [](Fed& f) { return f.Make(f.alice, f.Aggregate(kT, 1, f.Three())); },
       R::kNotAggregator,
       {"signer partner 'alice' is not the task's aggregator validator 'op'"}},
      {"restart by a participant",
       [](Fed& f) { f.ActiveTask(kT); },
       [](Fed& f) {
         return f.Make(f.bob, RoundRestartPayload{kT, 1, 1, Fed::Keys({&f.carol}), "x"});
       },
       R::kNotAggregator,
       {"ROUND_RESTART for task 'tox21-demo': signer partner 'bob'"}},
      {"completion by a participant",
       [](Fed& f) {
         f.ActiveTask(kT, 1);
         f.FullRound(kT, 1);
       },
       [](Fed& f) {
         return f.Make(f.bob, TaskCompletePayload{kT, 1, Fed::H("f")});
       },
       R::kNotAggregator,
       {"TASK_COMPLETE for task 'tox21-demo': signer partner 'bob'"}},
      {"aggregate while a member has not delivered",
       [](Fed& f) {
         f.ActiveTask(kT);
         f.Deliver(kT, 1, {&f.alice, &f.bob});
       },
       [](Fed& f) {
         return f.Make(f.op, f.Aggregate(kT, 1, {&f.alice, &f.bob}));
       },
       R::kRoundIncomplete,
       {"round 1 attempt 0 still waits for MODEL_UPDATE from partner 'carol'"}},
      {"aggregate for another round",
       [](Fed& f) {
         f.ActiveTask(kT);
         f.Deliver(kT, 1, f.Three());
       },
       [](Fed& f) { return f.Make(f.op, f.Aggregate(kT, 2, f.Three())); },
       R::kWrongRound,
       {"round 2 is not in progress (the current round is 1)"}},
      {"aggregate omitting a contributor",
       [](Fed& f) {
         f.ActiveTask(kT);
         f.Deliver(kT, 1, f.Three());
       },
       [](Fed& f) {
         RoundAggregatePayload p = f.Aggregate(kT, 1, f.Three());
         p.contributors = Fed::Keys({&f.alice, &f.bob});
         return f.Make(f.op, p);
       },
       R::kContributorsMismatch,
       {"lists 2 contributors", "exactly its 3 members"}},
      {"aggregate with a wrong sample total",
       [](Fed& f) {
         f.ActiveTask(kT);
         f.Deliver(kT, 1, f.Three());
       },
       [](Fed& f) {
         RoundAggregatePayload p = f.Aggregate(kT, 1, f.Three());
         p.total_samples += 1;
         return f.Make(f.op, p);
       },
       R::kTotalSamplesMismatch,
       {"total_samples 2701 is not the sum of the updates' sample counts 2700"}},
      {"restart skipping an attempt",
       [](Fed& f) { f.ActiveTask(kT); },
       [](Fed& f) {
         f.now += testing::kRoundTimeout;
         return f.Make(f.op, RoundRestartPayload{kT, 1, 2, Fed::Keys(f.Three()), "x"});
       },
       R::kWrongAttempt,
       {"attempt 2 does not follow the current attempt 0"}},
      {"restart before the round timeout",
       [](Fed& f) {
         f.ActiveTask(kT);
         f.Deliver(kT, 1, {&f.alice, &f.bob});
         f.now += testing::kRoundTimeout - 1;
       },
       [](Fed& f) {
         return f.Make(f.op, RoundRestartPayload{kT, 1, 1, Fed::Keys({&f.carol}), "impatient"});
       },
       R::kRoundNotTimedOut,
       {"round 1 attempt 0 started at", "times out after 60000 ms"}},
      {"restart keeping a member that did not deliver",
       [](Fed& f) {
         f.ActiveTask(kT);
         f.Deliver(kT, 1, {&f.alice});
         f.now += testing::kRoundTimeout;
       },
       [](Fed& f) {
         return f.Make(f.op, RoundRestartPayload{kT, 1, 1, Fed::Keys({&f.carol}), "x"});
       },
       R::kBadDropSet,
       {"partner 'bob' has no MODEL_UPDATE in round 1 attempt 0 and must be dropped too"}},
      {"restart dropping a non-member",
       [](Fed& f) {
         f.ActiveTask(kT);
         f.now += testing::kRoundTimeout;
       },
       [](Fed& f) {
         return f.Make(f.op, RoundRestartPayload{kT, 1, 1, Fed::Keys({&f.dave}), "x"});
       },
       R::kBadDropSet,
       {"partner 'dave' is not a member of round 1 attempt 0"}},
      {"restart dropping a member that delivered",
       [](Fed& f) {
         f.ActiveTask(kT);
         f.Deliver(kT, 1, {&f.alice, &f.bob});
         f.now += testing::kRoundTimeout;
       },
       [](Fed& f) {
         return f.Make(f.op, RoundRestartPayload{kT, 1, 1, Fed::Keys({&f.bob, &f.carol}), "x"});
       },
       R::kBadDropSet,
       {"partner 'bob' delivered its MODEL_UPDATE in round 1 attempt 0 and cannot be dropped"}},
      {"completion before the last round",
       [](Fed& f) {
         f.ActiveTask(kT, 2);
         f.FullRound(kT, 1);
       },
       [](Fed& f) {
         return f.Make(f.op, TaskCompletePayload{kT, 2, Fed::H("f")});
       },
       R::kRoundsNotFinished,
       {"1 of 2 rounds are aggregated"}},
      {"completion claiming another round count",
       [](Fed& f) {
         f.ActiveTask(kT, 1);
         f.FullRound(kT, 1);
       },
       [](Fed& f) {
         return f.Make(f.op, TaskCompletePayload{kT, 3, Fed::H("f")});
       },
       R::kRoundsCompletedMismatch,
       {"rounds_completed 3 differs from the spec's 1 rounds"}},
  };
}

}  // namespace

TEST_CASE("every invalid transition is refused with its reason and message", "[state]") {
  std::set<RejectReason> covered;
  for (const Case& c : Cases()) {
    SECTION(c.name) {
      Fed f;
      c.setup(f);
      Entry e = c.entry(f);
      const Hash32 before = f.state.SnapshotHash();
      Verdict v = f.state.CheckAndApply(e, f.now);
      INFO(v.ToString());
      CHECK_FALSE(v.valid());
      CHECK(v.reason() == c.reason);
      for (const std::string& part : c.message_parts) {
        CHECK_THAT(v.message(), Catch::Matchers::Contains(part));
      }
      CHECK(f.state.SnapshotHash() == before);  // a refused entry changes nothing
      // Check() agrees with CheckAndApply() and the block check reports the same entry.
      CHECK(f.state.Check(e, f.now).reason() == c.reason);
      BlockVerdict bv = f.state.CheckBlock({e}, f.now);
      CHECK(bv.index == 0);
      CHECK(bv.verdict.reason() == c.reason);
    }
    covered.insert(c.reason);
  }
  // Every reason but kNone has a case. (kDatasetNotRegistered is covered by TASK_PROPOSE; for
  // DATA_ACCESS it is a defensive check: the proposal requires the registration and datasets
  // are never removed.)
  for (int r = 1; r <= static_cast<int>(RejectReason::kRoundsCompletedMismatch); ++r) {
    INFO(RejectReasonName(static_cast<RejectReason>(r)));
    CHECK(covered.count(static_cast<RejectReason>(r)) == 1);
  }
}

TEST_CASE("the spec hash mismatch message names both hashes", "[state]") {
  Fed f;
  f.RegisterAll();
  TaskSpec s = f.Spec(kT, f.Three());
  f.Ok(f.alice, TaskProposePayload{s});
  TaskSpec other = s;
  other.rounds = 9;
  Verdict v = f.Submit(f.bob, TaskApprovePayload{kT, other.Hash()});
  CHECK(v.reason() == RejectReason::kSpecHashMismatch);
  CHECK(v.message() == "TASK_APPROVE for task 'tox21-demo': spec hash " + other.Hash().ShortHex() +
                           "... does not match the proposed spec " + s.Hash().ShortHex() + "...");
  CHECK(v.ToString() == "invalid (spec-hash-mismatch): " + v.message());
  CHECK(v.ToStatus().code() == Status::Code::kFailedPrecondition);
}

TEST_CASE("reason names are distinct and printable", "[state]") {
  std::set<std::string> names;
  for (int r = 0; r <= static_cast<int>(RejectReason::kRoundsCompletedMismatch); ++r) {
    std::string n = RejectReasonName(static_cast<RejectReason>(r));
    CHECK(n != "unknown-reason");
    CHECK(names.insert(n).second);
  }
}

}  // namespace fedledger::orchestrator
