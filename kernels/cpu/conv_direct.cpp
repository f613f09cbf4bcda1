// Direct (no GEMM) convolutions for single-channel stride-1 geometries: the encoder's first
// Conv2D (1 -> 32) and the decoder's last Conv2DTranspose (32 -> 1). Their GEMMs would have an
// inner dimension of R*S = 9, where OpenBLAS reaches ~15 GFLOP/s on two cores; these loops keep
// their accumulators in vector registers and run 1.5-2x faster than that (bench_cpu_ops, layer:1).
//
// The trick: pad the plane so its rows are Wp = Q + S - 1 wide. Then output (p, q) reads
// padded[(p + r) * Wp + q + s], so treating the output as a "wide" flat array of P rows of Wp
// (the last S - 1 entries of each row are junk, dropped when copying out), each kernel tap is ONE
// contiguous multiply-add over the whole plane, whatever P and Q are.
#include <immintrin.h>
#include <omp.h>

#include <algorithm>
#include <cstring>
#include <vector>

#include "kernels/cpu/conv_impl.h"
#include "kernels/cpu/cpu_common_impl.h"

namespace zs::cpu::detail {
namespace {

constexpr int kLanes = 8;                          // floats in a v8f
constexpr int kBlockVecs = 8;                      // accumulators held in registers
constexpr int64_t kBlock = kLanes * kBlockVecs;    // wide outputs per pass

int64_t blocks_for(int64_t count) { return (count + kBlock - 1) / kBlock; }

// dst[a][b] = src[a - row_off][b - col_off] for a < rows, b < width; 0 elsewhere, including the
// tail up to dst_size that the last block reads. Every float is written once.
void pad_plane(float* dst, int64_t dst_size, const float* src, int src_h, int src_w, int row_off, int col_off,
               int rows, int width) {
  const int b_lo = std::clamp(col_off, 0, width), b_hi = std::clamp(src_w + col_off, b_lo, width);
  for (int a = 0; a < rows; ++a) {
    float* d = dst + int64_t(a) * width;
    const int sa = a - row_off;
    if (sa < 0 || sa >= src_h || b_hi == b_lo) {
      zero_short(d, width);
      continue;
    }
    zero_short(d, b_lo);
    copy_short(d + b_lo, src + int64_t(sa) * src_w + (b_lo - col_off), b_hi - b_lo);
    zero_short(d + b_hi, width - b_hi);
  }
  zero_short(dst + int64_t(rows) * width, dst_size - int64_t(rows) * width);
}

// Copies the valid columns of a wide plane (rows of `wide_w`) into a dense rows x cols plane.
void copy_out(float* dst, const float* wide, int rows, int cols, int wide_w) {
  for (int a = 0; a < rows; ++a) copy_short(dst + int64_t(a) * cols, wide + int64_t(a) * wide_w, cols);
}

// Geometry of the padded input plane of the forward conv (also used by backward-weight).
struct PaddedInput {
  int width = 0, rows = 0;
  int64_t wide = 0, blocks = 0, size = 0;
  explicit PaddedInput(const ConvGeom& g)
      : width(g.q + g.s - 1), rows(g.p + g.r - 1), wide(int64_t(g.p) * width), blocks(blocks_for(wide)),
        size((blocks + 1) * kBlock + int64_t(g.r - 1) * width + g.s) {}  // + 1: direct_forward's steps
};

}  // namespace

bool direct_forward_applies(const ConvGeom& g) { return g.c == 1 && g.stride == 1; }

void direct_forward(const ConvGeom& g, float* y, const float* x, const float* w, const float* b, Act act,
                    const ActGate& gate) {
  // kFilters output channels per pass over the plane, kFilterVecs vectors of each: every input
  // vector loaded is used kFilters times (the plane has one channel, so loads, not multiply-adds,
  // would otherwise bound this loop), and the 12 accumulators stay in registers.
  constexpr int kFilters = 4, kFilterVecs = 3;
  constexpr int64_t kStep = kLanes * kFilterVecs;
  const PaddedInput pin(g);
  const int taps = g.r * g.s;
  const int64_t pq = int64_t(g.p) * g.q, hw = int64_t(g.h) * g.w;
  const int64_t steps = (pin.wide + kStep - 1) / kStep, pitch = steps * kStep;
#pragma omp parallel for schedule(dynamic) if (g.n > 1)
  for (int n = 0; n < g.n; ++n) {
    float* xpad = thread_scratch(kScratchPad, pin.size);
    float* out = thread_scratch(kScratchGemmOut, kFilters * pitch);
    pad_plane(xpad, pin.size, x + n * hw, g.h, g.w, g.pad_top, g.pad_left, pin.rows, pin.width);
    for (int k0 = 0; k0 < g.k; k0 += kFilters) {
      const int filters = std::min(kFilters, g.k - k0);
      // Past the last filter, repeat it: the extra results are computed and dropped.
      const float* wk[kFilters];
      float bias[kFilters];
      for (int f = 0; f < kFilters; ++f) {
        const int k = k0 + std::min(f, filters - 1);
        wk[f] = w + int64_t(k) * taps;
        bias[f] = b ? b[k] : 0.f;
      }
      for (int64_t step = 0; step < steps; ++step) {
        __m256 acc[kFilters][kFilterVecs];
        for (int f = 0; f < kFilters; ++f)
          for (auto& a : acc[f]) a = _mm256_set1_ps(bias[f]);
        for (int r = 0; r < g.r; ++r) {
          for (int s = 0; s < g.s; ++s) {
            const float* src = xpad + step * kStep + int64_t(r) * pin.width + s;
            __m256 xv[kFilterVecs];
            for (int v = 0; v < kFilterVecs; ++v) xv[v] = _mm256_loadu_ps(src + v * kLanes);
            for (int f = 0; f < kFilters; ++f) {
              const __m256 wv = _mm256_set1_ps(wk[f][r * g.s + s]);
              for (int v = 0; v < kFilterVecs; ++v) acc[f][v] = _mm256_fmadd_ps(wv, xv[v], acc[f][v]);
            }
          }
        }
        for (int f = 0; f < kFilters; ++f)
          for (int v = 0; v < kFilterVecs; ++v) _mm256_storeu_ps(out + f * pitch + step * kStep + v * kLanes, acc[f][v]);
      }
      for (int f = 0; f < filters; ++f) {
        apply_activation_inplace(act, out + f * pitch, pitch);  // junk columns too: one long run
        copy_out(y + (int64_t(n) * g.k + k0 + f) * pq, out + f * pitch, g.p, g.q, pin.width);
      }
    }
    apply_gate(gate, y, n * g.k * pq, g.k * pq);
  }
}

// dx[h][w] = sum_k,r,s w[k][r][s] * dy[k][h + pad_top - r][w + pad_left - s]. With r' = R-1-r,
// s' = S-1-s this is a forward correlation of dy, padded by (R-1-pad_top, S-1-pad_left), with
// the flipped kernel, summed over the K channels of dy.
bool direct_backward_data_applies(const ConvGeom& g) {
  return g.c == 1 && g.stride == 1 && g.pad_top <= g.r - 1 && g.pad_left <= g.s - 1;
}

void direct_backward_data(const ConvGeom& g, float* dx, const float* dy, const float* w, const float* bias,
                          Act act, const ActGate& gate) {
  const int width = g.w + g.s - 1, rows = g.h + g.r - 1;
  const int64_t blocks = blocks_for(int64_t(g.h) * width);
  // Rounded to whole cache lines so every channel's plane starts aligned.
  const int64_t plane = (blocks * kBlock + int64_t(g.r - 1) * width + g.s + 15) / 16 * 16;
  const int taps = g.r * g.s;
  const int64_t pq = int64_t(g.p) * g.q, hw = int64_t(g.h) * g.w;
  const float b = bias ? bias[0] : 0.f;
#pragma omp parallel for schedule(dynamic) if (g.n > 1)
  for (int n = 0; n < g.n; ++n) {
    float* dypad = thread_scratch(kScratchPad, g.k * plane);
    float* out = thread_scratch(kScratchGemmOut, blocks * kBlock);
    for (int k = 0; k < g.k; ++k)
      pad_plane(dypad + k * plane, plane, dy + (int64_t(n) * g.k + k) * pq, g.p, g.q, g.r - 1 - g.pad_top,
                g.s - 1 - g.pad_left, rows, width);
    for (int64_t blk = 0; blk < blocks; ++blk) {
      v8f acc[kBlockVecs];
      for (auto& a : acc) a = v8f{} + b;
      for (int k = 0; k < g.k; ++k) {
        const float* wk = w + int64_t(k) * taps;
        for (int r = 0; r < g.r; ++r) {
          for (int s = 0; s < g.s; ++s) {
            const float wv = wk[(g.r - 1 - r) * g.s + (g.s - 1 - s)];
            const float* src = dypad + k * plane + blk * kBlock + int64_t(r) * width + s;
            for (int v = 0; v < kBlockVecs; ++v) {
              v8f xv;
              std::memcpy(&xv, src + v * kLanes, sizeof xv);
              acc[v] += wv * xv;
            }
          }
        }
      }
      std::memcpy(out + blk * kBlock, acc, sizeof acc);
    }
    apply_activation_inplace(act, out, blocks * kBlock);
    copy_out(dx + n * hw, out, g.h, g.w, width);
    apply_gate(gate, dx, n * hw, hw);
  }
}

// dw[k][r][s] = sum_n sum_p,q dy[n][k][p][q] * padded_x[n][p + r][q + s]: one dot product per tap
// over the wide plane, with dy widened to the same row pitch (zeros in the junk columns).
// Per-image results are summed over n in image order: the bits do not depend on the thread count.
bool direct_backward_weight_applies(const ConvGeom& g) { return g.c == 1 && g.stride == 1; }

namespace {

float horizontal_sum(const v8f& v) {
  float total = 0.f;
  for (int l = 0; l < kLanes; ++l) total += v[l];
  return total;
}

// result[t] = sum_i dyw[i] * xpad[offsets[t] + i] over `length` floats (a multiple of 8), for
// kTaps taps at once: each dy vector is loaded once for all taps (one load per multiply-add
// instead of two), with one accumulator per tap in a register.
template <int kTaps>
void tap_dots(float* result, const float* xpad, const int64_t* offsets, const float* dyw, int64_t length) {
  v8f acc[kTaps] = {};
  for (int64_t i = 0; i < length; i += kLanes) {
    v8f dv;
    std::memcpy(&dv, dyw + i, sizeof dv);
    for (int t = 0; t < kTaps; ++t) {
      v8f xv;
      std::memcpy(&xv, xpad + offsets[t] + i, sizeof xv);
      acc[t] += xv * dv;
    }
  }
  for (int t = 0; t < kTaps; ++t) result[t] = horizontal_sum(acc[t]);
}

// Any tap count: one tap at a time, with independent accumulators to hide the FMA latency.
void tap_dots_any(float* result, int taps, const float* xpad, const int64_t* offsets, const float* dyw,
                  int64_t length) {
  constexpr int kChains = 4;
  for (int t = 0; t < taps; ++t) {
    const float* src = xpad + offsets[t];
    v8f acc[kChains] = {};
    for (int64_t i = 0; i < length; i += kChains * kLanes) {
      for (int c = 0; c < kChains; ++c) {
        v8f xv, dv;
        std::memcpy(&xv, src + i + c * kLanes, sizeof xv);
        std::memcpy(&dv, dyw + i + c * kLanes, sizeof dv);
        acc[c] += xv * dv;
      }
    }
    result[t] = horizontal_sum((acc[0] + acc[1]) + (acc[2] + acc[3]));
  }
}

}  // namespace

void direct_backward_weight(const ConvGeom& g, float* dw, const float* x, const float* dy) {
  const PaddedInput pin(g);
  const int taps = g.r * g.s;
  const int64_t wsize = int64_t(g.k) * taps;
  const int64_t pq = int64_t(g.p) * g.q, hw = int64_t(g.h) * g.w;
  const int64_t length = pin.blocks * kBlock;  // a multiple of 32
  std::vector<int64_t> offsets(taps);
  for (int r = 0; r < g.r; ++r)
    for (int s = 0; s < g.s; ++s) offsets[r * g.s + s] = int64_t(r) * pin.width + s;
  float* per_image = thread_scratch(kScratchPartials, g.n * wsize);
#pragma omp parallel for schedule(dynamic) if (g.n > 1)
  for (int n = 0; n < g.n; ++n) {
    float* xpad = thread_scratch(kScratchPad, pin.size);
    float* dyw = thread_scratch(kScratchGemmOut, length);
    pad_plane(xpad, pin.size, x + n * hw, g.h, g.w, g.pad_top, g.pad_left, pin.rows, pin.width);
    for (int k = 0; k < g.k; ++k) {
      pad_plane(dyw, length, dy + (int64_t(n) * g.k + k) * pq, g.p, g.q, 0, 0, g.p, pin.width);
      float* result = per_image + n * wsize + k * taps;
      if (taps == 9)
        tap_dots<9>(result, xpad, offsets.data(), dyw, length);
      else
        tap_dots_any(result, taps, xpad, offsets.data(), dyw, length);
    }
  }
#pragma omp parallel for schedule(static) if (wsize * g.n >= 32768)
  for (int64_t e = 0; e < wsize; ++e) {
    float total = 0.f;
    for (int n = 0; n < g.n; ++n) total += per_image[n * wsize + e];
    dw[e] = total;
  }
}

}  // namespace zs::cpu::detail
