// Row gather on the device (API and semantics: gather.cuh).
//
// Kernel versions (the public entry takes `version`; tests and benchmarks run every one):
//   gather_rows_kernel1  naive port of the CPU twin: one thread per destination element.
//   gather_rows_kernel2  grid-stride loop over float4 (a 784-float MNIST row is 196 of them):
//                        128-bit transactions, 4x fewer threads; scalar when a row is not a
//                        multiple of 4 floats or a pointer is not 16-byte aligned. Shipped.
// Memory-bound: each element is read once and written once; consecutive threads touch
// consecutive addresses inside a row, so both sides coalesce.
#include "kernels/common.cuh"

#include <cstdint>
#include <stdexcept>
#include <string>

#include "kernels/gather.cuh"
#include "kernels/vector_io.cuh"

namespace zs::ZS_KNS {
namespace {

constexpr int kBlockSize = 256;
// A grid-stride loop gains nothing from more blocks than fill a GTX 960 several times over.
constexpr int64_t kMaxGridBlocks = 1024;
constexpr int64_t kMaxGridX = 0x7fffffff;

void require(bool ok, const std::string& what) {
  if (!ok) throw std::invalid_argument("gather_rows: " + what);
}

}  // namespace

// ---- version 1: one thread per element ----

static __global__ void gather_rows_kernel1(float* dst, const float* src, const int32_t* indices, int64_t count,
                                           int row_len) {
  const int64_t e = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (e >= count) return;
  const int64_t r = e / row_len;
  const int f = int(e - r * row_len);
  dst[e] = src[int64_t(indices[r]) * row_len + f];
}

// ---- version 2: grid-stride over V-float vectors (float4 or scalar) ----

// count and row_vecs in vectors of V floats.
template <int V>
static __global__ void gather_rows_kernel2(float* dst, const float* src, const int32_t* indices, int64_t count,
                                           int row_vecs) {
  const int64_t stride = int64_t(gridDim.x) * blockDim.x;
  for (int64_t e = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; e < count; e += stride) {
    const int64_t r = e / row_vecs;
    const int f = int(e - r * row_vecs);
    const int64_t from = (int64_t(indices[r]) * row_vecs + f) * V;
    if constexpr (V == 4)
      store_float4(dst + e * 4, load_float4(src + from));
    else
      dst[e] = src[from];
  }
}

static unsigned grid_for(int64_t items) {
  const int64_t blocks = (items + kBlockSize - 1) / kBlockSize;
  return unsigned(blocks > kMaxGridBlocks ? kMaxGridBlocks : blocks);
}

void gather_rows(float* dst, const float* src, const int32_t* indices, int64_t rows, int row_len,
                 cudaStream_t stream, int version) {
  require(version >= 1 && version <= kGatherKernelVersions,
          "kernel version " + std::to_string(version) + " does not exist");
  require(rows >= 0 && row_len >= 1, "need rows >= 0 and row_len >= 1");
  if (rows == 0) return;
  require(dst && src && indices, "dst, src and indices must not be null");
  const int64_t count = rows * row_len;
  if (version == 1) {
    const int64_t blocks = (count + kBlockSize - 1) / kBlockSize;
    require(blocks <= kMaxGridX, "too many elements for kernel version 1");
    LAUNCH(gather_rows_kernel1, unsigned(blocks), kBlockSize, 0, stream)(dst, src, indices, count, row_len);
  } else if (row_len % 4 == 0 && aligned_to(dst, 16) && aligned_to(src, 16)) {
    const int64_t vecs = count / 4;
    LAUNCH(gather_rows_kernel2<4>, grid_for(vecs), kBlockSize, 0, stream)(dst, src, indices, vecs, row_len / 4);
  } else {
    LAUNCH(gather_rows_kernel2<1>, grid_for(count), kBlockSize, 0, stream)(dst, src, indices, count, row_len);
  }
  KERNEL_CHECK();
}

}  // namespace zs::ZS_KNS
