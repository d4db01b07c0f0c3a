// RFC 6962 / RFC 9162 Merkle log over stored perfect nodes.
//
// Every subtree an RFC 9162 proof mentions covers leaves [lo, hi) where lo is a multiple of
// the smallest power of two >= hi - lo ("aligned"). Such a range splits into one stored
// perfect node on the left and a smaller aligned range on the right, so its hash costs at
// most one read per set bit of its size: O(log n). Unaligned ranges (never used by proofs)
// are still answered exactly, at a cost that grows with their size.
#include "ledger/merkle.h"

#include <algorithm>
#include <bit>
#include <cassert>

#include "ledger/crypto.h"

namespace fedledger {

namespace {

// The largest power of two strictly less than n. REQUIRES: n >= 2.
uint64_t SplitPoint(uint64_t n) {
  assert(n >= 2);
  return std::bit_floor(n - 1);
}

Result<Hash32> ReadNode(const MerkleNodeSource& src, uint8_t level, uint64_t index) {
  auto h = src.Node(NodeId{level, index});
  if (!h.ok()) {
    return h.status().WithContext("Merkle node (level " + std::to_string(level) + ", index " +
                                  std::to_string(index) + ")");
  }
  return h;
}

Status Fail(const std::string& why) { return Status::Corruption(why); }

}  // namespace

Hash32 MerkleLeafHash(ByteView leaf_data) {
  Sha256Hasher h;
  h.Update(uint8_t{0x00}).Update(leaf_data);
  return h.Finish();
}

Hash32 MerkleNodeHash(const Hash32& left, const Hash32& right) {
  uint8_t buf[65];
  buf[0] = 0x01;
  std::copy(left.v.begin(), left.v.end(), buf + 1);
  std::copy(right.v.begin(), right.v.end(), buf + 33);
  return Sha256(ByteView(buf, sizeof buf));
}

Hash32 MerkleEmptyRoot() { return Sha256(ByteView()); }

Result<Hash32> MerkleRangeHash(const MerkleNodeSource& src, uint64_t begin, uint64_t end) {
  if (begin >= end) {
    return Status::InvalidArgument("Merkle range [" + std::to_string(begin) + ", " +
                                   std::to_string(end) + ") is empty");
  }
  const uint64_t size = end - begin;
  if (std::has_single_bit(size) && begin % size == 0) {
    const int level = std::countr_zero(size);
    return ReadNode(src, static_cast<uint8_t>(level), begin >> level);
  }
  // MTH(D[begin:end]) = node(MTH of the first k leaves, MTH of the rest).
  const uint64_t k = SplitPoint(size);
  FL_ASSIGN(Hash32 left, MerkleRangeHash(src, begin, begin + k));
  FL_ASSIGN(Hash32 right, MerkleRangeHash(src, begin + k, end));
  return MerkleNodeHash(left, right);
}

Result<Hash32> MerkleRoot(const MerkleNodeSource& src, uint64_t tree_size) {
  if (tree_size == 0) return MerkleEmptyRoot();
  return MerkleRangeHash(src, 0, tree_size);
}

// RFC 9162 section 2.1.3.1, PATH(m, D[n]), unrolled: walk from the root down to leaf m,
// taking the sibling subtree at each split, then list the siblings bottom-up.
Result<std::vector<Hash32>> MerkleInclusionProof(const MerkleNodeSource& src, uint64_t index,
                                                 uint64_t tree_size) {
  if (index >= tree_size) {
    return Status::InvalidArgument("inclusion proof: leaf index " + std::to_string(index) +
                                   " is not in a tree of " + std::to_string(tree_size) + " leaves");
  }
  std::vector<Hash32> proof;
  uint64_t lo = 0, hi = tree_size;
  while (hi - lo > 1) {
    const uint64_t mid = lo + SplitPoint(hi - lo);
    if (index < mid) {
      FL_ASSIGN(Hash32 right, MerkleRangeHash(src, mid, hi));
      proof.push_back(right);
      hi = mid;
    } else {
      FL_ASSIGN(Hash32 left, MerkleRangeHash(src, lo, mid));
      proof.push_back(left);
      lo = mid;
    }
  }
  std::reverse(proof.begin(), proof.end());
  return proof;
}

// RFC 9162 section 2.1.4.1, SUBPROOF(m, D[n], b), unrolled the same way. `whole_old_tree`
// is b: true while the current subtree still starts at leaf 0, i.e. while its left part is
// the old tree itself (whose root the verifier already has).
Result<std::vector<Hash32>> MerkleConsistencyProof(const MerkleNodeSource& src, uint64_t old_size,
                                                   uint64_t new_size) {
  if (old_size == 0 || old_size > new_size) {
    return Status::InvalidArgument("consistency proof: needs 0 < old size <= new size, got " +
                                   std::to_string(old_size) + " and " + std::to_string(new_size));
  }
  std::vector<Hash32> proof;
  uint64_t lo = 0, hi = new_size;
  bool whole_old_tree = true;
  while (old_size != hi) {
    const uint64_t mid = lo + SplitPoint(hi - lo);
    if (old_size <= mid) {
      FL_ASSIGN(Hash32 right, MerkleRangeHash(src, mid, hi));
      proof.push_back(right);
      hi = mid;
    } else {
      FL_ASSIGN(Hash32 left, MerkleRangeHash(src, lo, mid));
      proof.push_back(left);
      lo = mid;
      whole_old_tree = false;
    }
  }
  if (!whole_old_tree) {
    FL_ASSIGN(Hash32 sub, MerkleRangeHash(src, lo, hi));
    proof.push_back(sub);
  }
  std::reverse(proof.begin(), proof.end());
  return proof;
}

// RFC 9162 section 2.1.3.2, step by step.
Status VerifyInclusionProof(const Hash32& leaf_hash, uint64_t index, uint64_t tree_size,
                            const std::vector<Hash32>& proof, const Hash32& root) {
  if (index >= tree_size) {
    return Fail("inclusion proof: leaf index " + std::to_string(index) + " is not in a tree of " +
                std::to_string(tree_size) + " leaves");
  }
  uint64_t fn = index, sn = tree_size - 1;
  Hash32 r = leaf_hash;
  for (const Hash32& p : proof) {
    if (sn == 0) {
      return Fail("inclusion proof: " + std::to_string(proof.size()) +
                  " hashes is more than a tree of " + std::to_string(tree_size) + " needs");
    }
    if ((fn & 1) || fn == sn) {
      r = MerkleNodeHash(p, r);
      if (!(fn & 1)) {
        while (fn != 0 && !(fn & 1)) {
          fn >>= 1;
          sn >>= 1;
        }
      }
    } else {
      r = MerkleNodeHash(r, p);
    }
    fn >>= 1;
    sn >>= 1;
  }
  if (sn != 0) {
    return Fail("inclusion proof: " + std::to_string(proof.size()) +
                " hashes is fewer than a tree of " + std::to_string(tree_size) + " needs");
  }
  if (r != root) {
    return Fail("inclusion proof: leaf " + std::to_string(index) + " does not hash to root " +
                root.ShortHex() + " of the tree of " + std::to_string(tree_size) + " leaves");
  }
  return Status::Ok();
}

// RFC 9162 section 2.1.4.2, step by step, plus the two cases it leaves to the caller:
// equal sizes (empty proof, equal roots) and an empty old tree (empty proof, empty root).
Status VerifyConsistencyProof(uint64_t old_size, uint64_t new_size, const Hash32& old_root,
                              const Hash32& new_root, const std::vector<Hash32>& proof) {
  if (old_size > new_size) {
    return Fail("consistency proof: old size " + std::to_string(old_size) +
                " is larger than new size " + std::to_string(new_size));
  }
  if (old_size == 0 || old_size == new_size) {
    if (!proof.empty()) {
      return Fail("consistency proof: must be empty for sizes " + std::to_string(old_size) +
                  " and " + std::to_string(new_size));
    }
    if (old_size == 0 && old_root != MerkleEmptyRoot()) {
      return Fail("consistency proof: old root is not the empty tree's root");
    }
    if (old_size == new_size && old_root != new_root) {
      return Fail("consistency proof: trees of equal size " + std::to_string(old_size) +
                  " have different roots");
    }
    return Status::Ok();
  }
  if (proof.empty()) return Fail("consistency proof: empty proof for a growing tree");

  // Step 2: a perfect old tree is its own first subtree; the proof then omits it.
  std::vector<Hash32> path;
  path.reserve(proof.size() + 1);
  if (std::has_single_bit(old_size)) path.push_back(old_root);
  path.insert(path.end(), proof.begin(), proof.end());

  uint64_t fn = old_size - 1, sn = new_size - 1;
  while (fn & 1) {
    fn >>= 1;
    sn >>= 1;
  }
  Hash32 fr = path[0], sr = path[0];
  for (size_t i = 1; i < path.size(); ++i) {
    const Hash32& c = path[i];
    if (sn == 0) {
      return Fail("consistency proof: " + std::to_string(proof.size()) +
                  " hashes is more than sizes " + std::to_string(old_size) + " and " +
                  std::to_string(new_size) + " need");
    }
    if ((fn & 1) || fn == sn) {
      fr = MerkleNodeHash(c, fr);
      sr = MerkleNodeHash(c, sr);
      if (!(fn & 1)) {
        while (fn != 0 && !(fn & 1)) {
          fn >>= 1;
          sn >>= 1;
        }
      }
    } else {
      sr = MerkleNodeHash(sr, c);
    }
    fn >>= 1;
    sn >>= 1;
  }
  if (sn != 0) {
    return Fail("consistency proof: " + std::to_string(proof.size()) +
                " hashes is fewer than sizes " + std::to_string(old_size) + " and " +
                std::to_string(new_size) + " need");
  }
  if (fr != old_root) {
    return Fail("consistency proof: does not reproduce the old root " + old_root.ShortHex() +
                " of size " + std::to_string(old_size));
  }
  if (sr != new_root) {
    return Fail("consistency proof: does not reproduce the new root " + new_root.ShortHex() +
                " of size " + std::to_string(new_size));
  }
  return Status::Ok();
}

// ---- CompactRange ----

Result<CompactRange> CompactRange::Load(const MerkleNodeSource& src, uint64_t size) {
  CompactRange cr;
  uint64_t start = 0;
  for (int level = 63; level >= 0; --level) {
    const uint64_t width = uint64_t{1} << level;
    if (!(size & width)) continue;
    FL_ASSIGN(Hash32 h, ReadNode(src, static_cast<uint8_t>(level), start >> level));
    cr.frontier_.push_back(h);
    start += width;
  }
  cr.size_ = size;
  return cr;
}

void CompactRange::Append(const Hash32& leaf_hash,
                          const std::function<void(NodeId, const Hash32&)>& on_node) {
  Hash32 h = leaf_hash;
  uint64_t index = size_;
  uint8_t level = 0;
  if (on_node) on_node(NodeId{level, index}, h);
  // Each trailing one bit of the old size is a perfect subtree on the frontier that the new
  // leaf completes into a subtree twice as large.
  for (uint64_t s = size_; s & 1; s >>= 1) {
    assert(!frontier_.empty());
    h = MerkleNodeHash(frontier_.back(), h);
    frontier_.pop_back();
    ++level;
    index >>= 1;
    if (on_node) on_node(NodeId{level, index}, h);
  }
  frontier_.push_back(h);
  ++size_;
}

Hash32 CompactRange::Root() const {
  if (frontier_.empty()) return MerkleEmptyRoot();
  Hash32 h = frontier_.back();
  for (size_t i = frontier_.size() - 1; i-- > 0;) h = MerkleNodeHash(frontier_[i], h);
  return h;
}

// ---- MemoryMerkleLog ----

void MemoryMerkleLog::Append(const Hash32& leaf_hash) {
  range_.Append(leaf_hash, [this](NodeId id, const Hash32& h) {
    if (levels_.size() <= id.level) levels_.resize(id.level + 1);
    assert(levels_[id.level].size() == id.index);
    levels_[id.level].push_back(h);
  });
}

Result<Hash32> MemoryMerkleLog::Node(NodeId id) const {
  if (id.level >= levels_.size() || id.index >= levels_[id.level].size()) {
    return Status::NotFound("no Merkle node (level " + std::to_string(id.level) + ", index " +
                            std::to_string(id.index) + ") in a log of " + std::to_string(size()) +
                            " leaves");
  }
  return levels_[id.level][id.index];
}

}  // namespace fedledger
