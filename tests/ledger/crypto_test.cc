// Tests of the crypto module (ledger/crypto.h): SHA-256 and tagged hashes, BIP-340 through
// our wrapper, ECDH, key files.
#include "ledger/crypto.h"

#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <random>
#include <set>
#include <thread>

namespace fedledger {
namespace {

Hash32 H(const std::string& hex) {
  auto h = Hash32::FromHex(hex);
  REQUIRE(h.ok());
  return *h;
}

Signature Sig(const std::string& hex) {
  auto b = FromHex(hex);
  REQUIRE(b.ok());
  REQUIRE(b->size() == 64);
  Signature s;
  std::copy(b->begin(), b->end(), s.begin());
  return s;
}

// ---- hashes ----

TEST_CASE("crypto: SHA-256 known answers (FIPS 180-2)", "[crypto]") {
  CHECK(Sha256(std::string_view("")).Hex() ==
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  CHECK(Sha256(std::string_view("abc")).Hex() ==
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  const std::string million(1000000, 'a');
  CHECK(Sha256(std::string_view(million)).Hex() ==
        "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");

  // Incremental in uneven pieces equals one shot; a hasher is reusable after Finish().
  Sha256Hasher h;
  for (size_t off = 0; off < million.size();) {
    size_t n = std::min<size_t>(million.size() - off, 1 + off % 977);
    h.Update(AsView(million).subspan(off, n));
    off += n;
  }
  CHECK(h.Finish() == Sha256(std::string_view(million)));
  h.Update(uint8_t{'a'}).Update(AsView(std::string("bc")));
  CHECK(h.Finish() == Sha256(std::string_view("abc")));
  CHECK(h.Finish() == Sha256(std::string_view("")));
}

TEST_CASE("crypto: BIP-340 tagged hashes", "[crypto]") {
  // Definition: SHA256(SHA256(tag) || SHA256(tag) || msg).
  for (std::string_view tag : {tags::kEntry, tags::kBlock, tags::kVote, tags::kValidatorSet,
                               tags::kTaskSpec, tags::kPeerHandshake, tags::kPeerMessage}) {
    const std::string msg = "message under " + std::string(tag);
    Hash32 t = Sha256(tag);
    Sha256Hasher h;
    h.Update(t.view()).Update(t.view()).Update(AsView(msg));
    CHECK(TaggedHash(tag, AsView(msg)) == h.Finish());
  }
  // Known answers computed independently with Python's hashlib.
  CHECK(TaggedHash(tags::kEntry, ByteView()).Hex() ==
        "5c737e63b1e083242bc4d25c4db95065652e1957a63f34e5a7cedb5574131fd1");
  CHECK(TaggedHash(tags::kVote, AsView(std::string("abc"))).Hex() ==
        "f9a9fa34b8b7c03fbc27b3f5a8f3553cc4d80376dc449dab0237961bb86fa718");
  Bytes seq(32);
  for (int i = 0; i < 32; ++i) seq[i] = static_cast<uint8_t>(i);
  CHECK(TaggedHash("BIP0340/challenge", seq).Hex() ==
        "3808926260c3c44ad60543cf22b31206c3569e478e965a4fe276f4f362f9e57f");
  // Domain separation: the same message under two tags gives unrelated digests.
  CHECK(TaggedHash(tags::kEntry, seq) != TaggedHash(tags::kVote, seq));
  CHECK(TaggedHash(tags::kEntry, seq) != Sha256(seq));
}

// ---- BIP-340 ----

// bip-0340/test-vectors.csv from github.com/bitcoin/bips at commit
// 7e8b5dfc304c0e3cd646b54bc49e23fad692d11e, rows 0-14 (the rows with 32-byte messages; our
// wrapper signs 32-byte digests only).
struct Bip340Vector {
  int index;
  const char* secret_key;  // empty: verification-only row
  const char* public_key;
  const char* aux_rand;
  const char* message;
  const char* signature;
  bool valid;
  const char* comment;
};

const Bip340Vector kBip340[] = {
    {0, "0000000000000000000000000000000000000000000000000000000000000003",
     "F9308A019258C31049344F85F89D5229B531C845836F99B08601F113BCE036F9",
     "0000000000000000000000000000000000000000000000000000000000000000",
     "0000000000000000000000000000000000000000000000000000000000000000",
     "E907831F80848D1069A5371B402410364BDF1C5F8307B0084C55F1CE2DCA8215"
     "25F66A4A85EA8B71E482A74F382D2CE5EBEEE8FDB2172F477DF4900D310536C0",
     true, ""},
    {1, "B7E151628AED2A6ABF7158809CF4F3C762E7160F38B4DA56A784D9045190CFEF",
     "DFF1D77F2A671C5F36183726DB2341BE58FEAE1DA2DECED843240F7B502BA659",
     "0000000000000000000000000000000000000000000000000000000000000001",
     "243F6A8885A308D313198A2E03707344A4093822299F31D0082EFA98EC4E6C89",
     "6896BD60EEAE296DB48A229FF71DFE071BDE413E6D43F917DC8DCF8C78DE3341"
     "8906D11AC976ABCCB20B091292BFF4EA897EFCB639EA871CFA95F6DE339E4B0A",
     true, ""},
    {2, "C90FDAA22168C234C4C6628B80DC1CD129024E088A67CC74020BBEA63B14E5C9",
     "DD308AFEC5777E13121FA72B9CC1B7CC0139715309B086C960E18FD969774EB8",
     "C87AA53824B4D7AE2EB035A2B5BBBCCC080E76CDC6D1692C4B0B62D798E6D906",
     "7E2D58D8B3BCDF1ABADEC7829054F90DDA9805AAB56C77333024B9D0A508B75C",
     "5831AAEED7B44BB74E5EAB94BA9D4294C49BCF2A60728D8B4C200F50DD313C1B"
     "AB745879A5AD954A72C45A91C3A51D3C7ADEA98D82F8481E0E1E03674A6F3FB7",
     true, ""},
    {3, "0B432B2677937381AEF05BB02A66ECD012773062CF3FA2549E44F58ED2401710",
     "25D1DFF95105F5253C4022F628A996AD3A0D95FBF21D468A1B33F8C160D8F517",
     "FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF",
     "FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF",
     "7EB0509757E246F19449885651611CB965ECC1A187DD51B64FDA1EDC9637D5EC"
     "97582B9CB13DB3933705B32BA982AF5AF25FD78881EBB32771FC5922EFC66EA3",
     true, "test fails if msg is reduced modulo p or n"},
    {4, "", "D69C3509BB99E412E68B0FE8544E72837DFA30746D8BE2AA65975F29D22DC7B9", "",
     "4DF3C3F68FCC83B27E9D42C90431A72499F17875C81A599B566C9889B9696703",
     "00000000000000000000003B78CE563F89A0ED9414F5AA28AD0D96D6795F9C63"
     "76AFB1548AF603B3EB45C9F8207DEE1060CB71C04E80F593060B07D28308D7F4",
     true, ""},
    {5, "", "EEFDEA4CDB677750A420FEE807EACF21EB9898AE79B9768766E4FAA04A2D4A34", "",
     "243F6A8885A308D313198A2E03707344A4093822299F31D0082EFA98EC4E6C89",
     "6CFF5C3BA86C69EA4B7376F31A9BCB4F74C1976089B2D9963DA2E5543E177769"
     "69E89B4C5564D00349106B8497785DD7D1D713A8AE82B32FA79D5F7FC407D39B",
     false, "public key not on the curve"},
    {6, "", "DFF1D77F2A671C5F36183726DB2341BE58FEAE1DA2DECED843240F7B502BA659", "",
     "243F6A8885A308D313198A2E03707344A4093822299F31D0082EFA98EC4E6C89",
     "FFF97BD5755EEEA420453A14355235D382F6472F8568A18B2F057A1460297556"
     "3CC27944640AC607CD107AE10923D9EF7A73C643E166BE5EBEAFA34B1AC553E2",
     false, "has_even_y(R) is false"},
    {7, "", "DFF1D77F2A671C5F36183726DB2341BE58FEAE1DA2DECED843240F7B502BA659", "",
     "243F6A8885A308D313198A2E03707344A4093822299F31D0082EFA98EC4E6C89",
     "1FA62E331EDBC21C394792D2AB1100A7B432B013DF3F6FF4F99FCB33E0E1515F"
     "28890B3EDB6E7189B630448B515CE4F8622A954CFE545735AAEA5134FCCDB2BD",
     false, "negated message"},
    {8, "", "DFF1D77F2A671C5F36183726DB2341BE58FEAE1DA2DECED843240F7B502BA659", "",
     "243F6A8885A308D313198A2E03707344A4093822299F31D0082EFA98EC4E6C89",
     "6CFF5C3BA86C69EA4B7376F31A9BCB4F74C1976089B2D9963DA2E5543E177769"
     "961764B3AA9B2FFCB6EF947B6887A226E8D7C93E00C5ED0C1834FF0D0C2E6DA6",
     false, "negated s value"},
    {9, "", "DFF1D77F2A671C5F36183726DB2341BE58FEAE1DA2DECED843240F7B502BA659", "",
     "243F6A8885A308D313198A2E03707344A4093822299F31D0082EFA98EC4E6C89",
     "0000000000000000000000000000000000000000000000000000000000000000"
     "123DDA8328AF9C23A94C1FEECFD123BA4FB73476F0D594DCB65C6425BD186051",
     false, "sG - eP is infinite (x(inf) as 0)"},
    {10, "", "DFF1D77F2A671C5F36183726DB2341BE58FEAE1DA2DECED843240F7B502BA659", "",
     "243F6A8885A308D313198A2E03707344A4093822299F31D0082EFA98EC4E6C89",
     "0000000000000000000000000000000000000000000000000000000000000001"
     "7615FBAF5AE28864013C099742DEADB4DBA87F11AC6754F93780D5A1837CF197",
     false, "sG - eP is infinite (x(inf) as 1)"},
    {11, "", "DFF1D77F2A671C5F36183726DB2341BE58FEAE1DA2DECED843240F7B502BA659", "",
     "243F6A8885A308D313198A2E03707344A4093822299F31D0082EFA98EC4E6C89",
     "4A298DACAE57395A15D0795DDBFD1DCB564DA82B0F269BC70A74F8220429BA1D"
     "69E89B4C5564D00349106B8497785DD7D1D713A8AE82B32FA79D5F7FC407D39B",
     false, "sig[0:32] is not an X coordinate on the curve"},
    {12, "", "DFF1D77F2A671C5F36183726DB2341BE58FEAE1DA2DECED843240F7B502BA659", "",
     "243F6A8885A308D313198A2E03707344A4093822299F31D0082EFA98EC4E6C89",
     "FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEFFFFFC2F"
     "69E89B4C5564D00349106B8497785DD7D1D713A8AE82B32FA79D5F7FC407D39B",
     false, "sig[0:32] is equal to field size"},
    {13, "", "DFF1D77F2A671C5F36183726DB2341BE58FEAE1DA2DECED843240F7B502BA659", "",
     "243F6A8885A308D313198A2E03707344A4093822299F31D0082EFA98EC4E6C89",
     "6CFF5C3BA86C69EA4B7376F31A9BCB4F74C1976089B2D9963DA2E5543E177769"
     "FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141",
     false, "sig[32:64] is equal to curve order"},
    {14, "", "FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEFFFFFC30", "",
     "243F6A8885A308D313198A2E03707344A4093822299F31D0082EFA98EC4E6C89",
     "6CFF5C3BA86C69EA4B7376F31A9BCB4F74C1976089B2D9963DA2E5543E177769"
     "69E89B4C5564D00349106B8497785DD7D1D713A8AE82B32FA79D5F7FC407D39B",
     false, "public key exceeds the field size"},
};

TEST_CASE("crypto: BIP-340 official verification vectors", "[crypto][bip340]") {
  int valid = 0, invalid = 0;
  for (const Bip340Vector& v : kBip340) {
    INFO("BIP-340 vector " << v.index << " " << v.comment);
    const PubKey pk = H(v.public_key);
    const Hash32 msg = H(v.message);
    const Signature sig = Sig(v.signature);
    CHECK(VerifySignature(pk, msg, sig) == v.valid);
    (v.valid ? valid : invalid)++;
    const bool bad_key = v.index == 5 || v.index == 14;
    CHECK(IsValidPubKey(pk) == !bad_key);
    if (v.valid) {
      // Any single flipped bit of the signature, message or key breaks a valid signature.
      for (int bit : {0, 255, 256, 511}) {
        Signature s = sig;
        s[bit / 8] ^= static_cast<uint8_t>(1u << (bit % 8));
        CHECK_FALSE(VerifySignature(pk, msg, s));
      }
      Hash32 m = msg;
      m.v[31] ^= 1;
      CHECK_FALSE(VerifySignature(pk, m, sig));
      PubKey k = pk;
      k.v[31] ^= 1;
      CHECK_FALSE(VerifySignature(k, msg, sig));
    }
  }
  CHECK(valid == 5);
  CHECK(invalid == 10);
}

TEST_CASE("crypto: BIP-340 signing vectors through SecretKey", "[crypto][bip340]") {
  for (const Bip340Vector& v : kBip340) {
    if (std::string_view(v.secret_key).empty()) continue;
    INFO("BIP-340 vector " << v.index);
    auto key = SecretKey::FromHex(v.secret_key);
    REQUIRE(key.ok());
    CHECK(key->pubkey() == H(v.public_key));
    const Hash32 msg = H(v.message);
    // Sign() draws fresh aux randomness, so it cannot reproduce the vector's signature,
    // but what it makes must verify, and two signatures of one message differ.
    const Signature a = key->Sign(msg), b = key->Sign(msg);
    CHECK(VerifySignature(key->pubkey(), msg, a));
    CHECK(VerifySignature(key->pubkey(), msg, b));
    CHECK(a != b);
    // SignDeterministic() is BIP-340 signing with aux_rand = 32 zero bytes (libsecp256k1
    // with a NULL aux pointer), which is exactly vector 0's input.
    const Signature d = key->SignDeterministic(msg);
    CHECK(VerifySignature(key->pubkey(), msg, d));
    CHECK(d == key->SignDeterministic(msg));
    if (std::string_view(v.aux_rand) ==
        "0000000000000000000000000000000000000000000000000000000000000000") {
      CHECK(d == Sig(v.signature));
    }
  }
}

// Sign()'s aux randomness comes from a per-thread stream; no two threads, and no forked
// child, may replay another's: a repeat would give the same signature for the same message.
TEST_CASE("crypto: aux randomness differs across threads and forks", "[crypto]") {
  const SecretKey key = SecretKey::FromSeed("aux-stream");
  const Hash32 msg = Sha256(ByteView(reinterpret_cast<const uint8_t*>("m"), 1));
  std::set<Signature> sigs;
  for (int i = 0; i < 16; ++i) sigs.insert(key.Sign(msg));
  std::vector<Signature> from_threads(8);
  std::vector<std::thread> threads;
  for (auto& s : from_threads) threads.emplace_back([&] { s = key.Sign(msg); });
  for (auto& t : threads) t.join();
  for (const Signature& s : from_threads) sigs.insert(s);
  CHECK(sigs.size() == 24);

  // The parent's stream is seeded (above); the child's next signature must differ from the
  // parent's next one, which a copied stream would repeat.
  int fds[2];
  REQUIRE(::pipe(fds) == 0);
  pid_t child = ::fork();
  REQUIRE(child >= 0);
  if (child == 0) {
    Signature s = key.Sign(msg);
    bool ok = ::write(fds[1], s.data(), s.size()) == static_cast<ssize_t>(s.size());
    ::_exit(ok ? 0 : 1);
  }
  ::close(fds[1]);
  Signature from_child;
  size_t got = 0;
  while (got < from_child.size()) {
    ssize_t n = ::read(fds[0], from_child.data() + got, from_child.size() - got);
    if (n <= 0) break;
    got += static_cast<size_t>(n);
  }
  ::close(fds[0]);
  int status = 0;
  REQUIRE(::waitpid(child, &status, 0) == child);
  REQUIRE(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 0);
  REQUIRE(got == from_child.size());
  const Signature from_parent = key.Sign(msg);
  CHECK(VerifySignature(key.pubkey(), msg, from_child));
  CHECK(from_child != from_parent);
  CHECK(sigs.count(from_child) == 0);
}

TEST_CASE("crypto: secret keys are checked scalars", "[crypto]") {
  auto zero = SecretKey::FromHex(std::string(64, '0'));
  REQUIRE_FALSE(zero.ok());
  CHECK(zero.status().message().find("not a valid secp256k1 scalar") != std::string::npos);
  // The curve order n itself and 2^256 - 1 are out of range; n - 1 is the largest key.
  CHECK_FALSE(
      SecretKey::FromHex("FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141").ok());
  CHECK_FALSE(SecretKey::FromHex(std::string(64, 'f')).ok());
  CHECK(
      SecretKey::FromHex("FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364140").ok());
  CHECK(SecretKey::FromHex(std::string(63, '1')).status().code() == Status::Code::kInvalidArgument);
  CHECK_FALSE(SecretKey::FromHex(std::string(62, '1') + "zz").ok());
  CHECK_FALSE(SecretKey::FromBytes(Bytes(31, 1)).ok());
  CHECK_FALSE(SecretKey::FromBytes(Bytes(33, 1)).ok());

  // Hex() round-trips; FromSeed is deterministic; Generate is not.
  SecretKey g = SecretKey::Generate();
  auto again = SecretKey::FromHex(g.Hex());
  REQUIRE(again.ok());
  CHECK(again->pubkey() == g.pubkey());
  CHECK(SecretKey::FromSeed("alice").pubkey() == SecretKey::FromSeed("alice").pubkey());
  CHECK(SecretKey::FromSeed("alice").pubkey() != SecretKey::FromSeed("bob").pubkey());
  CHECK(SecretKey::Generate().pubkey() != SecretKey::Generate().pubkey());
  // Copies sign as the original.
  SecretKey copy = g;
  const Hash32 msg = Sha256(std::string_view("copy"));
  CHECK(copy.SignDeterministic(msg) == g.SignDeterministic(msg));
}

// ---- ECDH ----

// n - k for a 32-byte big-endian scalar k: the key with the same x-only public key and the
// opposite y parity. Exactly one of k and n - k has an odd-y public point.
SecretKey Negate(const SecretKey& k) {
  static const uint8_t kOrder[32] = {0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF,
                                     0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFE,
                                     0xBA, 0xAE, 0xDC, 0xE6, 0xAF, 0x48, 0xA0, 0x3B,
                                     0xBF, 0xD2, 0x5E, 0x8C, 0xD0, 0x36, 0x41, 0x41};
  auto bytes = FromHex(k.Hex());
  REQUIRE(bytes.ok());
  Bytes out(32);
  int borrow = 0;
  for (int i = 31; i >= 0; --i) {
    int d = int(kOrder[i]) - int((*bytes)[i]) - borrow;
    borrow = d < 0;
    out[i] = static_cast<uint8_t>(d + (borrow ? 256 : 0));
  }
  auto neg = SecretKey::FromBytes(out);
  REQUIRE(neg.ok());
  return *neg;
}

TEST_CASE("crypto: ECDH is symmetric for keys of either y parity", "[crypto][ecdh]") {
  for (int i = 0; i < 40; ++i) {
    const SecretKey a = SecretKey::Generate(), b = SecretKey::Generate();
    const SecretKey na = Negate(a), nb = Negate(b);
    REQUIRE(na.pubkey() == a.pubkey());  // same x-only key, other parity
    REQUIRE(na.Hex() != a.Hex());
    auto ab = a.Ecdh(b.pubkey());
    REQUIRE(ab.ok());
    // Every combination of parities agrees on one secret.
    for (const SecretKey* x : {&a, &na}) {
      for (const SecretKey* y : {&b, &nb}) {
        auto xy = x->Ecdh(y->pubkey()), yx = y->Ecdh(x->pubkey());
        REQUIRE(xy.ok());
        REQUIRE(yx.ok());
        CHECK(*xy == *ab);
        CHECK(*yx == *ab);
      }
    }
    // And it depends on both keys.
    auto ac = a.Ecdh(SecretKey::Generate().pubkey());
    REQUIRE(ac.ok());
    CHECK(*ac != *ab);
  }
}

TEST_CASE("crypto: ECDH known answers and bad peers", "[crypto][ecdh]") {
  // The secret is SHA256(x(k * P)): with k = 1 it is SHA256 of the peer key itself, and
  // 3 * G is BIP-340 vector 0's public key.
  auto one = SecretKey::FromHex(std::string(63, '0') + "1");
  auto three = SecretKey::FromHex(std::string(63, '0') + "3");
  REQUIRE(one.ok());
  REQUIRE(three.ok());
  const PubKey peer = SecretKey::FromSeed("peer").pubkey();
  auto s1 = one->Ecdh(peer);
  REQUIRE(s1.ok());
  CHECK(*s1 == Sha256(peer.view()));
  auto s3 = three->Ecdh(one->pubkey());  // 3 * G
  REQUIRE(s3.ok());
  CHECK(*s3 ==
        Sha256(H("F9308A019258C31049344F85F89D5229B531C845836F99B08601F113BCE036F9").view()));

  // Keys that are not curve points are refused, not silently mapped to something.
  for (const char* bad : {"EEFDEA4CDB677750A420FEE807EACF21EB9898AE79B9768766E4FAA04A2D4A34",
                          "FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEFFFFFC30"}) {
    auto r = three->Ecdh(H(bad));
    REQUIRE_FALSE(r.ok());
    CHECK(r.status().code() == Status::Code::kInvalidArgument);
    CHECK(r.status().message().find("not on the curve") != std::string::npos);
  }
}

// ---- key files ----

struct TempDir {
  std::filesystem::path path;
  TempDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "fedledger-crypto-XXXXXX");
    REQUIRE(::mkdtemp(tmpl.data()) != nullptr);
    path = tmpl;
  }
  ~TempDir() { std::filesystem::remove_all(path); }
  std::string File(const std::string& name) const { return (path / name).string(); }
};

void WriteFile(const std::string& path, const std::string& content, mode_t mode) {
  {
    std::ofstream f(path, std::ios::binary | std::ios::trunc);
    f << content;
    REQUIRE(f.good());
  }
  REQUIRE(::chmod(path.c_str(), mode) == 0);
}

mode_t ModeOf(const std::string& path) {
  struct stat st;
  REQUIRE(::stat(path.c_str(), &st) == 0);
  return st.st_mode & 07777;
}

std::string ReadFile(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(f), {});
}

TEST_CASE("crypto: key files are created 0600 and never overwritten", "[crypto][keyfile]") {
  TempDir dir;
  const std::string path = dir.File("partner.key");
  const SecretKey key = SecretKey::Generate();
  // Even with a permissive umask the file is private.
  mode_t old_umask = ::umask(0);
  Status saved = SaveSecretKey(path, key);
  ::umask(old_umask);
  REQUIRE(saved.ok());
  CHECK(ModeOf(path) == 0600);
  CHECK(ReadFile(path) == key.Hex() + "\n");

  auto loaded = LoadSecretKey(path);
  REQUIRE(loaded.ok());
  CHECK(loaded->pubkey() == key.pubkey());
  CHECK(loaded->Hex() == key.Hex());

  const std::string before = ReadFile(path);
  Status again = SaveSecretKey(path, SecretKey::Generate());
  CHECK(again.code() == Status::Code::kAlreadyExists);
  CHECK(again.message().find("refusing to overwrite") != std::string::npos);
  CHECK(ReadFile(path) == before);

  // A missing directory is an I/O error, not a crash.
  CHECK(SaveSecretKey(dir.File("no/such/dir.key"), key).code() == Status::Code::kIOError);
  CHECK(LoadSecretKey(dir.File("absent.key")).status().code() == Status::Code::kNotFound);
}

TEST_CASE("crypto: key files readable by group or others are refused", "[crypto][keyfile]") {
  TempDir dir;
  const std::string path = dir.File("k.key");
  const SecretKey key = SecretKey::Generate();
  REQUIRE(SaveSecretKey(path, key).ok());
  for (mode_t mode : {0640, 0604, 0644, 0660, 0606, 0610, 0601, 0666}) {
    INFO("mode " << std::oct << mode);
    REQUIRE(::chmod(path.c_str(), mode) == 0);
    auto r = LoadSecretKey(path);
    REQUIRE_FALSE(r.ok());
    CHECK(r.status().code() == Status::Code::kPermissionDenied);
    char m[8];
    std::snprintf(m, sizeof m, "%04o", static_cast<unsigned>(mode));
    CHECK(r.status().message().find(m) != std::string::npos);
    CHECK(r.status().message().find("chmod 600") != std::string::npos);
    // The refusal must not echo the secret.
    CHECK(r.status().message().find(key.Hex()) == std::string::npos);
  }
  for (mode_t mode : {0600, 0400}) {
    REQUIRE(::chmod(path.c_str(), mode) == 0);
    CHECK(LoadSecretKey(path).ok());
  }
}

TEST_CASE("crypto: key files with garbage are rejected with a clear message", "[crypto][keyfile]") {
  TempDir dir;
  const std::string valid = SecretKey::Generate().Hex();
  struct Case {
    const char* name;
    std::string content;
    const char* says;
  };
  const std::vector<Case> cases = {
      {"empty", "", "64 hex digits"},
      {"not hex", std::string(64, 'g') + "\n", "hex digit"},
      {"too short", valid.substr(0, 63) + "\n", "64 hex digits"},
      {"too long", valid + "00\n", "64 hex digits"},
      {"two keys", valid + "\n" + valid + "\n", "64 hex digits"},
      {"trailing junk", valid + " junk\n", "64 hex digits"},
      {"junk after padding", valid + "\n" + std::string(100, ' ') + "junk\n", "too long"},
      {"zero scalar", std::string(64, '0') + "\n", "not a valid secp256k1 scalar"},
      {"binary", std::string("\x00\x01\x02\xff", 4), ""},
      {"pem", "-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEI\n-----END PRIVATE KEY-----\n",
       ""},
  };
  for (const Case& c : cases) {
    INFO("key file content: " << c.name);
    const std::string path = dir.File(std::string(c.name) + ".key");
    WriteFile(path, c.content, 0600);
    auto r = LoadSecretKey(path);
    REQUIRE_FALSE(r.ok());
    CHECK(r.status().code() == Status::Code::kInvalidArgument);
    CHECK(r.status().message().find("key file " + path) != std::string::npos);
    CHECK(r.status().message().find(c.says) != std::string::npos);
  }
  // A trailing CR LF and upper-case hex are fine (hand-edited files).
  const std::string path = dir.File("upper.key");
  std::string upper = valid;
  for (char& ch : upper) ch = static_cast<char>(std::toupper(ch));
  WriteFile(path, upper + "\r\n", 0600);
  auto r = LoadSecretKey(path);
  REQUIRE(r.ok());
  CHECK(r->Hex() == valid);
}

}  // namespace
}  // namespace fedledger
