// The validator's signer: signs proposals and votes with the node key, and before it signs
// anything it records what it signs, so that after a crash it never signs a conflicting
// message.
//
// Rule (as Tendermint's privval): messages are ordered by (height, round, step) with
// step propose < prevote < precommit. The signer refuses anything below the last signed
// (height, round, step), and at the same (height, round, step) it only re-signs the same
// block hash. Signing is deterministic (BIP-340 without aux randomness), so re-signing gives
// the same bytes. It also records the last non-nil precommit: that is the validator's lock,
// which the state machine restores after a restart.
//
// Durability. A record is normally durable before the message leaves. Two kinds of message
// may leave with their record only written (a process crash keeps it, a power cut may lose
// it):
// - the proposal a proposer sends ahead of its prevote (SignProposalUnsynced), and
// - the proposal and prevote of round 0 of the height after a durable precommit: the
//   precommit's record is the "permit" for them, so a height's first round costs one disk
//   flush (the precommit's) instead of two.
// To stay safe after losing such a record, a signer that opens on a state that may have
// been followed by one abstains there: on a precommit at height h it refuses the proposal
// and prevote of (h+1, round 0); on a round-0 proposal at height h it refuses the prevote
// (and any other proposal) of (h, 0). It precommits there as usual, and round 1 goes
// ahead normally: a restart costs at most one round, and no message is ever signed twice
// with different contents. A precommit always waits for its record; votes that may have
// been lost are never precommits, so locks never are.
//
// Storage is behind SignerStorage: MemorySignerStorage for simulations (it survives a
// simulated crash because the test keeps it), FileSignerStorage for nodes (two checksummed
// slots; a write never overwrites the slot of the last durable record, so a torn write
// loses at most records that were not durable yet).
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
  // The last saved state, durable once Load returns; a default SignedState if nothing was
  // ever saved.
  virtual Result<SignedState> Load() = 0;
  // Durable when it returns OK, together with every save before it.
  virtual Status Save(const SignedState& state) = 0;
  // Written, but durable only once the next Save returns: a crashed process keeps it, a power
  // cut before that Save may lose it (and leave the state of an earlier save, at least the
  // last durable one). For the messages the signer may send ahead of their records (above).
  virtual Status SaveUnsynced(const SignedState& state) { return Save(state); }
};

// Keeps the durable state apart from the written one, so that a simulation can cut the
// power (LosePower) as well as crash the process.
class MemorySignerStorage : public SignerStorage {
 public:
  Result<SignedState> Load() override {
    durable_ = state_;
    return state_;
  }
  Status Save(const SignedState& state) override {
    state_ = durable_ = state;
    ++saves_;
    ++synced_saves_;
    return Status::Ok();
  }
  Status SaveUnsynced(const SignedState& state) override {
    state_ = state;
    ++saves_;
    return Status::Ok();
  }
  // A power cut: the unsynced saves since the last durable one are lost.
  void LosePower() { state_ = durable_; }
  int saves() const { return saves_; }
  int synced_saves() const { return synced_saves_; }

 private:
  SignedState state_;
  SignedState durable_;
  int saves_ = 0;
  int synced_saves_ = 0;
};

class FileSignerStorage : public SignerStorage {
 public:
  // Opens or creates the file at `path` (mode 0600). A file whose slots both fail their
  // checksum is Corruption: the validator must not start with an unknown signing history.
  // Slots: a save goes to the slot that does not hold the last durable record (unsynced
  // saves in a row overwrite each other there), and the newest valid slot wins on Load.
  static Result<std::unique_ptr<FileSignerStorage>> Open(const std::string& path);
  ~FileSignerStorage() override;
  Result<SignedState> Load() override;
  Status Save(const SignedState& state) override;
  // The slot is written without fdatasync; the next Save's fdatasync flushes it with its own.
  Status SaveUnsynced(const SignedState& state) override;

 private:
  FileSignerStorage(int fd, std::string path) : fd_(fd), path_(std::move(path)) {}
  Status Write(const SignedState& state, bool sync);
  int fd_;
  std::string path_;
  uint64_t seq_ = 0;        // of the newest record
  size_t durable_slot_ = 0;  // the slot of the last durable record
};

class Signer {
 public:
  // `storage` is not owned and must outlive the signer. Loads the signed state.
  static Result<std::unique_ptr<Signer>> Open(const SecretKey& key, SignerStorage* storage);

  const PubKey& pubkey() const { return key_.pubkey(); }
  const SignedState& state() const { return state_; }
  // The height whose round 0 this signer abstains from proposing and prevoting in, after it
  // opened on a record that may have been followed by lost ones (the rule above); 0: none.
  uint64_t abstain_height() const { return abstain_height_; }

  // A signed vote, after recording it (durably, except the permitted prevote above).
  // FailedPrecondition if it would conflict with what was signed before or falls where the
  // signer abstains (the rules above); an I/O error if it could not be recorded.
  Result<Vote> SignVote(VoteType type, const std::string& chain_id, uint64_t height, uint32_t round,
                        const Hash32& block_hash);
  // Signs `p` in place (sets block_hash and sig), after recording it. Same errors.
  Status SignProposal(Proposal& p);
  // SignProposal with the record written but not yet durable (SignerStorage::SaveUnsynced),
  // for a proposer that sends its proposal at once and then records its prevote for it, whose
  // record covers the proposal too (as in SignProposalAndPrevote). In round 0 the abstention
  // rule above covers its loss. In a later round a power cut before the prevote's record can
  // lose it, and the restarted validator could then propose another block at this height
  // and round: peers count that as an equivocating proposal, which cannot fork the chain,
  // because no vote is lost that way (that prevote was never sent).
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
  // signed one, or the same one again, and not where this signer abstains.
  Status Check(uint64_t height, uint32_t round, SignStep step, const Hash32& hash) const;
  // Check, then record the new state (unless it is the same message again): durably, or only
  // written (SignerStorage::SaveUnsynced) if `sync` is false or the permit covers it.
  Status Authorize(uint64_t height, uint32_t round, SignStep step, const Hash32& hash,
                   bool sync = true);
  // True if the last durable record is a precommit at height - 1 and this is the proposal or
  // prevote of (height, round 0).
  bool Permitted(uint64_t height, uint32_t round, SignStep step) const;
  Vote MakeVote(VoteType type, const std::string& chain_id, uint64_t height, uint32_t round,
                const Hash32& block_hash) const;
  SecretKey key_;
  SignerStorage* storage_;
  SignedState state_;    // the last signed
  SignedState durable_;  // the last recorded durably
  // After opening on a state that a lost unsynced record may have followed: the height whose
  // round 0 gets no proposal and no prevote from this signer (0: none).
  uint64_t abstain_height_ = 0;
};

}  // namespace fedledger::consensus
