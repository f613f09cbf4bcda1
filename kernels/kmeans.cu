// The KMeans kernels (API, layouts and how each matches the CPU twin: kmeans.cuh).
//
// Kernel versions:
//   kmeans_assign_kernel1      naive port of the twin: one thread per (point, group), a float dot
//                              product with every centre read from global memory, running argmin.
//   kmeans_assign_kernel2      a block takes kTileRows points and walks the centre tiles of every
//                              group: per tile, kTileCols centres x kTileRows points of dot
//                              products through shared-memory K-tiles of kTileDepth features,
//                              kThreadRowTile x kThreadColTile outputs per thread (register
//                              blocking), the next K-tile prefetched into registers while the
//                              current one is multiplied. Each thread keeps the running argmin of
//                              its rows over its columns; after a group's last tile the
//                              kThreadCols partial minima of a row are merged in shared memory
//                              (ties to the smallest index). No distance matrix is stored. Shipped.
//   kmeans_pp_candidates_kernel   kernel2's tiles against the candidate rows of x (read through
//                              their ids), writing every distance; kmeans_pp_potentials_kernel sums
//                              each candidate's distances (one block per candidate, fixed tree).
//   kmeans_centroid_sums_kernel   one block per (feature chunk, centre, group): each warp scans the
//                              labels 32 at a time with a ballot and adds the members in point
//                              order, float within kKMeansSumBlockPoints blocks, double across.
//                              The members of a centre are found by the scan, so nothing is sorted
//                              and no atomics are needed.
//   kmeans_minibatch_update_kernel  one block per centre, the same ballot scan over the batch.
//   kmeans_pp_sample_kernel    one block per group: contiguous chunks per thread, chunk sums in
//                              double, an in-order prefix over the chunks, then every thread scans
//                              its chunk for the first cumulative weight above each target and the
//                              block takes the smallest index found.
//   row_sqnorms_kernel, kmeans_inertia_kernel   one warp per row, lanes stride over the features
//                              in double, a fixed shuffle tree; inertia partials per fixed chunk of
//                              points, added in chunk order by kmeans_inertia_reduce_kernel.
//   kmeans_argmin_dots_kernel  benchmark baseline: one warp per row of a stored n x k dot-product
//                              matrix, lanes stride over the centres, a shuffle tree merges.
//
// Conventions of kernel2's tile: shared tiles are feature-major (x_tile[kk][row],
// c_tile[kk][col]) with rows padded by kSmemPad floats so that stores and reads are free of bank
// conflicts (row strides 130 and 34 words). Thread (tx, ty) owns rows ty + r * kThreadRowsCount
// and columns tx + c * kThreadCols, so its columns are visited in increasing index order and a
// strict < keeps the first of equal scores.
#include "kernels/common.cuh"

#include <cmath>
#include <cstdint>
#include <stdexcept>
#include <string>

#include "kernels/block_sum.cuh"
#include "kernels/kmeans.cuh"

namespace zs::ZS_KNS {
namespace {

constexpr int kWarp = 32;
constexpr unsigned kFullMask = 0xffffffffu;

// kernel2 tile: kTileRows points x kTileCols centres per pass, kTileDepth features per K-tile.
constexpr int kTileRows = 128;
constexpr int kTileCols = 32;
constexpr int kTileDepth = 16;
constexpr int kThreadRowTile = 8;   // rows per thread
constexpr int kThreadColTile = 4;   // columns per thread
constexpr int kThreadCols = kTileCols / kThreadColTile;      // 8
constexpr int kThreadRowsCount = kTileRows / kThreadRowTile; // 16
constexpr int kTileThreads = kThreadCols * kThreadRowsCount; // 128
constexpr int kSmemPad = 2;
// Resident blocks per SM asked of kmeans_assign_kernel2: at most 128 registers per thread (it takes
// ~167 unbounded), which the 32 accumulators, 20 prefetch registers and 16 running minima fit
// without spilling (checked by -Xptxas -warn-spills for sm_75 and sm_90).
constexpr int kTileMinBlocks = 4;
constexpr int kLoadsX = kTileRows * kTileDepth / kTileThreads;   // 16 x-tile elements per thread
constexpr int kLoadsC = kTileCols * kTileDepth / kTileThreads;   // 4 centre-tile elements per thread
constexpr int kLoadRowStep = kTileThreads / kTileDepth;          // 8: rows between a thread's loads
static_assert(kTileThreads % kTileDepth == 0, "each thread loads along one feature column");
static_assert(kTileRows <= kTileThreads, "one thread per row merges the partial minima");
static_assert(((kTileRows + kSmemPad) / 2) % 2 == 1 && ((kTileCols + kSmemPad) / 2) % 2 == 1,
              "padded row strides must be 2 * odd words for conflict-free stores");

constexpr int kNaiveBlock = 128;      // kernel1: points per block
constexpr int kRowWarps = 8;          // row_sqnorms, inertia: warps per block
constexpr int kSumThreadsMax = 128;   // centroid sums / minibatch: features per block (at most)
constexpr int kSampleThreads = 256;   // kmeans_pp_sample: chunks per group
constexpr int kPotentialThreads = 256;

// kmeans_inertia: points are split into kInertiaChunks fixed contiguous chunks per group; the
// partials of at most kInertiaGroupsPerLaunch groups fit the scratch buffer.
constexpr int kInertiaChunks = 64;
constexpr int kInertiaGroupsPerLaunch = 64;

constexpr int64_t kMaxGridX = 0x7fffffff;
constexpr int kMaxGridYZ = 65535;

void require(bool ok, const char* op, const std::string& what) {
  if (!ok) throw std::invalid_argument(std::string(op) + ": " + what);
}

void check_sizes(const char* op, int64_t n, int d, int k, int groups) {
  require(n >= 1 && n <= 0x7fffffff, op, "n must be in [1, 2^31 - 1] (got " + std::to_string(n) + ")");
  require(d >= 1, op, "d must be >= 1 (got " + std::to_string(d) + ")");
  require(k >= 1, op, "k must be >= 1 (got " + std::to_string(k) + ")");
  require(groups >= 1, op, "groups must be >= 1 (got " + std::to_string(groups) + ")");
}

unsigned blocks_for(int64_t count, int per_block, const char* op) {
  const int64_t blocks = (count + per_block - 1) / per_block;
  require(blocks <= kMaxGridX, op, "too many elements for one launch");
  return unsigned(blocks);
}

int sum_threads_for(int d) { return d >= kSumThreadsMax ? kSumThreadsMax : (d + kWarp - 1) / kWarp * kWarp; }

}  // namespace

// Partial inertias [group in launch][chunk]: a device global (nothing to allocate or free).

// ---- shared device helpers ----

// A double product that nvcc must not fuse with a following add (the twin rounds it).
static __device__ __forceinline__ double mul_rn(double a, double b) {
#if ZS_EMULATED
  return a * b;
#else
  return __dmul_rn(a, b);
#endif
}


// (score, index) a is better than b: smaller score, or the same score and a smaller index.
static __device__ __forceinline__ bool better(float score_a, int idx_a, float score_b, int idx_b) {
  return score_a < score_b || (score_a == score_b && idx_a < idx_b);
}

// The clamped squared distance from ||x||^2 and the score ||c||^2 - 2 x.c (the twin's order).
static __device__ __forceinline__ float clamped_distance(float x_sq, float score) {
  const float v = x_sq + score;
  return v > 0.f ? v : 0.f;   // NaN -> 0, as std::max(0.f, v)
}

// ---- row_sqnorms: one warp per row ----

static __global__ void __launch_bounds__(kRowWarps * kWarp)
    row_sqnorms_kernel(float* __restrict__ sqnorm, const float* __restrict__ x, int64_t n, int d) {
  const int lane = threadIdx.x % kWarp;
  const int64_t row = int64_t(blockIdx.x) * kRowWarps + threadIdx.x / kWarp;
  if (row >= n) return;   // whole warps exit together
  const float* p = x + row * d;
  double s = 0.0;
  for (int f = lane; f < d; f += kWarp) s += double(p[f]) * double(p[f]);   // exact product in double
  s = warp_sum(s);
  if (lane == 0) sqnorm[row] = float(s);
}

// ---- kmeans_assign version 1: one thread per (point, group) ----

static __global__ void __launch_bounds__(kNaiveBlock)
    kmeans_assign_kernel1(int32_t* __restrict__ labels, float* __restrict__ min_dist, const float* __restrict__ x,
                          const float* __restrict__ x_sqnorm, const float* __restrict__ centers,
                          const float* __restrict__ c_sqnorm, int64_t n, int d, int k) {
  const int64_t i = int64_t(blockIdx.x) * kNaiveBlock + threadIdx.x;
  const int g = blockIdx.y;
  if (i >= n) return;
  const float* row = x + i * d;
  const float* group_centers = centers + int64_t(g) * k * d;
  int best = 0;
  float best_score = 0.f;
  for (int j = 0; j < k; ++j) {
    const float* c = group_centers + int64_t(j) * d;
    float dot = 0.f;
    for (int f = 0; f < d; ++f) dot = fmaf(row[f], c[f], dot);
    const float score = fmaf(-2.f, dot, c_sqnorm[int64_t(g) * k + j]);
    if (j == 0 || score < best_score) {
      best_score = score;
      best = j;
    }
  }
  labels[int64_t(g) * n + i] = best;
  if (min_dist) min_dist[int64_t(g) * n + i] = clamped_distance(x_sqnorm[i], best_score);
}

// ---- kernel2's tile: dot products of kTileRows points x kTileCols centres ----

// Where the centres of a tile come from: rows of a dense [k][d] block, or rows of x picked by ids.
struct CentreRows {
  const float* dense;     // [count][d], or null when ids is used
  const float* x;         // the points, when ids is used
  const int32_t* ids;     // [count] row ids into x, or null
  int count;              // centres in this group
};

struct TileLoads {
  float xr[kLoadsX];
  float cr[kLoadsC];
};

// Where this thread's loads of every K-tile of one (point tile, centre tile) pass come from: x
// rows row0 + lr + kLoadRowStep * l and centre columns col0 + lr + kLoadRowStep * l at feature
// k0 + lk. Computed once per pass, so a fetch is a few adds away from its addresses. Dense
// centres are strided like the points; centres given by ids (k-means++ candidates) keep one row
// pointer per load.
template <bool kById>
struct TileCursor {
  const float* x_row;   // x row row0 + lr at feature lk
  const float* c_row;   // dense: centre col0 + lr at feature lk
  const float* c_rows[kById ? kLoadsC : 1];   // by id: each load's row at feature lk, null outside
  int64_t x_step, c_step;   // kLoadRowStep rows
  int x_rows_left;          // rows from x_row to the end of x
  int c_cols_left;          // dense: centres from c_row to the end of the group
  int lk;
};

template <bool kById>
static __device__ __forceinline__ TileCursor<kById> make_cursor(const float* x, int64_t n, int d, int64_t row0,
                                                                const CentreRows& centres, int col0) {
  TileCursor<kById> cur;
  cur.lk = threadIdx.x % kTileDepth;
  const int lr = threadIdx.x / kTileDepth;
  cur.x_row = x + (row0 + lr) * d + cur.lk;
  cur.x_step = int64_t(kLoadRowStep) * d;
  cur.x_rows_left = int(n - (row0 + lr));
  cur.c_cols_left = centres.count - (col0 + lr);
  if constexpr (kById) {
    cur.c_row = nullptr;
    cur.c_step = 0;
#pragma unroll
    for (int l = 0; l < kLoadsC; ++l) {
      const int j = col0 + lr + kLoadRowStep * l;
      cur.c_rows[l] = j < centres.count ? centres.x + int64_t(centres.ids[j]) * d + cur.lk : nullptr;
    }
  } else {
    cur.c_row = centres.dense + int64_t(col0 + lr) * d + cur.lk;
    cur.c_step = cur.x_step;
    cur.c_rows[0] = nullptr;
  }
  return cur;
}

// This thread's share of the K-tile at k0, zero outside the points, centres and features.
template <bool kById>
static __device__ __forceinline__ void fetch_tile(TileLoads& t, const TileCursor<kById>& cur, int d, int k0) {
  const bool f_ok = k0 + cur.lk < d;
#pragma unroll
  for (int l = 0; l < kLoadsX; ++l)
    t.xr[l] = (f_ok && kLoadRowStep * l < cur.x_rows_left) ? cur.x_row[l * cur.x_step + k0] : 0.f;
#pragma unroll
  for (int l = 0; l < kLoadsC; ++l) {
    if constexpr (kById)
      t.cr[l] = (f_ok && cur.c_rows[l]) ? cur.c_rows[l][k0] : 0.f;
    else
      t.cr[l] = (f_ok && kLoadRowStep * l < cur.c_cols_left) ? cur.c_row[l * cur.c_step + k0] : 0.f;
  }
}

static __device__ __forceinline__ void stage_tile(float (*x_tile)[kTileRows + kSmemPad],
                                                  float (*c_tile)[kTileCols + kSmemPad], const TileLoads& t) {
  const int lk = threadIdx.x % kTileDepth, lr = threadIdx.x / kTileDepth;
#pragma unroll
  for (int l = 0; l < kLoadsX; ++l) x_tile[lk][lr + kLoadRowStep * l] = t.xr[l];
#pragma unroll
  for (int l = 0; l < kLoadsC; ++l) c_tile[lk][lr + kLoadRowStep * l] = t.cr[l];
}

// acc[r][c] = x_{row0 + ty + r * kThreadRowsCount} . centre_{col0 + tx + c * kThreadCols} over all d.
template <bool kById>
static __device__ __forceinline__ void tile_dots(float (&acc)[kThreadRowTile][kThreadColTile],
                                                 float (*x_tile)[kTileRows + kSmemPad],
                                                 float (*c_tile)[kTileCols + kSmemPad], const float* x, int64_t n,
                                                 int d, int64_t row0, const CentreRows& centres, int col0) {
  const int tx = threadIdx.x % kThreadCols, ty = threadIdx.x / kThreadCols;
#pragma unroll
  for (int r = 0; r < kThreadRowTile; ++r)
#pragma unroll
    for (int c = 0; c < kThreadColTile; ++c) acc[r][c] = 0.f;
  const TileCursor<kById> cur = make_cursor<kById>(x, n, d, row0, centres, col0);
  TileLoads loads;
  fetch_tile(loads, cur, d, 0);
  for (int k0 = 0; k0 < d; k0 += kTileDepth) {
    stage_tile(x_tile, c_tile, loads);
    __syncthreads();
    if (k0 + kTileDepth < d) fetch_tile(loads, cur, d, k0 + kTileDepth);   // in flight
#pragma unroll
    for (int kk = 0; kk < kTileDepth; ++kk) {
      float xv[kThreadRowTile], cv[kThreadColTile];
#pragma unroll
      for (int r = 0; r < kThreadRowTile; ++r) xv[r] = x_tile[kk][ty + r * kThreadRowsCount];
#pragma unroll
      for (int c = 0; c < kThreadColTile; ++c) cv[c] = c_tile[kk][tx + c * kThreadCols];
#pragma unroll
      for (int r = 0; r < kThreadRowTile; ++r)
#pragma unroll
        for (int c = 0; c < kThreadColTile; ++c) acc[r][c] = fmaf(xv[r], cv[c], acc[r][c]);
    }
    __syncthreads();   // the next K-tile overwrites the shared tiles
  }
}

// ---- kmeans_assign version 2: tiles + fused running argmin ----

static __global__ void __launch_bounds__(kTileThreads, kTileMinBlocks)
    kmeans_assign_kernel2(int32_t* __restrict__ labels, float* __restrict__ min_dist, const float* __restrict__ x,
                          const float* __restrict__ x_sqnorm, const float* __restrict__ centers,
                          const float* __restrict__ c_sqnorm, int64_t n, int d, int k, int groups) {
  STATIC_SHARED(float, x_tile, [kTileDepth][kTileRows + kSmemPad]);
  STATIC_SHARED(float, c_tile, [kTileDepth][kTileCols + kSmemPad]);
  STATIC_SHARED(float, merge_score, [kTileRows][kThreadCols]);
  STATIC_SHARED(int, merge_index, [kTileRows][kThreadCols]);
  const int tx = threadIdx.x % kThreadCols, ty = threadIdx.x / kThreadCols;
  const int64_t row0 = int64_t(blockIdx.x) * kTileRows;
  for (int g = 0; g < groups; ++g) {
    const CentreRows centres{centers + int64_t(g) * k * d, nullptr, nullptr, k};
    const float* group_c_sqnorm = c_sqnorm + int64_t(g) * k;
    float best_score[kThreadRowTile];
    int best_index[kThreadRowTile];
#pragma unroll
    for (int r = 0; r < kThreadRowTile; ++r) {
      best_score[r] = INFINITY;
      best_index[r] = 0;
    }
    for (int col0 = 0; col0 < k; col0 += kTileCols) {
      float acc[kThreadRowTile][kThreadColTile];
      tile_dots<false>(acc, x_tile, c_tile, x, n, d, row0, centres, col0);
#pragma unroll
      for (int c = 0; c < kThreadColTile; ++c) {
        const int j = col0 + tx + c * kThreadCols;   // increasing in (col0, c): strict < keeps the first
        if (j >= k) continue;
        const float cs = group_c_sqnorm[j];
#pragma unroll
        for (int r = 0; r < kThreadRowTile; ++r) {
          const float score = fmaf(-2.f, acc[r][c], cs);
          if (score < best_score[r]) {
            best_score[r] = score;
            best_index[r] = j;
          }
        }
      }
    }
#pragma unroll
    for (int r = 0; r < kThreadRowTile; ++r) {
      merge_score[ty + r * kThreadRowsCount][tx] = best_score[r];
      merge_index[ty + r * kThreadRowsCount][tx] = best_index[r];
    }
    __syncthreads();
    if (threadIdx.x < kTileRows) {
      const int row = threadIdx.x;
      float s = merge_score[row][0];
      int idx = merge_index[row][0];
      for (int c = 1; c < kThreadCols; ++c)
        if (better(merge_score[row][c], merge_index[row][c], s, idx)) {
          s = merge_score[row][c];
          idx = merge_index[row][c];
        }
      const int64_t i = row0 + row;
      if (i < n) {
        labels[int64_t(g) * n + i] = idx;
        if (min_dist) min_dist[int64_t(g) * n + i] = clamped_distance(x_sqnorm[i], s);
      }
    }
    __syncthreads();   // the next group overwrites the merge arrays
  }
}

// ---- k-means++ candidates: kernel2's tiles against rows of x, every distance written ----

static __global__ void __launch_bounds__(kTileThreads)
    kmeans_pp_candidates_kernel(float* __restrict__ cand_dist, const float* __restrict__ x,
                                const float* __restrict__ x_sqnorm, const float* __restrict__ closest,
                                const int32_t* __restrict__ cand_ids, int64_t n, int d, int t) {
  STATIC_SHARED(float, x_tile, [kTileDepth][kTileRows + kSmemPad]);
  STATIC_SHARED(float, c_tile, [kTileDepth][kTileCols + kSmemPad]);
  const int tx = threadIdx.x % kThreadCols, ty = threadIdx.x / kThreadCols;
  const int64_t row0 = int64_t(blockIdx.x) * kTileRows;
  const int g = blockIdx.y;
  const int32_t* ids = cand_ids + int64_t(g) * t;
  const CentreRows centres{nullptr, x, ids, t};
  for (int col0 = 0; col0 < t; col0 += kTileCols) {
    float acc[kThreadRowTile][kThreadColTile];
    tile_dots<true>(acc, x_tile, c_tile, x, n, d, row0, centres, col0);
#pragma unroll
    for (int c = 0; c < kThreadColTile; ++c) {
      const int j = col0 + tx + c * kThreadCols;
      if (j >= t) continue;
      const float cs = x_sqnorm[ids[j]];
      float* out = cand_dist + (int64_t(g) * t + j) * n;
#pragma unroll
      for (int r = 0; r < kThreadRowTile; ++r) {
        const int64_t i = row0 + ty + r * kThreadRowsCount;
        if (i >= n) continue;
        float dist = clamped_distance(x_sqnorm[i], fmaf(-2.f, acc[r][c], cs));
        if (closest) {
          const float cl = closest[int64_t(g) * n + i];
          dist = cl < dist ? cl : dist;   // std::min(dist, cl)
        }
        out[i] = dist;
      }
    }
  }
}

// cand_pot[c] = sum_i cand_dist[c][i] in double: thread t adds points t, t + blockDim, ... then a
// fixed halving tree. One block per candidate (of all groups).
static __global__ void __launch_bounds__(kPotentialThreads)
    kmeans_pp_potentials_kernel(double* __restrict__ cand_pot, const float* __restrict__ cand_dist, int64_t n) {
  STATIC_SHARED(double, partial, [kPotentialThreads]);
  const float* dist = cand_dist + int64_t(blockIdx.x) * n;
  double s = 0.0;
  for (int64_t i = threadIdx.x; i < n; i += kPotentialThreads) s += dist[i];
  partial[threadIdx.x] = s;
  __syncthreads();
  for (int half = kPotentialThreads / 2; half > 0; half /= 2) {
    if (int(threadIdx.x) < half) partial[threadIdx.x] += partial[threadIdx.x + half];
    __syncthreads();
  }
  if (threadIdx.x == 0) cand_pot[blockIdx.x] = partial[0];
}

// ---- k-means++ D^2 sampling: one block per group ----

static __global__ void __launch_bounds__(kSampleThreads)
    kmeans_pp_sample_kernel(int32_t* __restrict__ ids, const float* __restrict__ weights,
                            const double* __restrict__ uniforms, int64_t n, int t) {
  STATIC_SHARED(double, chunk_start, [kSampleThreads]);   // cumulative weight before each chunk
  STATIC_SHARED(int64_t, chunk_value, [kSampleThreads]);  // last positive index, then first index found
  STATIC_SHARED(double, total_weight, );
  STATIC_SHARED(int64_t, last_positive, );
  const int g = blockIdx.x;
  const float* w = weights + int64_t(g) * n;
  const int64_t per_chunk = (n + kSampleThreads - 1) / kSampleThreads;
  const int64_t lo = per_chunk * threadIdx.x;
  const int64_t hi = lo + per_chunk < n ? lo + per_chunk : n;
  double sum = 0.0;
  int64_t last = -1;
  for (int64_t i = lo; i < hi; ++i) {
    sum += double(w[i]);
    if (w[i] > 0.f) last = i;
  }
  chunk_start[threadIdx.x] = sum;
  chunk_value[threadIdx.x] = last;
  __syncthreads();
  if (threadIdx.x == 0) {   // in-order exclusive prefix over the chunks
    double running = 0.0;
    int64_t last_pos = 0;   // the twin's default when no weight is positive
    for (int c = 0; c < kSampleThreads; ++c) {
      const double s = chunk_start[c];
      chunk_start[c] = running;
      running += s;
      if (chunk_value[c] >= 0) last_pos = chunk_value[c];
    }
    total_weight = running;
    last_positive = last_pos;
  }
  __syncthreads();
  for (int r = 0; r < t; ++r) {
    const double target = uniforms[int64_t(g) * t + r] * total_weight;
    double cumulative = chunk_start[threadIdx.x];
    int64_t found = n;   // none in this chunk
    for (int64_t i = lo; i < hi; ++i) {
      cumulative += double(w[i]);
      if (cumulative > target) {
        found = i;
        break;
      }
    }
    chunk_value[threadIdx.x] = found;
    __syncthreads();
    if (threadIdx.x == 0) {
      int64_t first = n;
      for (int c = 0; c < kSampleThreads; ++c) first = chunk_value[c] < first ? chunk_value[c] : first;
      ids[int64_t(g) * t + r] = int32_t(first < last_positive ? first : last_positive);
    }
    __syncthreads();   // chunk_value is reused by the next target
  }
}

// ---- centroid sums: one block per (feature chunk, centre, group) ----

static __global__ void __launch_bounds__(kSumThreadsMax)
    kmeans_centroid_sums_kernel(float* __restrict__ sums, int64_t* __restrict__ counts, const float* __restrict__ x,
                                const int32_t* __restrict__ labels, int64_t n, int d, int k) {
  const int j = blockIdx.y, g = blockIdx.z;
  const int64_t f = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  const int lane = threadIdx.x % kWarp;
  const int32_t* lab = labels + int64_t(g) * n;
  double total = 0.0;
  float block_sum = 0.f;
  int64_t block = 0, members = 0;
  for (int64_t base = 0; base < n; base += kWarp) {
    const int64_t i = base + lane;
    unsigned mask = __ballot_sync(kFullMask, i < n && lab[i] == j);
    members += __popc(mask);
    while (mask) {   // the members of these 32 points, in point order
      const int64_t m = base + (__ffs(int(mask)) - 1);
      mask &= mask - 1;
      if (m / kKMeansSumBlockPoints != block) {
        total += double(block_sum);
        block_sum = 0.f;
        block = m / kKMeansSumBlockPoints;
      }
      if (f < d) block_sum += x[m * d + f];
    }
  }
  total += double(block_sum);
  if (f < d) sums[(int64_t(g) * k + j) * d + f] = float(total);
  if (blockIdx.x == 0 && threadIdx.x == 0) counts[int64_t(g) * k + j] = members;
}

// ---- minibatch update: one block per centre ----

static __global__ void __launch_bounds__(kSumThreadsMax)
    kmeans_minibatch_update_kernel(float* __restrict__ centers_new, double* __restrict__ counts,
                                   const float* __restrict__ centers_old, const float* __restrict__ xb,
                                   const int32_t* __restrict__ labels, int64_t b, int d) {
  const int j = blockIdx.x;
  const int lane = threadIdx.x % kWarp;
  const double count = counts[j];   // read by every thread before thread 0 writes it (barrier below)
  int64_t members = 0;
  for (int f0 = 0; f0 < d; f0 += blockDim.x) {   // every thread runs every chunk (the ballots)
    const int f = f0 + threadIdx.x;
    const float old = f < d ? centers_old[int64_t(j) * d + f] : 0.f;
    double acc = mul_rn(double(old), count);
    members = 0;
    for (int64_t base = 0; base < b; base += kWarp) {
      const int64_t i = base + lane;
      unsigned mask = __ballot_sync(kFullMask, i < b && labels[i] == j);
      members += __popc(mask);
      while (mask) {
        const int64_t m = base + (__ffs(int(mask)) - 1);
        mask &= mask - 1;
        if (f < d) acc += double(xb[m * d + f]);
      }
    }
    if (f < d) {
      float* out = centers_new + int64_t(j) * d + f;
      if (members == 0) {
        *out = old;
      } else {
        const double inv = 1.0 / (count + double(members));
        *out = float(mul_rn(acc, inv));
      }
    }
  }
  __syncthreads();
  if (threadIdx.x == 0 && members > 0) counts[j] = count + double(members);
}

// ---- the unfused baseline's argmin: one warp per row of stored dot products ----

static __global__ void __launch_bounds__(kRowWarps * kWarp)
    kmeans_argmin_dots_kernel(int32_t* __restrict__ labels, float* __restrict__ min_dist,
                              const float* __restrict__ dots, const float* __restrict__ x_sqnorm,
                              const float* __restrict__ c_sqnorm, int64_t n, int k) {
  const int lane = threadIdx.x % kWarp;
  const int64_t row = int64_t(blockIdx.x) * kRowWarps + threadIdx.x / kWarp;
  if (row >= n) return;   // whole warps exit together
  float best = INFINITY;
  int best_j = k;   // beyond every centre: loses every tie
  for (int j = lane; j < k; j += kWarp) {   // increasing j per lane: strict < keeps the first
    const float score = fmaf(-2.f, dots[row * k + j], c_sqnorm[j]);
    if (score < best) best = score, best_j = j;
  }
  for (int offset = kWarp / 2; offset > 0; offset /= 2) {
    const float other = __shfl_down_sync(kFullMask, best, offset);
    const int other_j = __shfl_down_sync(kFullMask, best_j, offset);
    if (better(other, other_j, best, best_j)) best = other, best_j = other_j;
  }
  if (lane == 0) {
    labels[row] = best_j < k ? best_j : 0;   // all scores NaN: centre 0, as the twin
    if (min_dist) min_dist[row] = clamped_distance(x_sqnorm[row], best);
  }
}

// ---- inertia: one warp per point, fixed chunks of points, partials added in chunk order ----

static __global__ void __launch_bounds__(kRowWarps * kWarp)
    kmeans_inertia_kernel(const float* __restrict__ x, const float* __restrict__ centers,
                          const int32_t* __restrict__ labels, double* __restrict__ partials, int64_t n, int d,
                          int k, int group0) {
  STATIC_SHARED(double, warp_total, [kRowWarps]);
  const int chunk = blockIdx.x, slot = blockIdx.y, g = group0 + slot;
  const int warp = threadIdx.x / kWarp, lane = threadIdx.x % kWarp;
  const int64_t per_chunk = (n + kInertiaChunks - 1) / kInertiaChunks;
  const int64_t lo = per_chunk * chunk;
  const int64_t hi = lo + per_chunk < n ? lo + per_chunk : n;
  double total = 0.0;   // this warp's points, in point order
  for (int64_t i = lo + warp; i < hi; i += kRowWarps) {
    const float* row = x + i * d;
    const float* c = centers + (int64_t(g) * k + labels[int64_t(g) * n + i]) * d;
    double s = 0.0;
    for (int f = lane; f < d; f += kWarp) {
      const double diff = double(row[f]) - double(c[f]);
      s += diff * diff;
    }
    s = warp_sum(s);
    total += s;   // lane 0's value is the one that counts
  }
  if (lane == 0) warp_total[warp] = total;
  __syncthreads();
  if (threadIdx.x == 0) {
    double s = 0.0;
    for (int w = 0; w < kRowWarps; ++w) s += warp_total[w];
    partials[slot * kInertiaChunks + chunk] = s;   // lint: 32-bit ok (slot < kInertiaGroupsPerLaunch)
  }
}

static __global__ void kmeans_inertia_reduce_kernel(double* __restrict__ inertia, const double* __restrict__ partials,
                                                    int group0, int count) {
  const int slot = threadIdx.x;
  if (slot >= count) return;
  double s = 0.0;
  for (int c = 0; c < kInertiaChunks; ++c) s += partials[slot * kInertiaChunks + c];
  inertia[group0 + slot] = s;
}

// ---- public entries: argument checks, launches ----

void row_sqnorms(float* sqnorm, const float* x, int64_t n, int d, cudaStream_t stream) {
  require(sqnorm && x, "row_sqnorms", "sqnorm and x must not be null");
  require(n >= 0 && d >= 1, "row_sqnorms", "n must be >= 0 and d >= 1");
  if (n == 0) return;
  LAUNCH(row_sqnorms_kernel, blocks_for(n, kRowWarps, "row_sqnorms"), kRowWarps * kWarp, 0, stream)(sqnorm, x, n, d);
  KERNEL_CHECK();
}

void kmeans_assign(int32_t* labels, float* min_dist, const float* x, const float* x_sqnorm, const float* centers,
                   const float* c_sqnorm, int64_t n, int d, int k, int groups, cudaStream_t stream, int version) {
  const char* op = "kmeans_assign";
  require(version >= 1 && version <= kKMeansAssignKernelVersions, op,
          "kernel version " + std::to_string(version) + " does not exist");
  check_sizes(op, n, d, k, groups);
  require(labels && x && x_sqnorm && centers && c_sqnorm, op, "labels, x, x_sqnorm, centers and c_sqnorm must not be null");
  if (version == 1) {
    require(groups <= kMaxGridYZ, op, "too many groups for kernel version 1");
    const dim3 grid(blocks_for(n, kNaiveBlock, op), unsigned(groups));
    LAUNCH(kmeans_assign_kernel1, grid, kNaiveBlock, 0, stream)(labels, min_dist, x, x_sqnorm, centers, c_sqnorm, n,
                                                                 d, k);
  } else {
    LAUNCH(kmeans_assign_kernel2, blocks_for(n, kTileRows, op), kTileThreads, 0, stream)(
        labels, min_dist, x, x_sqnorm, centers, c_sqnorm, n, d, k, groups);
  }
  KERNEL_CHECK();
}

void kmeans_centroid_sums(float* sums, int64_t* counts, const float* x, const int32_t* labels, int64_t n, int d,
                          int k, int groups, cudaStream_t stream) {
  const char* op = "kmeans_centroid_sums";
  check_sizes(op, n, d, k, groups);
  require(sums && counts && x && labels, op, "sums, counts, x and labels must not be null");
  require(k <= kMaxGridYZ && groups <= kMaxGridYZ, op, "k and groups must be at most 65535");
  const int threads = sum_threads_for(d);
  const dim3 grid(unsigned((d + threads - 1) / threads), unsigned(k), unsigned(groups));
  LAUNCH(kmeans_centroid_sums_kernel, grid, threads, 0, stream)(sums, counts, x, labels, n, d, k);
  KERNEL_CHECK();
}

void kmeans_lloyd_pass(int32_t* labels, float* min_dist, float* sums, int64_t* counts, const float* x,
                       const float* x_sqnorm, const float* centers, const float* c_sqnorm, int64_t n, int d, int k,
                       int groups, cudaStream_t stream, int version) {
  kmeans_assign(labels, min_dist, x, x_sqnorm, centers, c_sqnorm, n, d, k, groups, stream, version);
  kmeans_centroid_sums(sums, counts, x, labels, n, d, k, groups, stream);
}

void kmeans_pp_candidates(float* cand_dist, double* cand_pot, const float* x, const float* x_sqnorm,
                          const float* closest, const int32_t* cand_ids, int64_t n, int d, int t, int groups,
                          cudaStream_t stream) {
  const char* op = "kmeans_pp_candidates";
  check_sizes(op, n, d, t, groups);
  require(cand_dist && cand_pot && x && x_sqnorm && cand_ids, op,
          "cand_dist, cand_pot, x, x_sqnorm and cand_ids must not be null");
  require(groups <= kMaxGridYZ, op, "groups must be at most 65535");
  require(int64_t(t) * groups <= kMaxGridX, op, "too many candidates");
  const dim3 grid(blocks_for(n, kTileRows, op), unsigned(groups));
  LAUNCH(kmeans_pp_candidates_kernel, grid, kTileThreads, 0, stream)(cand_dist, x, x_sqnorm, closest, cand_ids, n, d,
                                                                      t);
  KERNEL_CHECK();
  LAUNCH(kmeans_pp_potentials_kernel, unsigned(int64_t(t) * groups), kPotentialThreads, 0, stream)(cand_pot, cand_dist,
                                                                                                    n);
  KERNEL_CHECK();
}

void kmeans_pp_sample(int32_t* ids, const float* weights, const double* uniforms, int64_t n, int t, int groups,
                      cudaStream_t stream) {
  const char* op = "kmeans_pp_sample";
  require(ids && weights && uniforms, op, "ids, weights and uniforms must not be null");
  require(n >= 1 && n <= 0x7fffffff && t >= 0 && groups >= 1, op, "n must be in [1, 2^31 - 1], t >= 0, groups >= 1");
  if (t == 0) return;
  LAUNCH(kmeans_pp_sample_kernel, unsigned(groups), kSampleThreads, 0, stream)(ids, weights, uniforms, n, t);
  KERNEL_CHECK();
}

void kmeans_minibatch_update(float* centers_new, double* counts, const float* centers_old, const float* xb,
                             const int32_t* labels, int64_t b, int d, int k, cudaStream_t stream) {
  const char* op = "kmeans_minibatch_update";
  check_sizes(op, b, d, k, 1);
  require(centers_new && counts && centers_old && xb && labels, op,
          "centers_new, counts, centers_old, xb and labels must not be null");
  require(centers_new != centers_old, op, "centers_new must not alias centers_old");
  LAUNCH(kmeans_minibatch_update_kernel, unsigned(k), sum_threads_for(d), 0, stream)(centers_new, counts, centers_old,
                                                                                     xb, labels, b, d);
  KERNEL_CHECK();
}

void kmeans_argmin_dots(int32_t* labels, float* min_dist, const float* dots, const float* x_sqnorm,
                        const float* c_sqnorm, int64_t n, int k, cudaStream_t stream) {
  const char* op = "kmeans_argmin_dots";
  check_sizes(op, n, 1, k, 1);
  require(labels && dots && x_sqnorm && c_sqnorm, op, "labels, dots, x_sqnorm and c_sqnorm must not be null");
  LAUNCH(kmeans_argmin_dots_kernel, blocks_for(n, kRowWarps, op), kRowWarps * kWarp, 0, stream)(
      labels, min_dist, dots, x_sqnorm, c_sqnorm, n, k);
  KERNEL_CHECK();
}

void kmeans_inertia(double* inertia, const float* x, const float* centers, const int32_t* labels, int64_t n, int d,
                    int k, int groups, double* workspace, cudaStream_t stream) {
  const char* op = "kmeans_inertia";
  check_sizes(op, n, d, k, groups);
  require(inertia && x && centers && labels && workspace, op,
          "inertia, x, centers, labels and workspace must not be null");
  for (int group0 = 0; group0 < groups; group0 += kInertiaGroupsPerLaunch) {
    const int count = groups - group0 < kInertiaGroupsPerLaunch ? groups - group0 : kInertiaGroupsPerLaunch;
    const dim3 grid(kInertiaChunks, unsigned(count));
    LAUNCH(kmeans_inertia_kernel, grid, kRowWarps * kWarp, 0, stream)(x, centers, labels, workspace, n, d, k,
                                                                      group0);
    KERNEL_CHECK();
    LAUNCH(kmeans_inertia_reduce_kernel, 1, kInertiaGroupsPerLaunch, 0, stream)(inertia, workspace, group0, count);
    KERNEL_CHECK();
  }
}

size_t kmeans_inertia_workspace(int groups) {
  return size_t(groups < kInertiaGroupsPerLaunch ? (groups > 0 ? groups : 1) : kInertiaGroupsPerLaunch) *
         kInertiaChunks;
}

}  // namespace zs::ZS_KNS
