// The validator's signer: signs proposals and votes with the node key, and before it signs
// anything it durably records what it signs, so that after a crash it never signs a
// conflicting message.
//
// Rule (as Tendermint's privval): messages are ordered by (height, round, step) with
// step propose < prevote < precommit. The signer refuses anything below the last signed
// (height, round, step), and at the same (height, round, step) it only re-signs the same
// block hash. Signing is deterministic (BIP-340 without aux randomness), so re-signing gives
// the same bytes. It also records the last non-nil precommit: that is the validator's lock,
// which the state machine restores after a restart.
//
// Storage is behind SignerStorage: MemorySignerStorage for simulations (it survives a
// simulated crash because the test keeps it), FileSignerStorage for nodes (two checksummed
// slots written alternately with fdatasync, so a torn write loses at most the newest state,
// which was never used because the message is sent only after Save returns). The one
// exception is a fresh proposal, which may leave before its record is durable
// (SignProposalUnsynced): no vote ever does.
//
// Thread-compatible.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "consensus/messages.h"
#include "ledger/block.h"
#include "ledger/crypto.h"
#include "ledger/status.h"

namespace fedledger::consensus {

enum class SignStep : uint8_t { kNone = 0, kPropose = 1, kPrevote = 2, kPrecommit = 3 };

struct SignedState {
  uint64_t height = 0;
  uint32_t round = 0;
  SignStep step = SignStep::kNone;
  Hash32 block_hash;  // of the last signed message (zero: nil vote)
  // The last non-nil precommit (lock_height 0: none).
  uint64_t lock_height = 0;
  uint32_t lock_round = 0;
  Hash32 lock_hash;
  bool operator==(const SignedState&) const = default;
};

class SignerStorage {
 public:
  virtual ~SignerStorage() = default;
  // The last saved state; a default SignedState if nothing was ever saved.
  virtual Result<SignedState> Load() = 0;
  // Durable when it returns OK.
  virtual Status Save(const SignedState& state) = 0;
  // Written, but durable only once the next Save returns: a crashed process keeps it, a power
  // cut before that Save may lose it (and leave the state before it). For the proposal that
  // leaves ahead of its proposer's prevote (Signer::SignProposalUnsynced).
  virtual Status SaveUnsynced(const SignedState& state) { return Save(state); }
};

class MemorySignerStorage : public SignerStorage {
 public:
  Result<SignedState> Load() override { return state_; }
  Status Save(const SignedState& state) override {
    state_ = state;
    ++saves_;
    return Status::Ok();
  }
  int saves() const { return saves_; }

 private:
  SignedState state_;
  int saves_ = 0;
};

class FileSignerStorage : public SignerStorage {
 public:
  // Opens or creates the file at `path` (mode 0600). A file whose slots both fail their
  // checksum is Corruption: the validator must not start with an unknown signing history.
  static Result<std::unique_ptr<FileSignerStorage>> Open(const std::string& path);
  ~FileSignerStorage() override;
  Result<SignedState> Load() override;
  Status Save(const SignedState& state) override;
  // The slot is written without fdatasync; the next Save's fdatasync flushes it with its own.
  Status SaveUnsynced(const SignedState& state) override;

 private:
  FileSignerStorage(int fd, std::string path) : fd_(fd), path_(std::move(path)) {}
  int fd_;
  std::string path_;
  uint64_t seq_ = 0;
};

class Signer {
 public:
  // `storage` is not owned and must outlive the signer. Loads the signed state.
  static Result<std::unique_ptr<Signer>> Open(const SecretKey& key, SignerStorage* storage);

  const PubKey& pubkey() const { return key_.pubkey(); }
  const SignedState& state() const { return state_; }

  // A signed vote, after recording it. FailedPrecondition if it would conflict with what
  // was signed before (see the rule above); an I/O error if it could not be recorded.
  Result<Vote> SignVote(VoteType type, const std::string& chain_id, uint64_t height, uint32_t round,
                        const Hash32& block_hash);
  // Signs `p` in place (sets block_hash and sig), after recording it. Same errors.
  Status SignProposal(Proposal& p);
  // SignProposal with the record written but not yet durable (SignerStorage::SaveUnsynced),
  // for a proposer that sends its proposal at once and then durably records its prevote for
  // it, whose record covers the proposal too (as in SignProposalAndPrevote). Votes are never
  // signed this way. The cost: a power cut between the two records can lose this one, and the
  // restarted validator could then propose another block at this height and round. Peers
  // count that as an equivocating proposal; it cannot fork the chain, because every vote is
  // durable before it is sent.
  Status SignProposalUnsynced(Proposal& p);
  // A proposer that prevotes its own fresh block at once: signs `p` in place and returns the
  // prevote for it, after ONE durable write that records the prevote. Same errors. Safe
  // because the record of (height, round, prevote, B) refuses any later proposal at this
  // height and round (a lower step) and any prevote there for another block; the proposal
  // itself is checked against the previous record first, so it never conflicts with a
  // proposal signed before a crash.
  Result<Vote> SignProposalAndPrevote(Proposal& p);

 private:
  Signer(const SecretKey& key, SignerStorage* storage) : key_(key), storage_(storage) {}
  // OK if a message at (height, round, step) for `hash` may be signed: it is above the last
  // signed one, or the same one again.
  Status Check(uint64_t height, uint32_t round, SignStep step, const Hash32& hash) const;
  // Check, then record the new state (unless it is the same message again): durably, or
  // with `sync` false only written (SignerStorage::SaveUnsynced).
  Status Authorize(uint64_t height, uint32_t round, SignStep step, const Hash32& hash,
                   bool sync = true);
  Vote MakeVote(VoteType type, const std::string& chain_id, uint64_t height, uint32_t round,
                const Hash32& block_hash) const;
  SecretKey key_;
  SignerStorage* storage_;
  SignedState state_;
};

}  // namespace fedledger::consensus
