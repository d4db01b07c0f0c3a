#include "orchestrator/secagg_kernels.h"

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstring>

namespace fedledger::orchestrator::kernels {
namespace {
// Adding and subtracting 1.5 * 2^52 rounds a double with |d| < 2^51 to the nearest integer
// (ties to even) in the default rounding mode, without a libm call, and vectorises.
constexpr double kRoundMagic = 6755399441055744.0;
}  // namespace

void Encode(const float* x, size_t n, float clip, double factor, uint32_t* out, uint64_t* clipped,
            uint64_t* non_finite) {
  const float c = clip;
  uint64_t n_clipped = 0, n_non_finite = 0;
  for (size_t k = 0; k < n; ++k) {
    float v = x[k];
    const bool nan = v != v;
    const bool inf = std::fabs(v) == INFINITY;
    v = nan ? 0.0f : v;
    n_clipped += static_cast<uint64_t>((v > c) | (v < -c));
    n_non_finite += static_cast<uint64_t>(nan | inf);
    v = std::min(std::max(v, -c), c);
    const double r = (static_cast<double>(v) * factor + kRoundMagic) - kRoundMagic;
    out[k] = static_cast<uint32_t>(static_cast<int32_t>(r));
  }
  *clipped = n_clipped;
  *non_finite = n_non_finite;
}

void Decode(const uint32_t* s, size_t n, double inv, float* out) {
  for (size_t k = 0; k < n; ++k) {
    out[k] = static_cast<float>(static_cast<double>(static_cast<int32_t>(s[k])) * inv);
  }
}

void Add(uint32_t* __restrict acc, const uint32_t* __restrict v, size_t n) {
  for (size_t k = 0; k < n; ++k) acc[k] += v[k];
}

namespace {
inline uint32_t LoadLE(const uint8_t* p) {
  uint32_t w;
  std::memcpy(&w, p, 4);
  if constexpr (std::endian::native == std::endian::big) w = __builtin_bswap32(w);
  return w;
}
inline void StoreLE(uint8_t* p, uint32_t w) {
  if constexpr (std::endian::native == std::endian::big) w = __builtin_bswap32(w);
  std::memcpy(p, &w, 4);
}
}  // namespace

void AddLE(uint8_t* __restrict acc, const uint8_t* __restrict v, size_t n) {
  for (size_t k = 0; k < n; ++k) StoreLE(acc + 4 * k, LoadLE(acc + 4 * k) + LoadLE(v + 4 * k));
}

void DecodeAddLE(const uint8_t* __restrict s, size_t n, double inv, float* __restrict out) {
  for (size_t k = 0; k < n; ++k) {
    out[k] += static_cast<float>(static_cast<double>(static_cast<int32_t>(LoadLE(s + 4 * k))) * inv);
  }
}

void Sub(uint32_t* __restrict acc, const uint32_t* __restrict v, size_t n) {
  for (size_t k = 0; k < n; ++k) acc[k] -= v[k];
}

}  // namespace fedledger::orchestrator::kernels
