// Secure aggregation of trunk updates (DESIGN.md "Secure aggregation"; the byte-level
// definitions below are also in docs/ORCHESTRATOR.md).
//
// 1. Fixed point. A participant with sample count w encodes its float32 trunk update x as
//      q[k] = round_half_even(clamp(x[k], -clip, clip) * w * scale)  as int32, stored mod 2^32.
//    The scale is chosen so that the SUM over every participant of a round can never leave the
//    signed 32-bit range: clip * scale * W <= 2^31 - 1 - 128, where W bounds the round's total
//    sample count (FederationState::MaxTotalSamples: the sum of the registered row counts of
//    the task's datasets; sample_count <= rows_read <= rows is enforced on the ledger) and 128
//    absorbs the rounding of up to 256 participants. By default the scale is the largest power
//    of two meeting that bound (powers of two keep the scaling exact).
//    Weighted FedAvg: the aggregator sums the words mod 2^32, reads the sum as int32, divides
//    by scale and by the ledger-recorded total_samples. The decoded weighted sum differs from
//    the plain sum of w_i * clamp(x_i) by at most P * 0.5 / scale (P participants), so the
//    average is off by at most P * 0.5 / (scale * total_samples) before its float32 rounding.
//    NaN encodes as 0 and counts as non-finite; +-inf and |x| > clip clamp and count as clipped.
//
// 2. Pairwise masks. For the members of a round attempt (sorted x-only keys), each pair (i, j)
//    derives
//      shared = SecretKey::Ecdh (SHA256 of the x coordinate of the ECDH point; symmetric)
//      seed   = TaggedHash("fedledger/secagg-mask/v1",
//                 shared(32) | string chain_id | string task_id | u32 round | u32 attempt)
//    (string = varint length + bytes, u32 little-endian, as in ledger/encoding.h). chain_id is
//    bound in addition to the task so that a partner in two federations never reuses a mask.
//    The mask stream is AES-256-CTR keystream under key = seed, initial counter block = 16 zero
//    bytes (128-bit big-endian counter, NIST SP 800-38A), read as little-endian uint32 words.
//    The member with the smaller key ADDS the stream to its words, the other SUBTRACTS it, so
//    in the sum over all members every stream cancels exactly mod 2^32. A new attempt (after
//    ROUND_RESTART) or round gives fresh, independent masks.
//
// 3. Artifacts. Masked updates and aggregates are stored as files whose SHA-256 is what
//    MODEL_UPDATE.update_hash and ROUND_AGGREGATE.aggregate_hash record:
//      secagg_artifact := bytes[4] "FLSA" | u8 version (=1) | u8 type (1 masked update,
//          2 aggregate) | string<64> chain_id | string<64> task_id | u32 round | u32 attempt
//          | hash author (the participant / the aggregator) | u64 samples (sample_count /
//          total_samples) | list<hash, 256> members (type 1: the attempt's members the masks
//          were made for; type 2: the contributors; sorted, unique, >= 2) | u64 scale (IEEE-754
//          binary64 bits; finite, > 0) | u64 count | count x u32 words (little-endian)
//    An aggregate's words are the exact sum mod 2^32 of its contributors' masked words, so
//    anyone holding the masked artifacts can recompute its hash bit for bit.
//
// All functions are thread-safe (no shared state). Crypto++ exceptions are converted to
// Status at this boundary. Secrets (ECDH outputs, seeds, keystream) are wiped after use.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "ledger/bytes.h"
#include "ledger/crypto.h"
#include "ledger/status.h"

namespace fedledger::orchestrator {

class FederationState;

inline constexpr std::string_view kSecAggMaskTag = "fedledger/secagg-mask/v1";
inline constexpr size_t kMaxSecAggMembers = 256;

struct EncodeStats {
  uint64_t clipped = 0;     // values (including +-inf) clamped to +-clip
  uint64_t non_finite = 0;  // NaN (encoded as 0) and +-inf
};

class FixedPoint {
 public:
  // clip: finite, > 0. max_total_weight: >= 1, bounds the sum of the weights of one round.
  // scale: 0 picks the largest power of two that cannot overflow; an explicit scale must be
  // finite, > 0 and satisfy clip * scale * max_total_weight <= 2^31 - 129.
  static Result<FixedPoint> Make(float clip, uint64_t max_total_weight, double scale = 0);

  float clip() const { return clip_; }
  double scale() const { return scale_; }
  uint64_t max_total_weight() const { return max_total_weight_; }

  // out[k] = q[k] as above. InvalidArgument if sizes differ or weight is 0 or exceeds
  // max_total_weight.
  Result<EncodeStats> Encode(std::span<const float> x, uint64_t weight,
                             std::span<uint32_t> out) const;
  // out[k] = float(int32(sum[k]) / scale / divisor). With divisor = total_samples this is the
  // weighted average; with 1 the weighted sum. REQUIRES: sizes equal, divisor > 0.
  void Decode(std::span<const uint32_t> sum, double divisor, std::span<float> out) const;

 private:
  FixedPoint(float clip, double scale, uint64_t w)
      : clip_(clip), scale_(scale), max_total_weight_(w) {}
  float clip_;
  double scale_;
  uint64_t max_total_weight_;
};

// Who masks together: one round attempt of one task.
struct MaskContext {
  std::string chain_id;
  std::string task_id;
  uint32_t round = 0;
  uint32_t attempt = 0;
  std::vector<PubKey> members;  // sorted, unique, >= 2: RoundProgress::members
};

// The seed shared by `self` and `peer` for `ctx` (SECRET: callers wipe it). Symmetric:
// PairSeed(a, B, ctx) == PairSeed(b, A, ctx).
Result<Hash32> PairSeed(const SecretKey& self, const PubKey& peer, const MaskContext& ctx);

// Adds self's mask (sum over the other members of +-stream) to `words` in place.
// InvalidArgument unless ctx.members is sorted, unique, has >= 2 keys and contains self.
Status ApplyMask(const SecretKey& self, const MaskContext& ctx, std::span<uint32_t> words);

// acc[k] += v[k] mod 2^32. REQUIRES: equal sizes, no overlap.
void AddWords(std::span<uint32_t> acc, std::span<const uint32_t> v);

// Everything of an artifact but its words.
struct SecAggHeader {
  enum class Type : uint8_t { kMaskedUpdate = 1, kAggregate = 2 };
  Type type = Type::kMaskedUpdate;
  std::string chain_id;
  std::string task_id;
  uint32_t round = 0;
  uint32_t attempt = 0;
  PubKey author;
  uint64_t samples = 0;
  std::vector<PubKey> members;
  double scale = 0;

  // The encoded header of an artifact of `count` words (the words follow it).
  std::string Encode(uint64_t count) const;
};

struct SecAggArtifact : SecAggHeader {
  std::vector<uint32_t> words;

  Bytes Encode() const;
  std::string EncodeString() const;
  // Rejects a wrong magic/version/type, trailing bytes, unsorted members, a bad scale and a
  // count that does not match the remaining bytes, naming the field.
  static Result<SecAggArtifact> Decode(ByteView bytes);
};

// An artifact decoded in place: the header, and the words still in their encoded form
// (`count` little-endian uint32 at `words_le`, inside the bytes given to Decode, which must
// outlive the view). Round artifacts are tens of MB: the aggregator sums them and the
// partners apply the aggregate from the received bytes, without a decoded copy.
struct SecAggArtifactView : SecAggHeader {
  const uint8_t* words_le = nullptr;
  uint64_t count = 0;

  // The same checks as SecAggArtifact::Decode.
  static Result<SecAggArtifactView> Decode(ByteView bytes);
};

// Participant side: encode `update` with weight `sample_count`, mask it, package it.
// `stats` (optional) receives the clipping counts.
Result<SecAggArtifact> MaskUpdate(const SecretKey& self, const MaskContext& ctx,
                                  const FixedPoint& fp, std::span<const float> update,
                                  uint64_t sample_count, EncodeStats* stats = nullptr);

// The same into `out`, reusing its buffer (a driver masks a 34 MB update every round).
Status MaskUpdateInto(const SecretKey& self, const MaskContext& ctx, const FixedPoint& fp,
                      std::span<const float> update, uint64_t sample_count, SecAggArtifact* out,
                      EncodeStats* stats = nullptr);

// Aggregator side: checks that `updates` are masked updates for exactly ctx (chain, task,
// round, attempt, members), one per member, with the same scale and length, then sums them.
// The aggregator never unmasks an individual update: only the sum is free of masks.
Result<SecAggArtifact> Aggregate(const PubKey& aggregator, const MaskContext& ctx,
                                 const std::vector<const SecAggArtifact*>& updates);

// The same aggregation over artifacts in encoded form, written straight into the encoded
// aggregate (SecAggArtifact::Encode of Aggregate's result, byte for byte).
Result<std::string> AggregateEncoded(const PubKey& aggregator, const MaskContext& ctx,
                                     const std::vector<SecAggArtifactView>& updates);

// Aggregator side, one update at a time: sums the masked updates of one attempt into the
// encoded aggregate as they arrive, so that when the last one arrives only its addition
// remains. Addition mod 2^32 is order-independent: Finish() returns exactly
// AggregateEncoded's bytes for the same updates, whatever the order of Add() calls.
// An attempt that restarts has new members and new masks: its builder is dropped (a partial
// sum of the old attempt is meaningless, and never leaves the aggregator) and a new one is
// started for the new attempt. Not thread-safe; movable.
class AggregateBuilder {
 public:
  // An empty sum for ctx (members checked as in Aggregate), of updates with this scale and
  // `count` words each. The aggregate's header is written by Finish() (its total sample count
  // is known only then); its length depends on ctx alone, so the words go in place at once.
  static Result<AggregateBuilder> Start(const PubKey& aggregator, MaskContext ctx, double scale,
                                        uint64_t count);

  // Checks `update` as Aggregate does (a masked update, for exactly this attempt and member
  // set, by a member not added yet, with this scale and count) and adds its words.
  // InvalidArgument (naming the update's author) otherwise; the sum is then unchanged.
  Status Add(const SecAggArtifactView& update);

  bool Has(const PubKey& member) const;
  size_t added() const { return added_.size(); }
  bool complete() const { return added_.size() == ctx_.members.size(); }
  const MaskContext& context() const { return ctx_; }
  uint64_t words() const { return count_; }

  // The encoded aggregate. FailedPrecondition unless every member was added. The buffer is
  // moved out: Add() and Finish() refuse from then on (Has() and added() still answer).
  Result<std::string> Finish();

 private:
  AggregateBuilder() = default;
  PubKey aggregator_;
  MaskContext ctx_;
  double scale_ = 0;
  uint64_t count_ = 0;
  size_t header_ = 0;
  std::vector<std::pair<PubKey, uint64_t>> added_;  // member, samples
  std::string out_;  // header placeholder, then the running sum (little-endian words)
};

// The weighted average trunk update from an aggregate artifact (divides by its samples).
Result<std::vector<float>> DecodeAverage(const SecAggArtifact& aggregate);
// trunk[k] += the average's value first + k, exactly as adding DecodeAverage's values (same
// rounding), without materialising them (a trunk held in several tensors is applied one
// tensor at a time). InvalidArgument if `aggregate` is not an aggregate or has fewer than
// first + trunk.size() words.
Status AddAverage(const SecAggArtifactView& aggregate, std::span<float> trunk, size_t first = 0);

// ---- Ledger-bound helpers ----
// The mask context of the attempt in progress of `task_id`. FailedPrecondition if the task
// has no round in progress.
Result<MaskContext> CurrentMaskContext(const FederationState& state, const std::string& task_id);
// The task's fixed point: clip from the spec setting "secagg.clip" (decimal, default 1.0),
// scale from "secagg.scale" (decimal, default 0 = automatic), max_total_weight =
// state.MaxTotalSamples(task). InvalidArgument naming a bad setting.
Result<FixedPoint> FixedPointForTask(const FederationState& state, const std::string& task_id);

}  // namespace fedledger::orchestrator
