#include "ledger/crypto.h"

#include "ledger/secp256k1_group.h"

#include <fcntl.h>
#include <pthread.h>
#include <secp256k1.h>
#include <secp256k1_ecdh.h>
#include <secp256k1_extrakeys.h>
#include <secp256k1_schnorrsig.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <memory>
#include <sstream>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include <cryptopp/sha.h>

namespace fedledger {

namespace {

void Wipe(void* p, size_t n) {
  volatile uint8_t* v = static_cast<volatile uint8_t*>(p);
  while (n--) *v++ = 0;
}

// One randomized context, created on first use and shared read-only by all threads
// (libsecp256k1 contexts are safe for concurrent use once randomized).
const secp256k1_context* Ctx() {
  static const secp256k1_context* ctx = [] {
    secp256k1_context* c = secp256k1_context_create(SECP256K1_CONTEXT_NONE);
    uint8_t seed[32];
    RandomBytes(seed, sizeof seed);
    if (!secp256k1_context_randomize(c, seed)) std::abort();
    Wipe(seed, sizeof seed);
    return c;
  }();
  return ctx;
}

// BIP-340's auxiliary randomness, without a system call per signature: SHA-256 of a per-thread
// 32-byte seed from getrandom and a counter. aux only masks the nonce derivation against side
// channels (the nonce is a hash of the secret key, aux and the message, so even a repeated
// aux is safe), and a getrandom per signature cost a kernel entry (~1 us, plus the TLB
// refills of a kernel with page-table isolation) on every vote, frame and entry signed.
// A forked child reseeds on first use, so it never repeats its parent's stream.
std::atomic<uint64_t> fork_generation{0};

class AuxStream {
 public:
  ~AuxStream() { Wipe(seed_, sizeof seed_); }

  void Next(uint8_t out[32]) {
    static const bool registered = [] {
      return pthread_atfork(nullptr, nullptr,
                            [] { fork_generation.fetch_add(1, std::memory_order_relaxed); }) == 0;
    }();
    (void)registered;
    uint64_t generation = fork_generation.load(std::memory_order_relaxed);
    if (!seeded_ || generation != generation_) {
      RandomBytes(seed_, sizeof seed_);
      counter_ = 0;
      generation_ = generation;
      seeded_ = true;
    }
    uint8_t block[sizeof seed_ + 8];
    std::memcpy(block, seed_, sizeof seed_);
    for (int i = 0; i < 8; ++i) block[sizeof seed_ + i] = static_cast<uint8_t>(counter_ >> (8 * i));
    ++counter_;
    CryptoPP::SHA256().CalculateDigest(out, block, sizeof block);
    Wipe(block, sizeof block);
  }

 private:
  uint8_t seed_[32] = {};
  uint64_t counter_ = 0;
  uint64_t generation_ = 0;
  bool seeded_ = false;
};

}  // namespace

void RandomBytes(uint8_t* out, size_t n) {
  while (n > 0) {
    ssize_t got = getrandom(out, n, 0);
    if (got < 0) {
      if (errno == EINTR) continue;
      std::perror("getrandom");
      std::abort();
    }
    out += got;
    n -= static_cast<size_t>(got);
  }
}

Hash32 Sha256(ByteView data) {
  Hash32 h;
  CryptoPP::SHA256().CalculateDigest(h.data(), data.data(), data.size());
  return h;
}

struct Sha256Hasher::Impl {
  CryptoPP::SHA256 sha;
};
Sha256Hasher::Sha256Hasher() : impl_(new Impl) {}
Sha256Hasher::~Sha256Hasher() { delete impl_; }
Sha256Hasher& Sha256Hasher::Update(ByteView data) {
  impl_->sha.Update(data.data(), data.size());
  return *this;
}
Hash32 Sha256Hasher::Finish() {
  Hash32 h;
  impl_->sha.Final(h.data());
  return h;
}

Hash32 TaggedHash(std::string_view tag, ByteView msg) {
  Hash32 t = Sha256(tag);
  CryptoPP::SHA256 sha;
  sha.Update(t.data(), 32);
  sha.Update(t.data(), 32);
  sha.Update(msg.data(), msg.size());
  Hash32 h;
  sha.Final(h.data());
  return h;
}

// ---- SecretKey ----

Status SecretKey::Init(ByteView b) {
  if (b.size() != 32) {
    return Status::InvalidArgument("secret key must be 32 bytes, got " + std::to_string(b.size()));
  }
  std::memcpy(sk_.data(), b.data(), 32);
  if (!secp256k1_ec_seckey_verify(Ctx(), sk_.data())) {
    return Status::InvalidArgument("secret key is not a valid secp256k1 scalar");
  }
  auto* kp = reinterpret_cast<secp256k1_keypair*>(keypair_.data());
  static_assert(sizeof(secp256k1_keypair) == 96);
  if (!secp256k1_keypair_create(Ctx(), kp, sk_.data())) {
    return Status::InvalidArgument("secret key is not a valid secp256k1 scalar");
  }
  secp256k1_xonly_pubkey xonly;
  if (!secp256k1_keypair_xonly_pub(Ctx(), &xonly, nullptr, kp) ||
      !secp256k1_xonly_pubkey_serialize(Ctx(), pubkey_.data(), &xonly)) {
    return Status::Internal("cannot derive public key");
  }
  return Status::Ok();
}

SecretKey SecretKey::Generate() {
  for (;;) {
    uint8_t b[32];
    RandomBytes(b, sizeof b);
    SecretKey k;
    Status s = k.Init(ByteView(b, 32));
    Wipe(b, sizeof b);
    if (s.ok()) return k;  // fails with probability ~2^-128
  }
}

Result<SecretKey> SecretKey::FromBytes(ByteView b) {
  SecretKey k;
  FL_TRY(k.Init(b));
  return k;
}

Result<SecretKey> SecretKey::FromHex(std::string_view hex) {
  if (hex.size() != 64) {
    return Status::InvalidArgument("secret key must be 64 hex digits, got " +
                                   std::to_string(hex.size()) + " characters");
  }
  FL_ASSIGN(Bytes b, fedledger::FromHex(hex));
  auto k = FromBytes(b);
  Wipe(b.data(), b.size());
  return k;
}

SecretKey SecretKey::FromSeed(std::string_view seed) {
  std::string msg = "fedledger/dev-key";
  msg.append(seed);
  for (uint32_t ctr = 0;; ++ctr) {
    Hash32 h = Sha256(msg + (ctr ? std::to_string(ctr) : ""));
    SecretKey k;
    if (k.Init(h.view()).ok()) return k;
  }
}

SecretKey::SecretKey(const SecretKey& o) : sk_(o.sk_), keypair_(o.keypair_), pubkey_(o.pubkey_) {}
SecretKey& SecretKey::operator=(const SecretKey& o) {
  sk_ = o.sk_;
  keypair_ = o.keypair_;
  pubkey_ = o.pubkey_;
  return *this;
}
SecretKey::~SecretKey() {
  Wipe(sk_.data(), sk_.size());
  Wipe(keypair_.data(), keypair_.size());
}

std::string SecretKey::Hex() const { return ToHex(ByteView(sk_.data(), sk_.size())); }

Signature SecretKey::Sign(const Hash32& digest) const {
  thread_local AuxStream aux_stream;
  uint8_t aux[32];
  aux_stream.Next(aux);
  Signature sig;
  auto* kp = reinterpret_cast<const secp256k1_keypair*>(keypair_.data());
  if (!secp256k1_schnorrsig_sign32(Ctx(), sig.data(), digest.data(), kp, aux)) std::abort();
  return sig;
}

Signature SecretKey::SignDeterministic(const Hash32& digest) const {
  Signature sig;
  auto* kp = reinterpret_cast<const secp256k1_keypair*>(keypair_.data());
  if (!secp256k1_schnorrsig_sign32(Ctx(), sig.data(), digest.data(), kp, nullptr)) std::abort();
  return sig;
}

namespace {
int HashXOnly(unsigned char* output, const unsigned char* x32, const unsigned char* y32,
              void* data) {
  (void)y32;
  (void)data;
  CryptoPP::SHA256().CalculateDigest(output, x32, 32);
  return 1;
}
}  // namespace

Result<Hash32> SecretKey::Ecdh(const PubKey& peer) const {
  // Lift the x-only key to the point with even y; the x coordinate of k*P does not depend
  // on that choice, and only x is hashed.
  uint8_t compressed[33];
  compressed[0] = 0x02;
  std::memcpy(compressed + 1, peer.data(), 32);
  secp256k1_pubkey point;
  if (!secp256k1_ec_pubkey_parse(Ctx(), &point, compressed, sizeof compressed)) {
    return Status::InvalidArgument("peer public key " + peer.ShortHex() + " is not on the curve");
  }
  Hash32 out;
  if (!secp256k1_ecdh(Ctx(), out.data(), &point, sk_.data(), HashXOnly, nullptr)) {
    return Status::Internal("ECDH failed");
  }
  return out;
}

namespace {

// Parsing an x-only key lifts it onto the curve (a field square root): about a sixth of a
// signature verification, paid again by every decode that checks an entry's signer key. The
// same few keys (partners, validators) sign nearly everything, so each thread keeps the parsed
// form of the keys it has seen, bounded (it forgets them all when the bound is reached).
// Returns nullptr for a key that is not on the curve (never cached). The pointer is valid
// until the next call on this thread.
const secp256k1_xonly_pubkey* ParsedKey(const PubKey& pubkey) {
  constexpr size_t kMaxCachedKeys = 4096;
  thread_local std::unordered_map<PubKey, secp256k1_xonly_pubkey, Hash32Hasher> parsed;
  auto it = parsed.find(pubkey);
  if (it != parsed.end()) return &it->second;
  secp256k1_xonly_pubkey xonly;
  if (!secp256k1_xonly_pubkey_parse(Ctx(), &xonly, pubkey.data())) return nullptr;
  if (parsed.size() >= kMaxCachedKeys) parsed.clear();
  return &parsed.emplace(pubkey, xonly).first->second;
}

}  // namespace

bool VerifySignature(const PubKey& pubkey, const Hash32& digest, const Signature& sig) {
  const secp256k1_xonly_pubkey* xonly = ParsedKey(pubkey);
  if (!xonly) return false;
  return secp256k1_schnorrsig_verify(Ctx(), sig.data(), digest.data(), 32, xonly) == 1;
}

bool IsValidPubKey(const PubKey& pubkey) { return ParsedKey(pubkey) != nullptr; }

// ---- batch verification (BIP-340, "Batch Verification") ----
//
// Checks s_1..s_u against R_i = lift_x(r_i), P_i = lift_x(pk_i), e_i = challenge(r_i, P_i, m_i)
// with randomizers a_1 = 1, a_2..a_u of 128 bits:
//   (sum a_i s_i) G == sum a_i R_i + sum (a_i e_i) P_i,
// as one multi-scalar multiplication that must come to the point at infinity. Terms of the same
// key are merged (a batch is mostly a few partners' entries), and the keys' and the generator's
// 256-bit coefficients split into 128-bit halves against tables kept per key, so the doubling
// chain is 128 steps for the whole batch. A signature then costs a lift of R (a field square
// root, in libsecp256k1), a challenge hash, R's table (window 4) and ~26 additions, plus ~28
// additions per distinct key. The additions at one bit are summed affine with shared
// inversions first (secp::SumPairsByBit), ~6 field multiplications each instead of ~11.
// Scalars mod n use libsecp256k1's secret-key arithmetic on public values.

namespace {

// Affine coordinates of lift_x(x): the point with even y, through libsecp256k1's parser.
// `y32`, if given, receives y's 32 bytes.
bool LiftX(const uint8_t* x32, secp::Ge* out, uint8_t* y32 = nullptr) {
  uint8_t compressed[33];
  compressed[0] = 0x02;
  std::memcpy(compressed + 1, x32, 32);
  secp256k1_pubkey point;
  if (!secp256k1_ec_pubkey_parse(Ctx(), &point, compressed, sizeof compressed)) return false;
  uint8_t full[65];
  size_t len = sizeof full;
  secp256k1_ec_pubkey_serialize(Ctx(), full, &len, &point, SECP256K1_EC_UNCOMPRESSED);
  out->x = secp::FeFromBytes(full + 1);
  out->y = secp::FeFromBytes(full + 33);
  if (y32) std::memcpy(y32, full + 33, 32);
  return true;
}

// lift_x(x) from a claimed y, without the square root: (x, y) is that point iff both are
// below p, y is even and y^2 = x^3 + 7 (the curve has two points with this x, y and p - y,
// and lift_x picks the even one). False for any other y; the caller then lifts x itself.
bool LiftXWithHint(const uint8_t* x32, const uint8_t* y32, secp::Ge* out) {
  if (y32[31] & 1) return false;
  secp::Fe x = secp::FeFromBytes(x32);
  secp::Fe y = secp::FeFromBytes(y32);
  if (!secp::IsCanonical(x) || !secp::IsCanonical(y)) return false;
  secp::Fe rhs = secp::Add(secp::Mul(secp::Sqr(x), x), secp::FeInt(7));
  if (!secp::Equal(secp::Sqr(y), rhs)) return false;
  *out = secp::Ge{x, y};
  return true;
}

// A point's tables for the batch's 128-step doubling chain: the odd multiples of P and of
// 2^128 P, so that a 256-bit scalar k = hi 2^128 + lo costs two 128-bit terms, lo P and
// hi (2^128 P), all affine. Window 8: 64 points each, about 30 additions per key and batch.
struct SplitTables {
  secp::FixedTable lo, hi;
};

constexpr int kSplitWindow = 8;
// The window of the signatures' R terms, whose tables are built per batch.
constexpr int kRWindow = 4;

// nullptr for a point not of the group's prime order (none that lift_x gives).
std::shared_ptr<const SplitTables> MakeSplitTables(const secp::Ge& p) {
  secp::Gej q = secp::ToJacobian(p);
  auto lo = secp::OddMultiples(q, kSplitWindow);
  for (int i = 0; i < 128; ++i) q = secp::Double(q);
  auto hi = secp::OddMultiples(q, kSplitWindow);
  if (!lo || !hi) return nullptr;
  return std::make_shared<const SplitTables>(SplitTables{std::move(*lo), std::move(*hi)});
}

// The split tables of keys, kept per thread: a ledger's signers are its genesis's partners and
// validators, a few hundred at most. A key's tables cost about two verifications to build, so
// VerifySignatures batches a key's signatures only once the key has been seen before (or
// signs twice in the batch), and a key that signs once in a while never pays for them.
struct KeyCache {
  static constexpr size_t kMaxKeys = 1024;
  std::unordered_map<PubKey, std::shared_ptr<const SplitTables>, Hash32Hasher> tables;
  std::unordered_set<PubKey, Hash32Hasher> seen;  // keys seen once, without tables
};

KeyCache& ThreadKeyCache() {
  thread_local KeyCache cache;
  return cache;
}

// A key's tables, built on first use. The batch holds its own reference, so clearing a full
// cache never pulls a table from under it.
std::shared_ptr<const SplitTables> KeyTables(const PubKey& pubkey) {
  KeyCache& cache = ThreadKeyCache();
  auto it = cache.tables.find(pubkey);
  if (it != cache.tables.end()) return it->second;
  secp::Ge p;
  if (!LiftX(pubkey.data(), &p)) return nullptr;
  auto tables = MakeSplitTables(p);
  if (!tables) return nullptr;
  if (cache.tables.size() >= KeyCache::kMaxKeys) cache.tables.clear();
  cache.seen.erase(pubkey);
  return cache.tables.emplace(pubkey, std::move(tables)).first->second;
}

// Whether a batch should take `pubkey`'s signature: the key has tables or has been seen
// before (this call records the first sighting).
bool WorthBatching(const PubKey& pubkey) {
  KeyCache& cache = ThreadKeyCache();
  if (cache.tables.count(pubkey)) return true;
  if (cache.seen.count(pubkey)) return true;
  if (cache.seen.size() >= KeyCache::kMaxKeys) cache.seen.clear();
  cache.seen.insert(pubkey);
  return false;
}

// The generator's split tables, from G as libsecp256k1 gives it.
const SplitTables& GeneratorTables() {
  static const std::shared_ptr<const SplitTables> tables = [] {
    uint8_t one[32] = {};
    one[31] = 1;
    secp256k1_pubkey point;
    if (!secp256k1_ec_pubkey_create(Ctx(), &point, one)) std::abort();
    uint8_t full[65];
    size_t len = sizeof full;
    secp256k1_ec_pubkey_serialize(Ctx(), full, &len, &point, SECP256K1_EC_UNCOMPRESSED);
    auto t = MakeSplitTables(secp::Ge{secp::FeFromBytes(full + 1), secp::FeFromBytes(full + 33)});
    if (!t) std::abort();
    return t;
  }();
  return *tables;
}

// A per-process secret mixed into the randomizers, so that nobody can choose a batch knowing
// them (the inputs alone would do by BIP-340; the secret costs nothing).
const Hash32& BatchSalt() {
  static const Hash32 salt = [] {
    Hash32 h;
    RandomBytes(h.data(), 32);
    return h;
  }();
  return salt;
}

// Below this many signatures a batch does not pay for its fixed part (a 128-step doubling
// chain, the generator's terms); bench/signature_bench measures where the two meet.
constexpr size_t kMinBatch = 4;
constexpr size_t kMaxBatch = 256;

}  // namespace

bool VerifySignatureBatch(std::span<const SignatureCheck> checks, Hash32* r_ys) {
  const size_t u = checks.size();
  if (u == 0) return true;
  static const Hash32 challenge_tag = Sha256(std::string_view("BIP0340/challenge"));
  const secp256k1_context* ctx = Ctx();

  // The randomizers' seed: the salt and every input.
  CryptoPP::SHA256 seed_hash;
  seed_hash.Update(BatchSalt().data(), 32);
  for (const SignatureCheck& c : checks) {
    seed_hash.Update(c.pubkey->data(), 32);
    seed_hash.Update(c.digest->data(), 32);
    seed_hash.Update(c.sig->data(), 64);
  }
  uint8_t seed[40];
  seed_hash.Final(seed);

  struct KeyTerm {
    std::shared_ptr<const SplitTables> tables;
    uint8_t coef[32];
  };
  std::vector<KeyTerm> keys;
  std::unordered_map<PubKey, size_t, Hash32Hasher> key_index;  // into keys
  std::vector<secp::MsmTerm> terms;
  terms.reserve(u + 4);
  uint8_t sum_s[32];
  uint8_t randomizers[32];
  for (size_t i = 0; i < u; ++i) {
    const SignatureCheck& c = checks[i];
    const uint8_t* r = c.sig->data();
    const uint8_t* s = c.sig->data() + 32;
    secp::Ge big_r;
    if (c.r_y && LiftXWithHint(r, c.r_y->data(), &big_r)) {
      if (r_ys) r_ys[i] = *c.r_y;
    } else if (!LiftX(r, &big_r, r_ys ? r_ys[i].data() : nullptr)) {
      return false;
    }
    if (!secp256k1_ec_seckey_verify(ctx, s)) return false;

    uint8_t e[32];
    {
      // TaggedHash("BIP0340/challenge", r || P || m), with the tag's hash computed once.
      CryptoPP::SHA256 sha;
      sha.Update(challenge_tag.data(), 32);
      sha.Update(challenge_tag.data(), 32);
      sha.Update(r, 32);
      sha.Update(c.pubkey->data(), 32);
      sha.Update(c.digest->data(), 32);
      sha.Final(e);
    }
    // e >= n (chance 2^-128) or e = 0: not handled here.
    if (!secp256k1_ec_seckey_verify(ctx, e)) return false;

    // a_i: 1 for the first signature, then 128 bits each, two per hash of the seed.
    uint8_t a[32] = {};
    if (i == 0) {
      a[31] = 1;
    } else {
      if (i % 2 == 1) {
        uint64_t counter = i / 2;
        std::memcpy(seed + 32, &counter, sizeof counter);
        CryptoPP::SHA256().CalculateDigest(randomizers, seed, sizeof seed);
      }
      std::memcpy(a + 16, randomizers + (i % 2) * 16, 16);
    }
    uint8_t as[32];
    std::memcpy(as, s, 32);
    if (i > 0 && !secp256k1_ec_seckey_tweak_mul(ctx, as, a)) return false;  // a = 0
    if (i == 0) {
      std::memcpy(sum_s, as, 32);
    } else if (!secp256k1_ec_seckey_tweak_add(ctx, sum_s, as)) {
      return false;  // a sum of exactly zero
    }
    uint8_t ae[32];
    std::memcpy(ae, e, 32);
    if (i > 0 && !secp256k1_ec_seckey_tweak_mul(ctx, ae, a)) return false;
    auto [it, fresh] = key_index.try_emplace(*c.pubkey, keys.size());
    if (fresh) {
      auto tables = KeyTables(*c.pubkey);
      if (!tables) return false;  // not a key
      keys.push_back(KeyTerm{std::move(tables), {}});
      std::memcpy(keys.back().coef, ae, 32);
    } else if (!secp256k1_ec_seckey_tweak_add(ctx, keys[it->second].coef, ae)) {
      return false;  // a key's coefficients summing to exactly zero
    }
    terms.push_back(secp::MsmTerm{secp::Scalar::FromBytes(a), big_r});
  }
  if (!secp256k1_ec_seckey_negate(ctx, sum_s)) return false;
  // Every scalar of the multiplication has 128 bits: the randomizers, and the halves of the
  // keys' and the generator's coefficients against their split tables.
  std::vector<std::pair<secp::Scalar, const secp::FixedTable*>> fixed;
  fixed.reserve(2 * keys.size() + 2);
  auto add_split = [&](const uint8_t* coef, const SplitTables& t) {
    fixed.emplace_back(secp::Scalar::FromBytes(coef + 16, 16), &t.lo);
    fixed.emplace_back(secp::Scalar::FromBytes(coef, 16), &t.hi);
  };
  for (const KeyTerm& k : keys) add_split(k.coef, *k.tables);
  add_split(sum_s, GeneratorTables());
  std::optional<secp::Gej> sum = secp::MultiScalarMul(terms, kRWindow, fixed);
  return sum && secp::IsInfinity(*sum);
}

std::vector<bool> VerifySignatures(std::span<const SignatureCheck> checks,
                                   std::vector<Hash32>* r_ys) {
  std::vector<bool> ok(checks.size(), true);
  if (r_ys) r_ys->assign(checks.size(), Hash32{});
  // The batch takes the signatures of keys seen before (in this batch or an earlier call);
  // the others are checked alone. A batch pays off from kMinBatch signatures
  // (bench/signature_bench); if it fails, its signatures are checked alone to find the bad.
  std::vector<size_t> batched;
  std::vector<SignatureCheck> batch;
  batched.reserve(checks.size());
  batch.reserve(checks.size());
  if (checks.size() >= kMinBatch) {
    std::unordered_map<PubKey, uint32_t, Hash32Hasher> signs;  // signatures per key here
    for (const SignatureCheck& c : checks) ++signs[*c.pubkey];
    for (size_t i = 0; i < checks.size(); ++i) {
      const PubKey& key = *checks[i].pubkey;
      if (signs[key] > 1 || WorthBatching(key)) {
        batched.push_back(i);
        batch.push_back(checks[i]);
      }
    }
  }
  // Beyond kMaxBatch signatures the batch's tables outgrow the caches, so a large batch is
  // checked in equal chunks of at most that many; a chunk that fails is checked one by one.
  std::vector<bool> in_batch(checks.size(), false);
  if (batch.size() >= kMinBatch) {
    const size_t chunks = (batch.size() + kMaxBatch - 1) / kMaxBatch;
    const size_t per_chunk = (batch.size() + chunks - 1) / chunks;
    std::vector<Hash32> chunk_ys(r_ys ? per_chunk : 0);
    for (size_t from = 0; from < batch.size(); from += per_chunk) {
      size_t to = std::min(batch.size(), from + per_chunk);
      if (!VerifySignatureBatch(std::span(batch).subspan(from, to - from),
                                r_ys ? chunk_ys.data() : nullptr)) {
        continue;
      }
      for (size_t k = from; k < to; ++k) {
        in_batch[batched[k]] = true;
        if (r_ys) (*r_ys)[batched[k]] = chunk_ys[k - from];
      }
    }
  }
  for (size_t i = 0; i < checks.size(); ++i) {
    if (!in_batch[i]) ok[i] = VerifySignature(*checks[i].pubkey, *checks[i].digest, *checks[i].sig);
  }
  return ok;
}

// ---- key files ----

Status SaveSecretKey(const std::string& path, const SecretKey& key) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) {
    if (errno == EEXIST) {
      return Status::AlreadyExists(path + " already exists; refusing to overwrite a key file");
    }
    return Status::IOError("cannot create " + path + ": " + std::strerror(errno));
  }
  std::string line = key.Hex() + "\n";
  bool ok = ::write(fd, line.data(), line.size()) == static_cast<ssize_t>(line.size()) &&
            ::fsync(fd) == 0;
  Wipe(line.data(), line.size());
  ::close(fd);
  if (!ok) {
    ::unlink(path.c_str());
    return Status::IOError("cannot write " + path + ": " + std::strerror(errno));
  }
  return Status::Ok();
}

Result<SecretKey> LoadSecretKey(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    return Status::NotFound("cannot open key file " + path + ": " + std::strerror(errno));
  }
  struct stat st;
  if (::fstat(fd, &st) != 0) {
    ::close(fd);
    return Status::IOError("cannot stat key file " + path);
  }
  if (S_ISDIR(st.st_mode)) {
    ::close(fd);
    return Status::InvalidArgument("key file " + path + " is a directory");
  }
  if (st.st_mode & 077) {
    ::close(fd);
    char mode[8];
    std::snprintf(mode, sizeof mode, "%04o", st.st_mode & 07777);
    return Status::PermissionDenied("key file " + path + " has mode " + mode +
                                    ": it must not be readable by group or others "
                                    "(run: chmod 600 " + path + ")");
  }
  // One line of 64 hex digits plus a little whitespace fits in 130 bytes; read one byte
  // more so that anything longer is refused instead of silently cut off.
  char buf[131];
  size_t n = 0;
  while (n < sizeof buf) {
    ssize_t got = ::read(fd, buf + n, sizeof buf - n);
    if (got < 0 && errno == EINTR) continue;
    if (got < 0) {
      ::close(fd);
      Wipe(buf, sizeof buf);
      return Status::IOError("cannot read key file " + path + ": " + std::strerror(errno));
    }
    if (got == 0) break;
    n += static_cast<size_t>(got);
  }
  ::close(fd);
  if (n == sizeof buf) {
    Wipe(buf, sizeof buf);
    return Status::InvalidArgument("key file " + path +
                                   ": too long; expected one line of 64 hex digits");
  }
  std::string_view text(buf, n);
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r' || text.back() == ' ')) {
    text.remove_suffix(1);
  }
  auto key = SecretKey::FromHex(text);
  Wipe(buf, sizeof buf);
  if (!key.ok()) return key.status().WithContext("key file " + path);
  return key;
}

Result<Hash32> Sha256File(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) return Status::NotFound("cannot open " + path + ": " + std::strerror(errno));
  Sha256Hasher h;
  std::vector<char> buf(1 << 20);
  while (f) {
    f.read(buf.data(), static_cast<std::streamsize>(buf.size()));
    if (f.gcount() > 0) {
      h.Update(ByteView(reinterpret_cast<const uint8_t*>(buf.data()), static_cast<size_t>(f.gcount())));
    }
  }
  if (f.bad()) return Status::IOError("error reading " + path);
  return h.Finish();
}

}  // namespace fedledger
