// The KMeans kernels (kernels/kmeans.cu) on the CPU emulator: every kernel and version against the
// CPU twin in four thread orders (forward, reverse, two random) with strict mode on, bit-identical
// across the orders (checks: kmeans_kernel_checks.h); and the library's KMeans / MiniBatchKMeans
// fits on --device emu against the same fits on cpu.
#include <catch2/catch.hpp>

#include <cmath>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "kmeans_kernel_checks.h"
#include "runtime/backend/kernel_backend.h"
#include "runtime/cluster/kmeans.h"
#include "runtime/cluster/kmeans_engine.h"
#include "runtime/cluster/minibatch_kmeans.h"
#include "runtime/core/error.h"
#include "simt_test_support.h"

using namespace zs::kmeans_checks;

namespace {

std::vector<Run> in_every_order(const Producer& produce) {
  std::vector<Run> runs;
  for (const zs::simt::Settings& s : zs::simt_test::all_orders()) {
    zs::simt::ScopedSettings scoped(s);
    runs.push_back({zs::simt_test::describe(s), produce()});
  }
  return runs;
}

// `blobs` Gaussian blobs (unit variance) of `per_blob` points in d dimensions whose centres are
// `spacing` apart on average: with spacing ~4 the blobs touch, so the labels of the border points
// depend on every iteration (a stricter comparison than well-separated blobs).
std::vector<float> planted_blobs(int blobs, int per_blob, int d, float spacing, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> where(-spacing, spacing);
  std::normal_distribution<float> noise(0.f, 1.f);
  std::vector<float> centres(std::size_t(blobs) * d), x;
  for (float& c : centres) c = where(rng);
  for (int i = 0; i < blobs * per_blob; ++i)
    for (int f = 0; f < d; ++f) x.push_back(centres[std::size_t(i % blobs) * d + f] + noise(rng));
  return x;
}

// Same fit on cpu and emu: the device sums are the twin's bits for the same labels (kmeans.cuh),
// so equal labels give equal centres; the inertias are double sums of the same terms in two orders.
void check_same_fit(const zs::KMeansFit& cpu, const zs::KMeansFit& emu, int64_t n, int d, const std::string& what) {
  INFO(what);
  CHECK(emu.labels == cpu.labels);
  CHECK(emu.n_iter == cpu.n_iter);
  CHECK(emu.n_steps == cpu.n_steps);
  CHECK(emu.best_init == cpu.best_init);
  CHECK(emu.converged == cpu.converged);
  const double rtol = 2.0 * double(n + d) * 0x1p-53;
  CHECK(std::fabs(emu.inertia - cpu.inertia) <= rtol * cpu.inertia);
  REQUIRE(emu.model.centers.size() == cpu.model.centers.size());
  std::size_t far = 0;
  for (std::size_t e = 0; e < cpu.model.centers.size(); ++e)
    if (std::fabs(emu.model.centers[e] - cpu.model.centers[e]) > 4 * 0x1p-24 * std::fabs(cpu.model.centers[e]) + 1e-30)
      ++far;
  CHECK(far == 0);
}

}  // namespace

TEST_CASE("emu kmeans: row_sqnorms matches the twin in every order", "[emu][kmeans]") {
  check_row_sqnorms(in_every_order);
}

TEST_CASE("emu kmeans: kmeans_assign matches the twin in every version and order", "[emu][kmeans][assign]") {
  for (int version = 1; version <= kns::kKMeansAssignKernelVersions; ++version) {
    DYNAMIC_SECTION("kmeans_assign kernel " << version) {
      check_assign(in_every_order, version);
      check_assign_ties(in_every_order, version);
    }
  }
}

TEST_CASE("emu kmeans: centroid sums are the twin's bits in every order", "[emu][kmeans][sums]") {
  check_centroid_sums(in_every_order);
}

TEST_CASE("emu kmeans: the Lloyd pass matches cpu::kmeans_lloyd_pass (sums bit for bit)", "[emu][kmeans][sums]") {
  check_lloyd_pass(in_every_order, kns::kKMeansAssignShippedVersion);
}

TEST_CASE("emu kmeans: k-means++ candidates and D^2 sampling match the twin", "[emu][kmeans][kmeans++]") {
  check_pp_candidates(in_every_order);
  check_pp_sample(in_every_order);
}

TEST_CASE("emu kmeans: the minibatch update is the twin's bits", "[emu][kmeans][minibatch]") {
  check_minibatch_update(in_every_order, TwinBits::Yes);
}

TEST_CASE("emu kmeans: the benchmark baseline's argmin over stored dot products matches the twin",
          "[emu][kmeans][assign]") {
  check_argmin_dots(in_every_order);
}

TEST_CASE("emu kmeans: inertia per group matches the twin", "[emu][kmeans]") { check_inertia(in_every_order); }

TEST_CASE("emu kmeans: bad arguments are rejected before any launch", "[emu][kmeans]") { check_bad_arguments(); }

// ---- the library on the emulator ----

TEST_CASE("emu kmeans: a whole KMeans fit on emu equals the fit on cpu", "[emu][kmeans][fit]") {
  const int blobs = 5, per_blob = 60, d = 7;
  const std::vector<float> x = planted_blobs(blobs, per_blob, d, 4.f, 11);
  const zs::MatrixView view{x.data(), int64_t(blobs) * per_blob, d};
  for (const zs::KMeansInit init : {zs::KMeansInit::KMeansPlusPlus, zs::KMeansInit::Random}) {
    zs::KMeansOptions o;
    o.k = blobs;
    o.init = init;
    o.n_init = 4;
    o.max_iter = 30;
    o.tol = 0.0;   // until the labels stop changing
    o.seed = 5;
    const zs::KMeansFit on_cpu = zs::fit_kmeans(view, o);
    const std::unique_ptr<zs::Backend> emu = zs::emu::make_backend();
    o.backend = emu.get();
    const zs::KMeansFit on_emu = zs::fit_kmeans(view, o);
    check_same_fit(on_cpu, on_emu, view.rows, d, std::string("KMeans init ") + std::string(zs::to_string(init)));
    CHECK(on_emu.init_inertias.size() == on_cpu.init_inertias.size());
    CHECK(zs::predict(on_emu.model, view, emu.get()) == zs::predict(on_emu.model, view));
  }
}

TEST_CASE("emu kmeans: a MiniBatchKMeans fit on emu equals the fit on cpu", "[emu][kmeans][fit][minibatch]") {
  const int blobs = 4, per_blob = 75, d = 5;
  const std::vector<float> x = planted_blobs(blobs, per_blob, d, 5.f, 12);
  const zs::MatrixView view{x.data(), int64_t(blobs) * per_blob, d};
  zs::MiniBatchKMeansOptions o;
  o.k = blobs;
  o.batch_size = 40;
  o.max_iter = 4;
  o.n_init = 2;
  o.seed = 9;
  o.max_no_improvement = 0;   // every step runs, so the whole step budget is compared
  const zs::KMeansFit on_cpu = zs::fit_minibatch_kmeans(view, o);
  const std::unique_ptr<zs::Backend> emu = zs::emu::make_backend();
  o.backend = emu.get();
  const zs::KMeansFit on_emu = zs::fit_minibatch_kmeans(view, o);
  check_same_fit(on_cpu, on_emu, view.rows, d, "MiniBatchKMeans");
  CHECK(on_emu.n_steps == int64_t(o.max_iter) * view.rows / o.batch_size);
}

TEST_CASE("emu kmeans: an engine runs on the backend it is given and keeps the cpu's data in place", "[emu][kmeans]") {
  const std::vector<float> x = planted_blobs(2, 10, 3, 4.f, 13);
  const zs::MatrixView view{x.data(), 20, 3};
  const std::unique_ptr<zs::Backend> emu = zs::emu::make_backend();
  CHECK(zs::KMeansEngine(zs::shared_cpu_backend(), view).name() == "cpu");
  const size_t before = emu->bytes_in_use();
  {
    zs::KMeansEngine on_emu(*emu, view);
    CHECK(on_emu.name() == "emu");
    CHECK(emu->bytes_in_use() >= before + x.size() * sizeof(float));   // the data were uploaded
  }
  CHECK(emu->bytes_in_use() == before);   // and released with the engine
  CHECK(zs::shared_cpu_backend().memory_is_host());
  CHECK_FALSE(emu->memory_is_host());
}
