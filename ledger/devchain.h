// A development chain: a genesis plus N realistic signed entries of mixed kinds, following
// the task lifecycle (datasets registered, tasks proposed, approved, rounds of data access,
// model updates and aggregates, completions, with occasional rejections and revocations),
// committed in blocks whose certificates are signed by dev validator keys.
//
// For tests, benchmarks and demos until consensus runs. Keys are derived deterministically
// from `seed` (SecretKey::FromSeed) and written beside the store so tools can use them.
#pragma once

#include <string>

#include "ledger/store.h"

namespace fedledger {

struct DevChainOptions {
  std::string chain_id = "fedledger-dev";
  uint64_t entries = 1000;       // entries after the genesis
  int validators = 4;
  int partners = 3;              // plus one neutral "operator" partner that aggregates
  uint32_t block_entries = 500;  // entries per block (the last block may hold fewer)
  std::string seed = "dev";
  uint64_t genesis_time_ms = 1767225600000;  // 2026-01-01T00:00:00Z
  uint64_t entry_interval_ms = 250;          // simulated time between entries
  unsigned threads = 0;                      // signing threads, 0 = one per core
  bool write_keys = true;                    // write <dir>/keys/*.key (mode 0600)
  StoreOptions store;                        // e.g. an in-memory Env for tests
};

// Creates <dir>/ledger (and <dir>/keys unless disabled). Refuses an existing store.
// `progress`, if set, is called with (entries committed, total).
Result<std::unique_ptr<Store>> SeedDevChain(const std::string& dir, const DevChainOptions& o,
                                            const std::function<void(uint64_t, uint64_t)>& progress = nullptr);

// Signs the precommits of every validator key for a block and returns the certificate.
Certificate DevCertificate(const std::string& chain_id, const BlockHeader& header,
                           const std::vector<SecretKey>& validator_keys);

// The deterministic dev keys for a seed.
SecretKey DevValidatorKey(const std::string& seed, int i);
SecretKey DevPartnerKey(const std::string& seed, int i);
SecretKey DevOperatorKey(const std::string& seed);

}  // namespace fedledger
