#include "tools/node_client.h"

#include <chrono>

#include "ledger/bytes.h"
#include "tools/json_shape.h"
#include "tools/url.h"

namespace fedledger::cli {

using nlohmann::json;

namespace {

[[noreturn]] void NotNodeAnswer(const std::string& url, const std::string& why) {
  throw Failure(url + ": not a fedledger node answer (" + why + ")", 3);
}

}  // namespace

int ExitCodeForHttp(int status) {
  if (status == 400 || status == 404 || status == 409 || status == 412 || status == 413) return 2;
  if (status == 429 || status == 503 || status == 504) return 3;
  return 4;
}

std::string ErrorText(const net::HttpClientResponse& r) {
  auto j = r.Json();
  if (j.ok() && j->is_object() && j->contains("error") && (*j)["error"].is_string()) {
    return (*j)["error"].get<std::string>();
  }
  return r.body;
}

uint64_t NowMs() {
  return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                   std::chrono::system_clock::now().time_since_epoch())
                                   .count());
}

NodeClient::NodeClient(std::string url) : url_(std::move(url)) {
  while (!url_.empty() && url_.back() == '/') url_.pop_back();
}

void CheckAnswer(const std::string& url, const json& j, const json& shape,
                 const std::string& what) {
  Status s = CheckShape(j, shape, what);
  if (!s.ok()) NotNodeAnswer(url, s.message());
}

json NodeClient::Get(const std::string& path, const json& shape, const std::string& what) const {
  const std::string url = url_ + path;
  auto r = net::HttpGet(url);
  if (!r.ok()) throw Failure(url + ": " + r.status().message(), 3);
  if (r->status != 200) {
    throw Failure(url + ": HTTP " + std::to_string(r->status) + ": " + ErrorText(*r),
                  ExitCodeForHttp(r->status));
  }
  auto j = r->Json();
  if (!j.ok()) NotNodeAnswer(url, j.status().message());
  CheckAnswer(url, *j, shape, what);
  return *j;
}

const std::string& NodeClient::chain_id() {
  if (chain_id_.empty()) {
    chain_id_ = Get("/status", {{"chain_id", "string"}}, "status")["chain_id"].get<std::string>();
  }
  return chain_id_;
}

PubKey NodeClient::Resolve(const std::string& name_or_hex) const {
  json j = Get(UrlPath({"nonces", name_or_hex}), {{"signer", "string"}}, "nonce record");
  auto k = Hash32::FromHex(j["signer"].get<std::string>());
  if (!k.ok()) {
    NotNodeAnswer(url_, "nonce record: 'signer' is not a key: " + k.status().message());
  }
  return *k;
}

uint64_t NodeClient::LastNonce(const PubKey& signer) const {
  json j = Get(UrlPath({"nonces", signer.Hex()}), {{"last_nonce", "uint"}}, "nonce record");
  return j["last_nonce"].get<uint64_t>();
}

NodeClient::Committed NodeClient::SubmitAndWait(const SecretKey& key, Payload payload,
                                                uint64_t timeout_ms) {
  EntryBody body;
  body.chain_id = chain_id();
  body.signer = key.pubkey();
  uint64_t last = LastNonce(key.pubkey());
  if (last == UINT64_MAX) {
    throw Failure("key " + key.pubkey().Hex() + " has used the largest nonce: it cannot sign " +
                      "another entry",
                  2);
  }
  body.nonce = last + 1;
  body.timestamp_ms = NowMs();
  body.payload = std::move(payload);
  Entry entry = Unwrap(Entry::Sign(std::move(body), key));
  const char* kind = EntryKindName(entry.kind());
  json req = {{"entry", ToHex(entry.bytes())}, {"wait", true}, {"timeout_ms", timeout_ms}};
  net::HttpClientOptions ho;
  ho.timeout = std::chrono::milliseconds(timeout_ms + 5000);
  const std::string url = url_ + "/entries";
  auto r = net::HttpPostJson(url, req, ho);
  if (!r.ok()) throw Failure(url + ": " + r.status().message(), 3);
  if (r->status == 200) {
    auto j = r->Json();
    if (!j.ok()) NotNodeAnswer(url, j.status().message());
    CheckAnswer(url, *j, {{"height", "uint"}, {"index", "uint"}}, "commit answer");
    return Committed{(*j)["height"].get<uint64_t>(), (*j)["index"].get<uint64_t>(),
                     entry.leaf_hash()};
  }
  if (r->status == 400 || r->status == 409) {
    throw Failure(std::string("the ledger refused ") + kind + ": " + ErrorText(*r), 2);
  }
  if (r->status == 504) {
    throw Failure(std::string(kind) + " (leaf " + entry.leaf_hash().Hex() +
                      ") was admitted but not committed within " + std::to_string(timeout_ms) +
                      " ms: " + ErrorText(*r),
                  3);
  }
  throw Failure(url + ": HTTP " + std::to_string(r->status) + ": " + ErrorText(*r),
                ExitCodeForHttp(r->status));
}

}  // namespace fedledger::cli
