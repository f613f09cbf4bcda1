// sum_loss_terms (kernels/loss.cu), the running sums of an epoch's loss terms that stay on the
// device: the emulated kernel against its CPU twin in every thread order, and bit-identical across
// the orders (one block per term, a fixed reduction tree).
#include <catch2/catch.hpp>

#include <cmath>
#include <cstdint>
#include <random>
#include <stdexcept>
#include <vector>

#include "kernels/cpu/ops.h"
#include "kernels/loss.cuh"
#include "runtime/backend/kernel_memory.h"
#include "simt_test_support.h"

namespace {

std::vector<float> random_terms(size_t count, uint32_t seed) {
  std::mt19937 g(seed);
  std::uniform_real_distribution<float> u(0.f, 3.f);
  std::vector<float> v(count);
  for (float& x : v) x = u(g);
  return v;
}

}  // namespace

TEST_CASE("emu sum_loss_terms: adds each term's batch sum to its running sum, as the twin does", "[emu][loss]") {
  for (const int n : {1, 31, 256, 257, 1000}) {
    for (const int n_terms : {1, 3}) {
      const std::vector<float> terms = random_terms(size_t(n) * n_terms, uint32_t(n * 7 + n_terms));
      const std::vector<double> start{12.5, -3.25, 1e3};
      std::vector<double> want(start.begin(), start.begin() + n_terms);
      zs::cpu::sum_loss_terms(want.data(), terms.data(), n, n_terms);
      std::vector<std::vector<double>> runs;
      for (const zs::simt::Settings& s : zs::simt_test::all_orders()) {
        zs::simt::ScopedSettings scoped(s);
        zs::DeviceBuffer<float> d_terms(zs::emu::kernel_memory(), terms);
        zs::DeviceBuffer<double> sums(zs::emu::kernel_memory(), std::vector<double>(start.begin(), start.begin() + n_terms));
        zs::emu::sum_loss_terms(sums.data(), d_terms.data(), n, n_terms, nullptr);
        runs.push_back(sums.download());
      }
      for (int t = 0; t < n_terms; ++t) {
        double magnitude = std::abs(start[size_t(t)]);
        for (int i = 0; i < n; ++i) magnitude += std::abs(double(terms[size_t(t) * n + size_t(i)]));
        // Two summation orders of n + 1 doubles differ by at most about 2 (n + 1) u sum|x|.
        const double tolerance = 2.0 * (n + 1) * 0x1p-53 * magnitude;
        INFO("n " << n << ", term " << t);
        CHECK(std::abs(runs[0][size_t(t)] - want[size_t(t)]) <= tolerance);
      }
      for (const auto& r : runs) CHECK(r == runs[0]);   // the same bits in every order
    }
  }
}

TEST_CASE("emu sum_loss_terms: bad arguments are rejected before any launch", "[emu][loss]") {
  zs::DeviceBuffer<double> sums(zs::emu::kernel_memory(), 1);
  zs::DeviceBuffer<float> terms(zs::emu::kernel_memory(), 4);
  CHECK_THROWS_AS(zs::emu::sum_loss_terms(sums.data(), terms.data(), 0, 1, nullptr), std::invalid_argument);
  CHECK_THROWS_AS(zs::emu::sum_loss_terms(nullptr, terms.data(), 4, 1, nullptr), std::invalid_argument);
  CHECK_THROWS_AS(zs::cpu::sum_loss_terms(sums.data(), terms.data(), 4, 0), std::invalid_argument);
}

TEST_CASE("cpu sum_loss_terms adds element by element in order", "[cpu][loss]") {
  const std::vector<float> terms{1e8f, 1.f, -1e8f, 0.5f, 2.f, 3.f};   // [2][3]
  double sums[2] = {0.25, 0.0};
  zs::cpu::sum_loss_terms(sums, terms.data(), 3, 2);
  CHECK(sums[0] == ((0.25 + 1e8) + 1.0) - 1e8);
  CHECK(sums[1] == 5.5);
}
