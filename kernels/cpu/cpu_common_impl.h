// Private helpers of the CPU twin (kernels/cpu/*.cpp only): the threading policy, per-thread
// scratch memory and argument checks.
//
// Threading policy: every op parallelizes with OpenMP (omp_get_max_threads() threads, which the
// driver sets from --threads) over images, rows or elements, and calls OpenBLAS single-threaded
// from inside those regions. Letting the pthread OpenBLAS start its own pool inside an OpenMP
// region would oversubscribe the cores, so BlasSingleThread pins OpenBLAS to one thread for the
// duration of an op and restores the caller's setting afterwards.
//
// Determinism: work is split into chunks whose size depends only on the shapes, threads take
// contiguous chunk ranges (static schedule), and per-thread partial sums are reduced in thread
// order, so a fixed thread count gives the same bits on every run.
#pragma once
#include <cstddef>
#include <cstdint>
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
enum ScratchSlot : int { kScratchCol = 0, kScratchGemmOut = 1, kScratchPartials = 2, kScratchPad = 3, kScratchSlots = 4 };
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

// dst = act(src + bias) over a contiguous run (vectorized); dst may alias src.
void bias_activation(float* dst, const float* src, int64_t count, float bias, Act act);
// Activation applied in place to a contiguous run of floats (bias already added).
void apply_activation_inplace(Act act, float* v, int64_t count);

}  // namespace zs::cpu::detail
