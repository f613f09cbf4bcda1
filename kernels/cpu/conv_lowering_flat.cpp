// The fast im2col / col2im for geometries whose every image column maps into the first Q phase
// columns (W <= stride * Q: all 'same' convolutions, hence every layer of the blog model).
//
// Phase planes: for stride st, one image channel splits into st*st planes
//   plane[a][b][u][v] = x[st*u + a][st*v + b],
// stored with a row pitch of exactly Q. Tap (r, s) writes r - pad_top = st*e + a and
// s - pad_left = st*d + b (floor division), so
//   col[(c, r, s)][p][q] = x[st*p + r - pad_top][st*q + s - pad_left] = plane[a][b][p + e][q + d].
// Because the plane pitch equals the col pitch Q, the whole P x Q block of a tap is ONE
// contiguous copy (im2col) or add (col2im) of P*Q floats, starting at plane row e, column d.
// (col2im copies instead of adding for one tap per plane where it can, see FlatLayout::anchor.)
// What the flat run gets wrong is confined to the |d| edge columns where q + d leaves [0, Q):
// there the run wraps into the neighbouring plane row. im2col overwrites those entries with the
// zero padding afterwards; col2im zeroes them in col before adding (col is scratch). Plane rows
// outside the image (the top/bottom padding, e < 0 or p + e beyond the image) are stored as zero
// rows, and a few zero floats of slack before and after each plane keep the runs in bounds.
#include <immintrin.h>

#include <algorithm>
#include <bit>
#include <cstring>
#include <vector>

#include "kernels/cpu/conv_impl.h"
#include "kernels/cpu/cpu_common_impl.h"
#include "kernels/cpu/avx2_impl.h"
#include "kernels/cpu/gemm_panels.h"

namespace zs::cpu::detail {
namespace {

inline int floor_div(int a, int b) { return a >= 0 ? a / b : -((-a + b - 1) / b); }

struct Tap {
  int plane;     // a * st + b
  int64_t run;   // offset of the tap's first element in its plane
  int shift;     // d: edge columns to fix are [Q - d, Q) when d > 0, [0, -d) when d < 0
};

// Where the phase planes of one channel live and where each tap's flat run starts.
struct FlatLayout {
  int st = 1, row_lo = 0, rows = 0, slack = 0;
  int64_t plane_size = 0;  // floats per plane, slack included
  std::vector<Tap> taps;   // indexed r * S + s
  // col2im: when every plane has an "anchor" tap (e = d = 0) whose run covers exactly the plane
  // rows 0..P-1 that hold pixels (H <= st*P), the anchors are copied first and the other taps
  // added, so only the margins need zeroing. anchor[plane] is the tap index, or -1.
  bool anchored = false;
  std::vector<int> anchor;

  explicit FlatLayout(const ConvGeom& g) : st(g.stride) {
    int row_hi = 0, d_min = 0, d_max = 0;
    row_lo = floor_div(-g.pad_top, st);
    row_hi = g.p - 1 + floor_div(g.r - 1 - g.pad_top, st);
    for (int s = 0; s < g.s; ++s) {
      d_min = std::min(d_min, floor_div(s - g.pad_left, st));
      d_max = std::max(d_max, floor_div(s - g.pad_left, st));
    }
    rows = row_hi - row_lo + 1;
    slack = std::max(-d_min, d_max);
    plane_size = int64_t(rows) * g.q + 2 * slack;
    taps.resize(size_t(g.r) * g.s);
    for (int r = 0; r < g.r; ++r) {
      const int e = floor_div(r - g.pad_top, st), a = r - g.pad_top - st * e;
      for (int s = 0; s < g.s; ++s) {
        const int d = floor_div(s - g.pad_left, st), b = s - g.pad_left - st * d;
        taps[size_t(r) * g.s + s] = {a * st + b, slack + int64_t(e - row_lo) * g.q + d, d};
      }
    }
    anchor.assign(size_t(st) * st, -1);
    for (size_t t = 0; t < taps.size(); ++t)
      if (taps[t].run == anchor_run(g) && anchor[taps[t].plane] < 0) anchor[taps[t].plane] = int(t);
    anchored = g.h <= int64_t(st) * g.p && std::find(anchor.begin(), anchor.end(), -1) == anchor.end();
  }
  // Offset of plane row 0, column 0 (the first real pixel of a phase).
  int64_t anchor_run(const ConvGeom& g) const { return slack + int64_t(-row_lo) * g.q; }
  int64_t planes_floats() const { return int64_t(st) * st * plane_size; }
};

// Phase columns of phase b that hold real pixels (st*v + b < w), capped at the plane pitch q.
inline int phase_width(int w, int b, int st, int q) { return std::min(q, b < w ? (w - b + st - 1) / st : 0); }

// even[v] = row[2v], odd[v] = row[2v + 1] for v < q, 8 of each per step (AVX2 shuffles; GCC does
// not vectorize this de-interleave on its own for rows this short). A ragged end is done by one
// more whole step that overlaps the previous one (masked stores are microcoded and slow on AMD
// cores); rows shorter than one step go scalar.
inline void deinterleave(float* __restrict__ even, float* __restrict__ odd, const float* __restrict__ row, int q) {
  if (q < 8) {
    for (int v = 0; v < q; ++v) even[v] = row[2 * v], odd[v] = row[2 * v + 1];
    return;
  }
  // Per 128-bit lane the shuffles give (lo0 lo2 hi0 hi2 | lo4 lo6 hi4 hi6); the 64-bit swap puts
  // them in order.
  const auto in_order = [](__m256 v) {
    return _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(v), _MM_SHUFFLE(3, 1, 2, 0)));
  };
  for (int v0 = 0; v0 < q; v0 += 8) {
    const int v = std::min(v0, q - 8);
    const __m256 lo = _mm256_loadu_ps(row + 2 * v), hi = _mm256_loadu_ps(row + 2 * v + 8);
    _mm256_storeu_ps(even + v, in_order(_mm256_shuffle_ps(lo, hi, _MM_SHUFFLE(2, 0, 2, 0))));
    _mm256_storeu_ps(odd + v, in_order(_mm256_shuffle_ps(lo, hi, _MM_SHUFFLE(3, 1, 3, 1))));
  }
}

// The inverse, plus a bias: row[2v] = even[v] + bias, row[2v + 1] = odd[v] + bias for v < q.
inline void interleave(float* __restrict__ row, const float* __restrict__ even, const float* __restrict__ odd, int q,
                       float bias) {
  if (q < 8) {
    for (int v = 0; v < q; ++v) row[2 * v] = even[v] + bias, row[2 * v + 1] = odd[v] + bias;
    return;
  }
  const __m256 b = _mm256_set1_ps(bias);
  for (int v0 = 0; v0 < q; v0 += 8) {
    const int v = std::min(v0, q - 8);
    const __m256 e = _mm256_add_ps(_mm256_loadu_ps(even + v), b), o = _mm256_add_ps(_mm256_loadu_ps(odd + v), b);
    const __m256 a = _mm256_unpacklo_ps(e, o), c = _mm256_unpackhi_ps(e, o);  // (e0 o0 e1 o1 | e4 o4 e5 o5), ...
    _mm256_storeu_ps(row + 2 * v, _mm256_permute2f128_ps(a, c, 0x20));
    _mm256_storeu_ps(row + 2 * v + 8, _mm256_permute2f128_ps(a, c, 0x31));
  }
}

// Fills the phase planes of one channel: pixels where there are some, zeros elsewhere (padding
// rows and columns, and the slack around each plane).
template <int kStride>
void split_channel(float* planes, const FlatLayout& L, const ConvGeom& g, const float* xc) {
  const int st = kStride > 0 ? kStride : L.st;
  const int64_t body = int64_t(L.rows) * g.q;
  for (int plane = 0; plane < st * st; ++plane) {
    float* p = planes + plane * L.plane_size;
    zero_short(p, L.slack);
    zero_short(p + L.slack + body, L.plane_size - L.slack - body);
  }
  for (int i = 0; i < L.rows; ++i) {
    const int u = L.row_lo + i;
    for (int a = 0; a < st; ++a) {
      float* base = planes + L.slack + int64_t(i) * g.q + int64_t(a * st) * L.plane_size;
      const int h = st * u + a;
      if (h < 0 || h >= g.h) {  // a padding row
        for (int b = 0; b < st; ++b) zero_short(base + b * L.plane_size, g.q);
        continue;
      }
      const float* __restrict__ row = xc + int64_t(h) * g.w;
      if (st == 2 && g.w == 2 * g.q) {  // the common case
        deinterleave(base, base + L.plane_size, row, g.q);
        continue;
      }
      for (int b = 0; b < st; ++b) {
        float* __restrict__ dst = base + b * L.plane_size;
        const int width = phase_width(g.w, b, st, g.q);
        for (int v = 0; v < width; ++v) dst[v] = row[v * st + b];
        zero_short(dst + width, g.q - width);
      }
    }
  }
}

// One channel of dx = act(bias + the phase planes' values), interleaving the phases.
template <int kStride>
void merge_channel(float* dxc, const FlatLayout& L, const ConvGeom& g, const float* planes, float bias, Act act) {
  const int st = kStride > 0 ? kStride : L.st;
  for (int h = 0; h < g.h; ++h) {
    float* __restrict__ row = dxc + int64_t(h) * g.w;
    const int u = h / st, a = h % st;
    if (u < L.row_lo || u >= L.row_lo + L.rows) {  // no output reads this row
      std::fill(row, row + g.w, bias);
    } else {
      const float* base = planes + L.slack + int64_t(u - L.row_lo) * g.q;
      if (st == 2 && g.w == 2 * g.q) {
        interleave(row, base + int64_t(a * 2) * L.plane_size, base + int64_t(a * 2 + 1) * L.plane_size, g.q, bias);
      } else {
        for (int b = 0; b < st; ++b) {
          const float* __restrict__ src = base + int64_t(a * st + b) * L.plane_size;
          const int width = phase_width(g.w, b, st, g.q);
          for (int v = 0; v < width; ++v) row[v * st + b] = src[v] + bias;
        }
      }
    }
  }
  apply_activation_inplace(act, dxc, int64_t(g.h) * g.w);  // once per plane: rows are short
}

// Zeroes the |d| edge columns of a P x Q block (see the file header).
void zero_edge_columns(float* block, int shift, const ConvGeom& g) {
  if (shift == 0) return;
  const int lo = shift > 0 ? g.q - std::min(shift, g.q) : 0;
  const int hi = shift > 0 ? g.q : std::min(-shift, g.q);
  for (int p = 0; p < g.p; ++p)
    for (int q = lo; q < hi; ++q) block[int64_t(p) * g.q + q] = 0.f;
}

template <int kStride>
void im2col_flat_impl(const ConvGeom& g, float* col, int64_t ld, const float* x, int nimg) {
  const FlatLayout L(g);
  const int64_t pq = int64_t(g.p) * g.q, hw = int64_t(g.h) * g.w, taps = int64_t(g.r) * g.s;
  float* planes = thread_scratch(kScratchPad, L.planes_floats());
  for (int j = 0; j < nimg; ++j) {
    for (int c = 0; c < g.c; ++c) {
      split_channel<kStride>(planes, L, g, x + (int64_t(j) * g.c + c) * hw);
      for (int64_t t = 0; t < taps; ++t) {
        const Tap& tap = L.taps[t];
        float* dst = col + (c * taps + t) * ld + j * pq;
        copy_short(dst, planes + tap.plane * L.plane_size + tap.run, pq);
        zero_edge_columns(dst, tap.shift, g);
      }
    }
  }
}

// Per tap, a bit mask over the P*Q columns of an image: all ones where the tap's flat run holds
// the right pixel, zero on the |d| edge columns (see the file header). kPanelCols zero masks
// follow each tap's row, so 16-wide reads never leave it. They depend only on the geometry, so a
// thread builds them once per geometry, not once per chunk.
const float* edge_masks(const FlatLayout& L, const ConvGeom& g, int64_t pq) {
  struct Key {
    int p, q, r, s, stride, pad_left;
    bool operator==(const Key&) const = default;
  };
  thread_local Key built{-1, -1, -1, -1, -1, -1};
  const Key key{g.p, g.q, g.r, g.s, g.stride, g.pad_left};
  const int64_t pitch = pq + kPanelCols;
  // Same key, same size: the slot keeps its buffer and what was built in it.
  float* masks = thread_scratch(kScratchMasks, L.taps.size() * pitch);
  if (key == built) return masks;
  const float keep = std::bit_cast<float>(~0u), drop = 0.f;
  for (size_t t = 0; t < L.taps.size(); ++t) {
    const int shift = L.taps[t].shift;
    float* m = masks + t * pitch;
    for (int p = 0; p < g.p; ++p)
      for (int q = 0; q < g.q; ++q) m[int64_t(p) * g.q + q] = q + shift >= 0 && q + shift < g.q ? keep : drop;
    std::fill(m + pq, m + pitch, drop);
  }
  built = key;
  return masks;
}

// The phase planes of every channel of one image side by side, and where the flat run of each
// row (c, r, s) of col starts in them: the source of both panel versions of im2col.
struct ImagePlanes {
  const FlatLayout& L;
  int64_t channel_floats;
  float* planes;
  // `tail` zero floats follow the last channel, for reads that run (masked off) past its end.
  ImagePlanes(const FlatLayout& layout, const ConvGeom& g, int64_t tail)
      : L(layout), channel_floats(layout.planes_floats()), planes(thread_scratch(kScratchPad, g.c * channel_floats + tail)) {
    std::fill(planes + g.c * channel_floats, planes + g.c * channel_floats + tail, 0.f);
  }
  template <int kStride>
  void split(const ConvGeom& g, const float* image) {
    const int64_t hw = int64_t(g.h) * g.w;
    for (int c = 0; c < g.c; ++c) split_channel<kStride>(planes + c * channel_floats, L, g, image + c * hw);
  }
  const float* run(int64_t c, int64_t t) const {
    return planes + c * channel_floats + L.taps[size_t(t)].plane * L.plane_size + L.taps[size_t(t)].run;
  }
};

// im2col into gemm_panels.h B panels. A panel row is 16 consecutive columns of one tap, which in
// the flat layout are 16 consecutive floats of that tap's run: one masked 64-byte copy. All
// channels of an image are split into phase planes first, then the image's columns are written
// panel by panel (a panel may be shared with the neighbouring images: those pieces are partial).
template <int kStride>
void im2col_flat_panels_impl(const ConvGeom& g, const ColumnTarget& col, const float* x, int nimg) {
  const FlatLayout L(g);
  const int64_t pq = int64_t(g.p) * g.q, chw = int64_t(g.c) * g.h * g.w, taps = int64_t(g.r) * g.s;
  const int64_t mask_pitch = pq + kPanelCols;
  ImagePlanes image(L, g, 0);
  const float* masks = edge_masks(L, g, pq);
  for (int j = 0; j < nimg; ++j) {
    image.split<kStride>(g, x + j * chw);
    for (int64_t n = 0; n < pq;) {
      const int64_t column = j * pq + n, offset = column % kPanelCols;
      const int64_t len = std::min(kPanelCols - offset, pq - n);
      float* dst = col.data + column / kPanelCols * col.rows * kPanelCols + offset;
      for (int c = 0; c < g.c; ++c) {
        for (int64_t t = 0; t < taps; ++t, dst += kPanelCols) {
          const float* src = image.run(c, t) + n;
          const float* mask = masks + t * mask_pitch + n;
          if (len == kPanelCols) {
            _mm256_store_ps(dst, _mm256_and_ps(_mm256_loadu_ps(src), _mm256_loadu_ps(mask)));
            _mm256_store_ps(dst + 8, _mm256_and_ps(_mm256_loadu_ps(src + 8), _mm256_loadu_ps(mask + 8)));
          } else {
            for (int64_t i = 0; i < len; ++i)
              dst[i] = std::bit_cast<float>(std::bit_cast<uint32_t>(src[i]) & std::bit_cast<uint32_t>(mask[i]));
          }
        }
      }
      n += len;
    }
  }
  zero_b_padding(col.data, col.rows, col.columns);
}

// im2col into the B panels of B = col^T (k = the chunk's columns, n = C*R*S): panel p holds 16
// rows (c, r, s) of col, and its row kk the 16 values of column kk. Per image, 8 columns x 16
// rows are read as 16 masked vectors from the flat runs (as in the panel version above) and
// transposed in registers. Rows past C*R*S read as zeros.
template <int kStride>
void im2col_flat_transposed_panels_impl(const ConvGeom& g, const ColumnTarget& col, const float* x, int nimg) {
  const FlatLayout L(g);
  const int64_t pq = int64_t(g.p) * g.q, chw = int64_t(g.c) * g.h * g.w, taps = int64_t(g.r) * g.s;
  const int64_t mask_pitch = pq + kPanelCols;
  ImagePlanes image(L, g, 8);  // the last 8-column group of an image may read past the last run
  const float* masks = edge_masks(L, g, pq);
  const int64_t panels = (col.rows + kPanelCols - 1) / kPanelCols;
  for (int j = 0; j < nimg; ++j) {
    image.split<kStride>(g, x + j * chw);
    for (int64_t p = 0; p < panels; ++p) {
      // The sources of the panel's 16 rows (nullptr: a padding row).
      const float* src[kPanelCols];
      const float* mask[kPanelCols];
      for (int i = 0; i < kPanelCols; ++i) {
        const int64_t row = p * kPanelCols + i;
        if (row >= col.rows) {
          src[i] = mask[i] = nullptr;
          continue;
        }
        src[i] = image.run(row / taps, row % taps);
        mask[i] = masks + row % taps * mask_pitch;
      }
      float* panel = col.data + (p * col.columns + j * pq) * kPanelCols;
      for (int64_t n = 0; n < pq; n += 8) {
        __m256 lo[8], hi[8];  // rows 0-7 and 8-15 of the panel, columns n .. n+7
        for (int i = 0; i < 8; ++i) {
          lo[i] = src[i] ? _mm256_and_ps(_mm256_loadu_ps(src[i] + n), _mm256_loadu_ps(mask[i] + n)) : _mm256_setzero_ps();
          hi[i] = src[i + 8] ? _mm256_and_ps(_mm256_loadu_ps(src[i + 8] + n), _mm256_loadu_ps(mask[i + 8] + n))
                             : _mm256_setzero_ps();
        }
        transpose8(lo);
        transpose8(hi);
        const int64_t count = std::min<int64_t>(8, pq - n);
        for (int64_t r = 0; r < count; ++r) {
          _mm256_store_ps(panel + (n + r) * kPanelCols, lo[r]);
          _mm256_store_ps(panel + (n + r) * kPanelCols + 8, hi[r]);
        }
      }
    }
  }
}

template <int kStride>
void col2im_flat_impl(const ConvGeom& g, float* dx, float* col, int64_t ld, int nimg, const float* bias, Act act) {
  const FlatLayout L(g);
  const int64_t pq = int64_t(g.p) * g.q, hw = int64_t(g.h) * g.w, taps = int64_t(g.r) * g.s;
  float* planes = thread_scratch(kScratchPad, L.planes_floats());
  const int64_t anchor_begin = L.anchor_run(g), anchor_end = anchor_begin + pq;
  for (int j = 0; j < nimg; ++j) {
    for (int c = 0; c < g.c; ++c) {
      const float* col_c = col + c * taps * ld + j * pq;
      if (L.anchored) {
        for (int plane = 0; plane < L.st * L.st; ++plane) {
          float* base = planes + plane * L.plane_size;
          zero_short(base, anchor_begin);
          zero_short(base + anchor_end, L.plane_size - anchor_end);
          copy_short(base + anchor_begin, col_c + L.anchor[plane] * ld, pq);  // d = 0: no edge columns
        }
      } else {
        std::memset(planes, 0, sizeof(float) * L.planes_floats());
      }
      for (int64_t t = 0; t < taps; ++t) {
        const Tap& tap = L.taps[t];
        if (L.anchored && L.anchor[tap.plane] == t) continue;
        float* src = col + (c * taps + t) * ld + j * pq;
        zero_edge_columns(src, tap.shift, g);
        float* __restrict__ dst = planes + tap.plane * L.plane_size + tap.run;
        const float* __restrict__ from = src;
        for (int64_t i = 0; i < pq; ++i) dst[i] += from[i];
      }
      merge_channel<kStride>(dx + (int64_t(j) * g.c + c) * hw, L, g, planes, bias ? bias[c] : 0.f, act);
    }
  }
}

}  // namespace

bool flat_lowering_applies(const ConvGeom& g) { return g.w <= int64_t(g.stride) * g.q; }

void im2col_flat(const ConvGeom& g, const ColumnTarget& col, const float* x, int nimg) {
  if (col.layout == ColumnTarget::Layout::kPanels) {
    switch (g.stride) {
      case 1: return im2col_flat_panels_impl<1>(g, col, x, nimg);
      case 2: return im2col_flat_panels_impl<2>(g, col, x, nimg);
      default: return im2col_flat_panels_impl<0>(g, col, x, nimg);
    }
  }
  if (col.layout == ColumnTarget::Layout::kTransposedPanels) {
    switch (g.stride) {
      case 1: return im2col_flat_transposed_panels_impl<1>(g, col, x, nimg);
      case 2: return im2col_flat_transposed_panels_impl<2>(g, col, x, nimg);
      default: return im2col_flat_transposed_panels_impl<0>(g, col, x, nimg);
    }
  }
  switch (g.stride) {
    case 1: return im2col_flat_impl<1>(g, col.data, col.columns, x, nimg);
    case 2: return im2col_flat_impl<2>(g, col.data, col.columns, x, nimg);
    default: return im2col_flat_impl<0>(g, col.data, col.columns, x, nimg);
  }
}

void col2im_flat(const ConvGeom& g, float* dx, float* col, int64_t ld, int nimg, const float* bias, Act act) {
  switch (g.stride) {
    case 1: return col2im_flat_impl<1>(g, dx, col, ld, nimg, bias, act);
    case 2: return col2im_flat_impl<2>(g, dx, col, ld, nimg, bias, act);
    default: return col2im_flat_impl<0>(g, dx, col, ld, nimg, bias, act);
  }
}

}  // namespace zs::cpu::detail
