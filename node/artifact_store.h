// ArtifactStore: the content-addressed files a node keeps for rounds (masked updates,
// aggregates, final models; docs/ORCHESTRATOR.md "Artifacts"). A file is named by the hex
// SHA-256 of its bytes, so `sha256sum DIR/<hash>` prints the hash the ledger records, and it
// is stored only if its bytes hash to the name it is stored under.
//
// Put writes to a temporary file, fsyncs it and renames it into place: a crash leaves the
// file whole or absent, never a prefix under the final name. Storing bytes that are already
// there is a no-op. Get re-hashes what it reads, so a file damaged on disk is reported as
// Corruption rather than served.
//
// Thread-safety: Put, Get and Contains may be called concurrently (distinct temporary names;
// rename is atomic).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "ledger/bytes.h"
#include "ledger/status.h"

namespace fedledger::node {

struct ArtifactStoreOptions {
  uint64_t max_bytes = 1 << 20;  // larger artifacts are refused (ResourceExhausted)
};

class ArtifactStore {
 public:
  // Creates `dir` (mode 0700) if needed.
  static Result<std::unique_ptr<ArtifactStore>> Open(const std::string& dir,
                                                     ArtifactStoreOptions options = {});

  // Stores `bytes` under `expected`. InvalidArgument if SHA-256(bytes) != expected (naming
  // both), ResourceExhausted above max_bytes, IOError if the disk refuses. Nothing is left
  // behind on failure.
  Status Put(const Hash32& expected, std::string_view bytes);
  // The artifact's bytes; NotFound if absent, Corruption if they no longer hash to `hash`.
  Result<std::string> Get(const Hash32& hash) const;
  bool Contains(const Hash32& hash) const;
  std::string PathOf(const Hash32& hash) const { return dir_ + "/" + hash.Hex(); }
  const ArtifactStoreOptions& options() const { return options_; }

 private:
  ArtifactStore(std::string dir, ArtifactStoreOptions options)
      : dir_(std::move(dir)), options_(options) {}
  std::string dir_;
  ArtifactStoreOptions options_;
};

}  // namespace fedledger::node
