// EventLoop: one thread that runs posted tasks and timers in order. The node drives the
// consensus state machine only from this thread (consensus/consensus.h: single-threaded).
//
// Tasks run in FIFO order; a timer's task is queued when its deadline passes (timers are
// never cancelled: consensus ignores stale ones). Clock: std::chrono::steady_clock.
//
// Thread-safety: Post/PostAfter/Stop are thread-safe and may be called from any thread,
// including from a task. Start() and Stop() from one controlling thread. Tasks posted after
// Stop() are dropped; Stop() waits for the running task to finish and joins the thread.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <queue>
#include <thread>
#include <vector>

namespace fedledger::node {

class EventLoop {
 public:
  using Task = std::function<void()>;
  using Clock = std::chrono::steady_clock;

  EventLoop() = default;
  ~EventLoop() { Stop(); }
  EventLoop(const EventLoop&) = delete;
  EventLoop& operator=(const EventLoop&) = delete;

  void Start();
  void Stop();
  void Post(Task t);
  // A timer that has come due runs behind every task posted before then: with a zero delay,
  // behind everything already waiting (Consensus relies on it, TimerRequest::propose).
  void PostAfter(std::chrono::milliseconds delay, Task t);
  // Tasks queued (not timers): for metrics and back-pressure.
  size_t QueueLength() const;
  // True when called from the loop's thread.
  bool InLoop() const { return std::this_thread::get_id() == thread_.get_id(); }

 private:
  struct Timer {
    Clock::time_point when;
    uint64_t seq;
    Task task;
    bool operator>(const Timer& o) const {
      return when != o.when ? when > o.when : seq > o.seq;
    }
  };
  void Run();

  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Task> tasks_;
  std::priority_queue<Timer, std::vector<Timer>, std::greater<Timer>> timers_;
  uint64_t seq_ = 0;
  bool stopping_ = false;
  bool started_ = false;
  std::thread thread_;
};

}  // namespace fedledger::node
