// The row gather (kernels/gather.cu) on the CPU emulator: every version equals the CPU twin's bits
// in four thread orders; and the Backend's gather_rows (the per-epoch shuffle of the training
// loop) on the cpu and emu backends, including its index check.
#include <catch2/catch.hpp>

#include <memory>
#include <stdexcept>
#include <vector>

#include "gather_kernel_checks.h"
#include "runtime/backend/backend.h"

using namespace zs::gather_checks;

using zs::kernel_runs::in_every_order;

TEST_CASE("emu gather: every version equals the twin's bits in every order", "[emu][gather]") {
  for (int version = 1; version <= kns::kGatherKernelVersions; ++version) {
    DYNAMIC_SECTION("gather_rows kernel " << version) { check_gather_rows(in_every_order, version); }
  }
}

TEST_CASE("emu gather: version 2's grid-stride loop makes several passes", "[emu][gather]") {
  check_gather_rows(in_every_order, 2, gather_grid_stride_cases());
}

TEST_CASE("backend gather_rows: cpu and emu shuffle a resident set alike and reject bad indices",
          "[emu][gather][backend]") {
  const GatherCase c{20, 20, 784, 0, 0};
  const std::vector<float> src = gather_source(c, 7);
  std::vector<int32_t> perm(20);
  for (int32_t i = 0; i < 20; ++i) perm[size_t(i)] = (i * 7 + 3) % 20;  // a permutation
  std::vector<float> want(src.size());
  zs::cpu::gather_rows(want.data(), src.data(), perm.data(), c.rows, c.row_len);
  for (zs::DeviceKind kind : {zs::DeviceKind::Cpu, zs::DeviceKind::Emu}) {
    std::unique_ptr<zs::Backend> be = zs::make_backend(kind);
    INFO("backend " << be->name());
    zs::Buffer d_src(*be, src.size()), d_dst(*be, src.size());
    be->to_device(d_src.data(), src.data(), src.size());
    be->gather_rows(d_dst.data(), d_src.data(), c.src_rows, perm, c.row_len);
    std::vector<float> got(src.size());
    be->to_host(got.data(), d_dst.data(), got.size());
    REQUIRE(got == want);

    const std::vector<int32_t> past_end{0, 20}, negative{-1};
    REQUIRE_THROWS_AS(be->gather_rows(d_dst.data(), d_src.data(), c.src_rows, past_end, c.row_len), std::out_of_range);
    REQUIRE_THROWS_AS(be->gather_rows(d_dst.data(), d_src.data(), c.src_rows, negative, c.row_len), std::out_of_range);
  }
}
