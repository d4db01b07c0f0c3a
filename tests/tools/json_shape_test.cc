// Answers of the wrong shape are named before anything reads them (tools/json_shape.h).
#include "tools/json_shape.h"

#include <catch2/catch.hpp>

namespace fedledger::cli {
namespace {

using nlohmann::json;

std::string Error(const json& j, const json& shape) {
  Status s = CheckShape(j, shape, "status");
  REQUIRE_FALSE(s.ok());
  return s.message();
}

const json kShape = {{"chain_id", "string"},
                     {"height", "uint"},
                     {"node", {{"name", "string"}}},
                     {"round", "u32"},
                     {"peers", json::array({{{"name", "string"}, {"connected", "bool"}}})},
                     {"current_round", "u32?"},
                     {"closed_by", OrNull({{"name", "string"}})},
                     {"settings", {{"*", "string"}}}};

json Good() {
  return json::parse(R"({"chain_id":"c","height":3,"node":{"name":"n","extra":1},"round":0,
      "peers":[{"name":"a","connected":true},{"name":"b","connected":false}],
      "current_round":null,"closed_by":null,"settings":{"lr":"0.1"},"unknown":[1]})");
}

TEST_CASE("json shape: an answer of the right shape passes with nulls where allowed") {
  CHECK(CheckShape(Good(), kShape, "status").ok());
  json j = Good();
  j["current_round"] = 2u;  // as parsed: a non-negative number is unsigned
  j["closed_by"] = {{"name", "x"}};
  j["peers"] = json::array();
  CHECK(CheckShape(j, kShape, "status").ok());
}

TEST_CASE("json shape: the first wrong or missing field is named") {
  CHECK(Error(json::object(), kShape) == "status has no string 'chain_id'");
  CHECK(Error(json::array(), kShape) == "status is not a JSON object (it is an array)");
  CHECK(Error(json(5), kShape) == "status is not a JSON object (it is 5)");
  json j = Good();
  j["chain_id"] = 5;
  CHECK(Error(j, kShape) == "status has no string 'chain_id' (it is 5)");
  j = Good();
  j["height"] = -1;
  CHECK(Error(j, kShape) == "status has no non-negative integer 'height' (it is -1)");
  j = Good();
  j["height"] = 1.5;
  CHECK(Error(j, kShape) == "status has no non-negative integer 'height' (it is 1.5)");
  j = Good();
  j["round"] = uint64_t{4294967296};
  CHECK(Error(j, kShape) == "status has no 32-bit non-negative integer 'round' (it is 4294967296)");
  j = Good();
  j["node"].erase("name");
  CHECK(Error(j, kShape) == "status has no string 'node.name'");
  j = Good();
  j["peers"][1]["connected"] = "yes";
  CHECK(Error(j, kShape) == "status has no bool 'peers[1].connected' (it is a string)");
  j = Good();
  j["peers"] = json::object();
  CHECK(Error(j, kShape) == "status has no array 'peers' (it is an object)");
  j = Good();
  j["closed_by"] = "x";
  CHECK(Error(j, kShape) == "status has no object (or null) 'closed_by' (it is a string)");
  j = Good();
  j["current_round"] = "1";
  CHECK(Error(j, kShape) ==
        "status has no 32-bit non-negative integer (or null) 'current_round' (it is a string)");
  j = Good();
  j["settings"]["lr"] = 0.1;
  CHECK(Error(j, kShape) == "status has no string 'settings.lr' (it is 0.1)");
  j = Good();
  j["node"] = nullptr;
  CHECK(Error(j, kShape) == "status has no object 'node' (it is null)");
}

}  // namespace
}  // namespace fedledger::cli
