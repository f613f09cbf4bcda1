// Kernels with planted bugs that the emulator must expose (tests/test_emu_simt.cpp).
// The k*Line constants give the line of the faulty intrinsic, which strict mode must report.
// (Bug (a), a tiled matmul missing a barrier, is tiled_matmul_kernel<true> in simt_kernels.h.)
#pragma once
#include "kernels/common.cuh"
#include "kernels/vector_io.cuh"

namespace zs::simt_test {

// (b) Warp-synchronous tail of a 64-element reduction: correct only if the 32 lanes of the warp
// advance in lockstep, which Volta+ GPUs do not promise. kUseSyncwarp is the fixed version.
template <bool kUseSyncwarp>
__global__ void warp_tail_sum_kernel(float* sum, const float* x) {
  STATIC_SHARED(float, s, [64]);
  const int tid = threadIdx.x;
  s[tid] = x[blockIdx.x * 64 + tid];
  __syncthreads();
  if (tid < 32) {
    if (kUseSyncwarp) {
      float v = s[tid] + s[tid + 32];
      for (int offset = 16; offset > 0; offset /= 2) {
        __syncwarp();
        s[tid] = v;
        __syncwarp();
        v += s[tid + offset];
      }
      if (tid == 0) sum[blockIdx.x] = v;
    } else {
      volatile float* vs = s;
      vs[tid] = vs[tid] + vs[tid + 32];
      vs[tid] = vs[tid] + vs[tid + 16];
      vs[tid] = vs[tid] + vs[tid + 8];
      vs[tid] = vs[tid] + vs[tid + 4];
      vs[tid] = vs[tid] + vs[tid + 2];
      vs[tid] = vs[tid] + vs[tid + 1];
      if (tid == 0) sum[blockIdx.x] = vs[0];
    }
  }
}

// (c) Divergent barrier: two halves of the block wait at different __syncthreads.
inline constexpr int kDivergentBarrierLineLow = __LINE__ + 5;
inline constexpr int kDivergentBarrierLineHigh = __LINE__ + 6;
__global__ void divergent_barrier_kernel(int* out) {
  int v = threadIdx.x;
  if (threadIdx.x < 16) {
    __syncthreads();
  } else {
    __syncthreads();
  }
  out[threadIdx.x] = v;
}

// (c') Early exit before a barrier: the common `if (i >= n) return;` placed above a __syncthreads.
inline constexpr int kBarrierAfterExitLine = __LINE__ + 6;
__global__ void barrier_after_exit_kernel(float* y, const float* x, int count) {
  STATIC_SHARED(float, tile, [64]);
  const int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i >= count) return;
  tile[threadIdx.x] = x[i];
  __syncthreads();
  y[i] = tile[threadIdx.x] + tile[0];
}

// (d) Shuffle naming an exited lane: lanes 16..31 return, lanes 0..15 shuffle down by 8 with
// the mask of the lanes left; lane 8 then reads lane 16.
inline constexpr int kShuffleExitedLaneLine = __LINE__ + 5;
__global__ void shuffle_exited_lane_kernel(int* out) {
  const int lane = threadIdx.x;
  if (lane >= 16) return;
  int v = lane;
  v += __shfl_down_sync(0x0000ffffu, v, 8);
  out[lane] = v;
}

// (d') A full-warp mask after half the warp exited.
inline constexpr int kMaskWithExitedLanesLine = __LINE__ + 3;
__global__ void mask_with_exited_lanes_kernel(int* out) {
  if (threadIdx.x >= 16) return;
  out[threadIdx.x] = __shfl_xor_sync(0xffffffffu, int(threadIdx.x), 1);
}

// (d'') A mask that does not name the calling lane.
inline constexpr int kMaskWithoutSelfLine = __LINE__ + 2;
__global__ void mask_without_self_kernel(int* out) {
  out[threadIdx.x] = __ballot_sync(threadIdx.x == 7 ? 0x1u : 0xffffffffu, 1);
}

// Deadlock: half the warp waits in a shuffle, the other half at a block barrier.
inline constexpr int kDeadlockShuffleLine = __LINE__ + 5;
inline constexpr int kDeadlockBarrierLine = __LINE__ + 6;
__global__ void warp_op_deadlock_kernel(int* out) {
  int v = threadIdx.x;
  if (threadIdx.x < 16) {
    v = __shfl_sync(0xffffffffu, v, 0);
  } else {
    __syncthreads();
  }
  out[threadIdx.x] = v;
}

// (e) Reads shared memory that only half the block wrote.
__global__ void read_unwritten_shared_kernel(float* y) {
  DYNAMIC_SHARED(float, buffer);
  if (threadIdx.x < blockDim.x / 2) buffer[threadIdx.x] = 1.f;
  __syncthreads();
  y[threadIdx.x] = buffer[threadIdx.x];
}

// (g) Reads one element past the end of x and masks the value out: every result is right, and
// only the guard page right after each device buffer (runtime/simt/device_heap.h) exposes it.
__global__ void read_past_end_kernel(float* y, const float* x, int n) {
  const int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i >= n) return;
  const float next = x[i + 1];   // x[n] for the last thread
  y[i] = i + 1 < n ? next : 0.f;
}

// (g') The fix: read x[i + 1] only where it exists.
__global__ void read_next_kernel(float* y, const float* x, int n) {
  const int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i >= n) return;
  y[i] = i + 1 < n ? x[i + 1] : 0.f;
}

// (h) The mirror image: x[-1] for thread 0, masked out.
__global__ void read_before_start_kernel(float* y, const float* x, int n) {
  const int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i >= n) return;
  const float previous = x[i - 1];
  y[i] = i > 0 ? previous : 0.f;
}

// (e') Reads static shared memory that no thread of the block wrote: block b leaves element b of
// each array unwritten (a forgotten initialisation), every thread reads its own element back.
// A GPU returns garbage there; the emulator must return poison in EVERY block, not the zeros a
// fresh thread_local holds nor the values the previous block left.
inline constexpr int kStaticSharedBlock = 64;
__global__ void read_unwritten_static_shared_kernel(float* y, double* y_double, int* y_int) {
  STATIC_SHARED(float, values, [kStaticSharedBlock]);
  STATIC_SHARED(double, wide_values, [kStaticSharedBlock]);
  STATIC_SHARED(int, counts, [kStaticSharedBlock]);
  const int t = threadIdx.x, i = blockIdx.x * kStaticSharedBlock + t;
  if (t != int(blockIdx.x)) {
    values[t] = float(i);
    wide_values[t] = double(i);
    counts[t] = i;
  }
  __syncthreads();
  y[i] = values[t];
  y_double[i] = wide_values[t];
  y_int[i] = counts[t];
}

// (f) A float4 load from an address 4 bytes past a 16-byte boundary: x86 does not mind, a GPU
// faults ("misaligned address"), so the emulator's vector helpers fail the kernel.
inline constexpr int kMisalignedLoadLine = __LINE__ + 3;
__global__ void misaligned_float4_kernel(float* y, const float* x) {
  const int i = threadIdx.x;
  const float4 v = zs::emu::load_float4(x + 4 * i + 1);
  zs::emu::store_float4(y + 4 * i, v);
}

// A kernel that aborts itself.
__global__ void trap_kernel(int* out) {
  if (threadIdx.x == 3) __trap();
  out[threadIdx.x] = 1;
}

}  // namespace zs::simt_test
