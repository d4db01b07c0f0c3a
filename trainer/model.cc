// LibTorch adapter for the model. Torch computes the dense part (bias, ReLU, dropout, further
// layers, head, masked BCE and its backward); the sparse first layer's gather is our loop, its
// gradient and Adam step are one fused pass over the held rows, and Adam over the dense
// parameters is the same fused kernel over preallocated buffers.
#include "trainer/model.h"

#include <torch/torch.h>

#include <ATen/Parallel.h>
#include <algorithm>
#include <cmath>
#include <cstring>
#include <random>

#include <dlfcn.h>
#include <time.h>

namespace fedledger::trainer {
namespace {

std::string TrunkName(size_t k, const char* what) {
  return "trunk." + std::to_string(k) + "." + what;
}

Tensor Uniform(std::string name, std::vector<int64_t> shape, float bound, std::mt19937_64* rng) {
  Tensor t{std::move(name), std::move(shape), {}};
  t.data.resize(t.numel());
  std::uniform_real_distribution<float> d(-bound, bound);
  for (float& x : t.data) x = d(*rng);
  return t;
}

struct AdamCoeffs {
  float beta1, beta2, one_minus_beta1, one_minus_beta2, step_size, inv_sqrt_bc2, eps;
};

// One fused Adam pass (torch.optim.Adam semantics) over n elements; g == nullptr means a zero
// gradient. Compiled for AVX2 too and picked at run time.
__attribute__((target_clones("avx2", "default"))) void AdamKernel(
    float* __restrict w, const float* __restrict g, float* __restrict m, float* __restrict v,
    size_t n, AdamCoeffs c) {
  if (g) {
    for (size_t i = 0; i < n; ++i) {
      const float mi = c.beta1 * m[i] + c.one_minus_beta1 * g[i];
      const float vi = c.beta2 * v[i] + c.one_minus_beta2 * g[i] * g[i];
      m[i] = mi;
      v[i] = vi;
      w[i] -= c.step_size * mi / (std::sqrt(vi) * c.inv_sqrt_bc2 + c.eps);
    }
  } else {
    for (size_t i = 0; i < n; ++i) {
      const float mi = c.beta1 * m[i];
      const float vi = c.beta2 * v[i];
      m[i] = mi;
      v[i] = vi;
      w[i] -= c.step_size * mi / (std::sqrt(vi) * c.inv_sqrt_bc2 + c.eps);
    }
  }
}

// dst += src over n floats.
__attribute__((target_clones("avx2", "default"))) void AddTo(float* __restrict dst,
                                                             const float* __restrict src,
                                                             size_t n) {
  for (size_t i = 0; i < n; ++i) dst[i] += src[i];
}

}  // namespace

double DenseAdamPassSeconds(size_t rows, size_t cols, int repeats) {
  const size_t n = rows * cols;
  std::vector<float> w(n, 0.01f), m(n, 1e-4f), v(n, 1e-8f);
  const AdamCoeffs c{0.9f, 0.999f, 0.1f, 0.001f, 1e-3f, 1.0f, 1e-8f};
  AdamKernel(w.data(), nullptr, m.data(), v.data(), n, c);  // warm: pages and caches
  std::vector<double> t;
  for (int i = 0; i < std::max(1, repeats); ++i) {
    timespec a{}, b{};
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &a);
    AdamKernel(w.data(), nullptr, m.data(), v.data(), n, c);
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &b);
    t.push_back(static_cast<double>(b.tv_sec - a.tv_sec) + 1e-9 * static_cast<double>(b.tv_nsec - a.tv_nsec));
  }
  std::sort(t.begin(), t.end());
  return t[t.size() / 2];
}

namespace {

Status CheckTensor(const Weights& w, size_t index, const std::string& name,
                   const std::vector<int64_t>& shape) {
  if (index >= w.tensors.size() || w.tensors[index].name != name)
    return Status::InvalidArgument("expected tensor '" + name + "' at position " +
                                   std::to_string(index));
  const Tensor& t = w.tensors[index];
  if (t.shape != shape || t.data.size() != t.numel())
    return Status::InvalidArgument("tensor '" + name + "' has the wrong shape for this model");
  return Status::Ok();
}

std::vector<std::pair<std::string, std::vector<int64_t>>> TrunkLayout(const ModelConfig& c) {
  std::vector<std::pair<std::string, std::vector<int64_t>>> l;
  for (size_t k = 0; k < c.hidden.size(); ++k) {
    const int64_t in = k == 0 ? c.input_bits : c.hidden[k - 1];
    l.push_back({TrunkName(k, "weight"), k == 0 ? std::vector<int64_t>{in, c.hidden[0]}
                                                : std::vector<int64_t>{c.hidden[k], in}});
    l.push_back({TrunkName(k, "bias"), {c.hidden[k]}});
  }
  return l;
}

Status CheckLayout(const Weights& w,
                   const std::vector<std::pair<std::string, std::vector<int64_t>>>& layout) {
  if (w.tensors.size() != layout.size())
    return Status::InvalidArgument("expected " + std::to_string(layout.size()) + " tensors, got " +
                                   std::to_string(w.tensors.size()));
  for (size_t i = 0; i < layout.size(); ++i) FL_TRY(CheckTensor(w, i, layout[i].first, layout[i].second));
  return Status::Ok();
}

}  // namespace

void SetTorchThreads(int threads) {
  threads = std::max(1, threads);
  at::set_num_threads(threads);
  // Debian's LibTorch calls BLAS through libblas.so.3, which is OpenBLAS (pthread) here. Its
  // own pool defaults to one thread per core and its idle workers spin in sched_yield: with
  // one torch thread they burned a second core and a training epoch cost 0.74-0.80 CPU s
  // instead of 0.41-0.43 (bench/RESULTS.md). Give OpenBLAS the same thread count, when the
  // loaded BLAS is OpenBLAS.
  using SetThreads = void (*)(int);
  if (auto fn = reinterpret_cast<SetThreads>(dlsym(RTLD_DEFAULT, "openblas_set_num_threads"))) {
    fn(threads);
  }
}

Weights InitTrunk(const ModelConfig& config, uint64_t seed) {
  std::mt19937_64 rng(seed * 0x9E3779B97F4A7C15ull + 1);
  Weights w;
  for (size_t k = 0; k < config.hidden.size(); ++k) {
    const int64_t in = k == 0 ? config.input_bits : config.hidden[k - 1];
    const float bound = 1.0f / std::sqrt(static_cast<float>(in));
    w.tensors.push_back(Uniform(TrunkName(k, "weight"),
                                k == 0 ? std::vector<int64_t>{in, config.hidden[0]}
                                       : std::vector<int64_t>{config.hidden[k], in},
                                bound, &rng));
    w.tensors.push_back(Uniform(TrunkName(k, "bias"), {config.hidden[k]}, bound, &rng));
  }
  return w;
}

Weights InitHead(const ModelConfig& config, uint64_t seed) {
  std::mt19937_64 rng(seed * 0xD1B54A32D192ED03ull + 2);
  const int64_t in = config.hidden.back();
  const float bound = 1.0f / std::sqrt(static_cast<float>(in));
  Weights w;
  w.tensors.push_back(Uniform("head.weight", {static_cast<int64_t>(config.num_tasks), in}, bound, &rng));
  w.tensors.push_back(Uniform("head.bias", {static_cast<int64_t>(config.num_tasks)}, bound, &rng));
  return w;
}

struct Model::Impl {
  ModelConfig cfg;
  TrainOptions opt;
  const Dataset* data = nullptr;
  size_t h0 = 0, rows = 0;
  std::vector<int32_t> row_of_bit;   // D entries; -1: bit absent from this data set
  std::vector<uint32_t> bit_of_row;  // rows entries
  std::vector<float> w0, m0, v0;  // rows x h0, allocated once
  std::vector<uint8_t> live;      // row has Adam moments (was touched at least once)
  // Fused step: per row the head of its list of batch compounds (-1: none), and the lists.
  std::vector<int32_t> first_src, src_next, src_compound;
  // Reference (unfused) step only: gradient rows and which rows have one.
  std::vector<float> g0;
  std::vector<uint8_t> touched;
  // Dense parameters as torch leaves: trunk.0.bias, trunk.k.weight/bias..., head.weight/bias.
  std::vector<std::string> names;
  std::vector<torch::Tensor> params, adam_m, adam_v;
  int64_t step = 0;
  std::mt19937_64 order_rng;
  at::Generator dropout_gen;

  void Gather(std::span<const size_t> batch, float* out) const {
    for (size_t i = 0; i < batch.size(); ++i) {
      float* o = out + i * h0;
      std::fill(o, o + h0, 0.0f);
      for (uint32_t bit : data->bits(batch[i])) {
        const int32_t r = row_of_bit[bit];
        if (r < 0) continue;  // cannot happen for rows of `data`; kept for safety
        const float* wr = w0.data() + static_cast<size_t>(r) * h0;
        for (size_t j = 0; j < h0; ++j) o[j] += wr[j];
      }
    }
  }

  torch::Tensor Forward(const torch::Tensor& pre, bool train) {
    const double p = cfg.dropout;
    auto drop = [&](torch::Tensor h) {
      if (!train || p <= 0) return h;
      torch::Tensor keep = torch::empty_like(h).bernoulli_(1.0 - p, dropout_gen);
      return h * keep / (1.0 - p);
    };
    torch::Tensor h = drop(torch::relu(pre + params[0]));
    size_t i = 1;
    for (size_t k = 1; k < cfg.hidden.size(); ++k, i += 2)
      h = drop(torch::relu(torch::linear(h, params[i], params[i + 1])));
    return torch::linear(h, params[i], params[i + 1]);
  }

  // The first layer's Adam step, fused: lists, per held row, the batch compounds carrying its
  // bit (ascending batch index), then makes one pass over the rows. A touched row's gradient is
  // summed into an H0-float buffer in that order (the same additions, in the same order, as the
  // scatter into a zeroed row, hence bit-identical) and Adam runs on it; a row with moments and
  // no gradient gets the zero-gradient update; a row without either is skipped.
  void FusedTrunkAdam(std::span<const size_t> batch, const float* gp, const AdamCoeffs& c) {
    src_next.clear();
    src_compound.clear();
    for (size_t i = batch.size(); i-- > 0;) {  // prepend in reverse: lists end up ascending
      for (uint32_t bit : data->bits(batch[i])) {
        const int32_t r = row_of_bit[bit];
        if (r < 0) continue;
        src_compound.push_back(static_cast<int32_t>(i));
        src_next.push_back(first_src[r]);
        first_src[r] = static_cast<int32_t>(src_next.size() - 1);
      }
    }
    at::parallel_for(0, static_cast<int64_t>(rows), 512, [&](int64_t begin, int64_t end) {
      std::vector<float> g(h0);
      for (int64_t r = begin; r < end; ++r) {
        const size_t off = static_cast<size_t>(r) * h0;
        int32_t e = first_src[r];
        if (e >= 0) {
          std::fill(g.begin(), g.end(), 0.0f);
          for (; e >= 0; e = src_next[e])
            AddTo(g.data(), gp + static_cast<size_t>(src_compound[e]) * h0, h0);
          AdamKernel(w0.data() + off, g.data(), m0.data() + off, v0.data() + off, h0, c);
          first_src[r] = -1;
          live[r] = 1;
        } else if (live[r]) {
          AdamKernel(w0.data() + off, nullptr, m0.data() + off, v0.data() + off, h0, c);
        }
      }
    });
  }

  // The reference path: scatter the gradient into g0, one Adam pass, zero-fill touched rows.
  void ScatterThenAdam(std::span<const size_t> batch, const float* gp, const AdamCoeffs& c) {
    if (g0.empty()) g0.assign(rows * h0, 0.0f);
    for (size_t i = 0; i < batch.size(); ++i) {
      const float* gi = gp + i * h0;
      for (uint32_t bit : data->bits(batch[i])) {
        const int32_t r = row_of_bit[bit];
        if (r < 0) continue;
        touched[r] = 1;
        float* gr = g0.data() + static_cast<size_t>(r) * h0;
        for (size_t j = 0; j < h0; ++j) gr[j] += gi[j];
      }
    }
    at::parallel_for(0, static_cast<int64_t>(rows), 512, [&](int64_t begin, int64_t end) {
      for (int64_t r = begin; r < end; ++r) {
        const size_t off = static_cast<size_t>(r) * h0;
        if (touched[r]) {
          AdamKernel(w0.data() + off, g0.data() + off, m0.data() + off, v0.data() + off, h0, c);
          std::fill(g0.data() + off, g0.data() + off + h0, 0.0f);
          touched[r] = 0;
          live[r] = 1;
        } else if (live[r]) {
          AdamKernel(w0.data() + off, nullptr, m0.data() + off, v0.data() + off, h0, c);
        }
      }
    });
  }

  double Step(std::span<const size_t> batch) {
    const int64_t b = static_cast<int64_t>(batch.size());
    const int64_t t = static_cast<int64_t>(cfg.num_tasks);
    torch::Tensor pre = torch::empty({b, static_cast<int64_t>(h0)});
    Gather(batch, pre.data_ptr<float>());
    pre.set_requires_grad(true);
    torch::Tensor y = torch::empty({b, t});
    torch::Tensor mask = torch::empty({b, t});
    float* yp = y.data_ptr<float>();
    float* mp = mask.data_ptr<float>();
    size_t count = 0;
    for (int64_t i = 0; i < b; ++i)
      for (int64_t k = 0; k < t; ++k) {
        const int8_t l = data->label(batch[i], k);
        yp[i * t + k] = l > 0 ? 1.0f : 0.0f;
        mp[i * t + k] = l >= 0 ? 1.0f : 0.0f;
        count += l >= 0;
      }
    if (count == 0) return 0.0;
    torch::Tensor logits = Forward(pre, /*train=*/true);
    torch::Tensor loss = (torch::binary_cross_entropy_with_logits(
                              logits, y, {}, {}, at::Reduction::None) * mask).sum() /
                         static_cast<double>(count);
    loss.backward();
    torch::Tensor gpre = pre.grad().contiguous();
    ++step;
    const float bc1 = 1.0f - static_cast<float>(std::pow(opt.beta1, step));
    const float bc2 = 1.0f - static_cast<float>(std::pow(opt.beta2, step));
    const AdamCoeffs c{opt.beta1, opt.beta2, 1.0f - opt.beta1, 1.0f - opt.beta2,
                       opt.learning_rate / bc1, 1.0f / std::sqrt(bc2), opt.eps};
    if (opt.fused_sparse_adam)
      FusedTrunkAdam(batch, gpre.data_ptr<float>(), c);
    else
      ScatterThenAdam(batch, gpre.data_ptr<float>(), c);
    for (size_t k = 0; k < params.size(); ++k) {
      torch::Tensor g = params[k].grad();
      AdamKernel(params[k].data_ptr<float>(), g.data_ptr<float>(), adam_m[k].data_ptr<float>(),
                 adam_v[k].data_ptr<float>(), static_cast<size_t>(params[k].numel()), c);
      g.zero_();
    }
    return loss.item<double>();
  }
};

Model::Model(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Model::~Model() = default;

Result<std::unique_ptr<Model>> Model::Create(const ModelConfig& config, const TrainOptions& options,
                                             const Dataset& data, const Weights& trunk,
                                             const Weights& head) {
  if (config.hidden.empty() || config.num_tasks == 0 || config.input_bits == 0)
    return Status::InvalidArgument("model needs at least one hidden layer, one task and D > 0");
  for (int h : config.hidden)
    if (h <= 0) return Status::InvalidArgument("hidden sizes must be positive");
  if (config.dropout < 0 || config.dropout >= 1)
    return Status::InvalidArgument("dropout must be in [0, 1)");
  if (options.batch_size <= 0 || !(options.learning_rate > 0))
    return Status::InvalidArgument("batch size and learning rate must be positive");
  if (data.num_bits != config.input_bits)
    return Status::InvalidArgument("data set has " + std::to_string(data.num_bits) +
                                   "-bit fingerprints, model expects " +
                                   std::to_string(config.input_bits));
  if (data.num_tasks() != config.num_tasks)
    return Status::InvalidArgument("data set has " + std::to_string(data.num_tasks()) +
                                   " tasks, model head has " + std::to_string(config.num_tasks));
  FL_TRY(CheckLayout(trunk, TrunkLayout(config)).WithContext("trunk"));
  const int64_t last = config.hidden.back();
  const int64_t tasks = static_cast<int64_t>(config.num_tasks);
  FL_TRY(CheckLayout(head, {{"head.weight", {tasks, last}}, {"head.bias", {tasks}}})
             .WithContext("head"));
  try {
    auto impl = std::make_unique<Impl>();
    impl->cfg = config;
    impl->opt = options;
    impl->data = &data;
    impl->h0 = static_cast<size_t>(config.hidden[0]);
    impl->row_of_bit.assign(config.input_bits, -1);
    if (options.compact_rows) {
      std::vector<uint8_t> seen(config.input_bits, 0);
      for (uint32_t bit : data.fp_bits) seen[bit] = 1;
      for (uint32_t bit = 0; bit < config.input_bits; ++bit)
        if (seen[bit]) impl->bit_of_row.push_back(bit);
    } else {
      impl->bit_of_row.resize(config.input_bits);
      for (uint32_t bit = 0; bit < config.input_bits; ++bit) impl->bit_of_row[bit] = bit;
    }
    impl->rows = impl->bit_of_row.size();
    for (size_t r = 0; r < impl->rows; ++r) impl->row_of_bit[impl->bit_of_row[r]] = static_cast<int32_t>(r);
    const size_t n = impl->rows * impl->h0;
    impl->w0.assign(n, 0.0f);
    impl->m0.assign(n, 0.0f);
    impl->v0.assign(n, 0.0f);
    impl->live.assign(impl->rows, 0);
    impl->first_src.assign(impl->rows, -1);
    if (!options.fused_sparse_adam) impl->touched.assign(impl->rows, 0);
    auto add_param = [&](const Tensor& t) {
      impl->names.push_back(t.name);
      torch::Tensor p = torch::from_blob(const_cast<float*>(t.data.data()), t.shape).clone();
      p.set_requires_grad(true);
      p.mutable_grad() = torch::zeros_like(p);
      impl->params.push_back(p);
      impl->adam_m.push_back(torch::zeros_like(p));
      impl->adam_v.push_back(torch::zeros_like(p));
    };
    for (size_t i = 1; i < trunk.tensors.size(); ++i) add_param(trunk.tensors[i]);
    for (const Tensor& t : head.tensors) add_param(t);
    impl->order_rng.seed(options.seed * 0x2545F4914F6CDD1Dull + 3);
    impl->dropout_gen = at::make_generator<at::CPUGeneratorImpl>(options.seed + 77);
    std::unique_ptr<Model> model(new Model(std::move(impl)));
    FL_TRY(model->ImportTrunk(trunk));
    return model;
  } catch (const std::exception& e) {
    return Status::Internal(std::string("torch: ") + e.what());
  }
}

Status Model::ImportTrunk(const Weights& trunk) {
  Impl& m = *impl_;
  FL_TRY(CheckLayout(trunk, TrunkLayout(m.cfg)).WithContext("trunk"));
  const float* w = trunk.tensors[0].data.data();
  for (size_t r = 0; r < m.rows; ++r)
    std::memcpy(m.w0.data() + r * m.h0, w + static_cast<size_t>(m.bit_of_row[r]) * m.h0,
                m.h0 * sizeof(float));
  for (size_t i = 1; i < trunk.tensors.size(); ++i)
    std::memcpy(m.params[i - 1].data_ptr<float>(), trunk.tensors[i].data.data(),
                trunk.tensors[i].data.size() * sizeof(float));
  return Status::Ok();
}

Status Model::ExportTrunk(Weights* trunk) const {
  const Impl& m = *impl_;
  FL_TRY(CheckLayout(*trunk, TrunkLayout(m.cfg)).WithContext("trunk"));
  float* w = trunk->tensors[0].data.data();
  for (size_t r = 0; r < m.rows; ++r)
    std::memcpy(w + static_cast<size_t>(m.bit_of_row[r]) * m.h0, m.w0.data() + r * m.h0,
                m.h0 * sizeof(float));
  for (size_t i = 1; i < trunk->tensors.size(); ++i)
    std::memcpy(trunk->tensors[i].data.data(), m.params[i - 1].data_ptr<float>(),
                trunk->tensors[i].data.size() * sizeof(float));
  return Status::Ok();
}

Status Model::TrunkDelta(const Weights& base, Weights* delta) const {
  const Impl& m = *impl_;
  FL_TRY(CheckLayout(base, TrunkLayout(m.cfg)).WithContext("base trunk"));
  if (!delta->CheckSameLayout(base).ok()) *delta = ZerosLike(base);
  std::vector<float>& d0 = delta->tensors[0].data;
  std::fill(d0.begin(), d0.end(), 0.0f);
  const float* b0 = base.tensors[0].data.data();
  for (size_t r = 0; r < m.rows; ++r) {
    const size_t off = static_cast<size_t>(m.bit_of_row[r]) * m.h0;
    const float* local = m.w0.data() + r * m.h0;
    for (size_t j = 0; j < m.h0; ++j) d0[off + j] = local[j] - b0[off + j];
  }
  for (size_t i = 1; i < base.tensors.size(); ++i) {
    const float* local = m.params[i - 1].data_ptr<float>();
    const std::vector<float>& b = base.tensors[i].data;
    std::vector<float>& d = delta->tensors[i].data;
    for (size_t j = 0; j < b.size(); ++j) d[j] = local[j] - b[j];
  }
  return Status::Ok();
}

Weights Model::Head() const {
  const Impl& m = *impl_;
  Weights w;
  for (size_t i = m.params.size() - 2; i < m.params.size(); ++i) {
    const torch::Tensor& p = m.params[i];
    Tensor t{m.names[i], p.sizes().vec(), {}};
    t.data.assign(p.data_ptr<float>(), p.data_ptr<float>() + p.numel());
    w.tensors.push_back(std::move(t));
  }
  return w;
}

Result<double> Model::TrainEpoch(std::span<const size_t> rows) {
  Impl& m = *impl_;
  for (size_t r : rows)
    if (r >= m.data->size()) return Status::InvalidArgument("row index out of range");
  std::vector<size_t> order(rows.begin(), rows.end());
  std::shuffle(order.begin(), order.end(), m.order_rng);
  try {
    double total = 0;
    size_t batches = 0;
    const size_t bs = static_cast<size_t>(m.opt.batch_size);
    for (size_t s = 0; s < order.size(); s += bs) {
      const size_t e = std::min(order.size(), s + bs);
      total += m.Step(std::span<const size_t>(order.data() + s, e - s));
      ++batches;
    }
    return batches ? total / static_cast<double>(batches) : 0.0;
  } catch (const std::exception& e) {
    return Status::Internal(std::string("torch: ") + e.what());
  }
}

Result<std::vector<float>> Model::Predict(std::span<const size_t> rows) const {
  Impl& m = *impl_;
  for (size_t r : rows)
    if (r >= m.data->size()) return Status::InvalidArgument("row index out of range");
  const size_t t = m.cfg.num_tasks;
  std::vector<float> out(rows.size() * t);
  try {
    torch::NoGradGuard no_grad;
    for (size_t s = 0; s < rows.size(); s += 1024) {
      const size_t e = std::min(rows.size(), s + 1024);
      auto batch = rows.subspan(s, e - s);
      torch::Tensor pre = torch::empty({static_cast<int64_t>(batch.size()), static_cast<int64_t>(m.h0)});
      m.Gather(batch, pre.data_ptr<float>());
      torch::Tensor p = torch::sigmoid(m.Forward(pre, /*train=*/false)).contiguous();
      std::memcpy(out.data() + s * t, p.data_ptr<float>(), batch.size() * t * sizeof(float));
    }
  } catch (const std::exception& e) {
    return Status::Internal(std::string("torch: ") + e.what());
  }
  return out;
}

const ModelConfig& Model::config() const { return impl_->cfg; }
size_t Model::trunk_rows() const { return impl_->rows; }
int64_t Model::steps() const { return impl_->step; }

}  // namespace fedledger::trainer
