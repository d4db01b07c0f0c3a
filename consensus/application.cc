#include "consensus/application.h"

namespace fedledger::consensus {

Status LedgerApplication::CheckEntry(const Entry& entry) const {
  if (entry.chain_id() != store_->chain_id()) {
    return Status::InvalidArgument("entry is for chain '" + entry.chain_id() + "', not '" +
                                   store_->chain_id() + "'");
  }
  if (entry.kind() == EntryKind::kGenesis) {
    return Status::InvalidArgument("GENESIS is only allowed at height 0");
  }
  return Status::Ok();
}

Result<CommittedBlock> LedgerApplication::GetCommitted(uint64_t height) const {
  if (height == 0) return Status::NotFound("the genesis block is not served by sync");
  FL_ASSIGN(BlockRecord rec, store_->GetBlockRecord(height));
  if (!rec.cert)
    return Status::Corruption("block " + std::to_string(height) + " has no certificate");
  FL_ASSIGN(Block block, store_->GetBlock(height));
  return CommittedBlock{std::move(block), *rec.cert};
}

}  // namespace fedledger::consensus
