// fedledger data split: deal a public data set out to P partners by scaffold.
#include <sys/stat.h>

#include <algorithm>
#include <cstdio>
#include <map>

#include "tools/command.h"
#include "tools/flags.h"
#include "tools/output_file.h"
#include "trainer/csv.h"
#include "trainer/featurize.h"
#include "trainer/split.h"

namespace fedledger::cli {
namespace {

using namespace fedledger::trainer;

// Each partner gets a file and a share of the scaffolds; beyond this it is a typo.
constexpr uint64_t kMaxPartners = 1000;

struct SplitArgs {
  std::string in, out;
  int partners = 3;
  bool by_prefix = false, force = false;
  std::vector<std::string> prefixes;
  uint64_t seed = 0;
};

std::string PrefixOf(const std::string& column) { return column.substr(0, column.find('_')); }

void RunSplit(const SplitArgs& a) {
  if (a.partners < 1) throw Failure("--partners must be at least 1", 2);
  CsvTable table = Unwrap(ReadCsv(a.in));
  const auto& h = table.header;
  auto sm = std::find(h.begin(), h.end(), "smiles");
  if (sm == h.end()) throw Failure(a.in + ": no 'smiles' column", 2);
  const size_t smiles_col = static_cast<size_t>(sm - h.begin());

  // Partner names and task columns.
  std::vector<std::string> names;
  std::vector<std::vector<size_t>> columns;
  if (a.by_prefix) {
    std::map<std::string, std::vector<size_t>> by;
    for (size_t c = 0; c < h.size(); ++c)
      if (c != smiles_col) by[PrefixOf(h[c])].push_back(c);
    std::vector<std::string> chosen = a.prefixes;
    if (chosen.empty()) {
      std::vector<std::pair<size_t, std::string>> sizes;
      for (auto& [p, cols] : by) sizes.push_back({cols.size(), p});
      std::stable_sort(sizes.begin(), sizes.end(), [](auto& x, auto& y) { return x.first > y.first; });
      for (int i = 0; i < a.partners && i < static_cast<int>(sizes.size()); ++i)
        chosen.push_back(sizes[i].second);
    }
    if (static_cast<int>(chosen.size()) != a.partners)
      throw Failure("need exactly --partners prefixes, got " + std::to_string(chosen.size()), 2);
    for (const auto& p : chosen) {
      if (!by.count(p)) throw Failure("no column has prefix '" + p + "'", 2);
      names.push_back(p);
      columns.push_back(by[p]);
    }
  } else {
    std::vector<size_t> all;
    for (size_t c = 0; c < h.size(); ++c)
      if (c != smiles_col) all.push_back(c);
    for (int i = 0; i < a.partners; ++i) {
      names.push_back("partner" + std::to_string(i + 1));
      columns.push_back(all);
    }
  }

  // Every partner file is refused up front if it exists (unless --force), before the slow
  // featurising; each is written under a temporary name and renamed when complete.
  std::vector<std::string> paths;
  for (const auto& name : names) {
    paths.push_back(a.out + "/" + name + ".csv.gz");
    Check(CheckOutputPath(paths.back(), a.force));
  }

  // Scaffolds; rows RDKit cannot read are reported and left out.
  std::vector<std::string> scaffolds;
  std::vector<size_t> kept;
  for (size_t r = 0; r < table.rows.size(); ++r) {
    auto f = Featurize(table.rows[r][smiles_col]);
    if (!f.ok()) {
      std::fprintf(stderr, "skipped row %zu: %s\n", r + 1, f.status().message().c_str());
      continue;
    }
    scaffolds.push_back(f->scaffold);
    kept.push_back(r);
  }
  std::fprintf(stderr, "%zu of %zu rows featurised\n", kept.size(), table.rows.size());

  const std::vector<int> bin =
      AssignByScaffold(scaffolds, std::vector<double>(a.partners, 1.0), a.seed);
  mkdir(a.out.c_str(), 0755);
  for (int p = 0; p < a.partners; ++p) {
    CsvTable out;
    out.header.push_back("smiles");
    for (size_t c : columns[p]) out.header.push_back(h[c]);
    size_t labels = 0, unlabelled = 0;
    for (size_t k = 0; k < kept.size(); ++k) {
      if (bin[k] != p) continue;
      const auto& row = table.rows[kept[k]];
      std::vector<std::string> o{row[smiles_col]};
      size_t n = 0;
      for (size_t c : columns[p]) {
        o.push_back(row[c]);
        n += !row[c].empty();
      }
      if (n == 0) {  // a partner keeps only compounds that carry its own labels
        ++unlabelled;
        continue;
      }
      labels += n;
      out.rows.push_back(std::move(o));
    }
    const std::string& path = paths[p];
    OutputFile file = Unwrap(OutputFile::Create(path, a.force));
    Check(WriteCsv(file.temp_path(), out));
    Check(file.Commit());
    std::printf("%s\t%zu compounds\t%zu tasks\t%zu labels\t(%zu dealt compounds without labels dropped)\n",
                path.c_str(), out.rows.size(), columns[p].size(), labels, unlabelled);
  }
}

Registrar reg("60-data-split", [](CLI::App& app) {
  CLI::App* data;
  try {
    data = app.get_subcommand("data");
  } catch (const CLI::OptionNotFound&) {
    data = app.add_subcommand("data", kDataCommandHelp);
    data->require_subcommand(1);
  }
  auto* cmd = data->add_subcommand(
      "split", "Deal a public data set out to P partners by Bemis-Murcko scaffold");
  auto a = std::make_shared<SplitArgs>();
  cmd->add_option("--in", a->in, "CSV(.gz) with a smiles column and assay columns")->required();
  AddUnsignedOption(cmd, "--partners", &a->partners, "Number of partners", 1, kMaxPartners)
      ->required();
  cmd->add_option("--out", a->out, "Output directory (one <partner>.csv.gz each; an existing "
                                   "file is replaced only with --force)")->required();
  cmd->add_flag("--assays-by-prefix", a->by_prefix,
                "Give each partner the assay columns of one prefix (text before the first '_'); "
                "partners keep only compounds with labels in their columns");
  cmd->add_option("--prefixes", a->prefixes, "Prefixes to use (default: the P with most columns)")
      ->delimiter(',');
  AddUnsignedOption(cmd, "--seed", &a->seed, "Seed for dealing scaffold groups of equal size");
  AddForceFlag(cmd, &a->force);
  cmd->callback([a] { RunSplit(*a); });
});

}  // namespace
}  // namespace fedledger::cli
