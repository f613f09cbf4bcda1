// The AVX-512 copies of the element-wise loops (elementwise_impl.h): the same source compiled for
// AVX-512 with 512-bit vectors preferred (GCC otherwise keeps 256-bit vectors on many tunings).
// elementwise.cpp, adam.cpp and losses.cpp call these only when cpu_isa.h says the CPU and OS
// allow AVX-512.
//
// Same rule as gemm_panels_avx512.cpp: every header BEFORE the target pragma, so the inline
// functions they define are compiled for the x86-64-v3 baseline; the loops are always_inline, so
// they are compiled into the functions below for AVX-512. scripts/check-isa-leaks allows EVEX
// instructions in the *_avx512 functions of zs::cpu::detail.
#include "kernels/cpu/elementwise_impl.h"

#pragma GCC push_options
#pragma GCC target("avx512f,avx512bw,avx512vl,avx512dq,prefer-vector-width=512")

namespace zs::cpu::detail {

void bias_activation_avx512(float* dst, const float* src, int64_t count, float bias, Act act) {
  switch (act) {
    case Act::None: return bias_activation_loop<Act::None>(dst, src, count, bias);
    case Act::LeakyRelu: return bias_activation_loop<Act::LeakyRelu>(dst, src, count, bias);
    case Act::Sigmoid: return bias_activation_loop<Act::Sigmoid>(dst, src, count, bias);
    case Act::LeakyReluSigmoid: return bias_activation_loop<Act::LeakyReluSigmoid>(dst, src, count, bias);
  }
}

void activation_grad_avx512(Act act, float* dx, const float* dy, const float* y, int64_t count) {
  if (act == Act::LeakyRelu) return leaky_grad_loop(dx, dy, y, count);
  if (act == Act::Sigmoid) return sigmoid_grad_loop(dx, dy, y, count);
  if (act == Act::LeakyReluSigmoid) return leaky_sigmoid_grad_loop(dx, dy, y, count);
}

void adam_avx512(float* param, float* m, float* v, const float* grad, int64_t begin, int64_t end, AdamFloats h) {
  adam_loop(param, m, v, grad, begin, end, h);
}

double bce_row_avx512(float* d, const float* p, const float* t, int dim, float lo, float hi, float grad_scale) {
  return bce_row(d, p, t, dim, lo, hi, grad_scale);
}

}  // namespace zs::cpu::detail

#pragma GCC pop_options
