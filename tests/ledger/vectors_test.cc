// The worked test vectors of docs/FORMAT.md, rebuilt from the code and compared with the
// document, so the document cannot drift from the format.
//
// FORMAT.md holds vector lines of the form `label = lowercasehex` (one per line, inside code
// blocks) and a few multi-line blocks introduced by `<!-- vector: NAME -->` followed by a
// fenced code block. This test builds exactly those objects (deterministic keys, entries
// signed with BIP-340 without auxiliary randomness, a two-block chain in an in-memory store,
// a seven-leaf Merkle log) and checks that
//   * every label it computes appears in the document exactly once, with the same hex;
//   * every vector line in the document is one it computes (no stale vectors);
//   * the export, proof document and store listing blocks match byte for byte.
// Set FEDLEDGER_PRINT_VECTORS=1 to print the computed lines (for updating the document).
//
// Two independent re-derivations back the document's prose: one entry's bytes and digest are
// rebuilt here by hand with plain SHA-256, and tests/ledger/format_vectors.py (run below if
// /usr/bin/python3 exists) re-checks every vector from the document alone, including the
// BIP-340 signatures, in pure Python.
#include <leveldb/db.h>
#include <leveldb/env.h>
#include <leveldb/helpers/memenv.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <catch2/catch.hpp>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <optional>
#include <regex>
#include <set>
#include <sstream>

#include "ledger/block.h"
#include "ledger/crypto.h"
#include "ledger/encoding.h"
#include "ledger/entry.h"
#include "ledger/export.h"
#include "ledger/merkle.h"
#include "ledger/store.h"

namespace fedledger {
namespace {

const char* const kDocPath = FEDLEDGER_SOURCE_DIR "/docs/FORMAT.md";
const char* const kScriptPath = FEDLEDGER_SOURCE_DIR "/tests/ledger/format_vectors.py";

constexpr const char* kChainId = "fedledger-vectors";
constexpr uint64_t kGenesisTime = 1767225600000;  // 2026-01-01T00:00:00Z
constexpr uint64_t kDatasetTime = 1767225660000;  // +60 s
constexpr uint64_t kUpdateTime = 1767225720000;   // +120 s

template <typename T>
T Ok(Result<T> r) {
  INFO(r.status().message());
  REQUIRE(r.ok());
  return std::move(r).value();
}

std::string Hx(const Bytes& b) { return ToHex(b); }
std::string Hx(const Hash32& h) { return h.Hex(); }
std::string Hx(const Signature& s) { return ToHex(ByteView(s.data(), s.size())); }
std::string Hx(const std::string& s) { return ToHex(AsView(s)); }

// Everything the document shows, built once.
struct Fixture {
  std::vector<std::pair<std::string, std::string>> vectors;  // label, hex (in order)
  std::map<std::string, std::string> blocks;                 // marker name, text
  std::unique_ptr<leveldb::Env> env{leveldb::NewMemEnv(leveldb::Env::Default())};
  std::unique_ptr<Store> store;

  void Add(const std::string& label, const std::string& hex) { vectors.emplace_back(label, hex); }
};

const std::vector<std::string>& KeyNamesInOrder() {
  static const std::vector<std::string> names = {"alice",       "bob",         "validator-0",
                                                 "validator-1", "validator-2", "validator-3"};
  return names;
}

std::unique_ptr<Fixture> Build() {
  auto f = std::make_unique<Fixture>();

  // ---- varints (section 2), and the non-canonical forms a decoder must refuse ----
  for (uint64_t v :
       {uint64_t{0}, uint64_t{1}, uint64_t{127}, uint64_t{128}, uint64_t{300}, UINT64_MAX}) {
    Writer w;
    w.Varint(v);
    Reader r(w.bytes());
    REQUIRE(Ok(r.Varint("v")) == v);
    f->Add("varint." + std::to_string(v), Hx(w.bytes()));
  }
  for (const char* bad : {"8000", "8100", "ffffffffffffffffff02", "8080808080808080808001", "80"}) {
    Bytes b = Ok(FromHex(bad));
    Reader r(b);
    INFO("non-canonical varint " << bad);
    CHECK_FALSE(r.Varint("v").ok());
  }

  // ---- keys ----
  std::map<std::string, SecretKey> keys;
  for (const std::string& name : KeyNamesInOrder()) {
    SecretKey k = SecretKey::FromSeed(name);
    f->Add("key." + name + ".secret", k.Hex());
    f->Add("key." + name + ".public", k.pubkey().Hex());
    keys.emplace(name, k);
  }
  const SecretKey& alice = keys.at("alice");
  const SecretKey& bob = keys.at("bob");
  std::vector<SecretKey> vkeys;
  for (int i = 0; i < 4; ++i) vkeys.push_back(keys.at("validator-" + std::to_string(i)));

  Hash32 ab = Ok(alice.Ecdh(bob.pubkey()));
  REQUIRE(Ok(bob.Ecdh(alice.pubkey())) == ab);
  f->Add("ecdh.alice.bob", ab.Hex());

  // ---- domain tags: SHA256(tag), the 32 bytes written twice before every tagged message ----
  const std::pair<const char*, std::string_view> tag_list[] = {
      {"entry", tags::kEntry},
      {"block", tags::kBlock},
      {"vote", tags::kVote},
      {"validator-set", tags::kValidatorSet},
      {"task-spec", tags::kTaskSpec},
      {"peer-handshake", tags::kPeerHandshake},
      {"peer-message", tags::kPeerMessage},
      {"peer-batch", tags::kPeerBatch}};
  for (const auto& [name, tag] : tag_list)
    f->Add(std::string("tag.") + name + ".sha256", Sha256(tag).Hex());

  // ---- entries ----
  GenesisPayload g;
  g.genesis_time_ms = kGenesisTime;
  for (int i = 0; i < 4; ++i)
    g.validators.push_back({"validator-" + std::to_string(i), vkeys[i].pubkey()});
  g.partners.push_back({"alice", alice.pubkey()});
  g.partners.push_back({"bob", bob.pubkey()});

  EntryBody gb;
  gb.chain_id = kChainId;
  gb.nonce = 1;
  gb.timestamp_ms = kGenesisTime;
  gb.payload = g;
  Entry genesis = Ok(Entry::Sign(gb, alice, /*deterministic=*/true));

  EntryBody db;
  db.chain_id = kChainId;
  db.nonce = 2;
  db.timestamp_ms = kDatasetTime;
  db.payload = DatasetRegisterPayload{"alice-assays", Sha256(std::string_view("alice-assays")),
                                      2000, "smiles,NR-AR,NR-AhR", "in-house screening results"};
  Entry dataset = Ok(Entry::Sign(db, alice, true));

  EntryBody mb;
  mb.chain_id = kChainId;
  mb.nonce = 1;
  mb.timestamp_ms = kUpdateTime;
  mb.payload = ModelUpdatePayload{"task-00001", 1, Sha256(std::string_view("task-00001/1/bob")),
                                  2611, 134217792};
  Entry update = Ok(Entry::Sign(mb, bob, true));

  const std::pair<const char*, const Entry*> entries[] = {
      {"genesis", &genesis}, {"dataset_register", &dataset}, {"model_update", &update}};
  for (const auto& [name, e] : entries) {
    REQUIRE(e->VerifySignature());
    // Decoding the canonical bytes gives the same entry back.
    Entry again = Ok(Entry::Decode(e->bytes()));
    REQUIRE(again.bytes() == e->bytes());
    std::string p = std::string("entry.") + name;
    f->Add(p + ".bytes", Hx(e->bytes()));
    f->Add(p + ".digest", Hx(e->digest()));
    f->Add(p + ".signature", Hx(e->signature()));
    f->Add(p + ".leaf_hash", Hx(e->leaf_hash()));
  }

  // ---- validator set and blocks ----
  ValidatorSet vals(g.validators);
  REQUIRE(vals.Quorum() == 3);
  f->Add("validator_set.hash", vals.hash().Hex());

  Block b0 = Ok(MakeGenesisBlock(genesis));
  Hash32 h0 = b0.header.Hash();
  f->Add("block.0.header", Hx(b0.header.Encode()));
  f->Add("block.0.hash", h0.Hex());

  StoreOptions so;
  so.env = f->env.get();
  f->store = Ok(Store::Create("/vectors/ledger", b0, so));

  Block b1;
  b1.entries = {dataset, update};
  b1.header = f->store->NextHeader(b1.entries, kUpdateTime, vkeys[1].pubkey());
  REQUIRE(b1.header.prev_hash == h0);
  Hash32 h1 = b1.header.Hash();
  f->Add("block.1.header", Hx(b1.header.Encode()));
  f->Add("block.1.hash", h1.Hex());
  f->Add("block.1.bytes", Hx(b1.Encode()));

  // ---- a precommit vote and the certificate ----
  Vote v = PrecommitFor(kChainId, 1, 0, h1, vkeys[0].pubkey());
  v.sig = vkeys[0].SignDeterministic(v.Digest());
  REQUIRE(v.VerifySignature());
  f->Add("vote.precommit.unsigned", Hx(v.EncodeUnsigned()));
  f->Add("vote.precommit.digest", v.Digest().Hex());
  f->Add("vote.precommit.bytes", Hx(v.Encode()));

  Certificate cert;
  cert.height = 1;
  cert.round = 0;
  cert.block_hash = h1;
  for (uint16_t i = 0; i < 3; ++i) {
    Vote pv = PrecommitFor(kChainId, 1, 0, h1, vkeys[i].pubkey());
    cert.sigs.push_back({i, vkeys[i].SignDeterministic(pv.Digest())});
  }
  REQUIRE(cert.sigs[0].sig == v.sig);
  REQUIRE(cert.Verify(vals, kChainId, 1, h1).ok());
  f->Add("certificate.1.bytes", Hx(cert.Encode()));
  {
    Status s = f->store->Commit(b1, cert);
    INFO(s.message());
    REQUIRE(s.ok());
  }

  // ---- the ledger's Merkle log (3 entries) ----
  f->Add("merkle.empty_root", MerkleEmptyRoot().Hex());
  REQUIRE(Ok(f->store->RootAt(1)) == genesis.leaf_hash());
  REQUIRE(Ok(f->store->RootAt(3)) == b1.header.log_root);
  f->Add("merkle.ledger.root.3", b1.header.log_root.Hex());
  auto add_list = [&](const std::string& label, const std::vector<Hash32>& hs) {
    for (size_t i = 0; i < hs.size(); ++i) f->Add(label + "." + std::to_string(i), hs[i].Hex());
  };
  std::vector<Hash32> lp = Ok(f->store->InclusionProof(1, 3));
  REQUIRE(VerifyInclusionProof(dataset.leaf_hash(), 1, 3, lp, b1.header.log_root).ok());
  add_list("merkle.ledger.inclusion.1.3", lp);
  std::vector<Hash32> lc = Ok(f->store->ConsistencyProof(1, 3));
  REQUIRE(VerifyConsistencyProof(1, 3, genesis.leaf_hash(), b1.header.log_root, lc).ok());
  add_list("merkle.ledger.consistency.1.3", lc);

  // ---- a seven-leaf log: leaf i holds the ASCII text "leaf-i" ----
  MemoryMerkleLog log7;
  for (int i = 0; i < 7; ++i) {
    Hash32 leaf = MerkleLeafHash(AsView("leaf-" + std::to_string(i)));
    f->Add("merkle.log7.leaf." + std::to_string(i), leaf.Hex());
    log7.Append(leaf);
  }
  Hash32 root3 = Ok(MerkleRoot(log7, 3));
  Hash32 root7 = Ok(MerkleRoot(log7, 7));
  REQUIRE(root7 == log7.Root());
  f->Add("merkle.log7.root.3", root3.Hex());
  f->Add("merkle.log7.root.7", root7.Hex());
  std::vector<Hash32> ip = Ok(MerkleInclusionProof(log7, 5, 7));
  REQUIRE(VerifyInclusionProof(Ok(log7.Node({0, 5})), 5, 7, ip, root7).ok());
  add_list("merkle.log7.inclusion.5.7", ip);
  std::vector<Hash32> cp = Ok(MerkleConsistencyProof(log7, 3, 7));
  REQUIRE(VerifyConsistencyProof(3, 7, root3, root7, cp).ok());
  add_list("merkle.log7.consistency.3.7", cp);

  // ---- the store: every key and value of the two-block chain, in LevelDB key order, the
  // log database's after the index database's ----
  {
    std::ostringstream listing;
    for (leveldb::DB* db : {f->store->db(), f->store->log_db()}) {
      listing << (db == f->store->db() ? "index database (ledger/):\n"
                                       : "log database (ledger/entries/):\n");
      std::unique_ptr<leveldb::Iterator> it(db->NewIterator(leveldb::ReadOptions()));
      for (it->SeekToFirst(); it->Valid(); it->Next()) {
        std::string key = it->key().ToString(), value = it->value().ToString();
        listing << Hx(key) << "  ";
        if (db == f->store->log_db() && keys::IsEntryKey(key.size())) {
          listing << "<entry bytes, " << value.size() << " bytes>";
        } else if (value.empty()) {
          listing << "<empty>";
        } else {
          listing << Hx(value);
        }
        listing << '\n';
      }
      REQUIRE(it->status().ok());
    }
    f->blocks["store-listing"] = listing.str();
  }
  f->Add("store.key.meta_genesis", Hx(keys::Meta("genesis")));
  f->Add("store.key.block.1", Hx(keys::Block(1)));
  f->Add("store.key.entry.2", Hx(keys::Entry(2)));
  f->Add("store.key.node.1.0", Hx(keys::Node({1, 0})));
  f->Add("store.key.commit.1", Hx(keys::Commit(3, 1)));
  f->Add("store.key.meta_format", Hx(keys::Meta("format")));
  f->Add("store.key.by_signer.bob.0", Hx(keys::BySigner(bob.pubkey(), 0)));
  f->Add("store.key.by_kind.model_update.1", Hx(keys::ByKind(EntryKind::kModelUpdate, 1)));
  f->Add("store.key.by_task.task-00001.1", Hx(keys::ByTask("task-00001", 1)));
  f->Add("store.key.by_time.1", Hx(keys::ByTime(kUpdateTime, 1)));
  {
    std::string v;
    REQUIRE(f->store->db()->Get(leveldb::ReadOptions(), keys::Meta("format"), &v).ok());
    f->Add("store.value.meta_format", Hx(v));
    REQUIRE(f->store->db()->Get(leveldb::ReadOptions(),
                                keys::ByKind(EntryKind::kModelUpdate, 1), &v).ok());
    f->Add("store.value.by_kind.model_update.1", Hx(v));
    // Bob's value in chunk 0 once the chunk closes (at height 255): block 1, offset 1.
    std::string chunk;
    keys::AppendSignerBlock(chunk, 1, {1});
    REQUIRE(keys::DecodeSignerChunk(chunk, 0).value().size() == 1);
    f->Add("store.value.by_signer.bob.0", Hx(chunk));
  }
  {
    std::string rec;
    REQUIRE(f->store->db()->Get(leveldb::ReadOptions(), keys::Block(1), &rec).ok());
    f->Add("store.value.block.1", Hx(rec));
  }

  // ---- the export and an inclusion proof document ----
  {
    std::ostringstream out;
    REQUIRE(ExportStore(*f->store, out).ok());
    f->blocks["export"] = out.str();
    nlohmann::json doc = Ok(MakeInclusionProofDoc(*f->store, 1, 3));
    f->blocks["inclusion-proof"] = doc.dump(2) + "\n";
  }
  return f;
}

Fixture& Vectors() {
  static std::unique_ptr<Fixture> f = Build();
  return *f;
}

std::string ReadDoc() {
  std::ifstream in(kDocPath);
  INFO("reading " << kDocPath);
  REQUIRE(in.good());
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// `label = hex` lines of the document, with their line numbers.
std::multimap<std::string, std::pair<std::string, int>> DocVectors(const std::string& doc) {
  static const std::regex line_re(R"(^([a-z][a-z0-9_.\-]*) = ([0-9a-f]+)$)");
  std::multimap<std::string, std::pair<std::string, int>> out;
  std::istringstream in(doc);
  std::string line;
  int n = 0;
  while (std::getline(in, line)) {
    ++n;
    std::smatch m;
    if (std::regex_match(line, m, line_re)) out.emplace(m[1], std::make_pair(m[2].str(), n));
  }
  return out;
}

// The fenced block after `<!-- vector: NAME -->`, without its fences; nullopt if absent.
std::optional<std::string> DocBlock(const std::string& doc, const std::string& name) {
  std::string marker = "<!-- vector: " + name + " -->";
  size_t at = doc.find(marker);
  if (at == std::string::npos) return std::nullopt;
  size_t open = doc.find("```", at);
  if (open == std::string::npos) return std::nullopt;
  size_t body = doc.find('\n', open);
  if (body == std::string::npos) return std::nullopt;
  ++body;
  size_t close = doc.find("\n```", body - 1);
  if (close == std::string::npos) return std::nullopt;
  return doc.substr(body, close + 1 - body);
}

TEST_CASE("docs/FORMAT.md: every vector line matches the code", "[vectors]") {
  Fixture& f = Vectors();
  if (std::getenv("FEDLEDGER_PRINT_VECTORS")) {
    for (const auto& [label, hex] : f.vectors) std::cout << label << " = " << hex << "\n";
    for (const auto& [name, text] : f.blocks) {
      std::cout << "<!-- vector: " << name << " -->\n" << text << "<!-- end -->\n";
    }
  }
  std::string doc = ReadDoc();
  auto in_doc = DocVectors(doc);
  std::set<std::string> computed;
  for (const auto& [label, hex] : f.vectors) {
    computed.insert(label);
    INFO("vector " << label);
    REQUIRE(in_doc.count(label) == 1);
    const auto& [doc_hex, line] = in_doc.find(label)->second;
    INFO("docs/FORMAT.md line " << line);
    CHECK(doc_hex == hex);
  }
  for (const auto& [label, where] : in_doc) {
    INFO("docs/FORMAT.md line " << where.second << ": vector '" << label
                                << "' is not produced by the code (stale or misspelled)");
    CHECK(computed.count(label) == 1);
  }
}

TEST_CASE("docs/FORMAT.md: export, proof document and store listing match the code", "[vectors]") {
  Fixture& f = Vectors();
  std::string doc = ReadDoc();
  for (const auto& [name, text] : f.blocks) {
    INFO("block <!-- vector: " << name << " -->");
    auto in_doc = DocBlock(doc, name);
    REQUIRE(in_doc.has_value());
    CHECK(*in_doc == text);
  }
  // What the document shows also verifies as documented.
  std::istringstream exported(*DocBlock(doc, "export"));
  AuditOptions o;
  o.threads = 1;
  auto summary = VerifyExport(exported, o);
  INFO(summary.status().message());
  REQUIRE(summary.ok());
  CHECK(summary->entries == 3);
  auto proof = nlohmann::json::parse(*DocBlock(doc, "inclusion-proof"));
  auto checked = CheckProofDoc(proof, f.store->genesis_hash());
  INFO(checked.status().message());
  CHECK(checked.ok());
}

// Rebuilds the MODEL_UPDATE entry's unsigned bytes field by field from the layout table in
// FORMAT.md, and its digest with plain SHA-256 (no Entry, no TaggedHash), and compares them
// with the document's vectors.
TEST_CASE("docs/FORMAT.md: MODEL_UPDATE bytes and digest re-derived by hand", "[vectors]") {
  auto in_doc = DocVectors(ReadDoc());
  auto doc_hex = [&](const std::string& label) {
    INFO("vector " << label);
    REQUIRE(in_doc.count(label) == 1);
    return in_doc.find(label)->second.first;
  };
  auto le = [](uint64_t v, int n) {
    Bytes b;
    for (int i = 0; i < n; ++i) b.push_back(static_cast<uint8_t>(v >> (8 * i)));
    return ToHex(b);
  };
  auto text = [](const std::string& s) {
    REQUIRE(s.size() < 128);  // a one-byte varint length
    return ToHex(Bytes{static_cast<uint8_t>(s.size())}) + ToHex(AsView(s));
  };
  std::string expected = "01"                                                  // version
                         + text(kChainId)                                      // chain_id
                         + "09"                                                // kind MODEL_UPDATE
                         + doc_hex("key.bob.public")                           // signer
                         + le(1, 8)                                            // nonce
                         + le(kUpdateTime, 8)                                  // timestamp_ms
                         + text("task-00001")                                  // task_id
                         + le(1, 4)                                            // round
                         + Sha256(std::string_view("task-00001/1/bob")).Hex()  // update_hash
                         + le(2611, 8)                                         // sample_count
                         + le(134217792, 8)                                    // size_bytes
                         + le(0, 4);                                           // attempt
  std::string bytes = doc_hex("entry.model_update.bytes");
  REQUIRE(bytes.size() == expected.size() + 128);
  CHECK(bytes.substr(0, expected.size()) == expected);
  CHECK(bytes.substr(expected.size()) == doc_hex("entry.model_update.signature"));

  Bytes unsigned_part = Ok(FromHex(expected));
  Hash32 tag = Sha256(std::string_view("fedledger/entry/v1"));
  Bytes msg;
  msg.insert(msg.end(), tag.v.begin(), tag.v.end());
  msg.insert(msg.end(), tag.v.begin(), tag.v.end());
  msg.insert(msg.end(), unsigned_part.begin(), unsigned_part.end());
  CHECK(Sha256(msg).Hex() == doc_hex("entry.model_update.digest"));

  Bytes leaf{0x00};
  Bytes all = Ok(FromHex(bytes));
  leaf.insert(leaf.end(), all.begin(), all.end());
  CHECK(Sha256(leaf).Hex() == doc_hex("entry.model_update.leaf_hash"));

  // And the documented key derivation: secret = SHA256("fedledger/dev-key" || seed).
  CHECK(Sha256(std::string_view("fedledger/dev-keybob")).Hex() == doc_hex("key.bob.secret"));
}

// An independent verifier written from FORMAT.md alone (pure Python: SHA-256 from hashlib,
// secp256k1 and BIP-340 from the textbook formulas) checks the same vectors.
TEST_CASE("docs/FORMAT.md: independent Python verifier accepts the vectors", "[vectors]") {
  struct stat st;
  if (::stat("/usr/bin/python3", &st) != 0) {
    WARN("/usr/bin/python3 not found: skipping the independent Python cross-check");
    return;
  }
  std::string cmd = std::string("/usr/bin/python3 ") + kScriptPath + " " + kDocPath + " 2>&1";
  FILE* p = ::popen(cmd.c_str(), "r");
  REQUIRE(p != nullptr);
  std::string out;
  char buf[512];
  while (size_t n = std::fread(buf, 1, sizeof buf, p)) out.append(buf, n);
  int status = ::pclose(p);
  INFO(out);
  REQUIRE(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 0);
}

}  // namespace
}  // namespace fedledger
