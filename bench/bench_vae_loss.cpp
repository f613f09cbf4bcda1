// Speed of the VAE loss (kernels/vae.cu, kernels/cpu/vae.cpp) on the blog VAE's shapes: batch
// 128 of 28 x 28 images (dim 784), z_dim 2 and 16.
//   GPU  vae_loss version 2 (fused: one block per sample, one pass over pred and target) against
//        version 1 (the unfused composition: BCE-sum, BCE-gradient, KL + total and KL-gradient
//        kernels; four launches, pred and target read twice), plus the reparameterization
//        forward and backward. cudaEvents around each call (UseManualTime); before every
//        iteration a memset of twice the L2 size evicts the operands, so they come from DRAM as
//        in a training step. Counters: bytes = the op's minimum traffic (every operand read once,
//        every output written once, the same for both versions so that rates compare) and
//        bytes_per_second (bench/cuda_bench_support.h).
//        Only in builds with the CUDA backend (ZSPACE_HAVE_CUDA); skipped without a usable GPU.
//   CPU  the twin's fused loss (wall time, all OpenMP threads), and cpu::bce_loss alone for
//        scale (the BCE part without the KL).
//
//   build/<dir>/bench/bench_vae_loss --benchmark_filter='Gpu'
#if defined(ZSPACE_HAVE_CUDA)
#  include "bench/cuda_bench_support.h"
#  include "kernels/vae.cuh"
#endif

#include <benchmark/benchmark.h>

#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "kernels/cpu/ops.h"
#include "kernels/cpu/vae.h"

namespace {

constexpr int kBatch = 128;
constexpr int kImage = 784;              // 28 x 28
constexpr int kLatentDims[] = {2, 16};   // the blog's z_dim values
constexpr float kBeta = 1.f;

std::vector<float> host_floats(std::size_t count, float lo, float hi, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> dist(lo, hi);
  std::vector<float> v(count);
  for (float& x : v) x = dist(rng);
  return v;
}

// [mu | log_var] rows with mu in [-2, 2] and log_var in [-3, 1], as a trained encoder gives.
std::vector<float> host_mu_logvar(int n, int zdim) {
  std::vector<float> ml = host_floats(std::size_t(n) * 2 * zdim, -2.f, 2.f, 3);
  const std::vector<float> lv = host_floats(std::size_t(n) * zdim, -3.f, 1.f, 4);
  for (int i = 0; i < n; ++i)
    for (int j = 0; j < zdim; ++j) ml[std::size_t(i) * 2 * zdim + zdim + j] = lv[std::size_t(i) * zdim + j];
  return ml;
}

// Minimum traffic of vae_loss: pred, target and mu_logvar read; dpred, d_mu_logvar, losses written.
double loss_bytes(int zdim) {
  return 4.0 * (3.0 * kBatch * kImage + 2.0 * 2 * kBatch * zdim + 3.0 * kBatch);
}

#if defined(ZSPACE_HAVE_CUDA)

namespace kns = zs::cuda;

std::vector<float> zeros(std::size_t count) { return std::vector<float>(count, 0.f); }

using zs::bench_cuda::DeviceBuffer;
using zs::bench_cuda::have_gpu;
using zs::bench_cuda::kernel_memory;

// cudaEvent time of op() with L2 flushed before each iteration, plus the byte rate.
template <class Op>
void time_on_gpu(benchmark::State& state, double bytes, Op&& op) {
  zs::bench_cuda::time_on_gpu(state, [&](cudaStream_t) { op(); });
  zs::bench_cuda::set_traffic_counters(state, 0, bytes);
}

// args: zdim index, version
void BM_VaeLossGpu(benchmark::State& state) {
  if (!have_gpu()) return state.SkipWithError("no CUDA GPU");
  const int zdim = kLatentDims[state.range(0)];
  const int version = int(state.range(1));
  const std::size_t count = std::size_t(kBatch) * kImage;
  DeviceBuffer<float> pred(kernel_memory(), host_floats(count, 0.f, 1.f, 1)),
      target(kernel_memory(), host_floats(count, 0.f, 1.f, 2)), ml(kernel_memory(), host_mu_logvar(kBatch, zdim)),
      dpred(kernel_memory(), zeros(count)), dml(kernel_memory(), zeros(std::size_t(kBatch) * 2 * zdim)),
      losses(kernel_memory(), zeros(3 * kBatch));
  state.SetLabel("128x784 zdim " + std::to_string(zdim) + (version == 1 ? " v1 unfused" : " v2 fused"));
  time_on_gpu(state, loss_bytes(zdim), [&] {
    kns::vae_loss(losses.data(), dpred.data(), dml.data(), pred.data(), target.data(), ml.data(), kBatch, kImage, zdim,
                  kBeta, nullptr, version);
  });
}
BENCHMARK(BM_VaeLossGpu)->ArgsProduct({{0, 1}, {1, 2}})->UseManualTime()->Unit(benchmark::kMicrosecond);

// args: zdim index, 0 forward / 1 backward
void BM_VaeReparamGpu(benchmark::State& state) {
  if (!have_gpu()) return state.SkipWithError("no CUDA GPU");
  const int zdim = kLatentDims[state.range(0)];
  const bool forward = state.range(1) == 0;
  const std::size_t latents = std::size_t(kBatch) * zdim;
  DeviceBuffer<float> ml(kernel_memory(), host_mu_logvar(kBatch, zdim)), z(kernel_memory(), zeros(latents)),
      eps(kernel_memory(), host_floats(latents, -2.f, 2.f, 5)), dz(kernel_memory(), host_floats(latents, -1.f, 1.f, 6)),
      dml(kernel_memory(), zeros(2 * latents));
  state.SetLabel(std::string(forward ? "forward" : "backward") + " 128 x zdim " + std::to_string(zdim));
  // forward: reads mu_logvar, writes z and eps; backward: reads dz, eps, log_var, updates d_mu_logvar.
  const double bytes = 4.0 * (forward ? 4.0 * latents : 6.0 * latents);
  int64_t step = 0;
  time_on_gpu(state, bytes, [&] {
    if (forward)
      kns::vae_reparam_forward(z.data(), eps.data(), ml.data(), kBatch, zdim, 42, step++, true, 0, nullptr);
    else
      kns::vae_reparam_backward(dml.data(), dz.data(), eps.data(), ml.data(), kBatch, zdim, nullptr);
  });
}
BENCHMARK(BM_VaeReparamGpu)->ArgsProduct({{0, 1}, {0, 1}})->UseManualTime()->Unit(benchmark::kMicrosecond);

#endif  // ZSPACE_HAVE_CUDA

// ---- the CPU twin (wall time, all OpenMP threads) ----

// args: zdim index
void BM_VaeLossCpu(benchmark::State& state) {
  const int zdim = kLatentDims[state.range(0)];
  const std::size_t count = std::size_t(kBatch) * kImage;
  const std::vector<float> pred = host_floats(count, 0.f, 1.f, 1), target = host_floats(count, 0.f, 1.f, 2);
  const std::vector<float> ml = host_mu_logvar(kBatch, zdim);
  std::vector<float> dpred(count), dml(ml.size()), losses(3 * kBatch);
  state.SetLabel("128x784 zdim " + std::to_string(zdim));
  for (auto _ : state)
    zs::cpu::vae_loss(losses.data(), dpred.data(), dml.data(), pred.data(), target.data(), ml.data(), kBatch, kImage,
                      zdim, kBeta);
  state.counters["GB/s"] =
      benchmark::Counter(loss_bytes(zdim) * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
}
BENCHMARK(BM_VaeLossCpu)->DenseRange(0, 1)->UseRealTime()->Unit(benchmark::kMicrosecond);

void BM_BceLossCpu(benchmark::State& state) {
  const std::size_t count = std::size_t(kBatch) * kImage;
  const std::vector<float> pred = host_floats(count, 0.f, 1.f, 1), target = host_floats(count, 0.f, 1.f, 2);
  std::vector<float> dpred(count), loss(kBatch);
  state.SetLabel("128x784 (BCE part alone)");
  for (auto _ : state) zs::cpu::bce_loss(loss.data(), dpred.data(), pred.data(), target.data(), kBatch, kImage);
  state.counters["GB/s"] = benchmark::Counter(4.0 * (3.0 * double(count) + kBatch) * 1e-9,
                                              benchmark::Counter::kIsIterationInvariantRate);
}
BENCHMARK(BM_BceLossCpu)->UseRealTime()->Unit(benchmark::kMicrosecond);

}  // namespace

BENCHMARK_MAIN();
