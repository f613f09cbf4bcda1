// The CPU twin of the KMeans kernels (see kmeans.h for the conventions).
//
// Versions (one line each; the shipped one is the last of each list):
//   assignment: (1) tile GEMM (OpenBLAS sgemm of kKMeansTileRows points x the centres of every
//               group, with ||c||^2 preloaded as the C operand so one call yields ||c||^2 - 2 x.c)
//               + fused per-group argmin. Profile at k = 25, one group: packing the points costs
//               as much as the GEMM itself (26% vs 32% of the time), which is why groups exist:
//               ten runs of k = 25 share one pack and one 250-wide GEMM. (2) the same with the
//               conv's panel GEMM (gemm_panels.h, AVX2 or AVX-512 by cpu_isa.h): the centres are
//               packed once per pass, not once per tile as sgemm did, and each tile's points once.
//   centroid update: (1) per-centre scan in point order (kmeans_centroid_sums, thread-count
//               independent); (2) fused into the assignment pass with per-thread double partials,
//               point by point across groups (the 1.5 MB of double accumulators of 10 x 25 centres
//               thrashed L2: 27% of a fit); (3) the same by blocks of 1024 points, group by group,
//               float within a block and double across blocks; (4) the same blocks point by
//               point across groups into float block sums (same bits as (3); the bounded pass of
//               kmeans_bounds.cpp leaves most of a block uncached, and (3) read it once per group).
#include "kernels/cpu/kmeans.h"

#include <omp.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "kernels/cpu/cpu_common_impl.h"
#include "kernels/cpu/gemm_panels.h"
#include "kernels/cpu/kmeans_impl.h"

namespace zs::cpu {
namespace kmeans_detail {

// Below this many floats touched, a loop runs serially: starting a parallel region costs more
// (microseconds on an idle machine, a scheduler time slice on a busy one).
constexpr int64_t kParallelMinWork = int64_t(1) << 20;

// Tiles assigned before their points are added to the centroid sums (1024 points, 3 MB of
// 784-feature floats: the block stays in L3 while every group adds it).
constexpr int64_t kTilesPerSumBlock = 8;

// Below this many multiply-adds (~1 ms on one core) a GEMM pass runs on one thread: with
// OpenMP's default active waiting, a busy machine can make each parallel region cost a scheduler
// time slice, which turned MiniBatchKMeans' 600 small steps from 2 s into 10 s.
constexpr double kParallelMinMacs = double(int64_t(1) << 26);

int threads_for(int64_t chunks, double macs) {
  if (macs < kParallelMinMacs) return 1;
  return static_cast<int>(std::max<int64_t>(1, std::min<int64_t>(detail::max_threads(), chunks)));
}

int64_t sum_blocks(int64_t n) { return (tile_count(n) + kTilesPerSumBlock - 1) / kTilesPerSumBlock; }

int lloyd_threads(int64_t n, double macs) { return threads_for(sum_blocks(n), macs); }

void pack_centres_into(float* bp, const float* centers, int64_t width, int d) {
  using detail::kPanelCols;
  for (int64_t j0 = 0; j0 < width; j0 += kPanelCols) {
    float* panel = bp + j0 * d;  // panel j0 / 16 starts at (j0 / 16) * d * 16 floats
    const int64_t cols = std::min<int64_t>(kPanelCols, width - j0);
    for (int64_t jj = 0; jj < cols; ++jj) {
      const float* c = centers + (j0 + jj) * d;
      for (int f = 0; f < d; ++f) panel[f * kPanelCols + jj] = -2.f * c[f];
    }
    for (int64_t jj = cols; jj < kPanelCols; ++jj)
      for (int f = 0; f < d; ++f) panel[f * kPanelCols + jj] = 0.f;
  }
}

// Packed once per call into the calling thread's scratch and read by every thread (sgemm
// re-packed the centres for every tile).
const float* pack_centres(const float* centers, int64_t width, int d) {
  float* bp = detail::thread_scratch(detail::kScratchWeights, size_t(detail::b_panels_floats(d, width)));
  pack_centres_into(bp, centers, width, d);
  return bp;
}

// ||c||^2 is written into the output first and the panel GEMM accumulates onto it: the points'
// A panels times the centres' B panels by the fp32 panel GEMM of the active ISA path, never bf16
// (the conv precision does not apply to distances).
void packed_scores(float* scores, const float* a_panels, int64_t rows, const float* centre_panels,
                   const float* c_sqnorm, int d, int width) {
  for (int64_t r = 0; r < rows; ++r) std::copy(c_sqnorm, c_sqnorm + width, scores + r * width);
  detail::gemm_panels_fp32(rows, width, d, a_panels, centre_panels, scores, width, true);
}

// The tile's points are packed into A panels (in L2).
void tile_scores(float* scores, const float* x_tile, int64_t rows, const float* centre_panels, const float* c_sqnorm,
                 int d, int width) {
  float* ap = detail::thread_scratch(detail::kScratchPackedA, size_t(detail::a_panels_floats(rows, d)));
  detail::pack_a_panels(ap, rows, d, 0, d, x_tile, d, 1);
  packed_scores(scores, ap, rows, centre_panels, c_sqnorm, d, width);
}

void rows_scores(float* scores, const float* const* points, int64_t rows, const float* centre_panels,
                 const float* c_sqnorm, int d, int width) {
  float* ap = detail::thread_scratch(detail::kScratchPackedA, size_t(detail::a_panels_floats(rows, d)));
  detail::pack_a_rows(ap, rows, d, points);
  packed_scores(scores, ap, rows, centre_panels, c_sqnorm, d, width);
}

}  // namespace kmeans_detail

namespace {

using detail::require;
using namespace kmeans_detail;

void check_sizes(const char* op, int64_t n, int d, int k) {
  require(n >= 1, op, "n (number of points) must be >= 1");
  require(d >= 1, op, "d (dimension) must be >= 1");
  require(k >= 1, op, "k (number of centres) must be >= 1");
}

// Argmin of one row of scores (ties -> smallest index) and the clamped squared distance.
inline void row_argmin(int32_t& label, float& dist, const float* score_row, float x_sqnorm, int k) {
  int best = 0;
  float best_score = score_row[0];
  for (int j = 1; j < k; ++j) {
    if (score_row[j] < best_score) {
      best_score = score_row[j];
      best = j;
    }
  }
  label = best;
  dist = std::max(0.0f, x_sqnorm + best_score);
}

// Assigns the points of tiles [tile_begin, tile_end) to the nearest centre of every group. One
// GEMM per tile covers the centres of all groups.
void assign_tiles(int32_t* labels, float* min_dist, const float* x, const float* x_sqnorm, const float* centre_panels,
                  const float* c_sqnorm, int64_t n, int d, int k, int groups, int64_t tile_begin, int64_t tile_end) {
  const int width = k * groups;
  float* scores = detail::thread_scratch(detail::kScratchGemmOut, static_cast<size_t>(kKMeansTileRows) * width);
  for (int64_t tile = tile_begin; tile < tile_end; ++tile) {
    const int64_t r0 = tile * kKMeansTileRows;
    const int64_t rows = std::min(kKMeansTileRows, n - r0);
    tile_scores(scores, x + r0 * d, rows, centre_panels, c_sqnorm, d, width);
    for (int64_t r = 0; r < rows; ++r) {
      const int64_t i = r0 + r;
      for (int g = 0; g < groups; ++g) {
        int32_t label;
        float dist;
        row_argmin(label, dist, scores + r * width + g * k, x_sqnorm[i], k);
        labels[g * n + i] = label;
        if (min_dist) min_dist[g * n + i] = dist;
      }
    }
  }
}

// acc[0..d) += row.
template <class Acc>
inline void add_row(Acc* acc, const float* row, int d) {
  for (int f = 0; f < d; ++f) acc[f] += static_cast<Acc>(row[f]);
}

// Sums per-tile partials (tiles x width, row-major) in tile order.
void reduce_tile_partials(double* out, const std::vector<double>& partials, int64_t tiles, int width) {
  for (int c = 0; c < width; ++c) {
    double s = 0.0;
    for (int64_t tile = 0; tile < tiles; ++tile) s += partials[tile * width + c];
    out[c] = s;
  }
}

}  // namespace

void row_sqnorms(float* sqnorm, const float* x, int64_t n, int d) {
  require(sqnorm && x, "row_sqnorms", "null buffer");
  require(n >= 0 && d >= 1, "row_sqnorms", "n must be >= 0 and d >= 1");
#pragma omp parallel for schedule(static) if (n * d >= kParallelMinWork)
  for (int64_t i = 0; i < n; ++i) {
    const float* row = x + i * d;
    double s = 0.0;
    // simd reduction: a fixed (compile-time) order of partial sums, so still deterministic.
#pragma omp simd reduction(+ : s)
    for (int f = 0; f < d; ++f) s += static_cast<double>(row[f]) * row[f];
    sqnorm[i] = static_cast<float>(s);
  }
}

void kmeans_assign(int32_t* labels, float* min_dist, const float* x, const float* x_sqnorm, const float* centers,
                   const float* c_sqnorm, int64_t n, int d, int k, int groups) {
  check_sizes("kmeans_assign", n, d, k);
  require(groups >= 1, "kmeans_assign", "groups must be >= 1");
  require(labels && x && x_sqnorm && centers && c_sqnorm, "kmeans_assign", "null buffer");
  const int64_t tiles = tile_count(n);
  const float* centre_panels = pack_centres(centers, int64_t(k) * groups, d);
#pragma omp parallel num_threads(threads_for(tiles, double(n) * d * k * groups))
  {
    int64_t begin, end;
    detail::static_range(tiles, omp_get_thread_num(), omp_get_num_threads(), begin, end);
    assign_tiles(labels, min_dist, x, x_sqnorm, centre_panels, c_sqnorm, n, d, k, groups, begin, end);
  }
}

void kmeans_lloyd_pass(int32_t* labels, float* min_dist, float* sums, int64_t* counts, const float* x,
                       const float* x_sqnorm, const float* centers, const float* c_sqnorm, int64_t n, int d, int k,
                       int groups) {
  check_sizes("kmeans_lloyd_pass", n, d, k);
  require(groups >= 1, "kmeans_lloyd_pass", "groups must be >= 1");
  require(labels && sums && counts && x && x_sqnorm && centers && c_sqnorm, "kmeans_lloyd_pass", "null buffer");
  const float* centre_panels = pack_centres(centers, int64_t(k) * groups, d);
  // Each block is assigned on the thread that sums it, just before: its points are still in cache.
  lloyd_sums(sums, counts, x, labels, n, d, k, groups, lloyd_threads(n, double(n) * d * k * groups),
             [&](int64_t tile_begin, int64_t tile_end) {
               assign_tiles(labels, min_dist, x, x_sqnorm, centre_panels, c_sqnorm, n, d, k, groups, tile_begin,
                            tile_end);
             });
}

namespace kmeans_detail {

void lloyd_sums(float* sums, int64_t* counts, const float* x, const int32_t* labels, int64_t n, int d, int k, int groups,
                int nthreads, const std::function<void(int64_t, int64_t)>& before_block) {
  const int64_t tiles = tile_count(n);
  const int64_t blocks = sum_blocks(n);
  const int64_t centres = int64_t(k) * groups;
  const size_t width = static_cast<size_t>(centres) * d;
  // One double accumulator per thread; slots of threads the runtime did not start stay empty.
  std::vector<std::vector<double>> thread_sums(nthreads);
  std::vector<std::vector<int64_t>> thread_counts(nthreads);
  // One parallel region for the pass and its reduction: on a busy machine every extra region
  // costs a scheduling round trip per thread.
#pragma omp parallel num_threads(nthreads)
  {
    const int t = omp_get_thread_num();
    std::vector<double>& acc = thread_sums[t];
    std::vector<int64_t>& cnt = thread_counts[t];
    acc.assign(width, 0.0);
    cnt.assign(centres, 0);
    std::vector<float> block_sums(width);
    // Threads take whole blocks, so every block (and its float partial sums) is the same for
    // any thread count.
    int64_t first_block, end_block;
    detail::static_range(blocks, t, omp_get_num_threads(), first_block, end_block);
    for (int64_t b = first_block; b < end_block; ++b) {
      const int64_t block = b * kTilesPerSumBlock;
      const int64_t block_end = std::min(tiles, block + kTilesPerSumBlock);
      if (before_block) before_block(block, block_end);
      // The block is summed in float (at most kTilesPerSumBlock * kKMeansTileRows points: ~1e-7
      // relative error), then flushed into the double accumulators: half the bytes per add.
      // Point by point, each point into every group's float sums (groups x k x d floats: 784 KB
      // at 10 x 25 x 784, in L2) while the point is in L1. Group by group re-read the 3 MB block
      // from L3 (or memory, when the bounded pass did not touch it) once per group: measured 1.3x
      // slower at that size. Either way each element adds its points in point order: same bits.
      const int64_t r0 = block * kKMeansTileRows, r1 = std::min(n, block_end * kKMeansTileRows);
      std::fill(block_sums.begin(), block_sums.end(), 0.0f);
      for (int64_t i = r0; i < r1; ++i)
        for (int g = 0; g < groups; ++g)
          add_row(block_sums.data() + (int64_t(g) * k + labels[int64_t(g) * n + i]) * d, x + i * d, d);
      for (size_t e = 0; e < width; ++e) acc[e] += block_sums[e];
      for (int g = 0; g < groups; ++g) {
        const int32_t* lab = labels + int64_t(g) * n;
        int64_t* cnt_g = cnt.data() + int64_t(g) * k;
        for (int64_t i = r0; i < r1; ++i) ++cnt_g[lab[i]];
      }
    }
#pragma omp barrier
    // Fixed-order reduction: thread 0, 1, ... for every element.
#pragma omp for schedule(static)
    for (int64_t e = 0; e < static_cast<int64_t>(width); ++e) {
      double s = 0.0;
      for (const auto& partial : thread_sums)
        if (!partial.empty()) s += partial[e];
      sums[e] = static_cast<float>(s);
    }
#pragma omp single
    for (int64_t j = 0; j < centres; ++j) {
      int64_t c = 0;
      for (const auto& partial : thread_counts)
        if (!partial.empty()) c += partial[j];
      counts[j] = c;
    }
  }
}

}  // namespace kmeans_detail

void kmeans_centroid_sums(float* sums, int64_t* counts, const float* x, const int32_t* labels, int64_t n, int d,
                          int k) {
  check_sizes("kmeans_centroid_sums", n, d, k);
  require(sums && counts && x && labels, "kmeans_centroid_sums", "null buffer");
  for (int64_t i = 0; i < n; ++i) require(labels[i] >= 0 && labels[i] < k, "kmeans_centroid_sums", "label out of [0, k)");
#pragma omp parallel
  {
    std::vector<double> acc(d);
#pragma omp for schedule(dynamic)
    for (int j = 0; j < k; ++j) {
      std::fill(acc.begin(), acc.end(), 0.0);
      int64_t members = 0;
      for (int64_t i = 0; i < n; ++i) {
        if (labels[i] != j) continue;
        add_row(acc.data(), x + i * d, d);
        ++members;
      }
      for (int f = 0; f < d; ++f) sums[static_cast<int64_t>(j) * d + f] = static_cast<float>(acc[f]);
      counts[j] = members;
    }
  }
}

void kmeans_pp_candidates(float* cand_dist, double* cand_pot, const float* x, const float* x_sqnorm,
                          const float* closest, const int32_t* cand_ids, int64_t n, int d, int t, int groups) {
  check_sizes("kmeans_pp_candidates", n, d, t);
  require(groups >= 1, "kmeans_pp_candidates", "groups must be >= 1");
  require(cand_dist && cand_pot && x && x_sqnorm && cand_ids, "kmeans_pp_candidates", "null buffer");
  const int width = t * groups;  // candidates of all groups, group after group
  std::vector<float> cand(static_cast<size_t>(width) * d);
  std::vector<float> cand_sq(width);
  for (int c = 0; c < width; ++c) {
    require(cand_ids[c] >= 0 && cand_ids[c] < n, "kmeans_pp_candidates", "candidate id out of [0, n)");
    std::copy(x + int64_t(cand_ids[c]) * d, x + int64_t(cand_ids[c] + 1) * d, cand.begin() + int64_t(c) * d);
    cand_sq[c] = x_sqnorm[cand_ids[c]];
  }
  const int64_t tiles = tile_count(n);
  std::vector<double> tile_pot(static_cast<size_t>(tiles) * width, 0.0);
  const float* cand_panels = pack_centres(cand.data(), width, d);
#pragma omp parallel num_threads(threads_for(tiles, double(n) * d * width))
  {
    float* scores = detail::thread_scratch(detail::kScratchGemmOut, static_cast<size_t>(kKMeansTileRows) * width);
    int64_t begin, end;
    detail::static_range(tiles, omp_get_thread_num(), omp_get_num_threads(), begin, end);
    for (int64_t tile = begin; tile < end; ++tile) {
      const int64_t r0 = tile * kKMeansTileRows;
      const int64_t rows = std::min(kKMeansTileRows, n - r0);
      tile_scores(scores, x + r0 * d, rows, cand_panels, cand_sq.data(), d, width);
      double* pot = tile_pot.data() + tile * width;
      for (int64_t r = 0; r < rows; ++r) {
        const int64_t i = r0 + r;
        for (int c = 0; c < width; ++c) {
          float dist = std::max(0.0f, x_sqnorm[i] + scores[r * width + c]);
          if (closest) dist = std::min(dist, closest[int64_t(c / t) * n + i]);
          cand_dist[int64_t(c) * n + i] = dist;
          pot[c] += dist;
        }
      }
    }
  }
  reduce_tile_partials(cand_pot, tile_pot, tiles, width);
}

void kmeans_pp_sample(int32_t* ids, const float* weights, const double* uniforms, int64_t n, int t, int groups) {
  require(ids && weights && uniforms, "kmeans_pp_sample", "null buffer");
  require(n >= 1 && t >= 0 && groups >= 1, "kmeans_pp_sample", "n and groups must be >= 1 and t >= 0");
  std::vector<double> cumulative(n);
  for (int g = 0; g < groups; ++g) {
    const float* w = weights + int64_t(g) * n;
    double total = 0.0;
    int64_t last_positive = 0;
    for (int64_t i = 0; i < n; ++i) {
      total += static_cast<double>(w[i]);
      cumulative[i] = total;
      if (w[i] > 0.0f) last_positive = i;
    }
    for (int r = 0; r < t; ++r) {
      const double target = uniforms[int64_t(g) * t + r] * total;
      // First cumulative value strictly above the target: a zero-weight point never satisfies it
      // before the positive-weight point that follows it. Rounding can push the target to the
      // total: clip to the last point that has a weight.
      const int64_t i = std::upper_bound(cumulative.begin(), cumulative.end(), target) - cumulative.begin();
      ids[int64_t(g) * t + r] = static_cast<int32_t>(std::min(i, last_positive));
    }
  }
}

void kmeans_minibatch_update(float* centers_new, double* counts, const float* centers_old, const float* xb,
                             const int32_t* labels, int64_t b, int d, int k) {
  check_sizes("kmeans_minibatch_update", b, d, k);
  require(centers_new && counts && centers_old && xb && labels, "kmeans_minibatch_update", "null buffer");
  require(centers_new != centers_old, "kmeans_minibatch_update", "centers_new must not alias centers_old");
  for (int64_t i = 0; i < b; ++i)
    require(labels[i] >= 0 && labels[i] < k, "kmeans_minibatch_update", "label out of [0, k)");
  // Work: every centre scans the labels, the members are added, every centre is written.
  const int64_t work = int64_t(k) * b + b * int64_t(d) + int64_t(k) * d;
#pragma omp parallel if (work >= kParallelMinWork)
  {
    std::vector<double> acc(d);
#pragma omp for schedule(static)
    for (int j = 0; j < k; ++j) {
      const float* old_c = centers_old + int64_t(j) * d;
      float* new_c = centers_new + int64_t(j) * d;
      // Undo the previous mean (old centre x its count), add the batch members, divide again.
      for (int f = 0; f < d; ++f) acc[f] = static_cast<double>(old_c[f]) * counts[j];
      int64_t members = 0;
      for (int64_t i = 0; i < b; ++i) {
        if (labels[i] != j) continue;
        add_row(acc.data(), xb + i * d, d);
        ++members;
      }
      if (members == 0) {
        std::copy(old_c, old_c + d, new_c);
        continue;
      }
      counts[j] += static_cast<double>(members);
      const double inv = 1.0 / counts[j];
      for (int f = 0; f < d; ++f) new_c[f] = static_cast<float>(acc[f] * inv);
    }
  }
}

void kmeans_inertia(double* inertia, const float* x, const float* centers, const int32_t* labels, int64_t n, int d,
                    int k, int groups) {
  check_sizes("kmeans_inertia", n, d, k);
  require(groups >= 1, "kmeans_inertia", "groups must be >= 1");
  require(inertia && x && centers && labels, "kmeans_inertia", "null buffer");
  for (int64_t e = 0; e < n * groups; ++e) require(labels[e] >= 0 && labels[e] < k, "kmeans_inertia", "label out of [0, k)");
  const int64_t tiles = tile_count(n);
  std::vector<double> tile_sum(static_cast<size_t>(tiles) * groups, 0.0);
#pragma omp parallel for schedule(static)
  for (int64_t tile = 0; tile < tiles; ++tile) {
    const int64_t r0 = tile * kKMeansTileRows;
    const int64_t r1 = std::min(n, r0 + kKMeansTileRows);
    for (int64_t i = r0; i < r1; ++i) {
      const float* row = x + i * d;
      for (int g = 0; g < groups; ++g) {  // the row stays in L1 for all groups
        const float* c = centers + (int64_t(g) * k + labels[int64_t(g) * n + i]) * d;
        double s = 0.0;
#pragma omp simd reduction(+ : s)
        for (int f = 0; f < d; ++f) {
          const double diff = static_cast<double>(row[f]) - c[f];
          s += diff * diff;
        }
        tile_sum[tile * groups + g] += s;
      }
    }
  }
  reduce_tile_partials(inertia, tile_sum, tiles, groups);
}

}  // namespace zs::cpu
