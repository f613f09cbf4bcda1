// The CPU emulator of the CUDA execution model (runtime/simt): correct kernels give identical,
// correct results in every thread order; planted bugs are exposed (wrong results in some
// order, or a strict-mode report naming the file:line at fault); launches, errors and device
// memory behave like the CUDA runtime. Kernels: simt_kernels.h and simt_planted_bugs.h.
#include <catch2/catch.hpp>

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>
#include <numeric>
#include <random>
#include <string>
#include <vector>

#include "kernels/common.cuh"
#include "kernels/elementwise.cuh"
#include "simt_kernels.h"
#include "simt_planted_bugs.h"
#include "simt_test_support.h"

using namespace zs::simt_test;
using zs::simt::KernelError;
using zs::simt::Order;
using zs::simt::ScopedSettings;
using zs::simt::Settings;

namespace {

std::vector<float> random_floats(std::size_t n, uint32_t seed, float lo = -1.f, float hi = 1.f) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> dist(lo, hi);
  std::vector<float> v(n);
  for (float& x : v) x = dist(rng);
  return v;
}

Settings lenient() {
  Settings s;
  s.strict = false;
  return s;
}

// The message of the KernelError that `launch` throws at the synchronisation that runs it
// (fails the test if it throws nothing).
template <class F>
std::string kernel_error_of(F&& launch) {
  try {
    launch();
    CUDA_CHECK(cudaDeviceSynchronize());
  } catch (const KernelError& e) {
    return e.what();
  }
  FAIL("the launch did not throw zs::simt::KernelError");
  return {};
}

std::string site(int line) { return "simt_planted_bugs.h:" + std::to_string(line); }

std::vector<float> matmul_reference(const std::vector<float>& a, const std::vector<float>& b, int m, int n, int k) {
  std::vector<float> c(std::size_t(m) * n);
  for (int i = 0; i < m; ++i)
    for (int j = 0; j < n; ++j) {
      float sum = 0.f;
      for (int p = 0; p < k; ++p) sum += a[i * k + p] * b[p * n + j];
      c[i * n + j] = sum;
    }
  return c;
}

template <bool kSkipSecondBarrier>
std::vector<float> run_matmul(const Settings& settings, const std::vector<float>& a, const std::vector<float>& b,
                              int m, int n, int k) {
  ScopedSettings scoped(settings);
  DeviceBuffer<float> da(kernel_memory(), a), db(kernel_memory(), b), dc(kernel_memory(), std::size_t(m) * n);
  const dim3 block(kTile, kTile), grid((n + kTile - 1) / kTile, (m + kTile - 1) / kTile);
  LAUNCH((tiled_matmul_kernel<kSkipSecondBarrier>), grid, block, 0, nullptr)(dc.data(), da.data(), db.data(), m, n, k);
  KERNEL_CHECK();
  return dc.download();
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// the execution model

TEST_CASE("simt: threads run in the configured order", "[emu][simt]") {
  constexpr int kThreads = 64;
  auto ranks_in = [&](const Settings& s) {
    ScopedSettings scoped(s);
    DeviceBuffer<int> rank(kernel_memory(), kThreads), counter(kernel_memory(), std::vector<int>{0});
    LAUNCH(arrival_order_kernel, 1, kThreads, 0, nullptr)(rank.data(), counter.data());
    KERNEL_CHECK();
    return rank.download();
  };
  const auto orders = all_orders();
  const std::vector<int> forward = ranks_in(orders[0]), reverse = ranks_in(orders[1]);
  const std::vector<int> random1 = ranks_in(orders[2]), random2 = ranks_in(orders[3]);
  for (int t = 0; t < kThreads; ++t) {
    CHECK(forward[t] == t);
    CHECK(reverse[t] == kThreads - 1 - t);
  }
  std::vector<int> sorted = random1;
  std::sort(sorted.begin(), sorted.end());
  std::vector<int> identity(kThreads);
  std::iota(identity.begin(), identity.end(), 0);
  CHECK(sorted == identity);   // a permutation...
  CHECK(random1 != forward);   // ...that is neither forward nor reverse
  CHECK(random1 != reverse);
  CHECK(random1 != random2);   // and depends on the seed
  CHECK(ranks_in(orders[2]) == random1);   // deterministically

  // Blocks are dispatched in the same order policy.
  constexpr int kBlocks = 16;
  auto block_ranks_in = [&](const Settings& s) {
    ScopedSettings scoped(s);
    DeviceBuffer<int> rank(kernel_memory(), kBlocks), counter(kernel_memory(), std::vector<int>{0});
    LAUNCH(arrival_order_kernel, kBlocks, 1, 0, nullptr)(rank.data(), counter.data());
    KERNEL_CHECK();
    return rank.download();
  };
  const std::vector<int> blocks_forward = block_ranks_in(orders[0]), blocks_random = block_ranks_in(orders[2]);
  for (int b = 0; b < kBlocks; ++b) CHECK(blocks_forward[b] == b);
  CHECK(block_ranks_in(orders[1])[0] == kBlocks - 1);
  std::vector<int> sorted_blocks = blocks_random;
  std::sort(sorted_blocks.begin(), sorted_blocks.end());
  CHECK(sorted_blocks == blocks_forward);
  CHECK(blocks_random != blocks_forward);
}

TEST_CASE("simt: built-in variables come from the running thread", "[emu][simt]") {
  const dim3 block(4, 3, 2), grid(3, 2, 2);
  const int threads = 4 * 3 * 2, blocks = 3 * 2 * 2;
  for (const Settings& s : all_orders()) {
    INFO(describe(s));
    ScopedSettings scoped(s);
    DeviceBuffer<int> out(kernel_memory(), std::size_t(threads) * blocks * 4);
    LAUNCH(builtins_kernel, grid, block, 0, nullptr)(out.data());
    KERNEL_CHECK();
    const std::vector<int> o = out.download();
    int bad = 0;
    for (int bz = 0; bz < 2; ++bz)
      for (int by = 0; by < 2; ++by)
        for (int bx = 0; bx < 3; ++bx)
          for (int tz = 0; tz < 2; ++tz)
            for (int ty = 0; ty < 3; ++ty)
              for (int tx = 0; tx < 4; ++tx) {
                const int b = (bz * 2 + by) * 3 + bx, t = (tz * 3 + ty) * 4 + tx;
                const int* e = &o[(b * threads + t) * 4];
                bad += e[0] != tx + 10 * ty + 100 * tz;
                bad += e[1] != bx + 10 * by + 100 * bz;
                bad += e[2] != 4 + 10 * 3 + 100 * 2;
                bad += e[3] != 3 + 10 * 2 + 100 * 2;
              }
    CHECK(bad == 0);
  }
}

TEST_CASE("simt: tiled matmul with shared memory and barriers is correct in every order", "[emu][simt]") {
  const int m = 19, n = 13, k = 21;   // none a multiple of the tile: every boundary path runs
  const auto a = random_floats(std::size_t(m) * k, 1), b = random_floats(std::size_t(k) * n, 2);
  const auto ref = matmul_reference(a, b, m, n, k);
  std::vector<float> first;
  for (int threads : {1, 2})
    for (const Settings& s : all_orders(threads)) {
      INFO(describe(s));
      const auto c = run_matmul<false>(s, a, b, m, n, k);
      require_close(c, ref, 1e-5, 1e-5, "tiled matmul");
      if (first.empty()) first = c;
      CHECK(c == first);   // bit-identical across orders and thread counts
    }
}

TEST_CASE("simt: block reduction with warp shuffles", "[emu][simt]") {
  const int count = 1000, blocks = (count + kReduceBlock - 1) / kReduceBlock;
  std::vector<float> x(count);
  for (int i = 0; i < count; ++i) x[i] = float(i % 17 - 8);   // small integers: exact sums
  std::vector<float> ref(blocks, 0.f);
  for (int i = 0; i < count; ++i) ref[i / kReduceBlock] += x[i];
  for (const Settings& s : all_orders()) {
    INFO(describe(s));
    ScopedSettings scoped(s);
    DeviceBuffer<float> dx(kernel_memory(), x), sums(kernel_memory(), blocks);
    LAUNCH(block_sum_kernel, blocks, kReduceBlock, 0, nullptr)(sums.data(), dx.data(), count);
    KERNEL_CHECK();
    CHECK(sums.download() == ref);
  }
}

TEST_CASE("simt: warp scan with __shfl_up_sync and segmented __shfl_sync", "[emu][simt]") {
  const int blocks = 2, block = 64, n = blocks * block;
  std::vector<int> x(n);
  for (int i = 0; i < n; ++i) x[i] = (i * 7) % 11;
  std::vector<int> scan_ref(n), broadcast_ref(n);
  for (int i = 0; i < n; ++i) {
    scan_ref[i] = x[i] + (i % 32 ? scan_ref[i - 1] : 0);
    broadcast_ref[i] = x[i / 8 * 8 + 3];
  }
  for (const Settings& s : all_orders()) {
    INFO(describe(s));
    ScopedSettings scoped(s);
    DeviceBuffer<int> dx(kernel_memory(), x), scan(kernel_memory(), n), broadcast(kernel_memory(), n);
    LAUNCH(warp_scan_kernel, blocks, block, 0, nullptr)(scan.data(), broadcast.data(), dx.data());
    KERNEL_CHECK();
    CHECK(scan.download() == scan_ref);
    CHECK(broadcast.download() == broadcast_ref);
  }
}

TEST_CASE("simt: ballot, any, all, __syncthreads_count/and/or", "[emu][simt]") {
  const int blocks = 2, block = 64;
  for (const Settings& s : all_orders()) {
    INFO(describe(s));
    ScopedSettings scoped(s);
    DeviceBuffer<unsigned> out(kernel_memory(), std::size_t(blocks) * block * 8);
    LAUNCH(vote_kernel, blocks, block, 0, nullptr)(out.data());
    KERNEL_CHECK();
    const std::vector<unsigned> o = out.download();
    int block_count = 0;
    for (int t = 0; t < block; ++t) block_count += t % 3 == 0;
    for (int b = 0; b < blocks; ++b)
      for (int t = 0; t < block; ++t) {
        INFO("block " << b << " thread " << t);
        const unsigned* e = &o[(b * block + t) * 8];
        unsigned ballot = 0;
        for (int l = 0; l < 32; ++l)
          if ((t / 32 * 32 + l) % 3 == 0) ballot |= 1u << l;
        CHECK(e[0] == ballot);
        CHECK(e[1] == 1u);
        CHECK(e[2] == 1u);
        CHECK(e[3] == 0u);
        CHECK(e[4] == unsigned(block_count));
        CHECK(e[5] == 1u);
        CHECK(e[6] == 1u);
        CHECK(e[7] == 0xffffffffu);
      }
  }
}

TEST_CASE("simt: dynamic shared memory is per block", "[emu][simt]") {
  const int blocks = 3, block = 96, n = blocks * block;
  const auto x = random_floats(n, 3);
  std::vector<float> ref(n);
  for (int i = 0; i < n; ++i) ref[i] = x[i / block * block + block - 1 - i % block];
  for (int threads : {1, 2})
    for (const Settings& s : all_orders(threads)) {
      INFO(describe(s));
      ScopedSettings scoped(s);
      DeviceBuffer<float> dx(kernel_memory(), x), y(kernel_memory(), n);
      LAUNCH(reverse_in_block_kernel, blocks, block, block * sizeof(float), nullptr)(y.data(), dx.data());
      KERNEL_CHECK();
      CHECK(y.download() == ref);
    }
}

TEST_CASE("simt: atomics", "[emu][simt]") {
  const int count = 1000;
  std::vector<int> values(count);
  for (int i = 0; i < count; ++i) values[i] = (i * 37 + 11) % 523;
  AtomicResults want{};
  want.max_value = *std::max_element(values.begin(), values.end());
  want.min_value = *std::min_element(values.begin(), values.end());
  for (int v : values) {
    want.histogram[v & 15] += 1;
    want.float_sum += float(v % 7);
  }
  for (int threads : {1, 2})
    for (const Settings& s : all_orders(threads)) {
      INFO(describe(s));
      ScopedSettings scoped(s);
      AtomicResults init{};
      init.max_value = -1;
      init.min_value = 1 << 30;
      init.exchange_slot = -1;
      DeviceBuffer<int> dv(kernel_memory(), values);
      DeviceBuffer<AtomicResults> r(kernel_memory(), std::vector<AtomicResults>{init});
      LAUNCH(atomics_kernel, (count + 127) / 128, 128, 0, nullptr)(r.data(), dv.data(), count);
      KERNEL_CHECK();
      const AtomicResults got = r.download()[0];
      for (int bin = 0; bin < 16; ++bin) CHECK(got.histogram[bin] == want.histogram[bin]);
      CHECK(got.max_value == want.max_value);
      CHECK(got.min_value == want.min_value);
      CHECK(got.float_sum == want.float_sum);
      CHECK(std::bit_cast<float>(got.cas_max_bits) == float(want.max_value));
      CHECK(got.exchange_slot >= 0);
      CHECK(got.exchange_slot < count);
      CHECK(got.first_exchangers == 1);
      CHECK(got.wrapped_counter == unsigned(count % 10));
    }
}

// ---------------------------------------------------------------------------------------------
// planted bugs

TEST_CASE("simt: (a) a tiled kernel missing a __syncthreads is wrong in some order", "[emu][simt]") {
  const int m = 16, n = 16, k = 32;
  const auto a = random_floats(std::size_t(m) * k, 4), b = random_floats(std::size_t(k) * n, 5);
  const auto ref = matmul_reference(a, b, m, n, k);
  int wrong_orders = 0;
  for (const Settings& s : all_orders()) {
    const auto m_found = find_mismatches(run_matmul<true>(s, a, b, m, n, k), ref, 1e-5, 1e-5);
    if (m_found.count > 0) ++wrong_orders;
    UNSCOPED_INFO(describe(s) << ": " << m_found.count << " of " << ref.size() << " outputs wrong");
  }
  CHECK(wrong_orders >= 1);
}

TEST_CASE("simt: (b) a warp-synchronous reduction without __syncwarp is wrong in some order", "[emu][simt]") {
  const int blocks = 4;
  std::vector<float> x(64 * blocks);
  for (std::size_t i = 0; i < x.size(); ++i) x[i] = float(i % 13);   // exact sums
  std::vector<float> ref(blocks, 0.f);
  for (std::size_t i = 0; i < x.size(); ++i) ref[i / 64] += x[i];
  int wrong_orders = 0;
  for (const Settings& s : all_orders()) {
    ScopedSettings scoped(s);
    DeviceBuffer<float> dx(kernel_memory(), x), fixed(kernel_memory(), blocks), buggy(kernel_memory(), blocks);
    LAUNCH(warp_tail_sum_kernel<true>, blocks, 64, 0, nullptr)(fixed.data(), dx.data());
    LAUNCH(warp_tail_sum_kernel<false>, blocks, 64, 0, nullptr)(buggy.data(), dx.data());
    KERNEL_CHECK();
    INFO(describe(s));
    CHECK(fixed.download() == ref);   // with __syncwarp: right in every order
    if (buggy.download() != ref) ++wrong_orders;
  }
  CHECK(wrong_orders >= 1);
}

TEST_CASE("simt: (c) strict mode reports a divergent barrier with its file:line", "[emu][simt]") {
  DeviceBuffer<int> out(kernel_memory(), 32);
  const std::string msg = kernel_error_of([&] { LAUNCH(divergent_barrier_kernel, 1, 32, 0, nullptr)(out.data()); });
  INFO(msg);
  CHECK(msg.find("different __syncthreads") != std::string::npos);
  CHECK(msg.find(site(kDivergentBarrierLineLow)) != std::string::npos);
  CHECK(msg.find(site(kDivergentBarrierLineHigh)) != std::string::npos);
  CHECK(msg.find("divergent_barrier_kernel") != std::string::npos);
  CHECK(msg.find("test_emu_simt.cpp:") != std::string::npos);   // the launch site

  // Without strict mode the barrier counts arrivals, as pre-Volta hardware does.
  ScopedSettings scoped(lenient());
  LAUNCH(divergent_barrier_kernel, 1, 32, 0, nullptr)(out.data());
  std::vector<int> want(32);
  std::iota(want.begin(), want.end(), 0);
  CHECK(out.download() == want);
}

TEST_CASE("simt: (c) strict mode reports a barrier after some threads exited", "[emu][simt]") {
  const int count = 100, block = 64, blocks = 2;
  const auto x = random_floats(count, 6);
  DeviceBuffer<float> dx(kernel_memory(), x), y(kernel_memory(), count);
  const std::string msg = kernel_error_of([&] {
    LAUNCH(barrier_after_exit_kernel, blocks, block, 0, nullptr)(y.data(), dx.data(), count);
  });
  INFO(msg);
  CHECK(msg.find(site(kBarrierAfterExitLine)) != std::string::npos);
  CHECK(msg.find("28 of 64 threads exited") != std::string::npos);
  CHECK(msg.find("block (1,0,0)") != std::string::npos);

  // Blocks running on two OS threads report the same way, on the launching thread.
  ScopedSettings two_threads(all_orders(2)[0]);
  const std::string msg2 = kernel_error_of([&] {
    LAUNCH(barrier_after_exit_kernel, blocks, block, 0, nullptr)(y.data(), dx.data(), count);
  });
  CHECK(msg2.find(site(kBarrierAfterExitLine)) != std::string::npos);

  ScopedSettings scoped(lenient());   // tolerated: exited threads leave the barrier's count
  LAUNCH(barrier_after_exit_kernel, blocks, block, 0, nullptr)(y.data(), dx.data(), count);
  KERNEL_CHECK();
  std::vector<float> ref(count);
  for (int i = 0; i < count; ++i) ref[i] = x[i] + x[i / block * block];
  CHECK(y.download() == ref);
}

TEST_CASE("simt: (d) strict mode reports a shuffle that names an exited lane", "[emu][simt]") {
  DeviceBuffer<int> out(kernel_memory(), 32);
  fill_bytes(out, 0);
  const auto orders = all_orders();
  // Forward order: lanes 0..15 shuffle before lanes 16..31 have run (and exited); reverse: after.
  for (const auto& [s, why] : {std::pair{orders[0], "is not in the mask"}, std::pair{orders[1], "has exited"}}) {
    ScopedSettings scoped(s);
    std::string msg = kernel_error_of([&] { LAUNCH(shuffle_exited_lane_kernel, 1, 32, 0, nullptr)(out.data()); });
    INFO(describe(s) << ": " << msg);
    CHECK(msg.find(site(kShuffleExitedLaneLine)) != std::string::npos);
    CHECK(msg.find("__shfl_down_sync with mask 0x0000ffff reads lane 16, which " + std::string(why)) !=
          std::string::npos);

    // A full mask after lanes exited: caught when the lanes arrive, or when the others exit.
    msg = kernel_error_of([&] { LAUNCH(mask_with_exited_lanes_kernel, 1, 32, 0, nullptr)(out.data()); });
    CHECK(msg.find(site(kMaskWithExitedLanesLine)) != std::string::npos);
    CHECK(msg.find("exited") != std::string::npos);

    msg = kernel_error_of([&] { LAUNCH(mask_without_self_kernel, 1, 32, 0, nullptr)(out.data()); });
    CHECK(msg.find(site(kMaskWithoutSelfLine)) != std::string::npos);
    CHECK(msg.find("does not name the calling lane") != std::string::npos);
  }

  // Without strict mode the undefined read yields the poison pattern (-1 for an int).
  ScopedSettings scoped(lenient());
  LAUNCH(shuffle_exited_lane_kernel, 1, 32, 0, nullptr)(out.data());
  const std::vector<int> o = out.download();
  for (int lane = 0; lane < 16; ++lane) CHECK(o[lane] == (lane < 8 ? 2 * lane + 8 : lane - 1));
}

TEST_CASE("simt: a warp op whose lanes never all arrive is reported as a deadlock", "[emu][simt]") {
  DeviceBuffer<int> out(kernel_memory(), 32);
  for (const Settings& s : {all_orders()[0], lenient()}) {
    ScopedSettings scoped(s);
    const std::string msg = kernel_error_of([&] { LAUNCH(warp_op_deadlock_kernel, 1, 32, 0, nullptr)(out.data()); });
    INFO(msg);
    CHECK(msg.find("deadlock") != std::string::npos);
    CHECK(msg.find("__shfl_sync") != std::string::npos);
    CHECK(msg.find(site(kDeadlockShuffleLine)) != std::string::npos);
    CHECK(msg.find(site(kDeadlockBarrierLine)) != std::string::npos);
  }
}

TEST_CASE("simt: (e) unwritten shared and device memory read as poison", "[emu][simt]") {
  const int block = 64;
  DeviceBuffer<float> y(kernel_memory(), block);
  for (int repeat = 0; repeat < 2; ++repeat) {   // re-poisoned for every block, not just the first
    LAUNCH(read_unwritten_shared_kernel, 1, block, block * sizeof(float), nullptr)(y.data());
    KERNEL_CHECK();
    const std::vector<float> o = y.download();
    for (int t = 0; t < block; ++t) {
      INFO("thread " << t);
      if (t < block / 2)
        CHECK(o[t] == 1.f);
      else
        CHECK(std::bit_cast<uint32_t>(o[t]) == 0xffffffffu);   // NaN
    }
  }
  DeviceBuffer<float> fresh(kernel_memory(), 4);
  for (float v : fresh.download()) CHECK(std::bit_cast<uint32_t>(v) == 0xffffffffu);
}

TEST_CASE("simt: (e') static shared memory no thread wrote reads as poison in every block", "[emu][simt]") {
  const int blocks = 5, n = blocks * kStaticSharedBlock;
  DeviceBuffer<float> y(kernel_memory(), n);
  DeviceBuffer<double> y_double(kernel_memory(), n);
  DeviceBuffer<int> y_int(kernel_memory(), n);
  // One OS thread runs the blocks one after the other (the stale values of a previous block would
  // be there), then two OS threads; launched twice, so the second launch follows the first.
  for (const int threads : {1, 2})
    for (int launch = 0; launch < 2; ++launch) {
      ScopedSettings scoped(all_orders(threads)[std::size_t(launch) % 4]);
      LAUNCH(read_unwritten_static_shared_kernel, blocks, kStaticSharedBlock, 0, nullptr)
      (y.data(), y_double.data(), y_int.data());
      KERNEL_CHECK();
      const std::vector<float> f = y.download();
      const std::vector<double> d = y_double.download();
      const std::vector<int> k = y_int.download();
      for (int b = 0; b < blocks; ++b)
        for (int t = 0; t < kStaticSharedBlock; ++t) {
          const int i = b * kStaticSharedBlock + t;
          INFO("OS threads " << threads << ", launch " << launch << ", block " << b << ", thread " << t);
          if (t == b) {   // never written in this block: float and double NaN (all ones), int 0xA5A5A5A5
            CHECK(std::bit_cast<uint32_t>(f[i]) == 0xffffffffu);
            CHECK(std::bit_cast<uint64_t>(d[i]) == ~uint64_t(0));
            CHECK(uint32_t(k[i]) == 0xa5a5a5a5u);
          } else {
            CHECK(f[i] == float(i));
            CHECK(d[i] == double(i));
            CHECK(k[i] == i);
          }
        }
    }
}

TEST_CASE("simt: an exception in device code fails the launch", "[emu][simt]") {
  DeviceBuffer<int> out(kernel_memory(), 32);
  const std::string msg = kernel_error_of([&] { LAUNCH(trap_kernel, 1, 32, 0, nullptr)(out.data()); });
  CHECK(msg.find("thread (3,0,0) threw: __trap() called") != std::string::npos);
  // The emulator is usable afterwards.
  DeviceBuffer<float> x(kernel_memory(), std::vector<float>(32, 1.5f)), y(kernel_memory(), 32);
  LAUNCH(scale_kernel, 1, 32, 0, nullptr)(y.data(), x.data(), 2.f, 32);
  KERNEL_CHECK();
  CHECK(y.download() == std::vector<float>(32, 3.f));
}

TEST_CASE("simt: (f) a float4 access at a misaligned address fails the kernel, naming the line", "[emu][simt]") {
  DeviceBuffer<float> x(kernel_memory(), std::vector<float>(4 * 32 + 4, 1.f)), y(kernel_memory(), 4 * 32);
  const std::string msg =
      kernel_error_of([&] { LAUNCH(misaligned_float4_kernel, 1, 32, 0, nullptr)
                            (y.data(), x.data()); });
  CHECK(msg.find("load_float4 at") != std::string::npos);
  CHECK(msg.find(site(kMisalignedLoadLine)) != std::string::npos);
  CHECK(msg.find("4 bytes past a 16-byte boundary") != std::string::npos);
}

namespace {
__global__ void nested_launch_kernel(int* out) { LAUNCH(arrival_order_kernel, 1, 1, 0, nullptr)(out, out); }
}  // namespace

TEST_CASE("simt: a launch from device code is refused", "[emu][simt]") {
  DeviceBuffer<int> out(kernel_memory(), 1);
  const std::string msg = kernel_error_of([&] { LAUNCH(nested_launch_kernel, 1, 1, 0, nullptr)(out.data()); });
  CHECK(msg.find("launched from device code") != std::string::npos);
}

TEST_CASE("simt: intrinsics outside a kernel are refused", "[emu][simt]") {
  CHECK_THROWS_WITH(__syncthreads(), Catch::Contains("outside a kernel launched with LAUNCH"));
}

// ---------------------------------------------------------------------------------------------
// launch configuration, runtime API, CUDA_CHECK

TEST_CASE("simt: an invalid launch configuration sets cudaGetLastError and runs nothing", "[emu][simt]") {
  REQUIRE(cudaGetLastError() == cudaSuccess);
  DeviceBuffer<float> x(kernel_memory(), std::vector<float>(2048, 1.f)), y(kernel_memory(), 2048);
  fill_bytes(y, 0);
  auto launch = [&](dim3 grid, dim3 block, std::size_t smem) {
    LAUNCH(scale_kernel, grid, block, smem, nullptr)(y.data(), x.data(), 2.f, 2048);
    return cudaGetLastError();
  };
  CHECK(launch(1, 1025, 0) == cudaErrorInvalidConfiguration);
  CHECK(launch(1, dim3(32, 32, 2), 0) == cudaErrorInvalidConfiguration);
  CHECK(launch(1, dim3(1, 1, 65), 0) == cudaErrorInvalidConfiguration);
  CHECK(launch(0, 32, 0) == cudaErrorInvalidConfiguration);
  CHECK(launch(dim3(1, 65536), 32, 0) == cudaErrorInvalidConfiguration);
  CHECK(launch(1, 32, 48 * 1024 + 4) == cudaErrorInvalidValue);
  for (float v : y.download()) CHECK(v == 0.f);   // nothing ran

  // The error stays until read, like CUDA's; KERNEL_CHECK turns it into an exception.
  LAUNCH(scale_kernel, 1, 2048, 0, nullptr)(y.data(), x.data(), 2.f, 2048);
  CHECK(cudaPeekAtLastError() == cudaErrorInvalidConfiguration);
  CHECK_THROWS_WITH([] { KERNEL_CHECK(); }(), Catch::Contains("cudaErrorInvalidConfiguration"));
  CHECK(cudaGetLastError() == cudaSuccess);

  // Dynamic shared memory: up to 48 KiB, and the emulated GTX 960 offers no opt-in beyond.
  CHECK(launch(1, 32, 48 * 1024) == cudaSuccess);
  CHECK(cudaFuncSetAttribute(scale_kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, 64 * 1024) ==
        cudaErrorInvalidValue);
  CHECK(cudaGetLastError() == cudaErrorInvalidValue);
  CHECK(cudaFuncSetAttribute(scale_kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, 48 * 1024) == cudaSuccess);
}

TEST_CASE("simt: CUDA_CHECK reports the expression, function, file:line and the error", "[emu][simt]") {
  float host[4] = {};
  const int line = __LINE__ + 2;
  try {
    CUDA_CHECK(cudaMemcpy(host, nullptr, sizeof host, cudaMemcpyDeviceToHost));
    FAIL("CUDA_CHECK did not throw");
  } catch (const std::runtime_error& e) {
    const std::string msg = e.what();
    INFO(msg);
    CHECK(msg.find("cudaMemcpy(host, nullptr, sizeof host, cudaMemcpyDeviceToHost)") != std::string::npos);
    CHECK(msg.find("test_emu_simt.cpp:" + std::to_string(line)) != std::string::npos);
    CHECK(msg.find("cudaErrorInvalidValue") != std::string::npos);
    CHECK(msg.find("invalid argument") != std::string::npos);
  }
  CHECK(cudaGetLastError() == cudaErrorInvalidValue);
  CHECK(cudaGetLastError() == cudaSuccess);
}

TEST_CASE("simt: device memory is checked like a GPU's", "[emu][simt]") {
  std::vector<float> host(8, 1.f);
  DeviceBuffer<float> d(kernel_memory(), 8);
  CHECK(cudaMemcpy(host.data(), host.data(), 32, cudaMemcpyHostToDevice) == cudaErrorInvalidValue);   // not device
  CHECK(cudaMemcpy(d.data(), host.data(), 36, cudaMemcpyHostToDevice) == cudaErrorInvalidValue);      // overrun
  CHECK(cudaMemcpy(d.data() + 1, host.data(), 28, cudaMemcpyHostToDevice) == cudaSuccess);
  CHECK(cudaMemset(host.data(), 0, 32) == cudaErrorInvalidValue);
  CHECK(cudaFree(host.data()) == cudaErrorInvalidValue);
  CHECK(cudaGetLastError() == cudaErrorInvalidValue);
  std::size_t free_bytes = 0, total = 0;
  CHECK(cudaMemGetInfo(&free_bytes, &total) == cudaSuccess);
  CHECK(total - free_bytes >= 32);
  cudaDeviceProp prop;
  REQUIRE(cudaGetDeviceProperties(&prop, 0) == cudaSuccess);
  CHECK(prop.sharedMemPerBlock == 48 * 1024);
  CHECK(prop.major * 10 + prop.minor == 52);
}

TEST_CASE("simt: ZS_EMU_ORDER syntax", "[emu][simt]") {
  auto parsed = zs::simt::parse_order("random:42");
  REQUIRE(parsed);
  CHECK(parsed->order == Order::Random);
  CHECK(parsed->seed == 42u);
  CHECK(zs::simt::parse_order("reverse")->order == Order::Reverse);
  CHECK(zs::simt::parse_order("forward")->order == Order::Forward);
  CHECK(zs::simt::parse_order("random")->order == Order::Random);
  CHECK_FALSE(zs::simt::parse_order("random:"));
  CHECK_FALSE(zs::simt::parse_order("random:x1"));
  CHECK_FALSE(zs::simt::parse_order("backwards"));
  CHECK(zs::simt::to_string(Order::Random, 7) == "random:7");
}

// ---------------------------------------------------------------------------------------------
// the build contract: kernels/elementwise.cu, compiled by g++ into zs::emu

namespace {

float act_ref(zs::Act act, float x) {
  using zs::Act;
  if (act == Act::LeakyRelu) return x > 0.f ? x : zs::kLeakyAlpha * x;
  if (act == Act::LeakyReluSigmoid) return act_ref(Act::Sigmoid, act_ref(Act::LeakyRelu, x));
  return act == Act::Sigmoid ? 1.f / (1.f + std::exp(-x)) : x;
}
float grad_ref(zs::Act act, float dy, float y) {
  using zs::Act;
  if (act == Act::LeakyRelu) return y > 0.f ? dy : zs::kLeakyAlpha * dy;
  if (act == Act::LeakyReluSigmoid) return dy * y * (1.f - y) * (y > 0.5f ? 1.f : zs::kLeakyAlpha);
  return act == Act::Sigmoid ? dy * y * (1.f - y) : dy;
}

// Offsets in floats of the output (y, dx), the input (x, dy) and the backward's y: all aligned,
// each pointer alone one float off 16-byte alignment (version 2 must take its scalar path: a
// float4 access would fault on a GPU, and fails the kernel in the emulator), and all of them.
struct ActOffsets {
  int out, in, y;
};
constexpr ActOffsets kActOffsets[] = {{0, 0, 0}, {1, 0, 0}, {0, 1, 0}, {0, 0, 1}, {1, 1, 1}};

// activation_forward, then activation_backward on its output, then the forward in place, each
// against the reference on the host.
void check_activation(zs::Act act, int version, int64_t count, ActOffsets o, const std::string& what) {
  INFO(what << ", version " << version << ", act " << int(act) << ", count " << count << ", offsets (out " << o.out
            << ", in " << o.in << ", y " << o.y << ")");
  const std::size_t n = std::size_t(count);
  const auto x = random_floats(n, 7, -4.f, 4.f);
  const auto dy = random_floats(n, 8);
  std::vector<float> y_ref(n), dx_ref(n);
  for (std::size_t i = 0; i < n; ++i) {
    y_ref[i] = act_ref(act, x[i]);
    dx_ref[i] = grad_ref(act, dy[i], y_ref[i]);
  }
  // Each array sits `offset` floats into its allocation.
  const auto at = [](const std::vector<float>& v, int offset) {
    std::vector<float> padded(std::size_t(offset), 0.f);
    padded.insert(padded.end(), v.begin(), v.end());
    return padded;
  };
  const auto tail = [&](const DeviceBuffer<float>& a, int offset) {
    std::vector<float> v = a.download();
    return std::vector<float>(v.begin() + offset, v.end());
  };
  DeviceBuffer<float> x_dev(kernel_memory(), at(x, o.in)), dy_dev(kernel_memory(), at(dy, o.in)),
      y(kernel_memory(), n + std::size_t(o.out)), y_in(kernel_memory(), n + std::size_t(o.y)),
      dx(kernel_memory(), n + std::size_t(o.out));
  zs::emu::activation_forward(act, y.data() + o.out, x_dev.data() + o.in, count, nullptr, version);
  require_close(tail(y, o.out), y_ref, 1e-6, 1e-6, "activation_forward");
  y_in.upload(at(tail(y, o.out), o.y));
  zs::emu::activation_backward(act, dx.data() + o.out, dy_dev.data() + o.in, y_in.data() + o.y, count, nullptr,
                               version);
  require_close(tail(dx, o.out), dx_ref, 1e-6, 1e-6, "activation_backward");
  zs::emu::activation_forward(act, x_dev.data() + o.in, x_dev.data() + o.in, count, nullptr, version);   // y aliases x
  require_close(tail(x_dev, o.in), y_ref, 1e-6, 1e-6, "activation_forward in place");
}

}  // namespace

TEST_CASE("simt: kernels/elementwise.cu runs on the emulator in every order", "[emu][simt][elementwise]") {
  using zs::Act;
  for (const Settings& s : {all_orders()[0], all_orders()[1], all_orders()[2]})
    for (int version = 1; version <= zs::emu::kActivationKernelVersions; ++version)
      for (Act act : {Act::None, Act::LeakyRelu, Act::Sigmoid, Act::LeakyReluSigmoid})
        for (int count : {1, 7, 1029})
          for (const ActOffsets& offsets : kActOffsets) {
            ScopedSettings scoped(s);
            check_activation(act, version, count, offsets, describe(s));
          }
  CHECK_THROWS_AS(zs::emu::activation_forward(Act::Sigmoid, nullptr, nullptr, 4, nullptr), std::invalid_argument);
  CHECK_THROWS_AS(zs::emu::activation_forward(Act::Sigmoid, nullptr, nullptr, 0, nullptr, 3), std::invalid_argument);
}

// Version 2 caps its grid at 512 blocks of 256 threads: with 2^20 + 3 elements each thread makes
// two float4 passes (one of four threads has a scalar tail element too), and eight scalar passes
// when an array is misaligned.
TEST_CASE("simt: kernels/elementwise.cu's grid-stride loop makes several passes", "[emu][simt][elementwise]") {
  for (const Settings& s : {all_orders()[0], all_orders()[2]})
    for (const ActOffsets& offsets : {kActOffsets[0], kActOffsets[2]}) {
      ScopedSettings scoped(s);
      check_activation(zs::Act::LeakyRelu, 2, (int64_t(1) << 20) + 3, offsets, describe(s));
    }
}
