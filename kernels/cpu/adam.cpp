// Keras Adam (TF 2.8 defaults beta1 0.9, beta2 0.999, eps 1e-7), step t >= 1:
//   m = b1 m + (1 - b1) g;  v = b2 v + (1 - b2) g^2;
//   lr_t = lr sqrt(1 - b2^t) / (1 - b1^t);  p -= lr_t m / (sqrt(v) + eps)
// (eps is added to sqrt(v) without bias correction, as Keras does). The bias-correction powers
// are computed in double. Updates param, m and v in place; element-wise, so any split over
// threads gives the same bits. The loop is elementwise_impl.h's (its AVX-512 copy on the avx512
// path: same bits).
#include <cmath>

#include <omp.h>

#include "kernels/cpu/cpu_common_impl.h"
#include "kernels/cpu/cpu_isa.h"
#include "kernels/cpu/elementwise_impl.h"
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
  const AdamFloats f{lr_t, h.beta1, h.beta2, h.eps};
  const bool avx512 = active_cpu_isa() >= CpuIsa::kAvx512;
  const int threads = count >= (1 << 15) ? max_threads() : 1;
#pragma omp parallel num_threads(threads) if (threads > 1)
  {
    int64_t begin = 0, end = 0;
    static_range(count, omp_get_thread_num(), omp_get_num_threads(), begin, end);
    if (avx512)
      adam_avx512(param, m, v, grad, begin, end, f);
    else
      adam_loop(param, m, v, grad, begin, end, f);
  }
}

}  // namespace zs::cpu
