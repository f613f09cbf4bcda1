// Correct CUDA kernels that exercise the emulator (tests/test_emu_simt.cpp): shared-memory
// tiling with barriers, warp-shuffle reductions and scans, votes, barrier reductions, dynamic
// shared memory, atomics, and the built-in index variables. Each must give the same, correct
// result in every thread order.
#pragma once
#include "kernels/common.cuh"

namespace zs::simt_test {

// ---- C[M][N] = A[M][K] * B[K][N], square tiles in static shared memory ----
inline constexpr int kTile = 8;

// kSkipSecondBarrier plants bug (a): the next tile overwrites the current one while slower
// threads still read it.
template <bool kSkipSecondBarrier>
__global__ void tiled_matmul_kernel(float* c, const float* a, const float* b, int m, int n, int k) {
  STATIC_SHARED(float, a_tile, [kTile][kTile]);
  STATIC_SHARED(float, b_tile, [kTile][kTile + 1]);
  const int row = blockIdx.y * kTile + threadIdx.y, col = blockIdx.x * kTile + threadIdx.x;
  float sum = 0.f;
  for (int t = 0; t < k; t += kTile) {
    const int ak = t + threadIdx.x, bk = t + threadIdx.y;
    a_tile[threadIdx.y][threadIdx.x] = (row < m && ak < k) ? a[row * k + ak] : 0.f;
    b_tile[threadIdx.y][threadIdx.x] = (bk < k && col < n) ? b[bk * n + col] : 0.f;
    __syncthreads();
    for (int i = 0; i < kTile; ++i) sum += a_tile[threadIdx.y][i] * b_tile[i][threadIdx.x];
    if (!kSkipSecondBarrier) __syncthreads();
  }
  if (row < m && col < n) c[row * n + col] = sum;
}

// ---- one sum per block: warp shuffles down, then a second warp reduces the warp sums ----
inline constexpr int kReduceBlock = 256;

__global__ void block_sum_kernel(float* sums, const float* x, int count) {
  STATIC_SHARED(float, warp_sums, [kReduceBlock / 32]);
  const int i = blockIdx.x * blockDim.x + threadIdx.x;
  float v = i < count ? x[i] : 0.f;
  for (int offset = 16; offset > 0; offset /= 2) v += __shfl_down_sync(0xffffffffu, v, offset);
  const int lane = threadIdx.x % 32, warp = threadIdx.x / 32;
  if (lane == 0) warp_sums[warp] = v;
  __syncthreads();
  if (warp == 0) {
    v = lane < int(blockDim.x / 32) ? warp_sums[lane] : 0.f;
    for (int mask = 16; mask > 0; mask /= 2) v += __shfl_xor_sync(0xffffffffu, v, mask);
    if (lane == 0) sums[blockIdx.x] = v;
  }
}

// ---- inclusive prefix sum within each warp, and a broadcast within 8-lane segments ----
__global__ void warp_scan_kernel(int* scan, int* broadcast, const int* x) {
  const int i = blockIdx.x * blockDim.x + threadIdx.x, lane = threadIdx.x % 32;
  int v = x[i];
  for (int delta = 1; delta < 32; delta *= 2) {
    const int up = __shfl_up_sync(0xffffffffu, v, delta);
    if (lane >= delta) v += up;
  }
  scan[i] = v;
  broadcast[i] = __shfl_sync(0xffffffffu, x[i], 3, 8);   // lane 3 of each 8-lane segment
}

// ---- votes and barrier reductions: out[8 per thread] ----
__global__ void vote_kernel(unsigned* out) {
  const int tid = threadIdx.x;
  const int p = tid % 3 == 0;
  unsigned* o = out + (blockIdx.x * blockDim.x + tid) * 8;
  o[7] = __activemask();   // no lane can have exited yet: the barriers below hold them all
  o[0] = __ballot_sync(0xffffffffu, p);
  o[1] = __any_sync(0xffffffffu, tid % 32 == 31);
  o[2] = __all_sync(0xffffffffu, tid < 10000);
  o[3] = __all_sync(0xffffffffu, p);
  o[4] = __syncthreads_count(p);
  o[5] = __syncthreads_and(tid < 1000);
  o[6] = __syncthreads_or(tid == 5);
  __syncwarp();
}

// ---- dynamic shared memory: reverse each block's slice ----
__global__ void reverse_in_block_kernel(float* y, const float* x) {
  DYNAMIC_SHARED(float, buffer);
  const int base = blockIdx.x * blockDim.x;
  buffer[threadIdx.x] = x[base + threadIdx.x];
  __syncthreads();
  y[base + threadIdx.x] = buffer[blockDim.x - 1 - threadIdx.x];
}

// ---- atomics: histogram, extrema, float sum of small integers (exact), CAS, exchange ----
struct AtomicResults {
  int histogram[16];
  int max_value;
  int min_value;
  float float_sum;
  unsigned cas_max_bits;   // float max built from atomicCAS on the bit pattern (non-negative floats)
  int exchange_slot;       // starts at -1; exactly one atomicExch sees that
  int first_exchangers;
  unsigned wrapped_counter;
};

__global__ void atomics_kernel(AtomicResults* r, const int* values, int count) {
  const int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i >= count) return;
  const int v = values[i];
  atomicAdd(&r->histogram[v & 15], 1);
  atomicMax(&r->max_value, v);
  atomicMin(&r->min_value, v);
  atomicAdd(&r->float_sum, float(v % 7));
  const unsigned bits = __float_as_uint(float(v));
  unsigned old = r->cas_max_bits;
  while (__uint_as_float(old) < float(v)) {
    const unsigned seen = atomicCAS(&r->cas_max_bits, old, bits);
    if (seen == old) break;
    old = seen;
  }
  if (atomicExch(&r->exchange_slot, i) == -1) atomicAdd(&r->first_exchangers, 1);
  atomicInc(&r->wrapped_counter, 9u);   // counts modulo 10
}

// ---- built-in variables: each thread writes what it sees ----
__global__ void builtins_kernel(int* out) {
  const int tx = threadIdx.x, ty = threadIdx.y, tz = threadIdx.z;
  const int block_linear = (blockIdx.z * gridDim.y + blockIdx.y) * gridDim.x + blockIdx.x;
  const int thread_linear = (tz * blockDim.y + ty) * blockDim.x + tx;
  const int threads_per_block = blockDim.x * blockDim.y * blockDim.z;
  int* o = out + (block_linear * threads_per_block + thread_linear) * 4;
  o[0] = tx + 10 * ty + 100 * tz;
  o[1] = blockIdx.x + 10 * blockIdx.y + 100 * blockIdx.z;
  o[2] = blockDim.x + 10 * blockDim.y + 100 * blockDim.z;
  o[3] = gridDim.x + 10 * gridDim.y + 100 * gridDim.z;
}

// ---- the order threads run in: each thread records its arrival rank ----
__global__ void arrival_order_kernel(int* rank_of_thread, int* counter) {
  rank_of_thread[blockIdx.x * blockDim.x + threadIdx.x] = atomicAdd(counter, 1);
}

// ---- a barrier-free kernel and a barrier-heavy one, for the speed report ----
__global__ void scale_kernel(float* y, const float* x, float factor, int count) {
  const int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i < count) y[i] = factor * x[i];
}

__global__ void barrier_loop_kernel(int* out, int rounds) {
  STATIC_SHARED(int, value, );
  for (int r = 0; r < rounds; ++r) {
    if (threadIdx.x == 0) value = r;
    __syncthreads();
    if (value != r) out[0] = 1;   // never: the barrier orders the write before every read
    __syncthreads();
  }
}

__global__ void shuffle_loop_kernel(int* out, int rounds) {
  int v = threadIdx.x;
  for (int r = 0; r < rounds; ++r) v = __shfl_xor_sync(0xffffffffu, v, 1);
  out[blockIdx.x * blockDim.x + threadIdx.x] = v;
}

}  // namespace zs::simt_test
