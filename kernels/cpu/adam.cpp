// Keras Adam (TF 2.8 defaults beta1 0.9, beta2 0.999, eps 1e-7), step t >= 1:
//   m = b1 m + (1 - b1) g;  v = b2 v + (1 - b2) g^2;
//   lr_t = lr sqrt(1 - b2^t) / (1 - b1^t);  p -= lr_t m / (sqrt(v) + eps)
// (eps is added to sqrt(v) without bias correction, as Keras does). The bias-correction powers
// are computed in double. Updates param, m and v in place; element-wise, so any split over
// threads gives the same bits.
#include <cmath>

#include "kernels/cpu/cpu_common_impl.h"
#include "kernels/cpu/ops.h"

namespace zs::cpu {

using namespace detail;

void adam_step(float* param, float* m, float* v, const float* grad, int64_t count, const AdamHyper& h, int64_t step) {
  require(count >= 0, "adam_step", "count must be >= 0");
  require(count == 0 || (param && m && v && grad), "adam_step", "param, m, v and grad must not be null");
  require(step >= 1, "adam_step", "step is 1-based and must be >= 1");
  const double t = double(step);
  const float lr_t = float(double(h.lr) * std::sqrt(1.0 - std::pow(double(h.beta2), t)) /
                           (1.0 - std::pow(double(h.beta1), t)));
  const float b1 = h.beta1, b2 = h.beta2, eps = h.eps;
  const float one_minus_b1 = 1.f - b1, one_minus_b2 = 1.f - b2;
#pragma omp parallel for simd schedule(static) if (count >= (1 << 15))
  for (int64_t i = 0; i < count; ++i) {
    const float g = grad[i];
    const float mi = b1 * m[i] + one_minus_b1 * g;
    const float vi = b2 * v[i] + one_minus_b2 * g * g;
    m[i] = mi;
    v[i] = vi;
    param[i] -= lr_t * mi / (std::sqrt(vi) + eps);
  }
}

}  // namespace zs::cpu
