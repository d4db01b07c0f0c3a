// Tests of the RFC 6962 / RFC 9162 Merkle log (ledger/merkle.h).
//
// Three independent sources of truth:
//   1. Known answers from transparency-dev/merkle `proof/verify_test.go` (the vectors that
//      certificate-transparency and trillian share): an 8-leaf tree, its roots for sizes 1..8,
//      and inclusion and consistency proofs within it.
//   2. A naive reference that follows the recursive definitions of RFC 9162 sections 2.1.1,
//      2.1.3.1 and 2.1.4.1 literally over an in-memory list of leaf hashes.
//   3. Randomized trees (seeded; the seed is printed, FEDLEDGER_TEST_SEED replays it) whose
//      proofs must verify and whose altered proofs must all fail.
#include "ledger/merkle.h"

#include <bit>
#include <catch2/catch.hpp>
#include <cstdlib>
#include <iostream>
#include <map>
#include <random>

#include "ledger/crypto.h"

namespace fedledger {
namespace {

Hash32 H(const char* hex) {
  auto h = Hash32::FromHex(hex);
  REQUIRE(h.ok());
  return *h;
}

Bytes B(const char* hex) {
  auto b = FromHex(hex);
  REQUIRE(b.ok());
  return *b;
}

std::vector<Hash32> Hashes(std::initializer_list<const char*> hex) {
  std::vector<Hash32> out;
  for (const char* h : hex) out.push_back(H(h));
  return out;
}

// ---- the naive reference (RFC 9162 2.1.1, 2.1.3.1, 2.1.4.1, recursion as written) ----

using Leaves = std::vector<Hash32>;  // leaf hashes

uint64_t Split(uint64_t n) { return std::bit_floor(n - 1); }

Hash32 RefMth(const Leaves& d, uint64_t b, uint64_t e) {
  if (e == b) return MerkleEmptyRoot();
  if (e - b == 1) return d[b];
  uint64_t k = Split(e - b);
  return MerkleNodeHash(RefMth(d, b, b + k), RefMth(d, b + k, e));
}

// PATH(m, D[b:e]).
std::vector<Hash32> RefPath(const Leaves& d, uint64_t m, uint64_t b, uint64_t e) {
  if (e - b == 1) return {};
  uint64_t k = Split(e - b);
  std::vector<Hash32> out;
  if (m < k) {
    out = RefPath(d, m, b, b + k);
    out.push_back(RefMth(d, b + k, e));
  } else {
    out = RefPath(d, m - k, b + k, e);
    out.push_back(RefMth(d, b, b + k));
  }
  return out;
}

// SUBPROOF(m, D[b:e], flag).
std::vector<Hash32> RefSubproof(const Leaves& d, uint64_t m, uint64_t b, uint64_t e, bool flag) {
  uint64_t n = e - b;
  if (m == n) {
    if (flag) return {};
    return {RefMth(d, b, e)};
  }
  uint64_t k = Split(n);
  std::vector<Hash32> out;
  if (m <= k) {
    out = RefSubproof(d, m, b, b + k, flag);
    out.push_back(RefMth(d, b + k, e));
  } else {
    out = RefSubproof(d, m - k, b + k, e, false);
    out.push_back(RefMth(d, b, b + k));
  }
  return out;
}

// A node source that counts reads, to check proofs use O(log n) of them.
class CountingSource : public MerkleNodeSource {
 public:
  explicit CountingSource(const MerkleNodeSource& inner) : inner_(inner) {}
  Result<Hash32> Node(NodeId id) const override {
    ++reads;
    return inner_.Node(id);
  }
  mutable uint64_t reads = 0;

 private:
  const MerkleNodeSource& inner_;
};

// A node source with one node missing.
class HoleySource : public MerkleNodeSource {
 public:
  HoleySource(const MerkleNodeSource& inner, NodeId hole) : inner_(inner), hole_(hole) {}
  Result<Hash32> Node(NodeId id) const override {
    if (id == hole_) return Status::NotFound("node deliberately missing");
    return inner_.Node(id);
  }

 private:
  const MerkleNodeSource& inner_;
  NodeId hole_;
};

uint64_t TestSeed() {
  static const uint64_t seed = [] {
    const char* env = std::getenv("FEDLEDGER_TEST_SEED");
    uint64_t s = env ? std::strtoull(env, nullptr, 10) : std::random_device{}();
    std::cout << "merkle_test seed: " << s << " (replay with FEDLEDGER_TEST_SEED=" << s << ")\n";
    return s;
  }();
  return seed;
}

Hash32 RandomHash(std::mt19937_64& rng) {
  Hash32 h;
  for (auto& b : h.v) b = static_cast<uint8_t>(rng());
  return h;
}

// ---- altered proofs ----

// Every way we alter a valid proof: each must make verification fail.
std::vector<std::pair<std::string, std::vector<Hash32>>> AlteredProofs(
    const std::vector<Hash32>& proof, const Hash32& some_hash) {
  std::vector<std::pair<std::string, std::vector<Hash32>>> out;
  for (size_t i = 0; i < proof.size(); ++i) {
    for (int bit : {0, 131, 255}) {
      auto p = proof;
      p[i].v[bit / 8] ^= static_cast<uint8_t>(1u << (bit % 8));
      out.emplace_back("bit " + std::to_string(bit) + " of hash " + std::to_string(i) + " flipped",
                       p);
    }
    auto dropped = proof;
    dropped.erase(dropped.begin() + static_cast<std::ptrdiff_t>(i));
    out.emplace_back("hash " + std::to_string(i) + " dropped", dropped);
    if (i + 1 < proof.size() && proof[i] != proof[i + 1]) {
      auto swapped = proof;
      std::swap(swapped[i], swapped[i + 1]);
      out.emplace_back("hashes " + std::to_string(i) + " and " + std::to_string(i + 1) + " swapped",
                       swapped);
    }
  }
  auto appended = proof;
  appended.push_back(some_hash);
  out.emplace_back("extra hash appended", appended);
  auto prepended = proof;
  prepended.insert(prepended.begin(), some_hash);
  out.emplace_back("extra hash prepended", prepended);
  if (!proof.empty()) {
    auto dup = proof;
    dup.insert(dup.begin(), proof[0]);
    out.emplace_back("first hash repeated", dup);
    auto reversed = proof;
    std::reverse(reversed.begin(), reversed.end());
    if (reversed != proof) out.emplace_back("reversed", reversed);
  }
  return out;
}

// Leaf i in the tree of size n: the served proof matches the RFC definition (if asked),
// uses O(log^2 n) reads, verifies, and fails under every alteration we can think of.
void CheckInclusion(const MemoryMerkleLog& log, const Leaves& leaves,
                    const std::vector<Hash32>& roots, uint64_t i, uint64_t n,
                    bool compare_reference) {
  INFO("inclusion of leaf " << i << " in tree of size " << n);
  CountingSource counting(log);
  auto proof = MerkleInclusionProof(counting, i, n);
  REQUIRE(proof.ok());
  const uint64_t width = std::bit_width(n);
  CHECK(counting.reads <= width * width + 1);
  if (compare_reference) CHECK(*proof == RefPath(leaves, i, 0, n));
  const Hash32& root = roots[n];
  REQUIRE(VerifyInclusionProof(leaves[i], i, n, *proof, root).ok());

  const Hash32 other = H("abacaba000000000000000000000000000000000000000000060061e00123456");
  for (const auto& [what, bad] : AlteredProofs(*proof, other)) {
    INFO(what);
    Status s = VerifyInclusionProof(leaves[i], i, n, bad, root);
    CHECK_FALSE(s.ok());
    CHECK(s.code() == Status::Code::kCorruption);
    CHECK_FALSE(s.message().empty());
  }
  // Wrong leaf, wrong root, wrong index, wrong size (with that size's true root).
  CHECK_FALSE(VerifyInclusionProof(other, i, n, *proof, root).ok());
  CHECK_FALSE(VerifyInclusionProof(leaves[i], i, n, *proof, other).ok());
  CHECK_FALSE(VerifyInclusionProof(leaves[i], i, n, *proof, MerkleEmptyRoot()).ok());
  for (uint64_t j : {i + 1, i - 1, i ^ 1, i ^ 2, n, n + i, ~uint64_t{0}}) {
    if (j == i) continue;
    INFO("wrong index " << j);
    CHECK_FALSE(VerifyInclusionProof(leaves[i], j, n, *proof, root).ok());
  }
  for (uint64_t m : {n - 1, n + 1, 2 * n, n / 2, i}) {
    if (m == n || m >= roots.size()) continue;
    INFO("wrong size " << m);
    CHECK_FALSE(VerifyInclusionProof(leaves[i], i, m, *proof, roots[m]).ok());
  }
}

// The same for the consistency proof between sizes m <= n.
void CheckConsistency(const MemoryMerkleLog& log, const Leaves& leaves,
                      const std::vector<Hash32>& roots, uint64_t m, uint64_t n,
                      bool compare_reference) {
  INFO("consistency between sizes " << m << " and " << n);
  CountingSource counting(log);
  auto proof = MerkleConsistencyProof(counting, m, n);
  REQUIRE(proof.ok());
  const uint64_t width = std::bit_width(n);
  CHECK(counting.reads <= width * width + 1);
  if (compare_reference) CHECK(*proof == RefSubproof(leaves, m, 0, n, true));
  REQUIRE(VerifyConsistencyProof(m, n, roots[m], roots[n], *proof).ok());

  const Hash32 other = H("abacaba000000000000000000000000000000000000000000060061e00123456");
  for (const auto& [what, bad] : AlteredProofs(*proof, other)) {
    INFO(what);
    Status s = VerifyConsistencyProof(m, n, roots[m], roots[n], bad);
    CHECK_FALSE(s.ok());
    CHECK(s.code() == Status::Code::kCorruption);
    CHECK_FALSE(s.message().empty());
  }
  CHECK_FALSE(VerifyConsistencyProof(m, n, other, roots[n], *proof).ok());
  CHECK_FALSE(VerifyConsistencyProof(m, n, roots[m], other, *proof).ok());
  if (m != n) {
    CHECK_FALSE(VerifyConsistencyProof(m, n, roots[n], roots[m], *proof).ok());
    CHECK_FALSE(VerifyConsistencyProof(n, m, roots[n], roots[m], *proof).ok());
  }
  for (uint64_t m2 : {m - 1, m + 1, m ^ 2, 2 * m, m / 2}) {
    // Every tree is consistent with the empty one, so size 0 is no wrong size.
    if (m2 == m || m2 == 0 || m2 > n) continue;
    INFO("wrong old size " << m2);
    CHECK_FALSE(VerifyConsistencyProof(m2, n, roots[m2], roots[n], *proof).ok());
  }
  for (uint64_t n2 : {n - 1, n + 1, 2 * n, n / 2}) {
    if (n2 == n || n2 < m || n2 >= roots.size()) continue;
    INFO("wrong new size " << n2);
    CHECK_FALSE(VerifyConsistencyProof(m, n2, roots[m], roots[n2], *proof).ok());
  }
}

// A log of `size` random leaves with the reference roots of every prefix.
struct TestLog {
  MemoryMerkleLog log;
  Leaves leaves;
  std::vector<Hash32> roots;  // roots[n] = MTH of the first n leaves
};

TestLog MakeLog(std::mt19937_64& rng, uint64_t size) {
  TestLog t;
  CompactRange running;
  t.roots.push_back(MerkleEmptyRoot());
  for (uint64_t i = 0; i < size; ++i) {
    Hash32 leaf = MerkleLeafHash(RandomHash(rng).view());
    t.leaves.push_back(leaf);
    t.log.Append(leaf);
    running.Append(leaf);
    t.roots.push_back(running.Root());
  }
  return t;
}

// ---- known answers ----

// transparency-dev/merkle proof/verify_test.go (same vectors as certificate-transparency-go
// merkletree and google/trillian): leaves, roots of sizes 1..8, and proofs. Inclusion vectors
// there use 1-based leaf numbers; they are converted to 0-based indexes here.
const char* const kLeafData[] = {"",
                                 "00",
                                 "10",
                                 "2021",
                                 "3031",
                                 "40414243",
                                 "5051525354555657",
                                 "606162636465666768696a6b6c6d6e6f"};
const char* const kRoots[] = {
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
};
constexpr const char* kEmptyRoot =
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

struct KnownLog {
  MemoryMerkleLog log;
  Leaves leaves;
  std::vector<Hash32> roots;
};

KnownLog MakeKnownLog() {
  KnownLog k;
  k.roots.push_back(H(kEmptyRoot));
  for (int i = 0; i < 8; ++i) {
    k.leaves.push_back(MerkleLeafHash(B(kLeafData[i])));
    k.log.Append(k.leaves.back());
    k.roots.push_back(H(kRoots[i]));
  }
  return k;
}

TEST_CASE("merkle: RFC 6962 known-answer roots for sizes 0..8", "[merkle]") {
  KnownLog k = MakeKnownLog();
  CHECK(MerkleEmptyRoot() == H(kEmptyRoot));
  CHECK(MemoryMerkleLog().Root() == H(kEmptyRoot));
  MemoryMerkleLog log;
  for (int n = 1; n <= 8; ++n) {
    INFO("tree size " << n);
    log.Append(MerkleLeafHash(B(kLeafData[n - 1])));
    CHECK(log.Root() == H(kRoots[n - 1]));
    auto r = MerkleRoot(k.log, n);
    REQUIRE(r.ok());
    CHECK(*r == H(kRoots[n - 1]));
    CHECK(RefMth(k.leaves, 0, n) == H(kRoots[n - 1]));
  }
  // Leaf and node hashing are domain separated: the one-leaf root is H(0x00 || data).
  CHECK(MerkleLeafHash(ByteView()) == Sha256(B("00")));
  CHECK(MerkleNodeHash(k.leaves[0], k.leaves[1]) ==
        Sha256(B(("01" + k.leaves[0].Hex() + k.leaves[1].Hex()).c_str())));
}

TEST_CASE("merkle: RFC 6962 known-answer inclusion proofs", "[merkle]") {
  KnownLog k = MakeKnownLog();
  struct Vector {
    uint64_t index, size;
    std::vector<Hash32> proof;
  };
  const std::vector<Vector> vectors = {
      {0, 1, {}},
      {0, 8,
       Hashes({"96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
               "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
               "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"})},
      {5, 8,
       Hashes({"bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
               "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
               "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"})},
      {2, 3, Hashes({"fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"})},
      {1, 5,
       Hashes({"6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
               "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
               "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"})},
  };
  for (const Vector& v : vectors) {
    INFO("leaf " << v.index << " of " << v.size);
    auto proof = MerkleInclusionProof(k.log, v.index, v.size);
    REQUIRE(proof.ok());
    CHECK(*proof == v.proof);
    CHECK(VerifyInclusionProof(k.leaves[v.index], v.index, v.size, v.proof, k.roots[v.size]).ok());
    CheckInclusion(k.log, k.leaves, k.roots, v.index, v.size, true);
  }
  // The upstream "treeSize * 2" and "treeSize / 2" probes against the original root.
  for (const Vector& v : vectors) {
    if (v.size < 2) continue;
    CHECK_FALSE(
        VerifyInclusionProof(k.leaves[v.index], v.index, v.size * 2, v.proof, k.roots[v.size])
            .ok());
  }
}

TEST_CASE("merkle: RFC 6962 known-answer consistency proofs", "[merkle]") {
  KnownLog k = MakeKnownLog();
  struct Vector {
    uint64_t m, n;
    std::vector<Hash32> proof;
  };
  const std::vector<Vector> vectors = {
      {1, 1, {}},
      {1, 8,
       Hashes({"96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
               "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
               "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"})},
      {6, 8,
       Hashes({"0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
               "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
               "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"})},
      {2, 5,
       Hashes({"5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
               "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"})},
      {6, 7,
       Hashes({"0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
               "b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f",
               "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"})},
  };
  for (const Vector& v : vectors) {
    INFO("sizes " << v.m << " -> " << v.n);
    auto proof = MerkleConsistencyProof(k.log, v.m, v.n);
    REQUIRE(proof.ok());
    CHECK(*proof == v.proof);
    CHECK(VerifyConsistencyProof(v.m, v.n, k.roots[v.m], k.roots[v.n], v.proof).ok());
    CheckConsistency(k.log, k.leaves, k.roots, v.m, v.n, true);
  }
  // Every pair within the 8-leaf tree.
  for (uint64_t m = 1; m <= 8; ++m) {
    for (uint64_t n = m; n <= 8; ++n) CheckConsistency(k.log, k.leaves, k.roots, m, n, true);
  }
  for (uint64_t n = 1; n <= 8; ++n) {
    for (uint64_t i = 0; i < n; ++i) CheckInclusion(k.log, k.leaves, k.roots, i, n, true);
  }
}

// ---- randomized ----

TEST_CASE("merkle: every proof in small random trees verifies - altered ones fail",
          "[merkle][random]") {
  std::mt19937_64 rng(TestSeed());
  INFO("seed " << TestSeed());
  TestLog t = MakeLog(rng, 70);
  for (uint64_t n = 1; n <= 70; ++n) {
    REQUIRE(t.roots[n] == RefMth(t.leaves, 0, n));
    auto root = MerkleRoot(t.log, n);
    REQUIRE(root.ok());
    REQUIRE(*root == t.roots[n]);
  }
  for (uint64_t n = 1; n <= 70; ++n) {
    for (uint64_t i = 0; i < n; ++i) CheckInclusion(t.log, t.leaves, t.roots, i, n, true);
  }
  for (uint64_t n = 1; n <= 70; n += (n < 20 ? 1 : 7)) {
    for (uint64_t m = 1; m <= n; ++m) CheckConsistency(t.log, t.leaves, t.roots, m, n, true);
  }
}

TEST_CASE("merkle: sampled proofs in large random trees verify - altered ones fail",
          "[merkle][random]") {
  std::mt19937_64 rng(TestSeed() + 1);
  INFO("seed " << TestSeed());
  const uint64_t size = 1000 + rng() % 3000;
  INFO("log size " << size);
  TestLog t = MakeLog(rng, size);
  REQUIRE(t.log.size() == size);
  REQUIRE(t.log.Root() == RefMth(t.leaves, 0, size));

  // Sizes worth probing: edges, powers of two and their neighbours, and random ones.
  std::vector<uint64_t> sizes = {1, 2, 3, size - 1, size};
  for (uint64_t p = 4; p < size; p *= 2) {
    sizes.insert(sizes.end(), {p - 1, p, p + 1});
  }
  for (int i = 0; i < 12; ++i) sizes.push_back(1 + rng() % size);

  for (uint64_t n : sizes) {
    CountingSource counting(t.log);
    auto root = MerkleRoot(counting, n);
    REQUIRE(root.ok());
    CHECK(*root == t.roots[n]);
    CHECK(counting.reads == static_cast<uint64_t>(std::popcount(n)));
    for (uint64_t i : {uint64_t{0}, n - 1, n / 2, rng() % n, rng() % n}) {
      CheckInclusion(t.log, t.leaves, t.roots, i, n, n <= 600);
    }
  }
  for (uint64_t n : sizes) {
    for (uint64_t m : sizes) {
      if (m > n) continue;
      CheckConsistency(t.log, t.leaves, t.roots, m, n, n <= 600);
    }
  }
  for (int i = 0; i < 200; ++i) {
    uint64_t n = 1 + rng() % size, m = 1 + rng() % n;
    CheckConsistency(t.log, t.leaves, t.roots, m, n, false);
  }
}

TEST_CASE("merkle: range hashes of aligned and unaligned ranges match the definition",
          "[merkle][random]") {
  std::mt19937_64 rng(TestSeed() + 2);
  INFO("seed " << TestSeed());
  TestLog t = MakeLog(rng, 300);
  for (int i = 0; i < 300; ++i) {
    uint64_t b = rng() % 300, e = b + 1 + rng() % (300 - b);
    INFO("range [" << b << ", " << e << ")");
    auto h = MerkleRangeHash(t.log, b, e);
    REQUIRE(h.ok());
    CHECK(*h == RefMth(t.leaves, b, e));
  }
  CHECK(MerkleRangeHash(t.log, 5, 5).status().code() == Status::Code::kInvalidArgument);
  CHECK(MerkleRangeHash(t.log, 6, 5).status().code() == Status::Code::kInvalidArgument);
  CHECK(MerkleRangeHash(t.log, 0, 301).status().code() == Status::Code::kNotFound);
}

// ---- edges and storage ----

TEST_CASE("merkle: the empty tree", "[merkle]") {
  MemoryMerkleLog log;
  CHECK(log.size() == 0);
  CHECK(log.Root() == H(kEmptyRoot));
  CHECK(CompactRange().Root() == H(kEmptyRoot));
  auto root = MerkleRoot(log, 0);
  REQUIRE(root.ok());
  CHECK(*root == H(kEmptyRoot));
  CHECK(MerkleRoot(log, 1).status().code() == Status::Code::kNotFound);
  CHECK(MerkleInclusionProof(log, 0, 0).status().code() == Status::Code::kInvalidArgument);
  auto loaded = CompactRange::Load(log, 0);
  REQUIRE(loaded.ok());
  CHECK(loaded->Root() == H(kEmptyRoot));
  CHECK(log.Node(NodeId{0, 0}).status().code() == Status::Code::kNotFound);

  // Nothing is in an empty tree.
  const Hash32 leaf = MerkleLeafHash(B("00"));
  CHECK_FALSE(VerifyInclusionProof(leaf, 0, 0, {}, H(kEmptyRoot)).ok());
  // Every tree is consistent with the empty tree, by the empty proof only.
  CHECK(VerifyConsistencyProof(0, 0, H(kEmptyRoot), H(kEmptyRoot), {}).ok());
  CHECK(VerifyConsistencyProof(0, 5, H(kEmptyRoot), H(kRoots[4]), {}).ok());
  CHECK_FALSE(VerifyConsistencyProof(0, 5, H(kEmptyRoot), H(kRoots[4]), {leaf}).ok());
  CHECK_FALSE(VerifyConsistencyProof(0, 5, H(kRoots[0]), H(kRoots[4]), {}).ok());
  CHECK_FALSE(VerifyConsistencyProof(1, 0, H(kRoots[0]), H(kEmptyRoot), {}).ok());
}

TEST_CASE("merkle: proof requests outside the contract are refused", "[merkle]") {
  KnownLog k = MakeKnownLog();
  CHECK(MerkleInclusionProof(k.log, 8, 8).status().code() == Status::Code::kInvalidArgument);
  CHECK(MerkleInclusionProof(k.log, 3, 2).status().code() == Status::Code::kInvalidArgument);
  CHECK(MerkleConsistencyProof(k.log, 0, 4).status().code() == Status::Code::kInvalidArgument);
  CHECK(MerkleConsistencyProof(k.log, 5, 4).status().code() == Status::Code::kInvalidArgument);
  // Beyond what was appended: the missing node is reported, not invented.
  auto beyond = MerkleInclusionProof(k.log, 0, 9);
  CHECK(beyond.status().code() == Status::Code::kNotFound);
  CHECK(beyond.status().message().find("Merkle node") != std::string::npos);
  CHECK(MerkleConsistencyProof(k.log, 3, 12).status().code() == Status::Code::kNotFound);
  // Single-leaf tree: the root is the leaf hash and the proof is empty.
  auto one = MerkleInclusionProof(k.log, 0, 1);
  REQUIRE(one.ok());
  CHECK(one->empty());
  CHECK(VerifyInclusionProof(k.leaves[0], 0, 1, {}, k.leaves[0]).ok());
  CHECK_FALSE(VerifyInclusionProof(k.leaves[0], 0, 1, {}, k.leaves[1]).ok());
  CHECK_FALSE(VerifyInclusionProof(k.leaves[0], 1, 1, {}, k.leaves[0]).ok());
}

TEST_CASE("merkle: CompactRange::Load round-trips the right edge", "[merkle][random]") {
  std::mt19937_64 rng(TestSeed() + 3);
  INFO("seed " << TestSeed());
  TestLog t = MakeLog(rng, 1100);
  std::vector<uint64_t> sizes = {0, 1, 2, 3, 7, 8, 9, 255, 256, 257, 1023, 1024, 1025, 1099};
  for (int i = 0; i < 10; ++i) sizes.push_back(rng() % 1100);
  for (uint64_t s : sizes) {
    INFO("loaded at size " << s);
    CountingSource counting(t.log);
    auto cr = CompactRange::Load(counting, s);
    REQUIRE(cr.ok());
    CHECK(counting.reads == static_cast<uint64_t>(std::popcount(s)));
    CHECK(cr->size() == s);
    CHECK(cr->Root() == t.roots[s]);
    // Appending the rest must emit exactly the nodes the full log stored, and reach its root.
    uint64_t emitted = 0;
    bool all_match = true;
    uint8_t last_level = 0;
    bool levels_increase = true;
    for (uint64_t i = s; i < t.leaves.size(); ++i) {
      bool first = true;
      cr->Append(t.leaves[i], [&](NodeId id, const Hash32& h) {
        ++emitted;
        auto stored = t.log.Node(id);
        if (!stored.ok() || *stored != h) all_match = false;
        if (first) {
          if (id.level != 0 || id.index != i) all_match = false;
        } else if (id.level != last_level + 1) {
          levels_increase = false;
        }
        first = false;
        last_level = id.level;
      });
      if (i % 97 == 0) CHECK(cr->Root() == t.roots[i + 1]);
    }
    CHECK(all_match);
    CHECK(levels_increase);
    const uint64_t n = t.leaves.size();
    // Perfect nodes in a log of size x: 2x - popcount(x).
    CHECK(emitted == (2 * n - std::popcount(n)) - (2 * s - std::popcount(s)));
    CHECK(cr->Root() == t.log.Root());
  }
  // A missing node makes Load fail with the node named.
  HoleySource holey(t.log, NodeId{10, 0});
  auto bad = CompactRange::Load(holey, 1024 + 5);
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.status().code() == Status::Code::kNotFound);
  CHECK(bad.status().message().find("level 10") != std::string::npos);
}

TEST_CASE("merkle: MemoryMerkleLog stores every perfect node and nothing else", "[merkle]") {
  std::mt19937_64 rng(TestSeed() + 4);
  INFO("seed " << TestSeed());
  TestLog t = MakeLog(rng, 77);
  const MemoryMerkleLog& log = t.log;
  CHECK(log.size() == 77);
  CHECK(log.Root() == RefMth(t.leaves, 0, 77));
  for (uint8_t level = 0; level < 8; ++level) {
    const uint64_t width = uint64_t{1} << level;
    for (uint64_t index = 0; index < 80; ++index) {
      INFO("node (" << int(level) << ", " << index << ")");
      auto h = log.Node(NodeId{level, index});
      if ((index + 1) * width <= 77) {
        REQUIRE(h.ok());
        CHECK(*h == RefMth(t.leaves, index * width, (index + 1) * width));
      } else {
        CHECK(h.status().code() == Status::Code::kNotFound);
      }
    }
  }
  CHECK(log.Node(NodeId{255, 0}).status().code() == Status::Code::kNotFound);

  // A store reproduces the same nodes from CompactRange::Append's callback alone.
  std::map<NodeId, Hash32> store;
  CompactRange cr;
  for (const Hash32& leaf : t.leaves) {
    cr.Append(leaf, [&](NodeId id, const Hash32& h) {
      CHECK(store.emplace(id, h).second);  // each node is written exactly once
    });
  }
  CHECK(store.size() == static_cast<size_t>(2 * 77 - std::popcount(77u)));
  for (const auto& [id, h] : store) {
    auto stored = log.Node(id);
    REQUIRE(stored.ok());
    CHECK(*stored == h);
  }
}

// Deep trees: indexes near 2^62 exercise the 64-bit arithmetic without storing the tree.
// The virtual log repeats 16 distinct leaves, so every node is a real Merkle node of its
// children and any aligned node of level >= 4 has the same value, computable in O(level).
class SyntheticSource : public MerkleNodeSource {
 public:
  Result<Hash32> Node(NodeId id) const override {
    if (id.level <= 4) return Small(id.level, id.index);
    Hash32 h = Small(4, 0);
    for (int l = 4; l < id.level; ++l) h = MerkleNodeHash(h, h);
    return h;
  }

 private:
  static Hash32 Small(int level, uint64_t index) {
    if (level == 0) {
      uint8_t b = static_cast<uint8_t>(index % 16);
      return MerkleLeafHash(ByteView(&b, 1));
    }
    return MerkleNodeHash(Small(level - 1, 2 * index), Small(level - 1, 2 * index + 1));
  }
};

TEST_CASE("merkle: proofs in a huge virtual log use O(log n) reads", "[merkle]") {
  SyntheticSource src;
  const uint64_t n = (uint64_t{1} << 62) + 12345;
  CountingSource counting(src);
  auto root = MerkleRoot(counting, n);
  REQUIRE(root.ok());
  CHECK(counting.reads == static_cast<uint64_t>(std::popcount(n)));
  for (uint64_t i : {uint64_t{0}, n - 1, n / 3, uint64_t{1} << 61}) {
    INFO("leaf " << i);
    counting.reads = 0;
    auto proof = MerkleInclusionProof(counting, i, n);
    REQUIRE(proof.ok());
    CHECK(counting.reads <= 64 * 64);
    auto leaf = src.Node(NodeId{0, i});
    REQUIRE(leaf.ok());
    CHECK(VerifyInclusionProof(*leaf, i, n, *proof, *root).ok());
  }
  const uint64_t m = (uint64_t{1} << 40) + 7;
  auto old_root = MerkleRoot(src, m);
  REQUIRE(old_root.ok());
  counting.reads = 0;
  auto proof = MerkleConsistencyProof(counting, m, n);
  REQUIRE(proof.ok());
  CHECK(counting.reads <= 64 * 64);
  CHECK(VerifyConsistencyProof(m, n, *old_root, *root, *proof).ok());
  auto bad = *proof;
  bad.back().v[0] ^= 1;
  CHECK_FALSE(VerifyConsistencyProof(m, n, *old_root, *root, bad).ok());
}

}  // namespace
}  // namespace fedledger
