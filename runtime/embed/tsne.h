// t-SNE with scikit-learn 1.2's TSNE semantics and defaults (the blog's tool), on any Backend.
//
// The steps, as sklearn (manifold/_t_sne.py) with method "barnes_hut" or "exact" on kNN P:
//   1. k = min(n - 1, 3 perplexity + 1) exact nearest neighbours by squared Euclidean distance
//      (backend op tsne_knn);
//   2. per-row bisection of the conditional P to the perplexity (tsne_conditional_p);
//   3. p_ij = (p_j|i + p_i|j) / 2n over the union of the two kNN graphs (host, O(n k));
//   4. init: "pca" (the first two principal components, sign as sklearn's svd_flip, scaled to std
//      1e-4 in the first) or "random" (N(0, 1e-4^2));
//   5. gradient descent on KL(P || Q), Student-t Q with one degree of freedom: 250 iterations with P
//      exaggerated x12 and momentum 0.5, then momentum 0.8 up to max_iter; gains +0.2 / x0.8 with
//      floor 0.01; learning rate "auto" = max(n / early_exaggeration / 4, 50); each phase restarts
//      update and gains at 0 and 1; every 50 iterations the KL divergence is evaluated and the phase
//      stops after n_iter_without_progress (250 in the first phase, as sklearn) iterations without
//      a better KL, or when the gradient norm falls to min_grad_norm.
// Repulsion: "exact" is the N-body sum (every backend); "barnes_hut" (angle 0.5) runs on the cpu
// backend only; "auto" takes barnes_hut on cpu and exact on the device backends, where the tiled
// exact sum is cheap.
// Deterministic: the same seed gives the same bits on a backend for every thread count (every sum
// in the kernels has a fixed order); the cpu backend's exact method and the emu backend give the
// same bits (kernels/tsne_math.h).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "runtime/backend/backend.h"

namespace zs {

enum class TsneInit { Pca, Random };
enum class TsneMethod { Auto, Exact, BarnesHut };

struct TsneOptions {
  float perplexity = 30.f;
  float early_exaggeration = 12.f;
  int exploration_iters = 250;
  float learning_rate = 0.f;   // 0: "auto"
  int max_iter = 1000;
  int n_iter_without_progress = 300;
  double min_grad_norm = 1e-7;
  int n_iter_check = 50;
  TsneInit init = TsneInit::Pca;
  TsneMethod method = TsneMethod::Auto;
  float angle = 0.5f;
  uint64_t seed = 0;
};

struct TsneResult {
  std::vector<float> embedding;   // [n][2]
  double kl_divergence = 0;       // at the last evaluation (sklearn's kl_divergence_)
  int n_iter = 0;                 // the last iteration's index (sklearn's n_iter_)
  TsneMethod method = TsneMethod::Exact;   // what ran
  int neighbours = 0;
  double seconds_knn = 0, seconds_p = 0, seconds_optimize = 0;
};

// x: n rows of d float features on the host. Throws std::invalid_argument for n < 2, perplexity
// outside (0, n), or options out of range.
TsneResult tsne(Backend& backend, const float* x, int64_t n, int d, const TsneOptions& options);

std::string to_string(TsneMethod method);
TsneMethod parse_tsne_method(const std::string& name);   // "auto", "exact", "barnes_hut"; else invalid_argument

// The first two principal components of x, centred, signs as sklearn's svd_flip (each column's
// largest |entry| positive), scaled to standard deviation 1e-4 in the first: sklearn's init="pca".
// Deterministic for every thread count.
std::vector<float> tsne_pca_init(const float* x, int64_t n, int d);

}  // namespace zs
