#include <catch2/catch.hpp>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <limits>

#include "ledger/crypto.h"
#include "trainer/artifact.h"
#include "trainer/model.h"

using namespace fedledger;
using namespace fedledger::trainer;

namespace {

Artifact Sample() {
  ModelConfig c;
  c.input_bits = 256;
  c.hidden = {8, 4};
  c.num_tasks = 3;
  Artifact a;
  a.weights = InitTrunk(c, 7);
  for (auto& t : InitHead(c, 8).tensors) a.weights.tensors.push_back(t);
  // Special values survive bit for bit.
  auto& w = a.weights.tensors[0].data;
  w[0] = -0.0f;
  w[1] = std::numeric_limits<float>::denorm_min();
  w[2] = std::numeric_limits<float>::infinity();
  w[3] = std::numeric_limits<float>::quiet_NaN();
  a.metadata = {{"kind", "model"}, {"tasks", "a,b,c"}};
  return a;
}

std::string TempPath(const char* name) { return std::string("/tmp/fl_trainer_") + name; }

Bytes ReadAll(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return Bytes((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
}

void WriteAll(const std::string& path, const Bytes& b) {
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  f.write(reinterpret_cast<const char*>(b.data()), static_cast<std::streamsize>(b.size()));
}

}  // namespace

TEST_CASE("artifact round trip is bit for bit", "[artifact]") {
  const Artifact a = Sample();
  const std::string path = TempPath("roundtrip.fla");
  auto h = SaveArtifact(path, a);
  REQUIRE(h.ok());
  auto b = LoadArtifact(path);
  REQUIRE(b.ok());
  CHECK(b->metadata == a.metadata);
  REQUIRE(b->weights.tensors.size() == a.weights.tensors.size());
  for (size_t i = 0; i < a.weights.tensors.size(); ++i) {
    const Tensor& x = a.weights.tensors[i];
    const Tensor& y = b->weights.tensors[i];
    CHECK(x.name == y.name);
    CHECK(x.shape == y.shape);
    REQUIRE(x.data.size() == y.data.size());
    CHECK(std::memcmp(x.data.data(), y.data.data(), x.data.size() * sizeof(float)) == 0);
  }
  // Re-encoding gives the same bytes: the hash identifies the model.
  auto again = EncodeArtifact(*b);
  REQUIRE(again.ok());
  CHECK(*again == ReadAll(path));
  CHECK(LoadArtifact(path, &*h).ok());
  std::remove(path.c_str());
}

TEST_CASE("artifact hash equals sha256sum of the file", "[artifact]") {
  const std::string path = TempPath("hash.fla");
  auto h = SaveArtifact(path, Sample());
  REQUIRE(h.ok());
  FILE* p = popen(("sha256sum " + path).c_str(), "r");
  REQUIRE(p != nullptr);
  char buf[65] = {0};
  REQUIRE(std::fread(buf, 1, 64, p) == 64);
  pclose(p);
  CHECK(std::string(buf) == h->Hex());
  std::remove(path.c_str());
}

TEST_CASE("loading refuses damaged artifacts", "[artifact]") {
  const std::string path = TempPath("damaged.fla");
  auto h = SaveArtifact(path, Sample());
  REQUIRE(h.ok());
  const Bytes good = ReadAll(path);
  uint64_t header_len = 0;
  for (int i = 0; i < 8; ++i) header_len |= uint64_t{good[8 + i]} << (8 * i);

  auto expect_corrupt = [&](const Bytes& bytes, const char* what) {
    INFO(what);
    WriteAll(path, bytes);
    auto r = LoadArtifact(path);
    REQUIRE_FALSE(r.ok());
    CHECK(r.status().code() == Status::Code::kCorruption);
  };
  Bytes truncated(good.begin(), good.end() - 1);
  expect_corrupt(truncated, "truncated by one byte");
  Bytes longer = good;
  longer.push_back(0);
  expect_corrupt(longer, "trailing byte");
  Bytes flipped_data = good;
  flipped_data[16 + header_len + 5] ^= 0x01;
  expect_corrupt(flipped_data, "one data bit flipped");
  Bytes bad_magic = good;
  bad_magic[0] = 'X';
  expect_corrupt(bad_magic, "bad magic");
  Bytes bad_header = good;
  bad_header[16] = '[';
  expect_corrupt(bad_header, "header not an object");
  Bytes huge_len = good;
  huge_len[15] = 0x7f;
  expect_corrupt(huge_len, "header length beyond the file");
  expect_corrupt(Bytes(good.begin(), good.begin() + 10), "shorter than the preamble");

  // An intact file with a different hash than the ledger's is refused too.
  WriteAll(path, good);
  Hash32 other = *h;
  other.v[0] ^= 1;
  auto r = LoadArtifact(path, &other);
  REQUIRE_FALSE(r.ok());
  CHECK(r.status().code() == Status::Code::kCorruption);
  std::remove(path.c_str());
}
