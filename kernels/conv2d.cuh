// Convolutions on the device: the three kernels behind Conv2D and Conv2DTranspose, and the NCHW
// bias gradient. Semantics are kernels/cpu/ops.h's (the CPU twin is the test oracle):
//   conv2d_forward          y  = act(conv(x, w) + b)            b: [K] or null
//   conv2d_backward_data    dx = act(conv^T(dy, w) + bias)      bias: [C] or null. This is also
//                           Conv2DTranspose's forward: one thread per OUTPUT element (a gather,
//                           no atomics).
//   conv2d_backward_weight  dw = sum over n, p, q of dy * x;  db = sum of dy over n, p, q (db may
//                           be null). Needs conv2d_backward_weight_workspace(g) floats of scratch.
//   bias_grad_nchw          db[c] = sum over n and hw of dy[n][c][hw]
// Conventions: float32, NCHW, densely packed; weights [K][C][R][S] of the FORWARD conv; geometry
// ConvGeom (kernels/shapes.h): TF 'same' gives pad_top/pad_left and the rest of the padding goes
// bottom/right, but any pads and output sizes the CPU twin accepts work here too.
// Every output is OVERWRITTEN. Launches are asynchronous on `stream`. Results are deterministic:
// no atomics; every sum runs in an order fixed by the geometry alone (not by the thread order,
// the block order or the GPU model). Bad arguments throw std::invalid_argument, launch errors
// std::runtime_error. Outputs must not alias inputs.
#pragma once
#include <cstddef>

#include "kernels/common.cuh"
#include "kernels/shapes.h"

namespace zs::ZS_KNS {

// Kernel versions (listed with one line each in conv2d.cu's header; tests run every one).
inline constexpr int kConvForwardKernelVersions = 3;
inline constexpr int kConvForwardShippedVersion = 3;
inline constexpr int kConvBackwardDataKernelVersions = 3;
inline constexpr int kConvBackwardDataShippedVersion = 3;
inline constexpr int kConvBackwardWeightKernelVersions = 2;
inline constexpr int kConvBackwardWeightShippedVersion = 2;
inline constexpr int kBiasGradKernelVersions = 2;
inline constexpr int kBiasGradShippedVersion = 2;

void conv2d_forward(const ConvGeom& g, float* y, const float* x, const float* w, const float* b, Act act,
                    cudaStream_t stream, int version = kConvForwardShippedVersion);

void conv2d_backward_data(const ConvGeom& g, float* dx, const float* dy, const float* w, const float* bias,
                          Act act, cudaStream_t stream, int version = kConvBackwardDataShippedVersion);

// Number of FLOATS of device scratch conv2d_backward_weight needs for this geometry and version
// (0: none, and workspace may be null). It depends on the geometry only, never on the GPU.
size_t conv2d_backward_weight_workspace(const ConvGeom& g, int version = kConvBackwardWeightShippedVersion);

// workspace: device memory of at least conv2d_backward_weight_workspace(g, version) floats,
// owned by the caller and free for this launch's use until it completes on `stream`.
void conv2d_backward_weight(const ConvGeom& g, float* dw, float* db, const float* x, const float* dy,
                            float* workspace, cudaStream_t stream, int version = kConvBackwardWeightShippedVersion);

void bias_grad_nchw(float* db, const float* dy, int n, int c, int hw, cudaStream_t stream,
                    int version = kBiasGradShippedVersion);

}  // namespace zs::ZS_KNS
