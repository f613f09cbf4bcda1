// The CPU twin of the t-SNE kernels (kernels/tsne.cuh): the cpu backend's path AND the oracle the
// emulator and CUDA builds are tested against (same signatures, minus the stream), plus one
// cpu-only method (Barnes-Hut repulsion).
//
// Conventions: outputs, inputs, sizes; every output is OVERWRITTEN. Points x[n][d] and the
// embedding y[n][2] are row-major float32. Neighbour lists idx[n][k] (int32) and dist[n][k]
// (squared Euclidean, float32) are sorted by (distance, index). The symmetric P is CSR: row_ptr
// [n + 1], col [nnz] (ascending within a row), val [nnz], all float32 / int32.
//
// Arithmetic: kernels/tsne_math.h, shared with the kernels, so the emulator gives these bits:
//   tsne_knn          squared distances as an fma chain over the features in order; the k
//                     smallest by (distance, index), the point itself excluded.
//   tsne_conditional_p  sklearn's bisection per row, in double.
//   tsne_symmetrize   the joint P as CSR (tsne_merge_row): row i is the union of its out- and
//                     in-neighbours, columns ascending, p_ij = (p_j|i + p_i|j) / 2n rounded once;
//                     col / val hold 2 n k entries (the most a row set can need), the first
//                     row_ptr[n] are written. p_sum[0] = the sum of every value: each row's in
//                     column order (double), the row sums as kTsneStepThreads contiguous chunks
//                     summed in order, then a halving tree (the kernel's one block). idx must be
//                     neighbour lists as tsne_knn writes them (each entry in [0, n), never i).
//   tsne_attractive   per row, in CSR order: a_i = sum_j e p_ij t_ij (y_i - y_j), float; with kl_row
//                     (nullable) = sum_j e p_ij log(e p_ij / t_ij) in double (e = exaggeration;
//                     terms with p_ij = 0 add nothing).
//   tsne_repulsive    theta == 0: the exact sum r_i = sum_{j != i} t_ij^2 (y_i - y_j) and
//                     zrow_i = sum_{j != i} t_ij, in the tile order of tsne_math.h. theta > 0 (cpu
//                     only): Barnes-Hut on a Morton-ordered quadtree; groups of 8 neighbouring points
//                     walk it together and a cell is summarised only where sklearn's criterion (cell
//                     width / distance to its centre of mass < theta) holds for every point of the
//                     group: never coarser than sklearn's per-point walk.
//   tsne_gradient_step  stats[0] = Z = sum zrow, stats[1] = |g|^2 of the gained gradient, then
//                     every coordinate updated (tsne_update_coordinate), in tsne_math.h's order.
// Threads (OpenMP) split rows only: every result is independent of the thread count.
#pragma once
#include <cstdint>
#include <vector>

namespace zs::cpu {

void tsne_knn(int32_t* idx, float* dist, const float* x, int64_t n, int d, int k);
void tsne_conditional_p(float* cond_p, const float* dist, int64_t n, int k, float perplexity);
void tsne_attractive(float* attraction, double* kl_row, const int32_t* row_ptr, const int32_t* col, const float* val,
                     const float* y, int64_t n, float exaggeration);
void tsne_repulsive(float* repulsion, double* zrow, const float* y, int64_t n, float theta);
void tsne_gradient_step(float* y, float* update, float* gains, double* stats, const float* attraction,
                        const float* repulsion, const double* zrow, int64_t n, float momentum, float learning_rate);

void tsne_symmetrize(int32_t* row_ptr, int32_t* col, float* val, double* p_sum, const int32_t* idx,
                     const float* cond_p, int64_t n, int k);

// tsne_symmetrize into host vectors sized to the entries (tests and tools that want P on the host).
struct SparseP {
  std::vector<int32_t> row_ptr, col;
  std::vector<float> val;
  double sum = 0;
};
SparseP tsne_symmetric_p(const int32_t* idx, const float* cond_p, int64_t n, int k);

}  // namespace zs::cpu
