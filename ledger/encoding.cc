#include "ledger/encoding.h"

namespace fedledger {

namespace {
std::string Field(const char* field) { return std::string(field) + ": "; }
}  // namespace

void Writer::Varint(uint64_t v) {
  while (v >= 0x80) {
    out_.push_back(static_cast<uint8_t>(v | 0x80));
    v >>= 7;
  }
  out_.push_back(static_cast<uint8_t>(v));
}

Result<uint64_t> Reader::Fixed(const char* field, int n) {
  if (remaining() < static_cast<size_t>(n)) {
    return Status::InvalidArgument(Field(field) + "truncated: needs " + std::to_string(n) +
                                   " bytes at offset " + std::to_string(pos_) + ", " +
                                   std::to_string(remaining()) + " left");
  }
  uint64_t v = 0;
  for (int i = 0; i < n; ++i) v |= static_cast<uint64_t>(in_[pos_ + i]) << (8 * i);
  pos_ += n;
  return v;
}

Result<uint8_t> Reader::U8(const char* field) {
  FL_ASSIGN(uint64_t v, Fixed(field, 1));
  return static_cast<uint8_t>(v);
}
Result<uint16_t> Reader::U16(const char* field) {
  FL_ASSIGN(uint64_t v, Fixed(field, 2));
  return static_cast<uint16_t>(v);
}
Result<uint32_t> Reader::U32(const char* field) {
  FL_ASSIGN(uint64_t v, Fixed(field, 4));
  return static_cast<uint32_t>(v);
}
Result<uint64_t> Reader::U64(const char* field) { return Fixed(field, 8); }

Result<uint64_t> Reader::Varint(const char* field) {
  uint64_t v = 0;
  size_t start = pos_;
  for (int i = 0; i < 10; ++i) {
    if (pos_ >= in_.size()) {
      return Status::InvalidArgument(Field(field) + "truncated varint at offset " +
                                     std::to_string(start));
    }
    uint8_t b = in_[pos_++];
    if (i == 9 && b > 1) {
      return Status::InvalidArgument(Field(field) + "varint overflows 64 bits at offset " +
                                     std::to_string(start));
    }
    v |= static_cast<uint64_t>(b & 0x7f) << (7 * i);
    if (!(b & 0x80)) {
      if (b == 0 && i > 0) {
        return Status::InvalidArgument(Field(field) + "non-minimal varint at offset " +
                                       std::to_string(start));
      }
      return v;
    }
  }
  return Status::InvalidArgument(Field(field) + "varint longer than 10 bytes at offset " +
                                 std::to_string(start));
}

Result<Hash32> Reader::Hash(const char* field) {
  FL_ASSIGN(ByteView b, Raw(field, 32));
  return Hash32::FromView(b);
}

Result<ByteView> Reader::Raw(const char* field, size_t n) {
  if (remaining() < n) {
    return Status::InvalidArgument(Field(field) + "truncated: needs " + std::to_string(n) +
                                   " bytes at offset " + std::to_string(pos_) + ", " +
                                   std::to_string(remaining()) + " left");
  }
  ByteView out = in_.subspan(pos_, n);
  pos_ += n;
  return out;
}

Result<ByteView> Reader::VarBytes(const char* field, size_t max_len) {
  FL_ASSIGN(uint64_t n, Varint(field));
  if (n > max_len) {
    return Status::InvalidArgument(Field(field) + "length " + std::to_string(n) +
                                   " exceeds the limit of " + std::to_string(max_len));
  }
  return Raw(field, static_cast<size_t>(n));
}

Result<std::string> Reader::String(const char* field, size_t max_len, bool multiline) {
  FL_ASSIGN(ByteView b, VarBytes(field, max_len));
  std::string s(AsStringView(b));
  if (!IsValidUtf8(s, multiline)) {
    return Status::InvalidArgument(Field(field) +
                                   "not valid UTF-8 text (or contains control characters)");
  }
  return s;
}

Result<uint64_t> Reader::Count(const char* field, uint64_t max_count) {
  FL_ASSIGN(uint64_t n, Varint(field));
  if (n > max_count) {
    return Status::InvalidArgument(Field(field) + "count " + std::to_string(n) +
                                   " exceeds the limit of " + std::to_string(max_count));
  }
  return n;
}

Status Reader::ExpectEnd(const char* what) const {
  if (!done()) {
    return Status::InvalidArgument(std::to_string(remaining()) + " trailing bytes after " + what);
  }
  return Status::Ok();
}

bool IsValidUtf8(std::string_view s, bool multiline) {
  size_t i = 0;
  while (i < s.size()) {
    uint8_t c = static_cast<uint8_t>(s[i]);
    if (c < 0x80) {
      if (c == 0x7f) return false;
      if (c < 0x20 && !(multiline && (c == '\n' || c == '\t'))) return false;
      ++i;
      continue;
    }
    int len;
    uint32_t cp;
    if ((c & 0xe0) == 0xc0) { len = 2; cp = c & 0x1f; }
    else if ((c & 0xf0) == 0xe0) { len = 3; cp = c & 0x0f; }
    else if ((c & 0xf8) == 0xf0) { len = 4; cp = c & 0x07; }
    else return false;
    if (i + len > s.size()) return false;
    for (int k = 1; k < len; ++k) {
      uint8_t cc = static_cast<uint8_t>(s[i + k]);
      if ((cc & 0xc0) != 0x80) return false;
      cp = cp << 6 | (cc & 0x3f);
    }
    // Reject over-long forms, surrogates and values past U+10FFFF.
    if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
        (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff) {
      return false;
    }
    i += len;
  }
  return true;
}

Status ValidateIdentifier(const char* field, std::string_view id) {
  if (id.empty() || id.size() > 64) {
    return Status::InvalidArgument(std::string(field) + ": must be 1 to 64 characters, got " +
                                   std::to_string(id.size()));
  }
  for (size_t i = 0; i < id.size(); ++i) {
    char c = id[i];
    bool alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
    if (!(alnum || (i > 0 && (c == '.' || c == '_' || c == '-' || c == ':')))) {
      return Status::InvalidArgument(std::string(field) + ": '" + std::string(id) +
                                     "' may contain only letters, digits and . _ - : "
                                     "and must start with a letter or digit");
    }
  }
  return Status::Ok();
}

}  // namespace fedledger
