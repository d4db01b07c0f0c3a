#include "trainer/federated.h"

#include <algorithm>

namespace fedledger::trainer {

Result<std::unique_ptr<PartnerTrainer>> PartnerTrainer::Create(
    const ModelConfig& config, const TrainOptions& options, const Dataset& data, FoldSplit split,
    const Weights& initial_trunk, uint64_t head_seed) {
  if (split.train.empty()) return Status::InvalidArgument("partner has no training compounds");
  std::unique_ptr<PartnerTrainer> p(new PartnerTrainer());
  p->data_ = &data;
  p->split_ = std::move(split);
  FL_ASSIGN(p->model_, Model::Create(config, options, data, initial_trunk,
                                     InitHead(config, head_seed)));
  return p;
}

Status PartnerTrainer::RunRound(const Weights& global_trunk, int local_epochs,
                                TrunkUpdate* update) {
  if (local_epochs <= 0) return Status::InvalidArgument("local epochs must be positive");
  FL_TRY(model_->ImportTrunk(global_trunk));
  FL_ASSIGN(double loss, TrainLocal(local_epochs));
  FL_TRY(model_->TrunkDelta(global_trunk, &update->delta));
  update->num_samples = split_.train.size();
  update->mean_loss = loss;
  return Status::Ok();
}

Result<double> PartnerTrainer::TrainLocal(int epochs) {
  double loss = 0;
  for (int e = 0; e < epochs; ++e) {
    FL_ASSIGN(loss, model_->TrainEpoch(split_.train));
  }
  return loss;
}

const std::vector<size_t>& PartnerTrainer::rows(Fold fold) const {
  return fold == Fold::kTrain ? split_.train : fold == Fold::kValid ? split_.valid : split_.test;
}

Result<std::vector<float>> PartnerTrainer::Predict(Fold fold) const {
  return model_->Predict(rows(fold));
}

Result<TaskMetrics> PartnerTrainer::Evaluate(Fold fold) const {
  FL_ASSIGN(std::vector<float> p, Predict(fold));
  const auto& r = rows(fold);
  const size_t t = data_->num_tasks();
  std::vector<int8_t> labels(r.size() * t);
  for (size_t i = 0; i < r.size(); ++i)
    for (size_t k = 0; k < t; ++k) labels[i * t + k] = data_->label(r[i], k);
  return trainer::Evaluate(p, labels, t);
}

Status FedAvg(std::span<const TrunkUpdate* const> updates, Weights* average) {
  if (updates.empty()) return Status::InvalidArgument("FedAvg of no updates");
  double total = 0;
  for (const TrunkUpdate* u : updates) {
    FL_TRY(u->delta.CheckSameLayout(updates[0]->delta));
    total += static_cast<double>(u->num_samples);
  }
  if (total <= 0) return Status::InvalidArgument("FedAvg: every update has zero samples");
  if (!average->CheckSameLayout(updates[0]->delta).ok()) *average = ZerosLike(updates[0]->delta);
  // Accumulate in double, chunk by chunk, so FedAvg of identical updates returns the update.
  constexpr size_t kChunk = 4096;
  std::vector<double> acc(kChunk);
  for (size_t i = 0; i < average->tensors.size(); ++i) {
    std::vector<float>& out = average->tensors[i].data;
    for (size_t s = 0; s < out.size(); s += kChunk) {
      const size_t n = std::min(kChunk, out.size() - s);
      std::fill(acc.begin(), acc.begin() + n, 0.0);
      for (const TrunkUpdate* u : updates) {
        const double w = static_cast<double>(u->num_samples) / total;
        const float* d = u->delta.tensors[i].data.data() + s;
        for (size_t k = 0; k < n; ++k) acc[k] += w * d[k];
      }
      for (size_t k = 0; k < n; ++k) out[s + k] = static_cast<float>(acc[k]);
    }
  }
  return Status::Ok();
}

}  // namespace fedledger::trainer
