// Adam on the device (API and semantics: adam.cuh).
//
// Kernel versions (the public entries take `version`; tests and benchmarks run every one):
//   adam_kernel1  naive port of the CPU twin: one thread per element, 64-bit index.
//   adam_kernel2  grid-stride loop over float4 when all four arrays are 16-byte aligned (scalar
//                 otherwise), grid capped at detail::kMaxGridStrideBlocks: 128-bit transactions, and 4x fewer
//                 threads, so 4x fewer per-block lr_t computations in the device-step path. Shipped.
// Memory-bound: per element 3 float reads + 3 writes... plus the grad read: 16 bytes in, 12 out.
// Element-wise, so any split over threads gives the same bits.
#include "kernels/common.cuh"

#include <cstdint>
#include <stdexcept>
#include <string>

#include "kernels/adam.cuh"
#include "kernels/vector_io.cuh"

namespace zs::ZS_KNS {
namespace {

using detail::kMaxGridX;
using detail::require;
constexpr int kBlockSize = detail::kGridStrideBlock;

}  // namespace

// The coefficients every element needs.
struct AdamCoefficients {
  float lr_t, b1, b2, one_minus_b1, one_minus_b2, eps;
};

static __device__ __forceinline__ AdamCoefficients coefficients_of(const AdamHyper& h, float lr_t) {
  return AdamCoefficients{lr_t, h.beta1, h.beta2, 1.f - h.beta1, 1.f - h.beta2, h.eps};
}

// lr_t for this launch: the host's value, or (step_on_device != null) computed by thread 0 from
// the step in device memory and broadcast through shared memory. Every thread of the block must
// call it (it may contain a barrier).
static __device__ __forceinline__ float block_step_size(float host_lr_t, const int64_t* step_on_device,
                                                        const AdamHyper& h) {
  if (!step_on_device) return host_lr_t;
  STATIC_SHARED(float, shared_lr_t, );
  if (threadIdx.x == 0) {
    const int64_t step = *step_on_device;
    shared_lr_t = adam_step_size(h, step < 1 ? 1 : step);
  }
  __syncthreads();
  return shared_lr_t;
}

static __device__ __forceinline__ void adam_update(float& p, float& m, float& v, float g, const AdamCoefficients& k) {
  m = k.b1 * m + k.one_minus_b1 * g;
  v = k.b2 * v + k.one_minus_b2 * g * g;
  p -= k.lr_t * m / (sqrtf(v) + k.eps);
}

// ---- version 1: one thread per element ----

static __global__ void adam_kernel1(float* __restrict__ param, float* __restrict__ m, float* __restrict__ v,
                                    const float* __restrict__ grad, int64_t count, AdamHyper h, float host_lr_t,
                                    const int64_t* step_on_device) {
  const AdamCoefficients k = coefficients_of(h, block_step_size(host_lr_t, step_on_device, h));
  const int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i >= count) return;
  float p = param[i], mi = m[i], vi = v[i];
  adam_update(p, mi, vi, grad[i], k);
  param[i] = p;
  m[i] = mi;
  v[i] = vi;
}

// ---- version 2: grid-stride, float4 when aligned ----

static __global__ void __launch_bounds__(kBlockSize)
    adam_kernel2(float* __restrict__ param, float* __restrict__ m, float* __restrict__ v,
                 const float* __restrict__ grad, int64_t count, AdamHyper h, float host_lr_t,
                 const int64_t* step_on_device, bool vectorized) {
  const AdamCoefficients k = coefficients_of(h, block_step_size(host_lr_t, step_on_device, h));
  const int64_t stride = int64_t(gridDim.x) * blockDim.x;
  const int64_t first = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  int64_t scalar_begin = 0;
  if (vectorized) {
    const int64_t count4 = count / 4;
    for (int64_t i = first; i < count4; i += stride) {
      float4 p = load_float4(param + 4 * i), mi = load_float4(m + 4 * i), vi = load_float4(v + 4 * i);
      const float4 g = load_float4(grad + 4 * i);
      adam_update(p.x, mi.x, vi.x, g.x, k);
      adam_update(p.y, mi.y, vi.y, g.y, k);
      adam_update(p.z, mi.z, vi.z, g.z, k);
      adam_update(p.w, mi.w, vi.w, g.w, k);
      store_float4(param + 4 * i, p);
      store_float4(m + 4 * i, mi);
      store_float4(v + 4 * i, vi);
    }
    scalar_begin = count4 * 4;
  }
  for (int64_t i = scalar_begin + first; i < count; i += stride) {
    float p = param[i], mi = m[i], vi = v[i];
    adam_update(p, mi, vi, grad[i], k);
    param[i] = p;
    m[i] = mi;
    v[i] = vi;
  }
}

static __global__ void adam_advance_step_kernel(int64_t* step) { *step += 1; }

// ---- launcher and public entries ----

static void launch_adam(int version, float* param, float* m, float* v, const float* grad, int64_t count,
                        const AdamHyper& h, float host_lr_t, const int64_t* step_on_device, cudaStream_t stream) {
  if (version == 1) {
    const int64_t blocks = (count + kBlockSize - 1) / kBlockSize;
    require(blocks <= kMaxGridX, "adam_step", "count too large for kernel version 1");
    LAUNCH(adam_kernel1, unsigned(blocks), kBlockSize, 0, stream)(param, m, v, grad, count, h, host_lr_t,
                                                                  step_on_device);
  } else {
    const bool vectorized = aligned_to(param, 16) && aligned_to(m, 16) && aligned_to(v, 16) && aligned_to(grad, 16);
    const int64_t items = vectorized ? (count + 3) / 4 : count;
    int64_t blocks = (items + kBlockSize - 1) / kBlockSize;
    blocks = blocks < 1 ? 1 : (blocks > detail::kMaxGridStrideBlocks ? detail::kMaxGridStrideBlocks : blocks);
    LAUNCH(adam_kernel2, unsigned(blocks), kBlockSize, 0, stream)(param, m, v, grad, count, h, host_lr_t,
                                                                  step_on_device, vectorized);
  }
  KERNEL_CHECK();
}

static void check_adam_args(const char* op, const float* param, const float* m, const float* v, const float* grad,
                            int64_t count, int version) {
  require(version >= 1 && version <= kAdamKernelVersions, op,
          "kernel version " + std::to_string(version) + " does not exist");
  require(count >= 0, op, "count must be >= 0");
  require(count == 0 || (param && m && v && grad), op, "param, m, v and grad must not be null");
}

void adam_step(float* param, float* m, float* v, const float* grad, int64_t count, const AdamHyper& h,
               int64_t step, cudaStream_t stream, int version) {
  check_adam_args("adam_step", param, m, v, grad, count, version);
  require(step >= 1, "adam_step", "step is 1-based and must be >= 1 (got " + std::to_string(step) + ")");
  if (count == 0) return;
  launch_adam(version, param, m, v, grad, count, h, adam_step_size(h, step), nullptr, stream);
}

void adam_step_device(float* param, float* m, float* v, const float* grad, int64_t count, const AdamHyper& h,
                      const int64_t* step_on_device, cudaStream_t stream, int version) {
  check_adam_args("adam_step_device", param, m, v, grad, count, version);
  require(step_on_device != nullptr, "adam_step_device", "step_on_device must not be null");
  if (count == 0) return;
  launch_adam(version, param, m, v, grad, count, h, 0.f, step_on_device, stream);
}

void adam_advance_step(int64_t* step_on_device, cudaStream_t stream) {
  require(step_on_device != nullptr, "adam_advance_step", "step_on_device must not be null");
  LAUNCH(adam_advance_step_kernel, 1, 1, 0, stream)(step_on_device);
  KERNEL_CHECK();
}

}  // namespace zs::ZS_KNS
