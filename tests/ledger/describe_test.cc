// ParseTimeMs serves `genesis --time`, `audit log --since/--until`, the API's ?since= and task
// specs' expires_at: a time that is not on the calendar is refused, never carried over.
#include "ledger/describe.h"

#include <catch2/catch.hpp>

namespace fedledger {
namespace {

uint64_t Ms(const std::string& text) {
  auto r = ParseTimeMs(text);
  INFO(text << ": " << r.status().message());
  REQUIRE(r.ok());
  return *r;
}

std::string Error(const std::string& text) {
  auto r = ParseTimeMs(text);
  INFO(text);
  REQUIRE_FALSE(r.ok());
  CHECK(r.status().code() == Status::Code::kInvalidArgument);
  return r.status().message();
}

TEST_CASE("ParseTimeMs: dates and RFC 3339 times and epoch milliseconds") {
  CHECK(Ms("2026-01-01") == 1767225600000);
  CHECK(Ms("2026-01-01T00:00:00Z") == 1767225600000);
  CHECK(Ms("2026-01-01T00:01:00.5Z") == 1767225660500);
  CHECK(Ms("2026-01-01T00:01:00.123Z") == 1767225660123);
  CHECK(Ms("2028-02-29") == 1835395200000);  // a leap year
  CHECK(Ms("2000-02-29") > 0);               // divisible by 400: leap
  CHECK(Ms("2026-12-31T23:59:59Z") == 1798761599000);
  CHECK(Ms("1767225600000") == 1767225600000);
  CHECK(ParseTimeMs(FormatTimeMs(1767225660123)).value() == 1767225660123);
}

TEST_CASE("ParseTimeMs: impossible dates are refused instead of rolled over") {
  CHECK(Error("2026-02-30") == "invalid date in time '2026-02-30': 2026-02 has 28 days");
  CHECK(Error("2026-02-29") == "invalid date in time '2026-02-29': 2026-02 has 28 days");
  CHECK(Error("2100-02-29") == "invalid date in time '2100-02-29': 2100-02 has 28 days");
  CHECK(Error("2026-04-31T00:00:00Z") ==
        "invalid date in time '2026-04-31T00:00:00Z': 2026-04 has 30 days");
  CHECK(Error("2026-01-00") == "invalid date in time '2026-01-00': 2026-01 has 31 days");
  CHECK(Error("2026-13-01") == "invalid date in time '2026-13-01': there is no month 13");
  CHECK(Error("2026-00-10") == "invalid date in time '2026-00-10': there is no month 0");
  CHECK_THAT(Error("2026-01-01T24:00:00Z"), Catch::Contains("invalid time of day"));
  CHECK_THAT(Error("2026-01-01T12:60:00Z"), Catch::Contains("invalid time of day"));
}

TEST_CASE("ParseTimeMs: other spellings are refused") {
  for (const char* bad :
       {"yesterday", "", "2026-1-01", "2026-01-1", " 2026-01-01", "+2026-01-01", "2026-01-01 ",
        "2026-01-01T00:00:00", "2026-01-01T00:00:00z", "2026-01-01T00:00:00.Z",
        "2026-01-01T0:00:00Z", "2026-01-01T-1:00:00Z", "2026-01-01T00:00:00+01:00", "2026/01/01",
        "20260101T000000Z", "12345678901234567890", "1969-12-31"}) {
    auto r = ParseTimeMs(bad);
    INFO("'" << bad << "'");
    CHECK_FALSE(r.ok());
  }
}

}  // namespace
}  // namespace fedledger
