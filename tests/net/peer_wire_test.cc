#include "net/peer_wire.h"

#include <catch2/catch.hpp>

#include "ledger/crypto.h"
#include "ledger/encoding.h"

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
  bad_version[1] = 2;  // before signed entry batches
  auto bv = wire::DecodeHello(bad_version);
  REQUIRE(!bv.ok());
  CHECK(bv.status().message() ==
        "unsupported peer protocol version 2 (this node speaks version 3)");
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

TEST_CASE("peer wire: BATCH frames round-trip, malformed ones are rejected with the field",
          "[wire]") {
  Bytes p1 = {1, 2, 3}, p2 = {}, p3(200, 7);
  std::vector<ByteView> views = {ByteView(p1), ByteView(p2), ByteView(p3)};
  Bytes body = wire::EncodeBatchBody(views);
  CHECK(body.size() == 1 + wire::BatchItemSize(3) + wire::BatchItemSize(0) +
                           wire::BatchItemSize(200));
  CHECK(wire::BatchItemSize(200) == 202);
  Bytes frame = wire::EncodeBatch(9, body, Sig(8));
  CHECK(frame.size() == body.size() + wire::kBatchOverhead);
  CHECK(*wire::PeekType(frame) == wire::FrameType::kBatch);
  auto b = wire::DecodeBatch(frame, 1024);
  REQUIRE(b.ok());
  CHECK(b->seq == 9);
  CHECK(b->sig == Sig(8));
  CHECK(Bytes(b->body.begin(), b->body.end()) == body);
  REQUIRE(b->payloads.size() == 3);
  CHECK(Bytes(b->payloads[0].begin(), b->payloads[0].end()) == p1);
  CHECK(b->payloads[1].empty());
  CHECK(Bytes(b->payloads[2].begin(), b->payloads[2].end()) == p3);

  auto reason = [](const Bytes& f, size_t max) {
    auto r = wire::DecodeBatch(f, max);
    REQUIRE(!r.ok());
    return r.status().message();
  };
  // One payload over the limit; the body over the limit although each payload fits.
  CHECK(reason(frame, 100).find("batch payload") != std::string::npos);
  CHECK(reason(frame, 201).find("batch body") != std::string::npos);
  // Trailing byte, truncated signature, DATA decoded as BATCH and the reverse.
  Bytes trailing = frame;
  trailing.push_back(0);
  CHECK(reason(trailing, 1024).find("trailing") != std::string::npos);
  Bytes cut(frame.begin(), frame.end() - 1);
  CHECK(!wire::DecodeBatch(cut, 1024).ok());
  CHECK(!wire::DecodeBatch(wire::EncodeData(1, p1, Sig(1)), 1024).ok());
  CHECK(!wire::DecodeData(frame, 1024).ok());
  // Counts: 0 and 1 are not batches; above kMaxBatchMessages is refused before reading.
  for (uint64_t count : {uint64_t{0}, uint64_t{1}, uint64_t{wire::kMaxBatchMessages + 1}}) {
    Writer w;
    w.U8(0x11);
    w.U64(1);
    w.Varint(count);
    for (uint64_t i = 0; i < std::min<uint64_t>(count, 2); ++i) w.VarBytes(p1);
    w.Raw(ByteView(Sig(1).data(), 64));
    CHECK(reason(std::move(w).Take(), 1024).find("batch messages") != std::string::npos);
  }
  // A count larger than the items present.
  Writer w;
  w.U8(0x11);
  w.U64(1);
  w.Varint(3);
  w.VarBytes(p1);
  w.VarBytes(p1);
  CHECK(!wire::DecodeBatch(std::move(w).Take(), 1024).ok());

  // The batch digest is bound to every field and differs from the DATA digest.
  Hash32 d = wire::BatchDigest("c", H(1), H(2), H(3), 9, body);
  CHECK(d != wire::MessageDigest("c", H(1), H(2), H(3), 9, body));
  CHECK(d != wire::BatchDigest("c", H(2), H(1), H(3), 9, body));
  CHECK(d != wire::BatchDigest("c", H(1), H(2), H(4), 9, body));
  CHECK(d != wire::BatchDigest("c", H(1), H(2), H(3), 10, body));
  CHECK(d != wire::BatchDigest("d", H(1), H(2), H(3), 9, body));
}

TEST_CASE("peer wire: SELF frames round-trip one or more payloads and carry no signature",
          "[wire]") {
  Bytes p1 = {1, 2, 3}, p2(300, 9);
  Bytes one = wire::EncodeSelfSigned(4, {ByteView(p1)});
  CHECK(*wire::PeekType(one) == wire::FrameType::kSelf);
  CHECK(one.size() == 1 + 8 + 1 + wire::BatchItemSize(3));  // no 64-byte signature
  auto a = wire::DecodeSelfSigned(one, 1024);
  REQUIRE(a.ok());
  CHECK(a->seq == 4);
  REQUIRE(a->payloads.size() == 1);
  CHECK(Bytes(a->payloads[0].begin(), a->payloads[0].end()) == p1);

  Bytes two = wire::EncodeSelfSigned(5, {ByteView(p1), ByteView(p2)});
  auto b = wire::DecodeSelfSigned(two, 1024);
  REQUIRE(b.ok());
  REQUIRE(b->payloads.size() == 2);
  CHECK(Bytes(b->payloads[1].begin(), b->payloads[1].end()) == p2);

  auto reason = [](const Bytes& f, size_t max) {
    auto r = wire::DecodeSelfSigned(f, max);
    REQUIRE(!r.ok());
    return r.status().message();
  };
  CHECK(reason(two, 200).find("self-signed payload") != std::string::npos);
  CHECK(reason(two, 305).find("self-signed body") != std::string::npos);
  Bytes trailing = one;
  trailing.push_back(0);
  CHECK(reason(trailing, 1024).find("trailing") != std::string::npos);
  Writer w;
  w.U8(0x12);
  w.U64(1);
  w.Varint(0);
  CHECK(reason(std::move(w).Take(), 1024).find("messages: 0") != std::string::npos);
  // Not readable as the signed kinds, nor they as SELF.
  CHECK(!wire::DecodeBatch(two, 1024).ok());
  CHECK(!wire::DecodeSelfSigned(wire::EncodeData(1, p1, Sig(1)), 1024).ok());
}
