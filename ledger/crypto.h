// The one crypto module: SHA-256, BIP-340 tagged hashes, Schnorr signatures and ECDH on
// secp256k1 (libsecp256k1), key files. Every other module reaches crypto only through here.
//
// Manners follow libsecp256k1: outputs before inputs where it helps, results that must be
// checked, secrets wiped on destruction. All functions are thread-safe.
#pragma once

#include <array>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "ledger/bytes.h"
#include "ledger/status.h"

namespace fedledger {

// A BIP-340 x-only public key: the 32-byte x coordinate of a point with even y.
using PubKey = Hash32;
using Signature = std::array<uint8_t, 64>;

Hash32 Sha256(ByteView data);
inline Hash32 Sha256(std::string_view s) {
  return Sha256(ByteView(reinterpret_cast<const uint8_t*>(s.data()), s.size()));
}

// Incremental SHA-256.
// SHA-256 of a file's bytes as they lie on disk (`sha256sum FILE` prints the same), read in
// 1 MiB pieces. NotFound when it cannot be opened, IOError when a read fails; both name it.
// The one definition of a data file's hash: `dataset register` records it, the round driver's
// data gate compares against it.
Result<Hash32> Sha256File(const std::string& path);

class Sha256Hasher {
 public:
  Sha256Hasher();
  ~Sha256Hasher();
  Sha256Hasher(const Sha256Hasher&) = delete;
  Sha256Hasher& operator=(const Sha256Hasher&) = delete;
  Sha256Hasher& Update(ByteView data);
  Sha256Hasher& Update(uint8_t byte) { return Update(ByteView(&byte, 1)); }
  Hash32 Finish();  // the hasher may be reused after Finish()

 private:
  struct Impl;
  Impl* impl_;
};

// BIP-340 tagged hash: SHA256(SHA256(tag) || SHA256(tag) || msg). Every signed digest in
// fedledger is a tagged hash under one of the domain tags below, so a signature made for one
// purpose can never be replayed as another.
Hash32 TaggedHash(std::string_view tag, ByteView msg);

namespace tags {
inline constexpr std::string_view kEntry = "fedledger/entry/v1";
inline constexpr std::string_view kBlock = "fedledger/block/v1";
inline constexpr std::string_view kVote = "fedledger/vote/v1";
inline constexpr std::string_view kValidatorSet = "fedledger/validator-set/v1";
inline constexpr std::string_view kTaskSpec = "fedledger/task-spec/v1";
inline constexpr std::string_view kPeerHandshake = "fedledger/peer-handshake/v1";
inline constexpr std::string_view kPeerMessage = "fedledger/peer-message/v1";
inline constexpr std::string_view kPeerBatch = "fedledger/peer-batch/v1";
}  // namespace tags

// Fills `out` with bytes from the operating system's CSPRNG. Aborts if the OS cannot
// provide randomness (there is no safe way to continue).
void RandomBytes(uint8_t* out, size_t n);

class SecretKey {
 public:
  // A fresh key from the OS CSPRNG.
  static SecretKey Generate();
  // 32 bytes that must be a valid secp256k1 scalar (0 < k < n).
  static Result<SecretKey> FromBytes(ByteView b);
  static Result<SecretKey> FromHex(std::string_view hex);
  // Deterministic key for tests and dev tooling only: SHA256("fedledger/dev-key" || seed).
  static SecretKey FromSeed(std::string_view seed);

  SecretKey(const SecretKey& o);
  SecretKey& operator=(const SecretKey& o);
  ~SecretKey();

  const PubKey& pubkey() const { return pubkey_; }
  std::string Hex() const;  // the secret in hex: for writing key files only

  // BIP-340 signature over a 32-byte digest, with fresh auxiliary randomness.
  Signature Sign(const Hash32& digest) const;
  // Deterministic variant (no aux randomness) for reproducible test vectors.
  Signature SignDeterministic(const Hash32& digest) const;

  // ECDH shared secret with another x-only key: SHA256(x(k * P)). Symmetric:
  // a.Ecdh(B) == b.Ecdh(A) regardless of the hidden y parity of either key.
  Result<Hash32> Ecdh(const PubKey& peer) const;

 private:
  SecretKey() = default;
  Status Init(ByteView b);
  std::array<uint8_t, 32> sk_{};
  std::array<uint8_t, 96> keypair_{};  // secp256k1_keypair (opaque, 96 bytes)
  PubKey pubkey_;
};

// True iff `sig` is a valid BIP-340 signature by `pubkey` over `digest`. A pubkey that is
// not an x coordinate on the curve simply fails verification.
bool VerifySignature(const PubKey& pubkey, const Hash32& digest, const Signature& sig);

// One signature to check: pointers into the caller's data, which must outlive the call.
struct SignatureCheck {
  const PubKey* pubkey;
  const Hash32* digest;
  const Signature* sig;
  // Optional: the y coordinate (32 bytes, big-endian) of the signature's R = lift_x(r), as
  // another verifier found it (VerifySignatures' r_ys). Batch verification needs R as a
  // point; lifting it takes a square root, about a quarter of a batched check, and checking a
  // hint a few multiplications. The hint is checked, not trusted: one that is not lift_x(r)'s y
  // is ignored and R is lifted as usual, so a hint never changes a verdict.
  const Hash32* r_y = nullptr;
};

// BIP-340 batch verification: true iff every signature in `checks` is valid, with a chance of
// a wrong `true` below 2^-127 (128-bit randomizers derived from a per-process secret and all
// the inputs). One multi-scalar multiplication over the whole batch costs a fraction of one
// verification per signature. `false` says that at least one signature is invalid, or that
// the batch hit a case it does not handle (a challenge or a sum of exactly zero, with
// negligible probability): the caller then checks each on its own, e.g. with
// VerifySignatures.
// `r_ys`, if given, has room for checks.size() values and receives each R's y (the hints
// above), valid only when the batch returns true.
bool VerifySignatureBatch(std::span<const SignatureCheck> checks, Hash32* r_ys = nullptr);

// The verdict for each signature, as VerifySignature would give it: the signatures of keys seen
// before (by this thread, or twice in `checks`) in one batch, the others each on its own, and
// the batch's each on its own too if the batch fails (or is too small to pay off).
// `r_ys`, if given, is set to checks.size() values: the y of each signature's R where a batch
// verified it, all zero bytes (no hint) for the signatures checked alone.
std::vector<bool> VerifySignatures(std::span<const SignatureCheck> checks,
                                   std::vector<Hash32>* r_ys = nullptr);

// True iff the 32 bytes are the x coordinate of a curve point (a usable public key).
bool IsValidPubKey(const PubKey& pubkey);

// Key files: one line, the secret in hex. Saving never overwrites an existing file and
// creates it with mode 0600. Loading refuses a file that group or others can read, as ssh
// does, and says so.
Status SaveSecretKey(const std::string& path, const SecretKey& key);
Result<SecretKey> LoadSecretKey(const std::string& path);

}  // namespace fedledger
