// GPU speed of the row gather (kernels/gather.cu), the training loop's per-epoch shuffle of the
// resident data set: 60,000 rows of 784 floats (Fashion-MNIST) in a seeded random order, every
// kernel version, against cudaMemcpyAsync of the same bytes device to device (the bandwidth
// ceiling a gather can approach), plus the CPU twin for scale.
// Timing and counters (bytes_per_second = rows read once + written once): cuda_bench_support.h.
#include "bench/cuda_bench_support.h"

#include <algorithm>
#include <cstdint>
#include <numeric>
#include <random>
#include <string>
#include <vector>

#include "kernels/cpu/ops.h"
#include "kernels/gather.cuh"

namespace {

using zs::bench_cuda::DeviceBuffer;
using zs::bench_cuda::kernel_memory;

constexpr int64_t kRows = 60000;
constexpr int kRowLen = 784;

std::vector<int32_t> shuffled_rows() {
  std::vector<int32_t> perm(kRows);
  std::iota(perm.begin(), perm.end(), 0);
  std::shuffle(perm.begin(), perm.end(), std::mt19937(20240601));
  return perm;
}

double gather_bytes() { return 2.0 * sizeof(float) * double(kRows) * kRowLen + sizeof(int32_t) * double(kRows); }

// args: version
void BM_GatherRowsGpu(benchmark::State& state) {
  if (!zs::bench_cuda::have_gpu()) return state.SkipWithError("no CUDA GPU");
  const int version = int(state.range(0));
  const DeviceBuffer<float> src = zs::bench_cuda::random_device_floats(kernel_memory(), size_t(kRows) * kRowLen, 1),
                            dst(kernel_memory(), size_t(kRows) * kRowLen);
  const DeviceBuffer<int32_t> perm(kernel_memory(), shuffled_rows());
  state.SetLabel("60000x784 v" + std::to_string(version));
  zs::bench_cuda::time_on_gpu(state, [&](cudaStream_t stream) {
    zs::cuda::gather_rows(dst.data(), src.data(), perm.data(), kRows, kRowLen, stream, version);
  });
  zs::bench_cuda::set_traffic_counters(state, 0, gather_bytes());
}
BENCHMARK(BM_GatherRowsGpu)->DenseRange(1, zs::cuda::kGatherKernelVersions)->UseManualTime()->Unit(
    benchmark::kMicrosecond);

void BM_MemcpyD2DGpu(benchmark::State& state) {
  if (!zs::bench_cuda::have_gpu()) return state.SkipWithError("no CUDA GPU");
  const DeviceBuffer<float> src(kernel_memory(), size_t(kRows) * kRowLen),
      dst(kernel_memory(), size_t(kRows) * kRowLen);
  state.SetLabel("60000x784 cudaMemcpyAsync");
  zs::bench_cuda::time_on_gpu(state, [&](cudaStream_t stream) {
    CUDA_CHECK(cudaMemcpyAsync(dst.data(), src.data(), dst.bytes(), cudaMemcpyDeviceToDevice, stream));
  });
  zs::bench_cuda::set_traffic_counters(state, 0, gather_bytes());
}
BENCHMARK(BM_MemcpyD2DGpu)->UseManualTime()->Unit(benchmark::kMicrosecond);

void BM_GatherRowsCpu(benchmark::State& state) {
  const std::vector<float> src = zs::bench_cuda::random_floats(size_t(kRows) * kRowLen, 1);
  std::vector<float> dst(src.size());
  const std::vector<int32_t> perm = shuffled_rows();
  state.SetLabel("60000x784 CPU twin");
  for (auto _ : state) {
    zs::cpu::gather_rows(dst.data(), src.data(), perm.data(), kRows, kRowLen);
    benchmark::ClobberMemory();
  }
  zs::bench_cuda::set_traffic_counters(state, 0, gather_bytes());
}
BENCHMARK(BM_GatherRowsCpu)->UseRealTime()->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
