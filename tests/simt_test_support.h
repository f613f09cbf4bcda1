// Helpers of the emulator tests (tests/test_emu_simt.cpp): device memory, the thread orders
// every kernel runs in, and a tolerance comparison that reports the worst element.
// Compiled for the emulator: kernels/common.cuh maps the CUDA API onto runtime/simt.
#pragma once
#include <catch2/catch.hpp>

#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

#include "kernels/common.cuh"
#include "runtime/backend/kernel_memory.h"

namespace zs::simt_test {

// Device memory is DeviceBuffer<T>(kernel_memory(), count or host vector): emulated device
// memory, allocated by the emulator's cudaMalloc, so the device heap's guards watch it.
using ::zs::DeviceBuffer;
using ::zs::emu::kernel_memory;

// Every byte of `buffer` = value (cudaMemset), e.g. 0 for an output a kernel accumulates into.
template <class T>
void fill_bytes(DeviceBuffer<T>& buffer, int value) {
  CUDA_CHECK(cudaMemset(buffer.data(), value, buffer.bytes()));
}

// `buffer` read by one synchronous cudaMemcpy, which waits for the legacy stream (and the blocking
// streams it orders against) only, unlike DeviceBuffer::download(), which first waits for the
// whole device. For the tests of what a synchronous copy does and does not wait for.
template <class T>
std::vector<T> legacy_stream_copy(const DeviceBuffer<T>& buffer) {
  std::vector<T> host(buffer.size());
  CUDA_CHECK(cudaMemcpy(host.data(), buffer.data(), buffer.bytes(), cudaMemcpyDeviceToHost));
  return host;
}

// Forward, reverse and two random orders, strict mode on, one OS thread unless asked.
inline std::vector<zs::simt::Settings> all_orders(int threads = 1) {
  using zs::simt::Order;
  std::vector<zs::simt::Settings> orders;
  for (auto [order, seed] : {std::pair{Order::Forward, 1ull}, std::pair{Order::Reverse, 1ull},
                             std::pair{Order::Random, 1ull}, std::pair{Order::Random, 12345ull}}) {
    zs::simt::Settings s;
    s.order = order;
    s.seed = seed;
    s.strict = true;
    s.threads = threads;
    orders.push_back(s);
  }
  return orders;
}

inline std::string describe(const zs::simt::Settings& s) {
  return "order " + zs::simt::to_string(s.order, s.seed) + ", threads " + std::to_string(s.threads) +
         (s.strict ? ", strict" : ", lenient");
}

// Elements where |got - ref| > atol + rtol * |ref|, or where exactly one side is NaN/Inf.
struct Mismatches {
  std::size_t count = 0;
  std::size_t worst = 0;
  double worst_excess = -1;
  std::string first;   // the first few, for the failure message
};

inline Mismatches find_mismatches(const std::vector<float>& got, const std::vector<float>& ref, double atol,
                                  double rtol) {
  Mismatches m;
  const std::size_t n = got.size() < ref.size() ? got.size() : ref.size();
  m.count = got.size() > ref.size() ? got.size() - ref.size() : ref.size() - got.size();
  for (std::size_t i = 0; i < n; ++i) {
    const double g = got[i], r = ref[i];
    const bool finite_g = std::isfinite(g), finite_r = std::isfinite(r);
    double excess = 0;
    if (finite_g && finite_r) {
      excess = std::fabs(g - r) - (atol + rtol * std::fabs(r));
    } else if (!(std::isnan(g) && std::isnan(r)) && !(g == r)) {
      excess = INFINITY;
    }
    if (excess > 0) {
      if (m.count < 5) {
        char line[96];
        std::snprintf(line, sizeof line, " [%zu] got %.9g want %.9g;", i, g, r);
        m.first += line;
      }
      ++m.count;
      if (excess > m.worst_excess) {
        m.worst_excess = excess;
        m.worst = i;
      }
    }
  }
  return m;
}

// Fails the test case (and says where) unless got matches ref within tolerance.
inline void require_close(const std::vector<float>& got, const std::vector<float>& ref, double atol, double rtol,
                          const std::string& what) {
  const Mismatches m = find_mismatches(got, ref, atol, rtol);
  INFO(what << ": " << m.count << " of " << ref.size() << " elements differ (atol " << atol << ", rtol " << rtol
            << "); worst index " << m.worst << ";" << m.first);
  REQUIRE(m.count == 0);
}

}  // namespace zs::simt_test
