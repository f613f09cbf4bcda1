// CUDA device intrinsics for kernels compiled by g++ against the emulator.
//
// Synchronising intrinsics (__syncthreads*, __syncwarp, __shfl*_sync, __ballot_sync, __any_sync,
// __all_sync) are macros in simt.h that add the call site and land in zs::simt::detail below;
// they park the calling fiber in the block scheduler. Everything else (math, bit tricks,
// atomics) is a plain host function in zs::simt::device, which simt.h makes visible at global
// scope, where CUDA puts them too.
//
// Precision: the fast-math intrinsics (__expf, __logf, __fdividef, rsqrtf...) are computed with
// the accurate libm functions here; the GPU's are approximate and nvcc contracts FMAs, so tests
// compare emu and cuda results with tolerances.
#pragma once
#include <atomic>
#include <bit>
#include <chrono>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <stdexcept>
#include <type_traits>

#include "runtime/simt/diagnostics.h"
#include "runtime/simt/warp_op.h"

namespace zs::simt::detail {

// ---- block barrier and warp collectives (implemented in intrinsics.cpp) ----
BarrierResult sync_block(Site site, int predicate);
uint64_t warp_exchange(Site site, WarpOp op, unsigned mask, uint64_t bits, int32_t arg, int width);
unsigned active_mask();

inline void syncthreads(Site site) { sync_block(site, 0); }
inline int syncthreads_count(Site site, int predicate) { return sync_block(site, predicate).count; }
inline int syncthreads_and(Site site, int predicate) {
  BarrierResult r = sync_block(site, predicate);
  return r.count == r.total;
}
inline int syncthreads_or(Site site, int predicate) { return sync_block(site, predicate).count > 0; }

inline void syncwarp(Site site, unsigned mask = 0xffffffffu) {
  warp_exchange(site, WarpOp::SyncWarp, mask, 0, 0, 32);
}

template <class T>
T shuffle(Site site, WarpOp op, unsigned mask, T var, int32_t arg, int width = 32) {
  static_assert(std::is_arithmetic_v<T> && sizeof(T) <= 8, "warp shuffles move 1 to 8 byte arithmetic values");
  uint64_t bits = 0;
  std::memcpy(&bits, &var, sizeof var);
  bits = warp_exchange(site, op, mask, bits, arg, width);
  T out;
  std::memcpy(&out, &bits, sizeof out);
  return out;
}

inline unsigned vote(Site site, WarpOp op, unsigned mask, int predicate) {
  return unsigned(warp_exchange(site, op, mask, 0, predicate != 0, 32));
}

// Aborts the kernel like __trap(), saying that `access` (e.g. "load_float4") at `site` got an
// address that is not a multiple of `alignment`, which a GPU faults on (kernels/vector_io.cuh).
[[noreturn]] void misaligned_access(Site site, const char* access, const void* address, std::size_t alignment);

}  // namespace zs::simt::detail

namespace zs::simt::device {

inline constexpr int warpSize = 32;

// ---- fast-math and rounding-mode intrinsics ----
// __expf, __logf, __log2f, __log10f, __powf, __sinf, __cosf, __tanf, __exp10f and __sincosf
// need no shim: glibc's <math.h> declares host functions of those very names (aliases of expf...).
inline float __fdividef(float a, float b) { return a / b; }
inline float __frcp_rn(float x) { return 1.0f / x; }
inline float __fsqrt_rn(float x) { return std::sqrt(x); }
inline float __frsqrt_rn(float x) { return 1.0f / std::sqrt(x); }
inline float rsqrtf(float x) { return 1.0f / std::sqrt(x); }
inline double rsqrt(double x) { return 1.0 / std::sqrt(x); }
inline float __fadd_rn(float a, float b) { return a + b; }
inline float __fsub_rn(float a, float b) { return a - b; }
inline float __fmul_rn(float a, float b) { return a * b; }
inline float __fdiv_rn(float a, float b) { return a / b; }
inline float __fmaf_rn(float a, float b, float c) { return std::fma(a, b, c); }
inline float __saturatef(float x) { return x >= 1.0f ? 1.0f : (x > 0.0f ? x : 0.0f); }   // NaN -> 0

// ---- conversions and bit casts ----
inline int __float2int_rn(float x) { return int(std::nearbyint(x)); }
inline int __float2int_rz(float x) { return int(x); }
inline int __float2int_rd(float x) { return int(std::floor(x)); }
inline int __float2int_ru(float x) { return int(std::ceil(x)); }
inline unsigned __float2uint_rn(float x) { return unsigned(std::nearbyint(x)); }
inline float __int2float_rn(int x) { return float(x); }
inline float __uint2float_rn(unsigned x) { return float(x); }
inline int __float_as_int(float x) { return std::bit_cast<int>(x); }
inline unsigned __float_as_uint(float x) { return std::bit_cast<unsigned>(x); }
inline float __int_as_float(int x) { return std::bit_cast<float>(x); }
inline float __uint_as_float(unsigned x) { return std::bit_cast<float>(x); }
inline long long __double_as_longlong(double x) { return std::bit_cast<long long>(x); }
inline double __longlong_as_double(long long x) { return std::bit_cast<double>(x); }

// ---- integer bit tricks ----
inline int __popc(unsigned x) { return std::popcount(x); }
inline int __popcll(unsigned long long x) { return std::popcount(x); }
inline int __clz(int x) { return std::countl_zero(unsigned(x)); }
inline int __clzll(long long x) { return std::countl_zero((unsigned long long)(x)); }
inline int __ffs(int x) { return __builtin_ffs(x); }
inline int __ffsll(long long x) { return __builtin_ffsll(x); }
inline unsigned __brev(unsigned x) {
  x = ((x >> 1) & 0x55555555u) | ((x & 0x55555555u) << 1);
  x = ((x >> 2) & 0x33333333u) | ((x & 0x33333333u) << 2);
  x = ((x >> 4) & 0x0F0F0F0Fu) | ((x & 0x0F0F0F0Fu) << 4);
  return __builtin_bswap32(x);
}
inline int __mul24(int a, int b) { return int(int64_t(a << 8 >> 8) * int64_t(b << 8 >> 8)); }
inline unsigned __umul24(unsigned a, unsigned b) { return (a & 0xFFFFFFu) * (b & 0xFFFFFFu); }
inline int __mulhi(int a, int b) { return int((int64_t(a) * b) >> 32); }
inline unsigned __umulhi(unsigned a, unsigned b) { return unsigned((uint64_t(a) * b) >> 32); }

// ---- min / max as CUDA overloads them ----
inline int min(int a, int b) { return a < b ? a : b; }
inline int max(int a, int b) { return a > b ? a : b; }
inline unsigned min(unsigned a, unsigned b) { return a < b ? a : b; }
inline unsigned max(unsigned a, unsigned b) { return a > b ? a : b; }
inline unsigned min(int a, unsigned b) { return min(unsigned(a), b); }
inline unsigned max(int a, unsigned b) { return max(unsigned(a), b); }
inline unsigned min(unsigned a, int b) { return min(a, unsigned(b)); }
inline unsigned max(unsigned a, int b) { return max(a, unsigned(b)); }
inline long min(long a, long b) { return a < b ? a : b; }
inline long max(long a, long b) { return a > b ? a : b; }
inline unsigned long min(unsigned long a, unsigned long b) { return a < b ? a : b; }
inline unsigned long max(unsigned long a, unsigned long b) { return a > b ? a : b; }
inline long long min(long long a, long long b) { return a < b ? a : b; }
inline long long max(long long a, long long b) { return a > b ? a : b; }
inline unsigned long long min(unsigned long long a, unsigned long long b) { return a < b ? a : b; }
inline unsigned long long max(unsigned long long a, unsigned long long b) { return a > b ? a : b; }
inline float min(float a, float b) { return std::fmin(a, b); }
inline float max(float a, float b) { return std::fmax(a, b); }
inline double min(double a, double b) { return std::fmin(a, b); }
inline double max(double a, double b) { return std::fmax(a, b); }
inline unsigned umin(unsigned a, unsigned b) { return min(a, b); }
inline unsigned umax(unsigned a, unsigned b) { return max(a, b); }
inline long long llmin(long long a, long long b) { return min(a, b); }
inline long long llmax(long long a, long long b) { return max(a, b); }

// ---- memory ----
template <class T>
inline T __ldg(const T* p) { return *p; }
inline void __threadfence() { std::atomic_thread_fence(std::memory_order_seq_cst); }
inline void __threadfence_block() { std::atomic_thread_fence(std::memory_order_seq_cst); }
inline long long clock64() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}
// Aborts the kernel: the launch throws zs::simt::KernelError.
[[noreturn]] inline void __trap() { throw std::runtime_error("__trap() called"); }

// ---- atomics (relaxed, like CUDA's; real atomics because blocks may run on several OS threads) ----
namespace atomic_detail {
template <class T>
std::atomic_ref<T> ref(T* address) { return std::atomic_ref<T>(*address); }
template <class T, class F>
T update(T* address, F f) {   // read-modify-write through compare-exchange
  auto a = ref(address);
  T old = a.load(std::memory_order_relaxed);
  while (!a.compare_exchange_weak(old, f(old), std::memory_order_relaxed)) {
  }
  return old;
}
}  // namespace atomic_detail

#define ZS_SIMT_ATOMIC_ADD_SUB(T)                                                                              \
  inline T atomicAdd(T* p, T v) { return atomic_detail::ref(p).fetch_add(v, std::memory_order_relaxed); }  \
  inline T atomicSub(T* p, T v) { return atomic_detail::ref(p).fetch_sub(v, std::memory_order_relaxed); }
ZS_SIMT_ATOMIC_ADD_SUB(int)
ZS_SIMT_ATOMIC_ADD_SUB(unsigned)
ZS_SIMT_ATOMIC_ADD_SUB(unsigned long long)
ZS_SIMT_ATOMIC_ADD_SUB(float)
ZS_SIMT_ATOMIC_ADD_SUB(double)
#undef ZS_SIMT_ATOMIC_ADD_SUB

#define ZS_SIMT_ATOMIC_INTEGER(T)                                                                              \
  inline T atomicExch(T* p, T v) { return atomic_detail::ref(p).exchange(v, std::memory_order_relaxed); }  \
  inline T atomicCAS(T* p, T expected, T desired) {                                                          \
    atomic_detail::ref(p).compare_exchange_strong(expected, desired, std::memory_order_relaxed);             \
    return expected;                                                                                         \
  }                                                                                                          \
  inline T atomicMax(T* p, T v) { return atomic_detail::update(p, [v](T o) { return o > v ? o : v; }); }   \
  inline T atomicMin(T* p, T v) { return atomic_detail::update(p, [v](T o) { return o < v ? o : v; }); }   \
  inline T atomicAnd(T* p, T v) { return atomic_detail::ref(p).fetch_and(v, std::memory_order_relaxed); }  \
  inline T atomicOr(T* p, T v) { return atomic_detail::ref(p).fetch_or(v, std::memory_order_relaxed); }    \
  inline T atomicXor(T* p, T v) { return atomic_detail::ref(p).fetch_xor(v, std::memory_order_relaxed); }
ZS_SIMT_ATOMIC_INTEGER(int)
ZS_SIMT_ATOMIC_INTEGER(unsigned)
ZS_SIMT_ATOMIC_INTEGER(unsigned long long)
#undef ZS_SIMT_ATOMIC_INTEGER

inline long long atomicMax(long long* p, long long v) {
  return atomic_detail::update(p, [v](long long o) { return o > v ? o : v; });
}
inline long long atomicMin(long long* p, long long v) {
  return atomic_detail::update(p, [v](long long o) { return o < v ? o : v; });
}
inline float atomicExch(float* p, float v) { return atomic_detail::ref(p).exchange(v, std::memory_order_relaxed); }
// ((old >= limit) ? 0 : old + 1) and ((old == 0 || old > limit) ? limit : old - 1), as CUDA defines them.
inline unsigned atomicInc(unsigned* p, unsigned limit) {
  return atomic_detail::update(p, [limit](unsigned o) { return o >= limit ? 0u : o + 1; });
}
inline unsigned atomicDec(unsigned* p, unsigned limit) {
  return atomic_detail::update(p, [limit](unsigned o) { return (o == 0 || o > limit) ? limit : o - 1; });
}

}  // namespace zs::simt::device
