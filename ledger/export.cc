#include "ledger/export.h"

#include <algorithm>
#include <initializer_list>
#include <istream>
#include <ostream>
#include <string_view>

#include "ledger/strict_json.h"

namespace fedledger {

using nlohmann::json;

namespace {

std::string Hex(const Bytes& b) { return ToHex(b); }

Result<Bytes> HexField(const json& j, const char* field) {
  if (!j.contains(field) || !j[field].is_string()) {
    return Status::InvalidArgument(std::string("field '") + field + "' is missing or not a string");
  }
  auto b = FromHex(j[field].get<std::string>());
  if (!b.ok()) return b.status().WithContext(std::string("field '") + field + "'");
  return b;
}

Result<Hash32> HashField(const json& j, const char* field) {
  FL_ASSIGN(Bytes b, HexField(j, field));
  if (b.size() != 32) return Status::InvalidArgument(std::string("field '") + field + "' is not 32 bytes");
  return Hash32::FromView(b);
}

Result<uint64_t> UintField(const json& j, const char* field) {
  if (!j.contains(field) || !j[field].is_number_unsigned()) {
    return Status::InvalidArgument(std::string("field '") + field +
                                   "' is missing or not a non-negative integer");
  }
  return j[field].get<uint64_t>();
}

// j[field] if it is a string, else "": a missing or mistyped field then fails the comparison
// it is read for, where json::value() would throw.
std::string StringOr(const json& j, const char* field) {
  auto it = j.find(field);
  return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
}

json HeadJson(const BlockRecord& rec) {
  return {{"height", rec.header.height},
          {"header", Hex(rec.header.Encode())},
          {"certificate", rec.cert ? json(Hex(rec.cert->Encode())) : json(nullptr)}};
}

std::vector<std::string> HexHashes(const std::vector<Hash32>& v) {
  std::vector<std::string> out;
  for (const Hash32& h : v) out.push_back(h.Hex());
  return out;
}

Result<std::vector<Hash32>> HashList(const json& j, const char* field) {
  if (!j.contains(field) || !j[field].is_array()) {
    return Status::InvalidArgument(std::string("field '") + field + "' is missing or not a list");
  }
  std::vector<Hash32> out;
  for (const json& h : j[field]) {
    const std::string name =
        "field '" + std::string(field) + "[" + std::to_string(out.size()) + "]'";
    if (!h.is_string()) return Status::InvalidArgument(name + " is not a hex string");
    auto x = Hash32::FromHex(h.get<std::string>());
    if (!x.ok()) return x.status().WithContext(name);
    out.push_back(*x);
  }
  return out;
}

}  // namespace

Status ExportStore(const Store& store, std::ostream& out,
                   const std::function<void(uint64_t, uint64_t)>& progress) {
  BlockRecord head = store.head();
  json first = {{"format", "fedledger-export"},     {"version", 1},
                {"chain_id", store.chain_id()},     {"genesis_hash", store.genesis_hash().Hex()},
                {"height", head.header.height},     {"log_size", head.header.log_size},
                {"log_root", head.header.log_root.Hex()}, {"head_hash", head.hash.Hex()}};
  out << first.dump() << '\n';
  for (uint64_t h = 0; h <= head.header.height; ++h) {
    FL_ASSIGN(BlockRecord rec, store.GetBlockRecord(h));
    FL_ASSIGN(Block block, store.GetBlock(h));
    json entries = json::array();
    for (const Entry& e : block.entries) entries.push_back(Hex(e.bytes()));
    json line = {{"type", "block"},
                 {"height", h},
                 {"header", Hex(rec.header.Encode())},
                 {"certificate", rec.cert ? json(Hex(rec.cert->Encode())) : json(nullptr)},
                 {"entries", std::move(entries)}};
    out << line.dump() << '\n';
    if (progress) progress(h + 1, head.header.height + 1);
  }
  out << json{{"type", "end"}, {"blocks", head.header.height + 1},
              {"entries", head.header.log_size}}.dump()
      << '\n';
  out.flush();
  if (!out) return Status::IOError("writing the export failed");
  return Status::Ok();
}

Result<AuditSummary> VerifyExport(std::istream& in, const AuditOptions& options) {
  std::string line;
  uint64_t line_no = 0;
  auto bad = [&](const std::string& m) {
    return Status::Corruption("line " + std::to_string(line_no) + ": " + m);
  };
  if (!std::getline(in, line)) return Status::Corruption("the export is empty");
  ++line_no;
  auto parsed_first = ParseJsonStrict(line, "the first line");
  if (!parsed_first.ok()) return bad("not a fedledger export: " + parsed_first.status().message());
  const json& first = *parsed_first;
  if (!first.is_object() || StringOr(first, "format") != "fedledger-export") {
    return bad("not a fedledger export (first line must name format fedledger-export)");
  }
  auto version = UintField(first, "version");
  if (!version.ok() || *version != 1) return bad("unsupported export version");
  auto declared_height = UintField(first, "height");
  auto declared_size = UintField(first, "log_size");
  auto declared_root = HashField(first, "log_root");
  auto declared_genesis = HashField(first, "genesis_hash");
  if (!declared_height.ok() || !declared_size.ok() || !declared_root.ok() || !declared_genesis.ok()) {
    return bad("the first line lacks height, log_size, log_root or genesis_hash");
  }
  uint64_t total = *declared_size;
  AuditOptions o = options;
  if (o.progress) {
    auto user = o.progress;
    o.progress = [user, total](uint64_t d, uint64_t) { user(d, total); };
  }
  ChainVerifier v(o);
  Status structural;
  bool ended = false;
  while (std::getline(in, line)) {
    ++line_no;
    auto parsed = ParseJsonStrict(line, "the line");
    if (!parsed.ok() || !parsed->is_object()) {
      structural = bad(parsed.ok() ? "not a JSON object" : parsed.status().message());
      break;
    }
    const json& j = *parsed;
    std::string type = StringOr(j, "type");
    if (type == "end") {
      auto blocks = UintField(j, "blocks");
      auto entries = UintField(j, "entries");
      if (!blocks.ok() || !entries.ok() || *blocks != v.summary().blocks ||
          *entries != v.log_size()) {
        structural = bad("the end line's counts do not match the blocks read");
      }
      ended = true;
      break;
    }
    if (type != "block") {
      structural = bad("unknown line type '" + type + "'");
      break;
    }
    auto hb = HexField(j, "header");
    if (!hb.ok()) { structural = bad(hb.status().message()); break; }
    auto header = BlockHeader::Decode(*hb);
    if (!header.ok()) { structural = bad(header.status().message()); break; }
    auto line_height = UintField(j, "height");
    if (!line_height.ok() || *line_height != header->height) {
      structural = bad("the line's height does not match its header");
      break;
    }
    std::optional<Certificate> cert;
    if (j.contains("certificate") && !j["certificate"].is_null()) {
      auto cb = HexField(j, "certificate");
      if (!cb.ok()) { structural = bad(cb.status().message()); break; }
      auto c = Certificate::Decode(*cb);
      if (!c.ok()) { structural = bad(c.status().message()); break; }
      cert = std::move(c).value();
    }
    if (!j.contains("entries") || !j["entries"].is_array()) {
      structural = bad("entries missing");
      break;
    }
    std::vector<Bytes> bytes;
    for (const json& e : j["entries"]) {
      auto b = e.is_string() ? FromHex(e.get<std::string>())
                             : Result<Bytes>(Status::InvalidArgument("entry is not a hex string"));
      if (!b.ok()) { structural = bad(b.status().message()); break; }
      bytes.push_back(std::move(b).value());
    }
    if (!structural.ok()) break;
    std::vector<ByteView> views(bytes.begin(), bytes.end());
    if (!v.AddBlock(*header, cert, views).ok()) break;
  }
  if (structural.ok() && !ended) structural = Status::Corruption("the export is truncated: no end line");
  FL_TRY(v.Finish(structural, v.log_size()));
  const AuditSummary& s = v.summary();
  if (s.genesis_hash != *declared_genesis || s.blocks != *declared_height + 1 ||
      s.entries != *declared_size || s.log_root != *declared_root ||
      StringOr(first, "chain_id") != s.chain_id || StringOr(first, "head_hash") != s.head_hash.Hex()) {
    return Status::Corruption("the first line's chain id, genesis, height, log size, root or "
                              "head hash do not match the verified blocks");
  }
  if (options.expected_genesis && s.genesis_hash != *options.expected_genesis) {
    return Status::Corruption("genesis hash " + s.genesis_hash.Hex() + " is not the expected " +
                              options.expected_genesis->Hex());
  }
  return s;
}

Result<uint64_t> BlockWithLogSize(const Store& store, uint64_t tree_size) {
  BlockRecord head = store.head();
  if (tree_size == 0 || tree_size > head.header.log_size) {
    return Status::InvalidArgument("tree size " + std::to_string(tree_size) +
                                   " is outside 1.." + std::to_string(head.header.log_size));
  }
  FL_ASSIGN(uint64_t h, store.HeightOfEntry(tree_size - 1));
  FL_ASSIGN(BlockRecord rec, store.GetBlockRecord(h));
  if (rec.header.log_size == tree_size) return h;
  uint64_t below = rec.header.log_size - rec.header.entry_count;
  return Status::InvalidArgument("tree size " + std::to_string(tree_size) +
                                 " is not a committed block boundary; the nearest are " +
                                 std::to_string(below) + " (block " + std::to_string(h - 1) +
                                 ") and " + std::to_string(rec.header.log_size) + " (block " +
                                 std::to_string(h) + ")");
}

namespace {
Result<std::string> GenesisEntryHex(const Store& store) {
  FL_ASSIGN(Block g, store.GetBlock(0));
  return ToHex(g.entries[0].bytes());
}
}  // namespace

Result<json> MakeInclusionProofDoc(const Store& store, uint64_t index, uint64_t tree_size) {
  if (tree_size == 0) tree_size = store.log_size();
  FL_ASSIGN(uint64_t h, BlockWithLogSize(store, tree_size));
  FL_ASSIGN(BlockRecord rec, store.GetBlockRecord(h));
  FL_ASSIGN(std::vector<Hash32> proof, store.InclusionProof(index, tree_size));
  FL_ASSIGN(Entry e, store.GetEntry(index));
  FL_ASSIGN(std::string genesis_hex, GenesisEntryHex(store));
  return json{{"type", "inclusion"},
              {"chain_id", store.chain_id()},
              {"leaf_index", index},
              {"tree_size", tree_size},
              {"entry", ToHex(e.bytes())},
              {"leaf_hash", e.leaf_hash().Hex()},
              {"root", rec.header.log_root.Hex()},
              {"proof", HexHashes(proof)},
              {"signed_tree_head", HeadJson(rec)},
              {"genesis_entry", genesis_hex}};
}

Result<json> MakeConsistencyProofDoc(const Store& store, uint64_t from, uint64_t to) {
  FL_ASSIGN(uint64_t hf, BlockWithLogSize(store, from));
  FL_ASSIGN(uint64_t ht, BlockWithLogSize(store, to));
  FL_ASSIGN(BlockRecord rf, store.GetBlockRecord(hf));
  FL_ASSIGN(BlockRecord rt, store.GetBlockRecord(ht));
  FL_ASSIGN(std::vector<Hash32> proof, store.ConsistencyProof(from, to));
  FL_ASSIGN(std::string genesis_hex, GenesisEntryHex(store));
  return json{{"type", "consistency"},
              {"chain_id", store.chain_id()},
              {"from_size", from},
              {"to_size", to},
              {"from_root", rf.header.log_root.Hex()},
              {"to_root", rt.header.log_root.Hex()},
              {"proof", HexHashes(proof)},
              {"from_head", HeadJson(rf)},
              {"to_head", HeadJson(rt)},
              {"genesis_entry", genesis_hex}};
}

namespace {
// A proof document holds only the fields its type defines: a field this checker does not
// know would be a claim that nothing verifies, so the document is refused instead.
Status OnlyKnownFields(const json& obj, std::initializer_list<std::string_view> known,
                       const std::string& where) {
  for (const auto& [k, v] : obj.items()) {
    if (std::find(known.begin(), known.end(), k) != known.end()) continue;
    std::string list;
    for (std::string_view n : known) list += (list.empty() ? "" : ", ") + std::string(n);
    return Status::InvalidArgument("unknown field '" + k + "' in " + where + " (expected " +
                                   list + ")");
  }
  return Status::Ok();
}

// Verifies a {"height","header","certificate"} head against the validator set; returns the
// header. `height`, when present, must be the certified header's.
Result<BlockHeader> CheckHead(const json& doc, const ValidatorSet& vals, const Hash32& genesis_hash,
                              const Block& genesis, const char* which) {
  if (!doc.contains(which) || !doc[which].is_object()) {
    return Status::InvalidArgument(std::string("field '") + which + "' is missing or not an object");
  }
  const json& head = doc[which];
  FL_TRY(OnlyKnownFields(head, {"height", "header", "certificate"}, std::string("'") + which + "'"));
  FL_ASSIGN(Bytes hb, HexField(head, "header"));
  auto decoded = BlockHeader::Decode(hb);
  if (!decoded.ok()) return decoded.status().WithContext(std::string("field '") + which + ".header'");
  const BlockHeader& h = *decoded;
  if (h.chain_id != genesis.header.chain_id) {
    return Status::Corruption(std::string(which) + ": chain id does not match the genesis");
  }
  if (head.contains("height") &&
      (!head["height"].is_number_unsigned() || head["height"].get<uint64_t>() != h.height)) {
    return Status::Corruption(std::string("field '") + which + ".height' (" + head["height"].dump() +
                              ") does not match the certified value " + std::to_string(h.height));
  }
  if (h.height == 0) {
    if (h.Hash() != genesis_hash) {
      return Status::Corruption(std::string(which) + ": height 0 but not the genesis block");
    }
    if (head.contains("certificate") && !head["certificate"].is_null()) {
      return Status::Corruption(std::string("field '") + which +
                                ".certificate' must be null: the genesis block has no certificate");
    }
    return h;
  }
  if (h.validator_set_hash != vals.hash()) {
    return Status::Corruption(std::string(which) + ": validator set differs from the genesis");
  }
  if (vals.IndexOf(h.proposer) < 0) {
    return Status::Corruption(std::string(which) + ": proposer is not a validator");
  }
  FL_ASSIGN(Bytes cb, HexField(head, "certificate"));
  auto c = Certificate::Decode(cb);
  if (!c.ok()) return c.status().WithContext(std::string("field '") + which + ".certificate'");
  Status s = c->Verify(vals, h.chain_id, h.height, h.Hash());
  if (!s.ok()) return Status::Corruption(std::string(which) + ": " + s.message());
  return h;
}
// A document may repeat certified values for readers (root, leaf hash, chain id); when it
// does, they must equal what the signatures certify, so no claim in the file goes unchecked.
Status MatchesIfPresent(const json& doc, const char* field, const std::string& certified) {
  if (!doc.contains(field)) return Status::Ok();
  if (!doc[field].is_string() || doc[field].get<std::string>() != certified) {
    return Status::Corruption(std::string("field '") + field +
                              "' does not match the certified value " + certified);
  }
  return Status::Ok();
}

}  // namespace

Result<ProofCheck> CheckProofDoc(const json& doc, const std::optional<Hash32>& expected_genesis) {
  if (!doc.is_object()) return Status::InvalidArgument("a proof document is a JSON object");
  ProofCheck out;
  if (!doc.contains("type") || !doc["type"].is_string()) {
    return Status::InvalidArgument("field 'type' is missing or not a string");
  }
  out.type = doc["type"].get<std::string>();
  const bool inclusion = out.type == "inclusion";
  if (inclusion) {
    FL_TRY(OnlyKnownFields(doc, {"type", "chain_id", "leaf_index", "tree_size", "entry",
                                 "leaf_hash", "root", "proof", "signed_tree_head", "genesis_entry"},
                           "an inclusion proof"));
  } else if (out.type == "consistency") {
    FL_TRY(OnlyKnownFields(doc, {"type", "chain_id", "from_size", "to_size", "from_root",
                                 "to_root", "proof", "from_head", "to_head", "genesis_entry"},
                           "a consistency proof"));
  } else {
    return Status::InvalidArgument("unknown proof type '" + out.type +
                                   "' (expected inclusion or consistency)");
  }
  FL_ASSIGN(Bytes gb, HexField(doc, "genesis_entry"));
  FL_ASSIGN(Entry ge, Entry::Decode(gb));
  if (!ge.VerifySignature()) return Status::Corruption("genesis entry signature does not verify");
  FL_ASSIGN(Block genesis, MakeGenesisBlock(ge));
  out.genesis_hash = genesis.header.Hash();
  out.chain_id = genesis.header.chain_id;
  if (expected_genesis && out.genesis_hash != *expected_genesis) {
    return Status::Corruption("genesis hash " + out.genesis_hash.Hex() + " is not the expected " +
                              expected_genesis->Hex());
  }
  ValidatorSet vals(ge.As<GenesisPayload>()->validators);
  FL_TRY(MatchesIfPresent(doc, "chain_id", out.chain_id));
  std::vector<Hash32> proof;
  FL_ASSIGN(proof, HashList(doc, "proof"));
  if (inclusion) {
    FL_ASSIGN(out.leaf_index, UintField(doc, "leaf_index"));
    FL_ASSIGN(out.tree_size, UintField(doc, "tree_size"));
    FL_ASSIGN(Bytes eb, HexField(doc, "entry"));
    FL_ASSIGN(Entry e, Entry::Decode(eb));
    if (!e.VerifySignature()) return Status::Corruption("the entry's signature does not verify");
    if (e.chain_id() != out.chain_id) return Status::Corruption("the entry is from another chain");
    FL_ASSIGN(BlockHeader h, CheckHead(doc, vals, out.genesis_hash, genesis, "signed_tree_head"));
    if (h.log_size != out.tree_size) {
      return Status::Corruption("the signed tree head is for log size " +
                                std::to_string(h.log_size) + ", the proof for " +
                                std::to_string(out.tree_size));
    }
    Status s = VerifyInclusionProof(e.leaf_hash(), out.leaf_index, out.tree_size, proof, h.log_root);
    if (!s.ok()) return Status::Corruption(s.message());
    FL_TRY(MatchesIfPresent(doc, "root", h.log_root.Hex()));
    FL_TRY(MatchesIfPresent(doc, "leaf_hash", e.leaf_hash().Hex()));
    out.head_height = h.height;
    out.entry = std::move(e);
    return out;
  }
  FL_ASSIGN(out.from_size, UintField(doc, "from_size"));
  FL_ASSIGN(out.tree_size, UintField(doc, "to_size"));
  FL_ASSIGN(BlockHeader hf, CheckHead(doc, vals, out.genesis_hash, genesis, "from_head"));
  FL_ASSIGN(BlockHeader ht, CheckHead(doc, vals, out.genesis_hash, genesis, "to_head"));
  if (hf.log_size != out.from_size || ht.log_size != out.tree_size) {
    return Status::Corruption("the signed heads' log sizes do not match the proof's sizes");
  }
  Status s = VerifyConsistencyProof(out.from_size, out.tree_size, hf.log_root, ht.log_root, proof);
  if (!s.ok()) return Status::Corruption(s.message());
  FL_TRY(MatchesIfPresent(doc, "from_root", hf.log_root.Hex()));
  FL_TRY(MatchesIfPresent(doc, "to_root", ht.log_root.Hex()));
  out.head_height = ht.height;
  return out;
}

}  // namespace fedledger
