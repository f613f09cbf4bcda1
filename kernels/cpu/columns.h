// Per-feature (column) statistics of a row-major float32 matrix x[n][d]: the CPU twin of
// kernels/columns.cuh, and what KMeans needs of data it keeps in backend memory (sklearn centres
// the data and scales its tolerance by the mean feature variance).
//   column_moments  sum[f] = sum_i x[i][f] and sq_dev[f] = sum_i (x[i][f] - sum[f] / n)^2, each in
//                   double with the rows added in order (two passes: no cancellation).
//   centre_columns  y[i][f] = x[i][f] - float(sum[f] / n) (y may be x).
// Threads (OpenMP) split columns / rows only: the results do not depend on the thread count.
#pragma once
#include <cstdint>

namespace zs::cpu {

void column_moments(double* sum, double* sq_dev, const float* x, int64_t n, int d);
void centre_columns(float* y, const float* x, const double* sum, int64_t n, int d);

}  // namespace zs::cpu
