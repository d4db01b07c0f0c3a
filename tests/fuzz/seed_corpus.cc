// Writes seed inputs for decode_fuzz: real entries of every kind, headers, blocks, votes
// and certificates from a small in-memory dev ledger, each prefixed by its decoder byte.
#include <leveldb/env.h>
#include <leveldb/helpers/memenv.h>

#include <fstream>

#include "ledger/devchain.h"

using namespace fedledger;

int main(int argc, char** argv) {
  if (argc != 2) return 2;
  std::unique_ptr<leveldb::Env> env(leveldb::NewMemEnv(leveldb::Env::Default()));
  DevChainOptions o;
  o.entries = 60;
  o.block_entries = 20;
  o.write_keys = false;
  o.store.env = env.get();
  auto store = SeedDevChain("/seed", o).value();
  int n = 0;
  auto write = [&](uint8_t which, const Bytes& b) {
    std::ofstream f(std::string(argv[1]) + "/seed-" + std::to_string(n++), std::ios::binary);
    f.put(static_cast<char>(which));
    f.write(reinterpret_cast<const char*>(b.data()), static_cast<std::streamsize>(b.size()));
  };
  for (uint64_t h = 0; h <= store->height(); ++h) {
    Block b = store->GetBlock(h).value();
    for (const Entry& e : b.entries) write(0, e.bytes());
    write(1, b.header.Encode());
    if (b.entries.size() < 5) write(2, b.Encode());
    auto rec = store->GetBlockRecord(h).value();
    if (rec.cert) write(4, rec.cert->Encode());
  }
  Vote v = PrecommitFor(store->chain_id(), 1, 0, store->head().hash, DevValidatorKey("dev", 0).pubkey());
  v.SignWith(DevValidatorKey("dev", 0));
  write(3, v.Encode());
  return 0;
}
