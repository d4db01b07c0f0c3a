#include "ledger/crypto.h"

#include <fcntl.h>
#include <secp256k1.h>
#include <secp256k1_ecdh.h>
#include <secp256k1_extrakeys.h>
#include <secp256k1_schnorrsig.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <vector>
#include <sstream>
#include <unordered_map>

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
  uint8_t aux[32];
  RandomBytes(aux, sizeof aux);
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
