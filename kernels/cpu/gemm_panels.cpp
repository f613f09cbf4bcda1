// The packed-panel SGEMM of gemm_panels.h: packing helpers, the dispatch on cpu_isa.h, the 6x16
// AVX2 micro-kernel and the cache blocking around it (the AVX-512 path: gemm_panels_avx512.cpp).
#include "kernels/cpu/gemm_panels.h"

#include <immintrin.h>

#include <algorithm>
#include <cstring>

#include "kernels/cpu/avx2_impl.h"
#include "kernels/cpu/cpu_common_impl.h"
#include "kernels/cpu/cpu_isa.h"

namespace zs::cpu::detail {
namespace {

// C tile (kRows x 8*kVecs, row pitch ldc) = or += the first kRows rows of an A sub-panel (kc x 6)
// times the first 8*kVecs columns of a B sub-panel (kc x 16). The full tile, <6, 2>, has twelve
// 8-float accumulators, two B vectors and one broadcast A value: 15 of the 16 ymm registers, and
// 12 independent FMA chains, enough to keep both FMA pipes busy. The narrower tiles serve the
// edges of C (the per-image chunks are 196 columns wide, the weights 64 or 128 rows): they skip
// the multiply-adds of the panels' zero padding. Every variant sums each element in the same
// order, so an element's bits do not depend on which tile computed it.
template <int kRows, int kVecs>
void micro_kernel(int64_t kc, const float* __restrict__ ap, const float* __restrict__ bp, float* c, int64_t ldc,
                  bool accumulate) {
  __m256 acc[kRows][kVecs];  // constant indices only: GCC keeps them all in registers
  for (auto& row : acc)
    for (auto& v : row) v = _mm256_setzero_ps();
  for (int64_t kk = 0; kk < kc; ++kk, ap += kPanelRows, bp += kPanelCols) {
    __m256 b[kVecs];
    for (int h = 0; h < kVecs; ++h) b[h] = _mm256_load_ps(bp + 8 * h);
    for (int i = 0; i < kRows; ++i) {
      const __m256 a = _mm256_broadcast_ss(ap + i);
      for (int h = 0; h < kVecs; ++h) acc[i][h] = _mm256_fmadd_ps(a, b[h], acc[i][h]);
    }
  }
  for (int i = 0; i < kRows; ++i, c += ldc)
    for (int h = 0; h < kVecs; ++h) {
      __m256 v = acc[i][h];
      if (accumulate) v = _mm256_add_ps(_mm256_loadu_ps(c + 8 * h), v);
      _mm256_storeu_ps(c + 8 * h, v);
    }
}

// The narrow tile that covers `rows` x `cols`, computed into `tile` (pitch 16).
template <int kVecs>
void narrow_tile(int64_t kc, const float* ap, const float* bp, float* tile, int64_t rows) {
  switch (rows) {
    case 1: return micro_kernel<1, kVecs>(kc, ap, bp, tile, kPanelCols, false);
    case 2: return micro_kernel<2, kVecs>(kc, ap, bp, tile, kPanelCols, false);
    case 3: return micro_kernel<3, kVecs>(kc, ap, bp, tile, kPanelCols, false);
    case 4: return micro_kernel<4, kVecs>(kc, ap, bp, tile, kPanelCols, false);
    case 5: return micro_kernel<5, kVecs>(kc, ap, bp, tile, kPanelCols, false);
    default: return micro_kernel<6, kVecs>(kc, ap, bp, tile, kPanelCols, false);
  }
}

// A tile cut by the edge of C (rows < 6 or cols < 16): the narrowest kernel that covers it
// computes into a local tile, then the part inside C is stored.
void edge_tile(int64_t kc, const float* ap, const float* bp, float* c, int64_t ldc, bool accumulate, int64_t rows,
               int64_t cols) {
  alignas(32) float tile[kPanelRows * kPanelCols];
  if (cols <= 8)
    narrow_tile<1>(kc, ap, bp, tile, rows);
  else
    narrow_tile<2>(kc, ap, bp, tile, rows);
  for (int64_t i = 0; i < rows; ++i)
    for (int64_t j = 0; j < cols; ++j) {
      const float v = tile[i * kPanelCols + j];
      c[i * ldc + j] = accumulate ? c[i * ldc + j] + v : v;
    }
}

// Panel rows [0, rows) of 8 consecutive columns, row i's 8 floats at row(i): the 6 (or fewer, the
// rest zero) row vectors are transposed in registers and each column's 6 values stored as 4 + 2
// floats.
template <class RowAt>
inline void pack_columns8(float* dst, const RowAt& row, int64_t rows) {
  __m256 v[8];
  for (int64_t i = 0; i < 8; ++i) v[i] = i < rows ? _mm256_loadu_ps(row(i)) : _mm256_setzero_ps();
  transpose8(v);
  for (int t = 0; t < 8; ++t, dst += kPanelRows) {
    _mm_storeu_ps(dst, _mm256_castps256_ps128(v[t]));
    _mm_storel_pi(reinterpret_cast<__m64*>(dst + 4), _mm256_extractf128_ps(v[t], 1));
  }
}

}  // namespace

void pack_a_panels(float* ap, int64_t m, int64_t k, int64_t k0, int64_t len, const float* a, int64_t row_step,
                   int64_t col_step) {
  static_assert(kPanelRows == 6, "pack_columns8 stores 4 + 2 floats per column");
  for (int64_t p = 0; p * kPanelRows < m; ++p) {
    float* dst = ap + (p * k + k0) * kPanelRows;
    const int64_t rows = std::min<int64_t>(kPanelRows, m - p * kPanelRows);
    const float* src = a + p * kPanelRows * row_step;
    int64_t t = 0;
    if (col_step == 1)  // rows run along k: 8 columns at a time
      for (; t + 8 <= len; t += 8, dst += 8 * kPanelRows)
        pack_columns8(dst, [&](int64_t i) { return src + t + i * row_step; }, rows);
    for (; t < len; ++t, dst += kPanelRows) {
      int64_t i = 0;
      for (; i < rows; ++i) dst[i] = src[i * row_step + t * col_step];
      for (; i < kPanelRows; ++i) dst[i] = 0.f;
    }
  }
}

void pack_a_rows(float* ap, int64_t m, int64_t k, const float* const* rows) {
  for (int64_t p = 0; p * kPanelRows < m; ++p) {
    float* dst = ap + p * k * kPanelRows;
    const int64_t count = std::min<int64_t>(kPanelRows, m - p * kPanelRows);
    const float* const* src = rows + p * kPanelRows;
    int64_t t = 0;
    for (; t + 8 <= k; t += 8, dst += 8 * kPanelRows) pack_columns8(dst, [&](int64_t i) { return src[i] + t; }, count);
    for (; t < k; ++t, dst += kPanelRows) {
      int64_t i = 0;
      for (; i < count; ++i) dst[i] = src[i][t];
      for (; i < kPanelRows; ++i) dst[i] = 0.f;
    }
  }
}

void put_b_row_run(float* bp, int64_t k, int64_t kk, int64_t j0, const float* src, int64_t len) {
  while (len > 0) {
    const int64_t panel = j0 / kPanelCols, offset = j0 % kPanelCols;
    const int64_t take = std::min(len, kPanelCols - offset);
    copy_short(bp + (panel * k + kk) * kPanelCols + offset, src, take);
    j0 += take, src += take, len -= take;
  }
}

void zero_b_padding(float* bp, int64_t k, int64_t n) {
  const int64_t used = n % kPanelCols;
  if (used == 0) return;
  float* last = bp + (n / kPanelCols) * k * kPanelCols;
  for (int64_t kk = 0; kk < k; ++kk) zero_short(last + kk * kPanelCols + used, kPanelCols - used);
}

void gemm_panels(int64_t m, int64_t n, int64_t k, const float* ap, const float* bp, float* c, int64_t ldc,
                 bool accumulate, const PrefetchAhead& ahead, const PrefetchAhead& ahead2) {
  if (k == 0) {
    if (!accumulate)
      for (int64_t i = 0; i < m; ++i) std::memset(c + i * ldc, 0, sizeof(float) * size_t(n));
    return;
  }
  if (conv_precision() == ConvPrecision::kBf16 && active_cpu_isa() >= CpuIsa::kAvx512)
    return gemm_panels_bf16(m, n, k, ap, bp, c, ldc, accumulate, ahead, ahead2);
  if (active_cpu_isa() >= CpuIsa::kAvx512) return gemm_panels_avx512(m, n, k, ap, bp, c, ldc, accumulate, ahead, ahead2);
  gemm_panels_avx2(m, n, k, ap, bp, c, ldc, accumulate, ahead, ahead2);
}

void gemm_panels_fp32(int64_t m, int64_t n, int64_t k, const float* ap, const float* bp, float* c, int64_t ldc,
                      bool accumulate) {
  if (k == 0) return gemm_panels(m, n, k, ap, bp, c, ldc, accumulate);
  if (active_cpu_isa() >= CpuIsa::kAvx512) return gemm_panels_avx512(m, n, k, ap, bp, c, ldc, accumulate, {}, {});
  gemm_panels_avx2(m, n, k, ap, bp, c, ldc, accumulate, {}, {});
}

void gemm_panels_avx2(int64_t m, int64_t n, int64_t k, const float* ap, const float* bp, float* c, int64_t ldc,
                      bool accumulate, const PrefetchAhead& ahead, const PrefetchAhead& ahead2) {
  const int64_t a_panels = (m + kPanelRows - 1) / kPanelRows, b_panels = (n + kPanelCols - 1) / kPanelCols;
  const int64_t depth = gemm_block_depth(k), blocks = (k + depth - 1) / depth;
  SpreadPrefetch prefetch(ahead, a_panels * b_panels * blocks), prefetch2(ahead2, a_panels * b_panels * blocks);
  for (int64_t k0 = 0; k0 < k; k0 += depth) {
    const int64_t kc = std::min(depth, k - k0);
    const bool add = accumulate || k0 > 0;
    for (int64_t first = 0; first < a_panels; first += kGemmBlockPanels) {
      const int64_t last = std::min(a_panels, first + kGemmBlockPanels);
      for (int64_t jp = 0; jp < b_panels; ++jp) {
        const float* b = bp + (jp * k + k0) * kPanelCols;
        const int64_t cols = std::min<int64_t>(kPanelCols, n - jp * kPanelCols);
        for (int64_t ip = first; ip < last; ++ip) {
          const float* a = ap + (ip * k + k0) * kPanelRows;
          float* tile = c + ip * kPanelRows * ldc + jp * kPanelCols;
          const int64_t rows = std::min<int64_t>(kPanelRows, m - ip * kPanelRows);
          prefetch.step();
          prefetch2.step();
          if (rows == kPanelRows && cols == kPanelCols)
            micro_kernel<kPanelRows, kPanelCols / 8>(kc, a, b, tile, ldc, add);
          else
            edge_tile(kc, a, b, tile, ldc, add, rows, cols);
        }
      }
    }
  }
}

}  // namespace zs::cpu::detail
