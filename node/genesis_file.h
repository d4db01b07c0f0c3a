// The genesis file written by `fedledger genesis` and read by `fedledger node` on first start:
//
//   {"format":"fedledger-genesis","version":1,"chain_id":"..","genesis_hash":"<64 hex>",
//    "entry":"<hex of the signed GENESIS entry's canonical bytes>",
//    "validators":[{"name":..,"key":..}..],"partners":[..]}     (the last two for humans)
//
// genesis_hash is the hash of the genesis block (height 0) built from the entry: the chain's
// trust anchor, the value to pass to `audit verify --genesis-hash`. Reading checks that the
// entry decodes, is a GENESIS entry, its signature verifies and the hash matches.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

#include "ledger/block.h"
#include "ledger/entry.h"
#include "ledger/status.h"

namespace fedledger::node {

struct GenesisFile {
  Entry entry;
  Block block;        // the genesis block (height 0) made from `entry`
  Hash32 hash;        // block.header.Hash()
};

// Checks a signed GENESIS entry and builds its block. InvalidArgument naming the problem.
Result<GenesisFile> MakeGenesisFile(const Entry& entry);
nlohmann::json GenesisFileJson(const GenesisFile& g);
Result<GenesisFile> ParseGenesisFile(const nlohmann::json& doc);
Result<GenesisFile> ReadGenesisFile(const std::string& path);
// Writes the file; refuses to overwrite an existing one.
Status WriteGenesisFile(const std::string& path, const GenesisFile& g);

}  // namespace fedledger::node
