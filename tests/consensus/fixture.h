// A one-validator-set chain on an in-memory LevelDB for unit tests of the consensus pieces.
#pragma once

#include <leveldb/env.h>
#include <leveldb/helpers/memenv.h>

#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "consensus/application.h"
#include "ledger/store.h"

namespace fedledger::consensus::testing {

inline const std::string kChain = "unit-chain";

inline Entry MakeEntry(const SecretKey& key, uint64_t nonce, const std::string& chain = kChain) {
  DatasetRegisterPayload p;
  p.dataset_id = "ds-" + std::to_string(nonce);
  p.content_hash = Sha256(p.dataset_id);
  p.rows = nonce;
  p.schema = "a,b";
  EntryBody b;
  b.chain_id = chain;
  b.nonce = nonce;
  b.timestamp_ms = 1000 + nonce;
  b.payload = p;
  return *Entry::Sign(b, key, true);
}

// Flips a signature bit, keeping the encoding valid.
inline Entry Tamper(const Entry& e) {
  Bytes b = e.bytes();
  b[b.size() - 3] ^= 0x01;
  return *Entry::Decode(b);
}

struct TestChain {
  std::unique_ptr<leveldb::Env> env{leveldb::NewMemEnv(leveldb::Env::Default())};
  std::vector<SecretKey> keys;
  ValidatorSet vals;
  Block genesis;
  std::unique_ptr<Store> store;
  std::unique_ptr<LedgerApplication> app;

  explicit TestChain(size_t n = 4) {
    std::vector<Member> members;
    for (size_t i = 0; i < n; ++i) {
      keys.push_back(SecretKey::FromSeed("unit-validator-" + std::to_string(i)));
      members.push_back(Member{"v" + std::to_string(i), keys.back().pubkey()});
    }
    vals = ValidatorSet(members);
    GenesisPayload g;
    g.genesis_time_ms = 1000;
    g.validators = members;
    EntryBody body;
    body.chain_id = kChain;
    body.nonce = 1;
    body.timestamp_ms = 1000;
    body.payload = g;
    genesis = *MakeGenesisBlock(*Entry::Sign(body, keys[0], true));
    StoreOptions so;
    so.env = env.get();
    so.verify_signatures_on_commit = false;
    auto st = Store::Create("/unit/store", genesis, so);
    if (!st.ok()) throw std::runtime_error("test chain: " + st.status().ToString());
    store = std::move(st).value();
    app = std::make_unique<LedgerApplication>(store.get());
  }

  // Builds, certifies (all validators precommit) and commits a block of `entries`.
  Status CommitEntries(const std::vector<Entry>& entries, Certificate* cert_out = nullptr,
                       Block* block_out = nullptr) {
    Block b;
    b.header = store->NextHeader(entries, 5000, keys[0].pubkey());
    b.entries = entries;
    std::vector<Vote> votes;
    for (const SecretKey& k : keys) {
      Vote v = PrecommitFor(kChain, b.header.height, 0, b.header.Hash(), k.pubkey());
      v.sig = k.SignDeterministic(v.Digest());
      votes.push_back(v);
    }
    FL_ASSIGN(Certificate c, Certificate::FromPrecommits(vals, votes));
    if (cert_out) *cert_out = c;
    if (block_out) *block_out = b;
    return store->Commit(b, c);
  }
};

}  // namespace fedledger::consensus::testing
