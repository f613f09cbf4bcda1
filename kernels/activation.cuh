// The activations as device (and host) functions, shared by every kernel that applies one in its
// epilogue (elementwise, gemm, conv2d). Same formulas as the CPU twin (kernels/cpu/elementwise.cpp).
#pragma once
#include "kernels/common.cuh"
#include "kernels/shapes.h"

namespace zs::ZS_KNS {

// The sigmoid is written so that it keeps its relative accuracy for large negative inputs
// instead of rounding them to 0, and never produces NaN.
static __host__ __device__ __forceinline__ float sigmoid(float x) {
  const float e = expf(-fabsf(x));
  const float r = 1.f / (1.f + e);
  return (x >= 0.f ? 1.f : e) * r;
}

static __host__ __device__ __forceinline__ float leaky_relu(float x) { return x * (x > 0.f ? 1.f : kLeakyAlpha); }

static __host__ __device__ __forceinline__ float activate(Act act, float x) {
  switch (act) {
    case Act::LeakyRelu: return leaky_relu(x);
    case Act::Sigmoid: return sigmoid(x);
    case Act::LeakyReluSigmoid: return sigmoid(leaky_relu(x));
    default: return x;
  }
}

// act'(x) * dy written with y = act(x): LeakyRelu's y > 0 exactly when x > 0; for
// sigmoid(leaky_relu(x)), y > 1/2 when x > 0 (kernels/cpu/elementwise.cpp says where that rounds).
static __host__ __device__ __forceinline__ float activation_grad(Act act, float dy, float y) {
  switch (act) {
    case Act::LeakyRelu: return y > 0.f ? dy : kLeakyAlpha * dy;
    case Act::Sigmoid: return dy * y * (1.f - y);
    case Act::LeakyReluSigmoid: return dy * y * (1.f - y) * (y > 0.5f ? 1.f : kLeakyAlpha);
    default: return dy;
  }
}

}  // namespace zs::ZS_KNS
