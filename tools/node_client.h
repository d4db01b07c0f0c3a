// The partner side of a validator's HTTP API, shared by the partner and operator commands
// (`fedledger dataset ...`, `fedledger task ...`, `fedledger submit`, `fedledger status`):
// read JSON, and sign, submit and wait for an entry's commit. Failures throw cli::Failure
// with the exit codes of tools/command.h; a refusal by the ledger (an entry that breaks a
// rule) is exit code 2 with the node's reason.
//
// Every answer is checked against the shape its reader expects (tools/json_shape.h) before
// anything reads it: whatever answers on a wrong URL or port is reported as
// "URL: not a fedledger node answer (status has no string 'chain_id')", exit code 3, instead
// of a JSON type error deep in the printing code.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>

#include "ledger/crypto.h"
#include "ledger/entry.h"
#include "net/http_client.h"
#include "tools/command.h"

namespace fedledger::cli {

class NodeClient {
 public:
  explicit NodeClient(std::string url);

  const std::string& url() const { return url_; }
  // GET `path` (built with UrlPath: "/tasks/t1"); the JSON of a 200 answer, which must have
  // `shape` (tools/json_shape.h); `what` names the answer in messages ("task"). Other
  // answers throw with the node's error text: 404 and 400 are exit code 2, an unreachable
  // node or an answer of another shape 3.
  nlohmann::json Get(const std::string& path, const nlohmann::json& shape,
                     const std::string& what) const;
  // The chain id (from /status, fetched once).
  const std::string& chain_id();
  // A genesis member's key by name, or a 64-hex key as given.
  PubKey Resolve(const std::string& name_or_hex) const;
  // The last nonce `signer` committed (0 if none).
  uint64_t LastNonce(const PubKey& signer) const;

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

// Throws Failure(3) "URL: not a fedledger node answer (...)" unless `j` has `shape`.
void CheckAnswer(const std::string& url, const nlohmann::json& j, const nlohmann::json& shape,
                 const std::string& what);

// The node's reason from an error answer: its {"error": "..."} text, else the body.
std::string ErrorText(const net::HttpClientResponse& r);
// The exit code for an HTTP status that is not a success (tools/command.h).
int ExitCodeForHttp(int status);

uint64_t NowMs();

}  // namespace fedledger::cli
