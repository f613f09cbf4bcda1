// sklearn.manifold.trustworthiness: how far the k nearest neighbours of each point in the embedding
// rank among its neighbours in the input space,
//   T(k) = 1 - 2 / (n k (2n - 3k - 1)) sum_i sum_{j in N_k^emb(i)} max(0, r(i, j) - k),
// r(i, j) the rank (1 = nearest) of j by input Euclidean distance from i. O(n^2 d): meant for a few
// thousand points (the driver takes at most 5,000).
#pragma once
#include <cstdint>

namespace zs {

// x [n][d] input rows, y [n][dy] embedding rows; requires k < n / 2 (std::invalid_argument).
double trustworthiness(const float* x, int64_t n, int d, const float* y, int dy, int k);

}  // namespace zs
