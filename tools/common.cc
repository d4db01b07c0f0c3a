#include "tools/common.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

namespace fedledger::cli {

namespace {
bool Exists(const std::string& p) {
  struct stat st;
  return ::stat(p.c_str(), &st) == 0;
}
}  // namespace

std::string LedgerPath(const std::string& data_dir) {
  if (!Exists(data_dir + "/ledger") && Exists(data_dir + "/CURRENT")) return data_dir;
  return data_dir + "/ledger";
}

std::unique_ptr<Store> OpenStore(const std::string& data_dir) {
  if (!Exists(data_dir)) throw Failure("data directory " + data_dir + " does not exist", 2);
  // Read-only: the directory is left exactly as it was (an auditor's evidence).
  return Unwrap(Store::OpenReadOnly(LedgerPath(data_dir)));
}

Progress::Progress(std::string label)
    : label_(std::move(label)), tty_(::isatty(STDERR_FILENO) == 1) {
  start_ = last_ = std::chrono::steady_clock::now();
}

Progress::~Progress() { Done(); }

void Progress::Update(uint64_t done, uint64_t total) {
  if (!tty_) return;
  auto now = std::chrono::steady_clock::now();
  if (now - start_ < std::chrono::seconds(1)) return;
  if (shown_ && now - last_ < std::chrono::milliseconds(100)) return;
  last_ = now;
  shown_ = true;
  double secs = std::chrono::duration<double>(now - start_).count();
  double rate = done / std::max(secs, 1e-9);
  if (total > 0) {
    double frac = std::min(1.0, static_cast<double>(done) / static_cast<double>(total));
    int width = 30, filled = static_cast<int>(frac * width);
    std::string bar(filled, '#');
    bar.resize(width, '.');
    double eta = rate > 0 ? (total - std::min(done, total)) / rate : 0;
    std::fprintf(stderr, "\r%s [%s] %5.1f%% %llu/%llu  %.0f/s  eta %.0fs ", label_.c_str(),
                 bar.c_str(), frac * 100, static_cast<unsigned long long>(done),
                 static_cast<unsigned long long>(total), rate, eta);
  } else {
    std::fprintf(stderr, "\r%s %llu  %.0f/s ", label_.c_str(),
                 static_cast<unsigned long long>(done), rate);
  }
  std::fflush(stderr);
}

void Progress::Done() {
  if (shown_) {
    std::fprintf(stderr, "\r\033[K");
    std::fflush(stderr);
    shown_ = false;
  }
}

void PrintJson(const nlohmann::json& j) { std::printf("%s\n", j.dump(2).c_str()); }

void RefuseDirectory(const std::string& path, const std::string& what) {
  struct stat st;
  if (::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) {
    throw Failure(path + " is a directory, not " + what, 2);
  }
}

std::string ReadInputFile(const std::string& path, const std::string& what) {
  RefuseDirectory(path, what);
  std::ifstream f(path, std::ios::binary);
  if (!f) throw Failure("cannot open " + path + ": " + std::strerror(errno), 2);
  std::stringstream ss;
  ss << f.rdbuf();
  if (f.bad()) throw Failure("cannot read " + path, 3);
  return ss.str();
}

std::string SelfExe() {
  char buf[4096];
  ssize_t n = ::readlink("/proc/self/exe", buf, sizeof(buf) - 1);
  if (n <= 0) throw Failure("cannot find the fedledger binary (/proc/self/exe)", 3);
  return std::string(buf, static_cast<size_t>(n));
}

}  // namespace fedledger::cli
