#include "node/node.h"

#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <future>

#include "consensus/messages.h"
#include "ledger/export.h"
#include "net/http_server.h"
#include "net/metrics.h"
#include "net/peer_metrics.h"
#include "net/peer_network.h"
#include "net/process_metrics.h"
#include "node/api.h"
#include "node/artifact_store.h"
#include "node/genesis_file.h"
#include "node/send_queue.h"
#include "orchestrator/application.h"

namespace fedledger::node {

using net::LogLevel;
using net::LogQuote;
using Steady = std::chrono::steady_clock;
// The longest a submission waits for others to join its ENTRY_BATCH while a height is
// deciding: normally they leave earlier, right after this node's precommit (Node::Drive).
constexpr std::chrono::milliseconds kSubmitBatchDelay{50};
// How late a waiter's timeout may be answered, so that deadlines this close share a sweep.
constexpr std::chrono::milliseconds kWaiterSweepSlack{20};

// The state machine's Outbox, called synchronously on the event loop's thread. Messages wait
// here until the call into the state machine returns (Node::Drive flushes them): everything
// one call sends, such as a proposal and its prevote, leaves in one frame per peer.
class Node::Outbox : public consensus::Outbox {
 public:
  explicit Outbox(Node* node) : node_(node) {}
  void Send(const PubKey& to, const consensus::Message& m) override {
    queue_.Add({to, consensus::EncodeMessage(m)}, SendQueue::Kind::kOther);
  }
  void Broadcast(const consensus::Message& m) override {
    // Our own votes, proposals and entry batches carry our signature (the receiver checks
    // it, see OnPeerMessage): frames of only such messages need no second one.
    bool self_signed = false;
    auto kind = SendQueue::Kind::kOther;
    if (const auto* v = std::get_if<Vote>(&m)) {
      self_signed = v->validator == node_->key_.pubkey();
      if (self_signed) node_->NoteOwnVote(v->type);
      if (self_signed && v->type == VoteType::kPrecommit) kind = SendQueue::Kind::kOwnPrecommit;
    } else if (const auto* b = std::get_if<consensus::EntryBatch>(&m)) {
      // Ahead of the votes it shares a frame with, with the R hints of DrainIncoming, and
      // signed once for all the peers.
      consensus::EntryBatch out = WithHints(*b);
      out.Sign(node_->key_, node_->store_->chain_id());
      queue_.Add({std::nullopt, consensus::EncodeMessage(out), /*self_signed=*/true},
                 SendQueue::Kind::kEntryBatch);
      return;
    } else {
      self_signed = std::holds_alternative<consensus::Proposal>(m);  // only ours are broadcast
    }
    queue_.Add({std::nullopt, consensus::EncodeMessage(m), self_signed}, kind);
  }
  // The y of each R that DrainIncoming's batch verification lifted, by entry, in the order
  // the entries went to SubmitEntries; an ENTRY_BATCH sent meanwhile carries them, so each
  // receiver skips those square roots. Empty outside that call.
  struct Hint {
    Hash32 leaf;
    Hash32 r_y;
  };
  std::vector<Hint> hints;

  // True when this call into the state machine precommitted: the height is about to end.
  bool precommit_queued() const { return queue_.precommit_queued(); }
  void Flush() {
    if (queue_.empty()) return;
    std::vector<net::PeerNetwork::Outgoing> pending = queue_.Take();
    size_t messages = pending.size();
    size_t failed = node_->network_->SendAll(std::move(pending));
    if (failed > 0) {
      node_->Log(LogLevel::kDebug, "component=node event=send_failed messages=" +
                                       std::to_string(messages) + " not_queued=" +
                                       std::to_string(failed));
    }
  }
  // A proposal leaving ahead of its proposer's prevote record (ConsensusOptions::
  // send_proposal_first). Drive still needs to know if our precommit went with it.
  void SendNow() override {
    precommit_sent_early |= queue_.precommit_queued();
    Flush();
  }
  bool precommit_sent_early = false;
  void SetTimer(const consensus::TimerRequest& t) override {
    Node* node = node_;
    node_->loop_.PostAfter(std::chrono::milliseconds(t.delay_ms), [node, t] {
      if (node->fatal_) return;
      node->Drive("timeout", node->consensus_->OnTimeout(t, node->NowMs()));
    });
  }
  void Committed(const Block& block, const Certificate& cert) override {
    node_->OnCommitted(block, cert);
  }
  void Evicted(const Entry& entry, consensus::Admission code, const std::string& reason) override {
    node_->OnEvicted(entry, code, reason);
  }
  void Rejected(const PubKey& from, const std::string& reason) override {
    node_->stat_rejected_msgs_.fetch_add(1, std::memory_order_relaxed);
    // Rejections are normal under faults (stale votes, a restarted peer); keep the log
    // readable: every one at debug level, the first 100 and then one in 1000 at info.
    uint64_t n = ++node_->rejected_logged_;
    LogLevel level = (n <= 100 || n % 1000 == 0) ? LogLevel::kInfo : LogLevel::kDebug;
    node_->Log(level, "component=consensus event=rejected from=" + node_->names_.Name(from) +
                          " count=" + std::to_string(n) + " reason=" + LogQuote(reason));
  }

 private:
  // `b` with r_ys from `hints`. The state machine admits a subsequence of what it was given,
  // in order, so one pass pairs them up; an entry without a hint gets zeros (none).
  consensus::EntryBatch WithHints(const consensus::EntryBatch& b) const {
    consensus::EntryBatch out{b.entries};
    if (hints.empty()) return out;
    out.r_ys.resize(b.entries.size());
    bool any = false;
    size_t h = 0;
    for (size_t i = 0; i < b.entries.size(); ++i) {
      const Hash32& leaf = b.entries[i].leaf_hash();
      size_t k = h;
      while (k < hints.size() && hints[k].leaf != leaf) ++k;
      if (k == hints.size()) continue;
      out.r_ys[i] = hints[k].r_y;
      any |= !hints[k].r_y.IsZero();
      h = k + 1;
    }
    if (!any) out.r_ys.clear();
    return out;
  }

  Node* node_;
  SendQueue queue_;
};

namespace {

Status MakeDir(const std::string& path) {
  if (::mkdir(path.c_str(), 0700) == 0 || errno == EEXIST) return Status::Ok();
  return Status::IOError("cannot create directory " + path + ": " + std::strerror(errno));
}

bool Exists(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0;
}

// The [partner] section, checked before anything starts: a node that would only find out at
// its first task (or never: a key that is no partner takes part in nothing) is refused now.
Status CheckPartnerConfig(const NodeConfig& config, const PubKey& node_key,
                          const GenesisPayload& genesis) {
  const PartnerConfig& p = config.partner;
  if (p.key_file.empty()) return Status::Ok();
  auto key = LoadSecretKey(p.key_file);
  if (!key.ok()) return key.status().WithContext("[partner] key");
  const PubKey& pub = key->pubkey();
  if (pub == node_key) {
    return Status::InvalidArgument("[partner] key " + p.key_file +
                                   " is this node's validator key; it must be the key of a "
                                   "partner in the genesis");
  }
  bool partner = std::any_of(genesis.partners.begin(), genesis.partners.end(),
                             [&](const Member& m) { return m.key == pub; });
  if (!partner) {
    return Status::InvalidArgument("[partner] key " + p.key_file + " (public key " + pub.Hex() +
                                   ") is not a partner in the genesis");
  }
  for (const auto& [id, file] : p.datasets) {
    std::string where = "[partner] datasets." + id;
    FL_TRY(ValidateIdentifier(where.c_str(), id));
    struct stat st;
    if (::stat(file.c_str(), &st) != 0) {
      return Status::NotFound(where + ": cannot read " + file + ": " + std::strerror(errno));
    }
    if (!S_ISREG(st.st_mode)) return Status::InvalidArgument(where + ": " + file + " is not a file");
  }
  return Status::Ok();
}

}  // namespace

Node::Node(const NodeConfig& config, net::LogFn log, SecretKey key)
    : config_(config), log_(std::move(log)), key_(std::move(key)) {}

Node::~Node() { Stop(); }

void Node::Log(LogLevel level, const std::string& line) const {
  if (level < config_.log_level || !log_) return;
  log_(level, line);
}

uint64_t Node::NowMs() const {
  return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                   std::chrono::system_clock::now().time_since_epoch())
                                   .count());
}

Result<std::unique_ptr<Node>> Node::Open(const NodeConfig& config, net::LogFn log) {
  auto key = LoadSecretKey(config.node_key_file);
  if (!key.ok()) return key.status().WithContext("node_key");
  FL_ASSIGN(GenesisFile genesis, ReadGenesisFile(config.genesis_file));
  std::unique_ptr<Node> node(new Node(config, std::move(log), *key));

  FL_TRY(MakeDir(config.data_dir));
  std::string ledger = config.data_dir + "/ledger";
  StoreOptions so;
  so.verify_signatures_on_commit = false;  // consensus verifies each entry once (application.h)
  so.verify_certificate_on_commit = false;  // and each certificate it commits, once
  so.index_in_background = true;  // the next height need not wait for the index records
  if (Exists(ledger)) {
    FL_ASSIGN(node->store_, Store::Open(ledger, so));
    if (node->store_->genesis_hash() != genesis.hash) {
      return Status::FailedPrecondition(
          "the store at " + ledger + " belongs to genesis " + node->store_->genesis_hash().Hex() +
          ", but the genesis file " + config.genesis_file + " is " + genesis.hash.Hex());
    }
  } else {
    FL_ASSIGN(node->store_, Store::Create(ledger, genesis.block, so));
    node->Log(LogLevel::kInfo, "component=node event=store_created path=" + LogQuote(ledger) +
                                   " genesis=" + genesis.hash.Hex());
  }
  const ValidatorSet& vals = node->store_->validators();
  int self = vals.IndexOf(node->key_.pubkey());
  if (self < 0) {
    return Status::InvalidArgument("node_key " + config.node_key_file + " (public key " +
                                   node->key_.pubkey().Hex() +
                                   ") is not a validator in the genesis");
  }
  node->name_ = vals.at(static_cast<size_t>(self)).name;
  node->names_ = KeyNames(node->store_->genesis());
  for (size_t i = 0; i < config.peers.size(); ++i) {
    const PeerConfig& p = config.peers[i];
    std::string where = "[p2p] peers[" + std::to_string(i) + "]: key " + p.key.ShortHex() + "..";
    if (p.key == node->key_.pubkey()) return Status::InvalidArgument(where + " is this node's own key");
    if (vals.IndexOf(p.key) < 0) return Status::InvalidArgument(where + " is not a validator in the genesis");
  }
  FL_TRY(CheckPartnerConfig(config, node->key_.pubkey(), node->store_->genesis()));

  FL_ASSIGN(node->signer_storage_,
            consensus::FileSignerStorage::Open(config.data_dir + "/signer.state"));
  FL_ASSIGN(node->signer_, consensus::Signer::Open(node->key_, node->signer_storage_.get()));
  if (config.rules == ApplicationRules::kOrchestrator) {
    orchestrator::ApplicationOptions ao;
    Node* self_node = node.get();
    ao.admission_clock = [self_node] { return self_node->NowMs(); };
    FL_ASSIGN(auto app, orchestrator::OrchestratorApplication::Open(node->store_.get(), ao));
    node->orchestrator_ = app.get();
    node->app_ = std::move(app);
  } else {
    node->app_ = std::make_unique<consensus::LedgerApplication>(node->store_.get());
  }
  node->outbox_ = std::make_unique<Outbox>(node.get());
  node->consensus_ = std::make_unique<consensus::Consensus>(
      config.consensus, node->app_.get(), node->signer_.get(), node->outbox_.get());

  // Transport logs go through the same level filter as ours.
  Node* raw = node.get();
  net::LogFn filtered = [raw](LogLevel level, const std::string& line) { raw->Log(level, line); };

  net::PeerNetworkOptions po;
  po.chain_id = node->store_->chain_id();
  po.listen = config.p2p_listen;
  for (const PeerConfig& p : config.peers) po.peers.push_back({p.key, p.address});
  // A proposal carries a whole block; a sync response up to half of kMaxBlockBytes plus one
  // block (consensus.cc, HandleSyncRequest).
  po.max_message_size = consensus::kMaxBlockBytes + config.consensus.max_block_bytes + (1 << 20);
  po.max_queue_bytes = std::max<size_t>(po.max_queue_bytes, 2 * po.max_message_size);
  po.log = filtered;
  node->network_ = std::make_unique<net::PeerNetwork>(node->key_, po);
  node->network_->SetMessageHandler([raw](const PubKey& from, Bytes payload, bool self_signed) {
    raw->OnPeerMessage(from, std::move(payload), self_signed);
  });
  node->network_->SetPeerStateHandler([raw](const PubKey& peer, bool connected) {
    raw->Log(LogLevel::kInfo, std::string("component=node event=") +
                                  (connected ? "peer_connected" : "peer_disconnected") +
                                  " peer=" + raw->names_.Name(peer));
    if (!connected) return;
    // Ask the new peer for blocks we may lack: a validator that restarted (or was cut off)
    // catches up as soon as a link is up rather than at its next round timeout.
    raw->loop_.Post([raw, peer] {
      if (raw->fatal_) return;
      consensus::SyncRequest req{raw->consensus_->height(),
                                 static_cast<uint32_t>(raw->config_.consensus.max_sync_blocks)};
      (void)raw->network_->Send(peer, consensus::EncodeMessage(req));
    });
  });

  // Metrics.
  node->metrics_ = std::make_unique<net::MetricsRegistry>();
  auto& m = *node->metrics_;
  node->m_height_ = &m.AddGauge("fedledger_height", "Height of the latest committed block.");
  node->m_round_ = &m.AddGauge("fedledger_round", "Consensus round at the height being decided.");
  node->m_mempool_ = &m.AddGauge("fedledger_mempool_entries", "Entries waiting in the mempool.");
  // Peer link metrics (connections, messages, bytes, rejections) are registered once, by
  // the transport's own RegisterPeerMetrics.
  net::RegisterPeerMetrics(m, *node->network_);
  net::RegisterProcessCpuMetrics(
      m, {"fl-consensus", "fl-peer", "fl-http", "fl-index", "fl-leveldb", "fl-rounds",
                                   "fl-artifacts"});
  node->m_latency_ = &m.AddHistogram(
      "fedledger_commit_latency_seconds",
      "Submit-to-commit latency of entries submitted to this node.",
      net::Histogram::LatencyBuckets());
  for (size_t i = 0; i < node->m_heights_waited_.size(); ++i) {
    node->m_heights_waited_[i] = &m.AddCounter(
        "fedledger_commit_heights_waited_total",
        "Entries submitted to this node and committed, by the heights between the one consensus "
        "was deciding when the entry arrived and the one that committed it (0: that height's "
        "block; 1: the next one).",
        {{"heights", i < 3 ? std::to_string(i) : "3+"}});
  }
  node->m_block_entries_ = &m.AddHistogram("fedledger_block_entries", "Entries per committed block.",
                                           net::Histogram::ExponentialBuckets(1, 4, 8));
  node->m_blocks_ = &m.AddCounter("fedledger_blocks_committed_total", "Blocks committed.");
  node->m_entries_ = &m.AddCounter("fedledger_entries_committed_total", "Entries committed.");
  node->m_submit_accepted_ = &m.AddCounter("fedledger_submissions_total",
                                           "Entries submitted by clients, by outcome.",
                                           {{"result", "accepted"}});
  node->m_submit_rejected_ = &m.AddCounter("fedledger_submissions_total",
                                           "Entries submitted by clients, by outcome.",
                                           {{"result", "rejected"}});
  m.AddCounterFunction("fedledger_consensus_timeouts_total", "Round-step timeouts that acted.",
                       [raw] { return static_cast<double>(raw->stat_timeouts_.load()); });
  m.AddCounterFunction("fedledger_consensus_rounds_total", "Rounds started.",
                       [raw] { return static_cast<double>(raw->stat_rounds_.load()); });
  m.AddCounterFunction("fedledger_consensus_rejected_messages_total",
                       "Consensus messages dropped (stale, bad signature, conflicting).",
                       [raw] { return static_cast<double>(raw->stat_rejected_msgs_.load()); });
  m.AddCounterFunction("fedledger_consensus_equivocations_total",
                       "Conflicting votes or proposals seen.",
                       [raw] { return static_cast<double>(raw->stat_equivocations_.load()); });
  const char* sig_help =
      "Entry signatures verified, by where: client submissions (checked as a batch when they "
      "are handed to consensus), peers' entry batches (on the transport thread), admission "
      "(entries not verified before), and entries first seen in a proposal or synced block "
      "(while the height waits).";
  const std::pair<const char*, std::atomic<uint64_t> Node::*> sig_paths[] = {
      {"submit", &Node::sig_submit_},
      {"peer_batch", &Node::sig_peer_batch_},
      {"admission", &Node::sig_admission_},
      {"block", &Node::sig_block_}};
  for (const auto& [path, counter] : sig_paths) {
    m.AddCounterFunction(
        "fedledger_entry_signature_checks_total", sig_help,
        [raw, counter] { return static_cast<double>((raw->*counter).load()); }, {{"path", path}});
  }
  m.AddCounterFunction("fedledger_blocks_synced_total", "Blocks committed from peers' sync responses.",
                       [raw] { return static_cast<double>(raw->stat_synced_.load()); });
  const char* phase_help =
      "Wall time of the heights this node voted through, by phase: from the height's start "
      "(the previous commit, or the first work after an idle spell) to its first prevote, to "
      "its first precommit, to the commit (store write included).";
  const std::pair<const char*, std::atomic<uint64_t> HeightPhases::*> phases[] = {
      {"to_prevote", &HeightPhases::to_prevote_ns},
      {"to_precommit", &HeightPhases::to_precommit_ns},
      {"to_commit", &HeightPhases::to_commit_ns}};
  for (const auto& [phase, sum] : phases) {
    m.AddCounterFunction(
        "fedledger_height_phase_seconds_total", phase_help,
        [raw, sum] { return static_cast<double>((raw->phases_.*sum).load()) / 1e9; },
        {{"phase", phase}});
  }
  m.AddCounterFunction("fedledger_height_phases_total", "Heights timed by phase (voted through).",
                       [raw] { return static_cast<double>(raw->phases_.heights.load()); });
  const char* store_help =
      "Wall time of the store's block commits: the synced log write (the commit), the index "
      "records' part (queueing them for the store's index thread), the whole commit (checks and "
      "batch building included); and that thread's unsynced index writes, after the commits.";
  const std::pair<const char*, uint64_t Store::CommitTimes::*> parts[] = {
      {"log_write", &Store::CommitTimes::log_write_ns},
      {"index_write", &Store::CommitTimes::index_write_ns},
      {"all", &Store::CommitTimes::total_ns},
      {"background_index_write", &Store::CommitTimes::background_index_write_ns}};
  for (const auto& [part, field] : parts) {
    m.AddCounterFunction(
        "fedledger_store_commit_seconds_total", store_help,
        [raw, field] { return static_cast<double>(raw->store_->commit_times().*field) / 1e9; },
        {{"part", part}});
  }
  m.AddCounterFunction("fedledger_store_commits_total", "Blocks the store committed.",
                       [raw] { return static_cast<double>(raw->store_->commit_times().commits); });
  // LevelDB's flushes and compactions, by database: "index" compactions rewrite keys every
  // block scatters, and on a busy machine a heavy one shows as a stall of every height.
  const std::pair<const char*, Store::BackgroundWork Store::BackgroundTimes::*> dbs[] = {
      {"log", &Store::BackgroundTimes::log}, {"index", &Store::BackgroundTimes::index}};
  for (const auto& [db, which] : dbs) {
    m.AddCounterFunction(
        "fedledger_store_background_runs_total",
        "LevelDB background work finished (memtable flushes and compactions), by database.",
        [raw, which] { return static_cast<double>((raw->store_->background_times().*which).runs); },
        {{"db", db}});
    const std::pair<const char*, uint64_t Store::BackgroundWork::*> clocks[] = {
        {"cpu", &Store::BackgroundWork::cpu_ns}, {"wall", &Store::BackgroundWork::wall_ns}};
    for (const auto& [clock, field] : clocks) {
      m.AddCounterFunction(
          "fedledger_store_background_seconds_total",
          "Time in LevelDB background work, by database: the thread's CPU time (clock=cpu) and "
          "wall time (clock=wall: the CPU time plus waits for a core and for the disk).",
          [raw, which, field] {
            return static_cast<double>((raw->store_->background_times().*which).*field) / 1e9;
          },
          {{"db", db}, {"clock", clock}});
    }
  }
  m.AddGaugeFunction("fedledger_event_queue", "Tasks waiting for the consensus thread.",
                     [raw] { return static_cast<double>(raw->loop_.QueueLength()); });

  net::HttpServerOptions ho;
  ho.address = config.http_listen.host;
  ho.port = config.http_listen.port;
  ho.threads = config.http_threads;
  ho.body_limit = config.http_body_limit;
  ho.body_limit_by_prefix = {{"/artifacts/", config.artifact_max_bytes}};
  ho.log = filtered;
  node->http_ = std::make_unique<net::HttpServer>(ho);
  ArtifactStoreOptions ao_artifacts;
  ao_artifacts.max_bytes = config.artifact_max_bytes;
  ao_artifacts.cache_bytes = config.artifact_cache_bytes;
  FL_ASSIGN(node->artifacts_, ArtifactStore::Open(config.data_dir + "/artifacts", ao_artifacts));
  RegisterApi(*node->http_, *node);
  node->m_height_->Set(static_cast<double>(node->store_->height()));
  node->cons_height_ = node->store_->height() + 1;
  return node;
}

void Node::SetFatalHandler(std::function<void(const Status&)> fn) { fatal_handler_ = std::move(fn); }

Status Node::Start() {
  loop_.Start();
  auto started = std::make_shared<std::promise<Status>>();
  auto fut = started->get_future();
  loop_.Post([this, started] {
    Status s = consensus_->Start(NowMs());
    outbox_->Flush();
    PublishState();
    started->set_value(s);
  });
  Status s = fut.get();
  if (!s.ok()) {
    loop_.Stop();
    return s.WithContext("starting consensus");
  }
  loop_.PostAfter(std::chrono::seconds(10), [this] { SweepSubmitTimes(); });
  Status ns = network_->Start();
  if (!ns.ok()) {
    loop_.Stop();
    return ns.WithContext("starting the peer network on " + config_.p2p_listen.ToString());
  }
  Status hs = http_->Start();
  if (!hs.ok()) {
    network_->Stop();
    loop_.Stop();
    return hs.WithContext("starting the HTTP API on " + config_.http_listen.ToString());
  }
  started_ = true;
  BlockRecord head = store_->head();
  Log(LogLevel::kInfo, "component=node event=started name=" + name_ + " key=" +
                           key_.pubkey().Hex() + " chain=" + store_->chain_id() +
                           " height=" + std::to_string(head.header.height) +
                           " log_size=" + std::to_string(head.header.log_size) +
                           " p2p=" + config_.p2p_listen.host + ":" + std::to_string(p2p_port()) +
                           " http=" + config_.http_listen.host + ":" + std::to_string(http_port()) +
                           " peers=" + std::to_string(config_.peers.size()));
  return Status::Ok();
}

void Node::Stop() {
  if (stopped_.exchange(true)) return;
  if (http_) http_->Stop();
  if (network_) network_->Stop();
  loop_.Stop();
  // The loop has stopped: its state is ours now. Tell anyone still waiting.
  SubmitOutcome o;
  o.kind = SubmitOutcome::Kind::kStopped;
  o.reason = "the node is stopping";
  for (auto& [leaf, ws] : waiters_) {
    for (Waiter& w : ws) w.done(o);
  }
  waiters_.clear();
  for (Incoming& in : incoming_.Close()) in.done(o);
  if (started_) {
    Log(LogLevel::kInfo, "component=node event=stopped height=" + std::to_string(store_->height()));
  }
}

uint16_t Node::http_port() const { return http_ ? http_->port() : 0; }
uint16_t Node::p2p_port() const { return network_ ? network_->listen_port() : 0; }

void Node::Drive(const char* what, const Status& s) {
  // Submissions waiting for their batch leave right after our precommit, in one ENTRY_BATCH
  // per height instead of a signed frame every few milliseconds. The precommit goes first,
  // in a frame of its own: the height ends as soon as a quorum of precommits is in, while
  // the batch checks (ours here, the peers' on their transport threads) overlap the commit's
  // disk writes. The next proposer still gets the entries into its block: it handles what
  // arrived during its commit before it proposes (ConsensusOptions::propose_after_pending).
  bool precommitted =
      outbox_->precommit_queued() || std::exchange(outbox_->precommit_sent_early, false);
  outbox_->Flush();
  if (s.ok() && !fatal_ && precommitted) DrainIncoming();
  if (!phases_.start &&
      (!consensus_->mempool().empty() || consensus_->step() != consensus::Step::kPropose)) {
    phases_.start = Steady::now();  // this height has work: its time starts counting
  }
  PublishState();
  if (s.ok() || fatal_) return;
  fatal_ = true;
  Log(LogLevel::kError, std::string("component=node event=fatal during=") + what +
                            " reason=" + LogQuote(s.ToString()));
  if (fatal_handler_) fatal_handler_(s);
}

void Node::PublishState() {
  cons_height_.store(consensus_->height(), std::memory_order_relaxed);
  cons_round_.store(consensus_->round(), std::memory_order_relaxed);
  cons_step_.store(static_cast<int>(consensus_->step()), std::memory_order_relaxed);
  mempool_size_.store(consensus_->mempool().size(), std::memory_order_relaxed);
  m_round_->Set(consensus_->round());
  m_mempool_->Set(static_cast<double>(consensus_->mempool().size()));
  const auto& st = consensus_->stats();
  stat_timeouts_.store(st.timeouts, std::memory_order_relaxed);
  stat_synced_.store(st.synced_blocks, std::memory_order_relaxed);
  stat_rounds_.store(st.rounds_started, std::memory_order_relaxed);
  stat_equivocations_.store(st.equivocations, std::memory_order_relaxed);
  sig_admission_.store(consensus_->mempool().signature_checks(), std::memory_order_relaxed);
  sig_block_.store(st.block_signature_checks, std::memory_order_relaxed);
}

void Node::OnPeerMessage(const PubKey& from, Bytes payload, bool self_signed) {
  // Decoding is pure: do it on the io thread, keep the consensus thread for the rules.
  auto m = consensus::DecodeMessage(payload);
  if (!m.ok()) {
    stat_rejected_msgs_.fetch_add(1, std::memory_order_relaxed);
    Log(LogLevel::kWarn, "component=node event=undecodable_message peer=" + names_.Name(from) +
                             " reason=" + LogQuote(m.status().message()));
    return;
  }
  if (self_signed) {
    // No frame signature vouches for this message: it must be the sender's own vote,
    // proposal or entry batch, whose signature is verified before it is used (by the state
    // machine for every vote and proposal, whoever relays it; below for entry batches).
    std::string why = consensus::SelfSignedProblem(store_->validators(), from, *m);
    if (!why.empty()) {
      stat_rejected_msgs_.fetch_add(1, std::memory_order_relaxed);
      Log(LogLevel::kWarn, "component=node event=unsigned_message_refused peer=" +
                               names_.Name(from) + " reason=" + LogQuote(why));
      return;
    }
  }
  // So is an entry signature check: the consensus thread is the one every height waits on.
  // Each validator still verifies every entry it admits (consensus/application.h); the
  // state machine only skips the entries verified here. The batch is checked as one (BIP-340
  // batch verification), each entry on its own only if that fails, and with them the
  // batch's own signature: by the peer, over these entries and hints, or nothing is used.
  if (auto* batch = std::get_if<consensus::EntryBatch>(&*m)) {
    std::string why;
    if (batch->sender != from) {
      why = "signed by " + names_.Name(batch->sender) + ", not by the peer that sent it";
    } else {
      const Hash32 digest = batch->Digest(store_->chain_id());
      std::vector<SignatureCheck> checks;
      checks.reserve(batch->entries.size() + 1);
      for (size_t i = 0; i < batch->entries.size(); ++i) {
        checks.push_back(batch->entries[i].signature_check());
        if (!batch->r_ys.empty() && !batch->r_ys[i].IsZero()) checks.back().r_y = &batch->r_ys[i];
      }
      checks.push_back(SignatureCheck{&batch->sender, &digest, &batch->sig});
      batch->signature_verified = VerifySignatures(checks);
      if (!batch->signature_verified.back()) why = "its signature does not verify";
      batch->signature_verified.pop_back();
      sig_peer_batch_.fetch_add(checks.size() - 1, std::memory_order_relaxed);
    }
    if (!why.empty()) {
      stat_rejected_msgs_.fetch_add(1, std::memory_order_relaxed);
      Log(LogLevel::kWarn, "component=node event=entry_batch_refused peer=" + names_.Name(from) +
                               " entries=" + std::to_string(batch->entries.size()) +
                               " reason=" + LogQuote(why));
      return;
    }
  }
  auto msg = std::make_shared<consensus::Message>(std::move(m).value());
  loop_.Post([this, from, msg] {
    if (fatal_) return;
    Drive("message", consensus_->OnMessage(from, *msg, NowMs()));
  });
}

void Node::Submit(Entry entry, SubmitOptions options, SubmitCallback done) {
  // The signature is checked when the submissions are drained, all in one batch
  // (DrainIncoming). A client retrying after a timeout (or a lost answer) must learn that its entry is
  // committed, not be told its nonce is stale. Looked up here, on the caller's thread, so a
  // replayed committed entry costs the consensus thread nothing. The height is read before the
  // nonce: Commit updates both together, so a nonce still unused at height h means the entry
  // can only be in a block above h. No signature check is needed for that: a committed entry
  // is found by its leaf hash, which covers the signature.
  std::optional<uint64_t> unused_below;
  if (!stopped_ && entry.chain_id() == store_->chain_id()) {
    uint64_t height = store_->height();
    if (entry.nonce() > store_->LastNonce(entry.signer())) {
      unused_below = height + 1;
    } else if (AnswerIfCommitted(entry, 0, options.proof, done)) {
      return;
    }
  }
  auto pushed = incoming_.Push(
      Incoming{std::move(entry), options, std::move(done), Steady::now(),
               cons_height_.load(std::memory_order_relaxed), unused_below},
      mempool_size_.load(std::memory_order_relaxed) == 0);
  switch (pushed.wake) {
    case SubmissionQueue<Incoming>::Wake::kClosed: {
      SubmitOutcome o;
      o.kind = SubmitOutcome::Kind::kStopped;
      o.reason = "the node is stopping";
      if (pushed.refused->done) pushed.refused->done(o);
      return;
    }
    case SubmissionQueue<Incoming>::Wake::kNone:
      return;
    case SubmissionQueue<Incoming>::Wake::kNow:
      loop_.Post([this] { DrainIncoming(); });
      return;
    case SubmissionQueue<Incoming>::Wake::kTimer:
      // node/submission_queue.h says when submissions leave; usually right after our precommit.
      loop_.PostAfter(kSubmitBatchDelay, [this, generation = pushed.generation] {
        if (incoming_.TimerDue(generation)) DrainIncoming();
      });
      return;
  }
}

void Node::DrainIncoming() {
  std::vector<Incoming> batch = incoming_.Take();
  if (batch.empty()) return;
  if (fatal_) {
    SubmitOutcome o;
    o.kind = SubmitOutcome::Kind::kStopped;
    o.reason = "the node has stopped after a fatal error";
    for (Incoming& in : batch) in.done(o);
    return;
  }
  // Waiters are registered before the state machine sees the entries: with a quorum of one
  // (or a fast cluster) an entry can be committed inside the SubmitEntries call itself.
  std::vector<uint64_t> ids(batch.size(), 0);
  std::vector<bool> timed(batch.size(), false);
  for (size_t i = 0; i < batch.size(); ++i) {
    const Hash32& leaf = batch[i].entry.leaf_hash();
    timed[i] = submitted_at_.emplace(leaf, Submitted{batch[i].at, batch[i].deciding_height}).second;
    if (batch[i].options.wait) {
      ids[i] = next_waiter_id_++;
      waiters_[leaf].push_back(Waiter{ids[i], batch[i].done, batch[i].options.proof});
    }
  }
  // One SubmitEntries call for everything that arrived since the last drain: one ENTRY_BATCH
  // broadcast to the other validators instead of one message per entry. Their signatures are
  // checked here as one batch (BIP-340 batch verification: about half the cost of checking
  // each); admission checks again only those that fail, and refuses them with the reason.
  std::vector<Entry> entries;
  std::vector<SignatureCheck> checks;
  entries.reserve(batch.size());
  checks.reserve(batch.size());
  for (const Incoming& in : batch) {
    entries.push_back(in.entry);
    checks.push_back(in.entry.signature_check());
  }
  std::vector<Hash32> r_ys;
  std::vector<bool> verified = VerifySignatures(checks, &r_ys);
  sig_submit_.fetch_add(checks.size(), std::memory_order_relaxed);
  outbox_->hints.reserve(batch.size());
  for (size_t i = 0; i < batch.size(); ++i) {
    outbox_->hints.push_back({batch[i].entry.leaf_hash(), r_ys[i]});
  }
  auto results = consensus_->SubmitEntries(std::move(entries), NowMs(), verified);
  outbox_->hints.clear();
  if (!results.ok()) {
    Drive("submit", results.status());
    SubmitOutcome o;
    o.kind = SubmitOutcome::Kind::kStopped;
    o.reason = "internal error: " + results.status().message();
    for (Incoming& in : batch) {
      if (!in.options.wait) in.done(o);  // waiters are answered by Stop()
    }
    return;
  }
  outbox_->Flush();
  PublishState();
  for (size_t i = 0; i < batch.size(); ++i) {
    Incoming& in = batch[i];
    const consensus::AdmitResult& r = (*results)[i];
    const Hash32& leaf = in.entry.leaf_hash();
    // A duplicate of a pending entry that asked to wait joins the first submitter's wait.
    bool keep = r.ok() || (r.code == consensus::Admission::kDuplicate && in.options.wait);
    if (!keep) {
      if (timed[i]) submitted_at_.erase(leaf);
      if (ids[i]) RemoveWaiter(leaf, ids[i]);
      // The nonce was unused when Submit looked: a block committed since, maybe this entry.
      if (r.code == consensus::Admission::kStaleNonce && in.unused_nonce_below_height &&
          AnswerIfCommitted(in.entry, *in.unused_nonce_below_height, in.options.proof, in.done)) {
        continue;
      }
      m_submit_rejected_->Inc();
      SubmitOutcome o;
      o.kind = SubmitOutcome::Kind::kRejected;
      o.admission = r.code;
      o.reason = r.reason;
      o.leaf_hash = leaf;
      in.done(o);
      continue;
    }
    if (r.ok()) m_submit_accepted_->Inc();
    if (!in.options.wait) {
      SubmitOutcome o;
      o.kind = SubmitOutcome::Kind::kAccepted;
      o.leaf_hash = leaf;
      in.done(o);
      continue;
    }
    AddWaiterDeadline(in.at + in.options.timeout, leaf, ids[i]);
  }
}

bool Node::AnswerIfCommitted(const Entry& entry, uint64_t from_height, bool proof,
                             const SubmitCallback& done) const {
  auto index = store_->FindEntry(entry, from_height);
  if (!index.ok()) {
    Log(LogLevel::kWarn, "component=node event=lookup_failed leaf=" + entry.leaf_hash().Hex() +
                             " reason=" + LogQuote(index.status().message()));
    return false;
  }
  if (!*index) return false;
  auto height = store_->HeightOfEntry(**index);
  auto rec = height.ok() ? store_->GetBlockRecord(*height) : Result<BlockRecord>(height.status());
  if (!rec.ok()) {
    Log(LogLevel::kWarn, "component=node event=lookup_failed leaf=" + entry.leaf_hash().Hex() +
                             " reason=" + LogQuote(rec.status().message()));
    return false;
  }
  // What a waiter of the commit got (OnCommitted), without a latency: this node did not see
  // this submission through to its commit.
  SubmitOutcome o;
  o.kind = SubmitOutcome::Kind::kCommitted;
  o.leaf_hash = entry.leaf_hash();
  o.height = *height;
  o.index = **index;
  o.latency_ms = -1;
  if (proof) {
    auto doc = MakeInclusionProofDoc(*store_, o.index, rec->header.log_size);
    if (doc.ok()) {
      o.proof = std::move(doc).value();
    } else {
      o.reason = "committed, but the proof could not be built: " + doc.status().message();
    }
  }
  if (done) done(o);
  return true;
}

bool Node::RemoveWaiter(const Hash32& leaf, uint64_t id, SubmitCallback* done) {
  auto it = waiters_.find(leaf);
  if (it == waiters_.end()) return false;
  auto& ws = it->second;
  for (size_t i = 0; i < ws.size(); ++i) {
    if (ws[i].id != id) continue;
    if (done) *done = std::move(ws[i].done);
    ws.erase(ws.begin() + static_cast<long>(i));
    if (ws.empty()) waiters_.erase(it);
    return true;
  }
  return false;
}

void Node::ExpireWaiter(const Hash32& leaf, uint64_t id) {
  SubmitCallback done;
  if (!RemoveWaiter(leaf, id, &done)) return;  // answered already
  SubmitOutcome o;
  o.kind = SubmitOutcome::Kind::kTimeout;
  o.leaf_hash = leaf;
  o.reason = consensus_->mempool().Contains(leaf)
                 ? "not committed yet (still in the mempool)"
                 : "not committed and no longer in the mempool (dropped as invalid)";
  done(o);
}

void Node::AddWaiterDeadline(Steady::time_point when, const Hash32& leaf, uint64_t id) {
  waiter_deadlines_.push(WaiterDeadline{when, leaf, id});
  ArmWaiterSweep();
}

void Node::ArmWaiterSweep() {
  if (waiter_deadlines_.empty()) return;
  const Steady::time_point at = waiter_deadlines_.top().when + kWaiterSweepSlack;
  if (waiter_sweep_at_ && *waiter_sweep_at_ <= at) return;
  waiter_sweep_at_ = at;
  auto wait = std::chrono::ceil<std::chrono::milliseconds>(at - Steady::now());
  loop_.PostAfter(std::max(wait, std::chrono::milliseconds(0)), [this, at] { SweepWaiters(at); });
}

void Node::SweepWaiters(Steady::time_point at) {
  if (waiter_sweep_at_ != at) return;  // replaced by an earlier sweep
  waiter_sweep_at_.reset();
  const auto now = Steady::now();
  while (!waiter_deadlines_.empty() && waiter_deadlines_.top().when <= now) {
    WaiterDeadline d = waiter_deadlines_.top();
    waiter_deadlines_.pop();
    ExpireWaiter(d.leaf, d.id);
  }
  ArmWaiterSweep();
}

void Node::SweepSubmitTimes() {
  // Entries admitted here that never commit (dropped as invalid, or the cluster halted for
  // long) must not grow this map forever.
  auto cutoff = Steady::now() - std::chrono::minutes(10);
  for (auto it = submitted_at_.begin(); it != submitted_at_.end();) {
    if (it->second.at < cutoff && !consensus_->mempool().Contains(it->first)) {
      it = submitted_at_.erase(it);
    } else {
      ++it;
    }
  }
  loop_.PostAfter(std::chrono::seconds(10), [this] { SweepSubmitTimes(); });
}

void Node::OnEvicted(const Entry& entry, consensus::Admission code, const std::string& reason) {
  const Hash32& leaf = entry.leaf_hash();
  submitted_at_.erase(leaf);
  auto wt = waiters_.find(leaf);
  if (wt == waiters_.end()) return;
  SubmitOutcome o;
  o.kind = SubmitOutcome::Kind::kRejected;
  o.admission = code;
  o.reason = "dropped from the mempool: " + reason;
  o.leaf_hash = leaf;
  auto waiters = std::move(wt->second);
  waiters_.erase(wt);
  for (Waiter& w : waiters) w.done(o);
}

void Node::NoteOwnVote(VoteType type) {
  auto& stamp = type == VoteType::kPrevote ? phases_.prevote : phases_.precommit;
  if (!stamp) stamp = Steady::now();
}

void Node::OnCommitted(const Block& block, const Certificate& cert) {
  const BlockHeader& h = block.header;
  auto now = Steady::now();
  HeightPhases& ph = phases_;
  if (ph.start && ph.prevote && ph.precommit) {  // a height we voted through, not a synced one
    auto ns = [](Steady::time_point a, Steady::time_point b) {
      return static_cast<uint64_t>(std::max<int64_t>(
          0, std::chrono::duration_cast<std::chrono::nanoseconds>(b - a).count()));
    };
    ph.to_prevote_ns.fetch_add(ns(*ph.start, *ph.prevote), std::memory_order_relaxed);
    ph.to_precommit_ns.fetch_add(ns(*ph.prevote, *ph.precommit), std::memory_order_relaxed);
    ph.to_commit_ns.fetch_add(ns(*ph.precommit, now), std::memory_order_relaxed);
    ph.heights.fetch_add(1, std::memory_order_relaxed);
  }
  ph.prevote.reset();
  ph.precommit.reset();
  uint64_t first_index = h.log_size - h.entry_count;
  double max_latency_ms = 0;
  size_t local = 0;
  for (size_t i = 0; i < block.entries.size(); ++i) {
    const Hash32& leaf = block.entries[i].leaf_hash();
    double latency_ms = -1;
    auto st = submitted_at_.find(leaf);
    if (st != submitted_at_.end()) {
      latency_ms = std::chrono::duration<double, std::milli>(now - st->second.at).count();
      m_latency_->Observe(latency_ms / 1000.0);
      const uint64_t waited = h.height - std::min(h.height, st->second.deciding_height);
      m_heights_waited_[std::min<uint64_t>(waited, 3)]->Inc();
      max_latency_ms = std::max(max_latency_ms, latency_ms);
      ++local;
      submitted_at_.erase(st);
    }
    auto wt = waiters_.find(leaf);
    if (wt == waiters_.end()) continue;
    SubmitOutcome o;
    o.kind = SubmitOutcome::Kind::kCommitted;
    o.leaf_hash = leaf;
    o.height = h.height;
    o.index = first_index + i;
    o.latency_ms = latency_ms;
    bool want_proof = false;
    for (const Waiter& w : wt->second) want_proof |= w.proof;
    if (want_proof) {
      auto doc = MakeInclusionProofDoc(*store_, o.index, h.log_size);
      if (doc.ok()) {
        o.proof = std::move(doc).value();
      } else {
        o.reason = "committed, but the proof could not be built: " + doc.status().message();
      }
    }
    for (Waiter& w : wt->second) {
      if (w.proof || !o.proof) {
        w.done(o);
      } else {
        SubmitOutcome lean = o;
        lean.proof.reset();
        w.done(lean);
      }
    }
    waiters_.erase(wt);
  }
  {
    std::lock_guard<std::mutex> lock(listeners_mu_);
    for (const auto& fn : commit_listeners_) fn(block);
  }
  m_height_->Set(static_cast<double>(h.height));
  m_blocks_->Inc();
  m_entries_->Inc(static_cast<double>(block.entries.size()));
  m_block_entries_->Observe(static_cast<double>(block.entries.size()));
  Log(LogLevel::kInfo, "component=node event=commit height=" + std::to_string(h.height) +
                           " round=" + std::to_string(cert.round) +
                           " entries=" + std::to_string(block.entries.size()) +
                           " log_size=" + std::to_string(h.log_size) +
                           " proposer=" + names_.Name(h.proposer) +
                           " signatures=" + std::to_string(cert.sigs.size()) +
                           " local_entries=" + std::to_string(local) +
                           (local ? " max_latency_ms=" + std::to_string(static_cast<int64_t>(max_latency_ms)) : ""));
  ph.start.reset();  // the next one starts when there is work for it (Drive)
}

void Node::AddCommitListener(std::function<void(const Block& block)> fn) {
  std::lock_guard<std::mutex> lock(listeners_mu_);
  commit_listeners_.push_back(std::move(fn));
}

nlohmann::json Node::StatusJson() const {
  BlockRecord head = store_->head();
  nlohmann::json peers = nlohmann::json::array();
  for (const PeerConfig& p : config_.peers) {
    peers.push_back({{"name", names_.Name(p.key)},
                     {"key", p.key.Hex()},
                     {"address", p.address.ToString()},
                     {"connected", network_->IsConnected(p.key)}});
  }
  return {{"chain_id", store_->chain_id()},
          {"genesis_hash", store_->genesis_hash().Hex()},
          {"node", {{"name", name_}, {"key", key_.pubkey().Hex()}}},
          {"height", head.header.height},
          {"head_hash", head.hash.Hex()},
          {"head_time", FormatTimeMs(head.header.time_ms)},
          {"log_size", head.header.log_size},
          {"log_root", head.header.log_root.Hex()},
          {"consensus",
           {{"height", cons_height_.load()},
            {"round", cons_round_.load()},
            {"step", consensus::StepName(static_cast<consensus::Step>(cons_step_.load()))}}},
          {"mempool_entries", mempool_size_.load()},
          {"validators", store_->validators().size()},
          {"peers_connected", network_->ConnectedPeerCount()},
          {"peers", peers}};
}

std::string Node::MetricsText() const { return metrics_->Render(); }

}  // namespace fedledger::node
