// Checks of the KMeans kernels (kernels/kmeans.cu) against the CPU twin (kernels/cpu/kmeans.h),
// shared by tests/test_emu_kmeans.cpp (the emulator, zs::emu) and tests/test_cuda_kmeans.cpp (a
// GPU, zs::cuda). The includer picks the build as for dense_kernel_checks.h (whose device memory
// this reuses): it defines ZS_KNS (cuda) before including this, or leaves it to
// kernels/common.cuh (emu).
//
// Each check builds inputs, runs the twin, and hands a producer that runs the kernel and
// downloads its outputs (every output converted to double, exactly) to a repeater from the test
// file: the emulator's runs it in every thread order, the GPU's twice. Every run must match the
// twin AND every run must have the first run's bits (the kernels are deterministic).
//
// Tolerances (u = 2^-24), from float rounding, never from observed errors:
//   distances  ||x||^2 + ||c||^2 - 2 x.c on each side: the dot product is a d-term float sum
//              (error <= d u sum|x_f c_f|), the two norms are rounded once, the score and the
//              final add round once each: <= (d + 3) u M with M = ||x||^2 + ||c||^2 + 2 sum|x_f c_f|;
//              twin vs kernel: rtol 2 (d + 3) u of M.
//   labels     equal, except at a CERTIFIED near-tie: where the exact (double) distances of the two
//              labels differ by less than the two distance tolerances together, either label is
//              right. Such points are counted; any other difference fails.
//   centroid sums  the twin's order and operations exactly (kmeans.cuh): bit-identical to a
//              reference computed here in that order, and to cpu::kmeans_lloyd_pass, which runs on
//              one OpenMP thread at these sizes (below its 2^26 multiply-add threshold).
//   potentials sum of the distance tolerances + n double roundings (n 2^-53 of the sum).
//   inertia    double sums of non-negative terms in two orders: 2 (d + n) 2^-53 of |ref|.
//   row norms  double sums rounded once to float: 1 ulp <= 2u of |ref|.
//   minibatch update  the twin's double operations in its order: the same bits on the emulator;
//              on a GPU within 2u of |ref| (one float rounding each side of an equal double).
#pragma once
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "dense_kernel_checks.h"
#include "kernels/cpu/kmeans.h"
#include "kernels/kmeans.cuh"

namespace zs::kmeans_checks {

namespace kns = ::zs::ZS_KNS;
using ::zs::dense_checks::DeviceBuffer;
using ::zs::dense_checks::kernel_memory;

inline constexpr double kU = 0x1p-24;
inline constexpr double kDoubleU = 0x1p-53;
inline constexpr double kAtol = 1e-30;

// ---- runs ----

using Values = std::vector<double>;   // any output, converted to double exactly
using Outputs = std::vector<Values>;
using Producer = std::function<Outputs()>;
struct Run {
  std::string label;
  Outputs outputs;
};
using Repeater = std::function<std::vector<Run>(const Producer&)>;

template <class T>
Values to_values(const std::vector<T>& v) {
  return Values(v.begin(), v.end());
}

// Every run has the first run's exact bits.
inline void check_identical_runs(const std::vector<Run>& runs, const std::string& context) {
  REQUIRE(!runs.empty());
  for (const Run& run : runs) {
    REQUIRE(run.outputs.size() == runs.front().outputs.size());
    for (std::size_t o = 0; o < run.outputs.size(); ++o) {
      const Values& a = run.outputs[o];
      const Values& b = runs.front().outputs[o];
      const bool same = a.size() == b.size() && (a.empty() || std::memcmp(a.data(), b.data(), a.size() * sizeof(double)) == 0);
      INFO(context << ", output " << o << ": " << run.label << " differs in its bits from " << runs.front().label);
      CHECK(same);
    }
  }
}

// |got - ref| <= atol + rtol * scale[i] (scale empty: |ref|) everywhere; reports the worst index.
inline void require_close(const Values& got, const Values& ref, const std::vector<double>& scale, double rtol,
                          const std::string& context) {
  REQUIRE(got.size() == ref.size());
  std::size_t bad = 0, worst = 0;
  double worst_excess = -1;
  std::string first;
  for (std::size_t i = 0; i < got.size(); ++i) {
    const double s = scale.empty() ? std::fabs(ref[i]) : scale[i];
    const double excess = std::isfinite(got[i]) && std::isfinite(ref[i])
                              ? std::fabs(got[i] - ref[i]) - (kAtol + rtol * s)
                              : (got[i] == ref[i] ? 0 : INFINITY);
    if (excess <= 0) continue;
    if (bad < 4) first += " [" + std::to_string(i) + "] got " + std::to_string(got[i]) + " want " + std::to_string(ref[i]) + ";";
    if (excess > worst_excess) worst_excess = excess, worst = i;
    ++bad;
  }
  INFO(context << ": " << bad << " of " << got.size() << " outside tolerance (rtol " << rtol << "); worst index "
               << worst << " (got " << (got.empty() ? 0 : got[worst]) << " want " << (ref.empty() ? 0 : ref[worst])
               << ");" << first);
  CHECK(bad == 0);
}

inline void require_equal(const Values& got, const Values& ref, const std::string& context) {
  require_close(got, ref, {}, 0.0, context);
}

// ---- inputs ----

inline std::vector<float> uniform_floats(std::size_t count, uint32_t seed, float lo = -1.f, float hi = 1.f) {
  return ::zs::dense_checks::random_floats(count, seed, lo, hi);
}

struct AssignCase {
  int64_t n;
  int d, k, groups;
};

// n not a multiple of any tile (128 points, 32 centres, 16 features), d = 1, 3, 25, 784, k = 1, 7,
// 33 (two centre tiles), 225, groups 1 and 3.
inline const std::vector<AssignCase>& assign_cases() {
  static const std::vector<AssignCase> cases = {
      {1, 1, 1, 1}, {37, 3, 7, 1}, {130, 25, 7, 3}, {257, 1, 7, 3}, {70, 25, 33, 2},
      {133, 784, 225, 1}, {150, 25, 225, 3}, {129, 784, 7, 3},
  };
  return cases;
}

// Centres of every group uniform in [-1, 1]^d, with exact ties: centre k-1 repeats centre 1
// (k >= 3). Points: a third uniform, a third near a centre of group 0 (noise 0.05), a third
// EXACTLY a centre of some group (distance 0: cancellation, clamp at 0, and the tie 1 / k-1).
inline void make_assign_inputs(const AssignCase& c, uint32_t seed, std::vector<float>& x, std::vector<float>& centers) {
  const int64_t n = c.n;
  const int d = c.d, k = c.k;
  centers = uniform_floats(std::size_t(c.groups) * k * d, seed);
  if (k >= 3)
    for (int g = 0; g < c.groups; ++g)
      std::copy_n(centers.begin() + (int64_t(g) * k + 1) * d, d, centers.begin() + (int64_t(g) * k + k - 1) * d);
  x = uniform_floats(std::size_t(n) * d, seed + 1);
  const std::vector<float> noise = uniform_floats(std::size_t(n) * d, seed + 2, -0.05f, 0.05f);
  for (int64_t i = 0; i < n; ++i) {
    const int64_t g = i % c.groups, j = (i * 7 + 1) % k;
    const float* centre = centers.data() + (g * k + j) * d;
    for (int f = 0; f < d; ++f) {
      if (i % 3 == 1) x[i * d + f] = centers[j * d + f] + noise[i * d + f];
      if (i % 3 == 2) x[i * d + f] = centre[f];
    }
  }
}

inline std::vector<float> twin_sqnorms(const std::vector<float>& rows, int d) {
  std::vector<float> out(rows.size() / d);
  cpu::row_sqnorms(out.data(), rows.data(), int64_t(out.size()), d);
  return out;
}

// Exact squared distance and the magnitude M of its float evaluation (see the header).
inline void exact_distance(const float* a, const float* b, int d, double& dist, double& magnitude) {
  double s = 0, m = 0;
  for (int f = 0; f < d; ++f) {
    const double diff = double(a[f]) - double(b[f]);
    s += diff * diff;
    m += double(a[f]) * a[f] + double(b[f]) * b[f] + 2 * std::fabs(double(a[f]) * b[f]);
  }
  dist = s;
  magnitude = m;
}

inline double distance_rtol(int d) { return 2.0 * (d + 3) * kU; }

// Labels and distances [groups][n] of the kernel against the twin's, with certified near-ties.
inline void check_assignment(const Values& got_labels, const Values* got_dist, const std::vector<int32_t>& ref_labels,
                             const std::vector<float>& ref_dist, const std::vector<float>& x,
                             const std::vector<float>& centers, int64_t n, int d, int k, int groups,
                             const std::string& context) {
  REQUIRE(got_labels.size() == ref_labels.size());
  const double rtol = distance_rtol(d);
  std::size_t wrong = 0, near_ties = 0, first_wrong = 0;
  std::vector<double> dist_scale(ref_labels.size());
  for (int g = 0; g < groups; ++g)
    for (int64_t i = 0; i < n; ++i) {
      const std::size_t e = std::size_t(g * n + i);
      const int ref = ref_labels[e];
      const double gl = got_labels[e];
      double dr, mr;
      exact_distance(x.data() + i * d, centers.data() + (int64_t(g) * k + ref) * d, d, dr, mr);
      dist_scale[e] = mr;
      if (gl == ref) continue;
      if (!(gl >= 0 && gl < k)) {
        if (wrong++ == 0) first_wrong = e;
        continue;
      }
      double dg, mg;
      exact_distance(x.data() + i * d, centers.data() + (int64_t(g) * k + int(gl)) * d, d, dg, mg);
      dist_scale[e] = mr + mg;
      if (std::fabs(dg - dr) <= rtol * (mr + mg)) {
        ++near_ties;
      } else if (wrong++ == 0) {
        first_wrong = e;
      }
    }
  INFO(context << ": " << wrong << " labels differ from the twin's beyond a near-tie (first at group "
               << (n ? first_wrong / n : 0) << " point " << (n ? first_wrong % n : 0) << ": got "
               << (got_labels.empty() ? 0 : got_labels[first_wrong]) << " want "
               << (ref_labels.empty() ? 0 : ref_labels[first_wrong]) << "); certified near-ties " << near_ties);
  CHECK(wrong == 0);
  if (got_dist) require_close(*got_dist, to_values(ref_dist), dist_scale, rtol, context + ", min_dist");
}

// ---- row_sqnorms ----

inline void check_row_sqnorms(const Repeater& repeat) {
  for (const AssignCase& c : assign_cases()) {
    const std::vector<float> x = uniform_floats(std::size_t(c.n) * c.d, uint32_t(c.n * 31 + c.d), -3.f, 3.f);
    const std::vector<float> ref = twin_sqnorms(x, c.d);
    const Producer produce = [&]() -> Outputs {
      DeviceBuffer<float> dx(kernel_memory(), x), out(kernel_memory(), std::vector<float>(ref.size(), NAN));
      kns::row_sqnorms(out.data(), dx.data(), c.n, c.d, nullptr);
      return {to_values(out.download())};
    };
    const std::string context = "row_sqnorms n " + std::to_string(c.n) + " d " + std::to_string(c.d);
    const std::vector<Run> runs = repeat(produce);
    for (const Run& run : runs) require_close(run.outputs[0], to_values(ref), {}, 2 * kU, context + ", " + run.label);
    check_identical_runs(runs, context);
  }
}

// ---- kmeans_assign ----

inline std::string assign_context(const char* op, int version, const AssignCase& c) {
  return std::string(op) + " v" + std::to_string(version) + " n " + std::to_string(c.n) + " d " + std::to_string(c.d) +
         " k " + std::to_string(c.k) + " groups " + std::to_string(c.groups);
}

inline void check_assign(const Repeater& repeat, int version) {
  uint32_t seed = 10;
  for (const AssignCase& c : assign_cases()) {
    std::vector<float> x, centers;
    make_assign_inputs(c, seed += 3, x, centers);
    const std::vector<float> x_sq = twin_sqnorms(x, c.d), c_sq = twin_sqnorms(centers, c.d);
    std::vector<int32_t> ref_labels(std::size_t(c.groups * c.n));
    std::vector<float> ref_dist(ref_labels.size());
    cpu::kmeans_assign(ref_labels.data(), ref_dist.data(), x.data(), x_sq.data(), centers.data(), c_sq.data(), c.n,
                       c.d, c.k, c.groups);
    for (const bool with_dist : {true, false}) {
      if (!with_dist && c.groups == 1) continue;   // once per multi-group case is enough
      const Producer produce = [&]() -> Outputs {
        DeviceBuffer<float> dx(kernel_memory(), x), dxs(kernel_memory(), x_sq), dc(kernel_memory(), centers),
            dcs(kernel_memory(), c_sq), dist(kernel_memory(), std::vector<float>(ref_dist.size(), NAN));
        DeviceBuffer<int32_t> labels(kernel_memory(), std::vector<int32_t>(ref_labels.size(), -7));
        kns::kmeans_assign(labels.data(), with_dist ? dist.data() : nullptr, dx.data(), dxs.data(), dc.data(),
                           dcs.data(), c.n, c.d, c.k, c.groups, nullptr, version);
        return {to_values(labels.download()), to_values(dist.download())};
      };
      const std::string context = assign_context("kmeans_assign", version, c) + (with_dist ? "" : " (no min_dist)");
      const std::vector<Run> runs = repeat(produce);
      for (const Run& run : runs) {
        check_assignment(run.outputs[0], with_dist ? &run.outputs[1] : nullptr, ref_labels, ref_dist, x, centers, c.n,
                         c.d, c.k, c.groups, context + ", " + run.label);
        if (!with_dist) {   // min_dist == null: nothing written
          bool untouched = true;
          for (double v : run.outputs[1]) untouched = untouched && std::isnan(v);
          INFO(context << ": min_dist was written although null was passed");
          CHECK(untouched);
        }
      }
      check_identical_runs(runs, context);
    }
  }
}

// Ties: every centre identical -> label 0 everywhere; points equal to a centre -> distance 0.
inline void check_assign_ties(const Repeater& repeat, int version) {
  const int64_t n = 45;
  const int d = 25, k = 40, groups = 2;
  const std::vector<float> one = uniform_floats(std::size_t(d), 77);
  std::vector<float> centers;
  for (int j = 0; j < groups * k; ++j) centers.insert(centers.end(), one.begin(), one.end());
  std::vector<float> x = uniform_floats(std::size_t(n) * d, 78);
  std::copy(one.begin(), one.end(), x.begin());   // point 0 is the centre
  const std::vector<float> x_sq = twin_sqnorms(x, d), c_sq = twin_sqnorms(centers, d);
  const Producer produce = [&]() -> Outputs {
    DeviceBuffer<float> dx(kernel_memory(), x), dxs(kernel_memory(), x_sq), dc(kernel_memory(), centers),
        dcs(kernel_memory(), c_sq), dist(kernel_memory(), std::size_t(groups * n));
    DeviceBuffer<int32_t> labels(kernel_memory(), std::size_t(groups * n));
    kns::kmeans_assign(labels.data(), dist.data(), dx.data(), dxs.data(), dc.data(), dcs.data(), n, d, k, groups,
                       nullptr, version);
    return {to_values(labels.download()), to_values(dist.download())};
  };
  const std::string context = "kmeans_assign v" + std::to_string(version) + " all centres equal";
  const std::vector<Run> runs = repeat(produce);
  for (const Run& run : runs) {
    require_equal(run.outputs[0], Values(std::size_t(groups * n), 0.0), context + ", labels, " + run.label);
    double d0_max = 0;
    for (int g = 0; g < groups; ++g) d0_max = std::max(d0_max, run.outputs[1][std::size_t(g * n)]);
    double dist, magnitude;
    exact_distance(one.data(), one.data(), d, dist, magnitude);
    INFO(context << ": the distance of a point to its own centre is " << d0_max);
    CHECK(d0_max <= distance_rtol(d) * magnitude);
    for (double v : run.outputs[1]) CHECK(v >= 0);   // clamped
  }
  check_identical_runs(runs, context);
}

// ---- centroid sums and the Lloyd pass ----

// The sums in the twin's order (kmeans.cuh): float within blocks of kKMeansSumBlockPoints points,
// double across blocks, rounded once.
inline std::vector<float> block_order_sums(const std::vector<float>& x, const std::vector<int32_t>& labels, int64_t n,
                                           int d, int k, int groups, std::vector<int64_t>& counts) {
  std::vector<float> sums(std::size_t(groups) * k * d);
  counts.assign(std::size_t(groups) * k, 0);
  std::vector<double> acc(std::size_t(k) * d);
  std::vector<float> block(std::size_t(k) * d);
  for (int g = 0; g < groups; ++g) {
    std::fill(acc.begin(), acc.end(), 0.0);
    for (int64_t b0 = 0; b0 < n; b0 += kns::kKMeansSumBlockPoints) {
      std::fill(block.begin(), block.end(), 0.f);
      for (int64_t i = b0; i < std::min(n, b0 + kns::kKMeansSumBlockPoints); ++i) {
        const int j = labels[std::size_t(g * n + i)];
        ++counts[std::size_t(g) * k + j];
        for (int f = 0; f < d; ++f) block[std::size_t(j) * d + f] += x[std::size_t(i * d + f)];
      }
      for (std::size_t e = 0; e < acc.size(); ++e) acc[e] += block[e];
    }
    for (std::size_t e = 0; e < acc.size(); ++e) sums[std::size_t(g) * k * d + e] = float(acc[e]);
  }
  return sums;
}

inline void check_centroid_sums(const Repeater& repeat) {
  struct Case {
    int64_t n;
    int d, k, groups;
  };
  // n above one and two sum blocks (1024); centre k - 1 is left empty; d above one feature chunk.
  const std::vector<Case> cases = {{1, 1, 1, 1}, {2500, 3, 7, 3}, {1100, 25, 5, 1}, {300, 200, 9, 2}, {40, 784, 3, 1}};
  uint32_t seed = 300;
  for (const Case& c : cases) {
    const std::vector<float> x = uniform_floats(std::size_t(c.n) * c.d, ++seed, -2.f, 2.f);
    std::vector<int32_t> labels(std::size_t(c.groups * c.n));
    std::mt19937 rng(++seed);
    for (int32_t& l : labels) l = int32_t(rng() % uint32_t(c.k > 1 ? c.k - 1 : 1));
    std::vector<int64_t> ref_counts;
    const std::vector<float> ref = block_order_sums(x, labels, c.n, c.d, c.k, c.groups, ref_counts);
    // The twin's other order (double per point, one group at a time) for scale: (1024 + 1) u of M.
    std::vector<float> twin_sums(ref.size());
    std::vector<int64_t> twin_counts(ref_counts.size());
    std::vector<double> magnitude(ref.size(), 0.0);
    for (int g = 0; g < c.groups; ++g) {
      cpu::kmeans_centroid_sums(twin_sums.data() + std::size_t(g) * c.k * c.d, twin_counts.data() + std::size_t(g) * c.k,
                                x.data(), labels.data() + std::size_t(g * c.n), c.n, c.d, c.k);
      for (int64_t i = 0; i < c.n; ++i)
        for (int f = 0; f < c.d; ++f)
          magnitude[(std::size_t(g) * c.k + labels[std::size_t(g * c.n + i)]) * c.d + f] += std::fabs(x[std::size_t(i * c.d + f)]);
    }
    const Producer produce = [&]() -> Outputs {
      DeviceBuffer<float> dx(kernel_memory(), x), sums(kernel_memory(), std::vector<float>(ref.size(), NAN));
      DeviceBuffer<int32_t> dl(kernel_memory(), labels);
      DeviceBuffer<int64_t> counts(kernel_memory(), std::vector<int64_t>(ref_counts.size(), -1));
      kns::kmeans_centroid_sums(sums.data(), counts.data(), dx.data(), dl.data(), c.n, c.d, c.k, c.groups, nullptr);
      return {to_values(sums.download()), to_values(counts.download())};
    };
    const std::string context = "kmeans_centroid_sums n " + std::to_string(c.n) + " d " + std::to_string(c.d) + " k " +
                                std::to_string(c.k) + " groups " + std::to_string(c.groups);
    const std::vector<Run> runs = repeat(produce);
    for (const Run& run : runs) {
      require_equal(run.outputs[0], to_values(ref), context + ", sums vs the block-order reference, " + run.label);
      require_equal(run.outputs[1], to_values(ref_counts), context + ", counts, " + run.label);
      require_close(run.outputs[0], to_values(twin_sums), magnitude, 2 * (kns::kKMeansSumBlockPoints + 1) * kU,
                    context + ", sums vs cpu::kmeans_centroid_sums, " + run.label);
    }
    check_identical_runs(runs, context);
  }
}

inline void check_lloyd_pass(const Repeater& repeat, int version) {
  uint32_t seed = 400;
  for (const AssignCase& c : assign_cases()) {
    // The twin's lloyd pass must run on one OpenMP thread for its sums to be the reference bits.
    REQUIRE(double(c.n) * c.d * c.k * c.groups < double(int64_t(1) << 26));
    std::vector<float> x, centers;
    make_assign_inputs(c, seed += 5, x, centers);
    const std::vector<float> x_sq = twin_sqnorms(x, c.d), c_sq = twin_sqnorms(centers, c.d);
    const std::size_t lab_count = std::size_t(c.groups * c.n), sum_count = std::size_t(c.groups) * c.k * c.d;
    std::vector<int32_t> ref_labels(lab_count);
    std::vector<float> ref_dist(lab_count), ref_sums(sum_count);
    std::vector<int64_t> ref_counts(std::size_t(c.groups) * c.k);
    cpu::kmeans_lloyd_pass(ref_labels.data(), ref_dist.data(), ref_sums.data(), ref_counts.data(), x.data(),
                           x_sq.data(), centers.data(), c_sq.data(), c.n, c.d, c.k, c.groups);
    const Producer produce = [&]() -> Outputs {
      DeviceBuffer<float> dx(kernel_memory(), x), dxs(kernel_memory(), x_sq), dc(kernel_memory(), centers),
          dcs(kernel_memory(), c_sq), dist(kernel_memory(), lab_count), sums(kernel_memory(), sum_count);
      DeviceBuffer<int32_t> labels(kernel_memory(), lab_count);
      DeviceBuffer<int64_t> counts(kernel_memory(), ref_counts.size());
      kns::kmeans_lloyd_pass(labels.data(), dist.data(), sums.data(), counts.data(), dx.data(), dxs.data(), dc.data(),
                             dcs.data(), c.n, c.d, c.k, c.groups, nullptr, version);
      return {to_values(labels.download()), to_values(dist.download()), to_values(sums.download()),
              to_values(counts.download())};
    };
    const std::string context = assign_context("kmeans_lloyd_pass", version, c);
    const std::vector<Run> runs = repeat(produce);
    for (const Run& run : runs) {
      check_assignment(run.outputs[0], &run.outputs[1], ref_labels, ref_dist, x, centers, c.n, c.d, c.k, c.groups,
                       context + ", " + run.label);
      // The sums of the kernel's own labels in the twin's order; the twin's bits when labels agree.
      std::vector<int32_t> got_labels(run.outputs[0].begin(), run.outputs[0].end());
      std::vector<int64_t> counts;
      const std::vector<float> own = block_order_sums(x, got_labels, c.n, c.d, c.k, c.groups, counts);
      require_equal(run.outputs[2], to_values(own), context + ", sums of its labels, " + run.label);
      require_equal(run.outputs[3], to_values(counts), context + ", counts of its labels, " + run.label);
      if (got_labels == ref_labels) {
        require_equal(run.outputs[2], to_values(ref_sums), context + ", sums vs cpu::kmeans_lloyd_pass, " + run.label);
        require_equal(run.outputs[3], to_values(ref_counts), context + ", counts vs the twin, " + run.label);
      }
    }
    check_identical_runs(runs, context);
  }
}

// ---- k-means++ ----

struct CandidateCase {
  int64_t n;
  int d, t, groups;
};
inline const std::vector<CandidateCase>& candidate_cases() {
  static const std::vector<CandidateCase> cases = {{1, 1, 1, 1}, {130, 25, 7, 3}, {257, 784, 3, 1}, {70, 3, 33, 2}};
  return cases;
}

inline void check_pp_candidates(const Repeater& repeat) {
  uint32_t seed = 500;
  for (const CandidateCase& c : candidate_cases()) {
    const AssignCase shape{c.n, c.d, 1, 1};
    std::vector<float> x, unused;
    make_assign_inputs(shape, seed += 7, x, unused);
    const std::vector<float> x_sq = twin_sqnorms(x, c.d);
    std::vector<int32_t> ids(std::size_t(c.t) * c.groups);
    std::mt19937 rng(seed);
    for (int32_t& id : ids) id = int32_t(rng() % uint64_t(c.n));
    ids[0] = int32_t(c.n - 1);   // the last row, and a repeated candidate (exact potential tie)
    if (ids.size() > 1) ids[1] = ids[0];
    // closest: the distance to some earlier centre (random row), or none.
    for (const bool with_closest : {false, true}) {
      std::vector<float> closest(std::size_t(c.groups * c.n));
      for (int g = 0; g < c.groups; ++g) {
        const int64_t centre = int64_t(rng() % uint64_t(c.n));
        for (int64_t i = 0; i < c.n; ++i) {
          double dd, m;
          exact_distance(x.data() + i * c.d, x.data() + centre * c.d, c.d, dd, m);
          closest[std::size_t(g * c.n + i)] = float(dd);
        }
      }
      const std::size_t width = std::size_t(c.t) * c.groups;
      std::vector<float> ref_dist(width * std::size_t(c.n));
      std::vector<double> ref_pot(width);
      cpu::kmeans_pp_candidates(ref_dist.data(), ref_pot.data(), x.data(), x_sq.data(),
                                with_closest ? closest.data() : nullptr, ids.data(), c.n, c.d, c.t, c.groups);
      std::vector<double> dist_scale(ref_dist.size()), pot_scale(width, 0.0);
      const double rtol = distance_rtol(c.d);
      for (std::size_t cand = 0; cand < width; ++cand)
        for (int64_t i = 0; i < c.n; ++i) {
          double dd, m;
          exact_distance(x.data() + i * c.d, x.data() + int64_t(ids[cand]) * c.d, c.d, dd, m);
          dist_scale[cand * c.n + i] = m;
          pot_scale[cand] += rtol * m + c.n * kDoubleU * ref_dist[cand * c.n + i];
        }
      const Producer produce = [&]() -> Outputs {
        DeviceBuffer<float> dx(kernel_memory(), x), dxs(kernel_memory(), x_sq), dcl(kernel_memory(), closest),
            dist(kernel_memory(), std::vector<float>(ref_dist.size(), NAN));
        DeviceBuffer<int32_t> did(kernel_memory(), ids);
        DeviceBuffer<double> pot(kernel_memory(), std::vector<double>(width, NAN));
        kns::kmeans_pp_candidates(dist.data(), pot.data(), dx.data(), dxs.data(), with_closest ? dcl.data() : nullptr,
                                  did.data(), c.n, c.d, c.t, c.groups, nullptr);
        return {to_values(dist.download()), pot.download()};
      };
      const std::string context = "kmeans_pp_candidates n " + std::to_string(c.n) + " d " + std::to_string(c.d) +
                                  " t " + std::to_string(c.t) + " groups " + std::to_string(c.groups) +
                                  (with_closest ? " with closest" : " no closest");
      const std::vector<Run> runs = repeat(produce);
      for (const Run& run : runs) {
        require_close(run.outputs[0], to_values(ref_dist), dist_scale, rtol, context + ", cand_dist, " + run.label);
        require_close(run.outputs[1], ref_pot, pot_scale, 1.0, context + ", cand_pot, " + run.label);
        if (c.t > 1) {   // the repeated candidate: identical distances, identical potential
          INFO(context << ": a repeated candidate has another potential");
          CHECK(run.outputs[1][0] == run.outputs[1][1]);
        }
      }
      check_identical_runs(runs, context);
    }
  }
}

inline void check_pp_sample(const Repeater& repeat) {
  struct Case {
    int64_t n;
    int t, groups;
  };
  const std::vector<Case> cases = {{1, 1, 1}, {5, 3, 2}, {300, 7, 3}, {1000, 4, 1}};
  uint32_t seed = 600;
  for (const Case& c : cases) {
    std::vector<float> w = uniform_floats(std::size_t(c.n * c.groups), ++seed, 0.f, 4.f);
    for (std::size_t i = 0; i < w.size(); i += 3) w[i] = 0.f;   // chosen centres
    for (int g = 0; g < c.groups; ++g) w[std::size_t(g * c.n + c.n - 1)] = 0.f;   // the tail has no weight
    if (c.groups > 1)
      std::fill(w.begin() + c.n, w.begin() + 2 * c.n, 0.f);   // group 1: no weight at all -> id 0
    std::vector<double> u(std::size_t(c.t) * c.groups);
    std::mt19937_64 rng(seed);
    for (double& v : u) v = double(rng() >> 11) * 0x1p-53;
    u[0] = 0.0;   // the first point of positive weight
    if (u.size() > 1) u[1] = 1.0 - 0x1p-53;   // the last point of positive weight
    std::vector<int32_t> ref(u.size());
    cpu::kmeans_pp_sample(ref.data(), w.data(), u.data(), c.n, c.t, c.groups);
    const Producer produce = [&]() -> Outputs {
      DeviceBuffer<float> dw(kernel_memory(), w);
      DeviceBuffer<double> du(kernel_memory(), u);
      DeviceBuffer<int32_t> ids(kernel_memory(), std::vector<int32_t>(ref.size(), -1));
      kns::kmeans_pp_sample(ids.data(), dw.data(), du.data(), c.n, c.t, c.groups, nullptr);
      return {to_values(ids.download())};
    };
    const std::string context = "kmeans_pp_sample n " + std::to_string(c.n) + " t " + std::to_string(c.t) +
                                " groups " + std::to_string(c.groups);
    const std::vector<Run> runs = repeat(produce);
    for (const Run& run : runs) require_equal(run.outputs[0], to_values(ref), context + ", " + run.label);
    check_identical_runs(runs, context);
  }
}

// ---- minibatch ----

enum class TwinBits { No, Yes };

inline void check_minibatch_update(const Repeater& repeat, TwinBits twin_bits) {
  struct Case {
    int64_t b;
    int d, k;
  };
  const std::vector<Case> cases = {{1, 1, 1}, {37, 3, 7}, {200, 25, 9}, {45, 784, 5}, {100, 200, 3}};
  uint32_t seed = 700;
  for (const Case& c : cases) {
    const std::vector<float> xb = uniform_floats(std::size_t(c.b) * c.d, ++seed);
    const std::vector<float> old = uniform_floats(std::size_t(c.k) * c.d, ++seed);
    std::vector<int32_t> labels(std::size_t(c.b));
    std::mt19937 rng(++seed);
    for (int32_t& l : labels) l = int32_t(rng() % uint32_t(c.k > 1 ? c.k - 1 : 1));   // centre k-1: no members
    std::vector<double> counts0(std::size_t(c.k));
    for (std::size_t j = 0; j < counts0.size(); ++j) counts0[j] = j % 2 ? double(rng() % 50) : 0.0;
    std::vector<float> ref(old.size());
    std::vector<double> ref_counts = counts0;
    cpu::kmeans_minibatch_update(ref.data(), ref_counts.data(), old.data(), xb.data(), labels.data(), c.b, c.d, c.k);
    const Producer produce = [&]() -> Outputs {
      DeviceBuffer<float> dxb(kernel_memory(), xb), dold(kernel_memory(), old),
          dnew(kernel_memory(), std::vector<float>(ref.size(), NAN));
      DeviceBuffer<double> dcounts(kernel_memory(), counts0);
      DeviceBuffer<int32_t> dl(kernel_memory(), labels);
      kns::kmeans_minibatch_update(dnew.data(), dcounts.data(), dold.data(), dxb.data(), dl.data(), c.b, c.d, c.k,
                                   nullptr);
      return {to_values(dnew.download()), dcounts.download()};
    };
    const std::string context = "kmeans_minibatch_update b " + std::to_string(c.b) + " d " + std::to_string(c.d) +
                                " k " + std::to_string(c.k);
    const std::vector<Run> runs = repeat(produce);
    for (const Run& run : runs) {
      require_close(run.outputs[0], to_values(ref), {}, twin_bits == TwinBits::Yes ? 0.0 : 2 * kU,
                    context + ", centres, " + run.label);
      require_equal(run.outputs[1], ref_counts, context + ", counts, " + run.label);
    }
    check_identical_runs(runs, context);
  }
}

// ---- the benchmark baseline's argmin over stored dot products ----

inline void check_argmin_dots(const Repeater& repeat) {
  for (const AssignCase& c : assign_cases()) {
    if (c.groups != 1) continue;
    std::vector<float> x, centers;
    make_assign_inputs(c, 1000 + uint32_t(c.k), x, centers);
    const std::vector<float> x_sq = twin_sqnorms(x, c.d), c_sq = twin_sqnorms(centers, c.d);
    std::vector<float> dots(std::size_t(c.n) * c.k);   // exact dot products, rounded once
    for (int64_t i = 0; i < c.n; ++i)
      for (int j = 0; j < c.k; ++j) {
        double s = 0;
        for (int f = 0; f < c.d; ++f) s += double(x[std::size_t(i * c.d + f)]) * centers[std::size_t(j) * c.d + f];
        dots[std::size_t(i * c.k + j)] = float(s);
      }
    std::vector<int32_t> ref_labels(std::size_t(c.n));
    std::vector<float> ref_dist(ref_labels.size());
    cpu::kmeans_assign(ref_labels.data(), ref_dist.data(), x.data(), x_sq.data(), centers.data(), c_sq.data(), c.n,
                       c.d, c.k);
    const Producer produce = [&]() -> Outputs {
      DeviceBuffer<float> dd(kernel_memory(), dots), dxs(kernel_memory(), x_sq), dcs(kernel_memory(), c_sq),
          dist(kernel_memory(), ref_dist.size());
      DeviceBuffer<int32_t> labels(kernel_memory(), ref_labels.size());
      kns::kmeans_argmin_dots(labels.data(), dist.data(), dd.data(), dxs.data(), dcs.data(), c.n, c.k, nullptr);
      return {to_values(labels.download()), to_values(dist.download())};
    };
    const std::string context = assign_context("kmeans_argmin_dots", 1, c);
    const std::vector<Run> runs = repeat(produce);
    for (const Run& run : runs)
      check_assignment(run.outputs[0], &run.outputs[1], ref_labels, ref_dist, x, centers, c.n, c.d, c.k, 1,
                       context + ", " + run.label);
    check_identical_runs(runs, context);
  }
}

// ---- inertia ----

// The assign cases, plus: 1100 points make 64 chunks of 18, so each of the 8 warps of a chunk
// takes 2 or 3 points; 66 groups take two launches (64 groups of partials fit the scratch).
inline std::vector<AssignCase> inertia_cases() {
  std::vector<AssignCase> cases = assign_cases();
  cases.push_back({1100, 3, 5, 1});
  cases.push_back({3, 2, 2, 66});
  return cases;
}

inline void check_inertia(const Repeater& repeat) {
  uint32_t seed = 900;
  for (const AssignCase& c : inertia_cases()) {
    std::vector<float> x, centers;
    make_assign_inputs(c, seed += 3, x, centers);
    std::vector<int32_t> labels(std::size_t(c.groups * c.n));
    std::mt19937 rng(seed);
    for (int32_t& l : labels) l = int32_t(rng() % uint32_t(c.k));
    std::vector<double> ref(std::size_t(c.groups));
    cpu::kmeans_inertia(ref.data(), x.data(), centers.data(), labels.data(), c.n, c.d, c.k, c.groups);
    const Producer produce = [&]() -> Outputs {
      DeviceBuffer<float> dx(kernel_memory(), x), dc(kernel_memory(), centers);
      DeviceBuffer<int32_t> dl(kernel_memory(), labels);
      DeviceBuffer<double> out(kernel_memory(), std::vector<double>(ref.size(), NAN));
      DeviceBuffer<double> workspace(kernel_memory(), kns::kmeans_inertia_workspace(c.groups));
      kns::kmeans_inertia(out.data(), dx.data(), dc.data(), dl.data(), c.n, c.d, c.k, c.groups, workspace.data(),
                          nullptr);
      return {out.download()};
    };
    const std::string context = assign_context("kmeans_inertia", 1, c);
    const std::vector<Run> runs = repeat(produce);
    for (const Run& run : runs)
      require_close(run.outputs[0], ref, {}, 2.0 * double(c.d + c.n) * kDoubleU, context + ", " + run.label);
    check_identical_runs(runs, context);
  }
}

// ---- bad arguments: std::invalid_argument before any launch ----

inline void check_bad_arguments() {
  DeviceBuffer<float> f(kernel_memory(), 64);
  DeviceBuffer<int32_t> l(kernel_memory(), 64);
  DeviceBuffer<int64_t> cnt(kernel_memory(), 8);
  DeviceBuffer<double> dbl(kernel_memory(), 8);
  float* p = f.data();
  CHECK_THROWS_AS(kns::kmeans_assign(l.data(), p, p, p, p, p, 4, 2, 2, 1, nullptr, 0), std::invalid_argument);
  CHECK_THROWS_AS(
      kns::kmeans_assign(l.data(), p, p, p, p, p, 4, 2, 2, 1, nullptr, kns::kKMeansAssignKernelVersions + 1),
      std::invalid_argument);
  CHECK_THROWS_AS(kns::kmeans_assign(l.data(), p, p, p, p, p, 4, 2, 0, 1, nullptr), std::invalid_argument);
  CHECK_THROWS_AS(kns::kmeans_assign(l.data(), p, p, p, p, p, 0, 2, 2, 1, nullptr), std::invalid_argument);
  CHECK_THROWS_AS(kns::kmeans_assign(nullptr, p, p, p, p, p, 4, 2, 2, 1, nullptr), std::invalid_argument);
  CHECK_THROWS_AS(kns::kmeans_centroid_sums(p, cnt.data(), p, l.data(), 4, 0, 2, 1, nullptr), std::invalid_argument);
  CHECK_THROWS_AS(kns::kmeans_pp_candidates(p, dbl.data(), p, p, nullptr, l.data(), 4, 2, 2, 0, nullptr),
                  std::invalid_argument);
  CHECK_THROWS_AS(kns::kmeans_pp_sample(l.data(), p, nullptr, 4, 2, 1, nullptr), std::invalid_argument);
  CHECK_THROWS_AS(kns::kmeans_minibatch_update(p, dbl.data(), p, p, l.data(), 4, 2, 2, nullptr), std::invalid_argument);
  CHECK_THROWS_AS(kns::kmeans_inertia(dbl.data(), p, p, l.data(), 4, 2, 2, -1, dbl.data(), nullptr),
                  std::invalid_argument);
}

}  // namespace zs::kmeans_checks
