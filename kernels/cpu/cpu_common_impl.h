// Private helpers of the CPU twin (kernels/cpu/*.cpp only): the threading policy, per-thread
// scratch memory and argument checks.
//
// Threading policy: every op parallelizes with OpenMP (omp_get_max_threads() threads, which the
// driver sets from --threads) over images, rows or elements, and calls OpenBLAS single-threaded
// from inside those regions. Letting the pthread OpenBLAS start its own pool inside an OpenMP
// region would oversubscribe the cores, so BlasSingleThread pins OpenBLAS to one thread for the
// duration of an op and restores the caller's setting afterwards.
//
// Determinism: work is split into chunks whose size depends only on the shapes, and partial sums
// are always reduced in a fixed order, so runs give the same bits. The convolution, loss,
// activation and Adam results do not even depend on the thread count; dense layers split their
// GEMMs by thread, which may change the last bits between thread counts.
#pragma once
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <stdexcept>
#include <string>

#include "kernels/shapes.h"

namespace zs::cpu::detail {

class BlasSingleThread {
 public:
  BlasSingleThread();
  ~BlasSingleThread();
  BlasSingleThread(const BlasSingleThread&) = delete;
  BlasSingleThread& operator=(const BlasSingleThread&) = delete;

 private:
  int saved_;
};

// Number of OpenMP threads a parallel region of an op will use.
int max_threads();

// Grow-only scratch owned by the calling thread, 64-byte aligned, contents undefined. Buffers
// obtained with different slots may be used at the same time; a slot's buffer stays valid until
// the same thread asks that slot for more memory. OpenMP keeps its worker threads alive, so the
// memory is reused across calls instead of being mapped and faulted in again every time.
enum ScratchSlot : int {
  kScratchCol,
  kScratchGemmOut,
  kScratchPartials,
  kScratchPad,
  kScratchWeights,  // an op's packed weights (gemm_panels.h A panels), shared by its threads
  kScratchPackedA,  // gemm_panels.h A panels of a thread's own operand
  kScratchPackedB,  // gemm_panels.h B panels
  kScratchMasks,    // im2col's edge-column masks for B panels
  kScratchBf16A,    // gemm_panels_bf16.cpp: A panels as bf16 pairs
  kScratchBf16B,    // gemm_panels_bf16.cpp: B panels as bf16 pairs
  kScratchSlots
};
float* thread_scratch(ScratchSlot slot, size_t count);

// Contiguous share [begin, end) of `total` items for thread `t` of `nthreads` (static schedule).
inline void static_range(int64_t total, int t, int nthreads, int64_t& begin, int64_t& end) {
  int64_t base = total / nthreads, extra = total % nthreads;
  begin = t * base + (t < extra ? t : extra);
  end = begin + base + (t < extra ? 1 : 0);
}

// Programming errors (bad shapes, null buffers) are internal errors, not user errors.
[[noreturn]] void fail_argument(const char* op, const std::string& what);
inline void require(bool ok, const char* op, const char* what) {
  if (!ok) fail_argument(op, what);
}
void check_geometry(const ConvGeom& g, const char* op);

// 8 floats in one vector register (GCC/Clang vector extension; AVX when enabled). Only used for
// locals inside functions, never passed by value, so the ABI does not depend on -march.
typedef float v8f __attribute__((vector_size(32)));

// Copies / fills of short runs (a few dozen floats: image rows, 7x7 planes), inlined as 8-float
// vector moves. A library memcpy call costs more than such a run, and GCC turns plain copy loops
// back into memcpy calls. The last vector may overlap the previous one (dst and src must not overlap).
inline void copy_short(float* __restrict__ dst, const float* __restrict__ src, int64_t count) {
  constexpr int64_t kVec = 8;
  if (count < kVec) {
    for (int64_t i = 0; i < count; ++i) dst[i] = src[i];
    return;
  }
  v8f v;
  for (int64_t i = 0; i + kVec <= count; i += kVec) {
    std::memcpy(&v, src + i, sizeof v);
    std::memcpy(dst + i, &v, sizeof v);
  }
  std::memcpy(&v, src + count - kVec, sizeof v);
  std::memcpy(dst + count - kVec, &v, sizeof v);
}
inline void zero_short(float* dst, int64_t count) {
  constexpr int64_t kVec = 8;
  if (count < kVec) {
    for (int64_t i = 0; i < count; ++i) dst[i] = 0.f;
    return;
  }
  const v8f z = {};
  for (int64_t i = 0; i + kVec <= count; i += kVec) std::memcpy(dst + i, &z, sizeof z);
  std::memcpy(dst + count - kVec, &z, sizeof z);
}

// dst = act(src + bias) over a contiguous run (vectorized); dst may alias src.
void bias_activation(float* dst, const float* src, int64_t count, float bias, Act act);
// Activation applied in place to a contiguous run of floats (bias already added).
void apply_activation_inplace(Act act, float* v, int64_t count);
// dx = dy * act'(.) over a contiguous run, through the activation's output y (activation_backward's
// single-threaded core: the same bits); dx may alias dy.
void activation_grad(Act act, float* dx, const float* dy, const float* y, int64_t count);

}  // namespace zs::cpu::detail
