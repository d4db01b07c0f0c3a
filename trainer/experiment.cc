#include "trainer/experiment.h"

#include <memory>

#include "trainer/federated.h"

namespace fedledger::trainer {
namespace {

struct Tracker {
  Selection best;
  bool any = false;
  std::vector<double> curve;
};

double Score(const TaskMetrics& m) { return m.macro_pr_auc.value_or(-1.0); }

void Offer(Tracker* t, const std::string& name, const std::vector<int>& hidden, float dropout,
           int epoch, TaskMetrics valid, TaskMetrics test, std::vector<float> preds) {
  t->curve.push_back(Score(valid));
  if (t->any && Score(valid) <= Score(t->best.valid)) return;
  t->any = true;
  t->best = Selection{name, hidden, dropout, epoch, std::move(valid), std::move(test),
                      std::move(preds), {}};
  t->best.valid_curve.clear();
}

// Labels of `rows` restricted to task columns [first, first + count).
std::vector<int8_t> Labels(const Dataset& d, const std::vector<size_t>& rows, size_t first,
                           size_t count) {
  std::vector<int8_t> out(rows.size() * count);
  for (size_t i = 0; i < rows.size(); ++i)
    for (size_t k = 0; k < count; ++k) out[i * count + k] = d.label(rows[i], first + k);
  return out;
}

std::vector<float> Columns(const std::vector<float>& p, size_t width, size_t first, size_t count) {
  std::vector<float> out(p.size() / width * count);
  for (size_t i = 0; i < p.size() / width; ++i)
    for (size_t k = 0; k < count; ++k) out[i * count + k] = p[i * width + first + k];
  return out;
}

// Merges partners into one data set with block-diagonal tasks "name/task".
struct Merged {
  Dataset data;
  FoldSplit split;
  std::vector<size_t> task_offset;                        // per partner
  std::vector<std::vector<size_t>> valid_rows, test_rows;  // per partner, merged indices
};

Merged Merge(const std::vector<PartnerInput>& partners) {
  Merged m;
  m.data.num_bits = partners[0].data->num_bits;
  for (const auto& p : partners) {
    m.task_offset.push_back(m.data.tasks.size());
    for (const auto& t : p.data->tasks) m.data.tasks.push_back(p.name + "/" + t);
  }
  const size_t total_tasks = m.data.tasks.size();
  for (size_t pi = 0; pi < partners.size(); ++pi) {
    const Dataset& d = *partners[pi].data;
    const size_t base = m.data.size();
    std::vector<int8_t> row(total_tasks);
    for (size_t i = 0; i < d.size(); ++i) {
      std::fill(row.begin(), row.end(), int8_t{-1});
      for (size_t k = 0; k < d.num_tasks(); ++k) row[m.task_offset[pi] + k] = d.label(i, k);
      Featurized f;
      auto b = d.bits(i);
      f.on_bits.assign(b.begin(), b.end());
      f.scaffold = d.scaffolds[i];
      m.data.Add(d.smiles[i], f, row, d.source_rows[i]);
    }
    const FoldSplit& s = partners[pi].split;
    std::vector<size_t> v, t;
    for (size_t i : s.train) m.split.train.push_back(base + i);
    for (size_t i : s.valid) v.push_back(base + i);
    for (size_t i : s.test) t.push_back(base + i);
    m.split.valid.insert(m.split.valid.end(), v.begin(), v.end());
    m.split.test.insert(m.split.test.end(), t.begin(), t.end());
    m.valid_rows.push_back(std::move(v));
    m.test_rows.push_back(std::move(t));
  }
  return m;
}

}  // namespace

const char* ModeName(Mode mode) {
  switch (mode) {
    case Mode::kAlone: return "alone";
    case Mode::kFederated: return "federated";
    case Mode::kCentral: return "central";
  }
  return "?";
}

Result<std::vector<Selection>> RunExperiment(Mode mode, const std::vector<PartnerInput>& partners,
                                             const Grid& grid, const ExperimentOptions& options) {
  if (partners.empty()) return Status::InvalidArgument("no partners");
  if (grid.hidden.empty() || grid.dropout.empty() || grid.epochs <= 0)
    return Status::InvalidArgument("empty hyper-parameter grid or no epochs");
  for (const auto& p : partners)
    if (p.data->num_bits != partners[0].data->num_bits)
      return Status::InvalidArgument("partners use different fingerprint sizes");
  const size_t np = partners.size();
  std::vector<Tracker> trackers(np);
  Merged merged;
  if (mode == Mode::kCentral) merged = Merge(partners);
  size_t point = 0;
  for (const auto& hidden : grid.hidden) {
    for (float dropout : grid.dropout) {
      ModelConfig cfg;
      cfg.input_bits = partners[0].data->num_bits;
      cfg.hidden = hidden;
      cfg.dropout = dropout;
      const Weights init = InitTrunk(cfg, options.train.seed);
      std::vector<std::vector<double>> curves(np);
      std::vector<Tracker> local(np);
      if (mode == Mode::kCentral) {
        cfg.num_tasks = merged.data.num_tasks();
        FL_ASSIGN(auto model, PartnerTrainer::Create(cfg, options.train, merged.data,
                                                     merged.split, init, options.train.seed));
        for (int e = 1; e <= grid.epochs; ++e) {
          FL_TRY(model->TrainLocal(1).status());
          FL_ASSIGN(std::vector<float> pv, model->model().Predict(merged.split.valid));
          FL_ASSIGN(std::vector<float> pt, model->model().Predict(merged.split.test));
          size_t v0 = 0, t0 = 0;
          for (size_t pi = 0; pi < np; ++pi) {
            const size_t nt = partners[pi].data->num_tasks(), off = merged.task_offset[pi];
            const size_t nv = merged.valid_rows[pi].size(), ntest = merged.test_rows[pi].size();
            std::vector<float> sv(pv.begin() + v0 * cfg.num_tasks, pv.begin() + (v0 + nv) * cfg.num_tasks);
            std::vector<float> st(pt.begin() + t0 * cfg.num_tasks, pt.begin() + (t0 + ntest) * cfg.num_tasks);
            auto pred_v = Columns(sv, cfg.num_tasks, off, nt);
            auto pred_t = Columns(st, cfg.num_tasks, off, nt);
            TaskMetrics mv = Evaluate(pred_v, Labels(merged.data, merged.valid_rows[pi], off, nt), nt);
            TaskMetrics mt = Evaluate(pred_t, Labels(merged.data, merged.test_rows[pi], off, nt), nt);
            Offer(&local[pi], partners[pi].name, hidden, dropout, e, mv, mt, pred_t);
            v0 += nv;
            t0 += ntest;
          }
          if (options.progress) options.progress(mode, point, e, grid.epochs);
        }
      } else {
        std::vector<std::unique_ptr<PartnerTrainer>> trainers;
        for (size_t pi = 0; pi < np; ++pi) {
          ModelConfig c = cfg;
          c.num_tasks = partners[pi].data->num_tasks();
          TrainOptions o = options.train;
          o.seed = options.train.seed * 1000 + pi;
          FL_ASSIGN(auto t, PartnerTrainer::Create(c, o, *partners[pi].data, partners[pi].split,
                                                   init, o.seed));
          trainers.push_back(std::move(t));
        }
        Weights global = init, average;
        std::vector<TrunkUpdate> updates(np);
        for (int e = 1; e <= grid.epochs; ++e) {
          if (mode == Mode::kAlone) {
            for (auto& t : trainers) FL_TRY(t->TrainLocal(1).status());
          } else {
            std::vector<const TrunkUpdate*> ptrs;
            for (size_t pi = 0; pi < np; ++pi) {
              FL_TRY(trainers[pi]->RunRound(global, grid.local_epochs, &updates[pi]));
              ptrs.push_back(&updates[pi]);
            }
            FL_TRY(FedAvg(ptrs, &average));
            FL_TRY(AddScaled(&global, average, 1.0f));
            for (auto& t : trainers) FL_TRY(t->model().ImportTrunk(global));
          }
          for (size_t pi = 0; pi < np; ++pi) {
            FL_ASSIGN(TaskMetrics mv, trainers[pi]->Evaluate(Fold::kValid));
            FL_ASSIGN(std::vector<float> pt, trainers[pi]->Predict(Fold::kTest));
            const auto& rows = trainers[pi]->rows(Fold::kTest);
            const size_t nt = partners[pi].data->num_tasks();
            TaskMetrics mt = Evaluate(pt, Labels(*partners[pi].data, rows, 0, nt), nt);
            Offer(&local[pi], partners[pi].name, hidden, dropout, e, mv, mt, std::move(pt));
          }
          if (options.progress) options.progress(mode, point, e, grid.epochs);
        }
      }
      for (size_t pi = 0; pi < np; ++pi) {
        local[pi].best.valid_curve = local[pi].curve;
        if (!trackers[pi].any || Score(local[pi].best.valid) > Score(trackers[pi].best.valid))
          trackers[pi] = local[pi];
        trackers[pi].any = true;
      }
      ++point;
    }
  }
  std::vector<Selection> out;
  for (auto& t : trackers) out.push_back(std::move(t.best));
  return out;
}

Result<Artifact> TrainAloneArtifact(const PartnerInput& partner, const std::vector<int>& hidden,
                                    float dropout, int epochs, const ExperimentOptions& options) {
  ModelConfig cfg;
  cfg.input_bits = partner.data->num_bits;
  cfg.hidden = hidden;
  cfg.dropout = dropout;
  cfg.num_tasks = partner.data->num_tasks();
  const Weights init = InitTrunk(cfg, options.train.seed);
  TrainOptions o = options.train;
  o.seed = options.train.seed * 1000;  // as partner 0 of RunExperiment
  FL_ASSIGN(auto t, PartnerTrainer::Create(cfg, o, *partner.data, partner.split, init, o.seed));
  FL_TRY(t->TrainLocal(epochs).status());
  Artifact a;
  a.weights = init;
  FL_TRY(t->model().ExportTrunk(&a.weights));
  for (Tensor& h : t->model().Head().tensors) a.weights.tensors.push_back(std::move(h));
  std::string hs, tasks;
  for (int h : hidden) hs += (hs.empty() ? "" : ",") + std::to_string(h);
  for (const auto& task : partner.data->tasks) tasks += (tasks.empty() ? "" : ",") + task;
  a.metadata = {{"kind", "model"},
                {"partner", partner.name},
                {"input_bits", std::to_string(cfg.input_bits)},
                {"fingerprint", "rdkit-morgan-r2-bitvect"},
                {"hidden", hs},
                {"dropout", std::to_string(dropout)},
                {"epochs", std::to_string(epochs)},
                {"seed", std::to_string(options.train.seed)},
                {"tasks", tasks}};
  return a;
}

}  // namespace fedledger::trainer
