#include "ledger/devchain.h"

#include <sys/stat.h>

#include <algorithm>
#include <thread>

namespace fedledger {

SecretKey DevValidatorKey(const std::string& seed, int i) {
  return SecretKey::FromSeed(seed + "/validator/" + std::to_string(i));
}
SecretKey DevPartnerKey(const std::string& seed, int i) {
  return SecretKey::FromSeed(seed + "/partner/" + std::to_string(i));
}
SecretKey DevOperatorKey(const std::string& seed) { return SecretKey::FromSeed(seed + "/operator"); }

Certificate DevCertificate(const std::string& chain_id, const BlockHeader& header,
                           const std::vector<SecretKey>& validator_keys) {
  Hash32 hash = header.Hash();
  Certificate c;
  c.height = header.height;
  c.round = 0;
  c.block_hash = hash;
  for (size_t i = 0; i < validator_keys.size(); ++i) {
    Vote v = PrecommitFor(chain_id, header.height, 0, hash, validator_keys[i].pubkey());
    c.sigs.push_back({static_cast<uint16_t>(i), validator_keys[i].Sign(v.Digest())});
  }
  return c;
}

namespace {

const char* const kPartnerNames[] = {"alice", "bob", "carol", "dave", "erin", "frank",
                                     "grace", "heidi", "ivan", "judy"};

std::string PartnerName(int i) {
  return i < 10 ? kPartnerNames[i] : "partner-" + std::to_string(i);
}

Hash32 FakeHash(const std::string& what) { return Sha256(what); }

// Produces the bodies of a plausible federation history, one at a time.
class Workload {
 public:
  Workload(const DevChainOptions& o, std::vector<SecretKey> partners, SecretKey op)
      : o_(o), partners_(std::move(partners)), operator_(std::move(op)) {
    for (size_t i = 0; i < partners_.size(); ++i) order_.push_back(i);
    std::sort(order_.begin(), order_.end(), [&](size_t a, size_t b) {
      return partners_[a].pubkey() < partners_[b].pubkey();
    });
  }

  // The next body and the index of its signer key (partners, then the operator last).
  std::pair<EntryBody, size_t> Next() {
    if (queue_.empty()) Refill();
    auto next = std::move(queue_.front());
    queue_.erase(queue_.begin());
    next.first.chain_id = o_.chain_id;
    next.first.timestamp_ms = (time_ += o_.entry_interval_ms);
    return next;
  }

 private:
  void Push(size_t signer, Payload p) {
    EntryBody b;
    b.payload = std::move(p);
    queue_.emplace_back(std::move(b), signer);
  }
  std::string Dataset(size_t p) const { return PartnerName(static_cast<int>(p)) + "-assays"; }
  Hash32 DatasetHash(size_t p) const { return FakeHash(o_.seed + "/dataset/" + Dataset(p)); }

  void Refill() {
    size_t op = partners_.size();
    if (!registered_) {
      registered_ = true;
      for (size_t p = 0; p < partners_.size(); ++p) {
        Push(p, DatasetRegisterPayload{Dataset(p), DatasetHash(p), 2000 + 611 * p,
                                       "smiles,NR-AR,NR-AhR,SR-ARE,SR-MMP",
                                       "in-house screening results"});
      }
      return;
    }
    ++task_;
    char id[32];
    std::snprintf(id, sizeof id, "task-%05llu", static_cast<unsigned long long>(task_));
    TaskSpec spec;
    spec.task_id = id;
    spec.title = "Multitask QSAR trunk, federation run " + std::to_string(task_);
    spec.description = "Shared trunk over ECFP4 (32768 bits), private heads per partner.";
    for (size_t p : order_) spec.participants.push_back({partners_[p].pubkey(), Dataset(p)});
    spec.aggregator = operator_.pubkey();
    spec.rounds = 3;
    spec.round_timeout_ms = 600000;
    spec.expires_at_ms = time_ + 86400000;
    spec.model = "melloddy-mlp";
    spec.settings = {{"dropout", "0.2"}, {"epochs_per_round", "2"}, {"hidden", "1024"},
                     {"learning_rate", "0.001"}, {"secure_aggregation", "true"}};
    Hash32 spec_hash = spec.Hash();
    size_t proposer = order_[task_ % order_.size()];
    Push(proposer, TaskProposePayload{spec});
    // Every fifth task is rejected by one partner; every seventh is revoked after round 1.
    bool rejected = task_ % 5 == 0;
    bool revoked = !rejected && task_ % 7 == 0;
    for (size_t i = 0; i < order_.size(); ++i) {
      size_t p = order_[i];
      if (rejected && i == order_.size() - 1) {
        Push(p, TaskRejectPayload{spec.task_id, spec_hash, "dataset under legal review"});
        return;
      }
      Push(p, TaskApprovePayload{spec.task_id, spec_hash});
    }
    for (uint32_t round = 1; round <= spec.rounds; ++round) {
      std::vector<PubKey> contributors;
      uint64_t total = 0;
      for (size_t p : order_) {
        uint64_t rows = 2000 + 611 * p;
        Push(p, DataAccessPayload{spec.task_id, round, Dataset(p), DatasetHash(p), rows});
        Hash32 update = FakeHash(spec.task_id + "/" + std::to_string(round) + "/" +
                                 std::to_string(p));
        Push(p, ModelUpdatePayload{spec.task_id, round, update, rows, 134217728 + 64});
        contributors.push_back(partners_[p].pubkey());
        total += rows;
      }
      Push(op, RoundAggregatePayload{spec.task_id, round,
                                     FakeHash(spec.task_id + "/agg/" + std::to_string(round)),
                                     contributors, total});
      if (revoked && round == 1) {
        Push(order_[0], TaskRevokePayload{spec.task_id, "withdrawn by the partner's board"});
        return;
      }
    }
    Push(op, TaskCompletePayload{spec.task_id, spec.rounds, FakeHash(spec.task_id + "/final")});
  }

  const DevChainOptions& o_;
  std::vector<SecretKey> partners_;
  SecretKey operator_;
  std::vector<size_t> order_;  // partner indexes sorted by public key
  std::vector<std::pair<EntryBody, size_t>> queue_;
  bool registered_ = false;
  uint64_t task_ = 0;
  uint64_t time_ = 0;

 public:
  void SetTime(uint64_t t) { time_ = t; }
};

Status WriteKey(const std::string& dir, const std::string& name, const SecretKey& key) {
  return SaveSecretKey(dir + "/" + name + ".key", key);
}

}  // namespace

Result<std::unique_ptr<Store>> SeedDevChain(const std::string& dir, const DevChainOptions& o,
                                            const std::function<void(uint64_t, uint64_t)>& progress) {
  if (o.validators < 1 || o.validators > 64) {
    return Status::InvalidArgument("--validators must be between 1 and 64");
  }
  if (o.partners < 1 || o.partners > 64) {
    return Status::InvalidArgument("--partners must be between 1 and 64");
  }
  if (o.block_entries < 1) return Status::InvalidArgument("--block-entries must be at least 1");
  FL_TRY(ValidateIdentifier("chain id", o.chain_id));

  std::vector<SecretKey> vkeys, pkeys;
  GenesisPayload g;
  g.genesis_time_ms = o.genesis_time_ms;
  for (int i = 0; i < o.validators; ++i) {
    vkeys.push_back(DevValidatorKey(o.seed, i));
    g.validators.push_back({"validator-" + std::to_string(i), vkeys.back().pubkey()});
  }
  for (int i = 0; i < o.partners; ++i) {
    pkeys.push_back(DevPartnerKey(o.seed, i));
    g.partners.push_back({PartnerName(i), pkeys.back().pubkey()});
  }
  SecretKey op = DevOperatorKey(o.seed);
  g.partners.push_back({"operator", op.pubkey()});

  if (!o.store.env) ::mkdir(dir.c_str(), 0755);  // an in-memory Env needs no directory
  EntryBody gb;
  gb.chain_id = o.chain_id;
  gb.nonce = 1;
  gb.timestamp_ms = o.genesis_time_ms;
  gb.payload = g;
  FL_ASSIGN(Entry genesis_entry, Entry::Sign(gb, op));
  FL_ASSIGN(Block genesis, MakeGenesisBlock(genesis_entry));
  FL_ASSIGN(auto store, Store::Create(dir + "/ledger", genesis, o.store));

  if (o.write_keys) {
    std::string kdir = dir + "/keys";
    ::mkdir(kdir.c_str(), 0700);
    for (int i = 0; i < o.validators; ++i) {
      FL_TRY(WriteKey(kdir, "validator-" + std::to_string(i), vkeys[i]));
    }
    for (int i = 0; i < o.partners; ++i) FL_TRY(WriteKey(kdir, PartnerName(i), pkeys[i]));
    FL_TRY(WriteKey(kdir, "operator", op));
  }

  std::vector<SecretKey> signers = pkeys;
  signers.push_back(op);
  std::vector<uint64_t> nonces(signers.size(), 0);
  nonces.back() = 1;  // the operator signed the genesis with nonce 1
  Workload work(o, pkeys, op);
  work.SetTime(o.genesis_time_ms);
  unsigned threads = o.threads ? o.threads : std::max(1u, std::thread::hardware_concurrency());

  uint64_t done = 0;
  while (done < o.entries) {
    uint64_t n = std::min<uint64_t>(o.block_entries, o.entries - done);
    std::vector<std::pair<EntryBody, size_t>> bodies;
    bodies.reserve(n);
    for (uint64_t i = 0; i < n; ++i) {
      auto [body, signer] = work.Next();
      body.nonce = ++nonces[signer];
      bodies.emplace_back(std::move(body), signer);
    }
    std::vector<std::optional<Entry>> signed_entries(n);
    std::vector<Status> errors(threads);
    std::vector<std::thread> pool;
    for (unsigned t = 0; t < threads; ++t) {
      pool.emplace_back([&, t] {
        for (uint64_t i = t; i < n; i += threads) {
          auto e = Entry::Sign(bodies[i].first, signers[bodies[i].second]);
          if (!e.ok()) {
            errors[t] = e.status();
            return;
          }
          signed_entries[i] = std::move(e).value();
        }
      });
    }
    for (auto& th : pool) th.join();
    for (const Status& s : errors) FL_TRY(s);
    Block block;
    for (auto& e : signed_entries) block.entries.push_back(std::move(*e));
    uint64_t time = block.entries.back().timestamp_ms();
    int proposer = static_cast<int>((store->height() + 1) % vkeys.size());
    block.header = store->NextHeader(block.entries, time, vkeys[proposer].pubkey());
    Certificate cert = DevCertificate(o.chain_id, block.header, vkeys);
    FL_TRY(store->Commit(block, cert));
    done += n;
    if (progress) progress(done, o.entries);
  }
  return store;
}

}  // namespace fedledger
