// Publishes a PeerNetwork's connection count and Stats into a MetricsRegistry, read at render
// time (no cost on the message path):
//   fedledger_peers_connected                      gauge
//   fedledger_peer_messages_sent_total             counter
//   fedledger_peer_messages_received_total         counter
//   fedledger_peer_bytes_sent_total / _received_total
//   fedledger_peer_messages_rejected_total{reason="bad_signature"|"replay"|"malformed"}
//   fedledger_peer_queue_dropped_total             counter
//   fedledger_peer_handshakes_total{result="ok"|"failed"}
//   fedledger_peer_dial_attempts_total             counter
//   fedledger_peer_links_closed_total              counter
// REQUIRES: `network` outlives every later registry.Render(); call once per registry.
#pragma once

#include "net/metrics.h"
#include "net/peer_network.h"

namespace fedledger::net {

void RegisterPeerMetrics(MetricsRegistry& registry, const PeerNetwork& network);

}  // namespace fedledger::net
