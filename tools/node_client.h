// The partner side of a validator's HTTP API, shared by the partner and operator commands
// (`fedledger dataset ...`, `fedledger task ...`): read JSON, and sign, submit and wait for
// an entry's commit. Failures throw cli::Failure with the exit codes of tools/command.h; a
// refusal by the ledger (an entry that breaks a rule) is exit code 2 with the node's reason.
#pragma once

#include <cstdint>
#include <string>

#include <nlohmann/json.hpp>

#include "ledger/crypto.h"
#include "ledger/entry.h"
#include "tools/command.h"

namespace fedledger::cli {

class NodeClient {
 public:
  explicit NodeClient(std::string url);

  const std::string& url() const { return url_; }
  // GET `path` ("/tasks/t1"); the JSON of a 200 answer. Other answers throw with the node's
  // error text: 404 and 400 are exit code 2, an unreachable node 3.
  nlohmann::json Get(const std::string& path) const;
  // The chain id (from /status, fetched once).
  const std::string& chain_id();
  // A genesis member's key by name, or a 64-hex key as given.
  PubKey Resolve(const std::string& name_or_hex) const;

  struct Committed {
    uint64_t height = 0;
    uint64_t index = 0;
    Hash32 leaf_hash;
  };
  // Signs `payload` with `key` (nonce: the signer's last committed nonce + 1), submits it and
  // waits up to `timeout_ms` for the commit. Throws Failure(2) with "the ledger refused
  // KIND: <reason>" when admission refuses it, Failure(3) when it is not committed in time.
  Committed SubmitAndWait(const SecretKey& key, Payload payload, uint64_t timeout_ms = 30000);

 private:
  std::string url_;
  std::string chain_id_;
};

uint64_t NowMs();

}  // namespace fedledger::cli
