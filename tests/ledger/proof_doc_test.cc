// A proof document whose proof list holds something other than hashes is refused naming the
// element (`proof[1]`), not just the list.
#include <catch2/catch.hpp>

#include "ledger/export.h"
#include "tests/ledger/test_util.h"

namespace fedledger {
namespace {

TEST_CASE("proof documents: a bad proof element is named by its index") {
  testing::MemEnv mem;
  auto store = SeedDevChain("/db", testing::SmallChain(mem.get(), 14, 7)).value();
  nlohmann::json doc = MakeInclusionProofDoc(*store, 3, 0).value();
  REQUIRE(doc["proof"].size() >= 2);
  REQUIRE(CheckProofDoc(doc, store->genesis_hash()).ok());

  nlohmann::json bad = doc;
  bad["proof"][0] = "zz";
  auto r = CheckProofDoc(bad, store->genesis_hash());
  REQUIRE_FALSE(r.ok());
  CHECK(r.status().code() == Status::Code::kInvalidArgument);
  CHECK_THAT(r.status().message(), Catch::StartsWith("field 'proof[0]': "));

  bad = doc;
  bad["proof"][1] = 5;
  r = CheckProofDoc(bad, store->genesis_hash());
  REQUIRE_FALSE(r.ok());
  CHECK(r.status().message() == "field 'proof[1]' is not a hex string");
}

}  // namespace
}  // namespace fedledger
