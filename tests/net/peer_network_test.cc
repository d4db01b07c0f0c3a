#include "net/peer_network.h"

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/websocket.hpp>
#include <catch2/catch.hpp>
#include <map>
#include <mutex>

#include "ledger/encoding.h"
#include "net/peer_metrics.h"
#include "net/peer_wire.h"
#include "net_test_util.h"

using namespace fedledger;
using namespace fedledger::net;
using namespace std::chrono_literals;
namespace asio = boost::asio;
namespace beast = boost::beast;
namespace websocket = beast::websocket;
using tcp = asio::ip::tcp;
using testing::WaitFor;

namespace {

const char* kChain = "fedledger-nettest";

Bytes B(const std::string& s) { return Bytes(s.begin(), s.end()); }
std::string S(const Bytes& b) { return std::string(b.begin(), b.end()); }

// `n` keys sorted ascending by public key, so tests know who dials whom.
std::vector<SecretKey> SortedKeys(const std::string& prefix, int n) {
  std::vector<SecretKey> keys;
  for (int i = 0; i < n; ++i) keys.push_back(SecretKey::FromSeed(prefix + std::to_string(i)));
  std::sort(keys.begin(), keys.end(),
            [](const SecretKey& a, const SecretKey& b) { return a.pubkey() < b.pubkey(); });
  return keys;
}

// Everything one node received, in order.
struct Inbox {
  std::mutex mu;
  std::vector<std::pair<PubKey, std::string>> msgs;
  std::vector<std::pair<PubKey, bool>> states;
  std::vector<std::string> self_signed;  // payloads delivered from SELF frames
  size_t Count() {
    std::lock_guard<std::mutex> l(mu);
    return msgs.size();
  }
  std::vector<std::string> From(const PubKey& k) {
    std::lock_guard<std::mutex> l(mu);
    std::vector<std::string> out;
    for (auto& [from, m] : msgs) {
      if (from == k) out.push_back(m);
    }
    return out;
  }
};

PeerNetworkOptions BaseOptions(testing::LogCapture& logs) {
  PeerNetworkOptions o;
  o.chain_id = kChain;
  o.backoff_initial = 20ms;
  o.backoff_max = 200ms;
  o.handshake_timeout = 2s;
  o.idle_timeout = 3s;
  o.jitter = [] { return 0.5; };
  o.log = logs.Fn();
  return o;
}

std::unique_ptr<PeerNetwork> MakeNode(const SecretKey& key, uint16_t port,
                                      const std::vector<PeerAddress>& peers, Inbox& inbox,
                                      testing::LogCapture& logs,
                                      std::function<void(PeerNetworkOptions&)> tweak = {}) {
  PeerNetworkOptions o = BaseOptions(logs);
  o.listen = {"127.0.0.1", port};
  o.peers = peers;
  if (tweak) tweak(o);
  auto n = std::make_unique<PeerNetwork>(key, o);
  n->SetMessageHandler([&inbox](const PubKey& from, Bytes payload, bool self_signed) {
    std::lock_guard<std::mutex> l(inbox.mu);
    if (self_signed) inbox.self_signed.push_back(S(payload));
    inbox.msgs.emplace_back(from, S(payload));
  });
  n->SetPeerStateHandler([&inbox](const PubKey& peer, bool up) {
    std::lock_guard<std::mutex> l(inbox.mu);
    inbox.states.emplace_back(peer, up);
  });
  return n;
}

// A hand-written peer speaking the wire protocol over Beast directly, so tests can misbehave:
// replay, tamper, sign with the wrong key. Every operation is bounded by a deadline.
class RawPeer {
 public:
  RawPeer() : ws_(ioc_) {}

  bool Connect(uint16_t port) {
    auto& s = beast::get_lowest_layer(ws_);
    s.expires_after(5s);
    s.async_connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port),
                    [this](beast::error_code ec) { Done(ec); });
    Run();
    if (ec_) return false;
    s.expires_never();
    websocket::stream_base::timeout t = websocket::stream_base::timeout::suggested(
        beast::role_type::client);
    t.handshake_timeout = 5s;
    t.idle_timeout = 5s;
    ws_.set_option(t);
    ws_.binary(true);
    ws_.async_handshake("127.0.0.1", wire::kWebSocketPath,
                        [this](beast::error_code ec) { Done(ec); });
    Run();
    return !ec_;
  }
  bool Write(const Bytes& frame) {
    ws_.async_write(asio::buffer(frame), [this](beast::error_code ec, std::size_t) { Done(ec); });
    Run();
    return !ec_;
  }
  // One frame, or std::nullopt on error/timeout (then error() and close_reason() say why).
  std::optional<Bytes> Read(std::chrono::milliseconds timeout = 5s) {
    beast::flat_buffer buf;
    bool done = false;
    ws_.async_read(buf, [&](beast::error_code ec, std::size_t) {
      ec_ = ec;
      done = true;
    });
    if (!RunUntil(done, timeout)) {
      beast::get_lowest_layer(ws_).close();
      RunUntil(done, 5s);
      return std::nullopt;
    }
    if (ec_) return std::nullopt;
    auto d = buf.data();
    const uint8_t* p = static_cast<const uint8_t*>(d.data());
    return Bytes(p, p + d.size());
  }
  beast::error_code error() const { return ec_; }
  std::string close_reason() const { return std::string(ws_.reason().reason.c_str()); }

  // Runs the client side of the handshake as `key` against `server`. `sign_with` signs AUTH
  // (normally the same key). Returns false if the server closed the link.
  bool Handshake(const SecretKey& key, const PubKey& server, const SecretKey& sign_with,
                 const std::string& chain = kChain) {
    t_.chain_id = chain;
    t_.client_key = key.pubkey();
    t_.server_key = server;
    RandomBytes(t_.client_nonce.data(), 32);
    if (!Write(wire::EncodeHello({chain, key.pubkey(), t_.client_nonce}))) return false;
    auto ch = Read();
    if (!ch) return false;
    auto c = wire::DecodeChallenge(*ch);
    REQUIRE(c.ok());
    REQUIRE(c->server_key == server);
    t_.server_nonce = c->server_nonce;
    // The server proved its key.
    REQUIRE(VerifySignature(server, wire::HandshakeDigest(wire::HandshakeRole::kServer, t_),
                            c->server_sig));
    wire::Auth a{sign_with.Sign(wire::HandshakeDigest(wire::HandshakeRole::kClient, t_))};
    if (!Write(wire::EncodeAuth(a))) return false;
    auto w = Read();
    if (!w) return false;
    REQUIRE(wire::DecodeWelcome(*w).ok());
    link_id_ = wire::LinkId(t_);
    return true;
  }
  Bytes SignedData(const SecretKey& key, uint64_t seq, const Bytes& payload) const {
    Signature sig = key.Sign(
        wire::MessageDigest(t_.chain_id, key.pubkey(), t_.server_key, link_id_, seq, payload));
    return wire::EncodeData(seq, payload, sig);
  }
  Bytes SignedBatch(const SecretKey& key, uint64_t seq, const std::vector<Bytes>& payloads) const {
    std::vector<ByteView> views(payloads.begin(), payloads.end());
    Bytes body = wire::EncodeBatchBody(views);
    Signature sig = key.Sign(
        wire::BatchDigest(t_.chain_id, key.pubkey(), t_.server_key, link_id_, seq, body));
    return wire::EncodeBatch(seq, body, sig);
  }
  const Hash32& link_id() const { return link_id_; }
  const wire::HandshakeTranscript& transcript() const { return t_; }

 private:
  // Runs handlers until `done` or the deadline. (Not ioc.run(): the websocket's idle timer
  // can keep the loop busy after the operation itself has completed.)
  bool RunUntil(bool& done, std::chrono::milliseconds timeout) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    ioc_.restart();
    while (!done && ioc_.run_one_until(deadline) > 0) {
    }
    return done;
  }
  void Run() {
    bool done = false;
    pending_done_ = &done;
    RunUntil(done, 5s);
    pending_done_ = nullptr;
  }
  bool* pending_done_ = nullptr;
  void Done(beast::error_code ec) {
    ec_ = ec;
    if (pending_done_ != nullptr) *pending_done_ = true;
  }
  asio::io_context ioc_;
  websocket::stream<beast::tcp_stream> ws_;
  beast::error_code ec_;
  wire::HandshakeTranscript t_;
  Hash32 link_id_;
};

}  // namespace

TEST_CASE("peer backoff: exponential, capped, equal jitter", "[peer]") {
  auto d = [](int attempt, double j) { return BackoffDelay(attempt, 100ms, 1000ms, j).count(); };
  CHECK(d(0, 0.9) == 0);
  CHECK(d(1, 0.0) == 50);
  CHECK(d(1, 1.0) == 100);
  CHECK(d(2, 0.0) == 100);
  CHECK(d(3, 0.5) == 300);
  CHECK(d(4, 1.0) == 800);
  CHECK(d(5, 1.0) == 1000);  // capped
  CHECK(d(60, 0.0) == 500);  // no overflow
  CHECK(d(2, 7.0) == 200);   // jitter clamped to [0, 1]
}

TEST_CASE("peer network: four validators exchange direct and broadcast messages", "[peer]") {
  testing::LogCapture logs;
  auto keys = SortedKeys("four-", 4);
  std::vector<PeerAddress> peers;
  for (auto& k : keys) peers.push_back({k.pubkey(), {"127.0.0.1", testing::FreePort()}});
  std::vector<Inbox> inbox(4);
  std::vector<std::unique_ptr<PeerNetwork>> nodes;
  for (int i = 0; i < 4; ++i) {
    nodes.push_back(MakeNode(keys[i], peers[i].address.port, peers, inbox[i], logs));
  }
  for (auto& n : nodes) REQUIRE(n->Start().ok());
  REQUIRE(WaitFor([&] {
    for (auto& n : nodes) {
      if (n->ConnectedPeerCount() != 3) return false;
    }
    return true;
  }));
  const std::string big(1 << 20, 'z');
  for (int i = 0; i < 4; ++i) {
    for (int j = 0; j < 4; ++j) {
      if (i == j) continue;
      for (int m = 0; m < 20; ++m) {
        REQUIRE(nodes[i]->Send(keys[j].pubkey(),
                               B(std::to_string(i) + "->" + std::to_string(j) + "#" +
                                 std::to_string(m)))
                    .ok());
      }
    }
    CHECK(nodes[i]->Broadcast(B("all from " + std::to_string(i))) == 3);
  }
  REQUIRE(nodes[0]->Send(keys[3].pubkey(), B(big)).ok());
  REQUIRE(WaitFor([&] {
    for (int i = 0; i < 4; ++i) {
      if (inbox[i].Count() != 3 * 21 + (i == 3 ? 1 : 0)) return false;
    }
    return true;
  }));
  for (int j = 0; j < 4; ++j) {
    for (int i = 0; i < 4; ++i) {
      if (i == j) continue;
      std::vector<std::string> expect;
      for (int m = 0; m < 20; ++m) {
        expect.push_back(std::to_string(i) + "->" + std::to_string(j) + "#" + std::to_string(m));
      }
      expect.push_back("all from " + std::to_string(i));
      if (i == 0 && j == 3) expect.push_back(big);
      CHECK(inbox[j].From(keys[i].pubkey()) == expect);  // authenticated sender, in order
    }
  }
  for (auto& n : nodes) {
    auto s = n->stats();
    CHECK(s.rejected_bad_signature == 0);
    CHECK(s.rejected_replay == 0);
    CHECK(s.handshakes_failed == 0);
  }
  CHECK(nodes[0]->stats().handshakes_ok == 3);  // the smallest key dials all three
  MetricsRegistry registry;
  RegisterPeerMetrics(registry, *nodes[3]);
  std::string text = registry.Render();
  CHECK(text.find("\nfedledger_peers_connected 3\n") != std::string::npos);
  CHECK(text.find("\nfedledger_peer_messages_received_total 64\n") != std::string::npos);
  CHECK(text.find("\nfedledger_peer_messages_rejected_total{reason=\"replay\"} 0\n") !=
        std::string::npos);
  CHECK(text.find("# TYPE fedledger_peer_handshakes_total counter\n"
                  "fedledger_peer_handshakes_total{result=\"ok\"} 3\n") != std::string::npos);
  for (auto& n : nodes) n->Stop();
}

TEST_CASE("peer network: a key not in the peer list, or another chain, is refused", "[peer]") {
  testing::LogCapture logs;
  // keys[0] < keys[1] < keys[2]: the outsider (keys[0]) dials the target (keys[2]).
  auto keys = SortedKeys("outsider-", 3);
  const SecretKey& outsider = keys[0];
  const SecretKey& member = keys[1];
  const SecretKey& target = keys[2];
  uint16_t target_port = testing::FreePort();
  Inbox ti, oi, mi;
  auto t = MakeNode(target, target_port,
                    {{member.pubkey(), {"127.0.0.1", testing::FreePort()}}}, ti, logs);
  auto o = MakeNode(outsider, testing::FreePort(),
                    {{target.pubkey(), {"127.0.0.1", target_port}}}, oi, logs);
  REQUIRE(t->Start().ok());
  REQUIRE(o->Start().ok());
  REQUIRE(WaitFor([&] { return t->stats().handshakes_failed >= 1; }));
  REQUIRE(WaitFor([&] { return logs.Contains("reason=\"closed by peer (code 1008, reason: unknown peer key"); }));
  CHECK(logs.Contains("event=handshake_rejected dir=in"));
  CHECK(logs.Contains("reason=\"unknown peer key " + outsider.pubkey().Hex() + "\""));
  CHECK(t->ConnectedPeerCount() == 0);
  CHECK(o->ConnectedPeerCount() == 0);
  CHECK(o->stats().handshakes_ok == 0);
  o->Stop();

  // A listed member on another chain is refused too.
  auto m = MakeNode(member, testing::FreePort(), {{target.pubkey(), {"127.0.0.1", target_port}}},
                    mi, logs, [](PeerNetworkOptions& opt) { opt.chain_id = "other-chain"; });
  REQUIRE(m->Start().ok());
  REQUIRE(WaitFor([&] { return logs.Contains("chain id mismatch"); }));
  CHECK(t->ConnectedPeerCount() == 0);
  m->Stop();
  t->Stop();
  CHECK(ti.Count() == 0);
}

TEST_CASE("peer network: tampered, replayed and malformed frames are dropped and reported",
          "[peer]") {
  testing::LogCapture logs;
  auto keys = SortedKeys("tamper-", 2);
  const SecretKey& adv = keys[0];  // smaller: it is the one that dials
  const SecretKey& target = keys[1];
  Inbox ti;
  auto t = MakeNode(target, 0, {{adv.pubkey(), {"127.0.0.1", testing::FreePort()}}}, ti, logs,
                    [](PeerNetworkOptions& o) { o.max_invalid_messages = 5; });
  REQUIRE(t->Start().ok());

  RawPeer raw;
  REQUIRE(raw.Connect(t->listen_port()));
  REQUIRE(raw.Handshake(adv, target.pubkey(), adv));
  REQUIRE(WaitFor([&] { return t->IsConnected(adv.pubkey()); }));

  Bytes m1 = raw.SignedData(adv, 1, B("m1"));
  REQUIRE(raw.Write(m1));
  REQUIRE(raw.Write(m1));  // replay
  Bytes tampered = raw.SignedData(adv, 2, B("m2"));
  tampered[1 + 8 + 1] ^= 0x01;  // first payload byte: "m2" -> "l2"
  REQUIRE(raw.Write(tampered));
  REQUIRE(raw.Write(Bytes{0x10, 0x01}));  // truncated DATA
  REQUIRE(raw.Write(raw.SignedData(adv, 2, B("m2"))));
  REQUIRE(raw.Write(raw.SignedData(adv, 5, B("m5"))));  // a gap is allowed, and logged
  REQUIRE(raw.Write(raw.SignedData(adv, 4, B("m4"))));  // older than 5: reordered

  REQUIRE(WaitFor([&] { return t->stats().rejected_replay == 2; }));
  auto s = t->stats();
  CHECK(s.rejected_bad_signature == 1);
  CHECK(s.rejected_malformed == 1);
  CHECK(s.messages_received == 3);
  CHECK(ti.From(adv.pubkey()) == std::vector<std::string>{"m1", "m2", "m5"});
  CHECK(logs.Contains("reason=\"replayed or reordered sequence number 1 (last accepted 1)\""));
  CHECK(logs.Contains("reason=\"bad message signature (seq 2)\""));
  CHECK(logs.Contains("event=sequence_gap"));

  // The node's own frames to us verify under its key, for this link, from seq 1.
  REQUIRE(t->Send(adv.pubkey(), B("hello adversary")).ok());
  auto f = raw.Read();
  REQUIRE(f);
  auto d = wire::DecodeData(*f, 1 << 20);
  REQUIRE(d.ok());
  CHECK(d->seq == 1);
  CHECK(S(Bytes(d->payload.begin(), d->payload.end())) == "hello adversary");
  CHECK(VerifySignature(target.pubkey(),
                        wire::MessageDigest(kChain, target.pubkey(), adv.pubkey(), raw.link_id(),
                                            1, d->payload),
                        d->sig));

  // A frame signed for this link does not verify on another link (link id binding).
  RawPeer raw2;
  REQUIRE(raw2.Connect(t->listen_port()));
  REQUIRE(raw2.Handshake(adv, target.pubkey(), adv));  // replaces the first link
  REQUIRE(raw2.Write(raw.SignedData(adv, 7, B("old link"))));
  REQUIRE(WaitFor([&] { return t->stats().rejected_bad_signature == 2; }));

  // Past max_invalid_messages the link is closed.
  for (int i = 0; i < 6; ++i) REQUIRE(raw2.Write(Bytes{0x42}));
  CHECK(!raw2.Read());
  REQUIRE(WaitFor([&] { return !t->IsConnected(adv.pubkey()); }));
  CHECK(logs.Contains("too many invalid messages"));
  CHECK(ti.From(adv.pubkey()).size() == 3);
  t->Stop();
}

TEST_CASE("peer network: batch frames are verified once and delivered in order, bad ones "
          "deliver nothing",
          "[peer]") {
  testing::LogCapture logs;
  auto keys = SortedKeys("batch-", 2);
  const SecretKey& adv = keys[0];  // smaller: it is the one that dials
  const SecretKey& target = keys[1];
  Inbox ti;
  auto t = MakeNode(target, 0, {{adv.pubkey(), {"127.0.0.1", testing::FreePort()}}}, ti, logs,
                    [](PeerNetworkOptions& o) { o.max_invalid_messages = 10; });
  // Queued before the link exists: they leave together, in one signed BATCH frame.
  REQUIRE(t->Send(adv.pubkey(), B("q1")).ok());
  REQUIRE(t->Send(adv.pubkey(), B("q2")).ok());
  REQUIRE(t->Send(adv.pubkey(), B("q3")).ok());
  REQUIRE(t->Start().ok());

  RawPeer raw;
  REQUIRE(raw.Connect(t->listen_port()));
  REQUIRE(raw.Handshake(adv, target.pubkey(), adv));
  REQUIRE(WaitFor([&] { return t->IsConnected(adv.pubkey()); }));

  auto f = raw.Read();
  REQUIRE(f);
  REQUIRE(*wire::PeekType(*f) == wire::FrameType::kBatch);
  auto out = wire::DecodeBatch(*f, 1 << 20);
  REQUIRE(out.ok());
  CHECK(out->seq == 1);
  REQUIRE(out->payloads.size() == 3);
  CHECK(S(Bytes(out->payloads[2].begin(), out->payloads[2].end())) == "q3");
  CHECK(VerifySignature(target.pubkey(),
                        wire::BatchDigest(kChain, target.pubkey(), adv.pubkey(), raw.link_id(), 1,
                                          out->body),
                        out->sig));
  // Not valid as a DATA signature over the same bytes (separate tag).
  CHECK(!VerifySignature(target.pubkey(),
                         wire::MessageDigest(kChain, target.pubkey(), adv.pubkey(), raw.link_id(),
                                             1, out->body),
                         out->sig));
  REQUIRE(WaitFor([&] { return t->stats().frames_sent == 1; }));
  CHECK(t->stats().messages_sent == 3);

  // A good batch: one frame, three messages, in order.
  REQUIRE(raw.Write(raw.SignedBatch(adv, 1, {B("a1"), B("a2"), B("a3")})));
  REQUIRE(WaitFor([&] { return ti.Count() == 3; }));
  CHECK(ti.From(adv.pubkey()) == std::vector<std::string>{"a1", "a2", "a3"});

  // Tampered payload: the one signature fails, none of its messages is delivered.
  Bytes tampered = raw.SignedBatch(adv, 2, {B("b1"), B("b2")});
  tampered[1 + 8 + 1 + 1] ^= 0x01;  // type, seq, count, first length: "b1" -> "c1"
  REQUIRE(raw.Write(tampered));
  // Signed as DATA over the batch body: wrong tag, refused.
  {
    Bytes d1 = B("d1"), d2 = B("d2");
    std::vector<ByteView> views = {ByteView(d1), ByteView(d2)};
    Bytes body = wire::EncodeBatchBody(views);
    Signature sig = adv.Sign(wire::MessageDigest(kChain, adv.pubkey(), target.pubkey(),
                                                 raw.link_id(), 3, body));
    REQUIRE(raw.Write(wire::EncodeBatch(3, body, sig)));
  }
  // Malformed: one message in a batch, a count past the end, trailing bytes.
  {
    Writer w;
    w.U8(0x11);
    w.U64(4);
    w.Varint(1);
    w.VarBytes(B("e1"));
    w.Raw(ByteView(Signature{}.data(), 64));
    REQUIRE(raw.Write(std::move(w).Take()));
  }
  {
    Writer w;
    w.U8(0x11);
    w.U64(5);
    w.Varint(3);
    w.VarBytes(B("f1"));
    w.VarBytes(B("f2"));
    REQUIRE(raw.Write(std::move(w).Take()));
  }
  Bytes trailing = raw.SignedBatch(adv, 6, {B("g1"), B("g2")});
  trailing.push_back(0);
  REQUIRE(raw.Write(trailing));
  // Replay of the good batch.
  REQUIRE(raw.Write(raw.SignedBatch(adv, 1, {B("a1"), B("a2"), B("a3")})));
  // And the link still works afterwards, with DATA and BATCH mixed.
  REQUIRE(raw.Write(raw.SignedData(adv, 7, B("h1"))));
  REQUIRE(raw.Write(raw.SignedBatch(adv, 8, {B("i1"), B("i2")})));
  REQUIRE(WaitFor([&] { return ti.Count() == 6; }));

  auto s = t->stats();
  CHECK(s.rejected_bad_signature == 2);
  CHECK(s.rejected_malformed == 3);
  CHECK(s.rejected_replay == 1);
  CHECK(s.messages_received == 6);
  CHECK(s.frames_received == 3);
  CHECK(ti.From(adv.pubkey()) ==
        std::vector<std::string>{"a1", "a2", "a3", "h1", "i1", "i2"});
  CHECK(logs.Contains("reason=\"bad batch signature (seq 2)\""));
  CHECK(logs.Contains("reason=\"bad batch signature (seq 3)\""));
  CHECK(logs.Contains("malformed batch frame: batch messages: 1 (a BATCH holds at least 2"));
  CHECK(logs.Contains("reason=\"replayed or reordered sequence number 1 (last accepted 1)\""));
  t->Stop();
}

TEST_CASE("peer network: self-signed messages travel in SELF frames, marked for the handler",
          "[peer]") {
  testing::LogCapture logs;
  auto keys = SortedKeys("self-", 2);
  const SecretKey& adv = keys[0];  // smaller: it is the one that dials
  const SecretKey& target = keys[1];
  Inbox ti;
  auto t = MakeNode(target, 0, {{adv.pubkey(), {"127.0.0.1", testing::FreePort()}}}, ti, logs);
  // Queued together before the link exists. Only self-signed ones: one SELF frame.
  std::vector<PeerNetwork::Outgoing> first;
  first.push_back({adv.pubkey(), B("v1"), true});
  first.push_back({std::nullopt, B("v2"), true});
  CHECK(t->SendAll(std::move(first)) == 0);
  REQUIRE(t->Start().ok());

  RawPeer raw;
  REQUIRE(raw.Connect(t->listen_port()));
  REQUIRE(raw.Handshake(adv, target.pubkey(), adv));
  auto f = raw.Read();
  REQUIRE(f);
  REQUIRE(*wire::PeekType(*f) == wire::FrameType::kSelf);
  auto out = wire::DecodeSelfSigned(*f, 1 << 20);
  REQUIRE(out.ok());
  CHECK(out->seq == 1);
  REQUIRE(out->payloads.size() == 2);
  CHECK(S(Bytes(out->payloads[1].begin(), out->payloads[1].end())) == "v2");
  REQUIRE(WaitFor([&] { return t->stats().self_frames_sent == 1; }));

  // A self-signed message queued with one that is not: the frame is signed, as a BATCH.
  std::vector<PeerNetwork::Outgoing> mixed;
  mixed.push_back({adv.pubkey(), B("v3"), true});
  mixed.push_back({adv.pubkey(), B("e1"), false});
  // A message for a peer we do not know is not queued, and counted.
  mixed.push_back({SecretKey::FromSeed("stranger").pubkey(), B("x"), true});
  CHECK(t->SendAll(std::move(mixed)) == 1);
  f = raw.Read();
  REQUIRE(f);
  REQUIRE(*wire::PeekType(*f) == wire::FrameType::kBatch);
  auto batch = wire::DecodeBatch(*f, 1 << 20);
  REQUIRE(batch.ok());
  CHECK(batch->seq == 2);
  CHECK(VerifySignature(target.pubkey(),
                        wire::BatchDigest(kChain, target.pubkey(), adv.pubkey(), raw.link_id(), 2,
                                          batch->body),
                        batch->sig));
  CHECK(t->stats().self_frames_sent == 1);

  // Received: a SELF frame is delivered, each payload marked self-signed; signed frames are not.
  Bytes s1 = B("s1"), s2 = B("s2");
  REQUIRE(raw.Write(wire::EncodeSelfSigned(1, {ByteView(s1), ByteView(s2)})));
  REQUIRE(raw.Write(raw.SignedData(adv, 2, B("d1"))));
  // Malformed (no payloads) and replayed SELF frames deliver nothing.
  {
    Writer w;
    w.U8(0x12);
    w.U64(3);
    w.Varint(0);
    REQUIRE(raw.Write(std::move(w).Take()));
  }
  REQUIRE(raw.Write(wire::EncodeSelfSigned(2, {ByteView(s1)})));
  REQUIRE(raw.Write(wire::EncodeSelfSigned(4, {ByteView(s2)})));
  REQUIRE(WaitFor([&] { return ti.Count() == 4; }));
  CHECK(ti.From(adv.pubkey()) == std::vector<std::string>{"s1", "s2", "d1", "s2"});
  {
    std::lock_guard<std::mutex> l(ti.mu);
    CHECK(ti.self_signed == std::vector<std::string>{"s1", "s2", "s2"});
  }
  auto s = t->stats();
  CHECK(s.self_frames_received == 2);
  CHECK(s.frames_received == 3);
  CHECK(s.rejected_malformed == 1);
  CHECK(s.rejected_replay == 1);
  CHECK(logs.Contains("malformed self-signed frame: self-signed messages: 0"));
  t->Stop();
}

TEST_CASE("peer network: handshake attacks are refused with a reason", "[peer]") {
  testing::LogCapture logs;
  auto keys = SortedKeys("hs-", 3);
  Inbox ti;
  // target is keys[1]; keys[0] (smaller) and keys[2] (larger) are both listed.
  auto t = MakeNode(keys[1], 0,
                    {{keys[0].pubkey(), {"127.0.0.1", testing::FreePort()}},
                     {keys[2].pubkey(), {"127.0.0.1", testing::FreePort()}}},
                    ti, logs, [](PeerNetworkOptions& o) { o.backoff_initial = 5s; });
  REQUIRE(t->Start().ok());

  SECTION("AUTH signed by another key") {
    RawPeer raw;
    REQUIRE(raw.Connect(t->listen_port()));
    SecretKey imposter = SecretKey::FromSeed("imposter");
    CHECK(!raw.Handshake(keys[0], keys[1].pubkey(), imposter));
    CHECK(raw.close_reason() == "bad handshake signature from client");
  }
  SECTION("the larger key dials") {
    RawPeer raw;
    REQUIRE(raw.Connect(t->listen_port()));
    CHECK(!raw.Handshake(keys[2], keys[1].pubkey(), keys[2]));
    CHECK(raw.close_reason() == "wrong dial direction: the peer with the smaller key dials");
  }
  SECTION("a silent client is dropped after the handshake timeout") {
    t->Stop();
    t = MakeNode(keys[1], 0, {}, ti, logs, [](PeerNetworkOptions& o) {
      o.handshake_timeout = 200ms;
    });
    REQUIRE(t->Start().ok());
    RawPeer raw;
    REQUIRE(raw.Connect(t->listen_port()));
    CHECK(!raw.Read(3s));  // closed by the node, not by our deadline
    CHECK(logs.Contains("handshake timed out"));
  }
  CHECK(t->ConnectedPeerCount() == 0);
  CHECK(ti.Count() == 0);
  t->Stop();
}

TEST_CASE("peer network: a restarted peer is redialled with backoff", "[peer]") {
  testing::LogCapture logs;
  auto keys = SortedKeys("restart-", 2);  // keys[0] dials keys[1]
  std::vector<PeerAddress> peers = {{keys[0].pubkey(), {"127.0.0.1", testing::FreePort()}},
                                    {keys[1].pubkey(), {"127.0.0.1", testing::FreePort()}}};
  Inbox ia, ib, ib2, ia2;
  auto a = MakeNode(keys[0], peers[0].address.port, peers, ia, logs);
  auto b = MakeNode(keys[1], peers[1].address.port, peers, ib, logs);
  REQUIRE(a->Start().ok());
  REQUIRE(b->Start().ok());
  REQUIRE(WaitFor([&] { return a->ConnectedPeerCount() == 1 && b->ConnectedPeerCount() == 1; }));
  REQUIRE(a->Send(keys[1].pubkey(), B("before")).ok());
  REQUIRE(WaitFor([&] { return ib.Count() == 1; }));

  // The acceptor goes away: the dialer notices and keeps redialling, more slowly each time.
  b->Stop();
  b.reset();
  REQUIRE(WaitFor([&] { return a->ConnectedPeerCount() == 0; }));
  uint64_t attempts_before = a->stats().dial_attempts;
  std::this_thread::sleep_for(600ms);
  uint64_t attempts = a->stats().dial_attempts - attempts_before;
  // 20 ms doubling to a 200 ms cap with jitter 0.5 (delays 15, 30, 60, 120, 150, ...):
  // a handful of attempts in 600 ms, not hundreds.
  CHECK(attempts >= 3);
  CHECK(attempts <= 8);
  // Messages sent meanwhile wait in the queue.
  REQUIRE(a->Send(keys[1].pubkey(), B("while down")).ok());

  auto b2 = MakeNode(keys[1], peers[1].address.port, peers, ib2, logs);
  REQUIRE(b2->Start().ok());
  REQUIRE(WaitFor([&] { return a->ConnectedPeerCount() == 1 && b2->ConnectedPeerCount() == 1; }));
  REQUIRE(a->Send(keys[1].pubkey(), B("after")).ok());
  REQUIRE(b2->Send(keys[0].pubkey(), B("back")).ok());
  REQUIRE(WaitFor([&] { return ib2.Count() == 2 && ia.Count() == 1; }));
  CHECK(ib2.From(keys[0].pubkey()) == std::vector<std::string>{"while down", "after"});
  CHECK(ia.From(keys[1].pubkey()) == std::vector<std::string>{"back"});
  {
    std::lock_guard<std::mutex> l(ia.mu);
    std::vector<bool> ups;
    for (auto& [k, up] : ia.states) ups.push_back(up);
    CHECK(ups == std::vector<bool>{true, false, true});
  }

  // The dialer restarts: the acceptor takes the new link.
  a->Stop();
  a.reset();
  auto a2 = MakeNode(keys[0], peers[0].address.port, peers, ia2, logs);
  REQUIRE(a2->Start().ok());
  REQUIRE(WaitFor([&] { return a2->ConnectedPeerCount() == 1 && b2->ConnectedPeerCount() == 1; }));
  REQUIRE(b2->Send(keys[0].pubkey(), B("hi again")).ok());
  REQUIRE(WaitFor([&] { return ia2.Count() == 1; }));
  b2->Stop();
  a2->Stop();
}

TEST_CASE("peer network: bounded outbound queues refuse the newest message", "[peer]") {
  testing::LogCapture logs;
  auto keys = SortedKeys("queue-", 2);
  std::vector<PeerAddress> peers = {{keys[0].pubkey(), {"127.0.0.1", testing::FreePort()}},
                                    {keys[1].pubkey(), {"127.0.0.1", testing::FreePort()}}};
  Inbox ia, ib;
  auto a = MakeNode(keys[0], peers[0].address.port, peers, ia, logs, [](PeerNetworkOptions& o) {
    o.max_queue_messages = 3;
    o.max_queue_bytes = 1000;
    o.max_message_size = 4000;
  });
  REQUIRE(a->Start().ok());  // b is not running: everything queues

  const PubKey& b_key = keys[1].pubkey();
  REQUIRE(a->Send(b_key, B("q1")).ok());
  REQUIRE(a->Send(b_key, B("q2")).ok());
  Status bytes_full = a->Send(b_key, Bytes(2000, 'x'));  // within max_message_size, over bytes
  CHECK(bytes_full.code() == Status::Code::kResourceExhausted);
  REQUIRE(a->Send(b_key, B("q3")).ok());
  Status full = a->Send(b_key, B("q4"));
  CHECK(full.code() == Status::Code::kResourceExhausted);
  CHECK(full.message().find("is full (3 messages") != std::string::npos);
  CHECK(a->Broadcast(B("q5")) == 0);
  CHECK(a->QueuedMessages(b_key) == 3);
  CHECK(a->stats().dropped_queue_full == 3);

  CHECK(a->Send(b_key, Bytes(4001, 'x')).code() == Status::Code::kInvalidArgument);
  CHECK(a->Send(keys[0].pubkey(), B("self")).code() == Status::Code::kInvalidArgument);
  CHECK(a->Send(SecretKey::FromSeed("stranger").pubkey(), B("?")).code() ==
        Status::Code::kNotFound);

  auto b = MakeNode(keys[1], peers[1].address.port, peers, ib, logs);
  REQUIRE(b->Start().ok());
  REQUIRE(WaitFor([&] { return ib.Count() == 3; }));
  CHECK(ib.From(keys[0].pubkey()) == std::vector<std::string>{"q1", "q2", "q3"});
  CHECK(b->stats().frames_received == 1);  // the queued three in one signed BATCH
  CHECK(a->QueuedMessages(b_key) == 0);
  CHECK(a->Send(b_key, B("q6")).ok());
  REQUIRE(WaitFor([&] { return ib.Count() == 4; }));
  a->Stop();
  b->Stop();
  CHECK(a->Send(b_key, B("late")).code() == Status::Code::kFailedPrecondition);
}

TEST_CASE("peer network: options are validated", "[peer]") {
  testing::LogCapture logs;
  auto k = SecretKey::FromSeed("opts");
  PeerNetworkOptions o = BaseOptions(logs);
  o.chain_id = "bad chain";
  CHECK(PeerNetwork(k, o).Start().code() == Status::Code::kInvalidArgument);
  o = BaseOptions(logs);
  auto other = SecretKey::FromSeed("opts-other").pubkey();
  o.peers = {{other, {"127.0.0.1", 1}}, {other, {"127.0.0.1", 2}}};
  CHECK(PeerNetwork(k, o).Start().code() == Status::Code::kInvalidArgument);
  o = BaseOptions(logs);
  PubKey not_on_curve;
  not_on_curve.v.fill(0xff);
  o.peers = {{not_on_curve, {"127.0.0.1", 1}}};
  CHECK(PeerNetwork(k, o).Start().code() == Status::Code::kInvalidArgument);
}
