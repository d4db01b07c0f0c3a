// Output files are never replaced unless asked, and appear whole or not at all
// (tools/output_file.h).
#include "tools/output_file.h"

#include <sys/stat.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace fs = std::filesystem;

namespace fedledger::cli {
namespace {

struct TempDir {
  fs::path path;
  TempDir() {
    char tmpl[] = "/tmp/fedledger-out-XXXXXX";
    path = ::mkdtemp(tmpl);
  }
  ~TempDir() { fs::remove_all(path); }
  std::string operator/(const std::string& s) const { return (path / s).string(); }
  // Every name in the directory, temporary files included.
  std::vector<std::string> Names() const {
    std::vector<std::string> out;
    for (const auto& e : fs::directory_iterator(path)) out.push_back(e.path().filename().string());
    std::sort(out.begin(), out.end());
    return out;
  }
};

std::string Slurp(const std::string& path) {
  std::ifstream f(path);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

TEST_CASE("output file: written whole - an existing file is refused without replace") {
  TempDir d;
  const std::string p = d / "proof.json";
  REQUIRE(WriteOutputFile(p, "one\n", false).ok());
  CHECK(Slurp(p) == "one\n");
  struct stat st;
  REQUIRE(::stat(p.c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0644);

  Status again = WriteOutputFile(p, "two\n", false);
  CHECK(again.code() == Status::Code::kAlreadyExists);
  CHECK(again.message() == p + " already exists (pass --force to replace it)");
  CHECK(CheckOutputPath(p, false) == again);
  CHECK(Slurp(p) == "one\n");

  REQUIRE(WriteOutputFile(p, "two\n", true).ok());
  CHECK(Slurp(p) == "two\n");
  CHECK(d.Names() == std::vector<std::string>{"proof.json"});  // no temporary file left

  // A dangling symlink is something that exists too.
  fs::create_symlink(d / "nowhere", d / "link");
  CHECK(WriteOutputFile(d / "link", "x", false).code() == Status::Code::kAlreadyExists);
}

TEST_CASE("output file: a directory is refused even with replace") {
  TempDir d;
  fs::create_directory(d / "sub");
  for (bool replace : {false, true}) {
    Status s = WriteOutputFile(d / "sub", "x", replace);
    CHECK(s.code() == Status::Code::kInvalidArgument);
    CHECK(s.message() == d / "sub" + " is a directory, not a file");
  }
  CHECK(WriteOutputFile(d / "sub/", "x", false).code() == Status::Code::kInvalidArgument);
  CHECK(WriteOutputFile(d / "missing/f.json", "x", false).code() == Status::Code::kIOError);
  CHECK(d.Names() == std::vector<std::string>{"sub"});
}

TEST_CASE("output file: a run that stops before Commit leaves no file and no temporary file") {
  TempDir d;
  const std::string p = d / "x.jsonl";
  {
    auto out = OutputFile::Create(p, false);
    REQUIRE(out.ok());
    CHECK(out->path() == p);
    // Beside the target, hidden, ending with its name (so ".csv.gz" writers still gzip).
    CHECK(fs::path(out->temp_path()).parent_path() == d.path);
    CHECK(out->temp_path().find("/.tmp.") != std::string::npos);
    CHECK(out->temp_path().size() > p.size());
    CHECK(out->temp_path().substr(out->temp_path().size() - 8) == ".x.jsonl");
    std::ofstream(out->temp_path()) << "half of an exp";
    CHECK_FALSE(fs::exists(p));
  }  // destroyed without Commit, as when an export throws midway
  CHECK(d.Names().empty());

  // With replace, the old file stays as it was until the new one is complete.
  REQUIRE(WriteOutputFile(p, "old", false).ok());
  {
    auto out = OutputFile::Create(p, true);
    REQUIRE(out.ok());
    std::ofstream(out->temp_path()) << "new but unfinished";
    CHECK(Slurp(p) == "old");
  }
  CHECK(Slurp(p) == "old");
  CHECK(d.Names() == std::vector<std::string>{"x.jsonl"});
}

TEST_CASE("output file: a file that appears while the output is written is not replaced") {
  TempDir d;
  const std::string p = d / "genesis.json";
  auto out = OutputFile::Create(p, false);
  REQUIRE(out.ok());
  std::ofstream(out->temp_path()) << "ours";
  std::ofstream(p) << "someone else's";
  Status s = out->Commit();
  CHECK(s.code() == Status::Code::kAlreadyExists);
  CHECK(Slurp(p) == "someone else's");

  auto forced = OutputFile::Create(p, true);
  REQUIRE(forced.ok());
  std::ofstream(forced->temp_path()) << "ours";
  REQUIRE(forced->Commit().ok());
  CHECK(Slurp(p) == "ours");
}

}  // namespace
}  // namespace fedledger::cli
