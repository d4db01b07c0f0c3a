#include "net/peer_wire.h"

#include <catch2/catch.hpp>

#include "ledger/crypto.h"

using namespace fedledger;
using namespace fedledger::net;

namespace {
Hash32 H(uint8_t b) {
  Hash32 h;
  h.v.fill(b);
  return h;
}
Signature Sig(uint8_t b) {
  Signature s;
  s.fill(b);
  return s;
}
}  // namespace

TEST_CASE("peer wire: frames round-trip and reject trailing bytes and wrong types", "[wire]") {
  wire::Hello hello{"fedledger-test", H(1), H(2)};
  Bytes hb = wire::EncodeHello(hello);
  CHECK(hb.size() == 1 + 1 + 1 + 14 + 32 + 32);
  auto h2 = wire::DecodeHello(hb);
  REQUIRE(h2.ok());
  CHECK(h2->chain_id == "fedledger-test");
  CHECK(h2->client_key == H(1));
  CHECK(h2->client_nonce == H(2));

  wire::Challenge ch{H(3), H(4), Sig(5)};
  auto c2 = wire::DecodeChallenge(wire::EncodeChallenge(ch));
  REQUIRE(c2.ok());
  CHECK(c2->server_key == H(3));
  CHECK(c2->server_sig == Sig(5));

  auto a2 = wire::DecodeAuth(wire::EncodeAuth({Sig(6)}));
  REQUIRE(a2.ok());
  CHECK(a2->client_sig == Sig(6));
  CHECK(wire::DecodeWelcome(wire::EncodeWelcome()).ok());

  Bytes payload = {1, 2, 3, 4, 5};
  Bytes db = wire::EncodeData(77, payload, Sig(7));
  auto d2 = wire::DecodeData(db, 1024);
  REQUIRE(d2.ok());
  CHECK(d2->seq == 77);
  CHECK(Bytes(d2->payload.begin(), d2->payload.end()) == payload);
  CHECK(d2->sig == Sig(7));

  // Trailing byte, wrong type, over-long payload, bad version, bad chain id.
  Bytes trailing = db;
  trailing.push_back(0);
  CHECK(!wire::DecodeData(trailing, 1024).ok());
  CHECK(!wire::DecodeData(hb, 1024).ok());
  CHECK(!wire::DecodeData(db, 4).ok());
  Bytes bad_version = hb;
  bad_version[1] = 2;
  auto bv = wire::DecodeHello(bad_version);
  REQUIRE(!bv.ok());
  CHECK(bv.status().message().find("version") != std::string::npos);
  CHECK(!wire::DecodeHello(wire::EncodeHello({"bad chain id", H(1), H(2)})).ok());
  CHECK(!wire::PeekType(Bytes{}).ok());
  CHECK(!wire::PeekType(Bytes{0x7f}).ok());
  CHECK(*wire::PeekType(db) == wire::FrameType::kData);
  CHECK(db.size() <= payload.size() + wire::kDataOverhead);
  CHECK(hb.size() <= wire::kMaxHandshakeFrame);
}

TEST_CASE("peer wire: digests separate roles and cover every field", "[wire]") {
  wire::HandshakeTranscript t{"chain-a", H(1), H(2), H(3), H(4)};
  Hash32 server = wire::HandshakeDigest(wire::HandshakeRole::kServer, t);
  Hash32 client = wire::HandshakeDigest(wire::HandshakeRole::kClient, t);
  CHECK(server != client);
  CHECK(wire::LinkId(t) != server);
  CHECK(wire::LinkId(t) != client);
  for (int field = 0; field < 5; ++field) {
    wire::HandshakeTranscript u = t;
    if (field == 0) u.chain_id = "chain-b";
    if (field == 1) u.client_key = H(9);
    if (field == 2) u.server_key = H(9);
    if (field == 3) u.client_nonce = H(9);
    if (field == 4) u.server_nonce = H(9);
    CHECK(wire::HandshakeDigest(wire::HandshakeRole::kServer, u) != server);
  }

  Bytes p = {1, 2, 3};
  Hash32 m = wire::MessageDigest("chain-a", H(1), H(2), H(3), 1, p);
  CHECK(wire::MessageDigest("chain-b", H(1), H(2), H(3), 1, p) != m);
  CHECK(wire::MessageDigest("chain-a", H(2), H(1), H(3), 1, p) != m);  // direction matters
  CHECK(wire::MessageDigest("chain-a", H(1), H(2), H(4), 1, p) != m);  // other link
  CHECK(wire::MessageDigest("chain-a", H(1), H(2), H(3), 2, p) != m);
  CHECK(wire::MessageDigest("chain-a", H(1), H(2), H(3), 1, Bytes{1, 2, 4}) != m);
  // The message tag differs from the handshake tag: a handshake signature is no message one.
  CHECK(TaggedHash(tags::kPeerMessage, Bytes{}) != TaggedHash(tags::kPeerHandshake, Bytes{}));
}
