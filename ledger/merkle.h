// The global RFC 6962 / RFC 9162 Merkle log (SHA-256).
//
//   leaf hash  = SHA256(0x00 || entry bytes)       (Entry::leaf_hash())
//   node hash  = SHA256(0x01 || left || right)
//   MTH({})    = SHA256("")
//   MTH(D[n])  = node(MTH(D[0:k]), MTH(D[k:n])) with k the largest power of two < n
//
// Storage model: the log keeps every *perfect* subtree node, addressed by (level, index):
// node (l, i) is the root of leaves [i * 2^l, (i + 1) * 2^l); level 0 holds the leaf hashes.
// A node is written once, when its last leaf is appended, and never changes. Any subtree
// root of an arbitrary range, and so any root, inclusion proof or consistency proof for any
// tree size, is assembled from O(log n) perfect nodes (O(log^2 n) worst case for proofs),
// never by rebuilding the tree.
#pragma once

#include <cstdint>
#include <functional>
#include <vector>

#include "ledger/bytes.h"
#include "ledger/status.h"

namespace fedledger {

Hash32 MerkleLeafHash(ByteView leaf_data);
Hash32 MerkleNodeHash(const Hash32& left, const Hash32& right);
Hash32 MerkleEmptyRoot();  // SHA256("")

struct NodeId {
  uint8_t level = 0;
  uint64_t index = 0;
  auto operator<=>(const NodeId&) const = default;
};

// Read access to stored perfect nodes. Implemented by the LevelDB store and, in tests, by
// an in-memory map. NotFound for a node that was never written.
class MerkleNodeSource {
 public:
  virtual ~MerkleNodeSource() = default;
  virtual Result<Hash32> Node(NodeId id) const = 0;
};

// MTH of leaves [begin, end), assembled from stored perfect nodes.
// REQUIRES: begin < end, and all leaves < end appended.
Result<Hash32> MerkleRangeHash(const MerkleNodeSource& src, uint64_t begin, uint64_t end);
// The root of the first `tree_size` leaves (MerkleEmptyRoot() for 0).
Result<Hash32> MerkleRoot(const MerkleNodeSource& src, uint64_t tree_size);
// RFC 9162 section 2.1.3 inclusion proof of leaf `index` in the tree of `tree_size` leaves.
Result<std::vector<Hash32>> MerkleInclusionProof(const MerkleNodeSource& src, uint64_t index,
                                                 uint64_t tree_size);
// RFC 9162 section 2.1.4 consistency proof between tree sizes `old_size` and `new_size`.
// REQUIRES (else InvalidArgument): 0 < old_size <= new_size.
Result<std::vector<Hash32>> MerkleConsistencyProof(const MerkleNodeSource& src,
                                                   uint64_t old_size, uint64_t new_size);

// RFC 9162 section 2.1.3.2: OK iff the proof shows `leaf_hash` at `index` under `root`.
// Corruption naming the reason otherwise.
Status VerifyInclusionProof(const Hash32& leaf_hash, uint64_t index, uint64_t tree_size,
                            const std::vector<Hash32>& proof, const Hash32& root);
// RFC 9162 section 2.1.4.2.
Status VerifyConsistencyProof(uint64_t old_size, uint64_t new_size, const Hash32& old_root,
                              const Hash32& new_root, const std::vector<Hash32>& proof);

// The right edge of the log: one perfect subtree root per set bit of size(), enough to
// append and to compute the root without any reads. Appending reports every perfect node it
// completes (the leaf itself at level 0 and each parent it closes), in increasing level, so
// the store can write them in the same batch as the block.
class CompactRange {
 public:
  CompactRange() = default;
  // Rebuilds the right edge of a log of `size` leaves from stored nodes.
  static Result<CompactRange> Load(const MerkleNodeSource& src, uint64_t size);

  uint64_t size() const { return size_; }
  // Appends one leaf hash; `on_node` receives each completed perfect node.
  void Append(const Hash32& leaf_hash,
              const std::function<void(NodeId, const Hash32&)>& on_node = nullptr);
  Hash32 Root() const;

 private:
  uint64_t size_ = 0;
  std::vector<Hash32> frontier_;  // perfect roots, largest (leftmost) first
};

// An in-memory MerkleNodeSource that can also collect nodes from CompactRange::Append: for
// tests, export verification and tools that hold a whole log in memory.
class MemoryMerkleLog : public MerkleNodeSource {
 public:
  void Append(const Hash32& leaf_hash);
  uint64_t size() const { return range_.size(); }
  Hash32 Root() const { return range_.Root(); }
  Result<Hash32> Node(NodeId id) const override;

 private:
  CompactRange range_;
  std::vector<std::vector<Hash32>> levels_;  // levels_[l][i] = node (l, i)
};

}  // namespace fedledger
