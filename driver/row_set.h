// Which rows of the first trunk layer travel in a round (docs/ROUNDS.md "Rows that travel").
//
// The first trunk layer has one row of `hidden` weights per fingerprint bit. A partner's
// local training never changes the row of a bit that none of its compounds sets (its
// gradient is zero, and so are its Adam moments), so its update is exactly zero there; the
// aggregate of a round is zero exactly on the rows no contributor touched. Every participant
// receives the aggregate, so the union of the contributors' rows is known to all of them
// from the first aggregate on, and sending only those rows reveals nothing the aggregates
// have not (which partner has which bit stays hidden by the masks). For Tox21 dealt to three
// partners that is 18.2k of 32,768 rows: every later artifact is ~45% smaller, and so is the
// work of masking, hashing, storing, sending and summing it.
//
// The rule, computed by every participant and the aggregator from the committed aggregates
// alone: an attempt is "compact" when the task allows it (setting secagg.rows = "union", the
// default) and every member of the attempt contributed to an earlier full-layout aggregate;
// its artifacts then hold the union's rows (ascending) followed by the rest of the trunk
// (the first layer's bias and any further layers) in the usual order. Otherwise the attempt
// uses the full layout, and its aggregate widens the union (a partner that joins later
// brings its rows in with a full round). A partner whose update is non-zero outside the
// union (it cannot be, unless its data changed) refuses to drop those values: the round
// fails with a message rather than losing part of an update.
#pragma once

#include <cstdint>
#include <set>
#include <span>
#include <vector>

#include "ledger/crypto.h"
#include "ledger/status.h"
#include "orchestrator/secagg.h"
#include "trainer/weights.h"

namespace fedledger::driver {

class RowSet {
 public:
  RowSet() = default;
  // `trunk`: the task's trunk (its first tensor is bits x hidden); `enabled`: secagg.rows.
  RowSet(const trainer::Weights& trunk, bool enabled);

  // The layout of an attempt with these members.
  bool CompactFor(const std::vector<PubKey>& members) const;
  // Words in an artifact of that layout.
  size_t Words(bool compact) const;
  size_t rows() const { return rows_.size(); }

  // Records a committed aggregate of that layout: a full one adds its non-zero rows to the
  // union and its contributors to the partners whose rows the union holds.
  void Learn(const orchestrator::SecAggArtifactView& aggregate, bool compact,
             const std::vector<PubKey>& contributors);
  // `full` (a flattened trunk update) in the compact layout, into `out`. InvalidArgument if
  // a value outside the union is non-zero.
  Status Compact(std::span<const float> full, std::vector<float>* out) const;
  // Adds the aggregate's average to `trunk`, for either layout (sizes checked).
  Status Apply(const orchestrator::SecAggArtifactView& aggregate, bool compact,
               trainer::Weights* trunk) const;

 private:
  bool enabled_ = false;
  size_t bits_ = 0, hidden_ = 0, numel_ = 0;
  std::vector<uint8_t> in_union_;  // per row of the first layer
  std::vector<uint32_t> rows_;     // the union, ascending
  std::set<PubKey> known_;         // contributors of full-layout aggregates
};

}  // namespace fedledger::driver
