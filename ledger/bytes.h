// Byte strings, fixed-size hashes and hex. Thread-compatible value types.
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "ledger/status.h"

namespace fedledger {

using Bytes = std::vector<uint8_t>;
using ByteView = std::span<const uint8_t>;

// A 32-byte value: SHA-256 digests, x-only public keys, block hashes.
struct Hash32 {
  std::array<uint8_t, 32> v{};

  static Hash32 FromView(ByteView b);  // REQUIRES: b.size() == 32
  static Result<Hash32> FromHex(std::string_view hex);  // exactly 64 hex digits
  std::string Hex() const;
  std::string ShortHex() const { return Hex().substr(0, 16); }
  bool IsZero() const;
  const uint8_t* data() const { return v.data(); }
  uint8_t* data() { return v.data(); }
  static constexpr size_t size() { return 32; }
  ByteView view() const { return ByteView(v.data(), v.size()); }
  auto operator<=>(const Hash32&) const = default;
};

struct Hash32Hasher {
  size_t operator()(const Hash32& h) const {
    size_t x;
    static_assert(sizeof(x) <= 32);
    __builtin_memcpy(&x, h.v.data(), sizeof(x));
    return x;
  }
};

std::string ToHex(ByteView b);
// Lower- or upper-case hex, even length; anything else is InvalidArgument.
Result<Bytes> FromHex(std::string_view hex);

inline ByteView AsView(const std::string& s) {
  return ByteView(reinterpret_cast<const uint8_t*>(s.data()), s.size());
}
inline std::string_view AsStringView(ByteView b) {
  return std::string_view(reinterpret_cast<const char*>(b.data()), b.size());
}

// Constant-time comparison for secrets (key material, MAC tags).
bool ConstantTimeEqual(ByteView a, ByteView b);

}  // namespace fedledger
