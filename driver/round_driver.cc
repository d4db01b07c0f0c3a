#include "driver/round_driver.h"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <sys/stat.h>

#include "driver/data_gate.h"
#include "driver/row_set.h"
#include "driver/settings.h"
#include "ledger/thread_name.h"
#include "orchestrator/secagg.h"
#include "trainer/artifact.h"
#include "trainer/federated.h"
#include "trainer/model.h"
#include "trainer/split.h"

namespace fedledger::driver {

using orchestrator::FederationState;
using orchestrator::RoundProgress;
using orchestrator::SecAggArtifact;
using orchestrator::TaskRecord;
using orchestrator::TaskStatus;
using json = nlohmann::json;
using Clock = std::chrono::steady_clock;

namespace {

double MsSince(Clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
}

void FlattenInto(const trainer::Weights& w, std::vector<float>* out) {
  out->resize(w.numel());
  size_t o = 0;
  for (const auto& t : w.tensors) {
    std::copy(t.data.begin(), t.data.end(), out->begin() + static_cast<ptrdiff_t>(o));
    o += t.data.size();
  }
}

using SharedBytes = std::shared_ptr<const std::string>;

trainer::ModelConfig ConfigFor(const TaskSettings& s) {
  trainer::ModelConfig c;
  c.input_bits = s.bits;
  c.hidden = s.hidden;
  c.dropout = s.dropout;
  return c;
}

// The federated trunk as a file: every participant and the aggregator encode the same trunk
// to the same bytes, so TASK_COMPLETE's final_trunk_hash can be checked by all of them.
Result<SharedBytes> TrunkArtifact(const trainer::Weights& trunk, const TaskSpec& spec,
                            uint32_t rounds) {
  trainer::Artifact a;
  a.metadata = {{"kind", "federated-trunk"},
                {"task_id", spec.task_id},
                {"spec_hash", spec.Hash().Hex()},
                {"rounds", std::to_string(rounds)}};
  a.weights = trunk;
  FL_ASSIGN(Bytes bytes, trainer::EncodeArtifact(a));
  return std::make_shared<const std::string>(AsStringView(bytes));
}

json MetricsJson(const trainer::TaskMetrics& m) {
  json j = json::object();
  j["pr_auc"] = m.macro_pr_auc ? json(*m.macro_pr_auc) : json(nullptr);
  j["roc_auc"] = m.macro_roc_auc ? json(*m.macro_roc_auc) : json(nullptr);
  j["defined_tasks"] = m.defined_tasks;
  return j;
}

Status MakeDirs(const std::string& path) {
  std::string cur;
  for (size_t i = 0; i <= path.size(); ++i) {
    if (i == path.size() || path[i] == '/') {
      if (!cur.empty() && ::mkdir(cur.c_str(), 0700) != 0 && errno != EEXIST) {
        return Status::IOError("cannot create " + cur + ": " + std::strerror(errno));
      }
    }
    if (i < path.size()) cur += path[i];
  }
  return Status::Ok();
}

// What one pass needs of the committed state, copied out under the read lock.
struct TaskView {
  bool found = false;
  TaskRecord task;
  TaskStatus status = TaskStatus::kProposed;
  std::string chain_id;
  std::optional<orchestrator::DatasetRecord> my_dataset;
  Result<orchestrator::FixedPoint> fixed_point = Status::Internal("unset");
};

TaskView ReadTask(DriverHost& host, const std::string& id, const PubKey* partner) {
  TaskView v;
  host.Read([&](const FederationState& s) {
    const TaskRecord* t = s.FindTask(id);
    if (t == nullptr) return;
    v.found = true;
    v.task = *t;
    v.status = s.StatusOf(*t);
    v.chain_id = s.chain_id();
    if (partner != nullptr) {
      if (const Participant* p = t->FindParticipant(*partner)) {
        if (const auto* d = s.FindDataset(*partner, p->dataset_id)) v.my_dataset = *d;
      }
    }
    v.fixed_point = orchestrator::FixedPointForTask(s, id);
  });
  return v;
}

}  // namespace

struct RoundDriver::PartnerTask {
  TaskSettings settings;
  std::unique_ptr<DataGate> gate;
  const trainer::Dataset* data = nullptr;
  trainer::FoldSplit split;
  std::unique_ptr<trainer::PartnerTrainer> trainer;
  trainer::Weights global;      // the global trunk after `applied_round` aggregates
  uint32_t applied_round = 0;
  uint32_t trained_round = 0;   // the round whose update is in `update`
  trainer::TrunkUpdate update;
  std::vector<float> flat_update;
  std::vector<float> compact_update;  // flat_update's rows that travel (row_set.h)
  RowSet rows;
  uint32_t access_submitted = 0;  // the round whose DATA_ACCESS went out early (step 1)
  Clock::time_point access_submitted_at;
  std::map<std::pair<uint32_t, uint32_t>, Hash32> sent;  // (round, attempt) -> update sent
  Hash32 masked_hash;           // the last masked update committed, kept for sending
  SharedBytes masked_bytes;
  orchestrator::SecAggArtifact masked;  // its words are reused from round to round
  bool done = false;            // report written, nothing more to do
  std::string failed;           // a permanent error: the task is left alone
  json report;
  json round_timing = json::object();  // the round in progress
  int best_round = 0;
  double best_valid = -1;
};

struct RoundDriver::AggregatorTask {
  TaskSettings settings;
  trainer::Weights global;
  RowSet rows;
  uint32_t applied_round = 0;
  // The attempt in progress: its members' updates summed as they arrive. Replaced when the
  // round or the attempt changes (a restarted attempt has other members and other masks).
  std::optional<orchestrator::AggregateBuilder> sum;
  double sum_ms = 0;  // time spent adding the attempt's updates
  // The attempt's aggregate once stored, until ROUND_AGGREGATE commits (a failed commit is
  // retried without summing again).
  struct Stored {
    uint32_t round = 0, attempt = 0;
    Hash32 hash;
    uint64_t total = 0;
    double aggregate_ms = 0;
  };
  std::optional<Stored> stored;
  std::string failed;
  bool done = false;
};

RoundDriver::RoundDriver(DriverHost* host, DriverOptions options)
    : host_(host), options_(std::move(options)) {}

RoundDriver::~RoundDriver() { Stop(); }

void RoundDriver::Log(const std::string& line) const {
  if (options_.log) options_.log("component=driver " + line);
}

void RoundDriver::Stop() {
  stop_ = true;
  std::lock_guard<std::mutex> lock(mu_);
  cv_.notify_all();
}

void RoundDriver::Wake() {
  std::lock_guard<std::mutex> lock(mu_);
  wake_ = true;
  cv_.notify_all();
}

bool RoundDriver::OnCommitted(const Block& block) {
  bool tasks = std::any_of(block.entries.begin(), block.entries.end(),
                           [](const Entry& e) { return e.kind() != EntryKind::kDatasetRegister; });
  if (!tasks && Idle()) return false;
  Wake();
  return true;
}

void RoundDriver::Run() {
  ScheduleThisThreadAsBatch();
  while (!stop_) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      wake_ = false;  // a Wake() from here on makes the wait below return at once
    }
    bool worked = Step();
    if (!worked) {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait_for(lock, options_.poll, [this] { return stop_.load() || wake_; });
    }
  }
}

nlohmann::json RoundDriver::Report(const std::string& task_id) const {
  auto it = partner_tasks_.find(task_id);
  if (it == partner_tasks_.end()) return nullptr;
  return it->second->report;
}

bool RoundDriver::Step() {
  std::vector<std::string> mine, aggregated;
  const PubKey* partner = options_.partner_key ? &options_.partner_key->pubkey() : nullptr;
  host_->Read([&](const FederationState& s) {
    for (const TaskRecord* t : s.Tasks()) {
      TaskStatus st = s.StatusOf(*t);
      bool live = st == TaskStatus::kActive || st == TaskStatus::kCompleted;
      if (partner && t->spec.HasParticipant(*partner) && (live || partner_tasks_.count(t->spec.task_id))) {
        mine.push_back(t->spec.task_id);
      }
      if (options_.node_signer && st == TaskStatus::kActive &&
          t->spec.aggregator == options_.node_signer->pubkey()) {
        aggregated.push_back(t->spec.task_id);
      }
    }
  });
  idle_.store(mine.empty() && aggregated.empty(), std::memory_order_relaxed);
  bool worked = false;
  for (const std::string& id : aggregated) {
    if (stop_) return worked;
    worked |= StepAggregator(id);
  }
  for (const std::string& id : mine) {
    if (stop_) return worked;
    worked |= StepPartner(id);
  }
  return worked;
}

// ---------------------------------------------------------------- partner side

bool RoundDriver::StepPartner(const std::string& id) {
  const SecretKey& key = *options_.partner_key;
  const PubKey& me = key.pubkey();
  auto& slot = partner_tasks_[id];
  if (!slot) slot = std::make_unique<PartnerTask>();
  PartnerTask& pt = *slot;
  if (pt.done || !pt.failed.empty()) return false;
  auto fail = [&](const std::string& why) {
    pt.failed = why;
    pt.report["error"] = why;
    Log("event=task-failed task=" + id + " error=\"" + why + "\"");
    return true;
  };
  TaskView v = ReadTask(*host_, id, &me);
  if (!v.found) return false;
  const TaskRecord& task = v.task;
  const TaskSpec& spec = task.spec;

  if (pt.report.is_null()) {
    // A task that ended before this driver started and whose report is on disk is history:
    // do not fetch its aggregates again at every start of the node.
    if (v.status != TaskStatus::kActive && !options_.work_dir.empty() &&
        std::ifstream(options_.work_dir + "/" + id + "/report.json").good()) {
      pt.done = true;
      return false;
    }
    auto settings = SettingsFromSpec(spec);
    if (!settings.ok()) return fail(settings.status().message());
    pt.settings = *settings;
    const Participant* p = task.FindParticipant(me);
    auto file = options_.datasets.find(p->dataset_id);
    if (file == options_.datasets.end()) {
      return fail("the spec lists dataset '" + p->dataset_id +
                  "' for this partner but [partner] datasets has no file for it");
    }
    if (!v.my_dataset) return fail("dataset '" + p->dataset_id + "' is not registered");
    trainer::LoadOptions lo;
    lo.featurize.bits = pt.settings.bits;
    pt.gate = std::make_unique<DataGate>(file->second, v.my_dataset->content_hash, lo);
    pt.global = trainer::InitTrunk(ConfigFor(pt.settings), pt.settings.seed);
    pt.rows = RowSet(pt.global, pt.settings.union_rows);
    pt.report = {{"task_id", id},
                 {"partner", me.Hex()},
                 {"dataset_id", p->dataset_id},
                 {"file", file->second},
                 {"spec_hash", task.spec_hash.Hex()},
                 {"rounds", json::array()}};
    Log("event=task-joined task=" + id + " dataset=" + p->dataset_id);
  }

  // 1. Apply every committed aggregate not applied yet, in order.
  for (const RoundProgress& r : task.rounds) {
    if (!r.aggregate || r.round <= pt.applied_round) continue;
    if (r.round != pt.applied_round + 1) return fail("aggregates out of order");
    // The next round opened when this aggregate committed: declare its data access now, so
    // that it commits while the aggregate travels (step 3 then finds it on the ledger; the
    // data is still opened only once the gate sees it committed).
    const RoundProgress* next = task.CurrentRound();
    if (v.status == TaskStatus::kActive && next != nullptr && next->round == r.round + 1 &&
        next->IsMember(me) && !next->accesses.count(me) && pt.access_submitted != next->round) {
      DataAccessPayload p{id, next->round, v.my_dataset->dataset_id, v.my_dataset->content_hash,
                          v.my_dataset->rows};
      Status sub = host_->Submit(key, p);
      if (sub.ok()) {
        pt.access_submitted = next->round;
        pt.access_submitted_at = Clock::now();
      } else {
        Log("event=submit-failed kind=DATA_ACCESS task=" + id + " round=" +
            std::to_string(next->round) + " error=\"" + sub.message() + "\"");
      }
    }
    auto t0 = Clock::now();
    const auto& agg = *r.aggregate;
    auto bytes = host_->GetArtifact(spec.aggregator, agg.aggregate_hash);
    if (!bytes.ok()) {
      Log("event=fetch-failed task=" + id + " round=" + std::to_string(r.round) + " error=\"" +
          bytes.status().message() + "\"");
      return false;  // retried on the next pass
    }
    auto a = orchestrator::SecAggArtifactView::Decode(AsView(**bytes));
    if (!a.ok()) return fail("aggregate of round " + std::to_string(r.round) + ": " + a.status().message());
    if (a->type != SecAggArtifact::Type::kAggregate || a->chain_id != v.chain_id ||
        a->task_id != id || a->round != r.round || a->author != spec.aggregator ||
        a->members != agg.contributors || a->samples != agg.total_samples ||
        !v.fixed_point.ok() || a->scale != v.fixed_point->scale()) {
      return fail("aggregate " + agg.aggregate_hash.ShortHex() + " of round " +
                  std::to_string(r.round) +
                  " does not match its ROUND_AGGREGATE (type, task, round, author, "
                  "contributors, samples or scale)");
    }
    const bool compact = pt.rows.CompactFor(agg.contributors);
    Status st = pt.rows.Apply(*a, compact, &pt.global);
    if (!st.ok()) return fail("aggregate of round " + std::to_string(r.round) + ": " + st.message());
    pt.rows.Learn(*a, compact, agg.contributors);
    pt.applied_round = r.round;
    double fetch_ms = MsSince(t0);
    json entry = {{"round", r.round},
                  {"attempts", r.attempt + 1},
                  {"contributed", std::find(agg.contributors.begin(), agg.contributors.end(), me) !=
                                      agg.contributors.end()},
                  {"ledger_round_ms", agg.time_ms - r.started_ms},
                  {"fetch_apply_ms", fetch_ms}};
    if (pt.round_timing.contains("round") && pt.round_timing["round"] == r.round) {
      for (auto& [k, val] : pt.round_timing.items()) {
        if (k != "round") entry[k] = val;
      }
    }
    if (pt.trainer) {
      auto e0 = Clock::now();
      st = pt.trainer->model().ImportTrunk(pt.global);
      if (!st.ok()) return fail(st.message());
      auto mv = pt.trainer->Evaluate(trainer::Fold::kValid);
      auto mt = pt.trainer->Evaluate(trainer::Fold::kTest);
      if (!mv.ok() || !mt.ok()) return fail("evaluation failed");
      entry["valid"] = MetricsJson(*mv);
      entry["test"] = MetricsJson(*mt);
      entry["eval_ms"] = MsSince(e0);
      double score = mv->macro_pr_auc.value_or(-1);
      if (score > pt.best_valid) {  // earliest on ties
        pt.best_valid = score;
        pt.best_round = static_cast<int>(r.round);
        pt.report["selected"] = {{"round", r.round}, {"valid", entry["valid"]}, {"test", entry["test"]}};
      }
    }
    pt.report["rounds"].push_back(entry);
    Log("event=aggregate-applied task=" + id + " round=" + std::to_string(r.round) +
        (entry.contains("valid") && !entry["valid"]["pr_auc"].is_null()
             ? " valid_pr_auc=" + std::to_string(entry["valid"]["pr_auc"].get<double>())
             : std::string()));
    return true;
  }

  // 2. Finished: check the final trunk against the ledger and write the report.
  if (v.status != TaskStatus::kActive) {
    if (v.status == TaskStatus::kCompleted && task.final_trunk_hash &&
        pt.applied_round == spec.rounds) {
      auto bytes = TrunkArtifact(pt.global, spec, spec.rounds);
      if (!bytes.ok()) return fail(bytes.status().message());
      Hash32 mine_hash = Sha256(std::string_view(**bytes));
      pt.report["final_trunk_hash"] = task.final_trunk_hash->Hex();
      pt.report["final_trunk_verified"] = mine_hash == *task.final_trunk_hash;
      if (mine_hash != *task.final_trunk_hash) {
        Log("event=final-trunk-mismatch task=" + id + " ledger=" + task.final_trunk_hash->Hex() +
            " ours=" + mine_hash.Hex());
      } else {
        // Keep the final model: the federated trunk (anyone's) and this partner's private head.
        (void)host_->StoreArtifact(*bytes);
      }
    }
    pt.report["status"] = orchestrator::TaskStatusName(v.status);
    pt.done = true;
    if (!options_.work_dir.empty()) {
      std::string dir = options_.work_dir + "/" + id;
      Status st = MakeDirs(dir);
      std::ofstream f(dir + "/report.json");
      f << pt.report.dump(2) << "\n";
      if (!st.ok() || !f) Log("event=report-failed task=" + id + " dir=" + dir);
    }
    Log(std::string("event=task-finished task=") + id + " status=" +
        orchestrator::TaskStatusName(v.status) + " best_round=" + std::to_string(pt.best_round));
    return true;
  }

  const RoundProgress* cur = task.CurrentRound();
  if (cur == nullptr || !cur->IsMember(me)) return false;
  if (pt.applied_round + 1 != cur->round) return false;  // an aggregate is still to be fetched
  const uint32_t round = cur->round;
  if (!pt.round_timing.contains("round") || pt.round_timing["round"] != round) {
    pt.round_timing = {{"round", round}};
  }

  // 3. Declare the data access for this round before touching the data.
  if (!cur->accesses.count(me)) {
    // Sent early (step 1) and not committed yet: wait for it (a commit wakes the driver);
    // after 10 s assume it was dropped and commit one here.
    if (pt.access_submitted == round && MsSince(pt.access_submitted_at) < 10000) return false;
    auto t0 = Clock::now();
    DataAccessPayload p{id, round, v.my_dataset->dataset_id, v.my_dataset->content_hash,
                        v.my_dataset->rows};
    auto h = host_->Commit(key, p);
    if (!h.ok()) {
      Log("event=commit-failed kind=DATA_ACCESS task=" + id + " round=" + std::to_string(round) +
          " error=\"" + h.status().message() + "\"");
      return false;
    }
    pt.round_timing["data_access_commit_ms"] = MsSince(t0);
    Log("event=data-access task=" + id + " round=" + std::to_string(round) +
        " height=" + std::to_string(*h));
    return true;
  }

  const auto key_ra = std::make_pair(round, cur->attempt);
  auto mine_update = cur->updates.find(me);
  // 4. Our update is committed for this attempt: make sure the aggregator has it (also after
  //    a restart of this node, from the local store, without training again).
  if (mine_update != cur->updates.end()) {
    if (pt.sent.count(key_ra)) return false;
    auto t0 = Clock::now();
    const Hash32& h = mine_update->second.update_hash;
    Status st;
    if (h == pt.masked_hash && pt.masked_bytes) {
      st = host_->PutArtifact(spec.aggregator, h, pt.masked_bytes);
    } else {  // after a restart: from the local store
      auto bytes = host_->GetArtifact(me, h);
      if (!bytes.ok()) return fail("our committed update " + h.ShortHex() + " is gone: " + bytes.status().message());
      st = host_->PutArtifact(spec.aggregator, h, *bytes);
    }
    if (!st.ok()) {
      Log("event=send-failed task=" + id + " round=" + std::to_string(round) + " error=\"" +
          st.message() + "\"");
      return false;
    }
    pt.sent[key_ra] = h;
    pt.round_timing["send_ms"] = MsSince(t0);
    Log("event=update-sent task=" + id + " round=" + std::to_string(round) +
        " attempt=" + std::to_string(cur->attempt) + " sha256=" + h.Hex());
    return true;
  }

  // 5. Train (once per round), through the gate.
  if (pt.trained_round != round) {
    auto data = pt.gate->Open(*host_, id, round, me);
    if (!data.ok()) {
      if (data.status().code() == Status::Code::kPermissionDenied) {
        Log("event=gate-closed task=" + id + " error=\"" + data.status().message() + "\"");
        return false;
      }
      return fail(data.status().message());
    }
    auto t0 = Clock::now();
    if (!pt.trainer) {
      pt.data = *data;
      pt.split = trainer::ScaffoldSplit(pt.data->scaffolds, pt.settings.valid_fraction,
                                        pt.settings.test_fraction, pt.settings.seed);
      trainer::ModelConfig cfg = ConfigFor(pt.settings);
      cfg.num_tasks = pt.data->num_tasks();
      trainer::TrainOptions to;
      to.learning_rate = pt.settings.lr;
      to.batch_size = pt.settings.batch_size;
      to.seed = pt.settings.seed * 1000;  // as `fedledger train local --seed S`
      auto t = trainer::PartnerTrainer::Create(cfg, to, *pt.data, pt.split, pt.global, to.seed);
      if (!t.ok()) return fail(t.status().message());
      pt.trainer = std::move(t).value();
      pt.report["compounds"] = pt.data->size();
      pt.report["tasks"] = pt.data->tasks;
      pt.report["split"] = {{"train", pt.split.train.size()},
                            {"valid", pt.split.valid.size()},
                            {"test", pt.split.test.size()}};
      pt.report["skipped_rows"] = pt.gate->load_report().skipped.size();
    }
    Status st = pt.trainer->RunRound(pt.global, pt.settings.local_epochs, &pt.update);
    if (!st.ok()) return fail(st.message());
    FlattenInto(pt.update.delta, &pt.flat_update);
    pt.trained_round = round;
    pt.round_timing["train_ms"] = MsSince(t0);
    pt.round_timing["train_loss"] = pt.update.mean_loss;
    Log("event=trained task=" + id + " round=" + std::to_string(round) +
        " samples=" + std::to_string(pt.update.num_samples) +
        " loss=" + std::to_string(pt.update.mean_loss));
    return true;
  }

  // 6. Mask for the current attempt, keep it here, commit MODEL_UPDATE.
  auto t0 = Clock::now();
  if (!v.fixed_point.ok()) return fail(v.fixed_point.status().message());
  orchestrator::MaskContext ctx{v.chain_id, id, round, cur->attempt, cur->members};
  const bool compact = pt.rows.CompactFor(cur->members);
  std::span<const float> values = pt.flat_update;
  if (compact) {
    Status st = pt.rows.Compact(pt.flat_update, &pt.compact_update);
    if (!st.ok()) return fail(st.message());
    values = pt.compact_update;
  }
  pt.round_timing["rows"] = compact ? pt.rows.rows() : pt.settings.bits;
  Status st = orchestrator::MaskUpdateInto(key, ctx, *v.fixed_point, values,
                                           pt.update.num_samples, &pt.masked);
  if (!st.ok()) return fail(st.message());
  auto bytes = std::make_shared<const std::string>(pt.masked.EncodeString());
  auto stored = host_->StoreArtifact(bytes);
  if (!stored.ok()) {
    Log("event=store-failed task=" + id + " error=\"" + stored.status().message() + "\"");
    return false;
  }
  const Hash32 h = *stored;
  pt.round_timing["mask_ms"] = MsSince(t0);
  auto t1 = Clock::now();
  ModelUpdatePayload p{id, round, h, pt.update.num_samples, bytes->size(), cur->attempt};
  auto height = host_->Commit(key, p);
  if (!height.ok()) {
    Log("event=commit-failed kind=MODEL_UPDATE task=" + id + " round=" + std::to_string(round) +
        " attempt=" + std::to_string(cur->attempt) + " error=\"" + height.status().message() + "\"");
    return false;  // e.g. wrong-attempt after a restart: the next pass re-masks
  }
  pt.round_timing["update_commit_ms"] = MsSince(t1);
  pt.round_timing["update_bytes"] = bytes->size();
  pt.masked_hash = h;
  pt.masked_bytes = std::move(bytes);
  Log("event=update-committed task=" + id + " round=" + std::to_string(round) + " attempt=" +
      std::to_string(cur->attempt) + " sha256=" + h.Hex() + " height=" + std::to_string(*height));
  return true;
}

// ---------------------------------------------------------------- aggregator side

bool RoundDriver::StepAggregator(const std::string& id) {
  const SecretKey& key = *options_.node_signer;
  auto& slot = aggregator_tasks_[id];
  if (!slot) slot = std::make_unique<AggregatorTask>();
  AggregatorTask& at = *slot;
  if (at.done || !at.failed.empty()) return false;
  auto fail = [&](const std::string& why) {
    at.failed = why;
    Log("event=aggregation-failed task=" + id + " error=\"" + why + "\"");
    return true;
  };
  TaskView v = ReadTask(*host_, id, nullptr);
  if (!v.found || v.status != TaskStatus::kActive) return false;
  const TaskRecord& task = v.task;
  const TaskSpec& spec = task.spec;
  if (at.global.tensors.empty()) {
    auto settings = SettingsFromSpec(spec);
    if (!settings.ok()) return fail(settings.status().message());
    at.settings = *settings;
    at.global = trainer::InitTrunk(ConfigFor(at.settings), at.settings.seed);
    at.rows = RowSet(at.global, at.settings.union_rows);
  }
  if (!v.fixed_point.ok()) return fail(v.fixed_point.status().message());

  // Follow the global trunk (for the final model's hash).
  for (const RoundProgress& r : task.rounds) {
    if (!r.aggregate || r.round <= at.applied_round) continue;
    auto bytes = host_->GetArtifact(key.pubkey(), r.aggregate->aggregate_hash);
    if (!bytes.ok()) return fail("our aggregate of round " + std::to_string(r.round) + ": " + bytes.status().message());
    auto a = orchestrator::SecAggArtifactView::Decode(AsView(**bytes));
    if (!a.ok()) return fail(a.status().message());
    const bool compact = at.rows.CompactFor(r.aggregate->contributors);
    Status st = at.rows.Apply(*a, compact, &at.global);
    if (!st.ok()) return fail(st.message());
    at.rows.Learn(*a, compact, r.aggregate->contributors);
    at.applied_round = r.round;
  }

  const RoundProgress* cur = task.CurrentRound();
  if (cur == nullptr) {
    // Every round aggregated: publish the final trunk and complete the task.
    auto bytes = TrunkArtifact(at.global, spec, spec.rounds);
    if (!bytes.ok()) return fail(bytes.status().message());
    auto stored = host_->StoreArtifact(*bytes);
    if (!stored.ok()) return fail(stored.status().message());
    const Hash32 h = *stored;
    auto height = host_->Commit(key, TaskCompletePayload{id, spec.rounds, h});
    if (!height.ok()) {
      Log("event=commit-failed kind=TASK_COMPLETE task=" + id + " error=\"" +
          height.status().message() + "\"");
      return false;
    }
    at.done = true;
    Log("event=task-complete task=" + id + " final_trunk=" + h.Hex() +
        " height=" + std::to_string(*height));
    return true;
  }

  // Sum the members' updates as they arrive: an artifact is here only once its MODEL_UPDATE
  // committed (the node refuses it before) and it was hashed on receipt. When the last one
  // arrives only its addition, the aggregate's header and its hash remain to be done.
  const std::string where = "task=" + id + " round=" + std::to_string(cur->round) +
                            " attempt=" + std::to_string(cur->attempt);
  if (!at.sum || at.sum->context().round != cur->round ||
      at.sum->context().attempt != cur->attempt) {
    if (at.sum && at.sum->added() > 0 && at.sum->context().round == cur->round) {
      // A restart: the old attempt's partial sum is dropped, never finished or sent.
      Log("event=partial-sum-dropped task=" + id + " round=" + std::to_string(cur->round) +
          " attempt=" + std::to_string(at.sum->context().attempt) +
          " added=" + std::to_string(at.sum->added()));
    }
    at.sum.reset();
    at.sum_ms = 0;
    orchestrator::MaskContext ctx{v.chain_id, id, cur->round, cur->attempt, cur->members};
    const size_t words = at.rows.Words(at.rows.CompactFor(cur->members));
    auto b = orchestrator::AggregateBuilder::Start(key.pubkey(), std::move(ctx),
                                                   v.fixed_point->scale(), words);
    if (!b.ok()) return fail(b.status().message());
    at.sum = std::move(b).value();
  }
  const auto t0 = Clock::now();
  bool worked = false;
  for (const PubKey& m : cur->members) {
    auto it = cur->updates.find(m);
    if (it == cur->updates.end() || at.sum->Has(m)) continue;  // (all Has() once finished)
    const auto& u = it->second;
    auto t_add = Clock::now();
    auto bytes = host_->GetArtifact(key.pubkey(), u.update_hash);
    if (!bytes.ok()) {
      if (bytes.status().code() == Status::Code::kNotFound) continue;  // not sent yet
      return fail(bytes.status().message());
    }
    auto a = orchestrator::SecAggArtifactView::Decode(AsView(**bytes));
    if (!a.ok()) return fail("update " + u.update_hash.ShortHex() + ": " + a.status().message());
    if (a->author != m || a->samples != u.sample_count || a->scale != v.fixed_point->scale() ||
        a->count != at.sum->words()) {
      return fail("update " + u.update_hash.ShortHex() + " by " + m.ShortHex() +
                  " does not match its MODEL_UPDATE (author, samples, scale or size)");
    }
    Status st = at.sum->Add(*a);
    if (!st.ok()) return fail("update " + u.update_hash.ShortHex() + ": " + st.message());
    at.sum_ms += MsSince(t_add);
    worked = true;
    Log("event=update-summed " + where + " author=" + m.ShortHex() + " added=" +
        std::to_string(at.sum->added()) + "/" + std::to_string(cur->members.size()));
  }

  std::vector<PubKey> missing;
  for (const PubKey& m : cur->members) {
    if (!cur->updates.count(m)) missing.push_back(m);
  }
  if (!missing.empty()) {
    uint64_t now = host_->NowMs();
    if (now < cur->attempt_started_ms + spec.round_timeout_ms + options_.restart_margin_ms) {
      return worked;
    }
    RoundRestartPayload p{id, cur->round, cur->attempt + 1, missing,
                          std::to_string(missing.size()) + " member(s) sent no MODEL_UPDATE within " +
                              std::to_string(spec.round_timeout_ms) + " ms"};
    auto height = host_->Commit(key, p);
    if (!height.ok()) {
      Log("event=commit-failed kind=ROUND_RESTART task=" + id + " error=\"" +
          height.status().message() + "\"");
      return worked;
    }
    Log("event=round-restart task=" + id + " round=" + std::to_string(cur->round) +
        " attempt=" + std::to_string(cur->attempt + 1) +
        " dropped=" + std::to_string(missing.size()) + " height=" + std::to_string(*height));
    return true;
  }

  // Every member delivered on the ledger and every artifact is summed: store the aggregate.
  if (!at.stored || at.stored->round != cur->round || at.stored->attempt != cur->attempt) {
    if (!at.sum->complete()) return worked;  // an artifact is still on its way
    AggregatorTask::Stored s{cur->round, cur->attempt, {}, 0, 0};
    for (const PubKey& m : cur->members) s.total += cur->updates.at(m).sample_count;
    auto agg = at.sum->Finish();
    if (!agg.ok()) return fail(agg.status().message());
    auto stored = host_->StoreArtifact(std::make_shared<const std::string>(std::move(agg).value()));
    if (!stored.ok()) return fail(stored.status().message());
    s.hash = *stored;
    s.aggregate_ms = MsSince(t0);
    at.stored = s;
  }
  const AggregatorTask::Stored s = *at.stored;
  auto t1 = Clock::now();
  auto height = host_->Commit(key, RoundAggregatePayload{id, cur->round, s.hash, cur->members, s.total});
  if (!height.ok()) {
    Log("event=commit-failed kind=ROUND_AGGREGATE task=" + id + " error=\"" +
        height.status().message() + "\"");
    return false;
  }
  Log("event=round-aggregated task=" + id + " round=" + std::to_string(cur->round) +
      " contributors=" + std::to_string(cur->members.size()) + " samples=" +
      std::to_string(s.total) + " aggregate_ms=" + std::to_string(s.aggregate_ms) +
      " sum_ms=" + std::to_string(at.sum_ms) +
      " commit_ms=" + std::to_string(MsSince(t1)) + " sha256=" + s.hash.Hex() +
      " height=" + std::to_string(*height));
  at.stored.reset();
  at.sum.reset();
  return true;
}

}  // namespace fedledger::driver
