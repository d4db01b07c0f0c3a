// The federated client and aggregation that the orchestrator's round driver calls.
//
// A PartnerTrainer is one partner's side of a task: its data, its fold split, its private
// head and its local optimiser state (kept across rounds). Each round it takes the global
// trunk, trains on its own training fold, and returns the trunk update (local - global, full
// D-row shape, so nothing reveals which fingerprint bits the partner holds beyond the values
// themselves; secure aggregation masks those) and the number of training compounds, the
// FedAvg weight. The head never leaves the PartnerTrainer.
//
// Not thread-safe; one PartnerTrainer per partner.
#pragma once

#include <cstdint>
#include <memory>
#include <span>

#include "ledger/status.h"
#include "trainer/dataset.h"
#include "trainer/metrics.h"
#include "trainer/model.h"
#include "trainer/split.h"
#include "trainer/weights.h"

namespace fedledger::trainer {

struct TrunkUpdate {
  Weights delta;             // local trunk after the round minus the global trunk it started from
  uint64_t num_samples = 0;  // training compounds seen per epoch: the FedAvg weight
  double mean_loss = 0;
};

enum class Fold { kTrain, kValid, kTest };

class PartnerTrainer {
 public:
  // `data` must outlive the trainer. `config.num_tasks` must equal data.num_tasks(); the head
  // is initialised from `head_seed` and stays private.
  static Result<std::unique_ptr<PartnerTrainer>> Create(const ModelConfig& config,
                                                        const TrainOptions& options,
                                                        const Dataset& data, FoldSplit split,
                                                        const Weights& initial_trunk,
                                                        uint64_t head_seed);

  // Loads `global_trunk`, trains `local_epochs` passes over the training fold, and fills
  // *update (buffers reused across rounds).
  Status RunRound(const Weights& global_trunk, int local_epochs, TrunkUpdate* update);
  // Trains `epochs` passes without touching any global trunk (training alone).
  Result<double> TrainLocal(int epochs);

  Result<std::vector<float>> Predict(Fold fold) const;
  Result<TaskMetrics> Evaluate(Fold fold) const;
  const std::vector<size_t>& rows(Fold fold) const;
  Model& model() { return *model_; }
  const Dataset& data() const { return *data_; }

 private:
  PartnerTrainer() = default;
  const Dataset* data_ = nullptr;
  FoldSplit split_;
  std::unique_ptr<Model> model_;
};

// Weighted FedAvg: *average = sum_i w_i * delta_i / sum_i w_i with w_i = num_samples.
// InvalidArgument if there are no updates, all weights are zero, or layouts differ.
Status FedAvg(std::span<const TrunkUpdate* const> updates, Weights* average);

}  // namespace fedledger::trainer
