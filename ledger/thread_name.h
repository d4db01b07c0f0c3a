// NameThread: gives a thread a name that `top -H`, `ps -L`, perf and
// /proc/PID/task/TID/comm show, so an operator can tell a validator's threads apart
// ("fl-consensus", "fl-peer", "fl-http", ...). Called by the thread's creator right after
// starting it, so the name is there as soon as the component's Start() returns.
#pragma once

#include <pthread.h>

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

}  // namespace fedledger
