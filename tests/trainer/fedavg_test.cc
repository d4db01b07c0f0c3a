#include <catch2/catch.hpp>

#include "trainer/federated.h"
#include "trainer/model.h"

using namespace fedledger::trainer;

namespace {
Weights Delta(uint64_t seed) {
  ModelConfig c;
  c.input_bits = 1000;
  c.hidden = {7, 5};
  return InitTrunk(c, seed);
}
}  // namespace

TEST_CASE("FedAvg of identical updates equals the update", "[federated]") {
  TrunkUpdate u{Delta(1), 37, 0};
  TrunkUpdate v{Delta(1), 11, 0};
  TrunkUpdate w{Delta(1), 2, 0};
  std::vector<const TrunkUpdate*> ups = {&u, &v, &w};
  Weights avg;
  REQUIRE(FedAvg(ups, &avg).ok());
  REQUIRE(avg.CheckSameLayout(u.delta).ok());
  for (size_t i = 0; i < avg.tensors.size(); ++i) CHECK(avg.tensors[i].data == u.delta.tensors[i].data);
}

TEST_CASE("FedAvg weights updates by sample count", "[federated]") {
  TrunkUpdate a{Delta(1), 3, 0};
  TrunkUpdate b{Delta(2), 1, 0};
  std::vector<const TrunkUpdate*> ups = {&a, &b};
  Weights avg;
  REQUIRE(FedAvg(ups, &avg).ok());
  for (size_t i = 0; i < avg.tensors.size(); ++i)
    for (size_t k = 0; k < avg.tensors[i].data.size(); ++k)
      CHECK(avg.tensors[i].data[k] ==
            Approx(0.75 * a.delta.tensors[i].data[k] + 0.25 * b.delta.tensors[i].data[k]).margin(1e-7));
}

TEST_CASE("FedAvg refuses empty, weightless or mismatched updates", "[federated]") {
  Weights avg;
  CHECK_FALSE(FedAvg(std::vector<const TrunkUpdate*>{}, &avg).ok());
  TrunkUpdate zero{Delta(1), 0, 0};
  CHECK_FALSE(FedAvg(std::vector<const TrunkUpdate*>{&zero}, &avg).ok());
  ModelConfig c;
  c.input_bits = 1000;
  c.hidden = {7};
  TrunkUpdate a{Delta(1), 1, 0}, other{InitTrunk(c, 1), 1, 0};
  CHECK_FALSE(FedAvg(std::vector<const TrunkUpdate*>{&a, &other}, &avg).ok());
}
