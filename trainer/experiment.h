// Experiments for `fedledger train local|simulate`: one partner alone, a federation in one
// process (FedAvg on the trunk, heads private), and the centralised upper bound (all
// partners' compounds in one model, each partner's tasks its own block of head outputs, which
// with the masked loss is the same as private heads on a shared trunk).
//
// Model selection is the same for every mode and uses validation folds only: for each grid
// point (hidden sizes x dropout) the model trains for up to `epochs` epochs (alone, central)
// or rounds of `local_epochs` local epochs (federated); after each, every partner evaluates
// its validation and test folds. Each partner then keeps the grid point and epoch with the
// best validation macro PR-AUC (earliest on ties) and reports the test metrics recorded
// there. Test never influences the choice.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "ledger/status.h"
#include "trainer/artifact.h"
#include "trainer/dataset.h"
#include "trainer/metrics.h"
#include "trainer/model.h"
#include "trainer/split.h"

namespace fedledger::trainer {

struct PartnerInput {
  std::string name;
  const Dataset* data = nullptr;  // must outlive the run
  FoldSplit split;
};

struct Grid {
  std::vector<std::vector<int>> hidden = {{512}};
  std::vector<float> dropout = {0.2f};
  int epochs = 40;        // epochs, or federated rounds
  int local_epochs = 1;   // per federated round
};

enum class Mode { kAlone, kFederated, kCentral };
const char* ModeName(Mode mode);

struct Selection {
  std::string partner;
  std::vector<int> hidden;
  float dropout = 0;
  int epoch = 0;  // 1-based epoch (or round) chosen on validation
  TaskMetrics valid, test;
  std::vector<float> test_predictions;  // rows of split.test x partner's tasks
  std::vector<double> valid_curve;      // validation macro PR-AUC per epoch, chosen grid point
};

struct ExperimentOptions {
  TrainOptions train;  // seed here drives initialisation, batch order and dropout
  // Called after every epoch/round: mode, grid point index, epoch, epochs.
  std::function<void(Mode, size_t, int, int)> progress;
};

Result<std::vector<Selection>> RunExperiment(Mode mode, const std::vector<PartnerInput>& partners,
                                             const Grid& grid, const ExperimentOptions& options);

}  // namespace fedledger::trainer

namespace fedledger::trainer {

// Retrains one partner alone with a chosen configuration for `epochs` epochs (deterministic
// for options.train.seed, so it reproduces the selected model) and returns it as an artifact:
// the full trunk and the head, with the configuration and task names in the metadata.
Result<Artifact> TrainAloneArtifact(const PartnerInput& partner, const std::vector<int>& hidden,
                                           float dropout, int epochs, const ExperimentOptions& options);

}  // namespace fedledger::trainer
