#include "node/config.h"

#include <fstream>
#include <set>
#include <sstream>

#include <toml++/toml.h>

namespace fedledger::node {

namespace {

std::string Resolve(const std::string& base_dir, const std::string& p) {
  if (p.empty() || p[0] == '/' || base_dir.empty()) return p;
  return base_dir + "/" + p;
}

Status CheckKeys(const toml::table& t, const std::string& where,
                 const std::set<std::string>& allowed) {
  for (const auto& [k, v] : t) {
    if (!allowed.count(std::string(k.str()))) {
      return Status::InvalidArgument(where + "unknown key '" + std::string(k.str()) + "'");
    }
  }
  return Status::Ok();
}

Result<std::string> GetString(const toml::table& t, const std::string& where, const char* key,
                              bool required) {
  const toml::node* n = t.get(key);
  if (!n) {
    if (required) return Status::InvalidArgument(where + key + ": missing");
    return std::string();
  }
  auto s = n->value<std::string>();
  if (!s) return Status::InvalidArgument(where + key + ": must be a string");
  if (s->empty()) return Status::InvalidArgument(where + key + ": must not be empty");
  return *s;
}

// Sets `out` when the key is present; bounds are inclusive.
Status GetUint(const toml::table& t, const std::string& where, const char* key, uint64_t lo,
               uint64_t hi, uint64_t* out) {
  const toml::node* n = t.get(key);
  if (!n) return Status::Ok();
  auto v = n->value_exact<int64_t>();
  if (!v) return Status::InvalidArgument(where + key + ": must be an integer");
  if (*v < 0 || static_cast<uint64_t>(*v) < lo || static_cast<uint64_t>(*v) > hi) {
    return Status::InvalidArgument(where + key + ": must be between " + std::to_string(lo) +
                                   " and " + std::to_string(hi) + ", got " +
                                   std::to_string(*v));
  }
  *out = static_cast<uint64_t>(*v);
  return Status::Ok();
}

template <typename T>
Status GetUintAs(const toml::table& t, const std::string& where, const char* key, uint64_t lo,
                 uint64_t hi, T* out) {
  uint64_t v = *out;
  FL_TRY(GetUint(t, where, key, lo, hi, &v));
  *out = static_cast<T>(v);
  return Status::Ok();
}

Result<net::HostPort> GetHostPort(const toml::table& t, const std::string& where, const char* key,
                                  bool allow_zero) {
  FL_ASSIGN(std::string s, GetString(t, where, key, true));
  auto hp = net::ParseHostPort(s, allow_zero);
  if (!hp.ok()) return hp.status().WithContext(where + key);
  return *hp;
}

const toml::table* SubTable(const toml::table& root, const char* name, Status* err) {
  const toml::node* n = root.get(name);
  if (!n) return nullptr;
  if (!n->is_table()) {
    *err = Status::InvalidArgument(std::string("[") + name + "] must be a table");
    return nullptr;
  }
  return n->as_table();
}

Result<net::LogLevel> ParseLevel(const std::string& s) {
  if (s == "debug") return net::LogLevel::kDebug;
  if (s == "info") return net::LogLevel::kInfo;
  if (s == "warn") return net::LogLevel::kWarn;
  if (s == "error") return net::LogLevel::kError;
  return Status::InvalidArgument("[log] level: must be debug, info, warn or error, got '" + s +
                                 "'");
}

}  // namespace

Result<NodeConfig> ParseNodeConfig(const std::string& text, const std::string& base_dir) {
  toml::table root;
  try {
    root = toml::parse(text);
  } catch (const toml::parse_error& e) {
    std::ostringstream os;
    os << "config is not valid TOML (line " << e.source().begin.line << ", column "
       << e.source().begin.column << "): " << e.description();
    return Status::InvalidArgument(os.str());
  }
  FL_TRY(CheckKeys(root, "",
                   {"data_dir", "node_key", "genesis", "p2p", "http", "consensus", "mempool",
                    "log", "application", "partner", "artifacts"}));
  NodeConfig c;
  FL_ASSIGN(std::string data_dir, GetString(root, "", "data_dir", true));
  FL_ASSIGN(std::string key, GetString(root, "", "node_key", true));
  FL_ASSIGN(std::string genesis, GetString(root, "", "genesis", true));
  c.data_dir = Resolve(base_dir, data_dir);
  c.node_key_file = Resolve(base_dir, key);
  c.genesis_file = Resolve(base_dir, genesis);

  Status err;
  const toml::table* p2p = SubTable(root, "p2p", &err);
  FL_TRY(err);
  if (!p2p) return Status::InvalidArgument("[p2p]: missing (listen address and peers)");
  FL_TRY(CheckKeys(*p2p, "[p2p] ", {"listen", "peers"}));
  FL_ASSIGN(c.p2p_listen, GetHostPort(*p2p, "[p2p] ", "listen", true));
  if (const toml::node* pn = p2p->get("peers")) {
    const toml::array* arr = pn->as_array();
    if (!arr) return Status::InvalidArgument("[p2p] peers: must be an array of tables");
    for (size_t i = 0; i < arr->size(); ++i) {
      std::string where = "[p2p] peers[" + std::to_string(i) + "].";
      const toml::table* pt = (*arr)[i].as_table();
      if (!pt) return Status::InvalidArgument(where.substr(0, where.size() - 1) +
                                              ": must be a table {key, address}");
      FL_TRY(CheckKeys(*pt, where, {"key", "address", "http"}));
      PeerConfig peer;
      FL_ASSIGN(std::string hex, GetString(*pt, where, "key", true));
      auto k = Hash32::FromHex(hex);
      if (!k.ok()) return k.status().WithContext(where + "key");
      peer.key = *k;
      FL_ASSIGN(peer.address, GetHostPort(*pt, where, "address", false));
      if (pt->get("http")) {
        FL_ASSIGN(net::HostPort h, GetHostPort(*pt, where, "http", true));
        peer.http = h;
      }
      for (const PeerConfig& other : c.peers) {
        if (other.key == peer.key) {
          return Status::InvalidArgument(where + "key: listed twice");
        }
      }
      c.peers.push_back(std::move(peer));
    }
  }

  const toml::table* http = SubTable(root, "http", &err);
  FL_TRY(err);
  if (!http) return Status::InvalidArgument("[http]: missing (listen address)");
  FL_TRY(CheckKeys(*http, "[http] ", {"listen", "threads", "body_limit"}));
  FL_ASSIGN(c.http_listen, GetHostPort(*http, "[http] ", "listen", true));
  FL_TRY(GetUintAs(*http, "[http] ", "threads", 1, 64, &c.http_threads));
  FL_TRY(GetUintAs(*http, "[http] ", "body_limit", 1024, 64u << 20, &c.http_body_limit));

  if (const toml::table* t = SubTable(root, "consensus", &err)) {
    FL_TRY(CheckKeys(*t, "[consensus] ",
                     {"propose_timeout_ms", "propose_delta_ms", "prevote_timeout_ms",
                      "prevote_delta_ms", "precommit_timeout_ms", "precommit_delta_ms",
                      "max_timeout_ms", "max_block_entries", "max_block_bytes"}));
    auto& to = c.consensus.timeouts;
    const std::string w = "[consensus] ";
    FL_TRY(GetUint(*t, w, "propose_timeout_ms", 1, 3600000, &to.propose_ms));
    FL_TRY(GetUint(*t, w, "propose_delta_ms", 0, 3600000, &to.propose_delta_ms));
    FL_TRY(GetUint(*t, w, "prevote_timeout_ms", 1, 3600000, &to.prevote_ms));
    FL_TRY(GetUint(*t, w, "prevote_delta_ms", 0, 3600000, &to.prevote_delta_ms));
    FL_TRY(GetUint(*t, w, "precommit_timeout_ms", 1, 3600000, &to.precommit_ms));
    FL_TRY(GetUint(*t, w, "precommit_delta_ms", 0, 3600000, &to.precommit_delta_ms));
    FL_TRY(GetUint(*t, w, "max_timeout_ms", 1, 3600000, &to.max_ms));
    FL_TRY(GetUintAs(*t, w, "max_block_entries", 1, consensus::kMaxBatchEntries,
                     &c.consensus.max_block_entries));
    FL_TRY(GetUintAs(*t, w, "max_block_bytes", 1024, consensus::kMaxBlockBytes / 2,
                     &c.consensus.max_block_bytes));
  }
  FL_TRY(err);
  if (const toml::table* t = SubTable(root, "mempool", &err)) {
    FL_TRY(CheckKeys(*t, "[mempool] ", {"max_entries", "max_bytes"}));
    FL_TRY(GetUintAs(*t, "[mempool] ", "max_entries", 1, 100000000, &c.consensus.mempool.max_entries));
    FL_TRY(GetUintAs(*t, "[mempool] ", "max_bytes", 1024, uint64_t{64} << 30,
                     &c.consensus.mempool.max_bytes));
  }
  FL_TRY(err);
  if (const toml::table* t = SubTable(root, "log", &err)) {
    FL_TRY(CheckKeys(*t, "[log] ", {"level"}));
    FL_ASSIGN(std::string level, GetString(*t, "[log] ", "level", false));
    if (!level.empty()) {
      FL_ASSIGN(c.log_level, ParseLevel(level));
    }
  }
  FL_TRY(err);
  if (const toml::table* t = SubTable(root, "application", &err)) {
    FL_TRY(CheckKeys(*t, "[application] ", {"rules"}));
    FL_ASSIGN(std::string rules, GetString(*t, "[application] ", "rules", false));
    if (rules == "ledger") {
      c.rules = ApplicationRules::kLedger;
    } else if (!rules.empty() && rules != "orchestrator") {
      return Status::InvalidArgument(
          "[application] rules: must be orchestrator or ledger, got '" + rules + "'");
    }
  }
  FL_TRY(err);
  if (const toml::table* t = SubTable(root, "artifacts", &err)) {
    FL_TRY(CheckKeys(*t, "[artifacts] ", {"max_bytes", "cache_bytes"}));
    FL_TRY(GetUint(*t, "[artifacts] ", "max_bytes", 1024, uint64_t{16} << 30,
                   &c.artifact_max_bytes));
    FL_TRY(GetUint(*t, "[artifacts] ", "cache_bytes", 0, uint64_t{64} << 30,
                   &c.artifact_cache_bytes));
  }
  FL_TRY(err);
  if (const toml::table* t = SubTable(root, "partner", &err)) {
    const std::string w = "[partner] ";
    FL_TRY(CheckKeys(*t, w, {"key", "datasets", "torch_threads"}));
    FL_ASSIGN(std::string pkey, GetString(*t, w, "key", true));
    c.partner.key_file = Resolve(base_dir, pkey);
    if (const toml::node* dn = t->get("datasets")) {
      const toml::table* dt = dn->as_table();
      if (!dt) return Status::InvalidArgument(w + "datasets: must be a table { id = \"file\" }");
      for (const auto& [id, v] : *dt) {
        auto file = v.value<std::string>();
        if (!file || file->empty()) {
          return Status::InvalidArgument(w + "datasets." + std::string(id.str()) +
                                         ": must be a non-empty file name");
        }
        c.partner.datasets[std::string(id.str())] = Resolve(base_dir, *file);
      }
    }
    FL_TRY(GetUintAs(*t, w, "torch_threads", 1, 64, &c.partner.torch_threads));
  }
  FL_TRY(err);
  return c;
}

Result<NodeConfig> LoadNodeConfig(const std::string& path) {
  std::ifstream f(path);
  if (!f) return Status::NotFound("cannot open config file " + path);
  std::stringstream ss;
  ss << f.rdbuf();
  std::string base = ".";
  size_t slash = path.rfind('/');
  if (slash != std::string::npos) base = slash == 0 ? "/" : path.substr(0, slash);
  auto c = ParseNodeConfig(ss.str(), base);
  if (!c.ok()) return c.status().WithContext(path);
  return c;
}

std::string RenderNodeConfig(const NodeConfig& c) {
  auto q = [](const std::string& s) {
    std::ostringstream os;
    os << toml::value<std::string>(s);
    return os.str();
  };
  const auto& to = c.consensus.timeouts;
  std::ostringstream os;
  os << "# fedledger validator config (docs/OPERATIONS.md). Relative paths are relative to\n"
     << "# this file's directory.\n"
     << "data_dir = " << q(c.data_dir) << "\n"
     << "node_key = " << q(c.node_key_file) << "\n"
     << "genesis = " << q(c.genesis_file) << "\n\n"
     << "[p2p]\nlisten = " << q(c.p2p_listen.ToString()) << "\npeers = [\n";
  for (const PeerConfig& p : c.peers) {
    os << "  { key = " << q(p.key.Hex()) << ", address = " << q(p.address.ToString());
    if (p.http) os << ", http = " << q(p.http->ToString());
    os << " },\n";
  }
  os << "]\n\n[http]\nlisten = " << q(c.http_listen.ToString()) << "\nthreads = "
     << c.http_threads << "\n\n[consensus]\n"
     << "propose_timeout_ms = " << to.propose_ms << "\n"
     << "propose_delta_ms = " << to.propose_delta_ms << "\n"
     << "prevote_timeout_ms = " << to.prevote_ms << "\n"
     << "prevote_delta_ms = " << to.prevote_delta_ms << "\n"
     << "precommit_timeout_ms = " << to.precommit_ms << "\n"
     << "precommit_delta_ms = " << to.precommit_delta_ms << "\n"
     << "max_timeout_ms = " << to.max_ms << "\n"
     << "max_block_entries = " << c.consensus.max_block_entries << "\n\n"
     << "[mempool]\nmax_entries = " << c.consensus.mempool.max_entries << "\n\n"
     << "[log]\nlevel = " << q(net::LogLevelName(c.log_level)) << "\n\n"
     << "[application]\nrules = "
     << q(c.rules == ApplicationRules::kLedger ? "ledger" : "orchestrator") << "\n";
  if (!c.partner.key_file.empty()) {
    os << "\n[partner]\nkey = " << q(c.partner.key_file) << "\ndatasets = {";
    const char* sep = " ";
    for (const auto& [id, file] : c.partner.datasets) {
      os << sep << q(id) << " = " << q(file);
      sep = ", ";
    }
    os << (c.partner.datasets.empty() ? "}" : " }") << "\ntorch_threads = "
       << c.partner.torch_threads << "\n";
  }
  return os.str();
}

}  // namespace fedledger::node
