// Private to the AVX-512 GEMM files (gemm_panels_avx512.cpp, gemm_panels_bf16.cpp). Include it
// ONLY inside their AVX-512 target pragma region: it defines internal-linkage functions that use
// AVX-512, compiled separately into each of those files and never visible to baseline code.
#pragma once

namespace zs::cpu::detail {
namespace {

// The lanes of a 16-column panel that hold columns of C when `cols` columns remain.
inline __mmask16 column_mask(int64_t cols) {
  return cols >= 16 ? __mmask16(0xFFFF) : __mmask16((1u << cols) - 1u);
}

// Stores the accumulators of a kRows x (16*kB) tile to C (row pitch ldc), adding C's values first
// when accumulate (C + acc, one rounding, as the AVX2 path does): only rows < rows and columns
// < cols, under a lane mask at the edges of C.
template <int kRows, int kB>
inline void store_tile(const __m512 (&acc)[kRows][kB], float* c, int64_t ldc, bool accumulate, int64_t rows,
                       int64_t cols) {
  if (rows == kRows && cols == 16 * kB) {
    for (int i = 0; i < kRows; ++i, c += ldc)
      for (int h = 0; h < kB; ++h) {
        __m512 v = acc[i][h];
        if (accumulate) v = _mm512_add_ps(_mm512_loadu_ps(c + 16 * h), v);
        _mm512_storeu_ps(c + 16 * h, v);
      }
    return;
  }
  for (int i = 0; i < kRows; ++i, c += ldc) {
    if (i >= rows) break;
    for (int h = 0; h < kB; ++h) {
      if (cols <= 16 * h) break;
      const __mmask16 mask = column_mask(cols - 16 * h);
      __m512 v = acc[i][h];
      if (accumulate) v = _mm512_add_ps(_mm512_maskz_loadu_ps(mask, c + 16 * h), v);
      _mm512_mask_storeu_ps(c + 16 * h, mask, v);
    }
  }
}

}  // namespace
}  // namespace zs::cpu::detail
