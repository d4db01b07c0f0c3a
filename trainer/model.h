// The multitask model: a shared trunk over sparse fingerprints and a private head.
//
//   h0 = dropout(relu(x W0 + b0))           x: the compound's D fingerprint bits (0/1)
//   h_k = dropout(relu(h_{k-1} W_k^T + b_k)) for further trunk layers
//   logits = h_last Wh^T + bh               one output per task of this partner
//   loss = mean over present labels of binary cross-entropy with logits (masked)
//
// Trunk tensors: "trunk.0.weight" [D, H0] (one row per fingerprint bit, as an embedding
// table), "trunk.0.bias" [H0], "trunk.k.weight" [Hk, H(k-1)], "trunk.k.bias" [Hk].
// Head tensors: "head.weight" [T, H_last], "head.bias" [T]. Initialisation follows PyTorch's
// nn.Linear default: U(-1/sqrt(fan_in), 1/sqrt(fan_in)) for weights and biases, fan_in = D
// for the first layer.
//
// Optimiser: Adam with PyTorch's semantics (torch.optim.Adam, no weight decay, no amsgrad)
// over every parameter, including the rows of W0 that got no gradient in a step (their
// moments decay and they keep moving, exactly as in dense Adam). Two exact savings:
//  - compact rows: W0 is held only for the bits that occur in this partner's data set; the
//    other rows never get a gradient, so their Adam moments stay zero and dense Adam never
//    moves them. Importing a trunk gathers those rows; exporting scatters them back into the
//    full D x H0 shape. Nothing about which bits occur leaves the Model.
//  - rows whose Adam moments are still exactly zero (never touched yet) are skipped.
// The first layer's gradient is never materialised: one pass over the held rows sums, for each
// row the batch touched, the gradient rows of the compounds carrying its bit (in batch order,
// so the sums are those of a scatter) into a small buffer and applies Adam there; untouched
// rows with moments get the zero-gradient update in the same pass. Optimiser buffers are
// allocated once and reused every step.
//
// Not thread-safe; one Model per thread. The torch thread count is process-wide
// (SetTorchThreads).
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "ledger/status.h"
#include "trainer/dataset.h"
#include "trainer/weights.h"

namespace fedledger::trainer {

struct ModelConfig {
  uint32_t input_bits = 32768;   // D, shared by all partners
  std::vector<int> hidden = {512};  // trunk layer sizes; the first is the sparse layer
  size_t num_tasks = 0;          // outputs of this partner's head
  float dropout = 0.2f;          // after every trunk layer, training only
};

struct TrainOptions {
  float learning_rate = 1e-3f;
  int batch_size = 128;
  float beta1 = 0.9f, beta2 = 0.999f, eps = 1e-8f;
  bool compact_rows = true;  // see above; false holds all D rows (for comparison)
  // true: the fused pass above. false: the reference path it replaced (scatter the gradient
  // into a rows x H0 buffer, then an Adam pass, then zero-fill the touched rows); both give
  // bit-identical weights. Kept for the exactness test and `train bench --unfused`.
  bool fused_sparse_adam = true;
  uint64_t seed = 0;         // batch order and dropout masks
};

// The floor of a training step under exact (dense) Adam: the CPU seconds of one fused Adam
// pass with zero gradient over rows x cols floats (read and write w, m and v: 24 bytes per
// element), the pass every step must make over every trunk row that has Adam moments. The
// median of `repeats` passes over buffers allocated and faulted in beforehand.
double DenseAdamPassSeconds(size_t rows, size_t cols, int repeats);

// Sets the process-wide torch intra-op thread count.
void SetTorchThreads(int threads);

Weights InitTrunk(const ModelConfig& config, uint64_t seed);
Weights InitHead(const ModelConfig& config, uint64_t seed);

class Model {
 public:
  // `data` must outlive the Model; its bits decide the compact rows. `trunk` and `head` must
  // have the layouts above for `config` (checked).
  static Result<std::unique_ptr<Model>> Create(const ModelConfig& config,
                                               const TrainOptions& options, const Dataset& data,
                                               const Weights& trunk, const Weights& head);
  ~Model();
  Model(const Model&) = delete;
  Model& operator=(const Model&) = delete;

  // Replaces the trunk's values (a new global trunk); optimiser state is kept.
  Status ImportTrunk(const Weights& trunk);
  // Writes this model's trunk rows into `trunk`, which must have the full layout; rows of bits
  // that never occur in the data are left as they are.
  Status ExportTrunk(Weights* trunk) const;
  // delta = local trunk - base, full layout; zero outside this partner's rows. Reuses
  // delta's buffers when it already has the right layout.
  Status TrunkDelta(const Weights& base, Weights* delta) const;
  Weights Head() const;

  // One pass over `rows` (indices into data) in a seeded random order; returns mean loss.
  Result<double> TrainEpoch(std::span<const size_t> rows);
  // Probabilities, row-major rows.size() x num_tasks, dropout off.
  Result<std::vector<float>> Predict(std::span<const size_t> rows) const;

  const ModelConfig& config() const;
  size_t trunk_rows() const;  // rows of W0 held (compact or D)
  int64_t steps() const;

 private:
  struct Impl;
  explicit Model(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace fedledger::trainer
