#include "node/event_loop.h"

#include "ledger/thread_name.h"

namespace fedledger::node {

void EventLoop::Start() {
  std::lock_guard<std::mutex> lock(mu_);
  if (started_) return;
  started_ = true;
  thread_ = std::thread([this] { Run(); });
  NameThread(thread_, "fl-consensus");
}

void EventLoop::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_) return;
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable() && !InLoop()) thread_.join();
  std::lock_guard<std::mutex> lock(mu_);
  tasks_.clear();
  while (!timers_.empty()) timers_.pop();
}

void EventLoop::Post(Task t) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_) return;
    tasks_.push_back(std::move(t));
  }
  cv_.notify_one();
}

void EventLoop::PostAfter(std::chrono::milliseconds delay, Task t) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_) return;
    timers_.push(Timer{Clock::now() + delay, seq_++, std::move(t)});
  }
  cv_.notify_one();
}

size_t EventLoop::QueueLength() const {
  std::lock_guard<std::mutex> lock(mu_);
  return tasks_.size();
}

void EventLoop::Run() {
  std::unique_lock<std::mutex> lock(mu_);
  for (;;) {
    if (stopping_) return;
    auto now = Clock::now();
    while (!timers_.empty() && timers_.top().when <= now) {
      tasks_.push_back(std::move(const_cast<Timer&>(timers_.top()).task));
      timers_.pop();
    }
    if (!tasks_.empty()) {
      Task t = std::move(tasks_.front());
      tasks_.pop_front();
      lock.unlock();
      t();
      lock.lock();
      continue;
    }
    if (timers_.empty()) {
      cv_.wait(lock);
    } else {
      cv_.wait_until(lock, timers_.top().when);
    }
  }
}

}  // namespace fedledger::node
