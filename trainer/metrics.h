// Ranking metrics per task, as scikit-learn defines them, with ties handled exactly.
//
// ROC-AUC: probability that a random active scores above a random inactive, ties counting
// one half (Mann-Whitney U with mid-ranks). PR-AUC: average precision,
// AP = sum over distinct score thresholds (descending) of (R_k - R_{k-1}) * P_k, all
// compounds tied at a threshold entering together (sklearn.metrics.average_precision_score).
// A task with no active or no inactive label among the compounds is undefined (nullopt),
// never 0.5; macro averages run over the defined tasks only.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <vector>

namespace fedledger::trainer {

// labels: 1, 0, or negative = missing (ignored). REQUIRES: scores.size() == labels.size().
std::optional<double> RocAuc(std::span<const float> scores, std::span<const int8_t> labels);
std::optional<double> AveragePrecision(std::span<const float> scores,
                                       std::span<const int8_t> labels);

struct TaskMetrics {
  std::vector<std::optional<double>> roc_auc, pr_auc;  // per task
  std::optional<double> macro_roc_auc, macro_pr_auc;   // mean over defined tasks
  int defined_tasks = 0;                               // tasks where both are defined
};

// scores and labels are row-major n x num_tasks.
TaskMetrics Evaluate(std::span<const float> scores, std::span<const int8_t> labels,
                     size_t num_tasks);

}  // namespace fedledger::trainer
