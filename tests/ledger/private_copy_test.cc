// Stores on real files: read-only opens and audits leave the directory exactly as it was, and
// damage is an error at open, never something skipped.
#include <catch2/catch.hpp>

#include <fcntl.h>
#include <leveldb/db.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include "ledger/audit.h"
#include "ledger/private_copy.h"
#include "test_util.h"

using namespace fedledger;
using fedledger::testing::MemEnv;
using fedledger::testing::SmallChain;
namespace fs = std::filesystem;

namespace {

// A temporary directory, removed with the object.
struct TempDir {
  TempDir() {
    std::string t = (fs::temp_directory_path() / "fl-copy-test-XXXXXX").string();
    REQUIRE(::mkdtemp(t.data()) != nullptr);
    path = t;
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
  std::string path;
};

// Every file under `dir`: name -> contents.
std::map<std::string, std::string> Snapshot(const std::string& dir) {
  std::map<std::string, std::string> files;
  if (!fs::exists(dir)) return files;
  for (const auto& e : fs::directory_iterator(dir)) {
    std::ifstream in(e.path(), std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    files[e.path().filename().string()] = ss.str();
  }
  return files;
}

// A dev chain of 40 entries in blocks of 10 at dir/ledger, closed again. Its last writes are
// still in LevelDB's write-ahead log, which the next open would turn into a table.
std::string SeedOnDisk(const std::string& dir) {
  auto store = SeedDevChain(dir, SmallChain(nullptr, 40, 10));
  REQUIRE(store.ok());
  REQUIRE((*store)->height() == 4);
  return dir + "/ledger";
}

std::string FileEndingWith(const std::string& dir, const std::string& suffix) {
  for (const auto& e : fs::directory_iterator(dir)) {
    std::string name = e.path().filename().string();
    if (name.size() > suffix.size() && name.ends_with(suffix) && fs::file_size(e.path()) > 0) {
      return e.path().string();
    }
  }
  return "";
}

}  // namespace

TEST_CASE("store: a read-only open and an audit leave the store directory byte-identical") {
  TempDir tmp;
  std::string ledger = SeedOnDisk(tmp.path);
  REQUIRE(!FileEndingWith(ledger, ".log").empty());  // the case that LevelDB rewrites
  auto before = Snapshot(ledger);
  {
    auto store = Store::OpenReadOnly(ledger);
    REQUIRE(store.ok());
    CHECK((*store)->height() == 4);
    CHECK((*store)->log_size() == 41);
    CHECK((*store)->GetBlock(3).ok());
    Block next;
    next.header = (*store)->NextHeader({}, 0, PubKey());
    Status s = (*store)->Commit(next, Certificate());
    CHECK(s.code() == Status::Code::kFailedPrecondition);
  }
  AuditOptions ao;
  ao.threads = 1;
  auto summary = AuditStore(ledger, ao);
  REQUIRE(summary.ok());
  CHECK(summary->entries == 41);
  CHECK(Snapshot(ledger) == before);
  // No temporary copy is left behind.
  for (const auto& e : fs::directory_iterator(fs::temp_directory_path())) {
    CHECK(e.path().filename().string().rfind("fedledger-view-", 0) != 0);
  }
  // What the read-only paths avoid: an ordinary open rewrites the directory.
  { REQUIRE(Store::Open(ledger).ok()); }
  CHECK(Snapshot(ledger) != before);
}

TEST_CASE("store: reading a directory without a store writes nothing into it") {
  TempDir tmp;
  std::string empty = tmp.path + "/nothing";
  fs::create_directory(empty);
  auto store = Store::OpenReadOnly(empty);
  REQUIRE(!store.ok());
  CHECK(store.status().code() == Status::Code::kNotFound);
  AuditOptions ao;
  ao.threads = 1;
  auto audited = AuditStore(empty, ao);
  REQUIRE(!audited.ok());
  CHECK(audited.status().code() == Status::Code::kNotFound);
  CHECK(Snapshot(empty).empty());
  CHECK(!AuditStore(tmp.path + "/missing", ao).ok());
  CHECK(!fs::exists(tmp.path + "/missing"));
}

TEST_CASE("store: a damaged write-ahead log stops Open, and the log is kept") {
  TempDir tmp;
  std::string ledger = SeedOnDisk(tmp.path);
  std::string log = FileEndingWith(ledger, ".log");
  REQUIRE(!log.empty());
  {
    std::fstream f(log, std::ios::in | std::ios::out | std::ios::binary);
    f.seekg(static_cast<std::streamoff>(fs::file_size(log) / 2));
    char c;
    f.get(c);
    f.seekp(static_cast<std::streamoff>(fs::file_size(log) / 2));
    f.put(static_cast<char>(c ^ 1));
  }
  auto damaged = Snapshot(ledger);
  // Without paranoid checks LevelDB dropped the rest of the log (committed blocks), opened
  // at an earlier head and deleted the log.
  auto store = Store::Open(ledger);
  REQUIRE(!store.ok());
  CHECK(store.status().code() == Status::Code::kCorruption);
  CHECK_THAT(store.status().message(), Catch::Contains(ledger));
  auto after = Snapshot(ledger);
  std::string name = fs::path(log).filename().string();
  REQUIRE(after.count(name) == 1);
  CHECK(after[name] == damaged[name]);
  // The auditor says the same, naming the caller's directory rather than its private copy.
  AuditOptions ao;
  ao.threads = 1;
  auto audited = AuditStore(ledger, ao);
  REQUIRE(!audited.ok());
  CHECK(audited.status().code() == Status::Code::kCorruption);
  CHECK_THAT(audited.status().message(), Catch::Contains(ledger));
  CHECK_THAT(audited.status().message(), !Catch::Contains("fedledger-view-"));
}

TEST_CASE("store: Open refuses a head block whose certificate does not verify") {
  MemEnv mem;
  { REQUIRE(SeedDevChain("/db", SmallChain(mem.get(), 40, 10)).ok()); }
  {
    leveldb::Options opts;
    opts.env = mem.get();
    leveldb::DB* raw = nullptr;
    REQUIRE(leveldb::DB::Open(opts, "/db/ledger", &raw).ok());
    std::unique_ptr<leveldb::DB> db(raw);
    std::string rec;
    REQUIRE(db->Get({}, keys::Block(4), &rec).ok());
    rec[rec.size() - 5] ^= 0x01;  // inside the certificate's last signature
    REQUIRE(db->Put({}, keys::Block(4), rec).ok());
    // And the same in its commit record, which the block record must repeat.
    leveldb::DB* raw_log = nullptr;
    REQUIRE(leveldb::DB::Open(opts, std::string("/db/ledger/") + kLogDbDir, &raw_log).ok());
    std::unique_ptr<leveldb::DB> log_db(raw_log);
    REQUIRE(log_db->Put({}, keys::Commit(41, 4), rec).ok());
  }
  StoreOptions so;
  so.env = mem.get();
  auto store = Store::Open("/db/ledger", so);
  REQUIRE(!store.ok());
  CHECK(store.status().code() == Status::Code::kCorruption);
  CHECK_THAT(store.status().message(), Catch::Contains("certificate of head block 4"));
}

TEST_CASE("private copy: a store another process holds open is refused, naming the process") {
  TempDir tmp;
  std::string ledger = SeedOnDisk(tmp.path);
  int ready[2];
  REQUIRE(::pipe(ready) == 0);
  pid_t child = ::fork();
  REQUIRE(child >= 0);
  if (child == 0) {
    // The lock a running node holds: LevelDB's fcntl write lock on LOCK.
    int fd = ::open((ledger + "/LOCK").c_str(), O_RDWR);
    struct flock fl = {};
    fl.l_type = F_WRLCK;
    fl.l_whence = SEEK_SET;
    char ok = (fd >= 0 && ::fcntl(fd, F_SETLK, &fl) == 0) ? 'y' : 'n';
    (void)!::write(ready[1], &ok, 1);
    ::pause();
    ::_exit(0);
  }
  char ok = 0;
  REQUIRE(::read(ready[0], &ok, 1) == 1);
  REQUIRE(ok == 'y');
  auto copy = PrivateCopy::Make(ledger);
  auto store = Store::OpenReadOnly(ledger);
  ::kill(child, SIGKILL);
  ::waitpid(child, nullptr, 0);
  ::close(ready[0]);
  ::close(ready[1]);
  REQUIRE(!copy.ok());
  CHECK(copy.status().code() == Status::Code::kFailedPrecondition);
  CHECK_THAT(copy.status().message(), Catch::Contains("process " + std::to_string(child)));
  REQUIRE(!store.ok());
  CHECK(store.status().code() == Status::Code::kFailedPrecondition);
  // Once the holder is gone the copy is made: hard links on this file system.
  auto later = PrivateCopy::Make(ledger);
  REQUIRE(later.ok());
  CHECK((*later)->copied_files() == 0);
  CHECK(fs::exists((*later)->path() + "/CURRENT"));
  CHECK(!fs::exists((*later)->path() + "/LOCK"));
}
