// The `fedledger` command line. Each command group lives in its own file and registers
// itself (tools/command.h).
#include <cstdio>
#include <map>

#include "tools/command.h"

namespace fedledger::cli {

namespace {
std::multimap<std::string, RegisterFn>& Registry() {
  static std::multimap<std::string, RegisterFn> r;
  return r;
}
}  // namespace

Registrar::Registrar(const char* order_key, RegisterFn fn) {
  Registry().emplace(order_key, std::move(fn));
}

void RegisterAll(CLI::App& app) {
  for (auto& [key, fn] : Registry()) fn(app);
}

}  // namespace fedledger::cli

int main(int argc, char** argv) {
  CLI::App app{
      "fedledger: an auditable, ledger-backed orchestrator for federated learning.\n"
      "Every approval, data access and model update is a signed entry in a replicated,\n"
      "append-only Merkle log that anyone holding a copy can verify offline."};
  app.require_subcommand(1);
  app.set_help_all_flag("--help-all", "Show help for every command");
  fedledger::cli::RegisterAll(app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  } catch (const fedledger::cli::Failure& f) {
    std::fprintf(stderr, "error: %s\n", f.what());
    return f.exit_code;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "internal error: %s\n", e.what());
    return 4;
  }
  return 0;
}
