// Elementwise ops on the device: activations forward and backward.
// Semantics are kernels/cpu/ops.h's (the CPU twin is the test oracle):
//   forward:  y = act(x); None copies, LeakyRelu is x > 0 ? x : 0.3x, Sigmoid 1 / (1 + e^-x),
//             LeakyReluSigmoid sigmoid(leaky_relu(x)) (the blog decoder head).
//   backward: dx = dy * act'(.) expressed through the OUTPUT y: LeakyRelu y > 0 ? dy : 0.3dy,
//             Sigmoid dy * y * (1 - y), LeakyReluSigmoid that times (y > 1/2 ? 1 : 0.3),
//             None dx = dy (y may be null then).
// y may alias x, and dx may alias dy. Outputs are overwritten. Launches are asynchronous on
// `stream`; bad arguments throw std::invalid_argument, launch errors std::runtime_error.
#pragma once
#include <cstdint>

#include "kernels/common.cuh"
#include "kernels/shapes.h"

namespace zs::ZS_KNS {

// Kernel versions (see elementwise.cu): 1 = one thread per element, 2 = grid-stride float4.
inline constexpr int kActivationKernelVersions = 2;
inline constexpr int kActivationShippedVersion = 2;

void activation_forward(Act act, float* y, const float* x, int64_t count, cudaStream_t stream,
                        int version = kActivationShippedVersion);
void activation_backward(Act act, float* dx, const float* dy, const float* y, int64_t count, cudaStream_t stream,
                         int version = kActivationShippedVersion);

}  // namespace zs::ZS_KNS
