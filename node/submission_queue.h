// Client submissions waiting for the consensus thread, and when they are handed to it.
//
// An idle node (empty mempool: no height is deciding work) hands an entry on at once.
// Otherwise the entry cannot be proposed before the current height ends anyway; it only has
// to reach the next proposer before it proposes. So submissions gather and leave in one
// ENTRY_BATCH right after this node's precommit (Node::Drive), or after a delay if no
// precommit comes first (a slow height, a node catching up). Draining every 2 ms
// instead cost a signed frame per peer and a wake-up each time.
//
// Timers are never cancelled, so each carries the generation it was set for and drains only
// that one: if a precommit drained the submissions first, a later submission has started a
// new generation with a timer of its own. (Stale timers used to drain whatever had arrived
// since, in the middle of the next height: two or three small ENTRY_BATCHes per height
// instead of one.)
//
// Thread-safe: Push from any thread; Take and TimerDue on the consensus thread; Close once.
#pragma once

#include <cstdint>
#include <mutex>
#include <optional>
#include <utility>
#include <vector>

namespace fedledger::node {

template <typename T>
class SubmissionQueue {
 public:
  enum class Wake {
    kClosed,  // Close() was called: the item comes back in `refused`; answer it yourself
    kNone,    // a drain is already arranged for the items waiting
    kNow,     // the node is idle: drain now
    kTimer,   // arm a timer that calls TimerDue(generation) and drains if it says so
  };
  struct Pushed {
    Wake wake = Wake::kNone;
    uint64_t generation = 0;  // for kTimer
    std::optional<T> refused;  // for kClosed
  };

  // Queues `item`. `mempool_empty`: the state machine holds no entries, so nothing is
  // deciding and an empty queue means the node is idle.
  Pushed Push(T item, bool mempool_empty) {
    std::lock_guard<std::mutex> lock(mu_);
    if (closed_) return {Wake::kClosed, 0, std::move(item)};
    // Items waiting means a drain is arranged for them (a post or a timer); the first item
    // after a drain arranges the next one.
    bool first = items_.empty();
    items_.push_back(std::move(item));
    if (!first) return {Wake::kNone, 0, std::nullopt};
    ++generation_;
    return {mempool_empty ? Wake::kNow : Wake::kTimer, generation_, std::nullopt};
  }

  // Everything waiting, oldest first. The next Push arranges a drain of its own.
  std::vector<T> Take() {
    std::lock_guard<std::mutex> lock(mu_);
    return std::exchange(items_, {});
  }

  // True if the timer set for `generation` should drain: nothing has been pushed since
  // another drain took that generation's items. (False means a newer timer is on its way, or
  // the queue is empty.)
  bool TimerDue(uint64_t generation) const {
    std::lock_guard<std::mutex> lock(mu_);
    return generation == generation_ && !items_.empty();
  }

  // Refuses every later Push and returns what was waiting.
  std::vector<T> Close() {
    std::lock_guard<std::mutex> lock(mu_);
    closed_ = true;
    return std::exchange(items_, {});
  }

 private:
  mutable std::mutex mu_;
  std::vector<T> items_;
  uint64_t generation_ = 0;  // one per drain arranged
  bool closed_ = false;
};

}  // namespace fedledger::node
