// fedledger train bench: time training epochs of one model on one data set, for the
// side-by-side comparison with Python PyTorch (bench/trainer/run_speed.sh), and dump the
// featurised data so the Python peer trains on exactly the same inputs.
#include <sys/resource.h>
#include <time.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>

#include "tools/command.h"
#include "tools/flags.h"
#include "tools/output_file.h"
#include "trainer/dataset.h"
#include "trainer/model.h"

namespace fedledger::cli {
namespace {

using namespace fedledger::trainer;

struct BenchArgs {
  std::string data, dump;
  int epochs = 5, hidden = 1024, batch_size = 128, threads = 1;
  float dropout = 0.2f, lr = 1e-3f;
  uint32_t bits = 32768;
  bool full_rows = false, unfused = false, force = false;
  uint64_t seed = 0;
};

double CpuSeconds() {
  timespec t{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
  return static_cast<double>(t.tv_sec) + 1e-9 * static_cast<double>(t.tv_nsec);
}

double PeakRssMb() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_maxrss) / 1024.0;
}

void Dump(const Dataset& d, const std::string& path, bool force) {
  OutputFile file = Unwrap(OutputFile::Create(path, force));
  std::ofstream f(file.temp_path());
  f << nlohmann::json({{"num_bits", d.num_bits}, {"num_tasks", d.num_tasks()}, {"compounds", d.size()}}).dump()
    << "\n";
  for (size_t i = 0; i < d.size(); ++i) {
    bool first = true;
    for (uint32_t b : d.bits(i)) {
      f << (first ? "" : " ") << b;
      first = false;
    }
    f << ';';
    for (size_t t = 0; t < d.num_tasks(); ++t) f << (t ? "," : "") << int(d.label(i, t));
    f << '\n';
  }
  f.close();
  if (!f) throw Failure("cannot write " + path, 3);
  Check(file.Commit());
}

void RunBench(const BenchArgs& a) {
  SetTorchThreads(a.threads);
  if (!a.dump.empty()) Check(CheckOutputPath(a.dump, a.force));  // before the slow load
  LoadOptions lo;
  lo.featurize.bits = a.bits;
  Dataset d = Unwrap(LoadDataset(a.data, lo, nullptr));
  if (!a.dump.empty()) {
    Dump(d, a.dump, a.force);
    std::fprintf(stderr, "wrote %s (%zu compounds)\n", a.dump.c_str(), d.size());
    if (a.epochs == 0) return;
  }
  ModelConfig c;
  c.input_bits = a.bits;
  c.hidden = {a.hidden};
  c.num_tasks = d.num_tasks();
  c.dropout = a.dropout;
  TrainOptions o;
  o.batch_size = a.batch_size;
  o.learning_rate = a.lr;
  o.compact_rows = !a.full_rows;
  o.fused_sparse_adam = !a.unfused;
  o.seed = a.seed;
  const double rss_before = PeakRssMb();
  auto model = Unwrap(Model::Create(c, o, d, InitTrunk(c, a.seed), InitHead(c, a.seed)));
  std::vector<size_t> rows(d.size());
  for (size_t i = 0; i < rows.size(); ++i) rows[i] = i;
  std::vector<double> secs, cpu, losses;
  for (int e = 0; e < a.epochs; ++e) {
    const auto t0 = std::chrono::steady_clock::now();
    const double c0 = CpuSeconds();
    losses.push_back(Unwrap(model->TrainEpoch(rows)));
    cpu.push_back(CpuSeconds() - c0);
    secs.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  }
  std::vector<double> sorted = secs;
  std::sort(sorted.begin(), sorted.end());
  const double median = sorted[sorted.size() / 2];
  std::vector<double> sorted_cpu(cpu.begin() + (cpu.size() > 1 ? 1 : 0), cpu.end());
  std::sort(sorted_cpu.begin(), sorted_cpu.end());
  const double median_cpu = sorted_cpu[sorted_cpu.size() / 2];
  // The dense work no exact-Adam step can avoid: one Adam pass over every trunk row with
  // moments (after the first epoch: all held rows), per step, measured here, in this process.
  const size_t steps = (d.size() + static_cast<size_t>(a.batch_size) - 1) / static_cast<size_t>(a.batch_size);
  const double pass = DenseAdamPassSeconds(model->trunk_rows(), static_cast<size_t>(a.hidden), 7);
  const double floor_epoch = pass * static_cast<double>(steps);
  nlohmann::json j = {{"impl", "libtorch-cpp"},
                      {"rows", a.full_rows ? "full" : "compact"},
                      {"trunk_adam", a.unfused ? "scatter-then-adam" : "fused"},
                      {"trunk_rows", model->trunk_rows()},
                      {"compounds", d.size()},
                      {"hidden", a.hidden},
                      {"batch_size", a.batch_size},
                      {"threads", a.threads},
                      {"epoch_seconds", secs},
                      {"epoch_cpu_seconds", cpu},
                      {"median_epoch_s", median},
                      {"compounds_per_s", static_cast<double>(d.size()) / median},
                      {"loss", losses},
                      {"median_epoch_cpu_s_after_first", median_cpu},
                      {"steps_per_epoch", steps},
                      {"adam_pass_cpu_s", pass},
                      {"adam_pass_gb_per_s", 24.0 * static_cast<double>(model->trunk_rows()) * a.hidden / pass / 1e9},
                      {"dense_floor_epoch_cpu_s", floor_epoch},
                      {"epoch_cpu_over_floor", median_cpu / floor_epoch},
                      {"peak_rss_mb", PeakRssMb()},
                      {"rss_before_model_mb", rss_before}};
  std::printf("%s\n", j.dump().c_str());
}

Registrar reg("62-train-bench", [](CLI::App& app) {
  CLI::App* train = app.get_subcommand("train");  // registered by train.cc (order key 61)
  auto* cmd = train->add_subcommand("bench", "Time training epochs (for the PyTorch comparison)");
  auto a = std::make_shared<BenchArgs>();
  cmd->add_option("--data", a->data, "CSV(.gz) data set")->required();
  cmd->add_option("--dump", a->dump, "Also write the featurised data for bench/trainer/torch_peer.py");
  AddForceFlag(cmd, &a->force);
  AddUnsignedOption(cmd, "--epochs", &a->epochs, "Epochs to time (0: only dump)")
      ->default_str(std::to_string(a->epochs));
  AddUnsignedOption(cmd, "--hidden", &a->hidden, "", 1)->default_str(std::to_string(a->hidden));
  cmd->add_option("--dropout", a->dropout)->capture_default_str();
  cmd->add_option("--lr", a->lr)->capture_default_str();
  AddUnsignedOption(cmd, "--batch-size", &a->batch_size, "", 1)
      ->default_str(std::to_string(a->batch_size));
  AddUnsignedOption(cmd, "--threads", &a->threads, "", 1, 1024)
      ->default_str(std::to_string(a->threads));
  AddUnsignedOption(cmd, "--bits", &a->bits, "")->default_str(std::to_string(a->bits));
  AddUnsignedOption(cmd, "--seed", &a->seed, "")->default_str(std::to_string(a->seed));
  cmd->add_flag("--full-rows", a->full_rows, "Hold all D trunk rows instead of the occurring bits");
  cmd->add_flag("--unfused", a->unfused,
                "Reference trunk step: scatter the gradient, then Adam, then zero-fill "
                "(bit-identical to the default fused pass; for timing the two)");
  cmd->callback([a] { RunBench(*a); });
});

}  // namespace
}  // namespace fedledger::cli
