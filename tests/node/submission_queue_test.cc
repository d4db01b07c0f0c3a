#include "node/submission_queue.h"

#include <catch2/catch.hpp>

#include <string>
#include <vector>

using fedledger::node::SubmissionQueue;
using Queue = SubmissionQueue<std::string>;
using Wake = Queue::Wake;

TEST_CASE("submission queue: an idle node drains at once and a busy one arms one timer",
          "[node]") {
  Queue q;
  auto first = q.Push("a", /*mempool_empty=*/true);
  CHECK(first.wake == Wake::kNow);
  CHECK(q.Push("b", true).wake == Wake::kNone);  // the drain posted takes it too
  CHECK(q.Take() == std::vector<std::string>{"a", "b"});
  CHECK(q.Take().empty());

  auto busy = q.Push("c", /*mempool_empty=*/false);
  CHECK(busy.wake == Wake::kTimer);
  CHECK(busy.generation > first.generation);
  CHECK(q.Push("d", true).wake == Wake::kNone);  // not idle: "c" is waiting
  CHECK(q.TimerDue(busy.generation));
  CHECK(q.Take() == std::vector<std::string>{"c", "d"});
}

TEST_CASE("submission queue: a timer whose items a precommit drained does not drain later ones",
          "[node]") {
  Queue q;
  auto t1 = q.Push("x1", false);
  REQUIRE(t1.wake == Wake::kTimer);
  CHECK(q.Take() == std::vector<std::string>{"x1"});  // our precommit drained them
  CHECK_FALSE(q.TimerDue(t1.generation));             // nothing arrived since: no drain

  // The next height: a submission arms a timer of its own. The first timer fires while that
  // one is pending; the new submission must wait for the next precommit or its own timer,
  // not leave alone in the middle of the height.
  auto t2 = q.Push("y1", false);
  REQUIRE(t2.wake == Wake::kTimer);
  CHECK(q.Push("y2", false).wake == Wake::kNone);
  CHECK_FALSE(q.TimerDue(t1.generation));
  CHECK(q.TimerDue(t2.generation));
  CHECK(q.Take() == std::vector<std::string>{"y1", "y2"});
  CHECK_FALSE(q.TimerDue(t2.generation));
}

TEST_CASE("submission queue: once closed it hands back what waited and refuses the rest",
          "[node]") {
  Queue q;
  auto t = q.Push("p", false);
  CHECK(q.Close() == std::vector<std::string>{"p"});
  CHECK_FALSE(q.TimerDue(t.generation));
  auto late = q.Push("late", true);
  CHECK(late.wake == Wake::kClosed);
  REQUIRE(late.refused.has_value());
  CHECK(*late.refused == "late");
  CHECK(q.Take().empty());
}
