// The training settings of a task, read from the spec every participant approved.
//
// A spec's `model` names the model family and its `[settings]` the hyper-parameters
// (orchestrator/spec_toml.h: values are text). The round driver understands model
// "mlp-trunk" (trainer/model.h) with these settings, each optional:
//
//   bits            fingerprint length D              default 32768
//   hidden          trunk layer sizes, "256" or "512,128"   default "256"
//   dropout         after every trunk layer           default 0.2
//   lr              Adam learning rate                 default 0.001
//   batch_size      compounds per step                 default 128
//   local_epochs    local passes per round             default 1
//   seed            trunk initialisation, fold split, batch order   default 0
//   valid_fraction  scaffold split of each partner's data           default 0.1
//   test_fraction                                                     default 0.1
//   secagg.clip, secagg.scale   read by secure aggregation (orchestrator/secagg.h)
//   secagg.rows     "union": after the first aggregate, only the first layer's rows that some
//                   aggregate touched travel (driver/row_set.h); "all": every row, always
//                   default "union"
//
// Any other setting, or a value that does not parse, refuses the task with a message naming
// it: partners approved exactly these settings, so a driver must never silently drop one.
#pragma once

#include <cstdint>
#include <vector>

#include "ledger/entry.h"
#include "ledger/status.h"

namespace fedledger::driver {

inline constexpr const char* kMlpTrunkModel = "mlp-trunk";

struct TaskSettings {
  uint32_t bits = 32768;
  std::vector<int> hidden = {256};
  float dropout = 0.2f;
  float lr = 1e-3f;
  int batch_size = 128;
  int local_epochs = 1;
  uint64_t seed = 0;
  double valid_fraction = 0.1;
  double test_fraction = 0.1;
  bool union_rows = true;  // secagg.rows
};

// InvalidArgument naming the setting ("task 't1': setting 'hidden' = 'x': ...").
Result<TaskSettings> SettingsFromSpec(const TaskSpec& spec);

}  // namespace fedledger::driver
