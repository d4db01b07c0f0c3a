// fedledger keygen: create a secret key file and print its public key.
#include <cstdio>

#include "ledger/crypto.h"
#include "tools/command.h"

namespace fedledger::cli {
namespace {

Registrar reg("10-keygen", [](CLI::App& app) {
  auto* cmd = app.add_subcommand(
      "keygen", "Create a new secret key file (mode 0600) and print its public key");
  auto out = std::make_shared<std::string>();
  cmd->add_option("--out", *out, "Key file to create; an existing file is never overwritten")
      ->required();
  cmd->callback([out] {
    SecretKey key = SecretKey::Generate();
    Check(SaveSecretKey(*out, key));
    std::printf("%s\n", key.pubkey().Hex().c_str());
    std::fprintf(stderr, "wrote secret key to %s (mode 0600); the line above is its public key\n",
                 out->c_str());
  });
  auto* pub = app.add_subcommand("pubkey", "Print the public key of a secret key file");
  auto key_path = std::make_shared<std::string>();
  pub->add_option("--key", *key_path, "Secret key file")->required();
  pub->callback([key_path] {
    SecretKey key = Unwrap(LoadSecretKey(*key_path));
    std::printf("%s\n", key.pubkey().Hex().c_str());
  });
});

}  // namespace
}  // namespace fedledger::cli
