// OrchestratorApplication: the consensus application every validator runs (the ABCI side of
// the node). It composes two layers of rules:
//
//   consensus::LedgerApplication  chain id, no GENESIS after height 0, block structure, log
//                                 root, per-signer nonces (Store::CheckBlock), durable commit;
//   FederationState               the task lifecycle (orchestrator/state.h): who may register,
//                                 propose, approve, read data, update, aggregate, and when.
//
// So an entry that breaks the task lifecycle is refused at mempool admission (the submitter
// gets the FederationState message with its reason, e.g. "TASK_APPROVE for task 't1': spec
// hash 3fa2... does not match the proposed spec 9c1e... [spec-hash-mismatch]"), and a block
// holding one is invalid to every validator (prevote nil), and a synced block holding one is
// refused before anything is written.
//
// State: rebuilt from the store at Open (ReplayStore: the ledger is the source of truth, the
// state is not persisted) and advanced by every Commit, after the store's durable write.
//
// Times: block checks use the block's header time (deterministic). Mempool admission has no
// block yet; it checks against max(last committed block time, options.admission_clock()), so
// that time-based rules (expiry, round timeouts) follow the wall clock on an idle chain. Only
// admission reads the clock; no verdict on a block ever does.
//
// Thread-safety: the consensus::Application methods are called from the one consensus thread
// (as consensus/application.h requires). Read() may be called from any thread concurrently
// with them: it holds a shared lock, Commit holds the exclusive lock while it applies a block.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <shared_mutex>
#include <string>
#include <utility>
#include <vector>

#include "consensus/application.h"
#include "ledger/status.h"
#include "ledger/store.h"
#include "orchestrator/state.h"

namespace fedledger::orchestrator {

struct ApplicationOptions {
  // Wall clock in ms since the epoch, read only for mempool admission (see above). Empty:
  // admission checks at the last committed block's time.
  std::function<uint64_t()> admission_clock;
};

class OrchestratorApplication : public consensus::Application {
 public:
  // Replays `store` (not owned; must outlive the application) into the federation state.
  // Corruption if a committed block breaks the orchestrator's rules (see replay.h).
  static Result<std::unique_ptr<OrchestratorApplication>> Open(Store* store,
                                                               ApplicationOptions options = {});

  const std::string& chain_id() const override { return ledger_.chain_id(); }
  const ValidatorSet& validators() const override { return ledger_.validators(); }
  uint64_t Height() const override { return ledger_.Height(); }
  uint64_t LastNonce(const PubKey& signer) const override { return ledger_.LastNonce(signer); }
  // The ledger's checks, then FederationState::Check at the admission time. A rule violation
  // is FailedPrecondition("<message> [<reason-name>]").
  Status CheckEntry(const Entry& entry) const override;
  BlockHeader NextHeader(const std::vector<Entry>& entries, uint64_t time_ms,
                         const PubKey& proposer) const override {
    return ledger_.NextHeader(entries, time_ms, proposer);
  }
  // Store::CheckBlock, then the federation rules at the header's time.
  // FailedPrecondition("block H entry I (KIND): <message> [<reason-name>]") for a rule violation.
  // The changes a valid block would make are kept for Commit (the last checked block only).
  Status CheckBlock(const Block& block) const override;
  // Checks the block against the federation rules (nothing is written if it breaks one),
  // commits it to the store, then applies it to the state. A block that CheckBlock passed
  // since the last commit is not checked against the rules again: its changes are applied.
  Status Commit(const Block& block, const Certificate& cert) override;
  Result<consensus::CommittedBlock> GetCommitted(uint64_t height) const override {
    return ledger_.GetCommitted(height);
  }

  // Runs `fn(const FederationState&)` under the shared lock and returns its result. Thread-
  // safe. `fn` must not keep pointers into the state after it returns.
  template <typename Fn>
  auto Read(Fn&& fn) const {
    std::shared_lock<std::shared_mutex> lock(mu_);
    return std::forward<Fn>(fn)(state_);
  }

 private:
  OrchestratorApplication(Store* store, ApplicationOptions options, FederationState state)
      : ledger_(store), options_(std::move(options)), state_(std::move(state)) {}
  uint64_t AdmissionTime() const;

  consensus::LedgerApplication ledger_;
  ApplicationOptions options_;
  mutable std::shared_mutex mu_;  // Commit writes state_ under it; Read and checks share it
  FederationState state_;
  // The last block CheckBlock passed since the last Commit (by header hash, which binds the
  // entries through the log root) and its changes over state_. Consensus thread only.
  mutable Hash32 checked_hash_;
  mutable std::unique_ptr<FederationState> checked_;
};

}  // namespace fedledger::orchestrator
