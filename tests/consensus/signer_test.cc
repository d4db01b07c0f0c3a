#include "consensus/signer.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstdlib>
#include <filesystem>

namespace fedledger::consensus {
namespace {

const Hash32 kA = Sha256("block a");
const Hash32 kB = Sha256("block b");
const Hash32 kNil{};

// A signed state at `height`, round 0, for `hash`.
SignedState StateAt(uint64_t height, SignStep step, const Hash32& hash) {
  SignedState s;
  s.height = height;
  s.step = step;
  s.block_hash = hash;
  return s;
}

TEST_CASE("signer: never signs a conflicting or a backwards vote", "[signer]") {
  SecretKey key = SecretKey::FromSeed("signer");
  MemorySignerStorage storage;
  auto s = std::move(Signer::Open(key, &storage)).value();

  auto v1 = s->SignVote(VoteType::kPrevote, "c", 5, 0, kA);
  REQUIRE(v1.ok());
  CHECK(v1->VerifySignature());
  // The same vote again is allowed and identical (deterministic signing), without a write.
  int saves = storage.saves();
  auto again = s->SignVote(VoteType::kPrevote, "c", 5, 0, kA);
  REQUIRE(again.ok());
  CHECK(again->sig == v1->sig);
  CHECK(storage.saves() == saves);
  // A different block at the same height/round/type is refused.
  CHECK(s->SignVote(VoteType::kPrevote, "c", 5, 0, kB).status().code() ==
        Status::Code::kFailedPrecondition);
  CHECK(s->SignVote(VoteType::kPrevote, "c", 5, 0, kNil).status().code() ==
        Status::Code::kFailedPrecondition);
  REQUIRE(s->SignVote(VoteType::kPrecommit, "c", 5, 0, kA).ok());
  // Going back to prevote in the same round, or to an earlier round or height, is refused.
  CHECK_FALSE(s->SignVote(VoteType::kPrevote, "c", 5, 0, kA).ok());
  CHECK_FALSE(s->SignVote(VoteType::kPrevote, "c", 4, 9, kA).ok());
  REQUIRE(s->SignVote(VoteType::kPrevote, "c", 5, 1, kB).ok());
  CHECK_FALSE(s->SignVote(VoteType::kPrecommit, "c", 5, 0, kB).ok());
  // The lock is the last non-nil precommit.
  CHECK(s->state().lock_height == 5);
  CHECK(s->state().lock_round == 0);
  CHECK(s->state().lock_hash == kA);
  REQUIRE(s->SignVote(VoteType::kPrecommit, "c", 5, 1, kNil).ok());
  CHECK(s->state().lock_hash == kA);
}

// An unsigned proposal at height 3, round 1 of chain "c", for a block named by `dataset`.
Proposal proposal(const std::string& dataset) {
  Proposal p;
  p.chain_id = "c";
  p.height = 3;
  p.round = 1;
  p.block.header.chain_id = "c";
  p.block.header.height = 3;
  p.block.header.log_root = Sha256(dataset);
  return p;
}

TEST_CASE("signer: a proposal with its own prevote costs one write and conflicts with nothing",
          "[signer]") {
  SecretKey key = SecretKey::FromSeed("signer");
  MemorySignerStorage storage;
  auto s = std::move(Signer::Open(key, &storage)).value();
  Proposal p = proposal("a");
  auto v = s->SignProposalAndPrevote(p);
  REQUIRE(v.ok());
  CHECK(storage.saves() == 1);
  CHECK(p.block_hash == p.block.header.Hash());
  CHECK(v->type == VoteType::kPrevote);
  CHECK(v->block_hash == p.block_hash);
  CHECK(v->VerifySignature());
  CHECK(storage.Load()->step == SignStep::kPrevote);
  // No other proposal and no other prevote at (3, 1), even after a crash.
  auto reopened = std::move(Signer::Open(key, &storage)).value();
  Proposal other = proposal("b");
  CHECK(reopened->SignProposal(other).code() == Status::Code::kFailedPrecondition);
  Proposal same = proposal("a");
  CHECK(reopened->SignProposal(same).code() == Status::Code::kFailedPrecondition);
  CHECK(reopened->SignVote(VoteType::kPrevote, "c", 3, 1, other.block.header.Hash())
            .status()
            .code() == Status::Code::kFailedPrecondition);
  // The same prevote again is fine (a restart re-sends it).
  CHECK(reopened->SignVote(VoteType::kPrevote, "c", 3, 1, p.block_hash).ok());

  // A proposal signed alone before a crash: the combined call refuses another block there.
  MemorySignerStorage storage2;
  auto s2 = std::move(Signer::Open(key, &storage2)).value();
  Proposal first = proposal("a");
  REQUIRE(s2->SignProposal(first).ok());
  Proposal second = proposal("b");
  CHECK(s2->SignProposalAndPrevote(second).status().code() ==
        Status::Code::kFailedPrecondition);
  Proposal again = proposal("a");
  CHECK(s2->SignProposalAndPrevote(again).ok());
}

// Records which saves were durable.
class CountingStorage : public MemorySignerStorage {
 public:
  Status Save(const SignedState& state) override {
    kinds.push_back("synced");
    return MemorySignerStorage::Save(state);
  }
  Status SaveUnsynced(const SignedState& state) override {
    kinds.push_back("unsynced");
    return MemorySignerStorage::Save(state);
  }
  std::vector<std::string> kinds;
};

TEST_CASE("signer: a proposal sent ahead of its record is written unsynced, then the prevote "
          "durably", "[signer]") {
  SecretKey key = SecretKey::FromSeed("signer");
  CountingStorage storage;
  auto s = std::move(Signer::Open(key, &storage)).value();
  Proposal p = proposal("a");
  REQUIRE(s->SignProposalUnsynced(p).ok());
  CHECK(p.block_hash == p.block.header.Hash());
  CHECK(p.VerifySignature(key.pubkey()));
  CHECK(storage.kinds == std::vector<std::string>{"unsynced"});
  // It is recorded all the same: no other proposal at (3, 1) from this signer.
  Proposal other = proposal("b");
  CHECK(s->SignProposalUnsynced(other).code() == Status::Code::kFailedPrecondition);
  CHECK(s->SignProposal(other).code() == Status::Code::kFailedPrecondition);
  // The prevote for it is durable before it is returned.
  REQUIRE(s->SignVote(VoteType::kPrevote, "c", 3, 1, p.block_hash).ok());
  CHECK(storage.kinds == std::vector<std::string>{"unsynced", "synced"});
  // Votes never go unsynced.
  REQUIRE(s->SignVote(VoteType::kPrecommit, "c", 3, 1, p.block_hash).ok());
  CHECK(storage.kinds.back() == "synced");
}

// A proposal at `height`, round 0, for a block named by `dataset`.
Proposal first_round_proposal(uint64_t height, const std::string& dataset) {
  Proposal p = proposal(dataset);
  p.height = height;
  p.round = 0;
  p.block.header.height = height;
  return p;
}

TEST_CASE("signer: a precommit permits the next height's round-0 proposal and prevote "
          "without a flush", "[signer]") {
  SecretKey key = SecretKey::FromSeed("signer");
  CountingStorage storage;
  auto s = std::move(Signer::Open(key, &storage)).value();
  REQUIRE(s->SignVote(VoteType::kPrevote, "c", 5, 2, kA).ok());
  REQUIRE(s->SignVote(VoteType::kPrecommit, "c", 5, 2, kA).ok());
  CHECK(storage.kinds == std::vector<std::string>{"synced", "synced"});
  // Height 6, round 0: the proposal and the prevote ride on the precommit's record.
  Proposal p = first_round_proposal(6, "b");
  REQUIRE(s->SignProposalUnsynced(p).ok());
  REQUIRE(s->SignVote(VoteType::kPrevote, "c", 6, 0, p.block_hash).ok());
  CHECK(storage.kinds.size() == 4);
  CHECK(storage.kinds[2] == "unsynced");
  CHECK(storage.kinds[3] == "unsynced");
  // They are recorded all the same: nothing conflicting at (6, 0).
  CHECK(s->SignVote(VoteType::kPrevote, "c", 6, 0, kNil).status().code() ==
        Status::Code::kFailedPrecondition);
  // A precommit always waits for its disk, and is the next height's permit.
  REQUIRE(s->SignVote(VoteType::kPrecommit, "c", 6, 0, p.block_hash).ok());
  CHECK(storage.kinds.back() == "synced");
  // Round 1 is not covered, nor a height beyond the next, nor a round 0 after a prevote.
  REQUIRE(s->SignVote(VoteType::kPrevote, "c", 7, 1, kNil).ok());
  CHECK(storage.kinds.back() == "synced");
  REQUIRE(s->SignVote(VoteType::kPrecommit, "c", 7, 1, kNil).ok());
  REQUIRE(s->SignVote(VoteType::kPrevote, "c", 9, 0, kNil).ok());
  CHECK(storage.kinds.back() == "synced");
  REQUIRE(s->SignVote(VoteType::kPrevote, "c", 10, 0, kNil).ok());
  CHECK(storage.kinds.back() == "synced");
  // A fresh signer (nothing durable yet) records its first round-0 prevote durably too.
  CountingStorage fresh;
  auto f = std::move(Signer::Open(key, &fresh)).value();
  REQUIRE(f->SignVote(VoteType::kPrevote, "c", 1, 0, kA).ok());
  CHECK(fresh.kinds == std::vector<std::string>{"synced"});
}

TEST_CASE("signer: after a restart it abstains where a lost record may have been",
          "[signer]") {
  SecretKey key = SecretKey::FromSeed("signer");
  SECTION("a power cut loses the permitted prevote: the round's proposal and prevote are refused") {
    MemorySignerStorage storage;
    {
      auto s = std::move(Signer::Open(key, &storage)).value();
      REQUIRE(s->SignVote(VoteType::kPrecommit, "c", 5, 0, kA).ok());
      REQUIRE(s->SignVote(VoteType::kPrevote, "c", 6, 0, kA).ok());  // sent, not durable
    }
    storage.LosePower();
    CHECK(storage.Load()->height == 5);
    auto s = std::move(Signer::Open(key, &storage)).value();
    CHECK(s->abstain_height() == 6);
    CHECK(s->SignVote(VoteType::kPrevote, "c", 6, 0, kB).status().code() ==
          Status::Code::kFailedPrecondition);
    CHECK(s->SignVote(VoteType::kPrevote, "c", 6, 0, kA).status().code() ==
          Status::Code::kFailedPrecondition);
    Proposal p = first_round_proposal(6, "b");
    CHECK(s->SignProposal(p).code() == Status::Code::kFailedPrecondition);
    Proposal q = first_round_proposal(6, "b");
    CHECK(s->SignProposalAndPrevote(q).status().code() == Status::Code::kFailedPrecondition);
    // The precommit of that round, and round 1, go ahead (durably).
    const int synced = storage.synced_saves();
    REQUIRE(s->SignVote(VoteType::kPrecommit, "c", 6, 0, kNil).ok());
    CHECK(storage.synced_saves() == synced + 1);
    REQUIRE(s->SignVote(VoteType::kPrevote, "c", 6, 1, kB).ok());
  }
  SECTION("a killed process keeps its unsynced records: the prevote is re-signed as before") {
    MemorySignerStorage storage;
    {
      auto s = std::move(Signer::Open(key, &storage)).value();
      REQUIRE(s->SignVote(VoteType::kPrecommit, "c", 5, 0, kA).ok());
      REQUIRE(s->SignVote(VoteType::kPrevote, "c", 6, 0, kA).ok());
    }
    auto s = std::move(Signer::Open(key, &storage)).value();
    CHECK(s->abstain_height() == 0);
    CHECK(s->SignVote(VoteType::kPrevote, "c", 6, 0, kA).ok());
    CHECK_FALSE(s->SignVote(VoteType::kPrevote, "c", 6, 0, kB).ok());
  }
  SECTION("a round-0 proposal survived but its prevote may not have: no prevote there") {
    MemorySignerStorage storage;
    MemorySignerStorage disk_at_cut;
    {
      auto s = std::move(Signer::Open(key, &storage)).value();
      REQUIRE(s->SignVote(VoteType::kPrecommit, "c", 5, 0, kA).ok());
      Proposal p = first_round_proposal(6, "a");
      REQUIRE(s->SignProposalUnsynced(p).ok());
      disk_at_cut = storage;  // the disk kept the proposal's page, not the prevote's
      REQUIRE(s->SignVote(VoteType::kPrevote, "c", 6, 0, p.block_hash).ok());
    }
    auto s = std::move(Signer::Open(key, &disk_at_cut)).value();
    CHECK(s->state().step == SignStep::kPropose);
    CHECK(s->abstain_height() == 6);
    CHECK(s->SignVote(VoteType::kPrevote, "c", 6, 0, kB).status().code() ==
          Status::Code::kFailedPrecondition);
    CHECK(s->SignVote(VoteType::kPrecommit, "c", 6, 0, kNil).ok());
  }
}

TEST_CASE("signer: after a crash it remembers what it signed", "[signer]") {
  SecretKey key = SecretKey::FromSeed("signer");
  MemorySignerStorage storage;
  {
    auto s = std::move(Signer::Open(key, &storage)).value();
    REQUIRE(s->SignVote(VoteType::kPrecommit, "c", 8, 2, kA).ok());
  }  // crash: the signer object is gone, the storage is what the disk kept
  auto s = std::move(Signer::Open(key, &storage)).value();
  CHECK(s->state().lock_height == 8);
  CHECK_FALSE(s->SignVote(VoteType::kPrecommit, "c", 8, 2, kB).ok());
  CHECK_FALSE(s->SignVote(VoteType::kPrevote, "c", 8, 2, kB).ok());
  CHECK(s->SignVote(VoteType::kPrecommit, "c", 8, 2, kA).ok());
  Proposal p;
  p.chain_id = "c";
  p.height = 8;
  p.round = 2;
  p.block.header.height = 8;
  CHECK(s->SignProposal(p).code() == Status::Code::kFailedPrecondition);
  p.round = 3;
  CHECK(s->SignProposal(p).ok());
  CHECK(p.VerifySignature(key.pubkey()));
}

// A storage that fails: the signer must not hand out a vote it could not record.
class FailingStorage : public SignerStorage {
 public:
  Result<SignedState> Load() override { return SignedState{}; }
  Status Save(const SignedState&) override { return Status::IOError("disk full"); }
};

TEST_CASE("signer: a vote that cannot be recorded is not signed", "[signer]") {
  FailingStorage storage;
  auto s = std::move(Signer::Open(SecretKey::FromSeed("signer"), &storage)).value();
  auto v = s->SignVote(VoteType::kPrevote, "c", 1, 0, kA);
  CHECK(v.status().code() == Status::Code::kIOError);
  CHECK(s->state().height == 0);
}

TEST_CASE("signer: the file storage survives reopening and a torn slot", "[signer]") {
  std::string dir =
      std::filesystem::temp_directory_path() / ("fedledger-signer-" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  std::string path = dir + "/signer_state";
  SecretKey key = SecretKey::FromSeed("signer");
  {
    auto st = std::move(FileSignerStorage::Open(path)).value();
    auto s = std::move(Signer::Open(key, st.get())).value();
    REQUIRE(s->SignVote(VoteType::kPrevote, "c", 3, 1, kA).ok());
    REQUIRE(s->SignVote(VoteType::kPrecommit, "c", 3, 1, kA).ok());
  }
  // An unsynced save is in the file for the next reader (only a power cut can lose it).
  {
    std::string upath = dir + "/signer_state_unsynced";
    auto st = std::move(FileSignerStorage::Open(upath)).value();
    SignedState proposed = StateAt(5, SignStep::kPropose, kA);
    REQUIRE(st->SaveUnsynced(proposed).ok());
    auto again = std::move(FileSignerStorage::Open(upath)).value();
    CHECK(again->Load().value() == proposed);
    SignedState voted = proposed;
    voted.step = SignStep::kPrevote;
    REQUIRE(again->Save(voted).ok());
    CHECK(std::move(FileSignerStorage::Open(upath)).value()->Load().value() == voted);
  }
  // Unsynced saves never overwrite the last durable record: tearing the slot they went to
  // leaves that record, not an older one.
  {
    std::string upath = dir + "/signer_state_torn_unsynced";
    auto st = std::move(FileSignerStorage::Open(upath)).value();
    SignedState durable = StateAt(7, SignStep::kPrecommit, kA);
    REQUIRE(st->Save(durable).ok());
    SignedState later = StateAt(8, SignStep::kPropose, kA);
    REQUIRE(st->SaveUnsynced(later).ok());
    later.step = SignStep::kPrevote;
    REQUIRE(st->SaveUnsynced(later).ok());
    CHECK(std::move(FileSignerStorage::Open(upath)).value()->Load().value() == later);
    // Which slot holds the durable record: the one that still decodes to it after tearing
    // the other.
    bool found = false;
    for (off_t slot : {0, 1}) {
      std::string copy = upath + ".copy";
      std::filesystem::copy_file(upath, copy, std::filesystem::copy_options::overwrite_existing);
      int fd = ::open(copy.c_str(), O_RDWR);
      REQUIRE(fd >= 0);
      uint8_t junk[16] = {0x0b, 0xad};
      REQUIRE(::pwrite(fd, junk, sizeof junk, slot * 160 + 20) == sizeof junk);
      ::close(fd);
      auto torn = std::move(FileSignerStorage::Open(copy)).value()->Load().value();
      if (torn == durable) found = true;
      CHECK((torn == durable || torn == later));  // never the state before the durable one
    }
    CHECK(found);
  }
  struct stat sb;
  REQUIRE(::stat(path.c_str(), &sb) == 0);
  CHECK((sb.st_mode & 0077) == 0);
  {
    auto st = std::move(FileSignerStorage::Open(path)).value();
    auto s = std::move(Signer::Open(key, st.get())).value();
    CHECK(s->state().height == 3);
    CHECK(s->state().step == SignStep::kPrecommit);
    CHECK(s->state().lock_hash == kA);
    CHECK_FALSE(s->SignVote(VoteType::kPrecommit, "c", 3, 1, kB).ok());
  }
  // Tear the newest slot: the previous state (the prevote) is what remains, which is safe
  // because the precommit was only sent after its slot was synced. Find the newest slot by
  // tearing each in turn.
  {
    int fd = ::open(path.c_str(), O_RDWR);
    REQUIRE(fd >= 0);
    uint8_t junk[16] = {0xde, 0xad};
    // Slots alternate; after 2 initial writes and 2 saves the newest is slot 1.
    REQUIRE(::pwrite(fd, junk, sizeof junk, 160 + 20) == sizeof junk);
    ::close(fd);
    auto st = std::move(FileSignerStorage::Open(path)).value();
    auto state = st->Load();
    REQUIRE(state.ok());
    CHECK(state->step == SignStep::kPrevote);
  }
  // Both slots torn: refuse to start.
  {
    int fd = ::open(path.c_str(), O_RDWR);
    uint8_t junk[16] = {0xbe, 0xef};
    REQUIRE(::pwrite(fd, junk, sizeof junk, 20) == sizeof junk);
    ::close(fd);
    auto st = FileSignerStorage::Open(path);
    CHECK(st.status().code() == Status::Code::kCorruption);
  }
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace fedledger::consensus
