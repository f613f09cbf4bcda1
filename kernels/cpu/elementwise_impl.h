// Private: the loops of the element-wise ops (activations, their derivatives, Adam, the BCE loss
// of one sample), written once and compiled twice: for the x86-64-v3 baseline in elementwise.cpp,
// adam.cpp and losses.cpp, and for AVX-512 in elementwise_avx512.cpp (the ops call that copy when
// cpu_isa.h says the CPU and OS allow it). The loops are plain `omp simd` code: the compiler
// vectorizes them for whichever target the calling function has, once inlined into it, which
// always_inline guarantees (a copy left out of line would be compiled for one target only).
//
// Bits: activations, derivatives, Adam updates and the BCE gradient give the same bits on both
// targets (tests/test_cpu_isa.cpp). The BCE loss value does not: its per-sample sum is a simd
// reduction whose partial sums follow the vector width, and the compiler contracts the log's
// multiply-adds into FMAs differently in the 256- and 512-bit code (GCC contracts by default in
// C++), so a term can differ by an ulp. The loss is only reported; training uses the gradient.
#pragma once
#include <algorithm>
#include <cmath>
#include <cstdint>

#include "kernels/cpu/ops.h"
#include "kernels/cpu/simd_math_impl.h"

#define ZS_ALWAYS_INLINE [[gnu::always_inline]] inline

namespace zs::cpu::detail {

// Branch-free forms: the compiler may not if-convert `x > 0 ? x : alpha * x` (the multiply could
// trap), and a data-dependent branch mispredicts on half of all activations. Multiplying by the
// selected slope gives the same bits.
ZS_ALWAYS_INLINE float leaky(float x) { return x * (x > 0.f ? 1.f : kLeakyAlpha); }
// With e = e^-|x| <= 1 nothing overflows, and for x < 0 the result e / (1 + e) keeps its
// relative accuracy down to the denormals (1 / (1 + e^-x) would round e.g. sigmoid(-100) to 0).
ZS_ALWAYS_INLINE float sigmoid(float x) {
  const float e = exp_nonpositive(-std::fabs(x));
  const float r = 1.f / (1.f + e);
  return (x >= 0.f ? 1.f : e) * r;
}

// dst = act(src + bias); dst may alias src (each iteration reads its element before writing it).
template <Act kAct>
ZS_ALWAYS_INLINE void bias_activation_loop(float* dst, const float* src, int64_t count, float bias) {
#pragma omp simd
  for (int64_t i = 0; i < count; ++i) {
    const float v = src[i] + bias;
    dst[i] = kAct == Act::LeakyRelu          ? leaky(v)
             : kAct == Act::Sigmoid          ? sigmoid(v)
             : kAct == Act::LeakyReluSigmoid ? sigmoid(leaky(v))
                                             : v;
  }
}

ZS_ALWAYS_INLINE void leaky_grad_loop(float* dx, const float* dy, const float* y, int64_t count) {
#pragma omp simd
  for (int64_t i = 0; i < count; ++i) dx[i] = dy[i] * (y[i] > 0.f ? 1.f : kLeakyAlpha);
}

ZS_ALWAYS_INLINE void sigmoid_grad_loop(float* dx, const float* dy, const float* y, int64_t count) {
#pragma omp simd
  for (int64_t i = 0; i < count; ++i) dx[i] = dy[i] * y[i] * (1.f - y[i]);
}

// sigmoid(leaky_relu(x)): y > 1/2 when x > 0 (elementwise.cpp says where that rounds).
ZS_ALWAYS_INLINE void leaky_sigmoid_grad_loop(float* dx, const float* dy, const float* y, int64_t count) {
#pragma omp simd
  for (int64_t i = 0; i < count; ++i) dx[i] = dy[i] * y[i] * (1.f - y[i]) * (y[i] > 0.5f ? 1.f : kLeakyAlpha);
}

// The Adam update of adam.cpp on [begin, end), with the step's bias-corrected rate lr_t.
struct AdamFloats {
  float lr_t, b1, b2, eps;
};
ZS_ALWAYS_INLINE void adam_loop(float* param, float* m, float* v, const float* grad, int64_t begin, int64_t end,
                                AdamFloats h) {
  const float one_minus_b1 = 1.f - h.b1, one_minus_b2 = 1.f - h.b2;
#pragma omp simd
  for (int64_t i = begin; i < end; ++i) {
    const float g = grad[i];
    const float mi = h.b1 * m[i] + one_minus_b1 * g;
    const float vi = h.b2 * v[i] + one_minus_b2 * g * g;
    m[i] = mi;
    v[i] = vi;
    param[i] -= h.lr_t * mi / (std::sqrt(vi) + h.eps);
  }
}

// Keras' BCE of one sample (losses.cpp): returns the sum over dim of t log p + (1 - t) log(1 - p)
// with p clamped to [lo, hi], and writes the gradient (d may be null).
ZS_ALWAYS_INLINE double bce_row(float* d, const float* p, const float* t, int dim, float lo, float hi,
                                float grad_scale) {
  double total = 0.0;
#pragma omp simd reduction(+ : total)
  for (int j = 0; j < dim; ++j) {
    const float pc = std::clamp(p[j], lo, hi);
    total += double(t[j] * log_positive(pc) + (1.f - t[j]) * log_positive(1.f - pc));
  }
  if (d) {
#pragma omp simd
    for (int j = 0; j < dim; ++j) {
      const float pc = std::clamp(p[j], lo, hi);
      const bool clamped = p[j] < lo || p[j] > hi;
      d[j] = clamped ? 0.f : (pc - t[j]) / (pc * (1.f - pc)) * grad_scale;
    }
  }
  return total;
}

// The AVX-512 copies (elementwise_avx512.cpp); call them only when active_cpu_isa() is avx512.
void bias_activation_avx512(float* dst, const float* src, int64_t count, float bias, Act act);
void activation_grad_avx512(Act act, float* dx, const float* dy, const float* y, int64_t count);
void adam_avx512(float* param, float* m, float* v, const float* grad, int64_t begin, int64_t end, AdamFloats h);
double bce_row_avx512(float* d, const float* p, const float* t, int dim, float lo, float hi, float grad_scale);

}  // namespace zs::cpu::detail
