#include "net/process_metrics.h"

#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <memory>
#include <sstream>

namespace fedledger::net {

double ProcStatCpuSeconds(const std::string& stat_path) {
  std::ifstream in(stat_path);
  std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  size_t paren = stat.rfind(')');  // the command name may hold spaces and parentheses
  if (paren == std::string::npos || paren + 2 > stat.size()) return 0;
  std::istringstream rest(stat.substr(paren + 2));
  std::string field;
  double ticks = 0;
  for (int i = 3; i <= 15 && rest >> field; ++i) {
    if (i == 14 || i == 15) ticks += std::strtod(field.c_str(), nullptr);  // utime, stime
  }
  return ticks / static_cast<double>(::sysconf(_SC_CLK_TCK));
}

std::map<std::string, double> ThreadCpuSecondsByName(const std::string& pid) {
  std::map<std::string, double> out;
  std::error_code ec;
  for (const auto& task : std::filesystem::directory_iterator("/proc/" + pid + "/task", ec)) {
    std::ifstream comm(task.path() / "comm");
    std::string name;
    if (std::getline(comm, name)) out[name] += ProcStatCpuSeconds((task.path() / "stat").string());
  }
  return out;
}

std::map<std::string, double> ThreadRunqueueSecondsByName(const std::string& pid) {
  std::map<std::string, double> out;
  std::error_code ec;
  for (const auto& task : std::filesystem::directory_iterator("/proc/" + pid + "/task", ec)) {
    std::ifstream comm(task.path() / "comm");
    std::string name;
    if (!std::getline(comm, name)) continue;
    // "run_ns wait_ns timeslices"
    std::ifstream sched(task.path() / "schedstat");
    double run_ns = 0, wait_ns = 0;
    if (!(sched >> run_ns >> wait_ns)) wait_ns = 0;
    out[name] += wait_ns / 1e9;
  }
  return out;
}

void RegisterProcessCpuMetrics(MetricsRegistry& r, std::vector<std::string> threads) {
  // One /proc scan per scrape, shared by every series below (read under the registry's mutex).
  struct Snapshot {
    double process = 0;
    std::map<std::string, double> by_name;
    std::map<std::string, double> wait_by_name;
  };
  auto snap = std::make_shared<Snapshot>();
  r.AddRenderHook([snap] {
    snap->process = ProcStatCpuSeconds("/proc/self/stat");
    snap->by_name = ThreadCpuSecondsByName();
    snap->wait_by_name = ThreadRunqueueSecondsByName();
  });
  const char* help =
      "CPU time (user and system) by thread name; other: the rest of the process.";
  r.AddCounterFunction("process_cpu_seconds_total",
                       "Total user and system CPU time spent in seconds.",
                       [snap] { return snap->process; });
  for (const std::string& name : threads) {
    r.AddCounterFunction(
        "fedledger_thread_cpu_seconds_total", help,
        [snap, name] {
          auto it = snap->by_name.find(name);
          return it == snap->by_name.end() ? 0.0 : it->second;
        },
        {{"thread", name}});
  }
  r.AddCounterFunction(
      "fedledger_thread_cpu_seconds_total", help,
      [snap, threads] {
        double named = 0;
        for (const std::string& name : threads) {
          auto it = snap->by_name.find(name);
          if (it != snap->by_name.end()) named += it->second;
        }
        // The process total counts ended threads too, so this never falls.
        return std::max(0.0, snap->process - named);
      },
      {{"thread", "other"}});
  const char* wait_help =
      "Time threads of this name were ready to run but waited for a core (the kernel's "
      "schedstat; 0 where it is not kept).";
  for (const std::string& name : threads) {
    r.AddCounterFunction(
        "fedledger_thread_runqueue_wait_seconds_total", wait_help,
        [snap, name] {
          auto it = snap->wait_by_name.find(name);
          return it == snap->wait_by_name.end() ? 0.0 : it->second;
        },
        {{"thread", name}});
  }
}

}  // namespace fedledger::net
