// The first include of every kernel file (kernels/*.cu, *.cuh). One source, three builds:
//
//   nvcc, .cu                     (__CUDACC__)   ZS_KNS=cuda  real CUDA: <cuda_runtime.h>
//   g++,  host code of the CUDA build            ZS_KNS=cuda  real CUDA runtime API
//         (e.g. runtime/backend/kernel_backend.cpp in zs_backend_cuda)
//   g++,  .cu through a wrapper .cpp              ZS_KNS=emu   the CPU emulator runtime/simt
//         (also any other g++ code that includes this without ZS_KNS, such as emulator tests)
//
// Kernels and launchers live in namespace zs::ZS_KNS, so both builds link into one binary.
// Both builds get:
//   LAUNCH(k, grid, block, smem, stream)(args...)   instead of k<<<grid, block, smem, stream>>>(args...)
//                                                   (template kernels: LAUNCH((k<T, 3>), ...))
//   DYNAMIC_SHARED(T, name)                         instead of extern __shared__ T name[]
//   STATIC_SHARED(T, name, dims)                    instead of __shared__ T name dims (16-byte aligned;
//                      e.g. STATIC_SHARED(float, tile, [2][16][68]); or STATIC_SHARED(double, total, );).
//                      The emulator poisons it at every block start (NaN for floating point, 0xA5
//                      bytes otherwise) and rejects a plain __shared__ at compile time.
//   CUDA_CHECK(expr)   throws std::runtime_error naming the expression, function, file:line and
//                      the CUDA error when expr is not cudaSuccess
//   KERNEL_CHECK()     after every launch: CUDA_CHECK(cudaGetLastError())
// float4 / float2 loads and stores go through kernels/vector_io.cuh (the emulator checks their
// alignment). Everything else is plain CUDA; the emulator's surface is listed in runtime/simt/simt.h.
#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>

#define ZS_PP_CAT_(a, b) a##b
#define ZS_PP_CAT(a, b) ZS_PP_CAT_(a, b)
// ZS_KNS is a bare namespace name; this turns "is it cuda?" into something #if can test.
#define ZS_KNS_ID_cuda 1
#define ZS_KNS_ID_emu 2

#if defined(__CUDACC__)
#  ifndef ZS_KNS
#    define ZS_KNS cuda
#  endif
#  include <cuda_runtime.h>
#  define ZS_EMULATED 0
// Strips the parentheses LAUNCH((k<T, 3>), ...) needs around a template-id with commas.
#  define ZS_PP_DEPAREN(x) ZS_PP_DEPAREN_ESC(ZS_PP_DEPAREN_ISH x)
#  define ZS_PP_DEPAREN_ISH(...) ZS_PP_DEPAREN_ISH __VA_ARGS__
#  define ZS_PP_DEPAREN_ESC(...) ZS_PP_DEPAREN_ESC_(__VA_ARGS__)
#  define ZS_PP_DEPAREN_ESC_(...) ZS_PP_DEPAREN_VAN##__VA_ARGS__
#  define ZS_PP_DEPAREN_VANZS_PP_DEPAREN_ISH
#  define LAUNCH(kernel, grid, block, smem, stream) ZS_PP_DEPAREN(kernel)<<<(grid), (block), (smem), (stream)>>>
#  define DYNAMIC_SHARED(T, name)                                       \
    extern __shared__ __align__(16) unsigned char zs_dynamic_smem_[]; \
    T* name = reinterpret_cast<T*>(zs_dynamic_smem_)
#  define STATIC_SHARED(T, name, dims) __shared__ __align__(16) T name dims
#elif defined(ZS_KNS) && ZS_PP_CAT(ZS_KNS_ID_, ZS_KNS) == 1
#  include <cuda_runtime.h>
#  define ZS_EMULATED 0
#else
#  ifndef ZS_KNS
#    define ZS_KNS emu
#  endif
#  include "runtime/simt/simt.h"
#  define ZS_EMULATED 1
#endif

namespace zs::detail {

// A launcher's argument check: std::invalid_argument "op: what" unless ok.
inline void require(bool ok, const char* op, const std::string& what) {
  if (!ok) throw std::invalid_argument(std::string(op) + ": " + what);
}

// Grid-stride launches: blocks of kGridStrideBlock threads, at most kMaxGridStrideBlocks of them,
// which fill a GTX 960 (8 SMs x 2048 resident threads) eight times over; a grid-stride loop gains
// nothing from more. kMaxGridX: the largest grid.x of a launch.
inline constexpr int kGridStrideBlock = 256;
inline constexpr int64_t kMaxGridStrideBlocks = 512;
inline constexpr int64_t kMaxGridX = 0x7fffffff;

// Shared by every build: takes the error text as an argument instead of calling the CUDA API,
// so the emulator and the real runtime never meet in one inline function.
[[noreturn]] inline void throw_cuda_error(const char* expr, const char* function, const char* file, int line,
                                          int code, const char* name, const char* text) {
  throw std::runtime_error(std::string("CUDA error in ") + expr + " (" + function + " at " + file + ":" +
                           std::to_string(line) + "): " + name + " (" + std::to_string(code) + "): " + text);
}

}  // namespace zs::detail

#define CUDA_CHECK(expr)                                                                             \
  do {                                                                                               \
    const cudaError_t zs_cuda_check_error_ = (expr);                                                 \
    if (zs_cuda_check_error_ != cudaSuccess)                                                         \
      ::zs::detail::throw_cuda_error(#expr, __func__, __FILE__, __LINE__, int(zs_cuda_check_error_), \
                                     cudaGetErrorName(zs_cuda_check_error_),                         \
                                     cudaGetErrorString(zs_cuda_check_error_));                      \
  } while (0)

#define KERNEL_CHECK() CUDA_CHECK(cudaGetLastError())
