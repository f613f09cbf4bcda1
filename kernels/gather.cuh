// Row gather on the device: dst[r][.] = src[indices[r]][.], the per-epoch shuffle of a data set
// that lives in device memory for the whole run (the host only uploads the permutation).
// Semantics are the CPU twin's (kernels/cpu/ops.h gather_rows); the copy is exact, so every
// version gives the twin's bits. indices are device memory, each in [0, source rows): the
// caller validates them (a kernel cannot throw). dst must not overlap src. Launches are
// asynchronous on `stream`; bad arguments throw std::invalid_argument, launch errors
// std::runtime_error.
#pragma once
#include <cstdint>

#include "kernels/common.cuh"

namespace zs::ZS_KNS {

// Kernel versions (see gather.cu): 1 = one thread per element, 2 = grid-stride over float4 when
// rows are a multiple of 4 floats and both pointers 16-byte aligned (scalar otherwise). Shipped: 2.
inline constexpr int kGatherKernelVersions = 2;
inline constexpr int kGatherShippedVersion = 2;

void gather_rows(float* dst, const float* src, const int32_t* indices, int64_t rows, int row_len,
                 cudaStream_t stream, int version = kGatherShippedVersion);

}  // namespace zs::ZS_KNS
