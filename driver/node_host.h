// NodeHost: the round driver's host inside `fedledger node`. State reads go to the node's
// orchestrator application, commits through Node::Submit (waiting for the commit), artifacts
// to the node's own ArtifactStore or, for another validator, over HTTP to its
// `PUT/GET /artifacts/{sha256}` (the address is the `http` of its [[p2p.peers]] entry).
//
// Thread-safe for one driver thread plus the node's own threads.
#pragma once

#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>
#include <thread>
#include <optional>
#include <string>

#include "driver/round_driver.h"
#include "node/config.h"
#include "node/node.h"

namespace fedledger::driver {

class NodeHost : public DriverHost {
 public:
  // `node` must be open and outlive the host; `partner` is this node's partner key, if any
  // (artifacts "owned" by it are this node's own).
  NodeHost(node::Node* node, const node::NodeConfig& config, std::optional<PubKey> partner);
  // Finishes writing the artifacts fetched so far (destroy the host before the node).
  ~NodeHost();

  void Read(const std::function<void(const orchestrator::FederationState&)>& fn) override;
  Result<uint64_t> Commit(const SecretKey& key, Payload payload) override;
  Status Submit(const SecretKey& key, Payload payload) override;
  Result<Hash32> StoreArtifact(std::shared_ptr<const std::string> bytes) override;
  Status PutArtifact(const PubKey& owner, const Hash32& hash,
                     std::shared_ptr<const std::string> bytes) override;
  Result<std::shared_ptr<const std::string>> GetArtifact(const PubKey& owner,
                                                         const Hash32& hash) override;
  uint64_t NowMs() override;

 private:
  // Commit (wait) or Submit (no wait): 0 when only admitted.
  Result<uint64_t> Send(const SecretKey& key, Payload payload, bool wait);
  bool IsLocal(const PubKey& owner) const;
  Result<std::string> UrlOf(const PubKey& owner) const;

  node::Node* node_;
  std::optional<PubKey> partner_;
  std::map<PubKey, std::string> urls_;  // validator key -> "http://host:port"
  std::mutex mu_;
  std::map<PubKey, uint64_t> last_nonce_;

  // Copies of fetched artifacts are written to the store by this thread, off the round's
  // critical path (they were verified on receipt; the copy is the partner's record).
  void WriteCopies();
  std::mutex copies_mu_;
  std::condition_variable copies_cv_;
  std::deque<std::pair<Hash32, std::shared_ptr<const std::string>>> copies_;
  bool stopping_ = false;
  std::thread writer_;
};

}  // namespace fedledger::driver
