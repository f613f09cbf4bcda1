// Exact accelerated Lloyd (kernels/cpu/kmeans_bounds.h): the bounded pass must give the full
// pass's labels, sums and counts BIT FOR BIT, pass after pass, on every CPU path, and must skip
// points (else the bounds could be vacuous and these tests would still pass):
//  * the gathered GEMM of a run's unproven points gives the scores of the shared all-runs GEMM;
//  * Lloyd iterations with bounded vs full passes on blobs, uniform points, exact ties, duplicate
//    points, k = 1, k above the number of distinct points, d above one GEMM depth block, runs
//    that stop (slots that drop out of the pass);
//  * fit_kmeans with bounds on vs off: labels, centres, inertia, n_iter, every run's inertia,
//    including fits that re-seed empty clusters.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <random>
#include <set>
#include <vector>

#include "kernels/cpu/cpu_isa.h"
#include "kernels/cpu/gemm_panels.h"
#include "kernels/cpu/kmeans.h"
#include "kernels/cpu/kmeans_bounds.h"
#include "kernels/cpu/kmeans_impl.h"
#include "runtime/cluster/kmeans.h"

namespace {

using zs::cpu::CpuIsa;
using Vec = std::vector<float>;

struct Data {
  Vec x;
  int64_t n = 0;
  int d = 0;
};

bool same_bits(const Vec& a, const Vec& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
}

// The CPU paths this machine has (a missing one is WARNed, not failed).
std::vector<CpuIsa> paths_here() {
  std::vector<CpuIsa> paths;
  for (int i = 0; i <= int(zs::cpu::kWidestCpuIsa); ++i) {
    const CpuIsa isa = CpuIsa(i);
    if (zs::cpu::cpu_supports(zs::cpu::detect_cpu_features(), isa))
      paths.push_back(isa);
    else
      WARN("this CPU lacks " << zs::cpu::cpu_isa_name(isa) << ": not tested here");
  }
  return paths;
}

Data blobs(int blobs, int per_blob, int d, float spacing, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal(0.f, 1.f);
  std::uniform_real_distribution<float> uni(-spacing, spacing);
  Vec centres(size_t(blobs) * d);
  for (float& c : centres) c = uni(rng);
  Data out{Vec(size_t(blobs) * per_blob * d), int64_t(blobs) * per_blob, d};
  for (int64_t i = 0; i < out.n; ++i)
    for (int f = 0; f < d; ++f) out.x[size_t(i) * d + f] = centres[size_t(i % blobs) * d + f] + normal(rng);
  return out;
}

Data uniform(int64_t n, int d, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> uni(-1.f, 1.f);
  Data out{Vec(size_t(n) * d), n, d};
  for (float& v : out.x) v = uni(rng);
  return out;
}

// `distinct` random points, each repeated `copies` times (interleaved).
Data duplicates(int distinct, int copies, int d, uint32_t seed) {
  const Data base = uniform(distinct, d, seed);
  Data out{Vec(size_t(distinct) * copies * d), int64_t(distinct) * copies, d};
  for (int64_t i = 0; i < out.n; ++i)
    std::copy_n(base.x.begin() + (i % distinct) * d, d, out.x.begin() + i * d);
  return out;
}

// Points on an integer grid in the plane: many are exactly equidistant to two of the centres.
Data grid(int side) {
  Data out{Vec(), int64_t(side) * side, 2};
  for (int a = 0; a < side; ++a)
    for (int b = 0; b < side; ++b) out.x.insert(out.x.end(), {float(a), float(b)});
  return out;
}

// k * groups rows of the data, drawn with repetition (duplicate data give identical centres).
Vec rows_of(const Data& data, int k, int groups, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int64_t> pick(0, data.n - 1);
  Vec c;
  for (int e = 0; e < k * groups; ++e) {
    const int64_t i = pick(rng);
    c.insert(c.end(), data.x.begin() + i * data.d, data.x.begin() + (i + 1) * data.d);
  }
  return c;
}

// The Lloyd update of kmeans.cpp (empty clusters keep their centre).
Vec next_centres(const Vec& sums, const std::vector<int64_t>& counts, const Vec& old, int d) {
  Vec next(old.size());
  for (size_t j = 0; j < counts.size(); ++j)
    for (int f = 0; f < d; ++f) {
      const size_t e = j * d + f;
      next[e] = counts[j] > 0 ? static_cast<float>(sums[e] * (1.0 / double(counts[j]))) : old[e];
    }
  return next;
}

// `iters` Lloyd iterations of `groups` runs from `centres`, with full passes and with bounded
// ones; every pass must agree bit for bit. From pass `drop_at` on, run 1 stops (if groups > 2):
// the bounded pass then runs slots {0, 2, ...}. Returns each bounded pass's proven fraction.
std::vector<double> compare_lloyd(const Data& data, Vec centres, int k, int groups, int iters, int drop_at = -1) {
  const int64_t n = data.n;
  const int d = data.d;
  Vec x_sq(n);
  zs::cpu::row_sqnorms(x_sq.data(), data.x.data(), n, d);
  zs::cpu::KMeansBounds bounds;
  bounds.reset(n, d, k, groups, x_sq.data());
  std::vector<int32_t> slots(groups);
  for (int g = 0; g < groups; ++g) slots[g] = g;
  std::vector<double> proven;
  for (int it = 0; it < iters; ++it) {
    if (it == drop_at && groups > 2) {  // run 1 stops: its centres and slot leave the pass
      centres.erase(centres.begin() + size_t(k) * d, centres.begin() + size_t(2) * k * d);
      slots.erase(slots.begin() + 1);
      --groups;
    }
    INFO("pass " << it << " of " << groups << " runs");
    const size_t cf = size_t(groups) * k * d;
    Vec c_sq(size_t(groups) * k);
    zs::cpu::row_sqnorms(c_sq.data(), centres.data(), int64_t(groups) * k, d);
    std::vector<int32_t> labels_full(size_t(groups) * n), labels_bounded(size_t(groups) * n, -1);
    Vec dist(size_t(groups) * n), sums_full(cf), sums_bounded(cf);
    std::vector<int64_t> counts_full(size_t(groups) * k), counts_bounded(size_t(groups) * k);
    zs::cpu::kmeans_lloyd_pass(labels_full.data(), dist.data(), sums_full.data(), counts_full.data(), data.x.data(),
                               x_sq.data(), centres.data(), c_sq.data(), n, d, k, groups);
    zs::cpu::kmeans_lloyd_pass_bounded(labels_bounded.data(), sums_bounded.data(), counts_bounded.data(), bounds,
                                       slots.data(), data.x.data(), x_sq.data(), centres.data(), c_sq.data(), n, d,
                                       k, groups);
    REQUIRE(labels_bounded == labels_full);
    REQUIRE(same_bits(sums_bounded, sums_full));
    REQUIRE(counts_bounded == counts_full);
    REQUIRE(bounds.pairs == n * groups);
    proven.push_back(double(bounds.skipped + bounds.tightened) / double(bounds.pairs));
    Vec next;
    for (int g = 0; g < groups; ++g) {
      const Vec s(sums_full.begin() + size_t(g) * k * d, sums_full.begin() + size_t(g + 1) * k * d);
      const std::vector<int64_t> c(counts_full.begin() + size_t(g) * k, counts_full.begin() + size_t(g + 1) * k);
      const Vec old(centres.begin() + size_t(g) * k * d, centres.begin() + size_t(g + 1) * k * d);
      const Vec upd = next_centres(s, c, old, d);
      next.insert(next.end(), upd.begin(), upd.end());
    }
    centres.swap(next);
  }
  return proven;
}

double max_of(const std::vector<double>& v) { return v.empty() ? 0.0 : *std::max_element(v.begin(), v.end()); }

}  // namespace

TEST_CASE("KMeans bounds: a run's gathered GEMM gives the scores of the all-runs GEMM", "[kmeans][bounds][isa]") {
  using namespace zs::cpu;
  for (const int d : {37, 800}) {  // 800: two GEMM depth blocks of 400
    const Data data = uniform(130, d, 7);
    const int k = 7, groups = 3, width = k * groups;
    const Vec c = rows_of(uniform(50, d, 8), k, groups, 9);
    Vec c_sq(width);
    row_sqnorms(c_sq.data(), c.data(), width, d);
    // Rows 5, 6, 40, 77, 129 gathered (a partial A panel), run 1's centres alone (a partial B panel).
    const std::vector<int64_t> picked{5, 6, 40, 77, 129};
    Vec gathered;
    for (int64_t i : picked) gathered.insert(gathered.end(), data.x.begin() + i * d, data.x.begin() + (i + 1) * d);
    for (CpuIsa isa : paths_here()) {
      const ScopedCpuIsa forced(isa);
      INFO(cpu_isa_name(isa) << ", d = " << d);
      Vec all_panels(size_t(detail::b_panels_floats(d, width)) + 16), run_panels(size_t(detail::b_panels_floats(d, k)) + 16);
      // 64-byte aligned views (the micro-kernels load B panels aligned).
      auto align = [](Vec& v) { return v.data() + (16 - reinterpret_cast<uintptr_t>(v.data()) / 4 % 16) % 16; };
      float* all_p = align(all_panels);
      float* run_p = align(run_panels);
      kmeans_detail::pack_centres_into(all_p, c.data(), width, d);
      kmeans_detail::pack_centres_into(run_p, c.data() + size_t(k) * d, k, d);
      Vec full(size_t(128) * width), part(picked.size() * k);
      kmeans_detail::tile_scores(full.data(), data.x.data(), 128, all_p, c_sq.data(), d, width);
      Vec last(size_t(2) * width);  // rows 128, 129: the tile after
      kmeans_detail::tile_scores(last.data(), data.x.data() + 128 * d, 2, all_p, c_sq.data(), d, width);
      // The rows copied together, and packed straight from their places (what the bounded pass runs).
      kmeans_detail::tile_scores(part.data(), gathered.data(), int64_t(picked.size()), run_p, c_sq.data() + k, d, k);
      std::vector<const float*> places;
      for (int64_t i : picked) places.push_back(data.x.data() + i * d);
      Vec part2(part.size());
      kmeans_detail::rows_scores(part2.data(), places.data(), int64_t(picked.size()), run_p, c_sq.data() + k, d, k);
      for (size_t t = 0; t < picked.size(); ++t) {
        const float* ref = picked[t] < 128 ? full.data() + picked[t] * width : last.data() + (picked[t] - 128) * width;
        for (int j = 0; j < k; ++j) {
          INFO("row " << picked[t] << " centre " << j);
          CHECK(std::memcmp(&part[t * k + j], &ref[k + j], sizeof(float)) == 0);
          CHECK(std::memcmp(&part2[t * k + j], &ref[k + j], sizeof(float)) == 0);
        }
      }
    }
  }
}

TEST_CASE("KMeans bounds: bounded passes give the full passes' bits, on every CPU path", "[kmeans][bounds][isa]") {
  for (CpuIsa isa : paths_here()) {
    const zs::cpu::ScopedCpuIsa forced(isa);
    INFO(zs::cpu::cpu_isa_name(isa));
    SECTION("well-separated blobs (3 runs, one stops)") {
      const Data data = blobs(12, 60, 20, 12.f, 1);
      const auto proven = compare_lloyd(data, rows_of(data, 12, 3, 2), 12, 3, 12, 5);
      CHECK(proven.front() == 0.0);  // nothing to bound yet
      CHECK(max_of(proven) > 0.5);
    }
    SECTION("uniform points: near-ties everywhere") {
      const Data data = uniform(1000, 17, 3);
      const auto proven = compare_lloyd(data, rows_of(data, 9, 2, 4), 9, 2, 15);
      CHECK(max_of(proven) > 0.2);
    }
    SECTION("grid points exactly equidistant to two centres") {
      const Data data = grid(21);
      Vec c{2.5f, 2.5f, 10.f, 10.f, 17.5f, 2.5f, 2.5f, 17.5f, 17.5f, 17.5f};  // midlines on the grid
      const auto proven = compare_lloyd(data, c, 5, 1, 8);
      CHECK(max_of(proven) > 0.2);
    }
    SECTION("duplicate points and identical centres") {
      const Data data = duplicates(30, 20, 8, 5);
      const auto proven = compare_lloyd(data, rows_of(data, 10, 2, 6), 10, 2, 10);
      CHECK(max_of(proven) > 0.2);
    }
    SECTION("k above the number of distinct points (empty clusters, zero separations)") {
      const Data data = duplicates(6, 50, 5, 7);
      compare_lloyd(data, rows_of(data, 10, 2, 8), 10, 2, 6);
    }
    SECTION("k = 1") {
      const Data data = uniform(300, 9, 9);
      const auto proven = compare_lloyd(data, rows_of(data, 1, 2, 10), 1, 2, 4);
      CHECK(proven.back() == 1.0);  // one centre: nothing can change
    }
    SECTION("d = 800: two GEMM depth blocks") {
      const Data data = blobs(6, 50, 800, 1.5f, 11);
      const auto proven = compare_lloyd(data, rows_of(data, 6, 2, 12), 6, 2, 8);
      CHECK(max_of(proven) > 0.2);
    }
  }
}

TEST_CASE("KMeans bounds: fits with and without bounds are identical", "[kmeans][bounds]") {
  auto fit_both = [](const Data& data, zs::KMeansOptions o) {
    const zs::MatrixView view{data.x.data(), data.n, data.d};
    o.bounds = false;
    const zs::KMeansFit full = zs::fit_kmeans(view, o);
    o.bounds = true;
    const zs::KMeansFit bounded = zs::fit_kmeans(view, o);
    CHECK(bounded.labels == full.labels);
    CHECK(same_bits(bounded.model.centers, full.model.centers));
    CHECK(bounded.inertia == full.inertia);
    CHECK(bounded.n_iter == full.n_iter);
    CHECK(bounded.init_inertias == full.init_inertias);
    CHECK(full.bounds_skip.empty());
    return bounded;
  };
  SECTION("blobs, k-means++, 4 runs") {
    zs::KMeansOptions o;
    o.k = 10, o.n_init = 4, o.max_iter = 40, o.tol = 0.0, o.seed = 3;
    const zs::KMeansFit fit = fit_both(blobs(10, 80, 16, 6.f, 13), o);
    CHECK(max_of(fit.bounds_skip) > 0.5);
  }
  SECTION("uniform points, random init") {
    zs::KMeansOptions o;
    o.k = 15, o.n_init = 3, o.max_iter = 30, o.init = zs::KMeansInit::Random, o.seed = 5;
    const zs::KMeansFit fit = fit_both(uniform(1500, 12, 14), o);
    CHECK(max_of(fit.bounds_skip) > 0.2);
  }
  SECTION("empty clusters re-seeded from the farthest points") {
    // Ten copies of one point and two far points, k = 3 (test_kmeans.cpp): random inits that
    // pick two copies leave a cluster empty.
    Data data{{}, 12, 2};
    for (int i = 0; i < 10; ++i) data.x.insert(data.x.end(), {1.f, 1.f});
    data.x.insert(data.x.end(), {11.f, 1.f, 1.f, 11.f});
    for (uint64_t seed = 0; seed < 30; ++seed) {
      INFO("seed " << seed);
      zs::KMeansOptions o;
      o.k = 3, o.n_init = 2, o.init = zs::KMeansInit::Random, o.seed = seed;
      const zs::KMeansFit fit = fit_both(data, o);
      CHECK(std::set<int32_t>(fit.labels.begin(), fit.labels.end()).size() == 3);
    }
  }
}
