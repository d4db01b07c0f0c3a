// Tests of the canonical encoding (ledger/encoding.h), entries (ledger/entry.h) and blocks,
// votes and certificates (ledger/block.h).
//
// The entry grammar is re-implemented here from the comments in ledger/entry.h (TestEncoder),
// independently of ledger/entry.cc: every entry Entry::Sign produces must match it byte for
// byte, every accepted input must re-encode to itself, and it lets us build inputs that are
// wrong in exactly one chosen way.
#include "ledger/encoding.h"

#include <algorithm>
#include <catch2/catch.hpp>
#include <cstdlib>
#include <iostream>
#include <random>

#include "ledger/block.h"
#include "ledger/crypto.h"
#include "ledger/entry.h"
#include "ledger/merkle.h"

namespace fedledger {
namespace {

using namespace std::string_literals;

uint64_t TestSeed() {
  static const uint64_t seed = [] {
    const char* env = std::getenv("FEDLEDGER_TEST_SEED");
    uint64_t s = env ? std::strtoull(env, nullptr, 10) : std::random_device{}();
    std::cout << "encoding_test seed: " << s << " (replay with FEDLEDGER_TEST_SEED=" << s << ")\n";
    return s;
  }();
  return seed;
}

Bytes Hex(const char* hex) {
  auto b = FromHex(hex);
  REQUIRE(b.ok());
  return *b;
}

bool Contains(const Status& s, const std::string& needle) {
  return s.message().find(needle) != std::string::npos;
}

// ---- varints and primitive fields ----

TEST_CASE("encoding: varints are minimal LEB128 and round-trip", "[encoding]") {
  struct Known {
    uint64_t v;
    const char* hex;
  };
  for (const Known& k : std::initializer_list<Known>{{0, "00"},
                                                     {1, "01"},
                                                     {127, "7f"},
                                                     {128, "8001"},
                                                     {300, "ac02"},
                                                     {16383, "ff7f"},
                                                     {16384, "808001"},
                                                     {uint64_t{1} << 63, "80808080808080808001"},
                                                     {~uint64_t{0}, "ffffffffffffffffff01"}}) {
    INFO("value " << k.v);
    Writer w;
    w.Varint(k.v);
    CHECK(ToHex(w.bytes()) == k.hex);
    Reader r(w.bytes());
    auto got = r.Varint("v");
    REQUIRE(got.ok());
    CHECK(*got == k.v);
    CHECK(r.done());
  }
}

TEST_CASE("encoding: every accepted short varint is the one encoding of its value", "[encoding]") {
  // All 1- and 2-byte inputs, and a seeded sample of longer ones: each either fails, or
  // decodes to a value whose encoding is exactly the bytes consumed.
  std::mt19937_64 rng(TestSeed());
  INFO("seed " << TestSeed());
  std::vector<Bytes> inputs;
  for (int a = 0; a < 256; ++a) {
    inputs.push_back({static_cast<uint8_t>(a)});
    for (int b = 0; b < 256; ++b)
      inputs.push_back({static_cast<uint8_t>(a), static_cast<uint8_t>(b)});
  }
  for (int i = 0; i < 20000; ++i) {
    Bytes in(3 + rng() % 9);
    for (auto& x : in) x = static_cast<uint8_t>(rng() | (rng() % 4 ? 0x80 : 0));
    inputs.push_back(in);
  }
  size_t accepted = 0;
  for (const Bytes& in : inputs) {
    Reader r(in);
    auto v = r.Varint("v");
    if (!v.ok()) {
      CHECK(Contains(v.status(), "v: "));
      continue;
    }
    ++accepted;
    Writer w;
    w.Varint(*v);
    if (!std::equal(w.bytes().begin(), w.bytes().end(), in.begin(), in.begin() + r.offset()) ||
        w.size() != r.offset()) {
      FAIL("varint " << ToHex(in) << " decoded to " << *v << " which encodes as "
                     << ToHex(w.bytes()));
    }
  }
  CHECK(accepted > 256);
}

TEST_CASE("encoding: bad varints are rejected naming the problem", "[encoding]") {
  struct Bad {
    const char* hex;
    const char* says;
  };
  for (const Bad& b : std::initializer_list<Bad>{{"", "truncated"},
                                                 {"80", "truncated"},
                                                 {"ffff", "truncated"},
                                                 {"8000", "non-minimal"},
                                                 {"ff00", "non-minimal"},
                                                 {"818000", "non-minimal"},
                                                 {"80808080808080808000", "non-minimal"},
                                                 {"ffffffffffffffffff02", "overflows"},
                                                 {"ffffffffffffffffff7f", "overflows"},
                                                 {"ffffffffffffffffff81", "overflows"},
                                                 {"8080808080808080808001", "overflows"}}) {
    INFO("input " << b.hex);
    Bytes in = Hex(b.hex);
    Reader r(in);
    auto v = r.Varint("field_x");
    REQUIRE_FALSE(v.ok());
    CHECK(v.status().code() == Status::Code::kInvalidArgument);
    CHECK(Contains(v.status(), "field_x"));
    CHECK(Contains(v.status(), b.says));
  }
}

TEST_CASE("encoding: fixed-width integers, hashes, bytes and counts", "[encoding]") {
  Writer w;
  w.U8(0xab);
  w.U16(0x1234);
  w.U32(0xdeadbeef);
  w.U64(0x0102030405060708);
  CHECK(ToHex(w.bytes()) == "ab3412efbeadde0807060504030201");
  Reader r(w.bytes());
  CHECK(*r.U8("a") == 0xab);
  CHECK(*r.U16("b") == 0x1234);
  CHECK(*r.U32("c") == 0xdeadbeef);
  CHECK(*r.U64("d") == 0x0102030405060708);
  CHECK(r.ExpectEnd("x").ok());
  auto more = r.U8("e");
  CHECK(Contains(more.status(), "e: truncated"));

  Bytes seven(7, 1);
  Reader short_u64(seven);
  CHECK(Contains(short_u64.U64("n").status(), "truncated"));
  Reader short_hash(seven);
  CHECK(Contains(short_hash.Hash("h").status(), "truncated"));

  Writer bytes;
  bytes.VarBytes(Bytes(10, 7));
  {
    Reader ok(bytes.bytes());
    CHECK(ok.VarBytes("b", 10).ok());
    Reader over(bytes.bytes());
    auto v = over.VarBytes("b", 9);
    CHECK(Contains(v.status(), "b: length 10 exceeds the limit of 9"));
  }
  // A length far past the input (a classic allocation bomb) fails cleanly.
  Writer bomb;
  bomb.Varint(uint64_t{1} << 40);
  bomb.U8(0);
  Reader rb(bomb.bytes());
  CHECK_FALSE(rb.VarBytes("b", ~size_t{0}).ok());
  Reader rc(bomb.bytes());
  CHECK(Contains(rc.Count("items", 256).status(), "items: count 1099511627776 exceeds"));

  Writer trailing;
  trailing.U8(1);
  trailing.U8(2);
  Reader rt(trailing.bytes());
  CHECK(rt.U8("a").ok());
  CHECK(Contains(rt.ExpectEnd("thing"), "1 trailing bytes after thing"));
}

TEST_CASE("encoding: strings must be valid UTF-8 text", "[encoding]") {
  struct Case {
    const char* hex;
    bool single_line_ok;
    bool multiline_ok;
  };
  for (const Case& c : std::initializer_list<Case>{{"", true, true},
                                                   {"68656c6c6f", true, true},    // hello
                                                   {"68c3a96c6c6f", true, true},  // héllo
                                                   {"e29c93", true, true},        // U+2713
                                                   {"f09f9880", true, true},      // U+1F600
                                                   {"f48fbfbf", true, true},      // U+10FFFF
                                                   {"610a62", false, true},       // newline
                                                   {"610962", false, true},       // tab
                                                   {"610d62", false, false},      // carriage return
                                                   {"6100", false, false},        // NUL
                                                   {"617f", false, false},        // DEL
                                                   {"c080", false, false},        // over-long NUL
                                                   {"c1bf", false, false},        // over-long
                                                   {"e08080", false, false},      // over-long
                                                   {"f0808080", false, false},    // over-long
                                                   {"eda080", false, false},    // surrogate U+D800
                                                   {"f4908080", false, false},  // past U+10FFFF
                                                   {"80", false, false},  // lone continuation byte
                                                   {"e282", false, false},  // truncated sequence
                                                   {"c3", false, false},    // truncated sequence
                                                   {"f8888080", false, false},  // 5-byte form
                                                   {"ff", false, false}}) {
    INFO("string bytes " << c.hex);
    Bytes raw = Hex(c.hex);
    CHECK(IsValidUtf8(AsStringView(raw), false) == c.single_line_ok);
    CHECK(IsValidUtf8(AsStringView(raw), true) == c.multiline_ok);
    Writer w;
    w.VarBytes(raw);
    Reader r(w.bytes());
    auto s = r.String("reason", 100, false);
    CHECK(s.ok() == c.single_line_ok);
    if (!s.ok()) CHECK(Contains(s.status(), "reason: not valid UTF-8"));
    Reader m(w.bytes());
    CHECK(m.String("reason", 100, true).ok() == c.multiline_ok);
  }
}

TEST_CASE("encoding: identifiers", "[encoding]") {
  for (const std::string& id :
       std::vector<std::string>{"a", "Z", "7", "task-1.v2:x_y", std::string(64, 'q'), "0-_.:"}) {
    INFO("identifier '" << id << "'");
    CHECK(ValidateIdentifier("task_id", id).ok());
  }
  for (const std::string& id :
       std::vector<std::string>{"", std::string(65, 'q'), "-a", ".a", "_a", ":a", "a b", "a/b",
                                "a\nb", "caf\xc3\xa9", "a\x00b"s, "a@b"}) {
    INFO("identifier '" << id << "'");
    Status s = ValidateIdentifier("task_id", id);
    CHECK(s.code() == Status::Code::kInvalidArgument);
    CHECK(Contains(s, "task_id: "));
  }
}

// ---- an independent encoder for entries, from the grammar in ledger/entry.h ----

class TestEncoder {
 public:
  // Offsets of every varint written (length prefixes and list counts), for mutations.
  std::vector<size_t> varint_offsets;
  Writer w;

  void Varint(uint64_t v) {
    varint_offsets.push_back(w.size());
    w.Varint(v);
  }
  void Str(const std::string& s) {
    Varint(s.size());
    w.Raw(AsView(s));
  }
  void Members(const std::vector<Member>& ms) {
    Varint(ms.size());
    for (const Member& m : ms) {
      Str(m.name);
      w.Hash(m.key);
    }
  }
  void Keys(const std::vector<PubKey>& ks) {
    Varint(ks.size());
    for (const PubKey& k : ks) w.Hash(k);
  }

  void operator()(const GenesisPayload& p) {
    w.U64(p.genesis_time_ms);
    Members(p.validators);
    Members(p.partners);
  }
  void operator()(const DatasetRegisterPayload& p) {
    Str(p.dataset_id);
    w.Hash(p.content_hash);
    w.U64(p.rows);
    Str(p.schema);
    Str(p.description);
  }
  void operator()(const TaskProposePayload& p) {
    const TaskSpec& s = p.spec;
    Str(s.task_id);
    Str(s.title);
    Str(s.description);
    Varint(s.participants.size());
    for (const Participant& x : s.participants) {
      w.Hash(x.partner);
      Str(x.dataset_id);
    }
    w.Hash(s.aggregator);
    w.U32(s.rounds);
    w.U64(s.round_timeout_ms);
    w.U64(s.expires_at_ms);
    Str(s.model);
    Varint(s.settings.size());
    for (const Setting& x : s.settings) {
      Str(x.key);
      Str(x.value);
    }
  }
  void operator()(const TaskApprovePayload& p) {
    Str(p.task_id);
    w.Hash(p.spec_hash);
  }
  void operator()(const TaskRejectPayload& p) {
    Str(p.task_id);
    w.Hash(p.spec_hash);
    Str(p.reason);
  }
  void operator()(const TaskRevokePayload& p) {
    Str(p.task_id);
    Str(p.reason);
  }
  void operator()(const TaskCompletePayload& p) {
    Str(p.task_id);
    w.U32(p.rounds_completed);
    w.Hash(p.final_trunk_hash);
  }
  void operator()(const DataAccessPayload& p) {
    Str(p.task_id);
    w.U32(p.round);
    Str(p.dataset_id);
    w.Hash(p.dataset_hash);
    w.U64(p.rows_read);
  }
  void operator()(const ModelUpdatePayload& p) {
    Str(p.task_id);
    w.U32(p.round);
    w.Hash(p.update_hash);
    w.U64(p.sample_count);
    w.U64(p.size_bytes);
    w.U32(p.attempt);
  }
  void operator()(const RoundAggregatePayload& p) {
    Str(p.task_id);
    w.U32(p.round);
    w.Hash(p.aggregate_hash);
    Keys(p.contributors);
    w.U64(p.total_samples);
  }
  void operator()(const RoundRestartPayload& p) {
    Str(p.task_id);
    w.U32(p.round);
    w.U32(p.attempt);
    Keys(p.dropped);
    Str(p.reason);
  }
};

struct Encoded {
  Bytes bytes;  // unsigned part + signature
  std::vector<size_t> varint_offsets;
};

// entry := u8 version | string chain_id | u8 kind | hash signer | u64 nonce | u64 timestamp
//          | payload | signature
Encoded EncodeEntry(const EntryBody& b, const Signature& sig, uint8_t version = 1, int kind = -1) {
  TestEncoder e;
  e.w.U8(version);
  e.Str(b.chain_id);
  e.w.U8(kind >= 0 ? static_cast<uint8_t>(kind) : static_cast<uint8_t>(b.payload.index() + 1));
  e.w.Hash(b.signer);
  e.w.U64(b.nonce);
  e.w.U64(b.timestamp_ms);
  std::visit(e, b.payload);
  e.w.Raw(ByteView(sig.data(), sig.size()));
  return {e.w.bytes(), e.varint_offsets};
}

bool SameBody(const EntryBody& a, const EntryBody& b) {
  return a.chain_id == b.chain_id && a.signer == b.signer && a.nonce == b.nonce &&
         a.timestamp_ms == b.timestamp_ms && a.payload == b.payload;
}

// ---- sample entries of every kind ----

SecretKey Key(const std::string& name) { return SecretKey::FromSeed(name); }

std::vector<PubKey> SortedKeys(std::initializer_list<const char*> names) {
  std::vector<PubKey> keys;
  for (const char* n : names) keys.push_back(Key(n).pubkey());
  std::sort(keys.begin(), keys.end());
  return keys;
}

Hash32 Digest(const std::string& s) { return Sha256(std::string_view(s)); }

TaskSpec SampleSpec(bool large) {
  TaskSpec s;
  s.task_id = large ? "melloddy.round-robin:v2" : "t1";
  s.title = large ? "Kinase panel \xe2\x80\x94 federated (\xce\xb1=0.5)" : "";
  s.description =
      large ? std::string("Line one\n\tindented line two\n") + std::string(600, 'd') : "";
  std::vector<PubKey> ps = SortedKeys({"alice", "bob", "carol"});
  for (size_t i = 0; i < (large ? ps.size() : 1); ++i) {
    s.participants.push_back({ps[i], "ds-" + std::to_string(i)});
  }
  s.aggregator = Key("operator").pubkey();
  s.rounds = large ? 10000 : 1;
  s.round_timeout_ms = large ? ~uint64_t{0} : 1;
  s.expires_at_ms = 1700000000000;
  s.model = "trunk-mlp";
  if (large) {
    s.settings = {{"dropout", "0.2"},
                  {"hidden", "4096"},
                  {"lr", "0.001"},
                  {"privacy.note", "caf\xc3\xa9 \xf0\x9f\x94\x92"}};
  }
  return s;
}

struct Sample {
  std::string name;
  EntryBody body;
  std::string signer;
};

std::vector<Sample> SampleBodies() {
  std::vector<Sample> out;
  auto add = [&](std::string name, Payload p, const char* signer, uint64_t nonce) {
    EntryBody b;
    b.chain_id = "fed-test.1";
    b.nonce = nonce;
    b.timestamp_ms = 1700000000123 + nonce;
    b.payload = std::move(p);
    out.push_back({std::move(name), std::move(b), signer});
  };
  GenesisPayload g;
  g.genesis_time_ms = 1700000000000;
  for (const char* v : {"val-0", "val-1", "val-2", "val-3"})
    g.validators.push_back({v, Key(v).pubkey()});
  for (const char* p : {"alice", "bob", "carol"}) g.partners.push_back({p, Key(p).pubkey()});
  add("genesis", g, "val-0", 0);
  GenesisPayload g1;
  g1.genesis_time_ms = 1;
  g1.validators.push_back({"solo", Key("solo").pubkey()});
  add("genesis, one validator, no partners", g1, "solo", 0);

  add("dataset register",
      DatasetRegisterPayload{"chembl-kinase", Digest("data"), 123456, "smiles,assay,label",
                             "Public kinase subset.\nTwo lines."},
      "alice", 1);
  add("dataset register, minimal", DatasetRegisterPayload{"d", Digest("x"), 1, "", ""}, "bob", 1);
  add("task propose, large", TaskProposePayload{SampleSpec(true)}, "alice", 2);
  add("task propose, minimal", TaskProposePayload{SampleSpec(false)}, "bob", 2);
  add("task approve", TaskApprovePayload{"melloddy.round-robin:v2", SampleSpec(true).Hash()}, "bob",
      3);
  add("task approve, short id", TaskApprovePayload{"t", Digest("spec")}, "carol", 3);
  add("task reject", TaskRejectPayload{"t1", Digest("spec"), "Schema mismatch:\n\tassay ids"},
      "carol", 4);
  add("task reject, no reason", TaskRejectPayload{"t1", Digest("spec"), ""}, "alice", 4);
  add("task revoke", TaskRevokePayload{"t1", "Legal hold \xe2\x9a\x96"}, "alice", 5);
  add("task revoke, no reason", TaskRevokePayload{"t2", ""}, "bob", 5);
  add("task complete", TaskCompletePayload{"t1", 10, Digest("trunk")}, "operator", 6);
  add("task complete, max rounds", TaskCompletePayload{"t2", 0xffffffff, Digest("t")}, "alice", 6);
  add("data access", DataAccessPayload{"t1", 3, "chembl-kinase", Digest("data"), 5000}, "alice", 7);
  add("data access, round 0", DataAccessPayload{"t1", 0, "d", Digest("d"), ~uint64_t{0}}, "bob", 7);
  add("model update", ModelUpdatePayload{"t1", 3, Digest("upd"), 5000, 1 << 20}, "alice", 8);
  add("model update, extremes", ModelUpdatePayload{"t1", 0xffffffff, Digest("u"), 1, 1}, "bob", 8);
  add("round aggregate",
      RoundAggregatePayload{"t1", 3, Digest("agg"), SortedKeys({"alice", "bob", "carol"}), 15000},
      "operator", 9);
  add("round aggregate, one contributor",
      RoundAggregatePayload{"t1", 0, Digest("agg0"), SortedKeys({"bob"}), 1}, "operator", 10);
  add("round restart",
      RoundRestartPayload{"t1", 4, 1, SortedKeys({"carol", "bob"}), "Timed out after 60 s"},
      "operator", 11);
  add("round restart, later attempt", RoundRestartPayload{"t1", 4, 7, SortedKeys({"alice"}), ""},
      "operator", 12);
  return out;
}

Entry SignSample(const Sample& s) {
  auto e = Entry::Sign(s.body, Key(s.signer), /*deterministic=*/true);
  REQUIRE(e.ok());
  return std::move(e).value();
}

// A signature that is merely 64 bytes: for inputs that must fail before it matters.
const Signature kJunkSig = [] {
  Signature s;
  for (size_t i = 0; i < s.size(); ++i) s[i] = static_cast<uint8_t>(i * 7 + 1);
  return s;
}();

Status DecodeStatus(const Bytes& b) {
  auto e = Entry::Decode(b);
  return e.ok() ? Status::Ok() : e.status();
}

// ---- entries ----

TEST_CASE("entry: every kind round-trips Sign -> bytes -> Decode", "[encoding][entry]") {
  std::vector<Sample> samples = SampleBodies();
  std::vector<bool> kinds_seen(kMaxEntryKind + 1, false);
  for (const Sample& s : samples) {
    INFO(s.name);
    Entry e = SignSample(s);
    kinds_seen[static_cast<int>(e.kind())] = true;
    CHECK(e.signer() == Key(s.signer).pubkey());
    CHECK(e.VerifySignature());
    // The bytes are exactly the documented grammar.
    EntryBody expected = s.body;
    expected.signer = Key(s.signer).pubkey();
    CHECK(e.bytes() == EncodeEntry(expected, e.signature()).bytes);
    // Hashes are as documented.
    ByteView unsigned_part(e.bytes().data(), e.bytes().size() - 64);
    CHECK(e.digest() == TaggedHash(tags::kEntry, unsigned_part));
    CHECK(e.leaf_hash() == MerkleLeafHash(e.bytes()));
    CHECK(VerifySignature(e.signer(), e.digest(), e.signature()));

    auto d = Entry::Decode(e.bytes());
    REQUIRE(d.ok());
    CHECK(SameBody(d->body(), e.body()));
    CHECK(SameBody(d->body(), expected));
    CHECK(d->bytes() == e.bytes());
    CHECK(d->signature() == e.signature());
    CHECK(d->digest() == e.digest());
    CHECK(d->leaf_hash() == e.leaf_hash());
    CHECK(d->kind() == KindOf(s.body.payload));
    CHECK(d->VerifySignature());
    // Deterministic signing is deterministic; randomized signing changes only the signature.
    CHECK(SignSample(s).bytes() == e.bytes());
    auto r = Entry::Sign(s.body, Key(s.signer));
    REQUIRE(r.ok());
    CHECK(r->digest() == e.digest());
    CHECK(r->VerifySignature());
    // Kind names round-trip.
    auto k = ParseEntryKind(EntryKindName(e.kind()));
    REQUIRE(k.ok());
    CHECK(*k == e.kind());
  }
  for (int k = 1; k <= kMaxEntryKind; ++k) {
    INFO("kind " << k);
    CHECK(kinds_seen[k]);
  }
  CHECK(*ParseEntryKind("task-approve") == EntryKind::kTaskApprove);
  CHECK(Contains(ParseEntryKind("nope").status(), "known: GENESIS"));
}

TEST_CASE("entry: signatures bind the signer, the chain and every field", "[encoding][entry]") {
  for (const Sample& s : SampleBodies()) {
    INFO(s.name);
    Entry e = SignSample(s);
    // The same body signed by someone else is a different entry with a different signer.
    auto other = Entry::Sign(s.body, Key("mallory"), true);
    REQUIRE(other.ok());
    CHECK(other->signer() == Key("mallory").pubkey());
    CHECK(other->digest() != e.digest());
    // Splicing mallory's signature onto the original bytes does not verify.
    Bytes forged = e.bytes();
    std::copy(other->signature().begin(), other->signature().end(), forged.end() - 64);
    auto f = Entry::Decode(forged);
    REQUIRE(f.ok());
    CHECK_FALSE(f->VerifySignature());
    // Another chain id gives another digest.
    EntryBody b = s.body;
    b.chain_id = "fed-test.2";
    auto c = Entry::Sign(b, Key(s.signer), true);
    REQUIRE(c.ok());
    CHECK(c->digest() != e.digest());
  }
}

TEST_CASE("entry: non-canonical and invalid inputs are rejected naming the problem",
          "[encoding][entry]") {
  const std::vector<Sample> samples = SampleBodies();
  const Sample& approve = samples[6];
  REQUIRE(approve.name == "task approve");
  EntryBody ok = approve.body;
  ok.signer = Key(approve.signer).pubkey();
  REQUIRE(Entry::Decode(EncodeEntry(ok, kJunkSig).bytes).ok());

  auto expect_reject = [](const Bytes& bytes, const std::string& says) {
    INFO("bytes " << ToHex(bytes));
    Status s = DecodeStatus(bytes);
    REQUIRE_FALSE(s.ok());
    CHECK(s.code() == Status::Code::kInvalidArgument);
    CHECK(!s.message().empty());
    CHECK(s.message().find(says) != std::string::npos);
    if (s.message().find(says) == std::string::npos) WARN("message was: " << s.message());
  };

  SECTION("trailing bytes") {
    for (const Sample& s : samples) {
      INFO(s.name);
      Bytes b = SignSample(s).bytes();
      b.push_back(0);
      CHECK_FALSE(Entry::Decode(b).ok());
      b.insert(b.end(), 63, 0);
      CHECK_FALSE(Entry::Decode(b).ok());
    }
    Bytes b = SignSample(approve).bytes();
    b.insert(b.end() - 64, uint8_t{0});  // one extra byte between payload and signature
    expect_reject(b, "1 unexpected bytes before the signature");
  }
  SECTION("truncated at every prefix length") {
    for (const Sample& s : samples) {
      INFO(s.name);
      const Bytes full = SignSample(s).bytes();
      for (size_t n = 0; n < full.size(); ++n) {
        INFO("prefix of " << n << " bytes");
        Status st = DecodeStatus(Bytes(full.begin(), full.begin() + n));
        CHECK_FALSE(st.ok());
        CHECK_FALSE(st.message().empty());
      }
    }
    expect_reject(Bytes(63, 1), "too short");
  }
  SECTION("bad version and unknown kinds") {
    for (int v : {0, 2, 255}) expect_reject(EncodeEntry(ok, kJunkSig, v).bytes, "version");
    for (int k = 0; k < 256; ++k) {
      if (k >= 1 && k <= kMaxEntryKind) continue;
      expect_reject(EncodeEntry(ok, kJunkSig, 1, k).bytes,
                    "kind: unknown entry kind " + std::to_string(k));
    }
    // A known kind with another kind's payload does not parse.
    expect_reject(EncodeEntry(ok, kJunkSig, 1, static_cast<int>(EntryKind::kTaskRevoke)).bytes, "");
  }
  SECTION("non-minimal varints anywhere") {
    for (const Sample& s : samples) {
      INFO(s.name);
      EntryBody b = s.body;
      b.signer = Key(s.signer).pubkey();
      Encoded enc = EncodeEntry(b, kJunkSig);
      REQUIRE(Entry::Decode(enc.bytes).ok());
      REQUIRE(enc.varint_offsets.size() >= 2);
      for (size_t off : enc.varint_offsets) {
        INFO("varint at offset " << off);
        // Re-encode the same value with one redundant 0x00 group.
        size_t end = off;
        while (enc.bytes[end] & 0x80) ++end;
        Bytes m = enc.bytes;
        m[end] |= 0x80;
        m.insert(m.begin() + static_cast<std::ptrdiff_t>(end) + 1, uint8_t{0});
        expect_reject(m, "non-minimal varint");
      }
    }
  }
  SECTION("over-long length prefixes and counts") {
    EntryBody b = ok;
    b.chain_id = std::string(65, 'c');
    expect_reject(EncodeEntry(b, kJunkSig).bytes, "chain_id: length 65 exceeds the limit of 64");
    auto approve_task = std::get<TaskApprovePayload>(ok.payload);
    approve_task.task_id = std::string(65, 't');
    b = ok;
    b.payload = approve_task;
    expect_reject(EncodeEntry(b, kJunkSig).bytes, "task_id: length 65 exceeds the limit of 64");
    b = ok;
    b.payload = TaskRevokePayload{"t1", std::string(4097, 'r')};
    expect_reject(EncodeEntry(b, kJunkSig).bytes, "reason: length 4097 exceeds the limit of 4096");
    TaskSpec spec = SampleSpec(false);
    spec.title = std::string(257, 'x');
    b.payload = TaskProposePayload{spec};
    expect_reject(EncodeEntry(b, kJunkSig).bytes, "title: length 257 exceeds the limit of 256");
    spec = SampleSpec(true);
    spec.settings[0].value = std::string(257, '1');
    b.payload = TaskProposePayload{spec};
    expect_reject(EncodeEntry(b, kJunkSig).bytes, "settings.value: length 257 exceeds");
    // A length that runs past the end of the input.
    Bytes m = EncodeEntry(ok, kJunkSig).bytes;
    m[1] = 0x7f;  // chain_id length 127 (> 64)
    expect_reject(m, "chain_id: length 127 exceeds");
    // List counts over the limit.
    std::vector<PubKey> many(257, Key("alice").pubkey());
    b.payload = RoundAggregatePayload{"t1", 0, Digest("a"), many, 1};
    expect_reject(EncodeEntry(b, kJunkSig).bytes,
                  "contributors: count 257 exceeds the limit of 256");
    GenesisPayload g;
    g.genesis_time_ms = 1;
    g.validators.assign(257, Member{"v", Key("v").pubkey()});
    b.payload = g;
    expect_reject(EncodeEntry(b, kJunkSig).bytes, "validators: count 257 exceeds the limit of 256");
    // An entry over the size limit is refused before parsing.
    expect_reject(Bytes(kMaxEntryBytes + 1, 0), "exceeds the limit");
  }
  SECTION("invalid UTF-8 and control characters in text") {
    for (const char* bad :
         {"\xc0\x80", "\xed\xa0\x80", "\xf4\x90\x80\x80", "\x80", "a\x01", "a\x7f", "\xe2\x82"}) {
      EntryBody b = ok;
      b.payload = TaskRevokePayload{"t1", std::string("why: ") + bad};
      expect_reject(EncodeEntry(b, kJunkSig).bytes, "reason: not valid UTF-8");
      b.payload = DatasetRegisterPayload{"d", Digest("x"), 1, std::string("a,") + bad, ""};
      expect_reject(EncodeEntry(b, kJunkSig).bytes, "schema: not valid UTF-8");
      b = ok;
      b.chain_id = std::string("c") + bad;
      expect_reject(EncodeEntry(b, kJunkSig).bytes, "chain_id");
    }
    // Newlines are allowed in reasons and descriptions but not in schemas or titles.
    EntryBody b = ok;
    b.payload = DatasetRegisterPayload{"d", Digest("x"), 1, "a\nb", ""};
    expect_reject(EncodeEntry(b, kJunkSig).bytes, "schema: not valid UTF-8");
    TaskSpec spec = SampleSpec(false);
    spec.title = "two\nlines";
    b.payload = TaskProposePayload{spec};
    expect_reject(EncodeEntry(b, kJunkSig).bytes, "title: not valid UTF-8");
  }
  SECTION("unsorted or duplicate lists") {
    std::vector<PubKey> sorted = SortedKeys({"alice", "bob", "carol"});
    std::vector<PubKey> unsorted = {sorted[1], sorted[0], sorted[2]};
    std::vector<PubKey> dup = {sorted[0], sorted[0], sorted[1]};
    for (const auto& keys : {unsorted, dup}) {
      EntryBody b = ok;
      b.payload = RoundAggregatePayload{"t1", 0, Digest("a"), keys, 1};
      expect_reject(EncodeEntry(b, kJunkSig).bytes, "contributors: keys must be sorted and unique");
      b.payload = RoundRestartPayload{"t1", 0, 1, keys, ""};
      expect_reject(EncodeEntry(b, kJunkSig).bytes, "dropped: keys must be sorted and unique");
      TaskSpec spec = SampleSpec(true);
      for (size_t i = 0; i < 3; ++i) spec.participants[i].partner = keys[i];
      b.payload = TaskProposePayload{spec};
      expect_reject(EncodeEntry(b, kJunkSig).bytes, "participants: must be sorted");
      // Builders refuse the same bodies before signing.
      auto signed_entry = Entry::Sign(b, Key("alice"));
      CHECK_FALSE(signed_entry.ok());
    }
    EntryBody b = ok;
    b.payload = RoundAggregatePayload{"t1", 0, Digest("a"), {}, 1};
    expect_reject(EncodeEntry(b, kJunkSig).bytes, "contributors: must not be empty");
    TaskSpec spec = SampleSpec(true);
    std::swap(spec.settings[0], spec.settings[1]);
    b.payload = TaskProposePayload{spec};
    expect_reject(EncodeEntry(b, kJunkSig).bytes, "settings: keys must be sorted and unique");
    spec = SampleSpec(true);
    spec.settings[1].key = spec.settings[0].key;
    b.payload = TaskProposePayload{spec};
    expect_reject(EncodeEntry(b, kJunkSig).bytes, "settings: keys must be sorted and unique");
    GenesisPayload g;
    g.genesis_time_ms = 1;
    g.validators = {{"v1", Key("v1").pubkey()}, {"v1", Key("v2").pubkey()}};
    b.payload = g;
    expect_reject(EncodeEntry(b, kJunkSig).bytes, "validators: duplicate name 'v1'");
    g.validators = {{"v1", Key("v1").pubkey()}, {"v2", Key("v1").pubkey()}};
    b.payload = g;
    expect_reject(EncodeEntry(b, kJunkSig).bytes, "validators: duplicate key");
    g.validators.clear();
    b.payload = g;
    expect_reject(EncodeEntry(b, kJunkSig).bytes, "validators: must not be empty");
  }
  SECTION("zero hashes and zero counts") {
    EntryBody b = ok;
    b.payload = TaskApprovePayload{"t1", Hash32{}};
    expect_reject(EncodeEntry(b, kJunkSig).bytes, "spec_hash: must not be all zeros");
    b.payload = TaskRejectPayload{"t1", Hash32{}, ""};
    expect_reject(EncodeEntry(b, kJunkSig).bytes, "spec_hash: must not be all zeros");
    b.payload = DatasetRegisterPayload{"d", Hash32{}, 1, "", ""};
    expect_reject(EncodeEntry(b, kJunkSig).bytes, "content_hash: must not be all zeros");
    b.payload = TaskCompletePayload{"t1", 1, Hash32{}};
    expect_reject(EncodeEntry(b, kJunkSig).bytes, "final_trunk_hash: must not be all zeros");
    b.payload = DataAccessPayload{"t1", 0, "d", Hash32{}, 1};
    expect_reject(EncodeEntry(b, kJunkSig).bytes, "dataset_hash: must not be all zeros");
    b.payload = ModelUpdatePayload{"t1", 0, Hash32{}, 1, 1};
    expect_reject(EncodeEntry(b, kJunkSig).bytes, "update_hash: must not be all zeros");
    b.payload = RoundAggregatePayload{"t1", 0, Hash32{}, SortedKeys({"bob"}), 1};
    expect_reject(EncodeEntry(b, kJunkSig).bytes, "aggregate_hash: must not be all zeros");
    b.payload = ModelUpdatePayload{"t1", 0, Digest("u"), 0, 1};
    expect_reject(EncodeEntry(b, kJunkSig).bytes, "sample_count");
    b.payload = RoundRestartPayload{"t1", 0, 0, SortedKeys({"bob"}), ""};
    expect_reject(EncodeEntry(b, kJunkSig).bytes, "attempt");
    b = ok;
    b.timestamp_ms = 0;
    expect_reject(EncodeEntry(b, kJunkSig).bytes, "timestamp_ms: must be set");
  }
  SECTION("invalid public keys") {
    // BIP-340 vector 5's key is not on the curve; vector 14's exceeds the field size.
    for (const char* hex : {"EEFDEA4CDB677750A420FEE807EACF21EB9898AE79B9768766E4FAA04A2D4A34",
                            "FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEFFFFFC30",
                            "0000000000000000000000000000000000000000000000000000000000000000"}) {
      INFO("key " << hex);
      const PubKey bad = *Hash32::FromHex(hex);
      REQUIRE_FALSE(IsValidPubKey(bad));
      EntryBody b = ok;
      b.signer = bad;
      expect_reject(EncodeEntry(b, kJunkSig).bytes, "signer: ");
      expect_reject(EncodeEntry(b, kJunkSig).bytes, "not a valid public key");
      b = ok;
      std::vector<PubKey> keys = SortedKeys({"alice", "bob"});
      keys.push_back(bad);
      std::sort(keys.begin(), keys.end());
      b.payload = RoundAggregatePayload{"t1", 0, Digest("a"), keys, 1};
      expect_reject(EncodeEntry(b, kJunkSig).bytes, "contributors: ");
      GenesisPayload g;
      g.genesis_time_ms = 1;
      g.validators = {{"v1", bad}};
      b.payload = g;
      expect_reject(EncodeEntry(b, kJunkSig).bytes, "validators: ");
      TaskSpec spec = SampleSpec(false);
      spec.aggregator = bad;
      b.payload = TaskProposePayload{spec};
      expect_reject(EncodeEntry(b, kJunkSig).bytes, "aggregator: ");
    }
  }
  SECTION("bad identifiers") {
    for (const std::string& id : std::vector<std::string>{"", "-x", "a b", "x/y", "caf\xc3\xa9"}) {
      INFO("identifier '" << id << "'");
      EntryBody b = ok;
      b.chain_id = id;
      expect_reject(EncodeEntry(b, kJunkSig).bytes, "chain_id: ");
      b = ok;
      b.payload = TaskApprovePayload{id, Digest("s")};
      expect_reject(EncodeEntry(b, kJunkSig).bytes, "task_id: ");
      b.payload = DataAccessPayload{"t1", 0, id, Digest("d"), 1};
      expect_reject(EncodeEntry(b, kJunkSig).bytes, "dataset_id: ");
      TaskSpec spec = SampleSpec(false);
      spec.model = id;
      b.payload = TaskProposePayload{spec};
      expect_reject(EncodeEntry(b, kJunkSig).bytes, "model: ");
      GenesisPayload g;
      g.genesis_time_ms = 1;
      g.validators = {{id, Key("v").pubkey()}};
      b.payload = g;
      expect_reject(EncodeEntry(b, kJunkSig).bytes, "validators: ");
    }
  }
}

// Flip bytes of valid entries. A mutant must fail to decode (saying why), or decode to an
// entry whose signature no longer verifies and whose re-encoding is exactly the mutant:
// never a second encoding of a value, never a mutant that still verifies.
TEST_CASE("entry: mutation sweep", "[encoding][entry][mutation]") {
  std::mt19937_64 rng(TestSeed() + 1);
  INFO("seed " << TestSeed());
  size_t rejected = 0, decoded = 0;
  for (const Sample& s : SampleBodies()) {
    INFO(s.name);
    const Entry e = SignSample(s);
    const Bytes& orig = e.bytes();
    std::vector<size_t> positions;
    if (orig.size() <= 400) {
      for (size_t i = 0; i < orig.size(); ++i) positions.push_back(i);
    } else {
      for (size_t i = 0; i < 400; ++i) positions.push_back(rng() % orig.size());
    }
    for (size_t pos : positions) {
      for (uint8_t mask :
           {uint8_t{0x01}, uint8_t{0x80}, uint8_t{0xff}, static_cast<uint8_t>(1 + rng() % 255)}) {
        Bytes m = orig;
        m[pos] ^= mask;
        auto d = Entry::Decode(m);
        if (!d.ok()) {
          ++rejected;
          if (d.status().message().empty()) FAIL("empty error for byte " << pos);
          continue;
        }
        ++decoded;
        if (d->VerifySignature()) {
          FAIL("byte " << pos << " ^ " << int(mask) << " still verifies");
        }
        if (EncodeEntry(d->body(), d->signature()).bytes != m) {
          FAIL("byte " << pos << " ^ " << int(mask)
                       << " decoded to a value that encodes differently");
        }
      }
    }
  }
  // Both outcomes happen: text, hashes and numbers decode; structure bytes do not.
  CHECK(rejected > 1000);
  CHECK(decoded > 1000);
}

// ---- blocks, votes, certificates ----

std::vector<SecretKey> ValidatorKeys(size_t n) {
  std::vector<SecretKey> keys;
  for (size_t i = 0; i < n; ++i) keys.push_back(Key("validator-" + std::to_string(i)));
  return keys;
}

ValidatorSet MakeSet(const std::vector<SecretKey>& keys) {
  std::vector<Member> ms;
  for (size_t i = 0; i < keys.size(); ++i)
    ms.push_back({"val-" + std::to_string(i), keys[i].pubkey()});
  return ValidatorSet(ms);
}

BlockHeader SampleHeader(uint32_t entry_count) {
  BlockHeader h;
  h.chain_id = "fed-test.1";
  h.height = 42;
  h.prev_hash = Digest("prev");
  h.time_ms = 1700000000999;
  h.proposer = Key("validator-1").pubkey();
  h.entry_count = entry_count;
  h.log_size = 1000 + entry_count;
  h.log_root = Digest("root");
  h.validator_set_hash = MakeSet(ValidatorKeys(4)).hash();
  return h;
}

TEST_CASE("block: header and block round-trip - malformed blocks are rejected",
          "[encoding][block]") {
  std::vector<Entry> entries;
  for (const Sample& s : SampleBodies()) entries.push_back(SignSample(s));
  Block b;
  b.header = SampleHeader(static_cast<uint32_t>(entries.size()));
  b.entries = entries;

  const Bytes hb = b.header.Encode();
  auto h = BlockHeader::Decode(hb);
  REQUIRE(h.ok());
  CHECK(*h == b.header);
  CHECK(h->Encode() == hb);
  CHECK(b.header.Hash() == TaggedHash(tags::kBlock, hb));
  BlockHeader other = b.header;
  other.log_size++;
  CHECK(other.Hash() != b.header.Hash());

  const Bytes bb = b.Encode();
  auto d = Block::Decode(bb);
  REQUIRE(d.ok());
  CHECK(d->header == b.header);
  REQUIRE(d->entries.size() == entries.size());
  for (size_t i = 0; i < entries.size(); ++i) CHECK(d->entries[i].bytes() == entries[i].bytes());
  CHECK(d->Encode() == bb);

  // Every strict prefix and any trailing byte is rejected.
  for (size_t n = 0; n < bb.size(); n += (n < 300 ? 1 : 37)) {
    INFO("prefix " << n);
    CHECK_FALSE(Block::Decode(ByteView(bb.data(), n)).ok());
  }
  for (size_t n = 0; n < hb.size(); ++n)
    CHECK_FALSE(BlockHeader::Decode(ByteView(hb.data(), n)).ok());
  Bytes trailing = bb;
  trailing.push_back(0);
  CHECK(Contains(Block::Decode(trailing).status(), "trailing bytes after block"));
  Bytes htrailing = hb;
  htrailing.push_back(0);
  CHECK(Contains(BlockHeader::Decode(htrailing).status(), "trailing bytes after block header"));

  // entry_count must match the entries and cannot exceed log_size.
  Block wrong = b;
  wrong.header.entry_count--;
  CHECK(Contains(Block::Decode(wrong.Encode()).status(), "entries but its header says"));
  wrong = b;
  wrong.header.log_size = wrong.header.entry_count - 1;
  CHECK(Contains(Block::Decode(wrong.Encode()).status(), "entry_count exceeds log_size"));
  // A bad entry is named by its position.
  Bytes bad_entry = bb;
  // header | count varint (1 byte) | first entry's length varint (2 bytes) | version |
  // chain_id length | "fed-test.1" | kind
  const size_t first_entry_kind = hb.size() + 1 + 2 + 1 + 1 + 10;
  REQUIRE(bad_entry[first_entry_kind] == static_cast<uint8_t>(EntryKind::kGenesis));
  bad_entry[first_entry_kind] = 0;
  CHECK(Contains(Block::Decode(bad_entry).status(), "entry 0 of the block"));
  // Header field checks.
  BlockHeader bad = b.header;
  bad.chain_id = "no spaces";
  CHECK(Contains(BlockHeader::Decode(bad.Encode()).status(), "header.chain_id"));
  Bytes badv = hb;
  badv[0] = 2;
  CHECK(Contains(BlockHeader::Decode(badv).status(), "header.version"));
  // A tiny input claiming the maximum number of entries fails cleanly (and, since the fix
  // in Block::Decode, without reserving room for 2^20 entries first).
  Block huge;
  huge.header = SampleHeader(1u << 20);
  Writer hw;
  huge.header.EncodeTo(hw);
  hw.Varint(1u << 20);
  hw.VarBytes(entries[0].bytes());
  CHECK(Contains(Block::Decode(hw.bytes()).status(), "entry: truncated"));
  BlockHeader over = SampleHeader(0);
  Writer ow;
  over.EncodeTo(ow);
  ow.Varint((1u << 20) + 1);
  CHECK(Contains(Block::Decode(ow.bytes()).status(), "entries: count 1048577 exceeds"));
  // An empty block round-trips.
  Block empty;
  empty.header = SampleHeader(0);
  auto de = Block::Decode(empty.Encode());
  REQUIRE(de.ok());
  CHECK(de->entries.empty());
}

TEST_CASE("block: votes round-trip and are domain separated", "[encoding][block]") {
  const SecretKey k = Key("validator-2");
  for (VoteType type : {VoteType::kPrevote, VoteType::kPrecommit}) {
    for (bool nil : {false, true}) {
      Vote v;
      v.type = type;
      v.chain_id = "fed-test.1";
      v.height = 77;
      v.round = 3;
      v.block_hash = nil ? Hash32{} : Digest("block");
      v.SignWith(k);
      CHECK(v.validator == k.pubkey());
      CHECK(v.VerifySignature());
      CHECK(v.IsNil() == nil);
      const Bytes enc = v.Encode();
      auto d = Vote::Decode(enc);
      REQUIRE(d.ok());
      CHECK(d->type == v.type);
      CHECK(d->chain_id == v.chain_id);
      CHECK(d->height == v.height);
      CHECK(d->round == v.round);
      CHECK(d->block_hash == v.block_hash);
      CHECK(d->validator == v.validator);
      CHECK(d->sig == v.sig);
      CHECK(d->Encode() == enc);
      CHECK(d->VerifySignature());
      CHECK(v.Digest() == TaggedHash(tags::kVote, v.EncodeUnsigned()));
      for (size_t n = 0; n < enc.size(); ++n)
        CHECK_FALSE(Vote::Decode(ByteView(enc.data(), n)).ok());
      Bytes t = enc;
      t.push_back(0);
      CHECK(Contains(Vote::Decode(t).status(), "trailing bytes after vote"));
      // Changing any signed field breaks the signature.
      Vote changed = v;
      changed.round++;
      CHECK_FALSE(changed.VerifySignature());
      changed = v;
      changed.type = type == VoteType::kPrevote ? VoteType::kPrecommit : VoteType::kPrevote;
      CHECK_FALSE(changed.VerifySignature());
      changed = v;
      changed.chain_id = "fed-test.2";
      CHECK_FALSE(changed.VerifySignature());
    }
  }
  Vote v;
  v.chain_id = "c";
  v.SignWith(k);
  Bytes enc = v.Encode();
  for (uint8_t type : {0, 3, 255}) {
    Bytes m = enc;
    m[1] = type;
    CHECK(Contains(Vote::Decode(m).status(), "vote.type: unknown vote type"));
  }
  Bytes m = enc;
  m[0] = 9;
  CHECK(Contains(Vote::Decode(m).status(), "vote.version"));
}

TEST_CASE("block: quorum is floor(2n/3)+1 and f is floor((n-1)/3)", "[block]") {
  for (size_t n = 1; n <= 10; ++n) {
    ValidatorSet vs = MakeSet(ValidatorKeys(n));
    INFO("n = " << n);
    CHECK(vs.Quorum() == 2 * n / 3 + 1);
    CHECK(vs.MaxFaulty() == (n - 1) / 3);
    CHECK(3 * vs.Quorum() > 2 * n);         // more than two thirds
    CHECK(3 * (vs.Quorum() - 1) <= 2 * n);  // and the smallest such count
  }
  CHECK(ValidatorSet().MaxFaulty() == 0);
}

struct CertFixture {
  std::vector<SecretKey> keys;
  ValidatorSet vals;
  std::string chain = "fed-test.1";
  uint64_t height = 9;
  uint32_t round = 2;
  Hash32 block = Digest("block 9");

  explicit CertFixture(size_t n) : keys(ValidatorKeys(n)), vals(MakeSet(keys)) {}

  Vote Precommit(size_t i, VoteType type = VoteType::kPrecommit) const {
    Vote v = PrecommitFor(chain, height, round, block, keys[i].pubkey());
    v.type = type;
    v.sig = keys[i].Sign(v.Digest());
    return v;
  }
  Certificate Cert(std::vector<size_t> signers) const {
    std::vector<Vote> votes;
    for (size_t i : signers) votes.push_back(Precommit(i));
    auto c = Certificate::FromPrecommits(vals, votes);
    REQUIRE(c.ok());
    return *c;
  }
  Status Verify(const Certificate& c) const { return c.Verify(vals, chain, height, block); }
};

TEST_CASE("block: certificates round-trip and verify at exactly a quorum", "[block][cert]") {
  for (size_t n : {1, 3, 4, 6, 7, 10}) {
    INFO("validators " << n);
    CertFixture f(n);
    const size_t q = f.vals.Quorum();
    std::vector<size_t> all(n);
    for (size_t i = 0; i < n; ++i) all[i] = i;
    // Signers given in reverse order: FromPrecommits sorts them.
    std::vector<size_t> quorum(all.rbegin(), all.rbegin() + static_cast<std::ptrdiff_t>(q));
    Certificate c = f.Cert(quorum);
    CHECK(f.Verify(c).ok());
    REQUIRE(c.sigs.size() == q);
    for (size_t i = 1; i < c.sigs.size(); ++i)
      CHECK(c.sigs[i - 1].validator_index < c.sigs[i].validator_index);

    const Bytes enc = c.Encode();
    auto d = Certificate::Decode(enc);
    REQUIRE(d.ok());
    CHECK(d->Encode() == enc);
    CHECK(f.Verify(*d).ok());
    for (size_t k = 0; k < enc.size(); k += 7)
      CHECK_FALSE(Certificate::Decode(ByteView(enc.data(), k)).ok());
    Bytes t = enc;
    t.push_back(0);
    CHECK(Contains(Certificate::Decode(t).status(), "trailing bytes after certificate"));

    CHECK(f.Verify(f.Cert(all)).ok());
    if (q > 1) {
      Certificate short_cert = f.Cert(
          std::vector<size_t>(all.begin(), all.begin() + static_cast<std::ptrdiff_t>(q - 1)));
      Status s = f.Verify(short_cert);
      CHECK(s.code() == Status::Code::kCorruption);
      CHECK(Contains(s, "needs " + std::to_string(q)));
    }
  }
}

TEST_CASE("block: forged or mismatched certificates are rejected", "[block][cert]") {
  CertFixture f(4);  // quorum 3
  const Certificate good = f.Cert({0, 1, 2});
  REQUIRE(f.Verify(good).ok());

  CHECK(Contains(good.Verify(f.vals, f.chain, f.height + 1, f.block), "height"));
  CHECK(Contains(good.Verify(f.vals, f.chain, f.height, Digest("other")), "not"));
  // Signatures over one chain do not count for another.
  CHECK_FALSE(good.Verify(f.vals, "fed-test.2", f.height, f.block).ok());
  // Another validator set (same size, other keys) does not accept it.
  CHECK_FALSE(
      good.Verify(MakeSet({Key("x0"), Key("x1"), Key("x2"), Key("x3")}), f.chain, f.height, f.block)
          .ok());

  Certificate c = good;
  c.sigs[1].sig[5] ^= 1;
  Status s = f.Verify(c);
  CHECK(s.code() == Status::Code::kCorruption);
  CHECK(Contains(s, "'val-1' does not verify"));

  // A signature by a non-member placed under a member's index.
  c = good;
  Vote v = PrecommitFor(f.chain, f.height, f.round, f.block, Key("mallory").pubkey());
  c.sigs[2].sig = Key("mallory").Sign(v.Digest());
  CHECK(Contains(f.Verify(c), "does not verify"));

  // A prevote is not a precommit.
  c = good;
  c.sigs[0].sig = f.Precommit(0, VoteType::kPrevote).sig;
  CHECK_FALSE(f.Verify(c).ok());

  // Another round's signatures do not fit this certificate's round.
  c = good;
  c.round++;
  CHECK_FALSE(f.Verify(c).ok());

  // Duplicate index: one validator counted twice to reach the quorum.
  c = f.Cert({0, 1});
  c.sigs.push_back(c.sigs[1]);
  CHECK(Contains(f.Verify(c), "strictly increasing"));
  CHECK(Contains(Certificate::Decode(c.Encode()).status(), "strictly increasing"));
  // Out-of-order indexes.
  c = good;
  std::swap(c.sigs[0], c.sigs[2]);
  CHECK(Contains(f.Verify(c), "strictly increasing"));
  // Index out of range.
  c = good;
  c.sigs[2].validator_index = 4;
  CHECK(Contains(f.Verify(c), "validator index 4 of a set of 4"));
  c.sigs[2].validator_index = 0xffff;
  CHECK_FALSE(f.Verify(c).ok());

  // FromPrecommits refuses votes that cannot form one certificate.
  std::vector<Vote> votes = {f.Precommit(0), f.Precommit(1), f.Precommit(1)};
  CHECK(Contains(Certificate::FromPrecommits(f.vals, votes).status(), "two precommits"));
  votes = {f.Precommit(0), f.Precommit(1, VoteType::kPrevote)};
  CHECK_FALSE(Certificate::FromPrecommits(f.vals, votes).ok());
  Vote stranger = PrecommitFor(f.chain, f.height, f.round, f.block, Key("mallory").pubkey());
  votes = {f.Precommit(0), stranger};
  CHECK(Contains(Certificate::FromPrecommits(f.vals, votes).status(), "non-validator"));
  Vote later = f.Precommit(1);
  later.height++;
  votes = {f.Precommit(0), later};
  CHECK_FALSE(Certificate::FromPrecommits(f.vals, votes).ok());
  CHECK_FALSE(Certificate::FromPrecommits(f.vals, {}).ok());
}

}  // namespace
}  // namespace fedledger
