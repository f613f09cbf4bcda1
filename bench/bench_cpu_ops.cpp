// Google Benchmark of the CPU twin (kernels/cpu/ops.h) on the blog autoencoder's shapes at batch
// 128, plus "AE training step": the whole forward + BCE + backward + Adam step composed from the
// ops exactly as a Keras Conv2D / Conv2DTranspose / Dense stack does it, reporting images/s.
//
// Counters: FLOPS (2 x multiply-adds per second), bytes_per_second (the op's compulsory tensor
// traffic: inputs read once, outputs written once), images/s for the training step.
// GEMM: the convolutions' panel GEMM against OpenBLAS sgemm on the model's per-chunk shapes.
// Thread count: OpenMP's default (OMP_NUM_THREADS / all cores); the training step also runs with
// an explicit thread count argument (threads:1, threads:2).
//
//   build/<dir>/bench/bench_cpu_ops --benchmark_filter='AE'
#include <cblas.h>
#include <omp.h>

#include <benchmark/benchmark.h>
#include <cmath>
#include <chrono>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "kernels/cpu/cpu_isa.h"
#include "kernels/cpu/gemm_panels.h"
#include "kernels/cpu/ops.h"

namespace {

using zs::Act;
using zs::ConvGeom;
using Vec = std::vector<float>;

constexpr int kBatch = 128;

Vec random_vec(size_t count, float lo, float hi, unsigned seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> dist(lo, hi);
  Vec v(count);
  for (auto& x : v) x = dist(rng);
  return v;
}

// Glorot-uniform limit sqrt(6 / (fan_in + fan_out)) of a conv weight [K][C][R][S].
Vec conv_weights(const ConvGeom& g, unsigned seed) {
  const float limit = std::sqrt(6.f / float((g.c + g.k) * g.r * g.s));
  return random_vec(g.w_size(), -limit, limit, seed);
}

void set_counters(benchmark::State& state, double flops, double bytes) {
  state.counters["FLOPS"] = benchmark::Counter(flops * double(state.iterations()), benchmark::Counter::kIsRate);
  state.SetBytesProcessed(int64_t(bytes * double(state.iterations())));
}

// The three forward-conv geometries of the model; every conv op of the model runs on one of them
// (a Conv2DTranspose uses the geometry of the forward conv it is the adjoint of).
ConvGeom layer_geom(int layer) {
  switch (layer) {
    case 1: return ConvGeom::same(kBatch, 1, 28, 28, 32, 3, 1);    // conv1; also convT3 (32 -> 1)
    case 2: return ConvGeom::same(kBatch, 32, 28, 28, 64, 3, 2);   // conv2; also convT2 (64 -> 32)
    default: return ConvGeom::same(kBatch, 64, 14, 14, 128, 3, 2); // conv3; also convT1 (128 -> 64)
  }
}

double conv_bytes(const ConvGeom& g) { return 4.0 * double(g.x_size() + g.y_size() + g.w_size()); }

void BM_conv2d_forward(benchmark::State& state) {
  const ConvGeom g = layer_geom(int(state.range(0)));
  const Vec x = random_vec(g.x_size(), 0.f, 1.f, 1), w = conv_weights(g, 2), b(g.k, 0.01f);
  Vec y(g.y_size());
  for (auto _ : state) {
    zs::cpu::conv2d_forward(g, y.data(), x.data(), w.data(), b.data(), Act::LeakyRelu);
    benchmark::DoNotOptimize(y.data());
  }
  set_counters(state, 2.0 * double(g.macs()), conv_bytes(g));
}

void BM_conv2d_backward_data(benchmark::State& state) {
  const ConvGeom g = layer_geom(int(state.range(0)));
  const Vec dy = random_vec(g.y_size(), -1.f, 1.f, 3), w = conv_weights(g, 4), bias(g.c, 0.01f);
  Vec dx(g.x_size());
  for (auto _ : state) {
    // With bias + activation, as in a Conv2DTranspose forward.
    zs::cpu::conv2d_backward_data(g, dx.data(), dy.data(), w.data(), bias.data(), Act::LeakyRelu);
    benchmark::DoNotOptimize(dx.data());
  }
  set_counters(state, 2.0 * double(g.macs()), conv_bytes(g));
}

void BM_conv2d_backward_weight(benchmark::State& state) {
  const ConvGeom g = layer_geom(int(state.range(0)));
  const Vec x = random_vec(g.x_size(), 0.f, 1.f, 5), dy = random_vec(g.y_size(), -1.f, 1.f, 6);
  Vec dw(g.w_size()), db(g.k);
  for (auto _ : state) {
    zs::cpu::conv2d_backward_weight(g, dw.data(), db.data(), x.data(), dy.data());
    benchmark::DoNotOptimize(dw.data());
  }
  set_counters(state, 2.0 * double(g.macs()), conv_bytes(g));
}

// Dense layers of the model: encoder 6272 -> 16 and decoder 16 -> 6272.
void BM_dense_forward(benchmark::State& state) {
  const int in = int(state.range(0)), out = int(state.range(1));
  const Vec x = random_vec(size_t(kBatch) * in, -1.f, 1.f, 7), w = random_vec(size_t(in) * out, -0.03f, 0.03f, 8);
  const Vec b(out, 0.01f);
  Vec y(size_t(kBatch) * out);
  for (auto _ : state) {
    zs::cpu::dense_forward(y.data(), x.data(), w.data(), b.data(), kBatch, in, out, Act::None);
    benchmark::DoNotOptimize(y.data());
  }
  set_counters(state, 2.0 * kBatch * in * out, 4.0 * (double(kBatch) * (in + out) + double(in) * out));
}

void BM_dense_backward(benchmark::State& state) {
  const int in = int(state.range(0)), out = int(state.range(1));
  const Vec x = random_vec(size_t(kBatch) * in, -1.f, 1.f, 9), w = random_vec(size_t(in) * out, -0.03f, 0.03f, 10);
  const Vec dy = random_vec(size_t(kBatch) * out, -1.f, 1.f, 11);
  Vec dx(x.size()), dw(w.size()), db(out);
  for (auto _ : state) {
    zs::cpu::dense_backward(dx.data(), dw.data(), db.data(), dy.data(), x.data(), w.data(), kBatch, in, out);
    benchmark::DoNotOptimize(dw.data());
  }
  set_counters(state, 4.0 * kBatch * in * out, 4.0 * 2 * (double(kBatch) * (in + out) + double(in) * out));
}

// Element-wise ops on the largest activation of the model (32 x 28 x 28 per image).
void BM_activation_forward(benchmark::State& state) {
  const Act act = Act(state.range(0));
  const int64_t count = act == Act::Sigmoid ? int64_t(kBatch) * 784 : int64_t(kBatch) * 32 * 784;
  const Vec x = random_vec(count, -4.f, 4.f, 12);
  Vec y(count);
  for (auto _ : state) {
    zs::cpu::activation_forward(act, y.data(), x.data(), count);
    benchmark::DoNotOptimize(y.data());
  }
  set_counters(state, double(count), 8.0 * double(count));
}

void BM_activation_backward(benchmark::State& state) {
  const Act act = Act(state.range(0));
  const int64_t count = act == Act::Sigmoid ? int64_t(kBatch) * 784 : int64_t(kBatch) * 32 * 784;
  const Vec y = random_vec(count, 0.f, 1.f, 13), dy = random_vec(count, -1.f, 1.f, 14);
  Vec dx(count);
  for (auto _ : state) {
    zs::cpu::activation_backward(act, dx.data(), dy.data(), y.data(), count);
    benchmark::DoNotOptimize(dx.data());
  }
  set_counters(state, double(count), 12.0 * double(count));
}

void BM_bias_grad_nchw(benchmark::State& state) {
  const int c = int(state.range(0)), hw = int(state.range(1));
  const Vec dy = random_vec(size_t(kBatch) * c * hw, -1.f, 1.f, 15);
  Vec db(c);
  for (auto _ : state) {
    zs::cpu::bias_grad_nchw(db.data(), dy.data(), kBatch, c, hw);
    benchmark::DoNotOptimize(db.data());
  }
  set_counters(state, double(dy.size()), 4.0 * double(dy.size()));
}

void BM_bce_loss(benchmark::State& state) {
  const Vec pred = random_vec(size_t(kBatch) * 784, 0.f, 1.f, 16), target = random_vec(pred.size(), 0.f, 1.f, 17);
  Vec loss(kBatch), dpred(pred.size());
  for (auto _ : state) {
    zs::cpu::bce_loss(loss.data(), dpred.data(), pred.data(), target.data(), kBatch, 784);
    benchmark::DoNotOptimize(dpred.data());
  }
  set_counters(state, double(pred.size()), 12.0 * double(pred.size()));
}

// All parameters of the autoencoder (z_dim 16): 391,969 floats.
constexpr int64_t kAeParams = 320 + 18496 + 73856 + 100368 + 106624 + 73792 + 18464 + 289;

void BM_adam_step(benchmark::State& state) {
  Vec p = random_vec(kAeParams, -1.f, 1.f, 18), g = random_vec(kAeParams, -1.f, 1.f, 19);
  Vec m(kAeParams, 0.f), v(kAeParams, 0.f);
  int64_t step = 0;
  for (auto _ : state) {
    zs::cpu::adam_step(p.data(), m.data(), v.data(), g.data(), kAeParams, zs::AdamHyper{}, ++step);
    benchmark::DoNotOptimize(p.data());
  }
  set_counters(state, 12.0 * kAeParams, 4.0 * 7 * kAeParams);
}

// ---- the whole training step ----
// The blog's conv autoencoder (z_dim 16), batch 128:
//   encoder Conv2D 1->32 s1, 32->64 s2, 64->128 s2 (LeakyReLU 0.3), Flatten, Dense 6272->16;
//   decoder Dense 16->6272, Reshape 128x7x7, Conv2DTranspose 128->64 s2, 64->32 s2 (LeakyReLU),
//   32->1 s1, LeakyReLU then sigmoid; binary cross-entropy against the input; Adam.
struct Param {
  Vec value, grad, m, v;
  explicit Param(Vec init) : value(std::move(init)), grad(value.size()), m(value.size()), v(value.size()) {}
};

class AutoencoderStep {
 public:
  explicit AutoencoderStep(int n)
      : n_(n),
        g1_(ConvGeom::same(n, 1, 28, 28, 32, 3, 1)),
        g2_(ConvGeom::same(n, 32, 28, 28, 64, 3, 2)),
        g3_(ConvGeom::same(n, 64, 14, 14, 128, 3, 2)),
        w1_(conv_weights(g1_, 101)), b1_(Vec(32, 0.f)),
        w2_(conv_weights(g2_, 102)), b2_(Vec(64, 0.f)),
        w3_(conv_weights(g3_, 103)), b3_(Vec(128, 0.f)),
        we_(random_vec(size_t(kFlat) * kLatent, -0.03f, 0.03f, 104)), be_(Vec(kLatent, 0.f)),
        wd_(random_vec(size_t(kLatent) * kFlat, -0.03f, 0.03f, 105)), bd_(Vec(kFlat, 0.f)),
        // Conv2DTranspose a -> b stores the weights of the forward conv b -> a, whose geometry is
        // g3 (128 -> 64), g2 (64 -> 32) and g1 (32 -> 1); their bias has the OUTPUT channels.
        wt1_(conv_weights(g3_, 106)), bt1_(Vec(64, 0.f)),
        wt2_(conv_weights(g2_, 107)), bt2_(Vec(32, 0.f)),
        wt3_(conv_weights(g1_, 108)), bt3_(Vec(1, 0.f)),
        x_(random_vec(size_t(n) * 784, 0.f, 1.f, 109)),
        a1_(g1_.y_size()), a2_(g2_.y_size()), a3_(g3_.y_size()), z_(size_t(n) * kLatent), d0_(g3_.y_size()),
        t1_(g2_.y_size()), t2_(g1_.y_size()), t3_(size_t(n) * 784), loss_(n),
        gt3_(t3_.size()), gt2_(t2_.size()), gt1_(t1_.size()), gd0_(d0_.size()), gz_(z_.size()),
        ga3_(a3_.size()), ga2_(a2_.size()), ga1_(a1_.size()) {}

  // One training step. layer_backward: the conv layers' backwards as the driver runs them
  // (conv2d_layer_backward / conv2d_transpose_layer_backward, chunk by chunk); otherwise as the
  // separate ops they replace, for comparison (same bits).
  float step(bool layer_backward = true) {
    using namespace zs::cpu;
    // Forward.
    conv2d_forward(g1_, a1_.data(), x_.data(), w1_.value.data(), b1_.value.data(), Act::LeakyRelu);
    conv2d_forward(g2_, a2_.data(), a1_.data(), w2_.value.data(), b2_.value.data(), Act::LeakyRelu);
    conv2d_forward(g3_, a3_.data(), a2_.data(), w3_.value.data(), b3_.value.data(), Act::LeakyRelu);
    dense_forward(z_.data(), a3_.data(), we_.value.data(), be_.value.data(), n_, kFlat, kLatent, Act::None);
    dense_forward(d0_.data(), z_.data(), wd_.value.data(), bd_.value.data(), n_, kLatent, kFlat, Act::None);
    conv2d_backward_data(g3_, t1_.data(), d0_.data(), wt1_.value.data(), bt1_.value.data(), Act::LeakyRelu);
    conv2d_backward_data(g2_, t2_.data(), t1_.data(), wt2_.value.data(), bt2_.value.data(), Act::LeakyRelu);
    conv2d_backward_data(g1_, t3_.data(), t2_.data(), wt3_.value.data(), bt3_.value.data(), Act::LeakyReluSigmoid);
    bce_loss(loss_.data(), gt3_.data(), t3_.data(), x_.data(), n_, 784);
    // Backward.
    if (layer_backward)
      backward_by_layer();
    else
      backward_by_op();
    // Update.
    ++step_;
    for (Param* p : {&w1_, &b1_, &w2_, &b2_, &w3_, &b3_, &we_, &be_, &wd_, &bd_, &wt1_, &bt1_, &wt2_, &bt2_, &wt3_,
                     &bt3_})
      adam_step(p->value.data(), p->m.data(), p->v.data(), p->grad.data(), int64_t(p->value.size()), hyper_, step_);
    double total = 0;
    for (float l : loss_) total += l;
    return float(total / n_);
  }

  // Multiply-adds of one step: forward and both backward passes of every layer, except the
  // input gradient of the first conv.
  double flops() const {
    const double conv = double(g1_.macs() + g2_.macs() + g3_.macs());
    const double dense = 2.0 * n_ * kFlat * kLatent;
    return 2.0 * (3 * 2 * conv - double(g1_.macs()) + 3 * dense);
  }

 private:
  void backward_by_layer() {
    using namespace zs::cpu;
    // Through the decoder. As in runtime/nn/sequential.cpp: each layer's backward also
    // applies the derivative of the activation that produced its input (ops.h: ActGate), so
    // only the last layer applies its own.
    activation_backward(Act::LeakyReluSigmoid, gt3_.data(), gt3_.data(), t3_.data(), int64_t(gt3_.size()));
    conv2d_transpose_layer_backward(g1_, wt3_.grad.data(), bt3_.grad.data(), gt2_.data(), t2_.data(), gt3_.data(),
                                    wt3_.value.data(), {Act::LeakyRelu, t2_.data()});
    conv2d_transpose_layer_backward(g2_, wt2_.grad.data(), bt2_.grad.data(), gt1_.data(), t1_.data(), gt2_.data(),
                                    wt2_.value.data(), {Act::LeakyRelu, t1_.data()});
    conv2d_transpose_layer_backward(g3_, wt1_.grad.data(), bt1_.grad.data(), gd0_.data(), d0_.data(), gt1_.data(),
                                    wt1_.value.data(), {});  // the decoder's Dense has no activation
    dense_backward(gz_.data(), wd_.grad.data(), bd_.grad.data(), gd0_.data(), z_.data(), wd_.value.data(), n_,
                   kLatent, kFlat);
    // Through the encoder (the first conv needs no input gradient).
    dense_backward(ga3_.data(), we_.grad.data(), be_.grad.data(), gz_.data(), a3_.data(), we_.value.data(), n_,
                   kFlat, kLatent);
    activation_backward(Act::LeakyRelu, ga3_.data(), ga3_.data(), a3_.data(), int64_t(ga3_.size()));
    conv2d_layer_backward(g3_, w3_.grad.data(), b3_.grad.data(), ga2_.data(), a2_.data(), ga3_.data(),
                          w3_.value.data(), {Act::LeakyRelu, a2_.data()});
    conv2d_layer_backward(g2_, w2_.grad.data(), b2_.grad.data(), ga1_.data(), a1_.data(), ga2_.data(),
                          w2_.value.data(), {Act::LeakyRelu, a1_.data()});
    conv2d_layer_backward(g1_, w1_.grad.data(), b1_.grad.data(), nullptr, x_.data(), ga1_.data(), w1_.value.data(),
                          {});
  }

  void backward_by_op() {
    using namespace zs::cpu;
    // Through the decoder.
    activation_backward(Act::LeakyReluSigmoid, gt3_.data(), gt3_.data(), t3_.data(), int64_t(gt3_.size()));
    bias_grad_nchw(bt3_.grad.data(), gt3_.data(), n_, 1, 784);
    conv2d_backward_weight(g1_, wt3_.grad.data(), nullptr, gt3_.data(), t2_.data());
    conv2d_forward(g1_, gt2_.data(), gt3_.data(), wt3_.value.data(), nullptr, Act::None);
    activation_backward(Act::LeakyRelu, gt2_.data(), gt2_.data(), t2_.data(), int64_t(gt2_.size()));
    bias_grad_nchw(bt2_.grad.data(), gt2_.data(), n_, 32, 784);
    conv2d_backward_weight(g2_, wt2_.grad.data(), nullptr, gt2_.data(), t1_.data());
    conv2d_forward(g2_, gt1_.data(), gt2_.data(), wt2_.value.data(), nullptr, Act::None);
    activation_backward(Act::LeakyRelu, gt1_.data(), gt1_.data(), t1_.data(), int64_t(gt1_.size()));
    bias_grad_nchw(bt1_.grad.data(), gt1_.data(), n_, 64, 196);
    conv2d_backward_weight(g3_, wt1_.grad.data(), nullptr, gt1_.data(), d0_.data());
    conv2d_forward(g3_, gd0_.data(), gt1_.data(), wt1_.value.data(), nullptr, Act::None);
    dense_backward(gz_.data(), wd_.grad.data(), bd_.grad.data(), gd0_.data(), z_.data(), wd_.value.data(), n_,
                   kLatent, kFlat);
    // Through the encoder (the first conv needs no input gradient).
    dense_backward(ga3_.data(), we_.grad.data(), be_.grad.data(), gz_.data(), a3_.data(), we_.value.data(), n_,
                   kFlat, kLatent);
    activation_backward(Act::LeakyRelu, ga3_.data(), ga3_.data(), a3_.data(), int64_t(ga3_.size()));
    conv2d_backward_weight(g3_, w3_.grad.data(), b3_.grad.data(), a2_.data(), ga3_.data());
    conv2d_backward_data(g3_, ga2_.data(), ga3_.data(), w3_.value.data(), nullptr, Act::None);
    activation_backward(Act::LeakyRelu, ga2_.data(), ga2_.data(), a2_.data(), int64_t(ga2_.size()));
    conv2d_backward_weight(g2_, w2_.grad.data(), b2_.grad.data(), a1_.data(), ga2_.data());
    conv2d_backward_data(g2_, ga1_.data(), ga2_.data(), w2_.value.data(), nullptr, Act::None);
    activation_backward(Act::LeakyRelu, ga1_.data(), ga1_.data(), a1_.data(), int64_t(ga1_.size()));
    conv2d_backward_weight(g1_, w1_.grad.data(), b1_.grad.data(), x_.data(), ga1_.data());
  }

  static constexpr int kFlat = 6272, kLatent = 16;
  int n_;
  ConvGeom g1_, g2_, g3_;
  Param w1_, b1_, w2_, b2_, w3_, b3_, we_, be_, wd_, bd_, wt1_, bt1_, wt2_, bt2_, wt3_, bt3_;
  Vec x_, a1_, a2_, a3_, z_, d0_, t1_, t2_, t3_, loss_;
  Vec gt3_, gt2_, gt1_, gd0_, gz_, ga3_, ga2_, ga1_;
  zs::AdamHyper hyper_;
  int64_t step_ = 0;
};

void BM_AE_training_step(benchmark::State& state) {
  const int threads = int(state.range(0));
  const bool layer_backward = state.range(1) != 0;
  const int saved = omp_get_max_threads();
  omp_set_num_threads(threads);
  AutoencoderStep model(kBatch);
  model.step(layer_backward);  // warm-up: scratch buffers, page faults
  float loss = 0;
  for (auto _ : state) loss = model.step(layer_backward);
  omp_set_num_threads(saved);
  state.counters["images/s"] = benchmark::Counter(double(kBatch) * double(state.iterations()), benchmark::Counter::kIsRate);
  state.counters["FLOPS"] = benchmark::Counter(model.flops() * double(state.iterations()), benchmark::Counter::kIsRate);
  state.counters["loss"] = loss;
}

// The AE training step on every CPU path this machine has (cpu_isa.h): avx2 fp32, avx512 fp32 and
// avx512 with bf16 convolution GEMMs, alternating step by step on one model so that all of them
// see the same load drift on a shared machine. Reports each path's ms per step and its speed-up
// over avx2 fp32 (paths the CPU lacks report 0).
void BM_AE_step_cpu_paths(benchmark::State& state) {
  using zs::cpu::ConvPrecision;
  using zs::cpu::CpuIsa;
  const int threads = int(state.range(0));
  const int saved = omp_get_max_threads();
  omp_set_num_threads(threads);
  struct Path {
    const char* name;
    CpuIsa isa;
    ConvPrecision precision;
    double seconds = 0;
  };
  const zs::cpu::CpuFeatures f = zs::cpu::detect_cpu_features();
  std::vector<Path> paths = {{"avx2", CpuIsa::kAvx2, ConvPrecision::kFp32}};
  if (f.avx512) paths.push_back({"avx512", CpuIsa::kAvx512, ConvPrecision::kFp32});
  if (f.avx512 && f.avx512_bf16) paths.push_back({"avx512_bf16", CpuIsa::kAvx512, ConvPrecision::kBf16});
  AutoencoderStep model(kBatch);
  auto run = [&](const Path& p) {
    const zs::cpu::ScopedCpuIsa forced(p.isa);
    zs::cpu::set_conv_precision(p.precision);
    const auto start = std::chrono::steady_clock::now();
    benchmark::DoNotOptimize(model.step(true));
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    zs::cpu::set_conv_precision(ConvPrecision::kFp32);
    return s;
  };
  for (const Path& p : paths) run(p);  // warm-up of each: scratch buffers, page faults
  for (auto _ : state)
    for (Path& p : paths) p.seconds += run(p);
  omp_set_num_threads(saved);
  const double steps = double(state.iterations());
  for (const Path& p : paths) {
    state.counters[std::string(p.name) + "_ms"] = 1e3 * p.seconds / steps;
    state.counters[std::string(p.name) + "_speedup"] = paths[0].seconds / p.seconds;
  }
}

// The convolutions' own GEMM (kernels/cpu/gemm_panels.h) against its peer, OpenBLAS sgemm, on one
// thread and the per-chunk shapes of the model (m, n, k): forward, backward-data and
// backward-weight of layers 2 and 3. Both start from row-major A and B and write row-major C, so
// the panel GEMM's time includes packing both operands (in the convolutions im2col and dy
// fill the panels directly, which this does not credit).
const std::vector<std::vector<int64_t>> kChunkGemms = {{64, 196, 288},  {128, 196, 576}, {288, 196, 64},
                                                       {576, 196, 128}, {64, 288, 196},  {128, 576, 196}};

struct GemmOperands {
  int64_t m, n, k;
  Vec a, b, c;
  explicit GemmOperands(const benchmark::State& state)
      : m(state.range(0)), n(state.range(1)), k(state.range(2)), a(random_vec(size_t(m * k), -1, 1, 7)),
        b(random_vec(size_t(k * n), -1, 1, 8)), c(size_t(m * n)) {}
};

// isa: the CPU path (cpu_isa.h) forced for the run: 0 avx2, 1 avx512, 2 avx512 with bf16 inputs
// (ConvPrecision::kBf16, its time includes rounding the panels to bf16); skipped where the CPU lacks it.
void BM_gemm_panels(benchmark::State& state) {
  namespace d = zs::cpu::detail;
  const bool bf16 = state.range(3) == 2;
  const auto isa = bf16 ? zs::cpu::CpuIsa::kAvx512 : zs::cpu::CpuIsa(state.range(3));
  if (!zs::cpu::cpu_supports(zs::cpu::detect_cpu_features(), isa) ||
      (bf16 && !zs::cpu::detect_cpu_features().avx512_bf16)) {
    state.SkipWithError((std::string("this CPU lacks ") + (bf16 ? "avx512_bf16" : zs::cpu::cpu_isa_name(isa))).c_str());
    return;
  }
  const zs::cpu::ScopedCpuIsa forced(isa);
  zs::cpu::set_conv_precision(bf16 ? zs::cpu::ConvPrecision::kBf16 : zs::cpu::ConvPrecision::kFp32);
  GemmOperands op(state);
  // 64-byte aligned panels, as thread_scratch hands them out.
  std::vector<float> ap_store(size_t(d::a_panels_floats(op.m, op.k)) + 16), bp_store(size_t(d::b_panels_floats(op.k, op.n)) + 16);
  const auto aligned = [](std::vector<float>& v) { return v.data() + (16 - reinterpret_cast<uintptr_t>(v.data()) / 4 % 16) % 16; };
  float *ap = aligned(ap_store), *bp = aligned(bp_store);
  for (auto _ : state) {
    d::pack_a_panels(ap, op.m, op.k, 0, op.k, op.a.data(), op.k, 1);
    for (int64_t kk = 0; kk < op.k; ++kk) d::put_b_row_run(bp, op.k, kk, 0, op.b.data() + kk * op.n, op.n);
    d::zero_b_padding(bp, op.k, op.n);
    d::gemm_panels(op.m, op.n, op.k, ap, bp, op.c.data(), op.n, false);
    benchmark::DoNotOptimize(op.c.data());
  }
  zs::cpu::set_conv_precision(zs::cpu::ConvPrecision::kFp32);
  set_counters(state, 2.0 * double(op.m * op.n * op.k), 4.0 * double(op.m * op.k + op.k * op.n + op.m * op.n));
}

void BM_openblas_sgemm(benchmark::State& state) {
  GemmOperands op(state);
  const int saved = openblas_get_num_threads();
  openblas_set_num_threads(1);
  for (auto _ : state) {
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, int(op.m), int(op.n), int(op.k), 1.f, op.a.data(),
                int(op.k), op.b.data(), int(op.n), 0.f, op.c.data(), int(op.n));
    benchmark::DoNotOptimize(op.c.data());
  }
  openblas_set_num_threads(saved);
  set_counters(state, 2.0 * double(op.m * op.n * op.k), 4.0 * double(op.m * op.k + op.k * op.n + op.m * op.n));
}

}  // namespace

BENCHMARK(BM_conv2d_forward)->ArgName("layer")->DenseRange(1, 3)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_conv2d_backward_data)->ArgName("layer")->DenseRange(1, 3)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_conv2d_backward_weight)->ArgName("layer")->DenseRange(1, 3)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_dense_forward)->ArgNames({"in", "out"})->Args({6272, 16})->Args({16, 6272})->Unit(benchmark::kMicrosecond)->UseRealTime();
BENCHMARK(BM_dense_backward)->ArgNames({"in", "out"})->Args({6272, 16})->Args({16, 6272})->Unit(benchmark::kMicrosecond)->UseRealTime();
BENCHMARK(BM_activation_forward)->ArgName("act")->Arg(int(Act::LeakyRelu))->Arg(int(Act::Sigmoid))->Unit(benchmark::kMicrosecond)->UseRealTime();
BENCHMARK(BM_activation_backward)->ArgName("act")->Arg(int(Act::LeakyRelu))->Arg(int(Act::Sigmoid))->Unit(benchmark::kMicrosecond)->UseRealTime();
BENCHMARK(BM_bias_grad_nchw)->ArgNames({"c", "hw"})->Args({32, 784})->Args({1, 784})->Unit(benchmark::kMicrosecond)->UseRealTime();
BENCHMARK(BM_bce_loss)->Unit(benchmark::kMicrosecond)->UseRealTime();
BENCHMARK(BM_adam_step)->Unit(benchmark::kMicrosecond)->UseRealTime();
BENCHMARK(BM_gemm_panels)->ArgNames({"m", "n", "k", "isa"})->Apply([](benchmark::internal::Benchmark* b) {
  for (const auto& shape : kChunkGemms)
    for (int64_t isa = 0; isa <= int64_t(zs::cpu::kWidestCpuIsa) + 1; ++isa) b->Args({shape[0], shape[1], shape[2], isa});
})->Unit(benchmark::kMicrosecond)->UseRealTime();
BENCHMARK(BM_openblas_sgemm)->ArgNames({"m", "n", "k"})->Apply([](benchmark::internal::Benchmark* b) {
  for (const auto& shape : kChunkGemms) b->Args(shape);
})->Unit(benchmark::kMicrosecond)->UseRealTime();
// The layer backwards against the separate ops, alternating step by step on one model so that
// both see the same load drift on a shared machine (a plain A/B of two runs drifts by +-5-10%).
void BM_AE_layer_backward_vs_ops(benchmark::State& state) {
  const int threads = int(state.range(0));
  const int saved = omp_get_max_threads();
  omp_set_num_threads(threads);
  AutoencoderStep model(kBatch);
  model.step(true);  // warm-up of both
  model.step(false);
  double seconds[2] = {0, 0};  // [separate ops, layer backwards]
  for (auto _ : state) {
    for (int by_layer = 0; by_layer < 2; ++by_layer) {
      const auto start = std::chrono::steady_clock::now();
      benchmark::DoNotOptimize(model.step(by_layer != 0));
      seconds[by_layer] += std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    }
  }
  omp_set_num_threads(saved);
  const double steps = double(state.iterations());
  state.counters["ops_ms"] = 1e3 * seconds[0] / steps;
  state.counters["layer_ms"] = 1e3 * seconds[1] / steps;
  state.counters["layer/ops"] = seconds[1] / seconds[0];
}

// layer_backward:0 runs the conv backwards as separate ops: compare the two with
// --benchmark_filter=AE_training_step/threads:2 --benchmark_repetitions=10
// --benchmark_enable_random_interleaving=true (interleaved, so both see the same load drift).
BENCHMARK(BM_AE_training_step)
    ->ArgNames({"threads", "layer_backward"})
    ->ArgsProduct({{1, 2}, {1, 0}})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();
BENCHMARK(BM_AE_step_cpu_paths)->ArgName("threads")->Arg(1)->Arg(2)->Unit(benchmark::kMillisecond)->MinTime(6);
BENCHMARK(BM_AE_layer_backward_vs_ops)->ArgName("threads")->Arg(1)->Arg(2)->Unit(benchmark::kMillisecond)->MinTime(4);

BENCHMARK_MAIN();
