// The model: masked loss, exact compact rows, trunk import/export.
#include <catch2/catch.hpp>
#include <cmath>

#include "trainer/federated.h"
#include "trainer/model.h"

using namespace fedledger::trainer;

namespace {

// A tiny synthetic data set: bits 0..7 of 64; task 0 = bit 1 present; task 1 missing for
// the first half of the compounds.
Dataset Toy(size_t n) {
  Dataset d;
  d.tasks = {"t0", "t1"};
  d.num_bits = 64;
  for (size_t i = 0; i < n; ++i) {
    Featurized f;
    for (uint32_t b = 0; b < 8; ++b)
      if ((i >> (b % 4)) & 1 || b == (i % 8)) f.on_bits.push_back(b * 3 + (i % 2));
    std::sort(f.on_bits.begin(), f.on_bits.end());
    f.on_bits.erase(std::unique(f.on_bits.begin(), f.on_bits.end()), f.on_bits.end());
    const int8_t y0 = std::binary_search(f.on_bits.begin(), f.on_bits.end(), 3u) ? 1 : 0;
    const int8_t y1 = i < n / 2 ? -1 : static_cast<int8_t>(i % 3 == 0);
    std::vector<int8_t> labels = {y0, y1};
    d.Add("C", f, labels, i + 1);
  }
  return d;
}

ModelConfig ToyConfig() {
  ModelConfig c;
  c.input_bits = 64;
  c.hidden = {16};
  c.num_tasks = 2;
  c.dropout = 0.0f;
  return c;
}

}  // namespace

TEST_CASE("loss is binary cross-entropy averaged over present labels only", "[model]") {
  Dataset d = Toy(20);
  ModelConfig c = ToyConfig();
  TrainOptions o;
  o.batch_size = 64;  // one batch: the epoch's loss is the loss before the single update
  auto m = Model::Create(c, o, d, InitTrunk(c, 1), InitHead(c, 2));
  REQUIRE(m.ok());
  std::vector<size_t> rows(d.size());
  for (size_t i = 0; i < rows.size(); ++i) rows[i] = i;
  auto p = (*m)->Predict(rows);
  REQUIRE(p.ok());
  double sum = 0;
  size_t count = 0;
  for (size_t i = 0; i < d.size(); ++i)
    for (size_t t = 0; t < 2; ++t) {
      const int8_t y = d.label(i, t);
      if (y < 0) continue;
      const double q = (*p)[i * 2 + t];
      sum += -(y ? std::log(q) : std::log(1 - q));
      ++count;
    }
  auto loss = (*m)->TrainEpoch(rows);
  REQUIRE(loss.ok());
  CHECK(*loss == Approx(sum / count).epsilon(1e-5));
}

TEST_CASE("a task without labels gets no gradient", "[model]") {
  Dataset d = Toy(20);
  ModelConfig c = ToyConfig();
  std::vector<size_t> first_half = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9};  // task 1 missing there
  auto m = Model::Create(c, {}, d, InitTrunk(c, 1), InitHead(c, 2));
  REQUIRE(m.ok());
  Weights before = (*m)->Head();
  REQUIRE((*m)->TrainEpoch(first_half).ok());
  Weights after = (*m)->Head();
  const auto& wb = before.tensors[0].data;
  const auto& wa = after.tensors[0].data;
  for (size_t j = 0; j < 16; ++j) {
    CHECK(wa[16 + j] == wb[16 + j]);  // row of task 1: untouched
  }
  CHECK(after.tensors[1].data[1] == before.tensors[1].data[1]);
  CHECK(after.tensors[1].data[0] != before.tensors[1].data[0]);  // task 0 learns
}

TEST_CASE("compact rows are exact: same training as holding all D rows", "[model]") {
  Dataset d = Toy(40);
  ModelConfig c = ToyConfig();
  c.dropout = 0.3f;
  TrainOptions compact, full;
  compact.batch_size = full.batch_size = 8;
  compact.seed = full.seed = 5;
  full.compact_rows = false;
  const Weights init = InitTrunk(c, 3);
  auto a = Model::Create(c, compact, d, init, InitHead(c, 4));
  auto b = Model::Create(c, full, d, init, InitHead(c, 4));
  REQUIRE(a.ok());
  REQUIRE(b.ok());
  CHECK((*a)->trunk_rows() < (*b)->trunk_rows());
  CHECK((*b)->trunk_rows() == 64);
  std::vector<size_t> rows(d.size());
  for (size_t i = 0; i < rows.size(); ++i) rows[i] = i;
  for (int e = 0; e < 3; ++e) {
    REQUIRE((*a)->TrainEpoch(rows).ok());
    REQUIRE((*b)->TrainEpoch(rows).ok());
  }
  Weights ta = init, tb = init;
  REQUIRE((*a)->ExportTrunk(&ta).ok());
  REQUIRE((*b)->ExportTrunk(&tb).ok());
  CHECK(ta.tensors[0].data == tb.tensors[0].data);
  CHECK(ta.tensors[1].data == tb.tensors[1].data);
  CHECK(*(*a)->Predict(rows) == *(*b)->Predict(rows));
  // Rows of bits that never occur are left exactly as initialised.
  std::vector<bool> seen(64, false);
  for (uint32_t bit : d.fp_bits) seen[bit] = true;
  for (uint32_t bit = 0; bit < 64; ++bit)
    if (!seen[bit])
      for (int j = 0; j < 16; ++j) CHECK(ta.tensors[0].data[bit * 16 + j] == init.tensors[0].data[bit * 16 + j]);
}

TEST_CASE("the fused trunk Adam pass is bit-identical to scatter then Adam", "[model]") {
  // Batches where several compounds share bits (multi-entry lists), rows untouched in a step
  // but with moments (the zero-gradient update), rows never touched (skipped), dropout on,
  // compact and full rows, and a two-layer trunk.
  Dataset d = Toy(50);
  for (bool compact : {true, false})
    for (std::vector<int> hidden : {std::vector<int>{16}, std::vector<int>{12, 8}}) {
      ModelConfig c = ToyConfig();
      c.hidden = hidden;
      c.dropout = 0.25f;
      TrainOptions fused, reference;
      fused.batch_size = reference.batch_size = 7;
      fused.seed = reference.seed = 11;
      fused.compact_rows = reference.compact_rows = compact;
      reference.fused_sparse_adam = false;
      const Weights init = InitTrunk(c, 6);
      auto a = Model::Create(c, fused, d, init, InitHead(c, 8));
      auto b = Model::Create(c, reference, d, init, InitHead(c, 8));
      REQUIRE(a.ok());
      REQUIRE(b.ok());
      std::vector<size_t> rows(d.size());
      for (size_t i = 0; i < rows.size(); ++i) rows[i] = i;
      std::vector<size_t> half(rows.begin(), rows.begin() + 20);  // some bits skip epochs
      for (int e = 0; e < 4; ++e) {
        auto& r = e % 2 ? half : rows;
        auto la = (*a)->TrainEpoch(r);
        auto lb = (*b)->TrainEpoch(r);
        REQUIRE(la.ok());
        REQUIRE(lb.ok());
        CHECK(*la == *lb);
      }
      Weights ta = init, tb = init;
      REQUIRE((*a)->ExportTrunk(&ta).ok());
      REQUIRE((*b)->ExportTrunk(&tb).ok());
      REQUIRE(ta.tensors.size() == tb.tensors.size());
      for (size_t i = 0; i < ta.tensors.size(); ++i)
        CHECK(ta.tensors[i].data == tb.tensors[i].data);
      CHECK(ta.tensors[0].data != init.tensors[0].data);
      const Weights ha = (*a)->Head(), hb = (*b)->Head();
      for (size_t i = 0; i < ha.tensors.size(); ++i)
        CHECK(ha.tensors[i].data == hb.tensors[i].data);
    }
}

TEST_CASE("model refuses mismatched shapes and data", "[model]") {
  Dataset d = Toy(10);
  ModelConfig c = ToyConfig();
  ModelConfig other = c;
  other.hidden = {8};
  CHECK_FALSE(Model::Create(c, {}, d, InitTrunk(other, 1), InitHead(c, 2)).ok());
  CHECK_FALSE(Model::Create(c, {}, d, InitTrunk(c, 1), InitHead(other, 2)).ok());
  ModelConfig wide = c;
  wide.input_bits = 128;
  CHECK_FALSE(Model::Create(wide, {}, d, InitTrunk(wide, 1), InitHead(wide, 2)).ok());
  auto m = Model::Create(c, {}, d, InitTrunk(c, 1), InitHead(c, 2));
  REQUIRE(m.ok());
  std::vector<size_t> bad = {99};
  CHECK_FALSE((*m)->TrainEpoch(bad).ok());
  CHECK_FALSE((*m)->ImportTrunk(InitTrunk(other, 1)).ok());
}

TEST_CASE("a federated round returns local minus global, zero outside own bits", "[federated]") {
  Dataset d = Toy(30);
  ModelConfig c = ToyConfig();
  FoldSplit split;
  for (size_t i = 0; i < 30; ++i) (i < 24 ? split.train : split.valid).push_back(i);
  const Weights global = InitTrunk(c, 9);
  auto p = PartnerTrainer::Create(c, {}, d, split, global, 1);
  REQUIRE(p.ok());
  TrunkUpdate u;
  REQUIRE((*p)->RunRound(global, 2, &u).ok());
  CHECK(u.num_samples == 24);
  REQUIRE(u.delta.CheckSameLayout(global).ok());
  Weights local = global;
  REQUIRE((*p)->model().ExportTrunk(&local).ok());
  std::vector<bool> seen(64, false);
  for (uint32_t bit : d.fp_bits) seen[bit] = true;
  size_t nonzero = 0;
  for (uint32_t bit = 0; bit < 64; ++bit)
    for (int j = 0; j < 16; ++j) {
      const size_t k = bit * 16 + j;
      const float delta = u.delta.tensors[0].data[k];
      if (!seen[bit]) CHECK(delta == 0.0f);
      CHECK(delta == local.tensors[0].data[k] - global.tensors[0].data[k]);
      nonzero += delta != 0.0f;
    }
  CHECK(nonzero > 0);
}
