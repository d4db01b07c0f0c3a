#include "orchestrator/secagg.h"

#include <cryptopp/aes.h>
#include <cryptopp/misc.h>
#include <cryptopp/modes.h>

#include <algorithm>
#include <cassert>
#include <bit>
#include <charconv>
#include <cmath>
#include <cstring>
#include <memory>

#include "ledger/encoding.h"
#include "orchestrator/secagg_kernels.h"
#include "orchestrator/state.h"

namespace fedledger::orchestrator {
namespace {

// 2^31 - 1 minus the rounding slack of kMaxSecAggMembers participants (0.5 each).
constexpr double kSumLimit = 2147483647.0 - 128.0;

constexpr char kMagic[4] = {'F', 'L', 'S', 'A'};
constexpr uint8_t kArtifactVersion = 1;

template <typename T>
void Wipe(T& v) {
  CryptoPP::SecureWipeBuffer(reinterpret_cast<uint8_t*>(&v), sizeof(v));
}

Status CheckMembers(const char* field, const std::vector<PubKey>& members) {
  if (members.size() < 2 || members.size() > kMaxSecAggMembers) {
    return Status::InvalidArgument(std::string(field) + ": needs 2 to 256 members, got " +
                                   std::to_string(members.size()));
  }
  for (size_t i = 1; i < members.size(); ++i) {
    if (!(members[i - 1] < members[i])) {
      return Status::InvalidArgument(std::string(field) + ": must be sorted and unique");
    }
  }
  return Status::Ok();
}

}  // namespace

// ---- fixed point ----

Result<FixedPoint> FixedPoint::Make(float clip, uint64_t max_total_weight, double scale) {
  if (!std::isfinite(clip) || !(clip > 0)) {
    return Status::InvalidArgument("secagg clip: must be finite and positive");
  }
  if (max_total_weight == 0) {
    return Status::InvalidArgument("secagg max_total_weight: must be at least 1");
  }
  const double bound =
      kSumLimit / (static_cast<double>(clip) * static_cast<double>(max_total_weight));
  if (scale == 0) {
    // Largest power of two <= bound.
    int exp = 0;
    std::frexp(bound, &exp);  // bound = m * 2^exp, m in [0.5, 1)
    scale = std::ldexp(1.0, exp - 1);
  } else if (!std::isfinite(scale) || !(scale > 0)) {
    return Status::InvalidArgument("secagg scale: must be finite and positive");
  } else if (scale > bound) {
    return Status::InvalidArgument("secagg scale: " + std::to_string(scale) +
                                   " overflows the 32-bit sum for clip " + std::to_string(clip) +
                                   " and total weight " + std::to_string(max_total_weight) +
                                   " (at most " + std::to_string(bound) + ")");
  }
  return FixedPoint(clip, scale, max_total_weight);
}

Result<EncodeStats> FixedPoint::Encode(std::span<const float> x, uint64_t weight,
                                       std::span<uint32_t> out) const {
  if (x.size() != out.size()) {
    return Status::InvalidArgument("secagg encode: input and output sizes differ");
  }
  if (weight == 0 || weight > max_total_weight_) {
    return Status::InvalidArgument("secagg encode: weight " + std::to_string(weight) +
                                   " is not in 1.." + std::to_string(max_total_weight_));
  }
  EncodeStats st;
  kernels::Encode(x.data(), x.size(), clip_, static_cast<double>(weight) * scale_, out.data(),
                  &st.clipped, &st.non_finite);
  return st;
}

void FixedPoint::Decode(std::span<const uint32_t> sum, double divisor, std::span<float> out) const {
  assert(sum.size() == out.size() && divisor > 0);
  kernels::Decode(sum.data(), sum.size(), 1.0 / (scale_ * divisor), out.data());
}

// ---- masks ----

Result<Hash32> PairSeed(const SecretKey& self, const PubKey& peer, const MaskContext& ctx) {
  FL_ASSIGN(Hash32 shared, self.Ecdh(peer));
  Writer w(32 + ctx.chain_id.size() + ctx.task_id.size() + 12);
  w.Hash(shared);
  w.String(ctx.chain_id);
  w.String(ctx.task_id);
  w.U32(ctx.round);
  w.U32(ctx.attempt);
  Hash32 seed = TaggedHash(kSecAggMaskTag, w.bytes());
  Wipe(shared);
  Bytes buf = std::move(w).Take();
  CryptoPP::SecureWipeBuffer(buf.data(), buf.size());
  return seed;
}

void AddWords(std::span<uint32_t> acc, std::span<const uint32_t> v) {
  assert(acc.size() == v.size());
  kernels::Add(acc.data(), v.data(), acc.size());
}

Status ApplyMask(const SecretKey& self, const MaskContext& ctx, std::span<uint32_t> words) {
  FL_TRY(CheckMembers("mask members", ctx.members));
  const PubKey& me = self.pubkey();
  if (!std::binary_search(ctx.members.begin(), ctx.members.end(), me)) {
    return Status::InvalidArgument("mask members: own key " + me.ShortHex() + " is not a member");
  }
  using Ctr = CryptoPP::CTR_Mode<CryptoPP::AES>::Encryption;
  struct Stream {
    std::unique_ptr<Ctr> cipher;
    bool add;  // self sorts first in the pair
  };
  std::vector<Stream> streams;
  streams.reserve(ctx.members.size() - 1);
  try {
    const uint8_t iv[16] = {};
    for (const PubKey& peer : ctx.members) {
      if (peer == me) continue;
      FL_ASSIGN(Hash32 seed, PairSeed(self, peer, ctx));
      auto c = std::make_unique<Ctr>();
      c->SetKeyWithIV(seed.data(), seed.size(), iv, sizeof(iv));
      Wipe(seed);
      streams.push_back(Stream{std::move(c), me < peer});
    }
    // Work in chunks that stay in L1/L2: one keystream chunk per peer, folded in at once.
    constexpr size_t kChunkWords = 4096;
    alignas(64) uint32_t ks[kChunkWords];
    for (size_t off = 0; off < words.size(); off += kChunkWords) {
      const size_t n = std::min(kChunkWords, words.size() - off);
      uint32_t* w = words.data() + off;
      for (Stream& s : streams) {
        s.cipher->GenerateBlock(reinterpret_cast<uint8_t*>(ks), n * sizeof(uint32_t));
        if constexpr (std::endian::native != std::endian::little) {
          for (size_t k = 0; k < n; ++k) ks[k] = __builtin_bswap32(ks[k]);
        }
        if (s.add) {
          kernels::Add(w, ks, n);
        } else {
          kernels::Sub(w, ks, n);
        }
      }
    }
    CryptoPP::SecureWipeBuffer(reinterpret_cast<uint8_t*>(ks), sizeof(ks));
  } catch (const CryptoPP::Exception& e) {
    return Status::Internal(std::string("secagg mask: Crypto++: ") + e.what());
  }
  return Status::Ok();  // the cipher objects wipe their key schedules on destruction
}

// ---- artifacts ----

std::string SecAggHeader::Encode(uint64_t count) const {
  Writer w(128 + 32 * members.size());
  for (char ch : kMagic) w.U8(static_cast<uint8_t>(ch));
  w.U8(kArtifactVersion);
  w.U8(static_cast<uint8_t>(type));
  w.String(chain_id);
  w.String(task_id);
  w.U32(round);
  w.U32(attempt);
  w.Hash(author);
  w.U64(samples);
  w.Varint(members.size());
  for (const PubKey& m : members) w.Hash(m);
  uint64_t scale_bits;
  std::memcpy(&scale_bits, &scale, 8);
  w.U64(scale_bits);
  w.U64(count);
  return std::string(AsStringView(w.bytes()));
}

namespace {

void StoreWordsLE(const std::vector<uint32_t>& words, uint8_t* p) {
  if constexpr (std::endian::native == std::endian::little) {
    std::memcpy(p, words.data(), 4 * words.size());
  } else {
    for (size_t k = 0; k < words.size(); ++k) {
      for (int b = 0; b < 4; ++b) p[4 * k + b] = static_cast<uint8_t>(words[k] >> (8 * b));
    }
  }
}

}  // namespace

std::string SecAggArtifact::EncodeString() const {
  std::string out = SecAggHeader::Encode(words.size());
  const size_t header = out.size();
  out.resize(header + 4 * words.size());
  StoreWordsLE(words, reinterpret_cast<uint8_t*>(out.data()) + header);
  return out;
}

Bytes SecAggArtifact::Encode() const {
  std::string header = SecAggHeader::Encode(words.size());
  Bytes out(header.size() + 4 * words.size());
  std::memcpy(out.data(), header.data(), header.size());
  StoreWordsLE(words, out.data() + header.size());
  return out;
}

Result<SecAggArtifactView> SecAggArtifactView::Decode(ByteView bytes) {
  Reader r(bytes);
  SecAggArtifactView a;
  FL_ASSIGN(ByteView magic, r.Raw("magic", 4));
  if (std::memcmp(magic.data(), kMagic, 4) != 0) {
    return Status::InvalidArgument("magic: not a secure-aggregation artifact (expected FLSA)");
  }
  FL_ASSIGN(uint8_t version, r.U8("version"));
  if (version != kArtifactVersion) {
    return Status::InvalidArgument("version: unsupported " + std::to_string(version));
  }
  FL_ASSIGN(uint8_t type, r.U8("type"));
  if (type != 1 && type != 2) {
    return Status::InvalidArgument("type: unknown " + std::to_string(type));
  }
  a.type = static_cast<Type>(type);
  FL_ASSIGN(a.chain_id, r.String("chain_id", 64));
  FL_TRY(ValidateIdentifier("chain_id", a.chain_id));
  FL_ASSIGN(a.task_id, r.String("task_id", 64));
  FL_TRY(ValidateIdentifier("task_id", a.task_id));
  FL_ASSIGN(a.round, r.U32("round"));
  FL_ASSIGN(a.attempt, r.U32("attempt"));
  FL_ASSIGN(a.author, r.Hash("author"));
  FL_ASSIGN(a.samples, r.U64("samples"));
  if (a.samples == 0) return Status::InvalidArgument("samples: must be at least 1");
  FL_ASSIGN(uint64_t nm, r.Count("members", kMaxSecAggMembers));
  a.members.resize(nm);
  for (PubKey& m : a.members) {
    FL_ASSIGN(m, r.Hash("members"));
  }
  FL_TRY(CheckMembers("members", a.members));
  FL_ASSIGN(uint64_t scale_bits, r.U64("scale"));
  std::memcpy(&a.scale, &scale_bits, 8);
  if (!std::isfinite(a.scale) || !(a.scale > 0)) {
    return Status::InvalidArgument("scale: must be finite and positive");
  }
  FL_ASSIGN(uint64_t count, r.U64("count"));
  if (count > r.remaining() / 4 || r.remaining() != 4 * count) {
    return Status::InvalidArgument("count: " + std::to_string(count) + " words need " +
                                   std::to_string(4 * count) + " bytes, " +
                                   std::to_string(r.remaining()) + " remain");
  }
  FL_ASSIGN(ByteView raw, r.Raw("words", 4 * count));
  FL_TRY(r.ExpectEnd("secagg artifact"));
  a.words_le = raw.data();
  a.count = count;
  return a;
}

Result<SecAggArtifact> SecAggArtifact::Decode(ByteView bytes) {
  FL_ASSIGN(SecAggArtifactView v, SecAggArtifactView::Decode(bytes));
  SecAggArtifact a;
  static_cast<SecAggHeader&>(a) = std::move(static_cast<SecAggHeader&>(v));
  a.words.resize(v.count);
  if constexpr (std::endian::native == std::endian::little) {
    std::memcpy(a.words.data(), v.words_le, 4 * v.count);
  } else {
    const uint8_t* raw = v.words_le;
    for (size_t k = 0; k < v.count; ++k) {
      a.words[k] = uint32_t{raw[4 * k]} | uint32_t{raw[4 * k + 1]} << 8 |
                   uint32_t{raw[4 * k + 2]} << 16 | uint32_t{raw[4 * k + 3]} << 24;
    }
  }
  return a;
}

Status MaskUpdateInto(const SecretKey& self, const MaskContext& ctx, const FixedPoint& fp,
                      std::span<const float> update, uint64_t sample_count, SecAggArtifact* out,
                      EncodeStats* stats) {
  SecAggArtifact& a = *out;
  a.type = SecAggArtifact::Type::kMaskedUpdate;
  a.chain_id = ctx.chain_id;
  a.task_id = ctx.task_id;
  a.round = ctx.round;
  a.attempt = ctx.attempt;
  a.author = self.pubkey();
  a.samples = sample_count;
  a.members = ctx.members;
  a.scale = fp.scale();
  a.words.resize(update.size());
  FL_ASSIGN(EncodeStats st, fp.Encode(update, sample_count, a.words));
  FL_TRY(ApplyMask(self, ctx, a.words));
  if (stats) *stats = st;
  return Status::Ok();
}

Result<SecAggArtifact> MaskUpdate(const SecretKey& self, const MaskContext& ctx,
                                  const FixedPoint& fp, std::span<const float> update,
                                  uint64_t sample_count, EncodeStats* stats) {
  SecAggArtifact a;
  FL_TRY(MaskUpdateInto(self, ctx, fp, update, sample_count, &a, stats));
  return a;
}

namespace {

// A masked update made for exactly ctx's attempt and member set.
Status CheckForAttempt(const MaskContext& ctx, const SecAggHeader& u, const std::string& who) {
  if (u.type != SecAggHeader::Type::kMaskedUpdate) {
    return Status::InvalidArgument(who + " is not a masked update");
  }
  if (u.chain_id != ctx.chain_id || u.task_id != ctx.task_id || u.round != ctx.round ||
      u.attempt != ctx.attempt) {
    return Status::InvalidArgument(who + " is for " + u.task_id + " round " +
                                   std::to_string(u.round) + " attempt " +
                                   std::to_string(u.attempt) + ", not this attempt");
  }
  if (u.members != ctx.members) {
    return Status::InvalidArgument(who + " was masked for another member set");
  }
  return Status::Ok();
}

// Checks that `updates` (any order) are masked updates for exactly ctx, one per member, with
// one scale and one length; returns them sorted by author with their total sample count.
template <typename A>
Result<std::vector<const A*>> CheckUpdates(const MaskContext& ctx, const std::vector<const A*>& updates,
                                           size_t (*count)(const A&), uint64_t* total) {
  FL_TRY(CheckMembers("aggregate members", ctx.members));
  if (updates.size() != ctx.members.size()) {
    return Status::InvalidArgument("aggregate: " + std::to_string(updates.size()) +
                                   " updates for " + std::to_string(ctx.members.size()) +
                                   " members");
  }
  std::vector<const A*> sorted = updates;
  std::sort(sorted.begin(), sorted.end(),
            [](const A* a, const A* b) { return a->author < b->author; });
  *total = 0;
  for (size_t i = 0; i < sorted.size(); ++i) {
    const A& u = *sorted[i];
    const std::string who = "aggregate: update by " + u.author.ShortHex();
    FL_TRY(CheckForAttempt(ctx, u, who));
    if (u.author != ctx.members[i]) {
      return Status::InvalidArgument(who + ": authors must be exactly the members, once each");
    }
    if (u.scale != sorted[0]->scale || count(u) != count(*sorted[0])) {
      return Status::InvalidArgument(who + ": scale or length differs from the others");
    }
    if (*total > UINT64_MAX - u.samples) {
      return Status::InvalidArgument(who + ": sample counts overflow");
    }
    *total += u.samples;
  }
  return sorted;
}

SecAggHeader AggregateHeader(const PubKey& aggregator, const MaskContext& ctx, double scale,
                             uint64_t total) {
  SecAggHeader h;
  h.type = SecAggHeader::Type::kAggregate;
  h.chain_id = ctx.chain_id;
  h.task_id = ctx.task_id;
  h.round = ctx.round;
  h.attempt = ctx.attempt;
  h.author = aggregator;
  h.members = ctx.members;
  h.scale = scale;
  h.samples = total;
  return h;
}

}  // namespace

Result<SecAggArtifact> Aggregate(const PubKey& aggregator, const MaskContext& ctx,
                                 const std::vector<const SecAggArtifact*>& updates) {
  uint64_t total = 0;
  FL_ASSIGN(auto sorted, CheckUpdates<SecAggArtifact>(
                             ctx, updates, [](const SecAggArtifact& a) { return a.words.size(); },
                             &total));
  SecAggArtifact out;
  static_cast<SecAggHeader&>(out) = AggregateHeader(aggregator, ctx, sorted[0]->scale, total);
  out.words.assign(sorted[0]->words.size(), 0);
  for (const SecAggArtifact* u : sorted) AddWords(out.words, u->words);
  return out;
}

Result<std::string> AggregateEncoded(const PubKey& aggregator, const MaskContext& ctx,
                                     const std::vector<SecAggArtifactView>& updates) {
  std::vector<const SecAggArtifactView*> ptrs;
  for (const auto& u : updates) ptrs.push_back(&u);
  uint64_t total = 0;
  FL_ASSIGN(auto sorted,
            CheckUpdates<SecAggArtifactView>(
                ctx, ptrs, [](const SecAggArtifactView& a) { return size_t(a.count); }, &total));
  // Sum mod 2^32, word by word, straight into the encoded aggregate.
  FL_ASSIGN(AggregateBuilder b,
            AggregateBuilder::Start(aggregator, ctx, sorted[0]->scale, sorted[0]->count));
  for (const SecAggArtifactView* u : sorted) FL_TRY(b.Add(*u));
  return b.Finish();
}

Result<AggregateBuilder> AggregateBuilder::Start(const PubKey& aggregator, MaskContext ctx,
                                                 double scale, uint64_t count) {
  FL_TRY(CheckMembers("aggregate members", ctx.members));
  if (!std::isfinite(scale) || !(scale > 0)) {
    return Status::InvalidArgument("aggregate: scale must be finite and positive");
  }
  AggregateBuilder b;
  b.aggregator_ = aggregator;
  b.ctx_ = std::move(ctx);
  b.scale_ = scale;
  b.count_ = count;
  // samples is a fixed-width u64: the header's length does not depend on it.
  b.out_ = AggregateHeader(aggregator, b.ctx_, scale, 0).Encode(count);
  b.header_ = b.out_.size();
  b.out_.resize(b.header_ + 4 * count);  // the first update is copied over these bytes
  b.added_.reserve(b.ctx_.members.size());
  return b;
}

bool AggregateBuilder::Has(const PubKey& member) const {
  return std::any_of(added_.begin(), added_.end(), [&](const auto& a) { return a.first == member; });
}

Status AggregateBuilder::Add(const SecAggArtifactView& u) {
  const std::string who = "aggregate: update by " + u.author.ShortHex();
  if (out_.empty()) return Status::FailedPrecondition("aggregate: already finished");
  FL_TRY(CheckForAttempt(ctx_, u, who));
  if (!std::binary_search(ctx_.members.begin(), ctx_.members.end(), u.author)) {
    return Status::InvalidArgument(who + ": not a member of this attempt");
  }
  if (Has(u.author)) return Status::InvalidArgument(who + ": already added");
  if (u.scale != scale_ || u.count != count_) {
    return Status::InvalidArgument(who + ": scale or length differs from the aggregate's");
  }
  uint64_t total = 0;
  for (const auto& a : added_) total += a.second;
  if (total > UINT64_MAX - u.samples) {
    return Status::InvalidArgument(who + ": sample counts overflow");
  }
  uint8_t* acc = reinterpret_cast<uint8_t*>(out_.data()) + header_;
  if (added_.empty()) {
    std::memcpy(acc, u.words_le, 4 * count_);
  } else {
    kernels::AddLE(acc, u.words_le, count_);
  }
  added_.emplace_back(u.author, u.samples);
  return Status::Ok();
}

Result<std::string> AggregateBuilder::Finish() {
  if (out_.empty()) return Status::FailedPrecondition("aggregate: already finished");
  if (!complete()) {
    return Status::FailedPrecondition("aggregate: " + std::to_string(added_.size()) + " of " +
                                      std::to_string(ctx_.members.size()) +
                                      " updates added");
  }
  uint64_t total = 0;
  for (const auto& a : added_) total += a.second;
  const std::string header = AggregateHeader(aggregator_, ctx_, scale_, total).Encode(count_);
  assert(header.size() == header_);
  std::memcpy(out_.data(), header.data(), header_);
  std::string done = std::move(out_);
  out_.clear();
  return done;
}

Status AddAverage(const SecAggArtifactView& aggregate, std::span<float> trunk, size_t first) {
  if (aggregate.type != SecAggHeader::Type::kAggregate) {
    return Status::InvalidArgument("decode: not an aggregate artifact");
  }
  if (!std::isfinite(aggregate.scale) || !(aggregate.scale > 0) || aggregate.samples == 0) {
    return Status::InvalidArgument("decode: aggregate has a bad scale or no samples");
  }
  if (first > aggregate.count || aggregate.count - first < trunk.size()) {
    return Status::InvalidArgument("aggregate has " + std::to_string(aggregate.count) +
                                   " values, not " + std::to_string(first) + " + " +
                                   std::to_string(trunk.size()));
  }
  kernels::DecodeAddLE(aggregate.words_le + 4 * first, trunk.size(),
                       1.0 / (aggregate.scale * static_cast<double>(aggregate.samples)),
                       trunk.data());
  return Status::Ok();
}

Result<std::vector<float>> DecodeAverage(const SecAggArtifact& aggregate) {
  if (aggregate.type != SecAggArtifact::Type::kAggregate) {
    return Status::InvalidArgument("decode: not an aggregate artifact");
  }
  if (!std::isfinite(aggregate.scale) || !(aggregate.scale > 0) || aggregate.samples == 0) {
    return Status::InvalidArgument("decode: aggregate has a bad scale or no samples");
  }
  std::vector<float> out(aggregate.words.size());
  kernels::Decode(aggregate.words.data(), out.size(),
                  1.0 / (aggregate.scale * static_cast<double>(aggregate.samples)), out.data());
  return out;
}

// ---- ledger-bound helpers ----

Result<MaskContext> CurrentMaskContext(const FederationState& state, const std::string& task_id) {
  const TaskRecord* task = state.FindTask(task_id);
  if (task == nullptr) return Status::NotFound("task '" + task_id + "': no such task");
  const RoundProgress* cur = task->CurrentRound();
  if (cur == nullptr) {
    return Status::FailedPrecondition("task '" + task_id + "' has no round in progress (" +
                                      TaskStatusName(state.StatusOf(*task)) + ")");
  }
  return MaskContext{state.chain_id(), task_id, cur->round, cur->attempt, cur->members};
}

Result<FixedPoint> FixedPointForTask(const FederationState& state, const std::string& task_id) {
  const TaskRecord* task = state.FindTask(task_id);
  if (task == nullptr) return Status::NotFound("task '" + task_id + "': no such task");
  auto parse = [&](const char* key, double def) -> Result<double> {
    const std::string* v = task->spec.FindSetting(key);
    if (v == nullptr) return def;
    double d = 0;
    auto [ptr, ec] = std::from_chars(v->data(), v->data() + v->size(), d);
    if (ec != std::errc() || ptr != v->data() + v->size() || !std::isfinite(d) || d < 0) {
      return Status::InvalidArgument(std::string("setting ") + key + ": '" + *v +
                                     "' is not a non-negative decimal number");
    }
    return d;
  };
  FL_ASSIGN(double clip, parse("secagg.clip", 1.0));
  FL_ASSIGN(double scale, parse("secagg.scale", 0.0));
  return FixedPoint::Make(static_cast<float>(clip), state.MaxTotalSamples(*task), scale);
}

}  // namespace fedledger::orchestrator
