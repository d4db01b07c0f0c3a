#include "net/peer_wire.h"

#include <cstring>

#include "ledger/encoding.h"

namespace fedledger::net::wire {
namespace {

Status ExpectType(Reader& r, FrameType want, const char* name) {
  FL_ASSIGN(uint8_t t, r.U8("frame type"));
  if (t != static_cast<uint8_t>(want)) {
    return Status::InvalidArgument(std::string("expected ") + name + " frame, got type " +
                                   std::to_string(t));
  }
  return Status::Ok();
}

Result<Signature> ReadSig(Reader& r, const char* field) {
  FL_ASSIGN(ByteView raw, r.Raw(field, 64));
  Signature s;
  std::memcpy(s.data(), raw.data(), 64);
  return s;
}

}  // namespace

Hash32 HandshakeDigest(HandshakeRole role, const HandshakeTranscript& t) {
  Writer w(1 + 1 + t.chain_id.size() + 4 * 32);
  w.U8(static_cast<uint8_t>(role));
  w.String(t.chain_id);
  w.Hash(t.client_key);
  w.Hash(t.server_key);
  w.Hash(t.client_nonce);
  w.Hash(t.server_nonce);
  return TaggedHash(tags::kPeerHandshake, w.bytes());
}

namespace {

// What a link signs: the tag names what `content` is (one message, or a batch body).
Hash32 LinkDigest(std::string_view tag, std::string_view chain_id, const PubKey& sender,
                  const PubKey& receiver, const Hash32& link_id, uint64_t seq, ByteView content) {
  Writer w(1 + chain_id.size() + 4 * 32 + 8);
  w.String(chain_id);
  w.Hash(sender);
  w.Hash(receiver);
  w.Hash(link_id);
  w.U64(seq);
  w.Hash(Sha256(content));
  return TaggedHash(tag, w.bytes());
}

}  // namespace

Hash32 MessageDigest(std::string_view chain_id, const PubKey& sender, const PubKey& receiver,
                     const Hash32& link_id, uint64_t seq, ByteView payload) {
  return LinkDigest(tags::kPeerMessage, chain_id, sender, receiver, link_id, seq, payload);
}

Hash32 BatchDigest(std::string_view chain_id, const PubKey& sender, const PubKey& receiver,
                   const Hash32& link_id, uint64_t seq, ByteView body) {
  return LinkDigest(tags::kPeerBatch, chain_id, sender, receiver, link_id, seq, body);
}

size_t BatchItemSize(size_t n) {
  size_t prefix = 1;
  for (uint64_t v = n; v >= 0x80; v >>= 7) ++prefix;
  return prefix + n;
}

Bytes EncodeHello(const Hello& m) {
  Writer w;
  w.U8(static_cast<uint8_t>(FrameType::kHello));
  w.U8(kVersion);
  w.String(m.chain_id);
  w.Hash(m.client_key);
  w.Hash(m.client_nonce);
  return std::move(w).Take();
}

Bytes EncodeChallenge(const Challenge& m) {
  Writer w;
  w.U8(static_cast<uint8_t>(FrameType::kChallenge));
  w.Hash(m.server_key);
  w.Hash(m.server_nonce);
  w.Raw(ByteView(m.server_sig.data(), m.server_sig.size()));
  return std::move(w).Take();
}

Bytes EncodeAuth(const Auth& m) {
  Writer w;
  w.U8(static_cast<uint8_t>(FrameType::kAuth));
  w.Raw(ByteView(m.client_sig.data(), m.client_sig.size()));
  return std::move(w).Take();
}

Bytes EncodeWelcome() { return Bytes{static_cast<uint8_t>(FrameType::kWelcome)}; }

Bytes EncodeData(uint64_t seq, ByteView payload, const Signature& sig) {
  Writer w(payload.size() + kDataOverhead);
  w.U8(static_cast<uint8_t>(FrameType::kData));
  w.U64(seq);
  w.VarBytes(payload);
  w.Raw(ByteView(sig.data(), sig.size()));
  return std::move(w).Take();
}

Bytes EncodeBatchBody(const std::vector<ByteView>& payloads) {
  size_t n = 10;
  for (ByteView p : payloads) n += BatchItemSize(p.size());
  Writer w(n);
  w.Varint(payloads.size());
  for (ByteView p : payloads) w.VarBytes(p);
  return std::move(w).Take();
}

Bytes EncodeBatch(uint64_t seq, ByteView body, const Signature& sig) {
  Writer w(body.size() + kBatchOverhead);
  w.U8(static_cast<uint8_t>(FrameType::kBatch));
  w.U64(seq);
  w.Raw(body);
  w.Raw(ByteView(sig.data(), sig.size()));
  return std::move(w).Take();
}

Bytes EncodeSelfSigned(uint64_t seq, const std::vector<ByteView>& payloads) {
  size_t n = 1 + 8 + 10;
  for (ByteView p : payloads) n += BatchItemSize(p.size());
  Writer w(n);
  w.U8(static_cast<uint8_t>(FrameType::kSelf));
  w.U64(seq);
  w.Varint(payloads.size());
  for (ByteView p : payloads) w.VarBytes(p);
  return std::move(w).Take();
}

Result<FrameType> PeekType(ByteView frame) {
  if (frame.empty()) return Status::InvalidArgument("empty frame");
  switch (static_cast<FrameType>(frame[0])) {
    case FrameType::kHello:
    case FrameType::kChallenge:
    case FrameType::kAuth:
    case FrameType::kWelcome:
    case FrameType::kData:
    case FrameType::kBatch:
    case FrameType::kSelf:
      return static_cast<FrameType>(frame[0]);
  }
  return Status::InvalidArgument("unknown frame type " + std::to_string(frame[0]));
}

Result<Hello> DecodeHello(ByteView frame) {
  Reader r(frame);
  FL_TRY(ExpectType(r, FrameType::kHello, "HELLO"));
  FL_ASSIGN(uint8_t version, r.U8("version"));
  if (version != kVersion) {
    return Status::InvalidArgument("unsupported peer protocol version " +
                                   std::to_string(version) + " (this node speaks version " +
                                   std::to_string(kVersion) + ")");
  }
  Hello m;
  FL_ASSIGN(m.chain_id, r.String("chain_id", 64));
  FL_TRY(ValidateIdentifier("chain_id", m.chain_id));
  FL_ASSIGN(m.client_key, r.Hash("client_key"));
  FL_ASSIGN(m.client_nonce, r.Hash("client_nonce"));
  FL_TRY(r.ExpectEnd("HELLO"));
  return m;
}

Result<Challenge> DecodeChallenge(ByteView frame) {
  Reader r(frame);
  FL_TRY(ExpectType(r, FrameType::kChallenge, "CHALLENGE"));
  Challenge m;
  FL_ASSIGN(m.server_key, r.Hash("server_key"));
  FL_ASSIGN(m.server_nonce, r.Hash("server_nonce"));
  FL_ASSIGN(m.server_sig, ReadSig(r, "server_sig"));
  FL_TRY(r.ExpectEnd("CHALLENGE"));
  return m;
}

Result<Auth> DecodeAuth(ByteView frame) {
  Reader r(frame);
  FL_TRY(ExpectType(r, FrameType::kAuth, "AUTH"));
  Auth m;
  FL_ASSIGN(m.client_sig, ReadSig(r, "client_sig"));
  FL_TRY(r.ExpectEnd("AUTH"));
  return m;
}

Status DecodeWelcome(ByteView frame) {
  Reader r(frame);
  FL_TRY(ExpectType(r, FrameType::kWelcome, "WELCOME"));
  return r.ExpectEnd("WELCOME");
}

Result<Data> DecodeData(ByteView frame, size_t max_payload) {
  Reader r(frame);
  FL_TRY(ExpectType(r, FrameType::kData, "DATA"));
  Data m;
  FL_ASSIGN(m.seq, r.U64("seq"));
  FL_ASSIGN(m.payload, r.VarBytes("payload", max_payload));
  FL_ASSIGN(m.sig, ReadSig(r, "sig"));
  FL_TRY(r.ExpectEnd("DATA"));
  return m;
}

}  // namespace fedledger::net::wire

namespace fedledger::net::wire {

namespace {

// The payload list of BATCH and SELF frames: `count` in [min_count, kMaxBatchMessages], each
// payload and the whole list within `max_payload`. Fields are named "<what> messages",
// "<what> payload" and "<what> body"; `too_few` explains a count below min_count.
Result<std::vector<ByteView>> ReadPayloadList(Reader& r, ByteView frame, const std::string& what,
                                              uint64_t min_count, const std::string& too_few,
                                              size_t max_payload, ByteView* body) {
  size_t body_start = r.offset();
  FL_ASSIGN(uint64_t count, r.Count((what + " messages").c_str(), kMaxBatchMessages));
  if (count < min_count) {
    return Status::InvalidArgument(what + " messages: " + std::to_string(count) + too_few);
  }
  std::vector<ByteView> payloads;
  payloads.reserve(count);
  std::string field = what + " payload";
  for (uint64_t i = 0; i < count; ++i) {
    FL_ASSIGN(ByteView p, r.VarBytes(field.c_str(), max_payload));
    payloads.push_back(p);
  }
  size_t body_end = r.offset();
  if (body_end - body_start > max_payload) {
    return Status::InvalidArgument(what + " body: " + std::to_string(body_end - body_start) +
                                   " bytes exceed the message limit " +
                                   std::to_string(max_payload));
  }
  *body = frame.subspan(body_start, body_end - body_start);
  return payloads;
}

}  // namespace

Result<Batch> DecodeBatch(ByteView frame, size_t max_payload) {
  Reader r(frame);
  FL_TRY(ExpectType(r, FrameType::kBatch, "BATCH"));
  Batch m;
  FL_ASSIGN(m.seq, r.U64("seq"));
  FL_ASSIGN(m.payloads,
            ReadPayloadList(r, frame, "batch", 2,
                            " (a BATCH holds at least 2; one message travels as DATA)",
                            max_payload, &m.body));
  FL_ASSIGN(m.sig, ReadSig(r, "sig"));
  FL_TRY(r.ExpectEnd("BATCH"));
  return m;
}

Result<SelfSigned> DecodeSelfSigned(ByteView frame, size_t max_payload) {
  Reader r(frame);
  FL_TRY(ExpectType(r, FrameType::kSelf, "SELF"));
  SelfSigned m;
  FL_ASSIGN(m.seq, r.U64("seq"));
  ByteView body;
  FL_ASSIGN(m.payloads, ReadPayloadList(r, frame, "self-signed", 1, " (a SELF frame holds at least 1)",
                                        max_payload, &body));
  FL_TRY(r.ExpectEnd("SELF"));
  return m;
}

}  // namespace fedledger::net::wire
