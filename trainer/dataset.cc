#include "trainer/dataset.h"

#include <algorithm>

namespace fedledger::trainer {

size_t Dataset::CountLabels() const {
  return static_cast<size_t>(std::count_if(labels.begin(), labels.end(), [](int8_t l) { return l >= 0; }));
}

void Dataset::Add(std::string smi, const Featurized& f, std::span<const int8_t> row_labels,
                  size_t source_row) {
  smiles.push_back(std::move(smi));
  scaffolds.push_back(f.scaffold);
  source_rows.push_back(source_row);
  fp_bits.insert(fp_bits.end(), f.on_bits.begin(), f.on_bits.end());
  fp_offsets.push_back(static_cast<uint32_t>(fp_bits.size()));
  labels.insert(labels.end(), row_labels.begin(), row_labels.end());
}

Result<Dataset> DatasetFromTable(const CsvTable& table, const LoadOptions& options,
                                 LoadReport* report) {
  LoadReport local;
  if (!report) report = &local;
  *report = LoadReport{};
  const auto& h = table.header;
  auto smiles_it = std::find(h.begin(), h.end(), options.smiles_column);
  if (smiles_it == h.end())
    return Status::InvalidArgument("no column named '" + options.smiles_column + "'");
  const size_t smiles_col = static_cast<size_t>(smiles_it - h.begin());
  std::vector<size_t> cols;
  Dataset data;
  data.num_bits = options.featurize.bits;
  if (options.task_columns.empty()) {
    for (size_t c = 0; c < h.size(); ++c)
      if (c != smiles_col) cols.push_back(c);
  } else {
    for (const std::string& name : options.task_columns) {
      auto it = std::find(h.begin(), h.end(), name);
      if (it == h.end()) return Status::InvalidArgument("no column named '" + name + "'");
      cols.push_back(static_cast<size_t>(it - h.begin()));
    }
  }
  for (size_t c : cols) data.tasks.push_back(h[c]);
  if (data.tasks.empty()) return Status::InvalidArgument("the table has no task columns");
  std::vector<int8_t> row_labels(cols.size());
  report->rows = table.rows.size();
  for (size_t r = 0; r < table.rows.size(); ++r) {
    const auto& row = table.rows[r];
    bool any = false;
    for (size_t k = 0; k < cols.size(); ++k) {
      const std::string& v = row[cols[k]];
      if (v.empty()) row_labels[k] = -1;
      else if (v == "1" || v == "1.0") row_labels[k] = 1;
      else if (v == "0" || v == "0.0") row_labels[k] = 0;
      else
        return Status::InvalidArgument("row " + std::to_string(r + 1) + ", column '" + h[cols[k]] +
                                       "': label '" + v + "' is not 1, 0 or empty");
      any = any || row_labels[k] >= 0;
    }
    if (options.drop_unlabelled && !any) {
      ++report->unlabelled;
      continue;
    }
    auto f = Featurize(row[smiles_col], options.featurize);
    if (!f.ok()) {
      report->skipped.push_back("row " + std::to_string(r + 1) + ": " + f.status().message());
      continue;
    }
    data.Add(row[smiles_col], *f, row_labels, r + 1);
  }
  return data;
}

Result<Dataset> LoadDataset(const std::string& path, const LoadOptions& options,
                            LoadReport* report) {
  FL_ASSIGN(CsvTable table, ReadCsv(path));
  auto r = DatasetFromTable(table, options, report);
  if (!r.ok()) return r.status().WithContext(path);
  return r;
}

Dataset Subset(const Dataset& data, std::span<const size_t> rows) {
  Dataset out;
  out.tasks = data.tasks;
  out.num_bits = data.num_bits;
  for (size_t i : rows) {
    Featurized f;
    auto b = data.bits(i);
    f.on_bits.assign(b.begin(), b.end());
    f.scaffold = data.scaffolds[i];
    out.Add(data.smiles[i], f,
            std::span<const int8_t>(data.labels.data() + i * data.num_tasks(), data.num_tasks()),
            data.source_rows[i]);
  }
  return out;
}

}  // namespace fedledger::trainer
