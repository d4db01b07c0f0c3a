// Helpers shared by the CLI commands: data-dir layout, progress bars, JSON output.
#pragma once

#include <chrono>
#include <cstdio>
#include <memory>
#include <string>

#include <nlohmann/json.hpp>

#include "ledger/store.h"
#include "tools/command.h"

namespace fedledger::cli {

// A node's data directory holds the LevelDB store in <dir>/ledger, keys in <dir>/keys and
// other node state beside them. Auditors may also point --data-dir at a copied LevelDB
// directory itself; both are accepted.
std::string LedgerPath(const std::string& data_dir);
// Opens the store read-only (Store::OpenReadOnly): the directory is left exactly as it was.
std::unique_ptr<Store> OpenStore(const std::string& data_dir);

// A progress bar on stderr, shown only when stderr is a terminal and the work has already
// taken more than a second. Cheap to call often.
class Progress {
 public:
  explicit Progress(std::string label);
  ~Progress();
  void Update(uint64_t done, uint64_t total);
  void Done();

 private:
  std::string label_;
  bool tty_;
  bool shown_ = false;
  std::chrono::steady_clock::time_point start_, last_;
};

void PrintJson(const nlohmann::json& j);

// Throws Failure(2) "PATH is a directory, not WHAT" if `path` is a directory (an ifstream
// opens one without complaint and fails on the first read). WHAT: "a proof file".
void RefuseDirectory(const std::string& path, const std::string& what);
// The whole of a file the user named; Failure(2) if it is missing or a directory, (3) if it
// cannot be read.
std::string ReadInputFile(const std::string& path, const std::string& what);

// The path of the running fedledger binary (/proc/self/exe).
std::string SelfExe();

}  // namespace fedledger::cli
