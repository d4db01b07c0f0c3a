// fedledger train local | simulate: train one partner alone, or a whole federation in one
// process, with model selection on validation folds, and report test metrics.
#include <chrono>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "ledger/crypto.h"
#include "tools/command.h"
#include "tools/flags.h"
#include "tools/output_file.h"
#include "trainer/artifact.h"
#include "trainer/dataset.h"
#include "trainer/experiment.h"
#include "trainer/model.h"
#include "trainer/progress.h"
#include "trainer/split.h"

namespace fedledger::cli {
namespace {

using namespace fedledger::trainer;

// Integer flags go through AddUnsignedOption (tools/flags.h): CLI11's own parsing would take
// "--threads -1" or "--epochs 1e3" or "0x10" and carry on with a value nobody meant.
constexpr uint64_t kMaxThreads = 1024;

struct CommonArgs {
  std::string hidden = "512";
  std::string dropout = "0.2";
  int epochs = 40;
  float lr = 1e-3f;
  int batch_size = 128;
  uint64_t seed = 0;
  int threads = 1;
  uint32_t bits = 32768;
  double valid_fraction = 0.1, test_fraction = 0.1;
  std::string json, predictions;
  bool force = false;
};

void AddCommon(CLI::App* cmd, CommonArgs* a) {
  cmd->add_option("--hidden", a->hidden,
                  "Trunk sizes to try: grid points separated by ',', layers by 'x' "
                  "(e.g. 512,1024x256)")->capture_default_str();
  cmd->add_option("--dropout", a->dropout, "Dropout rates to try, ','-separated")->capture_default_str();
  cmd->add_option("--lr", a->lr, "Adam learning rate")->capture_default_str();
  AddUnsignedOption(cmd, "--batch-size", &a->batch_size, "Mini-batch size", 1)
      ->default_str(std::to_string(a->batch_size));
  AddUnsignedOption(cmd, "--seed", &a->seed, "Seed: fold split, initialisation, batch order, dropout")
      ->default_str(std::to_string(a->seed));
  AddUnsignedOption(cmd, "--threads", &a->threads, "Torch threads", 1, kMaxThreads)
      ->default_str(std::to_string(a->threads));
  AddUnsignedOption(cmd, "--bits", &a->bits, "Folded fingerprint size D")
      ->default_str(std::to_string(a->bits));
  cmd->add_option("--valid-fraction", a->valid_fraction)->capture_default_str();
  cmd->add_option("--test-fraction", a->test_fraction)->capture_default_str();
  cmd->add_option("--json", a->json, "Write a JSON summary to this file ('-' = stdout)");
  cmd->add_option("--predictions", a->predictions, "Write test-fold predictions to this CSV");
  AddForceFlag(cmd, &a->force);
}

// Refuses the output files up front (an existing one unless --force), before the data are
// read and the models trained; they are written whole at the end (tools/output_file.h).
void CheckOutputs(const CommonArgs& a, const std::string& save = "") {
  for (const std::string& path : {a.json, a.predictions, save}) {
    if (!path.empty() && path != "-") Check(CheckOutputPath(path, a.force));
  }
}

std::vector<std::string> SplitOn(const std::string& s, char sep) {
  std::vector<std::string> out;
  std::stringstream ss(s);
  std::string item;
  while (std::getline(ss, item, sep))
    if (!item.empty()) out.push_back(item);
  return out;
}

// The hyper-parameter grid from --hidden ("512", "256x128,1024") and --dropout ("0.2,0.5"),
// checked before any data is read: a layer width is a decimal integer in 1..65536 and a rate a
// number in [0, 1), or the command exits 2 naming the flag and the value.
Grid ParseGrid(const CommonArgs& a, int epochs) {
  Grid g;
  g.hidden.clear();
  g.dropout.clear();
  for (const auto& point : SplitOn(a.hidden, ',')) {
    std::vector<int> layers;
    for (const auto& l : SplitOn(point, 'x')) {
      auto width = ParseDecimal(l, 1, 65536);
      if (!width.ok()) throw Failure("--hidden: " + width.status().message(), 2);
      layers.push_back(static_cast<int>(*width));
    }
    g.hidden.push_back(layers);
  }
  for (const auto& d : SplitOn(a.dropout, ',')) {
    size_t used = 0;
    float rate = -1;
    try {
      rate = std::stof(d, &used);
    } catch (const std::exception&) {
    }
    if (used != d.size() || !(rate >= 0 && rate < 1)) {
      throw Failure("--dropout: expected rates in [0, 1), got '" + d + "'", 2);
    }
    g.dropout.push_back(rate);
  }
  if (g.hidden.empty()) throw Failure("--hidden: expected at least one layer width", 2);
  if (g.dropout.empty()) throw Failure("--dropout: expected at least one rate", 2);
  g.epochs = epochs;
  return g;
}

struct LoadedPartner {
  std::string name;
  Dataset data;
  FoldSplit split;
};

std::string NameOf(const std::string& path) {
  std::string base = path.substr(path.find_last_of('/') + 1);
  for (const char* ext : {".gz", ".csv"})
    if (base.size() > std::strlen(ext) && base.ends_with(ext)) base.resize(base.size() - std::strlen(ext));
  return base;
}

LoadedPartner Load(const std::string& path, const CommonArgs& a) {
  LoadOptions o;
  o.featurize.bits = a.bits;
  LoadReport report;
  LoadedPartner p;
  p.name = NameOf(path);
  p.data = Unwrap(LoadDataset(path, o, &report));
  for (const auto& s : report.skipped) std::fprintf(stderr, "%s: skipped %s\n", path.c_str(), s.c_str());
  p.split = ScaffoldSplit(p.data.scaffolds, a.valid_fraction, a.test_fraction, a.seed);
  std::fprintf(stderr, "%s: %zu compounds (%zu skipped), %zu tasks, %zu labels; train/valid/test %zu/%zu/%zu\n",
               p.name.c_str(), p.data.size(), report.skipped.size(), p.data.num_tasks(),
               p.data.CountLabels(), p.split.train.size(), p.split.valid.size(), p.split.test.size());
  return p;
}

std::string Fmt(const std::optional<double>& v) {
  if (!v) return "  n/a ";
  char b[16];
  std::snprintf(b, sizeof b, "%.4f", *v);
  return b;
}

nlohmann::json Opt(const std::optional<double>& v) { return v ? nlohmann::json(*v) : nlohmann::json(); }

nlohmann::json SelectionJson(const Selection& s, const Dataset& d) {
  nlohmann::json tasks = nlohmann::json::array();
  for (size_t t = 0; t < d.num_tasks(); ++t)
    tasks.push_back({{"task", d.tasks[t]}, {"pr_auc", Opt(s.test.pr_auc[t])}, {"roc_auc", Opt(s.test.roc_auc[t])}});
  return {{"hidden", s.hidden}, {"dropout", s.dropout}, {"epoch", s.epoch},
          {"valid_macro_pr_auc", Opt(s.valid.macro_pr_auc)},
          {"valid_macro_roc_auc", Opt(s.valid.macro_roc_auc)},
          {"test_macro_pr_auc", Opt(s.test.macro_pr_auc)},
          {"test_macro_roc_auc", Opt(s.test.macro_roc_auc)},
          {"test_defined_tasks", s.test.defined_tasks}, {"tasks", tasks},
          {"valid_curve", s.valid_curve}};
}

void WriteJson(const std::string& path, const nlohmann::json& j, bool force) {
  if (path.empty()) return;
  if (path == "-") {
    std::printf("%s\n", j.dump(2).c_str());
    return;
  }
  Check(WriteOutputFile(path, j.dump(2) + "\n", force));
}

struct ModeResult {
  Mode mode;
  std::vector<Selection> sel;
  double seconds;
};

ModeResult Run(Mode mode, const std::vector<PartnerInput>& inputs, const Grid& grid,
               const CommonArgs& a) {
  ExperimentOptions o;
  o.train.learning_rate = a.lr;
  o.train.batch_size = a.batch_size;
  o.train.seed = a.seed;
  ProgressBar bar(ModeName(mode));
  const size_t points = grid.hidden.size() * grid.dropout.size();
  o.progress = [&](Mode, size_t point, int e, int total) {
    bar.Update(point * total + e, points * total,
               mode == Mode::kFederated ? "rounds" : "epochs");
  };
  const auto t0 = std::chrono::steady_clock::now();
  auto sel = Unwrap(RunExperiment(mode, inputs, grid, o));
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return {mode, std::move(sel), s};
}

void WritePredictions(const std::string& path, bool force,
                      const std::vector<LoadedPartner>& partners,
                      const std::vector<ModeResult>& results) {
  if (path.empty()) return;
  OutputFile file = Unwrap(OutputFile::Create(path, force));
  std::ofstream f(file.temp_path());
  f << "partner,mode,source_row,smiles,task,label,prediction\n";
  for (const auto& r : results)
    for (size_t p = 0; p < partners.size(); ++p) {
      const auto& d = partners[p].data;
      const auto& rows = partners[p].split.test;
      const auto& pred = r.sel[p].test_predictions;
      for (size_t i = 0; i < rows.size(); ++i)
        for (size_t t = 0; t < d.num_tasks(); ++t) {
          const int8_t l = d.label(rows[i], t);
          if (l < 0) continue;
          f << partners[p].name << ',' << ModeName(r.mode) << ',' << d.source_rows[rows[i]] << ",\""
            << d.smiles[rows[i]] << "\"," << d.tasks[t] << ',' << int(l) << ','
            << pred[i * d.num_tasks() + t] << '\n';
        }
    }
  f.close();
  if (!f) throw Failure("cannot write " + path, 3);
  Check(file.Commit());
}

void PrintTable(const std::vector<LoadedPartner>& partners, const std::vector<ModeResult>& results) {
  for (size_t p = 0; p < partners.size(); ++p) {
    const auto& d = partners[p].data;
    std::printf("\n== %s: %zu test compounds\n", partners[p].name.c_str(), partners[p].split.test.size());
    std::printf("%-28s", "task");
    for (const auto& r : results) std::printf("  PR %-9s", ModeName(r.mode));
    for (const auto& r : results) std::printf("  ROC %-9s", ModeName(r.mode));
    std::printf("\n");
    for (size_t t = 0; t < d.num_tasks(); ++t) {
      std::printf("%-28.28s", d.tasks[t].c_str());
      for (const auto& r : results) std::printf("  %-12s", Fmt(r.sel[p].test.pr_auc[t]).c_str());
      for (const auto& r : results) std::printf("  %-13s", Fmt(r.sel[p].test.roc_auc[t]).c_str());
      std::printf("\n");
    }
    std::printf("%-28s", "MACRO");
    for (const auto& r : results) std::printf("  %-12s", Fmt(r.sel[p].test.macro_pr_auc).c_str());
    for (const auto& r : results) std::printf("  %-13s", Fmt(r.sel[p].test.macro_roc_auc).c_str());
    std::printf("\n");
    for (const auto& r : results) {
      std::string h;
      for (int x : r.sel[p].hidden) h += (h.empty() ? "" : "x") + std::to_string(x);
      std::printf("  %-9s chose hidden %s dropout %.2f epoch %d (valid macro PR-AUC %s)\n",
                  ModeName(r.mode), h.c_str(), r.sel[p].dropout, r.sel[p].epoch,
                  Fmt(r.sel[p].valid.macro_pr_auc).c_str());
    }
  }
}

nlohmann::json Summary(const std::vector<LoadedPartner>& partners,
                       const std::vector<ModeResult>& results, const CommonArgs& a, const Grid& g) {
  nlohmann::json j = {{"seed", a.seed}, {"bits", a.bits}, {"lr", a.lr}, {"batch_size", a.batch_size},
                      {"grid", {{"hidden", g.hidden}, {"dropout", g.dropout}, {"epochs", g.epochs}}}};
  for (const auto& r : results) j["seconds"][ModeName(r.mode)] = r.seconds;
  for (size_t p = 0; p < partners.size(); ++p) {
    nlohmann::json pj = {{"name", partners[p].name}, {"compounds", partners[p].data.size()},
                         {"tasks", partners[p].data.num_tasks()},
                         {"train", partners[p].split.train.size()},
                         {"valid", partners[p].split.valid.size()},
                         {"test", partners[p].split.test.size()}};
    for (const auto& r : results) pj[ModeName(r.mode)] = SelectionJson(r.sel[p], partners[p].data);
    j["partners"].push_back(pj);
  }
  return j;
}

std::vector<PartnerInput> Inputs(const std::vector<LoadedPartner>& ps) {
  std::vector<PartnerInput> in;
  for (const auto& p : ps) in.push_back({p.name, &p.data, p.split});
  return in;
}

Registrar reg("61-train", [](CLI::App& app) {
  auto* train = app.add_subcommand("train", kTrainCommandHelp);
  train->require_subcommand(1);

  // train local
  auto* local = train->add_subcommand("local", "Train one partner alone and report its test metrics");
  auto la = std::make_shared<CommonArgs>();
  auto data = std::make_shared<std::string>();
  auto save = std::make_shared<std::string>();
  local->add_option("--data", *data, "CSV(.gz): smiles column, then one column per assay")->required();
  AddUnsignedOption(local, "--epochs", &la->epochs, "Maximum epochs (best on validation is kept)", 1)
      ->default_str(std::to_string(la->epochs));
  local->add_option("--save", *save, "Retrain the selected model and save it as an artifact");
  AddCommon(local, la.get());
  local->callback([la, data, save] {
    SetTorchThreads(la->threads);
    const Grid g = ParseGrid(*la, la->epochs);
    CheckOutputs(*la, *save);
    std::vector<LoadedPartner> ps;
    ps.push_back(Load(*data, *la));
    std::vector<ModeResult> results{Run(Mode::kAlone, Inputs(ps), g, *la)};
    PrintTable(ps, results);
    WritePredictions(la->predictions, la->force, ps, results);
    nlohmann::json j = Summary(ps, results, *la, g);
    if (!save->empty()) {
      const Selection& s = results[0].sel[0];
      ExperimentOptions o;
      o.train.learning_rate = la->lr;
      o.train.batch_size = la->batch_size;
      o.train.seed = la->seed;
      Artifact art = Unwrap(TrainAloneArtifact(Inputs(ps)[0], s.hidden, s.dropout, s.epoch, o));
      OutputFile file = Unwrap(OutputFile::Create(*save, la->force));
      const Hash32 h = Unwrap(SaveArtifact(file.temp_path(), art));
      Check(file.Commit());
      std::printf("saved %s sha256 %s\n", save->c_str(), h.Hex().c_str());
      j["artifact"] = {{"path", *save}, {"sha256", h.Hex()}};
    }
    WriteJson(la->json, j, la->force);
  });

  // train simulate
  auto* sim = train->add_subcommand(
      "simulate", "Run a federation in one process (FedAvg on the trunk, heads private) and "
                  "compare each partner alone vs federated (vs centralised)");
  auto sa = std::make_shared<CommonArgs>();
  auto files = std::make_shared<std::vector<std::string>>();
  auto rounds = std::make_shared<int>(40);
  auto no_central = std::make_shared<bool>(false);
  sim->add_option("--partners", *files, "Partner CSV files, ','-separated")->required()->delimiter(',');
  AddUnsignedOption(sim, "--rounds", rounds.get(), "Federated rounds (one local epoch each); also "
                                                   "the epoch budget alone and centralised", 1)
      ->default_str(std::to_string(*rounds));
  sim->add_flag("--no-central", *no_central, "Skip the centralised upper bound");
  AddCommon(sim, sa.get());
  sim->callback([sa, files, rounds, no_central] {
    SetTorchThreads(sa->threads);
    const Grid g = ParseGrid(*sa, *rounds);
    CheckOutputs(*sa);
    std::vector<LoadedPartner> ps;
    for (const auto& f : *files) ps.push_back(Load(f, *sa));
    std::vector<ModeResult> results;
    results.push_back(Run(Mode::kAlone, Inputs(ps), g, *sa));
    results.push_back(Run(Mode::kFederated, Inputs(ps), g, *sa));
    if (!*no_central) results.push_back(Run(Mode::kCentral, Inputs(ps), g, *sa));
    for (const auto& r : results)
      std::fprintf(stderr, "%s: %.1f s\n", ModeName(r.mode), r.seconds);
    PrintTable(ps, results);
    WritePredictions(sa->predictions, sa->force, ps, results);
    WriteJson(sa->json, Summary(ps, results, *sa, g), sa->force);
  });
});

}  // namespace
}  // namespace fedledger::cli
