// Single-precision GEMM on the device, hand-written (cuBLAS is only a benchmark baseline):
//
//   C[m][n] = act(alpha * op(A) op(B) + beta * C + bias[col])
//
// Row-major, densely packed (no leading-dimension arguments): op(A) is m x k and A is stored
// [m][k], or [k][m] when trans_a; op(B) is k x n and B is stored [k][n], or [n][k] when trans_b.
// This covers the three products of a dense layer (x W, x^T dy, dy W^T; see dense.cuh).
// The epilogue is applied once per element, in this order: alpha * sum, + beta * C (C is NOT
// read when beta == 0, so it may hold garbage, as in BLAS), + bias[col] (bias may be null),
// then the activation. C must not overlap A, B or bias. m, n, k >= 1.
//
// Determinism: every version sums each output in an order fixed by the shapes alone (never by
// thread or block timing), so repeated runs give identical bits. Version 4 splits long-K
// products over blocks (split-K) and adds the slices in slice order in a second kernel; its
// partial sums go to the caller's `workspace` (gemm_workspace(m, n, k, version) floats; null is
// fine when that is 0), so two streams or backends never share scratch, and a captured graph
// keeps using the workspace it was given.
//
// Launches are asynchronous on `stream`. Bad arguments throw std::invalid_argument, launch
// errors std::runtime_error.
#pragma once
#include <cstdint>

#include "kernels/common.cuh"
#include "kernels/shapes.h"

namespace zs::ZS_KNS {

// Kernel versions (see gemm.cu): 1 naive, 2 shared-memory tiles, 3 tiles + register blocking,
// 4 = 3 + deterministic split-K for products with few output tiles and a long K (shipped).
inline constexpr int kGemmKernelVersions = 4;
inline constexpr int kGemmShippedVersion = 4;

enum class Trans : int { No = 0, Yes = 1 };

// What happens to each output after the product (see the file header).
struct GemmEpilogue {
  float alpha = 1.f;
  float beta = 0.f;
  const float* bias = nullptr;   // [n] or null
  Act act = Act::None;
};

void gemm(float* c, const float* a, const float* b, int m, int n, int k, Trans trans_a, Trans trans_b,
          const GemmEpilogue& epilogue, float* workspace, cudaStream_t stream, int version = kGemmShippedVersion);

// Floats of workspace gemm needs for this product (0: none; only version 4's split-K needs any,
// at most 1 MiB). Depends on the shapes and version only.
size_t gemm_workspace(int m, int n, int k, int version = kGemmShippedVersion);

// How version 4 would run an m x n x k product: the number of K slices (1 = no split) and the
// K range of each slice (a multiple of the tile depth). For tests and benchmarks.
struct GemmSplitPlan {
  int slices = 1;
  int k_per_slice = 0;
};
GemmSplitPlan gemm_split_plan(int m, int n, int k);

}  // namespace zs::ZS_KNS
