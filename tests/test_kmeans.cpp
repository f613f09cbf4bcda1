// KMeans: the CPU twin kernels (kernels/cpu/kmeans.h) against naive double loops, and the library
// (runtime/cluster) on planted clusters, k-means++'s D^2 sampling law, inertia, empty clusters,
// early stopping and bad arguments.
//
// Tolerances: the kernels compute ||x||^2 - 2 x.c + ||c||^2 in float32; for data of magnitude ~1
// and d <= 64 the absolute error of a squared distance is below ~1e-5 * (||x||^2 + ||c||^2), so
// distances are compared with atol 1e-4 + rtol 1e-4 against double references.
#include <omp.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <cmath>
#include <cstdint>
#include <limits>
#include <map>
#include <set>
#include <vector>

#include "kernels/cpu/kmeans.h"
#include "runtime/cluster/cluster_rng.h"
#include "runtime/cluster/kmeans.h"
#include "runtime/cluster/kmeans_common.h"
#include "runtime/cluster/minibatch_kmeans.h"
#include "runtime/core/error.h"
#include "omp_threads.h"

namespace {

using zs::MatrixView;

struct Points {
  std::vector<float> values;
  int64_t n = 0;
  int d = 0;
  MatrixView view() const { return {values.data(), n, d}; }
  const float* row(int64_t i) const { return values.data() + i * d; }
};

// Uniform points in [-1, 1)^d.
Points uniform_points(int64_t n, int d, uint64_t seed) {
  zs::ClusterRng rng(seed);
  Points p{std::vector<float>(size_t(n) * d), n, d};
  for (float& v : p.values) v = static_cast<float>(2.0 * rng.uniform() - 1.0);
  return p;
}

double normal(zs::ClusterRng& rng) {  // Box-Muller
  const double u1 = 1.0 - rng.uniform(), u2 = rng.uniform();
  return std::sqrt(-2.0 * std::log(u1)) * std::cos(2.0 * M_PI * u2);
}

// `per_blob` points around each of `blobs` centres spaced `spacing` apart (std 1 per feature),
// in a shuffled order; truth[i] is the blob of point i.
struct Blobs {
  Points points;
  std::vector<int32_t> truth;
};
Blobs planted_blobs(int blobs, int per_blob, int d, double spacing, uint64_t seed) {
  zs::ClusterRng rng(seed);
  std::vector<double> centres(size_t(blobs) * d);
  for (double& c : centres) c = spacing * (2.0 * rng.uniform() - 1.0);
  // Push the centres apart along the first axis too, so every pair is >= spacing apart.
  for (int b = 0; b < blobs; ++b) centres[size_t(b) * d] = spacing * b;
  const int64_t n = int64_t(blobs) * per_blob;
  std::vector<int64_t> order = rng.distinct(n, n);
  Blobs out{Points{std::vector<float>(size_t(n) * d), n, d}, std::vector<int32_t>(n)};
  for (int64_t s = 0; s < n; ++s) {
    const int64_t i = order[s];
    const int b = static_cast<int>(s / per_blob);
    out.truth[i] = b;
    for (int f = 0; f < d; ++f) out.points.values[size_t(i) * d + f] = static_cast<float>(centres[size_t(b) * d + f] + normal(rng));
  }
  return out;
}

double naive_sqdist(const float* a, const float* b, int d) {
  double s = 0.0;
  for (int f = 0; f < d; ++f) {
    const double diff = double(a[f]) - double(b[f]);
    s += diff * diff;
  }
  return s;
}

bool close(double got, double ref, double atol, double rtol) { return std::fabs(got - ref) <= atol + rtol * std::fabs(ref); }

// Compares arrays element by element; on failure reports the worst index and the first mismatches.
template <class Got, class Ref>
void require_close(const std::vector<Got>& got, const std::vector<Ref>& ref, double atol, double rtol, const char* what) {
  REQUIRE(got.size() == ref.size());
  size_t worst = 0, bad = 0;
  double worst_excess = -1.0;
  std::string first;
  for (size_t i = 0; i < got.size(); ++i) {
    const double g = double(got[i]), r = double(ref[i]);
    const double excess = std::fabs(g - r) - (atol + rtol * std::fabs(r));
    if (!std::isfinite(g) || excess > 0) {
      if (bad < 5) first += " [" + std::to_string(i) + "] got " + std::to_string(g) + " want " + std::to_string(r) + ";";
      ++bad;
    }
    if (excess > worst_excess) {
      worst_excess = excess;
      worst = i;
    }
  }
  INFO(what << ": " << bad << " mismatches; worst index " << worst << " (got " << double(got[worst]) << ", want "
            << double(ref[worst]) << "); first:" << first);
  REQUIRE(bad == 0);
}

std::vector<float> sqnorms(const Points& p) {
  std::vector<float> out(p.n);
  zs::cpu::row_sqnorms(out.data(), p.values.data(), p.n, p.d);
  return out;
}

// Partitions equal up to a renaming of the clusters.
bool same_partition(const std::vector<int32_t>& a, const std::vector<int32_t>& b) {
  if (a.size() != b.size()) return false;
  std::map<int32_t, int32_t> ab, ba;
  for (size_t i = 0; i < a.size(); ++i) {
    auto [it1, new1] = ab.emplace(a[i], b[i]);
    auto [it2, new2] = ba.emplace(b[i], a[i]);
    if (it1->second != b[i] || it2->second != a[i]) return false;
  }
  return true;
}

using zs_test::with_threads;

}  // namespace

// ------------------------------------------------------------------------------------------------
// Kernels against naive loops (odd sizes: n crosses tile boundaries, d and k not multiples of 4).
// ------------------------------------------------------------------------------------------------

TEST_CASE("row_sqnorms equals a naive sum", "[kmeans][kernel]") {
  const Points p = uniform_points(301, 13, 1);
  std::vector<double> ref(p.n);
  for (int64_t i = 0; i < p.n; ++i) ref[i] = naive_sqdist(p.row(i), std::vector<float>(p.d, 0.f).data(), p.d);
  require_close(sqnorms(p), ref, 1e-6, 1e-6, "row_sqnorms");
}

TEST_CASE("kmeans_assign equals the naive double loop", "[kmeans][kernel]") {
  for (int k : {1, 7, 33}) {
    const Points x = uniform_points(301, 13, 2);
    const Points c = uniform_points(k, 13, 3);
    const std::vector<float> xs = sqnorms(x), cs = sqnorms(c);
    std::vector<int32_t> labels(x.n, -1);
    std::vector<float> dist(x.n, -1.f);
    zs::cpu::kmeans_assign(labels.data(), dist.data(), x.values.data(), xs.data(), c.values.data(), cs.data(), x.n, x.d, k);

    std::vector<double> ref_dist(x.n), got_label_dist(x.n);
    int64_t label_mismatch = -1;
    for (int64_t i = 0; i < x.n; ++i) {
      int best = 0;
      double best_d = std::numeric_limits<double>::infinity(), second = best_d;
      for (int j = 0; j < k; ++j) {
        const double dj = naive_sqdist(x.row(i), c.row(j), x.d);
        if (dj < best_d) {
          second = best_d;
          best_d = dj;
          best = j;
        } else if (dj < second) {
          second = dj;
        }
      }
      ref_dist[i] = best_d;
      REQUIRE(labels[i] >= 0);
      REQUIRE(labels[i] < k);
      got_label_dist[i] = naive_sqdist(x.row(i), c.row(labels[i]), x.d);
      // Where the runner-up is clearly farther, the label must be exactly the naive one.
      if (second - best_d > 1e-3 && labels[i] != best && label_mismatch < 0) label_mismatch = i;
    }
    INFO("k = " << k << ", first point with a different label: " << label_mismatch);
    REQUIRE(label_mismatch == -1);
    require_close(dist, ref_dist, 1e-4, 1e-4, "min_dist");
    require_close(got_label_dist, ref_dist, 1e-4, 1e-4, "distance to the chosen centre");
  }
}

TEST_CASE("kmeans_assign breaks ties towards the smallest centre index", "[kmeans][kernel]") {
  // Point 0 at the origin; centres 1 and 2 at the same distance, centre 0 farther.
  const std::vector<float> x = {0.f, 0.f, 3.f, 0.f};
  const std::vector<float> c = {5.f, 5.f, 1.f, 0.f, -1.f, 0.f};
  std::vector<float> xs(2), cs(3);
  zs::cpu::row_sqnorms(xs.data(), x.data(), 2, 2);
  zs::cpu::row_sqnorms(cs.data(), c.data(), 3, 2);
  std::vector<int32_t> labels(2);
  std::vector<float> dist(2);
  zs::cpu::kmeans_assign(labels.data(), dist.data(), x.data(), xs.data(), c.data(), cs.data(), 2, 2, 3);
  CHECK(labels[0] == 1);
  CHECK(dist[0] == 1.0f);
  CHECK(labels[1] == 1);
  CHECK(dist[1] == 4.0f);
}

TEST_CASE("kmeans_assign clamps cancellation below zero to 0", "[kmeans][kernel]") {
  // A point equal to a large-norm centre: the expansion cancels ~1e4 to 0 and may land below 0.
  std::vector<float> x(37), c(37);
  for (int f = 0; f < 37; ++f) x[f] = c[f] = 17.123f + 0.37f * f;
  std::vector<float> xs(1), cs(1);
  zs::cpu::row_sqnorms(xs.data(), x.data(), 1, 37);
  zs::cpu::row_sqnorms(cs.data(), c.data(), 1, 37);
  int32_t label = -1;
  float dist = -1.f;
  zs::cpu::kmeans_assign(&label, &dist, x.data(), xs.data(), c.data(), cs.data(), 1, 37, 1);
  CHECK(label == 0);
  CHECK(dist >= 0.0f);
  CHECK(dist <= 1e-5f * xs[0]);
}

TEST_CASE("kmeans_lloyd_pass equals kmeans_assign plus naive centroid sums", "[kmeans][kernel]") {
  const int k = 9;
  const Points x = uniform_points(517, 11, 4);
  const Points c = uniform_points(k, 11, 5);
  const std::vector<float> xs = sqnorms(x), cs = sqnorms(c);
  std::vector<int32_t> labels(x.n), ref_labels(x.n);
  std::vector<float> dist(x.n), ref_dist(x.n), sums(size_t(k) * x.d);
  std::vector<int64_t> counts(k);
  zs::cpu::kmeans_lloyd_pass(labels.data(), dist.data(), sums.data(), counts.data(), x.values.data(), xs.data(),
                             c.values.data(), cs.data(), x.n, x.d, k);
  zs::cpu::kmeans_assign(ref_labels.data(), ref_dist.data(), x.values.data(), xs.data(), c.values.data(), cs.data(), x.n,
                         x.d, k);
  REQUIRE(labels == ref_labels);
  REQUIRE(dist == ref_dist);
  std::vector<double> ref_sums(size_t(k) * x.d, 0.0);
  std::vector<int64_t> ref_counts(k, 0);
  for (int64_t i = 0; i < x.n; ++i) {
    ++ref_counts[labels[i]];
    for (int f = 0; f < x.d; ++f) ref_sums[size_t(labels[i]) * x.d + f] += x.row(i)[f];
  }
  REQUIRE(counts == ref_counts);
  require_close(sums, ref_sums, 1e-5, 1e-6, "centroid sums");

  // The separate centroid kernel gives the same sums from the same labels.
  std::vector<float> sums2(sums.size());
  std::vector<int64_t> counts2(k);
  zs::cpu::kmeans_centroid_sums(sums2.data(), counts2.data(), x.values.data(), labels.data(), x.n, x.d, k);
  REQUIRE(counts2 == ref_counts);
  require_close(sums2, ref_sums, 1e-5, 1e-6, "kmeans_centroid_sums");
}

TEST_CASE("kernels give the same bits with 1 and 2 threads", "[kmeans][kernel]") {
  // Big enough (n * d * k > 2^26 multiply-adds) for the kernels to use both threads.
  const int k = 64, t = 8;
  const Points x = uniform_points(20000, 64, 6);
  const Points c = uniform_points(k, 64, 7);
  const std::vector<float> xs = sqnorms(x), cs = sqnorms(c);
  std::vector<int32_t> ids(t);
  for (int i = 0; i < t; ++i) ids[i] = 17 * i;
  auto run = [&](int threads) {
    std::vector<int32_t> labels(x.n);
    std::vector<float> dist(x.n), sums(size_t(k) * x.d), cand_dist(size_t(t) * x.n);
    std::vector<int64_t> counts(k);
    std::vector<double> pot(t), inertia(1);
    with_threads(threads, [&] {
      REQUIRE(omp_get_max_threads() == threads);
      zs::cpu::kmeans_lloyd_pass(labels.data(), dist.data(), sums.data(), counts.data(), x.values.data(), xs.data(),
                                 c.values.data(), cs.data(), x.n, x.d, k);
      zs::cpu::kmeans_pp_candidates(cand_dist.data(), pot.data(), x.values.data(), xs.data(), dist.data(), ids.data(),
                                    x.n, x.d, t);
      zs::cpu::kmeans_inertia(inertia.data(), x.values.data(), c.values.data(), labels.data(), x.n, x.d, k);
    });
    return std::make_tuple(labels, dist, sums, counts, cand_dist, pot, inertia);
  };
  REQUIRE(run(1) == run(2));
}

TEST_CASE("kmeans_pp_candidates equals naive minima and potentials", "[kmeans][kernel]") {
  const Points x = uniform_points(300, 10, 8);
  const std::vector<float> xs = sqnorms(x);
  const std::vector<int32_t> ids = {5, 299, 0, 5};  // a repeated candidate is allowed
  const int t = static_cast<int>(ids.size());
  std::vector<float> closest(x.n);
  for (int64_t i = 0; i < x.n; ++i) closest[i] = static_cast<float>(naive_sqdist(x.row(i), x.row(17), x.d));
  for (bool with_closest : {false, true}) {
    std::vector<float> dist(size_t(t) * x.n);
    std::vector<double> pot(t);
    zs::cpu::kmeans_pp_candidates(dist.data(), pot.data(), x.values.data(), xs.data(), with_closest ? closest.data() : nullptr,
                                  ids.data(), x.n, x.d, t);
    std::vector<double> ref_dist(dist.size()), ref_pot(t, 0.0);
    for (int c = 0; c < t; ++c)
      for (int64_t i = 0; i < x.n; ++i) {
        double v = naive_sqdist(x.row(i), x.row(ids[c]), x.d);
        if (with_closest) v = std::min(v, double(closest[i]));
        ref_dist[size_t(c) * x.n + i] = v;
        ref_pot[c] += v;
      }
    INFO("with closest: " << with_closest);
    require_close(dist, ref_dist, 1e-4, 1e-4, "candidate distances");
    require_close(pot, ref_pot, 1e-3, 1e-5, "candidate potentials");
  }
}

TEST_CASE("kmeans_pp_sample inverts the cumulative weights", "[kmeans][kernel]") {
  const std::vector<float> w = {0.f, 1.f, 0.f, 3.f, 0.f};  // cumulative 0 1 1 4 4
  const std::vector<double> u = {0.0, 0.2499, 0.25, 0.9999999, 0.5};
  std::vector<int32_t> ids(u.size());
  zs::cpu::kmeans_pp_sample(ids.data(), w.data(), u.data(), static_cast<int64_t>(w.size()), static_cast<int>(u.size()));
  // Targets 0, 0.9996, 1, 3.99999, 2: the first cumulative value strictly above each.
  CHECK(ids == std::vector<int32_t>{1, 1, 3, 3, 3});
}

TEST_CASE("kmeans_pp_sample frequencies follow the weights (binomial bound)", "[kmeans][kernel]") {
  const std::vector<float> w = {4.f, 0.f, 1.f, 2.5f, 0.5f, 2.f};
  const double total = 10.0;
  const int draws = 200000;
  zs::ClusterRng rng(11);
  std::vector<double> u(draws);
  for (double& v : u) v = rng.uniform();
  std::vector<int32_t> ids(draws);
  zs::cpu::kmeans_pp_sample(ids.data(), w.data(), u.data(), static_cast<int64_t>(w.size()), draws);
  std::vector<int> hits(w.size(), 0);
  for (int32_t i : ids) ++hits[i];
  for (size_t i = 0; i < w.size(); ++i) {
    const double p = w[i] / total, freq = double(hits[i]) / draws;
    const double sigma = std::sqrt(p * (1 - p) / draws);
    INFO("point " << i << ": frequency " << freq << ", probability " << p << ", 5 sigma " << 5 * sigma);
    CHECK(std::fabs(freq - p) <= 5 * sigma);
  }
  CHECK(hits[1] == 0);
}

TEST_CASE("kmeans_minibatch_update follows the count-weighted mean", "[kmeans][kernel]") {
  const int k = 5, d = 7;
  const Points old = uniform_points(k, d, 12);
  const Points xb = uniform_points(23, d, 13);
  std::vector<int32_t> labels(xb.n);
  for (int64_t i = 0; i < xb.n; ++i) labels[i] = static_cast<int32_t>((i * 3) % 4);  // centre 4 gets no member
  std::vector<double> counts = {0.0, 2.0, 10.0, 1.0, 7.0};
  const std::vector<double> counts_before = counts;
  std::vector<float> updated(size_t(k) * d);
  zs::cpu::kmeans_minibatch_update(updated.data(), counts.data(), old.values.data(), xb.values.data(), labels.data(), xb.n,
                                   d, k);
  std::vector<double> ref(size_t(k) * d), ref_counts = counts_before;
  for (int j = 0; j < k; ++j) {
    std::vector<double> acc(d);
    int members = 0;
    for (int f = 0; f < d; ++f) acc[f] = double(old.row(j)[f]) * counts_before[j];
    for (int64_t i = 0; i < xb.n; ++i)
      if (labels[i] == j) {
        ++members;
        for (int f = 0; f < d; ++f) acc[f] += xb.row(i)[f];
      }
    ref_counts[j] += members;
    for (int f = 0; f < d; ++f) ref[size_t(j) * d + f] = members ? acc[f] / ref_counts[j] : old.row(j)[f];
  }
  REQUIRE(counts == ref_counts);
  require_close(updated, ref, 1e-6, 1e-6, "minibatch centres");
}

TEST_CASE("kmeans_inertia equals the naive sum of squared distances", "[kmeans][kernel]") {
  const int k = 4;
  const Points x = uniform_points(333, 9, 14);
  const Points c = uniform_points(k, 9, 15);
  std::vector<int32_t> labels(x.n);
  double ref = 0.0;
  for (int64_t i = 0; i < x.n; ++i) {
    labels[i] = static_cast<int32_t>(i % k);
    ref += naive_sqdist(x.row(i), c.row(labels[i]), x.d);
  }
  double got = 0.0;
  zs::cpu::kmeans_inertia(&got, x.values.data(), c.values.data(), labels.data(), x.n, x.d, k);
  CHECK(close(got, ref, 1e-9, 1e-12));
}

// ------------------------------------------------------------------------------------------------
// The library.
// ------------------------------------------------------------------------------------------------

TEST_CASE("KMeans recovers planted well-separated blobs exactly", "[kmeans]") {
  const Blobs blobs = planted_blobs(6, 80, 5, 20.0, 21);
  for (zs::KMeansInit init : {zs::KMeansInit::KMeansPlusPlus, zs::KMeansInit::Random}) {
    zs::KMeansOptions o;
    o.k = 6;
    o.init = init;
    o.n_init = 10;
    o.seed = 3;
    const zs::KMeansFit fit = zs::fit_kmeans(blobs.points.view(), o);
    INFO("init " << zs::to_string(init));
    CHECK(same_partition(fit.labels, blobs.truth));
    CHECK(fit.labels == zs::predict(fit.model, blobs.points.view()));
    CHECK(fit.converged);
  }
}

TEST_CASE("MiniBatchKMeans recovers planted well-separated blobs exactly", "[kmeans][minibatch]") {
  const Blobs blobs = planted_blobs(6, 300, 5, 20.0, 22);
  for (zs::KMeansInit init : {zs::KMeansInit::KMeansPlusPlus, zs::KMeansInit::Random}) {
    zs::MiniBatchKMeansOptions o;
    o.k = 6;
    o.init = init;
    o.batch_size = 50;
    o.seed = 4;
    const zs::KMeansFit fit = zs::fit_minibatch_kmeans(blobs.points.view(), o);
    INFO("init " << zs::to_string(init) << ", steps " << fit.n_steps);
    CHECK(same_partition(fit.labels, blobs.truth));
    CHECK(fit.labels == zs::predict(fit.model, blobs.points.view()));
  }
}

TEST_CASE("KMeans inertia equals the recomputed sum of squared distances", "[kmeans]") {
  const Points x = uniform_points(400, 6, 31);
  zs::KMeansOptions o;
  o.k = 7;
  o.n_init = 3;
  o.seed = 5;
  const zs::KMeansFit fit = zs::fit_kmeans(x.view(), o);
  double ref = 0.0;
  for (int64_t i = 0; i < x.n; ++i) ref += naive_sqdist(x.row(i), fit.model.center(fit.labels[i]), x.d);
  CHECK(close(fit.inertia, ref, 1e-6, 1e-5));
  CHECK(close(zs::inertia(fit.model, x.view(), fit.labels), ref, 1e-9, 1e-9));
  // n_init keeps the run with the lowest inertia.
  REQUIRE(fit.init_inertias.size() == 3);
  CHECK(fit.inertia == *std::min_element(fit.init_inertias.begin(), fit.init_inertias.end()));
  CHECK(fit.inertia == fit.init_inertias[fit.best_init]);
  // Every point is at its nearest centre (Lloyd's fixed point or the final re-labelling).
  for (int64_t i = 0; i < x.n; ++i)
    for (int j = 0; j < o.k; ++j)
      REQUIRE(naive_sqdist(x.row(i), fit.model.center(fit.labels[i]), x.d) <=
              naive_sqdist(x.row(i), fit.model.center(j), x.d) + 1e-4);

  zs::MiniBatchKMeansOptions m;
  m.k = 7;
  m.batch_size = 30;
  const zs::KMeansFit mb = zs::fit_minibatch_kmeans(x.view(), m);
  double mref = 0.0;
  for (int64_t i = 0; i < x.n; ++i) mref += naive_sqdist(x.row(i), mb.model.center(mb.labels[i]), x.d);
  CHECK(close(mb.inertia, mref, 1e-6, 1e-5));
}

TEST_CASE("k-means++ picks the second centre with probability D^2 / sum D^2", "[kmeans][kmeans++]") {
  // Five points; with one local trial (classic k-means++) and k = 2 the first centre is uniform and
  // the second is point j with probability p_j = (1/n) sum_i D^2(i, j) / sum_l D^2(i, l).
  const Points x{{0.f, 0.f, 1.f, 0.f, 0.f, 2.f, 5.f, 5.f, 6.f, 5.f}, 5, 2};
  const std::vector<float> xs = sqnorms(x);
  std::vector<double> p(x.n, 0.0);
  for (int64_t i = 0; i < x.n; ++i) {
    double total = 0.0;
    for (int64_t l = 0; l < x.n; ++l) total += naive_sqdist(x.row(i), x.row(l), x.d);
    for (int64_t j = 0; j < x.n; ++j) p[j] += naive_sqdist(x.row(i), x.row(j), x.d) / total / x.n;
  }
  const int runs = 20000;
  std::vector<int> first(x.n, 0), second(x.n, 0);
  for (int s = 0; s < runs; ++s) {
    zs::ClusterRng rng(1000 + s);
    const std::vector<int64_t> chosen = zs::cluster_detail::kmeans_plusplus(x.view(), xs.data(), 2, 1, rng);
    REQUIRE(chosen.size() == 2);
    REQUIRE(chosen[0] != chosen[1]);
    ++first[chosen[0]];
    ++second[chosen[1]];
  }
  for (int64_t j = 0; j < x.n; ++j) {
    const double f2 = double(second[j]) / runs, s2 = std::sqrt(p[j] * (1 - p[j]) / runs);
    const double f1 = double(first[j]) / runs, s1 = std::sqrt(0.2 * 0.8 / runs);
    INFO("point " << j << ": second-centre frequency " << f2 << " vs D^2 probability " << p[j] << " (5 sigma "
                  << 5 * s2 << "); first-centre frequency " << f1 << " vs 0.2");
    CHECK(std::fabs(f2 - p[j]) <= 5 * s2);
    CHECK(std::fabs(f1 - 0.2) <= 5 * s1);
  }
}

TEST_CASE("greedy k-means++ keeps the candidate with the lowest potential", "[kmeans][kmeans++]") {
  // With many local trials the greedy step almost surely finds the best second centre: for two
  // tight groups far apart, the second centre lands in the group the first one is not in.
  const Blobs blobs = planted_blobs(2, 50, 3, 100.0, 41);
  const std::vector<float> xs = sqnorms(blobs.points);
  for (int s = 0; s < 50; ++s) {
    zs::ClusterRng rng(s);
    const auto chosen = zs::cluster_detail::kmeans_plusplus(blobs.points.view(), xs.data(), 2, 10, rng);
    REQUIRE(blobs.truth[chosen[0]] != blobs.truth[chosen[1]]);
  }
  CHECK(zs::cluster_detail::default_local_trials(25) == 5);
  CHECK(zs::cluster_detail::default_local_trials(225) == 7);
  CHECK(zs::cluster_detail::default_local_trials(1) == 2);
}

TEST_CASE("KMeans re-seeds empty clusters from the farthest points", "[kmeans]") {
  // Ten copies of one point and two far points, k = 3: random inits often pick two copies, which
  // leaves the second copy's cluster empty (ties go to the smaller index); relocation must still
  // reach the optimum (inertia 0, every cluster used).
  Points x{{}, 12, 2};
  for (int i = 0; i < 10; ++i) x.values.insert(x.values.end(), {1.f, 1.f});
  x.values.insert(x.values.end(), {11.f, 1.f, 1.f, 11.f});
  for (uint64_t seed = 0; seed < 30; ++seed) {
    zs::KMeansOptions o;
    o.k = 3;
    o.init = zs::KMeansInit::Random;
    o.n_init = 1;
    o.seed = seed;
    const zs::KMeansFit fit = zs::fit_kmeans(x.view(), o);
    std::set<int32_t> used(fit.labels.begin(), fit.labels.end());
    INFO("seed " << seed);
    CHECK(used.size() == 3);
    CHECK(fit.inertia < 1e-9);
  }
}

TEST_CASE("KMeans is deterministic for a seed", "[kmeans]") {
  const Points x = uniform_points(700, 8, 51);
  zs::KMeansOptions o;
  o.k = 5;
  o.n_init = 2;
  o.seed = 77;
  const zs::KMeansFit a = zs::fit_kmeans(x.view(), o), b = zs::fit_kmeans(x.view(), o);
  CHECK(a.model.centers == b.model.centers);
  CHECK(a.labels == b.labels);
  CHECK(a.inertia == b.inertia);
  zs::MiniBatchKMeansOptions m;
  m.k = 5;
  m.batch_size = 64;
  m.seed = 77;
  const zs::KMeansFit c = zs::fit_minibatch_kmeans(x.view(), m), d = zs::fit_minibatch_kmeans(x.view(), m);
  CHECK(c.model.centers == d.model.centers);
  CHECK(c.n_steps == d.n_steps);
}

TEST_CASE("KMeans tol is relative to the mean feature variance", "[kmeans]") {
  // Feature variances 1/3 * s^2 for uniform [-s, s): here two features, scaled by 1 and 3.
  Points x = uniform_points(2000, 2, 61);
  for (int64_t i = 0; i < x.n; ++i) x.values[size_t(i) * 2 + 1] *= 3.f;
  double var[2] = {0, 0}, mean[2] = {0, 0};
  for (int64_t i = 0; i < x.n; ++i)
    for (int f = 0; f < 2; ++f) mean[f] += x.row(i)[f] / double(x.n);
  for (int64_t i = 0; i < x.n; ++i)
    for (int f = 0; f < 2; ++f) var[f] += (x.row(i)[f] - mean[f]) * (x.row(i)[f] - mean[f]) / double(x.n);
  zs::KMeansOptions o;
  o.k = 4;
  o.n_init = 1;
  o.tol = 0.5;
  const zs::KMeansFit fit = zs::fit_kmeans(x.view(), o);
  CHECK(close(fit.tol_abs, 0.5 * (var[0] + var[1]) / 2, 1e-9, 1e-7));
  // A huge tolerance stops after the first iteration; tol 0 runs to convergence or max_iter.
  o.tol = 1e9;
  CHECK(zs::fit_kmeans(x.view(), o).n_iter == 1);
  o.tol = 0.0;
  o.max_iter = 3;
  CHECK(zs::fit_kmeans(x.view(), o).n_iter <= 3);
}

TEST_CASE("MiniBatchKMeans step budget and early stopping", "[kmeans][minibatch]") {
  const Points x = uniform_points(1000, 4, 71);
  zs::MiniBatchKMeansOptions o;
  o.k = 5;
  o.batch_size = 100;
  o.max_iter = 3;
  o.max_no_improvement = 0;  // no early stopping: exactly max_iter * n / batch steps
  zs::KMeansFit fit = zs::fit_minibatch_kmeans(x.view(), o);
  CHECK(fit.n_steps == 30);
  CHECK(fit.n_iter == 3);
  CHECK_FALSE(fit.converged);
  o.max_iter = 100;
  o.max_no_improvement = 3;  // uniform data: the EWA inertia stops improving soon
  fit = zs::fit_minibatch_kmeans(x.view(), o);
  CHECK(fit.converged);
  CHECK(fit.n_steps < 1000);
  o.max_no_improvement = 0;
  o.tol = 1e6;  // any centre change is below tol * variance: stops at the second step
  fit = zs::fit_minibatch_kmeans(x.view(), o);
  CHECK(fit.n_steps == 2);
  REQUIRE(fit.init_inertias.size() == 3);  // n_init = 3 initializations judged on the validation set
}

TEST_CASE("bad KMeans arguments throw UserError", "[kmeans][errors]") {
  const Points x = uniform_points(20, 3, 81);
  auto lloyd = [&](auto edit) {
    zs::KMeansOptions o;
    o.k = 3;
    edit(o);
    return zs::fit_kmeans(x.view(), o);
  };
  auto mini = [&](auto edit) {
    zs::MiniBatchKMeansOptions o;
    o.k = 3;
    edit(o);
    return zs::fit_minibatch_kmeans(x.view(), o);
  };
  using Catch::Matchers::Contains;
  CHECK_THROWS_WITH(lloyd([](auto& o) { o.k = 0; }), Contains("k = 0") && Contains("--k"));
  CHECK_THROWS_WITH(lloyd([](auto& o) { o.k = 21; }), Contains("k = 21") && Contains("20 samples"));
  CHECK_THROWS_WITH(lloyd([](auto& o) { o.max_iter = 0; }), Contains("max_iter") && Contains("--max-iter"));
  CHECK_THROWS_WITH(lloyd([](auto& o) { o.n_init = 0; }), Contains("n_init") && Contains("--n-init"));
  CHECK_THROWS_WITH(lloyd([](auto& o) { o.tol = -1; }), Contains("--tol"));
  CHECK_THROWS_AS(mini([](auto& o) { o.k = 0; }), zs::UserError);
  CHECK_THROWS_AS(mini([](auto& o) { o.k = 21; }), zs::UserError);
  CHECK_THROWS_WITH(mini([](auto& o) { o.batch_size = 0; }), Contains("batch_size") && Contains("--batch-size"));
  CHECK_THROWS_AS(mini([](auto& o) { o.max_iter = 0; }), zs::UserError);
  CHECK_THROWS_AS(mini([](auto& o) { o.n_init = 0; }), zs::UserError);
  CHECK_THROWS_AS(mini([](auto& o) { o.reassignment_ratio = -0.5; }), zs::UserError);

  Points bad = x;
  bad.values[7] = std::numeric_limits<float>::quiet_NaN();
  bad.values[40] = std::numeric_limits<float>::infinity();  // the first bad sample is named
  zs::KMeansOptions o;
  o.k = 2;
  CHECK_THROWS_WITH(zs::fit_kmeans(bad.view(), o), Contains("sample 2") && Contains("NaN"));
  CHECK_THROWS_AS(zs::fit_kmeans(MatrixView{nullptr, 0, 3}, o), zs::UserError);
  CHECK_THROWS_WITH(zs::parse_kmeans_init("kmeans++"), Contains("--init") && Contains("k-means++"));
  CHECK(zs::parse_kmeans_init("random") == zs::KMeansInit::Random);

  const zs::KMeansFit fit = zs::fit_kmeans(x.view(), o);
  const Points wrong = uniform_points(4, 5, 82);
  CHECK_THROWS_WITH(zs::predict(fit.model, wrong.view()), Contains("5 features"));
}

TEST_CASE("grouped kernels equal one call per group", "[kmeans][kernel]") {
  // Three groups of k = 7 centres: the stacked call must give each group what a call with
  // groups = 1 on that group's arrays gives: the same labels, sums, counts, inertia and samples;
  // distances to float rounding (the GEMM may round a dot product differently depending on the
  // column it lands in, so only near-ties could change a label, and this data has none).
  const int k = 7, groups = 3, t = 4;
  const Points x = uniform_points(300, 13, 91);
  const Points c = uniform_points(int64_t(k) * groups, 13, 92);
  const std::vector<float> xs = sqnorms(x), cs = sqnorms(c);
  const int64_t n = x.n;
  const int d = x.d;
  std::vector<int32_t> labels(size_t(groups) * n);
  std::vector<float> dist(labels.size()), sums(size_t(groups) * k * d);
  std::vector<int64_t> counts(size_t(groups) * k);
  zs::cpu::kmeans_lloyd_pass(labels.data(), dist.data(), sums.data(), counts.data(), x.values.data(), xs.data(),
                             c.values.data(), cs.data(), n, d, k, groups);
  std::vector<int32_t> labels2(labels.size());
  zs::cpu::kmeans_assign(labels2.data(), nullptr, x.values.data(), xs.data(), c.values.data(), cs.data(), n, d, k, groups);
  CHECK(labels2 == labels);
  std::vector<double> inertia(groups);
  zs::cpu::kmeans_inertia(inertia.data(), x.values.data(), c.values.data(), labels.data(), n, d, k, groups);

  // Candidates: run g's candidates are rows 3g, 3g+1, ...; closest of run g = distances to row g.
  std::vector<int32_t> ids(size_t(groups) * t);
  for (size_t e = 0; e < ids.size(); ++e) ids[e] = static_cast<int32_t>((e * 37) % n);
  std::vector<float> closest(size_t(groups) * n);
  for (int g = 0; g < groups; ++g)
    for (int64_t i = 0; i < n; ++i) closest[size_t(g) * n + i] = static_cast<float>(naive_sqdist(x.row(i), x.row(g), d));
  std::vector<float> cand_dist(size_t(groups) * t * n);
  std::vector<double> cand_pot(size_t(groups) * t);
  zs::cpu::kmeans_pp_candidates(cand_dist.data(), cand_pot.data(), x.values.data(), xs.data(), closest.data(), ids.data(),
                                n, d, t, groups);
  zs::ClusterRng rng(93);
  std::vector<double> u(size_t(groups) * t);
  for (double& v : u) v = rng.uniform();
  std::vector<int32_t> picks(u.size());
  zs::cpu::kmeans_pp_sample(picks.data(), closest.data(), u.data(), n, t, groups);

  for (int g = 0; g < groups; ++g) {
    INFO("group " << g);
    const float* cg = c.values.data() + size_t(g) * k * d;
    std::vector<int32_t> l1(n);
    std::vector<float> d1(n), s1(size_t(k) * d);
    std::vector<int64_t> n1(k);
    zs::cpu::kmeans_lloyd_pass(l1.data(), d1.data(), s1.data(), n1.data(), x.values.data(), xs.data(), cg,
                               cs.data() + size_t(g) * k, n, d, k);
    CHECK(std::equal(l1.begin(), l1.end(), labels.begin() + size_t(g) * n));
    require_close(d1, std::vector<float>(dist.begin() + size_t(g) * n, dist.begin() + size_t(g + 1) * n), 1e-5, 1e-5,
                  "grouped min_dist");
    CHECK(std::equal(s1.begin(), s1.end(), sums.begin() + size_t(g) * k * d));
    CHECK(std::equal(n1.begin(), n1.end(), counts.begin() + size_t(g) * k));
    double i1 = 0.0;
    zs::cpu::kmeans_inertia(&i1, x.values.data(), cg, l1.data(), n, d, k);
    CHECK(i1 == inertia[g]);

    std::vector<float> cd1(size_t(t) * n);
    std::vector<double> cp1(t);
    zs::cpu::kmeans_pp_candidates(cd1.data(), cp1.data(), x.values.data(), xs.data(), closest.data() + size_t(g) * n,
                                  ids.data() + size_t(g) * t, n, d, t);
    require_close(cd1, std::vector<float>(cand_dist.begin() + size_t(g) * t * n, cand_dist.begin() + size_t(g + 1) * t * n),
                  1e-5, 1e-5, "grouped candidate distances");
    require_close(cp1, std::vector<double>(cand_pot.begin() + size_t(g) * t, cand_pot.begin() + size_t(g + 1) * t), 1e-4,
                  1e-6, "grouped potentials");
    std::vector<int32_t> p1(t);
    zs::cpu::kmeans_pp_sample(p1.data(), closest.data() + size_t(g) * n, u.data() + size_t(g) * t, n, t);
    CHECK(std::equal(p1.begin(), p1.end(), picks.begin() + size_t(g) * t));
  }
}

TEST_CASE("KMeans runs in lockstep give the result of a run alone", "[kmeans]") {
  // n_init runs share passes; run r's stream is (seed, r). A fit with n_init = 4 must therefore
  // contain, as its run 0, the result of a fit with n_init = 1 (equal up to the GEMM's rounding,
  // which could only matter at a near-tie).
  const Blobs blobs = planted_blobs(4, 60, 6, 3.0, 94);  // overlapping blobs: runs differ
  zs::KMeansOptions o;
  o.k = 4;
  o.seed = 8;
  o.n_init = 4;
  const zs::KMeansFit four = zs::fit_kmeans(blobs.points.view(), o);
  o.n_init = 1;
  const zs::KMeansFit one = zs::fit_kmeans(blobs.points.view(), o);
  REQUIRE(four.init_inertias.size() == 4);
  CHECK(close(four.init_inertias[0], one.inertia, 0.0, 1e-6));
}
