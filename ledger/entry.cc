#include "ledger/entry.h"

#include <algorithm>
#include <cctype>
#include <set>

namespace fedledger {

namespace {

constexpr uint8_t kEntryVersion = 1;
constexpr size_t kMaxTitleLen = 256;
constexpr size_t kMaxSettingValueLen = 256;

const char* const kKindNames[] = {
    "",           "GENESIS",       "DATASET_REGISTER", "TASK_PROPOSE",
    "TASK_APPROVE", "TASK_REJECT", "TASK_REVOKE",      "TASK_COMPLETE",
    "DATA_ACCESS", "MODEL_UPDATE", "ROUND_AGGREGATE",  "ROUND_RESTART",
};

Status Invalid(const std::string& m) { return Status::InvalidArgument(m); }

Status NonZero(const char* field, const Hash32& h) {
  if (h.IsZero()) return Invalid(std::string(field) + ": must not be all zeros");
  return Status::Ok();
}

Status ValidKey(const char* field, const PubKey& k) {
  if (!IsValidPubKey(k)) {
    return Invalid(std::string(field) + ": " + k.ShortHex() + "... is not a valid public key");
  }
  return Status::Ok();
}

Status SortedUniqueKeys(const char* field, const std::vector<PubKey>& keys, bool non_empty) {
  if (non_empty && keys.empty()) return Invalid(std::string(field) + ": must not be empty");
  for (size_t i = 0; i < keys.size(); ++i) {
    FL_TRY(ValidKey(field, keys[i]));
    if (i > 0 && !(keys[i - 1] < keys[i])) {
      return Invalid(std::string(field) + ": keys must be sorted and unique");
    }
  }
  return Status::Ok();
}

Status ValidText(const char* field, const std::string& s, size_t max, bool multiline) {
  if (s.size() > max) {
    return Invalid(std::string(field) + ": length " + std::to_string(s.size()) +
                   " exceeds the limit of " + std::to_string(max));
  }
  if (!IsValidUtf8(s, multiline)) {
    return Invalid(std::string(field) + ": not valid UTF-8 text (or contains control characters)");
  }
  return Status::Ok();
}

Status ValidMembers(const char* field, const std::vector<Member>& members, bool non_empty) {
  if (non_empty && members.empty()) return Invalid(std::string(field) + ": must not be empty");
  if (members.size() > kMaxMembers) return Invalid(std::string(field) + ": too many members");
  std::set<std::string> names;
  std::set<PubKey> keys;
  for (const Member& m : members) {
    FL_TRY(ValidateIdentifier(field, m.name));
    FL_TRY(ValidKey(field, m.key));
    if (!names.insert(m.name).second) {
      return Invalid(std::string(field) + ": duplicate name '" + m.name + "'");
    }
    if (!keys.insert(m.key).second) {
      return Invalid(std::string(field) + ": duplicate key " + m.key.ShortHex());
    }
  }
  return Status::Ok();
}

// ---- payload encoders ----

void EncodeMembers(Writer& w, const std::vector<Member>& ms) {
  w.Varint(ms.size());
  for (const Member& m : ms) {
    w.String(m.name);
    w.Hash(m.key);
  }
}

Result<std::vector<Member>> DecodeMembers(Reader& r, const char* field) {
  FL_ASSIGN(uint64_t n, r.Count(field, kMaxMembers));
  std::vector<Member> out(n);
  for (Member& m : out) {
    FL_ASSIGN(m.name, r.String(field, kMaxNameLen));
    FL_ASSIGN(m.key, r.Hash(field));
  }
  return out;
}

void EncodeKeys(Writer& w, const std::vector<PubKey>& keys) {
  w.Varint(keys.size());
  for (const PubKey& k : keys) w.Hash(k);
}

Result<std::vector<PubKey>> DecodeKeys(Reader& r, const char* field) {
  FL_ASSIGN(uint64_t n, r.Count(field, kMaxMembers));
  std::vector<PubKey> out(n);
  for (PubKey& k : out) {
    FL_ASSIGN(k, r.Hash(field));
  }
  return out;
}

struct Encoder {
  Writer& w;
  void operator()(const GenesisPayload& p) {
    w.U64(p.genesis_time_ms);
    EncodeMembers(w, p.validators);
    EncodeMembers(w, p.partners);
  }
  void operator()(const DatasetRegisterPayload& p) {
    w.String(p.dataset_id);
    w.Hash(p.content_hash);
    w.U64(p.rows);
    w.String(p.schema);
    w.String(p.description);
  }
  void operator()(const TaskProposePayload& p) { p.spec.Encode(w); }
  void operator()(const TaskApprovePayload& p) {
    w.String(p.task_id);
    w.Hash(p.spec_hash);
  }
  void operator()(const TaskRejectPayload& p) {
    w.String(p.task_id);
    w.Hash(p.spec_hash);
    w.String(p.reason);
  }
  void operator()(const TaskRevokePayload& p) {
    w.String(p.task_id);
    w.String(p.reason);
  }
  void operator()(const TaskCompletePayload& p) {
    w.String(p.task_id);
    w.U32(p.rounds_completed);
    w.Hash(p.final_trunk_hash);
  }
  void operator()(const DataAccessPayload& p) {
    w.String(p.task_id);
    w.U32(p.round);
    w.String(p.dataset_id);
    w.Hash(p.dataset_hash);
    w.U64(p.rows_read);
  }
  void operator()(const ModelUpdatePayload& p) {
    w.String(p.task_id);
    w.U32(p.round);
    w.Hash(p.update_hash);
    w.U64(p.sample_count);
    w.U64(p.size_bytes);
    w.U32(p.attempt);
  }
  void operator()(const RoundAggregatePayload& p) {
    w.String(p.task_id);
    w.U32(p.round);
    w.Hash(p.aggregate_hash);
    EncodeKeys(w, p.contributors);
    w.U64(p.total_samples);
  }
  void operator()(const RoundRestartPayload& p) {
    w.String(p.task_id);
    w.U32(p.round);
    w.U32(p.attempt);
    EncodeKeys(w, p.dropped);
    w.String(p.reason);
  }
};

Result<Payload> DecodePayload(EntryKind kind, Reader& r) {
  switch (kind) {
    case EntryKind::kGenesis: {
      GenesisPayload p;
      FL_ASSIGN(p.genesis_time_ms, r.U64("genesis_time_ms"));
      FL_ASSIGN(p.validators, DecodeMembers(r, "validators"));
      FL_ASSIGN(p.partners, DecodeMembers(r, "partners"));
      return Payload(std::move(p));
    }
    case EntryKind::kDatasetRegister: {
      DatasetRegisterPayload p;
      FL_ASSIGN(p.dataset_id, r.String("dataset_id", kMaxNameLen));
      FL_ASSIGN(p.content_hash, r.Hash("content_hash"));
      FL_ASSIGN(p.rows, r.U64("rows"));
      FL_ASSIGN(p.schema, r.String("schema", kMaxTextLen));
      FL_ASSIGN(p.description, r.String("description", kMaxTextLen, true));
      return Payload(std::move(p));
    }
    case EntryKind::kTaskPropose: {
      TaskProposePayload p;
      FL_ASSIGN(p.spec, TaskSpec::Decode(r));
      return Payload(std::move(p));
    }
    case EntryKind::kTaskApprove: {
      TaskApprovePayload p;
      FL_ASSIGN(p.task_id, r.String("task_id", kMaxNameLen));
      FL_ASSIGN(p.spec_hash, r.Hash("spec_hash"));
      return Payload(std::move(p));
    }
    case EntryKind::kTaskReject: {
      TaskRejectPayload p;
      FL_ASSIGN(p.task_id, r.String("task_id", kMaxNameLen));
      FL_ASSIGN(p.spec_hash, r.Hash("spec_hash"));
      FL_ASSIGN(p.reason, r.String("reason", kMaxTextLen, true));
      return Payload(std::move(p));
    }
    case EntryKind::kTaskRevoke: {
      TaskRevokePayload p;
      FL_ASSIGN(p.task_id, r.String("task_id", kMaxNameLen));
      FL_ASSIGN(p.reason, r.String("reason", kMaxTextLen, true));
      return Payload(std::move(p));
    }
    case EntryKind::kTaskComplete: {
      TaskCompletePayload p;
      FL_ASSIGN(p.task_id, r.String("task_id", kMaxNameLen));
      FL_ASSIGN(p.rounds_completed, r.U32("rounds_completed"));
      FL_ASSIGN(p.final_trunk_hash, r.Hash("final_trunk_hash"));
      return Payload(std::move(p));
    }
    case EntryKind::kDataAccess: {
      DataAccessPayload p;
      FL_ASSIGN(p.task_id, r.String("task_id", kMaxNameLen));
      FL_ASSIGN(p.round, r.U32("round"));
      FL_ASSIGN(p.dataset_id, r.String("dataset_id", kMaxNameLen));
      FL_ASSIGN(p.dataset_hash, r.Hash("dataset_hash"));
      FL_ASSIGN(p.rows_read, r.U64("rows_read"));
      return Payload(std::move(p));
    }
    case EntryKind::kModelUpdate: {
      ModelUpdatePayload p;
      FL_ASSIGN(p.task_id, r.String("task_id", kMaxNameLen));
      FL_ASSIGN(p.round, r.U32("round"));
      FL_ASSIGN(p.update_hash, r.Hash("update_hash"));
      FL_ASSIGN(p.sample_count, r.U64("sample_count"));
      FL_ASSIGN(p.size_bytes, r.U64("size_bytes"));
      FL_ASSIGN(p.attempt, r.U32("attempt"));
      return Payload(std::move(p));
    }
    case EntryKind::kRoundAggregate: {
      RoundAggregatePayload p;
      FL_ASSIGN(p.task_id, r.String("task_id", kMaxNameLen));
      FL_ASSIGN(p.round, r.U32("round"));
      FL_ASSIGN(p.aggregate_hash, r.Hash("aggregate_hash"));
      FL_ASSIGN(p.contributors, DecodeKeys(r, "contributors"));
      FL_ASSIGN(p.total_samples, r.U64("total_samples"));
      return Payload(std::move(p));
    }
    case EntryKind::kRoundRestart: {
      RoundRestartPayload p;
      FL_ASSIGN(p.task_id, r.String("task_id", kMaxNameLen));
      FL_ASSIGN(p.round, r.U32("round"));
      FL_ASSIGN(p.attempt, r.U32("attempt"));
      FL_ASSIGN(p.dropped, DecodeKeys(r, "dropped"));
      FL_ASSIGN(p.reason, r.String("reason", kMaxTextLen, true));
      return Payload(std::move(p));
    }
  }
  return Invalid("unknown entry kind " + std::to_string(static_cast<int>(kind)));
}

struct Validator {
  Status operator()(const GenesisPayload& p) {
    if (p.genesis_time_ms == 0) return Invalid("genesis_time_ms: must be set");
    FL_TRY(ValidMembers("validators", p.validators, true));
    return ValidMembers("partners", p.partners, false);
  }
  Status operator()(const DatasetRegisterPayload& p) {
    FL_TRY(ValidateIdentifier("dataset_id", p.dataset_id));
    FL_TRY(NonZero("content_hash", p.content_hash));
    if (p.rows == 0) return Invalid("rows: a dataset must have at least one row");
    FL_TRY(ValidText("schema", p.schema, kMaxTextLen, false));
    return ValidText("description", p.description, kMaxTextLen, true);
  }
  Status operator()(const TaskProposePayload& p) { return p.spec.Validate(); }
  Status operator()(const TaskApprovePayload& p) {
    FL_TRY(ValidateIdentifier("task_id", p.task_id));
    return NonZero("spec_hash", p.spec_hash);
  }
  Status operator()(const TaskRejectPayload& p) {
    FL_TRY(ValidateIdentifier("task_id", p.task_id));
    FL_TRY(NonZero("spec_hash", p.spec_hash));
    return ValidText("reason", p.reason, kMaxTextLen, true);
  }
  Status operator()(const TaskRevokePayload& p) {
    FL_TRY(ValidateIdentifier("task_id", p.task_id));
    return ValidText("reason", p.reason, kMaxTextLen, true);
  }
  Status operator()(const TaskCompletePayload& p) {
    FL_TRY(ValidateIdentifier("task_id", p.task_id));
    if (p.rounds_completed == 0) return Invalid("rounds_completed: must be at least 1");
    return NonZero("final_trunk_hash", p.final_trunk_hash);
  }
  Status operator()(const DataAccessPayload& p) {
    FL_TRY(ValidateIdentifier("task_id", p.task_id));
    FL_TRY(ValidateIdentifier("dataset_id", p.dataset_id));
    FL_TRY(NonZero("dataset_hash", p.dataset_hash));
    if (p.rows_read == 0) return Invalid("rows_read: must be at least 1");
    return Status::Ok();
  }
  Status operator()(const ModelUpdatePayload& p) {
    FL_TRY(ValidateIdentifier("task_id", p.task_id));
    FL_TRY(NonZero("update_hash", p.update_hash));
    if (p.sample_count == 0) return Invalid("sample_count: must be at least 1");
    if (p.size_bytes == 0) return Invalid("size_bytes: must be at least 1");
    return Status::Ok();
  }
  Status operator()(const RoundAggregatePayload& p) {
    FL_TRY(ValidateIdentifier("task_id", p.task_id));
    FL_TRY(NonZero("aggregate_hash", p.aggregate_hash));
    FL_TRY(SortedUniqueKeys("contributors", p.contributors, true));
    if (p.total_samples == 0) return Invalid("total_samples: must be at least 1");
    return Status::Ok();
  }
  Status operator()(const RoundRestartPayload& p) {
    FL_TRY(ValidateIdentifier("task_id", p.task_id));
    if (p.attempt == 0) return Invalid("attempt: a restart starts attempt 1 or later");
    FL_TRY(SortedUniqueKeys("dropped", p.dropped, true));
    return ValidText("reason", p.reason, kMaxTextLen, true);
  }
};

}  // namespace

const char* EntryKindName(EntryKind kind) {
  auto k = static_cast<uint8_t>(kind);
  return (k >= 1 && k <= kMaxEntryKind) ? kKindNames[k] : "UNKNOWN";
}

Result<EntryKind> ParseEntryKind(std::string_view name) {
  std::string norm;
  for (char c : name) norm.push_back(c == '-' ? '_' : static_cast<char>(std::toupper(c)));
  for (uint8_t k = 1; k <= kMaxEntryKind; ++k) {
    if (norm == kKindNames[k]) return static_cast<EntryKind>(k);
  }
  std::string all;
  for (uint8_t k = 1; k <= kMaxEntryKind; ++k) all += std::string(k > 1 ? ", " : "") + kKindNames[k];
  return Invalid("unknown entry kind '" + std::string(name) + "' (known: " + all + ")");
}

EntryKind KindOf(const Payload& p) { return static_cast<EntryKind>(p.index() + 1); }

const std::string* TaskIdOf(const Payload& p) {
  return std::visit(
      [](const auto& v) -> const std::string* {
        using T = std::decay_t<decltype(v)>;
        if constexpr (std::is_same_v<T, TaskProposePayload>) {
          return &v.spec.task_id;
        } else if constexpr (requires { v.task_id; }) {
          return &v.task_id;
        } else {
          return nullptr;
        }
      },
      p);
}

// ---- TaskSpec ----

void TaskSpec::Encode(Writer& w) const {
  w.String(task_id);
  w.String(title);
  w.String(description);
  w.Varint(participants.size());
  for (const Participant& p : participants) {
    w.Hash(p.partner);
    w.String(p.dataset_id);
  }
  w.Hash(aggregator);
  w.U32(rounds);
  w.U64(round_timeout_ms);
  w.U64(expires_at_ms);
  w.String(model);
  w.Varint(settings.size());
  for (const Setting& s : settings) {
    w.String(s.key);
    w.String(s.value);
  }
}

Result<TaskSpec> TaskSpec::Decode(Reader& r) {
  TaskSpec s;
  FL_ASSIGN(s.task_id, r.String("task_id", kMaxNameLen));
  FL_ASSIGN(s.title, r.String("title", kMaxTitleLen));
  FL_ASSIGN(s.description, r.String("description", kMaxTextLen, true));
  FL_ASSIGN(uint64_t np, r.Count("participants", kMaxMembers));
  s.participants.resize(np);
  for (Participant& p : s.participants) {
    FL_ASSIGN(p.partner, r.Hash("participants"));
    FL_ASSIGN(p.dataset_id, r.String("participants.dataset_id", kMaxNameLen));
  }
  FL_ASSIGN(s.aggregator, r.Hash("aggregator"));
  FL_ASSIGN(s.rounds, r.U32("rounds"));
  FL_ASSIGN(s.round_timeout_ms, r.U64("round_timeout_ms"));
  FL_ASSIGN(s.expires_at_ms, r.U64("expires_at_ms"));
  FL_ASSIGN(s.model, r.String("model", kMaxNameLen));
  FL_ASSIGN(uint64_t ns, r.Count("settings", kMaxSettings));
  s.settings.resize(ns);
  for (Setting& st : s.settings) {
    FL_ASSIGN(st.key, r.String("settings.key", kMaxNameLen));
    FL_ASSIGN(st.value, r.String("settings.value", kMaxSettingValueLen));
  }
  return s;
}

Status TaskSpec::Validate() const {
  FL_TRY(ValidateIdentifier("task_id", task_id));
  FL_TRY(ValidText("title", title, kMaxTitleLen, false));
  FL_TRY(ValidText("description", description, kMaxTextLen, true));
  if (participants.empty()) return Invalid("participants: a task needs at least one participant");
  if (participants.size() > kMaxMembers) return Invalid("participants: too many");
  for (size_t i = 0; i < participants.size(); ++i) {
    FL_TRY(ValidKey("participants", participants[i].partner));
    FL_TRY(ValidateIdentifier("participants.dataset_id", participants[i].dataset_id));
    if (i > 0 && !(participants[i - 1].partner < participants[i].partner)) {
      return Invalid("participants: must be sorted by partner key, each partner once");
    }
  }
  FL_TRY(ValidKey("aggregator", aggregator));
  if (rounds == 0 || rounds > 10000) return Invalid("rounds: must be between 1 and 10000");
  if (round_timeout_ms == 0) return Invalid("round_timeout_ms: must be positive");
  if (expires_at_ms == 0) return Invalid("expires_at_ms: must be set");
  FL_TRY(ValidateIdentifier("model", model));
  if (settings.size() > kMaxSettings) return Invalid("settings: too many");
  for (size_t i = 0; i < settings.size(); ++i) {
    FL_TRY(ValidateIdentifier("settings.key", settings[i].key));
    FL_TRY(ValidText("settings.value", settings[i].value, kMaxSettingValueLen, false));
    if (i > 0 && !(settings[i - 1].key < settings[i].key)) {
      return Invalid("settings: keys must be sorted and unique");
    }
  }
  return Status::Ok();
}

Hash32 TaskSpec::Hash() const {
  Writer w;
  Encode(w);
  return TaggedHash(tags::kTaskSpec, w.bytes());
}

const std::string* TaskSpec::FindSetting(std::string_view key) const {
  for (const Setting& s : settings) {
    if (s.key == key) return &s.value;
  }
  return nullptr;
}

bool TaskSpec::HasParticipant(const PubKey& k) const {
  return std::any_of(participants.begin(), participants.end(),
                     [&](const Participant& p) { return p.partner == k; });
}

// ---- Entry ----

Status ValidatePayload(const Payload& p) { return std::visit(Validator{}, p); }

Status ValidateEntryBody(const EntryBody& body) {
  FL_TRY(ValidateIdentifier("chain_id", body.chain_id));
  FL_TRY(ValidKey("signer", body.signer));
  if (body.timestamp_ms == 0) return Invalid("timestamp_ms: must be set");
  FL_TRY(ValidatePayload(body.payload));
  return Status::Ok();
}

namespace {
void EncodeUnsigned(Writer& w, const EntryBody& body) {
  w.U8(kEntryVersion);
  w.String(body.chain_id);
  w.U8(static_cast<uint8_t>(KindOf(body.payload)));
  w.Hash(body.signer);
  w.U64(body.nonce);
  w.U64(body.timestamp_ms);
  std::visit(Encoder{w}, body.payload);
}
}  // namespace

void Entry::Rep::ComputeHashes() {
  ByteView unsigned_part(bytes.data(), bytes.size() - 64);
  digest = TaggedHash(tags::kEntry, unsigned_part);
  Sha256Hasher h;
  h.Update(uint8_t{0x00}).Update(bytes);
  leaf_hash = h.Finish();
}

Result<Entry> Entry::Sign(EntryBody body, const SecretKey& key, bool deterministic) {
  body.signer = key.pubkey();
  FL_TRY(ValidateEntryBody(body));
  Writer w(256);
  EncodeUnsigned(w, body);
  if (w.size() + 64 > kMaxEntryBytes) {
    return Invalid("entry of " + std::to_string(w.size() + 64) + " bytes exceeds the limit of " +
                   std::to_string(kMaxEntryBytes));
  }
  auto e = std::make_shared<Rep>();
  e->body = std::move(body);
  e->bytes = std::move(w).Take();
  Hash32 digest = TaggedHash(tags::kEntry, e->bytes);
  e->sig = deterministic ? key.SignDeterministic(digest) : key.Sign(digest);
  e->bytes.insert(e->bytes.end(), e->sig.begin(), e->sig.end());
  e->ComputeHashes();
  return Entry(std::move(e));
}

Result<Entry> Entry::Decode(ByteView bytes) {
  if (bytes.size() > kMaxEntryBytes) {
    return Invalid("entry of " + std::to_string(bytes.size()) + " bytes exceeds the limit of " +
                   std::to_string(kMaxEntryBytes));
  }
  if (bytes.size() < 64) return Invalid("entry is too short to hold a signature");
  Reader r(bytes.subspan(0, bytes.size() - 64));
  auto e = std::make_shared<Rep>();
  FL_ASSIGN(uint8_t version, r.U8("version"));
  if (version != kEntryVersion) {
    return Invalid("version: unsupported entry version " + std::to_string(version));
  }
  FL_ASSIGN(e->body.chain_id, r.String("chain_id", kMaxNameLen));
  FL_ASSIGN(uint8_t kind, r.U8("kind"));
  if (kind < 1 || kind > kMaxEntryKind) {
    return Invalid("kind: unknown entry kind " + std::to_string(kind));
  }
  FL_ASSIGN(e->body.signer, r.Hash("signer"));
  FL_ASSIGN(e->body.nonce, r.U64("nonce"));
  FL_ASSIGN(e->body.timestamp_ms, r.U64("timestamp_ms"));
  FL_ASSIGN(e->body.payload, DecodePayload(static_cast<EntryKind>(kind), r));
  if (!r.done()) {
    return Invalid(std::string(EntryKindName(static_cast<EntryKind>(kind))) + " payload: " +
                   std::to_string(r.remaining()) + " unexpected bytes before the signature");
  }
  FL_TRY(ValidateEntryBody(e->body));
  std::copy(bytes.end() - 64, bytes.end(), e->sig.begin());
  e->bytes.assign(bytes.begin(), bytes.end());
  e->ComputeHashes();
  return Entry(std::move(e));
}

}  // namespace fedledger
