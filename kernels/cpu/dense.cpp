// Dense (fully connected) layer, Keras layout: w[in][out], y = x w + b.
// Every product is split along its larger output dimension into blocks that depend on the SHAPE
// only (at most kMaxBlockSpan wide), never on the thread count; OpenMP threads share the blocks and
// each block is one single-threaded OpenBLAS GEMM, so there is nothing to reduce. Why not one block
// per thread: OpenBLAS picks its kernel by the block's size (its small-matrix kernels, for M*N*K
// under about 1e6 and narrow N, round differently), so a per-thread split made --threads 1 and 2
// disagree in the last bits whenever an output had 2 columns (a z_dim 2 decoder or encoder head).
// Overwrites y, dx, dw and db.
#include <cblas.h>
#include <omp.h>

#include <algorithm>

#include "kernels/cpu/cpu_common_impl.h"
#include "kernels/cpu/ops.h"

namespace zs::cpu {

using namespace detail;

namespace {

// Below this many multiply-adds a GEMM is not worth splitting across threads.
constexpr int64_t kParallelMinMacs = 1 << 17;

// Widest block along the split dimension: wide enough that the blog model's blocks stay on
// OpenBLAS's large-matrix path (as the per-thread halves did), narrow enough to share out.
constexpr int kMaxBlockSpan = 1024;

// Block b of nb of a rows x cols output: the larger dimension is split, so the blocks stay as
// GEMM-friendly as possible.
struct Block {
  int r0, r1, c0, c1;
  bool empty() const { return r0 >= r1 || c0 >= c1; }
};
int block_count(int rows, int cols) { return (std::max(rows, cols) + kMaxBlockSpan - 1) / kMaxBlockSpan; }
Block block_of(int rows, int cols, int b, int nb) {
  int64_t begin = 0, end = 0;
  if (rows >= cols) {
    static_range(rows, b, nb, begin, end);
    return {int(begin), int(end), 0, cols};
  }
  static_range(cols, b, nb, begin, end);
  return {0, rows, int(begin), int(end)};
}

// dst[j] += src[j]
void add_row(float* __restrict__ dst, const float* __restrict__ src, int count) {
  for (int j = 0; j < count; ++j) dst[j] += src[j];
}

int threads_for(int64_t macs) { return macs >= kParallelMinMacs ? max_threads() : 1; }

}  // namespace

void dense_forward(float* y, const float* x, const float* w, const float* b, int n, int in, int out, Act act) {
  require(y && x && w, "dense_forward", "y, x and w must not be null");
  require(n >= 1 && in >= 1 && out >= 1, "dense_forward", "n, in and out must be >= 1");
  BlasSingleThread blas_guard;
  const int threads = threads_for(int64_t(n) * in * out);
  const int blocks = block_count(n, out);
#pragma omp parallel for schedule(static) num_threads(threads) if (threads > 1)
  for (int i_blk = 0; i_blk < blocks; ++i_blk) {
    const Block blk = block_of(n, out, i_blk, blocks);
    if (!blk.empty()) {
      const int rows = blk.r1 - blk.r0, cols = blk.c1 - blk.c0;
      float* yb = y + int64_t(blk.r0) * out + blk.c0;
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, rows, cols, in, 1.f, x + int64_t(blk.r0) * in, in,
                  w + blk.c0, out, 0.f, yb, out);
      for (int i = 0; i < rows; ++i) {
        float* __restrict__ row = yb + int64_t(i) * out;
        if (b) add_row(row, b + blk.c0, cols);
        apply_activation_inplace(act, row, cols);
      }
    }
  }
}

void dense_backward(float* dx, float* dw, float* db, const float* dy, const float* x, const float* w, int n, int in,
                    int out) {
  require(dw && dy && x, "dense_backward", "dw, dy and x must not be null");
  require(!dx || w, "dense_backward", "w is needed to compute dx");
  require(n >= 1 && in >= 1 && out >= 1, "dense_backward", "n, in and out must be >= 1");
  BlasSingleThread blas_guard;
  const int threads = threads_for(int64_t(n) * in * out);
  const int dw_blocks = block_count(in, out), dx_blocks = dx ? block_count(n, in) : 0;
#pragma omp parallel num_threads(threads) if (threads > 1)
  {
    // dw[in][out] = x^T dy
#pragma omp for schedule(static) nowait
    for (int b = 0; b < dw_blocks; ++b) {
      const Block bw = block_of(in, out, b, dw_blocks);
      if (!bw.empty())
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, bw.r1 - bw.r0, bw.c1 - bw.c0, n, 1.f, x + bw.r0, in,
                    dy + bw.c0, out, 0.f, dw + int64_t(bw.r0) * out + bw.c0, out);
    }
    // db[out] = column sums of dy, in row order (each column's sum is whole within one thread).
    if (db) {
      const int t = omp_get_thread_num(), nt = omp_get_num_threads();
      int64_t c0 = 0, c1 = 0;
      static_range(out, t, nt, c0, c1);
      std::fill(db + c0, db + c1, 0.f);
      for (int i = 0; i < n; ++i) add_row(db + c0, dy + int64_t(i) * out + c0, int(c1 - c0));
    }
    // dx[n][in] = dy w^T
#pragma omp for schedule(static) nowait
    for (int b = 0; b < dx_blocks; ++b) {
      const Block bx = block_of(n, in, b, dx_blocks);
      if (!bx.empty())
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, bx.r1 - bx.r0, bx.c1 - bx.c0, out, 1.f,
                    dy + int64_t(bx.r0) * out, out, w + int64_t(bx.c0) * out, out, 0.f,
                    dx + int64_t(bx.r0) * in + bx.c0, in);
    }
  }
}

}  // namespace zs::cpu
