// The row gather (kernels/gather.cu) on a real GPU: every version, run twice, equals the CPU
// twin's bits on the emulator test's shapes (gather_kernel_checks.h).
// Without a usable GPU every test case says "SKIPPED: no CUDA GPU" (a WARN) and checks nothing.
#define ZS_KNS cuda
#include "gather_kernel_checks.h"

#include <catch2/catch.hpp>

using namespace zs::gather_checks;
using zs::kernel_runs::twice;

TEST_CASE("cuda gather: every version equals the twin's bits, run after run", "[cuda][gather]") {
  SKIP_WITHOUT_GPU();
  for (int version = 1; version <= kns::kGatherKernelVersions; ++version) {
    DYNAMIC_SECTION("gather_rows kernel " << version) { check_gather_rows(twice, version); }
  }
}
