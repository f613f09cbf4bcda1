// What every GPU benchmark (bench/bench_cuda_*.cpp, bench_vae_loss.cpp) shares: device memory,
// random operands, and the timing discipline.
//
// Timing: cudaEvents around the op alone (Google Benchmark's manual time), on the default stream,
// after one untimed warm-up call (module load, first touch). Before every timed iteration a
// memset of twice the L2 size evicts the operands, so each iteration reads them from DRAM as a
// training step does (a layer's inputs were written long before it runs).
// Counters (set_traffic_counters): flop and bytes per iteration (bytes = the op's compulsory
// traffic: every operand read once, every output written once), reported as rates over the
// manual time: FLOPS and bytes_per_second.
// Only for builds with the CUDA backend; benchmarks call have_gpu() and SkipWithError without one.
#pragma once
#ifndef ZS_KNS
#define ZS_KNS cuda
#endif
#include "kernels/common.cuh"
#include "runtime/backend/kernel_backend.h"
#include "runtime/backend/kernel_memory.h"

#include <benchmark/benchmark.h>

#include <cstddef>
#include <cstdint>
#include <random>
#include <vector>

namespace zs::bench_cuda {

inline bool have_gpu() {
  static const bool available = zs::cuda::usable_device_count() > 0;
  return available;
}

inline std::vector<float> random_floats(std::size_t count, uint32_t seed, float lo = -1.f, float hi = 1.f) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> dist(lo, hi);
  std::vector<float> v(count);
  for (float& x : v) x = dist(rng);
  return v;
}

// Device memory is DeviceBuffer<T>(kernel_memory(), count or host vector) (runtime/backend/kernel_memory.h).
using ::zs::DeviceBuffer;
using ::zs::ZS_KNS::kernel_memory;

// `count` floats uniform in [lo, hi) from seed `seed`, on the device.
inline DeviceBuffer<float> random_device_floats(DeviceMemory& memory, std::size_t count, uint32_t seed, float lo = -1.f,
                                                float hi = 1.f) {
  return DeviceBuffer<float>(memory, random_floats(count, seed, lo, hi));
}

// Evicts the L2 cache by writing a buffer twice its size (queued on `stream`).
inline void flush_l2(cudaStream_t stream) {
  static DeviceBuffer<unsigned char> buffer = [] {
    int device = 0, l2_bytes = 0;
    CUDA_CHECK(cudaGetDevice(&device));
    CUDA_CHECK(cudaDeviceGetAttribute(&l2_bytes, cudaDevAttrL2CacheSize, device));
    return DeviceBuffer<unsigned char>(kernel_memory(),
                                       std::size_t(2) * std::size_t(l2_bytes > 0 ? l2_bytes : 1 << 20));
  }();
  CUDA_CHECK(cudaMemsetAsync(buffer.data(), 0, buffer.bytes(), stream));
}

// Times op(stream) per iteration as described above; the benchmark must use UseManualTime().
template <class Op>
void time_on_gpu(benchmark::State& state, Op&& op) {
  cudaStream_t stream = nullptr;
  cudaEvent_t start = nullptr, stop = nullptr;
  CUDA_CHECK(cudaEventCreate(&start));
  CUDA_CHECK(cudaEventCreate(&stop));
  op(stream);
  CUDA_CHECK(cudaStreamSynchronize(stream));
  for (auto _ : state) {
    flush_l2(stream);
    CUDA_CHECK(cudaEventRecord(start, stream));
    op(stream);
    CUDA_CHECK(cudaEventRecord(stop, stream));
    CUDA_CHECK(cudaEventSynchronize(stop));
    float ms = 0.f;
    CUDA_CHECK(cudaEventElapsedTime(&ms, start, stop));
    state.SetIterationTime(double(ms) * 1e-3);
  }
  CUDA_CHECK(cudaEventDestroy(start));
  CUDA_CHECK(cudaEventDestroy(stop));
}

// Per-iteration flop and bytes as rates over the measured time (flop 0: no FLOPS counter).
inline void set_traffic_counters(benchmark::State& state, double flop, double bytes) {
  if (flop > 0) state.counters["FLOPS"] = benchmark::Counter(flop, benchmark::Counter::kIsIterationInvariantRate);
  state.counters["bytes_per_second"] = benchmark::Counter(bytes, benchmark::Counter::kIsIterationInvariantRate);
}

}  // namespace zs::bench_cuda
