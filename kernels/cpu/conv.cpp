// The three convolution ops of kernels/cpu/ops.h (Conv2D and Conv2DTranspose both use them) and
// the NCHW bias gradient. Each op checks its arguments, then takes the direct single-channel path
// when it applies (conv_direct.cpp) or the lowering + panel GEMM path (conv_lowering*.cpp,
// gemm_panels.h), with OpenMP over chunks of images and one single-threaded GEMM per chunk.
//
// Overwrites y, dx, dw and db. Deterministic, and independent of the thread count: every image
// chunk is computed the same way whichever thread takes it (chunks are handed out dynamically, so
// a thread the OS preempts does not hold up the others), and backward-weight sums its chunks in
// a fixed number of slots added in a fixed order.
#include <algorithm>
#include <cstring>

#include <omp.h>

#include "kernels/cpu/conv_impl.h"
#include "kernels/cpu/cpu_common_impl.h"
#include "kernels/cpu/gemm_panels.h"
#include "kernels/cpu/ops.h"

namespace zs::cpu {

using namespace detail;

namespace {

// Partial weight gradients summed in a fixed order: enough slots to balance 2-8 threads, few
// enough that adding them up stays cheap (7 extra reads of dW).
constexpr int kWeightGradSlots = 8;

// The sizes every GEMM-path op needs.
struct ConvSizes {
  int64_t crs, pq, chw, kpq;
  explicit ConvSizes(const ConvGeom& g)
      : crs(int64_t(g.c) * g.r * g.s), pq(int64_t(g.p) * g.q), chw(int64_t(g.c) * g.h * g.w), kpq(int64_t(g.k) * pq) {}
};

// The chunk of images [n0, n0 + count) of a plan.
struct Chunk {
  int n0, count;
  int64_t columns;  // count * P * Q: the GEMM columns of the chunk
  Chunk(const ChunkPlan& plan, const ConvGeom& g, const ConvSizes& z, int64_t index)
      : n0(int(index) * plan.images_per_chunk), count(std::min(plan.images_per_chunk, g.n - n0)), columns(count * z.pq) {}
};

// The images of the chunk a thread is likely to take next (with dynamic scheduling and threads
// of equal speed, `ahead` chunks on; past the last chunk, nothing): what the GEMM prefetches.
PrefetchAhead next_chunk(const ChunkPlan& plan, const ConvGeom& g, const ConvSizes& z, int64_t index, int64_t ahead,
                         const float* images, int64_t floats_per_image) {
  if (index + ahead >= plan.chunks) return {};
  const Chunk next(plan, g, z, index + ahead);
  return {images + next.n0 * floats_per_image, next.count * floats_per_image};
}

// B panels of dY (k = K output channels, n = the chunk's columns), packed from NCHW dy.
const float* pack_dy_as_b(const ConvGeom& g, const ConvSizes& z, const float* dy, const Chunk& ch) {
  float* bp = thread_scratch(kScratchPackedB, b_panels_floats(g.k, ch.columns));
  for (int j = 0; j < ch.count; ++j)
    for (int k = 0; k < g.k; ++k) put_b_row_run(bp, g.k, k, j * z.pq, dy + (ch.n0 + j) * z.kpq + k * z.pq, z.pq);
  zero_b_padding(bp, g.k, ch.columns);
  return bp;
}

// y[j][k][:] = act(out[k][j*PQ .. (j+1)*PQ) + b[k]) for the images of a chunk; out may be y.
void store_forward_chunk(const ConvGeom& g, const ConvSizes& z, float* y, const float* out, const Chunk& ch,
                         const float* b, Act act) {
  for (int j = 0; j < ch.count; ++j) {
    for (int k = 0; k < g.k; ++k) {
      float* dst = y + j * z.kpq + k * z.pq;
      const float* src = out + k * ch.columns + j * z.pq;
      bias_activation(dst, src, z.pq, b ? b[k] : 0.f, act);
    }
  }
}

}  // namespace

void conv2d_forward(const ConvGeom& g, float* y, const float* x, const float* w, const float* b, Act act) {
  check_geometry(g, "conv2d_forward");
  require(y && x && w, "conv2d_forward", "y, x and w must not be null");
  if (direct_forward_applies(g)) return direct_forward(g, y, x, w, b, act);

  const ConvSizes z(g);
  const ChunkPlan plan = plan_chunks(g);
  // Y[K][columns] = W[K][CRS] * col[CRS][columns]; W packed once, read by every thread.
  float* w_panels = thread_scratch(kScratchPackedA, a_panels_floats(g.k, z.crs));
  pack_a_panels(w_panels, g.k, z.crs, 0, z.crs, w, z.crs, 1);
#pragma omp parallel for schedule(dynamic) if (plan.chunks > 1)
  for (int index = 0; index < plan.chunks; ++index) {
    const Chunk ch(plan, g, z, index);
    float* col = thread_scratch(kScratchPackedB, b_panels_floats(z.crs, ch.columns));
    im2col(g, {ColumnTarget::Layout::kPanels, col, z.crs, ch.columns}, x + ch.n0 * z.chw, ch.count);
    // One image: the GEMM writes straight into y ([K][PQ] is already NCHW).
    float* out = ch.count == 1 ? y + ch.n0 * z.kpq : thread_scratch(kScratchGemmOut, g.k * ch.columns);
    const int ahead = omp_get_num_threads();
    gemm_panels(g.k, ch.columns, z.crs, w_panels, col, out, ch.columns, false,
                next_chunk(plan, g, z, index, ahead, x, z.chw), next_chunk(plan, g, z, index, ahead, y, z.kpq));
    store_forward_chunk(g, z, y + ch.n0 * z.kpq, out, ch, b, act);
  }
}

void conv2d_backward_data(const ConvGeom& g, float* dx, const float* dy, const float* w, const float* bias,
                          Act act) {
  check_geometry(g, "conv2d_backward_data");
  require(dx && dy && w, "conv2d_backward_data", "dx, dy and w must not be null");
  if (direct_backward_data_applies(g)) return direct_backward_data(g, dx, dy, w, bias, act);

  const ConvSizes z(g);
  const ChunkPlan plan = plan_chunks(g);
  // col[CRS][columns] = W^T[CRS][K] * dY[K][columns]; W^T packed once, read by every thread.
  float* wt_panels = thread_scratch(kScratchPackedA, a_panels_floats(z.crs, g.k));
  pack_a_panels(wt_panels, z.crs, g.k, 0, g.k, w, 1, z.crs);
#pragma omp parallel for schedule(dynamic) if (plan.chunks > 1)
  for (int index = 0; index < plan.chunks; ++index) {
    const Chunk ch(plan, g, z, index);
    const float* dy_panels = pack_dy_as_b(g, z, dy, ch);
    float* col = thread_scratch(kScratchCol, z.crs * ch.columns);
    const int ahead = omp_get_num_threads();
    gemm_panels(z.crs, ch.columns, g.k, wt_panels, dy_panels, col, ch.columns, false,
                next_chunk(plan, g, z, index, ahead, dy, z.kpq), next_chunk(plan, g, z, index, ahead, dx, z.chw));
    col2im(g, dx + ch.n0 * z.chw, col, ch.columns, ch.count, bias, act);
  }
}

void conv2d_backward_weight(const ConvGeom& g, float* dw, float* db, const float* x, const float* dy) {
  check_geometry(g, "conv2d_backward_weight");
  require(dw && x && dy, "conv2d_backward_weight", "dw, x and dy must not be null");
  if (db) bias_grad_nchw(db, dy, g.n, g.k, g.p * g.q);
  if (direct_backward_weight_applies(g)) return direct_backward_weight(g, dw, x, dy);

  const ConvSizes z(g);
  const ChunkPlan plan = plan_chunks(g);
  const int64_t wsize = g.k * z.crs;
  // The chunks are split into a fixed number of slots, each summing its contiguous range of chunks
  // in order into its own partial dW (slot 0 into dw itself); the slots are then added in slot
  // order. Threads pick slots dynamically, yet the bits depend on neither the thread count nor
  // the schedule.
  const int slots = std::min(plan.chunks, kWeightGradSlots);
  float* partials = slots > 1 ? thread_scratch(kScratchPartials, (slots - 1) * wsize) : nullptr;
#pragma omp parallel for schedule(dynamic) if (slots > 1)
  for (int slot = 0; slot < slots; ++slot) {
    float* acc = slot == 0 ? dw : partials + (slot - 1) * wsize;
    int64_t begin = 0, end = 0;
    static_range(plan.chunks, slot, slots, begin, end);
    for (int64_t index = begin; index < end; ++index) {
      // dW[K][CRS] (+)= dY[K][columns] * col^T[columns][CRS]
      const Chunk ch(plan, g, z, index);
      float* dy_panels = thread_scratch(kScratchPackedA, a_panels_floats(g.k, ch.columns));
      for (int j = 0; j < ch.count; ++j)
        pack_a_panels(dy_panels, g.k, ch.columns, j * z.pq, z.pq, dy + (ch.n0 + j) * z.kpq, z.pq, 1);
      float* col_t = thread_scratch(kScratchPackedB, b_panels_floats(ch.columns, z.crs));
      im2col(g, {ColumnTarget::Layout::kTransposedPanels, col_t, z.crs, ch.columns}, x + ch.n0 * z.chw, ch.count);
      gemm_panels(g.k, z.crs, ch.columns, dy_panels, col_t, acc, z.crs, index != begin,
                  next_chunk(plan, g, z, index, 1, x, z.chw), next_chunk(plan, g, z, index, 1, dy, z.kpq));
    }
  }
  if (slots > 1) {
#pragma omp parallel for schedule(static) if (wsize >= 16384)
    for (int64_t e = 0; e < wsize; ++e) {
      float total = dw[e];
      for (int slot = 1; slot < slots; ++slot) total += partials[(slot - 1) * wsize + e];
      dw[e] = total;
    }
  }
}

void bias_grad_nchw(float* db, const float* dy, int n, int c, int hw) {
  require(db && dy, "bias_grad_nchw", "db and dy must not be null");
  require(n >= 1 && c >= 1 && hw >= 1, "bias_grad_nchw", "n, c and hw must be >= 1");
  // Per-(image, channel) sums in parallel, then a sum over images in image order: the same bits
  // for any thread count, and parallel even when c == 1.
  float* sums = thread_scratch(kScratchPartials, int64_t(n) * c);
  const int64_t planes = int64_t(n) * c;
#pragma omp parallel for schedule(static) if (planes * hw >= 32768)
  for (int64_t i = 0; i < planes; ++i) {
    const float* v = dy + i * hw;
    float total = 0.f;
#pragma omp simd reduction(+ : total)
    for (int j = 0; j < hw; ++j) total += v[j];
    sums[i] = total;
  }
  for (int ch = 0; ch < c; ++ch) db[ch] = 0.f;
  for (int img = 0; img < n; ++img)
    for (int ch = 0; ch < c; ++ch) db[ch] += sums[int64_t(img) * c + ch];
}

}  // namespace zs::cpu
