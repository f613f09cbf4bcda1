// GPU speed of the KMeans kernels (kernels/kmeans.cu) and of the library's KMeans on cuda, at the
// blog's size: 60,000 x 784 points.
//
//   BM_Assign/version/k       kmeans_assign (every version), k = 25 and 225, one group.
//   BM_AssignGroups/k/groups  the shipped version with the n_init = 10 runs of k = 25 sharing one pass.
//   BM_CublasArgmin/k         the unfused baseline: cuBLAS SGEMM stores the n x k dot products,
//                             then kmeans_argmin_dots takes the argmin (same outputs).
//   BM_LloydPass/k/groups     assignment + deterministic centroid sums (one Lloyd iteration).
//   BM_KMeansFit              the whole KMeans fit on cuda: k 25, k-means++, n_init 10, max_iter 50,
//                             tol 1e-4, seed 0 (target < 0.3 s on an H100); wall time, data upload
//                             and every host step included.
//   BM_ElbowSweep             KMeans fits for k = 2 .. 250 on cuda (n_init 1, max_iter 50): the
//                             elbow curve's cost (target < 60 s). Runs only with ZS_BENCH_ELBOW=1.
// Counter `triples` = point-centre-dimension triples per second (n * k * groups * d per
// iteration), as bench_kmeans.cpp reports for the CPU.
// Kernel timing: cudaEvents around each iteration (UseManualTime), with L2 evicted before each
// iteration by a memset of twice its size (the points come from DRAM, as in a fit, where a pass
// streams 188 MB). Data: Fashion-MNIST's 60,000 training images / 255 when $ZS_FASHION_DIR
// (default /usr/share/datasets/fashion-mnist) has them, else uniform noise of the same shape.
// Without a usable GPU every benchmark is skipped with an error message.
#include "bench/cuda_bench_support.h"

#include <cublas_v2.h>

#include <cstdio>
#include <cstdlib>
#include <memory>
#include <random>
#include <span>
#include <string>
#include <vector>

#include "bench/fashion_points.h"
#include "kernels/kmeans.cuh"
#include "runtime/backend/kernel_backend.h"
#include "runtime/cluster/kmeans.h"

namespace {

namespace kns = zs::cuda;

constexpr int kRows = 60000, kDim = 784;

using zs::bench_cuda::have_gpu;

using HostData = zs::bench_data::FashionPoints;
const HostData& host_data() { return zs::bench_data::fashion_points("bench_cuda_kmeans"); }

using zs::bench_cuda::DeviceBuffer;
using zs::bench_cuda::kernel_memory;

// The points and their norms on the device, and `centres` rows taken evenly from the points.
struct DeviceProblem {
  DeviceBuffer<float> x, x_sqnorm, centers, c_sqnorm;
  explicit DeviceProblem(int centres)
      : x(kernel_memory(), std::span<const float>(host_data().x.data(), size_t(kRows) * kDim)),
        x_sqnorm(kernel_memory(), kRows), centers(kernel_memory(), size_t(centres) * kDim),
        c_sqnorm(kernel_memory(), centres) {
    for (int j = 0; j < centres; ++j)
      CUDA_CHECK(cudaMemcpy(centers.data() + size_t(j) * kDim, x.data() + size_t(j) * (kRows / centres) * kDim,
                            kDim * sizeof(float), cudaMemcpyDeviceToDevice));
    kns::row_sqnorms(x_sqnorm.data(), x.data(), kRows, kDim, nullptr);
    kns::row_sqnorms(c_sqnorm.data(), centers.data(), centres, kDim, nullptr);
    CUDA_CHECK(cudaDeviceSynchronize());
  }
};

// cudaEvent time of op() with L2 evicted before every iteration (bench/cuda_bench_support.h);
// counters: triples per second and the GFLOP/s they amount to (2 flops per triple).
template <class Op>
void time_on_gpu(benchmark::State& state, double triples, Op&& op) {
  zs::bench_cuda::time_on_gpu(state, [&](cudaStream_t) { op(); });
  state.counters["triples"] = benchmark::Counter(triples, benchmark::Counter::kIsIterationInvariantRate);
  state.counters["GFLOP/s"] = benchmark::Counter(2e-9 * triples, benchmark::Counter::kIsIterationInvariantRate);
}

#define SKIP_WITHOUT_GPU(state)                   \
  do {                                            \
    if (!have_gpu()) {                            \
      (state).SkipWithError("no usable CUDA GPU"); \
      return;                                     \
    }                                             \
  } while (0)

void BM_Assign(benchmark::State& state) {
  SKIP_WITHOUT_GPU(state);
  const int version = int(state.range(0)), k = int(state.range(1));
  DeviceProblem p(k);
  DeviceBuffer<int32_t> labels(kernel_memory(), kRows);
  DeviceBuffer<float> dist(kernel_memory(), kRows);
  time_on_gpu(state, double(kRows) * k * kDim, [&] {
    kns::kmeans_assign(labels.data(), dist.data(), p.x.data(), p.x_sqnorm.data(), p.centers.data(), p.c_sqnorm.data(),
                       kRows, kDim, k, 1, nullptr, version);
  });
}
BENCHMARK(BM_Assign)
    ->ArgsProduct({{1, 2}, {25, 225}})
    ->ArgNames({"version", "k"})
    ->UseManualTime()
    ->Unit(benchmark::kMillisecond);

void BM_AssignGroups(benchmark::State& state) {
  SKIP_WITHOUT_GPU(state);
  const int k = int(state.range(0)), groups = int(state.range(1));
  DeviceProblem p(k * groups);
  DeviceBuffer<int32_t> labels(kernel_memory(), size_t(kRows) * groups);
  DeviceBuffer<float> dist(kernel_memory(), size_t(kRows) * groups);
  time_on_gpu(state, double(kRows) * k * groups * kDim, [&] {
    kns::kmeans_assign(labels.data(), dist.data(), p.x.data(), p.x_sqnorm.data(), p.centers.data(), p.c_sqnorm.data(),
                       kRows, kDim, k, groups, nullptr);
  });
}
BENCHMARK(BM_AssignGroups)->Args({25, 10})->ArgNames({"k", "groups"})->UseManualTime()->Unit(benchmark::kMillisecond);

void BM_CublasArgmin(benchmark::State& state) {
  SKIP_WITHOUT_GPU(state);
  const int k = int(state.range(0));
  DeviceProblem p(k);
  DeviceBuffer<float> dots(kernel_memory(), size_t(kRows) * k), dist(kernel_memory(), kRows);
  DeviceBuffer<int32_t> labels(kernel_memory(), kRows);
  cublasHandle_t handle;
  if (cublasCreate(&handle) != CUBLAS_STATUS_SUCCESS) {
    state.SkipWithError("cublasCreate failed");
    return;
  }
  const float one = 1.f, zero = 0.f;
  time_on_gpu(state, double(kRows) * k * kDim, [&] {
    // Row-major dots[n][k] = X C^T is column-major dots^T = C X^T: (k x d) (d x n).
    cublasSgemm(handle, CUBLAS_OP_T, CUBLAS_OP_N, k, kRows, kDim, &one, p.centers.data(), kDim, p.x.data(), kDim, &zero,
                dots.data(), k);
    kns::kmeans_argmin_dots(labels.data(), dist.data(), dots.data(), p.x_sqnorm.data(), p.c_sqnorm.data(), kRows, k,
                            nullptr);
  });
  cublasDestroy(handle);
}
BENCHMARK(BM_CublasArgmin)->Arg(25)->Arg(225)->ArgNames({"k"})->UseManualTime()->Unit(benchmark::kMillisecond);

void BM_LloydPass(benchmark::State& state) {
  SKIP_WITHOUT_GPU(state);
  const int k = int(state.range(0)), groups = int(state.range(1));
  DeviceProblem p(k * groups);
  DeviceBuffer<int32_t> labels(kernel_memory(), size_t(kRows) * groups);
  DeviceBuffer<float> dist(kernel_memory(), size_t(kRows) * groups), sums(kernel_memory(), size_t(k) * groups * kDim);
  DeviceBuffer<int64_t> counts(kernel_memory(), size_t(k) * groups);
  time_on_gpu(state, double(kRows) * k * groups * kDim, [&] {
    kns::kmeans_lloyd_pass(labels.data(), dist.data(), sums.data(), counts.data(), p.x.data(), p.x_sqnorm.data(),
                           p.centers.data(), p.c_sqnorm.data(), kRows, kDim, k, groups, nullptr);
  });
}
BENCHMARK(BM_LloydPass)
    ->Args({25, 1})
    ->Args({225, 1})
    ->Args({25, 10})
    ->ArgNames({"k", "groups"})
    ->UseManualTime()
    ->Unit(benchmark::kMillisecond);

void BM_KMeansFit(benchmark::State& state) {
  SKIP_WITHOUT_GPU(state);
  const HostData& d = host_data();
  zs::KMeansOptions o;
  o.k = 25;
  o.n_init = 10;
  o.max_iter = 50;
  o.tol = 1e-4;
  o.seed = 0;
  const std::unique_ptr<zs::Backend> gpu = zs::cuda::make_backend();
  o.backend = gpu.get();
  zs::KMeansFit fit;
  for (auto _ : state) fit = zs::fit_kmeans(zs::MatrixView{d.x.data(), kRows, kDim}, o);
  state.counters["inertia"] = fit.inertia;
  state.counters["n_iter"] = fit.n_iter;
  state.counters["real_data"] = d.real;
}
BENCHMARK(BM_KMeansFit)->Iterations(1)->Unit(benchmark::kSecond)->UseRealTime();

void BM_ElbowSweep(benchmark::State& state) {
  SKIP_WITHOUT_GPU(state);
  if (!std::getenv("ZS_BENCH_ELBOW")) {   // tens of seconds: not part of every device check
    state.SkipWithError("set ZS_BENCH_ELBOW=1 to run the k = 2..250 sweep");
    return;
  }
  const HostData& d = host_data();
  double total_inertia = 0;
  const std::unique_ptr<zs::Backend> gpu = zs::cuda::make_backend();
  for (auto _ : state) {
    total_inertia = 0;
    for (int k = 2; k <= 250; ++k) {
      zs::KMeansOptions o;
      o.k = k;
      o.n_init = 1;
      o.max_iter = 50;
      o.seed = 0;
      o.backend = gpu.get();
      total_inertia += zs::fit_kmeans(zs::MatrixView{d.x.data(), kRows, kDim}, o).inertia;
    }
  }
  state.counters["sum_inertia"] = total_inertia;
  state.counters["real_data"] = d.real;
}
BENCHMARK(BM_ElbowSweep)->Iterations(1)->Unit(benchmark::kSecond)->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
