// The LevelDB ledger store: blocks, entries, Merkle log nodes and indexes.
//
// Two LevelDB databases (docs/FORMAT.md section 8, store format 5). The log database, in the
// store directory's "entries" subdirectory, holds what only ever grows at its end: the
// entries, the Merkle nodes and each block's commit record, keyed by log position, so every
// table LevelDB writes lies above every older one and is moved down the levels without being
// rewritten. The index database, the store directory itself, holds the rest (block records,
// indexes, meta), whose keys every block scatters. In one database (format 2) the scattered
// keys made each new table overlap the older ones, and compactions rewrote the entries with
// them, more often as the store grew: bench/store_bench wrote 456 bytes of tables per entry
// over 400,000 entries and 712 over 1,200,000, against 194 and 209 apart (bench/RESULTS.md).
//
// A committed block is one synced write batch to the log database: its entries, its Merkle
// nodes and its commit record (the block record: header and certificate). That write is the
// commit. The index database is a function of the log: its batch for the block follows
// unsynced, and a crash can lose the last few of them (never part of one: a LevelDB batch is
// atomic). Opening a store writes the index records of every commit record past the index
// database's head before anything is read (format 3 synced both writes: one disk flush more
// on every block's path). Keys:
//   log database ("entries/"):
//   "E" be64 index                canonical entry bytes (index = position in the global log)
//   "E" be64 last u8 level        perfect Merkle node (32 bytes) of level >= 1 whose last leaf
//                                 is `last`: written with that entry, sorted right after it.
//                                 A leaf (level 0) is its entry's leaf hash, not stored twice
//   "E" be64 last 0xff be64 h     commit record of block h, whose last leaf is `last` (the
//                                 block's log size - 1): the block record, byte for byte
//   index database:
//   "M" name                      meta: "Mgenesis" -> genesis block hash, "Mhead" -> u64 height,
//                                 "Mformat" -> u32 store format (5)
//   "B" be64 height               block record: u64 first_entry_index | bytes header | bytes cert
//   "Ik" u8 kind be64 height      the block's entries of that kind       \  value: u32 offsets
//   "It" u8 len task_id be64 h    the block's entries of that task       |  into the block,
//   "Im" be64 minute be64 height  the block's entries signed in minute   /  strictly increasing
//                                                                           (minute = ms / 60000)
//   "Is" signer(32) be64 chunk    the signer's entries in the blocks of heights
//                                 [256 chunk, 256 chunk + 255]: per block that has some,
//                                 u32 height - 256 chunk | u32 count | count x u32 offset
// One index key per block and value, not per entry: a block of a hundred entries from a few
// partners costs a handful of index keys. The signer index is coarser still, since its keys
// are the ones that scatter most (a federation may hold many signing keys, and each block
// signed by k of them cost k keys all over the key space: bench/RESULTS.md, twenty-fifth
// session): a chunk's keys are written once, with the index records of its last block, and
// until then the chunk lives in memory, rebuilt from the blocks when the store opens. A
// signer's last nonce is its last entry's, found through the signer index the first time it
// is asked for and remembered. (be64 = big-endian u64, so LevelDB's key order is numeric
// order; all values are little-endian as in the rest of the format.)
//
// Thread safety: any number of concurrent readers; Commit() calls are serialised internally.
#pragma once

#include <atomic>
#include <condition_variable>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include <leveldb/write_batch.h>

#include "ledger/block.h"
#include "ledger/entry.h"
#include "ledger/merkle.h"
#include "ledger/private_copy.h"
#include "ledger/status.h"

namespace leveldb {
class Cache;
class DB;
class Env;
class FilterPolicy;
}  // namespace leveldb

namespace fedledger {

// The store format this build reads and writes ("Mformat"). It opens format 4 too (one
// signer-index key per block and signer), rewriting its signer index as format 5's.
inline constexpr uint32_t kStoreFormat = 5;
// The signer index's chunk: the heights whose signer keys are written together.
inline constexpr uint64_t kSignerChunkHeights = 256;
// The log database's directory under the store's.
inline constexpr const char* kLogDbDir = "entries";
// The time index's bucket: entries are indexed by the minute of their signer's timestamp.
inline constexpr uint64_t kTimeBucketMs = 60000;

// Storage key helpers, shared with the auditor and tests. The kind, task and time keys name a
// block height, and their value lists the block's matching entries (IndexValue /
// DecodeIndexValue); the signer keys name a chunk of heights (AppendSignerBlock /
// DecodeSignerChunk).
namespace keys {
std::string Meta(std::string_view name);
std::string Block(uint64_t height);
std::string Entry(uint64_t index);
std::string Node(NodeId id);
// The commit record of block `height`, whose log size is `log_size` (>= 1): sorted right after
// the block's last entry and the nodes that entry completes, before the next block's.
std::string Commit(uint64_t log_size, uint64_t height);
// In the log database an entry key is 9 bytes, a node key 10 and a commit record's 18.
inline bool IsEntryKey(size_t key_size) { return key_size == 9; }
inline bool IsNodeKey(size_t key_size) { return key_size == 10; }
inline bool IsCommitKey(size_t key_size) { return key_size == 18; }
// The signer's key for the blocks of chunk `chunk` (heights [256 chunk, 256 chunk + 255]).
std::string BySigner(const PubKey& signer, uint64_t chunk);
std::string ByKind(EntryKind kind, uint64_t height);
std::string ByTask(std::string_view task_id, uint64_t height);
// `time_ms` is an entry's timestamp; the key holds its minute.
std::string ByTime(uint64_t time_ms, uint64_t height);
// An index value: the entries' offsets within their block, u32 little-endian each.
std::string IndexValue(const std::vector<uint32_t>& offsets);
// Refuses an empty value, a length that is not a multiple of 4, offsets that do not strictly
// increase or that reach `entry_count`.
Result<std::vector<uint32_t>> DecodeIndexValue(std::string_view value, uint32_t entry_count);
// A signer-index value: the signer's blocks in the chunk, in height order, each with the
// offsets of its entries in the block.
struct SignerBlock {
  uint64_t height;
  std::vector<uint32_t> offsets;
};
// Appends block `height`'s part (u32 height - 256 chunk, u32 count, the offsets).
void AppendSignerBlock(std::string& value, uint64_t height, const std::vector<uint32_t>& offsets);
// Refuses a value that is not a list of blocks of chunk `chunk` in strictly increasing height
// order, each with at least one offset, offsets strictly increasing. The offsets are checked
// against the block's entry count by CheckOffsets, once the block record is read.
Result<std::vector<SignerBlock>> DecodeSignerChunk(std::string_view value, uint64_t chunk);
Status CheckOffsets(const std::vector<uint32_t>& offsets, uint32_t entry_count);
}  // namespace keys

struct StoreOptions {
  // Environment for LevelDB's files. nullptr: the default (real files). Tests pass an
  // in-memory Env (leveldb::NewMemEnv) or a fault-injecting wrapper. Not owned.
  leveldb::Env* env = nullptr;
  // fsync every committed block. Only benchmarks of raw write paths turn this off.
  bool sync = true;
  size_t block_cache_bytes = 32 << 20;
  // Verify every entry signature in Commit(). Consensus turns this off for blocks whose
  // entries it has already verified (mempool, proposal check) so no signature is checked twice.
  bool verify_signatures_on_commit = true;
  // Verify the certificate in Commit(). Consensus turns this off too: it commits only
  // certificates it assembled from precommits it verified one by one, or verified itself
  // (blocks from a peer's sync response), so the check would be its second.
  bool verify_certificate_on_commit = true;
  // Write each block's index records (the index database: block records and the signer,
  // kind, task and time indexes) on a thread of the store's own, after Commit returns. The
  // log database's synced write, the commit itself, stays in Commit. Readers of the index
  // (GetBlockRecord, FindEntry, QueryEntries, ...) wait for the blocks up to the head they
  // see, so they see what they would have without it. A crash may lose these writes, as it
  // could always lose the unsynced index writes: the next open writes them again from the
  // commit records (CatchUpIndex). A validator turns it on, so that the next height does not
  // wait for them.
  bool index_in_background = false;
  // The index database's memtable (LevelDB's write_buffer_size). Its keys scatter (a signer
  // key per signer and block), so each insert walks a skip list spread over the whole
  // memtable, and a validator writes one block's keys every few milliseconds with the caches
  // cold from everything else: at 16 MiB, writing them cost ~20 us of CPU per entry at 4,400
  // entries/s on the benchmark machine, at 2 MiB ~11 us, while compactions took 1-3 us more
  // (and write ~40 more table bytes per entry). bench/RESULTS.md, seventeenth session.
  size_t index_memtable_bytes = 2 << 20;
  // The log database's memtable. Its keys only grow, so inserts stay cheap at any size; what
  // the size sets is how much a memtable flush writes and syncs at once. At 16 MiB a
  // validator wrote a ~9 MB table every ~9 s at 4,400 entries/s, and every height on the
  // machine slowed for the ~300 ms that took: the worst 1% of commit latencies all came
  // from those moments. At 4 MiB the flushes are ~2 MB and the stalls short.
  // bench/RESULTS.md, twenty-first session.
  size_t log_memtable_bytes = 4 << 20;
};

// What the store keeps for each block besides its entries.
struct BlockRecord {
  BlockHeader header;
  Hash32 hash;
  std::optional<Certificate> cert;  // none for the genesis block
  uint64_t first_entry_index = 0;   // global log index of the block's first entry
};

// Filters for QueryEntries; unset fields match everything. Times are the signer's
// timestamp_ms, inclusive.
struct EntryQuery {
  std::optional<EntryKind> kind;
  std::optional<PubKey> signer;
  std::optional<std::string> task_id;
  std::optional<uint64_t> since_ms;
  std::optional<uint64_t> until_ms;
  uint64_t limit = UINT64_MAX;
};

class Store : public MerkleNodeSource {
 public:
  // Creates a store at `path` holding only `genesis` (height 0). Refuses an existing store.
  // The genesis block must have exactly one GENESIS entry with a valid signature, height 0,
  // prev_hash all zeros, log_size 1 and the matching log root and validator-set hash.
  static Result<std::unique_ptr<Store>> Create(const std::string& path, const Block& genesis,
                                               const StoreOptions& options = {});
  // Opens an existing store. Checks that the head block and its log root are present and
  // consistent; `audit verify` does the full re-derivation.
  static Result<std::unique_ptr<Store>> Open(const std::string& path,
                                             const StoreOptions& options = {});
  // Opens an existing store for reading only and leaves its directory exactly as it was
  // (ledger/private_copy.h): what auditors open, since the directory is their evidence.
  // FailedPrecondition while a process (a running node) has the store open. Commit() is
  // refused. With a custom `options.env` (tests) the directory is opened in place.
  static Result<std::unique_ptr<Store>> OpenReadOnly(const std::string& path,
                                                     const StoreOptions& options = {});
  ~Store() override;

  const std::string& chain_id() const { return chain_id_; }
  const GenesisPayload& genesis() const { return genesis_; }
  const Hash32& genesis_hash() const { return genesis_hash_; }
  const ValidatorSet& validators() const { return validators_; }

  // The committed head.
  uint64_t height() const;
  BlockRecord head() const;
  uint64_t log_size() const;
  Hash32 log_root() const;
  // Last committed nonce of `signer`, 0 if it has none. A new entry needs a larger nonce.
  // (From memory; the first question about a signer since Open reads its last entry. A store
  // whose signer index and entries disagree there stops the process with a message: 0 would
  // let a replay in. CheckBlock reports the same problem as Corruption.)
  uint64_t LastNonce(const PubKey& signer) const;

  // The header of the block that would append `entries` on top of the head.
  BlockHeader NextHeader(const std::vector<Entry>& entries, uint64_t time_ms,
                         const PubKey& proposer) const;

  // Checks `block` against the head without writing: next height, prev hash, chain id,
  // validator set, entry_count, log size and root, every entry's chain id, signature
  // (unless disabled) and nonce (strictly increasing per signer, also within the block),
  // no GENESIS entries. InvalidArgument naming the first problem.
  Status CheckBlock(const Block& block) const;
  // CheckBlock, then the certificate (unless disabled), then the log database's synced write
  // batch, then the index database's (or, with index_in_background, queues it for the writer:
  // one block being written and one waiting at most, and a failed write fails every later
  // Commit).
  Status Commit(const Block& block, const Certificate& cert);

  // Where the time of the successful commits so far went (wall clock, since the store was
  // opened): the log batch's synced write, the index batch's (unsynced; with
  // index_in_background, the wait to queue it), and the whole call; and the index writer's
  // writes, outside the calls. Any thread.
  struct CommitTimes {
    uint64_t commits = 0;
    uint64_t total_ns = 0, log_write_ns = 0, index_write_ns = 0;
    uint64_t background_index_write_ns = 0;
  };
  CommitTimes commit_times() const;

  // Each database's background work since the store opened: LevelDB's memtable flushes and
  // compactions, the pieces of work finished, their thread CPU time and their wall time
  // (which adds the waits for a core and for the disk). The index database's compactions
  // rewrite keys that every block scatters; on a busy machine they are what stalls heights
  // (bench/RESULTS.md, twenty-fifth session). Any thread.
  struct BackgroundWork {
    uint64_t runs = 0, cpu_ns = 0, wall_ns = 0;
  };
  struct BackgroundTimes {
    BackgroundWork log, index;
  };
  BackgroundTimes background_times() const;

  Result<BlockRecord> GetBlockRecord(uint64_t height) const;
  Result<Block> GetBlock(uint64_t height) const;
  Result<Entry> GetEntry(uint64_t index) const;
  // Height of the block holding global entry `index` (binary search over block records).
  Result<uint64_t> HeightOfEntry(uint64_t index) const;
  // The global index of the committed entry identical to `entry` (same leaf hash), or nullopt
  // if the store does not hold it in a block at or above `from_height`. Finds the signer's
  // committed entry with `entry`'s nonce through the signer index (a signer's nonces increase
  // along the log, so this is a binary search: O(log height) reads) and compares the full
  // leaf hash, so another entry with the same signer and nonce is not taken for this one.
  Result<std::optional<uint64_t>> FindEntry(const Entry& entry, uint64_t from_height = 0) const;

  // Entries matching `q`, in log order, via the most selective index. The callback gets
  // the global index and the entry; returning false stops the scan.
  Status QueryEntries(const EntryQuery& q,
                      const std::function<bool(uint64_t, const Entry&)>& fn) const;

  // RFC 9162 proofs from stored nodes. tree_size 0 means the current log size.
  Result<std::vector<Hash32>> InclusionProof(uint64_t index, uint64_t tree_size = 0) const;
  Result<std::vector<Hash32>> ConsistencyProof(uint64_t old_size, uint64_t new_size) const;
  Result<Hash32> RootAt(uint64_t tree_size) const;

  // MerkleNodeSource.
  Result<Hash32> Node(NodeId id) const override;

  // For the auditor, which reads every key: the index database and the log database.
  leveldb::DB* db() const { return db_.get(); }
  leveldb::DB* log_db() const { return log_db_.get(); }

 private:
  Store() = default;
  // Opens the LevelDB at `db_path`; messages name `path`, the directory the caller asked for.
  static Result<std::unique_ptr<Store>> OpenAt(const std::string& path, const std::string& db_path,
                                               std::unique_ptr<PrivateCopy> view,
                                               const StoreOptions& options);
  // Opens (or with `create`, creates) the log database under `dir`.
  Status OpenLog(const std::string& dir, bool create);
  // The genesis and format records, before anything else is read.
  Status CheckFormat();
  Status LoadState();
  // Writes the index records of the blocks whose commit records lie past the index
  // database's head (a crash lost their unsynced index writes), checking that each links to
  // the one before. Corruption if the log holds no commit record for the index head, or
  // records past its last commit record; nothing is written then.
  Status CatchUpIndex();
  // LastNonce with nonce_mu_ held: the remembered value, or the signer's last entry's nonce
  // read through the signer index (and remembered). The read and the insert happen under
  // nonce_mu_, and Commit updates the signers of a block under it after the block's write,
  // so a concurrent reader can never leave an older nonce behind.
  // Corruption if the index and the entries disagree.
  Result<uint64_t> LastNonceLocked(const PubKey& signer) const;
  // The signer index (keys::BySigner). The chunks whose keys may not be written yet live in
  // memory, oldest first, the open one (the head's) last; a reader takes them with the keys.
  struct SignerChunk {
    uint64_t chunk = 0;
    bool closed = false;  // its keys are in the index batch of its last block
    // Each signer's value, built block by block as its key's value will be.
    std::unordered_map<PubKey, std::string, Hash32Hasher> values;
  };
  // Adds `block`'s signers to its chunk and, if the block is its chunk's last, the chunk's
  // keys to `batch`, the block's index batch. In height order, once the block is committed.
  void AddSignerRecords(const Block& block, leveldb::WriteBatch& batch);
  // Forgets the closed chunks whose last block's index batch is written (height <= `written`).
  // With signer_mu_ held.
  void PruneSignerChunksLocked(uint64_t written);
  // At open, before CatchUpIndex: the open chunk, rebuilt from the blocks up to the index
  // database's head; a format 4 store's signer keys are rewritten as chunks first.
  Status LoadSignerIndex();
  // The signer's blocks at heights >= `from`, in height order, from the written keys and the
  // chunks in memory, until `fn` returns false.
  Status ForEachSignerBlock(const PubKey& signer, uint64_t from,
                            const std::function<Result<bool>(const keys::SignerBlock&)>& fn) const;
  // The record of `b`'s block, once `b`'s offsets are checked against its entry count.
  Result<BlockRecord> SignerBlockRecord(const keys::SignerBlock& b) const;
  // The index writer (StoreOptions::index_in_background): StartIndexWriter after the open,
  // StopIndexWriter (it writes what is queued first) before the databases close.
  void StartIndexWriter();
  void StopIndexWriter();
  void IndexWriterLoop();
  // Waits until no block at or below `height` waits for its index records; the index
  // writer's error if a write failed.
  Status WaitIndex(uint64_t height) const;

  // The LevelDB environment of each database: StoreOptions::env (or the default) with its
  // background work counted (background_times). Outlive the databases.
  class CountingEnv;
  void MakeEnvs();

  StoreOptions options_;
  uint32_t format_ = kStoreFormat;  // the format the store was opened in (CheckFormat)
  std::unique_ptr<CountingEnv> log_env_, index_env_;
  std::unique_ptr<PrivateCopy> view_;  // OpenReadOnly's copy; removed after db_ closes
  bool read_only_ = false;
  leveldb::Cache* block_cache_ = nullptr;              // owned; outlives db_
  const leveldb::FilterPolicy* filter_policy_ = nullptr;  // owned; outlives db_
  std::unique_ptr<leveldb::DB> db_;
  std::unique_ptr<leveldb::DB> log_db_;
  std::string chain_id_;
  GenesisPayload genesis_;
  Hash32 genesis_hash_;
  ValidatorSet validators_;

  mutable std::shared_mutex mu_;  // guards everything below
  std::mutex commit_mu_;          // serialises Commit()
  // CommitTimes, written by Commit() only.
  std::atomic<uint64_t> commits_timed_{0}, commit_ns_{0}, log_write_ns_{0}, index_write_ns_{0};
  std::atomic<uint64_t> background_index_ns_{0};
  BlockRecord head_;
  CompactRange log_;
  mutable std::mutex nonce_mu_;  // guards nonces_; taken after mu_ where both are held
  mutable std::unordered_map<PubKey, uint64_t, Hash32Hasher> nonces_;

  // Every block up to this height has its index records written.
  std::atomic<uint64_t> index_height_{0};
  // The index writer's queue, oldest first; a block stays in it while it is written.
  struct IndexWrite {
    uint64_t height;
    leveldb::WriteBatch batch;
  };
  // Guards the queue, the error and the stop flag. Taken last: nothing else is locked while
  // it is held (Commit holds commit_mu_ around it, LastNonceLocked nonce_mu_).
  mutable std::mutex index_mu_;
  mutable std::condition_variable index_cv_;
  std::deque<IndexWrite> index_queue_;
  Status index_error_;  // the first failed write: the store refuses commits after it
  bool index_stop_ = false;
  std::thread index_writer_;
  // Guards signer_chunks_. Taken last, like index_mu_, and never together with it.
  mutable std::mutex signer_mu_;
  std::deque<SignerChunk> signer_chunks_;
};

// Builds a genesis block (height 0) from a signed GENESIS entry.
Result<Block> MakeGenesisBlock(const Entry& genesis_entry);


}  // namespace fedledger
