// Activations, forward and backward. The backward uses the activation's OUTPUT y:
//   LeakyReLU: y > 0 exactly when x > 0 (alpha > 0), so dx = y > 0 ? dy : alpha * dy
//              (alpha at x == 0, as TensorFlow's LeakyReluGrad);
//   sigmoid:   dx = dy * y * (1 - y);
//   sigmoid(leaky_relu(x)) (the blog decoder's head): dx = dy * y * (1 - y) * (y > 1/2 ? 1 : alpha).
//              y > 1/2 exactly when the sigmoid's input is positive, except where sigmoid(x)
//              rounds to 1/2 (0 < x < ~1e-7), whose derivative takes alpha instead of 1.
// Loops are written so the compiler vectorizes them (see simd_math_impl.h for exp); large arrays
// are split over OpenMP threads. Element-wise, so any split gives the same bits.
#include <omp.h>

#include <cmath>
#include <cstring>

#include "kernels/cpu/cpu_common_impl.h"
#include "kernels/cpu/ops.h"
#include "kernels/cpu/simd_math_impl.h"

namespace zs::cpu {

using namespace detail;

namespace {

// Below this many elements the OpenMP fork/join costs more than it saves.
constexpr int64_t kParallelMinElements = 1 << 15;

// Branch-free forms: the compiler may not if-convert `x > 0 ? x : alpha * x` (the multiply could
// trap), and a data-dependent branch mispredicts on half of all activations. Multiplying by the
// selected slope gives the same bits.
inline float leaky(float x) { return x * (x > 0.f ? 1.f : kLeakyAlpha); }
// With e = e^-|x| <= 1 nothing overflows, and for x < 0 the result e / (1 + e) keeps its
// relative accuracy down to the denormals (1 / (1 + e^-x) would round e.g. sigmoid(-100) to 0).
inline float sigmoid(float x) {
  const float e = exp_nonpositive(-std::fabs(x));
  const float r = 1.f / (1.f + e);
  return (x >= 0.f ? 1.f : e) * r;
}

// dst = act(src + bias); dst may alias src (each iteration reads its element before writing it).
template <Act kAct>
void bias_activation_impl(float* dst, const float* src, int64_t count, float bias) {
#pragma omp simd
  for (int64_t i = 0; i < count; ++i) {
    const float v = src[i] + bias;
    dst[i] = kAct == Act::LeakyRelu          ? leaky(v)
             : kAct == Act::Sigmoid          ? sigmoid(v)
             : kAct == Act::LeakyReluSigmoid ? sigmoid(leaky(v))
                                             : v;
  }
}

}  // namespace

namespace detail {

void bias_activation(float* dst, const float* src, int64_t count, float bias, Act act) {
  switch (act) {
    case Act::None:
      if (bias == 0.f) {
        if (dst != src) std::memcpy(dst, src, sizeof(float) * count);
        return;
      }
      return bias_activation_impl<Act::None>(dst, src, count, bias);
    case Act::LeakyRelu: return bias_activation_impl<Act::LeakyRelu>(dst, src, count, bias);
    case Act::Sigmoid: return bias_activation_impl<Act::Sigmoid>(dst, src, count, bias);
    case Act::LeakyReluSigmoid: return bias_activation_impl<Act::LeakyReluSigmoid>(dst, src, count, bias);
  }
}

void apply_activation_inplace(Act act, float* v, int64_t count) { bias_activation(v, v, count, 0.f, act); }

void activation_grad(Act act, float* dx, const float* dy, const float* y, int64_t count) {
  switch (act) {
    case Act::None:
      if (dx != dy) std::memcpy(dx, dy, sizeof(float) * count);
      return;
    case Act::LeakyRelu:
#pragma omp simd
      for (int64_t i = 0; i < count; ++i) dx[i] = dy[i] * (y[i] > 0.f ? 1.f : kLeakyAlpha);
      return;
    case Act::Sigmoid:
#pragma omp simd
      for (int64_t i = 0; i < count; ++i) dx[i] = dy[i] * y[i] * (1.f - y[i]);
      return;
    case Act::LeakyReluSigmoid:
#pragma omp simd
      for (int64_t i = 0; i < count; ++i) dx[i] = dy[i] * y[i] * (1.f - y[i]) * (y[i] > 0.5f ? 1.f : kLeakyAlpha);
      return;
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
