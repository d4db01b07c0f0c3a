// FederationState: the deterministic replicated state machine every validator runs on every
// block (the consensus application, as a Tendermint application sits behind ABCI).
//
// Given the genesis (validators, partners) and the committed entries in order, it holds the
// registered datasets, the tasks (spec, spec hash, approvals, status), and each task's round
// progress (attempt, data accesses, model updates, restarts, aggregate). Check() decides
// whether an entry may be appended next; Apply() performs the transition. Both are pure
// functions of (state, entry, block time): no clock, no I/O, no randomness, so every
// validator reaches the same state and the same verdicts.
//
// What is NOT checked here (the ledger layer does it, see ledger/store.h CheckBlock): entry
// signatures, per-signer nonces, block structure. Entries passed in must already be decoded
// (Entry::Decode validates every field statelessly).
//
// Rules (docs/ORCHESTRATOR.md has the full table with every RejectReason):
//   DATASET_REGISTER  signer is a partner; (signer, dataset_id) not yet registered.
//   TASK_PROPOSE      signer and every participant are partners; >= 2 participants; each
//                     participant registered its listed dataset; the aggregator is a genesis
//                     validator (node key) or partner key; task id unused; not yet expired.
//   TASK_APPROVE      by a participant of a proposed, unexpired task, naming its spec hash,
//                     once. The last missing approval makes the task active and starts round 1.
//   TASK_REJECT       by a participant of a proposed, unexpired task naming its spec hash: the
//                     task is rejected (closed).
//   TASK_REVOKE       by a participant of an active task, once: it keeps its place in the
//                     round in progress and takes no part from the next round on. If fewer than
//                     2 non-revoked participants remain the task is revoked (closed) at once.
//   DATA_ACCESS       by a member of the current round, for the current round, naming the
//                     dataset the spec lists for it, with the registered hash, rows_read <=
//                     registered rows; once per round (it survives restarts).
//   MODEL_UPDATE      by a round member after its DATA_ACCESS for that round; once per attempt;
//                     sample_count <= rows_read.
//   ROUND_AGGREGATE   by the aggregator for the current round once every member of the current
//                     attempt delivered; contributors == exactly those members; total_samples ==
//                     the sum of their sample counts. Starts the next round (members: the
//                     participants that have not revoked) or, after the last round, waits for
//                     TASK_COMPLETE.
//   ROUND_RESTART     by the aggregator for the current round with attempt == current + 1,
//                     once the round timeout (spec.round_timeout_ms since the attempt started)
//                     has passed; dropped is EXACTLY the attempt's members without a
//                     MODEL_UPDATE (dropping a deliverer would let the aggregator difference
//                     two sums and unmask it). Updates of the old attempt are discarded: masks
//                     depend on the attempt and the member set, so the remaining members
//                     re-mask and resubmit (no new DATA_ACCESS). Dropped members rejoin in the
//                     next round. Fewer than 2 members left: the task is aborted (closed).
//   TASK_COMPLETE     by the aggregator after the last round's aggregate, rounds_completed ==
//                     spec.rounds.
//   GENESIS           never (there is one, at height 0).
// Rounds are numbered 1 .. spec.rounds (as docs/FORMAT.md's examples and the dev chain do);
// attempts within a round 0, 1, ... (ROUND_RESTART.attempt is the attempt that starts).
// A task that is still proposed when a block's time passes spec.expires_at_ms is expired:
// its status reads kExpired and it accepts nothing more.
//
// Thread safety: const methods may run concurrently; Apply/ApplyBlock need exclusive access.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "ledger/bytes.h"
#include "ledger/crypto.h"
#include "ledger/entry.h"
#include "ledger/status.h"
#include "orchestrator/dataset_table.h"
#include "orchestrator/verdict.h"

namespace fedledger::orchestrator {

enum class TaskStatus : uint8_t {
  kProposed = 1,
  kActive = 2,
  kRejected = 3,  // a participant rejected it before activation (closed_by)
  kRevoked = 4,   // revocations left fewer than 2 participants (closed_by: the last revoker)
  kExpired = 5,   // derived: still proposed after spec.expires_at_ms
  kCompleted = 6,
  kAborted = 7,  // a restart left fewer than 2 round members (closed_by: the aggregator)
};
const char* TaskStatusName(TaskStatus s);  // "proposed", "active", ...

struct DataAccessRecord {
  std::string dataset_id;
  Hash32 dataset_hash;
  uint64_t rows_read = 0;
  uint64_t time_ms = 0;
  Hash32 entry_id;
};

struct UpdateRecord {
  Hash32 update_hash;
  uint64_t sample_count = 0;
  uint64_t size_bytes = 0;
  uint64_t time_ms = 0;
  Hash32 entry_id;
};

struct RestartRecord {
  uint32_t attempt = 0;  // the attempt this restart started
  std::vector<PubKey> dropped;
  std::string reason;
  uint64_t time_ms = 0;
  std::map<PubKey, UpdateRecord> discarded_updates;  // updates of the attempt it ended
};

struct AggregateRecord {
  Hash32 aggregate_hash;
  std::vector<PubKey> contributors;
  uint64_t total_samples = 0;
  uint64_t time_ms = 0;
  Hash32 entry_id;
};

struct RoundProgress {
  uint32_t round = 0;
  uint32_t attempt = 0;                         // current attempt
  uint64_t started_ms = 0;                      // block time the round started
  uint64_t attempt_started_ms = 0;              // block time the current attempt started
  std::vector<PubKey> members;                  // sorted: who takes part in the current attempt
  std::map<PubKey, DataAccessRecord> accesses;  // this round, across attempts
  std::map<PubKey, UpdateRecord> updates;       // current attempt only
  std::vector<RestartRecord> restarts;
  std::optional<AggregateRecord> aggregate;

  bool IsMember(const PubKey& k) const;
};

struct TaskRecord {
  TaskSpec spec;
  Hash32 spec_hash;
  PubKey proposer;
  uint64_t proposed_ms = 0;
  TaskStatus status = TaskStatus::kProposed;  // stored status; never kExpired (see StatusOf)
  std::map<PubKey, uint64_t> approvals;       // participant -> block time of its approval
  std::map<PubKey, uint32_t> revocations;     // participant -> first round it takes no part in
  std::optional<PubKey> closed_by;            // who rejected / revoked / aborted
  std::string close_reason;
  uint64_t closed_ms = 0;
  uint64_t activated_ms = 0;
  uint64_t completed_ms = 0;
  std::optional<Hash32> final_trunk_hash;
  std::vector<RoundProgress> rounds;  // every started round (rounds[i].round == i + 1)

  // The round in progress: the last started round without an aggregate. nullptr when the
  // task is not active or every round has been aggregated.
  const RoundProgress* CurrentRound() const;
  bool AllRoundsAggregated() const;
  // Participants that have not revoked.
  std::vector<PubKey> RemainingParticipants() const;
  const Participant* FindParticipant(const PubKey& k) const;
};

// Result of checking a sequence of entries (a block).
struct BlockVerdict {
  size_t index = 0;  // the first invalid entry when !verdict.valid()
  Verdict verdict = Verdict::Valid();
  bool valid() const { return verdict.valid(); }
  std::string ToString() const;  // "entry 3: invalid (...): ..."
};

class FederationState {
 public:
  // The state right after the genesis block. InvalidArgument unless `genesis` is a GENESIS
  // entry.
  static Result<FederationState> FromGenesis(const Entry& genesis);

  FederationState(const FederationState&) = default;
  FederationState(FederationState&&) = default;
  FederationState& operator=(const FederationState&) = default;
  FederationState& operator=(FederationState&&) = default;

  // Whether `entry` may be appended next in a block with time `block_time_ms`.
  // REQUIRES: block times are non-decreasing across calls that apply.
  Verdict Check(const Entry& entry, uint64_t block_time_ms) const;
  // Applies `entry` if valid and returns the verdict; leaves the state unchanged if not.
  Verdict CheckAndApply(const Entry& entry, uint64_t block_time_ms);
  // REQUIRES: Check(entry, block_time_ms).valid(). Aborts otherwise (programmer error: the
  // caller applies only what it checked, so this costs one more Check, a few map lookups).
  void Apply(const Entry& entry, uint64_t block_time_ms);

  // Checks the entries of one block sequentially: each against the state as updated by the
  // entries before it. Works on a copy-on-write overlay: cost is proportional to the tasks and
  // datasets the block touches, never to the whole state. The state is unchanged.
  BlockVerdict CheckBlock(const std::vector<Entry>& entries, uint64_t block_time_ms) const;
  // CheckBlock that keeps what it computed: when the block is valid, *prepared holds its
  // changes (an overlay on this state) for ApplyPrepared, which then applies them without
  // checking the entries again. REQUIRES for ApplyPrepared: this state has not changed since
  // PrepareBlock (the caller is the only writer, as the consensus application is).
  BlockVerdict PrepareBlock(const std::vector<Entry>& entries, uint64_t block_time_ms,
                            std::unique_ptr<FederationState>* prepared) const;
  void ApplyPrepared(std::unique_ptr<FederationState> prepared);
  // CheckBlock, then applies all of the block or (if any entry is invalid) none of it.
  BlockVerdict ApplyBlock(const std::vector<Entry>& entries, uint64_t block_time_ms);

  // ---- Queries (for the CLI, the HTTP API, the trainer gate and the round driver) ----
  const std::string& chain_id() const { return genesis_->chain_id; }
  const GenesisPayload& genesis() const { return genesis_->payload; }
  uint64_t last_block_time_ms() const { return last_block_time_ms_; }
  bool IsPartner(const PubKey& k) const;
  bool IsValidator(const PubKey& k) const;
  // "partner 'alice'", "validator 'op'" or "key 3fa2c1d0e5b6a7f8" for messages.
  std::string DescribeKey(const PubKey& k) const;

  // Every task, sorted by task id.
  std::vector<const TaskRecord*> Tasks() const;
  const TaskRecord* FindTask(const std::string& task_id) const;
  // The stored status, or kExpired for a proposed task whose expiry is before the last
  // applied block's time.
  TaskStatus StatusOf(const TaskRecord& task) const;

  // Every dataset, sorted by (owner, dataset id).
  std::vector<const DatasetRecord*> Datasets() const;
  const DatasetRecord* FindDataset(const PubKey& owner, const std::string& dataset_id) const;

  // The trainer gate: valid iff `partner` may read its data for `round` of `task_id` now: the
  // task is active, `partner` is a member of the round in progress, and its DATA_ACCESS for
  // that round is committed.
  Verdict MayReadData(const std::string& task_id, uint32_t round, const PubKey& partner) const;

  // Upper bound on any round's total sample count of `task`: the sum of the registered row
  // counts of the participants' datasets (public, fixed at proposal). Secure aggregation sizes
  // its fixed-point scale with it.
  uint64_t MaxTotalSamples(const TaskRecord& task) const;
  // Whether `hash` is named by a committed MODEL_UPDATE (current or discarded attempt),
  // ROUND_AGGREGATE or TASK_COMPLETE: the artifacts a node accepts from others. Scans every
  // task's rounds (cost proportional to the federation's history of updates).
  bool NamesArtifact(const Hash32& hash) const;

  // ---- Snapshot ----
  // Deterministic encoding of the whole state (grammar in docs/ORCHESTRATOR.md). Two
  // validators that applied the same blocks produce identical bytes.
  Bytes Snapshot() const;
  // TaggedHash("fedledger/orchestrator-state/v1", Snapshot()).
  Hash32 SnapshotHash() const;

 private:
  struct Genesis {
    std::string chain_id;
    GenesisPayload payload;
    // key -> name. Looked up for every entry checked, never walked (Snapshot encodes the
    // payload's member lists): hashed.
    std::unordered_map<PubKey, std::string, Hash32Hasher> partners;
    std::unordered_map<PubKey, std::string, Hash32Hasher> validators;
  };

  FederationState() = default;
  // An overlay over `base` (which must outlive it and not change meanwhile).
  static FederationState OverlayOn(const FederationState& base);
  // Moves the overlay's changes into its base. REQUIRES: this is an overlay of `base`.
  void MergeInto(FederationState& base) &&;

  const TaskRecord* LookupTask(const std::string& id) const;
  const DatasetRecord* LookupDataset(const PubKey& owner, const std::string& id) const;
  const DatasetRecord* LookupDataset(const PubKey& owner, const std::string& id,
                                     uint64_t hash) const;
  TaskRecord& MutableTask(const std::string& id);  // REQUIRES: the task exists

  // rules.cc
  Verdict CheckImpl(const Entry& e, uint64_t t) const;
  void ApplyImpl(const Entry& e, uint64_t t);
  Verdict CheckDatasetRegister(const Entry& e, const DatasetRegisterPayload& p) const;
  Verdict CheckPropose(const Entry& e, const TaskProposePayload& p, uint64_t t) const;
  Verdict CheckApprove(const Entry& e, const TaskApprovePayload& p, uint64_t t) const;
  Verdict CheckReject(const Entry& e, const TaskRejectPayload& p, uint64_t t) const;
  Verdict CheckRevoke(const Entry& e, const TaskRevokePayload& p, uint64_t t) const;
  Verdict CheckDataAccess(const Entry& e, const DataAccessPayload& p, uint64_t t) const;
  Verdict CheckModelUpdate(const Entry& e, const ModelUpdatePayload& p, uint64_t t) const;
  Verdict CheckAggregate(const Entry& e, const RoundAggregatePayload& p, uint64_t t) const;
  Verdict CheckRestart(const Entry& e, const RoundRestartPayload& p, uint64_t t) const;
  Verdict CheckComplete(const Entry& e, const TaskCompletePayload& p, uint64_t t) const;
  // Shared prefix of the checks: the task exists and accepts entries of kind `what`.
  Verdict FindOpenTask(const char* what, const std::string& task_id, uint64_t t,
                       bool must_be_active, const TaskRecord** out) const;
  // FindOpenTask, plus: the signer is one of the task's participants.
  Verdict FindParticipantTask(const char* what, const Entry& e, const std::string& task_id,
                              uint64_t t, bool must_be_active, const TaskRecord** out) const;
  // FindOpenTask for an active task, plus: the signer is the task's aggregator.
  Verdict FindAggregatorTask(const char* what, const Entry& e, const std::string& task_id,
                             uint64_t t, const TaskRecord** out) const;
  Verdict CheckRoundMember(const char* what, const TaskRecord& task, const PubKey& signer,
                           uint32_t round, const RoundProgress** out) const;

  std::shared_ptr<const Genesis> genesis_;
  const FederationState* base_ = nullptr;  // set only on a CheckBlock overlay
  uint64_t last_block_time_ms_ = 0;
  std::map<std::string, TaskRecord> tasks_;
  // Every DATASET_REGISTER, TASK_PROPOSE and DATA_ACCESS looks one up (dataset_table.h).
  // Datasets() and Snapshot() sort by (owner, id) when asked.
  DatasetTable datasets_;
  // The datasets sorted by (owner, id).
  std::vector<const DatasetRecord*> SortedDatasets() const;
};

}  // namespace fedledger::orchestrator
