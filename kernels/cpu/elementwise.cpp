// Activations, forward and backward. The backward uses the activation's OUTPUT y:
//   LeakyReLU: y > 0 exactly when x > 0 (alpha > 0), so dx = y > 0 ? dy : alpha * dy
//              (alpha at x == 0, as TensorFlow's LeakyReluGrad);
//   sigmoid:   dx = dy * y * (1 - y);
//   sigmoid(leaky_relu(x)) (the blog decoder's head): dx = dy * y * (1 - y) * (y > 1/2 ? 1 : alpha).
//              y > 1/2 exactly when the sigmoid's input is positive, except where sigmoid(x)
//              rounds to 1/2 (0 < x < ~1e-7), whose derivative takes alpha instead of 1.
// The loops are elementwise_impl.h's, run as the AVX-512 copy (elementwise_avx512.cpp) when the
// active ISA path is avx512 (same bits); large arrays are split over OpenMP threads. Element-wise,
// so any split gives the same bits.
#include <omp.h>

#include <cstring>

#include "kernels/cpu/cpu_common_impl.h"
#include "kernels/cpu/cpu_isa.h"
#include "kernels/cpu/elementwise_impl.h"
#include "kernels/cpu/ops.h"

namespace zs::cpu {

using namespace detail;

namespace {

// Below this many elements the OpenMP fork/join costs more than it saves.
constexpr int64_t kParallelMinElements = 1 << 15;

}  // namespace

namespace detail {

void bias_activation(float* dst, const float* src, int64_t count, float bias, Act act) {
  if (act == Act::None && bias == 0.f) {
    if (dst != src) std::memcpy(dst, src, sizeof(float) * count);
    return;
  }
  if (active_cpu_isa() >= CpuIsa::kAvx512) return bias_activation_avx512(dst, src, count, bias, act);
  switch (act) {
    case Act::None: return bias_activation_loop<Act::None>(dst, src, count, bias);
    case Act::LeakyRelu: return bias_activation_loop<Act::LeakyRelu>(dst, src, count, bias);
    case Act::Sigmoid: return bias_activation_loop<Act::Sigmoid>(dst, src, count, bias);
    case Act::LeakyReluSigmoid: return bias_activation_loop<Act::LeakyReluSigmoid>(dst, src, count, bias);
  }
}

void apply_activation_inplace(Act act, float* v, int64_t count) { bias_activation(v, v, count, 0.f, act); }

void activation_grad(Act act, float* dx, const float* dy, const float* y, int64_t count) {
  switch (act) {
    case Act::None:
      if (dx != dy) std::memcpy(dx, dy, sizeof(float) * count);
      return;
    case Act::LeakyRelu:
      if (active_cpu_isa() >= CpuIsa::kAvx512) return activation_grad_avx512(act, dx, dy, y, count);
      return leaky_grad_loop(dx, dy, y, count);
    case Act::Sigmoid:
      if (active_cpu_isa() >= CpuIsa::kAvx512) return activation_grad_avx512(act, dx, dy, y, count);
      return sigmoid_grad_loop(dx, dy, y, count);
    case Act::LeakyReluSigmoid:
      if (active_cpu_isa() >= CpuIsa::kAvx512) return activation_grad_avx512(act, dx, dy, y, count);
      return leaky_sigmoid_grad_loop(dx, dy, y, count);
  }
}

}  // namespace detail

void activation_forward(Act act, float* y, const float* x, int64_t count) {
  require(count >= 0, "activation_forward", "count must be >= 0");
  require(count == 0 || (y && x), "activation_forward", "y and x must not be null");
  if (act == Act::None && y == x) return;
  const int threads = count >= kParallelMinElements ? max_threads() : 1;
#pragma omp parallel num_threads(threads) if (threads > 1)
  {
    int64_t begin = 0, end = 0;
    static_range(count, omp_get_thread_num(), omp_get_num_threads(), begin, end);
    bias_activation(y + begin, x + begin, end - begin, 0.f, act);
  }
}

void activation_backward(Act act, float* dx, const float* dy, const float* y, int64_t count) {
  require(count >= 0, "activation_backward", "count must be >= 0");
  require(count == 0 || (dx && dy && (y || act == Act::None)), "activation_backward",
          "dx, dy and y must not be null");
  if (act == Act::None) {
    if (dx != dy) std::memcpy(dx, dy, sizeof(float) * count);
    return;
  }
  const int threads = count >= kParallelMinElements ? max_threads() : 1;
#pragma omp parallel num_threads(threads) if (threads > 1)
  {
    int64_t begin = 0, end = 0;
    static_range(count, omp_get_thread_num(), omp_get_num_threads(), begin, end);
    activation_grad(act, dx + begin, dy + begin, y + begin, end - begin);
  }
}

void gather_rows(float* dst, const float* src, const int32_t* indices, int64_t rows, int row_len) {
  require(rows >= 0 && row_len >= 1, "gather_rows", "need rows >= 0 and row_len >= 1");
  require(rows == 0 || (dst && src && indices), "gather_rows", "dst, src and indices must not be null");
  const size_t row_bytes = size_t(row_len) * sizeof(float);
  const int threads = rows * row_len >= kParallelMinElements ? max_threads() : 1;
#pragma omp parallel for num_threads(threads) if (threads > 1) schedule(static)
  for (int64_t r = 0; r < rows; ++r) std::memcpy(dst + r * row_len, src + int64_t(indices[r]) * row_len, row_bytes);
}

}  // namespace zs::cpu
