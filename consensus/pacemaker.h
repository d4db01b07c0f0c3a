// The pacemaker: how long each step of a round may take, and when to jump ahead to a higher
// round. It only affects liveness; safety never depends on it.
//
// Timeouts grow linearly with the round (timeoutX(r) = base + r * delta, capped), so after the
// network stabilises some round lasts long enough for every honest validator to take part.
// The happy path never waits for a timeout: a round ends as soon as its messages arrive.
//
// Round synchronisation generalises line 55 of Algorithm 1 (Buchman, Kwon, Milosevic 2018):
// once f+1 validators have sent a (correctly signed) message at rounds >= R > round, at least
// one honest validator is at round >= R, so the validator moves to round R.
//
// Thread-compatible; pure (no clock: the adapter turns TimerRequests into real timers).
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace fedledger::consensus {

enum class Step : uint8_t { kPropose = 1, kPrevote = 2, kPrecommit = 3 };
const char* StepName(Step s);

// Defaults suit validators on one LAN or host: a halted cluster that regains a quorum after a
// few minutes resumes within seconds, because no timeout grows beyond max_ms.
struct TimeoutOptions {
  uint64_t propose_ms = 1000;
  uint64_t propose_delta_ms = 200;
  uint64_t prevote_ms = 500;
  uint64_t prevote_delta_ms = 100;
  uint64_t precommit_ms = 500;
  uint64_t precommit_delta_ms = 100;
  uint64_t max_ms = 10000;  // no timeout grows beyond this
};

// "Call OnTimeout(step, height, round) after delay_ms." Stale timers are ignored by the
// state machine, so the adapter never needs to cancel one. A timer with a non-zero `sync_id`
// is the deadline of sync request number `sync_id` (step and round are then unused).
struct TimerRequest {
  Step step = Step::kPropose;
  uint64_t height = 0;
  uint32_t round = 0;
  uint64_t delay_ms = 0;
  uint64_t sync_id = 0;
  // A proposer's "propose now" (ConsensusOptions::propose_after_pending): zero delay, so the
  // adapter runs it after the inputs already waiting for the state machine.
  bool propose = false;
  bool operator==(const TimerRequest&) const = default;
};

class Pacemaker {
 public:
  // REQUIRES: validators >= 1.
  Pacemaker(TimeoutOptions options, size_t validators);

  uint64_t Timeout(Step step, uint32_t round) const;
  TimerRequest Timer(Step step, uint64_t height, uint32_t round) const {
    return TimerRequest{step, height, round, Timeout(step, round)};
  }

  // Validator `index` sent a correctly signed message at `round` of the current height.
  void Observe(size_t index, uint32_t round);
  // The largest R such that f+1 validators sent messages at rounds >= R (0 if none did).
  uint32_t SkipTarget() const;
  // Forget the rounds seen: a new height starts.
  void Reset();

 private:
  TimeoutOptions options_;
  size_t f_;
  std::vector<int64_t> max_round_;  // per validator, -1: nothing seen at this height
};

}  // namespace fedledger::consensus
