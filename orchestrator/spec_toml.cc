#include "orchestrator/spec_toml.h"

#include <algorithm>
#include <charconv>
#include <set>
#include <sstream>

#include <toml++/toml.h>

#include "ledger/describe.h"

namespace fedledger::orchestrator {
namespace {

constexpr uint64_t kDefaultExpiryMs = 24ull * 3600 * 1000;

class Parser {
 public:
  Parser(std::string source, const KeyResolver& resolve)
      : source_(std::move(source)), resolve_(resolve) {}

  Status Bad(const std::string& where, const std::string& what) const {
    return Status::InvalidArgument(source_ + ": " + where + ": " + what);
  }

  Status CheckKeys(const toml::table& t, const std::string& where,
                   const std::set<std::string>& allowed) const {
    for (const auto& [k, v] : t) {
      std::string key(k.str());
      if (!allowed.count(key)) {
        std::string list;
        for (const std::string& a : allowed) list += (list.empty() ? "" : ", ") + a;
        return Bad(where + key, "unknown key (expected one of: " + list + ")");
      }
    }
    return Status::Ok();
  }

  // A required (or optional: empty when absent) string.
  Result<std::string> String(const toml::table& t, const std::string& where, const char* key,
                             bool required) const {
    const toml::node* n = t.get(key);
    if (!n) {
      if (required) return Bad(where + key, "missing");
      return std::string();
    }
    auto s = n->value_exact<std::string>();
    if (!s) return Bad(where + key, "must be a string");
    return *s;
  }

  Result<std::optional<uint64_t>> Uint(const toml::table& t, const std::string& where,
                                       const char* key) const {
    const toml::node* n = t.get(key);
    if (!n) return std::optional<uint64_t>();
    auto v = n->value_exact<int64_t>();
    if (!v || *v < 0) return Bad(where + key, "must be a non-negative integer");
    return std::optional<uint64_t>(static_cast<uint64_t>(*v));
  }

  Result<PubKey> Key(const std::string& where, const std::string& name) const {
    auto k = resolve_(name);
    if (!k.ok()) return Bad(where, k.status().message());
    return *k;
  }

  // The setting's value as text (see the header).
  Result<std::string> SettingText(const std::string& where, const toml::node& n) const {
    if (auto s = n.value_exact<std::string>()) return *s;
    if (auto b = n.value_exact<bool>()) return std::string(*b ? "true" : "false");
    if (auto i = n.value_exact<int64_t>()) return std::to_string(*i);
    if (auto d = n.value_exact<double>()) {
      char buf[64];
      auto [end, ec] = std::to_chars(buf, buf + sizeof(buf), *d);
      if (ec != std::errc()) return Bad(where, "cannot format the number");
      return std::string(buf, end);
    }
    return Bad(where, "must be a string, an integer, a float or a boolean");
  }

 private:
  std::string source_;
  const KeyResolver& resolve_;
};

}  // namespace

Result<TaskSpec> ParseTaskSpecToml(const std::string& toml_text, const std::string& source,
                                   const KeyResolver& resolve, uint64_t now_ms) {
  Parser p(source, resolve);
  toml::table root;
  try {
    root = toml::parse(toml_text);
  } catch (const toml::parse_error& e) {
    std::ostringstream os;
    os << source << ": not valid TOML (line " << e.source().begin.line << ", column "
       << e.source().begin.column << "): " << e.description();
    return Status::InvalidArgument(os.str());
  }
  FL_TRY(p.CheckKeys(root, "",
                     {"task_id", "title", "description", "model", "rounds", "round_timeout_ms",
                      "expires_at", "expires_in_minutes", "aggregator", "participants",
                      "settings"}));
  TaskSpec s;
  FL_ASSIGN(s.task_id, p.String(root, "", "task_id", true));
  FL_ASSIGN(s.title, p.String(root, "", "title", true));
  FL_ASSIGN(s.description, p.String(root, "", "description", false));
  FL_ASSIGN(s.model, p.String(root, "", "model", true));
  FL_ASSIGN(std::optional<uint64_t> rounds, p.Uint(root, "", "rounds"));
  if (!rounds) return p.Bad("rounds", "missing");
  if (*rounds == 0 || *rounds > 10000) return p.Bad("rounds", "must be between 1 and 10000");
  s.rounds = static_cast<uint32_t>(*rounds);
  FL_ASSIGN(std::optional<uint64_t> timeout, p.Uint(root, "", "round_timeout_ms"));
  if (!timeout) return p.Bad("round_timeout_ms", "missing");
  if (*timeout == 0) return p.Bad("round_timeout_ms", "must be positive");
  s.round_timeout_ms = *timeout;

  FL_ASSIGN(std::string expires_at, p.String(root, "", "expires_at", false));
  FL_ASSIGN(std::optional<uint64_t> expires_in, p.Uint(root, "", "expires_in_minutes"));
  if (!expires_at.empty() && expires_in) {
    return p.Bad("expires_at", "give expires_at or expires_in_minutes, not both");
  }
  if (!expires_at.empty()) {
    auto t = ParseTimeMs(expires_at);
    if (!t.ok()) return p.Bad("expires_at", t.status().message());
    s.expires_at_ms = *t;
  } else if (expires_in) {
    if (*expires_in == 0) return p.Bad("expires_in_minutes", "must be positive");
    s.expires_at_ms = now_ms + *expires_in * 60'000;
  } else {
    s.expires_at_ms = now_ms + kDefaultExpiryMs;
  }
  if (s.expires_at_ms <= now_ms) {
    return p.Bad("expires_at", FormatTimeMs(s.expires_at_ms) + " is not in the future");
  }

  FL_ASSIGN(std::string aggregator, p.String(root, "", "aggregator", true));
  FL_ASSIGN(s.aggregator, p.Key("aggregator", aggregator));

  const toml::node* parts = root.get("participants");
  if (!parts) return p.Bad("participants", "missing (an array of {partner, dataset} tables)");
  const toml::array* arr = parts->as_array();
  if (!arr) return p.Bad("participants", "must be an array of tables ([[participants]])");
  for (size_t i = 0; i < arr->size(); ++i) {
    const std::string where = "participants[" + std::to_string(i) + "].";
    const toml::table* t = (*arr)[i].as_table();
    if (!t) return p.Bad(where.substr(0, where.size() - 1), "must be a table {partner, dataset}");
    FL_TRY(p.CheckKeys(*t, where, {"partner", "dataset"}));
    FL_ASSIGN(std::string partner, p.String(*t, where, "partner", true));
    FL_ASSIGN(std::string dataset, p.String(*t, where, "dataset", true));
    FL_ASSIGN(PubKey key, p.Key(where + "partner", partner));
    for (const Participant& other : s.participants) {
      if (other.partner == key) return p.Bad(where + "partner", "'" + partner + "' is listed twice");
    }
    s.participants.push_back({key, dataset});
  }
  if (s.participants.size() < 2) {
    return p.Bad("participants", "a task needs at least 2 participants (secure aggregation "
                                 "hides an update only in a sum of two or more), the file lists " +
                                     std::to_string(s.participants.size()));
  }
  std::sort(s.participants.begin(), s.participants.end(),
            [](const Participant& a, const Participant& b) { return a.partner < b.partner; });

  if (const toml::node* st = root.get("settings")) {
    const toml::table* t = st->as_table();
    if (!t) return p.Bad("settings", "must be a table ([settings])");
    for (const auto& [k, v] : *t) {
      std::string key(k.str());
      FL_ASSIGN(std::string text, p.SettingText("settings." + key, v));
      s.settings.push_back({key, text});
    }
    std::sort(s.settings.begin(), s.settings.end(),
              [](const Setting& a, const Setting& b) { return a.key < b.key; });
  }
  Status valid = s.Validate();
  if (!valid.ok()) return Status::InvalidArgument(source + ": " + valid.message());
  return s;
}

}  // namespace fedledger::orchestrator
