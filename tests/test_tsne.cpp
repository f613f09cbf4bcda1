// The t-SNE CPU twin (kernels/cpu/tsne.h) against naive double-precision loops written here.
// Tolerances (u = 2^-24 float, 2^-53 double), from the arithmetic, never from observed errors:
//   kNN distances    an fma chain of d terms >= 0: |got - exact| <= (d + 1) u exact; the chosen
//                    set is the exact one except at certified near-ties (both within that bound).
//   conditional P    the bisection on the same float distances, in double, the same steps: the
//                    float outputs agree within 2 u of the double reference.
//   perplexity       the bisection stops at |H - log(perp)| <= 1e-5; the float rounding of the p_j
//                    moves H by at most u (H + 1) (|dH/dp_j| = |log p_j + 1|, sum p_j = 1).
//   symmetric P      (p_j|i + p_i|j) / 2n from the float conditionals: one float rounding, u.
//   gradient         float sums: attraction rows of m terms err <= (m + 2) u sum|terms|, the
//                    repulsion tiles of 256 terms (then double) <= (256 + 3) u sum|terms| and Z
//                    likewise; the bound is evaluated per coordinate from the terms themselves.
//   Barnes-Hut       theta = 0 is the exact sum in another order, float over up to n terms per
//                    point: (n + 4) u sum|terms| (the exact twin: (256 + 4) u, tile by tile).
//                    theta > 0 (here sklearn's 0.5): a summarised cell of width w whose centre of
//                    mass c lies at distance D > w / theta from the point holds points j at offsets
//                    d_j from c (sum d_j = 0, so the first-order term of the monopole error
//                    cancels). With f(r) = 1 / (1 + |r|^2), Hess f = f^2 (8 f r r^T - 2 I): its
//                    eigenvalues lie in [-2 f^2, 6 f^2), so the cell's second-order error is at most
//                    3 f(D) sum |d_j|^2; a square of width w holds at most a mean |d_j|^2 of w^2 / 2
//                    (half the mass at each end of a diagonal), so relative to the cell's N f(D):
//                    1.5 (w / D)^2 < 1.5 theta^2, for every cell and so for each Z_i (worst case,
//                    leading order). For points spread evenly over a cell (sum d_j d_j^T = N w^2/12 I)
//                    the error is (w^2 / 24) N Lap f = (w^2 / 6) N (D^2 - 1) f^3: relative
//                    <= theta^2 / 6; for the force g = f^2 r = -grad f / 2 it is (w^2 / 24) N Lap g,
//                    |Lap g| = 8 D f^4 |2 - D^2|: relative to N f^2 D <= theta^2 / 3. Errors of
//                    different cells and points do not conspire, so the RMS over the points of the
//                    relative errors (forces relative to sum_j t_ij^2 |y_i - y_j|) stays within those
//                    even-spread bounds, and the worst Z_i within the worst-case one. (Measured on
//                    these points: worst Z 0.018, RMS 0.0034; forces RMS 0.0038.)
#include <catch2/catch.hpp>
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

#include "kernels/cpu/tsne.h"
#include "omp_threads.h"
#include "test_data.h"
#include "tsne_twin.h"

namespace {

constexpr double kU = 0x1p-24;

using zs_test::random_points;

double exact_sq_dist(const float* a, const float* b, int d) {
  double s = 0;
  for (int f = 0; f < d; ++f) s += (double(a[f]) - b[f]) * (double(a[f]) - b[f]);
  return s;
}

using zs_test::with_threads;

struct Knn {
  std::vector<int32_t> idx;
  std::vector<float> dist;
};

Knn run_knn(const std::vector<float>& x, int64_t n, int d, int k) {
  Knn r{std::vector<int32_t>(size_t(n) * k), std::vector<float>(size_t(n) * k)};
  zs::cpu::tsne_knn(r.idx.data(), r.dist.data(), x.data(), n, d, k);
  return r;
}

// sklearn's _binary_search_perplexity, written out for one row (double).
std::vector<double> naive_conditional_row(const float* dist, int k, double perplexity) {
  const double desired = std::log(perplexity);
  double beta = 1, lo = -INFINITY, hi = INFINITY;
  std::vector<double> p(static_cast<size_t>(k));
  for (int step = 0; step < 100; ++step) {
    double sum = 0;
    for (int j = 0; j < k; ++j) sum += (p[size_t(j)] = std::exp(-double(dist[j]) * beta));
    if (sum == 0) sum = 1e-8;
    double sdp = 0;
    for (int j = 0; j < k; ++j) {
      p[size_t(j)] /= sum;
      sdp += dist[j] * p[size_t(j)];
    }
    const double diff = std::log(sum) + beta * sdp - desired;
    if (std::fabs(diff) <= 1e-5) break;
    if (diff > 0) {
      lo = beta;
      beta = hi == INFINITY ? beta * 2 : (beta + hi) / 2;
    } else {
      hi = beta;
      beta = lo == -INFINITY ? beta / 2 : (beta + lo) / 2;
    }
  }
  return p;
}

}  // namespace

TEST_CASE("tsne_knn finds the exact neighbours of a brute-force double search", "[tsne][kernel]") {
  for (auto [n, d, k] : {std::tuple{37, 5, 10}, std::tuple{131, 3, 31}, std::tuple{70, 19, 69}, std::tuple{2, 1, 1}}) {
    const std::vector<float> x = random_points(n, d, uint32_t(n * 7 + d));
    const Knn got = run_knn(x, n, d, k);
    const double rtol = (d + 1) * kU;
    int64_t near_ties = 0;
    for (int64_t i = 0; i < n; ++i) {
      std::vector<std::pair<double, int>> exact;
      for (int64_t j = 0; j < n; ++j)
        if (j != i) exact.push_back({exact_sq_dist(&x[size_t(i * d)], &x[size_t(j * d)], d), int(j)});
      std::sort(exact.begin(), exact.end());
      const double kth = exact[size_t(k - 1)].first;
      for (int m = 0; m < k; ++m) {
        const int32_t j = got.idx[size_t(i * k + m)];
        REQUIRE(j >= 0);
        REQUIRE(j < n);
        REQUIRE(j != i);
        const double ref = exact_sq_dist(&x[size_t(i * d)], &x[size_t(j * d)], d);
        REQUIRE(std::fabs(got.dist[size_t(i * k + m)] - ref) <= rtol * ref + 1e-30);
        if (m > 0) REQUIRE(got.dist[size_t(i * k + m)] >= got.dist[size_t(i * k + m - 1)]);
        // In the exact k nearest, or tied with the k-th within both roundings.
        if (ref > kth) {
          REQUIRE(ref - kth <= 2 * rtol * ref);
          ++near_ties;
        }
      }
    }
    CHECK(near_ties == 0);   // random normals: no near-ties expected at these sizes
  }
}

TEST_CASE("tsne_knn keeps the smaller index among equal distances", "[tsne][kernel]") {
  // Points on a line at 0, 1, -1, 2, -2: from 0, the pairs (1, -1) and (2, -2) tie.
  const std::vector<float> x = {0.f, 1.f, -1.f, 2.f, -2.f};
  const Knn got = run_knn(x, 5, 1, 3);
  CHECK(got.idx[0] == 1);
  CHECK(got.idx[1] == 2);
  CHECK(got.idx[2] == 3);
}

TEST_CASE("tsne_conditional_p equals sklearn's bisection and hits the perplexity in every row", "[tsne][kernel]") {
  for (auto [n, d, perplexity] : {std::tuple{37, 4, 5.f}, std::tuple{91, 7, 30.f}, std::tuple{53, 2, 12.5f}}) {
    const int k = std::min(n - 1, int(3 * perplexity + 1));
    const std::vector<float> x = random_points(n, d, uint32_t(n + d));
    const Knn nn = run_knn(x, n, d, k);
    std::vector<float> cond(size_t(n) * k);
    zs::cpu::tsne_conditional_p(cond.data(), nn.dist.data(), n, k, perplexity);
    for (int64_t i = 0; i < n; ++i) {
      const std::vector<double> ref = naive_conditional_row(&nn.dist[size_t(i * k)], k, perplexity);
      double entropy = 0, sum = 0;
      for (int j = 0; j < k; ++j) {
        const double p = cond[size_t(i * k + j)];
        REQUIRE(std::fabs(p - ref[size_t(j)]) <= 2 * kU * ref[size_t(j)] + 1e-300);
        if (p > 0) entropy -= p * std::log(p);
        sum += p;
      }
      INFO("row " << i << " entropy " << entropy << " target " << std::log(perplexity));
      REQUIRE(std::fabs(sum - 1) <= (k + 2) * kU);
      REQUIRE(std::fabs(entropy - std::log(double(perplexity))) <= 1e-5 + 2 * kU * (entropy + 1));
    }
  }
}

TEST_CASE("tsne_symmetrize (tsne_symmetric_p) builds (p_j|i + p_i|j) / 2n over the union of the kNN graphs", "[tsne][kernel]") {
  for (auto [n, d, k] : {std::tuple{37, 3, 9}, std::tuple{101, 6, 16}}) {
    const zs_test::TwinKnnP nn = zs_test::twin_knn_p(random_points(n, d, uint32_t(5 * n + k)), n, d, k, float(k) / 3);
    const std::vector<float>& cond = nn.cond;
    std::vector<double> dense(size_t(n) * n, 0.0);   // naive O(n^2) joint P
    for (int64_t i = 0; i < n; ++i)
      for (int m = 0; m < k; ++m) {
        const int64_t j = nn.idx[size_t(i * k + m)];
        dense[size_t(i * n + j)] += cond[size_t(i * k + m)] / (2.0 * n);
        dense[size_t(j * n + i)] += cond[size_t(i * k + m)] / (2.0 * n);
      }
    const zs::cpu::SparseP p = zs::cpu::tsne_symmetric_p(nn.idx.data(), cond.data(), n, k);
    REQUIRE(p.row_ptr.size() == size_t(n) + 1);
    std::vector<double> got(size_t(n) * n, 0.0);
    double total = 0;
    for (int64_t i = 0; i < n; ++i)
      for (int32_t e = p.row_ptr[size_t(i)]; e < p.row_ptr[size_t(i) + 1]; ++e) {
        if (e > p.row_ptr[size_t(i)]) REQUIRE(p.col[size_t(e)] > p.col[size_t(e) - 1]);   // ascending, unique
        got[size_t(i * n + p.col[size_t(e)])] = p.val[size_t(e)];
        total += p.val[size_t(e)];
      }
    size_t nonzero = 0;
    for (size_t e = 0; e < dense.size(); ++e) {
      REQUIRE(std::fabs(got[e] - dense[e]) <= kU * dense[e] + 1e-300);
      REQUIRE(got[e] == got[(e % size_t(n)) * size_t(n) + e / size_t(n)]);   // symmetric
      nonzero += dense[e] > 0;
    }
    CHECK(p.col.size() == nonzero);
    CHECK(std::fabs(total - 1) <= (n * k + 2) * kU);
    // The reported sum: the same float values in another order, in double.
    CHECK(std::fabs(p.sum - total) <= double(p.col.size()) * 0x1p-52 * total);
  }
}

namespace {

// KL(P || Q) of a 2-D embedding for a CSR P, in double: the objective the gradient differentiates.
double kl_divergence(const zs::cpu::SparseP& p, const std::vector<double>& y, int64_t n) {
  double z = 0;
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < n; ++j)
      if (i != j) {
        const double dx = y[size_t(2 * i)] - y[size_t(2 * j)], dy = y[size_t(2 * i + 1)] - y[size_t(2 * j + 1)];
        z += 1 / (1 + dx * dx + dy * dy);
      }
  double kl = 0;
  for (int64_t i = 0; i < n; ++i)
    for (int32_t e = p.row_ptr[size_t(i)]; e < p.row_ptr[size_t(i) + 1]; ++e) {
      const int64_t j = p.col[size_t(e)];
      const double dx = y[size_t(2 * i)] - y[size_t(2 * j)], dy = y[size_t(2 * i + 1)] - y[size_t(2 * j + 1)];
      const double q = 1 / (1 + dx * dx + dy * dy) / z, pij = p.val[size_t(e)];
      kl += pij * std::log(pij / q);
    }
  return kl;
}

zs::cpu::SparseP small_problem(int64_t n, int d, float perplexity, std::vector<float>& y) {
  const int k = std::min<int>(int(n) - 1, int(3 * perplexity + 1));
  const zs_test::TwinKnnP nn = zs_test::twin_knn_p(random_points(n, d, 99), n, d, k, perplexity);
  y = random_points(n, 2, 7, 2.f);
  return zs::cpu::tsne_symmetric_p(nn.idx.data(), nn.cond.data(), n, k);
}

}  // namespace

TEST_CASE("the KL gradient 4 (attraction - repulsion / Z) equals central differences", "[tsne][gradient]") {
  const int64_t n = 53;
  std::vector<float> y;
  const zs::cpu::SparseP p = small_problem(n, 6, 8.f, y);
  std::vector<float> attraction(static_cast<size_t>(2 * n)), repulsion(static_cast<size_t>(2 * n));
  std::vector<double> zrow(static_cast<size_t>(n)), kl_row(static_cast<size_t>(n));
  zs::cpu::tsne_attractive(attraction.data(), kl_row.data(), p.row_ptr.data(), p.col.data(), p.val.data(), y.data(),
                           n, 1.f);
  zs::cpu::tsne_repulsive(repulsion.data(), zrow.data(), y.data(), n, 0.f);
  double z = 0;
  for (double v : zrow) z += v;

  std::vector<double> yd(y.begin(), y.end());
  // KL from the kernels' pieces: sum p log(p / t) + log Z sum p.
  double kl_pieces = 0, p_sum = 0;
  for (int64_t i = 0; i < n; ++i) kl_pieces += kl_row[size_t(i)];
  for (float v : p.val) p_sum += v;
  kl_pieces += std::log(z) * p_sum;
  const double kl = kl_divergence(p, yd, n);
  CHECK(std::fabs(kl_pieces - kl) <= 1e-6 * std::fabs(kl) + 1e-9);

  const double h = 1e-5;
  for (int64_t e = 0; e < 2 * n; ++e) {
    const double saved = yd[size_t(e)];
    yd[size_t(e)] = saved + h;
    const double up = kl_divergence(p, yd, n);
    yd[size_t(e)] = saved - h;
    const double down = kl_divergence(p, yd, n);
    yd[size_t(e)] = saved;
    const double fd = (up - down) / (2 * h);
    const double grad = 4.0 * (double(attraction[size_t(e)]) - double(repulsion[size_t(e)]) / z);
    // The float error bound of the two sums at this coordinate (see the file header).
    const int64_t i = e / 2, axis = e % 2;
    double attr_terms = 0, rep_terms = 0, row_len = p.row_ptr[size_t(i) + 1] - p.row_ptr[size_t(i)];
    for (int32_t m = p.row_ptr[size_t(i)]; m < p.row_ptr[size_t(i) + 1]; ++m) {
      const int64_t j = p.col[size_t(m)];
      const double dx = yd[size_t(2 * i)] - yd[size_t(2 * j)], dy = yd[size_t(2 * i + 1)] - yd[size_t(2 * j + 1)];
      attr_terms += p.val[size_t(m)] / (1 + dx * dx + dy * dy) * std::fabs(axis ? dy : dx);
    }
    for (int64_t j = 0; j < n; ++j) {
      if (j == i) continue;
      const double dx = yd[size_t(2 * i)] - yd[size_t(2 * j)], dy = yd[size_t(2 * i + 1)] - yd[size_t(2 * j + 1)];
      const double t = 1 / (1 + dx * dx + dy * dy);
      rep_terms += t * t * std::fabs(axis ? dy : dx);
    }
    const double bound = 4 * ((row_len + 4) * kU * attr_terms + (256 + 4) * kU * rep_terms / z * 2) +
                         1e-9;   // + central-difference rounding and truncation (h^2 ~ 1e-10)
    INFO("coordinate " << e << ": gradient " << grad << ", finite differences " << fd << ", bound " << bound);
    REQUIRE(std::fabs(grad - fd) <= bound);
  }
}

TEST_CASE("tsne_gradient_step is sklearn's gains, momentum and step", "[tsne][kernel]") {
  const int64_t n = 1031;   // more points than the reduction has chunks, not a multiple of them
  std::vector<float> y = random_points(n, 2, 1), update = random_points(n, 2, 2, 1e-3f);
  std::vector<float> gains(static_cast<size_t>(2 * n)), attraction = random_points(n, 2, 3), repulsion = random_points(n, 2, 4);
  for (size_t e = 0; e < gains.size(); ++e) gains[e] = e % 7 == 0 ? 0.0101f : 1.f + 0.01f * float(e % 5);
  std::vector<double> zrow(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) zrow[size_t(i)] = 3.0 + double(i % 11);
  std::vector<float> y_ref = y, update_ref = update, gains_ref = gains;
  std::vector<double> stats(2);
  zs::cpu::tsne_gradient_step(y.data(), update.data(), gains.data(), stats.data(), attraction.data(), repulsion.data(),
                              zrow.data(), n, 0.8f, 200.f);
  double z = 0, norm2 = 0;
  for (double v : zrow) z += v;
  CHECK(std::fabs(stats[0] - z) <= n * 0x1p-53 * z);
  for (size_t e = 0; e < y.size(); ++e) {
    float g = 4.f * (attraction[e] - repulsion[e] / float(z));
    float& gain = gains_ref[e];
    gain = update_ref[e] * g < 0.f ? gain + 0.2f : gain * 0.8f;
    gain = std::max(gain, 0.01f);
    g *= gain;
    update_ref[e] = std::fma(0.8f, update_ref[e], -(200.f * g));
    y_ref[e] += update_ref[e];
    norm2 += double(g) * g;
  }
  CHECK(y == y_ref);
  CHECK(update == update_ref);
  CHECK(gains == gains_ref);
  CHECK(std::fabs(stats[1] - norm2) <= 2 * n * 0x1p-53 * norm2);
}

TEST_CASE("Barnes-Hut repulsion matches the exact sum within its theta bound", "[tsne][barnes-hut]") {
  const int64_t n = 777;
  std::vector<float> y = random_points(n, 2, 5, 3.f);
  std::vector<float> exact(static_cast<size_t>(2 * n)), approx(static_cast<size_t>(2 * n));
  std::vector<double> z_exact(static_cast<size_t>(n)), z_approx(static_cast<size_t>(n));
  zs::cpu::tsne_repulsive(exact.data(), z_exact.data(), y.data(), n, 0.f);
  // Sums of |terms| per point, for the rounding bounds.
  std::vector<double> abs_x(static_cast<size_t>(n)), abs_y(static_cast<size_t>(n)), abs_len(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < n; ++j) {
      if (i == j) continue;
      const double dx = y[size_t(2 * i)] - y[size_t(2 * j)], dy = y[size_t(2 * i + 1)] - y[size_t(2 * j + 1)];
      const double t = 1 / (1 + dx * dx + dy * dy);
      abs_x[size_t(i)] += t * t * std::fabs(dx);
      abs_y[size_t(i)] += t * t * std::fabs(dy);
      abs_len[size_t(i)] += t * t * std::hypot(dx, dy);
    }
  SECTION("theta 0 descends to every leaf: the exact sum in another order") {
    const float theta = 1e-30f;   // > 0 selects Barnes-Hut; nothing is ever summarised
    zs::cpu::tsne_repulsive(approx.data(), z_approx.data(), y.data(), n, theta);
    for (int64_t i = 0; i < n; ++i) {
      const double rtol = (n + 4 + 256 + 4) * kU;
      REQUIRE(std::fabs(z_approx[size_t(i)] - z_exact[size_t(i)]) <= rtol * z_exact[size_t(i)]);
      REQUIRE(std::fabs(approx[size_t(2 * i)] - exact[size_t(2 * i)]) <= rtol * abs_x[size_t(i)]);
      REQUIRE(std::fabs(approx[size_t(2 * i + 1)] - exact[size_t(2 * i + 1)]) <= rtol * abs_y[size_t(i)]);
    }
  }
  SECTION("theta 0.5 (sklearn's angle): Z_i and the forces within the monopole error bounds") {
    // See the file header: worst case per point 1.5 theta^2 for Z_i; over the points, the RMS
    // within theta^2 / 6 (Z_i) and theta^2 / 3 (forces, relative to sum_j t^2 |y_i - y_j|).
    const double theta = 0.5;
    zs::cpu::tsne_repulsive(approx.data(), z_approx.data(), y.data(), n, float(theta));
    const double rounding = (n + 4 + 256 + 4) * kU;
    double worst_z = 0, sum_z2 = 0, sum_f2 = 0;
    for (int64_t i = 0; i < n; ++i) {
      const double rel_z = std::fabs(z_approx[size_t(i)] - z_exact[size_t(i)]) / z_exact[size_t(i)];
      const double rel_f = std::hypot(double(approx[size_t(2 * i)]) - exact[size_t(2 * i)],
                                      double(approx[size_t(2 * i + 1)]) - exact[size_t(2 * i + 1)]) /
                           abs_len[size_t(i)];
      worst_z = std::max(worst_z, rel_z);
      sum_z2 += rel_z * rel_z;
      sum_f2 += rel_f * rel_f;
    }
    const double rms_z = std::sqrt(sum_z2 / double(n)), rms_f = std::sqrt(sum_f2 / double(n));
    INFO("worst relative Z_i error " << worst_z << ", RMS " << rms_z << "; forces RMS " << rms_f);
    CHECK(worst_z <= 1.5 * theta * theta + rounding);
    CHECK(rms_z <= theta * theta / 6 + rounding);
    CHECK(rms_f <= theta * theta / 3 + rounding);
    CHECK(z_approx != z_exact);   // it did summarise
  }
}

TEST_CASE("the t-SNE kernels give the same bits on 1, 2 and 3 threads", "[tsne][kernel]") {
  const int64_t n = 300;
  const int d = 9, k = 31;
  const std::vector<float> x = random_points(n, d, 3);
  auto run = [&](int threads) {
    std::vector<float> out;
    with_threads(threads, [&] {
      const Knn nn = run_knn(x, n, d, k);
      std::vector<float> cond(size_t(n) * k);
      zs::cpu::tsne_conditional_p(cond.data(), nn.dist.data(), n, k, 10.f);
      const zs::cpu::SparseP p = zs::cpu::tsne_symmetric_p(nn.idx.data(), cond.data(), n, k);
      std::vector<float> y = random_points(n, 2, 4), a(static_cast<size_t>(2 * n)), r(static_cast<size_t>(2 * n)), rb(static_cast<size_t>(2 * n));
      std::vector<double> kl(static_cast<size_t>(n)), z(static_cast<size_t>(n)), zb(static_cast<size_t>(n));
      zs::cpu::tsne_attractive(a.data(), kl.data(), p.row_ptr.data(), p.col.data(), p.val.data(), y.data(), n, 12.f);
      zs::cpu::tsne_repulsive(r.data(), z.data(), y.data(), n, 0.f);
      zs::cpu::tsne_repulsive(rb.data(), zb.data(), y.data(), n, 0.5f);
      for (const std::vector<float>* v : std::initializer_list<const std::vector<float>*>{&nn.dist, &cond, &p.val, &a, &r, &rb}) out.insert(out.end(), v->begin(), v->end());
      for (const std::vector<double>* v : {&kl, &z, &zb}) out.insert(out.end(), v->begin(), v->end());
      for (int32_t v : nn.idx) out.push_back(float(v));
    });
    return out;
  };
  const std::vector<float> one = run(1);
  CHECK(run(2) == one);
  CHECK(run(3) == one);
}
