#include "node/api.h"

#include <charconv>

#include "ledger/export.h"
#include "net/metrics.h"
#include "orchestrator/application.h"

namespace fedledger::node {

using net::HttpRequest;
using net::HttpResponse;
using net::Responder;
using nlohmann::json;

namespace {

constexpr uint64_t kDefaultListLimit = 100;
constexpr uint64_t kMaxListLimit = 1000;
constexpr uint64_t kMaxWaitMs = 120000;

Result<uint64_t> ParseU64(const std::string& what, const std::string& s) {
  uint64_t v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (s.empty() || ec != std::errc() || p != s.data() + s.size()) {
    return Status::InvalidArgument(what + ": expected a non-negative integer, got '" + s + "'");
  }
  return v;
}

Result<std::optional<uint64_t>> QueryU64(const HttpRequest& req, const std::string& name) {
  auto q = req.Query(name);
  if (!q) return std::optional<uint64_t>();
  FL_ASSIGN(uint64_t v, ParseU64(name, *q));
  return std::optional<uint64_t>(v);
}

json EntryJson(const Node& node, const Entry& e, uint64_t index, uint64_t height) {
  json j = EntryToJson(e, node.names());
  j["index"] = index;
  j["height"] = height;
  j["leaf_hash"] = e.leaf_hash().Hex();
  j["bytes"] = ToHex(e.bytes());
  return j;
}

void Reply(const Responder& res, const Status& s) { res.Send(HttpResponse::FromStatus(s)); }

void PostEntry(Node& node, const HttpRequest& req, Responder res) {
  auto body = req.JsonBody();
  if (!body.ok()) return Reply(res, body.status());
  const json& b = *body;
  if (!b.is_object()) return Reply(res, Status::InvalidArgument("body must be a JSON object"));
  for (const auto& [k, v] : b.items()) {
    if (k != "entry" && k != "wait" && k != "proof" && k != "timeout_ms") {
      return Reply(res, Status::InvalidArgument("unknown field '" + k +
                                                "' (expected entry, wait, proof, timeout_ms)"));
    }
  }
  if (!b.contains("entry")) {
    return Reply(res, Status::InvalidArgument(
                          "field 'entry' (hex of the entry's canonical bytes) is required"));
  }
  if (!b["entry"].is_string()) {
    return Reply(res, Status::InvalidArgument(
                          "field 'entry' must be a hex string (the entry's canonical bytes), not " +
                          std::string(b["entry"].type_name())));
  }
  SubmitOptions o;
  auto flag = [&](const char* name, bool* out) -> Status {
    if (!b.contains(name)) return Status::Ok();
    if (!b[name].is_boolean()) return Status::InvalidArgument(std::string("field '") + name + "' must be a boolean");
    *out = b[name].get<bool>();
    return Status::Ok();
  };
  if (Status s = flag("wait", &o.wait); !s.ok()) return Reply(res, s);
  if (Status s = flag("proof", &o.proof); !s.ok()) return Reply(res, s);
  if (o.proof && !o.wait) {
    return Reply(res, Status::InvalidArgument("'proof' needs 'wait': a proof exists only once the entry is committed"));
  }
  if (b.contains("timeout_ms")) {
    if (!b["timeout_ms"].is_number_unsigned() || b["timeout_ms"].get<uint64_t>() == 0 ||
        b["timeout_ms"].get<uint64_t>() > kMaxWaitMs) {
      return Reply(res, Status::InvalidArgument("field 'timeout_ms' must be an integer in 1.." +
                                                std::to_string(kMaxWaitMs)));
    }
    o.timeout = std::chrono::milliseconds(b["timeout_ms"].get<uint64_t>());
  }
  auto bytes = FromHex(b["entry"].get<std::string>());
  if (!bytes.ok()) return Reply(res, bytes.status().WithContext("field 'entry'"));
  auto entry = Entry::Decode(*bytes);
  if (!entry.ok()) return Reply(res, entry.status().WithContext("entry"));
  // The signature is verified with the other submissions drained with it (Node::DrainIncoming).
  node.Submit(std::move(entry).value(), o, [res](const SubmitOutcome& out) {
    res.Send(SubmitResponse(out));
  });
}

// A boolean query parameter: 0, 1, false or true; `fallback` when absent.
Result<bool> QueryBool(const HttpRequest& req, const std::string& name, bool fallback) {
  auto q = req.Query(name);
  if (!q) return fallback;
  if (*q == "1" || *q == "true") return true;
  if (*q == "0" || *q == "false") return false;
  return Status::InvalidArgument("query parameter '" + name + "' must be 0, 1, false or true, got '" +
                                 *q + "'");
}

void GetBlock(const Node& node, const HttpRequest& req, Responder res) {
  if (Status s = req.OnlyQuery({"entries"}); !s.ok()) return Reply(res, s);
  auto with_entries = QueryBool(req, "entries", true);
  if (!with_entries.ok()) return Reply(res, with_entries.status());
  const Store& store = node.store();
  uint64_t height;
  if (req.Param("height") == "latest") {
    height = store.height();
  } else {
    auto h = ParseU64("height", req.Param("height"));
    if (!h.ok()) return Reply(res, h.status());
    height = *h;
  }
  if (height > store.height()) {
    return Reply(res, Status::NotFound("no block at height " + std::to_string(height) +
                                       " (head is " + std::to_string(store.height()) + ")"));
  }
  auto rec = store.GetBlockRecord(height);
  if (!rec.ok()) return Reply(res, rec.status());
  json j = HeaderToJson(rec->header);
  j["hash"] = rec->hash.Hex();
  j["header_hex"] = ToHex(rec->header.Encode());
  j["certificate"] = rec->cert ? json(ToHex(rec->cert->Encode())) : json(nullptr);
  if (rec->cert) j["certificate_round"] = rec->cert->round;
  j["first_entry_index"] = rec->first_entry_index;
  if (*with_entries) {
    auto block = store.GetBlock(height);
    if (!block.ok()) return Reply(res, block.status());
    json entries = json::array();
    for (size_t i = 0; i < block->entries.size(); ++i) {
      entries.push_back(EntryJson(node, block->entries[i], rec->first_entry_index + i, height));
    }
    j["entries"] = std::move(entries);
  }
  res.Send(HttpResponse::Json(200, j));
}

void GetEntry(const Node& node, const HttpRequest& req, Responder res) {
  if (Status s = req.OnlyQuery({}); !s.ok()) return Reply(res, s);
  auto idx = ParseU64("index", req.Param("index"));
  if (!idx.ok()) return Reply(res, idx.status());
  const Store& store = node.store();
  if (*idx >= store.log_size()) {
    return Reply(res, Status::NotFound("no entry " + std::to_string(*idx) + " (log size is " +
                                       std::to_string(store.log_size()) + ")"));
  }
  auto e = store.GetEntry(*idx);
  if (!e.ok()) return Reply(res, e.status());
  auto h = store.HeightOfEntry(*idx);
  if (!h.ok()) return Reply(res, h.status());
  res.Send(HttpResponse::Json(200, EntryJson(node, *e, *idx, *h)));
}

void ListEntries(const Node& node, const HttpRequest& req, Responder res) {
  if (Status s = req.OnlyQuery({"kind", "signer", "task", "since", "until", "limit"}); !s.ok()) {
    return Reply(res, s);
  }
  EntryQuery q;
  if (auto k = req.Query("kind")) {
    auto kind = ParseEntryKind(*k);
    if (!kind.ok()) return Reply(res, kind.status().WithContext("kind"));
    q.kind = *kind;
  }
  if (auto s = req.Query("signer")) {
    auto key = node.names().Resolve(*s);
    if (!key.ok()) return Reply(res, Status::InvalidArgument("signer: " + key.status().message()));
    q.signer = *key;
  }
  if (auto t = req.Query("task")) q.task_id = *t;
  for (const char* name : {"since", "until"}) {
    if (auto t = req.Query(name)) {
      auto ms = ParseTimeMs(*t);
      if (!ms.ok()) return Reply(res, ms.status().WithContext(name));
      (std::string(name) == "since" ? q.since_ms : q.until_ms) = *ms;
    }
  }
  auto limit = QueryU64(req, "limit");
  if (!limit.ok()) return Reply(res, limit.status());
  q.limit = limit->value_or(kDefaultListLimit);
  if (q.limit == 0 || q.limit > kMaxListLimit) {
    return Reply(res, Status::InvalidArgument("limit must be 1.." + std::to_string(kMaxListLimit)));
  }
  const Store& store = node.store();
  json rows = json::array();
  uint64_t block_height = 0, block_end = 0;
  Status err;
  Status s = store.QueryEntries(q, [&](uint64_t index, const Entry& e) {
    if (index >= block_end) {
      auto h = store.HeightOfEntry(index);
      auto r = h.ok() ? store.GetBlockRecord(*h) : Result<BlockRecord>(h.status());
      if (!r.ok()) {
        err = r.status();
        return false;
      }
      block_height = *h;
      block_end = r->header.log_size;
    }
    rows.push_back(EntryJson(node, e, index, block_height));
    return true;
  });
  if (s.ok()) s = err;
  if (!s.ok()) return Reply(res, s);
  res.Send(HttpResponse::Json(200, {{"count", rows.size()}, {"entries", rows}}));
}

void GetNonce(const Node& node, const HttpRequest& req, Responder res) {
  if (Status s = req.OnlyQuery({}); !s.ok()) return Reply(res, s);
  auto key = node.names().Resolve(req.Param("signer"));
  if (!key.ok()) return Reply(res, Status::InvalidArgument("signer: " + key.status().message()));
  res.Send(HttpResponse::Json(200, {{"signer", key->Hex()},
                                    {"name", node.names().Name(*key)},
                                    {"last_nonce", node.store().LastNonce(*key)}}));
}

void GetInclusionProof(const Node& node, const HttpRequest& req, Responder res) {
  if (Status s = req.OnlyQuery({"tree_size"}); !s.ok()) return Reply(res, s);
  auto idx = ParseU64("index", req.Param("index"));
  if (!idx.ok()) return Reply(res, idx.status());
  auto ts = QueryU64(req, "tree_size");
  if (!ts.ok()) return Reply(res, ts.status());
  const Store& store = node.store();
  uint64_t log_size = store.log_size();
  if (*idx >= log_size) {
    return Reply(res, Status::NotFound("no entry " + std::to_string(*idx) + " (log size is " +
                                       std::to_string(log_size) + ")"));
  }
  // Absent means the head; an explicit 0 is no tree at all (MakeInclusionProofDoc would take it
  // for the head too).
  if (*ts && **ts == 0) {
    return Reply(res, Status::InvalidArgument("tree size 0 is outside 1.." + std::to_string(log_size)));
  }
  auto doc = MakeInclusionProofDoc(store, *idx, ts->value_or(0));
  if (!doc.ok()) return Reply(res, doc.status());
  res.Send(HttpResponse::Json(200, *doc));
}

void GetConsistencyProof(const Node& node, const HttpRequest& req, Responder res) {
  if (Status s = req.OnlyQuery({"from", "to"}); !s.ok()) return Reply(res, s);
  auto from = QueryU64(req, "from");
  if (!from.ok()) return Reply(res, from.status());
  auto to = QueryU64(req, "to");
  if (!to.ok()) return Reply(res, to.status());
  if (!*from) return Reply(res, Status::InvalidArgument("query parameter 'from' (a log size) is required"));
  uint64_t to_size = to->value_or(node.store().log_size());
  auto doc = MakeConsistencyProofDoc(node.store(), **from, to_size);
  if (!doc.ok()) return Reply(res, doc.status());
  res.Send(HttpResponse::Json(200, *doc));
}

}  // namespace

HttpResponse SubmitResponse(const SubmitOutcome& o) {
  using K = SubmitOutcome::Kind;
  using consensus::Admission;
  json j = {{"leaf_hash", o.leaf_hash.Hex()}};
  switch (o.kind) {
    case K::kAccepted:
      j["status"] = "accepted";
      return HttpResponse::Json(202, j);
    case K::kCommitted:
      if (!o.proof && o.reason.empty()) {
        // What every waiting submission gets: written directly, the same object (keys in
        // json's order) without building one, on the consensus thread that answers a block's
        // waiters.
        std::string body;
        body.reserve(192);
        body += "{\"height\":";
        body += std::to_string(o.height);
        body += ",\"index\":";
        body += std::to_string(o.index);
        if (o.latency_ms >= 0) {
          body += ",\"latency_ms\":";
          body += json(o.latency_ms).dump();
        }
        body += ",\"leaf_hash\":\"";
        body += o.leaf_hash.Hex();
        body += "\",\"status\":\"committed\"}";
        HttpResponse r;
        r.status = 200;
        r.body = std::move(body);
        return r;
      }
      j["status"] = "committed";
      j["height"] = o.height;
      j["index"] = o.index;
      if (o.latency_ms >= 0) j["latency_ms"] = o.latency_ms;
      if (o.proof) j["proof"] = *o.proof;
      if (!o.reason.empty()) j["warning"] = o.reason;
      return HttpResponse::Json(200, j);
    case K::kRejected: {
      int code = 400;
      switch (o.admission) {
        case Admission::kStaleNonce:
        case Admission::kNonceTaken:
        case Admission::kDuplicate: code = 409; break;
        case Admission::kFull: code = 429; break;
        default: code = 400; break;
      }
      j["status"] = "rejected";
      j["admission"] = consensus::AdmissionName(o.admission);
      j["error"] = o.reason.empty() ? consensus::AdmissionName(o.admission) : o.reason;
      return HttpResponse::Json(code, j);
    }
    case K::kTimeout:
      j["status"] = "timeout";
      j["error"] = o.reason;
      return HttpResponse::Json(504, j);
    case K::kStopped:
      j["status"] = "stopped";
      j["error"] = o.reason;
      return HttpResponse::Json(503, j);
  }
  return HttpResponse::Error(500, "unknown outcome");
}

void RegisterApi(net::HttpServer& server, Node& node) {
  Node* n = &node;
  server.Post("/entries", [n](const HttpRequest& req, Responder res) { PostEntry(*n, req, res); });
  server.Get("/entries", [n](const HttpRequest& req, Responder res) { ListEntries(*n, req, res); });
  server.Get("/entries/{index}", [n](const HttpRequest& req, Responder res) { GetEntry(*n, req, res); });
  server.Get("/blocks/{height}", [n](const HttpRequest& req, Responder res) { GetBlock(*n, req, res); });
  server.Get("/nonces/{signer}", [n](const HttpRequest& req, Responder res) { GetNonce(*n, req, res); });
  server.Get("/proofs/inclusion/{index}",
             [n](const HttpRequest& req, Responder res) { GetInclusionProof(*n, req, res); });
  server.Get("/proofs/consistency",
             [n](const HttpRequest& req, Responder res) { GetConsistencyProof(*n, req, res); });
  RegisterTaskApi(server, node);
  std::function<bool(const Hash32&)> admit;
  if (const auto* app = node.orchestrator()) {
    admit = [app](const Hash32& h) {
      return app->Read([&](const orchestrator::FederationState& s) { return s.NamesArtifact(h); });
    };
  }
  RegisterArtifactApi(server, node.artifacts(), std::move(admit));
  server.Get("/status", [n](const HttpRequest& req, Responder res) {
    if (Status s = req.OnlyQuery({}); !s.ok()) return Reply(res, s);
    res.Send(HttpResponse::Json(200, n->StatusJson()));
  });
  server.Get("/metrics", [n](const HttpRequest&, Responder res) {
    res.Send(HttpResponse::Text(200, n->MetricsText(), net::MetricsRegistry::kContentType));
  });
}

}  // namespace fedledger::node
