#include "ledger/store.h"

#include <leveldb/cache.h>
#include <leveldb/db.h>
#include <leveldb/env.h>
#include <leveldb/filter_policy.h>
#include <leveldb/write_batch.h>

#include <time.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <memory>

#include "ledger/thread_name.h"

namespace fedledger {

namespace keys {
namespace {
void PutBE64(std::string& s, uint64_t v) {
  for (int i = 7; i >= 0; --i) s.push_back(static_cast<char>(v >> (8 * i)));
}
void PutHash(std::string& s, const Hash32& h) {
  s.append(reinterpret_cast<const char*>(h.data()), 32);
}
}  // namespace

std::string Meta(std::string_view name) { return "M" + std::string(name); }
std::string Block(uint64_t height) {
  std::string k = "B";
  PutBE64(k, height);
  return k;
}
std::string Entry(uint64_t index) {
  std::string k = "E";
  PutBE64(k, index);
  return k;
}
std::string Node(NodeId id) {
  std::string k = "E";
  PutBE64(k, ((id.index + 1) << id.level) - 1);  // its last leaf
  k.push_back(static_cast<char>(id.level));
  return k;
}
std::string Commit(uint64_t log_size, uint64_t height) {
  std::string k = "E";
  PutBE64(k, log_size - 1);
  k.push_back(static_cast<char>(0xff));
  PutBE64(k, height);
  return k;
}
std::string BySigner(const PubKey& signer, uint64_t chunk) {
  std::string k = "Is";
  PutHash(k, signer);
  PutBE64(k, chunk);
  return k;
}
std::string ByKind(EntryKind kind, uint64_t height) {
  std::string k = "Ik";
  k.push_back(static_cast<char>(kind));
  PutBE64(k, height);
  return k;
}
std::string ByTask(std::string_view task_id, uint64_t height) {
  std::string k = "It";
  k.push_back(static_cast<char>(task_id.size()));
  k.append(task_id);
  PutBE64(k, height);
  return k;
}
std::string ByTime(uint64_t time_ms, uint64_t height) {
  std::string k = "Im";
  PutBE64(k, time_ms / kTimeBucketMs);
  PutBE64(k, height);
  return k;
}


namespace {
void PutU32(std::string& s, uint32_t v) {
  for (int b = 0; b < 4; ++b) s.push_back(static_cast<char>(v >> (8 * b)));
}
uint32_t GetU32(const char* p) {
  uint32_t v = 0;
  for (int b = 3; b >= 0; --b) v = v << 8 | static_cast<uint8_t>(p[b]);
  return v;
}
}  // namespace

std::string IndexValue(const std::vector<uint32_t>& offsets) {
  std::string v;
  v.reserve(4 * offsets.size());
  for (uint32_t o : offsets) PutU32(v, o);
  return v;
}

Status CheckOffsets(const std::vector<uint32_t>& offsets, uint32_t entry_count) {
  if (!offsets.empty() && offsets.back() >= entry_count) {
    return Status::Corruption("index offset " + std::to_string(offsets.back()) +
                              " is past the block's " + std::to_string(entry_count) + " entries");
  }
  return Status::Ok();
}

Result<std::vector<uint32_t>> DecodeIndexValue(std::string_view value, uint32_t entry_count) {
  if (value.empty() || value.size() % 4) {
    return Status::Corruption("index value of " + std::to_string(value.size()) +
                              " bytes is not a non-empty list of u32 offsets");
  }
  std::vector<uint32_t> offsets(value.size() / 4);
  for (size_t i = 0; i < offsets.size(); ++i) {
    offsets[i] = GetU32(value.data() + 4 * i);
    if (i > 0 && offsets[i] <= offsets[i - 1]) {
      return Status::Corruption("index offsets do not strictly increase");
    }
  }
  FL_TRY(CheckOffsets(offsets, entry_count));
  return offsets;
}

void AppendSignerBlock(std::string& value, uint64_t height, const std::vector<uint32_t>& offsets) {
  PutU32(value, static_cast<uint32_t>(height % kSignerChunkHeights));
  PutU32(value, static_cast<uint32_t>(offsets.size()));
  for (uint32_t o : offsets) PutU32(value, o);
}

Result<std::vector<SignerBlock>> DecodeSignerChunk(std::string_view value, uint64_t chunk) {
  std::vector<SignerBlock> blocks;
  size_t at = 0;
  auto bad = [&](const std::string& why) {
    return Status::Corruption("signer index value of chunk " + std::to_string(chunk) + " (" +
                              std::to_string(value.size()) + " bytes), at byte " +
                              std::to_string(at) + ": " + why);
  };
  if (value.empty()) return bad("no blocks");
  if (chunk > UINT64_MAX / kSignerChunkHeights) return bad("no such chunk");
  while (at < value.size()) {
    if (value.size() - at < 8) return bad("a block's height and count are cut short");
    const uint32_t in_chunk = GetU32(value.data() + at);
    const uint32_t count = GetU32(value.data() + at + 4);
    if (in_chunk >= kSignerChunkHeights) return bad("height " + std::to_string(in_chunk) + " is past the chunk");
    const uint64_t height = chunk * kSignerChunkHeights + in_chunk;
    if (!blocks.empty() && height <= blocks.back().height) return bad("heights do not strictly increase");
    if (count == 0) return bad("a block with no offsets");
    if ((value.size() - at - 8) / 4 < count) return bad("the offsets are cut short");
    at += 8;
    SignerBlock b{height, std::vector<uint32_t>(count)};
    for (uint32_t i = 0; i < count; ++i, at += 4) {
      b.offsets[i] = GetU32(value.data() + at);
      if (i > 0 && b.offsets[i] <= b.offsets[i - 1]) return bad("offsets do not strictly increase");
    }
    blocks.push_back(std::move(b));
  }
  return blocks;
}
}  // namespace keys

namespace {

uint64_t ReadBE64(const char* p) {
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v = v << 8 | static_cast<uint8_t>(p[i]);
  return v;
}

leveldb::Slice ToSlice(const Bytes& b) {
  return leveldb::Slice(reinterpret_cast<const char*>(b.data()), b.size());
}
ByteView ToView(const std::string& s) { return AsView(s); }

Status FromLevelDB(const leveldb::Status& s, const std::string& what) {
  if (s.ok()) return Status::Ok();
  if (s.IsNotFound()) return Status::NotFound(what + ": " + s.ToString());
  if (s.IsCorruption()) return Status::Corruption(what + ": " + s.ToString());
  return Status::IOError(what + ": " + s.ToString());
}

Bytes EncodeBlockRecord(const BlockRecord& r) {
  Writer w(512);
  w.U64(r.first_entry_index);
  w.VarBytes(r.header.Encode());
  w.VarBytes(r.cert ? r.cert->Encode() : Bytes{});
  return std::move(w).Take();
}

Result<BlockRecord> DecodeBlockRecord(ByteView b) {
  Reader r(b);
  BlockRecord rec;
  FL_ASSIGN(rec.first_entry_index, r.U64("block record first_entry_index"));
  FL_ASSIGN(ByteView hb, r.VarBytes("block record header", 4096));
  FL_ASSIGN(rec.header, BlockHeader::Decode(hb));
  FL_ASSIGN(ByteView cb, r.VarBytes("block record certificate", 1 << 16));
  if (!cb.empty()) {
    FL_ASSIGN(Certificate c, Certificate::Decode(cb));
    rec.cert = std::move(c);
  }
  FL_TRY(r.ExpectEnd("block record"));
  rec.hash = rec.header.Hash();
  return rec;
}

// LevelDB's default environment, except that its background (compaction) thread is named
// "fl-leveldb" and runs as batch work (ledger/thread_name.h). Unnamed, it inherits the name
// of the thread that first wrote, which is "fl-consensus" in a validator: top -H, perf and the
// consensus benchmark's CPU by thread then charge compactions to the consensus thread.
class NamedCompactionEnv : public leveldb::EnvWrapper {
 public:
  NamedCompactionEnv() : EnvWrapper(leveldb::Env::Default()) {}
  void Schedule(void (*function)(void*), void* arg) override {
    target()->Schedule(&Run, new Work{function, arg});
  }

 private:
  struct Work {
    void (*function)(void*);
    void* arg;
  };
  static void Run(void* w) {
    std::unique_ptr<Work> work(static_cast<Work*>(w));
    thread_local bool named = false;
    if (!named) {
      NameThisThread("fl-leveldb");
      ScheduleThisThreadAsBatch();
      named = true;
    }
    work->function(work->arg);
  }
};

leveldb::Env* DefaultEnv() {
  static auto* env = new NamedCompactionEnv();  // like Env::Default(): never destroyed
  return env;
}

uint64_t ThreadCpuNs() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1'000'000'000u + static_cast<uint64_t>(ts.tv_nsec);
}

}  // namespace

// One database's environment: the store's base environment, with each piece of background
// work LevelDB schedules timed on the thread that runs it. The totals live apart from the
// wrapper, shared with the work in flight: a database's destructor returns once its last
// piece of work has signalled, which may be before that work's accounting here has run.
class Store::CountingEnv : public leveldb::EnvWrapper {
 public:
  explicit CountingEnv(leveldb::Env* base) : EnvWrapper(base) {}

  void Schedule(void (*function)(void*), void* arg) override {
    target()->Schedule(&Run, new Work{function, arg, totals_});
  }

  BackgroundWork Totals() const {
    BackgroundWork w;
    w.runs = totals_->runs.load(std::memory_order_relaxed);
    w.cpu_ns = totals_->cpu_ns.load(std::memory_order_relaxed);
    w.wall_ns = totals_->wall_ns.load(std::memory_order_relaxed);
    return w;
  }

 private:
  struct Counts {
    std::atomic<uint64_t> runs{0}, cpu_ns{0}, wall_ns{0};
  };
  struct Work {
    void (*function)(void*);
    void* arg;
    std::shared_ptr<Counts> totals;
  };
  static void Run(void* w) {
    std::unique_ptr<Work> work(static_cast<Work*>(w));
    const auto wall = std::chrono::steady_clock::now();
    const uint64_t cpu = ThreadCpuNs();
    work->function(work->arg);
    // CPU read inside the wall interval, so that CPU <= wall holds for each piece.
    const uint64_t cpu_ns = ThreadCpuNs() - cpu;
    const auto wall_ns = std::chrono::duration_cast<std::chrono::nanoseconds>(
                             std::chrono::steady_clock::now() - wall).count();
    work->totals->cpu_ns.fetch_add(cpu_ns, std::memory_order_relaxed);
    work->totals->wall_ns.fetch_add(static_cast<uint64_t>(wall_ns), std::memory_order_relaxed);
    work->totals->runs.fetch_add(1, std::memory_order_relaxed);
  }

  std::shared_ptr<Counts> totals_ = std::make_shared<Counts>();
};

void Store::MakeEnvs() {
  leveldb::Env* base = options_.env ? options_.env : DefaultEnv();
  log_env_ = std::make_unique<CountingEnv>(base);
  index_env_ = std::make_unique<CountingEnv>(base);
}

Store::BackgroundTimes Store::background_times() const {
  return BackgroundTimes{log_env_->Totals(), index_env_->Totals()};
}

namespace {

// The log database's options. Both databases share `cache` and `filter` (owned by the
// Store).
leveldb::Options MakeOptions(const StoreOptions& o, leveldb::Env* env, leveldb::Cache* cache,
                             const leveldb::FilterPolicy* filter) {
  leveldb::Options opts;
  opts.env = env;
  // A damaged write-ahead log or table is an error, not something to skip: without this,
  // LevelDB drops the log records after a bad checksum on open (committed blocks) and
  // deletes the log.
  opts.paranoid_checks = true;
  opts.block_cache = cache;
  opts.filter_policy = filter;
  opts.write_buffer_size = o.log_memtable_bytes;
  opts.max_file_size = 8 << 20;
  return opts;
}

// The index database's: its own memtable size (StoreOptions::index_memtable_bytes).
leveldb::Options MakeIndexOptions(const StoreOptions& o, leveldb::Env* env, leveldb::Cache* cache,
                                  const leveldb::FilterPolicy* filter) {
  leveldb::Options opts = MakeOptions(o, env, cache, filter);
  opts.write_buffer_size = o.index_memtable_bytes;
  return opts;
}

// The index database's records of `block`: its block record (`record`, encoded), its kind,
// task and time keys and the new head. (Its signer keys wait for the end of its chunk:
// Store::AddSignerRecords.)
void AddIndexRecords(const Block& block, const leveldb::Slice& record, leveldb::WriteBatch& batch) {
  const uint64_t height = block.header.height;
  // Index keys, one per (block, value): the offsets of the block's matching entries.
  std::map<EntryKind, std::vector<uint32_t>> by_kind;
  std::map<std::string_view, std::vector<uint32_t>> by_task;
  std::map<uint64_t, std::vector<uint32_t>> by_minute;
  for (uint32_t offset = 0; offset < block.entries.size(); ++offset) {
    const Entry& e = block.entries[offset];
    by_kind[e.kind()].push_back(offset);
    if (const std::string* task = TaskIdOf(e.payload())) by_task[*task].push_back(offset);
    by_minute[e.timestamp_ms() / kTimeBucketMs].push_back(offset);
  }
  for (const auto& [kind, o] : by_kind) batch.Put(keys::ByKind(kind, height), keys::IndexValue(o));
  for (const auto& [task, o] : by_task) batch.Put(keys::ByTask(task, height), keys::IndexValue(o));
  for (const auto& [minute, o] : by_minute) {
    batch.Put(keys::ByTime(minute * kTimeBucketMs, height), keys::IndexValue(o));
  }
  batch.Put(keys::Block(height), record);
  Writer hw(8);
  hw.U64(height);
  batch.Put(keys::Meta("head"), ToSlice(hw.bytes()));
}

// Adds every key of `block` to the two batches: entries, Merkle nodes and the commit record to
// `log_batch`, the index database's records to `batch`. `log` is advanced past the block's
// entries.
void AddBlockToBatch(const Block& block, const std::optional<Certificate>& cert,
                     CompactRange& log, leveldb::WriteBatch& batch,
                     leveldb::WriteBatch& log_batch) {
  BlockRecord rec;
  rec.header = block.header;
  rec.cert = cert;
  rec.first_entry_index = log.size();
  std::string node_value(32, '\0');
  for (const Entry& e : block.entries) {
    log_batch.Put(keys::Entry(log.size()), ToSlice(e.bytes()));
    log.Append(e.leaf_hash(), [&](NodeId id, const Hash32& h) {
      if (id.level == 0) return;  // the leaf hash is its entry's, recomputed on demand
      std::memcpy(node_value.data(), h.data(), 32);
      log_batch.Put(keys::Node(id), node_value);
    });
  }
  const Bytes record = EncodeBlockRecord(rec);
  log_batch.Put(keys::Commit(log.size(), block.header.height), ToSlice(record));
  AddIndexRecords(block, ToSlice(record), batch);
}

// Every read checks the checksums of the table blocks it touches: a damaged block is an
// error for the reader (a proof, a block served over the API, the consensus thread), never
// bytes handed on as if they were the ledger's.
leveldb::ReadOptions Reads() {
  leveldb::ReadOptions ro;
  ro.verify_checksums = true;
  return ro;
}

// The index database's head: the height of the last block whose index records it holds.
Result<uint64_t> ReadHead(leveldb::DB& db) {
  std::string v;
  FL_TRY(FromLevelDB(db.Get(Reads(), keys::Meta("head"), &v), "reading head record"));
  if (v.size() != 8) return Status::Corruption("head record is not 8 bytes");
  Reader r(ToView(v));
  return r.U64("head");
}

}  // namespace

Result<Block> MakeGenesisBlock(const Entry& genesis_entry) {
  const auto* g = genesis_entry.As<GenesisPayload>();
  if (!g) return Status::InvalidArgument("the genesis block needs a GENESIS entry");
  if (genesis_entry.nonce() == 0) return Status::InvalidArgument("genesis nonce must be >= 1");
  Block b;
  b.header.chain_id = genesis_entry.chain_id();
  b.header.height = 0;
  b.header.time_ms = g->genesis_time_ms;
  b.header.proposer = genesis_entry.signer();
  b.header.entry_count = 1;
  b.header.log_size = 1;
  b.header.log_root = genesis_entry.leaf_hash();  // MTH of one leaf is the leaf hash
  b.header.validator_set_hash = ValidatorSet(g->validators).hash();
  b.entries.push_back(genesis_entry);
  return b;
}

Store::~Store() {
  StopIndexWriter();  // writes what is queued
  // The DBs must close before their cache and filter policy are freed, and before their
  // private copy (OpenReadOnly) is removed.
  log_db_.reset();
  db_.reset();
  delete block_cache_;
  delete filter_policy_;
  view_.reset();
}

Result<std::unique_ptr<Store>> Store::Create(const std::string& path, const Block& genesis,
                                             const StoreOptions& options) {
  if (genesis.entries.size() != 1 || genesis.entries[0].kind() != EntryKind::kGenesis) {
    return Status::InvalidArgument("genesis block must hold exactly one GENESIS entry");
  }
  const Entry& ge = genesis.entries[0];
  if (!ge.VerifySignature()) {
    return Status::InvalidArgument("genesis entry signature does not verify");
  }
  FL_ASSIGN(Block expected, MakeGenesisBlock(ge));
  if (!(expected.header == genesis.header)) {
    return Status::InvalidArgument(
        "genesis block header does not match its GENESIS entry (height 0, zero prev hash, "
        "log size 1, log root = leaf hash, validator set hash)");
  }
  std::unique_ptr<Store> store(new Store);
  store->options_ = options;
  store->block_cache_ = leveldb::NewLRUCache(options.block_cache_bytes);
  store->filter_policy_ = leveldb::NewBloomFilterPolicy(10);
  store->MakeEnvs();
  leveldb::Options opts = MakeIndexOptions(options, store->index_env_.get(), store->block_cache_,
                                           store->filter_policy_);
  opts.create_if_missing = true;
  opts.error_if_exists = true;
  leveldb::DB* db = nullptr;
  leveldb::Status s = leveldb::DB::Open(opts, path, &db);
  if (!s.ok()) {
    if (s.IsInvalidArgument() && s.ToString().find("exists") != std::string::npos) {
      return Status::AlreadyExists("a ledger store already exists at " + path);
    }
    return FromLevelDB(s, "cannot create store at " + path);
  }
  store->db_.reset(db);
  FL_TRY(store->OpenLog(path, /*create=*/true));

  leveldb::WriteBatch batch, log_batch;
  CompactRange log;
  AddBlockToBatch(genesis, std::nullopt, log, batch, log_batch);
  store->AddSignerRecords(genesis, batch);
  Hash32 genesis_hash = genesis.header.Hash();
  batch.Put(keys::Meta("genesis"),
            leveldb::Slice(reinterpret_cast<const char*>(genesis_hash.data()), 32));
  {
    Writer fw(4);
    fw.U32(kStoreFormat);
    batch.Put(keys::Meta("format"), ToSlice(fw.bytes()));
  }
  leveldb::WriteOptions wo;
  wo.sync = true;
  FL_TRY(FromLevelDB(store->log_db_->Write(wo, &log_batch), "cannot write the genesis entry"));
  FL_TRY(FromLevelDB(store->db_->Write(wo, &batch), "cannot write genesis"));
  FL_TRY(store->CheckFormat());
  FL_TRY(store->LoadState());
  store->StartIndexWriter();
  return store;
}

Result<std::unique_ptr<Store>> Store::Open(const std::string& path, const StoreOptions& options) {
  auto store = OpenAt(path, path, nullptr, options);
  if (store.ok()) (*store)->StartIndexWriter();
  return store;
}

void Store::StartIndexWriter() {
  if (!options_.index_in_background || read_only_ || index_writer_.joinable()) return;
  index_writer_ = std::thread([this] { IndexWriterLoop(); });
  NameThread(index_writer_, "fl-index");
  ScheduleAsBatch(index_writer_);
}

void Store::StopIndexWriter() {
  if (!index_writer_.joinable()) return;
  {
    std::lock_guard<std::mutex> lock(index_mu_);
    index_stop_ = true;
  }
  index_cv_.notify_all();
  index_writer_.join();
}

void Store::IndexWriterLoop() {
  std::unique_lock<std::mutex> lock(index_mu_);
  for (;;) {
    index_cv_.wait(lock, [this] { return index_stop_ || !index_queue_.empty(); });
    if (index_queue_.empty()) return;  // stopping, and everything is written
    // The block stays queued while it is written: Commit only ever appends (a deque keeps
    // references to its other elements), and WaitIndex reads index_height_.
    IndexWrite& w = index_queue_.front();
    lock.unlock();
    const auto start = std::chrono::steady_clock::now();
    leveldb::Status s = db_->Write(leveldb::WriteOptions(), &w.batch);
    const auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(
                        std::chrono::steady_clock::now() - start).count();
    background_index_ns_.fetch_add(static_cast<uint64_t>(ns), std::memory_order_relaxed);
    lock.lock();
    if (!s.ok()) {
      index_error_ = FromLevelDB(s, "writing the index records of block " + std::to_string(w.height));
      index_queue_.clear();
      index_cv_.notify_all();
      return;
    }
    index_height_.store(w.height, std::memory_order_release);
    index_queue_.pop_front();
    index_cv_.notify_all();
  }
}

Status Store::WaitIndex(uint64_t height) const {
  if (index_height_.load(std::memory_order_acquire) >= height) return Status::Ok();
  // The blocks whose index records are not written yet are the queued ones (in height
  // order); a block above them is not committed, or not even queued yet and so not in the
  // head a reader can have seen. Takes no other lock: LastNonceLocked holds nonce_mu_ here.
  std::unique_lock<std::mutex> lock(index_mu_);
  index_cv_.wait(lock, [&] {
    return !index_error_.ok() || index_queue_.empty() || index_queue_.front().height > height;
  });
  return index_error_;
}

Result<std::unique_ptr<Store>> Store::OpenReadOnly(const std::string& path,
                                                   const StoreOptions& options) {
  if (options.env) return OpenAt(path, path, nullptr, options);
  auto view = PrivateCopy::Make(path);
  if (!view.ok()) {
    if (view.status().code() == Status::Code::kNotFound) {
      return Status::NotFound("no ledger store at " + path);
    }
    return view.status();
  }
  std::string db_path = (*view)->path();
  auto store = OpenAt(path, db_path, std::move(view).value(), options);
  if (!store.ok()) return store.status();
  (*store)->read_only_ = true;
  return store;
}

Result<std::unique_ptr<Store>> Store::OpenAt(const std::string& path, const std::string& db_path,
                                             std::unique_ptr<PrivateCopy> view,
                                             const StoreOptions& options) {
  std::unique_ptr<Store> store(new Store);
  store->options_ = options;
  store->view_ = std::move(view);
  store->block_cache_ = leveldb::NewLRUCache(options.block_cache_bytes);
  store->filter_policy_ = leveldb::NewBloomFilterPolicy(10);
  store->MakeEnvs();
  leveldb::Options opts = MakeIndexOptions(options, store->index_env_.get(), store->block_cache_,
                                           store->filter_policy_);
  opts.create_if_missing = false;
  leveldb::DB* db = nullptr;
  leveldb::Status s = leveldb::DB::Open(opts, db_path, &db);
  if (!s.ok()) {
    // LevelDB names the files it opened: name the caller's directory, not a private copy.
    std::string why = PrivateCopy::NameOriginal(s.ToString(), db_path, path);
    if (s.IsInvalidArgument()) return Status::NotFound("no ledger store at " + path + " (" + why + ")");
    if (s.IsCorruption()) return Status::Corruption("cannot open store at " + path + ": " + why);
    return Status::IOError("cannot open store at " + path + ": " + why);
  }
  store->db_.reset(db);
  FL_TRY(store->CheckFormat().WithContext("store " + path));
  Status log = store->OpenLog(db_path, /*create=*/false);
  if (!log.ok()) {
    // As above: name the caller's directory.
    std::string why = PrivateCopy::NameOriginal(log.message(), db_path, path);
    why = "store " + path + ": " + why;
    return log.code() == Status::Code::kCorruption ? Status::Corruption(why) : Status::IOError(why);
  }
  // A private copy (OpenReadOnly) catches up too: only the copy changes.
  FL_TRY(store->LoadSignerIndex().WithContext("store " + path));
  FL_TRY(store->CatchUpIndex().WithContext("store " + path));
  FL_TRY(store->LoadState().WithContext("store " + path));
  return store;
}

Status Store::OpenLog(const std::string& dir, bool create) {
  leveldb::Options opts = MakeOptions(options_, log_env_.get(), block_cache_, filter_policy_);
  opts.create_if_missing = create;
  opts.error_if_exists = create;
  const std::string path = dir + "/" + kLogDbDir;
  leveldb::DB* db = nullptr;
  leveldb::Status s = leveldb::DB::Open(opts, path, &db);
  if (s.IsInvalidArgument() && !create) {
    return Status::Corruption("the log database " + path + " (entries and Merkle nodes) is missing");
  }
  FL_TRY(FromLevelDB(s, "cannot open the log database " + path));
  log_db_.reset(db);
  return Status::Ok();
}

Status Store::CatchUpIndex() {
  FL_ASSIGN(const uint64_t height, ReadHead(*db_));
  FL_ASSIGN(BlockRecord prev, GetBlockRecord(height));
  // The index head's commit record, then every one past it, in log order.
  std::unique_ptr<leveldb::Iterator> it(log_db_->NewIterator(Reads()));
  const std::string head_key = keys::Commit(prev.header.log_size, height);
  it->Seek(head_key);
  if (!it->Valid() || it->key() != leveldb::Slice(head_key)) {
    FL_TRY(FromLevelDB(it->status(), "reading the log database"));
    return Status::Corruption("the log database holds no commit record for block " +
                              std::to_string(height) + ", the index database's head");
  }
  {
    std::string block_record;
    FL_TRY(FromLevelDB(db_->Get(Reads(), keys::Block(height), &block_record),
                       "reading block " + std::to_string(height)));
    if (it->value() != leveldb::Slice(block_record)) {
      return Status::Corruption("block " + std::to_string(height) +
                                ": its block record differs from its commit record");
    }
  }
  leveldb::WriteBatch batch;
  uint64_t caught_up = 0;
  for (it->Next(); it->Valid(); it->Next()) {
    if (!keys::IsCommitKey(it->key().size())) continue;  // the next block's entries and nodes
    const uint64_t h = height + caught_up + 1;
    auto bad = [&](const std::string& why) {
      return Status::Corruption("commit record of block " + std::to_string(h) +
                                " past the index database's head " + std::to_string(height) +
                                ": " + why);
    };
    auto rec = DecodeBlockRecord(ByteView(reinterpret_cast<const uint8_t*>(it->value().data()),
                                          it->value().size()));
    if (!rec.ok()) return bad(rec.status().message());
    if (rec->header.height != h || it->key() != leveldb::Slice(keys::Commit(rec->header.log_size, h))) {
      return bad("it is not block " + std::to_string(h) + "'s");
    }
    if (rec->header.prev_hash != prev.hash || rec->first_entry_index != prev.header.log_size ||
        rec->header.log_size != rec->first_entry_index + rec->header.entry_count || !rec->cert) {
      return bad("it does not follow block " + std::to_string(h - 1));
    }
    Block block;
    block.header = rec->header;
    for (uint64_t i = rec->first_entry_index; i < rec->header.log_size; ++i) {
      auto e = GetEntry(i);
      if (!e.ok()) return bad(e.status().message());
      block.entries.push_back(std::move(e).value());
    }
    AddIndexRecords(block, it->value(), batch);
    AddSignerRecords(block, batch);
    prev = std::move(rec).value();
    ++caught_up;
  }
  FL_TRY(FromLevelDB(it->status(), "reading the log database past the index head"));
  // A block's log records are one atomic batch: nothing lies past the last commit record.
  it->Seek(keys::Entry(prev.header.log_size));
  if (it->Valid()) {
    return Status::Corruption("the log database holds records past the commit record of block " +
                              std::to_string(prev.header.height) + " (log size " +
                              std::to_string(prev.header.log_size) + "), the last one");
  }
  FL_TRY(FromLevelDB(it->status(), "reading the log database past its last commit record"));
  if (caught_up == 0) return Status::Ok();
  leveldb::WriteOptions wo;
  wo.sync = true;
  return FromLevelDB(db_->Write(wo, &batch),
                     "writing the index records of " + std::to_string(caught_up) +
                         " block(s) past the index head");
}

void Store::AddSignerRecords(const Block& block, leveldb::WriteBatch& batch) {
  const uint64_t height = block.header.height;
  const uint64_t chunk = height / kSignerChunkHeights;
  std::unordered_map<PubKey, std::vector<uint32_t>, Hash32Hasher> by_signer;
  for (uint32_t offset = 0; offset < block.entries.size(); ++offset) {
    by_signer[block.entries[offset].signer()].push_back(offset);
  }
  std::lock_guard lock(signer_mu_);
  PruneSignerChunksLocked(index_height_.load(std::memory_order_acquire));
  if (signer_chunks_.empty() || signer_chunks_.back().chunk != chunk) {
    signer_chunks_.emplace_back().chunk = chunk;
  }
  SignerChunk& c = signer_chunks_.back();
  for (const auto& [signer, offsets] : by_signer) {
    keys::AppendSignerBlock(c.values[signer], height, offsets);
  }
  if (height % kSignerChunkHeights == kSignerChunkHeights - 1) {
    for (const auto& [signer, value] : c.values) batch.Put(keys::BySigner(signer, chunk), value);
    c.closed = true;
  }
}

void Store::PruneSignerChunksLocked(uint64_t written) {
  while (!signer_chunks_.empty() && signer_chunks_.front().closed &&
         (signer_chunks_.front().chunk + 1) * kSignerChunkHeights - 1 <= written) {
    signer_chunks_.pop_front();
  }
}

Status Store::LoadSignerIndex() {
  FL_ASSIGN(const uint64_t head, ReadHead(*db_));
  leveldb::WriteBatch batch;
  // The open chunk: from its first height up to the head (none if the head closed a chunk).
  uint64_t from = head + 1 - (head + 1) % kSignerChunkHeights;
  if (format_ == 4) {
    // One key per block and signer: all of them go, and every chunk up to the head is built
    // from the blocks, in one batch with the new format record, so that a crash leaves the
    // store in one format or the other.
    std::unique_ptr<leveldb::Iterator> it(db_->NewIterator(Reads()));
    for (it->Seek("Is"); it->Valid() && it->key().starts_with("Is"); it->Next()) {
      batch.Delete(it->key());
    }
    FL_TRY(FromLevelDB(it->status(), "reading the format 4 signer index"));
    from = 0;
  }
  for (uint64_t h = from; h <= head; ++h) {
    FL_ASSIGN(Block block, GetBlock(h));
    AddSignerRecords(block, batch);
    std::lock_guard lock(signer_mu_);
    PruneSignerChunksLocked(h);  // nothing reads the store yet: `batch` holds the closed chunks
  }
  if (format_ == 4) {
    Writer fw(4);
    fw.U32(kStoreFormat);
    batch.Put(keys::Meta("format"), ToSlice(fw.bytes()));
    leveldb::WriteOptions wo;
    wo.sync = true;
    FL_TRY(FromLevelDB(db_->Write(wo, &batch), "rewriting the format 4 signer index as format " +
                                                   std::to_string(kStoreFormat)));
    format_ = kStoreFormat;
  }
  return Status::Ok();
}

Status Store::ForEachSignerBlock(
    const PubKey& signer, uint64_t from,
    const std::function<Result<bool>(const keys::SignerBlock&)>& fn) const {
  const uint64_t first_chunk = from / kSignerChunkHeights;
  // The chunks in memory first, then the written keys: a chunk leaves memory only after its
  // keys are written, so each chunk is in one place or the other, or in both for a moment
  // (the keys win then).
  std::vector<std::pair<uint64_t, std::string>> recent;
  {
    std::lock_guard lock(signer_mu_);
    for (const SignerChunk& c : signer_chunks_) {
      if (c.chunk < first_chunk) continue;
      auto it = c.values.find(signer);
      if (it != c.values.end()) recent.emplace_back(c.chunk, it->second);
    }
  }
  auto each = [&](uint64_t chunk, std::string_view value) -> Result<bool> {
    auto blocks = keys::DecodeSignerChunk(value, chunk);
    if (!blocks.ok()) return blocks.status().WithContext("the signer index of " + signer.ShortHex());
    for (const keys::SignerBlock& b : *blocks) {
      if (b.height < from) continue;
      FL_ASSIGN(bool more, fn(b));
      if (!more) return false;
    }
    return true;
  };
  std::string prefix = keys::BySigner(signer, 0);
  prefix.resize(prefix.size() - 8);
  std::optional<uint64_t> last_written;
  std::unique_ptr<leveldb::Iterator> it(db_->NewIterator(Reads()));
  for (it->Seek(keys::BySigner(signer, first_chunk)); it->Valid() && it->key().starts_with(prefix);
       it->Next()) {
    if (it->key().size() != prefix.size() + 8) {
      return Status::Corruption("signer index key of " + std::to_string(it->key().size()) +
                                " bytes for " + signer.ShortHex());
    }
    last_written = ReadBE64(it->key().data() + prefix.size());
    FL_ASSIGN(bool more, each(*last_written, std::string_view(it->value().data(), it->value().size())));
    if (!more) return Status::Ok();
  }
  FL_TRY(FromLevelDB(it->status(), "scanning the signer index"));
  for (const auto& [chunk, value] : recent) {
    if (last_written && chunk <= *last_written) continue;
    FL_ASSIGN(bool more, each(chunk, value));
    if (!more) break;
  }
  return Status::Ok();
}

Result<BlockRecord> Store::SignerBlockRecord(const keys::SignerBlock& b) const {
  FL_ASSIGN(BlockRecord rec, GetBlockRecord(b.height));
  Status offsets = keys::CheckOffsets(b.offsets, rec.header.entry_count);
  if (!offsets.ok()) {
    return Status::Corruption("signer index of block " + std::to_string(b.height) + ": " +
                              offsets.message());
  }
  return rec;
}

Status Store::CheckFormat() {
  std::string v;
  leveldb::ReadOptions ro = Reads();
  leveldb::Status s = db_->Get(ro, keys::Meta("genesis"), &v);
  if (s.IsNotFound()) return Status::Corruption("no genesis record: not a fedledger store");
  FL_TRY(FromLevelDB(s, "reading genesis record"));
  std::string format;
  s = db_->Get(ro, keys::Meta("format"), &format);
  if (s.IsNotFound()) {
    return Status::InvalidArgument(
        "the store is in format 1 (no format record; written before 2026-12-04), which this "
        "build does not read: start the node on an empty data directory so it catches up from "
        "its peers, or keep the old build to audit it");
  }
  FL_TRY(FromLevelDB(s, "reading format record"));
  {
    Reader fr(ToView(format));
    auto f = fr.U32("store format");
    if (!f.ok() || !fr.done()) return Status::Corruption("format record is not a u32");
    if (*f == 2 || *f == 3) {
      return Status::InvalidArgument(
          std::string("the store is in format ") +
          (*f == 2 ? "2 (one LevelDB database; written before 2026-12-06)"
                   : "3 (no commit records in the log database; written before 2026-12-07)") +
          ", which this build does not read: start the node on an empty data directory so it "
          "catches up from its peers, or keep the old build to audit it");
    }
    if (*f != kStoreFormat && *f != 4) {
      return Status::InvalidArgument("the store is in format " + std::to_string(*f) +
                                     "; this build reads formats 4 and " +
                                     std::to_string(kStoreFormat));
    }
    format_ = *f;
  }
  if (v.size() != 32) return Status::Corruption("genesis record is not 32 bytes");
  genesis_hash_ = Hash32::FromView(ToView(v));
  return Status::Ok();
}

Status Store::LoadState() {
  FL_ASSIGN(Block genesis, GetBlock(0));
  if (genesis.header.Hash() != genesis_hash_) {
    return Status::Corruption("block 0 does not hash to the recorded genesis hash");
  }
  const auto* g = genesis.entries.size() == 1 ? genesis.entries[0].As<GenesisPayload>() : nullptr;
  if (!g) return Status::Corruption("block 0 does not hold a GENESIS entry");
  chain_id_ = genesis.header.chain_id;
  genesis_ = *g;
  validators_ = ValidatorSet(g->validators);

  FL_ASSIGN(const uint64_t head_height, ReadHead(*db_));
  FL_ASSIGN(BlockRecord head, GetBlockRecord(head_height));
  FL_ASSIGN(CompactRange log, CompactRange::Load(*this, head.header.log_size));
  if (log.Root() != head.header.log_root) {
    return Status::Corruption("stored Merkle nodes do not give the head block's log root");
  }
  // The head is what this store vouches for when it serves proofs and signs on top of it:
  // its certificate must still be a quorum of the validators' precommits for it (a few
  // signature checks per open; `audit verify` checks every block).
  if (head_height > 0) {
    if (!head.cert) return Status::Corruption("head block " + std::to_string(head_height) + " has no certificate");
    Status cs = head.cert->Verify(validators_, chain_id_, head_height, head.hash);
    if (!cs.ok()) {
      return Status::Corruption("the certificate of head block " + std::to_string(head_height) +
                                " does not verify: " + cs.message());
    }
  }

  std::unique_lock lock(mu_);
  index_height_.store(head_height, std::memory_order_release);
  head_ = std::move(head);
  log_ = std::move(log);
  return Status::Ok();
}

uint64_t Store::height() const {
  std::shared_lock lock(mu_);
  return head_.header.height;
}
BlockRecord Store::head() const {
  std::shared_lock lock(mu_);
  return head_;
}
uint64_t Store::log_size() const {
  std::shared_lock lock(mu_);
  return log_.size();
}
Hash32 Store::log_root() const {
  std::shared_lock lock(mu_);
  return head_.header.log_root;
}
uint64_t Store::LastNonce(const PubKey& signer) const {
  std::lock_guard lock(nonce_mu_);
  auto n = LastNonceLocked(signer);
  if (!n.ok()) {
    std::fprintf(stderr, "fedledger store: %s\n", n.status().ToString().c_str());
    std::abort();
  }
  return *n;
}

Result<uint64_t> Store::LastNonceLocked(const PubKey& signer) const {
  auto it = nonces_.find(signer);
  if (it != nonces_.end()) return it->second;
  // The signer's last block in the index, its last entry there, that entry's nonce.
  auto bad = [&](const std::string& why) {
    return Status::Corruption("the last nonce of " + signer.ShortHex() + ": " + why);
  };
  std::optional<keys::SignerBlock> last;
  {
    // The newest chunk in memory that holds the signer, or else its last written key.
    std::lock_guard lock(signer_mu_);
    for (auto c = signer_chunks_.rbegin(); c != signer_chunks_.rend() && !last; ++c) {
      auto v = c->values.find(signer);
      if (v == c->values.end()) continue;
      auto blocks = keys::DecodeSignerChunk(v->second, c->chunk);
      if (!blocks.ok()) return bad(blocks.status().message());
      last = std::move(blocks->back());
    }
  }
  if (!last) {
    std::string prefix = keys::BySigner(signer, 0);
    prefix.resize(prefix.size() - 8);
    std::unique_ptr<leveldb::Iterator> ix(db_->NewIterator(Reads()));
    ix->Seek(keys::BySigner(signer, UINT64_MAX));
    if (ix->Valid()) {
      ix->Prev();
    } else {
      ix->SeekToLast();
    }
    if (ix->Valid() && ix->key().starts_with(prefix) && ix->key().size() == prefix.size() + 8) {
      uint64_t chunk = ReadBE64(ix->key().data() + prefix.size());
      auto blocks = keys::DecodeSignerChunk(std::string_view(ix->value().data(), ix->value().size()), chunk);
      if (!blocks.ok()) return bad(blocks.status().message());
      last = std::move(blocks->back());
    } else if (!ix->status().ok()) {
      return bad(ix->status().ToString());
    }
  }
  uint64_t nonce = 0;
  if (last) {
    auto rec = SignerBlockRecord(*last);
    if (!rec.ok()) return bad(rec.status().message());
    auto e = GetEntry(rec->first_entry_index + last->offsets.back());
    if (!e.ok()) return bad(e.status().message());
    if (e->signer() != signer) return bad("the signer index points at another signer's entry");
    nonce = e->nonce();
  }
  nonces_.emplace(signer, nonce);
  return nonce;
}

BlockHeader Store::NextHeader(const std::vector<Entry>& entries, uint64_t time_ms,
                              const PubKey& proposer) const {
  std::shared_lock lock(mu_);
  BlockHeader h;
  h.chain_id = chain_id_;
  h.height = head_.header.height + 1;
  h.prev_hash = head_.hash;
  h.time_ms = std::max(time_ms, head_.header.time_ms);
  h.proposer = proposer;
  h.entry_count = static_cast<uint32_t>(entries.size());
  CompactRange log = log_;
  for (const Entry& e : entries) log.Append(e.leaf_hash());
  h.log_size = log.size();
  h.log_root = log.Root();
  h.validator_set_hash = validators_.hash();
  return h;
}

Status Store::CheckBlock(const Block& block) const {
  std::shared_lock lock(mu_);
  const BlockHeader& h = block.header;
  auto bad = [&](const std::string& m) {
    return Status::InvalidArgument("block " + std::to_string(h.height) + ": " + m);
  };
  if (h.chain_id != chain_id_) return bad("chain id '" + h.chain_id + "' is not " + chain_id_);
  if (h.height != head_.header.height + 1) {
    return bad("expected height " + std::to_string(head_.header.height + 1));
  }
  if (h.prev_hash != head_.hash) return bad("previous hash does not match the head block");
  if (h.validator_set_hash != validators_.hash()) return bad("unknown validator set");
  if (validators_.IndexOf(h.proposer) < 0) return bad("proposer is not a validator");
  if (h.time_ms < head_.header.time_ms) return bad("time goes backwards");
  if (h.entry_count != block.entries.size()) {
    return bad("header says " + std::to_string(h.entry_count) + " entries, block holds " +
               std::to_string(block.entries.size()));
  }
  // signer -> its last nonce so far in this block; looked up per entry, never walked.
  std::unordered_map<PubKey, uint64_t, Hash32Hasher> nonces;
  CompactRange log = log_;
  std::vector<bool> signature_ok;
  if (options_.verify_signatures_on_commit) {
    std::vector<SignatureCheck> checks;
    checks.reserve(block.entries.size());
    for (const Entry& e : block.entries) checks.push_back(e.signature_check());
    signature_ok = VerifySignatures(checks);  // one batch; reported below in entry order
  }
  std::lock_guard nonce_lock(nonce_mu_);
  for (size_t i = 0; i < block.entries.size(); ++i) {
    const Entry& e = block.entries[i];
    auto bad_entry = [&](const std::string& m) {
      return bad("entry " + std::to_string(i) + " (" + EntryKindName(e.kind()) + " by " +
                 e.signer().ShortHex() + "): " + m);
    };
    if (e.chain_id() != chain_id_) return bad_entry("chain id '" + e.chain_id() + "'");
    if (e.kind() == EntryKind::kGenesis) return bad_entry("GENESIS is only allowed at height 0");
    auto it = nonces.find(e.signer());
    uint64_t last;
    if (it != nonces.end()) {
      last = it->second;
    } else {
      FL_ASSIGN(last, LastNonceLocked(e.signer()));
    }
    if (e.nonce() <= last) {
      return bad_entry("nonce " + std::to_string(e.nonce()) + " is not above the signer's last " +
                       std::to_string(last) + " (replay)");
    }
    nonces[e.signer()] = e.nonce();
    if (options_.verify_signatures_on_commit && !signature_ok[i]) {
      return bad_entry("signature does not verify");
    }
    log.Append(e.leaf_hash());
  }
  if (log.size() != h.log_size) {
    return bad("log size " + std::to_string(h.log_size) + " should be " +
               std::to_string(log.size()));
  }
  if (log.Root() != h.log_root) return bad("log root does not match the entries");
  return Status::Ok();
}

Status Store::Commit(const Block& block, const Certificate& cert) {
  if (read_only_) return Status::FailedPrecondition("the store was opened read-only");
  using Clock = std::chrono::steady_clock;
  auto since = [](Clock::time_point t) {
    return static_cast<uint64_t>(
        std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now() - t).count());
  };
  const Clock::time_point start = Clock::now();
  std::lock_guard commit_lock(commit_mu_);
  FL_TRY(CheckBlock(block));
  Hash32 hash = block.header.Hash();
  if (options_.verify_certificate_on_commit) {
    FL_TRY(cert.Verify(validators_, chain_id_, block.header.height, hash)
               .WithContext("block " + std::to_string(block.header.height)));
  }
  Clock::time_point t = Clock::now();
  if (index_writer_.joinable()) {
    // One block being written and one waiting at most: the writer keeps up unless the disk
    // stalls, and then commits wait for it here rather than queue without bound. A failed
    // index write fails this commit before anything is written.
    std::unique_lock<std::mutex> lock(index_mu_);
    index_cv_.wait(lock, [this] { return index_queue_.size() < 2 || !index_error_.ok(); });
    FL_TRY(index_error_.WithContext("committing block " + std::to_string(block.header.height)));
  }
  uint64_t index_ns = since(t);
  CompactRange log;
  {
    std::shared_lock lock(mu_);
    log = log_;
  }
  leveldb::WriteBatch batch, log_batch;
  AddBlockToBatch(block, cert, log, batch, log_batch);
  leveldb::WriteOptions wo;
  wo.sync = options_.sync;
  // The log's synced write is the commit. The index records follow unsynced: a crash may
  // lose them, and the next open writes them again from the commit record (CatchUpIndex).
  t = Clock::now();
  FL_TRY(FromLevelDB(log_db_->Write(wo, &log_batch), "committing block " +
                                                         std::to_string(block.header.height) +
                                                         " (log)"));
  const uint64_t log_ns = since(t);
  t = Clock::now();
  AddSignerRecords(block, batch);
  if (index_writer_.joinable()) {
    std::lock_guard<std::mutex> lock(index_mu_);
    // The block is committed. Should a write fail since the check above, this block's index
    // records are left to the next open (CatchUpIndex), like the rest of the failed ones.
    if (index_error_.ok()) {
      index_queue_.push_back(IndexWrite{block.header.height, std::move(batch)});
      index_cv_.notify_all();
    }
  } else {
    FL_TRY(FromLevelDB(db_->Write(leveldb::WriteOptions(), &batch), "committing block " +
                                                   std::to_string(block.header.height)));
    index_height_.store(block.header.height, std::memory_order_release);
  }
  index_ns += since(t);
  std::unique_lock lock(mu_);
  head_.header = block.header;
  head_.hash = hash;
  head_.cert = cert;
  head_.first_entry_index = log_.size();
  log_ = std::move(log);
  std::lock_guard nonce_lock(nonce_mu_);
  for (const Entry& e : block.entries) nonces_[e.signer()] = e.nonce();
  log_write_ns_.fetch_add(log_ns, std::memory_order_relaxed);
  index_write_ns_.fetch_add(index_ns, std::memory_order_relaxed);
  commit_ns_.fetch_add(since(start), std::memory_order_relaxed);
  commits_timed_.fetch_add(1, std::memory_order_relaxed);
  return Status::Ok();
}

Store::CommitTimes Store::commit_times() const {
  CommitTimes t;
  t.commits = commits_timed_.load(std::memory_order_relaxed);
  t.total_ns = commit_ns_.load(std::memory_order_relaxed);
  t.log_write_ns = log_write_ns_.load(std::memory_order_relaxed);
  t.index_write_ns = index_write_ns_.load(std::memory_order_relaxed);
  t.background_index_write_ns = background_index_ns_.load(std::memory_order_relaxed);
  return t;
}

Result<BlockRecord> Store::GetBlockRecord(uint64_t height) const {
  FL_TRY(WaitIndex(height));
  std::string v;
  leveldb::Status s = db_->Get(Reads(), keys::Block(height), &v);
  if (s.IsNotFound()) return Status::NotFound("no block at height " + std::to_string(height));
  FL_TRY(FromLevelDB(s, "reading block " + std::to_string(height)));
  auto rec = DecodeBlockRecord(ToView(v));
  if (!rec.ok()) {
    return Status::Corruption("block " + std::to_string(height) + ": " + rec.status().message());
  }
  if (rec->header.height != height) {
    return Status::Corruption("block record at height " + std::to_string(height) +
                              " holds height " + std::to_string(rec->header.height));
  }
  return rec;
}

Result<Entry> Store::GetEntry(uint64_t index) const {
  std::string v;
  leveldb::Status s = log_db_->Get(Reads(), keys::Entry(index), &v);
  if (s.IsNotFound()) return Status::NotFound("no entry at index " + std::to_string(index));
  FL_TRY(FromLevelDB(s, "reading entry " + std::to_string(index)));
  auto e = Entry::Decode(ToView(v));
  if (!e.ok()) {
    return Status::Corruption("entry " + std::to_string(index) + ": " + e.status().message());
  }
  return e;
}

Result<Block> Store::GetBlock(uint64_t height) const {
  FL_ASSIGN(BlockRecord rec, GetBlockRecord(height));
  Block b;
  b.header = rec.header;
  b.entries.reserve(rec.header.entry_count);
  std::unique_ptr<leveldb::Iterator> it(log_db_->NewIterator(Reads()));
  std::string first = keys::Entry(rec.first_entry_index);
  uint64_t index = rec.first_entry_index;
  it->Seek(first);
  for (uint32_t i = 0; i < rec.header.entry_count; ++i, ++index, it->Next()) {
    while (it->Valid() && keys::IsNodeKey(it->key().size())) it->Next();  // between entries
    if (!it->Valid() || it->key() != leveldb::Slice(keys::Entry(index))) {
      return Status::Corruption("block " + std::to_string(height) + ": entry " +
                                std::to_string(index) + " is missing");
    }
    auto e = Entry::Decode(ByteView(reinterpret_cast<const uint8_t*>(it->value().data()),
                                    it->value().size()));
    if (!e.ok()) {
      return Status::Corruption("entry " + std::to_string(index) + ": " + e.status().message());
    }
    b.entries.push_back(std::move(e).value());
  }
  return b;
}

Result<uint64_t> Store::HeightOfEntry(uint64_t index) const {
  BlockRecord head = this->head();
  if (index >= head.header.log_size) {
    return Status::NotFound("no entry at index " + std::to_string(index) + " (log size " +
                            std::to_string(head.header.log_size) + ")");
  }
  uint64_t lo = 0, hi = head.header.height;  // the answer is in [lo, hi]
  while (lo < hi) {
    uint64_t mid = lo + (hi - lo) / 2;
    FL_ASSIGN(BlockRecord rec, GetBlockRecord(mid));
    if (rec.header.log_size <= index) {
      lo = mid + 1;
    } else {
      hi = mid;
    }
  }
  return lo;
}

Result<std::optional<uint64_t>> Store::FindEntry(const Entry& entry, uint64_t from_height) const {
  const PubKey& signer = entry.signer();
  const uint64_t nonce = entry.nonce();
  if (nonce == 0 || nonce > LastNonce(signer)) return std::optional<uint64_t>();
  FL_TRY(WaitIndex(height()));
  // The signer's first block at a height >= `from`: its height, first entry index and the
  // offsets of the signer's entries in it; nullopt if the signer has none from there on.
  struct SignerBlock {
    uint64_t height;
    uint64_t first_entry_index;
    std::vector<uint32_t> offsets;
  };
  auto block_from = [&](uint64_t from) -> Result<std::optional<SignerBlock>> {
    std::optional<SignerBlock> found;
    FL_TRY(ForEachSignerBlock(signer, from, [&](const keys::SignerBlock& b) -> Result<bool> {
      FL_ASSIGN(BlockRecord rec, SignerBlockRecord(b));
      found = SignerBlock{b.height, rec.first_entry_index, b.offsets};
      return false;
    }));
    return found;
  };
  auto entry_at = [&](uint64_t index) -> Result<Entry> {
    FL_ASSIGN(Entry e, GetEntry(index));
    if (e.signer() != signer) {
      return Status::Corruption("the signer index points at another signer's entry " +
                                std::to_string(index));
    }
    return e;
  };
  auto nonce_at = [&](uint64_t index) -> Result<uint64_t> {
    FL_ASSIGN(Entry e, entry_at(index));
    return e.nonce();
  };
  // The last of the signer's blocks whose first entry's nonce is <= `nonce`: the only block
  // that can hold it. Invariant: `found` is the signer's block at height `lo` and starts at
  // or below `nonce`; the answer's height is in [lo, hi].
  FL_ASSIGN(std::optional<SignerBlock> found, block_from(from_height));
  if (!found) return std::optional<uint64_t>();
  FL_ASSIGN(uint64_t first_nonce, nonce_at(found->first_entry_index + found->offsets.front()));
  if (first_nonce > nonce) return std::optional<uint64_t>();
  uint64_t lo = found->height, hi = height();
  while (lo < hi) {
    uint64_t mid = lo + (hi - lo + 1) / 2;
    FL_ASSIGN(std::optional<SignerBlock> b, block_from(mid));
    bool starts_below = false;
    if (b) {
      FL_ASSIGN(uint64_t n, nonce_at(b->first_entry_index + b->offsets.front()));
      starts_below = n <= nonce;
    }
    if (starts_below) {
      lo = b->height;
      found = std::move(b);
    } else {
      hi = mid - 1;
    }
  }
  // Within the block the signer's nonces increase with the offsets too.
  const std::vector<uint32_t>& offs = found->offsets;
  size_t a = 0, z = offs.size();  // the entry, if there, is at an offset in [a, z)
  while (a < z) {
    size_t m = a + (z - a) / 2;
    uint64_t index = found->first_entry_index + offs[m];
    FL_ASSIGN(Entry e, entry_at(index));
    if (e.nonce() == nonce) {
      if (e.leaf_hash() != entry.leaf_hash()) return std::optional<uint64_t>();
      return std::optional<uint64_t>(index);
    }
    if (e.nonce() < nonce) {
      a = m + 1;
    } else {
      z = m;
    }
  }
  return std::optional<uint64_t>();
}

Status Store::QueryEntries(const EntryQuery& q,
                           const std::function<bool(uint64_t, const Entry&)>& fn) const {
  FL_TRY(WaitIndex(height()));
  auto matches = [&](const Entry& e) {
    if (q.kind && e.kind() != *q.kind) return false;
    if (q.signer && e.signer() != *q.signer) return false;
    if (q.task_id) {
      const std::string* t = TaskIdOf(e.payload());
      if (!t || *t != *q.task_id) return false;
    }
    if (q.since_ms && e.timestamp_ms() < *q.since_ms) return false;
    if (q.until_ms && e.timestamp_ms() > *q.until_ms) return false;
    return true;
  };
  if (q.limit == 0) return Status::Ok();
  uint64_t emitted = 0;
  uint64_t size = log_size();
  auto visit = [&](uint64_t index) -> Result<bool> {
    if (index >= size) return false;  // committed after the scan began
    FL_ASSIGN(Entry e, GetEntry(index));
    if (!matches(e)) return true;
    ++emitted;
    return fn(index, e) && emitted < q.limit;
  };

  // An index key names a height; its value the offsets of the block's matching entries.
  auto entries_of = [&](const leveldb::Slice& key, const leveldb::Slice& value,
                        std::vector<uint64_t>& out) -> Status {
    uint64_t height = ReadBE64(key.data() + key.size() - 8);
    FL_ASSIGN(BlockRecord rec, GetBlockRecord(height));
    auto offsets = keys::DecodeIndexValue(std::string_view(value.data(), value.size()),
                                          rec.header.entry_count);
    if (!offsets.ok()) {
      return Status::Corruption("index of block " + std::to_string(height) + ": " +
                                offsets.status().message());
    }
    for (uint32_t o : *offsets) out.push_back(rec.first_entry_index + o);
    return Status::Ok();
  };
  std::string prefix;
  if (q.task_id) {
    if (q.task_id->size() > 255) return Status::InvalidArgument("task id too long");
    prefix = keys::ByTask(*q.task_id, 0);
  } else if (q.signer) {
    // The signer index, in height order.
    FL_TRY(ForEachSignerBlock(*q.signer, 0, [&](const keys::SignerBlock& b) -> Result<bool> {
      FL_ASSIGN(BlockRecord rec, SignerBlockRecord(b));
      for (uint32_t o : b.offsets) {
        FL_ASSIGN(bool more, visit(rec.first_entry_index + o));
        if (!more) return false;
      }
      return true;
    }));
    return Status::Ok();
  } else if (q.kind) {
    prefix = keys::ByKind(*q.kind, 0);
  }
  std::unique_ptr<leveldb::Iterator> it(db_->NewIterator(Reads()));
  std::vector<uint64_t> indexes;
  if (!prefix.empty()) {
    // Keys in height order, so entries come out in log order.
    prefix.resize(prefix.size() - 8);
    for (it->Seek(prefix); it->Valid() && it->key().starts_with(prefix); it->Next()) {
      if (it->key().size() != prefix.size() + 8) continue;
      indexes.clear();
      FL_TRY(entries_of(it->key(), it->value(), indexes));
      for (uint64_t index : indexes) {
        FL_ASSIGN(bool more, visit(index));
        if (!more) return Status::Ok();
      }
    }
    return FromLevelDB(it->status(), "scanning index");
  }
  if (q.since_ms || q.until_ms) {
    // Minute buckets in [since, until]; visit() drops the bucket's entries outside the range.
    std::string start = keys::ByTime(q.since_ms.value_or(0), 0);
    for (it->Seek(start); it->Valid() && it->key().starts_with("Im"); it->Next()) {
      if (it->key().size() != 18) continue;
      if (q.until_ms && ReadBE64(it->key().data() + 2) > *q.until_ms / kTimeBucketMs) break;
      FL_TRY(entries_of(it->key(), it->value(), indexes));
    }
    FL_TRY(FromLevelDB(it->status(), "scanning time index"));
    std::sort(indexes.begin(), indexes.end());
    for (uint64_t index : indexes) {
      FL_ASSIGN(bool more, visit(index));
      if (!more) return Status::Ok();
    }
    return Status::Ok();
  }
  for (uint64_t index = 0; index < size; ++index) {
    FL_ASSIGN(bool more, visit(index));
    if (!more) break;
  }
  return Status::Ok();
}

Result<Hash32> Store::Node(NodeId id) const {
  std::string v;
  if (id.level == 0) {  // leaves are not stored twice: hash the entry
    leveldb::Status s = log_db_->Get(Reads(), keys::Entry(id.index), &v);
    if (s.IsNotFound()) {
      return Status::NotFound("Merkle leaf " + std::to_string(id.index) + ": no such entry");
    }
    FL_TRY(FromLevelDB(s, "reading entry " + std::to_string(id.index)));
    return MerkleLeafHash(ToView(v));
  }
  leveldb::Status s = log_db_->Get(Reads(), keys::Node(id), &v);
  if (s.IsNotFound()) {
    return Status::NotFound("Merkle node (" + std::to_string(id.level) + ", " +
                            std::to_string(id.index) + ") is not stored");
  }
  FL_TRY(FromLevelDB(s, "reading Merkle node"));
  if (v.size() != 32) return Status::Corruption("Merkle node is not 32 bytes");
  return Hash32::FromView(ToView(v));
}

Result<std::vector<Hash32>> Store::InclusionProof(uint64_t index, uint64_t tree_size) const {
  uint64_t size = log_size();
  if (tree_size == 0) tree_size = size;
  if (tree_size > size) {
    return Status::InvalidArgument("tree size " + std::to_string(tree_size) +
                                   " exceeds the log size " + std::to_string(size));
  }
  if (index >= tree_size) {
    return Status::InvalidArgument("entry " + std::to_string(index) + " is not in a tree of " +
                                   std::to_string(tree_size) + " entries");
  }
  return MerkleInclusionProof(*this, index, tree_size);
}

Result<std::vector<Hash32>> Store::ConsistencyProof(uint64_t old_size, uint64_t new_size) const {
  uint64_t size = log_size();
  if (old_size == 0 || old_size > new_size || new_size > size) {
    return Status::InvalidArgument("need 0 < from <= to <= log size " + std::to_string(size) +
                                   ", got from " + std::to_string(old_size) + " to " +
                                   std::to_string(new_size));
  }
  return MerkleConsistencyProof(*this, old_size, new_size);
}

Result<Hash32> Store::RootAt(uint64_t tree_size) const {
  if (tree_size > log_size()) {
    return Status::InvalidArgument("tree size " + std::to_string(tree_size) +
                                   " exceeds the log size");
  }
  return MerkleRoot(*this, tree_size);
}

}  // namespace fedledger
