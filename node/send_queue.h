// What one call into the consensus state machine sends, held until the call returns and then
// handed to the peer network in one SendAll (one frame per peer).
//
// Order matters for one case. A node drains waiting client submissions when it precommits
// (Node::Drive): while a height is deciding a new entry can only go into the next block, so it
// only has to reach the next proposer before this height commits. The ENTRY_BATCH therefore
// goes ahead of every vote queued with it: a peer handles a frame's messages in order, so it
// admits the entries before our precommit can complete the height at that peer, and the next
// proposer (whichever peer it is) holds them when it proposes.
#pragma once

#include <cstddef>
#include <utility>
#include <vector>

#include "net/peer_network.h"

namespace fedledger::node {

class SendQueue {
 public:
  enum class Kind { kEntryBatch, kOwnPrecommit, kOther };

  void Add(net::PeerNetwork::Outgoing m, Kind kind) {
    if (kind == Kind::kEntryBatch) {
      pending_.insert(pending_.begin() + static_cast<std::ptrdiff_t>(entry_batches_++),
                      std::move(m));
      return;
    }
    if (kind == Kind::kOwnPrecommit) precommit_queued_ = true;
    pending_.push_back(std::move(m));
  }
  // True when our own precommit is waiting here: the height is about to end.
  bool precommit_queued() const { return precommit_queued_; }
  bool empty() const { return pending_.empty(); }
  // Everything queued, entry batches first (in the order they came), then the rest.
  std::vector<net::PeerNetwork::Outgoing> Take() {
    precommit_queued_ = false;
    entry_batches_ = 0;
    return std::exchange(pending_, {});
  }

 private:
  std::vector<net::PeerNetwork::Outgoing> pending_;
  size_t entry_batches_ = 0;       // at the front of pending_
  bool precommit_queued_ = false;  // our precommit is in pending_
};

}  // namespace fedledger::node
