#include "net/peer_metrics.h"

namespace fedledger::net {

void RegisterPeerMetrics(MetricsRegistry& r, const PeerNetwork& n) {
  const PeerNetwork* net = &n;
  auto stat = [net](uint64_t PeerNetwork::Stats::*field) {
    return [net, field] { return static_cast<double>(net->stats().*field); };
  };
  using S = PeerNetwork::Stats;
  r.AddGaugeFunction("fedledger_peers_connected", "Validators with an authenticated link.",
                     [net] { return static_cast<double>(net->ConnectedPeerCount()); });
  r.AddCounterFunction("fedledger_peer_messages_sent_total", "Messages written to peers.",
                       stat(&S::messages_sent));
  r.AddCounterFunction("fedledger_peer_messages_received_total",
                       "Verified messages received from peers.", stat(&S::messages_received));
  r.AddCounterFunction("fedledger_peer_frames_sent_total",
                       "Frames written to peers (a frame carries one or more messages).",
                       stat(&S::frames_sent));
  r.AddCounterFunction("fedledger_peer_frames_received_total",
                       "Frames accepted from peers.", stat(&S::frames_received));
  r.AddCounterFunction("fedledger_peer_self_signed_frames_sent_total",
                       "Frames sent without a frame signature: only this node's own signed "
                       "votes and proposals.",
                       stat(&S::self_frames_sent));
  r.AddCounterFunction("fedledger_peer_self_signed_frames_received_total",
                       "Frames received without a frame signature, each message checked "
                       "against the sender's key.",
                       stat(&S::self_frames_received));
  r.AddCounterFunction("fedledger_peer_bytes_sent_total", "Payload bytes written to peers.",
                       stat(&S::bytes_sent));
  r.AddCounterFunction("fedledger_peer_bytes_received_total",
                       "Verified payload bytes received from peers.", stat(&S::bytes_received));
  const char* rejected_help = "Frames from peers dropped, by reason.";
  r.AddCounterFunction("fedledger_peer_messages_rejected_total", rejected_help,
                       stat(&S::rejected_bad_signature), {{"reason", "bad_signature"}});
  r.AddCounterFunction("fedledger_peer_messages_rejected_total", rejected_help,
                       stat(&S::rejected_replay), {{"reason", "replay"}});
  r.AddCounterFunction("fedledger_peer_messages_rejected_total", rejected_help,
                       stat(&S::rejected_malformed), {{"reason", "malformed"}});
  r.AddCounterFunction("fedledger_peer_queue_dropped_total",
                       "Messages refused because a peer's outbound queue was full.",
                       stat(&S::dropped_queue_full));
  const char* hs_help = "Link handshakes, by result.";
  r.AddCounterFunction("fedledger_peer_handshakes_total", hs_help, stat(&S::handshakes_ok),
                       {{"result", "ok"}});
  r.AddCounterFunction("fedledger_peer_handshakes_total", hs_help, stat(&S::handshakes_failed),
                       {{"result", "failed"}});
  r.AddCounterFunction("fedledger_peer_dial_attempts_total", "Outbound connection attempts.",
                       stat(&S::dial_attempts));
  r.AddCounterFunction("fedledger_peer_links_closed_total",
                       "Authenticated links that went down.", stat(&S::links_closed));
}

}  // namespace fedledger::net
