#include "node/send_queue.h"

#include <catch2/catch.hpp>

#include <string>

using fedledger::Bytes;
using fedledger::net::PeerNetwork;
using fedledger::node::SendQueue;
using Kind = SendQueue::Kind;

namespace {
PeerNetwork::Outgoing Msg(const std::string& s, bool self_signed = false) {
  return {std::nullopt, Bytes(s.begin(), s.end()), self_signed};
}
std::string Text(const PeerNetwork::Outgoing& m) { return std::string(m.payload.begin(), m.payload.end()); }
}  // namespace

TEST_CASE("send queue: entry batches go ahead of the votes they leave with, in their own order",
          "[node]") {
  SendQueue q;
  CHECK(q.empty());
  q.Add(Msg("proposal", true), Kind::kOther);
  q.Add(Msg("prevote", true), Kind::kOther);
  CHECK_FALSE(q.precommit_queued());
  q.Add(Msg("precommit", true), Kind::kOwnPrecommit);
  CHECK(q.precommit_queued());
  // Entry batches queued in the same call (an idle proposer woken by submissions).
  q.Add(Msg("entries-1"), Kind::kEntryBatch);
  q.Add(Msg("sync-reply"), Kind::kOther);
  q.Add(Msg("entries-2"), Kind::kEntryBatch);
  auto out = q.Take();
  REQUIRE(out.size() == 6);
  std::vector<std::string> order;
  for (const auto& m : out) order.push_back(Text(m));
  CHECK(order == std::vector<std::string>{"entries-1", "entries-2", "proposal", "prevote",
                                          "precommit", "sync-reply"});
  CHECK(out[2].self_signed);
  CHECK_FALSE(out[0].self_signed);
  // Taking resets it: the next call into the state machine starts a new frame.
  CHECK(q.empty());
  CHECK_FALSE(q.precommit_queued());
  q.Add(Msg("prevote", true), Kind::kOther);
  q.Add(Msg("entries-3"), Kind::kEntryBatch);
  out = q.Take();
  REQUIRE(out.size() == 2);
  CHECK(Text(out[0]) == "entries-3");
  CHECK(Text(out[1]) == "prevote");
}
