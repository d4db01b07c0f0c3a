// Minimal CSV tables for the MoleculeNet-style data sets: comma-separated, optional double
// quotes around a field ("" inside quotes is a quote), no newlines inside fields. Files whose
// name ends in .gz are read and written gzip-compressed (zlib).
#pragma once

#include <string>
#include <vector>

#include "ledger/status.h"

namespace fedledger::trainer {

struct CsvTable {
  std::vector<std::string> header;
  std::vector<std::vector<std::string>> rows;  // each row has header.size() fields
};

// A row with a different number of fields than the header is InvalidArgument naming the line.
Result<CsvTable> ReadCsv(const std::string& path);
Status WriteCsv(const std::string& path, const CsvTable& table);

}  // namespace fedledger::trainer
