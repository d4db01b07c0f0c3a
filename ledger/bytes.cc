#include "ledger/bytes.h"

#include <cstring>

namespace fedledger {

namespace {
int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}
}  // namespace

std::string ToHex(ByteView b) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out(b.size() * 2, '0');
  for (size_t i = 0; i < b.size(); ++i) {
    out[2 * i] = kDigits[b[i] >> 4];
    out[2 * i + 1] = kDigits[b[i] & 15];
  }
  return out;
}

Result<Bytes> FromHex(std::string_view hex) {
  if (hex.size() % 2 != 0) {
    return Status::InvalidArgument("hex string has odd length " + std::to_string(hex.size()));
  }
  Bytes out(hex.size() / 2);
  for (size_t i = 0; i < out.size(); ++i) {
    int hi = HexValue(hex[2 * i]), lo = HexValue(hex[2 * i + 1]);
    if (hi < 0 || lo < 0) {
      return Status::InvalidArgument("not a hex digit at position " +
                                     std::to_string(hi < 0 ? 2 * i : 2 * i + 1));
    }
    out[i] = static_cast<uint8_t>(hi << 4 | lo);
  }
  return out;
}

Hash32 Hash32::FromView(ByteView b) {
  assert(b.size() == 32);
  Hash32 h;
  std::memcpy(h.v.data(), b.data(), 32);
  return h;
}

Result<Hash32> Hash32::FromHex(std::string_view hex) {
  if (hex.size() != 64) {
    return Status::InvalidArgument("expected 64 hex digits (32 bytes), got " +
                                   std::to_string(hex.size()) + " characters");
  }
  FL_ASSIGN(Bytes b, fedledger::FromHex(hex));
  return Hash32::FromView(b);
}

std::string Hash32::Hex() const { return ToHex(view()); }

bool Hash32::IsZero() const {
  uint8_t acc = 0;
  for (uint8_t x : v) acc |= x;
  return acc == 0;
}

bool ConstantTimeEqual(ByteView a, ByteView b) {
  if (a.size() != b.size()) return false;
  volatile uint8_t acc = 0;
  for (size_t i = 0; i < a.size(); ++i) acc = acc | (a[i] ^ b[i]);
  return acc == 0;
}

}  // namespace fedledger
