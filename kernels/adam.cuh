// Adam on the device, Keras flavour (TF 2.8 defaults; semantics of the CPU twin in
// kernels/cpu/ops.h and adam.cpp), step t >= 1, element-wise over `count` floats:
//   m = b1 m + (1 - b1) g;  v = b2 v + (1 - b2) g^2;
//   lr_t = lr sqrt(1 - b2^t) / (1 - b1^t)   (in double, rounded to float once)
//   p -= lr_t m / (sqrt(v) + eps)
// param, m and v are updated in place; grad is read. The four arrays must not overlap.
// Launches are asynchronous on `stream`; bad arguments throw std::invalid_argument, launch
// errors std::runtime_error.
//
// Two ways to pass the step:
//   adam_step         `step` is a host value; lr_t is computed on the host and passed to the
//                     kernel by value. Simple, but a CUDA graph captured from this call would
//                     replay the captured step forever.
//   adam_step_device  the step is READ FROM DEVICE MEMORY (`step_on_device`, one int64_t) when
//                     the kernel runs: thread 0 of each block computes lr_t from it (in double,
//                     the very same function as the host path, so both give the same bits) and
//                     shares it through shared memory. A graph captured once stays correct if
//                     the step in device memory advances before each replay: either the runtime
//                     writes it (cudaMemcpyAsync from pinned memory, captured too), or it
//                     captures adam_advance_step(step_on_device) ahead of the Adam launches,
//                     which adds 1 on the device. A step < 1 in device memory is treated as 1
//                     (a kernel cannot throw).
#pragma once
#include <cmath>
#include <cstdint>

#include "kernels/common.cuh"
#include "kernels/shapes.h"

namespace zs::ZS_KNS {

// Kernel versions (see adam.cu): 1 = one thread per element, 2 = grid-stride float4 (shipped).
inline constexpr int kAdamKernelVersions = 2;
inline constexpr int kAdamShippedVersion = 2;

void adam_step(float* param, float* m, float* v, const float* grad, int64_t count, const AdamHyper& h,
               int64_t step, cudaStream_t stream, int version = kAdamShippedVersion);

void adam_step_device(float* param, float* m, float* v, const float* grad, int64_t count, const AdamHyper& h,
                      const int64_t* step_on_device, cudaStream_t stream, int version = kAdamShippedVersion);

// *step_on_device += 1, on the device (one thread), for graphs that advance their own step.
void adam_advance_step(int64_t* step_on_device, cudaStream_t stream);

// lr_t for 1-based `step`, exactly as the CPU twin computes it. Host and device.
__host__ __device__ inline float adam_step_size(const AdamHyper& h, int64_t step) {
  const double t = double(step);
  return float(double(h.lr) * sqrt(1.0 - pow(double(h.beta2), t)) / (1.0 - pow(double(h.beta1), t)));
}

}  // namespace zs::ZS_KNS
