#include "trainer/weights.h"

namespace fedledger::trainer {

size_t Tensor::numel() const {
  size_t n = 1;
  for (int64_t d : shape) n *= static_cast<size_t>(d);
  return n;
}

const Tensor* Weights::Find(const std::string& name) const {
  for (const Tensor& t : tensors)
    if (t.name == name) return &t;
  return nullptr;
}

Tensor* Weights::Find(const std::string& name) {
  for (Tensor& t : tensors)
    if (t.name == name) return &t;
  return nullptr;
}

size_t Weights::numel() const {
  size_t n = 0;
  for (const Tensor& t : tensors) n += t.data.size();
  return n;
}

Status Weights::CheckSameLayout(const Weights& other) const {
  if (tensors.size() != other.tensors.size())
    return Status::InvalidArgument("weights hold " + std::to_string(tensors.size()) +
                                   " tensors, expected " + std::to_string(other.tensors.size()));
  for (size_t i = 0; i < tensors.size(); ++i) {
    const Tensor& a = tensors[i];
    const Tensor& b = other.tensors[i];
    if (a.name != b.name)
      return Status::InvalidArgument("tensor " + std::to_string(i) + " is '" + a.name +
                                     "', expected '" + b.name + "'");
    if (a.shape != b.shape || a.data.size() != b.data.size())
      return Status::InvalidArgument("tensor '" + a.name + "' has a different shape");
  }
  return Status::Ok();
}

Weights ZerosLike(const Weights& like) {
  Weights out;
  out.tensors.reserve(like.tensors.size());
  for (const Tensor& t : like.tensors)
    out.tensors.push_back(Tensor{t.name, t.shape, std::vector<float>(t.data.size(), 0.0f)});
  return out;
}

Status AddScaled(Weights* target, const Weights& delta, float scale) {
  FL_TRY(target->CheckSameLayout(delta));
  for (size_t i = 0; i < delta.tensors.size(); ++i) {
    float* dst = target->tensors[i].data.data();
    const float* src = delta.tensors[i].data.data();
    const size_t n = delta.tensors[i].data.size();
    for (size_t k = 0; k < n; ++k) dst[k] += scale * src[k];
  }
  return Status::Ok();
}

}  // namespace fedledger::trainer
