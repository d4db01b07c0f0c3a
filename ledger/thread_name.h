// NameThread: gives a thread a name that `top -H`, `ps -L`, perf and
// /proc/PID/task/TID/comm show, so an operator can tell a validator's threads apart
// ("fl-consensus", "fl-peer", "fl-http", ...). Called by the thread's creator right after
// starting it, so the name is there as soon as the component's Start() returns.
//
// ScheduleAsBatch: the kernel's SCHED_BATCH policy for a thread whose work is throughput, not
// a height's critical path (io threads, the store's background writers). It keeps its fair
// share of the CPU (same weight as SCHED_OTHER) but does not preempt the running thread when
// it wakes up, so on a busy machine a request or a frame arriving does not push the consensus
// thread off its core in the middle of a height. At 4,400 entries/s on the 2-core benchmark
// machine that lowered p50 in 12 of 12 alternating pairs (bench/RESULTS.md, twenty-third
// session).
#pragma once

#include <pthread.h>
#include <sched.h>

#include <string>
#include <thread>

namespace fedledger {

// Linux keeps at most 15 characters; longer names are cut, not refused.
inline void NameThread(std::thread& t, const std::string& name) {
  pthread_setname_np(t.native_handle(), name.substr(0, 15).c_str());
}

// The calling thread, for threads a library starts (LevelDB's compaction thread).
inline void NameThisThread(const std::string& name) {
  pthread_setname_np(pthread_self(), name.substr(0, 15).c_str());
}

// Best effort: false if the kernel refused (the thread then keeps SCHED_OTHER, which is only
// slower on a saturated machine). Needs no privilege.
inline bool ScheduleAsBatch(std::thread& t) {
  sched_param p{};
  return pthread_setschedparam(t.native_handle(), SCHED_BATCH, &p) == 0;
}
inline bool ScheduleThisThreadAsBatch() {
  sched_param p{};
  return pthread_setschedparam(pthread_self(), SCHED_BATCH, &p) == 0;
}

}  // namespace fedledger
