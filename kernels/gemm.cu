// SGEMM with a fused epilogue (API, layouts and semantics: gemm.cuh).
//
// Kernel versions (the public entry takes `version`; tests and benchmarks run every one):
//   gemm_kernel1  naive port: one thread per output, a k loop over global memory.
//   gemm_kernel2  16 x 16 shared-memory tiles, one output per thread; each operand tile is read
//                 along its stored rows (coalesced) whatever the transpose.
//   gemm_kernel3  shared-memory tiles + register blocking: a block computes a BM x BN tile, each
//                 thread TM x TN outputs, with the next K-tile prefetched into registers while
//                 the current one is multiplied. Three tile shapes, picked from m and n:
//                 64x64 (4x4 per thread), 64x16 for n <= 16 and 16x64 for m <= 16, so the
//                 skinny products of a dense layer (6272 x 16, 16 x 6272) waste no work.
//   gemm_kernel4  kernel3 over K slices (blockIdx.z) when the output has too few tiles to fill
//                 the GPU and K is long (the dense layer's x W with K = 6272 has 2 tiles): each
//                 slice writes raw partial sums to a scratch buffer and gemm_split_reduce_kernel
//                 adds the slices in slice order and applies the epilogue. Deterministic: no
//                 atomics, the order depends on the shapes alone. Shipped.
//
// Conventions inside the tiled kernels: shared tiles are stored K-major (as[kk][row],
// bs[kk][col]) so the inner loop reads one row of each; rows are padded by kSmemPad = 2 floats,
// which makes both the transposed and the plain tile stores free of bank conflicts (a row stride
// of 2 * odd words spreads 16 consecutive kk over 16 distinct even banks). Thread (tx, ty) owns
// rows ty + r * kThreadRows and columns tx + c * kThreadCols: the B reads of a warp hit distinct
// banks, its A reads broadcast, and its C stores are coalesced.
#include "kernels/common.cuh"
#include "kernels/activation.cuh"

#include <cmath>
#include <cstdint>
#include <stdexcept>
#include <string>

#include "kernels/gemm.cuh"

namespace zs::ZS_KNS {
namespace {

constexpr int kNaiveBlock = 256;
constexpr int kSimpleTile = 16;   // kernel2: kSimpleTile x kSimpleTile threads and outputs
constexpr int kTileDepth = 16;    // BK of kernels 3 and 4
constexpr int kSmemPad = 2;
constexpr int kReduceBlock = 256;
constexpr int kMaxGridY = 65535;  // gridDim.y and gridDim.z limit

// Split-K policy (version 4). Split only while the output has fewer than kSplitTargetBlocks
// tiles (enough blocks to keep a GTX 960's 8 SMs busy several times over; a constant rather
// than the SM count, so results do not depend on the GPU), and never below kMinSliceDepth of K
// per slice (shorter slices cost more in partial traffic than they gain).
constexpr int kSplitTargetBlocks = 64;
constexpr int kMinSliceDepth = 128;

template <int BM, int BN, int TM, int TN>
struct TileShape {
  static constexpr int kBM = BM, kBN = BN, kBK = kTileDepth, kTM = TM, kTN = TN;
  static constexpr int kThreadCols = BN / TN;
  static constexpr int kThreadRows = BM / TM;
  static constexpr int kThreads = kThreadCols * kThreadRows;
  static constexpr int kLoadsA = BM * kBK / kThreads;   // A elements each thread stages per tile
  static constexpr int kLoadsB = kBK * BN / kThreads;
  static_assert(BM % TM == 0 && BN % TN == 0, "thread tiles must cover the block tile");
  static_assert(BM * kBK % kThreads == 0 && kBK * BN % kThreads == 0, "tile loads must split evenly");
  static_assert(((BM + kSmemPad) / 2) % 2 == 1 && ((BN + kSmemPad) / 2) % 2 == 1,
                "padded row strides must be 2 * odd for conflict-free tile stores");
};
using TileWide = TileShape<64, 64, 4, 4>;       // 256 threads
using TileTall = TileShape<64, 16, 4, 2>;       // 128 threads, for n <= 16
using TileFlat = TileShape<16, 64, 2, 4>;       // 128 threads, for m <= 16

// The largest partial-sum buffer a split plan can need: the split stops at kSplitTargetBlocks
// blocks, each covering at most the largest tile.
constexpr int64_t kSplitScratchFloats = int64_t(kSplitTargetBlocks) * TileWide::kBM * TileWide::kBN;

void require(bool ok, const char* op, const std::string& what) {
  if (!ok) throw std::invalid_argument(std::string(op) + ": " + what);
}

int ceil_div(int a, int b) { return (a + b - 1) / b; }

}  // namespace

// ---- device helpers ----

// The output value for C[row][col] given the finished dot product.
static __device__ __forceinline__ float finish_output(float sum, const float* c, int64_t index, int col,
                                                      const GemmEpilogue& ep) {
  float v = ep.alpha * sum;
  if (ep.beta != 0.f) v += ep.beta * c[index];
  if (ep.bias) v += ep.bias[col];
  return activate(ep.act, v);
}

// op(A)(i, kk) and op(B)(kk, j) for packed row-major storage.
static __device__ __forceinline__ float op_a(const float* a, int m, int k, bool trans_a, int i, int kk) {
  return trans_a ? a[int64_t(kk) * m + i] : a[int64_t(i) * k + kk];
}
static __device__ __forceinline__ float op_b(const float* b, int n, int k, bool trans_b, int kk, int j) {
  return trans_b ? b[int64_t(j) * k + kk] : b[int64_t(kk) * n + j];
}

// ---- version 1: one thread per output ----

static __global__ void gemm_kernel1(float* c, const float* a, const float* b, int m, int n, int k, bool trans_a,
                                    bool trans_b, GemmEpilogue ep) {
  const int64_t index = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (index >= int64_t(m) * n) return;
  const int i = int(index / n), j = int(index % n);
  float sum = 0.f;
  for (int kk = 0; kk < k; ++kk) sum += op_a(a, m, k, trans_a, i, kk) * op_b(b, n, k, trans_b, kk, j);
  c[index] = finish_output(sum, c, index, j, ep);
}

// ---- version 2: square shared-memory tiles, one output per thread ----

static __global__ void __launch_bounds__(kSimpleTile * kSimpleTile)
    gemm_kernel2(float* c, const float* a, const float* b, int m, int n, int k, bool trans_a, bool trans_b,
                 GemmEpilogue ep) {
  // a_tile[i][kk], b_tile[kk][j]; +1 column: the transposed loads store down a column.
  STATIC_SHARED(float, a_tile, [kSimpleTile][kSimpleTile + 1]);
  STATIC_SHARED(float, b_tile, [kSimpleTile][kSimpleTile + 1]);
  const int tx = threadIdx.x, ty = threadIdx.y;
  const int row0 = blockIdx.y * kSimpleTile, col0 = blockIdx.x * kSimpleTile;   // lint: 32-bit ok (tile origins)
  float sum = 0.f;
  for (int k0 = 0; k0 < k; k0 += kSimpleTile) {
    // Consecutive tx walk the stored rows of each operand, whatever the transpose.
    if (!trans_a) {
      const int i = row0 + ty, kk = k0 + tx;
      a_tile[ty][tx] = (i < m && kk < k) ? a[int64_t(i) * k + kk] : 0.f;
    } else {
      const int i = row0 + tx, kk = k0 + ty;
      a_tile[tx][ty] = (i < m && kk < k) ? a[int64_t(kk) * m + i] : 0.f;
    }
    if (!trans_b) {
      const int kk = k0 + ty, j = col0 + tx;
      b_tile[ty][tx] = (kk < k && j < n) ? b[int64_t(kk) * n + j] : 0.f;
    } else {
      const int kk = k0 + tx, j = col0 + ty;
      b_tile[tx][ty] = (kk < k && j < n) ? b[int64_t(j) * k + kk] : 0.f;
    }
    __syncthreads();
#pragma unroll
    for (int kk = 0; kk < kSimpleTile; ++kk) sum += a_tile[ty][kk] * b_tile[kk][tx];
    __syncthreads();   // the next iteration overwrites the tiles
  }
  const int i = row0 + ty, j = col0 + tx;
  if (i < m && j < n) {
    const int64_t index = int64_t(i) * n + j;
    c[index] = finish_output(sum, c, index, j, ep);
  }
}

// ---- versions 3 and 4: register-blocked tiles ----

// This thread's share of one operand tile (A: BM rows x BK, B: BK x BN columns), fixed for the
// whole K loop. Consecutive threads take consecutive STORED addresses (coalesced): along k when
// the operand is stored k-contiguous (A plain, B transposed), along its rows/columns otherwise.
// Because the thread count is a multiple of both BK and the tile extent, element l of the share
// is element 0 moved by a constant step: `outer` (row of A / column of B) by outer_step, kk by
// kk_step, the stored offset by l_stride and the shared-memory index by smem_step. So the loop
// keeps a few integers instead of one address per element, and has no transpose branches.
struct TileShare {
  const float* base;   // stored element 0 of the share at k = 0
  int64_t k_stride;    // stored distance between k and k + 1
  int64_t l_stride;    // stored distance between share elements l and l + 1
  int outer, outer_step, outer_limit;
  int kk, kk_step;
  int smem, smem_step;
};

// stored(outer, kk) = p[outer * outer_stride + kk * k_stride]; outer starts at outer0.
template <int kExtent, int kThreads>
static __device__ __forceinline__ TileShare make_share(const float* p, bool k_contiguous, int outer0,
                                                       int outer_limit, int64_t outer_stride, int64_t k_stride) {
  static_assert(kThreads % kTileDepth == 0 && kThreads % kExtent == 0, "share steps must be constant");
  const int tid = threadIdx.x;
  int outer, outer_step, kk, kk_step;
  if (k_contiguous) {
    kk = tid % kTileDepth, kk_step = 0;
    outer = tid / kTileDepth, outer_step = kThreads / kTileDepth;
  } else {
    outer = tid % kExtent, outer_step = 0;
    kk = tid / kExtent, kk_step = kThreads / kExtent;
  }
  TileShare s;
  s.base = p + (outer0 + outer) * outer_stride + kk * k_stride;
  s.k_stride = k_stride;
  s.l_stride = outer_step * outer_stride + kk_step * k_stride;
  s.outer = outer0 + outer, s.outer_step = outer_step, s.outer_limit = outer_limit;
  s.kk = kk, s.kk_step = kk_step;
  s.smem = kk * (kExtent + kSmemPad) + outer, s.smem_step = kk_step * (kExtent + kSmemPad) + outer_step;
  return s;
}

// The share of the K-tile starting at k0 (relative to the share's k = 0), zero outside the
// operand or past k_end (absolute).
template <int kLoads>
static __device__ __forceinline__ void fetch_share(float (&regs)[kLoads], const TileShare& s, int k0,
                                                   int k_rel_end) {
  const float* p = s.base + k0 * s.k_stride;
#pragma unroll
  for (int l = 0; l < kLoads; ++l) {
    const bool inside = s.outer + l * s.outer_step < s.outer_limit && k0 + s.kk + l * s.kk_step < k_rel_end;
    regs[l] = inside ? p[l * s.l_stride] : 0.f;
  }
}

template <int kLoads>
static __device__ __forceinline__ void stage_share(float* tile, const float (&regs)[kLoads], const TileShare& s) {
#pragma unroll
  for (int l = 0; l < kLoads; ++l) tile[s.smem + l * s.smem_step] = regs[l];
}

// acc = the block tile at (row0, col0) of op(A)[:, k_begin:k_end] op(B)[k_begin:k_end, :].
template <class Tile>
static __device__ __forceinline__ void multiply_tile(float (&acc)[Tile::kTM][Tile::kTN], const float* a,
                                                     const float* b, int m, int n, int k, bool trans_a,
                                                     bool trans_b, int row0, int col0, int k_begin, int k_end) {
  STATIC_SHARED(float, a_tile, [kTileDepth][Tile::kBM + kSmemPad]);
  STATIC_SHARED(float, b_tile, [kTileDepth][Tile::kBN + kSmemPad]);
  const int tx = threadIdx.x % Tile::kThreadCols, ty = threadIdx.x / Tile::kThreadCols;
#pragma unroll
  for (int r = 0; r < Tile::kTM; ++r)
#pragma unroll
    for (int c = 0; c < Tile::kTN; ++c) acc[r][c] = 0.f;

  // A(i, kk) is stored at i * k + kk, or kk * m + i when transposed; B(kk, j) at kk * n + j, or
  // j * k + kk when transposed. Both shares start at k_begin.
  const TileShare share_a = make_share<Tile::kBM, Tile::kThreads>(
      a + (trans_a ? int64_t(k_begin) * m : int64_t(k_begin)), !trans_a, row0, m, trans_a ? 1 : k,
      trans_a ? m : 1);
  const TileShare share_b = make_share<Tile::kBN, Tile::kThreads>(
      b + (trans_b ? int64_t(k_begin) : int64_t(k_begin) * n), trans_b, col0, n, trans_b ? k : 1,
      trans_b ? 1 : n);
  const int depth = k_end - k_begin;

  float ra[Tile::kLoadsA], rb[Tile::kLoadsB];
  fetch_share(ra, share_a, 0, depth);
  fetch_share(rb, share_b, 0, depth);
  for (int k0 = 0; k0 < depth; k0 += kTileDepth) {
    stage_share(&a_tile[0][0], ra, share_a);
    stage_share(&b_tile[0][0], rb, share_b);
    __syncthreads();
    // The next tile's global loads are in flight while this one is multiplied.
    if (k0 + kTileDepth < depth) {
      fetch_share(ra, share_a, k0 + kTileDepth, depth);
      fetch_share(rb, share_b, k0 + kTileDepth, depth);
    }
#pragma unroll
    for (int kk = 0; kk < kTileDepth; ++kk) {
      float av[Tile::kTM], bv[Tile::kTN];
#pragma unroll
      for (int r = 0; r < Tile::kTM; ++r) av[r] = a_tile[kk][ty + r * Tile::kThreadRows];
#pragma unroll
      for (int c = 0; c < Tile::kTN; ++c) bv[c] = b_tile[kk][tx + c * Tile::kThreadCols];
#pragma unroll
      for (int r = 0; r < Tile::kTM; ++r)
#pragma unroll
        for (int c = 0; c < Tile::kTN; ++c) acc[r][c] += av[r] * bv[c];
    }
    __syncthreads();   // the next iteration overwrites the tiles
  }
}

template <class Tile>
static __global__ void __launch_bounds__(Tile::kThreads)
    gemm_kernel3(float* c, const float* a, const float* b, int m, int n, int k, bool trans_a, bool trans_b,
                 GemmEpilogue ep) {
  const int row0 = blockIdx.y * Tile::kBM, col0 = blockIdx.x * Tile::kBN;   // lint: 32-bit ok (tile origins)
  float acc[Tile::kTM][Tile::kTN];
  multiply_tile<Tile>(acc, a, b, m, n, k, trans_a, trans_b, row0, col0, 0, k);
  const int tx = threadIdx.x % Tile::kThreadCols, ty = threadIdx.x / Tile::kThreadCols;
#pragma unroll
  for (int r = 0; r < Tile::kTM; ++r) {
    const int i = row0 + ty + r * Tile::kThreadRows;
    if (i >= m) continue;
#pragma unroll
    for (int q = 0; q < Tile::kTN; ++q) {
      const int j = col0 + tx + q * Tile::kThreadCols;
      if (j >= n) continue;
      const int64_t index = int64_t(i) * n + j;
      c[index] = finish_output(acc[r][q], c, index, j, ep);
    }
  }
}

// Slice blockIdx.z of K -> raw partial sums partials[z][m][n] (the caller's workspace); the
// epilogue comes later.
template <class Tile>
static __global__ void __launch_bounds__(Tile::kThreads)
    gemm_kernel4(float* __restrict__ partials, const float* a, const float* b, int m, int n, int k, bool trans_a,
                 bool trans_b, int k_per_slice) {
  const int row0 = blockIdx.y * Tile::kBM, col0 = blockIdx.x * Tile::kBN;   // lint: 32-bit ok (tile origins)
  const int k_begin = blockIdx.z * k_per_slice;   // lint: 32-bit ok (a slice's start, below k)
  const int k_end = min(k, k_begin + k_per_slice);
  float acc[Tile::kTM][Tile::kTN];
  multiply_tile<Tile>(acc, a, b, m, n, k, trans_a, trans_b, row0, col0, k_begin, k_end);
  float* slice = partials + int64_t(blockIdx.z) * m * n;
  const int tx = threadIdx.x % Tile::kThreadCols, ty = threadIdx.x / Tile::kThreadCols;
#pragma unroll
  for (int r = 0; r < Tile::kTM; ++r) {
    const int i = row0 + ty + r * Tile::kThreadRows;
    if (i >= m) continue;
#pragma unroll
    for (int q = 0; q < Tile::kTN; ++q) {
      const int j = col0 + tx + q * Tile::kThreadCols;
      if (j < n) slice[int64_t(i) * n + j] = acc[r][q];
    }
  }
}

// C = epilogue(sum over slices, in slice order). One thread per output, coalesced.
static __global__ void __launch_bounds__(kReduceBlock)
    gemm_split_reduce_kernel(float* c, const float* __restrict__ partials, int m, int n, int slices, GemmEpilogue ep) {
  const int64_t count = int64_t(m) * n;
  const int64_t index = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (index >= count) return;
  float sum = 0.f;
  for (int s = 0; s < slices; ++s) sum += partials[s * count + index];
  c[index] = finish_output(sum, c, index, int(index % n), ep);
}

// ---- launchers: raw pointers, sizes, stream; arguments already checked ----

namespace {

enum class TileKind { Wide, Tall, Flat };

TileKind pick_tile(int m, int n) {
  if (n <= TileTall::kBN && m > n) return TileKind::Tall;
  if (m <= TileFlat::kBM) return TileKind::Flat;
  return TileKind::Wide;
}

template <class Tile>
int64_t tile_count(int m, int n) {
  return int64_t(ceil_div(m, Tile::kBM)) * ceil_div(n, Tile::kBN);
}

template <class Tile>
GemmSplitPlan split_plan_for(int m, int n, int k) {
  GemmSplitPlan plan;
  plan.k_per_slice = k;
  const int64_t tiles = tile_count<Tile>(m, n);
  if (tiles >= kSplitTargetBlocks || k < 2 * kMinSliceDepth) return plan;
  int slices = int(kSplitTargetBlocks / tiles);
  if (slices > k / kMinSliceDepth) slices = k / kMinSliceDepth;
  if (slices < 2) return plan;
  // Whole tiles per slice, then as many slices as that takes (the last one may be shorter).
  const int depth = ceil_div(ceil_div(k, slices), kTileDepth) * kTileDepth;
  slices = ceil_div(k, depth);
  if (slices < 2 || int64_t(slices) * m * n > kSplitScratchFloats) return plan;
  plan.slices = slices;
  plan.k_per_slice = depth;
  return plan;
}

GemmSplitPlan split_plan(int m, int n, int k) {
  switch (pick_tile(m, n)) {
    case TileKind::Tall: return split_plan_for<TileTall>(m, n, k);
    case TileKind::Flat: return split_plan_for<TileFlat>(m, n, k);
    default: return split_plan_for<TileWide>(m, n, k);
  }
}

}  // namespace

template <class Tile>
static void launch_tiled(bool split, float* c, const float* a, const float* b, int m, int n, int k, bool trans_a,
                         bool trans_b, const GemmEpilogue& ep, float* workspace, cudaStream_t stream) {
  const dim3 block(Tile::kThreads);
  const int grid_y = ceil_div(m, Tile::kBM);
  require(grid_y <= kMaxGridY, "gemm", "m = " + std::to_string(m) + " needs more than 65535 row tiles");
  const GemmSplitPlan plan = split ? split_plan_for<Tile>(m, n, k) : GemmSplitPlan{1, k};
  if (plan.slices == 1) {
    const dim3 grid(ceil_div(n, Tile::kBN), grid_y);
    LAUNCH((gemm_kernel3<Tile>), grid, block, 0, stream)(c, a, b, m, n, k, trans_a, trans_b, ep);
    KERNEL_CHECK();
    return;
  }
  const dim3 grid(ceil_div(n, Tile::kBN), grid_y, plan.slices);
  require(workspace, "gemm", "version 4 splits this " + std::to_string(m) + " x " + std::to_string(n) + " x " +
                                 std::to_string(k) + " product and needs gemm_workspace() floats of workspace");
  LAUNCH((gemm_kernel4<Tile>), grid, block, 0, stream)(workspace, a, b, m, n, k, trans_a, trans_b, plan.k_per_slice);
  KERNEL_CHECK();
  const int64_t count = int64_t(m) * n;
  LAUNCH(gemm_split_reduce_kernel, unsigned((count + kReduceBlock - 1) / kReduceBlock), kReduceBlock, 0, stream)(
      c, workspace, m, n, plan.slices, ep);
  KERNEL_CHECK();
}

static void launch_gemm(int version, float* c, const float* a, const float* b, int m, int n, int k, bool trans_a,
                        bool trans_b, const GemmEpilogue& ep, float* workspace, cudaStream_t stream) {
  if (version == 1) {
    const int64_t blocks = (int64_t(m) * n + kNaiveBlock - 1) / kNaiveBlock;
    require(blocks <= 0x7fffffff, "gemm", "m * n too large for kernel version 1");
    LAUNCH(gemm_kernel1, unsigned(blocks), kNaiveBlock, 0, stream)(c, a, b, m, n, k, trans_a, trans_b, ep);
    KERNEL_CHECK();
    return;
  }
  if (version == 2) {
    const int grid_y = ceil_div(m, kSimpleTile);
    require(grid_y <= kMaxGridY, "gemm", "m = " + std::to_string(m) + " needs more than 65535 row tiles");
    const dim3 grid(ceil_div(n, kSimpleTile), grid_y), block(kSimpleTile, kSimpleTile);
    LAUNCH(gemm_kernel2, grid, block, 0, stream)(c, a, b, m, n, k, trans_a, trans_b, ep);
    KERNEL_CHECK();
    return;
  }
  const bool split = version == 4;
  switch (pick_tile(m, n)) {
    case TileKind::Tall:
      return launch_tiled<TileTall>(split, c, a, b, m, n, k, trans_a, trans_b, ep, workspace, stream);
    case TileKind::Flat:
      return launch_tiled<TileFlat>(split, c, a, b, m, n, k, trans_a, trans_b, ep, workspace, stream);
    default: return launch_tiled<TileWide>(split, c, a, b, m, n, k, trans_a, trans_b, ep, workspace, stream);
  }
}

// ---- public entries: argument checks ----

void gemm(float* c, const float* a, const float* b, int m, int n, int k, Trans trans_a, Trans trans_b,
          const GemmEpilogue& epilogue, float* workspace, cudaStream_t stream, int version) {
  require(version >= 1 && version <= kGemmKernelVersions, "gemm",
          "kernel version " + std::to_string(version) + " does not exist");
  require(m >= 1 && n >= 1 && k >= 1, "gemm",
          "m, n and k must be >= 1 (got " + std::to_string(m) + ", " + std::to_string(n) + ", " +
              std::to_string(k) + ")");
  require(c && a && b, "gemm", "c, a and b must not be null");
  require(c != a && c != b, "gemm", "c must not alias a or b");
  require(trans_a == Trans::No || trans_a == Trans::Yes, "gemm", "trans_a must be Trans::No or Trans::Yes");
  require(trans_b == Trans::No || trans_b == Trans::Yes, "gemm", "trans_b must be Trans::No or Trans::Yes");
  const Act act = epilogue.act;
  require(is_known_act(act), "gemm", "unknown activation " + std::to_string(int(act)));
  require(std::isfinite(epilogue.alpha) && std::isfinite(epilogue.beta), "gemm", "alpha and beta must be finite");
  launch_gemm(version, c, a, b, m, n, k, trans_a == Trans::Yes, trans_b == Trans::Yes, epilogue, workspace, stream);
}

size_t gemm_workspace(int m, int n, int k, int version) {
  require(m >= 1 && n >= 1 && k >= 1, "gemm_workspace", "m, n and k must be >= 1");
  if (version != 4) return 0;
  const GemmSplitPlan plan = split_plan(m, n, k);
  return plan.slices > 1 ? size_t(plan.slices) * size_t(m) * size_t(n) : 0;
}

GemmSplitPlan gemm_split_plan(int m, int n, int k) {
  require(m >= 1 && n >= 1 && k >= 1, "gemm_split_plan", "m, n and k must be >= 1");
  return split_plan(m, n, k);
}

}  // namespace zs::ZS_KNS
