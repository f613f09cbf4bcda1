// Pieces of the CPU KMeans pass shared by kmeans.cpp (the full Lloyd pass) and kmeans_bounds.cpp
// (the bounded one): both must produce the same bits, so they call the same code.
#pragma once
#include <cstdint>
#include <functional>

#include "kernels/cpu/kmeans.h"

namespace zs::cpu::kmeans_detail {

inline int64_t tile_count(int64_t n) { return (n + kKMeansTileRows - 1) / kKMeansTileRows; }

// Threads worth starting for `chunks` chunks of work: none idle at the barrier, one for small work.
int threads_for(int64_t chunks, double macs);

// The `width` centres (width x d) as gemm_panels.h B panels, times -2 (exact in float), so that
// the GEMM accumulating onto ||c||^2 yields ||c||^2 - 2 x.c; padding columns are zero. bp must hold
// b_panels_floats(d, width) floats, 64-byte aligned.
void pack_centres_into(float* bp, const float* centers, int64_t width, int d);
// The same into the calling thread's weight scratch (read by every thread of the pass).
const float* pack_centres(const float* centers, int64_t width, int d);

// scores[r][j] = ||c_j||^2 - 2 x_r.c_j for `rows` contiguous points (row pitch d) and the `width`
// packed centres, scores with row pitch `width`. Each element is one FMA chain over f = 0..d-1 in
// the panel GEMM's order, so its bits depend only on x_r, c_j and d: not on the row's place in
// the tile, the column's place among the centres, nor the ISA path (gemm_panels.h).
void tile_scores(float* scores, const float* x_tile, int64_t rows, const float* centre_panels, const float* c_sqnorm,
                 int d, int width);
// The same for `rows` points anywhere (row r at points[r]; gathered straight into the panels).
void rows_scores(float* scores, const float* const* points, int64_t rows, const float* centre_panels,
                 const float* c_sqnorm, int d, int width);

// The centroid sums and counts of given labels [groups][n] (kmeans.h, kmeans_lloyd_pass): blocks
// of kTilesPerSumBlock tiles, contiguous block ranges per thread of `nthreads`, float within a
// block, double across blocks, reduced in thread order. `before_block(tile_begin, tile_end)`, when
// set, runs first for each block on the thread that sums it (the full pass assigns the block there,
// so its points are summed while still in cache).
void lloyd_sums(float* sums, int64_t* counts, const float* x, const int32_t* labels, int64_t n, int d, int k, int groups,
                int nthreads, const std::function<void(int64_t, int64_t)>& before_block);
// Threads of a Lloyd pass over n points (its sums blocks) for `macs` multiply-adds.
int lloyd_threads(int64_t n, double macs);

}  // namespace zs::cpu::kmeans_detail
