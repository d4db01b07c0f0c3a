#include "orchestrator/verdict.h"

namespace fedledger::orchestrator {

const char* RejectReasonName(RejectReason reason) {
  switch (reason) {
    case RejectReason::kNone:
      return "none";
    case RejectReason::kWrongChain:
      return "wrong-chain";
    case RejectReason::kGenesisNotAllowed:
      return "genesis-not-allowed";
    case RejectReason::kNotPartner:
      return "not-partner";
    case RejectReason::kDuplicateDataset:
      return "duplicate-dataset";
    case RejectReason::kDuplicateTask:
      return "duplicate-task";
    case RejectReason::kTooFewParticipants:
      return "too-few-participants";
    case RejectReason::kParticipantNotPartner:
      return "participant-not-partner";
    case RejectReason::kDatasetNotRegistered:
      return "dataset-not-registered";
    case RejectReason::kBadAggregator:
      return "bad-aggregator";
    case RejectReason::kTaskExpired:
      return "task-expired";
    case RejectReason::kUnknownTask:
      return "unknown-task";
    case RejectReason::kNotParticipant:
      return "not-participant";
    case RejectReason::kSpecHashMismatch:
      return "spec-hash-mismatch";
    case RejectReason::kAlreadyApproved:
      return "already-approved";
    case RejectReason::kTaskNotActive:
      return "task-not-active";
    case RejectReason::kTaskClosed:
      return "task-closed";
    case RejectReason::kAlreadyRevoked:
      return "already-revoked";
    case RejectReason::kNotRoundMember:
      return "not-round-member";
    case RejectReason::kWrongRound:
      return "wrong-round";
    case RejectReason::kDatasetNotInTask:
      return "dataset-not-in-task";
    case RejectReason::kDatasetHashMismatch:
      return "dataset-hash-mismatch";
    case RejectReason::kRowsExceedDataset:
      return "rows-exceed-dataset";
    case RejectReason::kDuplicateDataAccess:
      return "duplicate-data-access";
    case RejectReason::kNoDataAccess:
      return "no-data-access";
    case RejectReason::kDuplicateUpdate:
      return "duplicate-update";
    case RejectReason::kSamplesExceedRows:
      return "samples-exceed-rows";
    case RejectReason::kNotAggregator:
      return "not-aggregator";
    case RejectReason::kRoundIncomplete:
      return "round-incomplete";
    case RejectReason::kContributorsMismatch:
      return "contributors-mismatch";
    case RejectReason::kTotalSamplesMismatch:
      return "total-samples-mismatch";
    case RejectReason::kWrongAttempt:
      return "wrong-attempt";
    case RejectReason::kRoundNotTimedOut:
      return "round-not-timed-out";
    case RejectReason::kBadDropSet:
      return "bad-drop-set";
    case RejectReason::kRoundsNotFinished:
      return "rounds-not-finished";
    case RejectReason::kRoundsCompletedMismatch:
      return "rounds-completed-mismatch";
  }
  return "unknown-reason";
}

std::string Verdict::ToString() const {
  if (valid()) return "valid";
  return std::string("invalid (") + RejectReasonName(reason_) + "): " + message_;
}

Status Verdict::ToStatus() const {
  if (valid()) return Status::Ok();
  return Status::FailedPrecondition(message_ + " [" + RejectReasonName(reason_) + "]");
}

}  // namespace fedledger::orchestrator
