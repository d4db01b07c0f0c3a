// Named float32 tensors: the torch-free currency of the trainer's public API. A model's trunk,
// a private head and a trunk update (delta) are all `Weights`. Plain value types; not
// thread-safe for concurrent mutation.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "ledger/status.h"

namespace fedledger::trainer {

struct Tensor {
  std::string name;
  std::vector<int64_t> shape;  // row-major; data.size() == product of shape
  std::vector<float> data;

  size_t numel() const;
};

struct Weights {
  std::vector<Tensor> tensors;  // order is significant (it is the artifact order)

  const Tensor* Find(const std::string& name) const;
  Tensor* Find(const std::string& name);
  size_t numel() const;
  // OK iff both hold the same names and shapes in the same order; otherwise says which differs.
  Status CheckSameLayout(const Weights& other) const;
};

// A zero-filled Weights with the layout of `like`.
Weights ZerosLike(const Weights& like);
// *target += scale * delta, element by element. REQUIRES: same layout (checked; error if not).
Status AddScaled(Weights* target, const Weights& delta, float scale);

}  // namespace fedledger::trainer
