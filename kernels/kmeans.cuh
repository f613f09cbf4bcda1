// The KMeans kernels on the device: the CPU twin's ops (kernels/cpu/kmeans.h) with the same
// argument order (outputs, inputs, sizes) plus a stream, and the same layouts:
//   points x[n][d] and centres centers[groups][k][d], row-major float32; labels int32 in [0, k);
//   per-group arrays stacked group after group: c_sqnorm [groups][k], labels / min_dist
//   [groups][n], sums [groups][k][d], counts [groups][k]; k-means++ candidates
//   cand_ids [groups][t], cand_dist [groups][t][n], cand_pot [groups][t].
//
// What each op matches on the twin, and how closely (u = 2^-24):
//   row_sqnorms          cpu::row_sqnorms: double sum rounded once, in another order: <= 1 ulp.
//   kmeans_assign        cpu::kmeans_assign: ||x||^2 - 2 x.c + ||c||^2, clamped at 0, ties to the
//                        smallest centre index. The dot products are float sums in another order
//                        than OpenBLAS's: distances agree within (d + 3) u of ||x||^2 + ||c||^2 +
//                        2 sum|x_f c_f| per side, so labels agree except at such near-ties.
//   kmeans_centroid_sums the centroid sums of cpu::kmeans_lloyd_pass for given labels: float sums
//                        over blocks of kKMeansSumBlockPoints points (in point order), added in
//                        double in block order, rounded once. Only additions, in the twin's order:
//                        the SAME BITS as the twin run on one OpenMP thread (with more threads
//                        the twin adds its double partials per thread; the float result then
//                        differs by at most 1 ulp, practically never). Counts are exact.
//   kmeans_lloyd_pass    kmeans_assign + kmeans_centroid_sums of the new labels (cpu::kmeans_lloyd_pass).
//   kmeans_pp_candidates cpu::kmeans_pp_candidates: distances as kmeans_assign's; potentials are
//                        double sums in a fixed tree order (relative difference ~ n 2^-53 on
//                        the same distances).
//   kmeans_pp_sample     cpu::kmeans_pp_sample: cumulative weights in double in a fixed
//                        (chunked) order; the same ids except where u * total lies within double
//                        rounding of a cumulative boundary.
//   kmeans_minibatch_update  cpu::kmeans_minibatch_update: the same double operations in the same
//                        order (multiplies that nvcc must not fuse are written __dmul_rn): the
//                        same bits.
//   kmeans_inertia       cpu::kmeans_inertia: exact differences in double, summed in a fixed order
//                        (relative difference ~ (d + n) 2^-53).
//   kmeans_argmin_dots   the argmin of kmeans_assign from stored dot products (benchmark baseline).
// Every kernel is deterministic: no float atomics, every sum in an order fixed by the sizes, so
// the same inputs give the same bits on every run and in every emulator thread order.
//
// Memory: nothing is allocated; no kernel stores an n x k matrix. Beyond its inputs and outputs,
// kmeans_inertia needs kmeans_inertia_workspace(groups) doubles of the caller's scratch (at most
// 32 KiB), so two streams never share one. A whole fit on 60,000 x 784 with k = 250 holds the data
// (188 MB), its norms, and per group labels + distances (0.5 MB) and centres + sums (0.8 MB); the
// k-means++ step of 64 candidates adds 15 MB of candidate distances: well under 300 MB in all.
// Default paths use nothing above compute capability 5.2 (warp shuffles and ballots, double
// arithmetic; no atomics at all).
//
// Launches are asynchronous on `stream`. Bad arguments throw std::invalid_argument, launch errors
// std::runtime_error.
#pragma once
#include <cstdint>

#include "kernels/common.cuh"

namespace zs::ZS_KNS {

// Versions of kmeans_assign (see kmeans.cu): 1 = naive, one thread per (point, group) looping over
// the centres; 2 = shared-memory tiles of points x centres, register-blocked, with the running
// argmin across the centre tiles inside the block (shipped). kmeans_pp_candidates uses version 2's
// tiles; the other ops have one version each.
inline constexpr int kKMeansAssignKernelVersions = 2;
inline constexpr int kKMeansAssignShippedVersion = 2;

// Points per float block of the centroid sums: the twin's kmeans_lloyd_pass block (8 tiles of
// cpu::kKMeansTileRows = 128 points).
inline constexpr int64_t kKMeansSumBlockPoints = 1024;

// sqnorm[i] = sum_j x[i][j]^2 (double, rounded once).
void row_sqnorms(float* sqnorm, const float* x, int64_t n, int d, cudaStream_t stream);

// labels[g][i] = argmin_j ||x_i - c_gj||^2 and min_dist[g][i] = that squared distance (min_dist
// may be null).
void kmeans_assign(int32_t* labels, float* min_dist, const float* x, const float* x_sqnorm, const float* centers,
                   const float* c_sqnorm, int64_t n, int d, int k, int groups, cudaStream_t stream,
                   int version = kKMeansAssignShippedVersion);

// sums[g][j][.] = sum of the points labelled j in group g; counts[g][j] = their number (see the
// file header for the summation order). Overwritten.
void kmeans_centroid_sums(float* sums, int64_t* counts, const float* x, const int32_t* labels, int64_t n, int d,
                          int k, int groups, cudaStream_t stream);

// One Lloyd pass: kmeans_assign, then kmeans_centroid_sums of the new labels.
void kmeans_lloyd_pass(int32_t* labels, float* min_dist, float* sums, int64_t* counts, const float* x,
                       const float* x_sqnorm, const float* centers, const float* c_sqnorm, int64_t n, int d, int k,
                       int groups, cudaStream_t stream, int version = kKMeansAssignShippedVersion);

// cand_dist[g][c][i] = min(closest[g][i], ||x_i - x_{cand_ids[g][c]}||^2) and cand_pot[g][c] =
// sum_i cand_dist[g][c][i] in double. closest may be null (plain distances).
void kmeans_pp_candidates(float* cand_dist, double* cand_pot, const float* x, const float* x_sqnorm,
                          const float* closest, const int32_t* cand_ids, int64_t n, int d, int t, int groups,
                          cudaStream_t stream);

// ids[g][r] = the first i whose cumulative weight weights[g][0..i] exceeds uniforms[g][r] * total
// (clipped to the last point of positive weight).
void kmeans_pp_sample(int32_t* ids, const float* weights, const double* uniforms, int64_t n, int t, int groups,
                      cudaStream_t stream);

// sklearn's MiniBatchKMeans update for one batch (one group); counts is read and written,
// centers_new must not alias centers_old. Labels must lie in [0, k) (not checked on the device).
void kmeans_minibatch_update(float* centers_new, double* counts, const float* centers_old, const float* xb,
                             const int32_t* labels, int64_t b, int d, int k, cudaStream_t stream);

// The second half of the UNFUSED assignment that benchmarks compare against (a GEMM that stores
// the n x k matrix dots[i][j] = x_i . c_j, e.g. cuBLAS, then this): labels[i] = argmin_j of
// c_sqnorm[j] - 2 dots[i][j] (ties to the smallest j) and min_dist[i] = the clamped distance
// (nullable). One group. Not used by the library.
void kmeans_argmin_dots(int32_t* labels, float* min_dist, const float* dots, const float* x_sqnorm,
                        const float* c_sqnorm, int64_t n, int k, cudaStream_t stream);

// inertia[g] = sum_i ||x_i - c_{g, labels[g][i]}||^2, by direct differences in double.
// workspace: kmeans_inertia_workspace(groups) doubles (per-chunk partial sums).
void kmeans_inertia(double* inertia, const float* x, const float* centers, const int32_t* labels, int64_t n, int d,
                    int k, int groups, double* workspace, cudaStream_t stream);
size_t kmeans_inertia_workspace(int groups);

}  // namespace zs::ZS_KNS
