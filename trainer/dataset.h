// A featurised multitask data set: one row per compound (sparse fingerprint bits, scaffold)
// and one label per (compound, task): 1 active, 0 inactive, -1 not measured.
// Plain value type; immutable after loading in practice; safe to read from many threads.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "ledger/status.h"
#include "trainer/csv.h"
#include "trainer/featurize.h"

namespace fedledger::trainer {

struct Dataset {
  std::vector<std::string> tasks;
  uint32_t num_bits = 0;                   // fingerprint length D
  std::vector<std::string> smiles;         // as given in the file
  std::vector<std::string> scaffolds;      // "" for acyclic compounds
  std::vector<size_t> source_rows;         // 1-based data row (after the header) in the file
  std::vector<uint32_t> fp_offsets{0};     // CSR: bits of compound i are
  std::vector<uint32_t> fp_bits;           //   fp_bits[fp_offsets[i] .. fp_offsets[i+1])
  std::vector<int8_t> labels;              // row-major, size() * tasks.size()

  size_t size() const { return smiles.size(); }
  size_t num_tasks() const { return tasks.size(); }
  std::span<const uint32_t> bits(size_t i) const {
    return {fp_bits.data() + fp_offsets[i], fp_offsets[i + 1] - fp_offsets[i]};
  }
  int8_t label(size_t i, size_t t) const { return labels[i * tasks.size() + t]; }
  size_t CountLabels() const;

  // Appends one compound. REQUIRES: row_labels.size() == num_tasks().
  void Add(std::string smi, const Featurized& f, std::span<const int8_t> row_labels,
           size_t source_row);
};

struct LoadOptions {
  FeaturizeOptions featurize;
  std::string smiles_column = "smiles";
  std::vector<std::string> task_columns;  // empty: every column except the SMILES column
  bool drop_unlabelled = false;           // skip compounds with no label in task_columns
};

struct LoadReport {
  size_t rows = 0;                   // data rows in the file
  size_t unlabelled = 0;             // dropped because drop_unlabelled and no label
  std::vector<std::string> skipped;  // "row 17: RDKit cannot parse SMILES '...'"
};

// Labels must be 1, 0 or empty (1.0 / 0.0 accepted); anything else is InvalidArgument naming
// the row and column. Unparseable SMILES are skipped and listed in `report`.
Result<Dataset> DatasetFromTable(const CsvTable& table, const LoadOptions& options,
                                 LoadReport* report);
Result<Dataset> LoadDataset(const std::string& path, const LoadOptions& options,
                            LoadReport* report);

// The compounds at `rows` (in that order), all tasks.
Dataset Subset(const Dataset& data, std::span<const size_t> rows);

}  // namespace fedledger::trainer
