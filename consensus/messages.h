// Consensus wire messages between validators.
//
// Grammar (ledger/encoding.h; also docs/CONSENSUS.md):
//   message       := u8 version(=1) | u8 type | body(type)
//   type 1 PROPOSAL      := string<64> chain_id | u64 height | u32 round | u32 pol_round
//                           | bytes<kMaxBlockBytes> block | signature(64)
//                           | list<bytes<256> vote, 256> pol_votes
//       pol_round is the proposer's valid round, 0xFFFFFFFF for none (-1 in the paper).
//       pol_votes is the proof of lock: >2/3 prevotes for the block at pol_round (empty when
//       pol_round is none). They are not covered by the proposal signature; each vote carries
//       its own. They let a validator that missed those prevotes apply line 28 of the paper
//       (our gossip does not retransmit old votes, so the proposer carries them).
//       proposal digest := TaggedHash("fedledger/proposal/v1", string chain_id | u64 height
//                           | u32 round | u32 pol_round | hash block_hash)
//       signed by the round's proposer with its node key; block_hash = block.header.Hash().
//   type 2 VOTE          := vote (ledger/block.h Vote encoding, prevote or precommit)
//   type 3 SYNC_REQUEST  := u64 from_height | u32 max_blocks (1..kMaxSyncBlocks)
//   type 4 SYNC_RESPONSE := list<bytes<kMaxBlockBytes> block
//                           | bytes<kMaxCertificateBytes> cert, kMaxSyncBlocks>
//                           committed blocks in increasing height order, each with its certificate
//   type 5 ENTRY_BATCH   := hash sender | list<bytes<262144> entry, kMaxBatchEntries>
//                           | list<hash r_y> | signature(64)
//       r_y: none, or one per entry: the y coordinate of the entry signature's R as the
//       sender's batch verification lifted it (all zero: none for that entry). A hint that
//       saves each receiver a square root per entry; checked, never trusted (ledger/crypto.h
//       SignatureCheck::r_y). Another count than 0 or the entries' is malformed.
//       entry batch digest := TaggedHash("fedledger/entry-batch/v1", string chain_id
//                           | hash sender | varint n | n x hash leaf | varint m | m x hash r_y)
//       signed by `sender`, the validator that admitted the entries and broadcasts them, with
//       its node key (the leaf hashes cover every entry byte). One signature for all the
//       receivers, instead of one per link on the frame (net/peer_wire.h SELF).
// The vote body has no length prefix: it runs to the end of the message.
//
// Decoders check format only (lengths, kinds, trailing bytes, proposal and vote fields). They
// do not verify signatures and do not check anything against the chain state: the state
// machine does that. Every rejection names what is wrong.
//
// Thread-compatible value types.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "ledger/block.h"
#include "ledger/bytes.h"
#include "ledger/crypto.h"
#include "ledger/status.h"

namespace fedledger::consensus {

inline constexpr std::string_view kProposalTag = "fedledger/proposal/v1";
inline constexpr std::string_view kEntryBatchTag = "fedledger/entry-batch/v1";
inline constexpr uint32_t kNoRound = 0xFFFFFFFF;
inline constexpr size_t kMaxBlockBytes = 32u << 20;
inline constexpr size_t kMaxSyncBlocks = 64;
inline constexpr size_t kMaxBatchEntries = 16384;
inline constexpr size_t kMaxCertificateBytes = 8 + 4 + 32 + 3 + 66 * 256;
inline constexpr size_t kMaxVoteBytes = 256;
inline constexpr size_t kMaxPolVotes = 256;

enum class MessageType : uint8_t {
  kProposal = 1,
  kVote = 2,
  kSyncRequest = 3,
  kSyncResponse = 4,
  kEntryBatch = 5,
};
const char* MessageTypeName(MessageType t);

struct Proposal {
  std::string chain_id;
  uint64_t height = 0;
  uint32_t round = 0;
  uint32_t pol_round = kNoRound;
  Block block;
  Hash32 block_hash;  // cached block.header.Hash(); set by Sign() and by decoding
  Signature sig{};
  std::vector<Vote> pol_votes;

  // The digest the proposer signs (see the grammar above).
  Hash32 Digest() const;
  // Sets block_hash and signs deterministically (BIP-340 without aux randomness).
  void Sign(const SecretKey& key);
  bool VerifySignature(const PubKey& proposer) const;
};

struct SyncRequest {
  uint64_t from_height = 0;
  uint32_t max_blocks = 0;
};

struct CommittedBlock {
  Block block;
  Certificate cert;
};

struct SyncResponse {
  std::vector<CommittedBlock> blocks;
};

struct EntryBatch {
  std::vector<Entry> entries;
  // Not on the wire (never encoded, empty after decoding): set by an adapter that verified
  // entry signatures before handing the batch in, on a thread other than the state machine's
  // (node/node.cc does it on the peer link's thread). signature_verified[i] true means
  // entries[i]'s signature verified, so the mempool does not check it again; false or
  // missing means it is checked as usual.
  std::vector<bool> signature_verified{};
  // Empty, or one per entry (the grammar's r_y). The state machine neither sets nor reads
  // them: the node adds its own when it sends and hands them to the verifier when it receives.
  std::vector<Hash32> r_ys{};
  // The signing validator and its signature (the grammar's). The state machine neither signs
  // nor checks them: the node signs what it broadcasts and checks what it receives, as a
  // transport authenticates its peer.
  PubKey sender{};
  Signature sig{};

  // The digest `sender` signs, for the ledger `chain_id` (see the grammar above).
  Hash32 Digest(std::string_view chain_id) const;
  // Sets sender and signs deterministically (BIP-340 without aux randomness).
  void Sign(const SecretKey& key, std::string_view chain_id);
};

using Message = std::variant<Proposal, Vote, SyncRequest, SyncResponse, EntryBatch>;

MessageType TypeOf(const Message& m);
Bytes EncodeMessage(const Message& m);
Result<Message> DecodeMessage(ByteView bytes);

// The peer transport sends a validator's own votes, proposals and entry batches in frames
// without a frame signature (net/peer_wire.h, SELF): such a message is signed by the
// sender's node key in its own right, and that signature is verified before the message is
// used (by consensus for votes and proposals, by the node for entry batches). Why `m`,
// received that way from `from`, must be refused; empty when it is `from`'s own vote or
// entry batch, or a proposal for a height and round that `from` proposes.
std::string SelfSignedProblem(const ValidatorSet& validators, const PubKey& from,
                              const Message& m);

}  // namespace fedledger::consensus
