// The backend's op catalogue, written once: each entry is X(name, (parameters), (arguments)).
// backend.h declares every entry as a pure virtual; the cpu backend forwards each to its twin,
// cpu::name(arguments) (kernels/cpu); the kernel backends (cuda, emu) forward the PLAIN ones to
// ZS_KNS::name(arguments, stream). Adding a plain op means its kernel, its twin and one line here.
// The OWN_KERNEL_PATH ones are forwarded to the twin the same way, but the kernel backend writes
// their kernel path itself (a workspace). The ops that read the step counter (backend memory, so
// that a captured graph takes a new step at every replay) are declared in backend.h.
// Semantics of every op: kernels/cpu/ops.h, kernels/cpu/vae.h, kernels/cpu/kmeans.h,
// kernels/cpu/columns.h and kernels/cpu/tsne.h.
#pragma once

// ZS_OP_ARGS (a, b) is a, b: lets a forwarder append arguments, e.g. name(ZS_OP_ARGS args, stream).
#define ZS_OP_ARGS(...) __VA_ARGS__

#define ZS_BACKEND_PLAIN_OPS(X)                                                                                     \
  X(conv2d_forward, (const ConvGeom& g, float* y, const float* x, const float* w, const float* b, Act act),         \
    (g, y, x, w, b, act))                                                                                           \
  X(conv2d_backward_data, (const ConvGeom& g, float* dx, const float* dy, const float* w, const float* bias, Act act), \
    (g, dx, dy, w, bias, act))                                                                                      \
  X(bias_grad_nchw, (float* db, const float* dy, int n, int c, int hw), (db, dy, n, c, hw))                         \
  X(activation_forward, (Act act, float* y, const float* x, int64_t count), (act, y, x, count))                     \
  X(activation_backward, (Act act, float* dx, const float* dy, const float* y, int64_t count),                      \
    (act, dx, dy, y, count))                                                                                        \
  X(bce_loss, (float* loss, float* dpred, const float* pred, const float* target, int n, int dim),                  \
    (loss, dpred, pred, target, n, dim))                                                                            \
  X(mse_loss, (float* loss, float* dpred, const float* pred, const float* target, int n, int dim),                  \
    (loss, dpred, pred, target, n, dim))                                                                            \
  X(sum_loss_terms, (double* sums, const float* terms, int n, int n_terms), (sums, terms, n, n_terms))              \
  /* eps keyed by (seed, key, element of the batch whose rows from first_row on these are), key a host value */    \
  X(vae_reparam_forward,                                                                                            \
    (float* z, float* eps, const float* mu_logvar, int n, int zdim, uint64_t seed, int64_t key, bool sample,        \
     int64_t first_row),                                                                                            \
    (z, eps, mu_logvar, n, zdim, seed, key, sample, first_row))                                                     \
  X(vae_reparam_backward,                                                                                           \
    (float* d_mu_logvar, const float* dz, const float* eps, const float* mu_logvar, int n, int zdim),               \
    (d_mu_logvar, dz, eps, mu_logvar, n, zdim))                                                                     \
  X(vae_loss,                                                                                                       \
    (float* losses, float* dpred, float* d_mu_logvar, const float* pred, const float* target,                       \
     const float* mu_logvar, int n, int dim, int zdim, float beta),                                                 \
    (losses, dpred, d_mu_logvar, pred, target, mu_logvar, n, dim, zdim, beta))                                      \
  /* KMeans (kernels/cpu/kmeans.h; layouts: centres [groups][k][d], labels [groups][n]) */                          \
  X(row_sqnorms, (float* sqnorm, const float* x, int64_t n, int d), (sqnorm, x, n, d))                              \
  X(kmeans_assign,                                                                                                  \
    (int32_t* labels, float* min_dist, const float* x, const float* x_sqnorm, const float* centers,                 \
     const float* c_sqnorm, int64_t n, int d, int k, int groups),                                                   \
    (labels, min_dist, x, x_sqnorm, centers, c_sqnorm, n, d, k, groups))                                            \
  X(kmeans_lloyd_pass,                                                                                              \
    (int32_t* labels, float* min_dist, float* sums, int64_t* counts, const float* x, const float* x_sqnorm,         \
     const float* centers, const float* c_sqnorm, int64_t n, int d, int k, int groups),                             \
    (labels, min_dist, sums, counts, x, x_sqnorm, centers, c_sqnorm, n, d, k, groups))                              \
  X(kmeans_pp_candidates,                                                                                           \
    (float* cand_dist, double* cand_pot, const float* x, const float* x_sqnorm, const float* closest,               \
     const int32_t* cand_ids, int64_t n, int d, int t, int groups),                                                 \
    (cand_dist, cand_pot, x, x_sqnorm, closest, cand_ids, n, d, t, groups))                                         \
  X(kmeans_pp_sample, (int32_t* ids, const float* weights, const double* uniforms, int64_t n, int t, int groups),   \
    (ids, weights, uniforms, n, t, groups))                                                                         \
  X(kmeans_minibatch_update,                                                                                        \
    (float* centers_new, double* counts, const float* centers_old, const float* xb, const int32_t* labels,          \
     int64_t b, int d, int k),                                                                                      \
    (centers_new, counts, centers_old, xb, labels, b, d, k))                                                        \
  /* per-feature statistics of data kept in backend memory (kernels/cpu/columns.h) */                           \
  X(column_moments, (double* sum, double* sq_dev, const float* x, int64_t n, int d), (sum, sq_dev, x, n, d))         \
  X(centre_columns, (float* y, const float* x, const double* sum, int64_t n, int d), (y, x, sum, n, d))             \
  /* t-SNE (kernels/cpu/tsne.h): kNN lists, conditional P, forces over a CSR P, the gradient step. */               \
  X(tsne_knn, (int32_t* idx, float* dist, const float* x, int64_t n, int d, int k), (idx, dist, x, n, d, k))        \
  X(tsne_conditional_p, (float* cond_p, const float* dist, int64_t n, int k, float perplexity),                     \
    (cond_p, dist, n, k, perplexity))                                                                               \
  X(tsne_attractive,                                                                                                \
    (float* attraction, double* kl_row, const int32_t* row_ptr, const int32_t* col, const float* val,               \
     const float* y, int64_t n, float exaggeration),                                                                \
    (attraction, kl_row, row_ptr, col, val, y, n, exaggeration))                                                    \
  /* theta > 0 (Barnes-Hut) is a cpu method: the kernel backends throw std::invalid_argument. */                    \
  X(tsne_repulsive, (float* repulsion, double* zrow, const float* y, int64_t n, float theta),                       \
    (repulsion, zrow, y, n, theta))                                                                                 \
  X(tsne_gradient_step,                                                                                             \
    (float* y, float* update, float* gains, double* stats, const float* attraction, const float* repulsion,         \
     const double* zrow, int64_t n, float momentum, float learning_rate),                                           \
    (y, update, gains, stats, attraction, repulsion, zrow, n, momentum, learning_rate))

#define ZS_BACKEND_OWN_KERNEL_PATH_OPS(X)                                                                           \
  X(conv2d_backward_weight, (const ConvGeom& g, float* dw, float* db, const float* x, const float* dy),             \
    (g, dw, db, x, dy))                                                                                             \
  X(dense_forward, (float* y, const float* x, const float* w, const float* b, int n, int in, int out, Act act),     \
    (y, x, w, b, n, in, out, act))                                                                                  \
  X(dense_backward,                                                                                                 \
    (float* dx, float* dw, float* db, const float* dy, const float* x, const float* w, int n, int in, int out),     \
    (dx, dw, db, dy, x, w, n, in, out))                                                                             \
  /* the joint P of t-SNE as CSR; ranks and merges in a workspace on kernel backends */                          \
  X(tsne_symmetrize,                                                                                                \
    (int32_t* row_ptr, int32_t* col, float* val, double* p_sum, const int32_t* idx, const float* cond_p, int64_t n, \
     int k),                                                                                                        \
    (row_ptr, col, val, p_sum, idx, cond_p, n, k))                                                                  \
  /* per-chunk partial sums in a workspace on kernel backends */                                                    \
  X(kmeans_inertia,                                                                                                 \
    (double* inertia, const float* x, const float* centers, const int32_t* labels, int64_t n, int d, int k,         \
     int groups),                                                                                                   \
    (inertia, x, centers, labels, n, d, k, groups))
