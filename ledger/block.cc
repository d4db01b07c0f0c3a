#include "ledger/block.h"

#include <algorithm>

namespace fedledger {

namespace {
constexpr uint8_t kHeaderVersion = 1;
constexpr uint8_t kVoteVersion = 1;
constexpr uint64_t kMaxBlockEntries = 1 << 20;
}  // namespace

// ---- BlockHeader ----

void BlockHeader::EncodeTo(Writer& w) const {
  w.U8(kHeaderVersion);
  w.String(chain_id);
  w.U64(height);
  w.Hash(prev_hash);
  w.U64(time_ms);
  w.Hash(proposer);
  w.U32(entry_count);
  w.U64(log_size);
  w.Hash(log_root);
  w.Hash(validator_set_hash);
}

Bytes BlockHeader::Encode() const {
  Writer w(256);
  EncodeTo(w);
  return std::move(w).Take();
}

Result<BlockHeader> BlockHeader::DecodeFrom(Reader& r) {
  BlockHeader h;
  FL_ASSIGN(uint8_t version, r.U8("header.version"));
  if (version != kHeaderVersion) {
    return Status::InvalidArgument("header.version: unsupported block version " +
                                   std::to_string(version));
  }
  FL_ASSIGN(h.chain_id, r.String("header.chain_id", kMaxNameLen));
  FL_TRY(ValidateIdentifier("header.chain_id", h.chain_id));
  FL_ASSIGN(h.height, r.U64("header.height"));
  FL_ASSIGN(h.prev_hash, r.Hash("header.prev_hash"));
  FL_ASSIGN(h.time_ms, r.U64("header.time_ms"));
  FL_ASSIGN(h.proposer, r.Hash("header.proposer"));
  FL_ASSIGN(h.entry_count, r.U32("header.entry_count"));
  FL_ASSIGN(h.log_size, r.U64("header.log_size"));
  FL_ASSIGN(h.log_root, r.Hash("header.log_root"));
  FL_ASSIGN(h.validator_set_hash, r.Hash("header.validator_set_hash"));
  if (h.entry_count > h.log_size) {
    return Status::InvalidArgument("header: entry_count exceeds log_size");
  }
  return h;
}

Result<BlockHeader> BlockHeader::Decode(ByteView bytes) {
  Reader r(bytes);
  FL_ASSIGN(BlockHeader h, DecodeFrom(r));
  FL_TRY(r.ExpectEnd("block header"));
  return h;
}

Hash32 BlockHeader::Hash() const { return TaggedHash(tags::kBlock, Encode()); }

// ---- Block ----

Bytes Block::Encode() const {
  Writer w;
  header.EncodeTo(w);
  w.Varint(entries.size());
  for (const Entry& e : entries) w.VarBytes(e.bytes());
  return std::move(w).Take();
}

Result<Block> Block::Decode(ByteView bytes) {
  Reader r(bytes);
  Block b;
  FL_ASSIGN(b.header, BlockHeader::DecodeFrom(r));
  FL_ASSIGN(uint64_t n, r.Count("entries", kMaxBlockEntries));
  if (n != b.header.entry_count) {
    return Status::InvalidArgument("block holds " + std::to_string(n) +
                                   " entries but its header says " +
                                   std::to_string(b.header.entry_count));
  }
  // Reserve no more than the input can hold (each entry takes at least a length byte and a
  // signature): a few bytes claiming 2^20 entries must not allocate ~500 MB of Entry objects.
  b.entries.reserve(std::min<uint64_t>(n, r.remaining() / 65));
  for (uint64_t i = 0; i < n; ++i) {
    FL_ASSIGN(ByteView eb, r.VarBytes("entry", kMaxEntryBytes));
    auto e = Entry::Decode(eb);
    if (!e.ok()) return e.status().WithContext("entry " + std::to_string(i) + " of the block");
    b.entries.push_back(std::move(e).value());
  }
  FL_TRY(r.ExpectEnd("block"));
  return b;
}

// ---- Vote ----

Bytes Vote::EncodeUnsigned() const {
  Writer w(128);
  w.U8(kVoteVersion);
  w.U8(static_cast<uint8_t>(type));
  w.String(chain_id);
  w.U64(height);
  w.U32(round);
  w.Hash(block_hash);
  w.Hash(validator);
  return std::move(w).Take();
}

Bytes Vote::Encode() const {
  Bytes b = EncodeUnsigned();
  b.insert(b.end(), sig.begin(), sig.end());
  return b;
}

Result<Vote> Vote::Decode(ByteView bytes) {
  Reader r(bytes);
  Vote v;
  FL_ASSIGN(uint8_t version, r.U8("vote.version"));
  if (version != kVoteVersion) {
    return Status::InvalidArgument("vote.version: unsupported " + std::to_string(version));
  }
  FL_ASSIGN(uint8_t type, r.U8("vote.type"));
  if (type != 1 && type != 2) {
    return Status::InvalidArgument("vote.type: unknown vote type " + std::to_string(type));
  }
  v.type = static_cast<VoteType>(type);
  FL_ASSIGN(v.chain_id, r.String("vote.chain_id", kMaxNameLen));
  FL_TRY(ValidateIdentifier("vote.chain_id", v.chain_id));
  FL_ASSIGN(v.height, r.U64("vote.height"));
  FL_ASSIGN(v.round, r.U32("vote.round"));
  FL_ASSIGN(v.block_hash, r.Hash("vote.block_hash"));
  FL_ASSIGN(v.validator, r.Hash("vote.validator"));
  FL_ASSIGN(ByteView sig, r.Raw("vote.signature", 64));
  std::copy(sig.begin(), sig.end(), v.sig.begin());
  FL_TRY(r.ExpectEnd("vote"));
  return v;
}

void Vote::SignWith(const SecretKey& key) {
  validator = key.pubkey();
  sig = key.Sign(Digest());
}

Vote PrecommitFor(const std::string& chain_id, uint64_t height, uint32_t round,
                  const Hash32& block_hash, const PubKey& validator) {
  Vote v;
  v.type = VoteType::kPrecommit;
  v.chain_id = chain_id;
  v.height = height;
  v.round = round;
  v.block_hash = block_hash;
  v.validator = validator;
  return v;
}

// ---- ValidatorSet ----

ValidatorSet::ValidatorSet(std::vector<Member> validators) : members_(std::move(validators)) {
  Writer w;
  w.Varint(members_.size());
  for (const Member& m : members_) {
    w.String(m.name);
    w.Hash(m.key);
  }
  hash_ = TaggedHash(tags::kValidatorSet, w.bytes());
}

int ValidatorSet::IndexOf(const PubKey& key) const {
  for (size_t i = 0; i < members_.size(); ++i) {
    if (members_[i].key == key) return static_cast<int>(i);
  }
  return -1;
}

// ---- Certificate ----

Bytes Certificate::Encode() const {
  Writer w(64 + sigs.size() * 66);
  w.U64(height);
  w.U32(round);
  w.Hash(block_hash);
  w.Varint(sigs.size());
  for (const CertSignature& s : sigs) {
    w.U16(s.validator_index);
    w.Raw(ByteView(s.sig.data(), s.sig.size()));
  }
  return std::move(w).Take();
}

Result<Certificate> Certificate::Decode(ByteView bytes) {
  Reader r(bytes);
  Certificate c;
  FL_ASSIGN(c.height, r.U64("certificate.height"));
  FL_ASSIGN(c.round, r.U32("certificate.round"));
  FL_ASSIGN(c.block_hash, r.Hash("certificate.block_hash"));
  FL_ASSIGN(uint64_t n, r.Count("certificate.signatures", kMaxMembers));
  c.sigs.resize(n);
  for (size_t i = 0; i < n; ++i) {
    FL_ASSIGN(c.sigs[i].validator_index, r.U16("certificate.validator_index"));
    if (i > 0 && c.sigs[i].validator_index <= c.sigs[i - 1].validator_index) {
      return Status::InvalidArgument(
          "certificate: validator indexes must be strictly increasing");
    }
    FL_ASSIGN(ByteView sig, r.Raw("certificate.signature", 64));
    std::copy(sig.begin(), sig.end(), c.sigs[i].sig.begin());
  }
  FL_TRY(r.ExpectEnd("certificate"));
  return c;
}

Result<Certificate> Certificate::FromPrecommits(const ValidatorSet& vals,
                                                const std::vector<Vote>& votes) {
  if (votes.empty()) return Status::InvalidArgument("no precommits");
  Certificate c;
  c.height = votes[0].height;
  c.round = votes[0].round;
  c.block_hash = votes[0].block_hash;
  for (const Vote& v : votes) {
    if (v.type != VoteType::kPrecommit || v.height != c.height || v.round != c.round ||
        v.block_hash != c.block_hash) {
      return Status::InvalidArgument("precommits are not all for one block, height and round");
    }
    int idx = vals.IndexOf(v.validator);
    if (idx < 0) return Status::InvalidArgument("precommit by a non-validator");
    c.sigs.push_back({static_cast<uint16_t>(idx), v.sig});
  }
  std::sort(c.sigs.begin(), c.sigs.end(),
            [](const CertSignature& a, const CertSignature& b) {
              return a.validator_index < b.validator_index;
            });
  for (size_t i = 1; i < c.sigs.size(); ++i) {
    if (c.sigs[i].validator_index == c.sigs[i - 1].validator_index) {
      return Status::InvalidArgument("two precommits by one validator");
    }
  }
  return c;
}

Status Certificate::Verify(const ValidatorSet& vals, const std::string& chain_id,
                           uint64_t h, const Hash32& hash) const {
  if (height != h) {
    return Status::Corruption("certificate is for height " + std::to_string(height) +
                              ", not " + std::to_string(h));
  }
  if (block_hash != hash) {
    return Status::Corruption("certificate is for block " + block_hash.ShortHex() +
                              ", not " + hash.ShortHex());
  }
  if (sigs.size() < vals.Quorum()) {
    return Status::Corruption("certificate has " + std::to_string(sigs.size()) + " of " +
                              std::to_string(vals.size()) + " signatures, needs " +
                              std::to_string(vals.Quorum()));
  }
  for (size_t i = 0; i < sigs.size(); ++i) {
    const CertSignature& s = sigs[i];
    if (i > 0 && s.validator_index <= sigs[i - 1].validator_index) {
      return Status::Corruption("certificate: validator indexes must be strictly increasing");
    }
    if (s.validator_index >= vals.size()) {
      return Status::Corruption("certificate names validator index " +
                                std::to_string(s.validator_index) + " of a set of " +
                                std::to_string(vals.size()));
    }
    const Member& m = vals.at(s.validator_index);
    Vote v = PrecommitFor(chain_id, height, round, block_hash, m.key);
    if (!fedledger::VerifySignature(m.key, v.Digest(), s.sig)) {
      return Status::Corruption("certificate signature of validator '" + m.name +
                                "' does not verify");
    }
  }
  return Status::Ok();
}

}  // namespace fedledger
