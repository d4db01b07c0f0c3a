// Blocks, votes, commit certificates and the validator set.
//
//   header     := u8 version(=1) | string<64> chain_id | u64 height | hash prev_hash
//                 | u64 time_ms | hash proposer | u32 entry_count | u64 log_size
//                 | hash log_root | hash validator_set_hash
//   block_hash := TaggedHash("fedledger/block/v1", header)
//   block      := header | list<bytes<262144>, 1048576> entries      (wire and storage form)
//   vote       := u8 version(=1) | u8 type (1 prevote, 2 precommit) | string<64> chain_id
//                 | u64 height | u32 round | hash block_hash (all zeros: nil) | hash validator
//                 | signature(64)
//   vote digest:= TaggedHash("fedledger/vote/v1", vote bytes without the signature)
//   certificate:= u64 height | u32 round | hash block_hash
//                 | list<u16 validator_index | signature(64), 256> (strictly increasing index)
//   validator_set_hash := TaggedHash("fedledger/validator-set/v1",
//                 list<string<64> name | hash key, 256>)
//
// The header binds the entries through the log: log_root is the RFC 9162 root of the global
// log of all entries up to and including this block, log_size its size, and entry_count the
// number of entries this block appended (log_size - previous log_size). A header with a valid
// certificate is a signed tree head.
//
// Height 0 is the genesis block: exactly one GENESIS entry, prev_hash all zeros, no
// certificate. Its hash is the chain's trust anchor.
#pragma once

#include <cstdint>
#include <vector>

#include "ledger/bytes.h"
#include "ledger/crypto.h"
#include "ledger/entry.h"
#include "ledger/status.h"

namespace fedledger {

struct BlockHeader {
  std::string chain_id;
  uint64_t height = 0;
  Hash32 prev_hash;
  uint64_t time_ms = 0;
  PubKey proposer;
  uint32_t entry_count = 0;
  uint64_t log_size = 0;
  Hash32 log_root;
  Hash32 validator_set_hash;

  Bytes Encode() const;
  static Result<BlockHeader> Decode(ByteView bytes);
  static Result<BlockHeader> DecodeFrom(Reader& r);
  void EncodeTo(Writer& w) const;
  Hash32 Hash() const;
  bool operator==(const BlockHeader&) const = default;
};

struct Block {
  BlockHeader header;
  std::vector<Entry> entries;

  Bytes Encode() const;
  // Decodes the header and every entry (format checks only; signatures are not verified).
  static Result<Block> Decode(ByteView bytes);
};

enum class VoteType : uint8_t { kPrevote = 1, kPrecommit = 2 };

struct Vote {
  VoteType type = VoteType::kPrevote;
  std::string chain_id;
  uint64_t height = 0;
  uint32_t round = 0;
  Hash32 block_hash;  // all zeros: a vote for nil
  PubKey validator;
  Signature sig{};

  Bytes EncodeUnsigned() const;
  Bytes Encode() const;
  static Result<Vote> Decode(ByteView bytes);
  Hash32 Digest() const { return TaggedHash(tags::kVote, EncodeUnsigned()); }
  void SignWith(const SecretKey& key);  // sets validator and sig
  bool VerifySignature() const { return fedledger::VerifySignature(validator, Digest(), sig); }
  bool IsNil() const { return block_hash.IsZero(); }
};

class ValidatorSet {
 public:
  ValidatorSet() = default;
  explicit ValidatorSet(std::vector<Member> validators);

  size_t size() const { return members_.size(); }
  const std::vector<Member>& members() const { return members_; }
  const Member& at(size_t i) const { return members_[i]; }
  // Index of `key` in the set, or -1.
  int IndexOf(const PubKey& key) const;
  // The smallest count that is more than two thirds of the set: floor(2n/3) + 1.
  size_t Quorum() const { return 2 * members_.size() / 3 + 1; }
  // f = floor((n-1)/3) Byzantine validators are tolerated.
  size_t MaxFaulty() const { return members_.empty() ? 0 : (members_.size() - 1) / 3; }
  const Hash32& hash() const { return hash_; }
  // Round-robin proposer for a height and round.
  const Member& Proposer(uint64_t height, uint32_t round) const {
    return members_[(height + round) % members_.size()];
  }

 private:
  std::vector<Member> members_;
  Hash32 hash_;
};

struct CertSignature {
  uint16_t validator_index = 0;
  Signature sig{};
};

// >2/3 of the validators' precommit signatures over one block hash.
struct Certificate {
  uint64_t height = 0;
  uint32_t round = 0;
  Hash32 block_hash;
  std::vector<CertSignature> sigs;  // strictly increasing validator_index

  Bytes Encode() const;
  static Result<Certificate> Decode(ByteView bytes);

  // Builds the certificate from precommit votes (which must all be for block_hash).
  static Result<Certificate> FromPrecommits(const ValidatorSet& vals, const std::vector<Vote>& votes);

  // Valid iff it is for (height, block_hash), every signature is a valid precommit by a
  // distinct member of `vals`, and there are at least vals.Quorum() of them.
  Status Verify(const ValidatorSet& vals, const std::string& chain_id, uint64_t height,
                const Hash32& block_hash) const;
};

// The precommit vote a certificate signature stands for.
Vote PrecommitFor(const std::string& chain_id, uint64_t height, uint32_t round,
                  const Hash32& block_hash, const PubKey& validator);

}  // namespace fedledger
