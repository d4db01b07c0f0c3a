#include "driver/row_set.h"

#include <algorithm>
#include <cstring>

namespace fedledger::driver {

RowSet::RowSet(const trainer::Weights& trunk, bool enabled)
    : enabled_(enabled), numel_(trunk.numel()) {
  const trainer::Tensor& first = trunk.tensors.at(0);
  bits_ = static_cast<size_t>(first.shape.at(0));
  hidden_ = static_cast<size_t>(first.shape.at(1));
  in_union_.assign(bits_, 0);
}

bool RowSet::CompactFor(const std::vector<PubKey>& members) const {
  if (!enabled_ || known_.empty()) return false;
  return std::all_of(members.begin(), members.end(),
                     [&](const PubKey& m) { return known_.count(m) > 0; });
}

size_t RowSet::Words(bool compact) const {
  return compact ? numel_ - (bits_ - rows_.size()) * hidden_ : numel_;
}

void RowSet::Learn(const orchestrator::SecAggArtifactView& aggregate, bool compact,
                   const std::vector<PubKey>& contributors) {
  if (compact || aggregate.count != numel_) return;
  static const uint8_t kZeros[4096] = {};
  const size_t row_bytes = 4 * hidden_;
  bool grew = false;
  for (size_t b = 0; b < bits_; ++b) {
    if (in_union_[b]) continue;
    const uint8_t* p = aggregate.words_le + b * row_bytes;
    bool nonzero = false;
    for (size_t o = 0; o < row_bytes && !nonzero; o += sizeof(kZeros)) {
      const size_t n = std::min(sizeof(kZeros), row_bytes - o);
      nonzero = std::memcmp(p + o, kZeros, n) != 0;
    }
    if (nonzero) {
      in_union_[b] = 1;
      grew = true;
    }
  }
  if (grew) {
    rows_.clear();
    for (size_t b = 0; b < bits_; ++b) {
      if (in_union_[b]) rows_.push_back(static_cast<uint32_t>(b));
    }
  }
  known_.insert(contributors.begin(), contributors.end());
}

Status RowSet::Compact(std::span<const float> full, std::vector<float>* out) const {
  if (full.size() != numel_) {
    return Status::InvalidArgument("trunk update has " + std::to_string(full.size()) +
                                   " values, the trunk " + std::to_string(numel_));
  }
  out->resize(Words(true));
  float* o = out->data();
  size_t next = 0;  // index into rows_
  for (size_t b = 0; b < bits_; ++b) {
    const float* row = full.data() + b * hidden_;
    if (next < rows_.size() && rows_[next] == b) {
      std::memcpy(o, row, 4 * hidden_);
      o += hidden_;
      ++next;
      continue;
    }
    for (size_t k = 0; k < hidden_; ++k) {
      if (row[k] != 0.0f) {
        return Status::InvalidArgument(
            "the trunk update changes row " + std::to_string(b) +
            " of the first layer, which no earlier aggregate touched: it cannot travel in a "
            "compact round (did this partner's data change?)");
      }
    }
  }
  const size_t rest = numel_ - bits_ * hidden_;
  std::memcpy(o, full.data() + bits_ * hidden_, 4 * rest);
  return Status::Ok();
}

Status RowSet::Apply(const orchestrator::SecAggArtifactView& aggregate, bool compact,
                     trainer::Weights* trunk) const {
  if (trunk->numel() != numel_) {
    return Status::InvalidArgument("the trunk has " + std::to_string(trunk->numel()) +
                                   " values, the task's " + std::to_string(numel_));
  }
  if (aggregate.count != Words(compact)) {
    return Status::InvalidArgument(
        "aggregate has " + std::to_string(aggregate.count) + " values, a " +
        (compact ? "compact" : "full") + " round " + std::to_string(Words(compact)));
  }
  size_t o = 0;
  for (size_t t = 0; t < trunk->tensors.size(); ++t) {
    std::vector<float>& data = trunk->tensors[t].data;
    if (t == 0 && compact) {
      for (uint32_t b : rows_) {
        FL_TRY(orchestrator::AddAverage(
            aggregate, std::span<float>(data).subspan(size_t{b} * hidden_, hidden_), o));
        o += hidden_;
      }
      continue;
    }
    FL_TRY(orchestrator::AddAverage(aggregate, data, o));
    o += data.size();
  }
  return Status::Ok();
}

}  // namespace fedledger::driver
