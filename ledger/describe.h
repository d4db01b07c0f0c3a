// Human and JSON renderings of ledger objects, shared by the CLI and the HTTP API.
#pragma once

#include <map>
#include <string>

#include <nlohmann/json.hpp>

#include "ledger/block.h"
#include "ledger/entry.h"

namespace fedledger {

// Names for keys from the genesis (validators and partners): "alice", "validator-2".
class KeyNames {
 public:
  KeyNames() = default;
  explicit KeyNames(const GenesisPayload& g);
  // The member's name, or the first 12 hex digits of the key.
  std::string Name(const PubKey& key) const;
  // The key for a name or a 64-hex-digit key; InvalidArgument for 64 hex digits that are not
  // a valid x-only public key, NotFound otherwise.
  Result<PubKey> Resolve(const std::string& name_or_hex) const;

 private:
  std::map<PubKey, std::string> names_;
};

// One line describing the payload: "task tox21-demo round 2: update 3fa2c1.. (1,204 samples)".
std::string DescribePayload(const Payload& p, const KeyNames& names);

nlohmann::json PayloadToJson(const Payload& p);
nlohmann::json EntryToJson(const Entry& e, const KeyNames& names);
nlohmann::json HeaderToJson(const BlockHeader& h);

// "2026-11-23T16:04:05.123Z".
std::string FormatTimeMs(uint64_t ms);
// Accepts RFC 3339 UTC ("2026-11-23T16:04:05Z", fractional seconds allowed), a date
// ("2026-11-23", midnight UTC) or milliseconds since the epoch.
Result<uint64_t> ParseTimeMs(const std::string& text);
// "1,234,567".
std::string WithCommas(uint64_t v);

}  // namespace fedledger
