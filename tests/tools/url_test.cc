// Request targets built by the CLI carry user-given ids as data, never as URL syntax.
#include "tools/url.h"

#include <catch2/catch.hpp>

namespace fedledger::cli {
namespace {

TEST_CASE("url: PercentEncode keeps unreserved characters and encodes every other byte") {
  CHECK(PercentEncode("task-1.v2_x~") == "task-1.v2_x~");
  CHECK(PercentEncode("x?y=1") == "x%3Fy%3D1");
  CHECK(PercentEncode("a/b") == "a%2Fb");
  CHECK(PercentEncode("a%2Fb") == "a%252Fb");
  CHECK(PercentEncode("bad id!") == "bad%20id%21");
  CHECK(PercentEncode("a#b&c+d:e") == "a%23b%26c%2Bd%3Ae");
  CHECK(PercentEncode("\xc3\xa9\n") == "%C3%A9%0A");
  CHECK(PercentEncode("") == "");
}

TEST_CASE("url: UrlPath encodes each segment and dot segments too") {
  CHECK(UrlPath({"tasks", "x?y=1"}) == "/tasks/x%3Fy%3D1");
  CHECK(UrlPath({"nonces", "alice"}) == "/nonces/alice");
  CHECK(UrlPath({"tasks", ".."}) == "/tasks/%2E%2E");
  CHECK(UrlPath({"tasks", "."}) == "/tasks/%2E");
  CHECK(UrlPath({"status"}) == "/status");
}

}  // namespace
}  // namespace fedledger::cli
