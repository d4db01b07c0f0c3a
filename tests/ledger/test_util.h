// Helpers for ledger tests: in-memory stores and small dev chains.
#pragma once

#include <leveldb/env.h>
#include <leveldb/helpers/memenv.h>

#include <memory>

#include "ledger/audit.h"
#include "ledger/devchain.h"
#include "ledger/store.h"

namespace fedledger::testing {

// An in-memory LevelDB Env, owned by the test.
struct MemEnv {
  std::unique_ptr<leveldb::Env> env{leveldb::NewMemEnv(leveldb::Env::Default())};
  leveldb::Env* get() const { return env.get(); }
};

inline DevChainOptions SmallChain(leveldb::Env* env, uint64_t entries, uint32_t block_entries) {
  DevChainOptions o;
  o.entries = entries;
  o.block_entries = block_entries;
  o.write_keys = false;
  o.threads = 1;
  o.store.env = env;
  return o;
}

// Audits a store in `env` on one thread: what the ledger tests check after every change.
inline AuditOptions OneThreadAudit(leveldb::Env* env) {
  AuditOptions o;
  o.env = env;
  o.threads = 1;
  return o;
}

}  // namespace fedledger::testing
