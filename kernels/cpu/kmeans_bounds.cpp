// The bounded (Hamerly) Lloyd pass of kmeans_bounds.h.
//
// The margin. The full pass labels point x with argmin_j score_j (ties: lowest j), where
//   score_j = fl(||c_j||^2 + sum_f (-2 c_jf) x_f)
// is one FMA chain per block of at most 384 terms (gemm_panels.h), the blocks added in order onto
// c_sq_j = fl(||c_j||^2) (row_sqnorms: a double sum rounded once to float). -2 c_jf is exact. With
// u = 2^-24, each product passes through at most d + ceil(d / 384) + 1 <= 2d + 1 roundings, so
// (Higham, Accuracy and Stability, 3.1; gamma_m = m u / (1 - m u))
//   |score_j - (||c_j||^2 - 2 x.c_j)| <= gamma_{2d+1} (c_sq_j + 2 ||x|| ||c_j||) + u ||c_j||^2
//                                     <= gamma_{2d+3} (||x|| + ||c_j||)^2.
// x_sq = fl(||x||^2) adds u ||x||^2 more to x_sq + score_j as an estimate of the true squared
// distance D_j = ||x - c_j||^2, so with R >= max_j ||c_j|| and ||x|| <= x_norm,
//   |x_sq + score_j - D_j| <= E = gamma_{2d+4} (x_norm + R)^2 (+ 1e-30 for float underflow).
// Hence if D_j - D_a > 2E for every j != a, then score_j > score_a for every j != a: the full pass
// picks a, strictly (no tie to break). The skip test checks exactly that from the bounds:
// D_j - D_a >= L^2 - u^2 > 2E, where u >= sqrt(D_a) and L <= sqrt(D_j) for all j != a. The same E
// turns a recomputed point's scores into valid bounds: u = sqrt(x_sq + score_a + E), l = sqrt(x_sq
// + score_2nd - E).
// The bookkeeping runs in double (relative error 2^-53 per operation): every computed upper bound
// is multiplied by kUp and every lower bound by kDown (or by the d-dependent factors of the sums
// over d), which covers those few roundings, so the bounds stay bounds of the true distances.
#include "kernels/cpu/kmeans_bounds.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstring>
#include <limits>

#include "kernels/cpu/cpu_common_impl.h"
#include "kernels/cpu/gemm_panels.h"
#include "kernels/cpu/kmeans_impl.h"

namespace zs::cpu {
namespace {

using detail::require;
using namespace kmeans_detail;

constexpr double kInf = std::numeric_limits<double>::infinity();
// For results of at most a few dozen double operations: 2^-40 >> 64 * 2^-53.
constexpr double kUp = 1.0 + 0x1p-40, kDown = 1.0 - 0x1p-40;
// ||x|| and ||c|| from their float squared norms (relative error <= 2^-24 + d 2^-53 < 2^-23).
constexpr double kNormUp = 1.0 + 0x1p-22;

// Cost model of one tile's recomputation, in multiply-adds per feature: packing a point for the
// GEMM costs about kPackCost columns of FMAs (perf: packing 12% of the micro-kernel's time in a
// 250-wide pass), and the small GEMMs of gathered rows kGatherCost more. Recomputing a tile's
// unproven (point, run) pairs run by run costs (kGatherCost + kPackCost + k rounded to panels)
// each, the shared all-runs GEMM (kPackCost + k * groups rounded) per point; the cheaper one runs
// (both give the same bits). Measured at k = 25, 10 runs, d = 784: a gathered pair costs 1.7x
// (52 rows of a run at a time) to 2.5x (13 rows) a pair of the shared GEMM; the model says 2.5x.
constexpr int64_t kPackCost = 31, kGatherCost = 8;

int64_t panel_width(int64_t cols) { return (cols + detail::kPanelCols - 1) / detail::kPanelCols * detail::kPanelCols; }

// An upper bound of ||x - c||, computed in float (8 lanes: 4x cheaper than distance(), and run for
// every point the bounds alone do not prove). Each difference rounds once (factor (1 +- u)), the
// sum of the d non-negative squares (FMAs, any order) has relative error <= gamma_d, so the true
// squared distance is <= s / ((1 - u)^2 (1 - gamma_d)), plus d * 2^-149 for underflowing squares.
double distance_upper(const float* x, const float* c, int d) {
  // Four independent 8-float chains (one chain, as `omp simd` compiled it, waits on the add's
  // latency and kept its accumulator on the stack).
  using detail::v8f;
  v8f acc[4] = {};
  int f = 0;
  for (; f + 32 <= d; f += 32)
    for (int h = 0; h < 4; ++h) {
      v8f xv, cv;
      std::memcpy(&xv, x + f + 8 * h, sizeof xv);
      std::memcpy(&cv, c + f + 8 * h, sizeof cv);
      const v8f diff = xv - cv;
      acc[h] += diff * diff;
    }
  const v8f sum4 = (acc[0] + acc[1]) + (acc[2] + acc[3]);
  float s = 0.0f;
  for (int lane = 0; lane < 8; ++lane) s += sum4[lane];
  for (; f < d; ++f) {
    const float diff = x[f] - c[f];
    s += diff * diff;
  }
  const double u = 0x1p-24, gamma = d * u / (1.0 - d * u);
  return std::sqrt((double(s) + d * 0x1p-149) / ((1.0 - u) * (1.0 - u) * (1.0 - gamma))) * kUp;
}

// ||a - b|| in double: each difference and square rounds once, the sum d - 1 times, the root once,
// so the relative error is below (d + 4) 2^-53; the callers scale by dist_up / dist_down.
double distance(const float* a, const float* b, int d) {
  double s = 0.0;
#pragma omp simd reduction(+ : s)
  for (int f = 0; f < d; ++f) {
    const double diff = double(a[f]) - double(b[f]);
    s += diff * diff;
  }
  return std::sqrt(s);
}

// What the pass needs about one run's centres.
struct RunGeometry {
  std::vector<double> drift;     // [k] >= how far centre j moved since the bounds were set
  std::vector<double> half_sep;  // [k] <= min_{j' != j} ||c_j - c_j'|| / 2
  double drift_max = 0.0, drift_second = 0.0;  // the two largest drifts
  int drift_argmax = -1;
  double r_max = 0.0;            // >= max_j ||c_j||
  double gamma = 0.0;            // gamma_{2d+4} of float
  const float* panels = nullptr; // the run's centres as gemm_panels.h B panels

  // The largest drift of the centres other than a: how much l_i can shrink.
  double other_drift(int a) const { return a == drift_argmax ? drift_second : drift_max; }
  // A lower bound of the distance to every centre but a, from l_i and (triangle inequality)
  // ||x - c_j|| >= ||c_a - c_j|| - ||x - c_a|| >= 2 s_a - u_i.
  double others(int a, double upper, double lower) const {
    return std::max(lower, (2.0 * half_sep[a] - upper) * kDown);
  }
  // 2E of the header for a point with norm bound x_norm.
  double margin2(double x_norm) const { return (2.0 * gamma * (x_norm + r_max) * (x_norm + r_max) + 1e-30) * kUp; }
};

RunGeometry run_geometry(const float* centres, const float* c_sqnorm, const float* old_centres, int k, int d) {
  const double dist_up = 1.0 + (d + 8) * 0x1p-52, dist_down = 1.0 - (d + 8) * 0x1p-52;
  RunGeometry geo;
  geo.drift.assign(k, 0.0);
  geo.half_sep.assign(k, kInf);
  const double m = 2.0 * d + 4.0, u = 0x1p-24;
  geo.gamma = m * u / (1.0 - m * u);
  for (int j = 0; j < k; ++j) {
    geo.r_max = std::max(geo.r_max, std::sqrt(double(c_sqnorm[j])) * kNormUp);
    for (int j2 = j + 1; j2 < k; ++j2) {
      const double half = distance(centres + int64_t(j) * d, centres + int64_t(j2) * d, d) * dist_down * 0.5;
      geo.half_sep[j] = std::min(geo.half_sep[j], half);
      geo.half_sep[j2] = std::min(geo.half_sep[j2], half);
    }
    if (!old_centres) continue;
    const double drift = distance(centres + int64_t(j) * d, old_centres + int64_t(j) * d, d) * dist_up;
    geo.drift[j] = drift;
    if (drift > geo.drift_max) {
      geo.drift_second = geo.drift_max;
      geo.drift_max = drift;
      geo.drift_argmax = j;
    } else {
      geo.drift_second = std::max(geo.drift_second, drift);
    }
  }
  return geo;
}

// True when every centre other than the assigned one (all at least `lower` away) is provably
// farther than it (at most `upper` away) by more than the margin: the full pass keeps the label.
inline bool proven(double upper, double lower, double margin2) {
  return lower > upper && (lower - upper) * (lower + upper) * kDown > margin2;
}

// One slot's view of the state while a pass runs.
struct SlotState {
  double* upper;
  double* lower;
  int32_t* label;
  bool valid;
};

// The bounds of a recomputed point from its scores (k of them): the full pass's label (the first
// minimum) and, from the lowest and second-lowest scores, u and l.
void recompute_bounds(int32_t& label, double& upper, double& lower, const float* scores, int k, float x_sq,
                      double margin) {
  int best = 0;
  float best_score = scores[0], second = std::numeric_limits<float>::infinity();
  for (int j = 1; j < k; ++j) {
    if (scores[j] < best_score) {
      second = best_score;
      best_score = scores[j];
      best = j;
    } else if (scores[j] < second) {
      second = scores[j];
    }
  }
  label = best;
  // x_sq + score in double rounds relative to its operands (cancellation): 2^-50 of them on top.
  const double up = double(x_sq) + best_score;
  upper = std::sqrt(std::max(0.0, up + margin + 0x1p-50 * (std::fabs(x_sq) + std::fabs(best_score)))) * kUp;
  if (second == std::numeric_limits<float>::infinity()) {
    lower = kInf;  // k = 1: no other centre
    return;
  }
  const double low = double(x_sq) + second - margin - 0x1p-50 * (std::fabs(x_sq) + std::fabs(second));
  lower = low > 0 ? std::sqrt(low * kDown) : 0.0;
}

struct PassCounts {
  int64_t skipped = 0, tightened = 0, tried = 0;
};

// True when the tile's recomputation is cheaper as one all-runs GEMM of its rows than as one
// gathered GEMM per run of `pairs` unproven (point, run) pairs.
bool shared_is_cheaper(int64_t pairs, int64_t rows, int k, int groups) {
  return pairs * (kGatherCost + kPackCost + panel_width(k)) >= rows * (kPackCost + panel_width(int64_t(k) * groups));
}

// The assignment of the rows [r0, r0 + rows) of one tile for every run: move the bounds by the
// drifts, label the points the bounds prove, recompute the rest now or append them to pending.
void bounded_tile(int32_t* labels, std::vector<std::vector<int64_t>>& pending, const std::vector<SlotState>& slots,
                  const std::vector<RunGeometry>& geo, const KMeansBounds& bounds, const float* all_panels,
                  const float* x, const float* x_sqnorm, const float* centers, const float* c_sqnorm, int64_t n, int d,
                  int k, int64_t r0, int64_t rows, PassCounts& counts) {
  const int groups = static_cast<int>(slots.size());
  // todo[g * kKMeansTileRows + t]: the tile rows of run g not proven (yet).
  std::vector<int32_t> todo_rows(size_t(kKMeansTileRows) * groups);
  int32_t* todo = todo_rows.data();
  std::vector<int> todo_count(groups, 0);
  int64_t total = 0;
  // 1. The bounds alone (a few operations per pair).
  for (int g = 0; g < groups; ++g) {
    const SlotState& s = slots[g];
    const RunGeometry& run = geo[g];
    int32_t* list = todo + int64_t(g) * kKMeansTileRows;
    for (int64_t r = 0; r < rows; ++r) {
      const int64_t i = r0 + r;
      if (!s.valid) {
        list[todo_count[g]++] = int32_t(r);
        continue;
      }
      const int a = s.label[i];
      const double upper = (s.upper[i] + run.drift[a]) * kUp;
      const double shrunk = s.lower[i] - run.other_drift(a);
      const double lower = shrunk > 0 ? shrunk * kDown : 0.0;
      s.upper[i] = upper;
      s.lower[i] = lower;
      if (proven(upper, run.others(a, upper, lower), run.margin2(bounds.x_norm[i]))) {
        labels[int64_t(g) * n + i] = a;
        ++counts.skipped;
      } else {
        list[todo_count[g]++] = int32_t(r);
      }
    }
    total += todo_count[g];
  }
  // 2. Hamerly's second chance: u_i to the distance to its centre (d multiply-adds), then the same
  // test. Useless when the tile would recompute all its rows in one GEMM anyway (the early
  // passes): judged by the fraction this step proved in the last pass.
  if (total > 0 && !shared_is_cheaper(int64_t(double(total) * (1.0 - bounds.tighten_rate)), rows, k, groups)) {
    total = 0;
    for (int g = 0; g < groups; ++g) {
      const SlotState& s = slots[g];
      if (!s.valid) {
        total += todo_count[g];
        continue;
      }
      const RunGeometry& run = geo[g];
      int32_t* list = todo + int64_t(g) * kKMeansTileRows;
      int left = 0;
      for (int t = 0; t < todo_count[g]; ++t) {
        const int64_t i = r0 + list[t];
        const int a = s.label[i];
        const double upper = distance_upper(x + i * d, centers + (int64_t(g) * k + a) * d, d);
        s.upper[i] = upper;
        if (proven(upper, run.others(a, upper, s.lower[i]), run.margin2(bounds.x_norm[i]))) {
          labels[int64_t(g) * n + i] = a;
          ++counts.tightened;
        } else {
          list[left++] = list[t];
        }
      }
      counts.tried += todo_count[g];
      todo_count[g] = left;
      total += left;
    }
  }
  if (total == 0) return;
  // 3. The rest, with the full pass's arithmetic: here in one GEMM of the whole tile against every
  // run, or later, gathered run by run with the rest of the block's (recompute_gathered).
  if (!shared_is_cheaper(total, rows, k, groups)) {
    for (int g = 0; g < groups; ++g)
      for (int t = 0; t < todo_count[g]; ++t) pending[g].push_back(r0 + todo[int64_t(g) * kKMeansTileRows + t]);
    return;
  }
  const int width = k * groups;
  float* scores = detail::thread_scratch(detail::kScratchGemmOut, size_t(kKMeansTileRows) * width);
  tile_scores(scores, x + r0 * d, rows, all_panels, c_sqnorm, d, width);
  for (int g = 0; g < groups; ++g) {
    const SlotState& s = slots[g];
    for (int t = 0; t < todo_count[g]; ++t) {
      const int64_t r = todo[int64_t(g) * kKMeansTileRows + t], i = r0 + r;
      recompute_bounds(s.label[i], s.upper[i], s.lower[i], scores + r * width + int64_t(g) * k, k, x_sqnorm[i],
                       geo[g].margin2(bounds.x_norm[i]) * 0.5);
      labels[int64_t(g) * n + i] = s.label[i];
    }
  }
}

// Recomputes the points pending[g] of each run g (a block's worth: bigger GEMMs than one tile's)
// against the run's own centres, gathered kGatherRows at a time, and clears the lists.
void recompute_gathered(int32_t* labels, std::vector<std::vector<int64_t>>& pending,
                        const std::vector<SlotState>& slots, const std::vector<RunGeometry>& geo,
                        const KMeansBounds& bounds, const float* x, const float* x_sqnorm, const float* c_sqnorm,
                        int64_t n, int d, int k) {
  constexpr int64_t kGatherRows = 256;
  const float* gathered[kGatherRows];
  float* scores = detail::thread_scratch(detail::kScratchGemmOut, size_t(kGatherRows) * k);
  for (size_t g = 0; g < pending.size(); ++g) {
    const std::vector<int64_t>& rows = pending[g];
    const SlotState& s = slots[g];
    for (size_t first = 0; first < rows.size(); first += kGatherRows) {
      const int64_t m = std::min<int64_t>(kGatherRows, int64_t(rows.size() - first));
      for (int64_t t = 0; t < m; ++t) gathered[t] = x + rows[first + t] * d;
      rows_scores(scores, gathered, m, geo[g].panels, c_sqnorm + int64_t(g) * k, d, k);
      for (int64_t t = 0; t < m; ++t) {
        const int64_t i = rows[first + t];
        recompute_bounds(s.label[i], s.upper[i], s.lower[i], scores + t * k, k, x_sqnorm[i],
                         geo[g].margin2(bounds.x_norm[i]) * 0.5);
        labels[int64_t(g) * n + i] = s.label[i];
      }
    }
    pending[g].clear();
  }
}

}  // namespace

void KMeansBounds::reset(int64_t n_, int d_, int k_, int slots_, const float* x_sqnorm) {
  n = n_, d = d_, k = k_, slots = slots_;
  x_norm.resize(n);
  for (int64_t i = 0; i < n; ++i) x_norm[i] = std::sqrt(double(x_sqnorm[i])) * kNormUp;
  upper.assign(size_t(slots) * n, 0.0);
  lower.assign(size_t(slots) * n, 0.0);
  label.assign(size_t(slots) * n, 0);
  centres.assign(size_t(slots) * k * d, 0.0f);
  valid.assign(slots, 0);
  pairs = skipped = tightened = 0;
  tighten_rate = 0.2;
}

void kmeans_lloyd_pass_bounded(int32_t* labels, float* sums, int64_t* counts, KMeansBounds& bounds,
                               const int32_t* slots, const float* x, const float* x_sqnorm, const float* centers,
                               const float* c_sqnorm, int64_t n, int d, int k, int groups) {
  const char* op = "kmeans_lloyd_pass_bounded";
  require(n >= 1 && d >= 1 && k >= 1 && groups >= 1, op, "n, d, k and groups must be >= 1");
  require(labels && sums && counts && slots && x && x_sqnorm && centers && c_sqnorm, op, "null buffer");
  require(bounds.n == n && bounds.d == d && bounds.k == k, op, "bounds were reset for other sizes");
  // The error bounds' gamma_{2d+4} = (2d + 4) u / (1 - (2d + 4) u) needs (2d + 4) u well below 1.
  require(d <= (1 << 21), op, "d above 2^21: the rounding margin is not derived for it");
  std::vector<SlotState> state(groups);
  std::vector<RunGeometry> geo(groups);
  const size_t centre_floats = size_t(k) * d;
  // Each run's own panels (for the gathered GEMMs) in the calling thread's B scratch, every run's
  // together in its weight scratch (for the shared one): read by every thread.
  const int64_t run_panel_floats = detail::b_panels_floats(d, k);
  float* run_panels = detail::thread_scratch(detail::kScratchPackedB, size_t(run_panel_floats) * groups);
  for (int g = 0; g < groups; ++g) {
    const int s = slots[g];
    require(s >= 0 && s < bounds.slots, op, "slot out of range");
    for (int g2 = 0; g2 < g; ++g2) require(slots[g2] != s, op, "slots must be distinct");
    const bool valid = bounds.valid[s] != 0;
    state[g] = {bounds.upper.data() + size_t(s) * n, bounds.lower.data() + size_t(s) * n,
                bounds.label.data() + size_t(s) * n, valid};
    const float* c = centers + g * centre_floats;
    geo[g] = run_geometry(c, c_sqnorm + int64_t(g) * k, valid ? bounds.centres.data() + s * centre_floats : nullptr, k,
                          d);
    geo[g].panels = run_panels + g * run_panel_floats;
    pack_centres_into(run_panels + g * run_panel_floats, c, k, d);
  }
  const float* all_panels = pack_centres(centers, int64_t(k) * groups, d);
  // The bounded assignment of each block of tiles runs on the thread that then sums it (as in the
  // full pass): the points it reads (to tighten or recompute) are still in cache for the sums,
  // and the data are read from memory once per pass.
  std::atomic<int64_t> skipped{0}, tightened{0}, tried{0};
  const int nthreads = lloyd_threads(n, double(n) * d * k * groups);
  lloyd_sums(sums, counts, x, labels, n, d, k, groups, nthreads, [&](int64_t tile_begin, int64_t tile_end) {
    PassCounts mine;
    std::vector<std::vector<int64_t>> pending(groups);
    for (int64_t tile = tile_begin; tile < tile_end; ++tile) {
      const int64_t r0 = tile * kKMeansTileRows;
      bounded_tile(labels, pending, state, geo, bounds, all_panels, x, x_sqnorm, centers, c_sqnorm, n, d, k, r0,
                   std::min(kKMeansTileRows, n - r0), mine);
    }
    recompute_gathered(labels, pending, state, geo, bounds, x, x_sqnorm, c_sqnorm, n, d, k);
    skipped += mine.skipped;
    tightened += mine.tightened;
    tried += mine.tried;
  });
  for (int g = 0; g < groups; ++g) {
    std::copy(centers + g * centre_floats, centers + (g + 1) * centre_floats,
              bounds.centres.begin() + slots[g] * centre_floats);
    bounds.valid[slots[g]] = 1;
  }
  bounds.pairs = n * groups;
  bounds.skipped = skipped;
  bounds.tightened = tightened;
  if (tried > 0) bounds.tighten_rate = double(tightened) / double(tried);
}

}  // namespace zs::cpu
