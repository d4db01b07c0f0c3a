// Node: one networked validator, the thin adapter of STYLE rule 1. It owns the ledger store,
// the signer (with its durable vote guard), the pure consensus state machine, the peer network
// (authenticated WebSocket links), the HTTP/JSON API and the metrics registry, and wires them:
//
//   peer io thread --decode, verify entry signatures--> EventLoop (one thread)
//                                                        --> Consensus::OnMessage
//   HTTP io thread --decode--> Submit() (verifies the signature) --> Consensus::SubmitEntries
//                                                                    (batched)
//   Outbox::SetTimer --------> EventLoop::PostAfter ----> Consensus::OnTimeout
//   Outbox::Send/Broadcast --> PeerNetwork (encoded; queued together when the call returns,
//                              one signed frame per link)
//   Outbox::Committed -------> metrics, log line, answers to clients waiting for that entry
//   Outbox::Evicted ---------> answers (rejected) to clients waiting for that entry
//
// Every consensus input runs on the EventLoop's thread, so the state machine is never
// entered concurrently. HTTP reads (blocks, entries, proofs) go straight to the Store, which
// allows concurrent readers.
//
// On first start the store is created from the genesis file; later starts open it and
// refuse a store whose genesis differs from the file. A non-OK Status from the state machine
// (store or signer storage failure) is fatal: the node stops feeding consensus, logs
// event=fatal and calls the fatal handler (the CLI then exits non-zero).
//
// Thread-safety: Open/Start/Stop from one controlling thread. Submit, StatusJson, store()
// reads and the port accessors are thread-safe.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <queue>
#include <string>
#include <unordered_map>
#include <vector>

#include <nlohmann/json.hpp>

#include "consensus/consensus.h"
#include "ledger/describe.h"
#include "ledger/store.h"
#include "net/log.h"
#include "node/config.h"
#include "node/event_loop.h"
#include "node/submission_queue.h"

namespace fedledger::net {
class PeerNetwork;
class HttpServer;
class MetricsRegistry;
class Gauge;
class Counter;
class Histogram;
}  // namespace fedledger::net

namespace fedledger::orchestrator {
class OrchestratorApplication;
}  // namespace fedledger::orchestrator

namespace fedledger::node {

class ArtifactStore;

// What happened to a submitted entry.
struct SubmitOutcome {
  enum class Kind {
    kAccepted,   // admitted to the mempool (and broadcast); not waiting for the commit
    kCommitted,  // committed: height, index (and proof if asked)
    kRejected,   // refused by admission: `admission` and `reason` say why
    kTimeout,    // admitted but not committed within the wait timeout (may still commit)
    kStopped,    // the node stopped (or failed) before an answer
  };
  Kind kind = Kind::kAccepted;
  consensus::Admission admission = consensus::Admission::kAccepted;
  std::string reason;
  Hash32 leaf_hash;
  uint64_t height = 0;
  uint64_t index = 0;
  double latency_ms = 0;                  // submit to commit, as this node saw it
  std::optional<nlohmann::json> proof;    // MakeInclusionProofDoc at the block's log size
};

struct SubmitOptions {
  bool wait = false;   // answer only when the entry is committed (or the timeout passes)
  bool proof = false;  // with wait: include the inclusion proof document
  std::chrono::milliseconds timeout{30000};
};

class Node {
 public:
  using SubmitCallback = std::function<void(const SubmitOutcome&)>;

  // Loads keys and genesis, opens (or on first start creates) the store and the signer
  // state, checks the config against the genesis (node key and peers must be validators).
  // Starts nothing. `log` gets structured key=value lines from every component.
  static Result<std::unique_ptr<Node>> Open(const NodeConfig& config, net::LogFn log);
  ~Node();
  Node(const Node&) = delete;
  Node& operator=(const Node&) = delete;

  // Starts the event loop and consensus, then the peer network, then the HTTP server.
  Status Start();
  // Idempotent: stops the HTTP server, the peer network and the event loop, in that order;
  // clients still waiting get kStopped (if their connection is still open).
  void Stop();
  // Called once, from the event loop's thread, when consensus fails fatally.
  void SetFatalHandler(std::function<void(const Status&)> fn);
  // Thread-safe. `fn` is called from the event loop's thread after every block is committed
  // and applied, with the block; it must be quick (the round driver only wakes up).
  void AddCommitListener(std::function<void(const Block& block)> fn);

  // Thread-safe. Verifies the entry's signature on the calling thread and queues it for the
  // state machine; `done` is called exactly once, from the event loop's thread (or the
  // caller's, after Stop()). An entry the store already holds (a client retrying after a
  // timeout or a lost answer) is answered kCommitted with its height and index (and proof if
  // asked), as its first submitter was, on the caller's thread before anything is queued.
  void Submit(Entry entry, SubmitOptions options, SubmitCallback done);

  // Thread-safe snapshots for the API.
  nlohmann::json StatusJson() const;
  std::string MetricsText() const;
  const Store& store() const { return *store_; }
  const KeyNames& names() const { return names_; }
  const PubKey& node_key() const { return key_.pubkey(); }
  // The federation state machine the node runs as its consensus application (thread-safe
  // reads through OrchestratorApplication::Read); nullptr when the config says rules = ledger.
  const orchestrator::OrchestratorApplication* orchestrator() const { return orchestrator_; }
  // Content-addressed round artifacts in DATA_DIR/artifacts (thread-safe; artifact_store.h).
  ArtifactStore& artifacts() const { return *artifacts_; }
  uint16_t http_port() const;
  uint16_t p2p_port() const;

 private:
  class Outbox;
  struct Waiter {
    uint64_t id;
    SubmitCallback done;
    bool proof;
  };
  struct Incoming {
    Entry entry;
    SubmitOptions options;
    SubmitCallback done;
    std::chrono::steady_clock::time_point at;
    uint64_t deciding_height = 0;  // the height consensus was deciding when it arrived
    // Set when Submit found the nonce still unused: the first height a block could have
    // committed this entry at since (a stale-nonce refusal looks for it from there).
    std::optional<uint64_t> unused_nonce_below_height;
  };

  Node(const NodeConfig& config, net::LogFn log, SecretKey key);
  void Log(net::LogLevel level, const std::string& line) const;
  // Event-loop side.
  void Drive(const char* what, const Status& s);
  // Hands the waiting client submissions to the state machine in one call.
  void DrainIncoming();
  void OnPeerMessage(const PubKey& from, Bytes payload, bool self_signed);
  void OnCommitted(const Block& block, const Certificate& cert);
  // The proposer evicted `entry` (consensus::Outbox::Evicted): its waiters get kRejected.
  void OnEvicted(const Entry& entry, consensus::Admission code, const std::string& reason);
  void ExpireWaiter(const Hash32& leaf, uint64_t id);
  // Waiter deadlines: one loop timer for all of them (see waiter_deadlines_).
  void AddWaiterDeadline(std::chrono::steady_clock::time_point when, const Hash32& leaf,
                         uint64_t id);
  void ArmWaiterSweep();
  void SweepWaiters(std::chrono::steady_clock::time_point at);
  // If the store holds `entry` in a block at or above `from_height`, answers `done` with
  // kCommitted (its height and index; the proof at that block if `proof`) and returns true.
  // Any thread.
  bool AnswerIfCommitted(const Entry& entry, uint64_t from_height, bool proof,
                         const SubmitCallback& done) const;
  // Removes waiter `id` of `leaf`; false if it is gone (answered). Moves its callback out.
  bool RemoveWaiter(const Hash32& leaf, uint64_t id, SubmitCallback* done = nullptr);
  void PublishState();
  void SweepSubmitTimes();
  uint64_t NowMs() const;

  NodeConfig config_;
  net::LogFn log_;
  SecretKey key_;
  std::string name_;
  KeyNames names_;
  std::unique_ptr<Store> store_;
  std::unique_ptr<consensus::FileSignerStorage> signer_storage_;
  std::unique_ptr<consensus::Signer> signer_;
  std::unique_ptr<consensus::Application> app_;
  orchestrator::OrchestratorApplication* orchestrator_ = nullptr;  // app_, when it is one
  std::unique_ptr<ArtifactStore> artifacts_;
  std::unique_ptr<Outbox> outbox_;
  std::unique_ptr<consensus::Consensus> consensus_;
  std::unique_ptr<net::MetricsRegistry> metrics_;
  std::unique_ptr<net::PeerNetwork> network_;
  std::unique_ptr<net::HttpServer> http_;
  EventLoop loop_;

  std::mutex listeners_mu_;
  std::vector<std::function<void(const Block&)>> commit_listeners_;
  SubmissionQueue<Incoming> incoming_;

  // Event-loop thread only.
  bool fatal_ = false;
  std::function<void(const Status&)> fatal_handler_;
  uint64_t next_waiter_id_ = 1;
  // Keyed by leaf hash and looked up for every committed entry: hashed, not ordered.
  std::unordered_map<Hash32, std::vector<Waiter>, Hash32Hasher> waiters_;
  // Every waiter's deadline, earliest on top, until it passes (an answered waiter's stays:
  // ExpireWaiter then finds nothing). One loop timer sweeps whatever has come due, a little
  // after the earliest deadline, so deadlines close together expire in one wake-up. (A timer
  // per waiter put a task on the loop's timer heap for every waiting submission and could
  // wake the loop at each deadline, nearly always to find the waiter answered long before.)
  struct WaiterDeadline {
    std::chrono::steady_clock::time_point when;
    Hash32 leaf;
    uint64_t id = 0;
    bool operator>(const WaiterDeadline& o) const { return when > o.when; }
  };
  std::priority_queue<WaiterDeadline, std::vector<WaiterDeadline>, std::greater<WaiterDeadline>>
      waiter_deadlines_;
  // When the sweep timer we count on fires. A deadline earlier than that arms another timer;
  // the one it replaces finds itself stale when it fires and does nothing.
  std::optional<std::chrono::steady_clock::time_point> waiter_sweep_at_;
  // Entries submitted here and admitted, until they commit: when they arrived and the height
  // consensus was deciding then (for the latency and heights-waited metrics).
  struct Submitted {
    std::chrono::steady_clock::time_point at;
    uint64_t deciding_height = 0;
  };
  std::unordered_map<Hash32, Submitted, Hash32Hasher> submitted_at_;
  uint64_t rejected_logged_ = 0;

  // Where the heights this node voted through spent their time, wall clock: from the
  // height's start (the previous commit, or the first work after an idle spell) to our first
  // prevote, from there to our first precommit, and from there to the commit (the store's
  // write included). The stamps belong to the event loop; the sums are read by /metrics.
  struct HeightPhases {
    std::optional<std::chrono::steady_clock::time_point> start, prevote, precommit;
    std::atomic<uint64_t> heights{0}, to_prevote_ns{0}, to_precommit_ns{0}, to_commit_ns{0};
  };
  HeightPhases phases_;
  void NoteOwnVote(VoteType type);

  // Published by the event loop for other threads.
  std::atomic<uint64_t> cons_height_{0};
  std::atomic<uint32_t> cons_round_{0};
  std::atomic<int> cons_step_{0};
  std::atomic<uint64_t> mempool_size_{0};
  std::atomic<bool> started_{false};
  std::atomic<bool> stopped_{false};

  // Metrics (owned by metrics_).
  net::Gauge* m_height_ = nullptr;
  net::Gauge* m_round_ = nullptr;
  net::Gauge* m_mempool_ = nullptr;
  net::Histogram* m_latency_ = nullptr;
  // fedledger_commit_heights_waited_total by heights waited: 0, 1, 2, 3 or more.
  std::array<net::Counter*, 4> m_heights_waited_{};
  net::Histogram* m_block_entries_ = nullptr;
  net::Counter* m_blocks_ = nullptr;
  net::Counter* m_entries_ = nullptr;
  net::Counter* m_submit_accepted_ = nullptr;
  net::Counter* m_submit_rejected_ = nullptr;
  std::atomic<uint64_t> stat_timeouts_{0};
  std::atomic<uint64_t> stat_rejected_msgs_{0};
  std::atomic<uint64_t> stat_synced_{0};
  std::atomic<uint64_t> stat_rounds_{0};
  std::atomic<uint64_t> stat_equivocations_{0};
  // Entry signatures verified, by where (fedledger_entry_signature_checks_total): client
  // submissions (a batch per drain, consensus thread), peers' ENTRY_BATCHes (transport
  // thread), admission's own checks of entries not verified before (consensus thread), and
  // entries first seen in a proposal or synced block (consensus thread, while the height
  // waits on it).
  std::atomic<uint64_t> sig_submit_{0}, sig_peer_batch_{0}, sig_admission_{0}, sig_block_{0};
};

}  // namespace fedledger::node
