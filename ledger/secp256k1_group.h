// Variable-time secp256k1 field and group arithmetic for batch signature verification.
//
// libsecp256k1 verifies one BIP-340 signature at a time; its multi-scalar multiplication is
// internal. BIP-340 batch verification needs one multi-scalar multiplication over all the
// signatures of a batch, so this header carries the little it takes: the field modulo
// p = 2^256 - 2^32 - 977 in five 52-bit limbs, Jacobian points, doubling and addition, and an
// interleaved wNAF multi-scalar multiplication (Strauss) whose additions at one bit are summed
// first with affine formulas and shared inversions. Public data only: nothing here is
// constant-time, and nothing here may ever touch a secret.
//
// Field elements carry a magnitude m: limbs 0-3 at most 2m(2^52-1), limb 4 at most
// 2m(2^48-1). Mul and Sqr take inputs of magnitude <= 16 and return magnitude 1; Add adds
// magnitudes; Neg(a, m) returns magnitude m+1; NormalizeWeak returns magnitude 1. Points keep
// every coordinate at magnitude 1 (each formula ends with NormalizeWeak).
//
// The formulas are the standard a = 0 Jacobian ones: dbl-2009-l, madd-2007-bl and add-2007-bl
// from the Explicit-Formulas Database (hyperelliptic.org/EFD/g1p/auto-shortw-jacobian-0.html).
#pragma once

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstring>
#include <optional>
#include <utility>
#include <vector>

namespace fedledger::secp {

using u64 = uint64_t;
using u128 = unsigned __int128;

inline constexpr u64 kM52 = 0xFFFFFFFFFFFFFull;
inline constexpr u64 kM48 = 0xFFFFFFFFFFFFull;
inline constexpr u64 kFold256 = 0x1000003D1ull;   // 2^256 mod p
inline constexpr u64 kFold260 = 0x1000003D10ull;  // 2^260 mod p
// p in limbs.
inline constexpr u64 kP0 = 0xFFFFEFFFFFC2Full;
inline constexpr u64 kP4 = 0x0FFFFFFFFFFFFull;

// The field operations are small and called in long dependent chains: inline them always, so
// that the point formulas interleave independent multiplications.
#define FEDLEDGER_SECP_INLINE inline __attribute__((always_inline))

struct Fe {
  u64 n[5];
};

// 32 big-endian bytes, which must encode a value below p (callers pass libsecp256k1's
// serialized coordinates, or check with IsCanonical).
inline Fe FeFromBytes(const uint8_t* b) {
  u64 w[4];
  for (int i = 0; i < 4; ++i) {
    u64 v = 0;
    for (int j = 0; j < 8; ++j) v = (v << 8) | b[(3 - i) * 8 + j];
    w[i] = v;  // w[0] least significant
  }
  Fe r;
  r.n[0] = w[0] & kM52;
  r.n[1] = (w[0] >> 52) | ((w[1] & 0xFFFFFFFFFFull) << 12);
  r.n[2] = (w[1] >> 40) | ((w[2] & 0xFFFFFFFull) << 24);
  r.n[3] = (w[2] >> 28) | ((w[3] & 0xFFFFull) << 36);
  r.n[4] = w[3] >> 16;
  return r;
}

inline Fe FeInt(u64 v) {  // v < 2^52
  return Fe{{v, 0, 0, 0, 0}};
}

FEDLEDGER_SECP_INLINE Fe Add(const Fe& a, const Fe& b) {
  return Fe{{a.n[0] + b.n[0], a.n[1] + b.n[1], a.n[2] + b.n[2], a.n[3] + b.n[3], a.n[4] + b.n[4]}};
}

FEDLEDGER_SECP_INLINE Fe MulInt(const Fe& a, u64 k) {
  return Fe{{a.n[0] * k, a.n[1] * k, a.n[2] * k, a.n[3] * k, a.n[4] * k}};
}

// -a, for a of magnitude at most m; the result has magnitude m + 1.
FEDLEDGER_SECP_INLINE Fe Neg(const Fe& a, u64 m) {
  u64 k = 2 * (m + 1);
  return Fe{{k * kP0 - a.n[0], k * kM52 - a.n[1], k * kM52 - a.n[2], k * kM52 - a.n[3],
             k * kP4 - a.n[4]}};
}

// Carries once and folds the bits above 2^256: magnitude 1.
FEDLEDGER_SECP_INLINE Fe NormalizeWeak(const Fe& a) {
  u64 t0 = a.n[0], t1 = a.n[1], t2 = a.n[2], t3 = a.n[3], t4 = a.n[4];
  u64 x = t4 >> 48;
  t4 &= kM48;
  t0 += x * kFold256;
  t1 += t0 >> 52;
  t0 &= kM52;
  t2 += t1 >> 52;
  t1 &= kM52;
  t3 += t2 >> 52;
  t2 &= kM52;
  t4 += t3 >> 52;
  t3 &= kM52;
  return Fe{{t0, t1, t2, t3, t4}};
}

// Adds k to limb 0 and carries through limbs 1-4 (limb 4 keeps its carry).
inline void AddAndCarry(Fe& r, u64 k) {
  r.n[0] += k;
  for (int i = 0; i < 4; ++i) {
    r.n[i + 1] += r.n[i] >> 52;
    r.n[i] &= kM52;
  }
}

// The unique representative below p, limbs fully carried.
inline Fe Normalize(const Fe& a) {
  Fe r = NormalizeWeak(a);
  // Now below 2^256 + 2^49 or so; one more fold makes it below 2^256.
  if (u64 x = r.n[4] >> 48) {
    r.n[4] &= kM48;
    AddAndCarry(r, x * kFold256);
  }
  // At or above p: subtract p, i.e. add 2^256 - p and drop the bit at 2^256.
  if (r.n[4] == kM48 && (r.n[3] & r.n[2] & r.n[1]) == kM52 && r.n[0] >= kP0) {
    AddAndCarry(r, kFold256);
    r.n[4] &= kM48;
  }
  return r;
}

inline bool IsZero(const Fe& a) {
  Fe r = Normalize(a);
  return (r.n[0] | r.n[1] | r.n[2] | r.n[3] | r.n[4]) == 0;
}

inline bool Equal(const Fe& a, const Fe& b) {
  Fe x = Normalize(a), y = Normalize(b);
  return std::memcmp(x.n, y.n, sizeof x.n) == 0;
}

// Whether FeFromBytes's input was below p (a value at or above p normalizes to another).
inline bool IsCanonical(const Fe& from_bytes) {
  Fe r = Normalize(from_bytes);
  return std::memcmp(r.n, from_bytes.n, sizeof r.n) == 0;
}

// Reduces the nine 104-bit-ish columns d[k] (each below 2^117) of a product.
FEDLEDGER_SECP_INLINE Fe ReduceColumns(u128 d0, u128 d1, u128 d2, u128 d3, u128 d4, u128 d5, u128 d6,
                        u128 d7, u128 d8) {
  // The columns at 2^(52k), k >= 5, stand for 2^(52(k-5)) * 2^260 = 2^(52(k-5)) * kFold260.
  // Each is split at 52 bits so that the multiplication by kFold260 cannot overflow: the low
  // part folds into column k-5, the high part (below 2^66) into column k-4. The four folds are
  // independent of each other, which keeps the dependency chain short.
  auto lo = [](u128 d) { return static_cast<u128>(static_cast<u64>(d) & kM52) * kFold260; };
  auto hi = [](u128 d) { return (d >> 52) * kFold260; };
  d0 += lo(d5);
  d1 += lo(d6) + hi(d5);
  d2 += lo(d7) + hi(d6);
  d3 += lo(d8) + hi(d7);
  d4 += hi(d8);
  u128 c;
  c = d0;
  u64 r0 = static_cast<u64>(c) & kM52;
  c = (c >> 52) + d1;
  u64 r1 = static_cast<u64>(c) & kM52;
  c = (c >> 52) + d2;
  u64 r2 = static_cast<u64>(c) & kM52;
  c = (c >> 52) + d3;
  u64 r3 = static_cast<u64>(c) & kM52;
  c = (c >> 52) + d4;
  u64 r4 = static_cast<u64>(c) & kM48;
  c >>= 48;  // the bits at 2^256 and above: below 2^70
  c = c * kFold256 + r0;
  r0 = static_cast<u64>(c) & kM52;
  r1 += static_cast<u64>(c >> 52);
  return Fe{{r0, r1, r2, r3, r4}};
}

FEDLEDGER_SECP_INLINE Fe Mul(const Fe& a, const Fe& b) {
  const u64 *x = a.n, *y = b.n;
  auto m = [](u64 p, u64 q) { return static_cast<u128>(p) * q; };
  return ReduceColumns(
      m(x[0], y[0]), m(x[0], y[1]) + m(x[1], y[0]),
      m(x[0], y[2]) + m(x[1], y[1]) + m(x[2], y[0]),
      m(x[0], y[3]) + m(x[1], y[2]) + m(x[2], y[1]) + m(x[3], y[0]),
      m(x[0], y[4]) + m(x[1], y[3]) + m(x[2], y[2]) + m(x[3], y[1]) + m(x[4], y[0]),
      m(x[1], y[4]) + m(x[2], y[3]) + m(x[3], y[2]) + m(x[4], y[1]),
      m(x[2], y[4]) + m(x[3], y[3]) + m(x[4], y[2]), m(x[3], y[4]) + m(x[4], y[3]),
      m(x[4], y[4]));
}

FEDLEDGER_SECP_INLINE Fe Sqr(const Fe& a) {
  const u64* x = a.n;
  auto m = [](u64 p, u64 q) { return static_cast<u128>(p) * q; };
  u64 x0d = 2 * x[0], x1d = 2 * x[1], x2d = 2 * x[2], x3d = 2 * x[3];
  return ReduceColumns(m(x[0], x[0]), m(x0d, x[1]), m(x0d, x[2]) + m(x[1], x[1]),
                       m(x0d, x[3]) + m(x1d, x[2]), m(x0d, x[4]) + m(x1d, x[3]) + m(x[2], x[2]),
                       m(x1d, x[4]) + m(x2d, x[3]), m(x2d, x[4]) + m(x[3], x[3]),
                       m(x3d, x[4]), m(x[4], x[4]));
}

// a^(p-2) = 1/a for a != 0 (0 for a = 0), by the addition chain of p - 2 = [223 ones] 0
// [22 ones] 0000101101: 255 squarings and 15 multiplications.
inline Fe Inv(const Fe& a) {
  auto sqr_n = [](Fe x, int n) {
    for (int i = 0; i < n; ++i) x = Sqr(x);
    return x;
  };
  Fe x2 = Mul(Sqr(a), a);
  Fe x3 = Mul(Sqr(x2), a);
  Fe x6 = Mul(sqr_n(x3, 3), x3);
  Fe x9 = Mul(sqr_n(x6, 3), x3);
  Fe x11 = Mul(sqr_n(x9, 2), x2);
  Fe x22 = Mul(sqr_n(x11, 11), x11);
  Fe x44 = Mul(sqr_n(x22, 22), x22);
  Fe x88 = Mul(sqr_n(x44, 44), x44);
  Fe x176 = Mul(sqr_n(x88, 88), x88);
  Fe x220 = Mul(sqr_n(x176, 44), x44);
  Fe x223 = Mul(sqr_n(x220, 3), x3);
  Fe t = Mul(sqr_n(x223, 23), x22);
  t = Mul(sqr_n(t, 5), a);
  t = Mul(sqr_n(t, 3), x2);
  return Mul(sqr_n(t, 2), a);
}

// ---- points ----

struct Ge {  // affine, not infinity
  Fe x, y;
};

struct Gej {  // Jacobian: (X/Z^2, Y/Z^3)
  Fe x, y, z;
  bool inf = true;
};

inline Gej ToJacobian(const Ge& a) { return Gej{a.x, a.y, FeInt(1), false}; }

inline Gej Double(const Gej& a) {
  if (a.inf) return a;
  Fe A = Sqr(a.x);
  Fe B = Sqr(a.y);
  Fe C = Sqr(B);
  Fe t = NormalizeWeak(Add(Add(Sqr(Add(a.x, B)), Neg(A, 1)), Neg(C, 1)));  // (X+B)^2-A-C
  Fe D = MulInt(t, 2);                                                     // magnitude 2
  Fe E = MulInt(A, 3);                                                     // 3
  Fe F = Sqr(E);
  Gej r;
  r.inf = false;
  r.x = NormalizeWeak(Add(F, MulInt(Neg(D, 2), 2)));  // F - 2D
  r.y = NormalizeWeak(Add(Mul(E, Add(D, Neg(r.x, 1))), Neg(MulInt(C, 8), 8)));
  r.z = NormalizeWeak(MulInt(Mul(a.y, a.z), 2));
  return r;
}

// a + b with b affine.
inline Gej AddAffine(const Gej& a, const Ge& b) {
  if (a.inf) return ToJacobian(b);
  Fe Z1Z1 = Sqr(a.z);
  Fe U2 = Mul(b.x, Z1Z1);
  Fe S2 = Mul(Mul(b.y, a.z), Z1Z1);
  Fe H = Add(U2, Neg(a.x, 1));           // 3
  Fe rr = MulInt(Add(S2, Neg(a.y, 1)), 2);  // 6
  if (IsZero(H)) {
    if (IsZero(rr)) return Double(a);
    return Gej{};  // a == -b
  }
  Fe HH = Sqr(H);
  Fe I = MulInt(HH, 4);
  Fe J = Mul(H, I);
  Fe V = Mul(a.x, I);
  Gej r;
  r.inf = false;
  r.x = NormalizeWeak(Add(Add(Sqr(rr), Neg(J, 1)), MulInt(Neg(V, 1), 2)));  // r^2 - J - 2V
  r.y = NormalizeWeak(Add(Mul(rr, Add(V, Neg(r.x, 1))), Neg(MulInt(Mul(a.y, J), 2), 2)));
  r.z = NormalizeWeak(Add(Add(Sqr(Add(a.z, H)), Neg(Z1Z1, 1)), Neg(HH, 1)));
  return r;
}

inline Gej AddPoints(const Gej& a, const Gej& b) {
  if (a.inf) return b;
  if (b.inf) return a;
  Fe Z1Z1 = Sqr(a.z);
  Fe Z2Z2 = Sqr(b.z);
  Fe U1 = Mul(a.x, Z2Z2);
  Fe U2 = Mul(b.x, Z1Z1);
  Fe S1 = Mul(Mul(a.y, b.z), Z2Z2);
  Fe S2 = Mul(Mul(b.y, a.z), Z1Z1);
  Fe H = Add(U2, Neg(U1, 1));               // 3
  Fe rr = MulInt(Add(S2, Neg(S1, 1)), 2);  // 6
  if (IsZero(H)) {
    if (IsZero(rr)) return Double(a);
    return Gej{};
  }
  Fe I = Sqr(MulInt(H, 2));
  Fe J = Mul(H, I);
  Fe V = Mul(U1, I);
  Gej r;
  r.inf = false;
  r.x = NormalizeWeak(Add(Add(Sqr(rr), Neg(J, 1)), MulInt(Neg(V, 1), 2)));
  r.y = NormalizeWeak(Add(Mul(rr, Add(V, Neg(r.x, 1))), Neg(MulInt(Mul(S1, J), 2), 2)));
  Fe zz = NormalizeWeak(Add(Add(Sqr(Add(a.z, b.z)), Neg(Z1Z1, 1)), Neg(Z2Z2, 1)));
  r.z = Mul(zz, H);
  return r;
}

inline Gej Negate(const Gej& a) {
  Gej r = a;
  r.y = NormalizeWeak(Neg(a.y, 1));
  return r;
}

inline Ge Negate(const Ge& a) { return Ge{a.x, NormalizeWeak(Neg(a.y, 1))}; }

inline bool IsInfinity(const Gej& a) { return a.inf || IsZero(a.z); }

// a == b as points (affine b).
inline bool EqualsAffine(const Gej& a, const Ge& b) {
  if (IsInfinity(a)) return false;
  Fe z2 = Sqr(a.z);
  return Equal(a.x, Mul(b.x, z2)) && Equal(a.y, Mul(b.y, Mul(z2, a.z)));
}

// The affine forms of m Jacobian points, with one inversion (Montgomery's trick). False if
// one of them is the point at infinity (`out` then holds nothing usable).
[[nodiscard]] inline bool ToAffine(const Gej* in, Ge* out, size_t m) {
  if (m == 0) return true;
  std::vector<Fe> prefix(m);  // z_0 z_1 ... z_i
  for (size_t i = 0; i < m; ++i) {
    if (in[i].inf) return false;
    prefix[i] = i ? Mul(prefix[i - 1], in[i].z) : in[i].z;
  }
  if (IsZero(prefix[m - 1])) return false;
  Fe inv = Inv(prefix[m - 1]);  // 1 / (z_0 ... z_i) as i walks down
  for (size_t i = m; i-- > 0;) {
    Fe zi = i ? Mul(inv, prefix[i - 1]) : inv;
    if (i) inv = Mul(inv, in[i].z);
    Fe zi2 = Sqr(zi);
    out[i] = Ge{Mul(in[i].x, zi2), Mul(in[i].y, Mul(zi2, zi))};
  }
  return true;
}

// ---- scalars and the multi-scalar multiplication ----

// A scalar as 32 big-endian bytes, in 64-bit little-endian words plus a spare word.
struct Scalar {
  u64 w[5] = {0, 0, 0, 0, 0};
  static Scalar FromBytes(const uint8_t* b, int nbytes = 32) {
    Scalar s;
    for (int i = 0; i < nbytes; ++i) {
      int bit = (nbytes - 1 - i) * 8;
      s.w[bit / 64] |= static_cast<u64>(b[i]) << (bit % 64);
    }
    return s;
  }
};

// Bits [pos, pos + count) of s, count <= 8.
inline int ScalarBits(const Scalar& s, int pos, int count) {
  int word = pos / 64, shift = pos % 64;
  u64 v = s.w[word] >> shift;
  if (shift + count > 64 && word < 4) v |= s.w[word + 1] << (64 - shift);
  return static_cast<int>(v & ((1u << count) - 1));
}

// Width-w non-adjacent form: digits[i] is 0 or odd in (-2^(w-1), 2^(w-1)), and
// sum digits[i] 2^i = s, for s < 2^256. Writes digits[0, 257) and returns the number of digits
// up to the last nonzero one (0 for s = 0). Runs of zero bits are skipped a bit at a time, and
// each nonzero digit consumes a window at once.
inline int Wnaf(int8_t* digits, const Scalar& s, int w) {
  constexpr int kBits = 257;  // one above 256, for the last carry
  std::memset(digits, 0, kBits);
  int carry = 0, len = 0;
  for (int bit = 0; bit < kBits;) {
    if (ScalarBits(s, bit, 1) == carry) {
      ++bit;
      continue;
    }
    int now = std::min(w, kBits - bit);
    int word = ScalarBits(s, bit, now) + carry;
    carry = (word >> (w - 1)) & 1;
    word -= carry << w;
    digits[bit] = static_cast<int8_t>(word);
    len = bit + 1;
    bit += now;
  }
  return len;
}

// sum scalars[i] * points[i], by interleaved wNAF (Strauss): one shared doubling chain as long
// as the longest scalar, and per point a table of its odd multiples P, 3P, ..., (2^(w-1)-1)P,
// affine. The tables of `terms` are built here (in Jacobian form, then made affine with one
// inversion for all); `fixed` adds terms whose points come with their tables (the generator,
// and the cached tables of known keys), each with its own window.
struct MsmTerm {
  Scalar scalar;
  Ge point;
};

struct FixedTable {  // odd multiples 1P, 3P, ..., (2^(w-1)-1)P of a fixed point, affine
  int w = 0;
  std::vector<Ge> odd;
};

// Fills t[0, size) with P's odd multiples in Jacobian form.
inline void OddMultiplesJacobian(const Gej& p, Gej* t, size_t size) {
  t[0] = p;
  if (size < 2) return;
  Gej twice = Double(p);
  for (size_t k = 1; k < size; ++k) t[k] = AddPoints(t[k - 1], twice);
}

// The table of P's odd multiples for window w >= 2; nullopt if P is not of the group's prime
// order (a multiple came to infinity).
inline std::optional<FixedTable> OddMultiples(const Gej& p, int w) {
  const size_t size = size_t{1} << (w - 2);
  std::vector<Gej> jac(size);
  OddMultiplesJacobian(p, jac.data(), size);
  FixedTable t;
  t.w = w;
  t.odd.resize(size);
  if (!ToAffine(jac.data(), t.odd.data(), size)) return std::nullopt;
  return t;
}

// Pairs whose sums share an inversion below this many are not worth it (an inversion costs
// about 270 multiplications, an affine addition saves about 5 over a mixed one).
inline constexpr size_t kMinAffinePairs = 64;

// Sums the points of each bit in place, pairwise and affine, a level at a time: the points of
// bit b are (*points)[(*start)[b], (*start)[b + 1]) before and after. All the pairs of a level
// share one inversion (Montgomery's trick), so an addition costs about 6 multiplications
// instead of a mixed Jacobian addition's 11. Stops when a level would have fewer than
// `min_pairs` pairs. A pair with equal x (a doubling, or P + (-P): a signer can arrange
// either) is not added: both points move to `rest`, for the accumulator's complete formulas.
inline void SumPairsByBit(std::vector<Ge>* points, std::vector<uint32_t>* start,
                          std::vector<std::pair<int, Ge>>* rest, size_t min_pairs) {
  const int bits = static_cast<int>(start->size()) - 1;
  // Scratch kept per thread: a batch's buffers are reused by the next, not faulted in again.
  thread_local std::vector<Fe> dx, prefix;
  thread_local std::vector<uint32_t> pair_at;  // index in *points of each pair's first point
  thread_local std::vector<uint8_t> equal_x;   // per pair: x equal, not added here
  std::vector<Ge>& p = *points;
  std::vector<uint32_t>& st = *start;
  for (;;) {
    pair_at.clear();
    for (int b = 0; b < bits; ++b) {
      for (uint32_t i = st[b]; i + 1 < st[b + 1]; i += 2) pair_at.push_back(i);
    }
    const size_t pairs = pair_at.size();
    if (pairs < std::max<size_t>(min_pairs, 1)) return;
    if (dx.size() < pairs) {
      dx.resize(pairs);
      prefix.resize(pairs);
      equal_x.resize(pairs);
    }
    Fe product = FeInt(1);
    for (size_t k = 0; k < pairs; ++k) {
      uint32_t i = pair_at[k];
      dx[k] = NormalizeWeak(Add(p[i + 1].x, Neg(p[i].x, 1)));
      // Equal x: left out of the product (its prefix is its predecessor's).
      equal_x[k] = IsZero(dx[k]);
      if (!equal_x[k]) product = Mul(product, dx[k]);
      prefix[k] = product;
    }
    Fe inv = Inv(product);  // 1 / (the product of the nonzero dx up to k) as k walks down
    for (size_t k = pairs; k-- > 0;) {
      if (equal_x[k]) continue;
      uint32_t i = pair_at[k];
      Fe inv_k = k ? Mul(inv, prefix[k - 1]) : inv;  // 1 / dx[k]
      inv = Mul(inv, dx[k]);
      const Ge& a = p[i];
      const Ge& c = p[i + 1];
      Fe lambda = Mul(Add(c.y, Neg(a.y, 1)), inv_k);
      Fe x3 = NormalizeWeak(Add(Add(Sqr(lambda), Neg(a.x, 1)), Neg(c.x, 1)));
      Fe y3 = NormalizeWeak(Add(Mul(lambda, Add(a.x, Neg(x3, 1))), Neg(a.y, 1)));
      p[i] = Ge{x3, y3};  // the sum replaces the pair's first point
    }
    // Compaction, in place and in order (pairs in pair_at's order): each bit keeps its sums
    // and its odd point; a pair with equal x moves to `rest` whole.
    uint32_t out = 0;
    size_t k = 0;
    for (int b = 0; b < bits; ++b) {
      uint32_t i = st[b], end = st[b + 1];
      st[b] = out;
      for (; i + 1 < end; i += 2, ++k) {
        if (equal_x[k]) {
          rest->push_back({b, p[i]});
          rest->push_back({b, p[i + 1]});
        } else {
          p[out++] = p[i];
        }
      }
      if (i < end) p[out++] = p[i];
    }
    st[bits] = out;
  }
}

// nullopt if a table could not be built (a point not of prime order).
inline std::optional<Gej> MultiScalarMul(const std::vector<MsmTerm>& terms, int w,
                                         const std::vector<std::pair<Scalar, const FixedTable*>>& fixed,
                                         size_t min_pairs = kMinAffinePairs) {
  constexpr int kBits = 257;
  const size_t n = terms.size();
  const size_t tsize = size_t{1} << (w - 2);
  // Scratch kept per thread (the next batch reuses it rather than faulting fresh pages in).
  thread_local std::vector<Ge> tables, points;
  thread_local std::vector<Gej> jac;
  tables.resize(n * tsize);
  {
    jac.resize(n * tsize);
    for (size_t i = 0; i < n; ++i) OddMultiplesJacobian(ToJacobian(terms[i].point), &jac[i * tsize], tsize);
    if (!ToAffine(jac.data(), tables.data(), jac.size())) return std::nullopt;
  }
  // Every nonzero digit is one addition at its bit: gather them, by bit (a counting sort), so
  // the doubling chain visits only the additions it has to make; the points of each bit are
  // first summed among themselves, affine (SumPairsByBit), when there are enough of them.
  struct Addition {
    const Ge* point;
    bool negate;
  };
  thread_local std::vector<std::pair<int, Addition>> found;  // (bit, addition)
  found.clear();
  found.reserve((n + fixed.size()) * (130 / (w + 1) + 8));
  int8_t digits[kBits];
  int maxlen = 0;
  auto gather = [&](const Scalar& k, int window, const Ge* odd) {
    int len = Wnaf(digits, k, window);
    maxlen = std::max(maxlen, len);
    for (int bit = 0; bit < len; ++bit) {
      int d = digits[bit];
      if (d > 0) found.push_back({bit, Addition{&odd[(d - 1) / 2], false}});
      if (d < 0) found.push_back({bit, Addition{&odd[(-d - 1) / 2], true}});
    }
  };
  for (size_t i = 0; i < n; ++i) gather(terms[i].scalar, w, &tables[i * tsize]);
  for (const auto& [k, t] : fixed) gather(k, t->w, t->odd.data());
  std::vector<uint32_t> start(kBits + 1, 0);  // additions of bit b: [start[b], start[b + 1])
  for (const auto& f : found) ++start[f.first + 1];
  for (int b = 0; b < kBits; ++b) start[b + 1] += start[b];
  points.resize(found.size());
  {
    std::vector<uint32_t> next(start.begin(), start.end() - 1);
    for (const auto& [bit, add] : found) {
      points[next[bit]++] = add.negate ? Negate(*add.point) : *add.point;
    }
  }
  thread_local std::vector<std::pair<int, Ge>> rest;  // (bit, point): pairs left alone
  rest.clear();
  SumPairsByBit(&points, &start, &rest, min_pairs);
  std::sort(rest.begin(), rest.end(), [](const auto& a, const auto& b) { return a.first > b.first; });
  Gej acc;
  size_t r = 0;
  for (int bit = maxlen - 1; bit >= 0; --bit) {
    acc = Double(acc);
    for (uint32_t a = start[bit]; a < start[bit + 1]; ++a) acc = AddAffine(acc, points[a]);
    for (; r < rest.size() && rest[r].first == bit; ++r) acc = AddAffine(acc, rest[r].second);
  }
  return acc;
}

}  // namespace fedledger::secp
