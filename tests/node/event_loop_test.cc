#include "node/event_loop.h"

#include <catch2/catch.hpp>

#include <future>
#include <mutex>
#include <string>
#include <vector>

using fedledger::node::EventLoop;

TEST_CASE("event loop: a zero-delay timer runs behind the tasks already waiting", "[node]") {
  EventLoop loop;
  std::mutex mu;
  std::vector<std::string> order;
  auto note = [&](std::string s) {
    std::lock_guard<std::mutex> lock(mu);
    order.push_back(std::move(s));
  };
  std::promise<void> done;
  // Three tasks wait before the loop starts, as peer messages queue up while the consensus
  // thread commits a block; the first sets the timer.
  loop.Post([&] {
    loop.PostAfter(std::chrono::milliseconds(0), [&] {
      note("timer");
      done.set_value();
    });
    note("first");
  });
  loop.Post([&] { note("second"); });
  loop.Post([&] { note("third"); });
  loop.Start();
  REQUIRE(done.get_future().wait_for(std::chrono::seconds(5)) == std::future_status::ready);
  loop.Stop();
  CHECK(order == std::vector<std::string>{"first", "second", "third", "timer"});
}
