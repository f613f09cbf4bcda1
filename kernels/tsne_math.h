// The scalar arithmetic of t-SNE, written once for every build: the CPU twin (kernels/cpu/tsne.cpp,
// g++), the emulator build of kernels/tsne.cu (g++) and nvcc (device). Every multiply that feeds an
// add is an explicit fma, so no compiler can contract it differently: the twin and the emulator
// compute the same bits, and nvcc differs only where its device exp / log differ from glibc's.
// Sizes that fix a summation order (tiles, reduction widths) live here too, for the same reason.
#pragma once
#include <cmath>
#include <climits>
#include <cstdint>

#include "kernels/philox.h"   // ZS_HOST_DEVICE

namespace zs {

// Exact repulsion: each point adds the t-kernels of kTsneRepulsionTile other points in float, in
// index order, then adds that tile's partial sums to double accumulators, tile after tile.
inline constexpr int kTsneRepulsionTile = 256;
// The gradient step reduces Z and |grad|^2 as kTsneStepThreads contiguous chunks, each summed in
// index order in double, then a halving tree over the chunk sums (the kernel's one block).
inline constexpr int kTsneStepThreads = 512;

// sklearn's bisection (manifold/_utils.pyx): entropy tolerance and step limit.
inline constexpr double kTsnePerplexityTolerance = 1e-5;
inline constexpr int kTsneBisectionSteps = 100;
inline constexpr double kTsneEpsilonDbl = 1e-8;   // sum_Pi floor, as sklearn's EPSILON_DBL

// sklearn's gains: +0.2 where the update and the gradient disagree in sign, x0.8 elsewhere, floor 0.01.
inline constexpr float kTsneGainUp = 0.2f;
inline constexpr float kTsneGainDown = 0.8f;
inline constexpr float kTsneMinGain = 0.01f;

// One feature's contribution to a squared distance, accumulated in feature order.
ZS_HOST_DEVICE float tsne_sq_dist_step(float a, float b, float acc) {
  const float diff = a - b;
  return fmaf(diff, diff, acc);
}

// The Student-t (one degree of freedom) kernel t = 1 / (1 + dx^2 + dy^2) of a 2-D offset.
ZS_HOST_DEVICE float tsne_t_kernel(float dx, float dy) {
  const float d2 = fmaf(dx, dx, dy * dy);
  return 1.f / (1.f + d2);
}

// One term of the exact repulsion of a point at offset (dx, dy) from another: z += t, r += t^2 (dx,
// dy), the float tile sums of tsne_repulsive.
ZS_HOST_DEVICE void tsne_repulsion_term(float dx, float dy, float& rx, float& ry, float& z) {
  const float t = tsne_t_kernel(dx, dy);
  const float tt = t * t;
  z += t;
  rx = fmaf(tt, dx, rx);
  ry = fmaf(tt, dy, ry);
}

// Per-row bisection on the precision beta of exp(-beta d_j) so that the row's entropy equals
// log(perplexity) (sklearn's _binary_search_perplexity with its neighbours, step for step, in
// double). Writes p[j] = p_j|i (float) for the last beta evaluated; returns that beta.
ZS_HOST_DEVICE double tsne_row_bisection(float* p, const float* dist, int k, double desired_entropy) {
  double beta = 1.0, beta_min = -INFINITY, beta_max = INFINITY, beta_used = 1.0, sum_p = 1.0;
  for (int step = 0; step < kTsneBisectionSteps; ++step) {
    beta_used = beta;
    sum_p = 0.0;
    for (int j = 0; j < k; ++j) sum_p += exp(-double(dist[j]) * beta);
    if (sum_p == 0.0) sum_p = kTsneEpsilonDbl;
    double sum_dist_p = 0.0;
    for (int j = 0; j < k; ++j) {
      const double pj = exp(-double(dist[j]) * beta) / sum_p;
      sum_dist_p = fma(double(dist[j]), pj, sum_dist_p);
    }
    const double entropy = fma(beta, sum_dist_p, log(sum_p));
    const double diff = entropy - desired_entropy;
    if (fabs(diff) <= kTsnePerplexityTolerance) break;
    if (diff > 0.0) {
      beta_min = beta;
      beta = beta_max == INFINITY ? beta * 2.0 : (beta + beta_max) / 2.0;
    } else {
      beta_max = beta;
      beta = beta_min == -INFINITY ? beta / 2.0 : (beta + beta_min) / 2.0;
    }
  }
  for (int j = 0; j < k; ++j) p[j] = float(exp(-double(dist[j]) * beta_used) / sum_p);
  return beta_used;
}

// One row of the attraction over the CSR P (entries [begin, end) of col / val): a_i = sum_j e p_ij
// t_ij (y_i - y_j) in float, in column order; *kl (nullable) = sum_j e p_ij log(e p_ij / t_ij) in
// double (e = exaggeration; terms with p_ij = 0 add nothing, 0 log 0 = 0).
ZS_HOST_DEVICE void tsne_attractive_row(float* attraction, double* kl, const int32_t* col, const float* val,
                                        int32_t begin, int32_t end, const float* y, int64_t i, float exaggeration) {
  const float yx = y[2 * i], yy = y[2 * i + 1];
  float ax = 0.f, ay = 0.f;
  double sum_kl = 0.0;
  for (int32_t e = begin; e < end; ++e) {
    const int64_t j = col[e];
    const float dx = yx - y[2 * j], dy = yy - y[2 * j + 1];
    const float t = tsne_t_kernel(dx, dy);
    const float p = exaggeration * val[e];
    const float w = p * t;
    ax = fmaf(w, dx, ax);
    ay = fmaf(w, dy, ay);
    if (kl && p > 0.f) sum_kl = fma(double(p), log(double(p) / double(t)), sum_kl);
  }
  attraction[2 * i] = ax;
  attraction[2 * i + 1] = ay;
  if (kl) *kl = sum_kl;
}

// One row of the symmetric P: the union of the row's out-neighbours (out_col ascending, out_val =
// p_j|i) and in-neighbours (in_col ascending, in_val = p_i|j), each column once with p_ij =
// (p_j|i + p_i|j) * scale (scale = 1 / 2n) in double, rounded once to float (the sum of two
// doubles does not depend on their order, so neither does the value). Writes col / val when they
// are not null (count first with nulls, then write); returns the row's length, and *row_sum (when
// not null) = the sum of the float values in column order, in double.
ZS_HOST_DEVICE int32_t tsne_merge_row(int32_t* col, float* val, double* row_sum, const int32_t* out_col,
                                      const float* out_val, int32_t out_count, const int32_t* in_col,
                                      const float* in_val, int32_t in_count, double scale) {
  int32_t a = 0, b = 0, len = 0;
  double sum = 0.0;
  while (a < out_count || b < in_count) {
    const int32_t ca = a < out_count ? out_col[a] : INT32_MAX, cb = b < in_count ? in_col[b] : INT32_MAX;
    const int32_t c = ca < cb ? ca : cb;
    double p = 0.0;
    if (ca == c) p += double(out_val[a++]);
    if (cb == c) p += double(in_val[b++]);
    const float v = float(p * scale);
    if (col) {
      col[len] = c;
      val[len] = v;
    }
    sum += double(v);
    ++len;
  }
  if (row_sum) *row_sum = sum;
  return len;
}

// One coordinate of sklearn's update: the gradient g = 4 (attraction - repulsion / Z) (one degree
// of freedom: 2 (dof + 1) / dof = 4), the gains, momentum and the step. Returns g after the gain,
// whose squares make the convergence test's gradient norm.
ZS_HOST_DEVICE float tsne_update_coordinate(float& y, float& update, float& gain, float attraction, float repulsion,
                                            float z, float momentum, float learning_rate) {
  float g = 4.f * (attraction - repulsion / z);
  const bool increase = update * g < 0.f;
  gain = increase ? gain + kTsneGainUp : gain * kTsneGainDown;
  if (gain < kTsneMinGain) gain = kTsneMinGain;
  g *= gain;
  update = fmaf(momentum, update, -(learning_rate * g));
  y += update;
  return g;
}

}  // namespace zs
