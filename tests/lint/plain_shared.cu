// A kernel declaring plain __shared__ memory, which emulator builds must reject: there it would be
// a `static thread_local` that keeps the previous block's values, where STATIC_SHARED poisons it at
// every block start. Compiled (syntax only) by a lint test in tests/CMakeLists.txt, which expects
// the error to name STATIC_SHARED.
#include "kernels/common.cuh"

__global__ void plain_shared_kernel(float* y) {
  __shared__ float tile[32];
  tile[threadIdx.x] = 1.f;
  __syncthreads();
  y[threadIdx.x] = tile[31 - threadIdx.x];
}
