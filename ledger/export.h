// Self-contained exports and proof documents (formats in docs/FORMAT.md).
//
// Export: JSON Lines. Line 1 describes the export; then one line per block, genesis first,
// with the header, certificate and entries as hex of their canonical bytes; the last line
// closes the export with its counts, so a truncated file is detected.
//   {"format":"fedledger-export","version":1,"chain_id":..,"genesis_hash":..,"height":H,
//    "log_size":N,"log_root":..,"head_hash":..}
//   {"type":"block","height":h,"header":HEX,"certificate":HEX|null,"entries":[HEX,..]}
//   {"type":"end","blocks":H+1,"entries":N}
//
// Proof documents (JSON) carry everything needed to check them against a signed tree head:
// the proof, the block header(s) whose log_size is the tree size, their certificates, and
// the genesis entry that fixes the validator set.
#pragma once

#include <iosfwd>
#include <optional>

#include <nlohmann/json.hpp>

#include "ledger/audit.h"
#include "ledger/store.h"

namespace fedledger {

// Writes the whole ledger as of the current head. `progress` gets (blocks written, total).
Status ExportStore(const Store& store, std::ostream& out,
                   const std::function<void(uint64_t, uint64_t)>& progress = nullptr);
// Verifies an export as AuditStore verifies a store: every signature, hash, certificate and
// root from the genesis, plus the export's own first and last lines.
Result<AuditSummary> VerifyExport(std::istream& in, const AuditOptions& options);

// The smallest block whose log covers `tree_size` entries must end exactly there: proofs are
// made against committed block boundaries only. Returns the block's height, or
// InvalidArgument naming the nearest boundaries.
Result<uint64_t> BlockWithLogSize(const Store& store, uint64_t tree_size);

// {"type":"inclusion","chain_id","leaf_index","tree_size","entry":HEX,"leaf_hash","root",
//  "proof":[HEX..],"signed_tree_head":{"height","header":HEX,"certificate":HEX},
//  "genesis_entry":HEX}
Result<nlohmann::json> MakeInclusionProofDoc(const Store& store, uint64_t index,
                                             uint64_t tree_size);
// {"type":"consistency","chain_id","from_size","to_size","from_root","to_root","proof":[..],
//  "from_head":{..},"to_head":{..},"genesis_entry":HEX}
Result<nlohmann::json> MakeConsistencyProofDoc(const Store& store, uint64_t from, uint64_t to);

struct ProofCheck {
  std::string type;
  std::string chain_id;
  Hash32 genesis_hash;
  uint64_t tree_size = 0;   // inclusion: the tree; consistency: the new size
  uint64_t from_size = 0;   // consistency only
  uint64_t leaf_index = 0;  // inclusion only
  uint64_t head_height = 0;
  std::optional<Entry> entry;  // inclusion only
};
// Checks a proof document: the genesis entry signature and the validator set it defines,
// each header's validator-set hash and certificate, that each header's log size and root
// are the proof's, and the RFC 9162 proof itself. Every value the document repeats for
// readers (chain id, roots, leaf hash, each head's height) must equal the certified or
// recomputed one. Corruption naming the failed step or field; InvalidArgument for a field
// that is missing, of the wrong type, or unknown to the document's type.
Result<ProofCheck> CheckProofDoc(const nlohmann::json& doc,
                                 const std::optional<Hash32>& expected_genesis);

}  // namespace fedledger
