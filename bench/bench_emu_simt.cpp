// Speed of the CUDA emulator (runtime/simt): the cost of a CUDA thread with no synchronisation,
// of one __syncthreads per thread, and of one warp shuffle per thread, by block size and order.
// The counter "per_event" is seconds per thread (no barrier), or per thread and barrier / per
// thread and shuffle (the thread's start and exit spread over 32 or 16 events). One OS thread,
// CPU time (the machines this runs on are shared).
#include <benchmark/benchmark.h>

#include <vector>

#include "kernels/common.cuh"
#include "runtime/backend/kernel_memory.h"
#include "tests/simt_kernels.h"

namespace {

using zs::simt::Order;

using zs::DeviceBuffer;
using zs::emu::kernel_memory;

zs::simt::Settings settings_for(int order) {
  zs::simt::Settings s;
  s.order = order == 0 ? Order::Forward : (order == 1 ? Order::Reverse : Order::Random);
  s.threads = 1;
  return s;
}

void set_label(benchmark::State& state, int order) {
  state.SetLabel(zs::simt::to_string(settings_for(order).order, 1));
}

// args: block size, order (0 forward, 1 reverse, 2 random)
void BM_ThreadNoBarrier(benchmark::State& state) {
  const int block = int(state.range(0)), blocks = 256, n = block * blocks;
  zs::simt::ScopedSettings scoped(settings_for(int(state.range(1))));
  DeviceBuffer<float> x(kernel_memory(), size_t(n)), y(kernel_memory(), size_t(n));
  for (auto _ : state) {
    LAUNCH(zs::simt_test::scale_kernel, blocks, block, 0, nullptr)(y.data(), x.data(), 2.f, n);
    KERNEL_CHECK();
    CUDA_CHECK(cudaDeviceSynchronize());   // launches are queued: run this one now
  }
  state.counters["per_event"] =
      benchmark::Counter(double(n), benchmark::Counter::kIsIterationInvariantRate | benchmark::Counter::kInvert);
  set_label(state, int(state.range(1)));
}
BENCHMARK(BM_ThreadNoBarrier)->ArgsProduct({{32, 256, 1024}, {0, 2}});

// Each round is two barriers; rounds = 16, so 32 barriers per thread.
void BM_Barrier(benchmark::State& state) {
  const int block = int(state.range(0)), blocks = 16, rounds = 16;
  zs::simt::ScopedSettings scoped(settings_for(int(state.range(1))));
  DeviceBuffer<int> out(kernel_memory(), 1);
  for (auto _ : state) {
    LAUNCH(zs::simt_test::barrier_loop_kernel, blocks, block, 0, nullptr)(out.data(), rounds);
    KERNEL_CHECK();
    CUDA_CHECK(cudaDeviceSynchronize());   // launches are queued: run this one now
  }
  state.counters["per_event"] = benchmark::Counter(double(block) * blocks * rounds * 2,
                                                   benchmark::Counter::kIsIterationInvariantRate |
                                                       benchmark::Counter::kInvert);
  set_label(state, int(state.range(1)));
}
BENCHMARK(BM_Barrier)->ArgsProduct({{32, 256, 1024}, {0, 2}});

void BM_Shuffle(benchmark::State& state) {
  const int block = int(state.range(0)), blocks = 16, rounds = 16;
  zs::simt::ScopedSettings scoped(settings_for(int(state.range(1))));
  DeviceBuffer<int> out(kernel_memory(), std::size_t(block) * blocks);
  for (auto _ : state) {
    LAUNCH(zs::simt_test::shuffle_loop_kernel, blocks, block, 0, nullptr)(out.data(), rounds);
    KERNEL_CHECK();
    CUDA_CHECK(cudaDeviceSynchronize());   // launches are queued: run this one now
  }
  state.counters["per_event"] = benchmark::Counter(double(block) * blocks * rounds,
                                                   benchmark::Counter::kIsIterationInvariantRate |
                                                       benchmark::Counter::kInvert);
  set_label(state, int(state.range(1)));
}
BENCHMARK(BM_Shuffle)->ArgsProduct({{32, 256, 1024}, {0, 2}});

}  // namespace

BENCHMARK_MAIN();
