// GET /tasks, /tasks/{id}, /datasets: the federation state as the orchestrator's JSON views
// (orchestrator/views.h), so the CLI and any API client show the same thing.
#include "node/api.h"
#include "orchestrator/application.h"
#include "orchestrator/views.h"

namespace fedledger::node {

using net::HttpRequest;
using net::HttpResponse;
using net::Responder;
using nlohmann::json;

namespace {

bool NoTaskState(const Node& node, const Responder& res) {
  if (node.orchestrator() != nullptr) return false;
  res.Send(HttpResponse::FromStatus(Status::NotFound(
      "this node runs the ledger rules only ([application] rules = \"ledger\") and keeps no "
      "task state")));
  return true;
}

}  // namespace

void RegisterTaskApi(net::HttpServer& server, const Node& node) {
  const Node* n = &node;
  server.Get("/tasks", [n](const HttpRequest&, Responder res) {
    if (NoTaskState(*n, res)) return;
    json tasks = n->orchestrator()->Read(
        [](const orchestrator::FederationState& s) { return orchestrator::TaskListJson(s); });
    res.Send(HttpResponse::Json(200, {{"count", tasks.size()}, {"tasks", std::move(tasks)}}));
  });
  server.Get("/tasks/{id}", [n](const HttpRequest& req, Responder res) {
    if (NoTaskState(*n, res)) return;
    const std::string id = req.Param("id");
    std::optional<json> task =
        n->orchestrator()->Read([&](const orchestrator::FederationState& s) -> std::optional<json> {
          const orchestrator::TaskRecord* t = s.FindTask(id);
          if (t == nullptr) return std::nullopt;
          return orchestrator::TaskJson(s, *t);
        });
    if (!task) {
      res.Send(HttpResponse::FromStatus(Status::NotFound("no task '" + id + "'")));
      return;
    }
    res.Send(HttpResponse::Json(200, *task));
  });
  server.Get("/datasets", [n](const HttpRequest&, Responder res) {
    if (NoTaskState(*n, res)) return;
    json ds = n->orchestrator()->Read(
        [](const orchestrator::FederationState& s) { return orchestrator::DatasetListJson(s); });
    res.Send(HttpResponse::Json(200, {{"count", ds.size()}, {"datasets", std::move(ds)}}));
  });
}

}  // namespace fedledger::node
