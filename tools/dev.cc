// fedledger dev seed: a development ledger of realistic signed entries.
#include <cstdio>

#include "ledger/describe.h"
#include "ledger/devchain.h"
#include "tools/common.h"
#include "tools/flags.h"

namespace fedledger::cli {
namespace {

Registrar reg("90-dev", [](CLI::App& app) {
  auto* dev = app.add_subcommand("dev", "Development helpers (not for production ledgers)");
  dev->require_subcommand(1);
  auto* seed = dev->add_subcommand(
      "seed",
      "Create a genesis and N signed entries of mixed kinds in committed blocks, with dev\n"
      "validator and partner keys written to DIR/keys");
  auto dir = std::make_shared<std::string>();
  auto o = std::make_shared<DevChainOptions>();
  seed->add_option("--data-dir", *dir, "Directory to create (the store goes in DIR/ledger)")
      ->required();
  AddUnsignedOption(seed, "--entries", &o->entries, "Entries after the genesis", 0, 100000000)
      ->required();
  AddUnsignedOption(seed, "--validators", &o->validators, "Validators in the genesis", 1, 64)
      ->default_str(std::to_string(o->validators));
  AddUnsignedOption(seed, "--partners", &o->partners, "Partners (plus one neutral operator)", 1, 64)
      ->default_str(std::to_string(o->partners));
  AddUnsignedOption(seed, "--block-entries", &o->block_entries, "Entries per block", 1, 100000)
      ->default_str(std::to_string(o->block_entries));
  seed->add_option("--chain-id", o->chain_id, "Chain id")->capture_default_str();
  seed->add_option("--seed", o->seed, "Seed for the deterministic dev keys")->capture_default_str();
  seed->callback([dir, o] {
    o->store.verify_signatures_on_commit = false;  // the entries were signed right here
    Progress progress("seeding");
    auto store = Unwrap(SeedDevChain(*dir, *o, [&](uint64_t d, uint64_t t) {
      progress.Update(d, t);
    }));
    progress.Done();
    BlockRecord head = store->head();
    std::printf("created %s: chain %s, %s blocks, %s entries\n", LedgerPath(*dir).c_str(),
                store->chain_id().c_str(), WithCommas(head.header.height + 1).c_str(),
                WithCommas(head.header.log_size).c_str());
    std::printf("genesis hash %s\nlog root     %s\nkeys in      %s/keys\n",
                store->genesis_hash().Hex().c_str(), head.header.log_root.Hex().c_str(),
                dir->c_str());
  });
});

}  // namespace
}  // namespace fedledger::cli
