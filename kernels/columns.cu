// Column statistics (API and twin correspondence: columns.cuh).
//
// Kernel versions (one each):
//   column_moments_kernel  one thread per column walks its rows in order (a warp reads 32
//                          neighbouring features of a row: coalesced), twice: the sum, then the
//                          squared deviations from sum / n. d threads only: the passes are
//                          latency-bound, which is fine for what runs them once per fit.
//   centre_columns_kernel  a grid-stride loop over the elements.
#include "kernels/common.cuh"

#include <cstdint>
#include <stdexcept>
#include <string>

#include "kernels/columns.cuh"

namespace zs::ZS_KNS {
namespace {

constexpr int kColumnThreads = 128;
constexpr int kCentreThreads = 256;
constexpr int64_t kMaxCentreBlocks = 4096;   // a grid-stride loop gains nothing from more

void check_sizes(const char* op, int64_t n, int d) {
  if (n < 1 || d < 1)
    throw std::invalid_argument(std::string(op) + ": n and d must be >= 1 (got " + std::to_string(n) + " x " +
                                std::to_string(d) + ")");
}

}  // namespace

static __global__ void __launch_bounds__(kColumnThreads)
    column_moments_kernel(double* __restrict__ sum, double* __restrict__ sq_dev, const float* __restrict__ x,
                          int64_t n, int d) {
  const int64_t f = int64_t(blockIdx.x) * kColumnThreads + threadIdx.x;
  if (f >= d) return;
  double s = 0.0;
  for (int64_t i = 0; i < n; ++i) s += x[i * d + f];
  const double mean = s / double(n);
  double q = 0.0;
  for (int64_t i = 0; i < n; ++i) {
    const double dev = x[i * d + f] - mean;
    q = fma(dev, dev, q);
  }
  sum[f] = s;
  sq_dev[f] = q;
}

void column_moments(double* sum, double* sq_dev, const float* x, int64_t n, int d, cudaStream_t stream) {
  check_sizes("column_moments", n, d);
  LAUNCH(column_moments_kernel, unsigned((d + kColumnThreads - 1) / kColumnThreads), kColumnThreads, 0, stream)(
      sum, sq_dev, x, n, d);
  KERNEL_CHECK();
}

static __global__ void __launch_bounds__(kCentreThreads)
    centre_columns_kernel(float* __restrict__ y, const float* __restrict__ x, const double* __restrict__ sum,
                          int64_t n, int d) {
  const int64_t count = n * d, stride = int64_t(gridDim.x) * kCentreThreads;
  for (int64_t e = int64_t(blockIdx.x) * kCentreThreads + threadIdx.x; e < count; e += stride)
    y[e] = x[e] - float(sum[e % d] / double(n));
}

void centre_columns(float* y, const float* x, const double* sum, int64_t n, int d, cudaStream_t stream) {
  check_sizes("centre_columns", n, d);
  const int64_t blocks = (n * d + kCentreThreads - 1) / kCentreThreads;
  LAUNCH(centre_columns_kernel, unsigned(blocks < kMaxCentreBlocks ? blocks : kMaxCentreBlocks), kCentreThreads, 0,
         stream)(y, x, sum, n, d);
  KERNEL_CHECK();
}

}  // namespace zs::ZS_KNS
