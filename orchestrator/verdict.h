// Verdicts of the orchestrator's state checks: valid, or invalid with a reason.
//
// STYLE rule 6: verification says valid, invalid(reason) or internal error. The state machine
// works on in-memory state and does no I/O, so its checks never produce internal errors; a
// Verdict is therefore just valid or invalid. The reason is an enum that audit output and the
// HTTP API print by name ("spec-hash-mismatch"); the message is the sentence the submitter
// sees ("TASK_APPROVE for task 'tox21-demo': spec hash 3fa2... does not match ...").
//
// Thread-compatible value type.
#pragma once

#include <cstdint>
#include <string>

#include "ledger/status.h"

namespace fedledger::orchestrator {

// Why the state machine refuses an entry. Values are stable: they may be stored in logs and
// exported; add new ones at the end.
enum class RejectReason : uint8_t {
  kNone = 0,               // not a rejection (the verdict is valid)
  kWrongChain,             // entry for another chain id
  kGenesisNotAllowed,      // a second GENESIS
  kNotPartner,             // signer is not a genesis partner (DATASET_REGISTER, TASK_PROPOSE)
  kDuplicateDataset,       // signer already registered this dataset id
  kDuplicateTask,          // task id already used
  kTooFewParticipants,     // a task needs >= 2 participants (secure aggregation needs pairs)
  kParticipantNotPartner,  // a listed participant is not a genesis partner
  kDatasetNotRegistered,   // a dataset named by a spec or DATA_ACCESS is not registered by that
                           // partner
  kBadAggregator,          // the spec's aggregator is neither a genesis validator nor partner
  kTaskExpired,     // approval / rejection after spec.expires_at_ms, or a proposal already expired
  kUnknownTask,     // no task with this id
  kNotParticipant,  // signer is not a participant of the task
  kSpecHashMismatch,         // approval/rejection names another spec hash
  kAlreadyApproved,          // signer's approval is already committed
  kTaskNotActive,            // the task is still proposed (not every approval committed)
  kTaskClosed,               // rejected, revoked, aborted or completed: accepts nothing more
  kAlreadyRevoked,           // signer already revoked its participation
  kNotRoundMember,           // signer takes no part in the current round (revoked or dropped)
  kWrongRound,               // entry names a round other than the current one
  kDatasetNotInTask,         // DATA_ACCESS names a dataset the spec does not list for the signer
  kDatasetHashMismatch,      // DATA_ACCESS dataset hash differs from the registered one
  kRowsExceedDataset,        // rows_read larger than the registered row count
  kDuplicateDataAccess,      // second DATA_ACCESS by the signer in the round
  kNoDataAccess,             // MODEL_UPDATE before the signer's DATA_ACCESS for the round
  kDuplicateUpdate,          // second MODEL_UPDATE by the signer in the attempt
  kSamplesExceedRows,        // sample_count larger than the rows_read of the DATA_ACCESS
  kNotAggregator,            // ROUND_AGGREGATE / ROUND_RESTART / TASK_COMPLETE by another key
  kRoundIncomplete,          // ROUND_AGGREGATE while a round member has not delivered
  kContributorsMismatch,     // ROUND_AGGREGATE contributors differ from the attempt's updaters
  kTotalSamplesMismatch,     // ROUND_AGGREGATE total_samples differs from the sum of sample counts
  kWrongAttempt,             // ROUND_RESTART attempt is not current + 1; MODEL_UPDATE not for the current attempt
  kRoundNotTimedOut,         // ROUND_RESTART before the round timeout
  kBadDropSet,               // ROUND_RESTART drop set is not exactly the non-deliverers
  kRoundsNotFinished,        // TASK_COMPLETE before the last round's aggregate
  kRoundsCompletedMismatch,  // TASK_COMPLETE rounds_completed differs from spec.rounds
};

// Kebab-case name: "spec-hash-mismatch". Never null.
const char* RejectReasonName(RejectReason reason);

class [[nodiscard]] Verdict {
 public:
  static Verdict Valid() { return Verdict(); }
  static Verdict Invalid(RejectReason reason, std::string message) {
    return Verdict(reason, std::move(message));
  }

  bool valid() const { return reason_ == RejectReason::kNone; }
  explicit operator bool() const { return valid(); }
  RejectReason reason() const { return reason_; }          // kNone when valid
  const std::string& message() const { return message_; }  // empty when valid

  // "valid" or "invalid (spec-hash-mismatch): TASK_APPROVE for task ...".
  std::string ToString() const;
  // OK, or FailedPrecondition("<message> [spec-hash-mismatch]") for callers that speak Status.
  Status ToStatus() const;

 private:
  Verdict() = default;
  Verdict(RejectReason r, std::string m) : reason_(r), message_(std::move(m)) {}
  RejectReason reason_ = RejectReason::kNone;
  std::string message_;
};

}  // namespace fedledger::orchestrator
