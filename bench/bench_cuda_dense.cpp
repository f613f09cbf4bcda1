// GPU speed of the dense-layer GEMMs, the dense layer, the losses and Adam (kernels/gemm, dense,
// loss, adam) on the AE's shapes at batch 128, every kernel version, against cuBLAS SGEMM on the
// very same products; plus the CPU twin (zs::cpu) on the same shapes for scale.
//
// GPU timing and counters (FLOPS, bytes_per_second): bench/cuda_bench_support.h (cudaEvents,
// L2 flushed before every iteration, compulsory traffic).
// Without a usable GPU every GPU benchmark is skipped with an error message.
//
// The six products (row-major, as dense.cu issues them; m x n x k):
//   enc_fwd  y  = x W      128 x 16 x 6272   (split-K in version 4)
//   enc_dw   dw = x^T dy   6272 x 16 x 128
//   enc_dx   dx = dy W^T   128 x 6272 x 16
//   dec_fwd  y  = z W      128 x 6272 x 16
//   dec_dw   dw = z^T dy   16 x 6272 x 128
//   dec_dx   dz = dy W^T   128 x 16 x 6272   (split-K in version 4)
#include "bench/cuda_bench_support.h"

#include <benchmark/benchmark.h>

#include <algorithm>
#include <cublas_v2.h>

#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "kernels/adam.cuh"
#include "kernels/cpu/ops.h"
#include "kernels/dense.cuh"
#include "kernels/gemm.cuh"
#include "kernels/loss.cuh"

namespace {

namespace kns = zs::cuda;

constexpr int kBatch = 128;
constexpr int kWide = 6272;     // 128 channels x 7 x 7, flattened
constexpr int kLatent = 16;     // z_dim
constexpr int kImage = 784;     // 28 x 28
constexpr int64_t kAdamParams = 420000;   // about the AE's parameter count

using zs::bench_cuda::have_gpu;

using zs::bench_cuda::DeviceBuffer;
using zs::bench_cuda::kernel_memory;

// A device operand, uniformly random in [lo, hi).
DeviceBuffer<float> random_operand(std::size_t count, float lo = -0.1f, float hi = 0.1f, uint32_t seed = 1) {
  return zs::bench_cuda::random_device_floats(kernel_memory(), count, seed, lo, hi);
}

// cudaEvent time of op() with L2 flushed before each iteration, plus the flop / byte rates.
template <class Op>
void time_on_gpu(benchmark::State& state, double flop, double bytes, Op&& op) {
  zs::bench_cuda::time_on_gpu(state, [&](cudaStream_t) { op(); });
  zs::bench_cuda::set_traffic_counters(state, flop, bytes);
}

// ---- the six GEMMs ----

struct Product {
  const char* name;
  int m, n, k;
  bool trans_a, trans_b;
};
const Product kProducts[] = {
    {"enc_fwd", kBatch, kLatent, kWide, false, false}, {"enc_dw", kWide, kLatent, kBatch, true, false},
    {"enc_dx", kBatch, kWide, kLatent, false, true},   {"dec_fwd", kBatch, kWide, kLatent, false, false},
    {"dec_dw", kLatent, kWide, kBatch, true, false},   {"dec_dx", kBatch, kLatent, kWide, false, true},
};

double gemm_flop(const Product& p) { return 2.0 * p.m * p.n * p.k; }
double gemm_bytes(const Product& p) { return 4.0 * (double(p.m) * p.k + double(p.k) * p.n + double(p.m) * p.n); }

// args: product, version
void BM_Gemm(benchmark::State& state) {
  if (!have_gpu()) return state.SkipWithError("no CUDA GPU");
  const Product& p = kProducts[state.range(0)];
  const int version = int(state.range(1));
  DeviceBuffer<float> a = random_operand(std::size_t(p.m) * p.k), b = random_operand(std::size_t(p.k) * p.n),
                      c = random_operand(std::size_t(p.m) * p.n);
  DeviceBuffer<float> workspace = random_operand(std::max<std::size_t>(1, kns::gemm_workspace(p.m, p.n, p.k, version)));
  const kns::GemmEpilogue ep;
  const kns::GemmSplitPlan plan = kns::gemm_split_plan(p.m, p.n, p.k);
  state.SetLabel(std::string(p.name) + " v" + std::to_string(version) +
                 (version == 4 && plan.slices > 1 ? " split " + std::to_string(plan.slices) : ""));
  time_on_gpu(state, gemm_flop(p), gemm_bytes(p), [&] {
    kns::gemm(c.data(), a.data(), b.data(), p.m, p.n, p.k, p.trans_a ? kns::Trans::Yes : kns::Trans::No,
              p.trans_b ? kns::Trans::Yes : kns::Trans::No, ep, workspace.data(), nullptr, version);
  });
}
BENCHMARK(BM_Gemm)->ArgsProduct({{0, 1, 2, 3, 4, 5}, {1, 2, 3, 4}})->UseManualTime()->Unit(benchmark::kMicrosecond);

// The same row-major products through cuBLAS (column-major): C^T = op(B)^T op(A)^T, i.e. swap
// the operands and the m / n roles; a row-major [r][c] matrix is a column-major c x r one.
// args: product
void BM_CublasSgemm(benchmark::State& state) {
  if (!have_gpu()) return state.SkipWithError("no CUDA GPU");
  const Product& p = kProducts[state.range(0)];
  DeviceBuffer<float> a = random_operand(std::size_t(p.m) * p.k), b = random_operand(std::size_t(p.k) * p.n),
                      c = random_operand(std::size_t(p.m) * p.n);
  cublasHandle_t handle;
  if (cublasCreate(&handle) != CUBLAS_STATUS_SUCCESS) return state.SkipWithError("cublasCreate failed");
  const float one = 1.f, zero = 0.f;
  const int lda = p.trans_a ? p.m : p.k, ldb = p.trans_b ? p.k : p.n;
  state.SetLabel(std::string(p.name) + " cuBLAS");
  cublasStatus_t status = CUBLAS_STATUS_SUCCESS;
  time_on_gpu(state, gemm_flop(p), gemm_bytes(p), [&] {
    const cublasStatus_t s =
        cublasSgemm(handle, p.trans_b ? CUBLAS_OP_T : CUBLAS_OP_N, p.trans_a ? CUBLAS_OP_T : CUBLAS_OP_N, p.n, p.m, p.k,
                    &one, b.data(), ldb, a.data(), lda, &zero, c.data(), p.n);
    if (s != CUBLAS_STATUS_SUCCESS) status = s;
  });
  cublasDestroy(handle);
  if (status != CUBLAS_STATUS_SUCCESS) state.SkipWithError("cublasSgemm failed");
}
BENCHMARK(BM_CublasSgemm)->DenseRange(0, 5)->UseManualTime()->Unit(benchmark::kMicrosecond);

// ---- the dense layer (all its products plus bias and column sums) ----

struct Layer {
  const char* name;
  int in, out;
};
const Layer kLayers[] = {{"encoder 6272->16", kWide, kLatent}, {"decoder 16->6272", kLatent, kWide}};

// args: layer, version
void BM_DenseForward(benchmark::State& state) {
  if (!have_gpu()) return state.SkipWithError("no CUDA GPU");
  const Layer& l = kLayers[state.range(0)];
  const int version = int(state.range(1));
  DeviceBuffer<float> x = random_operand(std::size_t(kBatch) * l.in), w = random_operand(std::size_t(l.in) * l.out),
                      b = random_operand(std::size_t(l.out)), y = random_operand(std::size_t(kBatch) * l.out);
  DeviceBuffer<float> workspace =
      random_operand(std::max<std::size_t>(1, kns::dense_workspace(kBatch, l.in, l.out, version)));
  state.SetLabel(std::string(l.name) + " v" + std::to_string(version));
  const double flop = 2.0 * kBatch * l.in * l.out;
  const double bytes = 4.0 * (double(kBatch) * l.in + double(l.in) * l.out + l.out + double(kBatch) * l.out);
  time_on_gpu(state, flop, bytes, [&] {
    kns::dense_forward(y.data(), x.data(), w.data(), b.data(), kBatch, l.in, l.out, zs::Act::None, workspace.data(),
                       nullptr, version);
  });
}
BENCHMARK(BM_DenseForward)->ArgsProduct({{0, 1}, {1, 2, 3, 4}})->UseManualTime()->Unit(benchmark::kMicrosecond);

// dw, db and dx. args: layer, version
void BM_DenseBackward(benchmark::State& state) {
  if (!have_gpu()) return state.SkipWithError("no CUDA GPU");
  const Layer& l = kLayers[state.range(0)];
  const int version = int(state.range(1));
  DeviceBuffer<float> x = random_operand(std::size_t(kBatch) * l.in), w = random_operand(std::size_t(l.in) * l.out),
                      dy = random_operand(std::size_t(kBatch) * l.out), dx = random_operand(std::size_t(kBatch) * l.in),
                      dw = random_operand(std::size_t(l.in) * l.out), db = random_operand(std::size_t(l.out));
  DeviceBuffer<float> workspace =
      random_operand(std::max<std::size_t>(1, kns::dense_workspace(kBatch, l.in, l.out, version)));
  state.SetLabel(std::string(l.name) + " v" + std::to_string(version));
  const double flop = 2 * 2.0 * kBatch * l.in * l.out + double(kBatch) * l.out;
  // reads x, w, dy (dy twice: dw and dx; db reads it a third time); writes dw, db, dx
  const double bytes = 4.0 * (double(kBatch) * l.in * 2 + double(l.in) * l.out * 2 + 3.0 * kBatch * l.out + l.out);
  time_on_gpu(state, flop, bytes, [&] {
    kns::dense_backward(dx.data(), dw.data(), db.data(), dy.data(), x.data(), w.data(), kBatch, l.in, l.out,
                        workspace.data(), nullptr, version);
  });
}
BENCHMARK(BM_DenseBackward)->ArgsProduct({{0, 1}, {1, 2, 3, 4}})->UseManualTime()->Unit(benchmark::kMicrosecond);

// ---- losses on 128 x 784 ----

// args: 0 BCE / 1 MSE, version
void BM_Loss(benchmark::State& state) {
  if (!have_gpu()) return state.SkipWithError("no CUDA GPU");
  const bool bce = state.range(0) == 0;
  const int version = int(state.range(1));
  const std::size_t count = std::size_t(kBatch) * kImage;
  DeviceBuffer<float> pred = random_operand(count, 0.f, 1.f, 1), target = random_operand(count, 0.f, 1.f, 2),
                      dpred = random_operand(count), loss = random_operand(kBatch);
  state.SetLabel(std::string(bce ? "bce" : "mse") + " 128x784 v" + std::to_string(version));
  const double bytes = 4.0 * (3.0 * double(count) + kBatch);
  time_on_gpu(state, 0, bytes, [&] {
    (bce ? kns::bce_loss : kns::mse_loss)(loss.data(), dpred.data(), pred.data(), target.data(), kBatch, kImage,
                                          nullptr, version);
  });
}
BENCHMARK(BM_Loss)->ArgsProduct({{0, 1}, {1, 2}})->UseManualTime()->Unit(benchmark::kMicrosecond);

// ---- Adam over ~420k parameters ----

// args: version, 0 host step / 1 device step
void BM_Adam(benchmark::State& state) {
  if (!have_gpu()) return state.SkipWithError("no CUDA GPU");
  const int version = int(state.range(0));
  const bool device_step = state.range(1) == 1;
  DeviceBuffer<float> p = random_operand(kAdamParams), m = random_operand(kAdamParams),
                      v = random_operand(kAdamParams, 0.f, 0.01f), g = random_operand(kAdamParams);
  DeviceBuffer<int64_t> step(kernel_memory(), std::vector<int64_t>{1});
  const zs::AdamHyper h;
  state.SetLabel(std::string(device_step ? "device step" : "host step") + " v" + std::to_string(version));
  time_on_gpu(state, 0, 28.0 * kAdamParams, [&] {   // reads p, m, v, g; writes p, m, v
    if (device_step)
      kns::adam_step_device(p.data(), m.data(), v.data(), g.data(), kAdamParams, h, step.data(), nullptr, version);
    else
      kns::adam_step(p.data(), m.data(), v.data(), g.data(), kAdamParams, h, 1, nullptr, version);
  });
}
BENCHMARK(BM_Adam)->ArgsProduct({{1, 2}, {0, 1}})->UseManualTime()->Unit(benchmark::kMicrosecond);

// ---- the CPU twin on the same shapes (wall time, all OpenMP threads) ----

std::vector<float> host_floats(std::size_t count, float lo = -0.1f, float hi = 0.1f) {
  std::mt19937 rng(7);
  std::uniform_real_distribution<float> dist(lo, hi);
  std::vector<float> v(count);
  for (float& x : v) x = dist(rng);
  return v;
}

// args: layer
void BM_CpuDenseForward(benchmark::State& state) {
  const Layer& l = kLayers[state.range(0)];
  const auto x = host_floats(std::size_t(kBatch) * l.in), w = host_floats(std::size_t(l.in) * l.out),
             b = host_floats(std::size_t(l.out));
  std::vector<float> y(std::size_t(kBatch) * l.out);
  state.SetLabel(l.name);
  for (auto _ : state) zs::cpu::dense_forward(y.data(), x.data(), w.data(), b.data(), kBatch, l.in, l.out, zs::Act::None);
  state.counters["GFLOP"] =   // shown per second
      benchmark::Counter(2.0 * kBatch * l.in * l.out * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
}
BENCHMARK(BM_CpuDenseForward)->DenseRange(0, 1)->UseRealTime()->Unit(benchmark::kMicrosecond);

void BM_CpuDenseBackward(benchmark::State& state) {
  const Layer& l = kLayers[state.range(0)];
  const auto x = host_floats(std::size_t(kBatch) * l.in), w = host_floats(std::size_t(l.in) * l.out),
             dy = host_floats(std::size_t(kBatch) * l.out);
  std::vector<float> dx(x.size()), dw(w.size()), db(std::size_t(l.out));
  state.SetLabel(l.name);
  for (auto _ : state)
    zs::cpu::dense_backward(dx.data(), dw.data(), db.data(), dy.data(), x.data(), w.data(), kBatch, l.in, l.out);
  state.counters["GFLOP"] =   // shown per second
      benchmark::Counter(4.0 * kBatch * l.in * l.out * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
}
BENCHMARK(BM_CpuDenseBackward)->DenseRange(0, 1)->UseRealTime()->Unit(benchmark::kMicrosecond);

void BM_CpuLoss(benchmark::State& state) {
  const bool bce = state.range(0) == 0;
  const std::size_t count = std::size_t(kBatch) * kImage;
  const auto pred = host_floats(count, 0.f, 1.f), target = host_floats(count, 0.f, 1.f);
  std::vector<float> dpred(count), loss(kBatch);
  state.SetLabel(bce ? "bce 128x784" : "mse 128x784");
  for (auto _ : state)
    (bce ? zs::cpu::bce_loss : zs::cpu::mse_loss)(loss.data(), dpred.data(), pred.data(), target.data(), kBatch,
                                                  kImage);
}
BENCHMARK(BM_CpuLoss)->DenseRange(0, 1)->UseRealTime()->Unit(benchmark::kMicrosecond);

void BM_CpuAdam(benchmark::State& state) {
  auto p = host_floats(kAdamParams), m = host_floats(kAdamParams), v = host_floats(kAdamParams, 0.f, 0.01f);
  const auto g = host_floats(kAdamParams);
  const zs::AdamHyper h;
  for (auto _ : state) zs::cpu::adam_step(p.data(), m.data(), v.data(), g.data(), kAdamParams, h, 1);
  state.counters["GB"] = benchmark::Counter(28.0 * kAdamParams * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
}
BENCHMARK(BM_CpuAdam)->UseRealTime()->Unit(benchmark::kMicrosecond);

}  // namespace

BENCHMARK_MAIN();
