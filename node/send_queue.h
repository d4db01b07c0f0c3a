// What one call into the consensus state machine sends, held until the call returns and then
// handed to the peer network in one SendAll (one frame per peer). The exception: a fresh
// proposal is handed on at once (Outbox::SendNow), before its proposer records its prevote.
//
// Order matters for one case: an ENTRY_BATCH queued in the same call as a proposal or votes.
// A submission that wakes an idle proposer (Node::DrainIncoming) is broadcast and proposed in
// one call; a peer handles a frame's messages in order, so the batch goes ahead of everything
// queued with it and the peer admits (and checks) the entries before it meets them in the
// block. The submissions drained at our precommit are not in that case: Node::Drive sends the
// precommit first and the batch in a frame of its own after it.
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
