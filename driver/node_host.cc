#include "driver/node_host.h"

#include <chrono>
#include <future>

#include "ledger/thread_name.h"
#include "net/http_client.h"
#include "node/artifact_store.h"
#include "orchestrator/application.h"

namespace fedledger::driver {

namespace {

constexpr auto kCommitTimeout = std::chrono::milliseconds(60000);
constexpr auto kTransferTimeout = std::chrono::milliseconds(300000);
constexpr int kNonceRetries = 5;

}  // namespace

NodeHost::NodeHost(node::Node* node, const node::NodeConfig& config, std::optional<PubKey> partner)
    : node_(node), partner_(partner) {
  for (const node::PeerConfig& p : config.peers) {
    if (p.http) urls_[p.key] = "http://" + p.http->ToString();
  }
  writer_ = std::thread([this] { WriteCopies(); });
  NameThread(writer_, "fl-artifacts");
}

NodeHost::~NodeHost() {
  {
    std::lock_guard<std::mutex> lock(copies_mu_);
    stopping_ = true;
  }
  copies_cv_.notify_all();
  writer_.join();
}

void NodeHost::WriteCopies() {
  std::unique_lock<std::mutex> lock(copies_mu_);
  while (true) {
    copies_cv_.wait(lock, [this] { return stopping_ || !copies_.empty(); });
    if (copies_.empty()) return;  // stopping, and everything written
    auto [hash, bytes] = std::move(copies_.front());
    copies_.pop_front();
    lock.unlock();
    // A copy the disk refuses (full) is not fatal: the artifact stays at its owner's node.
    (void)node_->artifacts().Keep(hash, std::move(bytes));
    lock.lock();
  }
}

void NodeHost::Read(const std::function<void(const orchestrator::FederationState&)>& fn) {
  node_->orchestrator()->Read([&](const orchestrator::FederationState& s) {
    fn(s);
    return 0;
  });
}

uint64_t NodeHost::NowMs() {
  return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
      std::chrono::system_clock::now().time_since_epoch()).count());
}

Result<uint64_t> NodeHost::Commit(const SecretKey& key, Payload payload) {
  return Send(key, std::move(payload), true);
}

Status NodeHost::Submit(const SecretKey& key, Payload payload) {
  return Send(key, std::move(payload), false).status();
}

Result<uint64_t> NodeHost::Send(const SecretKey& key, Payload payload, bool wait) {
  const PubKey& signer = key.pubkey();
  for (int attempt = 0;; ++attempt) {
    EntryBody body;
    body.chain_id = node_->store().chain_id();
    body.signer = signer;
    {
      std::lock_guard<std::mutex> lock(mu_);
      uint64_t& last = last_nonce_[signer];
      last = std::max(last, node_->store().LastNonce(signer)) + 1;
      body.nonce = last;
    }
    body.timestamp_ms = NowMs();
    body.payload = payload;
    FL_ASSIGN(Entry entry, Entry::Sign(std::move(body), key));
    auto promise = std::make_shared<std::promise<node::SubmitOutcome>>();
    auto future = promise->get_future();
    node::SubmitOptions o;
    o.wait = wait;
    o.timeout = kCommitTimeout;
    node_->Submit(std::move(entry), o,
                  [promise](const node::SubmitOutcome& out) { promise->set_value(out); });
    node::SubmitOutcome out = future.get();
    const char* kind = EntryKindName(KindOf(payload));
    switch (out.kind) {
      case node::SubmitOutcome::Kind::kCommitted:
      case node::SubmitOutcome::Kind::kAccepted:
        return out.height;
      case node::SubmitOutcome::Kind::kRejected:
        if ((out.admission == consensus::Admission::kStaleNonce ||
             out.admission == consensus::Admission::kNonceTaken) &&
            attempt < kNonceRetries) {
          continue;  // another client of this key took the nonce: take the next one
        }
        return Status::FailedPrecondition(std::string("the ledger refused ") + kind + ": " +
                                          out.reason);
      case node::SubmitOutcome::Kind::kTimeout:
        return Status::Unavailable(std::string(kind) + " was not committed within " +
                                        std::to_string(kCommitTimeout.count()) + " ms");
      case node::SubmitOutcome::Kind::kStopped:
        return Status::Unavailable("the node stopped");
    }
  }
}

bool NodeHost::IsLocal(const PubKey& owner) const {
  return owner == node_->node_key() || (partner_ && owner == *partner_);
}

Result<std::string> NodeHost::UrlOf(const PubKey& owner) const {
  auto it = urls_.find(owner);
  if (it == urls_.end()) {
    return Status::NotFound(std::string("no HTTP address for '") + node_->names().Name(owner) + "'" +
                            ": add http = \"HOST:PORT\" to its [[p2p.peers]] entry");
  }
  return it->second;
}

Result<Hash32> NodeHost::StoreArtifact(std::shared_ptr<const std::string> bytes) {
  return node_->artifacts().Add(std::move(bytes));
}

Status NodeHost::PutArtifact(const PubKey& owner, const Hash32& hash,
                             std::shared_ptr<const std::string> bytes) {
  if (IsLocal(owner)) return node_->artifacts().Put(hash, std::move(bytes));
  FL_ASSIGN(std::string url, UrlOf(owner));
  net::HttpClientOptions o;
  o.timeout = kTransferTimeout;
  auto r = net::HttpFetch("PUT", url + "/artifacts/" + hash.Hex(), *bytes,
                          "application/octet-stream", o);
  if (!r.ok()) return r.status().WithContext("PUT " + url + "/artifacts");
  if (r->status != 200 && r->status != 201) {
    return Status::Unavailable("PUT " + url + "/artifacts/" + hash.ShortHex() + ": HTTP " +
                               std::to_string(r->status) + ": " + r->body.substr(0, 300));
  }
  return Status::Ok();
}

Result<std::shared_ptr<const std::string>> NodeHost::GetArtifact(const PubKey& owner,
                                                                 const Hash32& hash) {
  if (IsLocal(owner)) return node_->artifacts().Fetch(hash);
  FL_ASSIGN(std::string url, UrlOf(owner));
  net::HttpClientOptions o;
  o.timeout = kTransferTimeout;
  o.max_response_body = node_->artifacts().options().max_bytes;
  auto r = net::HttpGet(url + "/artifacts/" + hash.Hex(), o);
  if (!r.ok()) return r.status().WithContext("GET " + url + "/artifacts");
  if (r->status == 404) return Status::NotFound(url + " does not have artifact " + hash.ShortHex());
  if (r->status != 200) {
    return Status::Unavailable("GET " + url + "/artifacts/" + hash.ShortHex() + ": HTTP " +
                               std::to_string(r->status));
  }
  auto bytes = std::make_shared<const std::string>(std::move(r->body));
  if (Sha256(std::string_view(*bytes)) != hash) {
    return Status::Corruption(url + " served bytes that do not hash to artifact " + hash.Hex());
  }
  // Keep a copy, so the partner's own store holds every artifact of its tasks.
  {
    std::lock_guard<std::mutex> lock(copies_mu_);
    copies_.emplace_back(hash, bytes);
  }
  copies_cv_.notify_one();
  return bytes;
}

}  // namespace fedledger::driver
