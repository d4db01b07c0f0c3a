// PeerNetwork: authenticated WebSocket links between validators (Boost.Beast), carrying
// opaque byte payloads for the consensus layer. Beast-free header (pimpl).
//
// Links. One link per pair of validators: the validator with the smaller node key (byte-wise
// comparison of the 32-byte x-only keys) dials, the larger one only accepts, and an acceptor
// refuses a HELLO from a larger key. An acceptor that authenticates a new link from a peer
// that already has one closes the old link (newest wins: the dialer only dials again when its
// old link is dead). The wire format and the handshake are in net/peer_wire.h and
// docs/NETWORK.md: each side proves its node key by signing a tags::kPeerHandshake digest over
// the chain id, both keys and both fresh nonces; a key not in `peers`, a wrong chain id, a
// wrong dial direction or a bad signature closes the link with a logged reason (also sent to
// the other side as the WebSocket close reason).
//
// Messages. Every payload travels in a signed frame: alone in a DATA frame signed by the
// sender's node key (tags::kPeerMessage over chain id, sender, receiver, link id, per-link
// sequence number and SHA-256 of the payload), or, when several messages wait in the peer's
// queue as the link becomes free to write, together in one BATCH frame with one signature
// over all of them (tags::kPeerBatch, same fields, SHA-256 of the batch body). On receipt a frame
// whose signature fails, whose sequence number is not above the last accepted one (a replay or
// reordering) or that does not decode is dropped, counted in Stats and logged; a link that
// sends more than `max_invalid_messages` such frames is closed.
// Delivery is in order and at most once per link: a message in flight when a link dies is
// lost. Consensus must tolerate loss anyway (it retransmits on round timeouts).
//
// Outbound queues. Each peer has one FIFO queue that outlives its links: messages sent while
// the peer is disconnected wait for the next link. The queue is bounded by
// `max_queue_messages` and `max_queue_bytes`; when a message does not fit, Send() refuses it
// with ResourceExhausted and it is counted in Stats::dropped_queue_full (drop-newest: the
// queued messages keep their order and the caller learns at once).
//
// Reconnects. The dialer dials each peer at Start() and after every failure or lost link
// again after BackoffDelay(attempt) (exponential, capped, with "equal jitter"); `attempt`
// counts consecutive failures and resets when a link is authenticated.
//
// Dead links. WebSocket pings are sent after idle_timeout/2 of silence; a link with no traffic
// at all for idle_timeout is closed (and redialled by its dialer). A handshake that is not
// complete within handshake_timeout is abandoned.
//
// Threading. The network runs `threads` io threads of its own (default 1). The message and
// peer-state handlers run on an io thread, serialized per link (each link is a strand); with
// one thread all handlers are serialized. They must not block: a slow handler stops reading
// from that peer. They may call Send()/Broadcast(). Send, Broadcast, the connection queries
// and stats() are thread-safe and never block on the network. Set handlers before Start();
// Start() and Stop() are called from one controlling thread. Stop() is idempotent, closes all
// links and joins the io threads; no handler runs after it returns. The destructor calls Stop().
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "ledger/bytes.h"
#include "ledger/crypto.h"
#include "ledger/status.h"
#include "net/endpoint.h"
#include "net/log.h"

namespace fedledger::net {

struct PeerAddress {
  PubKey key;
  HostPort address;  // where that peer listens
};

struct PeerNetworkOptions {
  std::string chain_id;                 // REQUIRES: a valid identifier (ValidateIdentifier)
  HostPort listen{"127.0.0.1", 0};      // port 0: ephemeral, see listen_port()
  std::vector<PeerAddress> peers;       // the other validators; our own key is ignored
  size_t max_message_size = 8 << 20;    // payload bytes; larger Send() -> InvalidArgument
  size_t max_queue_messages = 4096;     // per peer
  size_t max_queue_bytes = 64 << 20;    // per peer, payload bytes
  std::chrono::milliseconds handshake_timeout{5000};
  std::chrono::milliseconds idle_timeout{10000};
  std::chrono::milliseconds backoff_initial{100};
  std::chrono::milliseconds backoff_max{10000};
  size_t max_pending_handshakes = 64;   // inbound connections not yet authenticated
  uint32_t max_invalid_messages = 16;   // per link, then the link is closed
  int threads = 1;
  // Uniform in [0, 1) for reconnect jitter; called under an internal mutex, so it need not be
  // thread-safe. Default: a generator seeded from the OS CSPRNG.
  std::function<double()> jitter;
  LogFn log = StderrLog;
};

// The reconnect delay after `attempt` consecutive failures: 0 for attempt 0, otherwise
// d = min(max, initial * 2^(attempt-1)) and the delay is d/2 + jitter01 * d/2.
std::chrono::milliseconds BackoffDelay(int attempt, std::chrono::milliseconds initial,
                                       std::chrono::milliseconds max, double jitter01);

class PeerNetwork {
 public:
  // `from` is the peer at the other end of the authenticated link. When `self_signed` is
  // false, `payload` came in a signed DATA or BATCH frame: it is the sender's bytes, verified.
  // When true, it came in a SELF frame, which carries no frame signature: the payload claims
  // to be signed by `from` in its own right, and the handler must check that signature (and
  // that the signer is `from`) before acting on it.
  using MessageHandler =
      std::function<void(const PubKey& from, Bytes payload, bool self_signed)>;
  // Called when a peer gains its first authenticated link (true) or loses it (false).
  using PeerStateHandler = std::function<void(const PubKey& peer, bool connected)>;

  struct Stats {
    uint64_t messages_sent = 0;
    uint64_t messages_received = 0;  // delivered to the handler
    uint64_t bytes_sent = 0;         // payload bytes
    uint64_t bytes_received = 0;
    uint64_t rejected_bad_signature = 0;
    uint64_t rejected_replay = 0;    // sequence number not above the last accepted
    uint64_t rejected_malformed = 0; // undecodable or unexpected frames
    uint64_t dropped_queue_full = 0;
    uint64_t handshakes_ok = 0;
    uint64_t handshakes_failed = 0;  // refused or failed, either side
    uint64_t dial_attempts = 0;
    uint64_t links_closed = 0;       // authenticated links that went down
    uint64_t frames_sent = 0;        // DATA, BATCH and SELF frames
    uint64_t frames_received = 0;    // ... accepted (signature verified, except SELF)
    uint64_t self_frames_sent = 0;   // of frames_sent, SELF frames (no frame signature)
    uint64_t self_frames_received = 0;
  };

  PeerNetwork(SecretKey node_key, PeerNetworkOptions options);
  ~PeerNetwork();
  PeerNetwork(const PeerNetwork&) = delete;
  PeerNetwork& operator=(const PeerNetwork&) = delete;

  // REQUIRES: before Start().
  void SetMessageHandler(MessageHandler handler);
  void SetPeerStateHandler(PeerStateHandler handler);

  // Validates the options, binds the listener, starts the io threads and dials.
  // InvalidArgument for bad options, Unavailable when the listen address cannot be bound.
  Status Start();
  void Stop();

  // The bound port after Start(), else 0.
  uint16_t listen_port() const;
  const PubKey& node_key() const;

  // Queues `payload` for `peer`. NotFound for a key not in the peer list, InvalidArgument
  // for our own key or an oversized payload, ResourceExhausted when the queue is full,
  // FailedPrecondition after Stop(). Allowed before Start() (the message waits in the queue).
  Status Send(const PubKey& peer, Bytes payload);
  // Queues `payload` for every peer; returns for how many peers it was queued (the others'
  // queues were full, counted in Stats). An oversized payload is queued nowhere.
  size_t Broadcast(Bytes payload);
  // Queues several messages at once, each for one peer or (no `to`) for every peer, then
  // wakes each link once, so messages queued together leave in one frame where separate
  // Send calls could each start a frame of their own. Returns how many (message, peer)
  // pairs were not queued: unknown peer or our own key, oversized payload, full queue
  // (counted in Stats), or after Stop().
  struct Outgoing {
    std::optional<PubKey> to;
    Bytes payload;
    // The payload is signed by this node's key in its own right (our own vote or proposal),
    // and the receiving application checks that signature: when every message of a frame is
    // such a message, the frame goes as SELF, without a frame signature of its own.
    bool self_signed = false;
  };
  size_t SendAll(std::vector<Outgoing> messages);

  size_t ConnectedPeerCount() const;
  bool IsConnected(const PubKey& peer) const;
  size_t QueuedMessages(const PubKey& peer) const;
  Stats stats() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace fedledger::net
