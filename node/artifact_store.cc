#include "node/artifact_store.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

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

Status ArtifactStore::Put(const Hash32& expected, std::string_view bytes) {
  if (bytes.size() > options_.max_bytes) {
    return Status::ResourceExhausted("artifact of " + std::to_string(bytes.size()) +
                                     " bytes is over the limit of " +
                                     std::to_string(options_.max_bytes));
  }
  Hash32 actual = HashOf(bytes);
  if (actual != expected) {
    return Status::InvalidArgument("artifact bytes hash to " + actual.Hex() + ", not " +
                                   expected.Hex());
  }
  if (Contains(expected)) return Status::Ok();
  static std::atomic<uint64_t> counter{0};
  const std::string final_path = PathOf(expected);
  const std::string tmp = final_path + ".tmp-" + std::to_string(::getpid()) + "-" +
                          std::to_string(counter.fetch_add(1));
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) return Errno("cannot create " + tmp);
  size_t done = 0;
  while (done < bytes.size()) {
    ssize_t n = ::write(fd, bytes.data() + done, bytes.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      Status s = Errno("cannot write " + tmp);
      ::close(fd);
      ::unlink(tmp.c_str());
      return s;
    }
    done += static_cast<size_t>(n);
  }
  if (::fsync(fd) != 0) {
    Status s = Errno("cannot fsync " + tmp);
    ::close(fd);
    ::unlink(tmp.c_str());
    return s;
  }
  ::close(fd);
  if (::rename(tmp.c_str(), final_path.c_str()) != 0) {
    Status s = Errno("cannot rename " + tmp + " to " + final_path);
    ::unlink(tmp.c_str());
    return s;
  }
  return Status::Ok();
}

Result<std::string> ArtifactStore::Get(const Hash32& hash) const {
  std::ifstream f(PathOf(hash), std::ios::binary);
  if (!f) return Status::NotFound("no artifact " + hash.Hex());
  std::ostringstream ss;
  ss << f.rdbuf();
  if (f.bad()) return Status::IOError("cannot read artifact " + hash.Hex());
  std::string bytes = std::move(ss).str();
  if (HashOf(bytes) != hash) {
    return Status::Corruption("artifact file " + PathOf(hash) + " no longer hashes to its name");
  }
  return bytes;
}

}  // namespace fedledger::node
