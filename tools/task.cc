// fedledger task propose / list / show / approve / reject / revoke: the partners' side of the
// task lifecycle (docs/ORCHESTRATOR.md). Reads go to a validator's GET /tasks routes (the
// orchestrator's JSON views); writes are signed entries submitted with wait, so each command
// prints the block height of its commit or, with exit code 2, the reason the ledger refused
// it (every validator runs the same rules, so a refused entry is stored nowhere).
#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>

#include "ledger/describe.h"
#include "ledger/encoding.h"
#include "orchestrator/spec_toml.h"
#include "tools/common.h"
#include "tools/flags.h"
#include "tools/json_shape.h"
#include "tools/node_client.h"
#include "tools/url.h"

namespace fedledger::cli {
namespace {

using nlohmann::json;

struct Common {
  std::string node = "http://127.0.0.1:26657";
  std::string key;
  uint64_t timeout_ms = 30000;
};

void AddNodeOption(CLI::App* cmd, Common* c) {
  cmd->add_option("--node", c->node, "Validator API URL")->capture_default_str();
}
void AddWriteOptions(CLI::App* cmd, Common* c) {
  AddNodeOption(cmd, c);
  cmd->add_option("--key", c->key, "The partner's key file")->required();
  AddUnsignedOption(cmd, "--timeout-ms", &c->timeout_ms,
                    "Give up waiting for the commit after this long", 1, 120000)
      ->default_str(std::to_string(c->timeout_ms));
}

// Task ids are identifiers (docs/FORMAT.md): say so here rather than send the node a path
// it cannot route or an id no task can have.
void CheckTaskId(const std::string& id) {
  Status s = ValidateIdentifier("task id", id);
  if (!s.ok()) throw Failure(s.message(), 2);
}

Hash32 SpecHashArg(const std::string& hex) {
  auto h = Hash32::FromHex(hex);
  if (!h.ok()) throw Failure("--spec-hash: " + h.status().message(), 2);
  return *h;
}

std::string ReadFile(const std::string& path) {
  std::ifstream f(path);
  if (!f) throw Failure("cannot open " + path, 2);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

std::string Utc(const json& t) { return t.is_null() ? "-" : t["utc"].get<std::string>(); }

// What the commands below read of the node's task views (orchestrator/views.cc), checked
// before they read it (tools/json_shape.h).
const json& TaskSummaryShape() {
  static const json shape = {{"task_id", "string"},
                             {"title", "string"},
                             {"status", "string"},
                             {"approval_count", "uint"},
                             {"participant_count", "uint"},
                             {"rounds", "u32"},
                             {"current_round", "u32?"},
                             {"proposer", {{"name", "string"}}}};
  return shape;
}

const json& TaskShape() {
  static const json shape = [] {
    const json time = OrNull({{"utc", "string"}});
    json s = TaskSummaryShape();
    s["spec_hash"] = "string";
    s["proposed"] = time;
    s["spec"] = {{"description", "string"},
                 {"model", "string"},
                 {"settings", {{"*", "string"}}},
                 {"rounds", "u32"},
                 {"round_timeout_ms", "uint"},
                 {"expires_at_ms", "uint"}};
    s["aggregator"] = {{"name", "string"}, {"key", "string"}};
    s["participants"] = json::array({{{"name", "string"},
                                      {"dataset_id", "string"},
                                      {"approved", time},
                                      {"revoked_from_round", "u32?"}}});
    s["closed_by"] = OrNull({{"name", "string"}});
    s["close_reason"] = "string";
    s["activated"] = time;
    s["completed"] = time;
    s["final_trunk_hash"] = "string?";
    s["round_progress"] = json::array({{{"round", "u32"},
                                        {"attempt", "u32"},
                                        {"members", "array"},
                                        {"data_accesses", "array"},
                                        {"updates", "array"},
                                        {"aggregate", OrNull({{"aggregate_hash", "string"}})}}});
    return s;
  }();
  return shape;
}

void PrintCommitted(const char* what, const std::string& task, const NodeClient::Committed& c) {
  std::printf("%s task %s: committed at height %llu (log index %llu)\n", what, task.c_str(),
              static_cast<unsigned long long>(c.height), static_cast<unsigned long long>(c.index));
}

void AddPropose(CLI::App* task) {
  auto* cmd = task->add_subcommand(
      "propose", "Propose a task from a spec file (TOML; format in docs/TASKS.md); prints\n"
                 "its spec hash, which every participant's approval must name");
  auto c = std::make_shared<Common>();
  auto spec_file = std::make_shared<std::string>();
  cmd->add_option("--spec", *spec_file, "The task spec file (.toml)")->required();
  AddWriteOptions(cmd, c.get());
  cmd->callback([c, spec_file] {
    SecretKey key = Unwrap(LoadSecretKey(c->key));
    NodeClient node(c->node);
    auto resolve = [&](const std::string& name) -> Result<PubKey> {
      try {
        return node.Resolve(name);
      } catch (const Failure& f) {
        if (f.exit_code == 2) return Status::NotFound("no genesis member '" + name + "'");
        throw;
      }
    };
    TaskSpec spec = Unwrap(orchestrator::ParseTaskSpecToml(ReadFile(*spec_file), *spec_file,
                                                           resolve, NowMs()));
    auto done = node.SubmitAndWait(key, TaskProposePayload{spec}, c->timeout_ms);
    PrintCommitted("proposed", spec.task_id, done);
    std::printf("spec hash %s\n", spec.Hash().Hex().c_str());
  });
}

void AddList(CLI::App* task) {
  auto* cmd = task->add_subcommand("list", "Tasks on the ledger with their status");
  auto c = std::make_shared<Common>();
  auto as_json = std::make_shared<bool>(false);
  AddNodeOption(cmd, c.get());
  cmd->add_flag("--json", *as_json, "Print the node's JSON answer");
  cmd->callback([c, as_json] {
    json j = NodeClient(c->node).Get(
        "/tasks", *as_json ? json{{"tasks", "array"}} : json{{"tasks", json::array({TaskSummaryShape()})}},
        "task list");
    if (*as_json) return PrintJson(j);
    std::printf("%-20s %-10s %-10s %-9s %-12s %s\n", "TASK", "STATUS", "APPROVALS", "ROUND",
                "PROPOSER", "TITLE");
    for (const json& t : j["tasks"]) {
      std::string approvals = std::to_string(t["approval_count"].get<uint64_t>()) + "/" +
                              std::to_string(t["participant_count"].get<uint64_t>());
      std::string round = t["current_round"].is_null()
                              ? "-"
                              : std::to_string(t["current_round"].get<uint32_t>()) + "/" +
                                    std::to_string(t["rounds"].get<uint32_t>());
      std::printf("%-20s %-10s %-10s %-9s %-12s %s\n", t["task_id"].get<std::string>().c_str(),
                  t["status"].get<std::string>().c_str(), approvals.c_str(), round.c_str(),
                  t["proposer"]["name"].get<std::string>().c_str(),
                  t["title"].get<std::string>().c_str());
    }
    std::printf("(%zu %s)\n", j["tasks"].size(), j["tasks"].size() == 1 ? "task" : "tasks");
  });
}

void PrintTask(const json& t) {
  const json& s = t["spec"];
  std::printf("task %s: %s\n", t["task_id"].get<std::string>().c_str(),
              t["title"].get<std::string>().c_str());
  std::printf("  status        %s (%llu of %llu approvals)\n", t["status"].get<std::string>().c_str(),
              static_cast<unsigned long long>(t["approval_count"].get<uint64_t>()),
              static_cast<unsigned long long>(t["participant_count"].get<uint64_t>()));
  std::printf("  spec hash     %s\n", t["spec_hash"].get<std::string>().c_str());
  std::printf("  proposed      by %s at %s\n", t["proposer"]["name"].get<std::string>().c_str(),
              Utc(t["proposed"]).c_str());
  if (!s["description"].get<std::string>().empty()) {
    std::printf("  description   %s\n", s["description"].get<std::string>().c_str());
  }
  std::printf("  model         %s\n", s["model"].get<std::string>().c_str());
  std::string settings;
  for (const auto& [k, v] : s["settings"].items()) {
    settings += (settings.empty() ? "" : ", ") + k + " = " + v.get<std::string>();
  }
  std::printf("  settings      %s\n", settings.empty() ? "(none)" : settings.c_str());
  std::printf("  rounds        %u, each within %llu ms\n", s["rounds"].get<uint32_t>(),
              static_cast<unsigned long long>(s["round_timeout_ms"].get<uint64_t>()));
  std::printf("  expires       %s (approvals after this are refused)\n",
              FormatTimeMs(s["expires_at_ms"].get<uint64_t>()).c_str());
  std::printf("  aggregator    %s (%s)\n", t["aggregator"]["name"].get<std::string>().c_str(),
              t["aggregator"]["key"].get<std::string>().c_str());
  std::printf("  participants\n");
  for (const json& p : t["participants"]) {
    std::string state = p["approved"].is_null() ? "not approved yet" : "approved " + Utc(p["approved"]);
    if (!p["revoked_from_round"].is_null()) {
      state += ", revoked from round " + std::to_string(p["revoked_from_round"].get<uint32_t>());
    }
    std::printf("    %-12s dataset %-16s %s\n", p["name"].get<std::string>().c_str(),
                p["dataset_id"].get<std::string>().c_str(), state.c_str());
  }
  if (!t["closed_by"].is_null()) {
    std::printf("  closed        by %s: %s\n", t["closed_by"]["name"].get<std::string>().c_str(),
                t["close_reason"].get<std::string>().c_str());
  }
  if (!t["activated"].is_null()) std::printf("  activated     %s\n", Utc(t["activated"]).c_str());
  for (const json& r : t["round_progress"]) {
    std::printf("  round %u attempt %u: %zu members, %zu data accesses, %zu updates, %s\n",
                r["round"].get<uint32_t>(), r["attempt"].get<uint32_t>(), r["members"].size(),
                r["data_accesses"].size(), r["updates"].size(),
                r["aggregate"].is_null()
                    ? "no aggregate yet"
                    : ("aggregate " + r["aggregate"]["aggregate_hash"].get<std::string>().substr(0, 16) + "..").c_str());
  }
  if (!t["completed"].is_null()) {
    std::printf("  completed     %s, final trunk %s\n", Utc(t["completed"]).c_str(),
                t["final_trunk_hash"].get<std::string>().c_str());
  }
}

void AddShow(CLI::App* task) {
  auto* cmd = task->add_subcommand(
      "show", "A task's spec in readable form, its hash, participants, approvals so far,\n"
              "status and round progress");
  auto c = std::make_shared<Common>();
  auto id = std::make_shared<std::string>();
  auto as_json = std::make_shared<bool>(false);
  cmd->add_option("id", *id, "Task id")->required();
  AddNodeOption(cmd, c.get());
  cmd->add_flag("--json", *as_json, "Print the node's JSON answer");
  cmd->callback([c, id, as_json] {
    CheckTaskId(*id);
    json t = NodeClient(c->node).Get(UrlPath({"tasks", *id}),
                                     *as_json ? json{{"task_id", "string"}} : TaskShape(), "task");
    if (*as_json) return PrintJson(t);
    PrintTask(t);
  });
}

void AddDecision(CLI::App* task, const char* name, const char* help, EntryKind kind) {
  auto* cmd = task->add_subcommand(name, help);
  auto c = std::make_shared<Common>();
  struct Args {
    std::string id, spec_hash, reason;
  };
  auto a = std::make_shared<Args>();
  cmd->add_option("id", a->id, "Task id")->required();
  if (kind != EntryKind::kTaskRevoke) {
    cmd->add_option("--spec-hash", a->spec_hash,
                    "The spec hash you read with `task show` (the entry names it)")
        ->required();
  }
  if (kind != EntryKind::kTaskApprove) {
    cmd->add_option("--reason", a->reason, "Why (stored on the ledger)")->required();
  }
  AddWriteOptions(cmd, c.get());
  cmd->callback([c, a, kind, name] {
    CheckTaskId(a->id);
    SecretKey key = Unwrap(LoadSecretKey(c->key));
    Payload p;
    switch (kind) {
      case EntryKind::kTaskApprove:
        p = TaskApprovePayload{a->id, SpecHashArg(a->spec_hash)};
        break;
      case EntryKind::kTaskReject:
        p = TaskRejectPayload{a->id, SpecHashArg(a->spec_hash), a->reason};
        break;
      default:
        p = TaskRevokePayload{a->id, a->reason};
        break;
    }
    NodeClient node(c->node);
    auto done = node.SubmitAndWait(key, std::move(p), c->timeout_ms);
    std::string what = std::string(name) + (name[std::strlen(name) - 1] == 'e' ? "d" : "ed");
    PrintCommitted(what.c_str(), a->id, done);
    // The state after the commit, as every validator now holds it.
    json t = node.Get(UrlPath({"tasks", a->id}), TaskSummaryShape(), "task");
    std::printf("task %s is %s (%llu of %llu approvals)\n", a->id.c_str(),
                t["status"].get<std::string>().c_str(),
                static_cast<unsigned long long>(t["approval_count"].get<uint64_t>()),
                static_cast<unsigned long long>(t["participant_count"].get<uint64_t>()));
  });
}

Registrar reg("56-task", [](CLI::App& app) {
  auto* task = app.add_subcommand("task", "Training tasks: propose, review, approve, reject, revoke");
  task->require_subcommand(1);
  AddPropose(task);
  AddList(task);
  AddShow(task);
  AddDecision(task, "approve", "Approve a proposed task, naming the spec hash you reviewed",
              EntryKind::kTaskApprove);
  AddDecision(task, "reject", "Reject a proposed task (it is closed for everyone)",
              EntryKind::kTaskReject);
  AddDecision(task, "revoke",
              "Withdraw from an active task: you take no part from the next round on",
              EntryKind::kTaskRevoke);
});

}  // namespace
}  // namespace fedledger::cli
