// The Beast half of peer_network.h. One Link per WebSocket connection, on its own strand,
// with do_x/on_x pairs (Beast's advanced server shape); per-peer state (queue, current link,
// dial timer) in Peer; the acceptor and the bookkeeping in PeerNetwork::Impl.
#include "net/peer_network.h"

#include <algorithm>
#include <atomic>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/websocket.hpp>
#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>
#include <random>
#include <thread>

#include "ledger/encoding.h"
#include "ledger/thread_name.h"
#include "net/peer_wire.h"

namespace fedledger::net {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace websocket = beast::websocket;
using tcp = asio::ip::tcp;
using Strand = asio::strand<asio::io_context::executor_type>;

Hash32 FreshNonce() {
  Hash32 n;
  RandomBytes(n.data(), n.size());
  return n;
}

struct AtomicStats {
  std::atomic<uint64_t> messages_sent{0}, messages_received{0}, bytes_sent{0},
      bytes_received{0}, rejected_bad_signature{0}, rejected_replay{0}, rejected_malformed{0},
      dropped_queue_full{0}, handshakes_ok{0}, handshakes_failed{0}, dial_attempts{0},
      links_closed{0}, frames_sent{0}, frames_received{0}, self_frames_sent{0},
      self_frames_received{0};
};

}  // namespace

class Link;

// One configured peer. `key`, `address` and `we_dial` are immutable; `attempt` and
// `retry_timer` belong to `strand`; `queue`, `queue_bytes` and `link` are guarded by Impl::mu.
struct Peer {
  explicit Peer(asio::io_context& ioc) : strand(asio::make_strand(ioc)), retry_timer(strand) {}
  PubKey key;
  HostPort address;
  bool we_dial = false;
  Strand strand;
  asio::steady_timer retry_timer;
  int attempt = 0;
  struct Queued {
    std::shared_ptr<const Bytes> bytes;
    bool self_signed = false;  // PeerNetwork::Outgoing::self_signed
  };
  std::deque<Queued> queue;
  size_t queue_bytes = 0;
  std::shared_ptr<Link> link;  // the authenticated link, if any
};

// Everything the links share; PeerNetwork::Impl is this (a named struct so Link can use it).
struct NetCore {
  NetCore(SecretKey k, PeerNetworkOptions o)
      : acceptor(asio::make_strand(ioc)), key(std::move(k)), opts(std::move(o)) {}

  asio::io_context ioc;  // first member: destroyed last, after everything bound to it
  tcp::acceptor acceptor;
  const SecretKey key;
  const PeerNetworkOptions opts;
  std::vector<std::unique_ptr<Peer>> peers;
  std::map<PubKey, Peer*> by_key;
  bool duplicate_peer = false;
  PeerNetwork::MessageHandler on_message;
  PeerNetwork::PeerStateHandler on_state;

  mutable std::mutex mu;  // Peer::queue/queue_bytes/link, links, pending, closing
  std::map<Link*, std::weak_ptr<Link>> links;
  size_t pending_handshakes = 0;
  bool closing = false;

  std::atomic<bool> stopping{false};
  bool started = false;
  bool stopped = false;
  std::atomic<uint16_t> port{0};
  AtomicStats stats;

  std::mutex jitter_mu;
  std::function<double()> jitter;

  std::vector<std::thread> threads;
  std::mutex run_mu;
  std::condition_variable run_cv;
  int running = 0;

  void Log(LogLevel level, const std::string& line) const {
    if (opts.log) opts.log(level, "component=peer node=" + key.pubkey().ShortHex() + " " + line);
  }
  double Jitter() {
    std::lock_guard<std::mutex> lock(jitter_mu);
    double j = jitter();
    return std::clamp(j, 0.0, 1.0);
  }

  // Queues `msg` and, if `kick`, wakes the peer's link to write it.
  Status Enqueue(Peer* peer, std::shared_ptr<const Bytes> msg, bool kick = true,
                 bool self_signed = false);
  void Kick(Peer* peer);
  void DoAccept();
  void OnAccept(beast::error_code ec, tcp::socket socket);
  void ScheduleDial(Peer* peer);  // on peer->strand
  void StartDial(Peer* peer);     // on peer->strand
  void OnLinkUp(Peer* peer, const std::shared_ptr<Link>& link);
  void OnLinkDown(Peer* peer, Link* link, bool was_established, bool dialer);
};

struct PeerNetwork::Impl : NetCore {
  using NetCore::NetCore;
};
using Impl = NetCore;

class Link : public std::enable_shared_from_this<Link> {
 public:
  // A link we dial to `peer`.
  Link(Impl* net, Peer* peer)
      : net_(net),
        dialer_(true),
        peer_(peer),
        ws_(asio::make_strand(net->ioc)),
        resolver_(ws_.get_executor()),
        hs_timer_(ws_.get_executor()) {}
  // A link accepted on `socket`; its peer is known after HELLO.
  Link(Impl* net, tcp::socket&& socket)
      : net_(net),
        dialer_(false),
        ws_(std::move(socket)),
        resolver_(ws_.get_executor()),
        hs_timer_(ws_.get_executor()) {
    beast::error_code ec;
    auto ep = beast::get_lowest_layer(ws_).socket().remote_endpoint(ec);
    if (!ec) remote_ = ep.address().to_string() + ":" + std::to_string(ep.port());
  }

  void RunDial() {
    remote_ = peer_->address.ToString();
    asio::dispatch(ws_.get_executor(), [self = shared_from_this()] { self->DoResolve(); });
  }
  void RunAccept() {
    asio::dispatch(ws_.get_executor(), [self = shared_from_this()] { self->DoWsAccept(); });
  }
  // Thread-safe. One pending DoWrite is enough: it takes whatever is queued when it runs, so
  // a message queued while one is pending does not post another (the flag is cleared before
  // the queue is read, under the same mutex the queueing takes).
  void Kick() {
    if (kick_pending_.exchange(true)) return;
    asio::post(ws_.get_executor(), [self = shared_from_this()] {
      self->kick_pending_ = false;
      self->DoWrite();
    });
  }
  // Thread-safe.
  void Close(std::string reason) {
    asio::post(ws_.get_executor(),
               [self = shared_from_this(), r = std::move(reason)] { self->Fail(r); });
  }

 private:
  enum class State { kConnecting, kHandshake, kClosing, kEstablished, kClosed };

  const PeerNetworkOptions& opts() const { return net_->opts; }
  const PubKey& my_key() const { return net_->key.pubkey(); }
  std::string Who() const {
    std::string s = "dir=" + std::string(dialer_ ? "out" : "in") + " remote=" + remote_;
    if (peer_ != nullptr) s += " peer=" + peer_->key.ShortHex();
    return s;
  }

  void StartHandshakeTimer() {
    hs_timer_.expires_after(opts().handshake_timeout);
    hs_timer_.async_wait([self = shared_from_this()](beast::error_code ec) {
      if (ec) return;
      if (self->state_ != State::kEstablished && self->state_ != State::kClosed) {
        self->Fail("handshake timed out after " +
                   std::to_string(self->opts().handshake_timeout.count()) + " ms");
      }
    });
  }

  void SetWsOptions() {
    websocket::stream_base::timeout t;
    t.handshake_timeout = opts().handshake_timeout;
    t.idle_timeout = opts().idle_timeout;
    t.keep_alive_pings = true;
    ws_.set_option(t);
    ws_.binary(true);
    ws_.auto_fragment(false);
    ws_.read_message_max(wire::kMaxHandshakeFrame);
  }

  // ---- dialer: resolve, connect, WebSocket handshake, HELLO ----
  void DoResolve() {
    StartHandshakeTimer();
    resolver_.async_resolve(
        peer_->address.host, std::to_string(peer_->address.port),
        beast::bind_front_handler(&Link::OnResolve, shared_from_this()));
  }

  void OnResolve(beast::error_code ec, tcp::resolver::results_type results) {
    if (state_ == State::kClosed) return;
    if (ec) return Fail("resolve: " + ec.message());
    beast::get_lowest_layer(ws_).expires_after(opts().handshake_timeout);
    beast::get_lowest_layer(ws_).async_connect(
        results, beast::bind_front_handler(&Link::OnConnect, shared_from_this()));
  }

  void OnConnect(beast::error_code ec, const tcp::endpoint&) {
    if (state_ == State::kClosed) return;
    if (ec) return Fail("connect: " + ec.message());
    beast::get_lowest_layer(ws_).expires_never();  // the websocket timeouts take over
    beast::error_code ignored;
    beast::get_lowest_layer(ws_).socket().set_option(tcp::no_delay(true), ignored);
    SetWsOptions();
    ws_.async_handshake(peer_->address.ToString(), wire::kWebSocketPath,
                        beast::bind_front_handler(&Link::OnWsHandshake, shared_from_this()));
  }

  void OnWsHandshake(beast::error_code ec) {
    if (state_ == State::kClosed) return;
    if (ec) return Fail("websocket handshake: " + ec.message());
    state_ = State::kHandshake;
    t_.chain_id = opts().chain_id;
    t_.client_key = my_key();
    t_.server_key = peer_->key;
    t_.client_nonce = FreshNonce();
    DoHandshakeWrite(wire::EncodeHello({t_.chain_id, t_.client_key, t_.client_nonce}));
  }

  // ---- acceptor: WebSocket accept, then wait for HELLO ----
  void DoWsAccept() {
    StartHandshakeTimer();
    beast::error_code ignored;
    beast::get_lowest_layer(ws_).socket().set_option(tcp::no_delay(true), ignored);
    SetWsOptions();
    ws_.async_accept(beast::bind_front_handler(&Link::OnWsAccept, shared_from_this()));
  }

  void OnWsAccept(beast::error_code ec) {
    if (state_ == State::kClosed) return;
    if (ec) return Fail("websocket accept: " + ec.message());
    state_ = State::kHandshake;
    DoRead();
  }

  // ---- handshake frames ----
  void DoHandshakeWrite(Bytes frame) {
    wbuf_ = std::move(frame);
    writing_ = true;
    ws_.async_write(asio::buffer(wbuf_),
                    beast::bind_front_handler(&Link::OnHandshakeWrite, shared_from_this()));
  }

  void OnHandshakeWrite(beast::error_code ec, std::size_t) {
    writing_ = false;
    if (state_ == State::kClosed || state_ == State::kClosing) return;
    if (ec) return Fail("handshake write: " + ec.message());
    if (welcome_sent_) Establish();  // acceptor: WELCOME is out
    if (state_ == State::kHandshake || state_ == State::kEstablished) DoRead();
  }

  void HandleHello(ByteView frame) {
    auto hello = wire::DecodeHello(frame);
    if (!hello.ok()) return Reject("bad HELLO: " + hello.status().message());
    if (hello->chain_id != opts().chain_id) {
      return Reject("chain id mismatch: peer has '" + hello->chain_id + "', we have '" +
                    opts().chain_id + "'");
    }
    if (hello->client_key == my_key()) return Reject("peer presents our own key");
    auto it = net_->by_key.find(hello->client_key);
    if (it == net_->by_key.end()) {
      return Reject("unknown peer key " + hello->client_key.Hex());
    }
    if (!(hello->client_key < my_key())) {
      return Reject("wrong dial direction: the peer with the smaller key dials");
    }
    peer_ = it->second;
    t_.chain_id = opts().chain_id;
    t_.client_key = hello->client_key;
    t_.server_key = my_key();
    t_.client_nonce = hello->client_nonce;
    t_.server_nonce = FreshNonce();
    wire::Challenge c;
    c.server_key = my_key();
    c.server_nonce = t_.server_nonce;
    c.server_sig = net_->key.Sign(wire::HandshakeDigest(wire::HandshakeRole::kServer, t_));
    DoHandshakeWrite(wire::EncodeChallenge(c));
  }

  void HandleChallenge(ByteView frame) {
    auto c = wire::DecodeChallenge(frame);
    if (!c.ok()) return Reject("bad CHALLENGE: " + c.status().message());
    if (c->server_key != peer_->key) {
      return Reject("unexpected server key " + c->server_key.Hex());
    }
    t_.server_nonce = c->server_nonce;
    if (!VerifySignature(peer_->key, wire::HandshakeDigest(wire::HandshakeRole::kServer, t_),
                         c->server_sig)) {
      return Reject("bad handshake signature from server");
    }
    have_challenge_ = true;
    wire::Auth a;
    a.client_sig = net_->key.Sign(wire::HandshakeDigest(wire::HandshakeRole::kClient, t_));
    DoHandshakeWrite(wire::EncodeAuth(a));
  }

  void HandleAuth(ByteView frame) {
    auto a = wire::DecodeAuth(frame);
    if (!a.ok()) return Reject("bad AUTH: " + a.status().message());
    if (!VerifySignature(t_.client_key, wire::HandshakeDigest(wire::HandshakeRole::kClient, t_),
                         a->client_sig)) {
      return Reject("bad handshake signature from client");
    }
    welcome_sent_ = true;
    DoHandshakeWrite(wire::EncodeWelcome());
  }

  void HandleWelcome(ByteView frame) {
    Status s = wire::DecodeWelcome(frame);
    if (!s.ok()) return Reject("bad WELCOME: " + s.message());
    Establish();
  }

  void Establish() {
    state_ = State::kEstablished;
    hs_timer_.cancel();
    ReleasePending();
    link_id_ = wire::LinkId(t_);
    ws_.read_message_max(opts().max_message_size + wire::kDataOverhead);
    net_->stats.handshakes_ok++;
    net_->Log(LogLevel::kInfo, "event=link_up " + Who());
    net_->OnLinkUp(peer_, shared_from_this());
    // The caller starts the next read: exactly one read is ever outstanding.
    DoWrite();
  }

  // Refuses the handshake: logs, tells the other side why in the close frame, closes.
  void Reject(const std::string& reason) {
    net_->stats.handshakes_failed++;
    net_->Log(LogLevel::kWarn, "event=handshake_rejected " + Who() + " reason=" + LogQuote(reason));
    state_ = State::kClosing;
    websocket::close_reason cr(websocket::close_code::policy_error);
    cr.reason = reason.substr(0, 120);
    ws_.async_close(cr, [self = shared_from_this()](beast::error_code) { self->Shutdown(); });
  }

  // ---- reading ----
  void DoRead() {
    ws_.async_read(rbuf_, beast::bind_front_handler(&Link::OnRead, shared_from_this()));
  }

  void OnRead(beast::error_code ec, std::size_t) {
    if (state_ == State::kClosed || state_ == State::kClosing) return;
    if (ec) {
      if (ec == websocket::error::closed) {
        std::string why = ws_.reason().reason.c_str();
        return Fail("closed by peer (code " + std::to_string(ws_.reason().code) +
                    (why.empty() ? "" : ", reason: " + why) + ")");
      }
      return Fail("read: " + ec.message());
    }
    auto data = rbuf_.data();
    ByteView frame(static_cast<const uint8_t*>(data.data()), data.size());
    if (state_ == State::kEstablished) {
      HandleData(frame);
    } else if (!dialer_ && peer_ == nullptr) {
      HandleHello(frame);
    } else if (!dialer_) {
      HandleAuth(frame);
    } else if (!have_challenge_) {
      HandleChallenge(frame);
    } else {
      HandleWelcome(frame);
    }
    rbuf_.consume(rbuf_.size());
    if (state_ == State::kEstablished) DoRead();
  }

  void HandleData(ByteView frame) {
    if (!frame.empty() && frame[0] == static_cast<uint8_t>(wire::FrameType::kBatch)) {
      return HandleBatch(frame);
    }
    if (!frame.empty() && frame[0] == static_cast<uint8_t>(wire::FrameType::kSelf)) {
      return HandleSelfSigned(frame);
    }
    auto d = wire::DecodeData(frame, opts().max_message_size);
    if (!d.ok()) {
      net_->stats.rejected_malformed++;
      return Invalid("malformed frame: " + d.status().message());
    }
    if (!AcceptSeq(d->seq)) return;
    Hash32 digest =
        wire::MessageDigest(opts().chain_id, peer_->key, my_key(), link_id_, d->seq, d->payload);
    if (!VerifySignature(peer_->key, digest, d->sig)) {
      net_->stats.rejected_bad_signature++;
      return Invalid("bad message signature (seq " + std::to_string(d->seq) + ")");
    }
    Accepted(d->seq);
    net_->stats.frames_received++;
    Deliver(d->payload);
  }

  // Several messages under one signature: verified once, then delivered in order. A batch
  // that does not decode or verify delivers nothing.
  void HandleBatch(ByteView frame) {
    auto b = wire::DecodeBatch(frame, opts().max_message_size);
    if (!b.ok()) {
      net_->stats.rejected_malformed++;
      return Invalid("malformed batch frame: " + b.status().message());
    }
    if (!AcceptSeq(b->seq)) return;
    Hash32 digest =
        wire::BatchDigest(opts().chain_id, peer_->key, my_key(), link_id_, b->seq, b->body);
    if (!VerifySignature(peer_->key, digest, b->sig)) {
      net_->stats.rejected_bad_signature++;
      return Invalid("bad batch signature (seq " + std::to_string(b->seq) + ")");
    }
    Accepted(b->seq);
    net_->stats.frames_received++;
    for (ByteView p : b->payloads) {
      if (state_ != State::kEstablished) return;
      Deliver(p);
    }
  }

  // Messages that carry their own signatures: delivered marked so, for the handler to check.
  void HandleSelfSigned(ByteView frame) {
    auto f = wire::DecodeSelfSigned(frame, opts().max_message_size);
    if (!f.ok()) {
      net_->stats.rejected_malformed++;
      return Invalid("malformed self-signed frame: " + f.status().message());
    }
    if (!AcceptSeq(f->seq)) return;
    Accepted(f->seq);
    net_->stats.frames_received++;
    net_->stats.self_frames_received++;
    for (ByteView p : f->payloads) {
      if (state_ != State::kEstablished) return;
      Deliver(p, /*self_signed=*/true);
    }
  }

  // False (and the frame is counted and logged) if `seq` is not above the last accepted one.
  bool AcceptSeq(uint64_t seq) {
    if (seq > recv_seq_) return true;
    net_->stats.rejected_replay++;
    Invalid("replayed or reordered sequence number " + std::to_string(seq) +
            " (last accepted " + std::to_string(recv_seq_) + ")");
    return false;
  }

  void Accepted(uint64_t seq) {
    if (seq != recv_seq_ + 1) {
      net_->Log(LogLevel::kWarn, "event=sequence_gap " + Who() + " expected=" +
                                     std::to_string(recv_seq_ + 1) + " got=" +
                                     std::to_string(seq));
    }
    recv_seq_ = seq;
  }

  void Deliver(ByteView payload, bool self_signed = false) {
    net_->stats.messages_received++;
    net_->stats.bytes_received += payload.size();
    if (!net_->on_message) return;
    try {
      net_->on_message(peer_->key, Bytes(payload.begin(), payload.end()), self_signed);
    } catch (const std::exception& e) {
      net_->Log(LogLevel::kError, "event=handler_exception " + Who() + " what=" + LogQuote(e.what()));
    }
  }

  void Invalid(const std::string& reason) {
    ++invalid_count_;
    net_->Log(LogLevel::kWarn, "event=message_rejected " + Who() + " reason=" + LogQuote(reason));
    if (invalid_count_ > opts().max_invalid_messages) {
      Fail("too many invalid messages (" + std::to_string(invalid_count_) + ")");
    }
  }

  // ---- writing ----
  // Takes every queued message that fits: messages that are all self-signed go out as one
  // SELF frame without a signature of its own; otherwise one message goes out as DATA, several
  // as one BATCH with a single signature (a signature costs far more than the bytes of a
  // small message).
  void DoWrite() {
    if (state_ != State::kEstablished || writing_) return;
    std::vector<std::shared_ptr<const Bytes>> msgs;
    bool all_self_signed = true;
    {
      std::lock_guard<std::mutex> lock(net_->mu);
      if (peer_->link.get() != this || peer_->queue.empty()) return;
      size_t body = 10;  // the count's varint, at most
      while (!peer_->queue.empty() && msgs.size() < wire::kMaxBatchMessages) {
        Peer::Queued& next = peer_->queue.front();
        size_t item = wire::BatchItemSize(next.bytes->size());
        if (!msgs.empty() && body + item > opts().max_message_size) break;
        body += item;
        peer_->queue_bytes -= next.bytes->size();
        all_self_signed = all_self_signed && next.self_signed;
        msgs.push_back(std::move(next.bytes));
        peer_->queue.pop_front();
      }
    }
    uint64_t seq = ++send_seq_;
    size_t payload_bytes = 0;
    for (const auto& m : msgs) payload_bytes += m->size();
    if (all_self_signed) {
      std::vector<ByteView> views;
      views.reserve(msgs.size());
      for (const auto& m : msgs) views.emplace_back(*m);
      wbuf_ = wire::EncodeSelfSigned(seq, views);
      net_->stats.self_frames_sent++;
    } else if (msgs.size() == 1) {
      Signature sig = net_->key.Sign(
          wire::MessageDigest(opts().chain_id, my_key(), peer_->key, link_id_, seq, *msgs[0]));
      wbuf_ = wire::EncodeData(seq, *msgs[0], sig);
    } else {
      std::vector<ByteView> views;
      views.reserve(msgs.size());
      for (const auto& m : msgs) views.emplace_back(*m);
      Bytes body = wire::EncodeBatchBody(views);
      Signature sig = net_->key.Sign(
          wire::BatchDigest(opts().chain_id, my_key(), peer_->key, link_id_, seq, body));
      wbuf_ = wire::EncodeBatch(seq, body, sig);
    }
    writing_ = true;
    ws_.async_write(asio::buffer(wbuf_),
                    beast::bind_front_handler(&Link::OnWrite, shared_from_this(), msgs.size(),
                                              payload_bytes));
  }

  void OnWrite(size_t messages, size_t payload_bytes, beast::error_code ec, std::size_t) {
    writing_ = false;
    if (state_ != State::kEstablished) return;
    if (ec) return Fail("write: " + ec.message());
    net_->stats.frames_sent++;
    net_->stats.messages_sent += messages;
    net_->stats.bytes_sent += payload_bytes;
    DoWrite();
  }

  // ---- closing ----
  void Fail(const std::string& reason) {
    if (state_ == State::kClosed) return;
    if (state_ == State::kEstablished) {
      net_->Log(LogLevel::kInfo, "event=link_down " + Who() + " reason=" + LogQuote(reason));
    } else if (state_ == State::kHandshake) {
      net_->stats.handshakes_failed++;
      net_->Log(LogLevel::kWarn, "event=handshake_failed " + Who() + " reason=" + LogQuote(reason));
    } else if (state_ == State::kConnecting) {
      net_->Log(LogLevel::kDebug, "event=connect_failed " + Who() + " reason=" + LogQuote(reason));
    }
    Shutdown();
  }

  void Shutdown() {
    if (state_ == State::kClosed) return;
    bool was_established = state_ == State::kEstablished;
    state_ = State::kClosed;
    hs_timer_.cancel();
    resolver_.cancel();
    // Disarm the websocket's idle/ping timer too, or it would hold the io loop (and Stop())
    // for up to idle_timeout after the socket is gone.
    ws_.set_option(websocket::stream_base::timeout{websocket::stream_base::none(),
                                                   websocket::stream_base::none(), false});
    beast::error_code ignored;
    beast::get_lowest_layer(ws_).socket().shutdown(tcp::socket::shutdown_both, ignored);
    beast::get_lowest_layer(ws_).close();
    ReleasePending();
    {
      std::lock_guard<std::mutex> lock(net_->mu);
      net_->links.erase(this);
    }
    if (peer_ != nullptr) net_->OnLinkDown(peer_, this, was_established, dialer_);
  }

  void ReleasePending() {
    if (dialer_ || pending_released_) return;
    pending_released_ = true;
    std::lock_guard<std::mutex> lock(net_->mu);
    --net_->pending_handshakes;
  }

  Impl* const net_;
  const bool dialer_;
  Peer* peer_ = nullptr;
  websocket::stream<beast::tcp_stream> ws_;
  tcp::resolver resolver_;
  asio::steady_timer hs_timer_;
  std::string remote_ = "?";
  State state_ = State::kConnecting;
  wire::HandshakeTranscript t_;
  bool have_challenge_ = false;
  bool welcome_sent_ = false;
  bool pending_released_ = false;
  Hash32 link_id_;
  uint64_t send_seq_ = 0;
  uint64_t recv_seq_ = 0;
  uint32_t invalid_count_ = 0;
  beast::flat_buffer rbuf_;
  Bytes wbuf_;
  bool writing_ = false;
  std::atomic<bool> kick_pending_{false};
};

// ---- Impl ----

Status Impl::Enqueue(Peer* peer, std::shared_ptr<const Bytes> msg, bool kick, bool self_signed) {
  std::shared_ptr<Link> link;
  {
    std::lock_guard<std::mutex> lock(mu);
    if (peer->queue.size() >= opts.max_queue_messages ||
        peer->queue_bytes + msg->size() > opts.max_queue_bytes) {
      stats.dropped_queue_full++;
      return Status::ResourceExhausted(
          "outbound queue to peer " + peer->key.ShortHex() + " is full (" +
          std::to_string(peer->queue.size()) + " messages, " +
          std::to_string(peer->queue_bytes) + " bytes)");
    }
    peer->queue_bytes += msg->size();
    peer->queue.push_back({std::move(msg), self_signed});
    if (kick) link = peer->link;
  }
  if (link) link->Kick();
  return Status::Ok();
}

void Impl::Kick(Peer* peer) {
  std::shared_ptr<Link> link;
  {
    std::lock_guard<std::mutex> lock(mu);
    link = peer->link;
  }
  if (link) link->Kick();
}

void Impl::DoAccept() {
  acceptor.async_accept(asio::make_strand(ioc), [this](beast::error_code ec, tcp::socket s) {
    OnAccept(ec, std::move(s));
  });
}

void Impl::OnAccept(beast::error_code ec, tcp::socket socket) {
  if (!acceptor.is_open()) return;
  if (ec) {
    Log(LogLevel::kWarn, "event=accept_failed reason=" + LogQuote(ec.message()));
    return DoAccept();
  }
  std::shared_ptr<Link> link;
  {
    std::lock_guard<std::mutex> lock(mu);
    if (closing) return;
    if (pending_handshakes >= opts.max_pending_handshakes) {
      Log(LogLevel::kWarn, "event=connection_refused reason=\"too many pending handshakes\"");
    } else {
      ++pending_handshakes;
      link = std::make_shared<Link>(this, std::move(socket));
      links.emplace(link.get(), link);
    }
  }
  if (link) link->RunAccept();
  DoAccept();
}

void Impl::ScheduleDial(Peer* peer) {
  if (stopping) return;
  auto delay = BackoffDelay(peer->attempt, opts.backoff_initial, opts.backoff_max, Jitter());
  if (delay.count() == 0) return StartDial(peer);
  Log(LogLevel::kDebug, "event=redial peer=" + peer->key.ShortHex() +
                            " attempt=" + std::to_string(peer->attempt) +
                            " delay_ms=" + std::to_string(delay.count()));
  peer->retry_timer.expires_after(delay);
  peer->retry_timer.async_wait([this, peer](beast::error_code ec) {
    if (ec || stopping) return;
    StartDial(peer);
  });
}

void Impl::StartDial(Peer* peer) {
  std::shared_ptr<Link> link;
  {
    std::lock_guard<std::mutex> lock(mu);
    if (closing) return;
    link = std::make_shared<Link>(this, peer);
    links.emplace(link.get(), link);
  }
  stats.dial_attempts++;
  link->RunDial();
}

void Impl::OnLinkUp(Peer* peer, const std::shared_ptr<Link>& link) {
  std::shared_ptr<Link> old;
  {
    std::lock_guard<std::mutex> lock(mu);
    old = std::move(peer->link);
    peer->link = link;
  }
  if (old) old->Close("replaced by a newer link");
  if (peer->we_dial) asio::post(peer->strand, [peer] { peer->attempt = 0; });
  if (!old && on_state && !stopping) on_state(peer->key, true);
}

void Impl::OnLinkDown(Peer* peer, Link* link, bool was_established, bool dialer) {
  bool was_current = false;
  {
    std::lock_guard<std::mutex> lock(mu);
    if (peer->link.get() == link) {
      peer->link.reset();
      was_current = true;
    }
  }
  if (was_established) stats.links_closed++;
  if (was_current && on_state && !stopping) on_state(peer->key, false);
  if (dialer && !stopping) {
    asio::post(peer->strand, [this, peer] {
      ++peer->attempt;
      ScheduleDial(peer);
    });
  }
}

// ---- PeerNetwork ----

std::chrono::milliseconds BackoffDelay(int attempt, std::chrono::milliseconds initial,
                                       std::chrono::milliseconds max, double jitter01) {
  if (attempt <= 0) return std::chrono::milliseconds(0);
  double d = static_cast<double>(initial.count());
  for (int i = 1; i < attempt && d < static_cast<double>(max.count()); ++i) d *= 2;
  d = std::min(d, static_cast<double>(max.count()));
  jitter01 = std::clamp(jitter01, 0.0, 1.0);
  return std::chrono::milliseconds(static_cast<int64_t>(d / 2 + jitter01 * d / 2));
}

PeerNetwork::PeerNetwork(SecretKey node_key, PeerNetworkOptions options)
    : impl_(std::make_unique<Impl>(std::move(node_key), std::move(options))) {
  for (const PeerAddress& pa : impl_->opts.peers) {
    if (pa.key == impl_->key.pubkey()) continue;
    if (impl_->by_key.count(pa.key)) {
      impl_->duplicate_peer = true;
      continue;
    }
    auto p = std::make_unique<Peer>(impl_->ioc);
    p->key = pa.key;
    p->address = pa.address;
    p->we_dial = impl_->key.pubkey() < pa.key;
    impl_->by_key[p->key] = p.get();
    impl_->peers.push_back(std::move(p));
  }
  if (impl_->opts.jitter) {
    impl_->jitter = impl_->opts.jitter;
  } else {
    uint64_t seed;
    RandomBytes(reinterpret_cast<uint8_t*>(&seed), sizeof(seed));
    impl_->jitter = [gen = std::mt19937_64(seed)]() mutable {
      return std::uniform_real_distribution<double>(0.0, 1.0)(gen);
    };
  }
}

PeerNetwork::~PeerNetwork() { Stop(); }

void PeerNetwork::SetMessageHandler(MessageHandler handler) {
  impl_->on_message = std::move(handler);
}
void PeerNetwork::SetPeerStateHandler(PeerStateHandler handler) {
  impl_->on_state = std::move(handler);
}

Status PeerNetwork::Start() {
  Impl& n = *impl_;
  if (n.started) return Status::FailedPrecondition("peer network already started");
  FL_TRY(ValidateIdentifier("chain_id", n.opts.chain_id));
  if (n.duplicate_peer) return Status::InvalidArgument("peer list names a key twice");
  for (const auto& p : n.peers) {
    if (!IsValidPubKey(p->key)) {
      return Status::InvalidArgument("peer key " + p->key.Hex() + " is not a valid public key");
    }
  }
  if (n.opts.max_message_size == 0 || n.opts.max_queue_messages == 0 || n.opts.threads < 1) {
    return Status::InvalidArgument("peer network options: sizes and threads must be positive");
  }
  try {
    beast::error_code ec;
    tcp::endpoint ep;
    auto addr = asio::ip::make_address(n.opts.listen.host, ec);
    if (!ec) {
      ep = tcp::endpoint(addr, n.opts.listen.port);
    } else {
      tcp::resolver resolver(n.ioc);
      auto results = resolver.resolve(n.opts.listen.host, std::to_string(n.opts.listen.port), ec);
      if (ec || results.empty()) {
        return Status::InvalidArgument("listen host '" + n.opts.listen.host +
                                       "': " + ec.message());
      }
      ep = results.begin()->endpoint();
    }
    n.acceptor.open(ep.protocol(), ec);
    if (!ec) n.acceptor.set_option(asio::socket_base::reuse_address(true), ec);
    if (!ec) n.acceptor.bind(ep, ec);
    if (!ec) n.acceptor.listen(asio::socket_base::max_listen_connections, ec);
    if (ec) {
      return Status::Unavailable("peer listen on " + n.opts.listen.ToString() + ": " +
                                 ec.message());
    }
    n.port = n.acceptor.local_endpoint(ec).port();
  } catch (const std::exception& e) {
    return Status::Internal(std::string("peer listen: ") + e.what());
  }
  n.started = true;
  n.DoAccept();
  for (auto& p : n.peers) {
    if (!p->we_dial) continue;
    Peer* peer = p.get();
    asio::post(peer->strand, [&n, peer] { n.ScheduleDial(peer); });
  }
  n.running = n.opts.threads;
  for (int i = 0; i < n.opts.threads; ++i) {
    n.threads.emplace_back([&n] {
      n.ioc.run();
      std::lock_guard<std::mutex> lock(n.run_mu);
      --n.running;
      n.run_cv.notify_all();
    });
    NameThread(n.threads.back(), "fl-peer");
    ScheduleAsBatch(n.threads.back());
  }
  n.Log(LogLevel::kInfo, "event=listening address=" + n.opts.listen.host +
                             " port=" + std::to_string(n.port.load()) +
                             " peers=" + std::to_string(n.peers.size()));
  return Status::Ok();
}

void PeerNetwork::Stop() {
  Impl& n = *impl_;
  if (!n.started || n.stopped) return;
  n.stopped = true;
  n.stopping = true;
  asio::post(n.acceptor.get_executor(), [&n] {
    beast::error_code ignored;
    n.acceptor.close(ignored);
  });
  std::vector<std::shared_ptr<Link>> live;
  {
    std::lock_guard<std::mutex> lock(n.mu);
    n.closing = true;
    for (auto& [ptr, weak] : n.links) {
      if (auto l = weak.lock()) live.push_back(std::move(l));
    }
  }
  for (auto& p : n.peers) {
    Peer* peer = p.get();
    asio::post(peer->strand, [peer] { peer->retry_timer.cancel(); });
  }
  for (auto& l : live) l->Close("node stopping");
  live.clear();
  {
    std::unique_lock<std::mutex> lock(n.run_mu);
    if (!n.run_cv.wait_for(lock, std::chrono::seconds(3), [&] { return n.running == 0; })) {
      n.Log(LogLevel::kWarn, "event=stop_forced reason=\"io did not drain within 3 s\"");
      n.ioc.stop();
    }
  }
  for (auto& t : n.threads) t.join();
  n.threads.clear();
  {
    // Links still referenced here (ioc.stop() case) die with the io_context; drop ours now.
    std::lock_guard<std::mutex> lock(n.mu);
    for (auto& p : n.peers) p->link.reset();
  }
  n.Log(LogLevel::kInfo, "event=stopped");
}

uint16_t PeerNetwork::listen_port() const { return impl_->port.load(); }
const PubKey& PeerNetwork::node_key() const { return impl_->key.pubkey(); }

Status PeerNetwork::Send(const PubKey& peer, Bytes payload) {
  Impl& n = *impl_;
  if (n.stopping) return Status::FailedPrecondition("peer network stopped");
  if (peer == n.key.pubkey()) return Status::InvalidArgument("cannot send to our own key");
  if (payload.size() > n.opts.max_message_size) {
    return Status::InvalidArgument("message of " + std::to_string(payload.size()) +
                                   " bytes exceeds max_message_size " +
                                   std::to_string(n.opts.max_message_size));
  }
  auto it = n.by_key.find(peer);
  if (it == n.by_key.end()) return Status::NotFound("unknown peer " + peer.Hex());
  return n.Enqueue(it->second, std::make_shared<const Bytes>(std::move(payload)));
}

size_t PeerNetwork::Broadcast(Bytes payload) {
  std::vector<Outgoing> one;
  one.push_back({std::nullopt, std::move(payload)});
  return impl_->peers.size() - SendAll(std::move(one));
}

size_t PeerNetwork::SendAll(std::vector<Outgoing> messages) {
  Impl& n = *impl_;
  size_t failed = 0;
  std::vector<Peer*> touched;
  auto queue = [&](Peer* p, const std::shared_ptr<const Bytes>& msg, bool self_signed) {
    if (!n.Enqueue(p, msg, /*kick=*/false, self_signed).ok()) return false;
    if (std::find(touched.begin(), touched.end(), p) == touched.end()) touched.push_back(p);
    return true;
  };
  for (Outgoing& m : messages) {
    if (n.stopping || m.payload.size() > n.opts.max_message_size) {
      failed += m.to ? 1 : n.peers.size();
      continue;
    }
    auto msg = std::make_shared<const Bytes>(std::move(m.payload));
    if (m.to) {
      auto it = n.by_key.find(*m.to);
      if (it == n.by_key.end() || !queue(it->second, msg, m.self_signed)) ++failed;
      continue;
    }
    for (auto& p : n.peers) {
      if (!queue(p.get(), msg, m.self_signed)) ++failed;
    }
  }
  for (Peer* p : touched) n.Kick(p);
  return failed;
}

size_t PeerNetwork::ConnectedPeerCount() const {
  std::lock_guard<std::mutex> lock(impl_->mu);
  size_t c = 0;
  for (const auto& p : impl_->peers) c += p->link != nullptr;
  return c;
}

bool PeerNetwork::IsConnected(const PubKey& peer) const {
  auto it = impl_->by_key.find(peer);
  if (it == impl_->by_key.end()) return false;
  std::lock_guard<std::mutex> lock(impl_->mu);
  return it->second->link != nullptr;
}

size_t PeerNetwork::QueuedMessages(const PubKey& peer) const {
  auto it = impl_->by_key.find(peer);
  if (it == impl_->by_key.end()) return 0;
  std::lock_guard<std::mutex> lock(impl_->mu);
  return it->second->queue.size();
}

PeerNetwork::Stats PeerNetwork::stats() const {
  const AtomicStats& a = impl_->stats;
  Stats s;
  s.messages_sent = a.messages_sent;
  s.messages_received = a.messages_received;
  s.bytes_sent = a.bytes_sent;
  s.bytes_received = a.bytes_received;
  s.rejected_bad_signature = a.rejected_bad_signature;
  s.rejected_replay = a.rejected_replay;
  s.rejected_malformed = a.rejected_malformed;
  s.dropped_queue_full = a.dropped_queue_full;
  s.handshakes_ok = a.handshakes_ok;
  s.handshakes_failed = a.handshakes_failed;
  s.dial_attempts = a.dial_attempts;
  s.links_closed = a.links_closed;
  s.frames_sent = a.frames_sent;
  s.frames_received = a.frames_received;
  s.self_frames_sent = a.self_frames_sent;
  s.self_frames_received = a.self_frames_received;
  return s;
}

}  // namespace fedledger::net
