// Fixed-order sums of doubles across a warp and across a block, shared by the loss, VAE and KMeans
// kernels. The addition tree depends only on the block size, so a kernel that reduces with these
// gives the same bits on every run and in every emulator thread order.
#pragma once

#include "kernels/common.cuh"

namespace zs::ZS_KNS {

// Lane 0 gets the sum of the warp's values, always added in the same tree.
__device__ __forceinline__ double warp_sum(double v) {
  for (int offset = 16; offset > 0; offset /= 2) v += __shfl_down_sync(0xffffffffu, v, offset);
  return v;
}

// Thread 0 gets the sum of the block's values (the other threads get partial sums): warp sums,
// then warp 0 adds them. warp_sums: kWarps doubles of shared memory (kWarps = blockDim.x / 32,
// at most 32). Contains a __syncthreads(): every thread of the block must call it.
template <int kWarps>
__device__ __forceinline__ double block_sum(double v, double* warp_sums) {
  static_assert(kWarps >= 1 && kWarps <= 32, "the second stage is one warp");
  const int lane = threadIdx.x % 32, warp = threadIdx.x / 32;
  v = warp_sum(v);
  if (lane == 0) warp_sums[warp] = v;
  __syncthreads();
  if (warp == 0) v = warp_sum(lane < kWarps ? warp_sums[lane] : 0.0);
  return v;
}

}  // namespace zs::ZS_KNS
