// Column statistics, the CPU twin (contract: columns.h).
#include "kernels/cpu/columns.h"

#include <cmath>
#include <stdexcept>
#include <string>
#include <vector>

namespace zs::cpu {
namespace {

void check_sizes(const char* op, int64_t n, int d) {
  if (n < 1 || d < 1)
    throw std::invalid_argument(std::string(op) + ": n and d must be >= 1 (got " + std::to_string(n) + " x " +
                                std::to_string(d) + ")");
}

}  // namespace

void column_moments(double* sum, double* sq_dev, const float* x, int64_t n, int d) {
  check_sizes("column_moments", n, d);
  // Row-major walks (one row at a time over every column) keep the reads sequential; each column's
  // additions still come in row order.
  const auto cols = static_cast<size_t>(d);
  std::vector<double> s(cols, 0.0), q(cols, 0.0), mean(cols);
  for (int64_t i = 0; i < n; ++i)
    for (int f = 0; f < d; ++f) s[size_t(f)] += x[i * d + f];
  for (int f = 0; f < d; ++f) mean[size_t(f)] = s[size_t(f)] / double(n);
  for (int64_t i = 0; i < n; ++i)
    for (int f = 0; f < d; ++f) {
      const double dev = x[i * d + f] - mean[size_t(f)];
      q[size_t(f)] = std::fma(dev, dev, q[size_t(f)]);
    }
  for (int f = 0; f < d; ++f) {
    sum[f] = s[size_t(f)];
    sq_dev[f] = q[size_t(f)];
  }
}

void centre_columns(float* y, const float* x, const double* sum, int64_t n, int d) {
  check_sizes("centre_columns", n, d);
  std::vector<float> mean(static_cast<size_t>(d));
  for (int f = 0; f < d; ++f) mean[size_t(f)] = float(sum[f] / double(n));
#pragma omp parallel for schedule(static)
  for (int64_t i = 0; i < n; ++i)
    for (int f = 0; f < d; ++f) y[i * d + f] = x[i * d + f] - mean[size_t(f)];
}

}  // namespace zs::cpu
