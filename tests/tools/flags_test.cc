// Integer flags take plain decimal digits in range and nothing else (tools/flags.h).
#include "tools/flags.h"

#include <algorithm>
#include <catch2/catch.hpp>
#include <optional>

namespace fedledger::cli {
namespace {

std::string ParseError(std::string_view text, uint64_t min = 0, uint64_t max = UINT64_MAX) {
  auto r = ParseDecimal(text, min, max);
  REQUIRE_FALSE(r.ok());
  CHECK(r.status().code() == Status::Code::kInvalidArgument);
  return r.status().message();
}

TEST_CASE("flags: ParseDecimal takes plain digits up to the maximum") {
  CHECK(*ParseDecimal("0") == 0);
  CHECK(*ParseDecimal("7") == 7);
  CHECK(*ParseDecimal("007") == 7);  // leading zeros are decimal here, never octal
  CHECK(*ParseDecimal("18446744073709551615") == UINT64_MAX);
  CHECK(*ParseDecimal("120000", 1, 120000) == 120000);
  CHECK(*ParseDecimal("1", 1, 120000) == 1);
}

TEST_CASE("flags: ParseDecimal refuses signs and hex and spaces and empty text naming the value") {
  CHECK(ParseError("-1") == "expected a non-negative decimal integer, got '-1'");
  CHECK(ParseError("-0") == "expected a non-negative decimal integer, got '-0'");
  CHECK(ParseError("+7") == "expected a non-negative decimal integer, got '+7'");
  CHECK(ParseError("0x10") == "expected a non-negative decimal integer, got '0x10'");
  CHECK(ParseError(" 7") == "expected a non-negative decimal integer, got ' 7'");
  CHECK(ParseError("7 ") == "expected a non-negative decimal integer, got '7 '");
  CHECK(ParseError("") == "expected a non-negative decimal integer, got ''");
  CHECK(ParseError("1e3") == "expected a non-negative decimal integer, got '1e3'");
  CHECK(ParseError("1.5") == "expected a non-negative decimal integer, got '1.5'");
  CHECK(ParseError("1_000") == "expected a non-negative decimal integer, got '1_000'");
  CHECK(ParseError("-1", 1, 120000) == "expected a decimal integer in 1..120000, got '-1'");
}

TEST_CASE("flags: ParseDecimal refuses values out of range instead of wrapping or clamping") {
  CHECK(ParseError("18446744073709551616") ==
        "expected a decimal integer in 0..18446744073709551615, got '18446744073709551616'");
  CHECK(ParseError("99999999999999999999999") ==
        "expected a decimal integer in 0..18446744073709551615, got '99999999999999999999999'");
  CHECK(ParseError("0", 1, 120000) == "expected a decimal integer in 1..120000, got '0'");
  CHECK(ParseError("120001", 1, 120000) == "expected a decimal integer in 1..120000, got '120001'");
  CHECK(ParseError("4294967296", 0, UINT32_MAX) ==
        "expected a decimal integer in 0..4294967295, got '4294967296'");
}

// Parses `args` (after the program name) with a fresh app holding the flags of the test.
struct Parsed {
  uint64_t rows = 5;
  uint32_t round = 0;
  std::optional<uint64_t> nonce;
  std::string error;
};

Parsed Parse(std::vector<std::string> args) {
  Parsed p;
  CLI::App app;
  AddUnsignedOption(&app, "--rows", &p.rows, "Rows");
  AddUnsignedOption(&app, "--round", &p.round, "Round");
  AddUnsignedOption(&app, "--nonce", &p.nonce, "Nonce", 1);
  std::reverse(args.begin(), args.end());  // CLI11 takes the arguments back to front
  try {
    app.parse(args);
  } catch (const CLI::ParseError& e) {
    p.error = e.what();
  }
  return p;
}

TEST_CASE("flags: AddUnsignedOption stores valid values and names the flag on bad ones") {
  Parsed ok = Parse({"--rows", "18446744073709551615", "--round=4294967295", "--nonce", "3"});
  CHECK(ok.error.empty());
  CHECK(ok.rows == UINT64_MAX);
  CHECK(ok.round == UINT32_MAX);
  CHECK(ok.nonce == std::optional<uint64_t>(3));

  Parsed none = Parse({});
  CHECK(none.error.empty());
  CHECK(none.rows == 5);
  CHECK_FALSE(none.nonce.has_value());

  CHECK(Parse({"--rows", "-1"}).error ==
        "--rows: expected a non-negative decimal integer, got '-1'");
  CHECK(Parse({"--rows=0x10"}).error ==
        "--rows: expected a non-negative decimal integer, got '0x10'");
  CHECK(Parse({"--rows", " 7"}).error ==
        "--rows: expected a non-negative decimal integer, got ' 7'");
  CHECK(Parse({"--rows", "99999999999999999999999"}).error ==
        "--rows: expected a decimal integer in 0..18446744073709551615, got "
        "'99999999999999999999999'");
  CHECK(Parse({"--round", "-4294967295"}).error ==
        "--round: expected a decimal integer in 0..4294967295, got '-4294967295'");
  CHECK(Parse({"--round", "4294967296"}).error ==
        "--round: expected a decimal integer in 0..4294967295, got '4294967296'");
  CHECK(Parse({"--nonce", "0"}).error ==
        "--nonce: expected a decimal integer in 1..18446744073709551615, got '0'");
}

}  // namespace
}  // namespace fedledger::cli
