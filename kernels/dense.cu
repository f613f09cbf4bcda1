// Dense layer forward and backward on the device (API and semantics: dense.cuh).
//
// The three products are GEMMs (gemm.cuh), chosen so no operand is ever copied or transposed:
//   forward  y  = act(x w + b)   gemm(No, No)   m = n,  n = out, k = in    bias + act in the epilogue
//   backward dw = x^T dy         gemm(Yes, No)  m = in, n = out, k = n
//            dx = dy w^T         gemm(No, Yes)  m = n,  n = in,  k = out
// `version` is passed through as the GEMM version.
//
// Kernel (one version): dense_column_sum_kernel, db = column sums of dy. A block covers
// kSumColumns adjacent columns with kSumRowGroups groups of threads; group g adds rows
// g, g + kSumRowGroups, ... in row order, then the groups are added in a fixed tree. Consecutive
// threads read consecutive columns (coalesced), and a skinny dy (the encoder's 128 x 16) still
// spreads its rows over kSumRowGroups threads per column instead of one long serial chain.
#include "kernels/common.cuh"

#include <algorithm>

#include <cstdint>
#include <stdexcept>
#include <string>

#include "kernels/dense.cuh"
#include "kernels/gemm.cuh"

namespace zs::ZS_KNS {
namespace {

constexpr int kSumColumns = 32;    // one warp's worth of adjacent columns
constexpr int kSumRowGroups = 8;   // power of two: the tree halves it
static_assert((kSumRowGroups & (kSumRowGroups - 1)) == 0, "the reduction tree needs a power of two");

void require(bool ok, const char* op, const std::string& what) {
  if (!ok) throw std::invalid_argument(std::string(op) + ": " + what);
}

void check_sizes(const char* op, int n, int in, int out, int version) {
  require(version >= 1 && version <= kDenseKernelVersions, op,
          "kernel version " + std::to_string(version) + " does not exist");
  require(n >= 1 && in >= 1 && out >= 1, op,
          "n, in and out must be >= 1 (got " + std::to_string(n) + ", " + std::to_string(in) + ", " +
              std::to_string(out) + ")");
}

}  // namespace

// db[j] = sum over rows i of dy[i][j]. Block (kSumColumns, kSumRowGroups).
static __global__ void __launch_bounds__(kSumColumns * kSumRowGroups)
    dense_column_sum_kernel(float* db, const float* __restrict__ dy, int rows, int cols) {
  STATIC_SHARED(float, group_sums, [kSumRowGroups][kSumColumns]);
  const int64_t col = int64_t(blockIdx.x) * kSumColumns + threadIdx.x;
  float sum = 0.f;
  if (col < cols)
    for (int i = threadIdx.y; i < rows; i += kSumRowGroups) sum += dy[int64_t(i) * cols + col];
  group_sums[threadIdx.y][threadIdx.x] = sum;
  for (int half = kSumRowGroups / 2; half > 0; half /= 2) {
    __syncthreads();
    if (int(threadIdx.y) < half) group_sums[threadIdx.y][threadIdx.x] += group_sums[threadIdx.y + half][threadIdx.x];
  }
  if (threadIdx.y == 0 && col < cols) db[col] = group_sums[0][threadIdx.x];
}

static void launch_column_sum(float* db, const float* dy, int rows, int cols, cudaStream_t stream) {
  const dim3 block(kSumColumns, kSumRowGroups);
  const unsigned blocks = unsigned((cols + kSumColumns - 1) / kSumColumns);
  LAUNCH(dense_column_sum_kernel, blocks, block, 0, stream)(db, dy, rows, cols);
  KERNEL_CHECK();
}

void dense_forward(float* y, const float* x, const float* w, const float* b, int n, int in, int out, Act act,
                   float* workspace, cudaStream_t stream, int version) {
  check_sizes("dense_forward", n, in, out, version);
  require(y && x && w, "dense_forward", "y, x and w must not be null");
  require(is_known_act(act), "dense_forward", "unknown activation " + std::to_string(int(act)));
  GemmEpilogue ep;
  ep.bias = b;
  ep.act = act;
  gemm(y, x, w, n, out, in, Trans::No, Trans::No, ep, workspace, stream, version);
}

void dense_backward(float* dx, float* dw, float* db, const float* dy, const float* x, const float* w, int n, int in,
                    int out, float* workspace, cudaStream_t stream, int version) {
  check_sizes("dense_backward", n, in, out, version);
  require(dw && dy && x, "dense_backward", "dw, dy and x must not be null");
  require(!dx || w, "dense_backward", "w is needed to compute dx");
  gemm(dw, x, dy, in, out, n, Trans::Yes, Trans::No, GemmEpilogue{}, workspace, stream, version);
  if (db) launch_column_sum(db, dy, n, out, stream);
  if (dx) gemm(dx, dy, w, n, in, out, Trans::No, Trans::Yes, GemmEpilogue{}, workspace, stream, version);
}

size_t dense_workspace(int n, int in, int out, int version) {
  check_sizes("dense_workspace", n, in, out, version);
  const size_t forward = gemm_workspace(n, out, in, version), dw = gemm_workspace(in, out, n, version);
  const size_t dx = gemm_workspace(n, in, out, version);
  return std::max(forward, std::max(dw, dx));
}

}  // namespace zs::ZS_KNS
