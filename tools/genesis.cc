// fedledger genesis: build and sign the genesis of a new chain from the validators' node keys
// and the partners' keys, and write the genesis file that `fedledger node` starts from.
#include <cstdio>

#include "ledger/describe.h"
#include "node/genesis_file.h"
#include "tools/command.h"
#include "tools/output_file.h"

namespace fedledger::cli {
namespace {

// "NAME=HEXKEY" -> Member.
Member ParseMember(const std::string& flag, const std::string& text) {
  size_t eq = text.find('=');
  if (eq == std::string::npos || eq == 0) {
    throw Failure(flag + " " + text + ": expected NAME=PUBKEY (64 hex digits)", 2);
  }
  Member m;
  m.name = text.substr(0, eq);
  auto key = Hash32::FromHex(text.substr(eq + 1));
  if (!key.ok()) throw Failure(flag + " " + m.name + ": " + key.status().message(), 2);
  if (!IsValidPubKey(*key)) {
    throw Failure(flag + " " + m.name + ": " + key->Hex() + " is not a valid public key", 2);
  }
  m.key = *key;
  return m;
}

Registrar reg("30-genesis", [](CLI::App& app) {
  auto* cmd = app.add_subcommand(
      "genesis",
      "Build and sign the genesis of a new chain (validators' node keys, partners' keys) and\n"
      "write the genesis file every validator's `fedledger node` starts from");
  struct Args {
    std::string chain_id, key, out, time;
    std::vector<std::string> validators, partners;
    bool force = false;
  };
  auto a = std::make_shared<Args>();
  cmd->add_option("--chain-id", a->chain_id, "Chain id (an identifier)")->required();
  cmd->add_option("--validator", a->validators,
                  "NAME=PUBKEY of a validator's node key; repeat, in proposer order")
      ->required();
  cmd->add_option("--partner", a->partners, "NAME=PUBKEY of a partner's key; repeat");
  cmd->add_option("--key", a->key, "Key file of whoever creates the genesis (signs it)")
      ->required();
  cmd->add_option("--out", a->out, "Genesis file to create")->required();
  AddForceFlag(cmd, &a->force);
  cmd->add_option("--time", a->time, "Genesis time (RFC 3339, date or ms; default: now)");
  cmd->callback([a] {
    Check(CheckOutputPath(a->out, a->force));
    GenesisPayload g;
    for (const auto& v : a->validators) g.validators.push_back(ParseMember("--validator", v));
    for (const auto& p : a->partners) g.partners.push_back(ParseMember("--partner", p));
    if (a->time.empty()) {
      g.genesis_time_ms = static_cast<uint64_t>(
          std::chrono::duration_cast<std::chrono::milliseconds>(
              std::chrono::system_clock::now().time_since_epoch()).count());
    } else {
      g.genesis_time_ms = Unwrap(ParseTimeMs(a->time));
    }
    SecretKey creator = Unwrap(LoadSecretKey(a->key));
    EntryBody body;
    body.chain_id = a->chain_id;
    body.nonce = 1;
    body.timestamp_ms = g.genesis_time_ms;
    body.payload = g;
    // Entry::Sign validates the payload: unique names and keys, identifiers, sizes.
    Entry entry = Unwrap(Entry::Sign(std::move(body), creator));
    node::GenesisFile file = Unwrap(node::MakeGenesisFile(entry));
    // Whole or not at all, and an existing file only with --force (tools/output_file.h).
    Check(WriteOutputFile(a->out, node::GenesisFileJson(file).dump(2) + "\n", a->force));
    std::printf("wrote %s: chain %s, %zu validators, %zu partners\ngenesis hash %s\n",
                a->out.c_str(), a->chain_id.c_str(), g.validators.size(), g.partners.size(),
                file.hash.Hex().c_str());
  });
});

}  // namespace
}  // namespace fedledger::cli
