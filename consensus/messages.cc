#include "consensus/messages.h"

#include <algorithm>

#include "ledger/encoding.h"

namespace fedledger::consensus {

namespace {

constexpr uint8_t kMessageVersion = 1;

void EncodeBody(Writer& w, const Proposal& p) {
  w.String(p.chain_id);
  w.U64(p.height);
  w.U32(p.round);
  w.U32(p.pol_round);
  w.VarBytes(p.block.Encode());
  w.Raw(ByteView(p.sig.data(), p.sig.size()));
  w.Varint(p.pol_votes.size());
  for (const Vote& v : p.pol_votes) w.VarBytes(v.Encode());
}
void EncodeBody(Writer& w, const Vote& v) { w.Raw(v.Encode()); }
void EncodeBody(Writer& w, const SyncRequest& r) {
  w.U64(r.from_height);
  w.U32(r.max_blocks);
}
void EncodeBody(Writer& w, const SyncResponse& r) {
  w.Varint(r.blocks.size());
  for (const CommittedBlock& cb : r.blocks) {
    w.VarBytes(cb.block.Encode());
    w.VarBytes(cb.cert.Encode());
  }
}
void EncodeBody(Writer& w, const EntryBatch& b) {
  w.Hash(b.sender);
  w.Varint(b.entries.size());
  for (const Entry& e : b.entries) w.VarBytes(e.bytes());
  w.Varint(b.r_ys.size());
  for (const Hash32& y : b.r_ys) w.Hash(y);
  w.Raw(ByteView(b.sig.data(), b.sig.size()));
}

Result<Proposal> DecodeProposal(Reader& r) {
  Proposal p;
  FL_ASSIGN(p.chain_id, r.String("proposal.chain_id", kMaxNameLen));
  FL_TRY(ValidateIdentifier("proposal.chain_id", p.chain_id));
  FL_ASSIGN(p.height, r.U64("proposal.height"));
  FL_ASSIGN(p.round, r.U32("proposal.round"));
  if (p.round == kNoRound) return Status::InvalidArgument("proposal.round: out of range");
  FL_ASSIGN(p.pol_round, r.U32("proposal.pol_round"));
  if (p.pol_round != kNoRound && p.pol_round >= p.round) {
    return Status::InvalidArgument("proposal.pol_round: must be below the round");
  }
  FL_ASSIGN(ByteView block_bytes, r.VarBytes("proposal.block", kMaxBlockBytes));
  auto block = Block::Decode(block_bytes);
  if (!block.ok()) return block.status().WithContext("proposal.block");
  p.block = std::move(block).value();
  if (p.block.header.height != p.height) {
    return Status::InvalidArgument("proposal: block height differs from proposal height");
  }
  if (p.block.header.chain_id != p.chain_id) {
    return Status::InvalidArgument("proposal: block chain id differs from proposal chain id");
  }
  p.block_hash = p.block.header.Hash();
  FL_ASSIGN(ByteView sig, r.Raw("proposal.signature", 64));
  std::copy(sig.begin(), sig.end(), p.sig.begin());
  FL_ASSIGN(uint64_t n, r.Count("proposal.pol_votes", kMaxPolVotes));
  if (p.pol_round == kNoRound && n != 0) {
    return Status::InvalidArgument("proposal.pol_votes: present without a pol_round");
  }
  for (uint64_t i = 0; i < n; ++i) {
    FL_ASSIGN(ByteView vb, r.VarBytes("proposal.pol_vote", kMaxVoteBytes));
    auto v = Vote::Decode(vb);
    if (!v.ok()) return v.status().WithContext("proposal.pol_vote " + std::to_string(i));
    if (v->type != VoteType::kPrevote || v->height != p.height || v->round != p.pol_round ||
        v->block_hash != p.block_hash || v->chain_id != p.chain_id) {
      return Status::InvalidArgument(
          "proposal.pol_vote " + std::to_string(i) +
          ": not a prevote for the block at pol_round (bad proof of lock)");
    }
    p.pol_votes.push_back(std::move(v).value());
  }
  return p;
}

Result<SyncResponse> DecodeSyncResponse(Reader& r) {
  SyncResponse resp;
  FL_ASSIGN(uint64_t n, r.Count("sync_response.blocks", kMaxSyncBlocks));
  resp.blocks.reserve(n);
  for (uint64_t i = 0; i < n; ++i) {
    CommittedBlock cb;
    FL_ASSIGN(ByteView bb, r.VarBytes("sync_response.block", kMaxBlockBytes));
    auto block = Block::Decode(bb);
    if (!block.ok()) return block.status().WithContext("sync_response block " + std::to_string(i));
    cb.block = std::move(block).value();
    FL_ASSIGN(ByteView cbytes, r.VarBytes("sync_response.certificate", kMaxCertificateBytes));
    auto cert = Certificate::Decode(cbytes);
    if (!cert.ok()) {
      return cert.status().WithContext("sync_response certificate " + std::to_string(i));
    }
    cb.cert = std::move(cert).value();
    if (i > 0 && cb.block.header.height != resp.blocks.back().block.header.height + 1) {
      return Status::InvalidArgument("sync_response: blocks are not consecutive");
    }
    resp.blocks.push_back(std::move(cb));
  }
  return resp;
}

Result<EntryBatch> DecodeEntryBatch(Reader& r) {
  EntryBatch b;
  FL_ASSIGN(b.sender, r.Hash("entry_batch.sender"));
  FL_ASSIGN(uint64_t n, r.Count("entry_batch.entries", kMaxBatchEntries));
  b.entries.reserve(n);
  for (uint64_t i = 0; i < n; ++i) {
    FL_ASSIGN(ByteView eb, r.VarBytes("entry_batch.entry", kMaxEntryBytes));
    auto e = Entry::Decode(eb);
    if (!e.ok()) return e.status().WithContext("entry_batch entry " + std::to_string(i));
    b.entries.push_back(std::move(e).value());
  }
  FL_ASSIGN(uint64_t hints, r.Count("entry_batch.r_ys", kMaxBatchEntries));
  if (hints != 0 && hints != n) {
    return Status::InvalidArgument("entry_batch: " + std::to_string(hints) + " R hints for " +
                                   std::to_string(n) + " entries (0 or one per entry)");
  }
  b.r_ys.resize(hints);
  for (Hash32& y : b.r_ys) {
    FL_ASSIGN(y, r.Hash("entry_batch.r_y"));
  }
  FL_ASSIGN(ByteView sig, r.Raw("entry_batch.signature", b.sig.size()));
  std::copy(sig.begin(), sig.end(), b.sig.begin());
  return b;
}

}  // namespace

const char* MessageTypeName(MessageType t) {
  switch (t) {
    case MessageType::kProposal:
      return "PROPOSAL";
    case MessageType::kVote:
      return "VOTE";
    case MessageType::kSyncRequest:
      return "SYNC_REQUEST";
    case MessageType::kSyncResponse:
      return "SYNC_RESPONSE";
    case MessageType::kEntryBatch:
      return "ENTRY_BATCH";
  }
  return "UNKNOWN";
}

Hash32 Proposal::Digest() const {
  Writer w(128);
  w.String(chain_id);
  w.U64(height);
  w.U32(round);
  w.U32(pol_round);
  w.Hash(block_hash);
  return TaggedHash(kProposalTag, w.bytes());
}

void Proposal::Sign(const SecretKey& key) {
  block_hash = block.header.Hash();
  sig = key.SignDeterministic(Digest());
}

bool Proposal::VerifySignature(const PubKey& proposer) const {
  return fedledger::VerifySignature(proposer, Digest(), sig);
}

Hash32 EntryBatch::Digest(std::string_view chain_id) const {
  Writer w(64 + chain_id.size() + 32 * (entries.size() + r_ys.size()));
  w.String(chain_id);
  w.Hash(sender);
  w.Varint(entries.size());
  for (const Entry& e : entries) w.Hash(e.leaf_hash());
  w.Varint(r_ys.size());
  for (const Hash32& y : r_ys) w.Hash(y);
  return TaggedHash(kEntryBatchTag, w.bytes());
}

void EntryBatch::Sign(const SecretKey& key, std::string_view chain_id) {
  sender = key.pubkey();
  sig = key.SignDeterministic(Digest(chain_id));
}

MessageType TypeOf(const Message& m) { return static_cast<MessageType>(m.index() + 1); }

Bytes EncodeMessage(const Message& m) {
  Writer w;
  w.U8(kMessageVersion);
  w.U8(static_cast<uint8_t>(TypeOf(m)));
  std::visit([&](const auto& body) { EncodeBody(w, body); }, m);
  return std::move(w).Take();
}

Result<Message> DecodeMessage(ByteView bytes) {
  Reader r(bytes);
  FL_ASSIGN(uint8_t version, r.U8("message.version"));
  if (version != kMessageVersion) {
    return Status::InvalidArgument("message.version: unsupported " + std::to_string(version));
  }
  FL_ASSIGN(uint8_t type, r.U8("message.type"));
  Message m;
  switch (static_cast<MessageType>(type)) {
    case MessageType::kProposal: {
      FL_ASSIGN(m, DecodeProposal(r));
      break;
    }
    case MessageType::kVote: {
      FL_ASSIGN(ByteView rest, r.Raw("vote", r.remaining()));
      FL_ASSIGN(m, Vote::Decode(rest));
      break;
    }
    case MessageType::kSyncRequest: {
      SyncRequest req;
      FL_ASSIGN(req.from_height, r.U64("sync_request.from_height"));
      FL_ASSIGN(req.max_blocks, r.U32("sync_request.max_blocks"));
      if (req.max_blocks == 0 || req.max_blocks > kMaxSyncBlocks) {
        return Status::InvalidArgument("sync_request.max_blocks: must be 1.." +
                                       std::to_string(kMaxSyncBlocks));
      }
      m = req;
      break;
    }
    case MessageType::kSyncResponse: {
      FL_ASSIGN(m, DecodeSyncResponse(r));
      break;
    }
    case MessageType::kEntryBatch: {
      FL_ASSIGN(m, DecodeEntryBatch(r));
      break;
    }
    default:
      return Status::InvalidArgument("message.type: unknown message type " + std::to_string(type));
  }
  FL_TRY(r.ExpectEnd("message"));
  return m;
}

std::string SelfSignedProblem(const ValidatorSet& validators, const PubKey& from,
                              const Message& m) {
  if (const auto* v = std::get_if<Vote>(&m)) {
    if (v->validator == from) return "";
    return "a vote signed by " + v->validator.ShortHex() + ".. in a frame without a signature";
  }
  if (const auto* p = std::get_if<Proposal>(&m)) {
    if (validators.Proposer(p->height, p->round).key == from) return "";
    return "a proposal for height " + std::to_string(p->height) + " round " +
           std::to_string(p->round) + ", which the sender does not propose, in a frame " +
           "without a signature";
  }
  if (const auto* b = std::get_if<EntryBatch>(&m)) {
    if (b->sender == from) return "";
    return "an ENTRY_BATCH signed by " + b->sender.ShortHex() + ".. in a frame without a signature";
  }
  return std::string(MessageTypeName(TypeOf(m))) + " message in a frame without a signature";
}

}  // namespace fedledger::consensus
