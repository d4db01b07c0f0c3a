// Batch signature verification and the group arithmetic under it, checked against
// libsecp256k1 (scalar multiples of G) and against one-at-a-time verification.
#include <secp256k1.h>

#include <catch2/catch.hpp>
#include <cstring>
#include <random>

#include "ledger/crypto.h"
#include "ledger/secp256k1_group.h"

namespace fedledger {
namespace {

using secp::Fe;
using secp::Ge;
using secp::Gej;

const uint8_t kGx[32] = {0x79, 0xBE, 0x66, 0x7E, 0xF9, 0xDC, 0xBB, 0xAC, 0x55, 0xA0, 0x62,
                         0x95, 0xCE, 0x87, 0x0B, 0x07, 0x02, 0x9B, 0xFC, 0xDB, 0x2D, 0xCE,
                         0x28, 0xD9, 0x59, 0xF2, 0x81, 0x5B, 0x16, 0xF8, 0x17, 0x98};
const uint8_t kGy[32] = {0x48, 0x3A, 0xDA, 0x77, 0x26, 0xA3, 0xC4, 0x65, 0x5D, 0xA4, 0xFB,
                         0xFC, 0x0E, 0x11, 0x08, 0xA8, 0xFD, 0x17, 0xB4, 0x48, 0xA6, 0x85,
                         0x54, 0x19, 0x9C, 0x47, 0xD0, 0x8F, 0xFB, 0x10, 0xD4, 0xB8};

Ge Generator() { return Ge{secp::FeFromBytes(kGx), secp::FeFromBytes(kGy)}; }

const secp256k1_context* TestCtx() {
  static secp256k1_context* ctx = secp256k1_context_create(SECP256K1_CONTEXT_NONE);
  return ctx;
}

// k*G from libsecp256k1, affine.
Ge LibMulG(const uint8_t* k32) {
  secp256k1_pubkey p;
  REQUIRE(secp256k1_ec_pubkey_create(TestCtx(), &p, k32));
  uint8_t full[65];
  size_t len = sizeof full;
  secp256k1_ec_pubkey_serialize(TestCtx(), full, &len, &p, SECP256K1_EC_UNCOMPRESSED);
  return Ge{secp::FeFromBytes(full + 1), secp::FeFromBytes(full + 33)};
}

// A valid scalar below n (retries the rare value at or above n).
std::array<uint8_t, 32> RandomScalar(std::mt19937_64& rng) {
  std::array<uint8_t, 32> k;
  do {
    for (auto& b : k) b = static_cast<uint8_t>(rng());
  } while (!secp256k1_ec_seckey_verify(TestCtx(), k.data()));
  return k;
}

Gej NaiveMul(const secp::Scalar& k, const Ge& p) {
  Gej acc;
  for (int bit = 255; bit >= 0; --bit) {
    acc = secp::Double(acc);
    if ((k.w[bit / 64] >> (bit % 64)) & 1) acc = secp::AddAffine(acc, p);
  }
  return acc;
}

TEST_CASE("field: Normalize gives the representative below p") {
  // p itself and p + 1, written out in limbs, normalize to 0 and 1.
  Fe p{{secp::kP0, secp::kM52, secp::kM52, secp::kM52, secp::kP4}};
  CHECK(secp::IsZero(p));
  Fe p1 = p;
  p1.n[0] += 1;
  CHECK(secp::Equal(p1, secp::FeInt(1)));
  // -1 squared is 1; (p - 1) * (p - 1) reduces through every column.
  Fe minus_one = secp::Neg(secp::FeInt(1), 1);
  CHECK(secp::Equal(secp::Sqr(minus_one), secp::FeInt(1)));
  CHECK(secp::Equal(secp::Mul(minus_one, minus_one), secp::FeInt(1)));
  CHECK(secp::IsZero(secp::Add(minus_one, secp::FeInt(1))));
}

TEST_CASE("field: Mul and Sqr agree and Neg inverts Add on random elements") {
  std::mt19937_64 rng(7);
  for (int i = 0; i < 2000; ++i) {
    uint8_t a32[32], b32[32];
    for (auto& x : a32) x = static_cast<uint8_t>(rng());
    for (auto& x : b32) x = static_cast<uint8_t>(rng());
    a32[0] &= 0x7F;  // below p
    b32[0] &= 0x7F;
    Fe a = secp::FeFromBytes(a32), b = secp::FeFromBytes(b32);
    REQUIRE(secp::Equal(secp::Sqr(a), secp::Mul(a, a)));
    // (a + b)^2 == a^2 + 2ab + b^2, with inputs of magnitude up to 8
    Fe big_a = secp::MulInt(a, 8);
    Fe lhs = secp::Sqr(secp::Add(big_a, b));
    Fe rhs = secp::Add(secp::Add(secp::Sqr(big_a), secp::MulInt(secp::Mul(big_a, b), 2)),
                       secp::Sqr(b));
    REQUIRE(secp::Equal(lhs, rhs));
    REQUIRE(secp::IsZero(secp::Add(secp::Add(a, b), secp::Neg(secp::Add(a, b), 2))));
    REQUIRE(secp::Equal(secp::Mul(a, b), secp::Mul(b, a)));
  }
}

TEST_CASE("field: Inv inverts and ToAffine matches each point's own affine form") {
  std::mt19937_64 rng(5);
  for (int i = 0; i < 200; ++i) {
    uint8_t a32[32];
    for (auto& x : a32) x = static_cast<uint8_t>(rng());
    a32[0] &= 0x7F;
    Fe a = secp::FeFromBytes(a32);
    if (secp::IsZero(a)) continue;
    REQUIRE(secp::Equal(secp::Mul(a, secp::Inv(a)), secp::FeInt(1)));
  }
  CHECK(secp::Equal(secp::Inv(secp::FeInt(1)), secp::FeInt(1)));
  // k G for k = 1..9 in Jacobian form with z != 1, then back to affine in one inversion.
  const Ge g = Generator();
  std::vector<Gej> jac;
  Gej acc = secp::ToJacobian(g);
  jac.push_back(secp::Double(acc));
  for (int k = 3; k <= 9; ++k) jac.push_back(secp::AddAffine(jac.back(), g));
  std::vector<Ge> aff(jac.size());
  REQUIRE(secp::ToAffine(jac.data(), aff.data(), jac.size()));
  for (size_t i = 0; i < jac.size(); ++i) {
    uint8_t k32[32] = {};
    k32[31] = static_cast<uint8_t>(i + 2);
    INFO("k=" << i + 2);
    REQUIRE(secp::EqualsAffine(secp::ToJacobian(aff[i]), LibMulG(k32)));
  }
  // A table of odd multiples, and the fixed-table path of the multiplication.
  secp::FixedTable t = *secp::OddMultiples(secp::ToJacobian(g), 6);
  REQUIRE(t.odd.size() == 16);
  for (size_t i = 0; i < t.odd.size(); ++i) {
    uint8_t k32[32] = {};
    k32[31] = static_cast<uint8_t>(2 * i + 1);
    REQUIRE(secp::EqualsAffine(secp::ToJacobian(t.odd[i]), LibMulG(k32)));
  }
  for (int i = 0; i < 20; ++i) {
    auto k = RandomScalar(rng);
    std::vector<std::pair<secp::Scalar, const secp::FixedTable*>> fixed{
        {secp::Scalar::FromBytes(k.data()), &t}};
    REQUIRE(secp::EqualsAffine(*secp::MultiScalarMul({}, 5, fixed), LibMulG(k.data())));
  }
}

TEST_CASE("group: scalar multiples of G match libsecp256k1") {
  std::mt19937_64 rng(11);
  const Ge g = Generator();
  for (int i = 0; i < 40; ++i) {
    auto k = RandomScalar(rng);
    Ge expect = LibMulG(k.data());
    secp::Scalar s = secp::Scalar::FromBytes(k.data());
    REQUIRE(secp::EqualsAffine(NaiveMul(s, g), expect));
    std::vector<secp::MsmTerm> terms{{s, g}};
    REQUIRE(secp::EqualsAffine(*secp::MultiScalarMul(terms, 5, {}), expect));
    REQUIRE(secp::EqualsAffine(*secp::MultiScalarMul(terms, 2, {}), expect));
  }
  // Small multiples go through the doubling and equal-point cases.
  for (int k = 1; k < 40; ++k) {
    uint8_t k32[32] = {};
    k32[31] = static_cast<uint8_t>(k);
    std::vector<secp::MsmTerm> terms{{secp::Scalar::FromBytes(k32), g}};
    REQUIRE(secp::EqualsAffine(*secp::MultiScalarMul(terms, 4, {}), LibMulG(k32)));
  }
}

TEST_CASE("group: a multi-scalar sum equals the sum of its products and P - P is infinity") {
  std::mt19937_64 rng(13);
  const Ge g = Generator();
  // sum k_i (m_i G) == (sum k_i m_i) G, computed by libsecp256k1 on the right.
  for (int round = 0; round < 10; ++round) {
    std::vector<secp::MsmTerm> terms;
    uint8_t total[32] = {};
    bool have_total = false;
    size_t n = 1 + rng() % 12;
    for (size_t i = 0; i < n; ++i) {
      auto m = RandomScalar(rng);
      auto k = RandomScalar(rng);
      terms.push_back({secp::Scalar::FromBytes(k.data()), LibMulG(m.data())});
      uint8_t km[32];
      std::memcpy(km, m.data(), 32);
      REQUIRE(secp256k1_ec_seckey_tweak_mul(TestCtx(), km, k.data()));
      if (!have_total) {
        std::memcpy(total, km, 32);
        have_total = true;
      } else {
        REQUIRE(secp256k1_ec_seckey_tweak_add(TestCtx(), total, km));
      }
    }
    REQUIRE(secp::EqualsAffine(*secp::MultiScalarMul(terms, 5, {}), LibMulG(total)));
    REQUIRE(secp::EqualsAffine(*secp::MultiScalarMul(terms, 5, {}, 1), LibMulG(total)));
  }
  // The affine pairwise sums at every size (min_pairs 1), with equal points and opposite
  // points in one bit's additions, which must leave the affine path for the complete one.
  for (int round = 0; round < 20; ++round) {
    std::vector<secp::MsmTerm> terms;
    size_t n = 1 + rng() % 40;
    for (size_t i = 0; i < n; ++i) {
      auto m = RandomScalar(rng);
      auto k = RandomScalar(rng);
      terms.push_back({secp::Scalar::FromBytes(k.data()), LibMulG(m.data())});
      if (rng() % 3 == 0) terms.push_back(terms.back());  // the same point and scalar twice
      if (rng() % 5 == 0) {                               // and its negation: sums cancel
        terms.push_back({terms.back().scalar, secp::Negate(terms.back().point)});
      }
    }
    // Compared with the path without affine sums (min_pairs above any count), checked against
    // libsecp256k1 above.
    auto plain = secp::MultiScalarMul(terms, 5, {}, SIZE_MAX);
    auto paired = secp::MultiScalarMul(terms, 5, {}, 1);
    REQUIRE(plain);
    REQUIRE(paired);
    if (secp::IsInfinity(*plain)) {
      REQUIRE(secp::IsInfinity(*paired));
    } else {
      REQUIRE(!secp::IsInfinity(*paired));
      secp::Ge a;
      REQUIRE(secp::ToAffine(&*plain, &a, 1));
      REQUIRE(secp::EqualsAffine(*paired, a));
    }
  }
  {
    auto k = RandomScalar(rng);
    auto m = RandomScalar(rng);
    Ge q = LibMulG(m.data());
    secp::Scalar s = secp::Scalar::FromBytes(k.data());
    std::vector<secp::MsmTerm> cancel{{s, q}, {s, secp::Negate(q)}};
    REQUIRE(secp::IsInfinity(*secp::MultiScalarMul(cancel, 5, {}, 1)));
  }
  Gej p = secp::ToJacobian(g);
  CHECK(secp::IsInfinity(secp::AddAffine(p, secp::Negate(g))));
  CHECK(secp::IsInfinity(secp::AddPoints(secp::Double(p), secp::Negate(secp::Double(p)))));
  CHECK(secp::EqualsAffine(secp::AddAffine(p, g), LibMulG(std::array<uint8_t, 32>{
                                                       0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
                                                       0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
                                                       0, 0, 0, 0, 0, 0, 0, 0, 0, 2}
                                                       .data())));
}

struct Signed {
  PubKey key;
  Hash32 digest;
  Signature sig;
};

std::vector<Signed> MakeSigned(size_t n, size_t keys, uint64_t seed) {
  std::vector<SecretKey> sks;
  for (size_t k = 0; k < keys; ++k) {
    sks.push_back(SecretKey::FromSeed("batch-" + std::to_string(seed) + "-" + std::to_string(k)));
  }
  std::vector<Signed> out;
  for (size_t i = 0; i < n; ++i) {
    const SecretKey& sk = sks[i % keys];
    Hash32 d = Sha256("message " + std::to_string(seed) + "/" + std::to_string(i));
    out.push_back(Signed{sk.pubkey(), d, sk.Sign(d)});
  }
  return out;
}

std::vector<SignatureCheck> Checks(const std::vector<Signed>& s) {
  std::vector<SignatureCheck> c;
  for (const Signed& x : s) c.push_back(SignatureCheck{&x.key, &x.digest, &x.sig});
  return c;
}

TEST_CASE("batch: valid batches of every size and key mix pass") {
  for (size_t n : {1, 2, 3, 4, 5, 8, 17, 64, 150}) {
    for (size_t keys : {size_t{1}, size_t{3}, n}) {
      auto s = MakeSigned(n, std::min(keys, n), n * 100 + keys);
      auto c = Checks(s);
      INFO("n=" << n << " keys=" << keys);
      REQUIRE(VerifySignatureBatch(c));
      auto v = VerifySignatures(c);
      REQUIRE(std::count(v.begin(), v.end(), true) == static_cast<long>(n));
    }
  }
  CHECK(VerifySignatureBatch({}));
  // The same signature twice is still a valid batch.
  auto s = MakeSigned(3, 1, 99);
  s.push_back(s[1]);
  CHECK(VerifySignatureBatch(Checks(s)));
}

TEST_CASE("batch: any one bad signature fails the batch and is singled out") {
  std::mt19937_64 rng(17);
  for (int round = 0; round < 60; ++round) {
    size_t n = 1 + rng() % 40;
    auto s = MakeSigned(n, 1 + rng() % 4, 1000 + round);
    size_t bad = rng() % n;
    switch (round % 5) {
      case 0: s[bad].sig[rng() % 32] ^= static_cast<uint8_t>(1u << (rng() % 8)); break;  // r
      case 1: s[bad].sig[32 + rng() % 32] ^= static_cast<uint8_t>(1u << (rng() % 8)); break;
      case 2: s[bad].digest.v[rng() % 32] ^= 1; break;
      case 3: s[bad].key = SecretKey::FromSeed("someone else").pubkey(); break;
      case 4: std::swap(s[bad].sig, s[(bad + 1) % n].sig); break;
    }
    bool still_valid = round % 5 == 4 && s[bad].key == s[(bad + 1) % n].key &&
                       s[bad].digest == s[(bad + 1) % n].digest;
    if (still_valid || (round % 5 == 4 && n == 1)) continue;
    auto c = Checks(s);
    INFO("round " << round << " n=" << n << " bad=" << bad);
    REQUIRE_FALSE(VerifySignatureBatch(c));
    auto v = VerifySignatures(c);
    for (size_t i = 0; i < n; ++i) {
      REQUIRE(v[i] == VerifySignature(s[i].key, s[i].digest, s[i].sig));
    }
    REQUIRE_FALSE(v[bad]);
  }
}

// Keys signing once, first unseen (checked alone), then seen (batched): the verdicts are the
// same either way, and a bad signature is found in both.
TEST_CASE("batch: verdicts do not depend on which keys were seen before") {
  for (int pass = 0; pass < 3; ++pass) {
    auto s = MakeSigned(12, 12, 4242);  // the same twelve keys on every pass
    for (size_t i = 0; i < s.size(); ++i) {
      s[i].digest = Sha256("pass " + std::to_string(pass) + "/" + std::to_string(i));
      s[i].sig = SecretKey::FromSeed("batch-4242-" + std::to_string(i)).Sign(s[i].digest);
    }
    size_t bad = 3 + pass;
    s[bad].sig[40] ^= 0x10;
    auto c = Checks(s);
    auto v = VerifySignatures(c);
    INFO("pass " << pass);
    for (size_t i = 0; i < s.size(); ++i) REQUIRE(v[i] == (i != bad));
  }
}

// A batch larger than VerifySignatures' chunk size is checked in chunks: a bad signature costs
// only its own chunk a one-by-one check, and every verdict is still right.
TEST_CASE("batch: a large batch is checked in chunks") {
  auto s = MakeSigned(600, 3, 777);
  auto all_good = VerifySignatures(Checks(s));
  REQUIRE(std::count(all_good.begin(), all_good.end(), true) == 600);
  s[401].sig[50] ^= 0x01;
  s[17].digest.v[3] ^= 0x80;
  auto v = VerifySignatures(Checks(s));
  for (size_t i = 0; i < s.size(); ++i) REQUIRE(v[i] == (i != 401 && i != 17));
}

TEST_CASE("batch: out-of-range and off-curve values are refused") {
  auto s = MakeSigned(6, 2, 5);
  SECTION("s at or above n") {
    std::fill(s[2].sig.begin() + 32, s[2].sig.end(), 0xFF);
  }
  SECTION("r not on the curve or not below p") {
    // x = 5 has no point on secp256k1 (5^3 + 7 = 132 is not a square mod p).
    std::fill(s[3].sig.begin(), s[3].sig.begin() + 32, 0);
    s[3].sig[31] = 5;
    auto c = Checks(s);
    REQUIRE_FALSE(VerifySignatureBatch(c));
    std::fill(s[3].sig.begin(), s[3].sig.begin() + 32, 0xFF);
  }
  SECTION("a key that is not on the curve") {
    s[4].key = PubKey{};
    s[4].key.v[31] = 5;
  }
  auto c = Checks(s);
  CHECK_FALSE(VerifySignatureBatch(c));
  auto v = VerifySignatures(c);
  CHECK(std::count(v.begin(), v.end(), false) == 1);
}

// Two signatures that are each invalid but whose errors cancel in an unrandomized sum are
// caught: the randomizers make the combination unpredictable.
TEST_CASE("batch: errors that cancel without randomizers are caught") {
  auto s = MakeSigned(8, 2, 21);
  // Add 1 to s_2 and subtract 1 from s_5 (mod n): sum s_i is unchanged.
  uint8_t one[32] = {};
  one[31] = 1;
  uint8_t minus_one[32] = {};
  minus_one[31] = 1;
  REQUIRE(secp256k1_ec_seckey_negate(TestCtx(), minus_one));
  REQUIRE(secp256k1_ec_seckey_tweak_add(TestCtx(), s[2].sig.data() + 32, one));
  REQUIRE(secp256k1_ec_seckey_tweak_add(TestCtx(), s[5].sig.data() + 32, minus_one));
  auto c = Checks(s);
  CHECK_FALSE(VerifySignatureBatch(c));
  auto v = VerifySignatures(c);
  CHECK(std::count(v.begin(), v.end(), false) == 2);
}

// R's y as libsecp256k1 lifts it: the even-y point with x = r.
Hash32 LibRY(const Signature& sig) {
  uint8_t compressed[33];
  compressed[0] = 0x02;
  std::memcpy(compressed + 1, sig.data(), 32);
  secp256k1_pubkey p;
  REQUIRE(secp256k1_ec_pubkey_parse(TestCtx(), &p, compressed, sizeof compressed));
  uint8_t full[65];
  size_t len = sizeof full;
  secp256k1_ec_pubkey_serialize(TestCtx(), full, &len, &p, SECP256K1_EC_UNCOMPRESSED);
  Hash32 y;
  std::memcpy(y.data(), full + 33, 32);
  return y;
}

// p - y: the other point with the same x (odd y when y is even).
Hash32 OtherY(const Hash32& y) {
  static const uint8_t kP[32] = {0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF,
                                 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF,
                                 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFE, 0xFF, 0xFF, 0xFC, 0x2F};
  Hash32 out;
  int borrow = 0;
  for (int i = 31; i >= 0; --i) {
    int d = kP[i] - y.v[i] - borrow;
    borrow = d < 0;
    out.v[i] = static_cast<uint8_t>(d + (borrow ? 256 : 0));
  }
  return out;
}

TEST_CASE("batch: R's y comes out of a batch and goes back in as a hint") {
  auto s = MakeSigned(40, 5, 606);
  auto c = Checks(s);
  std::vector<Hash32> ys;
  auto v = VerifySignatures(c, &ys);
  REQUIRE(std::count(v.begin(), v.end(), true) == 40);
  REQUIRE(ys.size() == 40);
  for (size_t i = 0; i < s.size(); ++i) REQUIRE(ys[i] == LibRY(s[i].sig));

  // Hinted, the verdicts are the same, and so are the ys handed on.
  for (size_t i = 0; i < c.size(); ++i) c[i].r_y = &ys[i];
  std::vector<Hash32> again;
  v = VerifySignatures(c, &again);
  CHECK(std::count(v.begin(), v.end(), true) == 40);
  CHECK(again == ys);

  // A bad signature among good hints is still found, alone.
  s[7].sig[45] ^= 0x04;
  v = VerifySignatures(c);
  for (size_t i = 0; i < s.size(); ++i) REQUIRE(v[i] == (i != 7));

  // Signatures checked alone (fewer than a batch) have no y to hand on.
  auto few = MakeSigned(2, 2, 607);
  auto fc = Checks(few);
  VerifySignatures(fc, &ys);
  REQUIRE(ys.size() == 2);
  CHECK(ys[0].IsZero());
  CHECK(ys[1].IsZero());
}

// A hint is checked, never trusted: any y but lift_x(r)'s is ignored, R is lifted as without
// one, and so no hint turns a valid batch invalid or an invalid one valid.
TEST_CASE("batch: wrong R hints change no verdict") {
  auto s = MakeSigned(24, 3, 909);
  std::vector<Hash32> good;
  for (const Signed& x : s) good.push_back(LibRY(x.sig));
  Hash32 above_p;
  above_p.v.fill(0xFF);
  above_p.v[31] = 0xFE;  // even, but not below p
  Hash32 zero_but_one_bit{};
  zero_but_one_bit.v[30] = 1;  // even, below p, not on the curve for this x
  std::vector<Hash32> wrong = {OtherY(good[0]), above_p, zero_but_one_bit, good[5]};
  for (const Hash32& w : wrong) {
    for (bool valid : {true, false}) {
      auto t = s;
      if (!valid) t[11].sig[40] ^= 0x20;
      auto c = Checks(t);
      std::vector<Hash32> hints = good;
      for (size_t i = 0; i < c.size(); ++i) c[i].r_y = &hints[i];
      hints[3] = w;  // never signature 5's own y: good[5] is the y of another R
      std::vector<Hash32> ys;
      INFO("hint " << w.Hex() << (valid ? " valid batch" : " one bad signature"));
      CHECK(VerifySignatureBatch(c) == valid);
      auto v = VerifySignatures(c, &ys);
      for (size_t i = 0; i < t.size(); ++i) REQUIRE(v[i] == (valid || i != 11));
      if (valid) CHECK(ys == good);  // the wrong hint replaced by the lifted y
    }
  }
  // The odd y of R itself: the point (r, p - y) is on the curve but is not lift_x(r).
  auto c = Checks(s);
  Hash32 odd = OtherY(good[2]);
  REQUIRE((odd.v[31] & 1) == 1);
  c[2].r_y = &odd;
  CHECK(VerifySignatureBatch(c));
}

}  // namespace
}  // namespace fedledger
