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
  if (s.size() == 64) return Hash32::FromHex(s);
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

Result<uint64_t> ParseTimeMs(const std::string& text) {
  if (!text.empty() && text.find_first_not_of("0123456789") == std::string::npos) {
    if (text.size() > 19) return Status::InvalidArgument("time '" + text + "' is out of range");
    return std::stoull(text);
  }
  int y, mo, d, h = 0, mi = 0, s = 0;
  char tail[32] = {0};
  int n = std::sscanf(text.c_str(), "%4d-%2d-%2dT%2d:%2d:%2d%31s", &y, &mo, &d, &h, &mi, &s, tail);
  bool date_only = n == 3 && text.size() == 10;
  std::string rest = tail;
  uint64_t frac_ms = 0;
  if (n == 7 && !rest.empty() && rest[0] == '.') {
    size_t i = 1;
    uint64_t scale = 100;
    while (i < rest.size() && std::isdigit(static_cast<unsigned char>(rest[i]))) {
      frac_ms += scale * static_cast<uint64_t>(rest[i] - '0');
      scale /= 10;
      ++i;
    }
    rest = rest.substr(i);
  }
  bool full = (n == 7 && rest == "Z");
  if (!(date_only || full) || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || s > 60) {
    return Status::InvalidArgument("cannot read time '" + text +
                                   "': use 2026-11-23, 2026-11-23T16:04:05Z or epoch milliseconds");
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
