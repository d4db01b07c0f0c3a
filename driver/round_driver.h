// The round driver: the part of a node that runs the federation's rounds (DESIGN.md "Data
// flow of one task", docs/ROUNDS.md). It watches the committed federation state and acts:
//
// Partner side (this node holds a partner key and that partner's data files), for every
// active task the partner takes part in:
//   1. commit DATA_ACCESS for the round in progress (submitted as soon as the previous
//      aggregate commits, so that it commits while that aggregate is fetched);
//   2. only then open the data: the DataGate refuses unless the task is active, the partner
//      is a member of the round in progress and its DATA_ACCESS for it is committed;
//   3. train the global trunk plus the private head locally (trainer::PartnerTrainer);
//   4. mask the trunk update (secure aggregation), keep it in the local artifact store, commit
//      MODEL_UPDATE with its SHA-256, and only after that commit send it to the aggregator
//      (docs/ORCHESTRATOR.md: an update that never committed must never reach it);
//   5. fetch each committed aggregate, check its SHA-256 and header against the ledger, add
//      the average to the global trunk, evaluate on its own validation and test folds;
//   6. after TASK_COMPLETE, check the final trunk's hash against the ledger and write
//      DATA_DIR/tasks/<task>/report.json.
// After a ROUND_RESTART it re-masks the same update for the new attempt.
//
// Aggregator side (the spec names this node's key), for every active task it aggregates:
// once every member of the attempt has a committed MODEL_UPDATE and its artifact is here
// (hash checked), sum them (masks cancel), store the aggregate, commit ROUND_AGGREGATE; when
// the round timeout passes with members missing, commit ROUND_RESTART dropping exactly them;
// after the last round, store the final trunk and commit TASK_COMPLETE.
//
// Everything the driver decides is read from the committed state, so a driver that restarts
// picks up where the ledger is (a partner's private head and optimiser state are kept in
// memory only: after a restart they start again from the initialisation).
//
// Step() does at most one unit of work per task and returns; Run() calls it until Stop().
// The host (DriverHost) supplies the state, commits and artifacts: a Node in production
// (driver/node_host.h), an in-memory ledger in tests. Not thread-safe: one thread drives.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "ledger/block.h"
#include "ledger/crypto.h"
#include "ledger/entry.h"
#include "ledger/status.h"
#include "orchestrator/state.h"

namespace fedledger::driver {

class DriverHost {
 public:
  virtual ~DriverHost() = default;
  // Runs `fn` with the committed federation state (under its read lock; no pointers into
  // the state may outlive the call).
  virtual void Read(const std::function<void(const orchestrator::FederationState&)>& fn) = 0;
  // Signs `payload` with `key`, submits it and waits for the commit; returns the height.
  // FailedPrecondition carrying the ledger's reason when it is refused; DeadlineExceeded or
  // Unavailable when it did not commit in time.
  virtual Result<uint64_t> Commit(const SecretKey& key, Payload payload) = 0;
  // Signs and submits `payload` without waiting for the commit (OK once the node admitted
  // it). The default commits and waits.
  virtual Status Submit(const SecretKey& key, Payload payload) {
    return Commit(key, std::move(payload)).status();
  }
  // Stores this node's own artifact (a masked update, an aggregate, a final trunk) in its
  // own store and returns its SHA-256 (computed once, there).
  virtual Result<Hash32> StoreArtifact(std::shared_ptr<const std::string> bytes) = 0;
  // Stores an artifact at the node of `owner` (this node's own store when `owner` is this
  // node's key or its partner's key; another validator's HTTP API otherwise).
  virtual Status PutArtifact(const PubKey& owner, const Hash32& hash,
                             std::shared_ptr<const std::string> bytes) = 0;
  // The artifact's bytes from the node of `owner`, already checked to hash to `hash`.
  virtual Result<std::shared_ptr<const std::string>> GetArtifact(const PubKey& owner,
                                                                 const Hash32& hash) = 0;
  // Wall-clock milliseconds since the epoch (the round timeout is judged against block times).
  virtual uint64_t NowMs() = 0;
};

struct DriverOptions {
  PubKey node_key;                        // the aggregator role runs for tasks naming it
  std::optional<SecretKey> node_signer;   // signs the aggregator's entries
  std::optional<SecretKey> partner_key;   // the partner role runs for tasks naming it
  std::map<std::string, std::string> datasets;  // the partner's dataset id -> file
  std::string work_dir;                   // reports go to work_dir/<task>/report.json
  std::chrono::milliseconds poll{100};
  // Margin added to the round timeout before a restart is proposed (block times lag).
  uint64_t restart_margin_ms = 500;
  std::function<void(const std::string&)> log;  // "component=driver event=... " lines
};

class RoundDriver {
 public:
  RoundDriver(DriverHost* host, DriverOptions options);
  ~RoundDriver();
  RoundDriver(const RoundDriver&) = delete;
  RoundDriver& operator=(const RoundDriver&) = delete;

  // One pass over every task this node has a role in. Returns whether anything was done
  // (an entry committed, a model trained, an artifact moved). Errors are per task: a task
  // that cannot proceed is logged and retried on a later pass (or given up, when the error
  // is permanent, e.g. a data file whose hash no longer matches its registration).
  bool Step();
  // Calls Step() until Stop(), sleeping `poll` when there was nothing to do, or until Wake().
  // The calling thread (and the LibTorch workers it starts, which inherit its policy) runs
  // as batch work (ledger/thread_name.h): a partner's training shares the machine with its
  // validator and must not preempt the consensus thread in the middle of a height.
  void Run();
  void Stop();
  // Thread-safe: something the driver may be waiting for happened (a block committed, an
  // artifact arrived); Run() steps again now instead of at the end of its poll interval.
  void Wake();
  // Thread-safe: the last Step() found no task this node has a role in. Only a block that
  // carries a task entry can change that.
  bool Idle() const { return idle_.load(std::memory_order_relaxed); }
  // Thread-safe, for the node's commit listener: wakes the driver unless it is idle and the
  // block holds no task entry (a ledger busy with dataset registrations would otherwise wake
  // it at every commit). Returns whether it woke it.
  bool OnCommitted(const Block& block);

  // The partner's report for a task (as written to report.json), or null.
  nlohmann::json Report(const std::string& task_id) const;

  struct PartnerTask;
  struct AggregatorTask;

 private:
  bool StepPartner(const std::string& task_id);
  bool StepAggregator(const std::string& task_id);
  void Log(const std::string& line) const;

  DriverHost* host_;
  DriverOptions options_;
  std::atomic<bool> idle_{false};
  std::map<std::string, std::unique_ptr<PartnerTask>> partner_tasks_;
  std::map<std::string, std::unique_ptr<AggregatorTask>> aggregator_tasks_;
  std::atomic<bool> stop_{false};
  bool wake_ = false;  // guarded by mu_
  std::mutex mu_;
  std::condition_variable cv_;
};

}  // namespace fedledger::driver
