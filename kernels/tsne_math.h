// The scalar arithmetic of t-SNE, written once for every build: the CPU twin (kernels/cpu/tsne.cpp,
// g++), the emulator build of kernels/tsne.cu (g++) and nvcc (device). Every multiply that feeds an
// add is an explicit fma, so no compiler can contract it differently: the twin and the emulator
// compute the same bits, and nvcc differs only where its device exp / log differ from glibc's.
// Sizes that fix a summation order (tiles, reduction widths) live here too, for the same reason.
#pragma once
#include <cmath>
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
