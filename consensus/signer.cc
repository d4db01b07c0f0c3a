#include "consensus/signer.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <optional>
#include <tuple>

#include "ledger/encoding.h"

namespace fedledger::consensus {

namespace {

// slot := u64 seq | u64 height | u32 round | u8 step | hash block_hash | u64 lock_height
//         | u32 lock_round | hash lock_hash | hash sha256(all of the above)
constexpr size_t kSlotBytes = 160;
constexpr size_t kSlotPayload = 8 + 8 + 4 + 1 + 32 + 8 + 4 + 32;
static_assert(kSlotPayload + 32 <= kSlotBytes);

Bytes EncodeSlot(uint64_t seq, const SignedState& s) {
  Writer w(kSlotBytes);
  w.U64(seq);
  w.U64(s.height);
  w.U32(s.round);
  w.U8(static_cast<uint8_t>(s.step));
  w.Hash(s.block_hash);
  w.U64(s.lock_height);
  w.U32(s.lock_round);
  w.Hash(s.lock_hash);
  Hash32 sum = Sha256(w.bytes());
  w.Hash(sum);
  Bytes out = std::move(w).Take();
  out.resize(kSlotBytes, 0);
  return out;
}

// Returns the slot's seq and state, or nothing if its checksum fails.
std::optional<std::pair<uint64_t, SignedState>> DecodeSlot(ByteView b) {
  if (b.size() < kSlotBytes) return std::nullopt;
  Hash32 sum = Sha256(b.subspan(0, kSlotPayload));
  if (!std::equal(sum.v.begin(), sum.v.end(), b.begin() + kSlotPayload)) return std::nullopt;
  Reader r(b.subspan(0, kSlotPayload));
  SignedState s;
  uint64_t seq = *r.U64("seq");
  s.height = *r.U64("height");
  s.round = *r.U32("round");
  uint8_t step = *r.U8("step");
  if (step > 3) return std::nullopt;
  s.step = static_cast<SignStep>(step);
  s.block_hash = *r.Hash("block_hash");
  s.lock_height = *r.U64("lock_height");
  s.lock_round = *r.U32("lock_round");
  s.lock_hash = *r.Hash("lock_hash");
  return std::make_pair(seq, s);
}

Status Errno(const std::string& what, const std::string& path) {
  return Status::IOError(what + " " + path + ": " + std::strerror(errno));
}

Status WriteSlot(int fd, const std::string& path, size_t slot, uint64_t seq,
                 const SignedState& s, bool sync = true) {
  Bytes b = EncodeSlot(seq, s);
  off_t off = static_cast<off_t>(slot * kSlotBytes);
  if (::pwrite(fd, b.data(), b.size(), off) != static_cast<ssize_t>(b.size())) {
    return Errno("writing", path);
  }
  if (sync && ::fdatasync(fd) != 0) return Errno("syncing", path);
  return Status::Ok();
}

}  // namespace

// ---- FileSignerStorage ----

Result<std::unique_ptr<FileSignerStorage>> FileSignerStorage::Open(const std::string& path) {
  bool created = false;
  int fd = ::open(path.c_str(), O_RDWR | O_CLOEXEC);
  if (fd < 0 && errno == ENOENT) {
    fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    created = true;
  }
  if (fd < 0) return Errno("opening", path);
  std::unique_ptr<FileSignerStorage> st(new FileSignerStorage(fd, path));
  if (created) {
    FL_TRY(WriteSlot(fd, path, 0, 0, SignedState{}));
    FL_TRY(WriteSlot(fd, path, 1, 1, SignedState{}));
    st->seq_ = 1;
    st->durable_slot_ = 1;
    std::string dir =
        path.substr(0, path.find_last_of('/') == std::string::npos ? 0 : path.find_last_of('/'));
    int dfd = ::open(dir.empty() ? "." : dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
      ::fsync(dfd);
      ::close(dfd);
    }
    return st;
  }
  FL_ASSIGN(SignedState ignored, st->Load());
  (void)ignored;
  return st;
}

FileSignerStorage::~FileSignerStorage() { ::close(fd_); }

Result<SignedState> FileSignerStorage::Load() {
  uint8_t buf[2 * kSlotBytes];
  ssize_t n = ::pread(fd_, buf, sizeof buf, 0);
  if (n < 0) return Errno("reading", path_);
  std::optional<std::pair<uint64_t, SignedState>> best;
  size_t best_slot = 0;
  for (size_t i = 0; i < 2; ++i) {
    if (static_cast<size_t>(n) < (i + 1) * kSlotBytes) break;
    auto slot = DecodeSlot(ByteView(buf + i * kSlotBytes, kSlotBytes));
    if (slot && (!best || slot->first > best->first)) {
      best = slot;
      best_slot = i;
    }
  }
  if (!best) {
    return Status::Corruption(path_ +
                              ": no valid signer state slot; refusing to sign with an "
                              "unknown history");
  }
  // What was read may be an unsynced save that outlived its process: make it durable before
  // the next save may overwrite the other slot.
  if (::fdatasync(fd_) != 0) return Errno("syncing", path_);
  seq_ = best->first;
  durable_slot_ = best_slot;
  return best->second;
}

Status FileSignerStorage::Write(const SignedState& state, bool sync) {
  const size_t slot = 1 - durable_slot_;
  FL_TRY(WriteSlot(fd_, path_, slot, seq_ + 1, state, sync));
  ++seq_;
  if (sync) durable_slot_ = slot;
  return Status::Ok();
}

Status FileSignerStorage::Save(const SignedState& state) { return Write(state, true); }

Status FileSignerStorage::SaveUnsynced(const SignedState& state) { return Write(state, false); }

// ---- Signer ----

Result<std::unique_ptr<Signer>> Signer::Open(const SecretKey& key, SignerStorage* storage) {
  std::unique_ptr<Signer> s(new Signer(key, storage));
  FL_ASSIGN(s->state_, storage->Load());
  s->durable_ = s->state_;
  // Records that a lost unsynced one may have followed (the abstention rule in signer.h).
  const SignedState& st = s->state_;
  if (st.step == SignStep::kPrecommit) {
    s->abstain_height_ = st.height + 1;
  } else if (st.step == SignStep::kPropose && st.round == 0) {
    s->abstain_height_ = st.height;
  }
  return s;
}

bool Signer::Permitted(uint64_t height, uint32_t round, SignStep step) const {
  return durable_.step == SignStep::kPrecommit && height == durable_.height + 1 && round == 0 &&
         step != SignStep::kPrecommit;
}

Status Signer::Check(uint64_t height, uint32_t round, SignStep step, const Hash32& hash) const {
  auto next = std::make_tuple(height, round, static_cast<uint8_t>(step));
  auto last = std::make_tuple(state_.height, state_.round, static_cast<uint8_t>(state_.step));
  if (next < last) {
    return Status::FailedPrecondition("refusing to sign height " + std::to_string(height) +
                                      " round " + std::to_string(round) +
                                      ": already signed height " + std::to_string(state_.height) +
                                      " round " + std::to_string(state_.round));
  }
  if (next == last && hash != state_.block_hash) {
    return Status::FailedPrecondition("refusing to sign a conflicting message at height " +
                                      std::to_string(height) + " round " + std::to_string(round));
  }
  if (height == abstain_height_ && round == 0 && step != SignStep::kPrecommit) {
    return Status::FailedPrecondition(
        "abstaining from the proposal and prevote of height " + std::to_string(height) +
        " round 0: this validator restarted and may have signed there before");
  }
  return Status::Ok();
}

Status Signer::Authorize(uint64_t height, uint32_t round, SignStep step, const Hash32& hash,
                         bool sync) {
  FL_TRY(Check(height, round, step, hash));
  if (height == state_.height && round == state_.round && step == state_.step) {
    return Status::Ok();  // the same message again: recorded already
  }
  SignedState s = state_;
  s.height = height;
  s.round = round;
  s.step = step;
  s.block_hash = hash;
  if (step == SignStep::kPrecommit && !hash.IsZero()) {
    s.lock_height = height;
    s.lock_round = round;
    s.lock_hash = hash;
  }
  if (sync && !Permitted(height, round, step)) {
    FL_TRY(storage_->Save(s));
    durable_ = s;
  } else {
    FL_TRY(storage_->SaveUnsynced(s));
  }
  state_ = s;
  return Status::Ok();
}

Vote Signer::MakeVote(VoteType type, const std::string& chain_id, uint64_t height,
                      uint32_t round, const Hash32& block_hash) const {
  Vote v;
  v.type = type;
  v.chain_id = chain_id;
  v.height = height;
  v.round = round;
  v.block_hash = block_hash;
  v.validator = key_.pubkey();
  v.sig = key_.SignDeterministic(v.Digest());
  return v;
}

Result<Vote> Signer::SignVote(VoteType type, const std::string& chain_id, uint64_t height,
                              uint32_t round, const Hash32& block_hash) {
  SignStep step = type == VoteType::kPrevote ? SignStep::kPrevote : SignStep::kPrecommit;
  FL_TRY(Authorize(height, round, step, block_hash));
  return MakeVote(type, chain_id, height, round, block_hash);
}

Result<Vote> Signer::SignProposalAndPrevote(Proposal& p) {
  p.block_hash = p.block.header.Hash();
  // The proposal must be signable on its own (no other proposal at this height and round),
  // and then the prevote is recorded; that record also covers the proposal, because it puts
  // (height, round, propose) below the last signed step for good.
  FL_TRY(Check(p.height, p.round, SignStep::kPropose, p.block_hash));
  FL_TRY(Authorize(p.height, p.round, SignStep::kPrevote, p.block_hash));
  p.sig = key_.SignDeterministic(p.Digest());
  return MakeVote(VoteType::kPrevote, p.chain_id, p.height, p.round, p.block_hash);
}

Status Signer::SignProposal(Proposal& p) {
  p.block_hash = p.block.header.Hash();
  FL_TRY(Authorize(p.height, p.round, SignStep::kPropose, p.block_hash));
  p.sig = key_.SignDeterministic(p.Digest());
  return Status::Ok();
}

Status Signer::SignProposalUnsynced(Proposal& p) {
  p.block_hash = p.block.header.Hash();
  FL_TRY(Authorize(p.height, p.round, SignStep::kPropose, p.block_hash, /*sync=*/false));
  p.sig = key_.SignDeterministic(p.Digest());
  return Status::Ok();
}

}  // namespace fedledger::consensus
