// End to end on real data (Tox21, first rows): training must beat trivial baselines, and the
// CLI must split, simulate a federation and report.
#include <catch2/catch.hpp>
#include <cstdlib>
#include <fstream>
#include <nlohmann/json.hpp>

#include "trainer/csv.h"
#include "trainer/dataset.h"
#include "trainer/experiment.h"
#include "trainer/split.h"

using namespace fedledger::trainer;

namespace {

const std::string kTox21 = std::string(FEDLEDGER_SOURCE_DIR) + "/../shared/data/tox21.csv.gz";

CsvTable Head(size_t rows) {
  auto t = ReadCsv(kTox21);
  REQUIRE(t.ok());
  t->rows.resize(rows);
  return *t;
}

}  // namespace

TEST_CASE("training on Tox21 beats trivial baselines on a scaffold test fold", "[e2e]") {
  auto d = DatasetFromTable(Head(2500), {}, nullptr);
  REQUIRE(d.ok());
  PartnerInput p{"tox21", &*d, ScaffoldSplit(d->scaffolds, 0.1, 0.2, 0)};
  Grid g;
  g.hidden = {{128}};
  g.dropout = {0.2f};
  g.epochs = 12;
  ExperimentOptions o;
  o.train.seed = 0;
  auto r = RunExperiment(Mode::kAlone, {p}, g, o);
  REQUIRE(r.ok());
  const Selection& s = (*r)[0];
  // Trivial baselines: a constant score has ROC-AUC 0.5 and PR-AUC equal to the active rate.
  double prevalence = 0;
  int tasks = 0;
  for (size_t t = 0; t < d->num_tasks(); ++t) {
    if (!s.test.pr_auc[t]) continue;
    size_t pos = 0, n = 0;
    for (size_t i : p.split.test)
      if (d->label(i, t) >= 0) {
        ++n;
        pos += d->label(i, t);
      }
    prevalence += static_cast<double>(pos) / n;
    ++tasks;
  }
  prevalence /= tasks;
  INFO("macro ROC " << *s.test.macro_roc_auc << " PR " << *s.test.macro_pr_auc
                    << " prevalence " << prevalence);
  CHECK(*s.test.macro_roc_auc > 0.62);
  CHECK(*s.test.macro_pr_auc > 1.5 * prevalence);
  CHECK(s.epoch >= 1);
  CHECK(s.valid_curve.size() == 12);
}

TEST_CASE("CLI: data split and train simulate", "[e2e][cli]") {
  const std::string dir = "/tmp/fl_trainer_cli";
  REQUIRE(std::system(("rm -rf " + dir + " && mkdir -p " + dir).c_str()) == 0);
  REQUIRE(WriteCsv(dir + "/small.csv.gz", Head(900)).ok());
  const std::string bin = FEDLEDGER_BINARY;
  REQUIRE(std::system((bin + " data split --in " + dir + "/small.csv.gz --partners 2 --out " + dir +
                       "/parts --seed 1 > " + dir + "/split.txt 2>&1").c_str()) == 0);
  REQUIRE(std::system((bin + " train simulate --partners " + dir + "/parts/partner1.csv.gz," + dir +
                       "/parts/partner2.csv.gz --rounds 2 --hidden 32 --json " + dir +
                       "/out.json --predictions " + dir + "/pred.csv > " + dir + "/sim.txt 2>&1")
                          .c_str()) == 0);
  std::ifstream f(dir + "/out.json");
  nlohmann::json j = nlohmann::json::parse(f);
  REQUIRE(j["partners"].size() == 2);
  for (const auto& p : j["partners"]) {
    for (const char* mode : {"alone", "federated", "central"}) {
      INFO(mode);
      REQUIRE(p.contains(mode));
      CHECK(p[mode]["tasks"].size() == 12);
      CHECK(p[mode]["test_macro_pr_auc"].is_number());
    }
  }
  std::ifstream pred(dir + "/pred.csv");
  std::string header;
  std::getline(pred, header);
  CHECK(header == "partner,mode,source_row,smiles,task,label,prediction");
  // A missing input file is a usage error, not a crash.
  CHECK(std::system((bin + " train local --data " + dir + "/nope.csv > /dev/null 2>&1").c_str()) != 0);
}
