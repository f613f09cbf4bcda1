// Vector loads and stores of float data: every float4 / float2 access of kernels/*.cu, to global
// or shared memory, goes through these. A GPU faults on a vector access whose address is not a
// multiple of its size ("misaligned address"); x86 does not care, so in the emulator each helper
// checks its pointer and fails the kernel with a message naming the helper and the file:line it
// was called from (std::source_location, a defaulted argument the call sites never spell).
//
//   load_float4(p)         16 bytes at p (16-byte aligned), from global or shared memory
//   load_global_float4(p)  the same through the read-only data cache (__ldg): global memory the
//                          kernel never writes, and no output may alias it
//   store_float4(p, v)     16 bytes to p (16-byte aligned)
//   load_float2(p)         8 bytes at p (8-byte aligned)
//   aligned_to(p, bytes)   host side: may the vector path take p? (launchers pick scalar otherwise)
#pragma once
#include "kernels/common.cuh"

#include <cstddef>
#include <cstdint>

#if ZS_EMULATED
#include <cstring>
#include <source_location>
#endif

namespace zs::ZS_KNS {

inline bool aligned_to(const void* p, std::size_t bytes) { return reinterpret_cast<uintptr_t>(p) % bytes == 0; }

#if ZS_EMULATED

namespace vector_io_detail {

// Fails the running kernel (the launch throws zs::simt::KernelError with this message).
inline void require_aligned(const void* p, std::size_t bytes, const char* helper, const std::source_location& at) {
  if (aligned_to(p, bytes)) [[likely]]
    return;
  ::zs::simt::detail::misaligned_access(::zs::simt::Site{at.file_name(), int(at.line())}, helper, p, bytes);
}

}  // namespace vector_io_detail

// The emulator copies bytes (memcpy), which keeps g++'s aliasing rules intact.
static inline float4 load_float4(const float* p, std::source_location at = std::source_location::current()) {
  vector_io_detail::require_aligned(p, sizeof(float4), "load_float4", at);
  float4 v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

static inline float4 load_global_float4(const float* p, std::source_location at = std::source_location::current()) {
  vector_io_detail::require_aligned(p, sizeof(float4), "load_global_float4", at);
  float4 v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

static inline void store_float4(float* p, float4 v, std::source_location at = std::source_location::current()) {
  vector_io_detail::require_aligned(p, sizeof(float4), "store_float4", at);
  std::memcpy(p, &v, sizeof v);
}

static inline float2 load_float2(const float* p, std::source_location at = std::source_location::current()) {
  vector_io_detail::require_aligned(p, sizeof(float2), "load_float2", at);
  float2 v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

#else

static __device__ __forceinline__ float4 load_float4(const float* p) { return *reinterpret_cast<const float4*>(p); }

static __device__ __forceinline__ float4 load_global_float4(const float* p) {
  return __ldg(reinterpret_cast<const float4*>(p));
}

static __device__ __forceinline__ void store_float4(float* p, float4 v) { *reinterpret_cast<float4*>(p) = v; }

static __device__ __forceinline__ float2 load_float2(const float* p) { return *reinterpret_cast<const float2*>(p); }

#endif

}  // namespace zs::ZS_KNS
