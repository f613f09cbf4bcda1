// Activations, forward and backward. The backward uses the activation's OUTPUT y:
//   LeakyReLU: y > 0 exactly when x > 0 (alpha > 0), so dx = y > 0 ? dy : alpha * dy
//              (alpha at x == 0, as TensorFlow's LeakyReluGrad);
//   sigmoid:   dx = dy * y * (1 - y).
// Loops are written so the compiler vectorizes them; large arrays are split over OpenMP threads.
#include <omp.h>

#include <cmath>
#include <cstring>

#include "kernels/cpu/cpu_common_impl.h"
#include "kernels/cpu/ops.h"

namespace zs::cpu {

using namespace detail;

namespace {

// Below this many elements the OpenMP fork/join costs more than it saves.
constexpr int64_t kParallelMinElements = 1 << 15;

inline float leaky(float x) { return x > 0.f ? x : kLeakyAlpha * x; }
// With e = e^-|x| <= 1 nothing overflows, and for x < 0 the result e / (1 + e) keeps its
// relative accuracy down to the denormals (1 / (1 + e^-x) would round e.g. sigmoid(-100) to 0).
inline float sigmoid(float x) {
  const float e = std::exp(-std::fabs(x));
  const float r = 1.f / (1.f + e);
  return x >= 0.f ? r : e * r;
}

// y may alias x: every iteration reads its element before writing it.
void activation_forward_serial(Act act, float* y, const float* x, int64_t count) {
  switch (act) {
    case Act::None:
      if (y != x) std::memcpy(y, x, sizeof(float) * count);
      return;
    case Act::LeakyRelu:
#pragma omp simd
      for (int64_t i = 0; i < count; ++i) y[i] = leaky(x[i]);
      return;
    case Act::Sigmoid:
      for (int64_t i = 0; i < count; ++i) y[i] = sigmoid(x[i]);
      return;
  }
}

}  // namespace

namespace detail {
void apply_activation_inplace(Act act, float* v, int64_t count) {
  switch (act) {
    case Act::None: return;
    case Act::LeakyRelu:
#pragma omp simd
      for (int64_t i = 0; i < count; ++i) v[i] = leaky(v[i]);
      return;
    case Act::Sigmoid:
      for (int64_t i = 0; i < count; ++i) v[i] = sigmoid(v[i]);
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
    activation_forward_serial(act, y + begin, x + begin, end - begin);
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
#pragma omp parallel for simd schedule(static) if (count >= kParallelMinElements)
  for (int64_t i = 0; i < count; ++i) {
    const float yi = y[i];
    dx[i] = act == Act::LeakyRelu ? (yi > 0.f ? dy[i] : kLeakyAlpha * dy[i]) : dy[i] * yi * (1.f - yi);
  }
}

}  // namespace zs::cpu
