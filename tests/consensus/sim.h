// A seeded, single-process simulation of a validator network for consensus tests.
//
// Every validator runs the real consensus core on a real Store (LevelDB on an in-memory Env)
// with an in-memory signer storage. The network delivers encoded messages after a seeded
// random delay (so messages reorder), may drop them, and honours partitions. Time is a manual
// clock advanced by the event loop. A crash drops the node's core and store objects but keeps
// its Env and signer storage (what its disk keeps; a power cut loses the signer's unsynced
// records); a restart reopens them and calls Start().
//
// Faults are injected by wrapping interfaces (STYLE rule 3): a Byzantine validator is an
// honest core whose Outbox is wrapped by a ByzantineOutbox that equivocates, double-votes,
// corrupts signatures, votes for wrong heights or floods.
//
// Safety is checked on every commit: each committed block must carry a certificate that
// verifies, and no two honest validators may commit different blocks at one height.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <queue>
#include <random>
#include <set>
#include <string>
#include <tuple>
#include <vector>

#include "consensus/application.h"
#include "consensus/consensus.h"
#include "consensus/signer.h"
#include "ledger/store.h"

namespace leveldb {
class Env;
}

namespace fedledger::consensus::sim {

struct SimOptions {
  uint64_t seed = 1;
  size_t validators = 4;
  double loss = 0.0;          // probability that a message is dropped
  uint64_t min_delay_ms = 1;  // per-message delay, uniform in [min, max]
  uint64_t max_delay_ms = 5;
  size_t clients = 3;
  uint64_t load_interval_ms = 10;  // client entries every this many ms while load runs
  size_t load_batch = 1;           // ... this many per tick
  ConsensusOptions consensus;
  SimOptions();
};

class Simulation;

enum class Byzantine : uint8_t {
  kNone = 0,
  kEquivocatingProposer,  // sends different valid proposals to different peers
  kDoubleVoter,           // sends conflicting votes (block vs nil / other hash) to different peers
  kBadSignatures,         // corrupts the signature of many messages, sends garbage bytes
  kWrongHeights,          // also sends validly signed votes for other heights and far rounds
  kFlooder,               // repeats every message many times, floods sync requests and junk
};
const char* ByzantineName(Byzantine b);

class SimNode : public Outbox {
 public:
  SimNode(Simulation* sim, size_t index, const SecretKey& key);
  ~SimNode() override;

  // Creates the store (first boot) or reopens it, then starts the core.
  Status Boot();
  // Drops the node's objects. A power cut (`lose_power`) also loses the signer's unsynced
  // records (MemorySignerStorage::LosePower); the store's writes are all synced.
  void Crash(bool lose_power = false);
  bool up() const { return core_ != nullptr; }
  uint64_t epoch() const { return epoch_; }
  size_t index() const { return index_; }
  const SecretKey& key() const { return key_; }
  Consensus* core() { return core_.get(); }
  Store* store() { return store_.get(); }
  uint64_t store_height() const { return store_ ? store_->height() : 0; }
  Application* app() { return app_.get(); }
  MemorySignerStorage& signer_storage() { return signer_storage_; }
  void SetByzantine(Byzantine b);
  Byzantine byzantine() const { return byzantine_; }
  bool honest() const { return byzantine_ == Byzantine::kNone; }

  // Outbox (the raw network side; a Byzantine wrapper sits in front of it).
  void Send(const PubKey& to, const Message& m) override;
  void Broadcast(const Message& m) override;
  void SetTimer(const TimerRequest& t) override;
  void Committed(const Block& block, const Certificate& cert) override;
  // Printed when FEDLEDGER_SIM_LOG is set (replaying a seed).
  void Rejected(const PubKey& from, const std::string& reason) override;

  // Low-level sends used by Byzantine wrappers.
  void SendBytes(size_t to, Bytes bytes);

 private:
  Simulation* sim_;
  size_t index_;
  SecretKey key_;
  std::unique_ptr<leveldb::Env> env_;
  MemorySignerStorage signer_storage_;
  std::unique_ptr<Store> store_;
  std::unique_ptr<LedgerApplication> app_;
  std::unique_ptr<Signer> signer_;
  std::unique_ptr<Outbox> wrapper_;
  std::unique_ptr<Consensus> core_;
  Byzantine byzantine_ = Byzantine::kNone;
  uint64_t epoch_ = 0;
  bool created_ = false;
};

class Simulation {
 public:
  explicit Simulation(SimOptions options);
  ~Simulation();

  const SimOptions& options() const { return options_; }
  uint64_t now() const { return now_; }
  std::mt19937_64& rng() { return rng_; }
  const Block& genesis() const { return genesis_; }
  const ValidatorSet& validators() const { return validators_; }
  const std::string& chain_id() const { return chain_id_; }
  SimNode& node(size_t i) { return *nodes_[i]; }
  size_t size() const { return nodes_.size(); }

  // Boots every node at time 0.
  void Start();
  // Schedules `fn` at now + delay.
  void At(uint64_t delay_ms, std::function<void()> fn);
  // Runs events until `done()` holds (checked after each event) or `until_ms` passes.
  // Returns done().
  bool RunUntil(const std::function<bool()>& done, uint64_t until_ms);

  // Network faults.
  void SetLoss(double p) { loss_ = p; }
  // Nodes in different groups cannot reach each other. Empty: no partition.
  void Partition(std::vector<int> group_of_node) { groups_ = std::move(group_of_node); }
  void Heal() { groups_.clear(); }
  bool Reachable(size_t a, size_t b) const { return groups_.empty() || groups_[a] == groups_[b]; }

  // Client load: one signed entry every load_interval_ms to a random up node, while on.
  void SetLoad(bool on);
  uint64_t entries_submitted() const { return submitted_; }
  // Delivered messages that did not decode (dropped, as the network adapter would).
  uint64_t undecodable() const { return undecodable_; }

  // Transport used by SimNode.
  void Deliver(size_t from, size_t to, Bytes bytes);
  void Timer(size_t node, uint64_t epoch, TimerRequest t);

  // Safety bookkeeping, called by honest nodes on commit.
  void RecordCommit(size_t node, const Block& block, const Certificate& cert);
  // Every vote an honest node sends: two different votes for one (height, round, type) fail.
  void RecordSent(size_t node, const Message& m);
  void Fail(const std::string& what);
  const std::vector<std::string>& failures() const { return failures_; }
  // The lowest committed height among honest nodes that are up (or all honest nodes).
  uint64_t MinHonestHeight(bool only_up = true) const;
  // Checks that all honest stores agree block by block up to their common height.
  void CheckStoresAgree();
  std::string Describe() const;

 private:
  void LoadTick();
  Entry MakeEntry();

  SimOptions options_;
  std::mt19937_64 rng_;
  std::string chain_id_ = "sim-chain";
  std::vector<SecretKey> client_keys_;
  std::vector<uint64_t> client_nonces_;
  Block genesis_;
  ValidatorSet validators_;
  std::vector<std::unique_ptr<SimNode>> nodes_;

  struct Event {
    uint64_t time;
    uint64_t seq;
    std::function<void()> fn;
  };
  struct Later {
    bool operator()(const Event& a, const Event& b) const {
      return a.time != b.time ? a.time > b.time : a.seq > b.seq;
    }
  };
  std::priority_queue<Event, std::vector<Event>, Later> events_;
  uint64_t now_ = 0;
  uint64_t seq_ = 0;
  double loss_ = 0;
  std::vector<int> groups_;
  bool load_on_ = false;
  bool load_scheduled_ = false;
  uint64_t submitted_ = 0;
  uint64_t undecodable_ = 0;

  std::map<uint64_t, Hash32> decided_;  // height -> first honest commit
  std::map<std::tuple<size_t, uint64_t, uint32_t, int>, Hash32> sent_votes_;
  std::vector<std::string> failures_;
};

}  // namespace fedledger::consensus::sim
