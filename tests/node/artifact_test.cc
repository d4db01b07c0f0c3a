// The node's content-addressed artifact store: directly, and over PUT/GET /artifacts/{sha256}
// on a running node (hash checked on receipt, body limit, bytes served back unchanged).
#include "node/artifact_store.h"

#include <dirent.h>
#include <stdlib.h>

#include <catch2/catch.hpp>
#include <fstream>
#include <iterator>

#include "ledger/crypto.h"
#include "net/http_client.h"
#include "tests/node/cluster.h"

namespace fedledger::node {
namespace {

using Catch::Matchers::Contains;

struct Dir {
  std::string path;
  Dir() {
    char tmpl[] = "/tmp/fedledger-artifacts.XXXXXX";
    REQUIRE(::mkdtemp(tmpl) != nullptr);
    path = tmpl;
  }
  ~Dir() { (void)std::system(("rm -rf '" + path + "'").c_str()); }
  std::vector<std::string> Files(const std::string& sub) const {
    std::vector<std::string> out;
    DIR* d = ::opendir((path + "/" + sub).c_str());
    if (!d) return out;
    while (dirent* e = ::readdir(d)) {
      std::string n = e->d_name;
      if (n != "." && n != "..") out.push_back(n);
    }
    ::closedir(d);
    return out;
  }
};

Hash32 H(const std::string& s) { return Sha256(s); }
ArtifactBytes Shared(const std::string& s) { return std::make_shared<const std::string>(s); }

TEST_CASE("artifact store: content-addressed, checked on receipt and on read", "[artifacts]") {
  Dir dir;
  ArtifactStoreOptions o;
  o.max_bytes = 1000;
  auto store = ArtifactStore::Open(dir.path + "/artifacts", o);
  REQUIRE(store.ok());
  ArtifactStore& s = **store;

  const std::string update = "masked update bytes";
  REQUIRE(s.Put(H(update), Shared(update)).ok());
  CHECK(s.Contains(H(update)));
  CHECK(dir.Files("artifacts") == std::vector<std::string>{H(update).Hex()});
  std::string out;
  REQUIRE(testing::RunCommand("sha256sum " + s.PathOf(H(update)), &out) == 0);
  CHECK(out.substr(0, 64) == H(update).Hex());
  auto back = s.Fetch(H(update));
  REQUIRE(back.ok());
  CHECK(**back == update);
  CHECK(s.Put(H(update), Shared(update)).ok());  // again: a no-op

  // Bytes that do not hash to the name: refused, nothing left behind.
  Status wrong = s.Put(H("something else"), Shared(update));
  CHECK(wrong.code() == Status::Code::kInvalidArgument);
  CHECK_THAT(wrong.message(), Contains("hash to " + H(update).Hex()));
  CHECK_FALSE(s.Contains(H("something else")));
  const std::string big(1001, 'x');
  CHECK(s.Put(H(big), Shared(big)).code() == Status::Code::kResourceExhausted);
  CHECK(dir.Files("artifacts").size() == 1);

  CHECK(s.Fetch(H("absent")).status().code() == Status::Code::kNotFound);
  // Damaged on disk: the copy in memory (hashed when stored) is still served as stored; a
  // store that reads from disk (a restarted node, or no cache) refuses the damaged file.
  {
    std::ofstream f(s.PathOf(H(update)), std::ios::binary | std::ios::trunc);
    f << "masked update bytez";
  }
  auto cached = s.Fetch(H(update));
  REQUIRE(cached.ok());
  CHECK(**cached == update);
  o.cache_bytes = 0;
  auto reopened = ArtifactStore::Open(dir.path + "/artifacts", o);
  REQUIRE(reopened.ok());
  CHECK((*reopened)->Fetch(H(update)).status().code() == Status::Code::kCorruption);
  CHECK((*reopened)->Fetch(H("absent")).status().code() == Status::Code::kNotFound);
}

TEST_CASE("artifact store: own artifacts hashed once, cache bounded, listeners told", "[artifacts]") {
  Dir dir;
  ArtifactStoreOptions o;
  o.max_bytes = 1000;
  o.cache_bytes = 250;  // two artifacts of 100 bytes, not three
  auto store = ArtifactStore::Open(dir.path + "/artifacts", o);
  REQUIRE(store.ok());
  ArtifactStore& s = **store;
  std::vector<Hash32> told;
  s.AddListener([&](const Hash32& h) { told.push_back(h); });
  std::vector<std::string> blobs = {std::string(100, 'a'), std::string(100, 'b'),
                                    std::string(100, 'c')};
  for (const std::string& b : blobs) {
    auto h = s.Add(std::make_shared<const std::string>(b));
    REQUIRE(h.ok());
    CHECK(*h == H(b));
  }
  CHECK(told == std::vector<Hash32>{H(blobs[0]), H(blobs[1]), H(blobs[2])});
  CHECK(dir.Files("artifacts").size() == 3);
  // The oldest left the cache: damage its file and it is caught; the newest are served from
  // memory, shared rather than copied.
  for (const std::string& b : blobs) {
    std::ofstream f(s.PathOf(H(b)), std::ios::binary | std::ios::trunc);
    f << "damaged";
  }
  CHECK(s.Fetch(H(blobs[0])).status().code() == Status::Code::kCorruption);
  auto b1 = s.Fetch(H(blobs[1]));
  auto b1again = s.Fetch(H(blobs[1]));
  REQUIRE(b1.ok());
  REQUIRE(b1again.ok());
  CHECK(**b1 == blobs[1]);
  CHECK(b1->get() == b1again->get());
  CHECK(s.Add(std::make_shared<const std::string>(1001, 'x')).status().code() ==
        Status::Code::kResourceExhausted);
  CHECK(told.size() == 3);  // refusals tell nobody
  // A verified copy is kept without a second hash, and read back from disk like any other.
  const std::string copy(100, 'd');
  REQUIRE(s.Keep(H(copy), std::make_shared<const std::string>(copy)).ok());
  CHECK(told.size() == 4);
  std::string out;
  REQUIRE(testing::RunCommand("sha256sum " + s.PathOf(H(copy)), &out) == 0);
  CHECK(out.substr(0, 64) == H(copy).Hex());
  o.cache_bytes = 0;
  auto reopened = ArtifactStore::Open(dir.path + "/artifacts", o);
  REQUIRE(reopened.ok());
  CHECK(*(*reopened)->Fetch(H(copy)).value() == copy);
}

TEST_CASE("artifact API: PUT checks the hash in the path, GET serves the bytes",
          "[artifacts][multiprocess]") {
  testing::Cluster c(1);
  {
    // Ledger rules: the node stores any artifact whose bytes match its hash (a node running
    // the orchestrator also requires a committed entry naming it: federation_e2e_test.cc).
    std::ifstream in(c.node_dir(0) + "/node.toml");
    std::string cfg((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    const std::string orchestrator = "rules = 'orchestrator'";
    size_t at = cfg.find(orchestrator);
    REQUIRE(at != std::string::npos);
    cfg.replace(at, orchestrator.size(), "rules = 'ledger'");
    std::ofstream f(c.node_dir(0) + "/node.toml");
    // cache_bytes = 0: every GET reads the file back and re-hashes it (the store's own tests
    // cover the memory path).
    f << cfg << "\n[artifacts]\nmax_bytes = 1048576\ncache_bytes = 0\n";
  }
  c.Up();
  REQUIRE(testing::Cluster::WaitFor(std::chrono::seconds(20), [&] { return c.Height(0) >= 0; }));
  std::string body;
  for (int i = 0; i < 4096; ++i) body += static_cast<char>(i * 7 % 256);  // binary, with NULs
  const std::string url = c.url(0) + "/artifacts/";

  auto put = net::HttpFetch("PUT", url + H(body).Hex(), body, "application/octet-stream");
  REQUIRE(put.ok());
  INFO(put->body);
  CHECK(put->status == 201);
  auto again = net::HttpFetch("PUT", url + H(body).Hex(), body, "application/octet-stream");
  REQUIRE(again.ok());
  CHECK(again->status == 200);

  auto get = net::HttpGet(url + H(body).Hex());
  REQUIRE(get.ok());
  CHECK(get->status == 200);
  CHECK(get->body == body);

  auto wrong = net::HttpFetch("PUT", url + H("x").Hex(), body, "application/octet-stream");
  REQUIRE(wrong.ok());
  CHECK(wrong->status == 400);
  CHECK_THAT(wrong->body, Contains("hash to"));
  auto missing = net::HttpGet(url + H("x").Hex());
  REQUIRE(missing.ok());
  CHECK(missing->status == 404);
  auto bad = net::HttpGet(url + "not-a-hash");
  REQUIRE(bad.ok());
  CHECK(bad->status == 400);
  // Over [artifacts] max_bytes (1 MiB here): refused before it is stored.
  const std::string big((1 << 20) + 1, 'b');
  auto too_big = net::HttpFetch("PUT", url + H(big).Hex(), big, "application/octet-stream");
  REQUIRE(too_big.ok());
  CHECK(too_big->status == 413);
  CHECK(net::HttpGet(url + H(big).Hex())->status == 404);
  // The file on the node's disk is what sha256sum names.
  std::string out;
  REQUIRE(testing::RunCommand("sha256sum " + c.node_dir(0) + "/artifacts/" + H(body).Hex(), &out) == 0);
  CHECK(out.substr(0, 64) == H(body).Hex());
}

}  // namespace
}  // namespace fedledger::node
