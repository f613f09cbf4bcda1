// The t-SNE kernels (kernels/tsne.cu) on a real GPU (zs::cuda) against the CPU twin, each run twice
// and required to give the same bits. Every multiply-add is an explicit fma and the division is
// IEEE (nvcc's default -prec-div), so kNN distances and lists, the forces, Z and the gradient step
// are the twin's bits; only device exp / log (double, within 2 ulp of glibc's) differ:
//   conditional P  the bisection's entropies then differ by ~k 2^-52; a step only changes where the
//                  entropy lies that close to the 1e-5 tolerance (not in these inputs), so each p is
//                  within k 2^-51 relative of the twin's, plus one float rounding: 2u + k 2^-51;
//   KL rows        sums of m terms with 2-ulp logs: (m + 2) 2^-51 of sum |terms|.
// Without a usable GPU every test case says "SKIPPED: no CUDA GPU" (a WARN) and checks nothing.
#define ZS_KNS cuda
#include <catch2/catch.hpp>

#include <cmath>
#include <random>
#include <vector>

#include "dense_kernel_checks.h"
#include "kernel_runs.h"           // SKIP_WITHOUT_GPU
#include "kernels/cpu/tsne.h"
#include "kernels/tsne.cuh"
#include "runtime/backend/kernel_memory.h"
#include "test_data.h"
#include "tsne_twin.h"

namespace {

constexpr double kU = 0x1p-24;

using zs_test::random_points;

using zs_test::twin_knn_p;

}  // namespace

TEST_CASE("cuda tsne_knn and tsne_conditional_p match the twin", "[cuda][tsne]") {
  SKIP_WITHOUT_GPU();
  const int64_t n = 1000;
  const int d = 37, k = 91;
  const std::vector<float> x = random_points(n, d, 1);
  const auto [idx, dist, cond] = twin_knn_p(x, n, d, k, 30.f);
  const zs::DeviceBuffer<float> dx(zs::cuda::kernel_memory(), x);
  std::vector<float> first_cond;
  for (int run = 0; run < 2; ++run) {
    zs::DeviceBuffer<int32_t> didx(zs::cuda::kernel_memory(), idx.size());
    zs::DeviceBuffer<float> ddist(zs::cuda::kernel_memory(), dist.size()), dcond(zs::cuda::kernel_memory(), cond.size());
    zs::cuda::tsne_knn(didx.data(), ddist.data(), dx.data(), n, d, k, nullptr);
    zs::cuda::tsne_conditional_p(dcond.data(), ddist.data(), n, k, 30.f, nullptr);
    CHECK(didx.download() == idx);
    CHECK(ddist.download() == dist);
    const std::vector<float> got = dcond.download();
    size_t far = 0;
    for (size_t e = 0; e < got.size(); ++e)
      far += std::fabs(got[e] - cond[e]) > (2 * kU + k * 0x1p-51) * std::fabs(cond[e]) + 1e-38;
    CHECK(far == 0);
    if (run == 0) first_cond = got;
    else CHECK(got == first_cond);
  }
}

TEST_CASE("cuda tsne_symmetrize gives the twin's CSR P and sum", "[cuda][tsne]") {
  SKIP_WITHOUT_GPU();
  const int64_t n = 3001;
  const int d = 24, k = 91;   // 24-D normals: hubs, buckets much longer than k
  const auto [idx, dist, cond] = twin_knn_p(random_points(n, d, 4), n, d, k, 30.f);
  const zs::cpu::SparseP p = zs::cpu::tsne_symmetric_p(idx.data(), cond.data(), n, k);
  const zs::DeviceBuffer<int32_t> didx(zs::cuda::kernel_memory(), idx);
  const zs::DeviceBuffer<float> dcond(zs::cuda::kernel_memory(), cond);
  for (int run = 0; run < 2; ++run) {   // the scatter's atomics order differently each time
    zs::DeviceBuffer<int32_t> row_ptr(zs::cuda::kernel_memory(), size_t(n) + 1),
        col(zs::cuda::kernel_memory(), size_t(2 * n * k));
    zs::DeviceBuffer<double> work(zs::cuda::kernel_memory(), zs::cuda::tsne_symmetrize_workspace(n, k));
    zs::DeviceBuffer<float> val(zs::cuda::kernel_memory(), size_t(2 * n * k));
    zs::DeviceBuffer<double> sum(zs::cuda::kernel_memory(), 1);
    zs::cuda::tsne_symmetrize(row_ptr.data(), col.data(), val.data(), sum.data(), didx.data(), dcond.data(), n, k,
                              work.data(), nullptr);
    CHECK(row_ptr.download() == p.row_ptr);
    std::vector<int32_t> got_col = col.download();
    std::vector<float> got_val = val.download();
    got_col.resize(p.col.size());
    got_val.resize(p.val.size());
    CHECK(got_col == p.col);
    CHECK(got_val == p.val);
    CHECK(sum.download()[0] == p.sum);
  }
}

TEST_CASE("cuda tsne forces and gradient step match the twin", "[cuda][tsne]") {
  SKIP_WITHOUT_GPU();
  const int64_t n = 3001;
  const int d = 5, k = 16;
  const auto [idx, dist, cond] = twin_knn_p(random_points(n, d, 2), n, d, k, 5.f);
  const zs::cpu::SparseP p = zs::cpu::tsne_symmetric_p(idx.data(), cond.data(), n, k);
  std::vector<float> y = random_points(n, 2, 3, 4.f), update(size_t(2 * n), 0.f), gains(size_t(2 * n), 1.f);
  std::vector<float> attraction(size_t(2 * n)), repulsion(size_t(2 * n));
  std::vector<double> kl(static_cast<size_t>(n)), zrow(static_cast<size_t>(n)), stats(2);
  zs::cpu::tsne_attractive(attraction.data(), kl.data(), p.row_ptr.data(), p.col.data(), p.val.data(), y.data(), n,
                           12.f);
  zs::cpu::tsne_repulsive(repulsion.data(), zrow.data(), y.data(), n, 0.f);
  std::vector<float> y1 = y, u1 = update, g1 = gains;
  zs::cpu::tsne_gradient_step(y1.data(), u1.data(), g1.data(), stats.data(), attraction.data(), repulsion.data(),
                              zrow.data(), n, 0.5f, 62.5f);
  for (int run = 0; run < 2; ++run) {
    const zs::DeviceBuffer<int32_t> drow(zs::cuda::kernel_memory(), p.row_ptr), dcol(zs::cuda::kernel_memory(), p.col);
    zs::DeviceBuffer<float> dval(zs::cuda::kernel_memory(), p.val), dy(zs::cuda::kernel_memory(), y), du(zs::cuda::kernel_memory(), update), dg(zs::cuda::kernel_memory(), gains), da(zs::cuda::kernel_memory(), attraction.size()), dr(zs::cuda::kernel_memory(), repulsion.size());
    zs::DeviceBuffer<double> dkl(zs::cuda::kernel_memory(), kl.size()), dz(zs::cuda::kernel_memory(), zrow.size()), ds(zs::cuda::kernel_memory(), 2);
    zs::cuda::tsne_attractive(da.data(), dkl.data(), drow.data(), dcol.data(), dval.data(), dy.data(), n, 12.f, nullptr);
    zs::cuda::tsne_repulsive(dr.data(), dz.data(), dy.data(), n, 0.f, nullptr);
    zs::cuda::tsne_gradient_step(dy.data(), du.data(), dg.data(), ds.data(), da.data(), dr.data(), dz.data(), n, 0.5f, 62.5f,
                                 nullptr);
    CHECK(da.download() == attraction);
    CHECK(dr.download() == repulsion);
    CHECK(dz.download() == zrow);
    CHECK(dy.download() == y1);
    CHECK(du.download() == u1);
    CHECK(dg.download() == g1);
    CHECK(ds.download() == stats);
    const std::vector<double> got_kl = dkl.download();
    for (int64_t i = 0; i < n; ++i) {
      double abs_terms = 0;
      for (int32_t e = p.row_ptr[size_t(i)]; e < p.row_ptr[size_t(i) + 1]; ++e) {
        const int64_t j = p.col[size_t(e)];
        const double dx = y[size_t(2 * i)] - y[size_t(2 * j)], dy2 = y[size_t(2 * i + 1)] - y[size_t(2 * j + 1)];
        const double pe = 12.0 * p.val[size_t(e)];
        abs_terms += std::fabs(pe * std::log(pe * (1 + dx * dx + dy2 * dy2)));
      }
      const double m = p.row_ptr[size_t(i) + 1] - p.row_ptr[size_t(i)];
      REQUIRE(std::fabs(got_kl[size_t(i)] - kl[size_t(i)]) <= (m + 2) * 0x1p-51 * abs_terms + 1e-300);
    }
  }
}
