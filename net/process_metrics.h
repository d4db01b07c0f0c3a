// Publishes the process's CPU time into a MetricsRegistry, read from /proc at render time:
//   process_cpu_seconds_total                           counter (Prometheus' usual name)
//   fedledger_thread_cpu_seconds_total{thread="NAME"}   counter, one per name in `threads`
//   fedledger_thread_cpu_seconds_total{thread="other"}  the rest of the process, threads that
//                                                       have ended included
//   fedledger_thread_runqueue_wait_seconds_total{thread="NAME"}
//                                   counter: time those threads were ready to run but waited
//                                   for a core (/proc/.../schedstat; 0 where the kernel does
//                                   not keep it)
// A validator's threads carry names (fl-consensus, fl-peer, fl-http, ...; ledger/thread_name.h),
// so an operator sees which part of the node is busy: the rate of each series is the share of
// a core that thread family uses. The wait series tell when the machine is the limit: a
// consensus thread that waits for a core longer than it runs makes every height longer.
// Threads with the same name are summed. The listed threads must live as long as the
// process, or their series would fall when one ends.
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

// Seconds the live threads of process `pid` spent ready to run but waiting for a core (the
// second field of /proc/PID/task/TID/schedstat), summed by thread name; threads without a
// readable schedstat count 0.
std::map<std::string, double> ThreadRunqueueSecondsByName(const std::string& pid = "self");

}  // namespace fedledger::net
