// The consensus core: a Tendermint-style BFT state machine (Buchman, Kwon, Milosevic, "The
// latest gossip on BFT consensus", 2018, Algorithm 1) with catch-up, as a pure deterministic
// object. docs/CONSENSUS.md explains the protocol and how it maps to the paper.
//
// Inputs (the adapter calls these): Start, OnMessage (a decoded message from an authenticated
// peer), OnTimeout (a timer it was asked to set has fired), SubmitEntries (client entries:
// new mempool work). Each input carries the adapter's clock reading `now_ms`, used only as the
// proposer's block time; nothing inside reads a clock, spawns a thread, touches a socket or
// draws randomness.
//
// Outputs go to the Outbox, synchronously, during the input call: messages to send or
// broadcast, timers to set, committed blocks. Votes and proposals are recorded through the
// Signer (durably) before they reach the Outbox; blocks are committed through the Application
// before Outbox::Committed is called.
//
// Errors: input problems (malformed, badly signed, stale or conflicting messages) are never
// errors: they are dropped and reported to Outbox::Rejected. A non-OK Status from an input
// call is an internal error (the store or the signer storage failed, or the application
// refused a block that >2/3 of the validators certified); the validator must stop.
//
// Thread-safety: none. One thread (or strand) drives all inputs; the Outbox must not call
// back into the Consensus object.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <unordered_set>
#include <utility>
#include <vector>

#include "consensus/application.h"
#include "consensus/mempool.h"
#include "consensus/messages.h"
#include "consensus/pacemaker.h"
#include "consensus/signer.h"
#include "consensus/vote_set.h"

namespace fedledger::consensus {

// What the state machine asks of the outside world. Implemented by the networked adapter
// (net/) and by the simulated network in tests.
class Outbox {
 public:
  virtual ~Outbox() = default;
  // To one validator (by node key); the transport signs and delivers it, best effort.
  virtual void Send(const PubKey& to, const Message& m) = 0;
  // To every other validator.
  virtual void Broadcast(const Message& m) = 0;
  // What was sent or broadcast so far in this call may leave now, before the call returns
  // (otherwise the adapter may hold it until then). A proposer asks this for its proposal
  // before it records its prevote (ConsensusOptions::send_proposal_first).
  virtual void SendNow() {}
  // Call Consensus::OnTimeout(t) after t.delay_ms. Timers are never cancelled: the state
  // machine ignores stale ones.
  virtual void SetTimer(const TimerRequest& t) = 0;
  // `block` with `cert` is durably committed (by consensus or by catch-up).
  virtual void Committed(const Block& block, const Certificate& cert) = 0;
  // A message from `from` was dropped; `reason` says why (for logs and metrics).
  virtual void Rejected(const PubKey& from, const std::string& reason) {}
  // `entry` left the mempool without being committed, and never will be: the application
  // refused it on top of the entries before it in this validator's proposal (kRejected), or
  // a block committed a higher nonce of its signer first (kStaleNonce). `reason` says why.
  // Clients waiting for it can be told now.
  virtual void Evicted(const Entry& entry, Admission code, const std::string& reason) {}
};

struct ConsensusOptions {
  TimeoutOptions timeouts;
  size_t max_block_entries = 4096;           // a proposer takes at most this many entries
  size_t max_block_bytes = 8u << 20;         // ... and at most this many entry bytes
  uint32_t max_sync_blocks = 16;             // blocks per sync request/response
  uint64_t sync_timeout_ms = 2000;           // a sync request unanswered this long is lost:
                                             // ask the next validator
  uint32_t round_window = 16;                // messages for rounds beyond round + window only
                                             // count towards round skipping, they are not kept
  size_t max_future_messages = 4096;         // buffered messages for the next height
  size_t verified_cache_entries = 1u << 17;  // leaf hashes of verified non-mempool entries
  // A proposer that starts a height by committing the last one does not propose at once: it
  // asks for a zero-delay timer (TimerRequest::propose) and proposes when that fires. The
  // inputs that arrived while it committed are handled first, above all the entry batches
  // the other validators send right after their precommits (node/node.cc, Node::Drive):
  // their entries join this block instead of the next one.
  bool propose_after_pending = true;
  // A proposer that prevotes its own fresh block at once sends the proposal first
  // (Outbox::SendNow), and records its prevote durably after: the others check the block
  // while it waits for its disk. Otherwise one durable write records both before either
  // leaves (Signer::SignProposalAndPrevote). Signer::SignProposalUnsynced says what a power
  // cut in between can cost.
  bool send_proposal_first = true;
  MempoolOptions mempool;
};

struct ConsensusStats {
  uint64_t commits = 0;        // blocks committed by this state machine's rounds
  uint64_t synced_blocks = 0;  // blocks committed from sync responses
  uint64_t rounds_started = 0;
  uint64_t timeouts = 0;  // timers that fired and acted
  uint64_t proposals_made = 0;
  uint64_t invalid_proposals = 0;  // proposals whose block did not check
  uint64_t rejected_messages = 0;
  uint64_t equivocations = 0;  // conflicting votes or proposals seen
  uint64_t sync_requests_sent = 0;
  uint64_t sync_timeouts = 0;           // sync requests that went unanswered
  uint64_t evicted_entries = 0;         // mempool entries the proposer's block could not hold
  uint64_t stale_entries = 0;           // mempool entries a later nonce of their signer outran
  uint64_t block_signature_checks = 0;  // entry signatures verified outside the mempool
};

class Consensus {
 public:
  // None of the pointers is owned; all must outlive this object. REQUIRES: the signer's key
  // is a member of app->validators().
  Consensus(ConsensusOptions options, Application* app, Signer* signer, Outbox* out);

  // Starts the height after the committed head. After a restart it resumes the round it last
  // signed in, restores its lock from the signer state, re-sends its last vote, and asks
  // the other validators for blocks it may have missed.
  Status Start(uint64_t now_ms);
  // A message from the validator whose node key is `from` (authenticated by the transport).
  Status OnMessage(const PubKey& from, const Message& m, uint64_t now_ms);
  Status OnTimeout(const TimerRequest& t, uint64_t now_ms);
  // Entries submitted by clients to this validator. Admitted entries are broadcast to the other
  // validators in one ENTRY_BATCH, and a waiting proposer proposes at once. Returns one
  // AdmitResult per entry, in order. `signature_verified` (optional, one flag per entry): the
  // adapter already verified these entries' signatures on another thread, so admission does
  // not verify them again (an entry whose flag is false or missing is verified here).
  Result<std::vector<AdmitResult>> SubmitEntries(std::vector<Entry> entries, uint64_t now_ms,
                                                 const std::vector<bool>& signature_verified = {});

  uint64_t height() const { return height_; }  // the height being decided
  uint32_t round() const { return round_; }
  Step step() const { return step_; }
  const Mempool& mempool() const { return mempool_; }
  const ConsensusStats& stats() const { return stats_; }
  const PubKey& pubkey() const { return signer_->pubkey(); }

 private:
  struct ProposalSlot {
    Proposal proposal;
    std::optional<bool> valid;  // evaluated once, on first need
  };

  // Input handling: mutate state, never evaluate the rules (Run does).
  Status Handle(const PubKey& from, const Message& m);
  Status HandleProposal(const PubKey& from, Proposal p);
  Status HandleVote(const PubKey& from, const Vote& v);
  Status HandleSyncRequest(const PubKey& from, const SyncRequest& r);
  Status HandleSyncResponse(const PubKey& from, const SyncResponse& r);
  Status HandleEntryBatch(const PubKey& from, const EntryBatch& b);
  // Returns true if the message is for a later height (buffered or sync requested).
  bool Defer(const PubKey& from, uint64_t height, const Message& m);
  void Reject(const PubKey& from, const std::string& reason);

  // Evaluates the upon-rules until nothing changes, replaying buffered messages after a
  // height change.
  Status Run();
  Result<bool> Step1();  // one rule firing; false when quiescent

  Status StartRound(uint32_t round, bool after_commit = false);
  // Something to decide in this round (work, a valid or locked block, votes): the round's
  // propose timeout must run.
  bool RoundHasWork() const;
  Status TryPropose();
  // The proposer's block from `entries` (in mempool order). When the application refuses the
  // combination, keeps the longest valid prefix, evicts the entry after it from the mempool
  // (Outbox::Evicted) and retries with the rest, a bounded number of times.
  Result<Block> BuildBlock(std::vector<Entry> entries);
  Status CastVote(VoteType type, const Hash32& hash);
  // Our vote `v` (nullptr: the signer refused) was signed: count it, send it, enter the step.
  void EnterVoteStep(VoteType type, const Vote* v);
  Status CommitBlock(const Block& block, const Certificate& cert);
  // Drops the committed block's entries from the mempool, and those it made stale (Evicted).
  void DropCommitted(const Block& block);
  void NewHeight();
  void SetProposeTimer();
  void RequestSync(const PubKey* peer);
  void SendSyncRequest(const PubKey& peer);
  void OnSyncTimeout(const TimerRequest& t);
  // The application's verdict on the slot's block (cached once given). An error is no verdict:
  // the application could not decide (a store read failed), which the caller passes up.
  Result<bool> IsValid(ProposalSlot& slot);
  Status VerifyEntries(const Block& block);
  // Mempool admission; true if anything was admitted. `admitted` (optional) gets copies.
  // `pre_verified[i]`: entries[i]'s signature was verified by the adapter.
  bool Admit(std::vector<Entry> entries, const std::vector<bool>& pre_verified,
             std::vector<AdmitResult>* results, std::vector<Entry>* admitted);
  // New work in the mempool: a waiting proposer proposes, the others start the propose timer.
  Status OnNewWork();

  ConsensusOptions options_;
  Application* app_;
  Signer* signer_;
  Outbox* out_;
  const ValidatorSet& vals_;
  Pacemaker pacemaker_;
  Mempool mempool_;
  ConsensusStats stats_;
  uint64_t now_ms_ = 0;

  // Per-height state (Algorithm 1's variables).
  uint64_t height_ = 0;
  uint32_t round_ = 0;
  Step step_ = Step::kPropose;
  int64_t locked_round_ = -1;
  Hash32 locked_hash_;
  int64_t valid_round_ = -1;
  std::optional<Block> valid_block_;
  std::map<uint32_t, ProposalSlot> proposals_;
  HeightVotes votes_;

  // Per-round flags.
  bool proposed_ = false;
  bool propose_timer_set_ = false;
  bool proposal_deferred_ = false;  // a TimerRequest::propose is on its way
  bool polka_seen_ = false;           // line 36 fired in this round
  bool precommit_timer_set_ = false;  // line 47 fired (or precommit step entered)

  // Catch-up.
  std::vector<std::pair<PubKey, Message>> future_;  // messages for height_ + 1
  std::vector<size_t> future_per_sender_;
  std::optional<Hash32> missing_block_;  // certified by precommits but not held
  bool sync_in_flight_ = false;          // a request to sync_peer_ awaits its answer
  PubKey sync_peer_;
  uint64_t sync_id_ = 0;                 // of the request in flight (its timer carries it)
  size_t sync_attempts_ = 0;             // consecutive unanswered requests
  bool replay_ = false;

  std::unordered_set<Hash32, Hash32Hasher> verified_;  // verified entries not in the mempool
};

}  // namespace fedledger::consensus
