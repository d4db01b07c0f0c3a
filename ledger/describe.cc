#include "ledger/describe.h"

#include <cstdio>
#include <ctime>

namespace fedledger {

KeyNames::KeyNames(const GenesisPayload& g) {
  for (const Member& m : g.validators) names_[m.key] = m.name;
  for (const Member& m : g.partners) names_[m.key] = m.name;
}

std::string KeyNames::Name(const PubKey& key) const {
  auto it = names_.find(key);
  return it != names_.end() ? it->second : key.Hex().substr(0, 12);
}

Result<PubKey> KeyNames::Resolve(const std::string& s) const {
  if (s.size() == 64) {
    FL_ASSIGN(PubKey key, Hash32::FromHex(s));
    // 32 bytes that are no point's x coordinate name nobody: no signature verifies under them.
    if (!IsValidPubKey(key)) {
      return Status::InvalidArgument("'" + s + "' is not a valid public key (not the x " +
                                     "coordinate of a secp256k1 point)");
    }
    return key;
  }
  for (const auto& [key, name] : names_) {
    if (name == s) return key;
  }
  return Status::NotFound("'" + s + "' is neither a 64-hex-digit public key nor a member name " +
                          "in the genesis");
}

std::string WithCommas(uint64_t v) {
  std::string s = std::to_string(v), out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (i > 0 && (s.size() - i) % 3 == 0) out.push_back(',');
    out.push_back(s[i]);
  }
  return out;
}

namespace {
std::string Short(const Hash32& h) { return h.Hex().substr(0, 12); }

std::string KeyList(const std::vector<PubKey>& keys, const KeyNames& names) {
  std::string out;
  for (size_t i = 0; i < keys.size(); ++i) out += (i ? "," : "") + names.Name(keys[i]);
  return out;
}

std::vector<std::string> HexList(const std::vector<PubKey>& keys) {
  std::vector<std::string> out;
  for (const PubKey& k : keys) out.push_back(k.Hex());
  return out;
}
}  // namespace

std::string DescribePayload(const Payload& p, const KeyNames& names) {
  struct V {
    const KeyNames& names;
    std::string operator()(const GenesisPayload& g) {
      return std::to_string(g.validators.size()) + " validators, " +
             std::to_string(g.partners.size()) + " partners";
    }
    std::string operator()(const DatasetRegisterPayload& d) {
      return "dataset " + d.dataset_id + ": " + WithCommas(d.rows) + " rows, sha256 " +
             Short(d.content_hash);
    }
    std::string operator()(const TaskProposePayload& t) {
      std::string parts;
      for (const Participant& p : t.spec.participants) {
        parts += (parts.empty() ? "" : ",") + names.Name(p.partner);
      }
      return "task " + t.spec.task_id + ": spec " + Short(t.spec.Hash()) + ", " +
             std::to_string(t.spec.rounds) + " rounds, participants " + parts +
             ", aggregator " + names.Name(t.spec.aggregator);
    }
    std::string operator()(const TaskApprovePayload& t) {
      return "task " + t.task_id + ": approves spec " + Short(t.spec_hash);
    }
    std::string operator()(const TaskRejectPayload& t) {
      return "task " + t.task_id + ": rejects spec " + Short(t.spec_hash) +
             (t.reason.empty() ? "" : " (" + t.reason + ")");
    }
    std::string operator()(const TaskRevokePayload& t) {
      return "task " + t.task_id + ": revoked" + (t.reason.empty() ? "" : " (" + t.reason + ")");
    }
    std::string operator()(const TaskCompletePayload& t) {
      return "task " + t.task_id + ": complete after " + std::to_string(t.rounds_completed) +
             " rounds, final trunk " + Short(t.final_trunk_hash);
    }
    std::string operator()(const DataAccessPayload& d) {
      return "task " + d.task_id + " round " + std::to_string(d.round) + ": reads " +
             d.dataset_id + " (" + WithCommas(d.rows_read) + " rows, sha256 " +
             Short(d.dataset_hash) + ")";
    }
    std::string operator()(const ModelUpdatePayload& u) {
      return "task " + u.task_id + " round " + std::to_string(u.round) +
             (u.attempt ? " attempt " + std::to_string(u.attempt) : "") + ": update " +
             Short(u.update_hash) + " (" + WithCommas(u.sample_count) + " samples)";
    }
    std::string operator()(const RoundAggregatePayload& a) {
      return "task " + a.task_id + " round " + std::to_string(a.round) + ": aggregate " +
             Short(a.aggregate_hash) + " of " + KeyList(a.contributors, names);
    }
    std::string operator()(const RoundRestartPayload& r) {
      return "task " + r.task_id + " round " + std::to_string(r.round) + ": restart (attempt " +
             std::to_string(r.attempt) + ") without " + KeyList(r.dropped, names) +
             (r.reason.empty() ? "" : " (" + r.reason + ")");
    }
  };
  return std::visit(V{names}, p);
}

nlohmann::json PayloadToJson(const Payload& p) {
  using nlohmann::json;
  struct V {
    json operator()(const GenesisPayload& g) {
      json vals = json::array(), parts = json::array();
      for (const Member& m : g.validators) vals.push_back({{"name", m.name}, {"key", m.key.Hex()}});
      for (const Member& m : g.partners) parts.push_back({{"name", m.name}, {"key", m.key.Hex()}});
      return {{"genesis_time_ms", g.genesis_time_ms}, {"validators", vals}, {"partners", parts}};
    }
    json operator()(const DatasetRegisterPayload& d) {
      return {{"dataset_id", d.dataset_id}, {"content_hash", d.content_hash.Hex()},
              {"rows", d.rows}, {"schema", d.schema}, {"description", d.description}};
    }
    json operator()(const TaskProposePayload& t) {
      const TaskSpec& s = t.spec;
      json parts = json::array(), settings = json::object();
      for (const Participant& p : s.participants) {
        parts.push_back({{"partner", p.partner.Hex()}, {"dataset_id", p.dataset_id}});
      }
      for (const Setting& st : s.settings) settings[st.key] = st.value;
      return {{"task_id", s.task_id}, {"spec_hash", s.Hash().Hex()}, {"title", s.title},
              {"description", s.description}, {"participants", parts},
              {"aggregator", s.aggregator.Hex()}, {"rounds", s.rounds},
              {"round_timeout_ms", s.round_timeout_ms}, {"expires_at_ms", s.expires_at_ms},
              {"model", s.model}, {"settings", settings}};
    }
    json operator()(const TaskApprovePayload& t) {
      return {{"task_id", t.task_id}, {"spec_hash", t.spec_hash.Hex()}};
    }
    json operator()(const TaskRejectPayload& t) {
      return {{"task_id", t.task_id}, {"spec_hash", t.spec_hash.Hex()}, {"reason", t.reason}};
    }
    json operator()(const TaskRevokePayload& t) {
      return {{"task_id", t.task_id}, {"reason", t.reason}};
    }
    json operator()(const TaskCompletePayload& t) {
      return {{"task_id", t.task_id}, {"rounds_completed", t.rounds_completed},
              {"final_trunk_hash", t.final_trunk_hash.Hex()}};
    }
    json operator()(const DataAccessPayload& d) {
      return {{"task_id", d.task_id}, {"round", d.round}, {"dataset_id", d.dataset_id},
              {"dataset_hash", d.dataset_hash.Hex()}, {"rows_read", d.rows_read}};
    }
    json operator()(const ModelUpdatePayload& u) {
      return {{"task_id", u.task_id}, {"round", u.round}, {"update_hash", u.update_hash.Hex()},
              {"sample_count", u.sample_count}, {"size_bytes", u.size_bytes},
              {"attempt", u.attempt}};
    }
    json operator()(const RoundAggregatePayload& a) {
      return {{"task_id", a.task_id}, {"round", a.round},
              {"aggregate_hash", a.aggregate_hash.Hex()}, {"contributors", HexList(a.contributors)},
              {"total_samples", a.total_samples}};
    }
    json operator()(const RoundRestartPayload& r) {
      return {{"task_id", r.task_id}, {"round", r.round}, {"attempt", r.attempt},
              {"dropped", HexList(r.dropped)}, {"reason", r.reason}};
    }
  };
  return std::visit(V{}, p);
}

nlohmann::json EntryToJson(const Entry& e, const KeyNames& names) {
  return {{"kind", EntryKindName(e.kind())},
          {"signer", e.signer().Hex()},
          {"signer_name", names.Name(e.signer())},
          {"nonce", e.nonce()},
          {"timestamp_ms", e.timestamp_ms()},
          {"time", FormatTimeMs(e.timestamp_ms())},
          {"leaf_hash", e.leaf_hash().Hex()},
          {"payload", PayloadToJson(e.payload())}};
}

nlohmann::json HeaderToJson(const BlockHeader& h) {
  return {{"chain_id", h.chain_id},       {"height", h.height},
          {"prev_hash", h.prev_hash.Hex()}, {"time_ms", h.time_ms},
          {"proposer", h.proposer.Hex()},   {"entry_count", h.entry_count},
          {"log_size", h.log_size},         {"log_root", h.log_root.Hex()},
          {"validator_set_hash", h.validator_set_hash.Hex()}, {"hash", h.Hash().Hex()}};
}

std::string FormatTimeMs(uint64_t ms) {
  std::time_t secs = static_cast<std::time_t>(ms / 1000);
  std::tm tm;
  gmtime_r(&secs, &tm);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                static_cast<int>(ms % 1000));
  return buf;
}

namespace {

// The `n` digits at text[pos..pos+n) as a number, or -1 if any of them is not a digit.
// REQUIRES: pos + n <= text.size().
int Digits(const std::string& text, size_t pos, size_t n) {
  int v = 0;
  for (size_t i = pos; i < pos + n; ++i) {
    if (text[i] < '0' || text[i] > '9') return -1;
    v = v * 10 + (text[i] - '0');
  }
  return v;
}

int DaysInMonth(int year, int month) {
  static constexpr int kDays[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
  return month == 2 && leap ? 29 : kDays[month - 1];
}

}  // namespace

Result<uint64_t> ParseTimeMs(const std::string& text) {
  if (!text.empty() && text.find_first_not_of("0123456789") == std::string::npos) {
    if (text.size() > 19) return Status::InvalidArgument("time '" + text + "' is out of range");
    return std::stoull(text);
  }
  auto unreadable = [&] {
    return Status::InvalidArgument("cannot read time '" + text +
                                   "': use 2026-11-23, 2026-11-23T16:04:05Z or epoch milliseconds");
  };
  // YYYY-MM-DD, optionally followed by THH:MM:SS[.fraction]Z; every field exactly its digits
  // (no signs or spaces, which sscanf would take).
  if (text.size() < 10 || text[4] != '-' || text[7] != '-') return unreadable();
  const int y = Digits(text, 0, 4), mo = Digits(text, 5, 2), d = Digits(text, 8, 2);
  if (y < 0 || mo < 0 || d < 0) return unreadable();
  int h = 0, mi = 0, s = 0;
  uint64_t frac_ms = 0;
  if (text.size() > 10) {
    if (text.size() < 20 || text[10] != 'T' || text[13] != ':' || text[16] != ':') {
      return unreadable();
    }
    h = Digits(text, 11, 2);
    mi = Digits(text, 14, 2);
    s = Digits(text, 17, 2);
    if (h < 0 || mi < 0 || s < 0) return unreadable();
    size_t i = 19;
    if (text[i] == '.') {
      const size_t first = ++i;
      uint64_t scale = 100;
      while (i < text.size() && text[i] >= '0' && text[i] <= '9') {
        frac_ms += scale * static_cast<uint64_t>(text[i] - '0');
        scale /= 10;
        ++i;
      }
      if (i == first) return unreadable();
    }
    if (i + 1 != text.size() || text[i] != 'Z') return unreadable();
  }
  // timegm would quietly carry an impossible date into the next month (2026-02-30 ->
  // 2026-03-02), so every field is checked against the calendar first.
  if (mo < 1 || mo > 12) {
    return Status::InvalidArgument("invalid date in time '" + text + "': there is no month " +
                                   std::to_string(mo));
  }
  if (d < 1 || d > DaysInMonth(y, mo)) {
    return Status::InvalidArgument("invalid date in time '" + text + "': " + text.substr(0, 7) +
                                   " has " + std::to_string(DaysInMonth(y, mo)) + " days");
  }
  if (h > 23 || mi > 59 || s > 60) {  // 60: a leap second
    return Status::InvalidArgument("invalid time of day in time '" + text +
                                   "': use 00:00:00 to 23:59:59");
  }
  std::tm tm{};
  tm.tm_year = y - 1900;
  tm.tm_mon = mo - 1;
  tm.tm_mday = d;
  tm.tm_hour = h;
  tm.tm_min = mi;
  tm.tm_sec = s;
  std::time_t t = timegm(&tm);
  if (t < 0) return Status::InvalidArgument("time '" + text + "' is before 1970");
  return static_cast<uint64_t>(t) * 1000 + frac_ms;
}

}  // namespace fedledger
