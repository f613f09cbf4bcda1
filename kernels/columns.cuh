// Per-feature (column) statistics of a row-major float32 matrix x[n][d] on the device, for the
// clustering code that keeps its data in backend memory (runtime/cluster): the CPU twin's ops
// (kernels/cpu/columns.h) with the same arguments plus a stream, and the SAME BITS:
//   column_moments  one thread per column: its rows added in order, in double (the twin's order;
//                   only additions and one division, so no libm or contraction can differ).
//   centre_columns  one thread per element: x - float(sum / n).
// Launches are asynchronous on `stream`; nothing is allocated. Bad sizes throw std::invalid_argument.
#pragma once
#include <cstdint>

#include "kernels/common.cuh"

namespace zs::ZS_KNS {

void column_moments(double* sum, double* sq_dev, const float* x, int64_t n, int d, cudaStream_t stream);
void centre_columns(float* y, const float* x, const double* sum, int64_t n, int d, cudaStream_t stream);

}  // namespace zs::ZS_KNS
