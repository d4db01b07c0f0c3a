// Metric known answers, checked against scikit-learn 1.2.1 (roc_auc_score,
// average_precision_score).
#include <catch2/catch.hpp>

#include "trainer/metrics.h"

using namespace fedledger::trainer;

TEST_CASE("ROC-AUC and average precision with ties", "[metrics]") {
  std::vector<float> s = {0.9f, 0.8f, 0.8f, 0.7f, 0.5f, 0.5f, 0.3f};
  std::vector<int8_t> y = {1, 0, 1, 1, 0, 1, 0};
  CHECK(*RocAuc(s, y) == Approx(0.75).epsilon(1e-12));
  CHECK(*AveragePrecision(s, y) == Approx(0.7708333333333333).epsilon(1e-12));

  std::vector<float> all_tied = {0.5f, 0.5f, 0.5f, 0.5f};
  std::vector<int8_t> y2 = {1, 0, 0, 1};
  CHECK(*RocAuc(all_tied, y2) == Approx(0.5));
  CHECK(*AveragePrecision(all_tied, y2) == Approx(0.5));

  std::vector<float> s3 = {0.1f, 0.4f, 0.35f, 0.8f};
  std::vector<int8_t> y3 = {0, 0, 1, 1};
  CHECK(*RocAuc(s3, y3) == Approx(0.75));
  CHECK(*AveragePrecision(s3, y3) == Approx(0.8333333333333333));
}

TEST_CASE("missing labels are ignored", "[metrics]") {
  std::vector<float> s = {0.1f, 0.99f, 0.4f, 0.35f, 0.0f, 0.8f};
  std::vector<int8_t> y = {0, -1, 0, 1, -1, 1};
  CHECK(*RocAuc(s, y) == Approx(0.75));
  CHECK(*AveragePrecision(s, y) == Approx(0.8333333333333333));
}

TEST_CASE("a task with a single class is undefined, not 0.5", "[metrics]") {
  std::vector<float> s = {0.1f, 0.2f, 0.3f};
  CHECK_FALSE(RocAuc(s, std::vector<int8_t>{0, 0, 0}).has_value());
  CHECK_FALSE(AveragePrecision(s, std::vector<int8_t>{1, 1, -1}).has_value());
  CHECK_FALSE(RocAuc(s, std::vector<int8_t>{-1, -1, -1}).has_value());
}

TEST_CASE("macro averages run over defined tasks only", "[metrics]") {
  // Two tasks, row-major: task 0 perfect, task 1 has only inactives.
  std::vector<float> s = {0.9f, 0.1f, 0.2f, 0.2f, 0.1f, 0.3f};
  std::vector<int8_t> y = {1, 0, 0, 0, 0, 0};
  TaskMetrics m = Evaluate(s, y, 2);
  CHECK(m.defined_tasks == 1);
  CHECK(*m.roc_auc[0] == Approx(1.0));
  CHECK_FALSE(m.roc_auc[1].has_value());
  CHECK(*m.macro_roc_auc == Approx(1.0));
  CHECK(*m.macro_pr_auc == Approx(1.0));
  TaskMetrics none = Evaluate(s, std::vector<int8_t>(6, 0), 2);
  CHECK_FALSE(none.macro_roc_auc.has_value());
}
