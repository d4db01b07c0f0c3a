// NodeConfig: what `fedledger node --config FILE` reads (TOML). Documented with an example in
// docs/OPERATIONS.md:
//
//   data_dir = "."                       # the store goes in DATA_DIR/ledger
//   node_key = "node.key"                # this validator's node key (mode 0600)
//   genesis  = "../genesis.json"         # from `fedledger genesis`
//   [p2p]
//   listen = "127.0.0.1:26656"
//   peers  = [ { key = "HEX", address = "127.0.0.1:26658", http = "127.0.0.1:26659" }, ... ]
//                                        # http (optional): the peer's HTTP API, where round
//                                        # artifacts are sent when it aggregates a task
//   [http]
//   listen = "127.0.0.1:26657"
//   [consensus]                          # every key optional; defaults from ConsensusOptions
//   propose_timeout_ms = 1000  propose_delta_ms = 500  prevote_timeout_ms = 500 ...
//   max_block_entries = 4096
//   [mempool]
//   max_entries = 200000
//   [log]
//   level = "info"                       # debug | info | warn | error
//   [application]
//   rules = "orchestrator"               # orchestrator (default) | ledger
//   [artifacts]
//   max_bytes = 536870912                # largest round artifact (masked update, model)
//   cache_bytes = 268435456              # memory for recently used artifacts (0: none)
//   [partner]                            # optional: this node also runs a partner's side of
//   key = "partner.key"                  #   the tasks it approved (driver/round_driver.h)
//   datasets = { "shard-0" = "data/shard-0.csv" }   # dataset id -> local file
//   torch_threads = 1
//
// Relative paths are relative to the directory holding the config file. Unknown keys are
// errors (a typo must not silently fall back to a default).
//
// Value types, thread-compatible.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "consensus/consensus.h"
#include "ledger/status.h"
#include "net/endpoint.h"
#include "net/log.h"

namespace fedledger::node {

struct PeerConfig {
  PubKey key;
  net::HostPort address;
  std::optional<net::HostPort> http;  // the peer's HTTP API (artifacts for its aggregations)
};

// The partner whose side of approved tasks this node runs (round driver). The files never
// leave the machine; only their hashes, row counts and schemas are on the ledger.
struct PartnerConfig {
  std::string key_file;                          // empty: no partner on this node
  std::map<std::string, std::string> datasets;   // dataset id -> file
  int torch_threads = 1;
};

// Which consensus application the node runs. kOrchestrator: the ledger's rules plus the
// federation's task lifecycle (orchestrator/application.h); every production node runs it.
// kLedger: signatures, nonces and block structure only, for load tests and benchmarks of the
// raw consensus path that submit entries outside any task.
enum class ApplicationRules { kOrchestrator, kLedger };

struct NodeConfig {
  std::string data_dir;
  std::string node_key_file;
  std::string genesis_file;
  net::HostPort p2p_listen{"127.0.0.1", 0};
  std::vector<PeerConfig> peers;
  net::HostPort http_listen{"127.0.0.1", 0};
  int http_threads = 1;
  size_t http_body_limit = 1 << 20;
  // Largest round artifact stored or accepted over HTTP ([artifacts] max_bytes): a masked
  // update of a 32768 x 1024 trunk is 134 MB.
  uint64_t artifact_max_bytes = uint64_t{512} << 20;
  // Memory for the artifacts used most recently ([artifacts] cache_bytes; node/artifact_store.h).
  uint64_t artifact_cache_bytes = uint64_t{256} << 20;
  consensus::ConsensusOptions consensus;
  net::LogLevel log_level = net::LogLevel::kInfo;
  ApplicationRules rules = ApplicationRules::kOrchestrator;
  PartnerConfig partner;
};

// Parses TOML text; `base_dir` resolves relative paths. InvalidArgument naming the key and
// what is wrong with it ("[p2p] peers[2].address: port must be 1..65535").
Result<NodeConfig> ParseNodeConfig(const std::string& toml_text, const std::string& base_dir);
// Reads and parses a config file.
Result<NodeConfig> LoadNodeConfig(const std::string& path);

// Renders a config as TOML that ParseNodeConfig reads back (used by `testnet init`). Paths are
// written as given.
std::string RenderNodeConfig(const NodeConfig& c);

}  // namespace fedledger::node
