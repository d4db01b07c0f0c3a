// The scheduling policies a process's threads run with, by thread name: what tests read to
// check which threads run as batch work (ledger/thread_name.h).
#pragma once

#include <sched.h>
#include <sys/types.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <string>
#include <system_error>

namespace fedledger::testing {

// Thread name -> the policies (SCHED_OTHER, SCHED_BATCH, ...) of the threads with that name in
// process `pid` (this process by default). A thread that ends while it is read is skipped.
inline std::map<std::string, std::set<int>> ThreadPolicies(pid_t pid = ::getpid()) {
  std::map<std::string, std::set<int>> policies;
  std::error_code ec;
  for (const auto& task :
       std::filesystem::directory_iterator("/proc/" + std::to_string(pid) + "/task", ec)) {
    std::ifstream comm(task.path() / "comm");
    std::string name;
    if (!std::getline(comm, name)) continue;
    int policy = sched_getscheduler(std::stoi(task.path().filename().string()));
    if (policy >= 0) policies[name].insert(policy);
  }
  return policies;
}

}  // namespace fedledger::testing
