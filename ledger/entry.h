// Ledger entries: the signed records of everything that happens in a federation.
//
// Encoding (grammar in ledger/encoding.h, every byte in docs/FORMAT.md):
//   entry    := u8 version(=1) | string<64> chain_id | u8 kind | hash signer | u64 nonce
//               | u64 timestamp_ms | payload(kind) | signature(64 bytes)
//   digest   := TaggedHash("fedledger/entry/v1", entry bytes without the signature)
//   leaf     := SHA256(0x00 || entry bytes)        (the entry's id and its RFC 9162 leaf)
// The payload has no length prefix: its kind fixes its grammar and it must end exactly where
// the signature begins.
//
// Checks here are stateless (format, field values, signature). Checks against the ledger
// state (nonce freshness, task lifecycle) belong to the store and the orchestrator.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "ledger/bytes.h"
#include "ledger/crypto.h"
#include "ledger/encoding.h"
#include "ledger/status.h"

namespace fedledger {

enum class EntryKind : uint8_t {
  kGenesis = 1,
  kDatasetRegister = 2,
  kTaskPropose = 3,
  kTaskApprove = 4,
  kTaskReject = 5,
  kTaskRevoke = 6,
  kTaskComplete = 7,
  kDataAccess = 8,
  kModelUpdate = 9,
  kRoundAggregate = 10,
  kRoundRestart = 11,
};
inline constexpr uint8_t kMaxEntryKind = 11;

// "TASK_APPROVE" etc. ParseEntryKind accepts those names case-insensitively, with '-' for '_'.
const char* EntryKindName(EntryKind kind);
Result<EntryKind> ParseEntryKind(std::string_view name);

inline constexpr size_t kMaxEntryBytes = 256 * 1024;
inline constexpr size_t kMaxNameLen = 64;
inline constexpr size_t kMaxTextLen = 4096;
inline constexpr size_t kMaxMembers = 256;
inline constexpr size_t kMaxSettings = 128;

// A named key: a validator's node key or a partner's key in the genesis.
struct Member {
  std::string name;  // identifier
  PubKey key;
  bool operator==(const Member&) const = default;
};

// payload GENESIS :=
//   u64 genesis_time_ms | list<member, 256> validators | list<member, 256> partners
//   member := string<64> name | hash key
struct GenesisPayload {
  uint64_t genesis_time_ms = 0;
  std::vector<Member> validators;  // order is the proposer order; >= 1, unique keys and names
  std::vector<Member> partners;    // unique keys and names
  bool operator==(const GenesisPayload&) const = default;
};

// payload DATASET_REGISTER := string<64> dataset_id | hash content_hash | u64 rows
//   | string<4096> schema | string<4096> description
struct DatasetRegisterPayload {
  std::string dataset_id;
  Hash32 content_hash;  // SHA-256 of the dataset file
  uint64_t rows = 0;
  std::string schema;       // column names, comma separated
  std::string description;  // free text, may be empty
  bool operator==(const DatasetRegisterPayload&) const = default;
};

struct Participant {
  PubKey partner;
  std::string dataset_id;
  bool operator==(const Participant&) const = default;
};

struct Setting {
  std::string key;    // identifier
  std::string value;  // text up to 256 bytes (numbers are written as decimal text)
  bool operator==(const Setting&) const = default;
};

// task_spec := string<64> task_id | string<256> title | string<4096> description
//   | list<participant, 256> participants (sorted by partner key, unique)
//   | hash aggregator | u32 rounds | u64 round_timeout_ms | u64 expires_at_ms
//   | string<64> model | list<setting, 128> settings (sorted by key, unique)
//   participant := hash partner | string<64> dataset_id
//   setting := string<64> key | string<256> value
// spec_hash := TaggedHash("fedledger/task-spec/v1", task_spec bytes)
struct TaskSpec {
  std::string task_id;
  std::string title;
  std::string description;
  std::vector<Participant> participants;
  PubKey aggregator;
  uint32_t rounds = 0;
  uint64_t round_timeout_ms = 0;
  uint64_t expires_at_ms = 0;  // approvals committed after this time are refused
  std::string model;
  std::vector<Setting> settings;

  void Encode(Writer& w) const;
  static Result<TaskSpec> Decode(Reader& r);
  Status Validate() const;
  Hash32 Hash() const;
  const std::string* FindSetting(std::string_view key) const;
  bool HasParticipant(const PubKey& k) const;
  bool operator==(const TaskSpec&) const = default;
};

// payload TASK_PROPOSE := task_spec
struct TaskProposePayload {
  TaskSpec spec;
  bool operator==(const TaskProposePayload&) const = default;
};
// payload TASK_APPROVE := string<64> task_id | hash spec_hash
struct TaskApprovePayload {
  std::string task_id;
  Hash32 spec_hash;
  bool operator==(const TaskApprovePayload&) const = default;
};
// payload TASK_REJECT := string<64> task_id | hash spec_hash | string<4096> reason
struct TaskRejectPayload {
  std::string task_id;
  Hash32 spec_hash;
  std::string reason;
  bool operator==(const TaskRejectPayload&) const = default;
};
// payload TASK_REVOKE := string<64> task_id | string<4096> reason
struct TaskRevokePayload {
  std::string task_id;
  std::string reason;
  bool operator==(const TaskRevokePayload&) const = default;
};
// payload TASK_COMPLETE := string<64> task_id | u32 rounds_completed | hash final_trunk_hash
struct TaskCompletePayload {
  std::string task_id;
  uint32_t rounds_completed = 0;
  Hash32 final_trunk_hash;
  bool operator==(const TaskCompletePayload&) const = default;
};
// payload DATA_ACCESS := string<64> task_id | u32 round | string<64> dataset_id
//   | hash dataset_hash | u64 rows_read
struct DataAccessPayload {
  std::string task_id;
  uint32_t round = 0;
  std::string dataset_id;
  Hash32 dataset_hash;
  uint64_t rows_read = 0;
  bool operator==(const DataAccessPayload&) const = default;
};
// payload MODEL_UPDATE := string<64> task_id | u32 round | hash update_hash | u64 sample_count
//   | u64 size_bytes | u32 attempt
struct ModelUpdatePayload {
  std::string task_id;
  uint32_t round = 0;
  Hash32 update_hash;  // SHA-256 of the (masked) update artifact file
  uint64_t sample_count = 0;
  uint64_t size_bytes = 0;
  // The round attempt the update was masked for (0 until a ROUND_RESTART), so an update
  // that lands after a restart is refused instead of counting for the new attempt.
  uint32_t attempt = 0;
  bool operator==(const ModelUpdatePayload&) const = default;
};
// payload ROUND_AGGREGATE := string<64> task_id | u32 round | hash aggregate_hash
//   | list<hash, 256> contributors (sorted, unique, >= 1) | u64 total_samples
struct RoundAggregatePayload {
  std::string task_id;
  uint32_t round = 0;
  Hash32 aggregate_hash;
  std::vector<PubKey> contributors;
  uint64_t total_samples = 0;
  bool operator==(const RoundAggregatePayload&) const = default;
};
// payload ROUND_RESTART := string<64> task_id | u32 round | u32 attempt
//   | list<hash, 256> dropped (sorted, unique, >= 1) | string<4096> reason
struct RoundRestartPayload {
  std::string task_id;
  uint32_t round = 0;
  uint32_t attempt = 0;  // the attempt that starts now (the first restart is attempt 1)
  std::vector<PubKey> dropped;
  std::string reason;
  bool operator==(const RoundRestartPayload&) const = default;
};

using Payload = std::variant<GenesisPayload, DatasetRegisterPayload, TaskProposePayload,
                             TaskApprovePayload, TaskRejectPayload, TaskRevokePayload,
                             TaskCompletePayload, DataAccessPayload, ModelUpdatePayload,
                             RoundAggregatePayload, RoundRestartPayload>;

EntryKind KindOf(const Payload& p);
// The task id a payload belongs to, if any (for the task index and `audit log --task`).
const std::string* TaskIdOf(const Payload& p);

// The unsigned part of an entry, filled in by whoever creates it.
struct EntryBody {
  std::string chain_id;
  PubKey signer;
  uint64_t nonce = 0;
  uint64_t timestamp_ms = 0;
  Payload payload;
};

// An immutable, encoded entry with its cached digest and leaf hash. Created by signing a
// body or by decoding bytes; either way the canonical bytes are kept.
class Entry {
 public:
  // Validates the body's fields, encodes it and signs it with `key`, whose public key
  // becomes the signer (body.signer is overwritten).
  static Result<Entry> Sign(EntryBody body, const SecretKey& key, bool deterministic = false);
  // Decodes canonical bytes. Rejects trailing bytes, non-minimal varints, over-long fields,
  // unknown kinds and bad field values, naming what is wrong. Does NOT verify the signature.
  static Result<Entry> Decode(ByteView bytes);

  const std::string& chain_id() const { return rep_->body.chain_id; }
  EntryKind kind() const { return KindOf(rep_->body.payload); }
  const PubKey& signer() const { return rep_->body.signer; }
  uint64_t nonce() const { return rep_->body.nonce; }
  uint64_t timestamp_ms() const { return rep_->body.timestamp_ms; }
  const Payload& payload() const { return rep_->body.payload; }
  const EntryBody& body() const { return rep_->body; }
  const Signature& signature() const { return rep_->sig; }
  const Bytes& bytes() const { return rep_->bytes; }
  // TaggedHash("fedledger/entry/v1", bytes without the 64-byte signature).
  const Hash32& digest() const { return rep_->digest; }
  // SHA256(0x00 || bytes): the RFC 9162 leaf hash, also the entry's identifier.
  const Hash32& leaf_hash() const { return rep_->leaf_hash; }

  bool VerifySignature() const {
    return fedledger::VerifySignature(signer(), rep_->digest, rep_->sig);
  }
  // For VerifySignatures (a batch); valid as long as this entry (or a copy of it) lives.
  SignatureCheck signature_check() const {
    return SignatureCheck{&signer(), &rep_->digest, &rep_->sig};
  }

  template <typename T>
  const T* As() const { return std::get_if<T>(&rep_->body.payload); }

 private:
  // An entry never changes once made, so copies share one representation: an entry passes
  // from the network to the mempool, a proposal, a block and the store as a reference count,
  // not as a copy of its bytes and decoded fields. A moved-from Entry must not be used.
  struct Rep {
    EntryBody body;
    Signature sig{};
    Bytes bytes;
    Hash32 digest;
    Hash32 leaf_hash;
    void ComputeHashes();
  };
  explicit Entry(std::shared_ptr<const Rep> rep) : rep_(std::move(rep)) {}
  std::shared_ptr<const Rep> rep_;
};

// Validates the fields of a payload (identifiers, non-zero hashes, sorted unique lists,
// curve points), as Decode does. Used by builders before signing.
Status ValidatePayload(const Payload& p);
Status ValidateEntryBody(const EntryBody& body);

}  // namespace fedledger
