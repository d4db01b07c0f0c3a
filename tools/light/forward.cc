// The commands of the `fedledger` binary that need the trainer (LibTorch, RDKit): node, train
// and data. They run in fedledger-ml beside it, the same command line built with the trainer,
// which spends about a second of CPU starting up (loading and initialising LibTorch and its
// dependencies). Every other command runs here and starts in milliseconds: an operator's
// `status` or `submit`, a partner's `task approve`, an auditor's `audit query`.
//
// The command's arguments pass through untouched, and so does --help; argv[0] stays this
// binary's path, so a node started as `fedledger node --config F` is still found by that name.
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>
#include <vector>

#include "tools/command.h"
#include "tools/common.h"

namespace fedledger::cli {
namespace {

[[noreturn]] void RunInFullBinary(const std::string& command, const std::vector<std::string>& rest) {
  std::string self = SelfExe();
  std::string full = self.substr(0, self.rfind('/') + 1) + "fedledger-ml";
  std::vector<std::string> args{self, command};
  args.insert(args.end(), rest.begin(), rest.end());
  std::vector<char*> argv;
  for (std::string& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  ::execv(full.c_str(), argv.data());
  throw Failure("'fedledger " + command + "' runs in " + full + ", which could not be started: " +
                    std::strerror(errno) + " (build it with scripts/build.sh)",
                3);
}

void Forward(CLI::App& app, const std::string& command, const std::string& description) {
  auto* cmd = app.add_subcommand(command, description);
  cmd->prefix_command();   // everything after the command name is passed on as it is
  cmd->set_help_flag();    // so is --help: fedledger-ml prints the command's real help
  cmd->callback([cmd, command] { RunInFullBinary(command, cmd->remaining()); });
}

// Same order keys as the commands' own registrations (tools/node.cc, tools/train/*.cc), so
// `fedledger --help` lists them in place.
Registrar node_reg("40-node", [](CLI::App& app) { Forward(app, "node", kNodeCommandHelp); });
Registrar data_reg("60-data-split", [](CLI::App& app) { Forward(app, "data", kDataCommandHelp); });
Registrar train_reg("61-train", [](CLI::App& app) { Forward(app, "train", kTrainCommandHelp); });

}  // namespace
}  // namespace fedledger::cli
