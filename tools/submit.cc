// fedledger submit / status: the client side of a validator's HTTP API.
//
// Nonces: unless --nonce is given, submit asks the node for the signer's last committed nonce
// and uses the next one. So one key should have one entry in flight at a time (use --wait, or
// pass increasing --nonce values for a burst); an entry whose nonce another pending entry of
// the same key already holds is refused with 409 and nothing is stored.
#include <cstdio>
#include <map>
#include <set>

#include "ledger/describe.h"
#include "ledger/encoding.h"
#include "net/http_client.h"
#include "tools/common.h"
#include "tools/flags.h"
#include "tools/node_client.h"
#include "tools/output_file.h"

namespace fedledger::cli {
namespace {

using nlohmann::json;

Hash32 HashArg(const std::string& flag, const std::string& hex) {
  auto h = Hash32::FromHex(hex);
  if (!h.ok()) throw Failure(flag + ": " + h.status().message(), 2);
  return *h;
}

// Payload fields as flags. Each kind lists the flags it needs; a flag given for a kind that
// has no such field is an error (a typo must not be silently ignored).
struct Fields {
  std::string dataset_id, content_hash, schema, description, task, spec_hash, reason,
      final_hash, dataset_hash, update_hash, aggregate_hash;
  uint64_t rows = 0, rows_read = 0, samples = 0, size_bytes = 0, total_samples = 0;
  uint32_t round = 0, rounds_completed = 0, attempt = 0;
  std::vector<std::string> contributors, dropped;
};

const std::map<EntryKind, std::vector<std::string>>& KindFlags() {
  static const std::map<EntryKind, std::vector<std::string>> m = {
      {EntryKind::kDatasetRegister, {"--dataset-id", "--content-hash", "--rows", "--schema", "?--description"}},
      {EntryKind::kTaskApprove, {"--task", "--spec-hash"}},
      {EntryKind::kTaskReject, {"--task", "--spec-hash", "?--reason"}},
      {EntryKind::kTaskRevoke, {"--task", "?--reason"}},
      {EntryKind::kTaskComplete, {"--task", "--rounds-completed", "--final-hash"}},
      {EntryKind::kDataAccess, {"--task", "--round", "--dataset-id", "--dataset-hash", "--rows-read"}},
      {EntryKind::kModelUpdate, {"--task", "--round", "--update-hash", "--samples", "--size-bytes", "?--attempt"}},
      {EntryKind::kRoundAggregate, {"--task", "--round", "--aggregate-hash", "--contributor", "--total-samples"}},
      {EntryKind::kRoundRestart, {"--task", "--round", "--attempt", "--dropped", "?--reason"}},
  };
  return m;
}

Payload BuildPayload(EntryKind kind, const Fields& f,
                     const std::function<PubKey(const std::string&)>& resolve) {
  auto keys = [&](const std::vector<std::string>& names) {
    std::vector<PubKey> out;
    for (const auto& n : names) out.push_back(resolve(n));
    std::sort(out.begin(), out.end());
    return out;
  };
  switch (kind) {
    case EntryKind::kDatasetRegister:
      return DatasetRegisterPayload{f.dataset_id, HashArg("--content-hash", f.content_hash), f.rows,
                                    f.schema, f.description};
    case EntryKind::kTaskApprove:
      return TaskApprovePayload{f.task, HashArg("--spec-hash", f.spec_hash)};
    case EntryKind::kTaskReject:
      return TaskRejectPayload{f.task, HashArg("--spec-hash", f.spec_hash), f.reason};
    case EntryKind::kTaskRevoke:
      return TaskRevokePayload{f.task, f.reason};
    case EntryKind::kTaskComplete:
      return TaskCompletePayload{f.task, f.rounds_completed, HashArg("--final-hash", f.final_hash)};
    case EntryKind::kDataAccess:
      return DataAccessPayload{f.task, f.round, f.dataset_id, HashArg("--dataset-hash", f.dataset_hash),
                               f.rows_read};
    case EntryKind::kModelUpdate:
      return ModelUpdatePayload{f.task, f.round, HashArg("--update-hash", f.update_hash), f.samples,
                                f.size_bytes, f.attempt};
    case EntryKind::kRoundAggregate:
      return RoundAggregatePayload{f.task, f.round, HashArg("--aggregate-hash", f.aggregate_hash),
                                   keys(f.contributors), f.total_samples};
    case EntryKind::kRoundRestart:
      return RoundRestartPayload{f.task, f.round, f.attempt, keys(f.dropped), f.reason};
    default:
      break;
  }
  throw Failure(std::string("--kind ") + EntryKindName(kind) +
                    " cannot be built from flags (GENESIS comes from `fedledger genesis`; "
                    "TASK_PROPOSE from the orchestrator's task commands)", 2);
}

void AddSubmit(CLI::App& app) {
  auto* cmd = app.add_subcommand(
      "submit", "Sign an entry with a key file and submit it to a validator's HTTP API");
  struct Args {
    std::string node = "http://127.0.0.1:26657", key, kind, proof_out;
    std::optional<uint64_t> nonce;  // not given: the signer's last committed nonce + 1
    uint64_t timeout_ms = 30000;
    bool wait = false, json = false, force = false;
    Fields f;
  };
  auto a = std::make_shared<Args>();
  cmd->add_option("--node", a->node, "Validator API URL")->capture_default_str();
  cmd->add_option("--key", a->key, "Signer's key file")->required();
  cmd->add_option("--kind", a->kind, "Entry kind (DATA_ACCESS, data-access, ...)")->required();
  AddUnsignedOption(cmd, "--nonce", &a->nonce,
                    "Nonce, 1 or more (default: the signer's last committed nonce + 1)");
  cmd->add_flag("--wait", a->wait, "Wait until the entry is committed; print height and index");
  AddUnsignedOption(cmd, "--timeout-ms", &a->timeout_ms, "With --wait: give up after this long",
                    1, 120000)
      ->default_str(std::to_string(a->timeout_ms));
  cmd->add_option("--proof-out", a->proof_out,
                  "With --wait: write the entry's inclusion proof document to this file");
  AddForceFlag(cmd, &a->force);
  cmd->add_flag("--json", a->json, "Print the node's JSON answer");
  std::map<std::string, CLI::Option*> opts;
  Fields& f = a->f;
  opts["--dataset-id"] = cmd->add_option("--dataset-id", f.dataset_id, "Dataset id");
  opts["--content-hash"] = cmd->add_option("--content-hash", f.content_hash, "SHA-256 of the dataset file (hex)");
  opts["--rows"] = AddUnsignedOption(cmd, "--rows", &f.rows, "Rows in the dataset");
  opts["--schema"] = cmd->add_option("--schema", f.schema, "Column names, comma separated");
  opts["--description"] = cmd->add_option("--description", f.description, "Free text");
  opts["--task"] = cmd->add_option("--task", f.task, "Task id");
  opts["--spec-hash"] = cmd->add_option("--spec-hash", f.spec_hash, "Task spec hash (hex)");
  opts["--reason"] = cmd->add_option("--reason", f.reason, "Reason (text)");
  opts["--rounds-completed"] = AddUnsignedOption(cmd, "--rounds-completed", &f.rounds_completed, "Rounds completed");
  opts["--final-hash"] = cmd->add_option("--final-hash", f.final_hash, "Final trunk hash (hex)");
  opts["--round"] = AddUnsignedOption(cmd, "--round", &f.round, "Round number");
  opts["--dataset-hash"] = cmd->add_option("--dataset-hash", f.dataset_hash, "SHA-256 of the dataset read (hex)");
  opts["--rows-read"] = AddUnsignedOption(cmd, "--rows-read", &f.rows_read, "Rows read");
  opts["--update-hash"] = cmd->add_option("--update-hash", f.update_hash, "SHA-256 of the masked update (hex)");
  opts["--samples"] = AddUnsignedOption(cmd, "--samples", &f.samples, "Training samples");
  opts["--size-bytes"] = AddUnsignedOption(cmd, "--size-bytes", &f.size_bytes, "Update size in bytes");
  opts["--aggregate-hash"] = cmd->add_option("--aggregate-hash", f.aggregate_hash, "SHA-256 of the aggregate (hex)");
  opts["--contributor"] = cmd->add_option("--contributor", f.contributors, "Contributor (partner name or key); repeat");
  opts["--total-samples"] = AddUnsignedOption(cmd, "--total-samples", &f.total_samples, "Total samples");
  opts["--attempt"] = AddUnsignedOption(cmd, "--attempt", &f.attempt,
                                        "Round attempt (MODEL_UPDATE: the one the update was masked "
                                        "for, default 0)");
  opts["--dropped"] = cmd->add_option("--dropped", f.dropped, "Dropped participant (name or key); repeat");
  cmd->callback([a, opts] {
    EntryKind kind = Unwrap(ParseEntryKind(a->kind));
    auto kf = KindFlags().find(kind);
    if (kf != KindFlags().end()) {
      std::set<std::string> allowed;
      for (const std::string& spec : kf->second) {
        bool optional = spec[0] == '?';
        std::string name = optional ? spec.substr(1) : spec;
        allowed.insert(name);
        if (!optional && opts.at(name)->count() == 0) {
          throw Failure(std::string(EntryKindName(kind)) + " needs " + name, 2);
        }
      }
      for (const auto& [name, opt] : opts) {
        if (opt->count() > 0 && !allowed.count(name)) {
          throw Failure(name + " does not apply to " + EntryKindName(kind), 2);
        }
      }
    }
    if (!a->proof_out.empty() && !a->wait) throw Failure("--proof-out needs --wait", 2);
    // Refused before the entry is signed and sent, not after it is committed.
    if (!a->proof_out.empty()) Check(CheckOutputPath(a->proof_out, a->force));
    for (const char* flag : {"--task", "--dataset-id"}) {
      CLI::Option* opt = opts.at(flag);
      if (opt->count() == 0) continue;
      Status s = ValidateIdentifier(flag, opt->as<std::string>());
      if (!s.ok()) throw Failure(s.message(), 2);
    }
    // Nonces start at 1 (docs/FORMAT.md 4.5), and a signer's next nonce must be above its
    // last: a committed 2^64-1 would leave the key unable to sign anything, ever.
    if (a->nonce == uint64_t{0}) {
      throw Failure("--nonce 0: nonces start at 1 (leave --nonce out to use the signer's last "
                    "committed nonce + 1)", 2);
    }
    if (a->nonce == UINT64_MAX) {
      throw Failure("--nonce " + std::to_string(UINT64_MAX) + " is the largest nonce: the key "
                    "would have no later nonce left and could never sign another entry", 2);
    }
    SecretKey key = Unwrap(LoadSecretKey(a->key));
    NodeClient node(a->node);
    EntryBody body;
    body.chain_id = node.chain_id();
    body.payload =
        BuildPayload(kind, a->f, [&](const std::string& name) { return node.Resolve(name); });
    if (a->nonce) {
      body.nonce = *a->nonce;
    } else {
      uint64_t last = node.LastNonce(key.pubkey());
      if (last == UINT64_MAX) {
        throw Failure("key " + key.pubkey().Hex() + " has used the largest nonce: it cannot "
                      "sign another entry", 2);
      }
      body.nonce = last + 1;
    }
    body.timestamp_ms = NowMs();
    Entry entry = Unwrap(Entry::Sign(std::move(body), key));
    json req = {{"entry", ToHex(entry.bytes())}};
    if (a->wait) {
      req["wait"] = true;
      req["timeout_ms"] = a->timeout_ms;
      if (!a->proof_out.empty()) req["proof"] = true;
    }
    net::HttpClientOptions ho;
    ho.timeout = std::chrono::milliseconds(a->timeout_ms + 5000);
    const std::string url = node.url() + "/entries";
    auto r = net::HttpPostJson(url, req, ho);
    if (!r.ok()) throw Failure(url + ": " + r.status().message(), 3);
    auto j = r->Json();
    if (r->status != 200 && r->status != 202) {
      if (a->json && j.ok()) PrintJson(*j);
      throw Failure(std::string(EntryKindName(kind)) + " nonce " + std::to_string(entry.nonce()) +
                        " not stored: HTTP " + std::to_string(r->status) + ": " + ErrorText(*r),
                    ExitCodeForHttp(r->status));
    }
    if (!j.ok()) throw Failure(url + ": not a fedledger node answer (" + j.status().message() + ")", 3);
    json shape = json::object();
    if (r->status == 200) {
      shape = {{"height", "uint"}, {"index", "uint"}};
      if (!a->proof_out.empty()) shape["proof"] = "object";
    }
    CheckAnswer(url, *j, shape, "submit answer");
    if (!a->proof_out.empty() && r->status == 200) {
      Check(WriteOutputFile(a->proof_out, (*j)["proof"].dump(2) + "\n", a->force));
    }
    if (a->json) {
      PrintJson(*j);
    } else if (r->status == 202) {
      std::printf("accepted %s nonce %llu leaf %s (not waiting for the commit)\n",
                  EntryKindName(kind), static_cast<unsigned long long>(entry.nonce()),
                  entry.leaf_hash().Hex().c_str());
    } else {
      std::printf("committed %s nonce %llu at height %llu, log index %llu (leaf %s)%s\n",
                  EntryKindName(kind), static_cast<unsigned long long>(entry.nonce()),
                  static_cast<unsigned long long>((*j)["height"].get<uint64_t>()),
                  static_cast<unsigned long long>((*j)["index"].get<uint64_t>()),
                  entry.leaf_hash().Hex().c_str(),
                  a->proof_out.empty() ? "" : ("; proof in " + a->proof_out).c_str());
    }
  });
}

void AddStatus(CLI::App& app) {
  auto* cmd = app.add_subcommand("status", "Show a validator's status (height, round, peers)");
  auto node = std::make_shared<std::string>("http://127.0.0.1:26657");
  auto as_json = std::make_shared<bool>(false);
  cmd->add_option("--node", *node, "Validator API URL")->capture_default_str();
  cmd->add_flag("--json", *as_json, "Print the node's JSON answer");
  cmd->callback([node, as_json] {
    NodeClient client(*node);
    if (*as_json) {
      PrintJson(client.Get("/status", {{"chain_id", "string"}}, "status"));
      return;
    }
    const json kShape = {
        {"chain_id", "string"},
        {"genesis_hash", "string"},
        {"node", {{"name", "string"}, {"key", "string"}}},
        {"height", "uint"},
        {"head_time", "string"},
        {"log_size", "uint"},
        {"log_root", "string"},
        {"consensus", {{"height", "uint"}, {"round", "u32"}, {"step", "string"}}},
        {"mempool_entries", "uint"},
        {"peers_connected", "uint"},
        {"peers", json::array({{{"name", "string"}, {"connected", "bool"}}})}};
    json s = client.Get("/status", kShape, "status");
    std::printf("node       %s (%s)\n", s["node"]["name"].get<std::string>().c_str(),
                s["node"]["key"].get<std::string>().c_str());
    std::printf("chain      %s, genesis %s\n", s["chain_id"].get<std::string>().c_str(),
                s["genesis_hash"].get<std::string>().c_str());
    std::printf("head       height %llu, %s, log size %llu, root %s\n",
                static_cast<unsigned long long>(s["height"].get<uint64_t>()),
                s["head_time"].get<std::string>().c_str(),
                static_cast<unsigned long long>(s["log_size"].get<uint64_t>()),
                s["log_root"].get<std::string>().c_str());
    std::printf("consensus  height %llu, round %u, step %s; mempool %llu entries\n",
                static_cast<unsigned long long>(s["consensus"]["height"].get<uint64_t>()),
                s["consensus"]["round"].get<uint32_t>(),
                s["consensus"]["step"].get<std::string>().c_str(),
                static_cast<unsigned long long>(s["mempool_entries"].get<uint64_t>()));
    std::printf("peers      %zu of %zu connected:", s["peers_connected"].get<size_t>(),
                s["peers"].size());
    for (const auto& p : s["peers"]) {
      std::printf(" %s%s", p["name"].get<std::string>().c_str(),
                  p["connected"].get<bool>() ? "" : "(down)");
    }
    std::printf("\n");
  });
}

Registrar reg("50-submit", [](CLI::App& app) {
  AddSubmit(app);
  AddStatus(app);
});

}  // namespace
}  // namespace fedledger::cli
