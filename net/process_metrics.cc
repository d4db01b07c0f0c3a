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

namespace {

// `value(task directory)` of every live thread of process `pid`, summed by thread name.
template <typename Fn>
std::map<std::string, double> SumByThreadName(const std::string& pid, Fn value) {
  std::map<std::string, double> out;
  std::error_code ec;
  for (const auto& task : std::filesystem::directory_iterator("/proc/" + pid + "/task", ec)) {
    std::ifstream comm(task.path() / "comm");
    std::string name;
    if (std::getline(comm, name)) out[name] += value(task.path());
  }
  return out;
}

}  // namespace

std::map<std::string, double> ThreadCpuSecondsByName(const std::string& pid) {
  return SumByThreadName(pid, [](const std::filesystem::path& task) {
    return ProcStatCpuSeconds((task / "stat").string());
  });
}

std::map<std::string, double> ThreadRunqueueSecondsByName(const std::string& pid) {
  return SumByThreadName(pid, [](const std::filesystem::path& task) {
    std::ifstream sched(task / "schedstat");  // "run_ns wait_ns timeslices"
    double run_ns = 0, wait_ns = 0;
    return sched >> run_ns >> wait_ns ? wait_ns / 1e9 : 0.0;
  });
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
  // One series per name in `threads`, read from the snapshot's map `field`.
  using ByName = std::map<std::string, double> Snapshot::*;
  auto per_name = [&](const char* metric, const char* help, ByName field) {
    for (const std::string& name : threads) {
      r.AddCounterFunction(
          metric, help,
          [snap, name, field] {
            auto it = ((*snap).*field).find(name);
            return it == ((*snap).*field).end() ? 0.0 : it->second;
          },
          {{"thread", name}});
    }
  };
  const char* help =
      "CPU time (user and system) by thread name; other: the rest of the process.";
  r.AddCounterFunction("process_cpu_seconds_total",
                       "Total user and system CPU time spent in seconds.",
                       [snap] { return snap->process; });
  per_name("fedledger_thread_cpu_seconds_total", help, &Snapshot::by_name);
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
  per_name("fedledger_thread_runqueue_wait_seconds_total",
           "Time threads of this name were ready to run but waited for a core (the kernel's "
           "schedstat; 0 where it is not kept).",
           &Snapshot::wait_by_name);
}

}  // namespace fedledger::net
