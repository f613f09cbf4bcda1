// im2col / col2im for the GEMM-based convolutions (see conv_impl.h for the column layout), and
// the chunk plan. 'same' geometries (all of the blog model) take the flat path of
// conv_lowering_flat.cpp; the row-by-row versions here serve the rest ('valid' and other
// explicit paddings). They walk the image row by row: image row h feeds output row
// p = (h + pad_top - r) / stride of every kernel row r that divides evenly. Strided rows are
// split into phases first (see TapColumn), so the inner loops copy or add contiguous runs.
#include <algorithm>
#include <cstring>
#include <vector>

#include "kernels/cpu/conv_impl.h"
#include "kernels/cpu/cpu_common_impl.h"
#include "kernels/cpu/gemm_panels.h"

namespace zs::cpu::detail {
namespace {

// GEMMs narrower than this lose speed in OpenBLAS (measured on the blog's 7x7 layer: 49 columns
// run ~15% slower than 196)...
constexpr int64_t kMinGemmColumns = 192;
// ...and a chunk's column matrix should stay within a 512 KiB per-core L2.
constexpr int64_t kColumnBudgetFloats = 128 * 1024;

// Output indices [lo, hi) whose input index i*stride + offset lies inside [0, extent).
struct IndexRange {
  int lo = 0, hi = 0;
};
IndexRange valid_outputs(int offset, int stride, int extent, int outputs) {
  // i*stride + offset >= 0  <=>  i >= ceil(-offset / stride)
  int lo = offset >= 0 ? 0 : (-offset + stride - 1) / stride;
  // i*stride + offset <= extent - 1  <=>  i <= floor((extent - 1 - offset) / stride)
  int last = extent - 1 - offset;
  int hi = last >= 0 ? last / stride + 1 : 0;
  lo = std::min(lo, outputs);
  hi = std::clamp(hi, lo, outputs);
  return {lo, hi};
}

// Phases of an image row for stride st: phase b holds the pixels w = st*v + b, v = 0, 1, ...
// A kernel column s reads, for output q, pixel w = st*q + s - pad_left = st*(q + d) + b with
// b = (s - pad_left) mod st and d = floor((s - pad_left) / st): a CONTIGUOUS run of phase b.
// So a strided im2col row is a plain copy out of a phase, and col2im a plain add into one.
struct TapColumn {
  int phase = 0, shift = 0;  // b and d above
  IndexRange valid;          // outputs q whose pixel lies inside the image
};
std::vector<TapColumn> tap_columns(const ConvGeom& g) {
  std::vector<TapColumn> taps(g.s);
  for (int s = 0; s < g.s; ++s) {
    const int t = s - g.pad_left;
    const int phase = ((t % g.stride) + g.stride) % g.stride;
    taps[s] = {phase, (t - phase) / g.stride, valid_outputs(t, g.stride, g.w, g.q)};
  }
  return taps;
}

// Pixels of phase b in a row of width w.
inline int phase_length(int w, int b, int stride) { return b < w ? (w - b + stride - 1) / stride : 0; }

// Splits a row into its phases, laid out one after the other, phase b starting at b * pitch.
void split_phases(float* __restrict__ phases, int pitch, const float* __restrict__ row, int w, int st) {
  for (int b = 0; b < st; ++b) {
    float* dst = phases + b * pitch;
    const int len = phase_length(w, b, st);
    for (int v = 0; v < len; ++v) dst[v] = row[v * st + b];
  }
}

// The inverse: row[st*v + b] = act(phases[b * pitch + v] + bias).
void merge_phases(float* __restrict__ row, const float* __restrict__ phases, int pitch, int w, int st,
                  float bias, Act act) {
  for (int b = 0; b < st; ++b) {
    const float* src = phases + b * pitch;
    const int len = phase_length(w, b, st);
    for (int v = 0; v < len; ++v) row[v * st + b] = src[v] + bias;
  }
  apply_activation_inplace(act, row, w);
}

void im2col_rows(const ConvGeom& g, float* col, int64_t ld, const float* x, int nimg) {
  const int st = g.stride;
  const int64_t pq = int64_t(g.p) * g.q, hw = int64_t(g.h) * g.w;
  const std::vector<TapColumn> taps = tap_columns(g);
  const int pitch = (g.w + st - 1) / st;
  std::vector<float> phases(size_t(st) * pitch);
  for (int j = 0; j < nimg; ++j) {
    for (int c = 0; c < g.c; ++c) {
      float* col_c = col + int64_t(c) * g.r * g.s * ld + j * pq;
      // Output rows whose input row is padding read zeros.
      for (int r = 0; r < g.r; ++r) {
        const IndexRange rows = valid_outputs(r - g.pad_top, st, g.h, g.p);
        for (int s = 0; s < g.s; ++s) {
          float* dst = col_c + (int64_t(r) * g.s + s) * ld;
          std::memset(dst, 0, sizeof(float) * g.q * rows.lo);
          std::memset(dst + int64_t(rows.hi) * g.q, 0, sizeof(float) * g.q * (g.p - rows.hi));
        }
      }
      // Every input row feeds output row p of each kernel row r with p*st + r - pad_top == h.
      for (int h = 0; h < g.h; ++h) {
        const float* xrow = x + (int64_t(j) * g.c + c) * hw + int64_t(h) * g.w;
        const float* src = xrow;
        if (st > 1) {
          split_phases(phases.data(), pitch, xrow, g.w, st);
          src = phases.data();
        }
        for (int r = 0; r < g.r; ++r) {
          const int ph = h + g.pad_top - r;
          if (ph < 0 || ph % st != 0 || ph / st >= g.p) continue;
          const int64_t p = ph / st;
          for (int s = 0; s < g.s; ++s) {
            const TapColumn& tc = taps[s];
            float* d = col_c + (int64_t(r) * g.s + s) * ld + p * g.q;
            const float* from = src + tc.phase * pitch;  // pitch == w when st == 1
            for (int q = 0; q < tc.valid.lo; ++q) d[q] = 0.f;
            for (int q = tc.valid.lo; q < tc.valid.hi; ++q) d[q] = from[q + tc.shift];
            for (int q = tc.valid.hi; q < g.q; ++q) d[q] = 0.f;
          }
        }
      }
    }
  }
}

void col2im_rows(const ConvGeom& g, float* dx, const float* col, int64_t ld, int nimg, const float* bias,
                 Act act) {
  const int st = g.stride;
  const int64_t pq = int64_t(g.p) * g.q, hw = int64_t(g.h) * g.w;
  const std::vector<TapColumn> taps = tap_columns(g);
  const int pitch = (g.w + st - 1) / st;
  std::vector<float> phases(size_t(st) * pitch);
  for (int j = 0; j < nimg; ++j) {
    for (int c = 0; c < g.c; ++c) {
      const float* col_c = col + int64_t(c) * g.r * g.s * ld + j * pq;
      const float b = bias ? bias[c] : 0.f;
      for (int h = 0; h < g.h; ++h) {
        float* row = dx + (int64_t(j) * g.c + c) * hw + int64_t(h) * g.w;
        // Stride 1 accumulates straight into the row; larger strides into its phases.
        float* acc = st == 1 ? row : phases.data();
        std::fill(acc, acc + (st == 1 ? g.w : st * pitch), 0.f);
        for (int r = 0; r < g.r; ++r) {
          // Output row p read image row h through kernel row r when p*st + r - pad_top == h.
          const int ph = h + g.pad_top - r;
          if (ph < 0 || ph % st != 0 || ph / st >= g.p) continue;
          const int64_t p = ph / st;
          for (int s = 0; s < g.s; ++s) {
            const TapColumn& tc = taps[s];
            const float* src = col_c + (int64_t(r) * g.s + s) * ld + p * g.q;
            float* to = acc + tc.phase * pitch;
            for (int q = tc.valid.lo; q < tc.valid.hi; ++q) to[q + tc.shift] += src[q];
          }
        }
        if (st == 1) {
          if (b != 0.f)
            for (int w = 0; w < g.w; ++w) row[w] += b;
          apply_activation_inplace(act, row, g.w);
        } else {
          merge_phases(row, acc, pitch, g.w, st, b, act);
        }
      }
    }
  }
}

}  // namespace

ChunkPlan plan_chunks(const ConvGeom& g) {
  const int64_t pq = int64_t(g.p) * g.q, crs = int64_t(g.c) * g.r * g.s;
  int64_t per_chunk = (kMinGemmColumns + pq - 1) / pq;
  per_chunk = std::min(per_chunk, std::max<int64_t>(1, kColumnBudgetFloats / (crs * pq)));
  per_chunk = std::clamp<int64_t>(per_chunk, 1, g.n);
  ChunkPlan plan;
  plan.images_per_chunk = int(per_chunk);
  plan.chunks = int((g.n + per_chunk - 1) / per_chunk);
  return plan;
}

void im2col(const ConvGeom& g, const ColumnTarget& col, const float* x, int nimg) {
  if (flat_lowering_applies(g)) return im2col_flat(g, col, x, nimg);
  if (col.layout == ColumnTarget::Layout::kRowMajor) return im2col_rows(g, col.data, col.columns, x, nimg);
  // Other geometries ('valid' and other explicit paddings) are not on a hot path: lower them
  // row-major first, then move the rows into the panels.
  float* rows = thread_scratch(kScratchCol, col.rows * col.columns);
  im2col_rows(g, rows, col.columns, x, nimg);
  if (col.layout == ColumnTarget::Layout::kPanels) {
    for (int64_t row = 0; row < col.rows; ++row)
      put_b_row_run(col.data, col.rows, row, 0, rows + row * col.columns, col.columns);
    zero_b_padding(col.data, col.rows, col.columns);
    return;
  }
  std::vector<float> column(size_t(col.rows), 0.f);  // B = col^T: column kk of col is row kk of B
  for (int64_t kk = 0; kk < col.columns; ++kk) {
    for (int64_t row = 0; row < col.rows; ++row) column[size_t(row)] = rows[row * col.columns + kk];
    put_b_row_run(col.data, col.columns, kk, 0, column.data(), col.rows);
  }
  zero_b_padding(col.data, col.columns, col.rows);
}

void col2im(const ConvGeom& g, float* dx, float* col, int64_t ld, int nimg, const float* bias, Act act) {
  if (flat_lowering_applies(g)) return col2im_flat(g, dx, col, ld, nimg, bias, act);
  col2im_rows(g, dx, col, ld, nimg, bias, act);
}

}  // namespace zs::cpu::detail
