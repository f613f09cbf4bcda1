// The bf16 path of gemm_panels.h (ConvPrecision::kBf16, cpu_isa.h): the fp32 panels are rounded to
// bf16 (round to nearest even) into pair panels, then multiplied with fp32 accumulation by
// vdpbf16ps, which adds two bf16 products per fp32 lane: twice the multiply-adds of an fp32 FMA
// per instruction. The products of two bf16 values are exact in fp32, so the only new error is
// the rounding of the inputs (relative 2^-9 each: bf16 keeps 8 significant bits).
//
// Pair panels (k padded with a zero to an even count, kp = ceil(k / 2) pairs), 32-bit words
// holding (low half) the bf16 of term 2t and (high half) the bf16 of term 2t + 1:
//   A: panel p, pair t: 6 words at a16[(p * kp + t) * 6 + i], one per row i;
//   B: panel q, pair t: 16 words at b16[(q * kp + t) * 16 + j], one per column j: one zmm.
// The micro-kernel is the 12 x 32 tile of gemm_panels_avx512.cpp with vdpbf16ps for the FMA; k is
// blocked in pairs so that a block's two B sub-panels (kGemmMaxDepth / 2 pairs x 64 bytes each)
// take as much L1 as the fp32 path's.
//
// Same rule as gemm_panels_avx512.cpp: every header before the target pragma.
#include <immintrin.h>

#include <cstdint>
#include <cstring>

#include "kernels/cpu/cpu_common_impl.h"
#include "kernels/cpu/gemm_panels.h"
#include "kernels/cpu/prefetch_impl.h"

#pragma GCC push_options
#pragma GCC target("avx512f,avx512bw,avx512vl,avx512dq,avx512bf16")

#include "kernels/cpu/avx512_tile_impl.h"

namespace zs::cpu::detail {
namespace {

constexpr int64_t kMaxPairDepth = kGemmMaxDepth / 2;

// A pair panels from fp32 A panels (m rows, k terms). A pair's 12 floats are contiguous (term 2t's
// 6 rows, then term 2t + 1's): one masked load, one conversion, one vpermw to interleave them.
void convert_a(uint32_t* a16, const float* ap, int64_t m, int64_t k, int64_t kp) {
  alignas(32) static constexpr uint16_t kInterleave[16] = {0, 6, 1, 7, 2, 8, 3, 9, 4, 10, 5, 11, 12, 13, 14, 15};
  const __m256i interleave = _mm256_load_si256(reinterpret_cast<const __m256i*>(kInterleave));
  const int64_t panels = (m + kPanelRows - 1) / kPanelRows;
  for (int64_t p = 0; p < panels; ++p)
    for (int64_t t = 0; t < kp; ++t) {
      const __mmask16 load = 2 * t + 1 < k ? 0x0FFF : 0x003F;  // k odd: the last pair's second term is 0
      const __m512 terms = _mm512_maskz_loadu_ps(load, ap + (p * k + 2 * t) * kPanelRows);
      const __m256i words = __m256i(_mm512_cvtneps_pbh(terms));
      _mm256_mask_storeu_epi16(a16 + (p * kp + t) * kPanelRows, 0x0FFF, _mm256_permutexvar_epi16(interleave, words));
    }
}

// B pair panels from fp32 B panels (k terms, n columns): two rows of 16 floats -> one zmm of pairs.
// vcvtne2ps2bf16 puts row 2t in the low 16 words and row 2t + 1 in the high 16; vpermw interleaves.
void convert_b(uint32_t* b16, const float* bp, int64_t k, int64_t n, int64_t kp) {
  alignas(64) static constexpr uint16_t kInterleave[32] = {0, 16, 1, 17, 2,  18, 3,  19, 4,  20, 5,  21, 6,  22, 7,  23,
                                                           8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31};
  const __m512i interleave = _mm512_load_si512(kInterleave);
  const int64_t panels = (n + kPanelCols - 1) / kPanelCols;
  for (int64_t q = 0; q < panels; ++q)
    for (int64_t t = 0; t < kp; ++t) {
      const float* lo = bp + (q * k + 2 * t) * kPanelCols;
      const __m512 row0 = _mm512_loadu_ps(lo);
      const __m512 row1 = 2 * t + 1 < k ? _mm512_loadu_ps(lo + kPanelCols) : _mm512_setzero_ps();
      const __m512i halves = __m512i(_mm512_cvtne2ps_pbh(row1, row0));
      _mm512_storeu_si512(b16 + (q * kp + t) * kPanelCols, _mm512_permutexvar_epi16(interleave, halves));
    }
}

// C tile (rows x cols, at most 6*kA x 16*kB) = or += kA A pair sub-panels (kc pairs x 6 words,
// a_next words apart) times kB B pair sub-panels (kc pairs x 16 words, b_next words apart).
template <int kA, int kB>
void tile_bf16(int64_t kc, const uint32_t* __restrict__ a, int64_t a_next, const uint32_t* __restrict__ b,
               int64_t b_next, float* c, int64_t ldc, bool accumulate, int64_t rows, int64_t cols) {
  constexpr int kRows = kA * kPanelRows;
  __m512 acc[kRows][kB];
  for (auto& row : acc)
    for (auto& v : row) v = _mm512_setzero_ps();
  for (int64_t t = 0; t < kc; ++t, a += kPanelRows, b += kPanelCols) {
    __m512bh bv[kB];
    for (int h = 0; h < kB; ++h) bv[h] = __m512bh(_mm512_loadu_si512(b + h * b_next));
    for (int p = 0; p < kA; ++p)
      for (int i = 0; i < kPanelRows; ++i) {
        const __m512bh av = __m512bh(_mm512_set1_epi32(int(a[p * a_next + i])));
        for (int h = 0; h < kB; ++h) acc[p * kPanelRows + i][h] = _mm512_dpbf16_ps(acc[p * kPanelRows + i][h], av, bv[h]);
      }
  }
  store_tile<kRows, kB>(acc, c, ldc, accumulate, rows, cols);
}

}  // namespace

void gemm_panels_bf16(int64_t m, int64_t n, int64_t k, const float* ap, const float* bp, float* c, int64_t ldc,
                      bool accumulate, const PrefetchAhead& ahead, const PrefetchAhead& ahead2) {
  const int64_t a_panels = (m + kPanelRows - 1) / kPanelRows, b_panels = (n + kPanelCols - 1) / kPanelCols;
  const int64_t kp = (k + 1) / 2;
  auto* a16 = reinterpret_cast<uint32_t*>(thread_scratch(kScratchBf16A, size_t(a_panels * kp * kPanelRows)));
  auto* b16 = reinterpret_cast<uint32_t*>(thread_scratch(kScratchBf16B, size_t(b_panels * kp * kPanelCols)));
  convert_a(a16, ap, m, k, kp);
  convert_b(b16, bp, k, n, kp);
  const int64_t blocks = (kp + kMaxPairDepth - 1) / kMaxPairDepth, depth = (kp + blocks - 1) / blocks;
  const int64_t a_next = kp * kPanelRows, b_next = kp * kPanelCols;
  const int64_t tiles = (a_panels + 1) / 2 * ((b_panels + 1) / 2) * blocks;
  SpreadPrefetch prefetch(ahead, tiles), prefetch2(ahead2, tiles);
  for (int64_t t0 = 0; t0 < kp; t0 += depth) {
    const int64_t kc = kp - t0 < depth ? kp - t0 : depth;
    const bool add = accumulate || t0 > 0;
    for (int64_t first = 0; first < a_panels; first += kGemmBlockPanels) {
      const int64_t last = first + kGemmBlockPanels < a_panels ? first + kGemmBlockPanels : a_panels;
      for (int64_t jp = 0; jp < b_panels; jp += 2) {
        const uint32_t* b = b16 + (jp * kp + t0) * kPanelCols;
        const int64_t cols = n - jp * kPanelCols;
        const bool two_b = jp + 1 < b_panels;
        for (int64_t ip = first; ip < last; ip += 2) {
          const uint32_t* a = a16 + (ip * kp + t0) * kPanelRows;
          float* ctile = c + ip * kPanelRows * ldc + jp * kPanelCols;
          const int64_t rows = m - ip * kPanelRows;
          const bool two_a = ip + 1 < last;
          prefetch.step();
          prefetch2.step();
          if (two_a && two_b)
            tile_bf16<2, 2>(kc, a, a_next, b, b_next, ctile, ldc, add, rows < 12 ? rows : 12, cols < 32 ? cols : 32);
          else if (two_a)
            tile_bf16<2, 1>(kc, a, a_next, b, b_next, ctile, ldc, add, rows < 12 ? rows : 12, cols < 16 ? cols : 16);
          else if (two_b)
            tile_bf16<1, 2>(kc, a, a_next, b, b_next, ctile, ldc, add, rows < 6 ? rows : 6, cols < 32 ? cols : 32);
          else
            tile_bf16<1, 1>(kc, a, a_next, b, b_next, ctile, ldc, add, rows < 6 ? rows : 6, cols < 16 ? cols : 16);
        }
      }
    }
  }
}

}  // namespace zs::cpu::detail

#pragma GCC pop_options
