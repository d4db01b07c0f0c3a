#include "sim.h"

#include <leveldb/env.h>
#include <leveldb/helpers/memenv.h>

#include <cstdlib>
#include <iostream>
#include <sstream>

#include "byzantine.h"

namespace fedledger::consensus::sim {

SimOptions::SimOptions() {
  consensus.timeouts.propose_ms = 60;
  consensus.timeouts.propose_delta_ms = 30;
  consensus.timeouts.prevote_ms = 40;
  consensus.timeouts.prevote_delta_ms = 20;
  consensus.timeouts.precommit_ms = 40;
  consensus.timeouts.precommit_delta_ms = 20;
  consensus.timeouts.max_ms = 4000;
  consensus.max_block_entries = 6;
  consensus.max_sync_blocks = 4;
}

const char* ByzantineName(Byzantine b) {
  switch (b) {
    case Byzantine::kNone:
      return "honest";
    case Byzantine::kEquivocatingProposer:
      return "equivocating-proposer";
    case Byzantine::kDoubleVoter:
      return "double-voter";
    case Byzantine::kBadSignatures:
      return "bad-signatures";
    case Byzantine::kWrongHeights:
      return "wrong-heights";
    case Byzantine::kFlooder:
      return "flooder";
  }
  return "?";
}

// ---- SimNode ----

SimNode::SimNode(Simulation* sim, size_t index, const SecretKey& key)
    : sim_(sim), index_(index), key_(key), env_(leveldb::NewMemEnv(leveldb::Env::Default())) {}

SimNode::~SimNode() { Crash(); }

Status SimNode::Boot() {
  StoreOptions so;
  so.env = env_.get();
  so.verify_signatures_on_commit = false;
  so.block_cache_bytes = 1 << 20;
  std::string path = "/sim/node" + std::to_string(index_);
  if (!created_) {
    FL_ASSIGN(store_, Store::Create(path, sim_->genesis(), so));
    created_ = true;
  } else {
    FL_ASSIGN(store_, Store::Open(path, so));
  }
  app_ = std::make_unique<LedgerApplication>(store_.get());
  FL_ASSIGN(signer_, Signer::Open(key_, &signer_storage_));
  Outbox* out = this;
  if (byzantine_ != Byzantine::kNone) {
    wrapper_ = MakeByzantineOutbox(byzantine_, this, sim_);
    out = wrapper_.get();
  }
  core_ = std::make_unique<Consensus>(sim_->options().consensus, app_.get(), signer_.get(), out);
  return core_->Start(sim_->now());
}

void SimNode::Crash(bool lose_power) {
  if (lose_power) signer_storage_.LosePower();
  ++epoch_;
  core_.reset();
  wrapper_.reset();
  signer_.reset();
  app_.reset();
  store_.reset();
}

void SimNode::SetByzantine(Byzantine b) { byzantine_ = b; }

void SimNode::SendBytes(size_t to, Bytes bytes) { sim_->Deliver(index_, to, std::move(bytes)); }

void SimNode::Send(const PubKey& to, const Message& m) {
  if (honest()) sim_->RecordSent(index_, m);
  int i = sim_->validators().IndexOf(to);
  if (i >= 0) SendBytes(static_cast<size_t>(i), EncodeMessage(m));
}

void SimNode::Broadcast(const Message& m) {
  if (honest()) sim_->RecordSent(index_, m);
  Bytes b = EncodeMessage(m);
  for (size_t i = 0; i < sim_->size(); ++i) {
    if (i != index_) SendBytes(i, b);
  }
}

void SimNode::SetTimer(const TimerRequest& t) {
  size_t idx = index_;
  uint64_t epoch = epoch_;
  Simulation* sim = sim_;
  sim_->At(t.delay_ms, [sim, idx, epoch, t] { sim->Timer(idx, epoch, t); });
}

void SimNode::Committed(const Block& block, const Certificate& cert) {
  if (honest()) sim_->RecordCommit(index_, block, cert);
}

void SimNode::Rejected(const PubKey& from, const std::string& reason) {
  static const bool log = std::getenv("FEDLEDGER_SIM_LOG") != nullptr;
  if (log) {
    std::cerr << "t=" << sim_->now() << " v" << index_ << " rejected from v"
              << sim_->validators().IndexOf(from) << ": " << reason << "\n";
  }
}

// ---- Simulation ----

Simulation::Simulation(SimOptions options)
    : options_(std::move(options)), rng_(options_.seed), loss_(options_.loss) {
  std::vector<Member> members;
  std::vector<SecretKey> keys;
  for (size_t i = 0; i < options_.validators; ++i) {
    keys.push_back(SecretKey::FromSeed("sim-validator-" + std::to_string(i)));
    members.push_back(Member{"v" + std::to_string(i), keys.back().pubkey()});
  }
  for (size_t i = 0; i < options_.clients; ++i) {
    client_keys_.push_back(SecretKey::FromSeed("sim-client-" + std::to_string(i)));
    client_nonces_.push_back(0);
  }
  validators_ = ValidatorSet(members);
  GenesisPayload g;
  g.genesis_time_ms = 1;
  g.validators = members;
  EntryBody body;
  body.chain_id = chain_id_;
  body.nonce = 1;
  body.timestamp_ms = 1;
  body.payload = g;
  auto ge = Entry::Sign(body, keys[0], /*deterministic=*/true);
  if (!ge.ok()) Fail("genesis entry: " + ge.status().ToString());
  auto gb = MakeGenesisBlock(*ge);
  if (!gb.ok()) Fail("genesis block: " + gb.status().ToString());
  genesis_ = *gb;
  for (size_t i = 0; i < options_.validators; ++i) {
    nodes_.push_back(std::make_unique<SimNode>(this, i, keys[i]));
  }
}

Simulation::~Simulation() { nodes_.clear(); }

void Simulation::Start() {
  for (auto& n : nodes_) {
    Status s = n->Boot();
    if (!s.ok()) Fail("boot node " + std::to_string(n->index()) + ": " + s.ToString());
  }
}

void Simulation::At(uint64_t delay_ms, std::function<void()> fn) {
  events_.push(Event{now_ + delay_ms, seq_++, std::move(fn)});
}

bool Simulation::RunUntil(const std::function<bool()>& done, uint64_t until_ms) {
  while (!done() && failures_.empty()) {
    if (events_.empty() || events_.top().time > until_ms) {
      now_ = std::max(now_, until_ms);
      return done();
    }
    Event e = events_.top();
    events_.pop();
    now_ = e.time;
    e.fn();
  }
  return done() && failures_.empty();
}

void Simulation::Deliver(size_t from, size_t to, Bytes bytes) {
  if (!Reachable(from, to)) return;
  if (loss_ > 0 && std::uniform_real_distribution<double>(0, 1)(rng_) < loss_) return;
  uint64_t delay =
      std::uniform_int_distribution<uint64_t>(options_.min_delay_ms, options_.max_delay_ms)(rng_);
  At(delay, [this, from, to, b = std::move(bytes)] {
    SimNode& n = *nodes_[to];
    if (!n.up() || !Reachable(from, to)) return;
    auto m = DecodeMessage(b);
    if (!m.ok()) {  // garbage from a Byzantine node: dropped as the adapter would
      ++undecodable_;
      return;
    }
    Status s = n.core()->OnMessage(nodes_[from]->key().pubkey(), *m, now_);
    if (!s.ok() && n.honest()) Fail("node " + std::to_string(to) + ": " + s.ToString());
  });
}

void Simulation::Timer(size_t node, uint64_t epoch, TimerRequest t) {
  SimNode& n = *nodes_[node];
  if (!n.up() || n.epoch() != epoch) return;
  Status s = n.core()->OnTimeout(t, now_);
  if (!s.ok() && n.honest()) Fail("node " + std::to_string(node) + ": " + s.ToString());
}

void Simulation::SetLoad(bool on) {
  load_on_ = on;
  if (on && !load_scheduled_) {
    load_scheduled_ = true;
    At(options_.load_interval_ms, [this] { LoadTick(); });
  }
}

Entry Simulation::MakeEntry() {
  size_t c = std::uniform_int_distribution<size_t>(0, client_keys_.size() - 1)(rng_);
  uint64_t nonce = ++client_nonces_[c];
  // Entries depend only on (client, nonce), so they are signed once per process and reused
  // by every schedule: the schedules' CPU goes to the validators, not to the clients.
  static std::map<std::pair<std::string, uint64_t>, Entry> cache;
  auto key = std::make_pair(client_keys_[c].pubkey().Hex(), nonce);
  auto it = cache.find(key);
  if (it != cache.end()) return it->second;
  DatasetRegisterPayload p;
  p.dataset_id = "ds-" + std::to_string(c) + "-" + std::to_string(nonce);
  p.content_hash = Sha256(p.dataset_id);
  p.rows = nonce;
  p.schema = "smiles,label";
  EntryBody body;
  body.chain_id = chain_id_;
  body.nonce = nonce;
  body.timestamp_ms = 1000 + nonce;
  body.payload = p;
  auto e = Entry::Sign(body, client_keys_[c], /*deterministic=*/true);
  if (!e.ok()) Fail("signing a client entry: " + e.status().ToString());
  cache.emplace(key, *e);
  return *e;
}

void Simulation::LoadTick() {
  load_scheduled_ = false;
  if (!load_on_) return;
  std::vector<size_t> up;
  for (auto& n : nodes_) {
    if (n->up()) up.push_back(n->index());
  }
  if (!up.empty()) {
    size_t target = up[std::uniform_int_distribution<size_t>(0, up.size() - 1)(rng_)];
    std::vector<Entry> batch;
    for (size_t i = 0; i < options_.load_batch; ++i) batch.push_back(MakeEntry());
    submitted_ += batch.size();
    auto r = nodes_[target]->core()->SubmitEntries(std::move(batch), now_);
    if (!r.ok() && nodes_[target]->honest()) {
      Fail("submit to node " + std::to_string(target) + ": " + r.status().ToString());
    }
  }
  load_scheduled_ = true;
  At(options_.load_interval_ms, [this] { LoadTick(); });
}

void Simulation::RecordCommit(size_t node, const Block& block, const Certificate& cert) {
  uint64_t h = block.header.height;
  Hash32 hash = block.header.Hash();
  Status s = cert.Verify(validators_, chain_id_, h, hash);
  if (!s.ok())
    Fail("node " + std::to_string(node) + " committed block " + std::to_string(h) +
         " with a bad certificate: " + s.ToString());
  auto [it, inserted] = decided_.emplace(h, hash);
  if (!inserted && it->second != hash) {
    Fail("SAFETY: node " + std::to_string(node) + " committed " + hash.ShortHex() + " at height " +
         std::to_string(h) + " but another honest node committed " + it->second.ShortHex());
  }
}

void Simulation::RecordSent(size_t node, const Message& m) {
  const Vote* v = std::get_if<Vote>(&m);
  if (!v) return;
  auto key = std::make_tuple(node, v->height, v->round, static_cast<int>(v->type));
  auto [it, inserted] = sent_votes_.emplace(key, v->block_hash);
  if (!inserted && it->second != v->block_hash) {
    Fail("SAFETY: node " + std::to_string(node) + " signed two different votes at height " +
         std::to_string(v->height) + " round " + std::to_string(v->round));
  }
}

void Simulation::Fail(const std::string& what) { failures_.push_back(what); }

uint64_t Simulation::MinHonestHeight(bool only_up) const {
  uint64_t h = UINT64_MAX;
  for (const auto& n : nodes_) {
    if (!n->honest() || (only_up && !n->up())) continue;
    h = std::min(h, n->store_height());
  }
  return h == UINT64_MAX ? 0 : h;
}

void Simulation::CheckStoresAgree() {
  uint64_t common = MinHonestHeight();
  for (uint64_t h = 1; h <= common; ++h) {
    std::optional<Hash32> first;
    for (auto& n : nodes_) {
      if (!n->honest() || !n->up()) continue;
      auto rec = n->store()->GetBlockRecord(h);
      if (!rec.ok()) {
        Fail("node " + std::to_string(n->index()) + " lacks block " + std::to_string(h));
        return;
      }
      // The certificate was verified when the block was committed (RecordCommit).
      if (!rec->cert || rec->cert->block_hash != rec->hash) {
        Fail("node " + std::to_string(n->index()) + " stored block " + std::to_string(h) +
             " without its certificate");
      }
      if (first && *first != rec->hash) {
        Fail("SAFETY: stores disagree at height " + std::to_string(h));
      }
      first = rec->hash;
    }
  }
}

std::string Simulation::Describe() const {
  std::ostringstream os;
  os << "t=" << now_ << "ms submitted=" << submitted_;
  for (const auto& n : nodes_) {
    os << " | v" << n->index()
       << (n->honest() ? "" : std::string("(") + ByzantineName(n->byzantine()) + ")");
    if (!n->up()) {
      os << " down";
      continue;
    }
    os << " h=" << n->core()->height() << " r=" << n->core()->round()
       << " s=" << StepName(n->core()->step()) << " mp=" << n->core()->mempool().size()
       << " to=" << n->core()->stats().timeouts << " sync=" << n->core()->stats().synced_blocks;
  }
  for (const auto& f : failures_) os << "\n  FAILURE: " << f;
  return os.str();
}

}  // namespace fedledger::consensus::sim
