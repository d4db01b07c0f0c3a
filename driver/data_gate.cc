#include "driver/data_gate.h"

#include "orchestrator/state.h"
#include "trainer/csv.h"

namespace fedledger::driver {

Result<const trainer::Dataset*> DataGate::Open(DriverHost& host, const std::string& task_id,
                                               uint32_t round, const PubKey& partner) {
  orchestrator::Verdict gate = orchestrator::Verdict::Valid();
  host.Read([&](const orchestrator::FederationState& s) {
    gate = s.MayReadData(task_id, round, partner);
  });
  if (!gate.valid()) {
    return Status::PermissionDenied("the ledger does not allow reading " + file_ + " for task '" +
                                    task_id + "' round " + std::to_string(round) + ": " +
                                    gate.ToString());
  }
  if (data_) return data_.get();
  auto mismatch = [&](const Hash32& got) {
    return Status::FailedPrecondition(file_ + " has SHA-256 " + got.Hex() +
                                      " but the ledger registered " + registered_hash_.Hex() +
                                      ": the file changed since it was registered; register the "
                                      "new version under a new dataset id");
  };
  FL_ASSIGN(Hash32 before, Sha256File(file_));
  if (before != registered_hash_) return mismatch(before);
  FL_ASSIGN(trainer::CsvTable table, trainer::ReadCsv(file_));
  FL_ASSIGN(Hash32 after, Sha256File(file_));
  if (after != registered_hash_) return mismatch(after);
  trainer::LoadReport report;
  auto data = trainer::DatasetFromTable(table, load_, &report);
  if (!data.ok()) return data.status().WithContext(file_);
  if (data->size() == 0) return Status::InvalidArgument(file_ + ": no usable compounds");
  report_ = std::move(report);
  data_ = std::make_unique<trainer::Dataset>(std::move(data).value());
  return data_.get();
}

}  // namespace fedledger::driver
