// libFuzzer target for every ledger decoder: the first input byte picks the decoder, the rest
// is its input. Whatever a decoder accepts must re-encode to exactly the same bytes (one
// encoding per value), and nothing may crash. Build: scripts/fuzz.sh.
#include <cstddef>
#include <cstdint>
#include <cstdlib>

#include "ledger/block.h"
#include "ledger/entry.h"

using namespace fedledger;

namespace {
void Require(bool ok) {
  if (!ok) std::abort();
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  ByteView in(data + 1, size - 1);
  switch (data[0] % 5) {
    case 0: {
      auto e = Entry::Decode(in);
      if (e.ok()) Require(Bytes(in.begin(), in.end()) == e->bytes());
      break;
    }
    case 1: {
      auto h = BlockHeader::Decode(in);
      if (h.ok()) Require(Bytes(in.begin(), in.end()) == h->Encode());
      break;
    }
    case 2: {
      auto b = Block::Decode(in);
      if (b.ok()) Require(Bytes(in.begin(), in.end()) == b->Encode());
      break;
    }
    case 3: {
      auto v = Vote::Decode(in);
      if (v.ok()) Require(Bytes(in.begin(), in.end()) == v->Encode());
      break;
    }
    case 4: {
      auto c = Certificate::Decode(in);
      if (c.ok()) Require(Bytes(in.begin(), in.end()) == c->Encode());
      break;
    }
  }
  return 0;
}
