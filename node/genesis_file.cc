#include "node/genesis_file.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <set>

#include "ledger/store.h"

namespace fedledger::node {

namespace {
nlohmann::json Members(const std::vector<Member>& ms) {
  nlohmann::json a = nlohmann::json::array();
  for (const Member& m : ms) a.push_back({{"name", m.name}, {"key", m.key.Hex()}});
  return a;
}
}  // namespace

Result<GenesisFile> MakeGenesisFile(const Entry& entry) {
  const auto* g = entry.As<GenesisPayload>();
  if (!g) {
    return Status::InvalidArgument(std::string("entry is ") + EntryKindName(entry.kind()) +
                                   ", not GENESIS");
  }
  if (!entry.VerifySignature()) {
    return Status::InvalidArgument("genesis entry signature does not verify");
  }
  if (g->validators.empty()) return Status::InvalidArgument("genesis has no validators");
  FL_ASSIGN(Block block, MakeGenesisBlock(entry));
  Hash32 hash = block.header.Hash();
  return GenesisFile{entry, std::move(block), hash};
}

nlohmann::json GenesisFileJson(const GenesisFile& g) {
  const auto* p = g.entry.As<GenesisPayload>();
  return {{"format", "fedledger-genesis"},
          {"version", 1},
          {"chain_id", g.entry.chain_id()},
          {"genesis_hash", g.hash.Hex()},
          {"entry", ToHex(g.entry.bytes())},
          {"validators", Members(p->validators)},
          {"partners", Members(p->partners)}};
}

Result<GenesisFile> ParseGenesisFile(const nlohmann::json& doc) {
  if (!doc.is_object() || doc.value("format", "") != "fedledger-genesis") {
    return Status::InvalidArgument("not a fedledger genesis file (format is not \"fedledger-genesis\")");
  }
  if (!doc.contains("version") || doc["version"] != 1) {
    return Status::InvalidArgument("unsupported genesis file version");
  }
  if (!doc.contains("entry") || !doc["entry"].is_string()) {
    return Status::InvalidArgument("genesis file has no \"entry\" string");
  }
  if (!doc.contains("genesis_hash") || !doc["genesis_hash"].is_string()) {
    return Status::InvalidArgument("genesis file has no \"genesis_hash\" string");
  }
  auto bytes = FromHex(doc["entry"].get<std::string>());
  if (!bytes.ok()) return bytes.status().WithContext("genesis file \"entry\"");
  auto entry = Entry::Decode(*bytes);
  if (!entry.ok()) return entry.status().WithContext("genesis file \"entry\"");
  auto expected = Hash32::FromHex(doc["genesis_hash"].get<std::string>());
  if (!expected.ok()) return expected.status().WithContext("genesis file \"genesis_hash\"");
  FL_ASSIGN(GenesisFile g, MakeGenesisFile(*entry));
  if (g.hash != *expected) {
    return Status::InvalidArgument("genesis file: genesis_hash " + expected->Hex() +
                                   " does not match its entry (which gives " + g.hash.Hex() + ")");
  }
  return g;
}

Result<GenesisFile> ReadGenesisFile(const std::string& path) {
  std::ifstream f(path);
  if (!f) return Status::NotFound("cannot open genesis file " + path);
  nlohmann::json doc = nlohmann::json::parse(f, nullptr, false);
  if (doc.is_discarded()) return Status::InvalidArgument(path + " is not valid JSON");
  auto g = ParseGenesisFile(doc);
  if (!g.ok()) return g.status().WithContext(path);
  return g;
}

Status WriteGenesisFile(const std::string& path, const GenesisFile& g) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL, 0644);
  if (fd < 0) {
    if (errno == EEXIST) return Status::AlreadyExists(path + " already exists");
    return Status::IOError("cannot create " + path + ": " + std::strerror(errno));
  }
  std::string text = GenesisFileJson(g).dump(2) + "\n";
  size_t off = 0;
  while (off < text.size()) {
    ssize_t n = ::write(fd, text.data() + off, text.size() - off);
    if (n < 0) {
      if (errno == EINTR) continue;
      ::close(fd);
      return Status::IOError("writing " + path + ": " + std::strerror(errno));
    }
    off += static_cast<size_t>(n);
  }
  if (::fsync(fd) != 0 || ::close(fd) != 0) return Status::IOError("closing " + path);
  return Status::Ok();
}

}  // namespace fedledger::node
