// Activations forward and backward on the device (API and semantics: elementwise.cuh).
//
// Kernel versions (the public entries take `version`; tests and benchmarks run every one):
//   activation_*_kernel1  naive port of the CPU twin: one thread per element, 64-bit index.
//   activation_*_kernel2  grid-stride loop over float4 when every pointer is 16-byte aligned
//                         (scalar otherwise), grid capped at detail::kMaxGridStrideBlocks: 128-bit memory
//                         transactions and 4x fewer threads to schedule. Shipped.
// Memory-bound: one read and one write per element (two reads for backward). No __restrict__
// and no __ldg: the output may alias an input, which both would forbid.
#include "kernels/common.cuh"
#include "kernels/activation.cuh"

#include <cstdint>
#include <stdexcept>
#include <string>

#include "kernels/elementwise.cuh"
#include "kernels/vector_io.cuh"

namespace zs::ZS_KNS {
namespace {

using detail::kMaxGridX;
using detail::require;
constexpr int kBlockSize = detail::kGridStrideBlock;

void check_act(Act act, const char* op) {
  require(is_known_act(act), op, "unknown activation " + std::to_string(int(act)));
}

unsigned grid_for(int64_t work_items, int64_t max_blocks) {
  int64_t blocks = (work_items + kBlockSize - 1) / kBlockSize;
  return unsigned(blocks < 1 ? 1 : (blocks > max_blocks ? max_blocks : blocks));
}

}  // namespace

static __device__ __forceinline__ float4 activate4(Act act, float4 v) {
  return make_float4(activate(act, v.x), activate(act, v.y), activate(act, v.z), activate(act, v.w));
}

static __device__ __forceinline__ float4 activation_grad4(Act act, float4 dy, float4 y) {
  return make_float4(activation_grad(act, dy.x, y.x), activation_grad(act, dy.y, y.y),
                     activation_grad(act, dy.z, y.z), activation_grad(act, dy.w, y.w));
}

// ---- version 1: one thread per element ----

static __global__ void activation_forward_kernel1(float* y, const float* x, int64_t count, Act act) {
  const int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i < count) y[i] = activate(act, x[i]);
}

// y is only read when act != None (it may be null then).
static __global__ void activation_backward_kernel1(float* dx, const float* dy, const float* y, int64_t count,
                                                   Act act) {
  const int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i < count) dx[i] = act == Act::None ? dy[i] : activation_grad(act, dy[i], y[i]);
}

// ---- version 2: grid-stride, float4 when aligned ----

static __global__ void activation_forward_kernel2(float* y, const float* x, int64_t count, Act act,
                                                  bool vectorized) {
  const int64_t stride = int64_t(gridDim.x) * blockDim.x;
  const int64_t first = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  int64_t scalar_begin = 0;
  if (vectorized) {
    const int64_t count4 = count / 4;
    for (int64_t i = first; i < count4; i += stride) store_float4(y + 4 * i, activate4(act, load_float4(x + 4 * i)));
    scalar_begin = count4 * 4;
  }
  for (int64_t i = scalar_begin + first; i < count; i += stride) y[i] = activate(act, x[i]);
}

static __global__ void activation_backward_kernel2(float* dx, const float* dy, const float* y, int64_t count,
                                                   Act act, bool vectorized) {
  const int64_t stride = int64_t(gridDim.x) * blockDim.x;
  const int64_t first = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  int64_t scalar_begin = 0;
  if (vectorized) {
    const int64_t count4 = count / 4;
    for (int64_t i = first; i < count4; i += stride) {
      const float4 g = load_float4(dy + 4 * i);
      store_float4(dx + 4 * i, act == Act::None ? g : activation_grad4(act, g, load_float4(y + 4 * i)));
    }
    scalar_begin = count4 * 4;
  }
  for (int64_t i = scalar_begin + first; i < count; i += stride)
    dx[i] = act == Act::None ? dy[i] : activation_grad(act, dy[i], y[i]);
}

// ---- launchers: raw pointers, sizes, stream; count > 0 ----

static void launch_activation_forward(int version, Act act, float* y, const float* x, int64_t count,
                                      cudaStream_t stream) {
  if (version == 1) {
    const int64_t blocks = (count + kBlockSize - 1) / kBlockSize;
    require(blocks <= kMaxGridX, "activation_forward", "count too large for kernel version 1");
    LAUNCH(activation_forward_kernel1, unsigned(blocks), kBlockSize, 0, stream)(y, x, count, act);
  } else {
    const bool vectorized = aligned_to(y, 16) && aligned_to(x, 16);
    const unsigned blocks = grid_for(vectorized ? (count + 3) / 4 : count, detail::kMaxGridStrideBlocks);
    LAUNCH(activation_forward_kernel2, blocks, kBlockSize, 0, stream)(y, x, count, act, vectorized);
  }
  KERNEL_CHECK();
}

static void launch_activation_backward(int version, Act act, float* dx, const float* dy, const float* y,
                                       int64_t count, cudaStream_t stream) {
  if (version == 1) {
    const int64_t blocks = (count + kBlockSize - 1) / kBlockSize;
    require(blocks <= kMaxGridX, "activation_backward", "count too large for kernel version 1");
    LAUNCH(activation_backward_kernel1, unsigned(blocks), kBlockSize, 0, stream)(dx, dy, y, count, act);
  } else {
    const bool vectorized = aligned_to(dx, 16) && aligned_to(dy, 16) && (act == Act::None || aligned_to(y, 16));
    const unsigned blocks = grid_for(vectorized ? (count + 3) / 4 : count, detail::kMaxGridStrideBlocks);
    LAUNCH(activation_backward_kernel2, blocks, kBlockSize, 0, stream)(dx, dy, y, count, act, vectorized);
  }
  KERNEL_CHECK();
}

// ---- public entries: argument checks ----

void activation_forward(Act act, float* y, const float* x, int64_t count, cudaStream_t stream, int version) {
  check_act(act, "activation_forward");
  require(version >= 1 && version <= kActivationKernelVersions, "activation_forward",
          "kernel version " + std::to_string(version) + " does not exist");
  require(count >= 0, "activation_forward", "count must be >= 0");
  require(count == 0 || (y && x), "activation_forward", "y and x must not be null");
  if (count == 0 || (act == Act::None && y == x)) return;
  launch_activation_forward(version, act, y, x, count, stream);
}

void activation_backward(Act act, float* dx, const float* dy, const float* y, int64_t count, cudaStream_t stream,
                         int version) {
  check_act(act, "activation_backward");
  require(version >= 1 && version <= kActivationKernelVersions, "activation_backward",
          "kernel version " + std::to_string(version) + " does not exist");
  require(count >= 0, "activation_backward", "count must be >= 0");
  require(count == 0 || (dx && dy && (y || act == Act::None)), "activation_backward",
          "dx, dy and y must not be null");
  if (count == 0 || (act == Act::None && dx == dy)) return;
  launch_activation_backward(version, act, dx, dy, y, count, stream);
}

}  // namespace zs::ZS_KNS
