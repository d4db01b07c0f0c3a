#include "node/artifact_store.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>

#include "ledger/crypto.h"

namespace fedledger::node {
namespace {

Hash32 HashOf(std::string_view bytes) {
  return Sha256(ByteView(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size()));
}

Status Errno(const std::string& what) {
  return Status::IOError(what + ": " + std::strerror(errno));
}

}  // namespace

Result<std::unique_ptr<ArtifactStore>> ArtifactStore::Open(const std::string& dir,
                                                           ArtifactStoreOptions options) {
  if (::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST) {
    return Errno("cannot create artifact directory " + dir);
  }
  return std::unique_ptr<ArtifactStore>(new ArtifactStore(dir, options));
}

bool ArtifactStore::Contains(const Hash32& hash) const {
  struct stat st;
  return ::stat(PathOf(hash).c_str(), &st) == 0;
}

Status ArtifactStore::CheckSize(size_t size) const {
  if (size <= options_.max_bytes) return Status::Ok();
  return Status::ResourceExhausted("artifact of " + std::to_string(size) +
                                   " bytes is over the limit of " +
                                   std::to_string(options_.max_bytes));
}

Status ArtifactStore::Put(const Hash32& expected, ArtifactBytes bytes) {
  FL_TRY(CheckSize(bytes->size()));
  Hash32 actual = HashOf(*bytes);
  if (actual != expected) {
    return Status::InvalidArgument("artifact bytes hash to " + actual.Hex() + ", not " +
                                   expected.Hex());
  }
  return Keep(expected, std::move(bytes));
}

Result<Hash32> ArtifactStore::Add(ArtifactBytes bytes) {
  FL_TRY(CheckSize(bytes->size()));
  Hash32 hash = HashOf(*bytes);
  FL_TRY(Keep(hash, std::move(bytes)));
  return hash;
}

Status ArtifactStore::Keep(const Hash32& hash, ArtifactBytes bytes) {
  FL_TRY(CheckSize(bytes->size()));
  FL_TRY(Write(hash, *bytes));
  Remember(hash, std::move(bytes));
  Notify(hash);
  return Status::Ok();
}

Status ArtifactStore::Write(const Hash32& hash, const std::string& bytes) {
  if (Contains(hash)) return Status::Ok();
  static std::atomic<uint64_t> counter{0};
  const std::string final_path = PathOf(hash);
  const std::string tmp = final_path + ".tmp-" + std::to_string(::getpid()) + "-" +
                          std::to_string(counter.fetch_add(1));
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) return Errno("cannot create " + tmp);
  auto fail = [&](const std::string& what) {
    Status s = Errno(what);
    ::close(fd);
    ::unlink(tmp.c_str());
    return s;
  };
  size_t done = 0;
  while (done < bytes.size()) {
    ssize_t n = ::write(fd, bytes.data() + done, bytes.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return fail("cannot write " + tmp);
    done += static_cast<size_t>(n);
  }
  if (::fsync(fd) != 0) return fail("cannot fsync " + tmp);
  // The pages are clean now; give them back so that the next write reuses them.
  (void)::posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
  ::close(fd);
  if (::rename(tmp.c_str(), final_path.c_str()) != 0) {
    Status s = Errno("cannot rename " + tmp + " to " + final_path);
    ::unlink(tmp.c_str());
    return s;
  }
  return Status::Ok();
}

Result<ArtifactBytes> ArtifactStore::Fetch(const Hash32& hash) const {
  if (ArtifactBytes hit = Recall(hash)) return hit;
  const std::string path = PathOf(hash);
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) return Status::NotFound("no artifact " + hash.Hex());
    return Errno("cannot open artifact " + hash.Hex());
  }
  struct stat st;
  if (::fstat(fd, &st) != 0) {
    Status s = Errno("cannot stat artifact " + hash.Hex());
    ::close(fd);
    return s;
  }
  auto bytes = std::make_shared<std::string>(static_cast<size_t>(st.st_size), '\0');
  size_t got = 0;
  while (got < bytes->size()) {
    ssize_t n = ::read(fd, bytes->data() + got, bytes->size() - got);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      Status s = Errno("cannot read artifact " + hash.Hex());
      ::close(fd);
      return s;
    }
    if (n == 0) break;  // shrank under us: the hash check below reports it
    got += static_cast<size_t>(n);
  }
  (void)::posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
  ::close(fd);
  bytes->resize(got);
  if (HashOf(*bytes) != hash) {
    return Status::Corruption("artifact file " + path + " no longer hashes to its name");
  }
  ArtifactBytes out = std::move(bytes);
  Remember(hash, out);
  return out;
}

void ArtifactStore::AddListener(std::function<void(const Hash32&)> fn) {
  std::lock_guard<std::mutex> lock(listeners_mu_);
  listeners_.push_back(std::move(fn));
}

void ArtifactStore::Notify(const Hash32& hash) {
  std::lock_guard<std::mutex> lock(listeners_mu_);
  for (const auto& fn : listeners_) fn(hash);
}

void ArtifactStore::Remember(const Hash32& hash, ArtifactBytes bytes) const {
  if (bytes->size() > options_.cache_bytes) return;
  std::lock_guard<std::mutex> lock(cache_mu_);
  auto it = cache_.find(hash);
  if (it != cache_.end()) {
    lru_.splice(lru_.begin(), lru_, it->second);
    return;
  }
  cached_bytes_ += bytes->size();
  lru_.emplace_front(hash, std::move(bytes));
  cache_[hash] = lru_.begin();
  while (cached_bytes_ > options_.cache_bytes) {
    cached_bytes_ -= lru_.back().second->size();
    cache_.erase(lru_.back().first);
    lru_.pop_back();
  }
}

ArtifactBytes ArtifactStore::Recall(const Hash32& hash) const {
  std::lock_guard<std::mutex> lock(cache_mu_);
  auto it = cache_.find(hash);
  if (it == cache_.end()) return nullptr;
  lru_.splice(lru_.begin(), lru_, it->second);
  return it->second->second;
}

}  // namespace fedledger::node
