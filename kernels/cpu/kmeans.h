// The CPU twin of the KMeans kernels: the fast CPU path of runtime/cluster AND the oracle that the
// CUDA / emulator versions are tested against (same signatures, minus the stream).
//
// Conventions:
// - Argument order: outputs, inputs, sizes. Every output is OVERWRITTEN unless noted (the
//   minibatch update reads and writes `counts`).
// - Matrices are row-major float32: points x[n][d], centres c[k][d]. Labels are int32 in [0, k).
// - Groups: most kernels take `groups` independent sets of k centres (the n_init runs of one
//   KMeans fit advance in lockstep, so one pass over the points serves all of them: the points
//   are read and packed for the GEMM once instead of n_init times, and the GEMM is wider).
//   Per-group arrays are stacked group after group: centers [groups][k][d], c_sqnorm
//   [groups][k], labels / min_dist [groups][n], sums [groups][k][d], counts [groups][k].
//   Group g's labels, sums and counts are those of a call with groups = 1 on group g's arrays,
//   and its distances agree to float rounding: the GEMM may round a dot product differently
//   depending on the column it lands in, which can only flip a label at a near-tie.
// - Squared distances use the expansion ||x||^2 - 2 x.c + ||c||^2 with precomputed squared norms
//   (row_sqnorms); results are clamped at 0 because cancellation can make them slightly negative.
//   Callers that need accuracy centre the data first (the runtime does, as sklearn does).
// - Ties in an argmin go to the smallest centre index.
// - The N x k distance matrix is never stored: points are processed in tiles of kKMeansTileRows
//   rows, one panel GEMM (gemm_panels.h, fp32 on the active ISA path) per tile against all centres
//   of all groups, packed once per call, then a fused running argmin over the tile.
// - kmeans_bounds.h: the same Lloyd pass with distance bounds that skip the points whose label
//   cannot change (exact accelerated Lloyd: the same labels, sums and counts, bit for bit).
// - Determinism: tiles have a fixed size, threads take contiguous tile ranges, and every scalar
//   reduction (potentials, inertia) sums per-TILE partials in tile order, so scalars do not depend
//   on the thread count. Centroid sums are accumulated in float over fixed blocks of points,
//   then in double per thread, and reduced in thread order: bit-identical for a fixed thread
//   count and, after the final rounding to float, practically always identical across thread
//   counts. kmeans_centroid_sums and
//   kmeans_minibatch_update work per centre and are thread-count independent.
#pragma once
#include <cstdint>

namespace zs::cpu {

// Rows of points per tile of the assignment GEMM (fixed so that results do not depend on threads).
inline constexpr int64_t kKMeansTileRows = 128;

// sqnorm[i] = sum_j x[i][j]^2 (accumulated in double, rounded once).
void row_sqnorms(float* sqnorm, const float* x, int64_t n, int d);

// Nearest centre of every point, per group: labels[g][i] = argmin_j ||x_i - c_gj||^2 and
// min_dist[g][i] = that squared distance (min_dist may be nullptr when not needed).
void kmeans_assign(int32_t* labels, float* min_dist, const float* x, const float* x_sqnorm, const float* centers,
                   const float* c_sqnorm, int64_t n, int d, int k, int groups = 1);

// One Lloyd pass over the data: kmeans_assign fused with the centroid sums of the NEW labels,
// sums[g][j][.] = sum of the points labelled j in group g (float within blocks of 1024 points,
// double across blocks, rounded once) and
// counts[g][j] = their number. Each tile of points is summed while it is still in cache.
void kmeans_lloyd_pass(int32_t* labels, float* min_dist, float* sums, int64_t* counts, const float* x,
                       const float* x_sqnorm, const float* centers, const float* c_sqnorm, int64_t n, int d, int k,
                       int groups = 1);

// The centroid sums alone, for given labels[n] (one group), computed centre by centre in point
// order: independent of the thread count. Same outputs as kmeans_lloyd_pass.
void kmeans_centroid_sums(float* sums, int64_t* counts, const float* x, const int32_t* labels, int64_t n, int d,
                          int k);

// The k-means++ evaluation of t candidate centres per group (rows cand_ids[g][c] of x):
// cand_dist[g][c][i] = min(closest[g][i], ||x_i - x_{cand_ids[g][c]}||^2) and cand_pot[g][c] =
// sum_i cand_dist[g][c][i] (the potential if candidate c were chosen, summed in double). closest
// may be nullptr (no centre chosen yet: plain distances).
void kmeans_pp_candidates(float* cand_dist, double* cand_pot, const float* x, const float* x_sqnorm,
                          const float* closest, const int32_t* cand_ids, int64_t n, int d, int t, int groups = 1);

// D^2 sampling, per group: for each uniform u[g][r] in [0, 1), ids[g][r] = the first index i whose
// cumulative weight weights[g][0..i] (summed in double) exceeds u * total weight of the group.
// Points of weight 0 (the chosen centres) are never picked while the total is positive.
void kmeans_pp_sample(int32_t* ids, const float* weights, const double* uniforms, int64_t n, int t, int groups = 1);

// sklearn's MiniBatchKMeans centre update for one batch xb[b][d] with labels (one group): for each
// centre j with m_j > 0 members, centers_new[j] = (counts[j] * centers_old[j] + sum of members) /
// (counts[j] + m_j) and counts[j] += m_j (the per-centre count acts as an inverse learning rate);
// centres without members are copied. counts is read and written; centers_new must not alias
// centers_old.
void kmeans_minibatch_update(float* centers_new, double* counts, const float* centers_old, const float* xb,
                             const int32_t* labels, int64_t b, int d, int k);

// Exact inertia per group, inertia[g] = sum_i ||x_i - c_{g, labels[g][i]}||^2, by direct
// differences in double.
void kmeans_inertia(double* inertia, const float* x, const float* centers, const int32_t* labels, int64_t n, int d,
                    int k, int groups = 1);

}  // namespace zs::cpu
