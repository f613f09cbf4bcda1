// The packed-panel SGEMM of gemm_panels.h: packing helpers, the 6x16 AVX2 micro-kernel and the
// cache blocking around it.
#include "kernels/cpu/gemm_panels.h"

#include <immintrin.h>

#include <algorithm>
#include <cstring>

#include "kernels/cpu/avx2_impl.h"
#include "kernels/cpu/cpu_common_impl.h"

namespace zs::cpu::detail {
namespace {

// k is cut into blocks of at most this many terms, so that one B sub-panel (kMaxDepth x 16 floats,
// 24 KiB) stays in the 32 KiB L1 while the micro-kernel runs down a block of A panels...
constexpr int64_t kMaxDepth = 384;
// ...and that block (16 panels x kMaxDepth x 6 floats, 144 KiB) stays in the 512 KiB L2.
constexpr int64_t kBlockPanels = 16;

// C tile (6 x 16, row pitch ldc) = or += A sub-panel (kc x 6) times B sub-panel (kc x 16).
// Twelve 8-float accumulators, two B vectors and one broadcast A value: 15 of the 16 ymm
// registers, and 12 independent FMA chains, enough to keep both FMA pipes busy.
void micro_kernel(int64_t kc, const float* __restrict__ ap, const float* __restrict__ bp, float* c, int64_t ldc,
                  bool accumulate) {
  __m256 acc[kPanelRows][2];  // constant indices only: GCC keeps all 12 in registers
  for (auto& row : acc) row[0] = row[1] = _mm256_setzero_ps();
  for (int64_t kk = 0; kk < kc; ++kk, ap += kPanelRows, bp += kPanelCols) {
    const __m256 b0 = _mm256_load_ps(bp), b1 = _mm256_load_ps(bp + 8);
    for (int i = 0; i < kPanelRows; ++i) {
      const __m256 a = _mm256_broadcast_ss(ap + i);
      acc[i][0] = _mm256_fmadd_ps(a, b0, acc[i][0]);
      acc[i][1] = _mm256_fmadd_ps(a, b1, acc[i][1]);
    }
  }
  for (int i = 0; i < kPanelRows; ++i, c += ldc)
    for (int h = 0; h < 2; ++h) {
      __m256 v = acc[i][h];
      if (accumulate) v = _mm256_add_ps(_mm256_loadu_ps(c + 8 * h), v);
      _mm256_storeu_ps(c + 8 * h, v);
    }
}

// A tile cut by the edge of C (rows < 6 or cols < 16): computed whole into a local tile (the
// panels are zero padded), then the part inside C is stored.
void edge_tile(int64_t kc, const float* ap, const float* bp, float* c, int64_t ldc, bool accumulate, int64_t rows,
               int64_t cols) {
  alignas(32) float tile[kPanelRows * kPanelCols];
  micro_kernel(kc, ap, bp, tile, kPanelCols, false);
  for (int64_t i = 0; i < rows; ++i)
    for (int64_t j = 0; j < cols; ++j) {
      const float v = tile[i * kPanelCols + j];
      c[i * ldc + j] = accumulate ? c[i * ldc + j] + v : v;
    }
}

// Panel rows [0, rows) of 8 consecutive columns t0 .. t0+7, each source row contiguous (col_step
// 1): the 6 (or fewer, the rest zero) row vectors are transposed in registers and each column's 6
// values stored as 4 + 2 floats.
void pack_a_columns8(float* dst, const float* src, int64_t rows, int64_t row_step) {
  __m256 v[8];
  for (int64_t i = 0; i < 8; ++i) v[i] = i < rows ? _mm256_loadu_ps(src + i * row_step) : _mm256_setzero_ps();
  transpose8(v);
  for (int t = 0; t < 8; ++t, dst += kPanelRows) {
    _mm_storeu_ps(dst, _mm256_castps256_ps128(v[t]));
    _mm_storel_pi(reinterpret_cast<__m64*>(dst + 4), _mm256_extractf128_ps(v[t], 1));
  }
}

}  // namespace

void pack_a_panels(float* ap, int64_t m, int64_t k, int64_t k0, int64_t len, const float* a, int64_t row_step,
                   int64_t col_step) {
  static_assert(kPanelRows == 6, "pack_a_columns8 stores 4 + 2 floats per column");
  for (int64_t p = 0; p * kPanelRows < m; ++p) {
    float* dst = ap + (p * k + k0) * kPanelRows;
    const int64_t rows = std::min<int64_t>(kPanelRows, m - p * kPanelRows);
    const float* src = a + p * kPanelRows * row_step;
    int64_t t = 0;
    if (col_step == 1)  // rows run along k: 8 columns at a time
      for (; t + 8 <= len; t += 8, dst += 8 * kPanelRows) pack_a_columns8(dst, src + t, rows, row_step);
    for (; t < len; ++t, dst += kPanelRows) {
      int64_t i = 0;
      for (; i < rows; ++i) dst[i] = src[i * row_step + t * col_step];
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
  const int64_t a_panels = (m + kPanelRows - 1) / kPanelRows, b_panels = (n + kPanelCols - 1) / kPanelCols;
  // Equal blocks of at most kMaxDepth (a k of 576 runs as 2 x 288, not 384 + 192).
  const int64_t blocks = (k + kMaxDepth - 1) / kMaxDepth, depth = (k + blocks - 1) / blocks;
  SpreadPrefetch prefetch(ahead, a_panels * b_panels * blocks), prefetch2(ahead2, a_panels * b_panels * blocks);
  for (int64_t k0 = 0; k0 < k; k0 += depth) {
    const int64_t kc = std::min(depth, k - k0);
    const bool add = accumulate || k0 > 0;
    for (int64_t first = 0; first < a_panels; first += kBlockPanels) {
      const int64_t last = std::min(a_panels, first + kBlockPanels);
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
            micro_kernel(kc, a, b, tile, ldc, add);
          else
            edge_tile(kc, a, b, tile, ldc, add, rows, cols);
        }
      }
    }
  }
}

}  // namespace zs::cpu::detail
