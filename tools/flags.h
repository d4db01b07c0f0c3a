// Integer flags of the `fedledger` CLI.
//
// CLI11 reads integers with strtoull(base 0): "-1" becomes 2^64-1, "0x10" 16, "010" 8 and
// " 7" 7, and a number past 2^64-1 is clamped. `submit --rows -1` would then be signed into
// an entry and kept on the ledger for good. Declare every integer flag through
// AddUnsignedOption instead: it takes plain decimal digits only, within a range, and
// anything else is a usage error (exit code 2) naming the flag and the value:
//
//   --rows: expected a non-negative decimal integer, got '-1'
//   --timeout-ms: expected a decimal integer in 1..120000, got '0'
//
// A flag that has no sensible value until later (`testnet up --node`, whose range depends on
// the testnet) is read as a string and checked with ParseDecimal.
#pragma once

#include <CLI/CLI.hpp>
#include <cstdint>
#include <functional>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>

#include "ledger/status.h"

namespace fedledger::cli {

// `text` as a decimal integer in [min, max]: one or more ASCII digits and nothing else (no
// sign, space, base prefix, exponent or separator; leading zeros are fine). InvalidArgument
// otherwise, with a message that quotes `text` and says what was expected.
// REQUIRES: min <= max.
Result<uint64_t> ParseDecimal(std::string_view text, uint64_t min = 0,
                              uint64_t max = std::numeric_limits<uint64_t>::max());

namespace detail {
CLI::Option* AddDecimalOption(CLI::App* cmd, const std::string& name,
                              std::function<void(uint64_t)> store, const std::string& help,
                              uint64_t min, uint64_t max);
}  // namespace detail

// Adds option `name` ("--rows") to `cmd`, storing its value into *target (left as it is when
// the flag is not given; add ->default_str(...) to show it in the help).
// REQUIRES: min <= max, and both fit T.
template <typename T>
CLI::Option* AddUnsignedOption(
    CLI::App* cmd, const std::string& name, T* target, const std::string& help, uint64_t min = 0,
    uint64_t max = static_cast<uint64_t>(std::numeric_limits<T>::max())) {
  static_assert(std::is_integral_v<T> && !std::is_same_v<T, bool>);
  return detail::AddDecimalOption(
      cmd, name, [target](uint64_t v) { *target = static_cast<T>(v); }, help, min, max);
}

// The same for a flag whose absence means something ("not given" is std::nullopt, never a
// value such as 0 that a user could also type).
template <typename T>
CLI::Option* AddUnsignedOption(
    CLI::App* cmd, const std::string& name, std::optional<T>* target, const std::string& help,
    uint64_t min = 0, uint64_t max = static_cast<uint64_t>(std::numeric_limits<T>::max())) {
  static_assert(std::is_integral_v<T> && !std::is_same_v<T, bool>);
  return detail::AddDecimalOption(
      cmd, name, [target](uint64_t v) { *target = static_cast<T>(v); }, help, min, max);
}

}  // namespace fedledger::cli
