// ArtifactStore: the content-addressed files a node keeps for rounds (masked updates,
// aggregates, final models; docs/ORCHESTRATOR.md "Artifacts"). A file is named by the hex
// SHA-256 of its bytes, so `sha256sum DIR/<hash>` prints the hash the ledger records, and it
// is stored only if its bytes hash to the name it is stored under.
//
// Put writes to a temporary file, fsyncs it and renames it into place: a crash leaves the
// file whole or absent, never a prefix under the final name. Storing bytes that are already
// there is a no-op. A read from disk re-hashes what it reads, so a file damaged on disk is
// reported as Corruption rather than served.
//
// Round artifacts are tens of MB and each is read a few times within seconds of being stored
// (the aggregator sums the updates it received, serves the aggregate to every partner, and
// follows the global trunk itself), so the store keeps the most recently stored or read
// artifacts in memory, up to `cache_bytes`, as shared immutable buffers: those reads cost
// neither a file read nor a second SHA-256, and the buffers are shared, not copied. Bytes in
// the cache were hashed when they entered it. After its fsync a written file's pages are
// dropped from the page cache (POSIX_FADV_DONTNEED): the store's hot copy is the one in
// memory, and on a VM whose fresh pages are slow to fault in (this project's, see
// bench/RESULTS.md) recycling the same page-cache pages makes a 34 MB write ~5x cheaper.
//
// Thread-safety: every method may be called concurrently (distinct temporary names; rename
// is atomic; the cache has its own lock).
#pragma once

#include <cstdint>
#include <functional>
#include <list>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "ledger/bytes.h"
#include "ledger/status.h"

namespace fedledger::node {

struct ArtifactStoreOptions {
  uint64_t max_bytes = 1 << 20;  // larger artifacts are refused (ResourceExhausted)
  // Memory for recently used artifacts (0: every read goes to disk). An artifact larger
  // than this is never cached.
  uint64_t cache_bytes = uint64_t{256} << 20;
};

// Immutable artifact bytes, shared between the store's cache and its readers.
using ArtifactBytes = std::shared_ptr<const std::string>;

class ArtifactStore {
 public:
  // Creates `dir` (mode 0700) if needed.
  static Result<std::unique_ptr<ArtifactStore>> Open(const std::string& dir,
                                                     ArtifactStoreOptions options = {});

  // Stores `bytes` under `expected`. InvalidArgument if SHA-256(bytes) != expected (naming
  // both), ResourceExhausted above max_bytes, IOError if the disk refuses. Nothing is left
  // behind on failure.
  Status Put(const Hash32& expected, ArtifactBytes bytes);
  // Stores the node's own artifact and returns its hash (computed once, here).
  Result<Hash32> Add(ArtifactBytes bytes);
  // Stores bytes the caller has already checked to hash to `hash` (a copy of an artifact it
  // fetched and verified), without hashing them again.
  Status Keep(const Hash32& hash, ArtifactBytes bytes);
  // The artifact's bytes; NotFound if absent, Corruption if the file no longer hashes to
  // `hash`.
  Result<ArtifactBytes> Fetch(const Hash32& hash) const;
  bool Contains(const Hash32& hash) const;
  std::string PathOf(const Hash32& hash) const { return dir_ + "/" + hash.Hex(); }
  const ArtifactStoreOptions& options() const { return options_; }
  // Thread-safe. `fn` is called after every artifact newly stored (from the storing thread;
  // it must be quick: the round driver only wakes up).
  void AddListener(std::function<void(const Hash32&)> fn);

 private:
  ArtifactStore(std::string dir, ArtifactStoreOptions options)
      : dir_(std::move(dir)), options_(options) {}
  Status CheckSize(size_t size) const;
  // Writes the file (bytes already checked against `hash`).
  Status Write(const Hash32& hash, const std::string& bytes);
  void Remember(const Hash32& hash, ArtifactBytes bytes) const;
  ArtifactBytes Recall(const Hash32& hash) const;

  std::string dir_;
  ArtifactStoreOptions options_;

  mutable std::mutex cache_mu_;
  mutable std::list<std::pair<Hash32, ArtifactBytes>> lru_;  // most recent first
  mutable std::unordered_map<Hash32, std::list<std::pair<Hash32, ArtifactBytes>>::iterator,
                             Hash32Hasher>
      cache_;
  mutable uint64_t cached_bytes_ = 0;
  std::mutex listeners_mu_;
  std::vector<std::function<void(const Hash32&)>> listeners_;
  void Notify(const Hash32& hash);
};

}  // namespace fedledger::node
