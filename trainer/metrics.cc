#include "trainer/metrics.h"

#include <algorithm>
#include <cassert>
#include <numeric>

namespace fedledger::trainer {
namespace {

struct Scored {
  float score;
  bool active;
};

std::vector<Scored> Collect(std::span<const float> scores, std::span<const int8_t> labels,
                            size_t* pos, size_t* neg) {
  assert(scores.size() == labels.size());
  std::vector<Scored> v;
  *pos = *neg = 0;
  for (size_t i = 0; i < scores.size(); ++i) {
    if (labels[i] < 0) continue;
    v.push_back({scores[i], labels[i] > 0});
    (labels[i] > 0 ? *pos : *neg) += 1;
  }
  std::sort(v.begin(), v.end(), [](const Scored& a, const Scored& b) { return a.score > b.score; });
  return v;
}

}  // namespace

std::optional<double> RocAuc(std::span<const float> scores, std::span<const int8_t> labels) {
  size_t pos, neg;
  std::vector<Scored> v = Collect(scores, labels, &pos, &neg);
  if (pos == 0 || neg == 0) return std::nullopt;
  // Walk tie groups from the top: each active in a group beats every inactive below the group
  // and ties (half) with the inactives inside it.
  double wins = 0;
  size_t neg_above = 0;
  for (size_t i = 0; i < v.size();) {
    size_t j = i, p = 0, n = 0;
    while (j < v.size() && v[j].score == v[i].score) {
      (v[j].active ? p : n) += 1;
      ++j;
    }
    const size_t neg_below = neg - neg_above - n;
    wins += static_cast<double>(p) * (static_cast<double>(neg_below) + 0.5 * static_cast<double>(n));
    neg_above += n;
    i = j;
  }
  return wins / (static_cast<double>(pos) * static_cast<double>(neg));
}

std::optional<double> AveragePrecision(std::span<const float> scores,
                                       std::span<const int8_t> labels) {
  size_t pos, neg;
  std::vector<Scored> v = Collect(scores, labels, &pos, &neg);
  if (pos == 0 || neg == 0) return std::nullopt;
  double ap = 0, prev_recall = 0;
  size_t tp = 0, seen = 0;
  for (size_t i = 0; i < v.size();) {
    size_t j = i;
    while (j < v.size() && v[j].score == v[i].score) {
      tp += v[j].active ? 1 : 0;
      ++j;
    }
    seen = j;
    const double recall = static_cast<double>(tp) / static_cast<double>(pos);
    const double precision = static_cast<double>(tp) / static_cast<double>(seen);
    ap += (recall - prev_recall) * precision;
    prev_recall = recall;
    i = j;
  }
  return ap;
}

TaskMetrics Evaluate(std::span<const float> scores, std::span<const int8_t> labels,
                     size_t num_tasks) {
  assert(scores.size() == labels.size() && num_tasks > 0);
  const size_t n = scores.size() / num_tasks;
  TaskMetrics m;
  std::vector<float> s(n);
  std::vector<int8_t> l(n);
  double sum_roc = 0, sum_pr = 0;
  for (size_t t = 0; t < num_tasks; ++t) {
    for (size_t i = 0; i < n; ++i) {
      s[i] = scores[i * num_tasks + t];
      l[i] = labels[i * num_tasks + t];
    }
    m.roc_auc.push_back(RocAuc(s, l));
    m.pr_auc.push_back(AveragePrecision(s, l));
    if (m.roc_auc.back()) {
      sum_roc += *m.roc_auc.back();
      sum_pr += *m.pr_auc.back();
      ++m.defined_tasks;
    }
  }
  if (m.defined_tasks > 0) {
    m.macro_roc_auc = sum_roc / m.defined_tasks;
    m.macro_pr_auc = sum_pr / m.defined_tasks;
  }
  return m;
}

}  // namespace fedledger::trainer
