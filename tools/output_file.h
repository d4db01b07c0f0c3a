// OutputFile: a file a command writes at the user's request (`--out`, `--proof-out`).
//
// An existing file is never replaced unless the user asked for it (`--force`), and the file
// appears whole or not at all: the bytes go to a temporary file in the same directory,
// which Commit() fsyncs and renames onto the path. A run that fails (or throws) before
// Commit() leaves no file under the path and removes its temporary file.
//
//   FL_ASSIGN(OutputFile out, OutputFile::Create(path, force));  // before the work
//   std::ofstream f(out.temp_path());
//   ... write f ...; f.close();
//   FL_TRY(out.Commit());
//
// Messages (the same for every command):
//   "PATH already exists (pass --force to replace it)"           AlreadyExists -> exit 2
//   "PATH is a directory, not a file"                            InvalidArgument -> exit 2
//   "cannot create a temporary file beside PATH: <errno text>"   IOError -> exit 3
//
// Not thread-safe. Movable, not copyable.
#pragma once

#include <CLI/CLI.hpp>
#include <string>
#include <string_view>

#include "ledger/status.h"

namespace fedledger::cli {

class OutputFile {
 public:
  // Checks `path` and creates the temporary file (mode 0644). With replace=false an existing
  // `path` (of any kind, a dangling symlink too) is refused; a directory always is.
  static Result<OutputFile> Create(const std::string& path, bool replace);

  OutputFile(OutputFile&& other) noexcept;
  OutputFile& operator=(OutputFile&&) = delete;
  OutputFile(const OutputFile&) = delete;
  ~OutputFile();  // removes the temporary file unless committed

  const std::string& path() const { return path_; }
  // Where to write the contents, for writers that take a path or a stream:
  // "DIR/.tmp.XXXXXX.NAME", so it ends with the same extension as path().
  const std::string& temp_path() const { return temp_; }

  // Flushes the temporary file to disk and renames it onto path(); then fsyncs the
  // directory. Without `replace`, a file that appeared at path() since Create() is refused
  // (AlreadyExists) and left alone. REQUIRES: not committed yet; every stream on
  // temp_path() closed.
  Status Commit();

 private:
  OutputFile(std::string path, std::string temp, bool replace)
      : path_(std::move(path)), temp_(std::move(temp)), replace_(replace) {}
  std::string path_, temp_;
  bool replace_ = false;
};

// The message for an existing output file, for commands that check before any work.
Status CheckOutputPath(const std::string& path, bool replace);

// Create + write `text` + Commit.
Status WriteOutputFile(const std::string& path, std::string_view text, bool replace);

// The `--force` flag of every command with an output file, with one help text.
CLI::Option* AddForceFlag(CLI::App* cmd, bool* force);

}  // namespace fedledger::cli
