// The answers of POST /entries (node/api.h SubmitResponse), as JSON a client parses.
#include "node/api.h"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

namespace fedledger::node {
namespace {

using nlohmann::json;

SubmitOutcome Committed(double latency_ms) {
  SubmitOutcome o;
  o.kind = SubmitOutcome::Kind::kCommitted;
  o.leaf_hash = Sha256(std::string_view("an entry"));
  o.height = 123456;
  o.index = 9876543210ull;
  o.latency_ms = latency_ms;
  return o;
}

TEST_CASE("api: a committed submission's answer", "[node]") {
  for (double latency : {55.123456789, 3.0, 0.0, 1e-7, 12345678.25}) {
    INFO("latency " << latency);
    SubmitOutcome o = Committed(latency);
    net::HttpResponse r = SubmitResponse(o);
    CHECK(r.status == 200);
    CHECK(r.content_type == "application/json");
    json expected = {{"status", "committed"}, {"leaf_hash", o.leaf_hash.Hex()},
                     {"height", o.height},    {"index", o.index},
                     {"latency_ms", latency}};
    json got = json::parse(r.body);
    CHECK(got == expected);
    CHECK(r.body == expected.dump());  // byte for byte what the json object would print
  }
  // Without a latency (an entry this node did not see through), no latency_ms.
  net::HttpResponse r = SubmitResponse(Committed(-1));
  json got = json::parse(r.body);
  CHECK_FALSE(got.contains("latency_ms"));
  CHECK(got["status"] == "committed");
  CHECK(r.body == got.dump());
  // A warning or a proof goes along.
  SubmitOutcome w = Committed(7.5);
  w.reason = "committed, but the proof could not be built: gone";
  got = json::parse(SubmitResponse(w).body);
  CHECK(got["warning"] == w.reason);
  CHECK(got["latency_ms"] == 7.5);
  SubmitOutcome p = Committed(7.5);
  p.proof = json{{"leaf_index", 5}};
  got = json::parse(SubmitResponse(p).body);
  CHECK(got["proof"]["leaf_index"] == 5);
}

TEST_CASE("api: a refused submission's answer names the admission rule", "[node]") {
  SubmitOutcome o;
  o.kind = SubmitOutcome::Kind::kRejected;
  o.admission = consensus::Admission::kStaleNonce;
  o.reason = "nonce 3 is not above the signer's last committed 5";
  net::HttpResponse r = SubmitResponse(o);
  CHECK(r.status == 409);
  json got = json::parse(r.body);
  CHECK(got["status"] == "rejected");
  CHECK(got["admission"] == "stale_nonce");
  CHECK(got["error"] == o.reason);
}

}  // namespace
}  // namespace fedledger::node
