// The KMeans kernels (kernels/kmeans.cu) on a real GPU (zs::cuda): the emulator tests' checks
// (kmeans_kernel_checks.h) for every kernel and version, each run twice and required to give the
// same bits, within tolerance of the CPU twin (the minibatch update within 2u instead of bit for
// bit: device double arithmetic is IEEE, but the check does not rely on it).
// Without a usable GPU every test case says "SKIPPED: no CUDA GPU" (a WARN) and checks nothing.
#define ZS_KNS cuda
#include "kmeans_kernel_checks.h"

#include <catch2/catch.hpp>

#include "kernel_runs.h"   // SKIP_WITHOUT_GPU

#include <vector>

using namespace zs::kmeans_checks;

namespace {

std::vector<Run> twice(const Producer& produce) {
  std::vector<Run> runs;
  runs.push_back({"GPU run 1", produce()});
  runs.push_back({"GPU run 2", produce()});
  return runs;
}

}  // namespace

TEST_CASE("cuda kmeans: row_sqnorms matches the twin", "[cuda][kmeans]") {
  SKIP_WITHOUT_GPU();
  check_row_sqnorms(twice);
}

TEST_CASE("cuda kmeans: kmeans_assign matches the twin in every version", "[cuda][kmeans][assign]") {
  SKIP_WITHOUT_GPU();
  for (int version = 1; version <= kns::kKMeansAssignKernelVersions; ++version) {
    DYNAMIC_SECTION("kmeans_assign kernel " << version) {
      check_assign(twice, version);
      check_assign_ties(twice, version);
    }
  }
}

TEST_CASE("cuda kmeans: centroid sums are the twin's bits", "[cuda][kmeans][sums]") {
  SKIP_WITHOUT_GPU();
  check_centroid_sums(twice);
}

TEST_CASE("cuda kmeans: the Lloyd pass matches cpu::kmeans_lloyd_pass", "[cuda][kmeans][sums]") {
  SKIP_WITHOUT_GPU();
  for (int version = 1; version <= kns::kKMeansAssignKernelVersions; ++version)
    DYNAMIC_SECTION("kmeans_assign kernel " << version) { check_lloyd_pass(twice, version); }
}

TEST_CASE("cuda kmeans: k-means++ candidates and D^2 sampling match the twin", "[cuda][kmeans][kmeans++]") {
  SKIP_WITHOUT_GPU();
  check_pp_candidates(twice);
  check_pp_sample(twice);
}

TEST_CASE("cuda kmeans: the minibatch update matches the twin", "[cuda][kmeans][minibatch]") {
  SKIP_WITHOUT_GPU();
  check_minibatch_update(twice, TwinBits::No);
}

TEST_CASE("cuda kmeans: the benchmark baseline's argmin over stored dot products matches the twin",
          "[cuda][kmeans][assign]") {
  SKIP_WITHOUT_GPU();
  check_argmin_dots(twice);
}

TEST_CASE("cuda kmeans: inertia per group matches the twin", "[cuda][kmeans]") {
  SKIP_WITHOUT_GPU();
  check_inertia(twice);
}

TEST_CASE("cuda kmeans: bad arguments are rejected before any launch", "[cuda][kmeans]") {
  SKIP_WITHOUT_GPU();
  check_bad_arguments();
}
