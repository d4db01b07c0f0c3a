// The application behind consensus (as a Tendermint application sits behind ABCI): it holds
// the committed chain, decides which entries and blocks are valid, builds the next header
// and applies committed blocks.
//
// Signatures: consensus verifies every entry signature exactly once per validator (at mempool
// admission or on first sight in a proposal or synced block) before it hands an entry or a
// block to the application, so implementations must NOT verify entry signatures again (open
// the Store with StoreOptions::verify_signatures_on_commit = false). Likewise every certificate
// handed to Commit has been verified: consensus assembles its own from precommits it verified
// one by one, and checks a synced block's certificate before anything else
// (StoreOptions::verify_certificate_on_commit = false).
//
// Verification results follow STYLE rule 6: OK (valid), InvalidArgument/FailedPrecondition
// naming the reason (invalid: consensus rejects the entry or prevotes nil), anything else is
// an internal error (the validator stops).
//
// Thread-safety: called only from the thread that drives the consensus state machine.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "consensus/messages.h"
#include "ledger/block.h"
#include "ledger/entry.h"
#include "ledger/status.h"
#include "ledger/store.h"

namespace fedledger::consensus {

class Application {
 public:
  virtual ~Application() = default;

  virtual const std::string& chain_id() const = 0;
  virtual const ValidatorSet& validators() const = 0;
  // Height of the committed head (0: only the genesis block).
  virtual uint64_t Height() const = 0;
  // Last committed nonce of `signer` (0 if none).
  virtual uint64_t LastNonce(const PubKey& signer) const = 0;

  // Mempool admission check of one entry (signature already verified, nonce already checked
  // to be above LastNonce) against the committed state.
  virtual Status CheckEntry(const Entry& entry) const = 0;
  // The header of the block that appends `entries` on top of the head.
  virtual BlockHeader NextHeader(const std::vector<Entry>& entries, uint64_t time_ms,
                                 const PubKey& proposer) const = 0;
  // Checks a proposed block against the head (entry signatures already verified).
  virtual Status CheckBlock(const Block& block) const = 0;
  // Checks `block` against the head and durably applies it with `cert` (verified by the
  // caller, see above). After an OK return Height() is the block's height.
  virtual Status Commit(const Block& block, const Certificate& cert) = 0;
  // A committed block and its certificate, for peers that catch up. NotFound above the head;
  // the genesis block has no certificate and is never served.
  virtual Result<CommittedBlock> GetCommitted(uint64_t height) const = 0;
};

// The default application: the ledger store's own rules and nothing more. It accepts every
// well-formed entry of this chain whose signature verifies (checked by consensus) and whose
// nonce is fresh (above the signer's last committed nonce, strictly increasing within a
// block; Store::CheckBlock checks this against the committed head). GENESIS entries are
// refused after height 0.
class LedgerApplication : public Application {
 public:
  // `store` is not owned and must outlive this object. It should be opened with
  // verify_signatures_on_commit = false (see above); with true, signatures are checked twice.
  explicit LedgerApplication(Store* store) : store_(store) {}

  const std::string& chain_id() const override { return store_->chain_id(); }
  const ValidatorSet& validators() const override { return store_->validators(); }
  uint64_t Height() const override { return store_->height(); }
  uint64_t LastNonce(const PubKey& signer) const override { return store_->LastNonce(signer); }
  Status CheckEntry(const Entry& entry) const override;
  BlockHeader NextHeader(const std::vector<Entry>& entries, uint64_t time_ms,
                         const PubKey& proposer) const override {
    return store_->NextHeader(entries, time_ms, proposer);
  }
  Status CheckBlock(const Block& block) const override { return store_->CheckBlock(block); }
  Status Commit(const Block& block, const Certificate& cert) override {
    return store_->Commit(block, cert);
  }
  Result<CommittedBlock> GetCommitted(uint64_t height) const override;

 private:
  Store* store_;
};

}  // namespace fedledger::consensus
