// ParseJsonStrict: what json::parse accepts it builds identically, except that an object may
// not repeat a key.
#include <catch2/catch.hpp>

#include <string>

#include "ledger/strict_json.h"

using namespace fedledger;
using nlohmann::json;

TEST_CASE("strict json: valid texts parse exactly as json::parse does") {
  for (const char* text :
       {"{}", "[]", "null", "true", "-12", "18446744073709551615", "1.5e3", "\"a\\u00e9\"",
        R"({"a":{"a":1},"b":[{"a":1},{"a":2}],"c":[[],[1,[2,{"d":null}]]]})",
        R"( {"entry":"00ff","wait":true,"proof":false,"timeout_ms":30000} )",
        R"([{"x":1,"y":{"x":2}},{"x":3}])"}) {
    INFO(text);
    auto r = ParseJsonStrict(text, "text");
    REQUIRE(r.ok());
    CHECK(*r == json::parse(text));
    CHECK(r->dump() == json::parse(text).dump());
  }
}

TEST_CASE("strict json: a repeated key is refused at any depth - the same key in two objects is fine") {
  struct Case {
    const char* text;
    const char* key;
  };
  for (const Case& c : {Case{R"({"entry":"00","entry":"11"})", "entry"},
                        Case{R"({"a":null,"a":null})", "a"},
                        Case{R"({"a":{"b":1,"c":2,"b":3}})", "b"},
                        Case{R"([{"x":1},{"y":1,"y":2}])", "y"},
                        Case{R"({"a":[{"a":1}],"b":{},"a":2})", "a"}}) {
    INFO(c.text);
    auto r = ParseJsonStrict(c.text, "the proof");
    REQUIRE_FALSE(r.ok());
    CHECK(r.status().code() == Status::Code::kInvalidArgument);
    CHECK(r.status().message() == std::string("the proof has a duplicate key '") + c.key +
                                      "' (a key may appear only once in an object)");
  }
  std::string long_key(100, 'k');
  auto r = ParseJsonStrict("{\"" + long_key + "\":1,\"" + long_key + "\":2}", "body");
  REQUIRE_FALSE(r.ok());
  CHECK(r.status().message().find(std::string(64, 'k') + "...'") != std::string::npos);
}

TEST_CASE("strict json: syntax errors and trailing text are refused with the parser's message") {
  for (const char* text : {"", "{", "{not json", R"({"a":1} {})", R"({"a":1,})", "[1,2", "\"\xff\""}) {
    INFO(text);
    auto r = ParseJsonStrict(text, "body");
    REQUIRE_FALSE(r.ok());
    CHECK(r.status().code() == Status::Code::kInvalidArgument);
    CHECK(r.status().message().rfind("body is not valid JSON: [json.exception.parse_error", 0) == 0);
  }
  // Deep nesting: no recursion in the parser or here.
  std::string deep = std::string(100000, '[') + std::string(100000, ']');
  CHECK(ParseJsonStrict(deep, "body").ok());
}
