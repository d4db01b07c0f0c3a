// Canonical binary encoding for everything fedledger hashes or signs.
//
// Grammar (also in docs/FORMAT.md):
//   u8 | u16 | u32 | u64      fixed-width little-endian unsigned integers
//   varint                    unsigned LEB128, minimal: at most 10 bytes, no redundant
//                             trailing 0x00 group (the value 0 is the single byte 0x00),
//                             value fits in 64 bits
//   bytes<max>                varint length n (n <= max) followed by n bytes
//   string<max>               bytes<max> holding valid UTF-8 without control characters
//   hash                      32 raw bytes
//   list<T, max>              varint count (<= max) followed by the items
// There are no floats, no optional fields and no alternatives: every value has exactly one
// encoding, so decode(encode(x)) == x and encode(decode(b)) == b for every accepted b.
//
// Reader errors name the field being read ("task_id: length 300 exceeds 64"), so decoders
// built on it report what is wrong.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "ledger/bytes.h"
#include "ledger/status.h"

namespace fedledger {

class Writer {
 public:
  Writer() = default;
  explicit Writer(size_t reserve) { out_.reserve(reserve); }

  void U8(uint8_t v) { out_.push_back(v); }
  void U16(uint16_t v) { Fixed(v, 2); }
  void U32(uint32_t v) { Fixed(v, 4); }
  void U64(uint64_t v) { Fixed(v, 8); }
  void Varint(uint64_t v);
  void Raw(ByteView b) { out_.insert(out_.end(), b.begin(), b.end()); }
  void Hash(const Hash32& h) { Raw(h.view()); }
  void VarBytes(ByteView b) {
    Varint(b.size());
    Raw(b);
  }
  void String(std::string_view s) {
    VarBytes(ByteView(reinterpret_cast<const uint8_t*>(s.data()), s.size()));
  }

  const Bytes& bytes() const& { return out_; }
  Bytes&& Take() && { return std::move(out_); }
  size_t size() const { return out_.size(); }

 private:
  void Fixed(uint64_t v, int n) {
    for (int i = 0; i < n; ++i) out_.push_back(static_cast<uint8_t>(v >> (8 * i)));
  }
  Bytes out_;
};

class Reader {
 public:
  explicit Reader(ByteView in) : in_(in) {}

  Result<uint8_t> U8(const char* field);
  Result<uint16_t> U16(const char* field);
  Result<uint32_t> U32(const char* field);
  Result<uint64_t> U64(const char* field);
  Result<uint64_t> Varint(const char* field);
  Result<Hash32> Hash(const char* field);
  Result<ByteView> Raw(const char* field, size_t n);
  Result<ByteView> VarBytes(const char* field, size_t max_len);
  // Valid UTF-8, no C0/DEL control characters (tab and newline allowed only if multiline).
  Result<std::string> String(const char* field, size_t max_len, bool multiline = false);
  // A list count, checked against `max_count`.
  Result<uint64_t> Count(const char* field, uint64_t max_count);

  size_t offset() const { return pos_; }
  size_t remaining() const { return in_.size() - pos_; }
  bool done() const { return pos_ == in_.size(); }
  // InvalidArgument("N trailing bytes after <what>") unless everything was consumed.
  Status ExpectEnd(const char* what) const;

 private:
  Result<uint64_t> Fixed(const char* field, int n);
  ByteView in_;
  size_t pos_ = 0;
};

// Field validators shared by decoders and builders.
// Identifiers (task ids, dataset ids, chain id): 1..64 chars of [A-Za-z0-9._:-], starting
// with a letter or digit.
Status ValidateIdentifier(const char* field, std::string_view id);
bool IsValidUtf8(std::string_view s, bool multiline);

}  // namespace fedledger
