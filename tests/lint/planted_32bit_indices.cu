// 32-bit index arithmetic planted for scripts/lint-kernel-indices, whose test (tests/CMakeLists.txt)
// requires exactly the 6 findings marked REPORTED below and no other. Never compiled.
#include "kernels/common.cuh"

namespace zs::ZS_KNS {

struct Planted {
  int rows, cols;
  int64_t stride;
};

static __global__ void planted_kernel(float* y, const float* x, const int32_t* ids, Planted p, int n, int dim,
                                      int64_t count) {
  const int i = blockIdx.x * blockDim.x + threadIdx.x;   // REPORTED: the 32-bit flat thread index
  const int64_t e = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (e >= count) return;
  y[i * dim + 1] = x[int64_t(i) * dim];   // REPORTED: i * dim
  const int64_t total = n * dim;          // REPORTED: multiplied in 32 bits, then widened
  const float* row = x + ids[i] * p.cols;   // REPORTED: a pointer offset
  y[blockIdx.y * 64] = row[total - 1];    // REPORTED: blockIdx times a constant
  y[p.rows * p.stride] = 0.f;             // 64-bit: stride is int64_t
  for (int r = 0; r < 4; ++r) y[r * dim] = row[r];   // r < 4: a scaling
  const int j = threadIdx.x * 4 + (n % 8) * dim;     // bounded by constants
  y[j] = y[n * dim];   // lint: 32-bit ok (planted: this comment silences the finding)
  auto at = [&](int a, int b) { return y[a * b]; };   // REPORTED: inside a lambda
  y[0] = at(1, 2);
}

}  // namespace zs::ZS_KNS
