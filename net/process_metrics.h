// Publishes the process's CPU time into a MetricsRegistry, read from /proc at render time:
//   process_cpu_seconds_total                           counter (Prometheus' usual name)
//   fedledger_thread_cpu_seconds_total{thread="NAME"}   counter, one per name in `threads`
//   fedledger_thread_cpu_seconds_total{thread="other"}  the rest of the process, threads that
//                                                       have ended included
// A validator's threads carry names (fl-consensus, fl-peer, fl-http, ...; ledger/thread_name.h),
// so an operator sees which part of the node is busy: the rate of each series is the share of
// a core that thread family uses. Threads with the same name are summed. The listed threads
// must live as long as the process, or their series would fall when one ends.
// Call once per registry.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "net/metrics.h"

namespace fedledger::net {

void RegisterProcessCpuMetrics(MetricsRegistry& registry, std::vector<std::string> threads);

// utime + stime in seconds from a /proc/PID/stat or /proc/PID/task/TID/stat file (0 if it
// cannot be read). For a process it counts its ended threads too.
double ProcStatCpuSeconds(const std::string& stat_path);

// CPU seconds of the live threads of process `pid` ("self" for this one), summed by thread
// name; empty if /proc/PID/task cannot be read.
std::map<std::string, double> ThreadCpuSecondsByName(const std::string& pid = "self");

}  // namespace fedledger::net
