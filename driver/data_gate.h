// DataGate: the only way the round driver reaches a partner's data file. It refuses to open
// the file unless the committed ledger says the partner may read it now
// (FederationState::MayReadData: the task is active, the partner is a member of the round in
// progress, and its DATA_ACCESS for that round is committed), and it refuses a file whose
// SHA-256 is no longer the one registered on the ledger (hashed before and after parsing, so
// a file replaced while it is read is caught too).
//
// The file is parsed once, on the first granted round; every later round asks the gate again
// before the driver may train on the data. Not thread-safe.
#pragma once

#include <memory>
#include <string>

#include "driver/round_driver.h"
#include "ledger/crypto.h"
#include "ledger/status.h"
#include "trainer/dataset.h"

namespace fedledger::driver {

class DataGate {
 public:
  DataGate(std::string file, Hash32 registered_hash, trainer::LoadOptions load)
      : file_(std::move(file)), registered_hash_(registered_hash), load_(std::move(load)) {}

  // The data, for `round` of `task_id`, read by `partner`. PermissionDenied naming the
  // ledger's reason when the gate is closed (the file is not touched); FailedPrecondition when
  // the file's hash differs from its registration; the loader's error for a bad file.
  Result<const trainer::Dataset*> Open(DriverHost& host, const std::string& task_id,
                                       uint32_t round, const PubKey& partner);
  // Whether the file has been read (tests).
  bool opened() const { return data_ != nullptr; }
  const trainer::LoadReport& load_report() const { return report_; }

 private:
  std::string file_;
  Hash32 registered_hash_;
  trainer::LoadOptions load_;
  std::unique_ptr<trainer::Dataset> data_;
  trainer::LoadReport report_;
};

}  // namespace fedledger::driver
