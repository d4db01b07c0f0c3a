// store_bench: the CPU a validator spends committing blocks to its LevelDB store, per entry,
// for the consensus benchmark's workload: blocks of --block entries (default 125, about what a
// 4-validator testnet commits per height at its peak), DATASET_REGISTER entries from
// --signers distinct partner keys (the benchmark's clients each sign with their own key),
// signatures not re-checked (consensus verified them before), synced like a validator.
//
// Prints the process CPU (user + system, all threads, so LevelDB's background compaction is
// counted while Commit runs) per committed entry, the wall time, the stored keys per entry and the store's size,
// and the same per-entry CPU of one BIP-340 verification measured in the same run, which is the
// yardstick: every validator pays one verification per entry anyway.
//
//   store_bench [--entries N] [--block B] [--signers S] [--index-memtable-mb M] [--dir DIR]
#include <sys/resource.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <sstream>
#include <string>
#include <vector>

#include <leveldb/db.h>
#include <leveldb/iterator.h>

#include "ledger/devchain.h"
#include "ledger/store.h"

using namespace fedledger;
using Clock = std::chrono::steady_clock;

namespace {

double CpuSeconds(int who = RUSAGE_SELF) {
  rusage u{};
  getrusage(who, &u);
  return u.ru_utime.tv_sec + u.ru_stime.tv_sec + 1e-6 * (u.ru_utime.tv_usec + u.ru_stime.tv_usec);
}

}  // namespace

struct LevelStats {
  double read_mb = 0, write_mb = 0;
};

// Sums the Read(MB) and Write(MB) columns of the "leveldb.stats" property: every table byte
// the database wrote (flushes and compactions) and read back to compact.
LevelStats TableIo(leveldb::DB* db) {
  LevelStats s;
  std::string stats;
  if (!db->GetProperty("leveldb.stats", &stats)) return s;
  std::istringstream in(stats);
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream f(line);
    double level, files, size, secs, read, write;
    if (f >> level >> files >> size >> secs >> read >> write) {
      s.read_mb += read;
      s.write_mb += write;
    }
  }
  return s;
}

int main(int argc, char** argv) {
  uint64_t entries = 200000;
  uint32_t block = 125;
  uint32_t signers = 250;
  size_t index_memtable_mb = StoreOptions().index_memtable_bytes >> 20;
  std::string dir = "/tmp/fedledger-store-bench";
  for (int i = 1; i < argc; ++i) {
    auto next = [&] { return std::string(i + 1 < argc ? argv[++i] : ""); };
    std::string a = argv[i];
    try {
      if (a == "--entries") entries = std::stoull(next());
      else if (a == "--block") block = static_cast<uint32_t>(std::stoul(next()));
      else if (a == "--signers") signers = static_cast<uint32_t>(std::stoul(next()));
      else if (a == "--index-memtable-mb") index_memtable_mb = std::stoul(next());
      else if (a == "--dir") dir = next();
      else throw std::invalid_argument(a);
    } catch (const std::exception&) {
      std::fprintf(stderr, "usage: store_bench [--entries N] [--block B] [--signers S] "
                           "[--index-memtable-mb M] [--dir DIR]\n");
      return 2;
    }
  }
  if (!block || !signers || entries < block || !index_memtable_mb) {
    std::fprintf(stderr, "store_bench: --block, --signers and --index-memtable-mb must be >= 1, "
                         "--entries >= --block\n");
    return 2;
  }
  std::filesystem::remove_all(dir);
  // A validator's store: signatures are not re-checked on commit (consensus verified them).
  DevChainOptions o;
  o.entries = 0;
  o.write_keys = false;
  o.store.verify_signatures_on_commit = false;
  o.store.index_memtable_bytes = index_memtable_mb << 20;
  auto seeded = SeedDevChain(dir, o);
  if (!seeded.ok()) {
    std::fprintf(stderr, "store_bench: %s\n", seeded.status().ToString().c_str());
    return 1;
  }
  std::unique_ptr<Store> store = std::move(seeded).value();
  std::vector<SecretKey> keys;
  for (uint32_t s = 0; s < signers; ++s) keys.push_back(SecretKey::FromSeed("store-bench-" + std::to_string(s)));
  std::vector<SecretKey> vals;
  for (int i = 0; i < 4; ++i) vals.push_back(DevValidatorKey("dev", i));

  // Sign everything first: signing is the clients' work, not the store's.
  uint64_t nblocks = entries / block;
  std::vector<std::vector<Entry>> blocks(nblocks);
  std::vector<uint64_t> nonce(signers, 0);
  uint64_t n = 0;
  for (auto& b : blocks) {
    for (uint32_t i = 0; i < block; ++i, ++n) {
      uint32_t s = static_cast<uint32_t>(n % signers);
      EntryBody body;
      body.chain_id = store->chain_id();
      body.nonce = ++nonce[s];
      body.timestamp_ms = 1767225600000 + n;
      body.payload = DatasetRegisterPayload{"bench-" + std::to_string(n), Sha256(std::to_string(n)),
                                            1000, "smiles,activity", ""};
      b.push_back(Entry::Sign(body, keys[s]).value());
    }
  }
  // The yardstick, in the same run: one verification per entry on this core.
  double v0 = CpuSeconds();
  size_t checked = 0;
  for (size_t i = 0; i < blocks[0].size() && i < 2000; ++i) checked += blocks[0][i].VerifySignature();
  for (uint64_t b = 1; b < nblocks && checked < 2000; ++b)
    for (const Entry& e : blocks[b]) checked += e.VerifySignature();
  double verify_us = (CpuSeconds() - v0) / checked * 1e6;

  // Only Commit is timed: the header and the validators' certificate are consensus's work.
  // The process's CPU over the loop (so LevelDB's compaction thread counts) minus this
  // thread's CPU outside Commit.
  double not_commit = 0, wall = 0;
  double cpu0 = CpuSeconds();
  for (auto& es : blocks) {
    double h0 = CpuSeconds(RUSAGE_THREAD);
    Block b;
    b.entries = std::move(es);
    b.header = store->NextHeader(b.entries, 1767225600000 + n, vals[0].pubkey());
    Certificate c = DevCertificate(store->chain_id(), b.header, vals);
    not_commit += CpuSeconds(RUSAGE_THREAD) - h0;
    auto t0 = Clock::now();
    Status s = store->Commit(b, c);
    wall += std::chrono::duration<double>(Clock::now() - t0).count();
    if (!s.ok()) {
      std::fprintf(stderr, "store_bench: commit failed: %s\n", s.ToString().c_str());
      return 1;
    }
  }
  double cpu = CpuSeconds() - cpu0 - not_commit;
  uint64_t committed = nblocks * block;
  // What LevelDB wrote (table files: memtable flushes and compactions) and read back while
  // compacting, in each of the store's two databases, by the end of the loop.
  LevelStats index_io = TableIo(store->db()), log_io = TableIo(store->log_db());

  // Size after a full compaction (after the timing), so that it does not depend on how far
  // LevelDB's background compaction had got when the loop ended.
  uint64_t keys_total = 0;
  for (leveldb::DB* db : {store->db(), store->log_db()}) {
    db->CompactRange(nullptr, nullptr);
    std::unique_ptr<leveldb::Iterator> it(db->NewIterator(leveldb::ReadOptions()));
    for (it->SeekToFirst(); it->Valid(); it->Next()) ++keys_total;
  }
  store.reset();
  uint64_t bytes = 0;
  for (const auto& f : std::filesystem::recursive_directory_iterator(dir)) bytes += f.is_regular_file() ? f.file_size() : 0;
  std::filesystem::remove_all(dir);

  std::printf("store_bench: %llu entries in blocks of %u from %u signers (DATASET_REGISTER), synced; "
              "index memtable %zu MiB\n",
              static_cast<unsigned long long>(committed), block, signers, index_memtable_mb);
  std::printf("commit CPU      %8.2f us per entry (process user+sys, all threads, outside header and certificate making)\n",
              cpu / committed * 1e6);
  std::printf("commit wall     %8.2f us per entry   %.0f entries/s\n", wall / committed * 1e6,
              committed / wall);
  std::printf("verify CPU      %8.2f us per signature (the yardstick, same run)\n", verify_us);
  std::printf("table writes    %8.1f bytes per entry (log database %.1f, index database %.1f; "
              "compactions read %.1f)\n",
              (index_io.write_mb + log_io.write_mb) * 1048576 / committed,
              log_io.write_mb * 1048576 / committed, index_io.write_mb * 1048576 / committed,
              (index_io.read_mb + log_io.read_mb) * 1048576 / committed);
  std::printf("keys            %8.2f per entry      store %.1f bytes per entry (compacted)\n",
              static_cast<double>(keys_total) / committed, static_cast<double>(bytes) / committed);
  return 0;
}
