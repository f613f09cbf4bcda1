// kernel_memory(): see kernel_memory.h. Compiled once per kernel namespace, like kernel_backend.cpp.
#include "runtime/backend/kernel_memory.h"

#include "kernels/common.cuh"
#include "runtime/core/error.h"

#include <string>

namespace zs::ZS_KNS {
namespace {

class KernelMemory final : public DeviceMemory {
 public:
  void* allocate_bytes(size_t bytes) override {
    void* p = nullptr;
    if (cudaMalloc(&p, bytes) != cudaSuccess) {
      cudaGetLastError();   // not sticky
      throw UserError("out of device memory allocating " + std::to_string(bytes >> 20) + " MiB");
    }
    return p;
  }
  void release_bytes(void* p) noexcept override { cudaFree(p); }
  void upload_bytes(void* dst, const void* src, size_t bytes) override {
    CUDA_CHECK(cudaMemcpy(dst, src, bytes, cudaMemcpyHostToDevice));
  }
  void download_bytes(void* dst, const void* src, size_t bytes) override {
    CUDA_CHECK(cudaDeviceSynchronize());
    CUDA_CHECK(cudaMemcpy(dst, src, bytes, cudaMemcpyDeviceToHost));
  }
};

}  // namespace

DeviceMemory& kernel_memory() {
  static KernelMemory memory;
  return memory;
}

}  // namespace zs::ZS_KNS
