// Featurisation known answers: on-bits and scaffolds computed with RDKit's Python API
// (Chem.MolFromSmiles, rdMolStandardize.Cleanup, LargestFragmentChooser().choose,
// AllChem.GetMorganFingerprintAsBitVect(m, 2, nBits), MurckoScaffold.GetScaffoldForMol),
// RDKit 2022.09.3.
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstdio>
#include <fstream>

#include "trainer/dataset.h"
#include "trainer/featurize.h"

using namespace fedledger::trainer;

namespace {
struct Known {
  const char* smiles;
  std::vector<uint32_t> bits32768;
  std::vector<uint32_t> bits1024;
  const char* scaffold;
};
}  // namespace

TEST_CASE("Morgan radius-2 bits match RDKit's own output", "[featurize]") {
  const std::vector<Known> known = {
      {"c1ccccc1O",
       {3798, 4485, 12353, 13095, 13376, 15535, 20034, 21860, 23273, 24401, 32498},
       {64, 65, 175, 356, 389, 578, 726, 745, 754, 807, 849},
       "c1ccccc1"},
      {"CC(=O)Oc1ccccc1C(=O)O",
       {3516, 3777, 3798, 6066, 7179, 12744, 13095, 13376, 15535, 18301, 21860, 21927, 22096,
        23437, 23585, 24401, 25271, 26351, 27013, 27431, 28615, 31370, 31737, 31767, 32130},
       {11, 23, 33, 64, 175, 356, 386, 389, 423, 444, 456, 592, 650, 695, 705, 726, 751, 807,
        849, 893, 909, 946, 967, 1017},
       "c1ccccc1"},
      {"CCO", {3458, 6438, 13095, 18654, 22608, 23585}, {33, 80, 222, 294, 386, 807}, ""},
      // Salts: the largest fragment is kept.
      {"[Na+].[O-]C(=O)c1ccccc1",
       {3798, 4485, 6081, 7712, 13376, 13514, 15535, 15721, 18301, 21860, 24401, 25755, 27431,
        29800, 31370, 31435},
       {64, 104, 155, 175, 202, 356, 361, 389, 544, 650, 715, 726, 807, 849, 893, 961},
       "c1ccccc1"},
      {"CCN(CC)CC.Cl", {3609, 4029, 6438, 14587, 17316, 22608, 23585, 27505},
       {33, 80, 251, 294, 537, 881, 932, 957}, ""},
  };
  for (const auto& k : known) {
    INFO(k.smiles);
    auto f = Featurize(k.smiles);
    REQUIRE(f.ok());
    CHECK(f->on_bits == k.bits32768);
    CHECK(f->scaffold == k.scaffold);
    FeaturizeOptions small;
    small.bits = 1024;
    auto g = Featurize(k.smiles, small);
    REQUIRE(g.ok());
    CHECK(g->on_bits == k.bits1024);
  }
}

TEST_CASE("unparseable SMILES are errors, not crashes", "[featurize]") {
  for (const char* bad : {"C1CC", "not a molecule", "c1cccc1", ""}) {
    INFO(bad);
    auto f = Featurize(bad);
    CHECK_FALSE(f.ok());
  }
}

TEST_CASE("loading a CSV skips and reports bad rows by number", "[featurize][dataset]") {
  char path[] = "/tmp/fl_trainer_csvXXXXXX";
  int fd = mkstemp(path);
  REQUIRE(fd >= 0);
  close(fd);
  {
    std::ofstream f(path);
    f << "smiles,a,b\nCCO,1,\nC1CC,0,1\nc1ccccc1O,,0\nCCN,1.0,0.0\n";
  }
  LoadReport report;
  auto d = LoadDataset(path, {}, &report);
  REQUIRE(d.ok());
  CHECK(report.rows == 4);
  REQUIRE(report.skipped.size() == 1);
  CHECK(report.skipped[0].rfind("row 2:", 0) == 0);
  REQUIRE(d->size() == 3);
  CHECK(d->tasks == std::vector<std::string>{"a", "b"});
  CHECK(d->label(0, 0) == 1);
  CHECK(d->label(0, 1) == -1);
  CHECK(d->label(1, 0) == -1);
  CHECK(d->label(1, 1) == 0);
  CHECK(d->label(2, 0) == 1);
  CHECK(d->source_rows == std::vector<size_t>{1, 3, 4});
  CHECK(d->CountLabels() == 4);
  {
    std::ofstream f(path);
    f << "smiles,a\nCCO,2\n";
  }
  CHECK_FALSE(LoadDataset(path, {}, nullptr).ok());
  std::remove(path);
}
