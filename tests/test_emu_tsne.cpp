// The t-SNE kernels (kernels/tsne.cu) on the CPU emulator against the CPU twin (kernels/cpu/tsne.h)
// in four thread orders (forward, reverse, two random), strict mode on. Both builds evaluate the same
// expressions of kernels/tsne_math.h in the same order with the same libm, every multiply-add an
// explicit fma: so the tolerance is zero, every output must be the twin's bits in every order.
// Shapes: odd sizes, more than one tile (kNN: 32 query rows x 64 candidates, 16 features per K-tile;
// repulsion: 256 points) with tails, k not a multiple of the warp.
#include <catch2/catch.hpp>

#include <cstdint>
#include <cstring>
#include <functional>
#include <tuple>
#include <random>
#include <vector>

#include "kernels/cpu/tsne.h"
#include "kernels/tsne.cuh"
#include "runtime/backend/kernel_memory.h"
#include "runtime/backend/kernel_backend.h"
#include "runtime/embed/tsne.h"
#include "simt_test_support.h"
#include "test_data.h"
#include "tsne_twin.h"

namespace {

namespace kns = ::zs::ZS_KNS;

using zs_test::random_points;
using zs_test::twin_knn_p;

// Raw bytes of several outputs, to compare runs bit for bit.
template <class... V>
std::vector<unsigned char> bytes_of(const V&... vectors) {
  std::vector<unsigned char> out;
  auto append = [&](const auto& v) {
    const auto* p = reinterpret_cast<const unsigned char*>(v.data());
    out.insert(out.end(), p, p + v.size() * sizeof(v[0]));
  };
  (append(vectors), ...);
  return out;
}

// Runs `produce` in every order; each run must equal `twin` byte for byte.
void require_twin_bits_in_every_order(const std::function<std::vector<unsigned char>()>& produce,
                                      const std::vector<unsigned char>& twin) {
  for (const zs::simt::Settings& s : zs::simt_test::all_orders()) {
    zs::simt::ScopedSettings scoped(s);
    const std::vector<unsigned char> got = produce();
    INFO(zs::simt_test::describe(s));
    REQUIRE(got.size() == twin.size());
    size_t differing = 0;
    for (size_t b = 0; b < got.size(); ++b) differing += got[b] != twin[b];
    REQUIRE(differing == 0);
  }
}

}  // namespace

TEST_CASE("emu tsne_knn: the twin's neighbours and distances in every order", "[emu][tsne]") {
  for (auto [n, d, k] : {std::tuple{70, 19, 33}, std::tuple{131, 3, 91}, std::tuple{2, 1, 1}, std::tuple{97, 40, 96}}) {
    DYNAMIC_SECTION("n " << n << " d " << d << " k " << k) {
      std::vector<float> x = random_points(n, d, uint32_t(n + d));
      if (n > 10) std::memcpy(&x[size_t(5 * d)], &x[size_t(2 * d)], sizeof(float) * size_t(d));   // a duplicate: ties
      std::vector<int32_t> idx(size_t(n) * k);
      std::vector<float> dist(size_t(n) * k);
      zs::cpu::tsne_knn(idx.data(), dist.data(), x.data(), n, d, k);
      const zs::DeviceBuffer<float> dx(zs::emu::kernel_memory(), x);
      require_twin_bits_in_every_order(
          [&] {
            zs::DeviceBuffer<int32_t> didx(zs::emu::kernel_memory(), idx.size());
            zs::DeviceBuffer<float> ddist(zs::emu::kernel_memory(), dist.size());
            kns::tsne_knn(didx.data(), ddist.data(), dx.data(), n, d, k, nullptr);
            return bytes_of(didx.download(), ddist.download());
          },
          bytes_of(idx, dist));
    }
  }
}

TEST_CASE("emu tsne_conditional_p: the twin's bisection in every order", "[emu][tsne]") {
  const int64_t n = 157;
  const int d = 5, k = 46;
  const auto [idx, dist, cond] = twin_knn_p(random_points(n, d, 11), n, d, k, 15.f);
  const zs::DeviceBuffer<float> ddist(zs::emu::kernel_memory(), dist);
  require_twin_bits_in_every_order(
      [&] {
        zs::DeviceBuffer<float> dcond(zs::emu::kernel_memory(), cond.size());
        kns::tsne_conditional_p(dcond.data(), ddist.data(), n, k, 15.f, nullptr);
        return bytes_of(dcond.download());
      },
      bytes_of(cond));
}

TEST_CASE("emu tsne_symmetrize: the twin's CSR P and its sum in every order", "[emu][tsne]") {
  // Odd sizes; 601 rows make the scans' chunks longer than one; a planted hub (a point near all
  // others) gets a bucket far longer than k; several emulator threads race the integer atomics.
  for (auto [n, d, k] : {std::tuple{70, 19, 33}, std::tuple{601, 4, 13}, std::tuple{2, 1, 1}, std::tuple{97, 3, 96}}) {
    DYNAMIC_SECTION("n " << n << " d " << d << " k " << k) {
      std::vector<float> x = random_points(n, d, uint32_t(3 * n + d));
      for (int f = 0; f < d && n > 10; ++f) x[size_t(7 * d + f)] = 0.f;   // the hub, at the centre of the cloud
      const auto [idx, dist, cond] = twin_knn_p(x, n, d, k, float(k) / 3);
      const zs::cpu::SparseP p = zs::cpu::tsne_symmetric_p(idx.data(), cond.data(), n, k);
      const zs::DeviceBuffer<int32_t> didx(zs::emu::kernel_memory(), idx);
      const zs::DeviceBuffer<float> dcond(zs::emu::kernel_memory(), cond);
      const size_t nnz = p.col.size();
      for (int threads : {1, 3}) {
        for (const zs::simt::Settings& s : zs::simt_test::all_orders(threads)) {
          zs::simt::ScopedSettings scoped(s);
          INFO(zs::simt_test::describe(s));
          zs::DeviceBuffer<int32_t> row_ptr(zs::emu::kernel_memory(), size_t(n) + 1),
              col(zs::emu::kernel_memory(), size_t(2 * n * k));
          zs::DeviceBuffer<double> work(zs::emu::kernel_memory(), kns::tsne_symmetrize_workspace(n, k));
          zs::DeviceBuffer<float> val(zs::emu::kernel_memory(), size_t(2 * n * k));
          zs::DeviceBuffer<double> sum(zs::emu::kernel_memory(), 1);
          kns::tsne_symmetrize(row_ptr.data(), col.data(), val.data(), sum.data(), didx.data(), dcond.data(), n, k,
                               work.data(), nullptr);
          REQUIRE(row_ptr.download() == p.row_ptr);
          std::vector<int32_t> got_col = col.download();
          std::vector<float> got_val = val.download();
          got_col.resize(nnz);
          got_val.resize(nnz);
          REQUIRE(got_col == p.col);
          REQUIRE(got_val == p.val);   // positive finite floats: == is bit equality
          REQUIRE(sum.download()[0] == p.sum);
        }
      }
    }
  }
}

TEST_CASE("emu tsne_attractive and tsne_repulsive: the twin's forces in every order", "[emu][tsne]") {
  const int64_t n = 601;   // three repulsion tiles, the last one partial
  const int d = 4, k = 13;
  const auto [idx, dist, cond] = twin_knn_p(random_points(n, d, 21), n, d, k, 4.f);
  const zs::cpu::SparseP p = zs::cpu::tsne_symmetric_p(idx.data(), cond.data(), n, k);
  const std::vector<float> y = random_points(n, 2, 22, 5.f);
  std::vector<float> attraction(size_t(2 * n)), repulsion(size_t(2 * n));
  std::vector<double> kl(static_cast<size_t>(n)), zrow(static_cast<size_t>(n));
  zs::cpu::tsne_attractive(attraction.data(), kl.data(), p.row_ptr.data(), p.col.data(), p.val.data(), y.data(), n,
                           12.f);
  zs::cpu::tsne_repulsive(repulsion.data(), zrow.data(), y.data(), n, 0.f);
  const zs::DeviceBuffer<int32_t> drow(zs::emu::kernel_memory(), p.row_ptr), dcol(zs::emu::kernel_memory(), p.col);
  const zs::DeviceBuffer<float> dval(zs::emu::kernel_memory(), p.val), dy(zs::emu::kernel_memory(), y);
  require_twin_bits_in_every_order(
      [&] {
        zs::DeviceBuffer<float> da(zs::emu::kernel_memory(), attraction.size()), dr(zs::emu::kernel_memory(), repulsion.size());
        zs::DeviceBuffer<double> dkl(zs::emu::kernel_memory(), kl.size()), dz(zs::emu::kernel_memory(), zrow.size());
        kns::tsne_attractive(da.data(), dkl.data(), drow.data(), dcol.data(), dval.data(), dy.data(), n, 12.f, nullptr);
        kns::tsne_repulsive(dr.data(), dz.data(), dy.data(), n, 0.f, nullptr);
        return bytes_of(da.download(), dkl.download(), dr.download(), dz.download());
      },
      bytes_of(attraction, kl, repulsion, zrow));
  // Without the KL output the forces are the same.
  zs::DeviceBuffer<float> da(zs::emu::kernel_memory(), attraction.size());
  kns::tsne_attractive(da.data(), nullptr, drow.data(), dcol.data(), dval.data(), dy.data(), n, 12.f, nullptr);
  CHECK(da.download() == attraction);
  CHECK_THROWS_AS(kns::tsne_repulsive(da.data(), nullptr, dy.data(), n, 0.5f, nullptr), std::invalid_argument);
}

TEST_CASE("emu tsne_gradient_step: the twin's update and reductions in every order", "[emu][tsne]") {
  for (int64_t n : {int64_t(1), int64_t(300), int64_t(1337)}) {
    DYNAMIC_SECTION("n " << n) {
      std::vector<float> y = random_points(n, 2, 31), update = random_points(n, 2, 32, 1e-2f);
      std::vector<float> gains(size_t(2 * n), 1.f), attraction = random_points(n, 2, 33),
                         repulsion = random_points(n, 2, 34);
      std::vector<double> zrow(static_cast<size_t>(n));
      for (int64_t i = 0; i < n; ++i) zrow[size_t(i)] = 1.0 + 0.37 * double(i % 13);
      std::vector<float> y1 = y, u1 = update, g1 = gains;
      std::vector<double> stats(2);
      zs::cpu::tsne_gradient_step(y1.data(), u1.data(), g1.data(), stats.data(), attraction.data(),
                                  repulsion.data(), zrow.data(), n, 0.5f, 100.f);
      const zs::DeviceBuffer<float> da(zs::emu::kernel_memory(), attraction), dr(zs::emu::kernel_memory(), repulsion);
      const zs::DeviceBuffer<double> dz(zs::emu::kernel_memory(), zrow);
      require_twin_bits_in_every_order(
          [&] {
            zs::DeviceBuffer<float> dy(zs::emu::kernel_memory(), y), du(zs::emu::kernel_memory(), update), dg(zs::emu::kernel_memory(), gains);
            zs::DeviceBuffer<double> ds(zs::emu::kernel_memory(), 2);
            kns::tsne_gradient_step(dy.data(), du.data(), dg.data(), ds.data(), da.data(), dr.data(), dz.data(), n, 0.5f,
                                    100.f, nullptr);
            return bytes_of(dy.download(), du.download(), dg.download(), ds.download());
          },
          bytes_of(y1, u1, g1, stats));
    }
  }
}

TEST_CASE("emu t-SNE: a whole small run gives the cpu backend's bits (exact method)", "[emu][tsne][embed]") {
  const int64_t n = 83;
  const int d = 6;
  std::vector<float> x = random_points(n, d, 41);
  for (int64_t i = 0; i < n; ++i) x[size_t(i * d)] += float(i % 3) * 6.f;   // three loose groups
  zs::TsneOptions o;
  o.perplexity = 9;
  o.max_iter = 320;   // both phases, a KL check in each
  o.method = zs::TsneMethod::Exact;
  auto cpu = zs::make_cpu_backend();
  const zs::TsneResult want = zs::tsne(*cpu, x.data(), n, d, o);
  for (int threads : {1, 3}) {
    zs::simt::Settings s = zs::simt::settings();
    s.threads = threads;
    s.order = threads == 1 ? zs::simt::Order::Reverse : zs::simt::Order::Random;
    zs::simt::ScopedSettings scoped(s);
    auto emu = zs::emu::make_backend();
    const zs::TsneResult got = zs::tsne(*emu, x.data(), n, d, o);
    INFO("emulator threads " << threads);
    CHECK(got.method == zs::TsneMethod::Exact);
    CHECK(got.embedding == want.embedding);
    CHECK(got.kl_divergence == want.kl_divergence);
    CHECK(got.n_iter == want.n_iter);
  }
  // Barnes-Hut is a cpu method: refused on emu, and auto picks exact there.
  auto emu = zs::emu::make_backend();
  o.method = zs::TsneMethod::BarnesHut;
  CHECK_THROWS_AS(zs::tsne(*emu, x.data(), n, d, o), std::invalid_argument);
}
