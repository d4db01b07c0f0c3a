#include "ledger/audit.h"

#include <leveldb/db.h>

#include <chrono>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>

#include "ledger/private_copy.h"
#include "ledger/store.h"

namespace fedledger {

namespace {

double Now() {
  using namespace std::chrono;
  return duration<double>(steady_clock::now().time_since_epoch()).count();
}

std::string At(uint64_t height) { return "block " + std::to_string(height); }
std::string At(uint64_t height, size_t pos, uint64_t index) {
  return "block " + std::to_string(height) + ", entry " + std::to_string(index) +
         " (position " + std::to_string(pos) + " in the block)";
}

struct SigJob {
  uint64_t index;
  uint64_t height;
  uint32_t pos;
  Hash32 digest;
  PubKey signer;
  Signature sig;
};

}  // namespace

// A fixed pool verifying batches of entry signatures; remembers the earliest failure.
struct ChainVerifier::Pool {
  explicit Pool(unsigned n) {
    for (unsigned i = 0; i < n; ++i) threads.emplace_back([this] { Run(); });
  }
  ~Pool() {
    {
      std::lock_guard l(mu);
      stop = true;
    }
    cv.notify_all();
    for (auto& t : threads) t.join();
  }
  void Submit(std::vector<SigJob> batch) {
    std::unique_lock l(mu);
    space.wait(l, [&] { return queue.size() < kMaxQueued; });
    queue.push_back(std::move(batch));
    ++outstanding;
    cv.notify_one();
  }
  void Wait() {
    std::unique_lock l(mu);
    done_cv.wait(l, [&] { return outstanding == 0; });
  }
  void Run() {
    for (;;) {
      std::vector<SigJob> batch;
      {
        std::unique_lock l(mu);
        cv.wait(l, [&] { return stop || !queue.empty(); });
        if (queue.empty()) return;
        batch = std::move(queue.front());
        queue.pop_front();
        space.notify_one();
      }
      uint64_t bad = UINT64_MAX;
      const SigJob* bad_job = nullptr;
      std::vector<SignatureCheck> checks;
      checks.reserve(batch.size());
      for (const SigJob& j : batch) checks.push_back(SignatureCheck{&j.signer, &j.digest, &j.sig});
      std::vector<bool> ok = VerifySignatures(checks);  // one batch, each alone if it fails
      for (size_t k = 0; k < batch.size(); ++k) {
        if (!ok[k] && batch[k].index < bad) {
          bad = batch[k].index;
          bad_job = &batch[k];
        }
      }
      std::lock_guard l(mu);
      verified += batch.size();
      if (bad_job && bad < first_bad) {
        first_bad = bad;
        first_bad_msg = At(bad_job->height, bad_job->pos, bad_job->index) +
                        ": entry signature does not verify";
      }
      if (--outstanding == 0) done_cv.notify_all();
    }
  }

  static constexpr size_t kMaxQueued = 64;
  std::mutex mu;
  std::condition_variable cv, space, done_cv;
  std::deque<std::vector<SigJob>> queue;
  std::vector<std::thread> threads;
  size_t outstanding = 0;
  bool stop = false;
  uint64_t verified = 0;
  uint64_t first_bad = UINT64_MAX;
  std::string first_bad_msg;
  std::vector<SigJob> pending;  // filled by the feeding thread only
};

ChainVerifier::ChainVerifier(const AuditOptions& options) : options_(options) {
  unsigned n = options.threads ? options.threads : std::max(1u, std::thread::hardware_concurrency());
  pool_ = std::make_unique<Pool>(n);
  start_ = Now();
}

ChainVerifier::~ChainVerifier() = default;

Status ChainVerifier::Fail(Status s) {
  failed_ = Status::Corruption(s.message());
  return failed_;
}

Status ChainVerifier::CheckEntry(const Entry& e, uint64_t height, size_t pos, uint64_t index) {
  if (e.chain_id() != summary_.chain_id) {
    return Status::Corruption(At(height, pos, index) + ": chain id '" + e.chain_id() +
                              "' is not '" + summary_.chain_id + "'");
  }
  if ((height == 0) != (e.kind() == EntryKind::kGenesis)) {
    return Status::Corruption(At(height, pos, index) +
                              ": GENESIS entries belong to block 0 and only there");
  }
  uint64_t& last = nonces_[e.signer()];
  if (e.nonce() <= last) {
    return Status::Corruption(At(height, pos, index) + ": nonce " + std::to_string(e.nonce()) +
                              " is not above the signer's previous nonce " +
                              std::to_string(last) + " (replayed or reordered entry)");
  }
  last = e.nonce();
  auto& signer_slot = signer_table_[e.signer()];
  if (!signer_slot) signer_slot = std::make_unique<PubKey>(e.signer());
  const std::string* task = nullptr;
  if (const std::string* t = TaskIdOf(e.payload())) {
    auto& slot = task_table_[*t];
    if (!slot) slot = std::make_unique<std::string>(*t);
    task = slot.get();
  }
  facts_.push_back({e.kind(), e.timestamp_ms(), signer_slot.get(), task});
  ++summary_.entries_by_signer[e.signer()];
  ++summary_.entries_by_kind[e.kind()];
  return Status::Ok();
}

Status ChainVerifier::AddBlock(const BlockHeader& header, const std::optional<Certificate>& cert,
                               const std::vector<ByteView>& entries,
                               const std::function<void(NodeId, const Hash32&)>& on_node) {
  if (!failed_.ok()) return failed_;
  const uint64_t height = header.height;
  const uint64_t expected_height = summary_.blocks;
  if (height != expected_height) {
    return Fail(Status::Corruption(At(expected_height) + ": found block " +
                                   std::to_string(height) + " instead (missing or reordered)"));
  }
  if (header.entry_count != entries.size()) {
    return Fail(Status::Corruption(At(height) + ": header says " +
                                   std::to_string(header.entry_count) + " entries, found " +
                                   std::to_string(entries.size())));
  }
  Hash32 hash = header.Hash();
  if (height == 0) {
    if (options_.expected_genesis && hash != *options_.expected_genesis) {
      return Fail(Status::Corruption("block 0: genesis hash " + hash.Hex() +
                                     " is not the expected " + options_.expected_genesis->Hex()));
    }
    if (cert) return Fail(Status::Corruption("block 0: the genesis block carries no certificate"));
    if (entries.size() != 1) {
      return Fail(Status::Corruption("block 0: must hold exactly one GENESIS entry"));
    }
    summary_.chain_id = header.chain_id;
    summary_.genesis_hash = hash;
    summary_.first_time_ms = header.time_ms;
  } else {
    if (header.chain_id != summary_.chain_id) {
      return Fail(Status::Corruption(At(height) + ": chain id '" + header.chain_id + "'"));
    }
    if (header.prev_hash != prev_hash_) {
      return Fail(Status::Corruption(At(height) + ": previous-block hash " +
                                     header.prev_hash.ShortHex() + " does not match block " +
                                     std::to_string(height - 1) + " (" + prev_hash_.ShortHex() +
                                     ")"));
    }
    if (header.time_ms < prev_.time_ms) {
      return Fail(Status::Corruption(At(height) + ": block time goes backwards"));
    }
    if (header.validator_set_hash != validators_.hash()) {
      return Fail(Status::Corruption(At(height) + ": unknown validator set hash"));
    }
    if (validators_.IndexOf(header.proposer) < 0) {
      return Fail(Status::Corruption(At(height) + ": proposer is not a validator"));
    }
    if (!cert) return Fail(Status::Corruption(At(height) + ": commit certificate is missing"));
    Status cs = cert->Verify(validators_, summary_.chain_id, height, hash);
    summary_.signatures_checked += cert->sigs.size();
    if (!cs.ok()) return Fail(Status::Corruption(At(height) + ": " + cs.message()));
  }

  uint64_t first_index = log_.size();
  for (size_t pos = 0; pos < entries.size(); ++pos) {
    uint64_t index = first_index + pos;
    auto decoded = Entry::Decode(entries[pos]);
    if (!decoded.ok()) {
      return Fail(Status::Corruption(At(height, pos, index) + ": " + decoded.status().message()));
    }
    const Entry& e = *decoded;
    Status s = CheckEntry(e, height, pos, index);
    if (!s.ok()) return Fail(s);
    if (height == 0) {
      auto genesis_block = MakeGenesisBlock(e);
      if (!genesis_block.ok() || !(genesis_block->header == header)) {
        return Fail(Status::Corruption(
            "block 0: header does not match its GENESIS entry (height, time, proposer, log, "
            "validator set)"));
      }
      const auto& g = *e.As<GenesisPayload>();
      validators_ = ValidatorSet(g.validators);
      summary_.validators = g.validators.size();
      summary_.partners = g.partners.size();
      summary_.genesis = g;
    }
    pool_->pending.push_back({index, height, static_cast<uint32_t>(pos), e.digest(), e.signer(),
                              e.signature()});
    if (pool_->pending.size() >= 1024) {
      pool_->Submit(std::move(pool_->pending));
      pool_->pending.clear();
    }
    log_.Append(e.leaf_hash(), on_node);
  }
  if (log_.size() != header.log_size) {
    return Fail(Status::Corruption(At(height) + ": header log size " +
                                   std::to_string(header.log_size) + " but the entries give " +
                                   std::to_string(log_.size())));
  }
  if (log_.Root() != header.log_root) {
    return Fail(Status::Corruption(At(height) + ": header log root " +
                                   header.log_root.ShortHex() +
                                   " does not match the Merkle root of the entries " +
                                   log_.Root().ShortHex()));
  }
  prev_ = header;
  prev_hash_ = hash;
  ++summary_.blocks;
  if (options_.progress) options_.progress(log_.size(), 0);
  return Status::Ok();
}

Status ChainVerifier::Finish(Status structural, uint64_t at_index) {
  if (!pool_->pending.empty()) {
    pool_->Submit(std::move(pool_->pending));
    pool_->pending.clear();
  }
  pool_->Wait();
  summary_.signatures_checked += pool_->verified;
  summary_.entries = log_.size();
  summary_.log_root = log_.Root();
  summary_.head_hash = prev_hash_;
  summary_.last_time_ms = prev_.time_ms;
  summary_.seconds = Now() - start_;
  // The earliest problem wins: a bad signature before the structural error point is reported
  // first, since everything after it is already suspect.
  Status first = !failed_.ok() ? failed_ : structural;
  uint64_t first_at = !failed_.ok() ? log_.size() : at_index;
  if (pool_->first_bad != UINT64_MAX && (first.ok() || pool_->first_bad <= first_at)) {
    return Status::Corruption(pool_->first_bad_msg);
  }
  if (!first.ok()) return Status::Corruption(first.message());
  if (summary_.blocks == 0) return Status::Corruption("the ledger holds no genesis block");
  return Status::Ok();
}

// ---- store audit ----

namespace {

// The auditor also asks LevelDB to check its block checksums, so damage below the
// record level is reported as such.
leveldb::ReadOptions AuditRead() {
  leveldb::ReadOptions ro;
  ro.verify_checksums = true;
  return ro;
}

ByteView ViewOf(const leveldb::Slice& s) {
  return ByteView(reinterpret_cast<const uint8_t*>(s.data()), s.size());
}
uint64_t BE64(const char* p) {
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v = v << 8 | static_cast<uint8_t>(p[i]);
  return v;
}
std::string Printable(const leveldb::Slice& key) {
  std::string out;
  for (size_t i = 0; i < key.size() && i < 48; ++i) {
    char c = key[i];
    if (c >= 0x21 && c < 0x7f) {
      out.push_back(c);
    } else {
      out += "\\x" + ToHex(ByteView(reinterpret_cast<const uint8_t*>(&c), 1));
    }
  }
  return out;
}

// Compares stored Merkle nodes with recomputed ones. In the log database a node sorts right
// after the entry that completes it, lowest level first: the order the verifier produces
// them in, so one sequential pass over the database (skipping the entries) meets each node
// where it is expected.
class NodeChecker {
 public:
  explicit NodeChecker(leveldb::DB* log_db) : db_(log_db) {}
  void Check(NodeId id, const Hash32& h) {
    if (!error_.ok()) return;
    std::string key = keys::Node(id);
    if (!it_) {
      it_.reset(db_->NewIterator(AuditRead()));
      it_->Seek(key);
    }
    while (it_->Valid() && !keys::IsNodeKey(it_->key().size()) && it_->key().compare(key) < 0) {
      it_->Next();
    }
    if (!it_->Valid() || it_->key() != leveldb::Slice(key)) {
      error_ = Status::Corruption("Merkle node (" + std::to_string(id.level) + ", " +
                                  std::to_string(id.index) + ") is missing or out of place");
      return;
    }
    if (it_->value().size() != 32 || Hash32::FromView(ViewOf(it_->value())) != h) {
      error_ = Status::Corruption("stored Merkle node (" + std::to_string(id.level) + ", " +
                                  std::to_string(id.index) + ") differs from the recomputed one");
      return;
    }
    ++checked_;
    it_->Next();
  }
  const Status& error() const { return error_; }
  uint64_t checked() const { return checked_; }

 private:
  leveldb::DB* db_;
  std::unique_ptr<leveldb::Iterator> it_;
  Status error_;
  uint64_t checked_ = 0;
};

// `block_first[h]` is block h's first global entry index; block_first.back() the log size.
// The log database holds the blocks up to `log_head` (the last commit record), the index
// database those up to `index_head` (<= log_head: its unsynced writes of the blocks after it
// were lost in a crash, and the next open of the store writes them again).
Status CheckIndexesAndRecords(leveldb::DB* db, leveldb::DB* log_db, const ChainVerifier& v,
                              uint32_t format, uint64_t index_head, uint64_t log_head, uint64_t node_count,
                              const std::vector<uint64_t>& block_first) {
  const auto& facts = v.facts();
  const uint64_t n = facts.size();
  const uint64_t indexed = block_first[index_head + 1];  // entries the index database lists
  // The signer index's chunks closed at the index head, and the entries they list (format 4:
  // a key per block and signer, every indexed entry).
  const uint64_t signer_chunks = (index_head + 1) / kSignerChunkHeights;
  const uint64_t signer_indexed =
      format == 4 ? indexed : block_first[signer_chunks * kSignerChunkHeights];
  uint64_t tasks_expected = 0;
  for (uint64_t i = 0; i < indexed; ++i) tasks_expected += facts[i].task_id != nullptr;
  uint64_t seen_signer = 0, seen_kind = 0, seen_task = 0, seen_time = 0;
  uint64_t seen_blocks = 0, seen_entries = 0, seen_nodes = 0, seen_commits = 0, seen_meta = 0;
  std::unique_ptr<leveldb::Iterator> it(db->NewIterator(AuditRead()));
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    leveldb::Slice k = it->key();
    auto bad = [&](const std::string& why) {
      return Status::Corruption("key '" + Printable(k) + "': " + why);
    };
    char p = k.empty() ? 0 : k[0];
    if (p == 'B' && k.size() == 9) {
      if (BE64(k.data() + 1) > index_head) return bad("block record above the head");
      ++seen_blocks;
    } else if (p == 'M') {
      if (k != leveldb::Slice("Mgenesis") && k != leveldb::Slice("Mhead") &&
          k != leveldb::Slice("Mformat")) {
        return bad("unknown meta record");
      }
      ++seen_meta;
    } else if (p == 'I' && k.size() == 42 && k[1] == 's' && format != 4) {
      // One key per (chunk, signer), written with the chunk's last block: every listed entry
      // must be the signer's, and the count below proves each entry of the written chunks is
      // listed once.
      const uint64_t chunk = BE64(k.data() + 34);
      if (chunk >= signer_chunks) return bad("signer index of a chunk not closed at the head");
      auto blocks = keys::DecodeSignerChunk(std::string_view(it->value().data(), it->value().size()), chunk);
      if (!blocks.ok()) return bad(blocks.status().message());
      const Hash32 signer = Hash32::FromView(ViewOf(k).subspan(2, 32));
      for (const keys::SignerBlock& b : *blocks) {
        const uint64_t first = block_first[b.height];
        Status offsets = keys::CheckOffsets(b.offsets, static_cast<uint32_t>(block_first[b.height + 1] - first));
        if (!offsets.ok()) return bad("block " + std::to_string(b.height) + ": " + offsets.message());
        for (uint32_t o : b.offsets) {
          if (*facts[first + o].signer != signer) {
            return bad("signer index disagrees with entry " + std::to_string(first + o));
          }
          ++seen_signer;
        }
      }
    } else if (p == 'I' && k.size() >= 2 && (k[1] != 's' || format == 4)) {
      // One key per (block, value); every listed entry must carry that value. Together with
      // the counts below (each entry has one kind and minute, and at most one task; in
      // format 4 one signer too), this proves each entry is listed exactly once in each
      // index it belongs to.
      char t = k[1];
      if (k.size() < 10) return bad("malformed index key");
      uint64_t height = BE64(k.data() + k.size() - 8);
      if (height > index_head) return bad("index names a block above the head");
      uint64_t first = block_first[height];
      auto offsets = keys::DecodeIndexValue(std::string_view(it->value().data(), it->value().size()),
                                            static_cast<uint32_t>(block_first[height + 1] - first));
      if (!offsets.ok()) return bad(offsets.status().message());
      for (uint32_t o : *offsets) {
        uint64_t index = first + o;
        const EntryFacts& f = facts[index];
        auto disagrees = [&](const char* which) {
          return bad(std::string(which) + " index disagrees with entry " + std::to_string(index));
        };
        if (t == 's' && k.size() == 42) {
          if (Hash32::FromView(ViewOf(k).subspan(2, 32)) != *f.signer) return disagrees("signer");
          ++seen_signer;
        } else if (t == 'k' && k.size() == 11) {
          if (static_cast<uint8_t>(k[2]) != static_cast<uint8_t>(f.kind)) return disagrees("kind");
          ++seen_kind;
        } else if (t == 't' && k.size() >= 12 && static_cast<uint8_t>(k[2]) + 11u == k.size()) {
          std::string task(k.data() + 3, static_cast<uint8_t>(k[2]));
          if (!f.task_id || *f.task_id != task) return disagrees("task");
          ++seen_task;
        } else if (t == 'm' && k.size() == 18) {
          if (BE64(k.data() + 2) != f.timestamp_ms / kTimeBucketMs) return disagrees("time");
          ++seen_time;
        } else {
          return bad("malformed index key");
        }
      }
    } else {
      return bad("not a fedledger key");
    }
  }
  if (!it->status().ok()) return Status::Corruption("reading store: " + it->status().ToString());
  std::unique_ptr<leveldb::Iterator> lit(log_db->NewIterator(AuditRead()));
  for (lit->SeekToFirst(); lit->Valid(); lit->Next()) {
    leveldb::Slice k = lit->key();
    auto bad = [&](const std::string& why) {
      return Status::Corruption("log database key '" + Printable(k) + "': " + why);
    };
    if (k.empty() || k[0] != 'E' ||
        !(keys::IsEntryKey(k.size()) || keys::IsNodeKey(k.size()) || keys::IsCommitKey(k.size()))) {
      return bad("not a fedledger log key");
    }
    uint64_t index = BE64(k.data() + 1);
    if (index >= n) return bad("past the last commit record's log size " + std::to_string(n));
    if (keys::IsEntryKey(k.size())) {
      ++seen_entries;
    } else if (keys::IsCommitKey(k.size())) {
      uint64_t height = BE64(k.data() + 10);
      if (static_cast<uint8_t>(k[9]) != 0xff || height > log_head ||
          block_first[height + 1] != index + 1) {
        return bad("not the commit record of a block of this chain");
      }
      ++seen_commits;
    } else {
      uint32_t level = static_cast<uint8_t>(k[9]);
      if (level == 0) return bad("leaf hashes are not stored (they are the entries' own)");
      if (level >= 64 || (index + 1) % (uint64_t{1} << level) != 0) {
        return bad("no Merkle node of level " + std::to_string(level) + " ends at leaf " +
                   std::to_string(index));
      }
      ++seen_nodes;
    }
  }
  if (!lit->status().ok()) {
    return Status::Corruption("reading the log database: " + lit->status().ToString());
  }
  auto count = [](const char* what, uint64_t seen, uint64_t want) {
    if (seen == want) return Status::Ok();
    return Status::Corruption(std::string(what) + ": found " + std::to_string(seen) +
                              ", expected " + std::to_string(want));
  };
  FL_TRY(count("block records", seen_blocks, index_head + 1));
  FL_TRY(count("commit records", seen_commits, log_head + 1));
  FL_TRY(count("entry records", seen_entries, n));
  FL_TRY(count("Merkle nodes", seen_nodes, node_count));
  FL_TRY(count("meta records", seen_meta, 3));
  FL_TRY(count("entries in the signer index", seen_signer, signer_indexed));
  FL_TRY(count("entries in the kind index", seen_kind, indexed));
  FL_TRY(count("entries in the task index", seen_task, tasks_expected));
  FL_TRY(count("entries in the time index", seen_time, indexed));
  return Status::Ok();
}

}  // namespace

Result<AuditSummary> AuditStore(const std::string& path, const AuditOptions& options) {
  double start = Now();
  leveldb::Options opts;
  opts.create_if_missing = false;
  opts.paranoid_checks = true;
  // The store is evidence: read a private copy of it, never the directory itself, which
  // LevelDB would rewrite on open (ledger/private_copy.h). A test's Env opens in place.
  std::unique_ptr<PrivateCopy> view;
  std::string db_path = path;
  if (options.env) {
    opts.env = options.env;
  } else {
    auto v = PrivateCopy::Make(path);
    if (!v.ok()) {
      if (v.status().code() == Status::Code::kNotFound) return Status::NotFound("no ledger store at " + path);
      return v.status();
    }
    view = std::move(v).value();
    db_path = view->path();
  }
  leveldb::DB* raw = nullptr;
  leveldb::Status s = leveldb::DB::Open(opts, db_path, &raw);
  if (!s.ok()) {
    if (s.IsInvalidArgument() || s.IsNotFound()) {
      return Status::NotFound("no ledger store at " + path);
    }
    std::string why = PrivateCopy::NameOriginal(s.ToString(), db_path, path);
    if (s.IsIOError()) return Status::IOError("cannot open store " + path + ": " + why);
    return Status::Corruption("cannot open store " + path + ": " + why);
  }
  // Declared after `view`: the database closes before its copy is removed.
  std::unique_ptr<leveldb::DB> db(raw);

  std::string v;
  uint64_t index_head = 0;  // the index database's; the log database's may be above it
  if (!db->Get(AuditRead(), keys::Meta("head"), &v).ok() || v.size() != 8) {
    return Status::Corruption("head record is missing or malformed");
  }
  {
    Reader r(AsView(v));
    index_head = r.U64("head").value();
  }
  uint32_t format = 0;
  if (!db->Get(AuditRead(), keys::Meta("format"), &v).ok()) {
    return Status::Corruption(
        "format record is missing: a store in format 1 (written before 2026-12-04), which this "
        "build does not read, or not a fedledger store");
  }
  {
    Reader r(AsView(v));
    auto f = r.U32("format");
    if (!f.ok() || !r.done()) return Status::Corruption("format record is not a u32");
    format = *f;
    if (*f != kStoreFormat && *f != 4) {
      return Status::Corruption(
          "store format " + std::to_string(*f) + "; this build audits formats 4 and " +
          std::to_string(kStoreFormat) +
          (*f == 2   ? " (format 2, one LevelDB database, was written before 2026-12-06: audit it "
                       "with a build from before then)"
           : *f == 3 ? " (format 3, without commit records in the log database, was written "
                       "before 2026-12-07: audit it with a build from before then)"
                     : ""));
    }
  }
  std::unique_ptr<leveldb::DB> log_db;
  {
    const std::string log_path = db_path + "/" + kLogDbDir;
    leveldb::DB* raw_log = nullptr;
    leveldb::Status ls = leveldb::DB::Open(opts, log_path, &raw_log);
    if (!ls.ok()) {
      std::string why = PrivateCopy::NameOriginal(
          ls.IsInvalidArgument() ? "it is missing" : ls.ToString(), db_path, path);
      return Status::Corruption("cannot open the log database (entries and Merkle nodes) " +
                                path + "/" + kLogDbDir + ": " + why);
    }
    log_db.reset(raw_log);
  }
  std::optional<Hash32> recorded_genesis;
  if (db->Get(AuditRead(), keys::Meta("genesis"), &v).ok() && v.size() == 32) {
    recorded_genesis = Hash32::FromView(AsView(v));
  } else {
    return Status::Corruption("genesis record is missing or malformed");
  }
  uint64_t expected_total = 0;
  if (db->Get(AuditRead(), keys::Block(index_head), &v).ok() && v.size() > 9) {
    Reader r(AsView(v));
    (void)r.U64("first");
    auto hb = r.VarBytes("header", 4096);
    if (hb.ok()) {
      auto h = BlockHeader::Decode(*hb);
      if (h.ok()) expected_total = h->log_size;
    }
  }
  AuditOptions o = options;
  if (o.progress) {
    auto user = o.progress;
    o.progress = [user, expected_total](uint64_t done, uint64_t) { user(done, expected_total); };
  }
  ChainVerifier verifier(o);
  NodeChecker nodes(log_db.get());
  auto on_node = [&](NodeId id, const Hash32& h) {
    if (id.level > 0) nodes.Check(id, h);  // leaves are the entries' own hashes
  };
  std::vector<uint64_t> block_first;

  // One pass over the log database, block by block: its entries (the Merkle nodes between
  // them are NodeChecker's), then its commit record. The index database's block records
  // must repeat the commit records byte for byte, up to its head.
  std::unique_ptr<leveldb::Iterator> log(log_db->NewIterator(AuditRead()));
  std::unique_ptr<leveldb::Iterator> blocks(db->NewIterator(AuditRead()));
  log->SeekToFirst();
  blocks->Seek(keys::Block(0));
  uint64_t next_index = 0, log_head = 0;
  Status structural;
  uint64_t structural_at = UINT64_MAX;
  auto fail = [&](std::string why, uint64_t at) {
    structural = Status::Corruption(std::move(why));
    structural_at = at;
  };
  std::vector<std::string> entry_bytes;
  std::vector<ByteView> views;
  for (uint64_t h = 0;; ++h) {
    entry_bytes.clear();
    views.clear();
    for (; log->Valid() && !keys::IsCommitKey(log->key().size()); log->Next()) {
      if (!keys::IsEntryKey(log->key().size())) continue;  // a node, or a stray key (see below)
      const uint64_t index = next_index + entry_bytes.size();
      if (log->key() != leveldb::Slice(keys::Entry(index))) {
        fail(At(h, entry_bytes.size(), index) + ": entry record is missing", index);
        break;
      }
      entry_bytes.emplace_back(log->value().ToString());
    }
    if (!structural.ok()) break;
    if (!log->Valid()) {
      if (!log->status().ok()) {
        fail(At(h) + ": the log database is unreadable (" + log->status().ToString() + ")",
             next_index);
      } else if (h == 0) {
        fail(At(0) + ": commit record is missing", 0);
      } else if (!entry_bytes.empty()) {
        fail("entry " + std::to_string(next_index) + " lies past the last commit record (block " +
                 std::to_string(h - 1) + "'s)",
             next_index);
      }
      break;  // the end of the log: block h - 1 is its head
    }
    const leveldb::Slice ckey = log->key();
    Reader r(ViewOf(log->value()));
    auto first = r.U64("first_entry_index");
    auto hb = r.VarBytes("header", 4096);
    auto cb = hb.ok() ? r.VarBytes("certificate", 1 << 16) : Result<ByteView>(hb.status());
    if (!first.ok() || !hb.ok() || !cb.ok() || !r.done()) {
      fail(At(h) + ": commit record is malformed", next_index);
      break;
    }
    auto header = BlockHeader::Decode(*hb);
    if (!header.ok()) {
      fail(At(h) + ": " + header.status().message(), next_index);
      break;
    }
    if (header->entry_count > entry_bytes.size()) {
      const uint64_t index = next_index + entry_bytes.size();
      fail(At(h, entry_bytes.size(), index) + ": entry record is missing", index);
      break;
    }
    if (ckey != leveldb::Slice(keys::Commit(next_index + entry_bytes.size(), h)) ||
        header->entry_count != entry_bytes.size()) {
      fail(At(h) + ": commit record is out of place (key '" + Printable(ckey) + "')", next_index);
      break;
    }
    std::optional<Certificate> cert;
    if (!cb->empty()) {
      auto c = Certificate::Decode(*cb);
      if (!c.ok()) {
        fail(At(h) + ": " + c.status().message(), next_index);
        break;
      }
      cert = std::move(c).value();
    }
    if (*first != next_index) {
      fail(At(h) + ": block record says its entries start at " + std::to_string(*first) +
               ", expected " + std::to_string(next_index),
           next_index);
      break;
    }
    if (h <= index_head) {
      if (!blocks->Valid() || blocks->key() != leveldb::Slice(keys::Block(h))) {
        fail(At(h) + (blocks->status().ok() ? ": block record is missing"
                                            : ": block record is unreadable (" +
                                                  blocks->status().ToString() + ")"),
             next_index);
        break;
      }
      if (blocks->value() != log->value()) {
        fail(At(h) + ": the block record differs from the commit record in the log database",
             next_index);
        break;
      }
      blocks->Next();
    }
    block_first.push_back(next_index);
    for (const std::string& e : entry_bytes) views.push_back(AsView(e));
    Status bs = verifier.AddBlock(*header, cert, views, on_node);
    if (!bs.ok()) break;
    if (!nodes.error().ok()) {
      fail(At(h) + ": " + nodes.error().message(), next_index + header->entry_count);
      break;
    }
    next_index += header->entry_count;
    log_head = h;
    log->Next();
  }
  Status result = verifier.Finish(structural, structural_at);
  if (!result.ok()) return result;
  if (verifier.summary().genesis_hash != *recorded_genesis) {
    return Status::Corruption("the genesis record does not match block 0");
  }
  if (index_head > log_head) {
    return Status::Corruption("the index database's head, block " + std::to_string(index_head) +
                              ", is past the log database's last commit record, block " +
                              std::to_string(log_head));
  }
  // Expected stored perfect nodes: sum over levels >= 1 of floor(n / 2^level).
  uint64_t n = verifier.log_size(), node_count = 0;
  for (uint64_t w = n >> 1; w > 0; w >>= 1) node_count += w;
  block_first.push_back(n);
  if (nodes.checked() != node_count) {
    return Status::Corruption("Merkle nodes: recomputed " + std::to_string(node_count) +
                              ", matched " + std::to_string(nodes.checked()));
  }
  FL_TRY(CheckIndexesAndRecords(db.get(), log_db.get(), verifier, format, index_head, log_head,
                                node_count, block_first));
  AuditSummary summary = verifier.summary();
  summary.index_behind = log_head - index_head;
  summary.seconds = Now() - start;
  return summary;
}

}  // namespace fedledger
