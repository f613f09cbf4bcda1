// The CPU twin of the KMeans kernels: the fast CPU path of runtime/cluster AND the oracle that the
// CUDA / emulator versions are tested against (same signatures, minus the stream).
//
// Conventions:
// - Argument order: outputs, inputs, sizes. Every output is OVERWRITTEN unless noted (the
//   minibatch update reads and writes `counts`).
// - Matrices are row-major float32: points x[n][d], centres c[k][d]. Labels are int32 in [0, k).
// - Squared distances use the expansion ||x||^2 - 2 x.c + ||c||^2 with precomputed squared norms
//   (row_sqnorms); results are clamped at 0 because cancellation can make them slightly negative.
//   Callers that need accuracy centre the data first (the runtime does, as sklearn does).
// - Ties in an argmin go to the smallest centre index.
// - The N x k distance matrix is never stored: points are processed in tiles of kTileRows rows,
//   one OpenBLAS sgemm per tile (single-threaded inside the OpenMP region), then a fused running
//   argmin over the tile.
// - Determinism: tiles have a fixed size, threads take contiguous tile ranges, and every scalar
//   reduction (potentials, inertia) sums per-TILE partials in tile order, so scalars do not depend
//   on the thread count. Centroid sums are accumulated in double per thread and reduced in thread
//   order: bit-identical for a fixed thread count and, after the final rounding to float,
//   practically always identical across thread counts. kmeans_centroid_sums and
//   kmeans_minibatch_update work per centre and are thread-count independent.
#pragma once
#include <cstdint>

namespace zs::cpu {

// Rows of points per tile of the assignment GEMM (fixed so that results do not depend on threads).
inline constexpr int64_t kKMeansTileRows = 128;

// sqnorm[i] = sum_j x[i][j]^2 (accumulated in double, rounded once).
void row_sqnorms(float* sqnorm, const float* x, int64_t n, int d);

// Nearest centre of every point: labels[i] = argmin_j ||x_i - c_j||^2 and min_dist[i] = that
// squared distance (min_dist may be nullptr when not needed).
void kmeans_assign(int32_t* labels, float* min_dist, const float* x, const float* x_sqnorm,
                   const float* centers, const float* c_sqnorm, int64_t n, int d, int k);

// One Lloyd pass over the data: kmeans_assign fused with the centroid sums of the NEW labels,
// sums[j][.] = sum of the points labelled j (double accumulation, rounded once) and counts[j] =
// their number. Each tile of points is summed while it is still in cache.
void kmeans_lloyd_pass(int32_t* labels, float* min_dist, float* sums, int64_t* counts, const float* x,
                       const float* x_sqnorm, const float* centers, const float* c_sqnorm, int64_t n, int d,
                       int k);

// The centroid sums alone, for given labels (same outputs as kmeans_lloyd_pass), computed centre by
// centre in point order: independent of the thread count.
void kmeans_centroid_sums(float* sums, int64_t* counts, const float* x, const int32_t* labels, int64_t n, int d,
                          int k);

// The k-means++ evaluation of t candidate centres (rows cand_ids of x):
// cand_dist[c][i] = min(closest[i], ||x_i - x_{cand_ids[c]}||^2) and cand_pot[c] = sum_i cand_dist[c][i]
// (the potential if candidate c were chosen, summed in double). closest may be nullptr (no
// centre chosen yet: plain distances).
void kmeans_pp_candidates(float* cand_dist, double* cand_pot, const float* x, const float* x_sqnorm,
                          const float* closest, const int32_t* cand_ids, int64_t n, int d, int t);

// D^2 sampling: for each uniform u[r] in [0, 1), ids[r] = the first index i whose cumulative weight
// (summed in double) exceeds u[r] * total weight, clipped to n-1. Points of weight 0 (the chosen
// centres) are never picked while the total is positive.
void kmeans_pp_sample(int32_t* ids, const float* weights, const double* uniforms, int64_t n, int t);

// sklearn's MiniBatchKMeans centre update for one batch xb[b][d] with labels: for each centre j
// with m_j > 0 members, centers_new[j] = (counts[j] * centers_old[j] + sum of members) /
// (counts[j] + m_j) and counts[j] += m_j (the per-centre count acts as an inverse learning rate);
// centres without members are copied. counts is read and written; centers_new must not alias
// centers_old.
void kmeans_minibatch_update(float* centers_new, double* counts, const float* centers_old, const float* xb,
                             const int32_t* labels, int64_t b, int d, int k);

// Exact inertia sum_i ||x_i - c_{labels[i]}||^2, by direct differences in double.
void kmeans_inertia(double* inertia, const float* x, const float* centers, const int32_t* labels, int64_t n,
                    int d);

}  // namespace zs::cpu
