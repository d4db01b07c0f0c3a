#include "orchestrator/application.h"

#include <algorithm>

#include "orchestrator/replay.h"

namespace fedledger::orchestrator {

namespace {

// "block 7 entry 2 (TASK_APPROVE): <message> [spec-hash-mismatch]"
Status BlockRuleViolation(const Block& block, const BlockVerdict& v) {
  return Status::FailedPrecondition(
      "block " + std::to_string(block.header.height) + " entry " + std::to_string(v.index) +
      " (" + EntryKindName(block.entries[v.index].kind()) + "): " + v.verdict.message() + " [" +
      RejectReasonName(v.verdict.reason()) + "]");
}

}  // namespace

Result<std::unique_ptr<OrchestratorApplication>> OrchestratorApplication::Open(
    Store* store, ApplicationOptions options) {
  auto state = ReplayStore(*store);
  if (!state.ok()) return state.status().WithContext("rebuilding the federation state");
  return std::unique_ptr<OrchestratorApplication>(
      new OrchestratorApplication(store, std::move(options), std::move(state).value()));
}

uint64_t OrchestratorApplication::AdmissionTime() const {
  uint64_t t = state_.last_block_time_ms();
  if (options_.admission_clock) t = std::max(t, options_.admission_clock());
  return t;
}

Status OrchestratorApplication::CheckEntry(const Entry& entry) const {
  FL_TRY(ledger_.CheckEntry(entry));
  std::shared_lock<std::shared_mutex> lock(mu_);
  return state_.Check(entry, AdmissionTime()).ToStatus();
}

Status OrchestratorApplication::CheckBlock(const Block& block) const {
  FL_TRY(ledger_.CheckBlock(block));
  std::unique_ptr<FederationState> prepared;
  {
    std::shared_lock<std::shared_mutex> lock(mu_);
    BlockVerdict v = state_.PrepareBlock(block.entries, block.header.time_ms, &prepared);
    if (!v.valid()) return BlockRuleViolation(block, v);
  }
  // Most checked blocks are the one about to be committed: keep its changes for Commit.
  checked_hash_ = block.header.Hash();
  checked_ = std::move(prepared);
  return Status::Ok();
}

Status OrchestratorApplication::Commit(const Block& block, const Certificate& cert) {
  // The block CheckBlock last passed brings its changes; any other (a synced block, the
  // proposer's own, a block decided in a later round) is checked against the rules here,
  // before the store writes, keeping its changes so that nothing is checked twice. Commit is
  // the state's only writer (consensus calls it from one thread), so the state cannot change
  // between the check and the write.
  std::unique_ptr<FederationState> prepared;
  if (checked_ && checked_hash_ == block.header.Hash()) prepared = std::move(checked_);
  checked_.reset();
  if (!prepared) {
    std::shared_lock<std::shared_mutex> lock(mu_);
    BlockVerdict v = state_.PrepareBlock(block.entries, block.header.time_ms, &prepared);
    if (!v.valid()) return BlockRuleViolation(block, v);
  }
  FL_TRY(ledger_.Commit(block, cert));
  std::unique_lock<std::shared_mutex> lock(mu_);
  state_.ApplyPrepared(std::move(prepared));
  return Status::Ok();
}

}  // namespace fedledger::orchestrator
