// A packed-panel SGEMM for the convolutions (kernels/cpu/conv.cpp), in the GotoBLAS style: both
// operands live in "panels" that a 6x16 AVX2 micro-kernel streams through with unit stride, and
// every 6x16 tile of C is one micro-kernel call.
//
// Why the convolutions do not call OpenBLAS: they can write their operands straight into the
// panel layout (im2col fills B panels, dy fills A or B panels). That saves the copy OpenBLAS makes
// of every operand before multiplying, its pass that zeroes C when beta = 0, and the copy that
// gathered dy into GEMM columns: perf put those at ~15% of a CPU training step, on top of the
// multiply itself. The weights are packed once per op and shared by all threads.
//
// Panel layouts (padded with zeros to whole panels):
//   A (m x k): panel p holds rows 6p .. 6p+5; A(i, kk) is ap[p*k*6 + kk*6 + (i - 6p)].
//   B (k x n): panel p holds columns 16p .. 16p+15; B(kk, j) is bp[p*k*16 + kk*16 + (j - 16p)].
// Within a panel kk is the outer index, so any range of kk is itself a contiguous sub-panel: the
// GEMM blocks k without repacking.
//
// Summation order: C(i, j) = sum over kk in increasing order (one FMA per term), in blocks of at
// most kGemmMaxDepth terms whose partial sums are added in order. It depends only on k, so results
// are the same bits for any thread count AND for every ISA path (cpu_isa.h): the AVX2 6x16 and the
// AVX-512 12x32 micro-kernels (gemm_panels_avx512.cpp) run the same operations on each element.
#pragma once
#include <cstdint>

#include "kernels/cpu/prefetch_impl.h"

namespace zs::cpu::detail {

constexpr int kPanelRows = 6;   // MR: rows of A per panel, rows of a C tile
constexpr int kPanelCols = 16;  // NR: columns of B per panel, columns of a C tile

// k is cut into equal blocks of at most kGemmMaxDepth terms (a k of 576 runs as 2 x 288, not
// 384 + 192), so that one B sub-panel (kGemmMaxDepth x 16 floats, 24 KiB) stays in a 32 KiB L1
// while the micro-kernel runs down a block of kGemmBlockPanels A panels (144 KiB, in L2).
constexpr int64_t kGemmMaxDepth = 384;
constexpr int64_t kGemmBlockPanels = 16;
inline int64_t gemm_block_depth(int64_t k) {
  const int64_t blocks = (k + kGemmMaxDepth - 1) / kGemmMaxDepth;
  return (k + blocks - 1) / blocks;
}

inline int64_t a_panels_floats(int64_t m, int64_t k) { return (m + kPanelRows - 1) / kPanelRows * kPanelRows * k; }
inline int64_t b_panels_floats(int64_t k, int64_t n) { return (n + kPanelCols - 1) / kPanelCols * kPanelCols * k; }

// Packs columns [k0, k0 + len) of A (m x k) with A(i, k0 + t) = a[i * row_step + t * col_step];
// rows m .. the panel end are zero. Packing every column range once fills the whole A.
void pack_a_panels(float* ap, int64_t m, int64_t k, int64_t k0, int64_t len, const float* a, int64_t row_step,
                   int64_t col_step);

// All of A (m x k) from row pointers: A(i, t) = rows[i][t] (gathered rows; rows m .. the panel
// end are zero). The same panels as pack_a_panels over contiguous rows.
void pack_a_rows(float* ap, int64_t m, int64_t k, const float* const* rows);

// B(kk, j0 + t) = src[t] for t < len: a run along one row of B, split across panels.
void put_b_row_run(float* bp, int64_t k, int64_t kk, int64_t j0, const float* src, int64_t len);
// Zeroes the padding columns n .. the last panel's end.
void zero_b_padding(float* bp, int64_t k, int64_t n);

// C (m x n, row pitch ldc) = A B, or C += A B when accumulate.
// ahead, ahead2: the caller's next chunk, prefetched while the GEMM multiplies (prefetch_impl.h).
// Runs the widest path active_cpu_isa() allows; the _avx2 / _avx512 entries run one path (the
// caller must have checked that the CPU has it).
void gemm_panels(int64_t m, int64_t n, int64_t k, const float* ap, const float* bp, float* c, int64_t ldc,
                 bool accumulate, const PrefetchAhead& ahead = {}, const PrefetchAhead& ahead2 = {});
void gemm_panels_avx2(int64_t m, int64_t n, int64_t k, const float* ap, const float* bp, float* c, int64_t ldc,
                      bool accumulate, const PrefetchAhead& ahead, const PrefetchAhead& ahead2);
void gemm_panels_avx512(int64_t m, int64_t n, int64_t k, const float* ap, const float* bp, float* c, int64_t ldc,
                        bool accumulate, const PrefetchAhead& ahead, const PrefetchAhead& ahead2);
// gemm_panels' fp32 path whatever the conv precision (KMeans distances are never rounded to bf16).
void gemm_panels_fp32(int64_t m, int64_t n, int64_t k, const float* ap, const float* bp, float* c, int64_t ldc,
                      bool accumulate);
// With ConvPrecision::kBf16 (cpu_isa.h), gemm_panels runs this one: the panels rounded to bf16,
// multiplied with fp32 accumulation (gemm_panels_bf16.cpp). Not the bits of the fp32 paths.
void gemm_panels_bf16(int64_t m, int64_t n, int64_t k, const float* ap, const float* bp, float* c, int64_t ldc,
                      bool accumulate, const PrefetchAhead& ahead, const PrefetchAhead& ahead2);

}  // namespace zs::cpu::detail
