// The t-SNE kernels (API, layouts and how each matches the CPU twin: tsne.cuh; scalar arithmetic:
// tsne_math.h).
//
// Kernel versions (one each):
//   tsne_knn_kernel            a block owns kKnnRows query rows and walks the candidates in tiles of
//                              kKnnCols: the squared distances of the tile come from shared-memory
//                              K-tiles of kKnnDepth features, kKnnRowsPerThread rows per thread (an
//                              fma chain in feature order, the twin's), then each warp merges its
//                              rows' tile into their sorted top-k lists (kept in the outputs): a
//                              ballot finds the candidates under the current k-th distance, lane 0
//                              inserts them in index order, so ties keep the smaller index.
//   tsne_conditional_p_kernel  one thread per row: the bisection of tsne_math.h in double.
//   tsne_symmetrize kernels    tsne_count_in_kernel (one thread per edge: integer atomics, so the
//                              counts are exact in any order), tsne_scan_kernel (one block:
//                              contiguous chunks, their offsets in order), tsne_scatter_in_kernel
//                              (an edge to a free slot of its target's bucket: any order),
//                              tsne_rank_edges_kernel (one thread per edge: its rank among its
//                              row's columns and among its bucket's sources fixes where it goes, so
//                              the result has no trace of the scatter's order),
//                              tsne_merge_rows_kernel (one thread per row, tsne_merge_row) and
//                              tsne_sum_rows_kernel (one block, the twin's chunks and tree).
//   tsne_attractive_kernel     one thread per CSR row, in column order.
//   tsne_repulsive_kernel      one thread per point; the points pass through shared memory in tiles
//                              of kTsneRepulsionTile, float within a tile, double across tiles.
//   tsne_gradient_step_kernel  one block of kTsneStepThreads: chunk sums in double, a halving tree,
//                              then every thread updates its chunk of coordinates.
#include "kernels/common.cuh"

#include <cmath>
#include <cstdint>
#include <stdexcept>
#include <string>

#include "kernels/tsne.cuh"
#include "kernels/tsne_math.h"

namespace zs::ZS_KNS {
namespace {

constexpr int kWarp = 32;
constexpr unsigned kFullMask = 0xffffffffu;

constexpr int kKnnRows = 32;                                   // query rows per block
constexpr int kKnnCols = 64;                                   // candidates per tile
constexpr int kKnnDepth = 16;                                  // features per K-tile
constexpr int kKnnThreads = 256;
constexpr int kKnnRowGroups = kKnnThreads / kKnnCols;          // 4
constexpr int kKnnRowsPerThread = kKnnRows / kKnnRowGroups;    // 8
constexpr int kKnnWarps = kKnnThreads / kWarp;                 // 8
constexpr int kKnnLoadsQ = kKnnRows * kKnnDepth / kKnnThreads; // 2
constexpr int kKnnLoadsC = kKnnCols * kKnnDepth / kKnnThreads; // 4
static_assert(kKnnCols == 2 * kWarp, "a warp merges a tile as two ballots");
static_assert(kKnnThreads % kKnnCols == 0 && kKnnRows % kKnnRowGroups == 0);

constexpr int kRowThreads = 128;   // conditional P, attraction, symmetrisation: rows per block
constexpr int kEdgeThreads = 256;  // symmetrisation: edges per block
constexpr int kScanThreads = 256;  // the one block of a scan
constexpr int kRepulsionThreads = kTsneRepulsionTile;

constexpr int64_t kMaxGridX = 0x7fffffff;

void require(bool ok, const char* op, const std::string& what) {
  if (!ok) throw std::invalid_argument(std::string(op) + ": " + what);
}

unsigned blocks_for(int64_t count, int per_block, const char* op) {
  const int64_t blocks = (count + per_block - 1) / per_block;
  require(blocks >= 1 && blocks <= kMaxGridX, op, "bad number of elements for one launch");
  return unsigned(blocks);
}

void check_n(const char* op, int64_t n, int64_t min_n) {
  require(n >= min_n && n <= 0x7fffffff, op,
          "n must be in [" + std::to_string(min_n) + ", 2^31 - 1] (got " + std::to_string(n) + ")");
}

}  // namespace

// ---- tsne_knn ----

static __global__ void __launch_bounds__(kKnnThreads)
    tsne_knn_kernel(int32_t* __restrict__ idx, float* __restrict__ dist, const float* __restrict__ x, int64_t n,
                    int d, int k) {
  STATIC_SHARED(float, q_tile, [kKnnDepth][kKnnRows + 1]);
  STATIC_SHARED(float, c_tile, [kKnnDepth][kKnnCols + 1]);
  STATIC_SHARED(float, d_tile, [kKnnRows][kKnnCols + 1]);
  const int tid = threadIdx.x, lane = tid % kWarp, warp = tid / kWarp;
  const int col = tid % kKnnCols, row_group = tid / kKnnCols;
  const int64_t row0 = int64_t(blockIdx.x) * kKnnRows;

  // Each warp owns rows warp, warp + kKnnWarps, ...: it alone reads and writes their lists.
  for (int r = warp; r < kKnnRows; r += kKnnWarps) {
    const int64_t i = row0 + r;
    if (i >= n) continue;   // the whole warp
    for (int m = lane; m < k; m += kWarp) {
      dist[i * k + m] = INFINITY;
      idx[i * k + m] = -1;
    }
  }
  __syncwarp();

  for (int64_t c0 = 0; c0 < n; c0 += kKnnCols) {
    float acc[kKnnRowsPerThread];
#pragma unroll
    for (int m = 0; m < kKnnRowsPerThread; ++m) acc[m] = 0.f;
    for (int f0 = 0; f0 < d; f0 += kKnnDepth) {
#pragma unroll
      for (int l = 0; l < kKnnLoadsQ; ++l) {
        const int e = tid + l * kKnnThreads, r = e / kKnnDepth, kk = e % kKnnDepth;
        const int64_t i = row0 + r;
        const int f = f0 + kk;
        q_tile[kk][r] = (i < n && f < d) ? x[i * d + f] : 0.f;   // padding adds (0 - 0)^2: nothing
      }
#pragma unroll
      for (int l = 0; l < kKnnLoadsC; ++l) {
        const int e = tid + l * kKnnThreads, c = e / kKnnDepth, kk = e % kKnnDepth;
        const int64_t j = c0 + c;
        const int f = f0 + kk;
        c_tile[kk][c] = (j < n && f < d) ? x[j * d + f] : 0.f;
      }
      __syncthreads();
#pragma unroll 4   // fully unrolled, ptxas spilled the accumulators
      for (int kk = 0; kk < kKnnDepth; ++kk) {
        const float cv = c_tile[kk][col];
#pragma unroll
        for (int m = 0; m < kKnnRowsPerThread; ++m)
          acc[m] = tsne_sq_dist_step(q_tile[kk][row_group + m * kKnnRowGroups], cv, acc[m]);
      }
      __syncthreads();
    }
#pragma unroll
    for (int m = 0; m < kKnnRowsPerThread; ++m) {
      const int r = row_group + m * kKnnRowGroups;
      const int64_t j = c0 + col;
      d_tile[r][col] = (j < n && j != row0 + r) ? acc[m] : INFINITY;
    }
    __syncthreads();
    for (int r = warp; r < kKnnRows; r += kKnnWarps) {
      const int64_t i = row0 + r;
      if (i >= n) continue;   // the whole warp
      float* list_d = dist + i * k;
      int32_t* list_i = idx + i * k;
      const float worst = list_d[k - 1];
      const unsigned below_lo = __ballot_sync(kFullMask, d_tile[r][lane] < worst);
      const unsigned below_hi = __ballot_sync(kFullMask, d_tile[r][lane + kWarp] < worst);
      if (lane == 0) {
        for (int half = 0; half < 2; ++half) {
          for (unsigned mask = half ? below_hi : below_lo; mask != 0; mask &= mask - 1) {
            const int c = half * kWarp + __ffs(int(mask)) - 1;
            const float dv = d_tile[r][c];
            if (!(dv < list_d[k - 1])) continue;   // the k-th distance fell since the ballot
            int pos = k - 1;
            for (; pos > 0 && list_d[pos - 1] > dv; --pos) {
              list_d[pos] = list_d[pos - 1];
              list_i[pos] = list_i[pos - 1];
            }
            list_d[pos] = dv;
            list_i[pos] = int32_t(c0 + c);
          }
        }
      }
      __syncwarp();
    }
    __syncthreads();
  }
}

void tsne_knn(int32_t* idx, float* dist, const float* x, int64_t n, int d, int k, cudaStream_t stream) {
  check_n("tsne_knn", n, 2);
  require(d >= 1, "tsne_knn", "d must be >= 1");
  require(k >= 1 && k <= n - 1, "tsne_knn", "k must be in [1, n - 1] (got " + std::to_string(k) + ")");
  LAUNCH(tsne_knn_kernel, blocks_for(n, kKnnRows, "tsne_knn"), kKnnThreads, 0, stream)(idx, dist, x, n, d, k);
  KERNEL_CHECK();
}

// ---- tsne_conditional_p ----

static __global__ void __launch_bounds__(kRowThreads)
    tsne_conditional_p_kernel(float* __restrict__ cond_p, const float* __restrict__ dist, int64_t n, int k,
                              double desired_entropy) {
  const int64_t i = int64_t(blockIdx.x) * kRowThreads + threadIdx.x;
  if (i >= n) return;
  tsne_row_bisection(cond_p + i * k, dist + i * k, k, desired_entropy);
}

void tsne_conditional_p(float* cond_p, const float* dist, int64_t n, int k, float perplexity, cudaStream_t stream) {
  check_n("tsne_conditional_p", n, 1);
  require(k >= 1, "tsne_conditional_p", "k must be >= 1");
  require(perplexity > 0, "tsne_conditional_p", "perplexity must be > 0");
  const double desired_entropy = std::log(double(perplexity));   // on the host, as the twin
  LAUNCH(tsne_conditional_p_kernel, blocks_for(n, kRowThreads, "tsne_conditional_p"), kRowThreads, 0, stream)(
      cond_p, dist, n, k, desired_entropy);
  KERNEL_CHECK();
}

// ---- tsne_symmetrize ----

namespace {

// Workspace layout: the row sums (n doubles), then the int32 / float arrays.
struct SymmetrizeScratch {
  double* row_sum;    // [n]
  int32_t* in_ptr;    // [n + 1] in-degrees, then their exclusive scan
  int32_t* fill;      // [n] slots taken in each bucket by the scatter
  int32_t* scattered; // [n k] each bucket's sources, in the scatter's order
  int32_t* in_src;    // [n k] each bucket's sources, ascending
  float* in_val;      // [n k] p_i|j of in_src
  int32_t* out_col;   // [n k] each row's neighbours, ascending
  float* out_val;     // [n k] p_j|i of out_col
};

SymmetrizeScratch carve(double* w, int64_t n, int k) {
  const int64_t edges = n * k;
  SymmetrizeScratch s;
  s.row_sum = w;
  s.in_ptr = reinterpret_cast<int32_t*>(w + n);
  s.fill = s.in_ptr + n + 1;
  s.scattered = s.fill + n;
  s.in_src = s.scattered + edges;
  s.in_val = reinterpret_cast<float*>(s.in_src + edges);
  s.out_col = s.in_src + 2 * edges;
  s.out_val = reinterpret_cast<float*>(s.in_src + 3 * edges);
  return s;
}

}  // namespace

static __global__ void __launch_bounds__(kEdgeThreads)
    tsne_count_in_kernel(int32_t* __restrict__ in_count, const int32_t* __restrict__ idx, int64_t edges) {
  const int64_t e = int64_t(blockIdx.x) * kEdgeThreads + threadIdx.x;
  if (e < edges) atomicAdd(&in_count[idx[e]], 1);
}

// a[0..m] = the exclusive prefix sums of the counts a[0..m) (in place): each thread owns a
// contiguous chunk, the chunk totals are offset in order by thread 0.
static __global__ void __launch_bounds__(kScanThreads) tsne_scan_kernel(int32_t* a, int64_t m) {
  STATIC_SHARED(int32_t, offset, [kScanThreads + 1]);
  const int64_t tid = threadIdx.x, chunk = (m + kScanThreads - 1) / kScanThreads;
  const int64_t first = tid * chunk, last = first + chunk < m ? first + chunk : m;
  int32_t total = 0;
  for (int64_t i = first; i < last; ++i) total += a[i];
  offset[tid + 1] = total;
  __syncthreads();
  if (tid == 0) {
    offset[0] = 0;
    for (int t = 0; t < kScanThreads; ++t) offset[t + 1] += offset[t];
    a[m] = offset[kScanThreads];
  }
  __syncthreads();
  int32_t run = offset[tid];
  for (int64_t i = first; i < last; ++i) {
    const int32_t count = a[i];
    a[i] = run;
    run += count;
  }
}

static __global__ void __launch_bounds__(kEdgeThreads)
    tsne_scatter_in_kernel(int32_t* __restrict__ scattered, int32_t* __restrict__ fill,
                           const int32_t* __restrict__ in_ptr, const int32_t* __restrict__ idx, int64_t edges, int k) {
  const int64_t e = int64_t(blockIdx.x) * kEdgeThreads + threadIdx.x;
  if (e >= edges) return;
  const int32_t j = idx[e];
  scattered[in_ptr[j] + atomicAdd(&fill[j], 1)] = int32_t(e / k);
}

static __global__ void __launch_bounds__(kEdgeThreads)
    tsne_rank_edges_kernel(int32_t* __restrict__ out_col, float* __restrict__ out_val, int32_t* __restrict__ in_src,
                           float* __restrict__ in_val, const int32_t* __restrict__ scattered,
                           const int32_t* __restrict__ in_ptr, const int32_t* __restrict__ idx,
                           const float* __restrict__ cond_p, int64_t edges, int k) {
  const int64_t e = int64_t(blockIdx.x) * kEdgeThreads + threadIdx.x;
  if (e >= edges) return;
  const int64_t i = e / k;
  const int32_t j = idx[e];
  const float p = cond_p[e];
  int32_t out_rank = 0;   // the row's neighbours are distinct
  for (int m = 0; m < k; ++m) out_rank += idx[i * k + m] < j;
  out_col[i * k + out_rank] = j;
  out_val[i * k + out_rank] = p;
  const int32_t begin = in_ptr[j], end = in_ptr[j + 1];
  int32_t in_rank = 0;    // so are a bucket's sources
  for (int32_t s = begin; s < end; ++s) in_rank += scattered[s] < int32_t(i);
  in_src[begin + in_rank] = int32_t(i);
  in_val[begin + in_rank] = p;
}

// write == false: row_ptr[i] = the length of row i; true: the row at row_ptr[i], and its sum.
static __global__ void __launch_bounds__(kRowThreads)
    tsne_merge_rows_kernel(int32_t* row_ptr, int32_t* __restrict__ col, float* __restrict__ val,
                           double* __restrict__ row_sum, const int32_t* __restrict__ out_col,
                           const float* __restrict__ out_val, const int32_t* __restrict__ in_src,
                           const float* __restrict__ in_val, const int32_t* __restrict__ in_ptr, int64_t n, int k,
                           double scale, bool write) {
  const int64_t i = int64_t(blockIdx.x) * kRowThreads + threadIdx.x;
  if (i >= n) return;
  const int32_t in0 = in_ptr[i], in_count = in_ptr[i + 1] - in0;
  if (!write) {
    row_ptr[i] = tsne_merge_row(nullptr, nullptr, nullptr, out_col + i * k, out_val + i * k, k, in_src + in0,
                                in_val + in0, in_count, scale);
    return;
  }
  const int32_t at = row_ptr[i];
  tsne_merge_row(col + at, val + at, row_sum + i, out_col + i * k, out_val + i * k, k, in_src + in0, in_val + in0,
                 in_count, scale);
}

static __device__ double block_tree_sum(double* partial, double mine);

static __global__ void __launch_bounds__(kTsneStepThreads)
    tsne_sum_rows_kernel(double* __restrict__ total, const double* __restrict__ row_sum, int64_t n) {
  STATIC_SHARED(double, partial, [kTsneStepThreads]);
  const int64_t tid = threadIdx.x, chunk = (n + kTsneStepThreads - 1) / kTsneStepThreads;
  double s = 0.0;
  for (int64_t i = tid * chunk; i < (tid + 1) * chunk && i < n; ++i) s += row_sum[i];
  const double sum = block_tree_sum(partial, s);
  if (tid == 0) *total = sum;
}

size_t tsne_symmetrize_workspace(int64_t n, int k) {
  const int64_t words = 2 * n + 1 + 5 * n * int64_t(k);   // the int32 / float arrays
  return size_t(n + (words + 1) / 2);
}

void tsne_symmetrize(int32_t* row_ptr, int32_t* col, float* val, double* p_sum, const int32_t* idx,
                     const float* cond_p, int64_t n, int k, double* workspace, cudaStream_t stream) {
  check_n("tsne_symmetrize", n, 2);
  require(k >= 1 && k <= n - 1 && int64_t(k) * n * 2 <= 0x7fffffff, "tsne_symmetrize",
          "k must be in [1, n - 1] with 2 n k < 2^31");
  const int64_t edges = n * k;
  const SymmetrizeScratch s = carve(workspace, n, k);
  const unsigned edge_blocks = blocks_for(edges, kEdgeThreads, "tsne_symmetrize");
  const unsigned row_blocks = blocks_for(n, kRowThreads, "tsne_symmetrize");
  CUDA_CHECK(cudaMemsetAsync(s.in_ptr, 0, sizeof(int32_t) * size_t(2 * n + 1), stream));   // in_ptr and fill
  LAUNCH(tsne_count_in_kernel, edge_blocks, kEdgeThreads, 0, stream)(s.in_ptr, idx, edges);
  KERNEL_CHECK();
  LAUNCH(tsne_scan_kernel, 1, kScanThreads, 0, stream)(s.in_ptr, n);
  KERNEL_CHECK();
  LAUNCH(tsne_scatter_in_kernel, edge_blocks, kEdgeThreads, 0, stream)(s.scattered, s.fill, s.in_ptr, idx, edges, k);
  KERNEL_CHECK();
  LAUNCH(tsne_rank_edges_kernel, edge_blocks, kEdgeThreads, 0, stream)(s.out_col, s.out_val, s.in_src, s.in_val,
                                                                      s.scattered, s.in_ptr, idx, cond_p, edges, k);
  KERNEL_CHECK();
  // Row lengths into row_ptr, their scan, then the rows.
  const double scale = 1.0 / (2.0 * double(n));
  LAUNCH(tsne_merge_rows_kernel, row_blocks, kRowThreads, 0, stream)(row_ptr, col, val, s.row_sum, s.out_col, s.out_val,
                                                                    s.in_src, s.in_val, s.in_ptr, n, k, scale, false);
  KERNEL_CHECK();
  LAUNCH(tsne_scan_kernel, 1, kScanThreads, 0, stream)(row_ptr, n);
  KERNEL_CHECK();
  LAUNCH(tsne_merge_rows_kernel, row_blocks, kRowThreads, 0, stream)(row_ptr, col, val, s.row_sum, s.out_col, s.out_val,
                                                                    s.in_src, s.in_val, s.in_ptr, n, k, scale, true);
  KERNEL_CHECK();
  LAUNCH(tsne_sum_rows_kernel, 1, kTsneStepThreads, 0, stream)(p_sum, s.row_sum, n);
  KERNEL_CHECK();
}

// ---- tsne_attractive ----

static __global__ void __launch_bounds__(kRowThreads)
    tsne_attractive_kernel(float* __restrict__ attraction, double* __restrict__ kl_row,
                           const int32_t* __restrict__ row_ptr, const int32_t* __restrict__ col,
                           const float* __restrict__ val, const float* __restrict__ y, int64_t n, float exaggeration) {
  const int64_t i = int64_t(blockIdx.x) * kRowThreads + threadIdx.x;
  if (i >= n) return;
  tsne_attractive_row(attraction, kl_row ? kl_row + i : nullptr, col, val, row_ptr[i], row_ptr[i + 1], y, i,
                      exaggeration);
}

void tsne_attractive(float* attraction, double* kl_row, const int32_t* row_ptr, const int32_t* col, const float* val,
                     const float* y, int64_t n, float exaggeration, cudaStream_t stream) {
  check_n("tsne_attractive", n, 1);
  LAUNCH(tsne_attractive_kernel, blocks_for(n, kRowThreads, "tsne_attractive"), kRowThreads, 0, stream)(
      attraction, kl_row, row_ptr, col, val, y, n, exaggeration);
  KERNEL_CHECK();
}

// ---- tsne_repulsive (exact) ----

static __global__ void __launch_bounds__(kRepulsionThreads)
    tsne_repulsive_kernel(float* __restrict__ repulsion, double* __restrict__ zrow, const float* __restrict__ y,
                          int64_t n) {
  STATIC_SHARED(float, tile_x, [kTsneRepulsionTile]);
  STATIC_SHARED(float, tile_y, [kTsneRepulsionTile]);
  const int tid = threadIdx.x;
  const int64_t i = int64_t(blockIdx.x) * kRepulsionThreads + tid;
  const float yx = i < n ? y[2 * i] : 0.f, yy = i < n ? y[2 * i + 1] : 0.f;
  double rx = 0.0, ry = 0.0, z = 0.0;
  for (int64_t j0 = 0; j0 < n; j0 += kTsneRepulsionTile) {
    const int64_t load = j0 + tid;   // every thread loads, also those past n: they reach the barriers
    tile_x[tid] = load < n ? y[2 * load] : 0.f;
    tile_y[tid] = load < n ? y[2 * load + 1] : 0.f;
    __syncthreads();
    const int count = int(n - j0 < kTsneRepulsionTile ? n - j0 : kTsneRepulsionTile);
    float tile_rx = 0.f, tile_ry = 0.f, tile_z = 0.f;
    for (int c = 0; c < count; ++c)
      if (j0 + c != i) tsne_repulsion_term(yx - tile_x[c], yy - tile_y[c], tile_rx, tile_ry, tile_z);
    rx += tile_rx;
    ry += tile_ry;
    z += tile_z;
    __syncthreads();
  }
  if (i >= n) return;
  repulsion[2 * i] = float(rx);
  repulsion[2 * i + 1] = float(ry);
  zrow[i] = z;
}

void tsne_repulsive(float* repulsion, double* zrow, const float* y, int64_t n, float theta, cudaStream_t stream) {
  check_n("tsne_repulsive", n, 1);
  require(theta == 0.f, "tsne_repulsive", "the device runs the exact sum only (theta must be 0)");
  LAUNCH(tsne_repulsive_kernel, blocks_for(n, kRepulsionThreads, "tsne_repulsive"), kRepulsionThreads, 0, stream)(
      repulsion, zrow, y, n);
  KERNEL_CHECK();
}

// ---- tsne_gradient_step ----

// Sums the block's partials in the twin's halving tree; every thread gets the total.
static __device__ double block_tree_sum(double* partial, double mine) {
  const int tid = threadIdx.x;
  partial[tid] = mine;
  __syncthreads();
  for (int s = kTsneStepThreads / 2; s > 0; s /= 2) {
    if (tid < s) partial[tid] += partial[tid + s];
    __syncthreads();
  }
  const double total = partial[0];
  __syncthreads();   // partial is reused
  return total;
}

static __global__ void __launch_bounds__(kTsneStepThreads)
    tsne_gradient_step_kernel(float* __restrict__ y, float* __restrict__ update, float* __restrict__ gains,
                              double* __restrict__ stats, const float* __restrict__ attraction,
                              const float* __restrict__ repulsion, const double* __restrict__ zrow, int64_t n,
                              float momentum, float learning_rate) {
  STATIC_SHARED(double, partial, [kTsneStepThreads]);
  const int64_t tid = threadIdx.x;
  const int64_t z_chunk = (n + kTsneStepThreads - 1) / kTsneStepThreads;
  double s = 0.0;
  for (int64_t i = tid * z_chunk; i < (tid + 1) * z_chunk && i < n; ++i) s += zrow[i];
  const double z = block_tree_sum(partial, s);
  const float zf = float(z);
  const int64_t count = 2 * n, chunk = (count + kTsneStepThreads - 1) / kTsneStepThreads;
  double g2 = 0.0;
  for (int64_t e = tid * chunk; e < (tid + 1) * chunk && e < count; ++e) {
    const float g = tsne_update_coordinate(y[e], update[e], gains[e], attraction[e], repulsion[e], zf, momentum,
                                           learning_rate);
    g2 += double(g) * double(g);
  }
  const double norm2 = block_tree_sum(partial, g2);
  if (tid == 0) {
    stats[0] = z;
    stats[1] = norm2;
  }
}

void tsne_gradient_step(float* y, float* update, float* gains, double* stats, const float* attraction,
                        const float* repulsion, const double* zrow, int64_t n, float momentum, float learning_rate,
                        cudaStream_t stream) {
  check_n("tsne_gradient_step", n, 1);
  LAUNCH(tsne_gradient_step_kernel, 1, kTsneStepThreads, 0, stream)(y, update, gains, stats, attraction, repulsion,
                                                                    zrow, n, momentum, learning_rate);
  KERNEL_CHECK();
}

}  // namespace zs::ZS_KNS
