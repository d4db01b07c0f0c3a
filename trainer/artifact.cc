#include "trainer/artifact.h"

#include <bit>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>

#include "ledger/crypto.h"

namespace fedledger::trainer {
namespace {

static_assert(std::endian::native == std::endian::little,
              "artifact encoding writes host floats as little-endian");
constexpr char kMagic[8] = {'F', 'L', 'T', 'N', 'S', 'R', '0', '1'};
constexpr uint64_t kMaxHeader = 64ull << 20;
constexpr const char* kFormat = "fedledger-tensors";

void PutU64(Bytes* out, uint64_t v) {
  for (int i = 0; i < 8; ++i) out->push_back(static_cast<uint8_t>(v >> (8 * i)));
}

uint64_t GetU64(const uint8_t* p) {
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v |= static_cast<uint64_t>(p[i]) << (8 * i);
  return v;
}

Status Bad(const std::string& what) { return Status::Corruption("artifact: " + what); }

}  // namespace

Result<Bytes> EncodeArtifact(const Artifact& artifact) {
  nlohmann::json tensors = nlohmann::json::array();
  uint64_t offset = 0;
  Sha256Hasher data_hash;
  for (const Tensor& t : artifact.weights.tensors) {
    if (t.numel() != t.data.size())
      return Status::InvalidArgument("tensor '" + t.name + "': data size does not match shape");
    const uint64_t nbytes = t.data.size() * sizeof(float);
    tensors.push_back({{"name", t.name},
                       {"dtype", "float32"},
                       {"shape", t.shape},
                       {"offset", offset},
                       {"nbytes", nbytes}});
    data_hash.Update(ByteView(reinterpret_cast<const uint8_t*>(t.data.data()), nbytes));
    offset += nbytes;
  }
  nlohmann::json header = {{"format", kFormat},
                           {"version", 1},
                           {"metadata", artifact.metadata},
                           {"tensors", tensors},
                           {"data_sha256", data_hash.Finish().Hex()}};
  const std::string text = header.dump();
  Bytes out;
  out.reserve(16 + text.size() + offset);
  out.insert(out.end(), kMagic, kMagic + 8);
  PutU64(&out, text.size());
  out.insert(out.end(), text.begin(), text.end());
  for (const Tensor& t : artifact.weights.tensors) {
    const uint8_t* p = reinterpret_cast<const uint8_t*>(t.data.data());
    out.insert(out.end(), p, p + t.data.size() * sizeof(float));
  }
  return out;
}

Result<Artifact> DecodeArtifact(ByteView bytes) {
  if (bytes.size() < 16) return Bad("file is " + std::to_string(bytes.size()) + " bytes, too short");
  if (std::memcmp(bytes.data(), kMagic, 8) != 0) return Bad("bad magic (not a fedledger artifact)");
  const uint64_t n = GetU64(bytes.data() + 8);
  if (n > kMaxHeader || n > bytes.size() - 16)
    return Bad("header length " + std::to_string(n) + " exceeds the file");
  nlohmann::json header = nlohmann::json::parse(bytes.begin() + 16, bytes.begin() + 16 + n,
                                                nullptr, /*allow_exceptions=*/false);
  if (header.is_discarded() || !header.is_object()) return Bad("header is not valid JSON");
  const ByteView data = bytes.subspan(16 + n);
  Artifact out;
  try {
    if (header.at("format") != kFormat || header.at("version") != 1)
      return Bad("unknown format or version");
    if (header.size() != 5) return Bad("header has unexpected fields");
    for (auto& [k, v] : header.at("metadata").items()) out.metadata[k] = v.get<std::string>();
    uint64_t expected_offset = 0;
    std::set<std::string> names;
    for (const auto& jt : header.at("tensors")) {
      Tensor t;
      t.name = jt.at("name").get<std::string>();
      if (t.name.empty() || !names.insert(t.name).second)
        return Bad("empty or duplicate tensor name '" + t.name + "'");
      if (jt.at("dtype") != "float32") return Bad("tensor '" + t.name + "': dtype is not float32");
      uint64_t numel = 1;
      for (const auto& d : jt.at("shape")) {
        const int64_t dim = d.get<int64_t>();
        if (dim < 0 || (dim > 0 && numel > (uint64_t{1} << 40) / static_cast<uint64_t>(dim)))
          return Bad("tensor '" + t.name + "': bad shape");
        numel *= static_cast<uint64_t>(dim);
        t.shape.push_back(dim);
      }
      const uint64_t offset = jt.at("offset").get<uint64_t>();
      const uint64_t nbytes = jt.at("nbytes").get<uint64_t>();
      if (offset != expected_offset || nbytes != numel * sizeof(float))
        return Bad("tensor '" + t.name + "': offset or size inconsistent with its shape");
      if (offset + nbytes > data.size())
        return Bad("file truncated: tensor '" + t.name + "' ends at data byte " +
                   std::to_string(offset + nbytes) + " of " + std::to_string(data.size()));
      t.data.resize(numel);
      std::memcpy(t.data.data(), data.data() + offset, nbytes);
      expected_offset += nbytes;
      out.weights.tensors.push_back(std::move(t));
    }
    if (expected_offset != data.size())
      return Bad("data section is " + std::to_string(data.size()) + " bytes, header says " +
                 std::to_string(expected_offset));
    if (Sha256(data).Hex() != header.at("data_sha256").get<std::string>())
      return Bad("data section does not match its SHA-256 (damaged file)");
  } catch (const nlohmann::json::exception& e) {
    return Bad(std::string("malformed header: ") + e.what());
  }
  return out;
}

Result<Hash32> SaveArtifact(const std::string& path, const Artifact& artifact) {
  FL_ASSIGN(Bytes bytes, EncodeArtifact(artifact));
  const std::string tmp = path + ".tmp";
  {
    std::ofstream f(tmp, std::ios::binary | std::ios::trunc);
    if (!f) return Status::IOError("cannot create " + tmp);
    f.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
    f.flush();
    if (!f) return Status::IOError("cannot write " + tmp);
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0)
    return Status::IOError("cannot rename " + tmp + " to " + path);
  return Sha256(ByteView(bytes));
}

Result<Artifact> LoadArtifact(const std::string& path, const Hash32* expected_sha256) {
  std::ifstream f(path, std::ios::binary);
  if (!f) return Status::NotFound("cannot open artifact " + path);
  Bytes bytes((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  if (expected_sha256 && Sha256(ByteView(bytes)) != *expected_sha256)
    return Status::Corruption(path + ": SHA-256 differs from the expected " +
                              expected_sha256->Hex());
  auto r = DecodeArtifact(bytes);
  if (!r.ok()) return r.status().WithContext(path);
  return r;
}

}  // namespace fedledger::trainer
