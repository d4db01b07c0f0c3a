#include "tools/flags.h"

namespace fedledger::cli {

namespace {

std::string Expected(uint64_t min, uint64_t max) {
  if (min == 0 && max == std::numeric_limits<uint64_t>::max()) {
    return "a non-negative decimal integer";
  }
  return "a decimal integer in " + std::to_string(min) + ".." + std::to_string(max);
}

}  // namespace

Result<uint64_t> ParseDecimal(std::string_view text, uint64_t min, uint64_t max) {
  auto bad = [&] {
    return Status::InvalidArgument("expected " + Expected(min, max) + ", got '" +
                                   std::string(text) + "'");
  };
  if (text.empty()) return bad();
  uint64_t v = 0;
  bool overflow = false;
  for (char c : text) {
    if (c < '0' || c > '9') return bad();
    uint64_t digit = static_cast<uint64_t>(c - '0');
    if (v > (std::numeric_limits<uint64_t>::max() - digit) / 10) overflow = true;
    v = v * 10 + digit;
  }
  if (overflow || v < min || v > max) {
    // Out of range: always name the range, even for a flag that takes any u64.
    return Status::InvalidArgument("expected a decimal integer in " + std::to_string(min) + ".." +
                                   std::to_string(max) + ", got '" + std::string(text) + "'");
  }
  return v;
}

namespace detail {

CLI::Option* AddDecimalOption(CLI::App* cmd, const std::string& name,
                              std::function<void(uint64_t)> store, const std::string& help,
                              uint64_t min, uint64_t max) {
  CLI::Option* opt = cmd->add_option_function<std::string>(
      name,
      [name, store = std::move(store), min, max](const std::string& text) {
        auto v = ParseDecimal(text, min, max);
        // ValidationError is a CLI::ParseError: main() prints "NAME: message", exits 2.
        if (!v.ok()) throw CLI::ValidationError(name, v.status().message());
        store(*v);
      },
      help);
  opt->type_name("UINT");
  return opt;
}

}  // namespace detail

}  // namespace fedledger::cli
