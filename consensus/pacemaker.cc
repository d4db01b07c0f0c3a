#include "consensus/pacemaker.h"

#include <algorithm>
#include <cassert>
#include <functional>

namespace fedledger::consensus {

const char* StepName(Step s) {
  switch (s) {
    case Step::kPropose:
      return "propose";
    case Step::kPrevote:
      return "prevote";
    case Step::kPrecommit:
      return "precommit";
  }
  return "unknown";
}

Pacemaker::Pacemaker(TimeoutOptions options, size_t validators)
    : options_(options), f_((validators - 1) / 3), max_round_(validators, -1) {
  assert(validators >= 1);
}

uint64_t Pacemaker::Timeout(Step step, uint32_t round) const {
  uint64_t base = 0, delta = 0;
  switch (step) {
    case Step::kPropose:
      base = options_.propose_ms;
      delta = options_.propose_delta_ms;
      break;
    case Step::kPrevote:
      base = options_.prevote_ms;
      delta = options_.prevote_delta_ms;
      break;
    case Step::kPrecommit:
      base = options_.precommit_ms;
      delta = options_.precommit_delta_ms;
      break;
  }
  uint64_t r = round;
  if (delta != 0 && r > options_.max_ms / delta) return options_.max_ms;
  return std::min(options_.max_ms, base + r * delta);
}

void Pacemaker::Observe(size_t index, uint32_t round) {
  if (index >= max_round_.size()) return;
  max_round_[index] = std::max<int64_t>(max_round_[index], round);
}

uint32_t Pacemaker::SkipTarget() const {
  std::vector<int64_t> rounds = max_round_;
  std::sort(rounds.begin(), rounds.end(), std::greater<>());
  int64_t r = rounds[f_];  // f+1 validators are at rounds >= r
  return r < 0 ? 0 : static_cast<uint32_t>(r);
}

void Pacemaker::Reset() { std::fill(max_round_.begin(), max_round_.end(), -1); }

}  // namespace fedledger::consensus
