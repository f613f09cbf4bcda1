// Column statistics (kernels/columns.cu) on the emulator against the twin (kernels/cpu/columns.h)
// in every thread order: only additions in the twin's order, one division and one fma chain, so
// the tolerance is zero. Then KMeans and MiniBatchKMeans on data that already live in the emu
// backend's memory (fit_kmeans(DeviceMatrixView)): the same fit as from the host copy.
#include <catch2/catch.hpp>

#include <cmath>
#include <limits>
#include <memory>
#include <tuple>
#include <vector>

#include "kernels/columns.cuh"
#include "kernels/cpu/columns.h"
#include "runtime/backend/kernel_backend.h"
#include "runtime/cluster/kmeans.h"
#include "runtime/cluster/minibatch_kmeans.h"
#include "runtime/core/error.h"
#include "simt_test_support.h"
#include "test_data.h"

namespace {

namespace kns = ::zs::ZS_KNS;
using zs_test::random_points;

// The same arithmetic on the same floats: every result equal.
void require_same_fit(const zs::KMeansFit& got, const zs::KMeansFit& want) {
  CHECK(got.labels == want.labels);
  CHECK(got.model.centers == want.model.centers);
  CHECK(got.inertia == want.inertia);
  CHECK(got.tol_abs == want.tol_abs);
  CHECK(got.n_steps == want.n_steps);
  CHECK(got.best_init == want.best_init);
  CHECK(got.init_inertias == want.init_inertias);
}

}  // namespace

TEST_CASE("emu column_moments and centre_columns: the twin's bits in every order", "[emu][columns]") {
  // 300 columns: three blocks of 128, the last partial; 1000 x 3: the centring's grid-stride tail.
  for (auto [n, d] : {std::tuple{37, 300}, std::tuple{1000, 3}, std::tuple{1, 1}}) {
    DYNAMIC_SECTION("n " << n << " d " << d) {
      std::vector<float> x = random_points(n, d, uint32_t(n + d), 3.f);
      for (float& v : x) v += 100.f;   // a mean far from 0: the deviations pass must use it
      std::vector<double> sum(static_cast<size_t>(d)), sq(static_cast<size_t>(d));
      zs::cpu::column_moments(sum.data(), sq.data(), x.data(), n, d);
      std::vector<float> centred(x.size());
      zs::cpu::centre_columns(centred.data(), x.data(), sum.data(), n, d);
      const zs::DeviceBuffer<float> dx(zs::emu::kernel_memory(), x);
      for (const zs::simt::Settings& s : zs::simt_test::all_orders()) {
        zs::simt::ScopedSettings scoped(s);
        INFO(zs::simt_test::describe(s));
        zs::DeviceBuffer<double> dsum(zs::emu::kernel_memory(), sum.size()), dsq(zs::emu::kernel_memory(), sq.size());
        zs::DeviceBuffer<float> dc(zs::emu::kernel_memory(), x.size());
        kns::column_moments(dsum.data(), dsq.data(), dx.data(), n, d, nullptr);
        kns::centre_columns(dc.data(), dx.data(), dsum.data(), n, d, nullptr);
        REQUIRE(dsum.download() == sum);
        REQUIRE(dsq.download() == sq);
        REQUIRE(dc.download() == centred);
      }
    }
  }
  CHECK_THROWS_AS(kns::column_moments(nullptr, nullptr, nullptr, 0, 3, nullptr), std::invalid_argument);
}

TEST_CASE("emu KMeans on data in backend memory: the fit of the host copy", "[emu][kmeans][fit]") {
  const int64_t n = 240;
  const int d = 6;
  std::vector<float> x = random_points(n, d, 7);
  for (int64_t i = 0; i < n; ++i) x[size_t(i * d)] += 6.f * float(i % 4);   // four loose groups
  const zs::MatrixView host{x.data(), n, d};
  const std::unique_ptr<zs::Backend> emu = zs::emu::make_backend();
  const zs::DeviceBuffer<float> resident_x(*emu, x);
  const zs::DeviceMatrixView resident{resident_x.data(), n, d};

  zs::KMeansOptions o;
  o.k = 4;
  o.n_init = 3;
  o.seed = 2;
  o.backend = emu.get();
  const zs::KMeansFit from_host = zs::fit_kmeans(host, o);
  require_same_fit(zs::fit_kmeans(resident, o), from_host);
  CHECK(zs::predict(from_host.model, resident, emu.get()) == zs::predict(from_host.model, host, emu.get()));

  zs::MiniBatchKMeansOptions m;
  m.k = 4;
  m.batch_size = 30;   // init subsets of 90 < n rows: gathered on the device
  m.max_iter = 3;
  m.tol = 1e-3;
  m.seed = 4;
  m.backend = emu.get();
  require_same_fit(zs::fit_minibatch_kmeans(resident, m), zs::fit_minibatch_kmeans(host, m));

  // A NaN in device data is found without reading the data on the host.
  x[size_t(5 * d + 2)] = std::numeric_limits<float>::quiet_NaN();
  const zs::DeviceBuffer<float> bad(*emu, x);
  CHECK_THROWS_WITH(zs::fit_kmeans(zs::DeviceMatrixView{bad.data(), n, d}, o),
                    Catch::Contains("feature 2 holds a NaN or infinite value"));
}
