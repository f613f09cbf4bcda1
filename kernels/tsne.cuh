// The t-SNE kernels on the device: the CPU twin's ops (kernels/cpu/tsne.h) with the same argument
// order (outputs, inputs, sizes) plus a stream, the same layouts, and the same scalar arithmetic
// (kernels/tsne_math.h), so the emulator build computes the twin's bits and nvcc differs only by
// its device exp / log in the bisection and the KL terms.
//   tsne_knn            exact k nearest neighbours from tiled squared distances, a per-row top-k
//                       kept sorted by (distance, index); never stores n x n.
//   tsne_conditional_p  the per-row bisection (one thread per row, double).
//   tsne_symmetrize     the joint P as CSR, deterministically without a sort: in-degrees (integer
//                       atomics), a scan, the edges scattered into their target's bucket (any
//                       order), then every edge placed by its rank (the out-list of a row by
//                       column, a bucket by source), and each row merged (tsne_merge_row) twice:
//                       lengths, a scan, values. Needs tsne_symmetrize_workspace(n, k) doubles of
//                       the caller's scratch.
//   tsne_attractive     one thread per row of the CSR P.
//   tsne_repulsive      the exact N-body sum over shared-memory tiles (theta must be 0: Barnes-Hut
//                       is a CPU method).
//   tsne_gradient_step  one block: Z and |g|^2 reduced in a fixed order, then the update.
// Deterministic: no atomics, every sum in an order fixed by the sizes. Launches are asynchronous on
// `stream`; nothing is allocated. Bad arguments throw std::invalid_argument.
#pragma once
#include <cstddef>
#include <cstdint>

#include "kernels/common.cuh"

namespace zs::ZS_KNS {

void tsne_knn(int32_t* idx, float* dist, const float* x, int64_t n, int d, int k, cudaStream_t stream);
void tsne_conditional_p(float* cond_p, const float* dist, int64_t n, int k, float perplexity, cudaStream_t stream);
void tsne_symmetrize(int32_t* row_ptr, int32_t* col, float* val, double* p_sum, const int32_t* idx,
                     const float* cond_p, int64_t n, int k, double* workspace, cudaStream_t stream);
size_t tsne_symmetrize_workspace(int64_t n, int k);
void tsne_attractive(float* attraction, double* kl_row, const int32_t* row_ptr, const int32_t* col, const float* val,
                     const float* y, int64_t n, float exaggeration, cudaStream_t stream);
void tsne_repulsive(float* repulsion, double* zrow, const float* y, int64_t n, float theta, cudaStream_t stream);
void tsne_gradient_step(float* y, float* update, float* gains, double* stats, const float* attraction,
                        const float* repulsion, const double* zrow, int64_t n, float momentum, float learning_rate,
                        cudaStream_t stream);

}  // namespace zs::ZS_KNS
