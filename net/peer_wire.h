// Wire format of validator links (see docs/NETWORK.md for the full description).
//
// A link is a WebSocket connection to path kWebSocketPath carrying binary messages, each one
// frame := u8 type || body, encoded with ledger/encoding.h:
//   HELLO     0x01  u8 version(=3) || string<64> chain_id || hash client_key || hash client_nonce
//   CHALLENGE 0x02  hash server_key || hash server_nonce || raw64 server_sig
//   AUTH      0x03  raw64 client_sig
//   WELCOME   0x04  (empty)
//   DATA      0x10  u64 seq || bytes<max> payload || raw64 sig
//   BATCH     0x11  u64 seq || body || raw64 sig
//                   body := list<bytes<max> payload, kMaxBatchMessages> with 2 or more items
//   SELF      0x12  u64 seq || body      (body as in BATCH, with 1 or more items; no sig)
// The dialer (client) sends HELLO, the acceptor (server) answers CHALLENGE, the client AUTH,
// the server WELCOME; after that both sides send only DATA.
//
// Handshake signatures are BIP-340 over
//   TaggedHash(tags::kPeerHandshake, u8 role || string chain_id || hash client_key ||
//              hash server_key || hash client_nonce || hash server_nonce)
// with role 0x01 for the server's signature and 0x02 for the client's, so neither can be
// reflected back as the other. The link id is the same digest with role 0x03; it binds every
// DATA signature to this one link, so frames recorded on an earlier link never verify again.
//
// A DATA signature is BIP-340 by the sender's node key over
//   TaggedHash(tags::kPeerMessage, string chain_id || hash sender || hash receiver ||
//              hash link_id || u64 seq || hash SHA256(payload))
// A BATCH carries several queued messages under one signature, by the sender's node key over
//   TaggedHash(tags::kPeerBatch, string chain_id || hash sender || hash receiver ||
//              hash link_id || u64 seq || hash SHA256(body))
// (a separate tag, so a DATA signature never verifies as a BATCH one or the reverse). The
// receiver verifies it once and then delivers the payloads in order. The summed payload
// bytes of a BATCH (plus their length prefixes) never exceed the link's max message size.
// A SELF frame carries only messages that are signed by the sender's node key in their own
// right (the sender's own consensus votes and proposals), so it carries no second signature;
// its payloads are delivered marked as not authenticated by the link, and the application
// must check that each one is signed by the sending peer before acting on it.
// seq starts at 1 on each link and increases by one per DATA, BATCH or SELF frame in each
// direction.
//
// This header is Beast-free and exists so that the codec can be tested and so that tests can
// play a misbehaving peer. All functions are pure and thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "ledger/bytes.h"
#include "ledger/crypto.h"
#include "ledger/status.h"

namespace fedledger::net::wire {

// 2 added SELF frames, which a version-1 node would take for malformed ones; 3 signed
// ENTRY_BATCH messages (consensus/messages.h), which go out in SELF frames and which a
// version-2 node would not decode. The handshake refuses a peer of another version instead,
// naming both.
inline constexpr uint8_t kVersion = 3;
inline constexpr const char* kWebSocketPath = "/fedledger/peer/v1";
// Upper bound of a handshake frame (HELLO is the largest: 1+1+1+64+32+32).
inline constexpr size_t kMaxHandshakeFrame = 256;
// DATA overhead over the payload: type, seq, varint length (<= 10), signature.
inline constexpr size_t kDataOverhead = 1 + 8 + 10 + 64;
// At most this many messages in one BATCH frame.
inline constexpr size_t kMaxBatchMessages = 1024;
// BATCH overhead over its body: type, seq, signature.
inline constexpr size_t kBatchOverhead = 1 + 8 + 64;
// What one payload of `n` bytes adds to a BATCH body (its varint length prefix and itself).
size_t BatchItemSize(size_t n);

enum class FrameType : uint8_t {
  kHello = 0x01,
  kChallenge = 0x02,
  kAuth = 0x03,
  kWelcome = 0x04,
  kData = 0x10,
  kBatch = 0x11,
  kSelf = 0x12,
};

struct Hello {
  std::string chain_id;
  PubKey client_key;
  Hash32 client_nonce;
};
struct Challenge {
  PubKey server_key;
  Hash32 server_nonce;
  Signature server_sig{};
};
struct Auth {
  Signature client_sig{};
};
struct Data {
  uint64_t seq = 0;
  ByteView payload;  // points into the decoded frame
  Signature sig{};
};

struct Batch {
  uint64_t seq = 0;
  ByteView body;                  // the signed list encoding; points into the decoded frame
  std::vector<ByteView> payloads; // point into the decoded frame, in order
  Signature sig{};
};

struct SelfSigned {
  uint64_t seq = 0;
  std::vector<ByteView> payloads;  // point into the decoded frame, in order
};
// Everything both handshake signatures cover.
struct HandshakeTranscript {
  std::string chain_id;
  PubKey client_key;
  PubKey server_key;
  Hash32 client_nonce;
  Hash32 server_nonce;
};
enum class HandshakeRole : uint8_t { kServer = 0x01, kClient = 0x02, kLinkId = 0x03 };

Hash32 HandshakeDigest(HandshakeRole role, const HandshakeTranscript& t);
inline Hash32 LinkId(const HandshakeTranscript& t) {
  return HandshakeDigest(HandshakeRole::kLinkId, t);
}
Hash32 MessageDigest(std::string_view chain_id, const PubKey& sender, const PubKey& receiver,
                     const Hash32& link_id, uint64_t seq, ByteView payload);
// `body` is the BATCH body (EncodeBatchBody).
Hash32 BatchDigest(std::string_view chain_id, const PubKey& sender, const PubKey& receiver,
                   const Hash32& link_id, uint64_t seq, ByteView body);

Bytes EncodeHello(const Hello& m);
Bytes EncodeChallenge(const Challenge& m);
Bytes EncodeAuth(const Auth& m);
Bytes EncodeWelcome();
Bytes EncodeData(uint64_t seq, ByteView payload, const Signature& sig);
// REQUIRES: 2 <= payloads.size() <= kMaxBatchMessages.
Bytes EncodeBatchBody(const std::vector<ByteView>& payloads);
Bytes EncodeBatch(uint64_t seq, ByteView body, const Signature& sig);
// REQUIRES: 1 <= payloads.size() <= kMaxBatchMessages.
Bytes EncodeSelfSigned(uint64_t seq, const std::vector<ByteView>& payloads);

// The type byte of a frame; InvalidArgument for an empty frame or an unknown type.
Result<FrameType> PeekType(ByteView frame);
// Decoders take the whole frame (type byte included) and reject a wrong type, a short
// frame, trailing bytes and (HELLO) an unsupported version or a malformed chain id.
Result<Hello> DecodeHello(ByteView frame);
Result<Challenge> DecodeChallenge(ByteView frame);
Result<Auth> DecodeAuth(ByteView frame);
Status DecodeWelcome(ByteView frame);
Result<Data> DecodeData(ByteView frame, size_t max_payload);
// Also rejects fewer than 2 or more than kMaxBatchMessages payloads, a payload over
// `max_payload`, and a body over `max_payload` (the whole batch obeys the message limit).
Result<Batch> DecodeBatch(ByteView frame, size_t max_payload);
// Also rejects no payloads or more than kMaxBatchMessages, a payload over `max_payload`, and
// a body over `max_payload`.
Result<SelfSigned> DecodeSelfSigned(ByteView frame, size_t max_payload);

}  // namespace fedledger::net::wire
