#include "ledger/private_copy.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>

namespace fedledger {
namespace {

std::string Reason() { return std::strerror(errno); }

// The pid of the process holding LevelDB's lock on `dir` (PosixEnv takes an fcntl write
// lock on dir/LOCK while the database is open), -1 if the holder's pid is unknown, 0 if
// nobody holds it. F_GETLK on a read-only descriptor: asking writes nothing.
pid_t LockHolder(const std::string& dir) {
  int fd = ::open((dir + "/LOCK").c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return 0;
  struct flock fl = {};
  fl.l_type = F_WRLCK;
  fl.l_whence = SEEK_SET;
  pid_t holder = 0;
  if (::fcntl(fd, F_GETLK, &fl) == 0 && fl.l_type != F_UNLCK) holder = fl.l_pid > 0 ? fl.l_pid : -1;
  ::close(fd);
  return holder;
}

bool Skipped(const std::string& name) {
  return name == "." || name == ".." || name == "LOCK" || name == "LOG" || name == "LOG.old";
}

}  // namespace

Result<std::unique_ptr<PrivateCopy>> PrivateCopy::Make(const std::string& dir) {
  struct stat st;
  if (::stat((dir + "/CURRENT").c_str(), &st) != 0) {
    return Status::NotFound("no LevelDB database at " + dir + " (no CURRENT file)");
  }
  if (pid_t pid = LockHolder(dir); pid != 0) {
    return Status::FailedPrecondition(
        "the store at " + dir + " is open in " +
        (pid > 0 ? "process " + std::to_string(pid) : std::string("another process")) +
        " (a running node?): stop it first, or read a copy of the directory");
  }
  const char* tmp = std::getenv("TMPDIR");
  std::string templ = std::string(tmp && *tmp ? tmp : "/tmp") + "/fedledger-view-XXXXXX";
  if (::mkdtemp(templ.data()) == nullptr) {
    return Status::IOError("cannot create a temporary directory " + templ + ": " + Reason());
  }
  std::unique_ptr<PrivateCopy> copy(new PrivateCopy);
  copy->path_ = templ;  // from here on the destructor removes it, on every error too

  FL_TRY(copy->CopyTree(dir, copy->path_));
  return copy;
}

Status PrivateCopy::CopyTree(const std::string& from_dir, const std::string& to_dir) {
  DIR* d = ::opendir(from_dir.c_str());
  if (d == nullptr) return Status::IOError("cannot list " + from_dir + ": " + Reason());
  std::unique_ptr<DIR, int (*)(DIR*)> closer(d, ::closedir);
  while (const dirent* e = ::readdir(d)) {
    std::string name = e->d_name;
    if (Skipped(name)) continue;
    std::string from = from_dir + "/" + name;
    std::string to = to_dir + "/" + name;
    struct stat st;
    if (::stat(from.c_str(), &st) != 0) continue;
    if (S_ISDIR(st.st_mode)) {  // the store's log database (ledger/store.h)
      if (::mkdir(to.c_str(), 0700) != 0) return Status::IOError("cannot create " + to + ": " + Reason());
      FL_TRY(CopyTree(from, to));
      continue;
    }
    if (!S_ISREG(st.st_mode)) continue;
    if (::link(from.c_str(), to.c_str()) == 0) continue;
    // Another file system, read-only media, a file system without hard links: copy.
    std::error_code ec;
    std::filesystem::copy_file(from, to, ec);
    if (ec) return Status::IOError("cannot copy " + from + " to " + to + ": " + ec.message());
    ++copied_;
  }
  return Status::Ok();
}

std::string PrivateCopy::NameOriginal(std::string text, const std::string& copy_path,
                                      const std::string& original) {
  if (copy_path.empty() || copy_path == original) return text;
  for (size_t at; (at = text.find(copy_path)) != std::string::npos;) {
    text.replace(at, copy_path.size(), original);
  }
  return text;
}

PrivateCopy::~PrivateCopy() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

}  // namespace fedledger
