// Per-sample losses and the gradient of the BATCH-MEAN loss with respect to the predictions.
//   BCE (Keras): p is clamped to [1e-7, 1 - 1e-7]; per-sample loss = mean over dim of
//     -(t log p + (1 - t) log(1 - p)); d/dp of the batch mean = (p - t) / (p (1 - p)) / (n dim),
//     and 0 where the clamp is active (p outside the interval), as the clamp's derivative is.
//   MSE: per-sample loss = mean over dim of (p - t)^2; gradient 2 (p - t) / (n dim).
// Samples are split over OpenMP threads; each sample's sum runs in a fixed (vectorized) order and
// accumulates in double, so the results do not depend on the thread count. The logs are the
// vectorizable log_positive of simd_math_impl.h. BCE runs elementwise_impl.h's bce_row (its
// AVX-512 copy on the avx512 path: the same gradient bits, a loss that can differ in the last
// bits, see there).
// loss and dpred are overwritten; dpred may be null when only the loss is wanted.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <stdexcept>

#include "kernels/cpu/cpu_common_impl.h"
#include "kernels/cpu/cpu_isa.h"
#include "kernels/cpu/elementwise_impl.h"
#include "kernels/cpu/ops.h"

namespace zs::cpu {

using namespace detail;

namespace {

constexpr float kBceEpsilon = 1e-7f;  // Keras backend.epsilon()
constexpr int64_t kParallelMinElements = 1 << 14;

void check_loss_args(const char* op, const float* loss, const float* pred, const float* target, int n, int dim) {
  require(loss && pred && target, op, "loss, pred and target must not be null");
  require(n >= 1 && dim >= 1, op, "n and dim must be >= 1");
}

}  // namespace

void bce_loss(float* loss, float* dpred, const float* pred, const float* target, int n, int dim) {
  check_loss_args("bce_loss", loss, pred, target, n, dim);
  const float lo = kBceEpsilon, hi = 1.f - kBceEpsilon;
  const float grad_scale = 1.f / (float(n) * float(dim));
  const bool avx512 = active_cpu_isa() >= CpuIsa::kAvx512;
#pragma omp parallel for schedule(static) if (int64_t(n) * dim >= kParallelMinElements)
  for (int i = 0; i < n; ++i) {
    const float* p = pred + int64_t(i) * dim;
    const float* t = target + int64_t(i) * dim;
    float* d = dpred ? dpred + int64_t(i) * dim : nullptr;
    const double total = avx512 ? bce_row_avx512(d, p, t, dim, lo, hi, grad_scale)
                                : bce_row(d, p, t, dim, lo, hi, grad_scale);
    loss[i] = float(-total / dim);
  }
}

void mse_loss(float* loss, float* dpred, const float* pred, const float* target, int n, int dim) {
  check_loss_args("mse_loss", loss, pred, target, n, dim);
  const float grad_scale = 2.f / (float(n) * float(dim));
#pragma omp parallel for schedule(static) if (int64_t(n) * dim >= kParallelMinElements)
  for (int i = 0; i < n; ++i) {
    const float* p = pred + int64_t(i) * dim;
    const float* t = target + int64_t(i) * dim;
    double total = 0.0;
#pragma omp simd reduction(+ : total)
    for (int j = 0; j < dim; ++j) {
      const double diff = double(p[j]) - double(t[j]);
      total += diff * diff;
    }
    loss[i] = float(total / dim);
    if (dpred) {
      float* d = dpred + int64_t(i) * dim;
#pragma omp simd
      for (int j = 0; j < dim; ++j) d[j] = (p[j] - t[j]) * grad_scale;
    }
  }
}

void sum_loss_terms(double* sums, const float* terms, int n, int n_terms) {
  if (!sums || !terms) throw std::invalid_argument("sum_loss_terms: sums and terms must not be null");
  if (n < 1 || n_terms < 1) throw std::invalid_argument("sum_loss_terms: n and n_terms must be >= 1");
  for (int t = 0; t < n_terms; ++t)
    for (int i = 0; i < n; ++i) sums[t] += double(terms[int64_t(t) * n + i]);
}

}  // namespace zs::cpu
