// The loss and Adam kernels (kernels/loss.cu, kernels/adam.cu) on the CPU emulator: every kernel
// version against the CPU twin, in four thread orders (forward, reverse, two random) with strict
// mode on, bit-identical across the orders; the clamp's edge cases of BCE; misaligned arrays for
// the float4 path; the step read from device memory. The checks: dense_kernel_checks.h.
#include <catch2/catch.hpp>

#include <cstdint>
#include <stdexcept>
#include <vector>

#include "dense_kernel_checks.h"

using namespace zs::dense_checks;
namespace kns = zs::emu;

using zs::kernel_runs::in_every_order;

TEST_CASE("emu losses: BCE and MSE, loss and gradient, match the CPU twin in every version and order",
          "[emu][loss]") {
  for (int version = 1; version <= kns::kLossKernelVersions; ++version) {
    DYNAMIC_SECTION("loss kernel " << version) { check_losses(in_every_order, version); }
  }
}

TEST_CASE("emu adam: host step matches the CPU twin in every version and order", "[emu][adam]") {
  for (int version = 1; version <= kns::kAdamKernelVersions; ++version) {
    DYNAMIC_SECTION("adam kernel " << version) { check_adam(in_every_order, version); }
  }
}

TEST_CASE("emu adam: the grid-stride loop makes several passes over a large parameter array", "[emu][adam]") {
  check_adam_grid_stride(in_every_order, 2);
}

TEST_CASE("emu adam: the step read from and advanced in device memory matches the CPU twin", "[emu][adam]") {
  for (int version = 1; version <= kns::kAdamKernelVersions; ++version) {
    DYNAMIC_SECTION("adam kernel " << version) { check_adam_device_step(in_every_order, version); }
  }
}

TEST_CASE("emu adam: the device step gives the host step's exact bits", "[emu][adam]") {
  // Same lr_t function on both paths (adam_step_size), so the emulator must agree bit for bit.
  const int64_t count = 777;
  const zs::AdamHyper h;
  const std::vector<float> p0 = random_floats(count, 1), g = random_floats(count, 2);
  const std::vector<float> m0 = random_floats(count, 3, -0.1f, 0.1f), v0 = random_floats(count, 4, 0.f, 0.01f);
  for (const int64_t step : {int64_t(1), int64_t(7), int64_t(123456)}) {
    DeviceBuffer<float> p1(kernel_memory(), p0), m1(kernel_memory(), m0), v1(kernel_memory(), v0),
        p2(kernel_memory(), p0), m2(kernel_memory(), m0), v2(kernel_memory(), v0), dg(kernel_memory(), g);
    DeviceBuffer<int64_t> d_step(kernel_memory(), std::vector<int64_t>{step});
    kns::adam_step(p1.data(), m1.data(), v1.data(), dg.data(), count, h, step, nullptr);
    kns::adam_step_device(p2.data(), m2.data(), v2.data(), dg.data(), count, h, d_step.data(), nullptr);
    INFO("step " << step);
    CHECK(same_bits(p1.download(), p2.download()));
    CHECK(same_bits(m1.download(), m2.download()));
    CHECK(same_bits(v1.download(), v2.download()));
  }
}

TEST_CASE("emu losses/adam: bad arguments are rejected before any launch", "[emu][loss][adam]") {
  DeviceBuffer<float> a(kernel_memory(), std::vector<float>(16, 0.5f)),
      b(kernel_memory(), std::vector<float>(16, 0.5f)), c(kernel_memory(), std::vector<float>(16, 0.f));
  CHECK_THROWS_AS(kns::bce_loss(c.data(), nullptr, a.data(), b.data(), 0, 4, nullptr), std::invalid_argument);
  CHECK_THROWS_AS(kns::bce_loss(c.data(), nullptr, nullptr, b.data(), 2, 4, nullptr), std::invalid_argument);
  CHECK_THROWS_AS(kns::mse_loss(c.data(), nullptr, a.data(), b.data(), 2, 4, nullptr, 3), std::invalid_argument);
  const zs::AdamHyper h;
  CHECK_THROWS_AS(kns::adam_step(a.data(), b.data(), c.data(), a.data(), 16, h, 0, nullptr), std::invalid_argument);
  CHECK_THROWS_AS(kns::adam_step(a.data(), b.data(), c.data(), a.data(), -1, h, 1, nullptr), std::invalid_argument);
  CHECK_THROWS_AS(kns::adam_step(nullptr, b.data(), c.data(), a.data(), 16, h, 1, nullptr), std::invalid_argument);
  CHECK_THROWS_AS(kns::adam_step_device(a.data(), b.data(), c.data(), a.data(), 16, h, nullptr, nullptr),
                  std::invalid_argument);
  CHECK_THROWS_AS(kns::adam_advance_step(nullptr, nullptr), std::invalid_argument);
}
