// PrivateCopy: a reader's own view of a LevelDB directory, so that reading leaves the
// directory exactly as it was (an auditor's evidence, a copy handed over by a partner).
//
// LevelDB has no read-only mode. Opening a database replays its write-ahead log into a new
// table, writes a new manifest, deletes the log and manifest it replaced and rotates its
// LOG, even when the caller only reads; on a directory without a database it creates one.
// So readers open a copy: a fresh temporary directory holding hard links to the directory's
// files, or byte copies where a link is impossible (another file system, read-only media).
// Links are safe because LevelDB never writes into a file that exists when it opens (it
// adds files and unlinks old ones, and here it unlinks only our links). LOCK and the LOG
// files are left out. Subdirectories (a ledger store's log database) are copied the same
// way, level by level. The temporary directory is removed with the object.
//
//   FL_ASSIGN(auto copy, PrivateCopy::Make(dir));
//   leveldb::DB::Open(opts, copy->path(), &db);   // db closes before `copy` is destroyed
#pragma once

#include <memory>
#include <string>

#include "ledger/status.h"

namespace fedledger {

class PrivateCopy {
 public:
  // NotFound if `dir` holds no LevelDB database (no CURRENT file); FailedPrecondition if a
  // process holds the database's lock (a running node: stop it first, or read a copy);
  // IOError if the copy cannot be made. Nothing is written under `dir` in any case.
  static Result<std::unique_ptr<PrivateCopy>> Make(const std::string& dir);
  ~PrivateCopy();
  PrivateCopy(const PrivateCopy&) = delete;
  PrivateCopy& operator=(const PrivateCopy&) = delete;

  // The temporary directory to open instead of the original.
  const std::string& path() const { return path_; }
  // Files that had to be copied because a hard link was impossible.
  size_t copied_files() const { return copied_; }
  // `text` (a LevelDB message naming files it opened) with every mention of the copy's
  // directory `copy_path` replaced by the `original` directory the caller asked for.
  static std::string NameOriginal(std::string text, const std::string& copy_path,
                                  const std::string& original);

 private:
  PrivateCopy() = default;
  // Links (or copies) the files of `from_dir` into `to_dir`, subdirectories included.
  Status CopyTree(const std::string& from_dir, const std::string& to_dir);
  std::string path_;
  size_t copied_ = 0;
};

}  // namespace fedledger
