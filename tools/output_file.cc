#include "tools/output_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <utility>
#include <vector>

namespace fedledger::cli {
namespace {

std::string DirOf(const std::string& path) {
  size_t slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

std::string BaseOf(const std::string& path) {
  size_t slash = path.rfind('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

Status Exists(const std::string& path) {
  return Status::AlreadyExists(path + " already exists (pass --force to replace it)");
}

Status SyncPath(const std::string& path, int flags, const std::string& what) {
  int fd = ::open(path.c_str(), flags | O_CLOEXEC);
  if (fd < 0) return Status::IOError("cannot open " + what + ": " + std::strerror(errno));
  int rc = ::fsync(fd);
  int err = errno;
  ::close(fd);
  if (rc != 0) return Status::IOError("cannot sync " + what + ": " + std::strerror(err));
  return Status::Ok();
}

}  // namespace

Status CheckOutputPath(const std::string& path, bool replace) {
  if (path.empty() || path.back() == '/') {
    return Status::InvalidArgument("'" + path + "' is not a file name");
  }
  struct stat st;
  if (::lstat(path.c_str(), &st) != 0) return Status::Ok();
  if (S_ISDIR(st.st_mode)) return Status::InvalidArgument(path + " is a directory, not a file");
  if (!replace) return Exists(path);
  return Status::Ok();
}

Result<OutputFile> OutputFile::Create(const std::string& path, bool replace) {
  FL_TRY(CheckOutputPath(path, replace));
  // ".tmp.XXXXXX.NAME": hidden, and ending as the name does, so a writer that picks its
  // format by extension (".csv.gz") picks the same one.
  const std::string suffix = "." + BaseOf(path);
  std::string tmpl = DirOf(path) + "/.tmp.XXXXXX" + suffix;
  std::vector<char> buf(tmpl.begin(), tmpl.end());
  buf.push_back('\0');
  int fd = ::mkostemps(buf.data(), static_cast<int>(suffix.size()), O_CLOEXEC);
  if (fd < 0) {
    return Status::IOError("cannot create a temporary file beside " + path + ": " +
                           std::strerror(errno));
  }
  // mkstemp makes 0600; what the user asked for is an ordinary file, as a shell would make.
  (void)::fchmod(fd, 0644);
  ::close(fd);
  return OutputFile(path, std::string(buf.data()), replace);
}

OutputFile::OutputFile(OutputFile&& other) noexcept
    : path_(std::move(other.path_)),
      temp_(std::exchange(other.temp_, std::string())),
      replace_(other.replace_) {}

OutputFile::~OutputFile() {
  if (!temp_.empty()) ::unlink(temp_.c_str());
}

Status OutputFile::Commit() {
  if (temp_.empty()) return Status::Internal("OutputFile::Commit: nothing to commit");
  FL_TRY(SyncPath(temp_, O_RDONLY, temp_));
  if (replace_) {
    if (::rename(temp_.c_str(), path_.c_str()) != 0) {
      return errno == EISDIR ? Status::InvalidArgument(path_ + " is a directory, not a file")
                             : Status::IOError("cannot rename " + temp_ + " to " + path_ + ": " +
                                               std::strerror(errno));
    }
  } else if (::renameat2(AT_FDCWD, temp_.c_str(), AT_FDCWD, path_.c_str(), RENAME_NOREPLACE) != 0) {
    if (errno == EEXIST) return Exists(path_);
    if (errno != EINVAL && errno != ENOSYS) {
      return Status::IOError("cannot rename " + temp_ + " to " + path_ + ": " + std::strerror(errno));
    }
    // A file system without RENAME_NOREPLACE: link() refuses an existing name as well.
    if (::link(temp_.c_str(), path_.c_str()) != 0) {
      if (errno == EEXIST) return Exists(path_);
      return Status::IOError("cannot create " + path_ + ": " + std::strerror(errno));
    }
    ::unlink(temp_.c_str());
  }
  temp_.clear();
  // The new name is durable once its directory is.
  return SyncPath(DirOf(path_), O_RDONLY | O_DIRECTORY, "the directory of " + path_);
}

CLI::Option* AddForceFlag(CLI::App* cmd, bool* force) {
  return cmd->add_flag("--force", *force,
                       "Replace the output file if it exists (it is written to a temporary file "
                       "and renamed into place either way)");
}

Status WriteOutputFile(const std::string& path, std::string_view text, bool replace) {
  FL_ASSIGN(OutputFile out, OutputFile::Create(path, replace));
  int fd = ::open(out.temp_path().c_str(), O_WRONLY | O_TRUNC | O_CLOEXEC);
  if (fd < 0) return Status::IOError("cannot write " + out.temp_path() + ": " + std::strerror(errno));
  size_t off = 0;
  while (off < text.size()) {
    ssize_t n = ::write(fd, text.data() + off, text.size() - off);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      int err = errno;
      ::close(fd);
      return Status::IOError("cannot write " + path + ": " + std::strerror(err));
    }
    off += static_cast<size_t>(n);
  }
  if (::close(fd) != 0) return Status::IOError("cannot write " + path + ": " + std::strerror(errno));
  return out.Commit();
}

}  // namespace fedledger::cli
