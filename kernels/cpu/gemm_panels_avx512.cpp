// The AVX-512 path of gemm_panels.h: the same panels, blocking and per-element operations as the
// AVX2 path (so the same bits), with a micro-kernel shaped for 32 zmm registers.
//
// The tile is 2 A panels x 2 B panels = 12 rows x 32 columns of C: 24 zmm accumulators, 2 B
// vectors and 1 broadcast A value (29 of the 32 registers). Per step of k it loads 2 B vectors and
// broadcasts 12 A values for 24 FMAs; the AVX2 6x16 tile needs 8 loads for 12 (half the FMAs per
// byte read from L1), and 24 independent chains hide the FMA latency on both 1- and 2-FMA-unit
// cores. Tiles cut by the edges of C run the same kernel and store under a lane mask, so AVX-512
// needs no narrow kernels: the panels' zero padding only costs the FMAs it feeds.
//
// Compiled with the file's baseline flags (x86-64-v3); only the functions between the target
// pragmas below may use AVX-512, and gemm_panels() calls them only when cpu_isa.h says the CPU
// and OS allow it. Every header is included BEFORE the pragma, so the inline functions and
// templates they define are compiled for the baseline: a copy built with AVX-512 could otherwise
// be the one the linker keeps, and fault on an AVX2-only machine.
#include <immintrin.h>

#include <cstdint>
#include <cstring>

#include "kernels/cpu/gemm_panels.h"
#include "kernels/cpu/prefetch_impl.h"

#pragma GCC push_options
#pragma GCC target("avx512f,avx512bw,avx512vl,avx512dq")

#include "kernels/cpu/avx512_tile_impl.h"

namespace zs::cpu::detail {
namespace {

constexpr int kTileAPanels = 2;  // A panels (6 rows each) per tile
constexpr int kTileBPanels = 2;  // B panels (16 columns = one zmm each) per tile

// C tile (rows x cols, at most 6*kA x 16*kB, row pitch ldc) = or += kA A sub-panels (kc x 6, the
// next one a_next floats on) times kB B sub-panels (kc x 16, b_next floats apart).
template <int kA, int kB>
void tile(int64_t kc, const float* __restrict__ a, int64_t a_next, const float* __restrict__ b, int64_t b_next,
          float* c, int64_t ldc, bool accumulate, int64_t rows, int64_t cols) {
  constexpr int kRows = kA * kPanelRows;
  __m512 acc[kRows][kB];  // constant indices only: GCC keeps them all in registers
  for (auto& row : acc)
    for (auto& v : row) v = _mm512_setzero_ps();
  for (int64_t kk = 0; kk < kc; ++kk, a += kPanelRows, b += kPanelCols) {
    __m512 bv[kB];
    for (int h = 0; h < kB; ++h) bv[h] = _mm512_loadu_ps(b + h * b_next);
    for (int p = 0; p < kA; ++p)
      for (int i = 0; i < kPanelRows; ++i) {
        const __m512 av = _mm512_set1_ps(a[p * a_next + i]);
        for (int h = 0; h < kB; ++h) acc[p * kPanelRows + i][h] = _mm512_fmadd_ps(av, bv[h], acc[p * kPanelRows + i][h]);
      }
  }
  store_tile<kRows, kB>(acc, c, ldc, accumulate, rows, cols);
}

using TileFn = void (*)(int64_t, const float*, int64_t, const float*, int64_t, float*, int64_t, bool, int64_t, int64_t);
// kTiles[a - 1][b - 1]: the tile of a A panels x b B panels (the full one, and the edges of C).
constexpr TileFn kTiles[kTileAPanels][kTileBPanels] = {{tile<1, 1>, tile<1, 2>}, {tile<2, 1>, tile<2, 2>}};

}  // namespace

void gemm_panels_avx512(int64_t m, int64_t n, int64_t k, const float* ap, const float* bp, float* c, int64_t ldc,
                        bool accumulate, const PrefetchAhead& ahead, const PrefetchAhead& ahead2) {
  const int64_t a_panels = (m + kPanelRows - 1) / kPanelRows, b_panels = (n + kPanelCols - 1) / kPanelCols;
  const int64_t depth = gemm_block_depth(k), blocks = (k + depth - 1) / depth;
  const int64_t a_next = k * kPanelRows, b_next = k * kPanelCols;
  const int64_t a_tiles = (a_panels + kTileAPanels - 1) / kTileAPanels;
  const int64_t b_tiles = (b_panels + kTileBPanels - 1) / kTileBPanels;
  SpreadPrefetch prefetch(ahead, a_tiles * b_tiles * blocks), prefetch2(ahead2, a_tiles * b_tiles * blocks);
  for (int64_t k0 = 0; k0 < k; k0 += depth) {
    const int64_t kc = k - k0 < depth ? k - k0 : depth;
    const bool add = accumulate || k0 > 0;
    for (int64_t first = 0; first < a_panels; first += kGemmBlockPanels) {
      const int64_t last = first + kGemmBlockPanels < a_panels ? first + kGemmBlockPanels : a_panels;
      for (int64_t jp = 0; jp < b_panels; jp += kTileBPanels) {
        const float* b = bp + (jp * k + k0) * kPanelCols;
        const int64_t cols = n - jp * kPanelCols;
        for (int64_t ip = first; ip < last; ip += kTileAPanels) {
          const float* a = ap + (ip * k + k0) * kPanelRows;
          float* ctile = c + ip * kPanelRows * ldc + jp * kPanelCols;
          const int64_t rows = m - ip * kPanelRows;
          prefetch.step();
          prefetch2.step();
          const int64_t na = last - ip < kTileAPanels ? last - ip : kTileAPanels;
          const int64_t nb = b_panels - jp < kTileBPanels ? b_panels - jp : kTileBPanels;
          const int64_t tile_rows = na * kPanelRows, tile_cols = nb * kPanelCols;
          kTiles[na - 1][nb - 1](kc, a, a_next, b, b_next, ctile, ldc, add, rows < tile_rows ? rows : tile_rows,
                                 cols < tile_cols ? cols : tile_cols);
        }
      }
    }
  }
}

}  // namespace zs::cpu::detail

#pragma GCC pop_options
