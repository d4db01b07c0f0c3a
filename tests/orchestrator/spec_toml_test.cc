// The task spec file format of `fedledger task propose` (orchestrator/spec_toml.h).
#include "orchestrator/spec_toml.h"

#include <catch2/catch.hpp>

#include "ledger/describe.h"

namespace fedledger::orchestrator {
namespace {

using Catch::Matchers::Contains;

constexpr uint64_t kNow = 1'800'000'000'000;

struct Names {
  SecretKey a = SecretKey::FromSeed("spec-a"), b = SecretKey::FromSeed("spec-b");
  SecretKey op = SecretKey::FromSeed("spec-op");
  KeyNames names;
  Names() {
    GenesisPayload g;
    g.validators = {{"op", op.pubkey()}};
    g.partners = {{"alice", a.pubkey()}, {"bob", b.pubkey()}};
    names = KeyNames(g);
  }
  KeyResolver resolver() const {
    return [this](const std::string& n) { return names.Resolve(n); };
  }
  Result<TaskSpec> Parse(const std::string& text) const {
    return ParseTaskSpecToml(text, "spec.toml", resolver(), kNow);
  }
};

const char* kGood = R"(
task_id = "tox21-demo"
title = "Tox21 multitask"
description = "three shards"
model = "mlp-trunk"
rounds = 3
round_timeout_ms = 600000
expires_in_minutes = 60
aggregator = "op"

[[participants]]
partner = "bob"
dataset = "shard-b"

[[participants]]
partner = "alice"
dataset = "shard-a"

[settings]
lr = 0.001
hidden = "1024"
epochs = 2
dropout = false
)";

TEST_CASE("spec file: a complete spec parses into a valid, canonically ordered TaskSpec",
          "[spec_toml]") {
  Names n;
  auto s = n.Parse(kGood);
  INFO(s.status().ToString());
  REQUIRE(s.ok());
  CHECK(s->Validate().ok());
  CHECK(s->task_id == "tox21-demo");
  CHECK(s->rounds == 3);
  CHECK(s->round_timeout_ms == 600000);
  CHECK(s->expires_at_ms == kNow + 3'600'000);
  CHECK(s->aggregator == n.op.pubkey());
  REQUIRE(s->participants.size() == 2);
  CHECK(s->participants[0].partner < s->participants[1].partner);
  CHECK(s->FindSetting("lr") != nullptr);
  CHECK(*s->FindSetting("lr") == "0.001");
  CHECK(*s->FindSetting("epochs") == "2");
  CHECK(*s->FindSetting("dropout") == "false");
  CHECK(s->settings.front().key == "dropout");  // sorted by key

  // The order in the file does not change the spec hash.
  std::string swapped = kGood;
  swapped.replace(swapped.find("partner = \"bob\""), 15, "partner = \"tmp\"");
  swapped.replace(swapped.find("partner = \"alice\""), 17, "partner = \"bob\"");
  swapped.replace(swapped.find("partner = \"tmp\""), 15, "partner = \"alice\"");
  swapped.replace(swapped.find("dataset = \"shard-b\""), 19, "dataset = \"shard-x\"");
  swapped.replace(swapped.find("dataset = \"shard-a\""), 19, "dataset = \"shard-b\"");
  swapped.replace(swapped.find("dataset = \"shard-x\""), 19, "dataset = \"shard-a\"");
  auto s2 = n.Parse(swapped);
  REQUIRE(s2.ok());
  CHECK(s2->Hash() == s->Hash());
}

TEST_CASE("spec file: a bad spec is refused naming what is wrong", "[spec_toml]") {
  Names n;
  auto bad = [&](const std::string& from, const std::string& to, const std::string& expect) {
    std::string text = kGood;
    size_t at = text.find(from);
    REQUIRE(at != std::string::npos);
    text.replace(at, from.size(), to);
    auto s = n.Parse(text);
    INFO(from << " -> " << to);
    REQUIRE_FALSE(s.ok());
    CHECK(s.status().code() == Status::Code::kInvalidArgument);
    CHECK_THAT(s.status().message(), Contains(expect));
  };
  bad("rounds = 3", "rounds = 0", "spec.toml: rounds: must be between 1 and 10000");
  bad("rounds = 3", "", "spec.toml: rounds: missing");
  bad("rounds = 3", "rounds = \"3\"", "rounds: must be a non-negative integer");
  bad("round_timeout_ms = 600000", "round_timout_ms = 600000", "round_timout_ms: unknown key");
  bad("partner = \"bob\"", "partner = \"mallory\"", "participants[0].partner");
  bad("partner = \"bob\"", "partner = \"alice\"", "participants[1].partner: 'alice' is listed twice");
  bad("aggregator = \"op\"", "aggregator = \"nobody\"", "aggregator");
  bad("expires_in_minutes = 60", "expires_at = \"2020-01-01\"", "is not in the future");
  bad("expires_in_minutes = 60", "expires_in_minutes = 60\nexpires_at = \"2030-01-01\"",
      "not both");
  bad("task_id = \"tox21-demo\"", "task_id = \"tox 21\"", "task_id");
  bad("hidden = \"1024\"", "hidden = [1, 2]", "settings.hidden: must be a string");
  bad("[[participants]]\npartner = \"alice\"\ndataset = \"shard-a\"\n", "",
      "a task needs at least 2 participants");
  bad("model = \"mlp-trunk\"", "model = \"mlp-trunk\"\nmodel = \"x\"", "not valid TOML");
}

}  // namespace
}  // namespace fedledger::orchestrator
