// The JSON views the CLI and the HTTP API print.
#include "orchestrator/views.h"

#include <catch2/catch.hpp>

#include "federation_fixture.inc"

namespace fedledger::orchestrator {
namespace {

using testing::Fed;

TEST_CASE("task views show the spec, its hash, approvals so far and round progress", "[views]") {
  Fed f;
  f.RegisterAll();
  TaskSpec spec = f.Spec("tox21-demo", f.Three(), 2);
  f.Ok(f.alice, TaskProposePayload{spec});
  f.Ok(f.bob, TaskApprovePayload{"tox21-demo", spec.Hash()});

  nlohmann::json list = TaskListJson(f.state);
  REQUIRE(list.size() == 1);
  CHECK(list[0]["task_id"] == "tox21-demo");
  CHECK(list[0]["status"] == "proposed");
  CHECK(list[0]["spec_hash"] == spec.Hash().Hex());
  CHECK(list[0]["approval_count"] == 1);
  CHECK(list[0]["participant_count"] == 3);
  CHECK(list[0]["current_round"].is_null());

  nlohmann::json show = TaskJson(f.state, *f.state.FindTask("tox21-demo"));
  CHECK(show["spec"]["title"] == "Tox21 demo");
  CHECK(show["aggregator"]["name"] == "op");
  REQUIRE(show["participants"].size() == 3);
  int approved = 0;
  for (const auto& p : show["participants"]) {
    if (p["name"] == "bob") {
      CHECK_FALSE(p["approved"].is_null());
      CHECK(p["dataset_id"] == Fed::Ds(f.bob));
    }
    approved += !p["approved"].is_null();
  }
  CHECK(approved == 1);

  f.Ok(f.alice, TaskApprovePayload{"tox21-demo", spec.Hash()});
  f.Ok(f.carol, TaskApprovePayload{"tox21-demo", spec.Hash()});
  f.Deliver("tox21-demo", 1, {&f.alice, &f.bob});
  show = TaskJson(f.state, *f.state.FindTask("tox21-demo"));
  CHECK(show["status"] == "active");
  CHECK(show["current_round"] == 1);
  REQUIRE(show["round_progress"].size() == 1);
  CHECK(show["round_progress"][0]["updates"].size() == 2);
  CHECK(show["round_progress"][0]["data_accesses"].size() == 2);
  CHECK(show["round_progress"][0]["aggregate"].is_null());
  CHECK(show["max_total_samples"] == 3 * Fed::kRows);

  nlohmann::json ds = DatasetListJson(f.state);
  REQUIRE(ds.size() == 4);
  for (const auto& d : ds) CHECK(d["rows"] == Fed::kRows);
}

}  // namespace
}  // namespace fedledger::orchestrator
