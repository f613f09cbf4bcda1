// The convolution ops of kernels/cpu/ops.h: the three convolutions (Conv2D and Conv2DTranspose
// both use them), the NCHW bias gradient, and the two layer backwards that run backward-weight
// and the input gradient chunk by chunk. Each op checks its arguments, then takes the direct
// single-channel path when it applies (conv_direct.cpp) or the lowering + panel GEMM path
// (conv_lowering*.cpp, gemm_panels.h), with OpenMP over chunks of images and one single-threaded
// GEMM per chunk.
//
// Overwrites y, dx, dw and db. Deterministic, and independent of the thread count: every image
// chunk is computed the same way whichever thread takes it (chunks are handed out dynamically, so
// a thread the OS preempts does not hold up the others), backward-weight sums its chunks in a
// fixed number of slots added in a fixed order, and bias gradients sum per-image planes in image
// order.
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

// The weights as the forward GEMM's A = W[K][CRS], or backward-data's A = W^T[CRS][K]: packed once
// per op into the calling thread's kScratchWeights, then read by every thread.
const float* pack_forward_weights(const ConvGeom& g, const ConvSizes& z, const float* w) {
  float* panels = thread_scratch(kScratchWeights, a_panels_floats(g.k, z.crs));
  pack_a_panels(panels, g.k, z.crs, 0, z.crs, w, z.crs, 1);
  return panels;
}
const float* pack_transposed_weights(const ConvGeom& g, const ConvSizes& z, const float* w) {
  float* panels = thread_scratch(kScratchWeights, a_panels_floats(z.crs, g.k));
  pack_a_panels(panels, z.crs, g.k, 0, g.k, w, 1, z.crs);
  return panels;
}

// One chunk of the forward conv: y = act(conv(x, w) + b) * act'(gate). The GEMM prefetches the
// chunk `ahead` chunks on (the one this thread is likely to take next).
void forward_chunk(const ConvGeom& g, const ConvSizes& z, const ChunkPlan& plan, int64_t index, int64_t ahead,
                   float* y, const float* x, const float* w_panels, const float* b, Act act, const ActGate& gate) {
  // Y[K][columns] = W[K][CRS] * col[CRS][columns]
  const Chunk ch(plan, g, z, index);
  float* col = thread_scratch(kScratchPackedB, b_panels_floats(z.crs, ch.columns));
  im2col(g, {ColumnTarget::Layout::kPanels, col, z.crs, ch.columns}, x + ch.n0 * z.chw, ch.count);
  // One image: the GEMM writes straight into y ([K][PQ] is already NCHW).
  float* out = ch.count == 1 ? y + ch.n0 * z.kpq : thread_scratch(kScratchGemmOut, g.k * ch.columns);
  gemm_panels(g.k, ch.columns, z.crs, w_panels, col, out, ch.columns, false,
              next_chunk(plan, g, z, index, ahead, x, z.chw), next_chunk(plan, g, z, index, ahead, y, z.kpq));
  store_forward_chunk(g, z, y + ch.n0 * z.kpq, out, ch, b, act);
  apply_gate(gate, y, ch.n0 * z.kpq, ch.count * z.kpq);
}

// One chunk of backward-data: dx = act(conv-transpose(dy, w) + bias) * act'(gate).
void backward_data_chunk(const ConvGeom& g, const ConvSizes& z, const ChunkPlan& plan, int64_t index, int64_t ahead,
                         float* dx, const float* dy, const float* wt_panels, const float* bias, Act act,
                         const ActGate& gate) {
  // col[CRS][columns] = W^T[CRS][K] * dY[K][columns], then col2im
  const Chunk ch(plan, g, z, index);
  const float* dy_panels = pack_dy_as_b(g, z, dy, ch);
  float* col = thread_scratch(kScratchCol, z.crs * ch.columns);
  gemm_panels(z.crs, ch.columns, g.k, wt_panels, dy_panels, col, ch.columns, false,
              next_chunk(plan, g, z, index, ahead, dy, z.kpq), next_chunk(plan, g, z, index, ahead, dx, z.chw));
  col2im(g, dx + ch.n0 * z.chw, col, ch.columns, ch.count, bias, act);
  apply_gate(gate, dx, ch.n0 * z.chw, ch.count * z.chw);
}

// One chunk of backward-weight: acc (+)= dY[K][columns] * col^T[columns][CRS].
void weight_grad_chunk(const ConvGeom& g, const ConvSizes& z, const ChunkPlan& plan, int64_t index, float* acc,
                       bool accumulate, const float* x, const float* dy) {
  const Chunk ch(plan, g, z, index);
  float* dy_panels = thread_scratch(kScratchPackedA, a_panels_floats(g.k, ch.columns));
  for (int j = 0; j < ch.count; ++j)
    pack_a_panels(dy_panels, g.k, ch.columns, j * z.pq, z.pq, dy + (ch.n0 + j) * z.kpq, z.pq, 1);
  float* col_t = thread_scratch(kScratchPackedB, b_panels_floats(ch.columns, z.crs));
  im2col(g, {ColumnTarget::Layout::kTransposedPanels, col_t, z.crs, ch.columns}, x + ch.n0 * z.chw, ch.count);
  // The slots own contiguous chunk ranges: this thread's next chunk is the next one.
  gemm_panels(g.k, z.crs, ch.columns, dy_panels, col_t, acc, z.crs, accumulate,
              next_chunk(plan, g, z, index, 1, x, z.chw), next_chunk(plan, g, z, index, 1, dy, z.kpq));
}

// dW[K][CRS] = sum over chunks of weight_grad_chunk, with `then(index)` run on the same thread
// right after each chunk: the layer backwards put the input gradient of the same images there,
// while their x and dy are still in cache.
// The chunks are split into a fixed number of slots, each summing its contiguous range of chunks
// in order into its own partial dW (slot 0 into dw itself); the slots are then added in slot
// order. Threads pick slots dynamically, yet the bits depend on neither the thread count nor the
// schedule. `partials` holds (slots - 1) * K * CRS floats.
int weight_grad_slots(const ChunkPlan& plan) { return std::min(plan.chunks, kWeightGradSlots); }

template <class Then>
void weight_grad_over_slots(const ConvGeom& g, const ConvSizes& z, const ChunkPlan& plan, float* dw, float* partials,
                            const float* x, const float* dy, const Then& then) {
  const int64_t wsize = g.k * z.crs;
  const int slots = weight_grad_slots(plan);
#pragma omp parallel for schedule(dynamic) if (slots > 1)
  for (int slot = 0; slot < slots; ++slot) {
    float* acc = slot == 0 ? dw : partials + (slot - 1) * wsize;
    int64_t begin = 0, end = 0;
    static_range(plan.chunks, slot, slots, begin, end);
    for (int64_t index = begin; index < end; ++index) {
      weight_grad_chunk(g, z, plan, index, acc, index != begin, x, dy);
      then(index);
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

// The sum of one plane, in a fixed order: four independent 8-lane partial sums (one would make the
// loop wait on the add latency), then the lanes, then the tail. Every bias gradient is summed by
// this one function, so it has the same bits whichever op computes it.
float plane_sum(const float* v, int64_t hw) {
  constexpr int64_t kLanes = 8, kWidth = 4 * kLanes;
  v8f acc[4] = {};
  int64_t j = 0;
  for (; j + kWidth <= hw; j += kWidth)
    for (int a = 0; a < 4; ++a) {
      v8f x;
      std::memcpy(&x, v + j + a * kLanes, sizeof x);
      acc[a] += x;
    }
  for (; j + kLanes <= hw; j += kLanes) {
    v8f x;
    std::memcpy(&x, v + j, sizeof x);
    acc[0] += x;
  }
  const v8f lanes = (acc[0] + acc[1]) + (acc[2] + acc[3]);
  float total = 0.f;
  for (int l = 0; l < kLanes; ++l) total += lanes[l];
  for (; j < hw; ++j) total += v[j];
  return total;
}

// sums[i * c + ch] = plane_sum of plane (i, ch) for the images [n0, n0 + count) of t[n][c][hw].
void image_plane_sums(float* sums, const float* t, int n0, int count, int c, int64_t hw) {
  for (int64_t i = int64_t(n0) * c; i < int64_t(n0 + count) * c; ++i) sums[i] = plane_sum(t + i * hw, hw);
}

// db[ch] = sum over images, in image order, of sums[i * c + ch].
void reduce_plane_sums(float* db, const float* sums, int n, int c) {
  for (int ch = 0; ch < c; ++ch) db[ch] = 0.f;
  for (int img = 0; img < n; ++img)
    for (int ch = 0; ch < c; ++ch) db[ch] += sums[int64_t(img) * c + ch];
}

// y = act(conv(x, w) + b) * act'(gate), gate or bias + act absent.
void forward(const ConvGeom& g, float* y, const float* x, const float* w, const float* b, Act act,
             const ActGate& gate) {
  if (direct_forward_applies(g)) return direct_forward(g, y, x, w, b, act, gate);
  const ConvSizes z(g);
  const ChunkPlan plan = plan_chunks(g);
  const float* w_panels = pack_forward_weights(g, z, w);
#pragma omp parallel for schedule(dynamic) if (plan.chunks > 1)
  for (int index = 0; index < plan.chunks; ++index)
    forward_chunk(g, z, plan, index, omp_get_num_threads(), y, x, w_panels, b, act, gate);
}

// dx = act(conv-transpose(dy, w) + bias) * act'(gate), gate or bias + act absent.
void backward_data(const ConvGeom& g, float* dx, const float* dy, const float* w, const float* bias, Act act,
                   const ActGate& gate) {
  if (direct_backward_data_applies(g)) return direct_backward_data(g, dx, dy, w, bias, act, gate);
  const ConvSizes z(g);
  const ChunkPlan plan = plan_chunks(g);
  const float* wt_panels = pack_transposed_weights(g, z, w);
#pragma omp parallel for schedule(dynamic) if (plan.chunks > 1)
  for (int index = 0; index < plan.chunks; ++index)
    backward_data_chunk(g, z, plan, index, omp_get_num_threads(), dx, dy, wt_panels, bias, act, gate);
}

void check_gate(const ActGate& gate, const char* op) {
  require(gate.act == Act::None || gate.y, op, "gate.y must not be null when gate.act is set");
}

}  // namespace

void conv2d_forward(const ConvGeom& g, float* y, const float* x, const float* w, const float* b, Act act) {
  check_geometry(g, "conv2d_forward");
  require(y && x && w, "conv2d_forward", "y, x and w must not be null");
  forward(g, y, x, w, b, act, {});
}

void conv2d_backward_data(const ConvGeom& g, float* dx, const float* dy, const float* w, const float* bias,
                          Act act) {
  check_geometry(g, "conv2d_backward_data");
  require(dx && dy && w, "conv2d_backward_data", "dx, dy and w must not be null");
  backward_data(g, dx, dy, w, bias, act, {});
}

void conv2d_backward_weight(const ConvGeom& g, float* dw, float* db, const float* x, const float* dy) {
  check_geometry(g, "conv2d_backward_weight");
  require(dw && x && dy, "conv2d_backward_weight", "dw, x and dy must not be null");
  if (db) bias_grad_nchw(db, dy, g.n, g.k, g.p * g.q);
  if (direct_backward_weight_applies(g)) return direct_backward_weight(g, dw, x, dy);
  const ConvSizes z(g);
  const ChunkPlan plan = plan_chunks(g);
  float* partials = thread_scratch(kScratchPartials, (weight_grad_slots(plan) - 1) * g.k * z.crs);
  weight_grad_over_slots(g, z, plan, dw, partials, x, dy, [](int64_t) {});
}

void conv2d_layer_backward(const ConvGeom& g, float* dw, float* db, float* dx, const float* x, const float* dy,
                           const float* w, const ActGate& dx_gate) {
  check_geometry(g, "conv2d_layer_backward");
  require(dw && db && x && dy && w, "conv2d_layer_backward", "dw, db, x, dy and w must not be null");
  check_gate(dx_gate, "conv2d_layer_backward");
  if (direct_backward_weight_applies(g) || (dx && direct_backward_data_applies(g))) {
    conv2d_backward_weight(g, dw, db, x, dy);
    if (dx) backward_data(g, dx, dy, w, nullptr, Act::None, dx_gate);
    return;
  }
  const ConvSizes z(g);
  const ChunkPlan plan = plan_chunks(g);
  const float* wt_panels = dx ? pack_transposed_weights(g, z, w) : nullptr;
  const int64_t partial_floats = (weight_grad_slots(plan) - 1) * g.k * z.crs;
  float* partials = thread_scratch(kScratchPartials, partial_floats + int64_t(g.n) * g.k);
  float* sums = partials + partial_floats;  // per-image bias sums of dy
  weight_grad_over_slots(g, z, plan, dw, partials, x, dy, [&](int64_t index) {
    const Chunk ch(plan, g, z, index);
    image_plane_sums(sums, dy, ch.n0, ch.count, g.k, z.pq);
    if (dx) backward_data_chunk(g, z, plan, index, 1, dx, dy, wt_panels, nullptr, Act::None, dx_gate);
  });
  reduce_plane_sums(db, sums, g.n, g.k);
}

void conv2d_transpose_layer_backward(const ConvGeom& g, float* dw, float* db, float* dx, const float* x,
                                     const float* dy, const float* w, const ActGate& dx_gate) {
  check_geometry(g, "conv2d_transpose_layer_backward");
  require(dw && db && x && dy && w, "conv2d_transpose_layer_backward", "dw, db, x, dy and w must not be null");
  check_gate(dx_gate, "conv2d_transpose_layer_backward");
  // In the terms of the conv g: the layer's dy is its x side, the layer's x (and dx) its y side.
  if (direct_backward_weight_applies(g) || (dx && direct_forward_applies(g))) {
    conv2d_backward_weight(g, dw, nullptr, dy, x);
    bias_grad_nchw(db, dy, g.n, g.c, g.h * g.w);
    if (dx) forward(g, dx, dy, w, nullptr, Act::None, dx_gate);
    return;
  }
  const ConvSizes z(g);
  const ChunkPlan plan = plan_chunks(g);
  const float* w_panels = dx ? pack_forward_weights(g, z, w) : nullptr;
  const int64_t partial_floats = (weight_grad_slots(plan) - 1) * g.k * z.crs;
  float* partials = thread_scratch(kScratchPartials, partial_floats + int64_t(g.n) * g.c);
  float* sums = partials + partial_floats;  // per-image bias sums of the layer's dy
  weight_grad_over_slots(g, z, plan, dw, partials, dy, x, [&](int64_t index) {
    const Chunk ch(plan, g, z, index);
    image_plane_sums(sums, dy, ch.n0, ch.count, g.c, int64_t(g.h) * g.w);
    if (dx) forward_chunk(g, z, plan, index, 1, dx, dy, w_panels, nullptr, Act::None, dx_gate);
  });
  reduce_plane_sums(db, sums, g.n, g.c);
}

void bias_grad_nchw(float* db, const float* dy, int n, int c, int hw) {
  require(db && dy, "bias_grad_nchw", "db and dy must not be null");
  require(n >= 1 && c >= 1 && hw >= 1, "bias_grad_nchw", "n, c and hw must be >= 1");
  // Per-(image, channel) sums in parallel, then a sum over images in image order: the same bits
  // for any thread count, and parallel even when c == 1.
  float* sums = thread_scratch(kScratchPartials, int64_t(n) * c);
  const int64_t planes = int64_t(n) * c;
#pragma omp parallel for schedule(static) if (planes * hw >= 32768)
  for (int64_t i = 0; i < planes; ++i) sums[i] = plane_sum(dy + i * hw, hw);
  reduce_plane_sums(db, sums, n, c);
}

}  // namespace zs::cpu
