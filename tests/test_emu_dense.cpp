// The GEMM and dense-layer kernels (kernels/gemm.cu, kernels/dense.cu) on the CPU emulator:
// every kernel version against the oracle (a double-precision loop for the GEMM, the CPU twin
// for the dense layer) on odd shapes, in four thread orders (forward, reverse, two random) with
// strict mode on, and bit-identical across the orders. The checks: dense_kernel_checks.h.
#include <catch2/catch.hpp>

#include <stdexcept>
#include <vector>

#include "dense_kernel_checks.h"

using namespace zs::dense_checks;
namespace kns = zs::emu;

using zs::kernel_runs::in_every_order;

TEST_CASE("emu gemm: every version, transposes, epilogues and edges match a double reference", "[emu][gemm]") {
  for (int version = 1; version <= kns::kGemmKernelVersions; ++version) {
    DYNAMIC_SECTION("gemm kernel " << version) { check_gemm(in_every_order, version); }
  }
}

TEST_CASE("emu gemm: split-K is planned exactly for few-tile long-K products", "[emu][gemm]") {
  // The test shapes meant to take the split path do, and the short ones do not.
  CHECK(kns::gemm_split_plan(3, 5, 1000).slices == 7);
  CHECK(kns::gemm_split_plan(70, 10, 777).slices == 6);
  CHECK(kns::gemm_split_plan(20, 70, 300).slices == 2);
  CHECK(kns::gemm_split_plan(16, 16, 260).slices == 2);
  CHECK(kns::gemm_split_plan(67, 131, 19).slices == 1);
  CHECK(kns::gemm_split_plan(3, 5, 255).slices == 1);
  // The AE's dense products at batch 128: x W (6272 -> 16) and dy W^T (16 -> 6272) split; the
  // rest have enough output tiles or a short K.
  const kns::GemmSplitPlan encoder_forward = kns::gemm_split_plan(128, 16, 6272);
  CHECK(encoder_forward.slices == 31);
  CHECK(encoder_forward.k_per_slice == 208);
  CHECK(kns::gemm_split_plan(6272, 16, 128).slices == 1);   // encoder dw
  CHECK(kns::gemm_split_plan(128, 6272, 16).slices == 1);   // encoder dx, decoder forward
  CHECK(kns::gemm_split_plan(16, 6272, 128).slices == 1);   // decoder dw
  // Every slice is a whole number of 16-deep tiles and together they cover K exactly once.
  for (const GemmShape& s : gemm_shapes()) {
    const kns::GemmSplitPlan plan = kns::gemm_split_plan(s.m, s.n, s.k);
    if (plan.slices == 1) continue;
    CHECK(plan.k_per_slice % 16 == 0);
    CHECK(int64_t(plan.slices - 1) * plan.k_per_slice < s.k);
    CHECK(int64_t(plan.slices) * plan.k_per_slice >= s.k);
  }
}

TEST_CASE("emu dense: forward matches the CPU twin in every version and order", "[emu][dense]") {
  for (int version = 1; version <= kns::kDenseKernelVersions; ++version) {
    DYNAMIC_SECTION("dense kernel " << version) { check_dense_forward(in_every_order, version); }
  }
}

TEST_CASE("emu dense: backward dw, db and dx, with dx or db skipped, matches the CPU twin", "[emu][dense]") {
  for (int version = 1; version <= kns::kDenseKernelVersions; ++version) {
    DYNAMIC_SECTION("dense kernel " << version) { check_dense_backward(in_every_order, version); }
  }
}

TEST_CASE("emu gemm/dense: bad arguments are rejected before any launch", "[emu][dense]") {
  DeviceBuffer<float> a(kernel_memory(), std::vector<float>(64, 1.f)), b(kernel_memory(), std::vector<float>(64, 1.f)),
      c(kernel_memory(), std::vector<float>(64, 0.f));
  const kns::GemmEpilogue ep;
  CHECK_THROWS_AS(
      kns::gemm(c.data(), a.data(), b.data(), 2, 2, 2, kns::Trans::No, kns::Trans::No, ep, nullptr, nullptr, 0),
      std::invalid_argument);
  CHECK_THROWS_AS(
      kns::gemm(c.data(), a.data(), b.data(), 2, 2, 2, kns::Trans::No, kns::Trans::No, ep, nullptr, nullptr, 5),
      std::invalid_argument);
  CHECK_THROWS_AS(
      kns::gemm(c.data(), a.data(), b.data(), 0, 2, 2, kns::Trans::No, kns::Trans::No, ep, nullptr, nullptr),
      std::invalid_argument);
  CHECK_THROWS_AS(kns::gemm(nullptr, a.data(), b.data(), 2, 2, 2, kns::Trans::No, kns::Trans::No, ep, nullptr, nullptr),
                  std::invalid_argument);
  CHECK_THROWS_AS(
      kns::gemm(a.data(), a.data(), b.data(), 2, 2, 2, kns::Trans::No, kns::Trans::No, ep, nullptr, nullptr),
      std::invalid_argument);
  kns::GemmEpilogue bad_act;
  bad_act.act = static_cast<zs::Act>(7);
  CHECK_THROWS_AS(
      kns::gemm(c.data(), a.data(), b.data(), 2, 2, 2, kns::Trans::No, kns::Trans::No, bad_act, nullptr, nullptr),
      std::invalid_argument);
  CHECK_THROWS_AS(kns::dense_forward(c.data(), a.data(), nullptr, nullptr, 2, 2, 2, zs::Act::None, nullptr, nullptr),
                  std::invalid_argument);
  CHECK_THROWS_AS(kns::dense_forward(c.data(), a.data(), b.data(), nullptr, 2, -1, 2, zs::Act::None, nullptr, nullptr),
                  std::invalid_argument);
  CHECK_THROWS_AS(
      kns::dense_backward(c.data(), b.data(), nullptr, a.data(), a.data(), nullptr, 2, 2, 2, nullptr, nullptr),
      std::invalid_argument);   // dx wanted without w
  CHECK_THROWS_AS(
      kns::dense_backward(nullptr, nullptr, nullptr, a.data(), a.data(), nullptr, 2, 2, 2, nullptr, nullptr),
      std::invalid_argument);   // no dw
}
