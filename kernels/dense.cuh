// Dense (fully connected) layer on the device. Keras layout, as the CPU twin (kernels/cpu/ops.h):
//   x [n][in], w [in][out], b [out], y [n][out], all row-major float32.
//   forward:  y = act(x w + b)          b may be null; bias and activation run in the GEMM's
//                                       epilogue (no extra pass over y).
//   backward: dw = x^T dy               [in][out], overwritten
//             db = column sums of dy    [out], overwritten; null: skipped. Deterministic: a fixed
//                                       reduction tree, no float atomics.
//             dx = dy w^T               [n][in], overwritten; null: skipped (w may be null then).
//   dy is the gradient with respect to the layer's OUTPUT after the activation has been undone
//   (the runtime runs activation_backward first), exactly as the twin's dense_backward.
// Outputs must not overlap inputs. Launches are asynchronous on `stream`; bad arguments throw
// std::invalid_argument, launch errors std::runtime_error.
//
// `version` selects the GEMM kernel of every product (gemm.cuh: 1 naive ... 4 split-K, shipped);
// the column-sum kernel has a single version. Long-K products (the AE's 6272 -> 16 forward and
// 16 -> 6272 dx, both K = 6272 with a 128 x 16 output) go through version 4's deterministic
// split-K, whose partial sums go to the caller's `workspace` of dense_workspace(n, in, out)
// floats (null is fine when that is 0). The products of one call run one after another on
// `stream`, so they share it.
#pragma once

#include "kernels/common.cuh"
#include "kernels/gemm.cuh"
#include "kernels/shapes.h"

namespace zs::ZS_KNS {

inline constexpr int kDenseKernelVersions = kGemmKernelVersions;
inline constexpr int kDenseShippedVersion = kGemmShippedVersion;

void dense_forward(float* y, const float* x, const float* w, const float* b, int n, int in, int out, Act act,
                   float* workspace, cudaStream_t stream, int version = kDenseShippedVersion);

void dense_backward(float* dx, float* dw, float* db, const float* dy, const float* x, const float* w, int n, int in,
                    int out, float* workspace, cudaStream_t stream, int version = kDenseShippedVersion);

// Floats of workspace either call needs for these sizes (the largest of its GEMMs').
size_t dense_workspace(int n, int in, int out, int version = kDenseShippedVersion);

}  // namespace zs::ZS_KNS
