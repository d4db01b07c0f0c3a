// The `fedledger` binary as users meet it: exit codes, messages, files it creates.
#include <catch2/catch.hpp>

#include <leveldb/db.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>

#include "ledger/store.h"

namespace fs = std::filesystem;

namespace {

struct Run {
  int code;
  std::string out;  // stdout and stderr together
};

// Runs a command line through the shell: its exit code and what it printed on stdout.
Run Shell(const std::string& cmd) {
  FILE* p = popen(cmd.c_str(), "r");
  REQUIRE(p);
  std::string out;
  std::array<char, 4096> buf;
  size_t n;
  while ((n = fread(buf.data(), 1, buf.size(), p)) > 0) out.append(buf.data(), n);
  int status = pclose(p);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, out};
}

Run Fl(const std::string& args) {
  return Shell(std::string(FEDLEDGER_BINARY) + " " + args + " 2>&1");
}

struct TempDir {
  fs::path path;
  TempDir() {
    char tmpl[] = "/tmp/fedledger-cli-XXXXXX";
    path = mkdtemp(tmpl);
  }
  ~TempDir() { fs::remove_all(path); }
  std::string operator/(const std::string& s) const { return (path / s).string(); }
};

}  // namespace

TEST_CASE("cli: keygen writes a 0600 key, never overwrites, and loaders refuse open modes") {
  TempDir d;
  Run r = Fl("keygen --out " + (d / "a.key"));
  REQUIRE(r.code == 0);
  struct stat st;
  REQUIRE(stat((d / "a.key").c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0600);
  Run again = Fl("keygen --out " + (d / "a.key"));
  CHECK(again.code == 2);
  CHECK_THAT(again.out, Catch::Contains("refusing to overwrite"));
  Run pub = Fl("pubkey --key " + (d / "a.key"));
  CHECK(pub.code == 0);
  CHECK_THAT(r.out, Catch::Contains(pub.out.substr(0, 64)));
  chmod((d / "a.key").c_str(), 0640);
  Run open = Fl("pubkey --key " + (d / "a.key"));
  CHECK(open.code == 2);
  CHECK_THAT(open.out, Catch::Contains("must not be readable by group or others"));
  std::ofstream(d / "bad.key") << "not a key\n";
  chmod((d / "bad.key").c_str(), 0600);
  Run bad = Fl("pubkey --key " + (d / "bad.key"));
  CHECK(bad.code == 2);
  CHECK_THAT(bad.out, Catch::Contains("64 hex digits"));
}

TEST_CASE("cli: dev seed, audit verify, log, prove and check-proof - tampering exits 1") {
  TempDir d;
  REQUIRE(Fl("dev seed --data-dir " + (d / "n") + " --entries 1500 --block-entries 200").code == 0);
  Run v = Fl("audit verify --data-dir " + (d / "n") + " --json");
  REQUIRE(v.code == 0);
  auto j = nlohmann::json::parse(v.out);
  CHECK(j["ok"] == true);
  CHECK(j["entries"] == 1501);
  CHECK(j["blocks"] == 9);

  Run log = Fl("audit log --data-dir " + (d / "n") + " --task task-00003 --json");
  REQUIRE(log.code == 0);
  auto rows = nlohmann::json::parse(log.out);
  REQUIRE(rows.size() > 5);
  CHECK(rows[0]["kind"] == "TASK_PROPOSE");
  for (const auto& row : rows) CHECK(row["payload"]["task_id"] == "task-00003");
  CHECK(Fl("audit log --data-dir " + (d / "n") + " --kind no-such-kind").code == 2);
  CHECK(Fl("audit log --data-dir " + (d / "n") + " --since yesterday").code == 2);
  CHECK(Fl("audit log --data-dir " + (d / "missing")).code == 2);

  REQUIRE(Fl("audit prove --data-dir " + (d / "n") + " --entry 77 --out " + (d / "p.json")).code == 0);
  Run ok = Fl("audit check-proof " + (d / "p.json") + " --genesis-hash " + j["genesis_hash"].get<std::string>());
  CHECK(ok.code == 0);
  CHECK_THAT(ok.out, Catch::Contains("proof OK"));
  auto doc = nlohmann::json::parse(std::ifstream(d / "p.json"));
  std::string h = doc["proof"][0];
  h[0] = h[0] == 'a' ? 'b' : 'a';
  doc["proof"][0] = h;
  std::ofstream(d / "bad.json") << doc.dump();
  CHECK(Fl("audit check-proof " + (d / "bad.json")).code == 1);
  CHECK(Fl("audit prove --data-dir " + (d / "n") + " --entry 77 --tree-size 300").code == 2);

  REQUIRE(Fl("audit export --data-dir " + (d / "n") + " --out " + (d / "x.jsonl")).code == 0);
  CHECK(Fl("audit export --data-dir " + (d / "n") + " --out " + (d / "x.jsonl")).code == 2);
  CHECK(Fl("audit verify-export " + (d / "x.jsonl")).code == 0);

  // Reorder two entries of one block in the store: verification fails naming block 3.
  {
    leveldb::DB* raw = nullptr;
    REQUIRE(leveldb::DB::Open(leveldb::Options(), d / "n/ledger/entries", &raw).ok());
    std::unique_ptr<leveldb::DB> db(raw);
    std::string a, b;
    REQUIRE(db->Get({}, fedledger::keys::Entry(450), &a).ok());
    REQUIRE(db->Get({}, fedledger::keys::Entry(451), &b).ok());
    REQUIRE(db->Put({}, fedledger::keys::Entry(450), b).ok());
    REQUIRE(db->Put({}, fedledger::keys::Entry(451), a).ok());
  }
  Run bad = Fl("audit verify --data-dir " + (d / "n"));
  CHECK(bad.code == 1);
  CHECK_THAT(bad.out, Catch::Contains("verification FAILED: block 3"));
  CHECK(Fl("audit verify --data-dir " + (d / "n") + " --genesis-hash 00").code == 2);
}

// A node that crashed after a block's synced log write and before its unsynced index write
// leaves the index database a block behind. The audit verifies that block from the log, says
// the index is behind, and leaves the directory as it was; queries see the block.
TEST_CASE("cli: audit verify says when the index is behind the log, and leaves it so") {
  TempDir d;
  REQUIRE(Fl("dev seed --data-dir " + (d / "n") + " --entries 1500 --block-entries 200").code == 0);
  Run all = Fl("audit log --data-dir " + (d / "n") + " --json");
  REQUIRE(all.code == 0);
  const size_t rows = nlohmann::json::parse(all.out).size();
  {
    leveldb::DB* raw = nullptr;
    REQUIRE(leveldb::DB::Open(leveldb::Options(), d / "n/ledger", &raw).ok());
    std::unique_ptr<leveldb::DB> db(raw);
    std::unique_ptr<leveldb::Iterator> it(db->NewIterator({}));
    for (it->SeekToFirst(); it->Valid(); it->Next()) {
      leveldb::Slice k = it->key();
      if ((k[0] == 'B' || k[0] == 'I') && k.size() >= 9 &&
          k.ToString().substr(k.size() - 8) == fedledger::keys::Block(8).substr(1)) {
        REQUIRE(db->Delete({}, k).ok());
      }
    }
    REQUIRE(db->Put({}, fedledger::keys::Meta("head"), std::string("\x07\0\0\0\0\0\0\0", 8)).ok());
  }
  for (int pass = 0; pass < 2; ++pass) {  // the second time: nothing was written back
    Run v = Fl("audit verify --data-dir " + (d / "n") + " --json");
    REQUIRE(v.code == 0);
    auto j = nlohmann::json::parse(v.out);
    CHECK(j["blocks"] == 9);
    CHECK(j["entries"] == 1501);
    CHECK(j["index_behind"] == 1);
  }
  Run human = Fl("audit verify --data-dir " + (d / "n"));
  CHECK(human.code == 0);
  CHECK_THAT(human.out, Catch::Contains("1 block(s) behind the log"));
  Run after = Fl("audit log --data-dir " + (d / "n") + " --json");
  REQUIRE(after.code == 0);
  CHECK(nlohmann::json::parse(after.out).size() == rows);
}

// Every field a proof document carries is checked: an edited head height fails like an edited
// root (exit 1, naming the field), and a field the format does not define is refused (exit 2).
TEST_CASE("cli: check-proof - an edited height or an unknown field is refused naming the field") {
  TempDir d;
  REQUIRE(Fl("dev seed --data-dir " + (d / "n") + " --entries 300 --block-entries 100").code == 0);
  REQUIRE(Fl("audit prove --data-dir " + (d / "n") + " --entry 7 --out " + (d / "inc.json")).code == 0);
  REQUIRE(Fl("audit consistency --data-dir " + (d / "n") + " --from 101 --to 301 --out " +
             (d / "cons.json")).code == 0);
  auto inc = nlohmann::json::parse(std::ifstream(d / "inc.json"));
  auto cons = nlohmann::json::parse(std::ifstream(d / "cons.json"));
  REQUIRE(inc["signed_tree_head"]["height"] == 3);
  auto check = [&](const nlohmann::json& doc) {
    std::ofstream(d / "t.json", std::ios::trunc) << doc.dump(2);
    return Fl("audit check-proof " + (d / "t.json"));
  };
  REQUIRE(check(inc).code == 0);
  REQUIRE(check(cons).code == 0);

  struct Edit {
    const char* what;
    nlohmann::json doc;
    int code;
    std::string message;
  };
  std::vector<Edit> edits;
  auto edit = [&](const char* what, nlohmann::json doc, int code, std::string message) {
    edits.push_back({what, std::move(doc), code, std::move(message)});
  };
  nlohmann::json e = inc;
  e["signed_tree_head"]["height"] = 999;
  edit("inclusion height", e, 1, "field 'signed_tree_head.height' (999) does not match the certified value 3");
  e = inc;
  e["signed_tree_head"]["height"] = "3";
  edit("inclusion height as a string", e, 1, "field 'signed_tree_head.height'");
  e = cons;
  e["from_head"]["height"] = 2;
  edit("consistency from height", e, 1, "field 'from_head.height' (2) does not match the certified value 1");
  e = cons;
  e["to_head"]["height"] = 999;
  edit("consistency to height", e, 1, "field 'to_head.height' (999) does not match the certified value 3");
  e = inc;
  e["root"] = cons["from_root"];
  edit("inclusion root", e, 1, "field 'root' does not match the certified value");
  e = inc;
  e["approved_by"] = "legal";
  edit("unknown field", e, 2, "unknown field 'approved_by' in an inclusion proof");
  e = cons;
  e["to_head"]["signature"] = "00";
  edit("unknown head field", e, 2, "unknown field 'signature' in 'to_head'");
  e = cons;
  e["leaf_index"] = 7;
  edit("a field of the other type", e, 2, "unknown field 'leaf_index' in a consistency proof");
  e = inc;
  e["type"] = 5;
  edit("type not a string", e, 2, "field 'type'");
  for (const Edit& x : edits) {
    Run r = check(x.doc);
    INFO(x.what << " -> exit " << r.code << ": " << r.out);
    CHECK(r.code == x.code);
    CHECK_THAT(r.out, Catch::Contains(x.message));
    CHECK_THAT(r.out, !Catch::Contains("proof OK"));
  }
}

namespace {

std::string Slurp(const std::string& path) {
  std::ifstream f(path);
  return std::string(std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>());
}

// The command under `ulimit -f` (dash counts 512-byte blocks) with SIGXFSZ ignored: a write
// past the limit fails with EFBIG, as on a full disk, instead of killing the process.
Run FlWithFileLimit(int blocks, const std::string& args) {
  return Shell("sh -c \"trap '' XFSZ; ulimit -f " + std::to_string(blocks) + "; exec " +
               std::string(FEDLEDGER_BINARY) + " " + args + "\" 2>&1");
}

}  // namespace

// 2 KiB: more than the store's private copy writes, less than any of the outputs below.
constexpr int kLimitBlocks = 4;

// --out of prove, consistency and export: an existing file is refused (exit 2, the file left
// as it was) unless --force; a run that fails while writing leaves no file at all.
TEST_CASE("cli: audit --out refuses an existing file without --force and never leaves a partial one") {
  TempDir d;
  REQUIRE(Fl("dev seed --data-dir " + (d / "n") + " --entries 300 --block-entries 100").code == 0);
  {
    // Compacted into table files, which the read-only open hard-links into its private copy
    // instead of replaying a log into a new table: under the file size limit below, only
    // the output file is too large to write.
    // Both of the store's databases.
    for (const char* dir : {"n/ledger", "n/ledger/entries"}) {
      leveldb::DB* raw = nullptr;
      REQUIRE(leveldb::DB::Open(leveldb::Options(), d / dir, &raw).ok());
      std::unique_ptr<leveldb::DB> db(raw);
      db->CompactRange(nullptr, nullptr);
    }
  }
  const std::string data = " --data-dir " + (d / "n");
  struct Cmd {
    std::string name, args;
  };
  for (const Cmd& c : {Cmd{"prove", "audit prove" + data + " --entry 7"},
                       Cmd{"consistency", "audit consistency" + data + " --from 101 --to 301"},
                       Cmd{"export", "audit export" + data}}) {
    INFO(c.name);
    const std::string out = d / (c.name + ".out");
    std::ofstream(out) << "keep me\n";
    Run refused = Fl(c.args + " --out " + out);
    INFO(refused.out);
    CHECK(refused.code == 2);
    CHECK_THAT(refused.out, Catch::Contains(out + " already exists (pass --force to replace it)"));
    CHECK(Slurp(out) == "keep me\n");

    // A write that fails midway (the file size limit, as a full disk): the old file stays
    // as it was with --force, and without an old file nothing is left under the name.
    Run failed = FlWithFileLimit(kLimitBlocks, c.args + " --out " + out + " --force");
    INFO(failed.out);
    CHECK(failed.code == 3);
    CHECK_THAT(failed.out, Catch::Contains("cannot write " + out));
    CHECK(Slurp(out) == "keep me\n");
    const std::string fresh = d / (c.name + ".fresh");
    Run failed_fresh = FlWithFileLimit(kLimitBlocks, c.args + " --out " + fresh);
    INFO(failed_fresh.out);
    CHECK(failed_fresh.code == 3);
    CHECK_THAT(failed_fresh.out, Catch::Contains("cannot write " + fresh));
    CHECK_FALSE(fs::exists(fresh));

    Run forced = Fl(c.args + " --out " + out + " --force");
    INFO(forced.out);
    REQUIRE(forced.code == 0);
    CHECK(Slurp(out) != "keep me\n");
    if (c.name != "export") {
      CHECK(Fl("audit check-proof " + out).code == 0);
    } else {
      CHECK(Fl("audit verify-export " + out).code == 0);
    }
    // A directory is never an output file.
    fs::create_directory(d / (c.name + ".dir"));
    Run dir = Fl(c.args + " --out " + (d / (c.name + ".dir")) + " --force");
    CHECK(dir.code == 2);
    CHECK_THAT(dir.out, Catch::Contains("is a directory, not a file"));
  }
  // No temporary file is left behind by any of the runs above.
  for (const auto& e : fs::directory_iterator(d.path)) {
    INFO(e.path());
    CHECK(e.path().filename().string().rfind(".tmp.", 0) != 0);
    CHECK(e.path().extension() != ".partial");
  }
}

TEST_CASE("cli: bad flags are usage errors") {
  CHECK(Fl("audit verify").code == 2);
  CHECK(Fl("dev seed --data-dir /tmp/x --entries -5").code == 2);
  CHECK(Fl("no-such-command").code == 2);
}
