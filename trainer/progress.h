// A one-line progress bar on stderr, drawn only when stderr is a terminal (isatty), so logs
// and pipes stay clean. Not thread-safe.
#pragma once

#include <string>

namespace fedledger::trainer {

class ProgressBar {
 public:
  explicit ProgressBar(std::string label);
  ~ProgressBar();  // clears the line
  void Update(size_t done, size_t total, const std::string& note = "");

 private:
  std::string label_;
  bool enabled_;
};

}  // namespace fedledger::trainer
